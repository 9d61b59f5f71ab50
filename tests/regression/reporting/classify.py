"""Classification: is a failing record quantization's fault? The four names are what users and scripts read.

| the failing record                                                    | classification                 |
|-----------------------------------------------------------------------|--------------------------------|
| a guard refusal (LayeringError) or a registry patch during the test  | import/layering break          |
| a file that fails to collect, a stage whose counts do not add up       | empty or uncollectable stage   |
| any test of module 16 (``tests/modules/16_quantization/``)            | broken by quantization         |
| an int8-only test by design (``pairing: int8-only``: a marker, or a    | broken by quantization         |
| test without a zoo variant whose code runs ``tinytorch.optimization``) | (regardless if its fp32 twin fails too) |
| an int8 twin that fails while its fp32 twin passes (same stage)       | broken by quantization         |
| an fp32 variant, a failing fp32 twin, a test with no variant          | broken regardless              |

An int8 record whose twin did not run at all (deselected) cannot prove the float path works, so it stays
"broken regardless" — with that reason spelled out, unlike an int8-only test, whose missing twin is by design.
"""

from __future__ import annotations

import re

from regression.common import LAYERING_MESSAGE, is_int8
from regression.contract import Classification, Outcome, Pairing, Variant
from regression.schema import TestRecord
from tinytorch.registry import QUANTIZATION

BY_QUANTIZATION, REGARDLESS = Classification.BY_QUANTIZATION, Classification.REGARDLESS
LAYERING, EMPTY = Classification.LAYERING, Classification.EMPTY


def classify(record: TestRecord, passed: set, ran: set) -> tuple[Classification, str]:
    """(classification, why) of one failing record. ``passed``/``ran`` hold (stage, test id) of the cell's
    passing / all test records: an int8 twin is judged against the fp32 twin of the same stage."""
    if record.guard_violations or LAYERING_MESSAGE.search(record.message or ""):
        return LAYERING, "the import guard refused a module, or a registry module was patched, during it"
    if record.outcome == Outcome.COLLECT_ERROR:
        return EMPTY, "the file could not be collected"
    if record.module == QUANTIZATION.number:
        return BY_QUANTIZATION, "a test of module 16 quantization"
    twin = (record.stage, record.twin_id)
    if record.pairing == Pairing.INT8_ONLY:
        if record.twin_id and twin in ran and twin not in passed:
            return REGARDLESS, "an int8-only test whose fp32 counterpart fails too"
        return BY_QUANTIZATION, "an int8-only test by design (no fp32 twin is meaningful)"
    if is_int8(record.variant):
        if twin in passed:
            return BY_QUANTIZATION, "the int8 twin fails, its fp32 twin passes"
        if twin in ran:
            return REGARDLESS, "its fp32 twin fails too"
        return REGARDLESS, "its fp32 twin did not run, so the float path is not cleared"
    if record.variant == Variant.FP32:
        return REGARDLESS, "the fp32 model fails (no quantization involved)"
    return REGARDLESS, "a test without a model variant"


_CULPRIT = re.compile(
    r"(?:imported by|new value defined in|changed while importing|first imported meanwhile:) (tinytorch(?:\.\w+)+)"
)


def layering_culprit(message: str) -> int | None:
    """The registry module to blame for a layering break: the one whose import statement the guard refused
    ("imported by tinytorch.x"), or that defined the value patched into an earlier module ("new value
    defined in tinytorch.x"); None when the message names no registry module (a test imported it)."""
    from tinytorch.registry import MODULES, by_import_path

    for match in _CULPRIT.finditer(message or ""):
        path = match.group(1)
        spec = by_import_path(path)
        if spec is not None:
            return spec.number
        # A helper file of a package that holds one registry module is that module's (int8.py -> 16).
        package = path.rpartition(".")[0]
        owners = [m for m in MODULES if m.import_path.rpartition(".")[0] == package]
        if len(owners) == 1:
            return owners[0].number
    return None

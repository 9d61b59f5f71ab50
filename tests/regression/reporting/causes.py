"""Grouping a red cell's failures by cause: one real bug usually fails many tests the same way.

A cause is (exception type, the message with numbers, addresses, quoted values, zoo variant names and
model names normalized, the code location it came from — the ``origin`` of the records: the innermost
tinytorch frame, else the test's own frame). So one bug in the int8 path that fails
``mlp-int8: … 2.43 %``, ``mlp-int8static: … 2.58 %`` and ``cnn-int8tensor: … 3.07 %`` at the same line
is one cause, whose ``hits`` line says what it reaches: ``3 variants: int8, int8static, int8tensor;
2 models: cnn, mlp; 1 module: 03 layers; stages 03,09``. A person reads the causes; the individual tests
fold under each one (all of them in JSON).
"""

from __future__ import annotations

import re
from collections import defaultdict

from regression.common import module_label
from regression.contract import Variant
from regression.reporting.failures import stage_span
from regression.schema import Cause, Failure

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_ADDRESS_MARK = "@ADDR@"
_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?%?")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_SPACES = re.compile(r"\s+")
_BRACKETS = re.compile(r"\[[^\]]*\]")  # zoo ids inside a message: test_x[mlp-int8] ~ test_x[cnn-int8]
# Zoo variant names (common.VARIANTS, and any later int8 path: the ids spell them ``int8<suffix>``) as words,
# and a ``<model>-<variant>`` pair, however the model is named.
_VARIANT_NAME = r"(?:fp32|int8[a-z]*)(?![A-Za-z0-9_])"
_VARIANT = re.compile(r"(?<![A-Za-z0-9_])" + _VARIANT_NAME)
_MODEL_VARIANT = re.compile(r"(?<![A-Za-z0-9_.])[A-Za-z_][A-Za-z0-9_.]*-" + _VARIANT_NAME)
MODEL_MARK, VARIANT_MARK = "<model>", "<variant>"


def normalize(message: str, models=()) -> str:
    """The message with what varies between tests of one cause replaced: ``0x…``, ``N``, ``'…'``, ``[…]``,
    ``<model>-<variant>``, ``<variant>`` and each name in ``models`` (the zoo models of the cell) as ``<model>``."""
    text = _ADDRESS.sub(_ADDRESS_MARK, message or "")
    text = _QUOTED.sub("'…'", text)
    text = _BRACKETS.sub("[…]", text)
    text = _MODEL_VARIANT.sub(f"{MODEL_MARK}-{VARIANT_MARK}", text)
    text = _VARIANT.sub(VARIANT_MARK, text)
    for model in sorted({m for m in models if m}, key=len, reverse=True):  # "mlp2" before "mlp"
        text = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(model)}(?![A-Za-z0-9_])", MODEL_MARK, text)
    text = _NUMBER.sub("N", text)
    return _SPACES.sub(" ", text).strip().replace(_ADDRESS_MARK, "0x…")


def exception_type(message: str) -> str:
    head = (message or "").split(":", 1)[0].strip()
    return head if head and " " not in head else "?"


def cause_key(failure: Failure, models=()) -> tuple[str, str, str]:
    """(exception type, normalized message, origin): what one bug keeps the same in every test it fails."""
    message = failure.reason or ""
    return exception_type(message), normalize(message, models), failure.origin or ""


def _some(count: int, one: str, values: list[str]) -> str:
    return f"{count} {one}{'' if count == 1 else 's'}: {', '.join(values)}"


def cause_hits(cause: Cause) -> str:
    """``3 variants: int8, int8static, int8tensor; 2 models: cnn, mlp; 1 module: 03 layers; stages 03,09``:
    what one cause reaches, in words (variants and models only when it hits zoo tests)."""
    parts = []
    if cause.variants:
        parts.append(_some(len(cause.variants), "variant", cause.variants))
    if cause.models:
        parts.append(_some(len(cause.models), "model", cause.models))
    modules = [module_label(m) for m in cause.modules]
    parts.append(_some(len(modules), "module", modules) if modules else "no module")
    parts.append(f"stage{'' if len(cause.stages) == 1 else 's'} {stage_span(cause.stages)}")
    return "; ".join(parts)


def _cause(members: list[Failure], kind: str, normalized: str, origin: str) -> Cause:
    """The cause of ``members`` (numbered later, once every cause of the cell is known)."""
    tests = sorted({m.test_id for m in members})
    return Cause(
        id=0,
        exception=kind,
        message=normalized,
        example=members[0].reason or "",
        origin=origin or None,
        tests=len(tests),
        failures=len(members),
        classifications=sorted({m.classification for m in members}),
        modules=sorted({m.module for m in members if m.module is not None}),
        models=sorted({m.model for m in members if m.model}),
        variants=sorted({m.variant for m in members if m.variant not in (None, Variant.NONE)}),
        stages=sorted({m.stage for m in members}),
        first_stage=min(m.stage for m in members),
        test_ids=tests,
    )


def group_causes(failures: list[Failure]) -> list[Cause]:
    """Causes of one cell's failures, the most widespread first (then by first stage), numbered from 1."""
    models = {f.model for f in failures if f.model}
    groups: dict[tuple, list[Failure]] = defaultdict(list)
    for failure in failures:
        groups[cause_key(failure, models)].append(failure)
    causes = [_cause(members, *key) for key, members in groups.items()]
    causes.sort(key=lambda c: (c.first_stage, -c.tests, c.message))
    numbered = [cause.replace(id=number) for number, cause in enumerate(causes, start=1)]
    return [cause.replace(hits=cause_hits(cause)) for cause in numbered]

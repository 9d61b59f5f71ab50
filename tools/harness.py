"""The one place the tools reach the regression harness's shared contract (``tests/regression/contract.py``,
the error hierarchy of ``exits.py``, the atomic writes and the output-folder check of ``common.py``): the
harness is the package ``regression`` under ``tests/``."""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parents[1] / "tests")
if _TESTS not in sys.path:
    sys.path.append(_TESTS)  # after site-packages: `regression` is not installed anywhere else

from regression import schema  # noqa: E402  (the typed file formats: schema.Report, schema.CellRun, …)
from regression.common import unwritable_folder, write_json, write_text_atomic  # noqa: E402
from regression.contract import CLASSIFICATIONS, Classification, Finished, run_with_timeout  # noqa: E402
from regression.exits import (  # noqa: E402
    ExitCode,
    HarnessError,
    InputError,
    Interrupted,
    SchemaVersionError,
    UsageError,
    WriteError,
    run_main,
)
from regression.schema import check_version, current  # noqa: E402

__all__ = [
    "CLASSIFICATIONS",
    "Classification",
    "ExitCode",
    "Finished",
    "HarnessError",
    "InputError",
    "Interrupted",
    "SchemaVersionError",
    "UsageError",
    "WriteError",
    "check_version",
    "current",
    "run_main",
    "run_with_timeout",
    "schema",
    "unwritable_folder",
    "write_json",
    "write_text_atomic",
]

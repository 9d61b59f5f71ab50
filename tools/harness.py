"""The one place the tools reach the regression harness (the package ``regression`` under ``tests/``): its
shared contract (``contract.py``: child processes, ``exits.py``: errors and exit codes), the atomic writes
and the records reader of ``common.py``, and the report's loader and classifier (``loading.py``,
``analysis.py``) for a tool that classifies a run's records as the report would."""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parents[1] / "tests")
if _TESTS not in sys.path:
    sys.path.append(_TESTS)  # after site-packages: `regression` is not installed anywhere else

from regression.analysis import build_report  # noqa: E402
from regression.common import read_jsonl, write_json, write_text_atomic  # noqa: E402
from regression.contract import Finished, Stop, run_with_timeout  # noqa: E402
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
from regression.loading import load_cells  # noqa: E402

__all__ = [
    "ExitCode",
    "Finished",
    "HarnessError",
    "InputError",
    "Interrupted",
    "SchemaVersionError",
    "Stop",
    "UsageError",
    "WriteError",
    "build_report",
    "load_cells",
    "read_jsonl",
    "run_main",
    "run_with_timeout",
    "write_json",
    "write_text_atomic",
]

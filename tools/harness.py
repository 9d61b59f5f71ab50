"""The one place the tools reach the regression harness (the package ``regression`` under ``tests/``): its
shared contract (``contract.py``: the words, child processes; ``exits.py``: errors and exit codes), the typed
file formats (``schema``), of ``common.py`` the atomic writes, the records reader, the output-folder check and
the names of the environment variables the chain reads, ``out_lock.exclusive`` (one writer per folder), and
the report's loader and analysis for a tool that classifies a run's records as the report would."""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parents[1] / "tests")
if _TESTS not in sys.path:
    sys.path.append(_TESTS)  # after site-packages: `regression` is not installed anywhere else

from regression import schema  # noqa: E402  (the typed file formats: schema.Report, schema.CellRun, …)
from regression.common import (  # noqa: E402
    ENV_CELL,
    ENV_CHAIN_ARGS,
    ENV_FROM_ARTIFACTS,
    ENV_NO_REPORT,
    ENV_PROGRESS,
    ENV_RECORDS,
    ENV_REPORT_ARGS,
    ENV_REPORTS,
    ENV_STAGE,
    ENV_STORE,
    ENV_STORE_MAX_MB,
    OUTER_RUN_SETTINGS,
    read_jsonl,
    unwritable_folder,
    write_json,
    write_text_atomic,
)
from regression.contract import CLASSIFICATIONS, Classification, Finished, Stop, run_with_timeout  # noqa: E402
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
from regression.out_lock import exclusive  # noqa: E402
from regression.reporting.analysis import build_report  # noqa: E402
from regression.reporting.loading import load_cells, load_records_cell  # noqa: E402
from regression.schema import check_version, current  # noqa: E402

__all__ = [
    "CLASSIFICATIONS",
    "ENV_CELL",
    "ENV_CHAIN_ARGS",
    "ENV_FROM_ARTIFACTS",
    "ENV_NO_REPORT",
    "ENV_PROGRESS",
    "ENV_RECORDS",
    "ENV_REPORTS",
    "ENV_REPORT_ARGS",
    "ENV_STAGE",
    "ENV_STORE",
    "ENV_STORE_MAX_MB",
    "OUTER_RUN_SETTINGS",
    "Classification",
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
    "check_version",
    "current",
    "exclusive",
    "load_cells",
    "load_records_cell",
    "read_jsonl",
    "run_main",
    "run_with_timeout",
    "schema",
    "unwritable_folder",
    "write_json",
    "write_text_atomic",
]

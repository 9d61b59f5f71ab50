"""The one place the tools reach the regression harness's shared contract (``tests/regression/contract.py``,
the error hierarchy of ``exits.py``, and of ``common.py`` the atomic writes, the output-folder check and
the names of the environment variables the chain reads): the harness is the package ``regression`` under
``tests/``."""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parents[1] / "tests")
if _TESTS not in sys.path:
    sys.path.append(_TESTS)  # after site-packages: `regression` is not installed anywhere else

from regression.common import (  # noqa: E402
    ENV_PROGRESS,
    ENV_STORE,
    ENV_STORE_MAX_MB,
    unwritable_folder,
    write_json,
    write_text_atomic,
)
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
    "ENV_PROGRESS",
    "ENV_STORE",
    "ENV_STORE_MAX_MB",
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
    "unwritable_folder",
    "write_json",
    "write_text_atomic",
]

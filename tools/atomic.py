"""Atomic file writes for the tools — the regression machinery's own helper, so there is one of it.

Readers see the old file or the new one, never half of one; a failed write removes its temporary.
"""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parents[1] / "tests")
if _TESTS not in sys.path:
    sys.path.append(_TESTS)  # `regression` is the package tests/regression (see its README)

from regression.common import write_json, write_text_atomic  # noqa: E402

__all__ = ["write_json", "write_text_atomic"]

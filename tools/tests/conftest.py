"""Fixtures of the tools' tests."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tools import harness  # noqa: F401  (puts tests/ on the path: `regression` below)
from tools.bisection import search

from regression.run_isolation import without_outer_run_settings  # noqa: F401  (autouse), isort: skip


@pytest.fixture(scope="module")
def judge(tmp_path_factory):
    """The stand-alone judge, staged and imported as the search runs it (its folder first on the path)."""
    script = search.stage_judge(tmp_path_factory.mktemp("judge"))
    sys.path.insert(0, str(script.parent))
    try:
        spec = importlib.util.spec_from_file_location("staged_judge", script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(script.parent))
        for name in ("contract", "exits"):  # the staged copies: keep them out of later imports
            sys.modules.pop(name, None)
    return module

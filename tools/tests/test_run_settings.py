"""A harness test never sees the settings of the run around it (``signoff`` sets them for its cells):
``tests/regression/run_isolation.py``, loaded by the conftests of ``tools/tests`` and ``tests/regression``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.cells import RUN_SETTINGS

REPO = Path(__file__).resolve().parents[2]


def test_no_outer_run_setting_is_visible():
    assert [name for name in RUN_SETTINGS if name in os.environ] == []


@pytest.mark.parametrize(
    "test_id",
    [
        "tools/tests/test_run_settings.py::test_no_outer_run_setting_is_visible",
        "tests/regression/test_run_isolation.py::test_no_outer_run_setting_is_visible_to_a_harness_test",
    ],
)
def test_a_signoff_environment_does_not_reach_the_tests(test_id):
    env = {**os.environ, **{name: "set-by-the-outer-run" for name in RUN_SETTINGS}}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_id],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr

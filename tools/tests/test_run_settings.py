"""A test never sees the settings of the run around it (``conftest.py``; ``signoff`` sets them for its cells)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tools.cells import RUN_SETTINGS

REPO = Path(__file__).resolve().parents[2]


def test_no_outer_run_setting_is_visible():
    assert [name for name in RUN_SETTINGS if name in os.environ] == []


def test_a_signoff_environment_does_not_reach_the_tests():
    env = {**os.environ, **{name: "set-by-the-outer-run" for name in RUN_SETTINGS}}
    here = f"{Path(__file__).relative_to(REPO)}::test_no_outer_run_setting_is_visible"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", here],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr

"""A stage process's entry point: pytest's exit code and output survive the quick end, pytest collects
once at its end, and under ``coverage run`` the process ends the ordinary way (its data is saved)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ENTRY = Path(__file__).resolve().parent / "pytest_entry.py"

TESTS = {
    "test_green.py": "def test_green():\n    assert [1] * 2 == [1, 1]\n",
    "test_red.py": "def test_red():\n    assert sorted([2, 1]) == [2, 1]\n",
    # Reports how many garbage collections pytest was told to make at its end.
    "conftest.py": textwrap.dedent(
        """
        def pytest_unconfigure(config):
            from _pytest import unraisableexception

            key = unraisableexception.gc_collect_iterations_key
            print("end-of-run collections:", config.stash.get(key, "pytest's default"))
        """
    ),
}


@pytest.fixture
def tree(tmp_path):
    for name, text in TESTS.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    return tmp_path


def _run(tree: Path, *command: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return subprocess.run(
        [*command, "-p", "no:cacheprovider", "-q", "-s"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("test_file, code, summary", [("test_green.py", 0, "1 passed"), ("test_red.py", 1, "1 failed")])
def test_the_exit_code_and_the_summary_survive_the_quick_end(tree, test_file, code, summary):
    done = _run(tree, sys.executable, str(ENTRY), test_file)
    assert done.returncode == code, done.stdout + done.stderr
    assert summary in done.stdout
    assert "end-of-run collections: 1" in done.stdout


def test_under_coverage_run_the_process_ends_the_ordinary_way_and_saves_its_data(tree):
    data = tree / "entry.coverage"
    done = _run(tree, sys.executable, "-m", "coverage", "run", f"--data-file={data}", str(ENTRY), "test_green.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert data.is_file() and data.stat().st_size > 0

"""The session names CI, the README and the docs rely on, read from nox itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools import matrix

REPO = Path(__file__).resolve().parents[2]


def nox(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "nox", "--noxfile", str(REPO / "noxfile.py"), *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return done.stdout


ALL = (
    "prerequisites",
    "lint",
    "tests",
    "regression",
    "signoff_cell",
    "coverage",
    "report",
    "bench",
    "signoff",
    "bisect",
)


@pytest.fixture(scope="module")
def listing() -> list[dict]:
    """Every session (``--list --json`` alone shows only the default selection)."""
    return json.loads(nox("--list", "--json", "--sessions", *ALL))


def test_regression_sessions_are_the_default_cells(listing):
    regression = [(s["session"], s["python"]) for s in listing if s["name"] == "regression"]
    assert regression == [(f"regression({c.name})", c.python) for c in matrix.default_cells()]


def test_signoff_cells_cover_the_other_pairs(listing):
    names = {s["session"] for s in listing if s["name"] == "signoff_cell"}
    assert names == {f"signoff_cell({c.name})" for c in matrix.extra_cells()}


def test_every_session_has_a_one_line_description(listing):
    names = {s["name"] for s in listing}
    assert set(ALL) == names
    assert all(s["description"] and "\n" not in s["description"] for s in listing)


def test_plain_nox_runs_prerequisites_lint_tests_regression_coverage_report():
    selected = [line[2:].split(" ")[0] for line in nox("--list").splitlines() if line.startswith("* ")]
    cells = [f"regression({c.name})" for c in matrix.default_cells()]
    expected = ["prerequisites", "lint", "tests", *cells, "coverage", "report"]
    assert sorted(selected) == sorted(expected)

"""The Python × NumPy matrix and every pinned version, in one place.

Which NumPy runs on which CPython is decided by the wheels on PyPI, not by ``requires-python``
(NumPy 1.24 declares ``>=3.8`` yet ships no cp312 wheel). The table below was checked with

    echo numpy==PIN | uv pip compile - --python-version PY \
        --python-platform x86_64-manylinux_2_28 --only-binary :all:

for every PY × PIN; ``python -m tools.matrix --verify`` re-runs that check when a pin is bumped.
Each cell installs NumPy with ``--only-binary :all:`` so a pair without a wheel fails at once instead
of compiling NumPy from source for ten minutes.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass

PYTHONS: tuple[str, ...] = ("3.9", "3.10", "3.11", "3.12", "3.13")
"""Every CPython the project supports, oldest first."""

DEFAULT_PYTHON = "3.11"
"""The interpreter of the non-matrix sessions (tests, lint, coverage, report, bench)."""

# NumPy minor -> (exact pin, the CPython minors it has manylinux x86_64 wheels for).
NUMPY: dict[str, tuple[str, tuple[str, ...]]] = {
    "1.24": ("1.24.4", ("3.9", "3.10", "3.11")),
    "1.25": ("1.25.2", ("3.9", "3.10", "3.11")),
    "1.26": ("1.26.4", ("3.9", "3.10", "3.11", "3.12")),
    "2.0": ("2.0.2", ("3.9", "3.10", "3.11", "3.12")),
    "2.1": ("2.1.3", ("3.10", "3.11", "3.12", "3.13")),
    "2.2": ("2.2.6", ("3.10", "3.11", "3.12", "3.13")),
    "2.3": ("2.3.5", ("3.11", "3.12", "3.13")),
    "2.4": ("2.4.6", ("3.11", "3.12", "3.13")),
    "2.5": ("2.5.5", ("3.12", "3.13")),
}

COVERAGE = "coverage[toml]==7.10.7"
"""One coverage for every cell so data files combine: 7.11+ has no Python 3.9 release. The
``[toml]`` extra brings ``tomli``, without which Python < 3.11 cannot read ``coverage.toml``."""

PYTEST_COV = "pytest-cov==7.0.0"
"""The chain's coverage driver (per-test dynamic contexts): the newest that installs on Python 3.9 and
takes coverage 7.10.7 (it needs >= 7.10.6)."""

TEST_DEPS: tuple[str, ...] = (
    "pytest==8.4.2",  # the newest pytest that still installs on Python 3.9
    "pytest-timeout==2.4.0",
    "hypothesis==6.141.1",  # the newest hypothesis that still installs on Python 3.9
    "psutil==7.2.2",
    "xmlschema==3.4.5",  # the newest that still installs on Python 3.9 (pure Python): the JUnit XML schema test
)
"""What the test suite and the chain import besides NumPy, pinned alike in every environment."""

RUFF = "ruff==0.17.6"

WORKFLOW_LINTERS: tuple[str, ...] = (
    "check-jsonschema==0.39.0",  # --builtin-schema vendor.github-workflows: GitHub's workflow schema, vendored
    "zizmor==1.32.0",  # GitHub Actions security audits; --offline needs no token and no network
)
"""What the ``lint`` session checks ``.github/workflows`` with (both ship wheels on PyPI)."""

NOX = "nox==2026.10.20"
"""For tools/tests/test_noxfile.py, which lists the sessions through nox itself (``tests`` runs on 3.11)."""


CELL_NAME = re.compile(r"py(\d+\.\d+)-np(\d+\.\d+)")
"""What a cell name looks like: ``py3.12-np2.5``."""


@dataclass(frozen=True)
class Cell:
    """One Python × NumPy environment of the matrix."""

    python: str
    numpy: str  # the NumPy minor, e.g. "2.2"

    @property
    def name(self) -> str:
        """The cell's id everywhere: nox session id, ``reports/cells/<name>``, coverage context prefix."""
        return f"py{self.python}-np{self.numpy}"

    @property
    def numpy_pin(self) -> str:
        return NUMPY[self.numpy][0]

    @property
    def requirement(self) -> str:
        return f"numpy=={self.numpy_pin}"


def _minors_for(python: str) -> list[str]:
    """NumPy minors with wheels for ``python``, oldest first (``NUMPY`` is ordered)."""
    return [minor for minor, (_, pythons) in NUMPY.items() if python in pythons]


def all_cells() -> list[Cell]:
    """Every valid Python × NumPy-minor pair: the ``signoff`` matrix."""
    return [Cell(python, minor) for python in PYTHONS for minor in _minors_for(python)]


def default_cells() -> list[Cell]:
    """Per Python, the oldest and the newest NumPy it has wheels for: the ``regression`` matrix."""
    cells = []
    for python in PYTHONS:
        minors = _minors_for(python)
        cells.extend(Cell(python, minor) for minor in dict.fromkeys((minors[0], minors[-1])))
    return cells


def extra_cells() -> list[Cell]:
    """The pairs only ``signoff`` runs (``all_cells`` minus ``default_cells``)."""
    default = set(default_cells())
    return [cell for cell in all_cells() if cell not in default]


def cell_by_name(name: str) -> Cell:
    for cell in all_cells():
        if cell.name == name:
            return cell
    valid = ", ".join(cell.name for cell in all_cells())
    raise KeyError(f"no matrix cell named {name!r}; valid: {valid}")


def verify_wheels(python: str, pin: str) -> bool:
    """True if ``numpy==pin`` resolves to a manylinux x86_64 wheel for ``python`` (asks PyPI via uv)."""
    result = subprocess.run(
        [
            "uv",
            "pip",
            "compile",
            "-",
            "--quiet",
            "--python-version",
            python,
            "--python-platform",
            "x86_64-manylinux_2_28",
            "--only-binary",
            ":all:",
        ],
        input=f"numpy=={pin}\n",
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0


def _verify_table() -> int:
    """Check every pin against every Python: valid pairs must resolve, the others must not."""
    wrong = 0
    for pin, pythons in NUMPY.values():
        for python in PYTHONS:
            expected = python in pythons
            actual = verify_wheels(python, pin)
            mark = "ok " if actual == expected else "BAD"
            wrong += actual != expected
            print(f"{mark} numpy {pin:7} python {python:5} table={expected!s:5} pypi={actual}")
    print(f"{wrong} disagreement(s) between tools/matrix.py and PyPI")
    return 1 if wrong else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Show the matrix, or check its wheel table against PyPI.")
    parser.add_argument("--verify", action="store_true", help="resolve every pin for every Python with uv")
    args = parser.parse_args(argv)
    if args.verify:
        return _verify_table()
    for cell in all_cells():
        role = "default" if cell in default_cells() else "signoff"
        print(f"{cell.name:14} numpy=={cell.numpy_pin:7} {role}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

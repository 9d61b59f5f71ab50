"""The matrix table: the default cells the issue names, every valid pair, and nothing invalid."""

from __future__ import annotations

import pytest

from tools import matrix


def test_default_cells_are_oldest_and_newest_numpy_per_python():
    expected = [
        ("3.9", "1.24"),
        ("3.9", "2.0"),
        ("3.10", "1.24"),
        ("3.10", "2.2"),
        ("3.11", "1.24"),
        ("3.11", "2.4"),
        ("3.12", "1.26"),
        ("3.12", "2.5"),
        ("3.13", "2.1"),
        ("3.13", "2.5"),
    ]
    assert [(c.python, c.numpy) for c in matrix.default_cells()] == expected


def test_all_cells_are_every_pair_with_wheels_and_include_the_default():
    cells = matrix.all_cells()
    assert len(cells) == len(set(cells)) == 30
    assert set(matrix.default_cells()) <= set(cells)
    assert set(matrix.extra_cells()) == set(cells) - set(matrix.default_cells())
    for cell in cells:
        assert cell.python in matrix.NUMPY[cell.numpy][1]


@pytest.mark.parametrize("python, numpy", [("3.12", "1.24"), ("3.12", "1.25"), ("3.13", "2.0"), ("3.9", "2.1")])
def test_pairs_without_wheels_are_not_cells(python, numpy):
    assert matrix.Cell(python, numpy) not in matrix.all_cells()


def test_pins_belong_to_their_minor_and_pythons_are_known():
    for minor, (pin, pythons) in matrix.NUMPY.items():
        assert pin.startswith(minor + "."), (minor, pin)
        assert set(pythons) <= set(matrix.PYTHONS)


def test_cell_names_round_trip_and_match_the_pattern():
    for cell in matrix.all_cells():
        assert matrix.CELL_NAME.fullmatch(cell.name)
        assert matrix.cell_by_name(cell.name) == cell
    assert matrix.Cell("3.12", "2.5").name == "py3.12-np2.5"
    assert matrix.Cell("3.9", "1.24").requirement == "numpy==1.24.4"


def test_unknown_cell_name_lists_the_valid_ones():
    with pytest.raises(KeyError, match="py3.12-np2.5"):
        matrix.cell_by_name("py3.12-np1.24")


def test_one_coverage_and_python39_compatible_test_pins():
    assert matrix.COVERAGE == "coverage[toml]==7.10.7"
    pins = dict(req.split("==") for req in matrix.TEST_DEPS)
    assert pins["pytest"].startswith("8.")  # pytest 9 has no Python 3.9 release
    assert set(pins) == {"pytest", "pytest-timeout", "hypothesis", "psutil", "xmlschema"}
    assert pins["xmlschema"].startswith("3.")  # xmlschema 4 needs Python 3.10

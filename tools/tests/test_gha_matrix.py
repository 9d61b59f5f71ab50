"""The CI job matrix comes from `nox --list --json`: one entry per regression cell."""

from __future__ import annotations

import pytest

from tools.gha_matrix import matrix_from_listing

LISTING = [
    {"session": "regression(py3.9-np1.24)", "name": "regression", "python": "3.9", "tags": ["regression"]},
    {"session": "regression(py3.12-np2.5)", "name": "regression", "python": "3.12", "tags": ["regression"]},
    {"session": "signoff_cell(py3.12-np2.0)", "name": "signoff_cell", "python": "3.12", "tags": ["signoff"]},
    {"session": "tests", "name": "tests", "python": "3.11", "tags": []},
]


def test_one_entry_per_regression_session_with_its_cell_and_python():
    assert matrix_from_listing(LISTING) == {
        "include": [
            {"session": "regression(py3.9-np1.24)", "python": "3.9", "cell": "py3.9-np1.24"},
            {"session": "regression(py3.12-np2.5)", "python": "3.12", "cell": "py3.12-np2.5"},
        ]
    }


def test_no_matching_session_is_an_error():
    with pytest.raises(ValueError, match="no nox session named 'nope'"):
        matrix_from_listing(LISTING, "nope")

"""Module 10's names at the top level (``from tinytorch import CharTokenizer``), the same objects."""

from __future__ import annotations

import pytest

import tinytorch
from tinytorch.text import tokenization


@pytest.mark.parametrize("name", ["CharTokenizer", "BPETokenizer"])
def test_top_level_names_are_the_same_objects(name):
    assert getattr(tinytorch, name) is getattr(tokenization, name)

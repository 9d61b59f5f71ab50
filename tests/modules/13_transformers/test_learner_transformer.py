"""Module 13's names at the top level and in ``tinytorch.nn``, the same objects."""

from __future__ import annotations

import pytest

import tinytorch
import tinytorch.nn as nn
from tinytorch.models import transformer


@pytest.mark.parametrize("name", ["LayerNorm", "TransformerBlock", "GPT"])
def test_top_level_names_are_the_same_objects(name):
    assert getattr(tinytorch, name) is getattr(transformer, name)


@pytest.mark.parametrize("name", ["LayerNorm", "TransformerBlock"])
def test_nn_names_are_the_same_objects(name):
    assert getattr(nn, name) is getattr(transformer, name)

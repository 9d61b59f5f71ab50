"""Module 11's names at the top level and in ``tinytorch.nn``, the same objects."""

from __future__ import annotations

import pytest

import tinytorch
import tinytorch.nn as nn
from tinytorch.text import embeddings


@pytest.mark.parametrize("name", ["Embedding", "PositionalEncoding"])
def test_top_level_and_nn_names_are_the_same_objects(name):
    assert getattr(tinytorch, name) is getattr(embeddings, name)
    assert getattr(nn, name) is getattr(embeddings, name)

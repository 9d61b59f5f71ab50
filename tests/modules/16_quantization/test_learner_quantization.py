"""Module 16's names at the top level (``from tinytorch import quantize_model``), the same objects."""

from __future__ import annotations

import pytest

import tinytorch
from tinytorch.optimization import quantization


@pytest.mark.parametrize("name", ["quantize_model", "quantize_int8", "dequantize_int8", "compare_model_sizes"])
def test_top_level_names_are_the_same_objects(name):
    assert getattr(tinytorch, name) is getattr(quantization, name)

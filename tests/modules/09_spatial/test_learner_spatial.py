"""Module 09 as learners spell it: ``Conv2d``/``MaxPool2d``/``AvgPool2d`` (PyTorch's names), integer images."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import tinytorch
import tinytorch.nn as nn
from tinytorch.core import spatial
from tinytorch.core.spatial import AvgPool2D, AvgPool2d, Conv2D, Conv2d, MaxPool2D, MaxPool2d
from tinytorch.core.tensor import Tensor

ALIASES = {"Conv2d": "Conv2D", "MaxPool2d": "MaxPool2D", "AvgPool2d": "AvgPool2D"}


def test_pytorch_spellings_are_the_same_classes():
    assert Conv2d is Conv2D and MaxPool2d is MaxPool2D and AvgPool2d is AvgPool2D
    assert set(ALIASES) <= set(spatial.__all__)


def test_a_conv2d_built_by_its_alias_is_a_conv2d():
    layer = Conv2d(1, 2, kernel_size=3)
    assert isinstance(layer, Conv2D) and type(layer).__name__ == "Conv2D"  # quantization matches by this name
    assert layer(Tensor(np.zeros((1, 1, 5, 5)))).shape == (1, 2, 3, 3)


@pytest.mark.parametrize("name", [*ALIASES, *ALIASES.values()])
def test_top_level_and_nn_names_are_the_same_objects(name):
    assert getattr(tinytorch, name) is getattr(spatial, name)
    assert getattr(nn, name) is getattr(spatial, name)


@pytest.mark.parametrize("dtype", [np.uint8, np.int64], ids=lambda d: np.dtype(d).name)
def test_conv_on_integer_images_returns_float32(dtype):
    layer = Conv2D(1, 2, kernel_size=2)
    image = np.arange(16).reshape(1, 1, 4, 4).astype(dtype)
    out = layer(Tensor(image))
    assert out.dtype == np.float32
    assert_allclose(out.data, layer(Tensor(image.astype(np.float32))).data, rtol=1e-6)

"""Module 02 as TinyTorch learners use it: integer input, ``forward`` called directly, top-level names.

Integer input is computed in float32 (the framework's float): before issue 12 Sigmoid cast its result
back to the integer dtype (``[0 0 0]``) and Tanh/GELU/Softmax returned float64.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import tinytorch
from tinytorch.core import activations
from tinytorch.core.activations import GELU, ReLU, Sigmoid, Softmax, Tanh, softmax
from tinytorch.core.tensor import Tensor

ACTIVATIONS = [ReLU, Sigmoid, Tanh, GELU, Softmax]


def test_sigmoid_of_integers_is_not_cast_back_to_integers():
    out = Sigmoid()(Tensor([0, 1, -1]))
    assert out.dtype == np.float32
    assert_allclose(out.data, [0.5, 0.7310586, 0.2689414], rtol=1e-6)


@pytest.mark.parametrize("cls", ACTIVATIONS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int8, np.uint8, np.bool_], ids=lambda d: np.dtype(d).name)
def test_integer_input_gives_float32_equal_to_float_input(cls, dtype):
    ints = np.array([[0, 1, 3], [1, 0, 2]]).astype(dtype)
    out = cls()(Tensor(ints))
    assert out.dtype == np.float32
    assert_allclose(out.data, cls()(Tensor(ints.astype(np.float32))).data, rtol=1e-6)


@pytest.mark.parametrize("cls", ACTIVATIONS, ids=lambda c: c.__name__)
def test_forward_called_directly_converts_too(cls):
    # TinyTorch's idiom is act.forward(x); it must agree with act(x), raw arrays included.
    ints = np.array([-2, 0, 2])
    assert cls().forward(Tensor(ints)).dtype == np.float32
    assert cls().forward(ints).dtype == np.float32
    assert_allclose(cls().forward(Tensor(ints)).data, cls()(Tensor(ints)).data)


@pytest.mark.parametrize("cls", ACTIVATIONS, ids=lambda c: c.__name__)
def test_float64_input_stays_float64(cls):
    assert cls()(Tensor(np.array([0.5, -1.0]), dtype=np.float64)).dtype == np.float64


def test_softmax_function_of_integers_is_float32():
    out = softmax(np.array([1, 2, 3]))
    assert out.dtype == np.float32 and out.data.sum() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("name", ["ReLU", "Sigmoid", "Tanh", "GELU", "Softmax"])
def test_top_level_and_nn_names_are_the_same_objects(name):
    import tinytorch.nn as nn

    assert getattr(tinytorch, name) is getattr(activations, name)
    assert getattr(nn, name) is getattr(activations, name)

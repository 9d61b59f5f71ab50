"""Module 03 as TinyTorch learners use it: ``Tensor(..., requires_grad=True)`` weights, ``Layer``,
integer input to ``Linear``, and the ``tinytorch`` / ``tinytorch.nn`` names.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import tinytorch
import tinytorch.nn as nn
from tinytorch.core import layers
from tinytorch.core.layers import Layer, Linear, Module, Parameter, is_parameter
from tinytorch.core.tensor import Tensor


class LearnerLinear(Module):
    """The usual TinyTorch student layer: weights are plain tensors that require grad."""

    def __init__(self, n_in: int = 3, n_out: int = 4):
        self.w = Tensor(np.random.randn(n_in, n_out), requires_grad=True)
        self.b = Tensor(np.zeros(n_out), requires_grad=True)
        self.scale = Tensor(np.ones(n_out))  # no grad: a buffer
        self.codes = Tensor(np.zeros(n_out, dtype=np.int8))  # integer: a buffer

    def forward(self, x):
        self.last = x @ self.w + self.b  # an op result kept on self: an activation, never a parameter
        return self.last


def test_a_tensor_attribute_that_requires_grad_is_a_parameter():
    layer = LearnerLinear()
    assert [name for name, _ in layer.named_parameters()] == ["w", "b"]
    assert layer.parameters()[0] is layer.w and layer.parameters()[1] is layer.b
    assert [name for name, _ in layer.named_buffers()] == ["scale", "codes"]


def test_an_op_result_stored_on_the_module_stays_out_of_the_parameters():
    layer = LearnerLinear()
    layer(Tensor(np.ones((2, 3))))
    assert layer.last.requires_grad  # it does require grad, but it is not a leaf
    assert [name for name, _ in layer.named_parameters()] == ["w", "b"]
    assert "last" in dict(layer.named_buffers())


def test_nested_learner_parameters_are_found_and_get_gradients():
    model = layers.Sequential(LearnerLinear(3, 4), LearnerLinear(4, 2))
    assert [n for n, _ in model.named_parameters()] == ["layers.0.w", "layers.0.b", "layers.1.w", "layers.1.b"]
    model(Tensor(np.ones((5, 3)))).sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())


def test_is_parameter_rule():
    assert is_parameter(Parameter(np.ones(2)))
    assert is_parameter(Parameter(np.ones(2), requires_grad=False))  # a frozen Parameter is still one
    assert is_parameter(Tensor(np.ones(2), requires_grad=True))
    assert not is_parameter(Tensor(np.ones(2)))
    assert not is_parameter(Tensor(np.ones(2), requires_grad=True) * 2.0)  # not a leaf
    assert not is_parameter(np.ones(2))


def test_state_dict_round_trips_learner_parameters():
    a, b = LearnerLinear(), LearnerLinear()
    b.load_state_dict(a.state_dict())
    assert_array_equal(b.w.data, a.w.data)


def test_layer_is_module():
    assert Layer is Module and nn.Layer is Module and tinytorch.Layer is Module

    class Doubler(Layer):  # learners subclass Layer
        def forward(self, x):
            return x * 2.0

    assert isinstance(Doubler(), Module)
    assert_array_equal(Doubler()(Tensor([1.0])).data, [2.0])


@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.uint8, np.bool_], ids=lambda d: np.dtype(d).name)
def test_linear_on_integer_input_returns_float32(dtype):
    layer = Linear(3, 2)
    ints = np.array([[1, 0, 1], [0, 1, 1]]).astype(dtype)
    out = layer(Tensor(ints))
    assert out.dtype == np.float32
    assert_allclose(out.data, layer(Tensor(ints.astype(np.float32))).data, rtol=1e-6)
    assert layer.forward(ints).dtype == np.float32


@pytest.mark.parametrize("name", ["Module", "Layer", "Parameter", "Linear", "Dropout", "Sequential", "Flatten"])
def test_top_level_and_nn_names_are_the_same_objects(name):
    assert getattr(tinytorch, name) is getattr(layers, name)
    assert getattr(nn, name) is getattr(layers, name)

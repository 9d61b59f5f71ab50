"""Module 06 as TinyTorch learners use it: Tensor-valued ``.grad``, Tensor-attribute weights, ``tinytorch.optim``."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import tinytorch
import tinytorch.optim as optim
from tinytorch.core import optimizers
from tinytorch.core.layers import Module, Parameter
from tinytorch.core.losses import MSELoss
from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.tensor import Tensor

OPTIMIZERS = [
    (SGD, {"lr": 0.1, "momentum": 0.9}),
    (Adam, {"lr": 0.01, "weight_decay": 0.1}),
    (AdamW, {"lr": 0.01}),
]


@pytest.mark.parametrize("cls, kwargs", OPTIMIZERS, ids=lambda v: getattr(v, "__name__", ""))
def test_a_tensor_valued_grad_steps_exactly_like_an_array_grad(rng, cls, kwargs):
    start = rng.standard_normal((3, 2)).astype(np.float32)
    grads = [rng.standard_normal((3, 2)).astype(np.float32) for _ in range(3)]
    as_array, as_tensor = Parameter(start.copy()), Parameter(start.copy())
    opt_a, opt_t = cls([as_array], **kwargs), cls([as_tensor], **kwargs)
    for g in grads:
        as_array.grad, as_tensor.grad = g.copy(), Tensor(g.copy())  # before the fix: "setting an array element…"
        opt_a.step()
        opt_t.step()
    assert_array_equal(as_tensor.data, as_array.data)
    assert as_tensor.dtype == np.float32


def test_a_tensor_grad_of_the_wrong_shape_is_refused():
    p = Parameter(np.zeros((2, 2)))
    p.grad = Tensor(np.ones(3))
    with pytest.raises(ValueError, match=r"shape \(2, 2\) has a gradient of shape \(3,\)"):
        SGD([p], lr=0.1).step()


class LearnerRegression(Module):
    def __init__(self):
        self.w = Tensor(np.zeros((2, 1)), requires_grad=True)  # a learner's parameter: no Parameter class
        self.b = Tensor(np.zeros(1), requires_grad=True)

    def forward(self, x):
        return x @ self.w + self.b


@pytest.mark.parametrize("cls", [SGD, Adam], ids=lambda c: c.__name__)
def test_an_optimizer_trains_tensor_attribute_weights(rng, cls):
    x = rng.standard_normal((32, 2)).astype(np.float32)
    y = x @ np.array([[2.0], [-1.0]], dtype=np.float32) + 0.5
    model = LearnerRegression()
    opt = cls(model.parameters(), lr=0.1)
    assert opt.params == [model.w, model.b]  # before the fix: an empty list (the weights were buffers)
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = MSELoss()(model(Tensor(x)), Tensor(y))
        first = loss.item() if first is None else first
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * first
    assert np.abs(model.w.data - [[2.0], [-1.0]]).max() < 0.3


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "Optimizer"])
def test_optim_namespace_holds_the_same_objects(name):
    assert getattr(optim, name) is getattr(optimizers, name)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_top_level_names_are_the_same_objects(name):
    assert getattr(tinytorch, name) is getattr(optimizers, name)

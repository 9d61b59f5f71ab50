"""Module 05 — every differentiable op of modules 01–04 against float64 finite differences.

``gradcheck`` differentiates ``fn(...).sum()``; a plain sum weighs every output element alike and so
cannot see a gradient routed to the wrong element (a wrong transpose inverse passes it). Each
check therefore multiplies the output by fixed random weights first.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.activations import GELU, ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.autograd import gradcheck
from tinytorch.core.layers import Linear
from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.tensor import Tensor, concatenate


def check(fn, *arrays) -> None:
    probe = fn(*[Tensor(a, dtype=np.float64) for a in arrays])
    weights = np.random.default_rng(123).standard_normal(probe.shape)
    assert gradcheck(lambda *ts: fn(*ts) * weights, *arrays)


def normal(*shape):
    return lambda rng: rng.standard_normal(shape)


def positive(*shape):
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def away_from_zero(*shape):
    return lambda rng: rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def probabilities(*shape):
    return lambda rng: rng.uniform(0.1, 0.9, shape)


def _case(case_id, fn, *makers):
    return pytest.param(fn, makers, id=case_id)


def _linear(x, w, b):
    lin = Linear(3, 2)
    lin.weight, lin.bias = w, b  # the layer's own forward, differentiated w.r.t. its parameters
    return lin(x)


BROADCAST = [((3, 4), (3, 4)), ((3, 1), (4,)), ((2, 3, 4), (3, 1)), ((), (2, 3)), ((1, 4), (3, 1))]

CASES = [
    *[_case(f"add{a}{b}", lambda x, y: x + y, normal(*a), normal(*b)) for a, b in BROADCAST],
    *[_case(f"sub{a}{b}", lambda x, y: x - y, normal(*a), normal(*b)) for a, b in BROADCAST],
    *[_case(f"mul{a}{b}", lambda x, y: x * y, normal(*a), normal(*b)) for a, b in BROADCAST],
    *[_case(f"div{a}{b}", lambda x, y: x / y, normal(*a), away_from_zero(*b)) for a, b in BROADCAST],
    _case("scalar-rsub", lambda x: 2.0 - x, normal(2, 3)),
    _case("scalar-rdiv", lambda x: 3.0 / x, away_from_zero(2, 3)),
    _case("scalar-mul-add", lambda x: x * 2.5 + 1.0, normal(2, 3)),
    _case("scalar-radd-rmul", lambda x: 1.0 + 2.0 * x, normal(2, 3)),
    _case("ndarray-left", lambda x: np.arange(3.0) * x, normal(2, 3)),
    _case("ndarray-rmatmul", lambda x: np.arange(6.0).reshape(2, 3) @ x, normal(3, 2)),
    _case("astype", lambda x: x.astype(np.float64) * x, normal(2, 3)),
    _case("neg", lambda x: -x, normal(2, 3)),
    _case("pow2", lambda x: x**2, normal(2, 3)),
    _case("pow3", lambda x: x**3, normal(2, 3)),
    _case("pow0.5", lambda x: x**0.5, positive(2, 3)),
    _case("pow-1", lambda x: x**-1, away_from_zero(2, 3)),
    _case("matmul-2d", lambda a, b: a @ b, normal(2, 3), normal(3, 4)),
    _case("matmul-batched", lambda a, b: a @ b, normal(2, 3, 4), normal(2, 4, 2)),
    _case("matmul-batched-x-2d", lambda a, b: a @ b, normal(2, 3, 4), normal(4, 2)),
    _case("matmul-broadcast-batch", lambda a, b: a @ b, normal(1, 2, 3), normal(2, 3, 2)),
    _case("matmul-1d-x-2d", lambda a, b: a @ b, normal(3), normal(3, 4)),
    _case("matmul-2d-x-1d", lambda a, b: a @ b, normal(2, 3), normal(3)),
    _case("matmul-1d-x-1d", lambda a, b: a @ b, normal(3), normal(3)),
    _case("matmul-1d-x-batched", lambda a, b: a @ b, normal(3), normal(2, 3, 4)),
    _case("matmul-batched-x-1d", lambda a, b: a @ b, normal(2, 3, 4), normal(4)),
    _case("reshape", lambda x: x.reshape(3, 2), normal(2, 3)),
    _case("reshape-flatten", lambda x: x.reshape(-1), normal(2, 3, 2)),
    _case("transpose-2d", lambda x: x.T, normal(2, 3)),
    _case("transpose-swap-01-2d", lambda x: x.transpose(0, 1), normal(2, 3)),
    _case("transpose-batch", lambda x: x.transpose(), normal(2, 3, 4)),
    _case("transpose-swap-0-2", lambda x: x.transpose(0, 2), normal(2, 3, 4)),
    _case("transpose-perm", lambda x: x.transpose(2, 0, 1), normal(2, 3, 4)),
    _case("transpose-neg-perm", lambda x: x.transpose(-1, 0, 1), normal(2, 3, 4)),
    _case("getitem-int", lambda x: x[1], normal(3, 4)),
    _case("getitem-slice", lambda x: x[1:, ::2], normal(3, 4)),
    _case("getitem-neg-step", lambda x: x[::-1], normal(3, 4)),
    _case("getitem-repeated-fancy", lambda x: x[[0, 0, 2, 0]], normal(3, 4)),
    _case("getitem-repeated-pairs", lambda x: x[[0, 0, 1], [1, 1, 3]], normal(3, 4)),
    _case("getitem-2d-fancy", lambda x: x[np.array([[0, 1], [1, 1]])], normal(3, 2)),
    _case("getitem-mask", lambda x: x[np.array([True, False, True])], normal(3, 2)),
    *[
        _case(
            f"{op}-axis{axis}-keep{keep}",
            lambda x, op=op, axis=axis, keep=keep: getattr(x, op)(axis, keep),
            normal(2, 3, 4),
        )
        for op in ("sum", "mean", "max")
        for axis in (None, 0, -1, (0, 2))
        for keep in (False, True)
    ],  # fmt: skip
    _case("exp", lambda x: x.exp(), normal(2, 3)),
    _case("log", lambda x: x.log(), positive(2, 3)),
    _case("sqrt", lambda x: x.sqrt(), positive(2, 3)),
    _case("tanh", lambda x: x.tanh(), normal(2, 3)),
    _case("relu", lambda x: x.relu(), away_from_zero(2, 3)),
    _case("abs", lambda x: x.abs(), away_from_zero(2, 3)),
    _case("concatenate-axis0", lambda a, b: concatenate([a, b], axis=0), normal(1, 3), normal(2, 3)),
    _case(
        "concatenate-axis1-3", lambda a, b, c: concatenate([a, b, c], axis=1), normal(2, 1), normal(2, 2), normal(2, 3)
    ),  # fmt: skip
    _case("concatenate-same-twice", lambda a: concatenate([a, a], axis=-1), normal(2, 2)),
    _case("ReLU", lambda x: ReLU()(x), away_from_zero(2, 3)),
    _case("Sigmoid", lambda x: Sigmoid()(x), normal(2, 3)),
    _case("Sigmoid-saturating", lambda x: Sigmoid()(x * 10.0), normal(2, 3)),
    _case("Tanh", lambda x: Tanh()(x), normal(2, 3)),
    _case("GELU", lambda x: GELU()(x), normal(2, 3)),
    _case("Softmax-last", lambda x: Softmax()(x), normal(2, 4)),
    _case("Softmax-axis0", lambda x: Softmax(axis=0)(x), normal(3, 2)),
    _case("Softmax-3d-axis1", lambda x: Softmax(axis=1)(x), normal(2, 3, 2)),
    _case("MSELoss", lambda p, t: MSELoss()(p, t), normal(3, 2), normal(3, 2)),
    _case("CrossEntropyLoss", lambda z: CrossEntropyLoss()(z, np.array([1, 0, 3])), normal(3, 4)),
    _case("CrossEntropyLoss-seq", lambda z: CrossEntropyLoss()(z, np.array([[1, 0], [2, 2]])), normal(2, 2, 3)),
    _case(
        "BinaryCrossEntropyLoss", lambda p: BinaryCrossEntropyLoss()(p, np.array([1.0, 0.0, 0.3])), probabilities(3)
    ),  # fmt: skip
    _case("Linear", _linear, normal(4, 3), normal(2, 3), normal(2)),
    _case("Linear-batched", _linear, normal(2, 2, 3), normal(2, 3), normal(2)),
]


@pytest.mark.parametrize("fn, makers", CASES)
def test_gradient_matches_finite_differences(rng, fn, makers):
    check(fn, *[make(rng) for make in makers])


def test_weighted_check_catches_a_misrouted_gradient():
    """A backward that returns the right values in the wrong places must fail ``check``."""

    def flipped(x):
        return Tensor._make(x.data * [1.0, 2.0], (x,), lambda g: (g * [2.0, 1.0],))

    with pytest.raises(AssertionError, match="disagrees"):
        check(flipped, np.array([0.3, -0.7]))


def test_gradcheck_reports_the_input_that_is_wrong():
    def half_wrong(a, b):
        return Tensor._make(a.data * b.data, (a, b), lambda g: (g * b.data, g * a.data * 3))

    with pytest.raises(AssertionError, match="input 1"):
        gradcheck(half_wrong, np.array([1.0, 2.0]), np.array([3.0, 4.0]))

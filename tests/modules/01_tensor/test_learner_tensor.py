"""Module 01 as TinyTorch learners use it: comparisons, truthiness, ``x ** 0`` and the names they import.

Each test here failed before issue 12 was fixed (or guards an alias added for it); the chain runs them
from stage 01 on, so none may need a module numbered above 01.
"""

from __future__ import annotations

import operator

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import tinytorch
from tinytorch.core.tensor import Tensor


# ----------------------------------------------------------------------------- comparisons
def test_not_equal_is_elementwise_not_identity():
    out = Tensor([1.0, 2.0]) != Tensor([3.0, 2.0])
    assert isinstance(out, Tensor) and out.dtype == np.bool_
    assert_array_equal(out.data, [True, False])


@pytest.mark.parametrize(
    "op, expected",
    [
        (operator.eq, [False, True, False]),
        (operator.ne, [True, False, True]),
        (operator.lt, [True, False, False]),
        (operator.le, [True, True, False]),
        (operator.gt, [False, False, True]),
        (operator.ge, [False, True, True]),
    ],
    ids=["eq", "ne", "lt", "le", "gt", "ge"],
)
@pytest.mark.parametrize("other", [2.0, Tensor([2.0, 2.0, 2.0]), np.full(3, 2.0)], ids=["scalar", "tensor", "ndarray"])
def test_every_comparison_returns_a_boolean_tensor(op, expected, other):
    out = op(Tensor([1.0, 2.0, 3.0]), other)
    assert isinstance(out, Tensor) and out.dtype == np.bool_
    assert_array_equal(out.data, expected)


def test_comparing_shapes_that_do_not_broadcast_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2,\) and \(3,\)"):
        Tensor([1.0, 2.0]) != Tensor([1.0, 2.0, 3.0])  # noqa: B015 - the comparison is the test


def test_tensors_stay_hashable_by_identity():
    a, b = Tensor([1.0]), Tensor([1.0])
    assert len({a, b}) == 2 and {a: 1}[a] == 1


# ----------------------------------------------------------------------------- truthiness
@pytest.mark.parametrize(
    "data, truth",
    [([0.0], False), ([2.5], True), (0.0, False), (-1.0, True), ([[0.0]], False), ([True], True)],
)
def test_a_one_element_tensor_is_its_truth_value(data, truth):
    assert bool(Tensor(data)) is truth


def test_a_scalar_comparison_works_in_an_if():
    hits = 0
    if Tensor(0.5) < 1.0:  # before the fix: TypeError: len() of unsized object
        hits += 1
    if Tensor(1.5) < 1.0:
        hits += 10
    assert hits == 1


@pytest.mark.parametrize("data", [[1.0, 2.0], np.zeros((2, 2)), np.zeros(0)], ids=["two", "2x2", "empty"])
def test_truth_of_several_elements_or_none_is_ambiguous(data):
    with pytest.raises(ValueError, match="ambiguous"):
        bool(Tensor(data))


def test_truth_of_an_elementwise_comparison_is_ambiguous_not_always_true():
    with pytest.raises(ValueError, match="ambiguous"):
        if Tensor([1.0, 2.0]) == Tensor([1.0, 3.0]):
            pass


# ----------------------------------------------------------------------------- power at zero
def test_zeroth_power_has_zero_gradient_even_at_zero():
    x = Tensor([0.0, 2.0, -1.5], requires_grad=True)
    y = x**0
    assert_array_equal(y.data, [1.0, 1.0, 1.0])
    y.sum().backward()  # before the fix: 0 * 0**-1 = NaN (and a RuntimeWarning, an error here)
    assert_array_equal(x.grad, [0.0, 0.0, 0.0])


@pytest.mark.parametrize("p, expected", [(1, [1.0, 1.0]), (2, [0.0, 6.0]), (3, [0.0, 27.0])])
def test_other_powers_keep_their_gradient_at_zero(p, expected):
    x = Tensor([0.0, 3.0], requires_grad=True)
    (x**p).sum().backward()
    assert_array_equal(x.grad, expected)


# ----------------------------------------------------------------------------- names learners import
def test_matmul_method_is_the_operator():
    assert Tensor.matmul is Tensor.__matmul__
    a = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = Tensor([[1.0], [1.0]])
    out = a.matmul(b)
    assert_array_equal(out.data, (a @ b).data)
    out.sum().backward()
    assert_array_equal(a.grad, [[1.0, 1.0], [1.0, 1.0]])


def test_top_level_tensor_is_the_same_class():
    from tinytorch import Tensor as TopLevel

    assert TopLevel is Tensor and tinytorch.Tensor is Tensor

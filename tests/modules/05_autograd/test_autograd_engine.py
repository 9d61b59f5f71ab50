"""Module 05 — the backward engine and grad-mode switches: accumulation, graph shapes, no_grad, errors."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from tinytorch.core.autograd import enable_autograd, gradcheck, is_grad_enabled, no_grad, numerical_grad
from tinytorch.core.tensor import Tensor


def leaf(values, dtype=np.float64):
    return Tensor(np.array(values), requires_grad=True, dtype=dtype)


def test_gradients_accumulate_over_two_backward_calls():
    x = leaf([1.0, -2.0, 3.0])
    (x * x).sum().backward()
    assert_allclose(x.grad, [2.0, -4.0, 6.0])
    (x * x).sum().backward()
    assert_allclose(x.grad, [4.0, -8.0, 12.0])
    x.zero_grad()
    assert x.grad is None


def test_a_tensor_used_twice_and_a_diamond_sum_their_paths():
    x = leaf([2.0, 3.0])
    (x * x + x).sum().backward()
    assert_allclose(x.grad, 2 * x.data + 1)
    y = leaf([1.0, -1.0])
    a, b = y * 2.0, y * 3.0
    (a * b).sum().backward()  # d(6 y^2)/dy
    assert_allclose(y.grad, 12 * y.data)


def test_constants_get_no_gradient():
    x, c = leaf([1.0, 2.0]), Tensor(np.array([5.0, 6.0]), dtype=np.float64)
    (x * c).sum().backward()
    assert_allclose(x.grad, [5.0, 6.0])
    assert c.grad is None and not c.requires_grad


def test_detach_cuts_the_graph():
    x = leaf([1.0, 2.0])
    (x.detach() * x).sum().backward()  # the detached factor is a constant: d/dx = x, not 2x
    assert_allclose(x.grad, [1.0, 2.0])


def test_gradient_dtype_follows_the_leaf():
    w = leaf([1.0, 2.0], dtype=np.float32)
    (w * np.array([0.5, 0.25])).sum().backward()  # float64 constant: the product is float64
    assert w.grad.dtype == np.float32
    assert_allclose(w.grad, [0.5, 0.25])


def test_max_ties_share_the_gradient():
    x = leaf([1.0, 3.0, 3.0])
    x.max().backward()
    assert_allclose(x.grad, [0.0, 0.5, 0.5])


def test_repeated_index_accumulates_and_relu_abs_have_zero_grad_at_zero():
    x = leaf([1.0, 2.0, 3.0])
    x[[0, 0, 1]].sum().backward()
    assert_array_equal(x.grad, [2.0, 1.0, 0.0])
    z = leaf([0.0, 0.0])
    (z.relu() + z.abs()).sum().backward()
    assert_array_equal(z.grad, [0.0, 0.0])


def test_deep_graphs_do_not_hit_the_recursion_limit():
    x = leaf([1.0])
    y = x
    for _ in range(1500):  # deeper than the default recursion limit (1000)
        y = y + 1.0
    y.sum().backward()
    assert_array_equal(x.grad, [1.0])


# ----------------------------------------------------------------------------- grad modes
def test_no_grad_records_nothing():
    x = leaf([1.0, 2.0])
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 3.0).sum()
    assert not y.requires_grad and y._parents == () and y._backward is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()
    assert x.grad is None
    assert is_grad_enabled()
    assert (x * 3.0).requires_grad  # recording resumes after the block


def test_no_grad_nests_and_restores_after_an_exception():
    with no_grad():
        with no_grad():
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()
    with pytest.raises(KeyError):
        with no_grad():
            raise KeyError("boom")
    assert is_grad_enabled()


def test_enable_autograd_turns_recording_back_on():
    with no_grad():
        enable_autograd()
        assert is_grad_enabled()
        assert (leaf([1.0]) * 2.0).requires_grad
    assert is_grad_enabled()


# ----------------------------------------------------------------------------- backward errors
def test_backward_on_a_non_scalar_needs_an_explicit_gradient():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    assert x.grad is None
    y.backward(np.array([1.0, 2.0]))
    assert_allclose(x.grad, [3.0, 6.0])


def test_backward_without_requires_grad_raises():
    with pytest.raises(RuntimeError, match="requires_grad=True"):
        Tensor([1.0, 2.0]).sum().backward()


# ----------------------------------------------------------------------------- the checker itself
def test_numerical_grad_of_a_known_function():
    x = np.array([1.0, -2.0])
    grad = numerical_grad(lambda t: t * t * t, [x], 0)
    assert_allclose(grad, 3 * x**2, rtol=1e-6)
    assert_array_equal(x, [1.0, -2.0])  # inputs are restored after probing


def test_gradcheck_passes_a_correct_op_and_fails_a_wrong_one():
    assert gradcheck(lambda a, b: a * b + a, np.array([0.5, 1.5]), np.array([2.0, -1.0]))

    def wrong_exp(x):
        out = np.exp(x.data)
        return Tensor._make(out, (x,), lambda g: (g * out * 1.01,))

    with pytest.raises(AssertionError, match="input 0"):
        gradcheck(wrong_exp, np.array([0.1, 0.2]))

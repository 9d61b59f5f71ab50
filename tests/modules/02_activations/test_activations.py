"""Module 02 — activations: values vs reference formulas, stability at extreme inputs, dtype kept.

pytest turns RuntimeWarning into an error (pyproject), so an overflow inside exp() fails these tests.
Gradients of every activation are checked in module 05's tests.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from tinytorch.core.activations import GELU, ReLU, Sigmoid, Softmax, Tanh, softmax
from tinytorch.core.tensor import Tensor

# Stability is the point of these tests: an overflow warning is a failure even outside this repo's config.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def _ref_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _ref_gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def _ref_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


REFERENCES = [
    (ReLU, lambda x: np.maximum(x, 0.0)),
    (Sigmoid, _ref_sigmoid),
    (Tanh, np.tanh),
    (GELU, _ref_gelu_tanh),
    (Softmax, lambda x: _ref_softmax(x, -1)),
]


@pytest.mark.parametrize("cls, ref", REFERENCES, ids=[c.__name__ for c, _ in REFERENCES])
def test_values_match_reference_formula(rng, cls, ref):
    x = rng.standard_normal((3, 5)).astype(np.float32) * 3
    out = cls()(Tensor(x))
    assert isinstance(out, Tensor)
    assert out.shape == x.shape
    assert out.dtype == np.float32
    assert_allclose(out.data, ref(x.astype(np.float64)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls, ref", REFERENCES, ids=[c.__name__ for c, _ in REFERENCES])
def test_float64_stays_float64_and_ndarray_input_is_accepted(rng, cls, ref):
    x = rng.standard_normal((2, 4))
    out64 = cls()(Tensor(x, dtype=np.float64))
    assert out64.dtype == np.float64
    assert_allclose(out64.data, ref(x), rtol=1e-12, atol=1e-14)
    assert_allclose(cls()(x).data, ref(x), rtol=1e-5, atol=1e-6)  # a raw array is wrapped


def test_relu_exact_values():
    assert_array_equal(ReLU()(Tensor([-3.0, -0.0, 0.0, 2.5])).data, [0.0, 0.0, 0.0, 2.5])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_finite_at_plus_minus_1000(dtype):
    out = Sigmoid()(Tensor(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0]), dtype=dtype))
    assert np.all(np.isfinite(out.data))
    assert out.data[0] == 0.0 and out.data[-1] == 1.0 and out.data[2] == 0.5
    assert np.all(np.diff(out.data) >= 0)  # monotone, no NaN from inf/inf


def test_tanh_saturates_without_nan():
    assert_array_equal(Tanh()(Tensor([-1000.0, 1000.0])).data, [-1.0, 1.0])


def test_gelu_known_values():
    # tanh approximation (GPT-2); the exact erf GELU differs in the 4th decimal.
    x = Tensor(np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0]), dtype=np.float64)
    expected = [-0.04540231, -0.15880801, 0.0, 0.84119199, 1.95459769, 2.99636261]
    assert_allclose(GELU()(x).data, expected, atol=1e-8)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_softmax_sums_to_one_on_every_axis(rng, axis):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32) * 5
    out = Softmax(axis=axis)(Tensor(x))
    assert_allclose(out.data.sum(axis=axis), 1.0, rtol=1e-6)
    assert_allclose(out.data, _ref_softmax(x.astype(np.float64), axis), rtol=1e-5, atol=1e-7)
    assert np.all(out.data >= 0)


def test_softmax_default_axis_is_last():
    x = np.arange(6.0).reshape(2, 3)
    assert_allclose(Softmax()(Tensor(x)).data.sum(axis=-1), [1.0, 1.0], rtol=1e-6)
    assert_allclose(softmax(Tensor(x)).data, _ref_softmax(x, -1), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_is_stable_for_huge_inputs(dtype):
    x = Tensor(np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4]]), dtype=dtype)
    out = Softmax()(x)
    assert np.all(np.isfinite(out.data))
    assert_allclose(out.data, [[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)


def test_softmax_is_shift_invariant(rng):
    x = rng.standard_normal((2, 5))
    a = Softmax()(Tensor(x, dtype=np.float64)).data
    b = Softmax()(Tensor(x + 1000.0, dtype=np.float64)).data
    assert_allclose(a, b, rtol=1e-12)


def test_activations_are_plain_callables_with_a_repr():
    # Module 02 precedes module 03: activations must not need Module, but must sit in a Sequential.
    for cls in (ReLU, Sigmoid, Tanh, GELU, Softmax):
        act = cls()
        assert callable(act)
        assert repr(act).startswith(cls.__name__)

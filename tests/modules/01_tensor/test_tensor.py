"""Module 01 — Tensor: dtype policy, arithmetic vs NumPy, shape ops, reductions, clear errors.

Gradients are checked in module 05's tests (the checker lives there); here only forward values.
"""

from __future__ import annotations

import operator

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from tinytorch.core.tensor import Tensor, concatenate


def _rand(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


# ----------------------------------------------------------------------------- dtype policy
@pytest.mark.parametrize(
    "data",
    [1.5, [1.0, 2.0], np.arange(3, dtype=np.float64) / 2, np.ones(2, dtype=np.float16)],
    ids=["py-float", "list", "float64-array", "float16-array"],
)
def test_float_input_is_stored_as_float32(data):
    t = Tensor(data)
    assert t.dtype == np.float32
    assert_allclose(t.data, np.asarray(data, dtype=np.float64), rtol=1e-6)


def test_explicit_float64_is_kept():
    t = Tensor(np.array([0.1, 0.2]), dtype=np.float64)
    assert t.dtype == np.float64
    assert t.data[0] == 0.1  # not rounded through float32
    assert Tensor(t).dtype == np.float64  # wrapping a tensor keeps its dtype


def test_int8_stays_int8_and_one_byte_per_element():
    codes = np.array([[-128, 0, 127]], dtype=np.int8)
    t = Tensor(codes)
    assert t.dtype == np.int8
    assert t.nbytes == codes.size == 3
    assert_array_equal(t.data, codes)
    s = t + Tensor(np.ones_like(codes))  # int8 op int8 stays int8 (no silent upcast)
    assert s.dtype == np.int8


@pytest.mark.parametrize("data", [[1, 2, 3], np.array([4, 5], dtype=np.int64), np.array([7], dtype=np.int32)])
def test_integer_ids_stay_integer(data):
    t = Tensor(data)
    assert t.dtype.kind == "i"
    assert t.dtype == np.asarray(data).dtype
    assert_array_equal(t.data, data)


def test_requires_grad_on_integer_data_is_float32_but_an_explicit_integer_dtype_is_refused():
    t = Tensor([1, 2], requires_grad=True)  # TinyTorch's idiom: gradients are float
    assert t.dtype == np.float32 and t.requires_grad
    assert_array_equal(t.data, [1.0, 2.0])
    assert Tensor([1, 2]).dtype.kind == "i"  # without grad, integers stay integers
    with pytest.raises(ValueError, match="float"):
        Tensor([1, 2], requires_grad=True, dtype=np.int64)


def test_properties_and_helpers():
    t = Tensor(np.arange(6.0).reshape(2, 3))
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and len(t) == 2
    assert t.numpy() is t.data
    assert Tensor(2.5).item() == 2.5
    assert "Tensor(" in repr(t) and "float32" in repr(t)
    d = Tensor([1.0], requires_grad=True).detach()
    assert not d.requires_grad and d.dtype == np.float32
    assert t.astype(np.float64).dtype == np.float64


# ----------------------------------------------------------------------------- arithmetic vs NumPy
BINARY_OPS = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
}
BROADCAST_SHAPES = [((3, 4), (3, 4)), ((3, 1), (4,)), ((2, 3, 4), (4,)), ((), (2, 3)), ((1, 4), (3, 1))]


@pytest.mark.parametrize("op", list(BINARY_OPS), ids=list(BINARY_OPS))
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
def test_binary_ops_broadcast_like_numpy(rng, op, shapes):
    a, b = _rand(rng, shapes[0]), _rand(rng, shapes[1]) + 3.0  # +3 keeps the divisor away from 0
    fn = BINARY_OPS[op]
    out = fn(Tensor(a), Tensor(b))
    assert out.shape == np.broadcast_shapes(a.shape, b.shape)
    assert out.dtype == np.float32
    assert_allclose(out.data, fn(a, b), rtol=1e-6)


@pytest.mark.parametrize("op", list(BINARY_OPS), ids=list(BINARY_OPS))
def test_ndarray_on_the_left_defers_to_tensor(rng, op):
    a, b = _rand(rng, (2, 3)), _rand(rng, (2, 3)) + 3.0
    out = BINARY_OPS[op](a, Tensor(b))
    assert isinstance(out, Tensor)
    assert_allclose(out.data, BINARY_OPS[op](a, b), rtol=1e-6)


@pytest.mark.parametrize("op", list(BINARY_OPS), ids=list(BINARY_OPS))
@pytest.mark.parametrize("scalar", [2, 0.5, np.float64(1.25)], ids=["int", "float", "np.float64"])
def test_python_scalars_keep_float32_on_both_sides(op, scalar):
    """NEP 50 safety: a float64-valued scalar must not promote a float32 tensor on any NumPy."""
    a = np.array([1.0, -2.0, 4.0], dtype=np.float32)
    fn = BINARY_OPS[op]
    left, right = fn(Tensor(a), scalar), fn(scalar, Tensor(a))
    assert left.dtype == np.float32 and right.dtype == np.float32
    assert_allclose(left.data, fn(a.astype(np.float64), float(scalar)), rtol=1e-6)
    assert_allclose(right.data, fn(float(scalar), a.astype(np.float64)), rtol=1e-6)


def test_python_scalar_keeps_float64_tensor_float64():
    t = Tensor(np.array([1.0, 2.0]), dtype=np.float64)
    assert (t * 0.1).dtype == np.float64
    assert (1.0 - t).dtype == np.float64


def test_neg_and_pow(rng):
    a = np.abs(_rand(rng, (2, 3))) + 0.5
    assert_allclose((-Tensor(a)).data, -a)
    for p in (2, 3, 0.5, -1):
        out = Tensor(a) ** p
        assert out.dtype == np.float32
        assert_allclose(out.data, a.astype(np.float64) ** p, rtol=1e-5)
    with pytest.raises(TypeError, match="exponent"):
        Tensor(a) ** Tensor(a)


@pytest.mark.parametrize(
    "shapes",
    [((2, 3), (3, 4)), ((2, 2, 3), (2, 3, 4)), ((2, 2, 3), (3, 4)), ((3,), (3, 4)), ((2, 3), (3,)), ((3,), (3,))],
    ids=["2d", "batched", "batched-x-2d", "1d-x-2d", "2d-x-1d", "1d-x-1d"],
)
def test_matmul_matches_numpy(rng, shapes):
    a, b = _rand(rng, shapes[0]), _rand(rng, shapes[1])
    out = Tensor(a) @ Tensor(b)
    assert out.shape == (a @ b).shape
    assert_allclose(out.data, a @ b, rtol=1e-5, atol=1e-6)
    assert_allclose((a @ Tensor(b)).data, a @ b, rtol=1e-5, atol=1e-6)  # reflected


def test_non_broadcastable_shapes_raise_naming_both():
    with pytest.raises(ValueError) as info:
        Tensor(np.zeros((2, 3))) + Tensor(np.zeros((4,)))
    assert "(2, 3)" in str(info.value) and "(4,)" in str(info.value)


def test_matmul_mismatch_raises_naming_both():
    with pytest.raises(ValueError) as info:
        Tensor(np.zeros((2, 3))) @ Tensor(np.zeros((4, 5)))
    assert "(2, 3)" in str(info.value) and "(4, 5)" in str(info.value)


# ----------------------------------------------------------------------------- shape ops
def test_reshape_forms_and_error():
    a = np.arange(12.0).reshape(3, 4)
    assert_array_equal(Tensor(a).reshape(4, 3).data, a.reshape(4, 3))
    assert_array_equal(Tensor(a).reshape((2, -1)).data, a.reshape(2, 6))
    assert Tensor(a).reshape(-1).shape == (12,)
    with pytest.raises(ValueError, match=r"\(3, 4\)"):
        Tensor(a).reshape(5, 3)


def test_transpose_forms():
    a = np.arange(24.0).reshape(2, 3, 4)
    m = a[0]
    assert_array_equal(Tensor(m).T.data, m.T)
    assert_array_equal(Tensor(m).transpose().data, m.T)
    assert_array_equal(Tensor(m).transpose(0, 1).data, m.T)  # two axes = swap them, also on 2-D
    assert_array_equal(Tensor(a).transpose().data, a.swapaxes(-1, -2))  # matrix transpose of a batch
    assert_array_equal(Tensor(a).transpose(0, 2).data, a.swapaxes(0, 2))
    assert_array_equal(Tensor(a).transpose(2, 0, 1).data, a.transpose(2, 0, 1))
    assert_array_equal(Tensor(a).transpose((-1, 0, 1)).data, a.transpose(2, 0, 1))
    v = Tensor(np.arange(3.0))
    assert v.T.shape == (3,)


@pytest.mark.parametrize(
    "index",
    [1, -1, slice(1, 3), (slice(None), 2), [0, 0, 2], (np.array([0, 1]), np.array([2, 3])), np.s_[::-1, 1:]],
    ids=["int", "neg-int", "slice", "tuple", "repeated-fancy", "pair-fancy", "neg-step"],
)
def test_indexing_matches_numpy(index):
    a = np.arange(12.0).reshape(3, 4)
    assert_array_equal(Tensor(a)[index].data, a[index])


def test_indexing_with_mask_and_tensor_index():
    a = np.arange(6.0)
    assert_array_equal(Tensor(a)[a > 2].data, a[a > 2])
    assert_array_equal(Tensor(a)[Tensor(np.array([5, 0]))].data, a[[5, 0]])


# ----------------------------------------------------------------------------- reductions
@pytest.mark.parametrize("name", ["sum", "mean", "max"])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2)], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_match_numpy(rng, name, axis, keepdims):
    a = _rand(rng, (2, 3, 4))
    out = getattr(Tensor(a), name)(axis=axis, keepdims=keepdims)
    ref = getattr(a, name)(axis=axis, keepdims=keepdims)
    assert out.shape == np.shape(ref)
    assert out.dtype == np.float32
    assert_allclose(out.data, ref, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- elementwise math
@pytest.mark.parametrize(
    "name, ref",
    [("exp", np.exp), ("log", np.log), ("sqrt", np.sqrt), ("tanh", np.tanh), ("abs", np.abs)],
)
def test_elementwise_math(rng, name, ref):
    a = np.abs(_rand(rng, (2, 3))) + 0.1  # log/sqrt need positive input
    a[0, 0] = -a[0, 0] if name in ("tanh", "abs", "exp") else a[0, 0]
    out = getattr(Tensor(a), name)()
    assert out.dtype == np.float32
    assert_allclose(out.data, ref(a.astype(np.float64)), rtol=1e-6)


def test_relu_values():
    assert_array_equal(Tensor([-2.0, 0.0, 3.0]).relu().data, [0.0, 0.0, 3.0])


def test_comparisons_are_elementwise():
    t = Tensor([1.0, 2.0, 3.0])
    assert_array_equal((t > 1.5).data, [False, True, True])
    assert_array_equal((t < Tensor([2.0, 2.0, 2.0])).data, [True, False, False])
    assert_array_equal((t == 2.0).data, [False, True, False])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate_matches_numpy(rng, axis):
    parts = [_rand(rng, (2, 3)), _rand(rng, (2, 3)), _rand(rng, (2, 3))]
    out = concatenate([Tensor(p) for p in parts], axis=axis)
    assert_array_equal(out.data, np.concatenate(parts, axis=axis))

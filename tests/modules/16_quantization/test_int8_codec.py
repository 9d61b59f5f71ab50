"""quantize_int8 / dequantize_int8: the round-trip bound, the special values, dtypes, and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytorch.core.tensor import Tensor
from tinytorch.optimization.quantization import dequantize_int8, quantize_int8

F32_TINY = float(np.nextafter(np.float32(0), np.float32(1)))


def round_trip(x, **kw):
    q, scale, zero_point = quantize_int8(x, **kw)
    return q, scale, zero_point, dequantize_int8(q, scale, zero_point)


def assert_within_half_step(x, deq, scale):
    """|deq − x| ≤ scale/2 per element, plus one float32 rounding of the dequantized product."""
    x64 = np.asarray(x, dtype=np.float64)
    err = np.abs(deq.data.astype(np.float64) - x64)
    bound = np.broadcast_to(scale.astype(np.float64), x64.shape) / 2 * (1 + 2**-20) + np.abs(x64) * 2**-23
    worst = np.unravel_index(np.argmax(err - bound), x64.shape)
    assert np.all(err <= bound), f"error {err[worst]!r} > bound {bound[worst]!r} at {worst} (x = {x64[worst]!r})"


MODES = [
    pytest.param({}, id="tensor-asym"),
    pytest.param({"symmetric": True}, id="tensor-sym"),
    pytest.param({"axis": 0}, id="channel-asym"),
    pytest.param({"axis": 0, "symmetric": True}, id="channel-sym"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("value", [0.0, 1.0, -300.0, 1e-30, -1e-30, 3e38, -3e38, F32_TINY, 1e-40])
def test_constant_tensors_come_back_exactly(value, mode):
    x = np.full((3, 4), value, dtype=np.float32)
    q, scale, zero_point, deq = round_trip(x, **mode)
    assert deq.dtype == np.float32
    np.testing.assert_array_equal(deq.data, x)  # exact, not merely within half a step
    assert np.all(scale > 0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("low, high", [(5.0, 9.0), (-9.0, -5.0), (1e-42, 1e-39), (-3e38, 3e38), (0.0, 3e38)])
def test_one_sided_subnormal_and_huge_ranges_stay_within_half_a_step(low, high, mode):
    x = np.linspace(low, high, 24, dtype=np.float64).astype(np.float32).reshape(4, 6)
    q, scale, _, deq = round_trip(x, **mode)
    assert_within_half_step(x, deq, scale)
    assert np.all(np.isfinite(deq.data))
    if low > 1e-30 or high < -1e-30:  # a one-sided range keeps its values apart (the "[5, 9] → all 4.0" trap)
        assert len(np.unique(deq.data)) > 12


def test_output_types_and_shapes():
    x = np.arange(-6, 6, dtype=np.float32).reshape(3, 4)
    q, scale, zero_point = quantize_int8(x)
    assert isinstance(q, Tensor) and q.data.dtype == np.int8 and q.shape == (3, 4) and q.nbytes == 12
    # Per tensor: Python numbers (issue 12) that still say float32 / int32 and shape () like 0-d arrays.
    assert isinstance(scale, float) and scale.dtype == np.float32 and scale.shape == ()
    assert isinstance(zero_point, int) and zero_point.dtype == np.int32 and zero_point.shape == ()
    out = dequantize_int8(q, scale, zero_point)
    assert isinstance(out, Tensor) and out.dtype == np.float32 and out.shape == (3, 4)


@pytest.mark.parametrize(
    "shape, axis, scale_shape",
    [((5, 3), 0, (5, 1)), ((5, 3), 1, (1, 3)), ((5, 3), -1, (1, 3)), ((2, 3, 4), 1, (1, 3, 1)), ((7,), 0, (7,))],
)
def test_per_channel_scales_broadcast_against_the_input(shape, axis, scale_shape):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) - 3
    q, scale, zero_point, deq = round_trip(x, axis=axis)
    assert scale.shape == scale_shape and zero_point.shape == scale_shape
    assert_within_half_step(x, deq, scale)


def test_per_channel_gives_each_channel_its_own_scale():
    x = np.array([[1.0, -1.0], [100.0, -100.0]], dtype=np.float32)
    _, scale, _ = quantize_int8(x, axis=0, symmetric=True)
    np.testing.assert_allclose(scale.ravel(), [1 / 127, 100 / 127], rtol=1e-6)


def test_symmetric_has_zero_point_zero_and_codes_in_minus127_127():
    x = np.linspace(-2, 3, 50, dtype=np.float32)
    q, scale, zero_point = quantize_int8(x, symmetric=True)
    assert zero_point == 0 and q.data.min() >= -127 and q.data.max() == 127


def test_asymmetric_uses_the_full_int8_range():
    q, _, _ = quantize_int8(np.linspace(-2, 3, 50, dtype=np.float32))
    assert q.data.min() == -128 and q.data.max() == 127


def test_exact_halves_round_to_even():
    x = np.array([127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5], dtype=np.float32)  # scale exactly 1
    q, scale, _ = quantize_int8(x, symmetric=True)
    assert scale == 1.0
    np.testing.assert_array_equal(q.data, [127, 0, 2, 2, 0, -2, -2])


def test_float64_input_is_quantized_from_its_own_values():
    x = np.array([0.1, 0.2, 0.30000000000000004], dtype=np.float64)
    q, scale, zero_point, deq = round_trip(x)
    assert_within_half_step(x, deq, scale)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_raise_with_count_and_index(bad):
    x = np.zeros((3, 4), dtype=np.float32)
    x[1, 2] = bad
    x[2, 3] = bad
    with pytest.raises(ValueError, match=r"2 non-finite value.*index \(1, 2\)"):
        quantize_int8(x)


def test_values_beyond_float32_range_raise():
    with pytest.raises(ValueError, match="beyond the float32 range"):
        quantize_int8(np.array([1.0, 1e39]))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"axis": 2}, ValueError, "axis=2 is out of range"),
        ({"axis": 0.5}, TypeError, "axis must be None"),
    ],
)
def test_bad_axis(kwargs, error, match):
    with pytest.raises(error, match=match):
        quantize_int8(np.ones((2, 2), dtype=np.float32), **kwargs)


def test_empty_and_non_numeric_inputs_raise():
    with pytest.raises(ValueError, match="empty"):
        quantize_int8(np.zeros((0, 3), dtype=np.float32))
    with pytest.raises(TypeError, match="real numbers"):
        quantize_int8(np.array(["a"]))


def test_dequantize_rejects_non_int8_codes_and_bad_scales():
    q, scale, zero_point = quantize_int8(np.ones(3, dtype=np.float32))
    with pytest.raises(TypeError, match="int8"):
        dequantize_int8(q.data.astype(np.int32), scale, zero_point)
    with pytest.raises(ValueError, match="scale must be finite and > 0"):
        dequantize_int8(q, np.float32(0), zero_point)
    with pytest.raises(ValueError, match="do not broadcast"):
        dequantize_int8(q, np.ones(2, dtype=np.float32), zero_point)


def test_dequantize_subtracts_in_int32_not_int8():
    # 127 − (−128) = 255 overflows int8; int32 arithmetic keeps it exact.
    out = dequantize_int8(Tensor(np.array([127], dtype=np.int8)), np.float32(1), np.array(-128, dtype=np.int32))
    assert out.data[0] == 255.0


def test_no_runtime_warning_at_the_float32_limits():
    # pyproject turns RuntimeWarning into an error: overflow in max − min would fail this test.
    x = np.array([-3.4e38, 3.4e38, F32_TINY, 0.0], dtype=np.float32)
    q, scale, zero_point, deq = round_trip(x)
    assert_within_half_step(x, deq, scale)


finite_floats = st.floats(allow_nan=False, allow_infinity=False, width=32)  # the whole float32 range


@settings(max_examples=50, deadline=None, derandomize=True, database=None, print_blob=True)
@given(
    x=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6), elements=finite_floats),
    symmetric=st.booleans(),
    per_channel=st.booleans(),
)
def test_property_round_trip_error_is_at_most_half_a_step(x, symmetric, per_channel):
    q, scale, zero_point, deq = round_trip(x, axis=0 if per_channel else None, symmetric=symmetric)
    assert q.data.dtype == np.int8
    assert_within_half_step(x, deq, scale)

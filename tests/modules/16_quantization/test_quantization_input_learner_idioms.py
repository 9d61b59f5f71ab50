"""Module 16, issue 12: what learners' code does with the quantization API's results.

- ``q, scale, zero_point = quantize_int8(t)`` gives a ``float`` and an ``int`` per tensor (the
  educational TinyTorch signature ``-> Tuple[Tensor, float, int]``), while they still read as the
  0-d float32 / int32 arrays they were (dtype, shape, bytes, ufunc results).
- ``compare_model_sizes`` reports ``memory_saved_mb`` and ``memory_saved_percent``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinytorch.core.layers import Linear, Sequential
from tinytorch.optimization.quantization import compare_model_sizes, dequantize_int8, quantize_int8, quantize_model


@pytest.mark.parametrize("symmetric", [False, True])
def test_per_tensor_scale_and_zero_point_are_python_numbers(rng, symmetric):
    x = rng.standard_normal((6, 5)).astype(np.float32)
    q, scale, zero_point = quantize_int8(x, symmetric=symmetric)
    assert isinstance(scale, float) and isinstance(zero_point, int)
    assert -128 <= zero_point <= 127 and scale > 0
    assert f"{scale:.4f}" == f"{float(scale):.4f}" and round(scale, 3) == round(float(scale), 3)
    assert json.loads(json.dumps({"scale": scale, "zero_point": zero_point})) == {
        "scale": float(scale),
        "zero_point": int(zero_point),
    }
    assert {scale: "hashable"}[scale] == "hashable"
    assert scale == np.float32(scale)  # exactly the float32 value: nothing rounded on the way
    # ufuncs see the float32 scale (a float subclass alone would be a strong float64 on NumPy 2) and the
    # int32 zero point (int8 codes minus it cannot wrap around), on every NumPy.
    assert (q.data.astype(np.float32) * scale).dtype == np.float32
    steps = q.data - zero_point  # the learner's dequantization
    assert steps.dtype == np.int32 or np.__version__ < "2"  # NumPy 1 casts by value (int8 for small zp)
    manual = (q.data.astype(np.int32) - zero_point) * scale
    np.testing.assert_array_equal(manual.astype(np.float32), dequantize_int8(q, scale, zero_point).data)


def test_per_tensor_values_still_read_as_0d_float32_and_int32_arrays():
    q, scale, zero_point = quantize_int8(np.linspace(-1, 3, 12, dtype=np.float32))
    for value, dtype, kind in ((scale, np.float32, float), (zero_point, np.int32, int)):
        assert value.dtype == dtype and value.shape == () and value.ndim == 0 and value.size == 1
        assert value.nbytes == np.dtype(dtype).itemsize
        assert value.tobytes() == np.array(value.item(), dtype=dtype).tobytes()
        assert value.numpy().dtype == dtype and value.numpy().shape == ()
        assert type(value.item()) is kind
        assert value.reshape(1).dtype == dtype and value.astype(np.float64).dtype == np.float64
        assert value.ravel().shape == (1,) and repr(value) == f"{type(value).__name__}({value.item()!r})"


def test_per_channel_scales_stay_arrays(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    _, scale, zero_point = quantize_int8(x, axis=0)
    assert isinstance(scale, np.ndarray) and scale.shape == (4, 1) and scale.dtype == np.float32
    assert isinstance(zero_point, np.ndarray) and zero_point.shape == (4, 1) and zero_point.dtype == np.int32


def test_compare_model_sizes_reports_memory_saved_in_mib_and_percent():
    np.random.seed(0)
    model = Sequential(Linear(256, 512), Linear(512, 256))
    qmodel = quantize_model(model, inplace=False)
    sizes = compare_model_sizes(model, qmodel)
    saved = sizes["original_bytes"] - sizes["quantized_bytes"]
    assert saved > 0
    assert sizes["memory_saved_mb"] == pytest.approx(saved / (1024 * 1024))
    assert sizes["memory_saved_percent"] == pytest.approx(100.0 * saved / sizes["original_bytes"])
    assert 70.0 < sizes["memory_saved_percent"] < 75.0  # int8 weights + float32 biases and scales
    same = compare_model_sizes(model, model)
    assert same["memory_saved_mb"] == 0.0 and same["memory_saved_percent"] == 0.0

"""Module 16 through upstream's ``tinytorch.perf.quantization.Quantizer``: the same code as module 16."""

from __future__ import annotations

import warnings

import numpy as np

from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.tensor import Tensor
from tinytorch.optimization import quantization


def test_perf_quantization_is_module_16s_objects():
    from tinytorch.perf.quantization import Quantizer, quantize_model

    assert Quantizer is quantization.Quantizer and quantize_model is quantization.quantize_model


def test_quantize_tensor_round_trips_as_in_the_notebook():
    from tinytorch.perf.quantization import Quantizer

    t = Tensor(np.linspace(-1.0, 3.0, 12, dtype=np.float32).reshape(3, 4))
    q, scale, zero_point = Quantizer.quantize_tensor(t)
    assert q.data.dtype == np.int8 and isinstance(scale, float) and isinstance(zero_point, int)
    assert q.data.min() >= -128 and q.data.max() <= 127
    back = Quantizer.dequantize_tensor(q, scale, zero_point)
    assert back.dtype == np.float32 and np.max(np.abs(back.data - t.data)) <= scale / 2 + 1e-6
    expected = quantization.quantize_int8(t, symmetric=False)
    assert np.array_equal(q.data, expected[0].data) and scale == expected[1] and zero_point == expected[2]


def test_quantize_model_and_compare_models():
    from tinytorch.perf.quantization import Quantizer

    np.random.seed(0)
    original = Sequential(Linear(16, 8), Linear(8, 4))
    model = Sequential(Linear(16, 8), Linear(8, 4))
    model.load_state_dict(original.state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", quantization.QuantizationWarning)
        assert Quantizer.quantize_model(model) is model
    assert isinstance(model.layers[0], quantization.QuantizedLinear)
    sizes = Quantizer.compare_models(original, model)
    assert sizes["compression_ratio"] > 1 and sizes["original_mb"] == sizes["original_bytes"] / 2**20
    assert sizes["quantized_mb"] == sizes["quantized_bytes"] / 2**20

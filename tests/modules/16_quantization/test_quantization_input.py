"""Module 16: bad input to the quantization API is refused by name, and the model is left bit for bit.

Each case was silently misread or failed obscurely before: ``inplace="False"`` quantized in place,
complex weights and calibration data lost their imaginary part, 0-d input raised "return arrays must
be of ArrayType", an empty weight raised NumPy's "zero-size array", a zero point of 300 dequantized
happily, a 0-d calibration batch raised ``IndexError``, and a ``__call__`` override was replaced.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Module, Parameter, Sequential
from tinytorch.core.spatial import Conv2D
from tinytorch.core.tensor import Tensor
from tinytorch.optimization.quantization import (
    QuantizationError,
    QuantizedLinear,
    dequantize_int8,
    quantize_int8,
    quantize_model,
)


def mlp() -> Sequential:
    return Sequential(Linear(4, 8), ReLU(), Linear(8, 3))


def fingerprint(model: Module) -> tuple:
    """Everything a refusal must leave as it was: the tree's types, every array's bytes, the modes."""
    types = [(name, type(m).__name__, m.training) for name, m in model.named_modules()]
    arrays = [(name, t.data.dtype.str, t.data.shape, t.data.tobytes()) for name, t in model.named_tensors()]
    return types, arrays, sorted(vars(model))


def refused(model: Module, error, match: str, **kwargs):
    """quantize_model(model, **kwargs) raises ``error`` matching ``match`` and changes nothing."""
    before = fingerprint(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=match) as info:
            quantize_model(model, **kwargs)
    assert fingerprint(model) == before
    return info.value


# ----------------------------------------------------------------------------- flags
@pytest.mark.parametrize("flag", ["inplace", "per_channel"])
@pytest.mark.parametrize("value", ["False", "no", 0, 1, None, np.array([True])], ids=repr)
def test_quantize_model_flags_must_be_bools(flag, value):
    error = refused(mlp(), TypeError, rf"quantize_model: {flag} must be True or False", **{flag: value})
    assert repr(value) in str(error)


@pytest.mark.parametrize("value", [np.bool_(False), False])
def test_numpy_bools_are_bools(value):
    model = mlp()
    before = fingerprint(model)
    out = quantize_model(model, inplace=value)  # np.bool_(False): a copy, no warning, original intact
    assert out is not model and fingerprint(model) == before


@pytest.mark.parametrize("value", ["no", "False", 0, None])
def test_quantize_int8_symmetric_must_be_a_bool(value):
    with pytest.raises(TypeError, match=r"quantize_int8: symmetric must be True or False"):
        quantize_int8(np.linspace(-1, 2, 8, dtype=np.float32), symmetric=value)


# ----------------------------------------------------------------------------- complex values
@pytest.mark.parametrize("attr", ["weight", "bias"])
def test_complex_weights_are_refused_naming_the_layer(attr):
    model = mlp()
    layer = model.layers[2]
    tensor = getattr(layer, attr)
    tensor.data = tensor.data.astype(np.complex64) * (1 + 1j)  # a Parameter refuses complex; a loaded array may not
    refused(model, TypeError, rf"layer 'layers.2' \(Linear\) has a {attr} of dtype complex64")
    refused(model, TypeError, "complex64", inplace=False)


def test_complex_calibration_data_is_refused_naming_the_batch(rng):
    good = rng.standard_normal((2, 4)).astype(np.float32)
    bad = good.astype(np.complex64) * 1j
    refused(mlp(), TypeError, r"calibration_data: batch 1 has dtype complex64", calibration_data=[good, bad])
    refused(mlp(), TypeError, r"batch 0 has dtype complex", calibration_data=[(Tensor(bad), None)], inplace=False)


def test_complex_input_to_quantize_int8_is_refused():
    with pytest.raises(TypeError, match="real numbers, got dtype complex128"):
        quantize_int8(np.array([1 + 2j, 3.0]))


# ----------------------------------------------------------------------------- shapes and sizes
@pytest.mark.parametrize("x", [np.float32(2.5), np.array(2.5), Tensor(np.array(-1.0, dtype=np.float32))], ids=str)
def test_zero_dimensional_input_to_quantize_int8_is_refused_clearly(x):
    with pytest.raises(ValueError, match=r"quantize_int8: x is 0-d .*np.atleast_1d"):
        quantize_int8(x)


def test_empty_weight_names_its_shape_and_layer():
    model = Sequential(Linear(3, 4), Linear(4, 2))
    model.layers[0].weight = Parameter(np.zeros((4, 0), dtype=np.float32))
    refused(model, QuantizationError, r"empty weight of shape \(4, 0\) in layer 'layers.0'")
    refused(model, QuantizationError, r"empty weight of shape \(4, 0\) in layer 'layers.0'", inplace=False)


def test_empty_weight_of_a_bare_layer_is_refused():
    layer = Linear(3, 4)
    layer.weight = Parameter(np.zeros((0, 3), dtype=np.float32))
    refused(layer, QuantizationError, r"empty weight of shape \(0, 3\) in layer '<root>'", inplace=False)


@pytest.mark.parametrize("zero_point", [128, -129, 300, np.array([0, 1, 200], dtype=np.int32), np.int64(2**40)])
def test_zero_point_outside_int8_is_refused(zero_point):
    q = Tensor(np.zeros(3, dtype=np.int8), dtype=np.int8)
    with pytest.raises(ValueError, match=r"dequantize_int8: zero_point must lie in \[-128, 127\]"):
        dequantize_int8(q, np.float32(0.5), zero_point)


@pytest.mark.parametrize("zero_point", [-128, 127, np.array([-128, 0, 127], dtype=np.int32)])
def test_zero_points_at_the_int8_limits_are_accepted(zero_point):
    q = Tensor(np.array([-128, 0, 127], dtype=np.int8), dtype=np.int8)
    out = dequantize_int8(q, np.float32(1.0), zero_point)
    np.testing.assert_array_equal(out.data, np.array([-128, 0, 127]) - np.asarray(zero_point))


@pytest.mark.parametrize(
    "bad",
    [np.float32(1.0), np.ones((2, 5), np.float32), np.ones((2, 4, 3), np.float32)],
    ids=["0-d", "width", "last-dim"],
)
def test_calibration_batch_of_wrong_shape_names_batch_layer_and_shapes(rng, bad):
    batches = [rng.standard_normal((2, 4)).astype(np.float32), bad]
    error = refused(
        mlp().train(),
        QuantizationError,
        r"calibration_data: batch 1 reaches layer 'layers.0'",
        calibration_data=batches,
    )
    assert f"with shape {np.shape(bad)}, but it expects (..., 4)" in str(error)


def test_calibration_batch_of_wrong_rank_for_a_conv_names_nchw(rng):
    model = Sequential(Conv2D(2, 3, 3), ReLU())
    good = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    for bad in (good[0], good[:, :1]):  # rank 3; wrong channel count
        error = refused(
            model, QuantizationError, r"batch 2 reaches layer 'layers.0' \(Conv2D\)", calibration_data=[good, good, bad]
        )
        assert "NCHW input (batch, 2, height, width)" in str(error) and str(bad.shape) in str(error)


class _Pick(Module):
    """Indexes its input the way only 2-D batches allow: an IndexError for anything else."""

    def forward(self, x):
        return Tensor(x.data[:, :4])


def test_a_batch_failing_before_any_layer_names_the_batch(rng):
    model = Sequential(_Pick(), Linear(4, 2))
    batches = [rng.standard_normal((3, 6)).astype(np.float32), np.ones(6, np.float32)]
    error = refused(model, QuantizationError, r"calibration_data: batch 1 \(shape \(6,\)", calibration_data=batches)
    assert "IndexError" in str(error)


# ----------------------------------------------------------------------------- __call__ overrides
class _Doubled(Linear):
    """Overrides __call__, not forward: module(x) is 2·(x @ W.T + b)."""

    def __call__(self, x):
        return super().__call__(x) * 2.0


def test_a_subclass_overriding_call_is_kept_float_and_reported(rng):
    model = Sequential(_Doubled(4, 3), ReLU(), Linear(3, 2))
    x = Tensor(rng.standard_normal((5, 4)).astype(np.float32))
    want = model(x).data
    odd = model.layers[0]
    q = quantize_model(copy.deepcopy(model), inplace=False)
    assert type(q.layers[0]) is _Doubled and isinstance(q.layers[2], QuantizedLinear)
    assert q.quantization_report.skipped == {"layers.0": "_Doubled overrides __call__(); not a plain Linear"}
    assert "_Doubled overrides __call__()" in str(q.quantization_report)
    np.testing.assert_allclose(q(x).data, want, rtol=0.05, atol=0.05)  # still doubled: the layer ran as written
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_model(model)
    assert model.layers[0] is odd and "layers.0" in model.quantization_report.skipped

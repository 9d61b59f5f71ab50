"""GPTQ-style rounding (``rounding="gptq"``): real int8 codes, RTN's scales, never worse than RTN on its data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Flatten, Linear, Module, Sequential
from tinytorch.core.spatial import Conv2D, MaxPool2D, im2col
from tinytorch.core.tensor import Tensor
from tinytorch.optimization.gptq import gptq_codes, nearest_codes, output_error
from tinytorch.optimization.quantization import QuantizedConv2D, QuantizedLinear, quantize_model


def quiet_copy(model, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return quantize_model(model, inplace=False, **kw)


def correlated(rng, rows: int, cols: int, shift: float = 0.0) -> np.ndarray:
    """Inputs with strongly correlated features: where GPTQ has something to correct."""
    mix = rng.standard_normal((cols, cols)) + 2.0 * np.eye(cols)
    return (rng.standard_normal((rows, cols)) @ mix + shift).astype(np.float32)


def mlp(seed: int = 0) -> Sequential:
    np.random.seed(seed)
    return Sequential(Linear(12, 24, init="he"), ReLU(), Linear(24, 16, init="he"), ReLU(), Linear(16, 5))


def cnn(seed: int = 0) -> Sequential:
    np.random.seed(seed)
    return Sequential(
        Conv2D(2, 4, 3, padding=1), ReLU(), MaxPool2D(2), Conv2D(4, 6, 3, padding=1), ReLU(), Flatten(), Linear(24, 3)
    )


def quantized(model: Module) -> list[Module]:
    return [m for m in model.modules() if isinstance(m, (QuantizedLinear, QuantizedConv2D))]


def floats(model: Module) -> list[Module]:
    return [m for m in model.modules() if type(m) in (Linear, Conv2D)]


def layer_inputs(model: Module, layer: Module, batches) -> np.ndarray:
    """The rows ``layer`` multiplies when ``model`` runs on ``batches`` (im2col for a Conv2D)."""
    seen = []
    original = layer.forward

    def recording(x, *args, **kwargs):
        seen.append(x.data)
        return original(x, *args, **kwargs)

    layer.forward = recording
    try:
        for x in batches:
            model(Tensor(x))
    finally:
        del layer.forward
    if isinstance(layer, (Linear, QuantizedLinear)):
        return np.concatenate([s.reshape(-1, s.shape[-1]) for s in seen]).astype(np.float64)
    return np.concatenate([im2col(s, layer.kernel_size, layer.stride, layer.padding)[0] for s in seen]).astype(
        np.float64
    )


# ----------------------------------------------------------------------------- one matrix
@settings(max_examples=25, deadline=None, derandomize=True, database=None, print_blob=True)  # same examples every run
@given(st.integers(0, 10_000), st.integers(1, 9), st.integers(2, 40), st.integers(1, 60))
def test_gptq_codes_never_worse_than_nearest_on_its_hessian(seed, out, cols, rows):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((out, cols)) * rng.uniform(0.01, 3.0)
    x = correlated(rng, rows, cols).astype(np.float64)  # rows < cols: a singular XᵀX, damping must cope
    h = x.T @ x
    scale = np.abs(w).max(axis=1) / 127
    codes = gptq_codes(w, h, scale)
    assert codes.dtype == np.int8 and codes.shape == w.shape
    assert codes.min() >= -127
    nearest = nearest_codes(w, scale)
    assert np.all(output_error(w, codes.astype(np.float64), scale, h) <= output_error(w, nearest, scale, h))


def test_gptq_codes_beat_nearest_clearly_on_correlated_inputs():
    """Not a no-op: with correlated inputs the output error drops well below round-to-nearest's."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((32, 48))
    x = correlated(rng, 500, 48).astype(np.float64)
    h = x.T @ x
    scale = np.abs(w).max(axis=1) / 127
    gptq = output_error(w, gptq_codes(w, h, scale).astype(np.float64), scale, h).sum()
    nearest = output_error(w, nearest_codes(w, scale), scale, h).sum()
    assert gptq < 0.5 * nearest


@pytest.mark.parametrize("diagonal", [np.full(16, 7.0), np.full(16, 1e-6), np.zeros(16)])
def test_gptq_codes_are_exactly_nearest_when_hessian_is_diagonal_with_equal_entries(diagonal):
    rng = np.random.default_rng(2)
    w = rng.standard_normal((10, 16)) * 0.3
    scale = (np.abs(w).max(axis=1) / 127).astype(np.float32)
    codes = gptq_codes(w, np.diag(diagonal), scale)
    np.testing.assert_array_equal(codes, nearest_codes(w, scale).astype(np.int8))


# ----------------------------------------------------------------------------- through quantize_model
def test_gptq_model_keeps_int8_codes_and_one_nearest_scale_per_channel():
    rng = np.random.default_rng(3)
    model = mlp()
    data = [correlated(rng, 64, 12) for _ in range(3)]
    nearest, gptq = quiet_copy(model), quiet_copy(model, calibration_data=data, rounding="gptq")
    assert gptq.quantization_report.rounding == "gptq" and "GPTQ" in str(gptq.quantization_report)
    changed = 0
    for a, b, f in zip(quantized(nearest), quantized(gptq), floats(model)):
        assert b.weight_codes.dtype == np.int8 and b.weight_codes.shape == f.weight.shape
        assert -127 <= b.weight_codes.data.min() and b.weight_codes.data.max() <= 127
        assert b.weight_scale.shape == (f.weight.shape[0], 1)  # one scale per output channel
        np.testing.assert_array_equal(b.weight_scale.data, a.weight_scale.data)  # RTN's scales, bit for bit
        changed += int(np.any(a.weight_codes.data != b.weight_codes.data))
    assert changed == 3  # every layer had correlated inputs: its codes moved


def test_gptq_per_tensor_keeps_its_one_scale():
    rng = np.random.default_rng(4)
    q = quiet_copy(mlp(), calibration_data=[correlated(rng, 64, 12)], rounding="gptq", per_channel=False)
    assert all(layer.weight_scale.data.size == 1 for layer in quantized(q))


def test_gptq_on_orthogonal_equal_norm_inputs_is_exactly_nearest():
    """XᵀX = 8·I: nothing to correct, so the codes are round-to-nearest's exactly."""
    h = np.array([[1.0]])
    for _ in range(3):
        h = np.block([[h, h], [h, -h]])  # 8×8 Hadamard: orthogonal columns of equal norm
    np.random.seed(5)
    model = Sequential(Linear(8, 6))
    nearest = quiet_copy(model)
    gptq = quiet_copy(model, calibration_data=[h.astype(np.float32)], rounding="gptq", quantize_activations=False)
    np.testing.assert_array_equal(gptq.layers[0].weight_codes.data, nearest.layers[0].weight_codes.data)


@pytest.mark.parametrize("build, shape", [(mlp, (12,)), (cnn, (2, 4, 4))], ids=["mlp", "cnn"])
@pytest.mark.parametrize("activations", [False, True], ids=["weights-only", "static-activations"])
def test_per_layer_output_error_on_calibration_inputs_never_above_nearest(build, shape, activations):
    """Each layer, on the inputs it really receives (after the earlier GPTQ layers), does at least as
    well as round-to-nearest codes of that same layer would on those same inputs."""
    rng = np.random.default_rng(6)
    model = build()
    data = [correlated(rng, 32, int(np.prod(shape)), shift=0.5).reshape(32, *shape) for _ in range(2)]
    gptq = quiet_copy(model, calibration_data=data, rounding="gptq", quantize_activations=activations)
    nearest = quiet_copy(model, calibration_data=data, quantize_activations=activations)
    ratios = []
    for f, g, n in zip(floats(model), quantized(gptq), quantized(nearest)):
        x = layer_inputs(gptq, g, data)
        if activations:  # the layer multiplies its fake-quantized input
            x = g.prepared_input(Tensor(x)).data.astype(np.float64)
        w = f.weight.data.reshape(f.weight.shape[0], -1).astype(np.float64)
        scale = g.weight_scale.data.reshape(-1).astype(np.float64)
        err_g, err_n = (
            np.linalg.norm(x @ (w - q.weight_codes.data.reshape(w.shape) * scale[:, None]).T) for q in (g, n)
        )
        assert err_g <= err_n * (1 + 1e-9)
        ratios.append(err_g / err_n)
    assert min(ratios) < 0.9  # and somewhere it really helped


def test_gptq_lowers_the_model_output_error_on_correlated_inputs():
    rng = np.random.default_rng(7)
    model = mlp()
    data = [correlated(rng, 128, 12, shift=0.5) for _ in range(2)]
    held_out = Tensor(correlated(np.random.default_rng(70), 256, 12, shift=0.5))
    y = model(held_out).data.astype(np.float64)
    errors = {}
    for rounding in ("nearest", "gptq"):
        q = quiet_copy(model, calibration_data=data, rounding=rounding, quantize_activations=False)
        errors[rounding] = np.linalg.norm(q(held_out).data - y) / np.linalg.norm(y)
    assert errors["gptq"] < 0.9 * errors["nearest"]


# ----------------------------------------------------------------------------- the options
def test_quantize_activations_decides_the_static_input_ranges():
    rng = np.random.default_rng(8)
    data = [correlated(rng, 16, 12)]
    assert all(m.calibrated for m in quantized(quiet_copy(mlp(), calibration_data=data)))  # today's default
    assert all(m.calibrated for m in quantized(quiet_copy(mlp(), calibration_data=data, rounding="gptq")))
    off = quiet_copy(mlp(), calibration_data=data, rounding="gptq", quantize_activations=False)
    assert not any(m.calibrated for m in quantized(off)) and off.quantization_report.calibrated == []
    plain = quiet_copy(mlp(), calibration_data=data, quantize_activations=False)
    assert not any(m.calibrated for m in quantized(plain))
    np.testing.assert_array_equal(plain.layers[0].weight_codes.data, quiet_copy(mlp()).layers[0].weight_codes.data)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(rounding="stochastic"), ["rounding", "'stochastic'", "nearest", "gptq"]),
        (dict(rounding=None), ["rounding", "None"]),
        (dict(rounding="gptq"), ["rounding='gptq'", "calibration_data"]),
        (dict(quantize_activations=True), ["quantize_activations=True", "calibration_data"]),
        (dict(quantize_activations="yes", calibration_data=[np.ones((2, 12))]), ["quantize_activations", "'yes'"]),
        (dict(quantize_activations=1, calibration_data=[np.ones((2, 12))]), ["quantize_activations", "1"]),
    ],
)
def test_bad_rounding_arguments_raise_before_changing_anything(kwargs, words):
    model = mlp()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError) as info:
        quantize_model(model, **kwargs)
    for word in words:
        assert word in str(info.value)
    assert all(type(m) is not QuantizedLinear for m in model.modules())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_gptq_inplace_false_leaves_the_model_intact_and_modes_restored():
    rng = np.random.default_rng(9)
    model = cnn()
    model.train()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    q = quiet_copy(model, calibration_data=[correlated(rng, 8, 32).reshape(8, 2, 4, 4)], rounding="gptq")
    assert len(quantized(q)) == 3 and all(m.training for m in model.modules())
    assert all("forward" not in vars(m) for m in model.modules())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_gptq_accepts_a_one_shot_iterator_and_a_bare_layer():
    rng = np.random.default_rng(10)
    batches = [correlated(rng, 64, 12) for _ in range(2)]
    np.random.seed(11)
    layer = Linear(12, 7)
    from_list = quantize_model(layer, batches, inplace=False, rounding="gptq", quantize_activations=False)
    from_iter = quantize_model(layer, iter(batches), inplace=False, rounding="gptq", quantize_activations=False)
    assert isinstance(from_list, QuantizedLinear)
    np.testing.assert_array_equal(from_list.weight_codes.data, from_iter.weight_codes.data)
    assert np.any(from_list.weight_codes.data != quantize_model(layer, inplace=False).weight_codes.data)


class TwoUses(Module):
    """One Linear applied twice, and one never called: GPTQ sees both uses, rounds the unused to nearest."""

    def __init__(self):
        self.shared = Linear(6, 6)
        self.unused = Linear(6, 2)
        self.head = Linear(6, 2)

    def forward(self, x):
        return self.head(self.shared(self.shared(x)))


def test_gptq_with_a_layer_used_twice_and_one_never_called():
    rng = np.random.default_rng(12)
    np.random.seed(12)
    model = TwoUses()
    q = quiet_copy(model, calibration_data=[correlated(rng, 64, 6)], rounding="gptq", quantize_activations=False)
    np.testing.assert_array_equal(q.unused.weight_codes.data, quiet_copy(model).unused.weight_codes.data)
    assert isinstance(q.shared, QuantizedLinear) and isinstance(q.head, QuantizedLinear)

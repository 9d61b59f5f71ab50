"""Static activation calibration: accepted inputs, recorded ranges, gradients, and what it buys.

The honest comparison (see ``tinytorch/optimization/calibration.py``): a static activation range must
come from somewhere. Without calibration data it is a guess — PyTorch's unobserved default (scale 1,
zero point 0, i.e. [-128, 127]) or an assumed range such as [-6, 6]. On outlier-heavy activations
the guesses either clip the outliers or waste resolution, and calibrated min/max beats both by a wide
margin. A *dynamic* per-batch range (measured at run time, not static) is more accurate still; that
is reported by the benchmark, not claimed away.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.tensor import Tensor
from tinytorch.data.loader import DataLoader, TensorDataset
from tinytorch.optimization.int8 import scale_and_zero_point
from tinytorch.optimization.quantization import fake_quantize, quantize_model


def mlp() -> Sequential:
    return Sequential(Linear(6, 8, init="he"), ReLU(), Linear(8, 3))


def calibrated(model, data):
    return quantize_model(model, data, inplace=False)


def batches(rng, n=3, shape=(5, 6)):
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(n)]


# ----------------------------------------------------------------------------- inputs
@pytest.mark.parametrize("empty", [[], (), iter([])], ids=["list", "tuple", "iterator"])
def test_empty_calibration_data_raises_and_changes_nothing(empty):
    model = mlp()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="calibration_data is empty"):
        quantize_model(model, empty)  # inplace: must fail before any layer is swapped (and before warning)
    assert type(model.layers[0]) is Linear and "forward" not in vars(model.layers[0])
    assert all(np.array_equal(v, model.state_dict()[k]) for k, v in before.items())


@pytest.mark.parametrize("bad", [np.ones((2, 6)), 3], ids=["bare-array", "int"])
def test_calibration_data_must_be_a_collection_of_batches(bad):
    with pytest.raises(TypeError, match="list of batches"):
        quantize_model(mlp(), bad, inplace=False)


def test_lists_of_tensors_arrays_tuples_and_a_dataloader_record_the_same_ranges(rng):
    data = batches(rng)
    labels = [np.zeros(5, dtype=np.int64) for _ in data]
    model = mlp()
    forms = {
        "arrays": data,
        "tensors": [Tensor(x) for x in data],
        "tuples": list(zip(data, labels)),
        "loader": DataLoader(TensorDataset(np.concatenate(data), np.concatenate(labels)), batch_size=5),
    }
    results = {name: calibrated(model, form) for name, form in forms.items()}
    reference = results.pop("arrays")
    for name, q in results.items():
        for idx in (0, 2):
            ref, got = reference.layers[idx], q.layers[idx]
            assert got.input_scale.data.tobytes() == ref.input_scale.data.tobytes(), (name, idx)
            assert got.input_zero_point.data.tobytes() == ref.input_zero_point.data.tobytes(), (name, idx)


def test_recorded_range_is_the_min_max_each_layer_saw(rng):
    model = mlp()
    data = batches(rng)
    q = calibrated(model, data)
    hidden = np.concatenate([model.layers[1](model.layers[0](x)).data for x in data])
    for layer, seen in ((q.layers[0], np.concatenate(data)), (q.layers[2], hidden)):
        scale, zero_point = scale_and_zero_point(min(seen.min(), 0.0), max(seen.max(), 0.0), symmetric=False)
        assert layer.input_scale.data.reshape(()) == scale and layer.input_zero_point.data.reshape(()) == zero_point
        assert layer.calibrated and layer.input_scale.shape == (1,) and layer.input_zero_point.data.dtype == np.int32
    assert q.quantization_report.calibrated == ["layers.0", "layers.2"]


def test_a_layer_calibration_never_reached_stays_weight_only(rng):
    class TwoHeads(Sequential):
        def forward(self, x):
            return self.layers[0](x)  # layers[1] is never called

    q = calibrated(TwoHeads(Linear(6, 3), Linear(6, 3)), batches(rng))
    assert q.layers[0].calibrated and not q.layers[1].calibrated
    assert q.quantization_report.calibrated == ["layers.0"]


def test_non_finite_calibration_data_names_the_layer(rng):
    data = batches(rng)
    data[1][2, 3] = np.nan
    with pytest.raises(ValueError, match="calibration input of layer 'layers.0'.*non-finite"):
        calibrated(mlp(), data)


def test_a_failing_calibration_forward_leaves_the_model_as_it_was(rng):
    model = mlp().train()
    with pytest.raises(ValueError, match="last dimension"):
        quantize_model(model, [np.ones((2, 5), dtype=np.float32)])
    assert model.training and all("forward" not in vars(m) for m in model.modules())
    assert type(model.layers[0]) is Linear


# ----------------------------------------------------------------------------- forward and gradient
def test_fake_quantize_rounds_to_the_grid_and_saturates(rng):
    scale, zero_point = scale_and_zero_point(-1.0, 1.0, symmetric=False)
    x = Tensor(np.array([-3.0, -1.0, 0.0, 0.3, 1.0, 2.0], dtype=np.float32), requires_grad=True)
    out = fake_quantize(x, scale, zero_point)
    s = float(scale)
    np.testing.assert_allclose(out.data[[0, 5]], [-1.0, 1.0], atol=s)  # saturated at the range ends
    assert np.all(np.abs(out.data[1:5] - x.data[1:5]) <= s / 2 + 1e-7)
    out.backward(np.ones(6, dtype=np.float32))
    np.testing.assert_array_equal(x.grad, [0, 1, 1, 1, 1, 0])  # straight-through inside, zero outside


def test_calibrated_layer_fake_quantizes_its_input(rng):
    model = mlp()
    q, weight_only = calibrated(model, batches(rng)), quantize_model(model, inplace=False)
    x = Tensor(batches(rng, 1)[0])
    layer, plain = q.layers[0], weight_only.layers[0]
    direct = fake_quantize(x, layer.input_scale.data, layer.input_zero_point.data)
    np.testing.assert_array_equal(layer(x).data, plain(direct).data)
    assert not np.array_equal(layer(x).data, plain(x).data)


# ----------------------------------------------------------------------------- what it buys
def spiky(rng, shape=(16, 32)):
    """Outlier-heavy activations: N(0, 1) with 1 % of the entries 20× larger."""
    x = rng.standard_normal(shape)
    x[rng.random(shape) < 0.01] *= 20
    return x.astype(np.float32)


def test_calibration_beats_static_ranges_guessed_without_data_on_outlier_heavy_activations():
    rng = np.random.default_rng(0)
    model = Sequential(Linear(32, 16))
    q_calibrated = calibrated(model, [spiky(rng) for _ in range(16)])
    weight_only = quantize_model(model, inplace=False)
    held_out = [spiky(rng) for _ in range(8)]

    def mean_error(run) -> float:
        errs = []
        for x in held_out:
            y = model(Tensor(x)).data
            errs.append(np.linalg.norm(run(Tensor(x)).data - y) / np.linalg.norm(y))
        return float(np.mean(errs))

    def guessed(low, high):
        scale, zero_point = scale_and_zero_point(low, high, symmetric=False)
        return lambda x: weight_only(fake_quantize(x, scale, zero_point))

    calibrated_err = mean_error(q_calibrated)
    pytorch_default = mean_error(guessed(-128.0, 127.0))  # an unobserved observer: scale 1, zero point 0
    relu6_guess = mean_error(guessed(-6.0, 6.0))
    # Measured over 30 seeds (this setup, seeds 0-29): calibrated / default ≤ 0.72 (median 0.44),
    # calibrated / [-6, 6] ≤ 0.19 (median 0.11); this seed gives ≈ 5.4 % vs 14.9 % and 64 %.
    assert calibrated_err < 0.8 * pytorch_default and calibrated_err < 0.3 * relu6_guess, (
        calibrated_err,
        pytorch_default,
        relu6_guess,
    )
    assert mean_error(weight_only) < calibrated_err  # activation quantization itself costs accuracy

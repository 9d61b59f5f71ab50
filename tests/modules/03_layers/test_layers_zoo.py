"""Module 03 contract checks on every zoo model (fp32 and int8): shapes, determinism, state, names.

Models take different inputs (vectors, images, token ids), so only ``case.input(batch)`` is used.

The output, state and layer-inventory checks also run on the ``int8static`` (calibrated, asymmetric
activation zero points) and ``int8tensor`` (per-tensor scales) variants: module 03 is the first stage
with a model to quantize, so a zero-point, calibration or per-tensor bug goes red here — on the mlp
at stage 03, on the conv models from 09 and the sequence models from 12/13, as the zoo grows.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import zoo
from numpy.testing import assert_array_equal

from tinytorch.core.layers import Linear, Module
from tinytorch.core.tensor import Tensor

ALL = pytest.mark.zoo(variants=zoo.ALL_VARIANTS)


def _fp32_twin(case: zoo.ZooCase) -> Module:
    """The float model the case was built from (same seed), as the reference for the int8 one."""
    return zoo.build_case(case.entry, "fp32").model if case.quantized else case.model


@pytest.mark.parametrize("batch", [1, 3])
def test_forward_shape_matches_the_float_model(zoo_model, batch):
    model = zoo_model.model.eval()
    out = model(zoo_model.input(batch))
    assert isinstance(out, Tensor)
    assert out.shape[0] == batch
    assert out.shape == _fp32_twin(zoo_model).eval()(zoo_model.input(batch)).shape
    if "classifier" in zoo_model.entry.tags:
        assert out.shape[-1] == zoo_model.entry.num_classes
    assert out.dtype.kind == "f" and np.all(np.isfinite(out.data))


@ALL
def test_output_matches_the_float_model(zoo_model):
    """A layer computes what it promises: an int8 twin stays within its entry's error bound of fp32
    (per variant: ``zoo.ZooEntry.error_bound``; a zero-point or calibration bug lands far outside).

    For the fp32 variant the twin is a second seeded build, which must agree exactly. A batch of 64
    keeps the estimate steady (a tiny model's error moves by ~0.1 point between batches of 8).
    """
    x = zoo_model.input(64)
    got = zoo_model.model.eval()(x).data
    ref = zoo.build_case(zoo_model.entry, "fp32").model.eval()(x).data
    if not zoo_model.quantized:
        assert_array_equal(got, ref)
        return
    rel = np.linalg.norm(got - ref) / np.linalg.norm(ref)
    bound = zoo_model.error_bound
    assert rel <= bound, f"{zoo_model.id}: int8 output is {rel:.2%} away from fp32 (limit {bound:.2%})"


def test_eval_forward_is_deterministic(zoo_model):
    model = zoo_model.model.eval()
    x = zoo_model.input(2)
    assert_array_equal(model(x).data, model(x).data)


def test_forward_and_model_call_agree(zoo_model):
    model = zoo_model.model.eval()
    x = zoo_model.input(2)
    assert_array_equal(model.forward(x).data, model(x).data)


def _resolve(model: Module, key: str) -> object:
    """The object a dotted state key names, walked by attribute (and list index) — not via named_tensors,
    so a state_dict that lists a key the model does not hold where it says is caught."""
    obj: object = model
    for part in key.split("."):
        obj = obj[int(part)] if isinstance(obj, (list, tuple)) else getattr(obj, part)
    return obj


def _held_arrays(model: Module):
    """(dotted name, array) of every NumPy array or Tensor any module of the tree holds as an attribute
    (directly, or in a list/tuple/dict attribute) — codes, scales, zero points, ranges, caches alike."""
    for mod_name, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, dict):
                pairs = [(f"{attr}.{k}", v) for k, v in value.items()]
            elif isinstance(value, (list, tuple)):
                pairs = [(f"{attr}.{i}", v) for i, v in enumerate(value)]
            else:
                pairs = [(attr, value)]
            for name, item in pairs:
                if isinstance(item, (Tensor, np.ndarray)):
                    yield (f"{mod_name}.{name}" if mod_name else name), item


@ALL
def test_state_dict_holds_every_array_the_model_holds(zoo_model):
    """``state_dict()`` covers every array the model holds, under the name it is held at: a key left
    out (an int8 code, a scale, an activation zero point or range) would be lost by every checkpoint."""
    model = zoo_model.model
    state = model.state_dict()
    covered: dict[int, str] = {}
    for key, array in state.items():
        held = _resolve(model, key)
        data = held.data if isinstance(held, Tensor) else held
        assert isinstance(data, np.ndarray), f"state key {key!r} names a {type(held).__name__}, not an array"
        assert data.dtype == array.dtype and data.tobytes() == array.tobytes(), f"state[{key!r}] is not its value"
        assert array is not data and not np.shares_memory(array, data), f"state[{key!r}] is a view, not a copy"
        covered.update({id(held): key, id(data): key})
    missing = [name for name, arr in _held_arrays(model) if id(arr) not in covered]
    assert not missing, f"{zoo_model.id}: arrays held by the model but missing from state_dict(): {missing}"
    if zoo_model.variant == "int8static":
        assert any(a.dtype.kind in "iu" and k.endswith("zero_point") for k, a in state.items()), sorted(state)


@ALL
def test_state_dict_loads_into_a_fresh_model_of_another_seed(zoo_model):
    """Loading the state into an independently built model (seed 1, quantized the same way) gives the
    same outputs bit for bit: nothing the output depends on may live outside the state. (Loading into a
    deepcopy would hide a missing key: the copy already holds the right value.)"""
    model = zoo_model.model.eval()
    x = zoo_model.input(3)
    expected = model(x).data.copy()
    state = model.state_dict()
    other = zoo.build_case(zoo_model.entry, zoo_model.variant, seed=1).model.eval()
    assert not np.array_equal(other(x).data, expected), "seed 1 must build a different model"
    assert list(other.state_dict()) == list(state), "the same build must give the same state keys"
    other.load_state_dict(state)
    assert_array_equal(other(x).data, expected)
    for name, array in other.state_dict().items():
        assert array.dtype == state[name].dtype and array.tobytes() == state[name].tobytes(), name
    assert_array_equal(model(x).data, expected)  # the source model was not disturbed


def _plain_float_layer_types() -> tuple:
    """``Linear``, and ``Conv2D`` once module 09 is loaded (looked up: module 03 must not import it)."""
    spatial = sys.modules.get("tinytorch.core.spatial")
    return (Linear,) if spatial is None else (Linear, spatial.Conv2D)


@pytest.mark.int8_only("checks what quantize_model did to the layers; an fp32 model was not quantized")
@pytest.mark.zoo(variants=zoo.QUANTIZED_VARIANTS)
def test_no_plain_float_layer_left_but_the_reported_ones(zoo_model):
    """Every Linear/Conv2D of the fp32 build is, at the same place, either quantized or listed in
    ``quantization_report.skipped`` with its reason; the model tree keeps its shape otherwise."""
    model, fp32 = zoo_model.model, _fp32_twin(zoo_model)
    plain = _plain_float_layer_types()
    report = model.quantization_report
    float_places = {n for n, m in fp32.named_modules() if type(m) in plain}
    assert float_places, f"{zoo_model.id}: the zoo model has no Linear/Conv2D to quantize"
    assert set(report.quantized) | set(report.skipped) == float_places
    assert not set(report.quantized) & set(report.skipped)
    left = {n for n, m in model.named_modules() if type(m) in plain}
    assert left == set(report.skipped), f"float layers left unreported: {sorted(left - set(report.skipped))}"
    assert all(isinstance(why, str) and why.strip() for why in report.skipped.values()), report.skipped
    for name in report.quantized:
        layer = model.get_submodule(name)
        assert not isinstance(layer, plain), f"{name} is reported quantized but is a {type(layer).__name__}"
        assert any(t.data.dtype == np.int8 for _, t in layer.named_tensors()), f"{name} holds no int8 codes"
    assert report.per_channel == (zoo_model.variant != "int8tensor")
    assert bool(report.calibrated) == (zoo_model.variant == "int8static")
    assert [n for n, _ in model.named_modules()] == [n for n, _ in fp32.named_modules()]


_GEOMETRY = ("in_features", "out_features", "in_channels", "out_channels", "kernel_size", "stride", "padding")


@pytest.mark.int8_only("compares what quantization kept of the fp32 build; an fp32 model was not quantized")
@pytest.mark.zoo(variants=zoo.QUANTIZED_VARIANTS)
def test_quantized_layers_keep_the_float_layers_geometry_and_float_tensors(zoo_model):
    """A quantized layer has its float layer's sizes, kernel, stride and padding; the only trainable
    tensors are the fp32 build's own (biases, embeddings, norms, kept-float layers), bit for bit, minus
    the weights that became int8 codes; and no float copy of a quantized weight is kept."""
    model, fp32 = zoo_model.model, _fp32_twin(zoo_model)
    quantized = set(model.quantization_report.quantized)
    for name in quantized:
        q, f = model.get_submodule(name), fp32.get_submodule(name)
        for attr in _GEOMETRY:
            if hasattr(f, attr):
                assert hasattr(q, attr), f"{name}: the quantized layer lost .{attr}"
                got, want = getattr(q, attr), getattr(f, attr)
                assert (tuple(got) if isinstance(got, (tuple, list)) else got) == (
                    tuple(want) if isinstance(want, (tuple, list)) else want
                ), f"{name}.{attr}: {got} != {want}"
        weight_size = f.weight.data.size
        codes = [t for _, t in q.named_tensors() if t.data.dtype == np.int8]
        assert [c.shape for c in codes] == [f.weight.shape], f"{name}: int8 codes {[c.shape for c in codes]}"
        big_floats = [n for n, t in q.named_tensors() if t.data.dtype.kind == "f" and t.data.size >= weight_size]
        assert not big_floats, f"{name} keeps a float array the size of its weight: {big_floats}"
    params, float_params = dict(model.named_parameters()), dict(fp32.named_parameters())
    assert set(float_params) - set(params) == {f"{n}.weight" for n in quantized}
    assert set(params) <= set(float_params), sorted(set(params) - set(float_params))
    for name, p in params.items():
        want = float_params[name].data
        assert p.data.dtype == want.dtype and p.data.tobytes() == want.tobytes(), f"{name} changed when quantized"


@pytest.mark.zoo(tags=["vector"])
def test_vector_models_take_any_leading_shape(zoo_model):
    """Linear layers act on the last axis: a (2, 3, features) batch gives the rows of a (6, features) one."""
    model = zoo_model.model.eval()
    x = zoo_model.input(6)
    flat = model(x).data
    stacked = model(Tensor(x.data.reshape(2, 3, -1))).data
    assert stacked.shape == (2, 3) + flat.shape[1:]
    np.testing.assert_allclose(stacked.reshape(flat.shape), flat, rtol=1e-6, atol=1e-7)


def test_every_named_module_can_be_fetched_back(zoo_model):
    model = zoo_model.model
    names = [name for name, _ in model.named_modules()]
    assert names[0] == "" and len(names) > 1
    assert len(set(names)) == len(names)
    for name, module in model.named_modules():
        if name:
            assert model.get_submodule(name) is module

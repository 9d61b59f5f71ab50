"""Profiler: exact parameter/FLOP counts on hand-computed models, real bytes per dtype, latency,
and the same measurements on every zoo model, fp32 and int8."""

from __future__ import annotations

import numpy as np
import pytest
import zoo

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Flatten, Linear, Module, Parameter, Sequential
from tinytorch.core.spatial import Conv2D, MaxPool2D
from tinytorch.core.tensor import Tensor
from tinytorch.profiling.profiler import Profiler, memory_breakdown, tensor_bytes_by_dtype
from tinytorch.text.embeddings import Embedding


class FakeInt8Linear(Module):
    """A layer the profiler has never heard of: int8 codes in a buffer, float32 scales as a raw array."""

    def __init__(self, in_features: int, out_features: int):
        self.in_features, self.out_features = in_features, out_features
        self.codes = Tensor(np.ones((out_features, in_features), dtype=np.int8))
        self.scale = np.full((out_features, 1), 0.5, dtype=np.float32)
        self.bias = Parameter(np.zeros(out_features))

    def forward(self, x):
        return x @ Tensor(self.codes.data.astype(np.float32) * self.scale).T + self.bias


class Twice(Module):
    """Calls the same layer twice (a shared module)."""

    def __init__(self):
        self.layer = Linear(4, 4)

    def forward(self, x):
        return self.layer(self.layer(x))


class Tied(Module):
    def __init__(self):
        self.a, self.b = Linear(3, 3, bias=False), Linear(3, 3, bias=False)
        self.b.weight = self.a.weight

    def forward(self, x):
        return self.b(self.a(x))


class Wrapper(Module):
    """Looks Linear-like itself but only delegates: its child must be counted, not both."""

    def __init__(self):
        self.in_features, self.out_features = 3, 4
        self.inner = Linear(3, 4)

    def forward(self, x):
        return self.inner(x)


P = Profiler()


# ----------------------------------------------------------------------------- parameters
def test_count_parameters_by_hand():
    assert P.count_parameters(Sequential(Linear(3, 4), ReLU(), Linear(4, 2, bias=False))) == 3 * 4 + 4 + 4 * 2
    assert P.count_parameters(Conv2D(2, 3, (2, 3))) == 3 * 2 * 2 * 3 + 3
    assert P.count_parameters(Conv2D(2, 3, 3, bias=False)) == 3 * 2 * 9


def test_shared_modules_and_tied_weights_count_once():
    layer = Linear(5, 5)
    assert P.count_parameters(Sequential(layer, ReLU(), layer)) == 30
    assert P.count_parameters(Tied()) == 9


def test_frozen_parameters_count_unless_trainable_only():
    model = Sequential(Linear(3, 4), Linear(4, 2))
    model.layers[0].weight.requires_grad = False
    assert P.count_parameters(model) == 12 + 4 + 8 + 2
    assert P.count_parameters(model, trainable_only=True) == 4 + 8 + 2


def test_weights_stored_as_int8_codes_still_count():
    """Quantizing must not change the parameter count: the int8 weight is still the model's weight."""
    model = Sequential(FakeInt8Linear(6, 3), ReLU(), Linear(3, 2))
    assert P.count_parameters(model) == 6 * 3 + 3 + 3 * 2 + 2
    assert P.count_parameters(model, trainable_only=True) == 3 + 3 * 2 + 2


# ----------------------------------------------------------------------------- flops
@pytest.mark.parametrize("shape,rows", [((5, 3), 5), ((2, 5, 3), 10)])
def test_linear_flops(shape, rows):
    assert P.count_flops(Linear(3, 4), shape) == 2 * rows * 3 * 4 + rows * 4
    assert P.count_flops(Linear(3, 4, bias=False), shape) == 2 * rows * 3 * 4


@pytest.mark.parametrize(
    "conv,shape,out_hw",
    [
        (Conv2D(3, 8, 3, stride=2, padding=1), (2, 3, 9, 7), (5, 4)),
        (Conv2D(2, 4, (2, 3), stride=(2, 1), padding=(0, 1)), (3, 2, 6, 5), (3, 5)),
        (Conv2D(1, 2, 3), (1, 1, 3, 3), (1, 1)),
    ],
)
def test_conv_flops_with_stride_and_padding(conv, shape, out_hw):
    (kh, kw), outputs = conv.kernel_size, shape[0] * conv.out_channels * out_hw[0] * out_hw[1]
    expected = 2 * outputs * conv.in_channels * kh * kw + outputs
    assert P.count_flops(conv, shape) == expected


def test_small_cnn_flops_add_up():
    model = Sequential(Conv2D(1, 2, 3, padding=1), ReLU(), MaxPool2D(2), Flatten(), Linear(2 * 2 * 2, 3))
    conv = 2 * (4 * 2 * 4 * 4) * 1 * 9 + 4 * 2 * 4 * 4  # batch 4, 2 channels of 4×4
    linear = 2 * 4 * 8 * 3 + 4 * 3
    assert P.count_flops(model, (4, 1, 4, 4)) == conv + linear


def test_a_layer_called_twice_counts_twice():
    assert P.count_flops(Twice(), (1, 4)) == 2 * (2 * 4 * 4 + 4)


def test_unknown_layer_with_linear_attributes_counts_like_linear():
    assert P.count_flops(FakeInt8Linear(6, 3), (2, 6)) == P.count_flops(Linear(6, 3), (2, 6)) == 2 * 2 * 6 * 3 + 6


def test_a_linear_like_wrapper_is_not_counted_twice():
    assert P.count_flops(Wrapper(), (2, 3)) == P.count_flops(Linear(3, 4), (2, 3))
    assert P.count_parameters(Wrapper()) == 3 * 4 + 4


def test_embedding_models_get_integer_ids():
    model = Sequential(Embedding(10, 4), Linear(4, 3))
    assert P.count_flops(model, (2, 5)) == 2 * 10 * 4 * 3 + 10 * 3
    with pytest.raises(TypeError, match="integer token ids"):
        P.count_flops(model, (2, 5), dtype=np.float32)


def _instance_forwards(model: Module) -> list:
    return [name for name, m in model.named_modules() if "forward" in vars(m)]


def test_forward_is_restored_even_when_the_model_raises():
    model = Sequential(Linear(3, 4), Linear(5, 2))  # the second layer rejects the first's output
    with pytest.raises(ValueError, match="Linear"):
        P.count_flops(model, (1, 3))
    assert _instance_forwards(model) == []
    assert model.layers[0](Tensor(np.ones((1, 3)))).shape == (1, 4)  # the class forward answers again


def test_an_existing_instance_forward_is_put_back():
    layer = Linear(2, 2)
    custom = layer.forward
    layer.forward = custom
    P.count_flops(layer, (1, 2))
    assert vars(layer)["forward"] is custom


# ----------------------------------------------------------------------------- memory
class WithInt8Buffer(Module):
    def __init__(self):
        self.fc = Linear(4, 3)
        self.codes = Tensor(np.zeros((10, 7), dtype=np.int8))  # a buffer
        self.scale = np.ones(5, dtype=np.float32)  # a raw array attribute
        self.alias = self.scale  # the same array again: counted once


def test_memory_counts_real_bytes_per_dtype():
    mem = P.measure_memory(WithInt8Buffer())
    assert mem["by_dtype"] == {"float32": (12 + 3) * 4 + 5 * 4, "int8": 70}
    assert mem["parameter_bytes"] == 60 and mem["buffer_bytes"] == 70 and mem["array_bytes"] == 20
    assert mem["total_bytes"] == 150
    assert tensor_bytes_by_dtype(WithInt8Buffer()) == mem["by_dtype"]


def test_memory_counts_tied_tensors_once():
    assert P.measure_memory(Tied())["total_bytes"] == 9 * 4


def test_float64_counts_eight_bytes():
    layer = Linear(2, 2, bias=False)
    layer.weight.data = np.zeros((2, 2))
    assert memory_breakdown(layer)["by_dtype"] == {"float64": 32}


# ----------------------------------------------------------------------------- latency / profile
class CountCalls(Module):
    def __init__(self):
        self.calls, self.recorded = 0, []

    def forward(self, x):
        self.calls += 1
        out = x * 2.0
        self.recorded.append(out.requires_grad)
        return out


def test_latency_runs_warmup_plus_repeats_under_no_grad():
    model = CountCalls()
    ms = P.measure_latency(model, Tensor(np.ones((2, 2)), requires_grad=True), warmup=2, repeats=5)
    assert isinstance(ms, float) and ms > 0
    assert model.calls == 7 and not any(model.recorded)


@pytest.mark.parametrize("kwargs", [{"repeats": 0}, {"warmup": -1}, {"repeats": 2.5}])
def test_latency_rejects_bad_counts(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        P.measure_latency(CountCalls(), np.ones(2), **kwargs)


def test_profile_bundles_everything():
    model = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
    report = P.profile(model, (2, 3), repeats=2)
    assert report["parameters"] == 26
    assert report["flops"] == 2 * 2 * 3 * 4 + 8 + 2 * 2 * 4 * 2 + 4
    assert report["memory"]["total_bytes"] == 26 * 4 and report["latency_ms"] > 0
    assert report["latency_s"] == report["latency_ms"] / 1000


# ----------------------------------------------------------------------------- every zoo model
def _raw_array_bytes(model: Module) -> int:
    tensor_arrays = {id(t.data) for _, t in model.named_tensors()}
    seen, total = set(), 0
    for m in model.modules():
        for v in vars(m).values():
            if isinstance(v, (np.ndarray, np.generic)) and id(v) not in tensor_arrays | seen:
                seen.add(id(v))
                total += v.nbytes
    return total


def _input_spec(case):
    x = case.input(batch=2)
    return x.shape, x.data.dtype


def test_zoo_memory_is_the_real_bytes(zoo_model):
    model = zoo_model.model
    mem = P.measure_memory(model)
    tensors = sum(t.data.nbytes for _, t in model.named_tensors())
    assert mem["parameter_bytes"] + mem["buffer_bytes"] == tensors
    assert mem["total_bytes"] == tensors + _raw_array_bytes(model)
    assert sum(mem["by_dtype"].values()) == mem["total_bytes"] > 0


def test_zoo_counts_and_latency(zoo_model):
    model = zoo_model.model
    shape, dtype = _input_spec(zoo_model)
    trainable = sum(p.size for p in model.parameters() if p.requires_grad)
    assert P.count_parameters(model) >= P.count_parameters(model, trainable_only=True) == trainable
    assert P.count_flops(model, shape, dtype=dtype) > 0
    assert _instance_forwards(model) == []  # count_flops left no wrapper behind
    assert P.measure_latency(model, zoo_model.input(batch=2), warmup=1, repeats=3) > 0


def _shares_a_layer_weight(model: Module) -> bool:
    owners: dict[int, int] = {}
    for m in model.modules():
        for v in vars(m).values():
            if isinstance(v, Parameter):
                owners[id(v)] = owners.get(id(v), 0) + 1
    return any(n > 1 for n in owners.values())


@pytest.mark.int8_only("compares a quantized model with its fp32 build; an fp32 model has nothing to match")
@pytest.mark.zoo(variants=zoo.QUANTIZED_VARIANTS)
def test_zoo_quantized_counts_match_fp32_twin(zoo_model):
    """Quantizing changes how weights are stored, not how many there are or what is computed: the
    parameter count is exactly the fp32 build's — tied models included (the tie survives quantization,
    module 13, so the shared weight counts once in both) — and so are the FLOPs."""
    fp32 = zoo.build_case(zoo_model.entry, "fp32").model
    shape, dtype = _input_spec(zoo_model)
    assert P.count_flops(zoo_model.model, shape, dtype=dtype) == P.count_flops(fp32, shape, dtype=dtype)
    assert P.count_parameters(zoo_model.model) == P.count_parameters(fp32)
    assert _shares_a_layer_weight(zoo_model.model) == _shares_a_layer_weight(fp32)


@pytest.mark.int8_only("int8 bytes exist only in a quantized model")
@pytest.mark.zoo(variants=["int8"])
def test_zoo_quantized_holds_int8_bytes(zoo_model):
    by_dtype = P.measure_memory(zoo_model.model)["by_dtype"]
    assert by_dtype.get("int8", 0) > 0


@pytest.mark.int8_only("compares a quantized model's bytes with its fp32 build's")
@pytest.mark.zoo(names=["mlp", "cnn", "resnet"], variants=["int8"])
def test_zoo_quantized_linear_conv_models_shrink_below_40_percent(zoo_model):
    fp32 = zoo.build_case(zoo_model.entry, "fp32").model
    assert P.measure_memory(zoo_model.model)["total_bytes"] < 0.4 * P.measure_memory(fp32)["total_bytes"]

"""Module 14 with TinyTorch's signatures: ``measure_memory(model, input_shape)``, ``measure_latency(...,
iterations=)``, ``*_mb`` figures beside the exact byte counts, and learners' Tensor-attribute weights."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch
from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Module, Sequential
from tinytorch.core.tensor import Tensor
from tinytorch.profiling import profiler
from tinytorch.profiling.profiler import MB, Profiler

P = Profiler()


def _mlp() -> Sequential:
    return Sequential(Linear(3, 4), ReLU(), Linear(4, 2))


def test_every_byte_figure_has_its_mb_twin():
    mem = P.measure_memory(_mlp())
    byte_keys = [k for k in mem if k.endswith("_bytes")]
    assert byte_keys == ["total_bytes", "parameter_bytes", "buffer_bytes", "array_bytes"]
    for key in byte_keys:
        assert mem[key[: -len("_bytes")] + "_mb"] == mem[key] / MB
    assert mem["total_bytes"] == (12 + 4 + 8 + 2) * 4 and MB == 1024 * 1024


def test_measure_memory_with_an_input_shape_counts_activations():
    mem = P.measure_memory(_mlp(), input_shape=(5, 3))
    # The input (5x3) and each leaf module's output: Linear (5x4) and Linear (5x2); ReLU is not a Module.
    assert mem["activation_bytes"] == (5 * 3 + 5 * 4 + 5 * 2) * 4
    assert mem["peak_bytes"] == mem["total_bytes"] + mem["activation_bytes"]
    assert mem["activation_mb"] == mem["activation_bytes"] / MB and mem["peak_mb"] == mem["peak_bytes"] / MB
    assert P.measure_memory(_mlp(), (5, 3))["activation_bytes"] == mem["activation_bytes"]  # positional too


def test_measure_memory_with_an_input_shape_leaves_the_model_unwrapped():
    model = _mlp()
    P.measure_memory(model, (2, 3))
    assert all("forward" not in vars(m) for m in model.modules())


class CountCalls(Module):
    def __init__(self):
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x * 2.0


def test_measure_latency_accepts_iterations():
    model = CountCalls()
    ms = P.measure_latency(model, Tensor(np.ones(2)), warmup=1, iterations=4)
    assert isinstance(ms, float) and ms > 0 and model.calls == 5


def test_iterations_and_repeats_together_is_an_error():
    with pytest.raises(ValueError, match="repeats=3 and iterations=4"):
        P.measure_latency(CountCalls(), np.ones(2), repeats=3, iterations=4)


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_bad_iterations_are_named(bad):
    with pytest.raises(ValueError, match="iterations must be a positive int"):
        P.measure_latency(CountCalls(), np.ones(2), iterations=bad)


class LearnerLinear(Module):
    def __init__(self):
        self.w = Tensor(np.zeros((3, 4)), requires_grad=True)
        self.b = Tensor(np.zeros(4), requires_grad=True)
        self.scale = Tensor(np.ones(2))  # a buffer

    def forward(self, x):
        return x @ self.w + self.b


def test_learner_tensor_weights_count_as_parameters():
    layer = LearnerLinear()
    assert P.count_parameters(layer) == 16 and P.count_parameters(layer, trainable_only=True) == 16
    mem = P.measure_memory(layer)
    assert mem["parameter_bytes"] == 16 * 4 and mem["buffer_bytes"] == 2 * 4


def test_top_level_profiler_is_the_same_class():
    assert tinytorch.Profiler is profiler.Profiler

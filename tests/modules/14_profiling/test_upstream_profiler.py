"""Module 14 on TinyTorch's plain models (no ``Module``): ``.parameters()``, ``.layers``, ``.weight``/``.bias``,
``forward`` without ``__call__``; ``measure_latency`` in milliseconds; the ``tinytorch.perf.profiling`` path."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tinytorch.core.layers import Linear
from tinytorch.core.tensor import Tensor
from tinytorch.profiling import profiler
from tinytorch.profiling.profiler import Profiler


class PlainNet:
    """The notebooks' style: layers in a list, forward by hand, no ``__call__``."""

    def __init__(self):
        np.random.seed(0)
        self.layers = [Linear(3, 4), Linear(4, 2)]
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        for layer in self.layers:
            x = layer.forward(x)
        return x


class WithParameters:
    def __init__(self):
        self.w = Tensor(np.zeros((5, 2)), requires_grad=True)

    def parameters(self):
        return [self.w, self.w]  # a shared tensor counts once


class WeightBias:
    weight = Tensor(np.zeros((3, 2)), requires_grad=True)
    bias = Tensor(np.zeros(3), requires_grad=True)


def test_perf_profiling_is_the_same_profiler():
    from tinytorch.perf.profiling import Profiler as Upstream

    assert Upstream is profiler.Profiler


def test_any_model_shape_is_counted():
    P = Profiler()
    assert P.count_parameters(PlainNet()) == 3 * 4 + 4 + 4 * 2 + 2
    assert P.count_parameters(WithParameters()) == 10
    assert P.count_parameters(WeightBias()) == 9
    assert P.measure_memory(PlainNet())["parameter_bytes"] == 26 * 4
    assert P.count_flops(PlainNet(), (1, 3)) == 2 * 3 * 4 + 4 + 2 * 4 * 2 + 2


def test_measure_latency_is_milliseconds_and_calls_forward():
    class Sleepy(PlainNet):
        def forward(self, x):
            time.sleep(0.002)
            return super().forward(x)

    model = Sleepy()
    ms = Profiler().measure_latency(model, Tensor(np.ones((1, 3))), warmup=1, iterations=3)
    assert model.calls == 4
    assert 2.0 <= ms < 1000.0  # 2 ms of sleep, reported in milliseconds


def test_defaults_are_tinytorchs():
    model = PlainNet()
    Profiler().measure_latency(model, Tensor(np.ones((1, 3))))
    assert model.calls == 10 + 100


def test_not_a_model_is_a_type_error():
    with pytest.raises(TypeError, match="not a model"):
        Profiler().measure_memory(object())


def test_memory_of_a_model_holding_bare_tensors():
    mem = Profiler().measure_memory(WithParameters())
    assert mem["total_bytes"] == 10 * 4  # the shared tensor once
    assert Profiler().measure_memory(WeightBias())["parameter_bytes"] == 9 * 4

"""Module 14 — profiling: parameters, FLOPs, memory and latency of any model.

Everything here works by *duck typing*, never by a list of known layer classes, so models holding
layers this module has never heard of (e.g. the int8 layers of module 16) are measured correctly:

- a layer with ``in_features``/``out_features`` is "Linear-like", one with ``in_channels``,
  ``out_channels`` and ``kernel_size`` is "Conv-like"; FLOPs are counted from those attributes and
  from the output shape seen during one real forward pass;
- memory is the real ``nbytes`` of every array the model holds (parameters, buffers and plain NumPy
  arrays kept as attributes), per dtype — an int8 array counts 1 byte an element.

FLOPs count a multiply-add as 2 operations (plus one add per output for a bias), for Linear- and
Conv-like layers only: they dominate the cost of the models here. Attention's score/value matmuls,
activations, norms and pooling are not counted.
"""

from __future__ import annotations

import time
from typing import Iterator

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Module, Parameter, wrapped_forwards
from tinytorch.core.tensor import Tensor
from tinytorch.text.embeddings import Embedding

__all__ = ["Profiler", "tensor_bytes_by_dtype", "memory_breakdown"]


# ----------------------------------------------------------------------------- duck typing
def _is_conv_like(module) -> bool:
    return all(hasattr(module, a) for a in ("in_channels", "out_channels", "kernel_size"))


def _is_linear_like(module) -> bool:
    return hasattr(module, "in_features") and hasattr(module, "out_features")


def _is_compute_layer(module) -> bool:
    return _is_conv_like(module) or _is_linear_like(module)


def _kernel_area(module) -> int:
    k = module.kernel_size
    return int(np.prod(k)) if isinstance(k, (tuple, list)) else int(k) ** 2


def _has_bias(module) -> bool:
    return getattr(module, "bias", None) is not None


def _logical_weight_count(module) -> int:
    """Weight elements a Linear/Conv-like layer represents, whatever form it stores them in."""
    if _is_conv_like(module):
        return int(module.out_channels) * int(module.in_channels) * _kernel_area(module)
    return int(module.out_features) * int(module.in_features)


def _compute_layers(model: Module) -> list[Module]:
    """Linear/Conv-like modules with no Linear/Conv-like descendant (so a wrapper is not counted twice)."""
    return [
        m
        for m in model.modules()
        if _is_compute_layer(m) and not any(_is_compute_layer(d) for d in list(m.modules())[1:])
    ]


def _layer_flops(module, out_shape: tuple) -> int:
    """FLOPs of one call, from the layer's attributes and the shape it produced."""
    outputs = int(np.prod(out_shape))  # every output element is one dot product (+ one bias add)
    if _is_conv_like(module):
        macs_per_output = int(module.in_channels) * _kernel_area(module)
    else:
        macs_per_output = int(module.in_features)
    return 2 * outputs * macs_per_output + (outputs if _has_bias(module) else 0)


# ----------------------------------------------------------------------------- memory walk
def _model_arrays(model: Module) -> Iterator[tuple[str, np.ndarray, str]]:
    """(name, array, kind) for every array the model holds, each once; kind: parameter|buffer|array."""
    seen: set[int] = set()
    for name, t in model.named_tensors():  # already de-duplicates shared (tied) tensors
        seen.add(id(t.data))
        yield name, t.data, ("parameter" if isinstance(t, Parameter) else "buffer")
    for mod_name, module in model.named_modules():
        for attr, value in vars(module).items():
            # Plain arrays (or NumPy scalars) kept outside a Tensor, e.g. a quantized layer's scales.
            if isinstance(value, (np.ndarray, np.generic)) and id(value) not in seen:
                seen.add(id(value))
                yield (f"{mod_name}.{attr}" if mod_name else attr), np.asarray(value), "array"


def memory_breakdown(model: Module) -> dict:
    """Real bytes held by ``model``: ``total_bytes``, ``parameter_bytes``, ``buffer_bytes``,
    ``array_bytes`` (plain NumPy attributes), ``by_dtype`` ({"float32": bytes, "int8": bytes, …})
    and ``num_arrays``. Shared tensors are counted once."""
    kinds = {"parameter": 0, "buffer": 0, "array": 0}
    by_dtype: dict[str, int] = {}
    count = 0
    for _, arr, kind in _model_arrays(model):
        kinds[kind] += int(arr.nbytes)
        key = str(arr.dtype)
        by_dtype[key] = by_dtype.get(key, 0) + int(arr.nbytes)
        count += 1
    return {
        "total_bytes": sum(kinds.values()),
        "parameter_bytes": kinds["parameter"],
        "buffer_bytes": kinds["buffer"],
        "array_bytes": kinds["array"],
        "by_dtype": by_dtype,
        "num_arrays": count,
    }


def tensor_bytes_by_dtype(model: Module) -> dict[str, int]:
    """``{"float32": bytes, "int8": bytes, …}`` over every array the model holds (the same walk as
    ``Profiler.measure_memory``, so module 16's size comparison reports identical numbers)."""
    return memory_breakdown(model)["by_dtype"]


# ----------------------------------------------------------------------------- the profiler
def _default_input_dtype(model: Module):
    """Token ids for a model whose first weighted layer is an embedding, float32 otherwise."""
    for module in model.modules():
        if any(isinstance(v, (Tensor, np.ndarray)) for v in vars(module).values()):
            return np.int64 if isinstance(module, Embedding) else np.float32
    return np.float32


class Profiler:
    """Measures a model: ``count_parameters``, ``count_flops``, ``measure_memory``, ``measure_latency``."""

    def count_parameters(self, model: Module, trainable_only: bool = False) -> int:
        """Number of weight elements of ``model``, shared (tied) parameters once.

        Every ``Parameter`` counts, and so does the weight of a Linear/Conv-like layer that stores it in
        another form (e.g. int8 codes in a buffer): quantizing a model does not change its parameter
        count. ``trainable_only=True`` counts only Parameters with ``requires_grad``.
        """
        seen: set[int] = set()
        total = 0
        for module in model.modules():
            for value in vars(module).values():
                if isinstance(value, Parameter) and id(value) not in seen:
                    seen.add(id(value))
                    if value.requires_grad or not trainable_only:
                        total += value.size
            if (
                not trainable_only
                and _is_compute_layer(module)
                and not isinstance(getattr(module, "weight", None), Parameter)
            ):
                if not any(_is_compute_layer(d) for d in list(module.modules())[1:]):
                    total += _logical_weight_count(module)
        return total

    def count_flops(self, model: Module, input_shape: tuple, dtype=None) -> int:
        """FLOPs of one forward pass on an input of ``input_shape`` (batch included).

        Runs the model once on zeros (int64 token ids if its first weighted layer is an embedding, or
        ``dtype``) while recording what each Linear/Conv-like layer outputs; a layer called twice
        counts twice. The model is left exactly as it was, even if the forward raises.
        """
        dtype = _default_input_dtype(model) if dtype is None else dtype
        x = Tensor(np.zeros(tuple(input_shape), dtype=dtype))
        records: list[int] = []
        record = lambda layer, original: _recording_forward(layer, original, records)  # noqa: E731
        with wrapped_forwards(_compute_layers(model), record), no_grad():
            model(x)
        return sum(records)

    def measure_memory(self, model: Module) -> dict:
        """Bytes the model holds; see :func:`memory_breakdown` for the keys."""
        return memory_breakdown(model)

    def measure_latency(self, model: Module, x, warmup: int = 3, repeats: int = 10) -> float:
        """Median wall time in seconds of ``model(x)`` under ``no_grad`` over ``repeats`` runs."""
        if not isinstance(repeats, (int, np.integer)) or repeats < 1:
            raise ValueError(f"measure_latency: repeats must be a positive int, got {repeats!r}")
        if not isinstance(warmup, (int, np.integer)) or warmup < 0:
            raise ValueError(f"measure_latency: warmup must be an int >= 0, got {warmup!r}")
        x = x if isinstance(x, Tensor) else Tensor(x)
        times = []
        with no_grad():
            for _ in range(warmup):
                model(x)
            for _ in range(repeats):
                start = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - start)
        return float(np.median(times))

    def profile(self, model: Module, input_shape: tuple, dtype=None, repeats: int = 10) -> dict:
        """Everything at once: ``parameters``, ``flops``, ``memory`` (dict), ``latency_s``."""
        dtype = _default_input_dtype(model) if dtype is None else dtype
        x = Tensor(np.zeros(tuple(input_shape), dtype=dtype))
        return {
            "parameters": self.count_parameters(model),
            "flops": self.count_flops(model, input_shape, dtype=dtype),
            "memory": self.measure_memory(model),
            "latency_s": self.measure_latency(model, x, repeats=repeats),
        }


def _recording_forward(layer, forward, records: list[int]):
    def recorded(*args, **kwargs):
        out = forward(*args, **kwargs)
        records.append(_layer_flops(layer, out.shape))
        return out

    return recorded

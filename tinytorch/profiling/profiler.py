"""Module 14 — profiling: parameters, FLOPs, memory and latency of any model.

Everything here works by *duck typing*, never by a list of known layer classes, so models holding
layers this module has never heard of (e.g. the int8 layers of module 16) are measured correctly:

- a layer with ``in_features``/``out_features`` is "Linear-like", one with ``in_channels``,
  ``out_channels`` and ``kernel_size`` is "Conv-like"; FLOPs are counted from those attributes and
  from the output shape seen during one real forward pass;
- memory is the real ``nbytes`` of every array the model holds (parameters, buffers and plain NumPy
  arrays kept as attributes), per dtype — an int8 array counts 1 byte an element. Every ``*_bytes``
  figure comes with its ``*_mb`` twin in MiB (bytes / 2**20, TinyTorch's "MB").

Every method also takes a model that is not a ``Module`` (TinyTorch's notebooks write plain classes):
anything with ``.parameters()``, or ``.layers`` whose items have ``.parameters()``, or ``.weight`` /
``.bias``; it is called as ``model(x)`` or, when not callable, ``model.forward(x)``.
``measure_latency`` returns MILLISECONDS (TinyTorch's unit), the median of its runs.

FLOPs count a multiply-add as 2 operations (plus one add per output for a bias), for Linear- and
Conv-like layers only: they dominate the cost of the models here. Attention's score/value matmuls,
activations, norms and pooling are not counted.
"""

from __future__ import annotations

import time
from typing import Iterator

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Module, is_parameter, wrapped_forwards
from tinytorch.core.tensor import Tensor
from tinytorch.text.embeddings import Embedding

__all__ = ["Profiler", "tensor_bytes_by_dtype", "memory_breakdown", "MB"]

MB = 1024 * 1024  # bytes in one "MB" as learners' code means it (MiB)


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
        yield name, t.data, ("parameter" if is_parameter(t) else "buffer")
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
    return _with_mb(
        {
            "total_bytes": sum(kinds.values()),
            "parameter_bytes": kinds["parameter"],
            "buffer_bytes": kinds["buffer"],
            "array_bytes": kinds["array"],
            "by_dtype": by_dtype,
            "num_arrays": count,
        }
    )


def _with_mb(figures: dict) -> dict:
    """Add ``X_mb`` (MiB) after every ``X_bytes`` figure; the byte counts stay the exact truth."""
    out = {}
    for key, value in figures.items():
        out[key] = value
        if key.endswith("_bytes"):
            out[key[: -len("_bytes")] + "_mb"] = value / MB
    return out


def tensor_bytes_by_dtype(model: Module) -> dict[str, int]:
    """``{"float32": bytes, "int8": bytes, …}`` over every array the model holds (the same walk as
    ``Profiler.measure_memory``, so module 16's size comparison reports identical numbers)."""
    return memory_breakdown(model)["by_dtype"]


# ----------------------------------------------------------------------------- duck-typed models
def _duck_tensors(obj, depth: int = 0) -> list:
    """The tensors a non-``Module`` model exposes: ``.parameters()``, else its ``.layers``' (recursively),
    else its ``.weight`` / ``.bias``."""
    params = getattr(obj, "parameters", None)
    if callable(params):
        return [t for t in params() if isinstance(t, Tensor)]
    layers = getattr(obj, "layers", None)
    if isinstance(layers, (list, tuple)) and depth < 32:
        return [t for layer in layers for t in _duck_tensors(layer, depth + 1)]
    return [t for t in (getattr(obj, "weight", None), getattr(obj, "bias", None)) if isinstance(t, Tensor)]


class _DuckModel(Module):
    """A ``Module`` view of a learner's plain model: its tensors as attributes (so memory and parameter
    counts see them), its ``layers`` that are Modules as children (so FLOPs see them), calls forwarded."""

    def __init__(self, model):
        object.__setattr__(self, "_model", model)  # not a child: it is not a Module
        layers = getattr(model, "layers", None)
        kept = set()
        if isinstance(layers, (list, tuple)):
            for i, layer in enumerate(layers):
                if isinstance(layer, Module):
                    setattr(self, f"layer{i}", layer)
                    kept.update(id(t) for t in layer.parameters())
        for i, t in enumerate(_duck_tensors(model)):
            if id(t) not in kept:
                kept.add(id(t))
                setattr(self, f"tensor{i}", t)

    def forward(self, x):
        model = self._model
        return model(x) if callable(model) else model.forward(x)


def _module(model) -> Module:
    if isinstance(model, Module):
        return model
    if not (callable(model) or hasattr(model, "forward") or _duck_tensors(model)):
        raise TypeError(
            f"Profiler: {type(model).__name__} is not a model: give a Module, or an object with .parameters(), "
            ".layers, .weight/.bias or .forward(x)"
        )
    return _DuckModel(model)


def _call(model, x):
    return model(x) if callable(model) else model.forward(x)


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
        count. ``trainable_only=True`` counts only Parameters with ``requires_grad``. A plain (non-Module)
        model counts every tensor its ``.parameters()`` (or ``.layers``, ``.weight``/``.bias``) gives.
        """
        if not isinstance(model, Module):
            seen_ids: set[int] = set()
            tensors = [t for t in _duck_tensors(model) if not (id(t) in seen_ids or seen_ids.add(id(t)))]
            return int(sum(t.size for t in tensors if t.requires_grad or not trainable_only))
        seen: set[int] = set()
        total = 0
        for module in model.modules():
            for value in vars(module).values():
                if is_parameter(value) and id(value) not in seen:
                    seen.add(id(value))
                    if value.requires_grad or not trainable_only:
                        total += value.size
            if not trainable_only and _is_compute_layer(module) and not is_parameter(getattr(module, "weight", None)):
                if not any(_is_compute_layer(d) for d in list(module.modules())[1:]):
                    total += _logical_weight_count(module)
        return total

    def count_flops(self, model: Module, input_shape: tuple, dtype=None) -> int:
        """FLOPs of one forward pass on an input of ``input_shape`` (batch included).

        Runs the model once on zeros (int64 token ids if its first weighted layer is an embedding, or
        ``dtype``) while recording what each Linear/Conv-like layer outputs; a layer called twice
        counts twice. The model is left exactly as it was, even if the forward raises.
        """
        model = _module(model)
        dtype = _default_input_dtype(model) if dtype is None else dtype
        x = Tensor(np.zeros(tuple(input_shape), dtype=dtype))
        records: list[int] = []
        record = lambda layer, original: _recording_forward(layer, original, records)  # noqa: E731
        with wrapped_forwards(_compute_layers(model), record), no_grad():
            model(x)
        return sum(records)

    def measure_memory(self, model: Module, input_shape: tuple | None = None, dtype=None) -> dict:
        """Bytes the model holds; see :func:`memory_breakdown` for the keys (each ``*_bytes`` has a ``*_mb``).

        With ``input_shape`` (TinyTorch's signature) one forward pass on zeros (as in ``count_flops``)
        also measures ``activation_bytes``: the input plus every array a module call returned — the
        most a forward keeps alive for backward — and ``peak_bytes`` = total + activations, an upper bound
        (every output alive at once, as when backward runs), not a measured high-water mark.
        """
        model = _module(model)
        figures = memory_breakdown(model)
        if input_shape is None:
            return figures
        activations = self._activation_bytes(model, input_shape, dtype)
        figures.update(activation_bytes=activations, peak_bytes=figures["total_bytes"] + activations)
        return _with_mb(figures)

    def _activation_bytes(self, model: Module, input_shape: tuple, dtype) -> int:
        dtype = _default_input_dtype(model) if dtype is None else dtype
        x = Tensor(np.zeros(tuple(input_shape), dtype=dtype))
        sizes: list[int] = [x.nbytes]
        leaves = [m for m in model.modules() if not any(True for _ in m.children())]
        record = lambda layer, original: _recording_output(original, sizes)  # noqa: E731
        with wrapped_forwards(leaves, record), no_grad():
            model(x)
        return int(sum(sizes))

    def measure_latency(
        self, model: Module, x, warmup: int = 10, iterations: int | None = None, *, repeats: int | None = None
    ) -> float:
        """Median wall time in MILLISECONDS of ``model(x)`` (``model.forward(x)`` when the model is not
        callable) under ``no_grad``, over ``iterations`` runs (default 100) after ``warmup`` (default 10).

        TinyTorch's signature and unit. ``repeats`` is this framework's older name for ``iterations``
        (give one or the other).
        """
        if repeats is not None and iterations is not None:
            raise ValueError(
                f"measure_latency: got repeats={repeats!r} and iterations={iterations!r}; they are the same "
                "setting (iterations is TinyTorch's name), give only one"
            )
        name, repeats = ("iterations", iterations) if iterations is not None else ("repeats", repeats)
        repeats = 100 if repeats is None else repeats
        if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)) or repeats < 1:
            raise ValueError(f"measure_latency: {name} must be a positive int, got {repeats!r}")
        if not isinstance(warmup, (int, np.integer)) or warmup < 0:
            raise ValueError(f"measure_latency: warmup must be an int >= 0, got {warmup!r}")
        x = x if isinstance(x, Tensor) else Tensor(x)
        times = []
        with no_grad():
            for _ in range(warmup):
                _call(model, x)
            for _ in range(repeats):
                start = time.perf_counter()
                _call(model, x)
                times.append(time.perf_counter() - start)
        return float(np.median(times)) * 1000.0

    def profile(self, model: Module, input_shape: tuple, dtype=None, repeats: int = 10) -> dict:
        """Everything at once: ``parameters``, ``flops``, ``memory`` (dict), ``latency_ms`` (and the same
        figure in seconds as ``latency_s``, for callers of earlier versions)."""
        dtype = _default_input_dtype(_module(model)) if dtype is None else dtype
        x = Tensor(np.zeros(tuple(input_shape), dtype=dtype))
        latency_ms = self.measure_latency(model, x, warmup=3, iterations=repeats)
        return {
            "parameters": self.count_parameters(model),
            "flops": self.count_flops(model, input_shape, dtype=dtype),
            "memory": self.measure_memory(model),
            "latency_ms": latency_ms,
            "latency_s": latency_ms / 1000.0,
        }


def _recording_forward(layer, forward, records: list[int]):
    def recorded(*args, **kwargs):
        out = forward(*args, **kwargs)
        records.append(_layer_flops(layer, out.shape))
        return out

    return recorded


def _recording_output(forward, sizes: list[int]):
    def recorded(*args, **kwargs):
        out = forward(*args, **kwargs)
        sizes.append(int(out.nbytes) if isinstance(out, (Tensor, np.ndarray)) else 0)
        return out

    return recorded

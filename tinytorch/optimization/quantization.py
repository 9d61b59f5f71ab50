"""Module 16 — quantization: real INT8 weights (1 byte each), < 1 % output error, no silent data loss.

Public API (the import paths listed in the README):

- ``quantize_int8`` / ``dequantize_int8``: the codec (``int8.py``);
- ``QuantizedLinear`` / ``QuantizedConv2D``: int8 layers (``quantized_layers.py``), forward through
  BLAS block by block (``int8_matmul.py``);
- ``quantize_model``: swaps every ``Linear`` and ``Conv2D`` of a model, anywhere in its tree, with
  optional static activation calibration (``calibration.py``) and optional data-aware GPTQ rounding
  (``rounding="gptq"``, ``gptq.py``);
- ``dequantize_model``: always refuses, explaining why — the float weights are gone;
- ``compare_model_sizes``: real bytes before and after.

Layering: importing this module loads only ``tinytorch.core.tensor`` and ``tinytorch.core.layers``
(the regression chain quantizes models from stage 03 on). ``Conv2D`` is recognised through
``sys.modules`` (a Conv2D instance implies module 09 is loaded); spatial helpers and the profiler are
imported inside the functions that need them.

Decisions worth knowing:

- **Shared (tied) weights stay float.** A ``Linear``/``Conv2D`` whose weight or bias tensor is also
  held by another module — GPT's ``lm_head.weight is token_embedding.weight`` — is left as it is, so
  the tie stays one tensor (the embedding keeps looking rows up in it, training updates both uses).
  Quantizing it would either break the tie or force int8 onto the embedding. Such layers are listed
  in ``model.quantization_report.skipped`` with the reason.
- **A module used at several places** (the same ``Linear`` object twice) is quantized once and the
  one quantized layer is put at every place, so the sharing survives.
- **A ``Linear``/``Conv2D`` subclass that overrides ``forward`` or ``__call__``** is skipped (its
  computation is not ``x @ W.T + b``; replacing it would silently change the model) and reported.
- **``inplace=False`` never copies a float weight it would discard**: the copy it quantizes shares the
  original weight tensors of the layers it replaces (read, never written) — peak memory about the
  model plus its int8 codes, not twice the model.
- **Bad arguments are refused before anything is read or changed** (``validation.py``): non-bool
  flags, complex or empty weights, calibration batches a layer cannot take.
- **A bare ``Linear``/``Conv2D`` as the model itself** cannot be replaced in place (nothing holds it
  to swap); ``inplace=True`` raises ``QuantizationError`` suggesting ``Sequential(layer)`` or
  ``inplace=False``, which returns the quantized layer.
- Calling ``quantize_model`` on a model that already holds quantized layers raises: re-quantizing
  int8 codes could only add error.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field

from tinytorch.core.layers import Linear, Module
from tinytorch.core.tensor import Tensor
from tinytorch.optimization.calibration import observe_inputs
from tinytorch.optimization.errors import QuantizationError, QuantizationWarning
from tinytorch.optimization.int8 import dequantize_int8, quantize_int8
from tinytorch.optimization.quantized_layers import QuantizedConv2D, QuantizedLinear, conv2d_class, fake_quantize
from tinytorch.optimization.validation import check_layer_weights, require_bool

__all__ = [
    "quantize_int8",
    "dequantize_int8",
    "QuantizedLinear",
    "QuantizedConv2D",
    "QuantizationError",
    "QuantizationWarning",
    "QuantizationReport",
    "quantize_model",
    "dequantize_model",
    "compare_model_sizes",
    "fake_quantize",
    "Quantizer",
]

QUANTIZABLE = ("Linear", "Conv2D")
MIB = 1 << 20  # compare_model_sizes' "mb": 1024 * 1024 bytes
QUANTIZED_TYPES = (QuantizedLinear, QuantizedConv2D)


@dataclass
class QuantizationReport:
    """What ``quantize_model`` did, kept as ``model.quantization_report``."""

    quantized: list[str] = field(default_factory=list)  # every place a quantized layer now sits
    skipped: dict[str, str] = field(default_factory=dict)  # place -> why it stayed float
    calibrated: list[str] = field(default_factory=list)  # places whose inputs are fake-quantized
    per_channel: bool = True
    rounding: str = "nearest"  # how the codes were chosen: "nearest" or "gptq" (data-aware)

    def __str__(self) -> str:
        mode = "per channel" if self.per_channel else "per tensor"
        how = ", GPTQ rounding" if self.rounding == "gptq" else ""
        lines = [f"quantized {len(self.quantized)} layer(s) to int8 ({mode}){how}"]
        lines += [f"  kept float: {name} ({why})" for name, why in self.skipped.items()]
        if self.calibrated:
            lines.append(f"  static int8 activations: {len(self.calibrated)} layer(s)")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- finding layers
def _all_places(model: Module):
    """Every (dotted name, module) below ``model``, a shared module once per place it sits."""
    stack = [("", model, frozenset())]
    while stack:
        name, module, ancestors = stack.pop()
        if name:
            yield name, module
        if id(module) in ancestors:  # a cycle: do not descend again
            continue
        inner = ancestors | {id(module)}
        kids = [(f"{name}.{n}" if name else n, c, inner) for n, c in module.named_children()]
        stack.extend(reversed(kids))


def _float_layer_kind(module: Module) -> type | None:
    """``QuantizedLinear``/``QuantizedConv2D`` for a float layer that can be swapped, else None."""
    conv = conv2d_class()
    if isinstance(module, Linear):
        return QuantizedLinear
    if conv is not None and isinstance(module, conv):
        return QuantizedConv2D
    return None


def _overridden_call(module: Module) -> str | None:
    """``"forward"`` or ``"__call__"`` if the layer's class (or, for forward, the instance) replaces it."""
    base = Linear if isinstance(module, Linear) else conv2d_class()
    if type(module).forward is not base.forward or "forward" in vars(module):
        return "forward"
    if type(module).__call__ is not base.__call__:  # module(x) runs the override, not forward
        return "__call__"
    return None


def _tensor_holders(model: Module) -> dict[int, set[int]]:
    """id(tensor or its array) -> ids of the modules holding it as an attribute (or in a list or dict)."""
    holders: dict[int, set[int]] = {}
    for module in model.modules():
        for value in vars(module).values():
            items = (
                value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else (value,)
            )
            for item in items:
                if isinstance(item, Tensor):
                    for key in (id(item), id(item.data)):
                        holders.setdefault(key, set()).add(id(module))
    return holders


def _shared_tensor(module: Module, holders: dict[int, set[int]]) -> str | None:
    for attr in ("weight", "bias"):
        t = getattr(module, attr, None)
        if isinstance(t, Tensor) and any(len(holders.get(key, ())) > 1 for key in (id(t), id(t.data))):
            return attr
    return None


def _in_tuple(model: Module, name: str) -> bool:
    """True if the child at dotted ``name`` sits in a tuple (which ``set_submodule`` cannot change)."""
    parent: object = model
    for part in name.split(".")[:-1]:
        parent = parent[int(part)] if isinstance(parent, (list, tuple)) else getattr(parent, part)
    return isinstance(parent, tuple)


def _keep_float_reason(model: Module, module: Module, names: list[str], holders: dict[int, set[int]]) -> str | None:
    """Why a Linear/Conv2D must stay float (or None): its computation, a tie, or an immovable place."""
    kind = "Linear" if isinstance(module, Linear) else "Conv2D"
    overridden = _overridden_call(module)
    if overridden is not None:
        return f"{type(module).__name__} overrides {overridden}(); not a plain {kind}"
    shared = _shared_tensor(module, holders)
    if shared is not None:
        return f"its {shared} is shared with another module (tied weights): kept float32 so the tie stays consistent"
    if any(_in_tuple(model, name) for name in names):
        return "it sits in a tuple, which cannot be changed: store the layers in a list"
    return None


def _plan(model: Module, report: QuantizationReport) -> dict[int, tuple[list[str], Module, type]]:
    """{id(layer): (places, layer, quantized class)} of the layers to swap; fills ``report.skipped``."""
    found: dict[int, tuple[list[str], Module, type]] = {}
    for name, module in _all_places(model):
        if isinstance(module, QUANTIZED_TYPES):
            raise QuantizationError(
                f"{type(model).__name__} is already quantized ({type(module).__name__} at {name!r}); quantizing "
                "int8 codes again could only add error. Use the model as it is, or quantize the original float "
                "model (reload its float checkpoint) instead."
            )
        kind = _float_layer_kind(module)
        if kind is not None:
            found.setdefault(id(module), ([], module, kind))[0].append(name)
    holders = _tensor_holders(model)
    plan = {}
    for key, (names, module, kind) in found.items():
        reason = _keep_float_reason(model, module, names, holders)
        if reason is None:
            plan[key] = (names, module, kind)
        else:
            report.skipped.update(dict.fromkeys(names, reason))
    return plan


# ----------------------------------------------------------------------------- public API
def quantize_model(
    model: Module,
    calibration_data=None,
    *,
    inplace: bool = True,
    per_channel: bool = True,
    rounding: str = "nearest",
    quantize_activations: bool | None = None,
):
    """Replace every ``Linear`` and ``Conv2D`` in ``model`` by its int8 version; returns the model.

    - ``inplace=True`` (default) changes ``model`` itself and warns (``QuantizationWarning``): the
      float32 weights are discarded. ``inplace=False`` returns a quantized deep copy (built without
      copying the float weights it replaces), leaves ``model`` bit-for-bit intact and does not warn.
      Both flags must be real bools (``"False"`` is refused, not read as true).
    - ``per_channel``: one scale per output channel (default) or one per weight tensor.
    - ``calibration_data``: optional list of batches (tensors/arrays, or tuples whose first element
      is the input) or a ``DataLoader``. The float model is run on it and each quantized layer then
      fake-quantizes its input activations to int8 over the recorded range (see ``calibration.py``).
      Empty → ``ValueError``.
    - ``rounding``: ``"nearest"`` (default) rounds every weight to its nearest code; ``"gptq"`` chooses
      the codes from ``calibration_data`` (required) so each layer's output stays close, layer by layer
      in forward order (``gptq.py``). Same int8 codes and per-channel scales either way.
    - ``quantize_activations``: whether ``calibration_data`` also fixes static int8 input ranges.
      Default (``None``): yes when data is given. ``False``: the data only drives the rounding.

    Raises ``QuantizationError`` (a ``ValueError``) for an already-quantized model, a model with no
    ``Linear``/``Conv2D`` to quantize, weights holding NaN/inf, an empty weight and a calibration batch
    the model cannot take (naming the batch, the layer and both shapes); ``TypeError`` for a flag that
    is not a bool and complex weights or calibration data — in every case before changing anything.
    What was done is in ``result.quantization_report``.
    """
    if not isinstance(model, Module):
        raise TypeError(f"quantize_model needs a tinytorch Module, got {type(model).__name__}")
    inplace = require_bool(inplace, "inplace", "quantize_model")
    per_channel = require_bool(per_channel, "per_channel", "quantize_model")
    if isinstance(model, QUANTIZED_TYPES):
        raise QuantizationError(f"the model is already a {type(model).__name__}; there is nothing left to quantize")
    options = _rounding_options(calibration_data, rounding, quantize_activations)
    if _float_layer_kind(model) is not None:
        return _quantize_bare_layer(model, calibration_data, inplace=inplace, per_channel=per_channel, **options)

    report = QuantizationReport(per_channel=per_channel)
    plan = _plan(model, report)  # only reads the model
    if not plan:
        found = f"; found only layers it must keep float: {report.skipped}" if report.skipped else ""
        raise QuantizationError(
            f"{type(model).__name__} has no layer to quantize: quantize_model replaces {' and '.join(QUANTIZABLE)} "
            f"layers (anywhere in the module tree){found}. Build the model from tinytorch Linear/Conv2D layers, "
            "or quantize individual tensors with quantize_int8."
        )
    for places, layer, _ in plan.values():
        check_layer_weights(places[0], layer)
    target = model
    if not inplace:  # the same steps on a copy that shares (never changes) the float weights it will drop
        target = _float_twin(model, plan)
        report = QuantizationReport(per_channel=per_channel)
        plan = _plan(target, report)
    ranges = _calibrate(target, plan, calibration_data) if options["quantize_activations"] else {}
    replacements = _build(plan, ranges, report, per_channel)  # everything built before anything changes
    if options["rounding"] == "gptq":
        _gptq_round(target, plan, replacements, calibration_data, report)
    for places, new in replacements:
        for name in places:
            target.set_submodule(name, new)
        report.quantized.extend(places)
    target.quantization_report = report
    if inplace:
        _warn_inplace(model, report)
    return target


def _float_twin(model: Module, plan: dict) -> Module:
    """A deep copy of ``model`` whose layers to be quantized hold the *original* weight and bias tensors.

    Those tensors are put into ``deepcopy``'s memo as themselves, so the copy never duplicates a float
    weight it is about to replace by int8 codes: peak memory is about the model plus its codes, not
    twice the model. The copy's layers only read them (calibration runs without a graph, building the
    codes copies the bias) and are swapped out before the copy is returned; anything a forward pass
    might record during calibration lands on the copy, as with a full deep copy.
    """
    memo: dict[int, object] = {}
    for _, layer, _ in plan.values():
        for attr in ("weight", "bias"):
            tensor = getattr(layer, attr, None)
            if isinstance(tensor, Tensor):
                memo[id(tensor)] = tensor
    return copy.deepcopy(model, memo)


def _calibrate(model: Module, plan: dict, calibration_data) -> dict[int, tuple[float, float]]:
    if calibration_data is None:
        return {}
    layers = {key: (places[0], layer) for key, (places, layer, _) in plan.items()}
    observers = observe_inputs(model, layers, calibration_data)
    return {key: obs.range() for key, obs in observers.items()}


def _build(plan: dict, ranges: dict, report: QuantizationReport, per_channel: bool) -> list[tuple[list[str], Module]]:
    built = []
    for key, (places, layer, kind) in plan.items():
        try:
            new = kind(layer, per_channel=per_channel)
        except ValueError as exc:
            raise QuantizationError(f"cannot quantize layer {places[0]!r} (nothing was changed): {exc}") from None
        if key in ranges:
            new.set_input_range(*ranges[key])
            report.calibrated.extend(places)
        built.append((places, new))
    return built


def _quantize_bare_layer(layer: Module, calibration_data, *, inplace: bool, per_channel: bool, **options):
    kind = _float_layer_kind(layer)
    if inplace:
        raise QuantizationError(
            f"the model is a bare {type(layer).__name__}: a layer cannot replace itself in place. Use "
            f"qlayer = quantize_model(layer, inplace=False) (returns a {kind.__name__}), or wrap it: "
            "model = Sequential(layer); quantize_model(model)."
        )
    from tinytorch.core.layers import Sequential  # module 03, already loaded

    report = QuantizationReport(per_channel=per_channel)
    check_layer_weights("<root>", layer)
    plan = {id(layer): (["<root>"], layer, kind)}
    wrapper = Sequential(layer)  # observing leaves the layer unchanged
    ranges = _calibrate(wrapper, plan, calibration_data) if options["quantize_activations"] else {}
    built = _build(plan, ranges, report, per_channel)  # builds from the layer without changing it
    if options["rounding"] == "gptq":
        _gptq_round(wrapper, plan, built, calibration_data, report)
    (_, new), *_ = built
    report.quantized.append("<root>")
    new.quantization_report = report
    return new


# ----------------------------------------------------------------------------- rounding (issue 11)
ROUNDINGS = ("nearest", "gptq")


def _rounding_options(calibration_data, rounding, quantize_activations) -> dict:
    """Checked ``rounding`` / ``quantize_activations`` (``None`` → True exactly when data is given)."""
    if not isinstance(rounding, str) or rounding not in ROUNDINGS:
        raise ValueError(f"quantize_model: rounding must be one of {ROUNDINGS}, got {rounding!r}")
    if quantize_activations is not None and not isinstance(quantize_activations, bool):
        raise ValueError(
            f"quantize_model: quantize_activations must be True, False or None (True when calibration_data "
            f"is given), got {quantize_activations!r}"
        )
    if calibration_data is None:
        if rounding == "gptq":
            raise ValueError(
                "quantize_model: rounding='gptq' needs calibration_data (a list of input batches or a "
                "DataLoader) to choose the codes from; give it, or use rounding='nearest'"
            )
        if quantize_activations:
            raise ValueError(
                "quantize_model: quantize_activations=True needs calibration_data to fix the input ranges "
                "from; give it, or leave quantize_activations=None for weight-only quantization"
            )
    if quantize_activations is None:
        quantize_activations = calibration_data is not None
    return {"rounding": rounding, "quantize_activations": quantize_activations}


def _gptq_round(model: Module, plan: dict, replacements: list, calibration_data, report: QuantizationReport) -> None:
    """Give the built int8 layers GPTQ codes, layer by layer in forward order (see ``gptq.py``).

    ``replacements`` (in ``plan`` order) hold round-to-nearest layers with their static input ranges,
    if any; each one's codes are re-chosen from its float layer's weight on the inputs it really
    receives. The model itself is not changed.
    """
    from tinytorch.optimization.gptq import quantize_in_order  # only this path needs it

    built = {id(layer): new for (_, layer, _), (_, new) in zip(plan.values(), replacements)}

    def quantize(layer: Module, hessian) -> Module:
        if hessian is not None:
            built[id(layer)].round_with_hessian(layer.weight.data, hessian)
        return built[id(layer)]

    def seen_input(layer: Module, x: Tensor) -> Tensor:
        return built[id(layer)].prepared_input(x)

    quantize_in_order(model, [layer for _, layer, _ in plan.values()], calibration_data, quantize, seen_input)
    report.rounding = "gptq"


def _warn_inplace(model: Module, report: QuantizationReport) -> None:
    kept = f" {len(report.skipped)} layer(s) kept float: {sorted(report.skipped)}." if report.skipped else ""
    message = (
        f"quantize_model modified {type(model).__name__} in place: the float32 weights of "
        f"{len(report.quantized)} layer(s) were discarded and replaced by int8 codes; they cannot be recovered "
        f"from this model.{kept} To keep the float model, quantize a copy: "
        "qmodel = quantize_model(copy.deepcopy(model)) or qmodel = quantize_model(model, inplace=False)."
    )
    warnings.warn(QuantizationWarning(message), stacklevel=3)


def dequantize_model(model: Module):
    """Always raises ``QuantizationError``: int8 codes cannot give back the float32 weights."""
    places = _all_places(model) if isinstance(model, Module) else ()
    quantized = [name for name, m in places if isinstance(m, QUANTIZED_TYPES)]
    where = f" ({len(quantized)} quantized layer(s), e.g. {quantized[0]!r})" if quantized else ""
    raise QuantizationError(
        f"cannot dequantize {type(model).__name__}{where}: quantization discarded the float32 weights and "
        "only int8 codes (each rounded to one of 255 levels) and scales remain, so the original weights cannot be "
        "recovered. Keep the float model next time: qmodel = quantize_model(model, inplace=False) or "
        "quantize_model(copy.deepcopy(model)); or reload the float checkpoint (load_checkpoint) saved before "
        "quantizing. For a float32 approximation of one layer use layer.dequantized_weight()."
    )


def compare_model_sizes(original: Module, quantized: Module) -> dict:
    """Real bytes held by two models: ``original_bytes``, ``quantized_bytes``, ``compression_ratio``
    (original / quantized), ``memory_saved_mb`` (MiB, 2**20 bytes, the unit learners' code divides by)
    and ``memory_saved_percent`` (of the original; negative if the second model is larger), plus each
    model's bytes per dtype.

    The bytes are the ``nbytes`` of every array the model holds (parameters, buffers, plain arrays;
    shared ones once) — the same walk as ``Profiler.measure_memory``, so both report identical numbers.
    """
    from tinytorch.profiling.profiler import tensor_bytes_by_dtype  # module 14, needed only here

    for arg, m in (("original", original), ("quantized", quantized)):
        if not isinstance(m, Module):
            raise TypeError(f"compare_model_sizes: {arg} must be a tinytorch Module, got {type(m).__name__}")
    before, after = tensor_bytes_by_dtype(original), tensor_bytes_by_dtype(quantized)
    original_bytes, quantized_bytes = int(sum(before.values())), int(sum(after.values()))
    return {
        "original_bytes": original_bytes,
        "quantized_bytes": quantized_bytes,
        "compression_ratio": original_bytes / quantized_bytes if quantized_bytes else float("inf"),
        "memory_saved_mb": (original_bytes - quantized_bytes) / MIB,
        "memory_saved_percent": 100.0 * (original_bytes - quantized_bytes) / original_bytes if original_bytes else 0.0,
        "original_by_dtype": before,
        "quantized_by_dtype": after,
    }


class Quantizer:
    """Upstream TinyTorch's ``Quantizer`` API (``tinytorch.perf.quantization.Quantizer``), as static
    methods over this module's functions — the same code, not a second implementation."""

    @staticmethod
    def quantize_tensor(tensor) -> tuple[Tensor, float, int]:
        """Asymmetric per-tensor int8 (-128..127): ``(q, scale, zero_point)`` with ``q.data.dtype == int8``;
        ``scale`` is a ``float`` and ``zero_point`` an ``int`` (see :func:`quantize_int8`)."""
        return quantize_int8(tensor, symmetric=False)

    @staticmethod
    def dequantize_tensor(q_tensor, scale, zero_point) -> Tensor:
        """``(q - zero_point) * scale`` as a float32 Tensor (:func:`dequantize_int8`)."""
        return dequantize_int8(q_tensor, scale, zero_point)

    @staticmethod
    def quantize_model(model: Module, calibration_data=None) -> Module:
        """:func:`quantize_model` in place (it warns that the float weights are discarded); returns the model."""
        return quantize_model(model, calibration_data)

    @staticmethod
    def compare_models(original_model: Module, quantized_model: Module) -> dict:
        """:func:`compare_model_sizes`, plus TinyTorch's ``original_mb`` / ``quantized_mb`` (MiB)."""
        sizes = compare_model_sizes(original_model, quantized_model)
        return {**sizes, "original_mb": sizes["original_bytes"] / MIB, "quantized_mb": sizes["quantized_bytes"] / MIB}

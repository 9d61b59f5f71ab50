"""Argument checks of module 16, run before anything is computed or changed.

Each check raises with the function, the argument, the value and what to pass instead, so a bad call
can never leave a model half-quantized or silently read a value the wrong way:

- a flag that is not a bool (``inplace="False"`` is truthy: it would quantize in place);
- complex weights or calibration data (NumPy would drop the imaginary part with only a warning);
- an empty weight (NumPy's "zero-size array to reduction operation" says nothing of which layer);
- a calibration batch whose shape a layer cannot take (an ``IndexError`` deep in the model otherwise).
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import Tensor
from tinytorch.optimization.errors import QuantizationError

__all__ = ["require_bool", "check_layer_weights", "check_batch_dtype", "check_layer_input", "REAL_KINDS"]

REAL_KINDS = "fiub"  # NumPy dtype kinds of real numbers: float, signed, unsigned, bool


def require_bool(value, name: str, func: str) -> bool:
    """``value`` as a bool if it is one (``True``/``False``/``np.bool_``); anything else is a TypeError.

    ``bool("False")`` is True: accepting strings or numbers here would invert what the caller meant.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{func}: {name} must be True or False, got {value!r} ({type(value).__name__}); pass {name}=False")


def _array(t) -> np.ndarray | None:
    return t.data if isinstance(t, Tensor) else None


def check_layer_weights(name: str, layer) -> None:
    """Refuse a layer whose weight or bias is complex or non-numeric, or whose weight is empty."""
    for attr in ("weight", "bias"):
        arr = _array(getattr(layer, attr, None))
        if arr is None:
            continue
        if arr.dtype.kind not in REAL_KINDS:
            raise TypeError(
                f"quantize_model: layer {name!r} ({type(layer).__name__}) has a {attr} of dtype {arr.dtype}; int8 "
                f"quantization needs real numbers (a complex {attr} would lose its imaginary part). Nothing was "
                "changed; keep this model in float, or give the layer a real-valued (float32) weight."
            )
        if attr == "weight" and arr.size == 0:
            raise QuantizationError(
                f"quantize_model: empty weight of shape {arr.shape} in layer {name!r} ({type(layer).__name__}); "
                "there is nothing to quantize and no scale can be computed. Nothing was changed; remove the "
                "layer or give it a non-empty weight."
            )


def check_batch_dtype(arr: np.ndarray, index: int) -> None:
    """A calibration batch must hold real numbers (token ids and bools are fine, complex is not)."""
    if arr.dtype.kind not in REAL_KINDS:
        raise TypeError(
            f"calibration_data: batch {index} has dtype {arr.dtype}; calibration needs real-valued inputs "
            "(complex values would lose their imaginary part). Nothing was changed."
        )


def expected_input(layer) -> tuple[int, int, str] | None:
    """(dimension index, size, shape text) a Linear/Conv2D needs of its input, or None if unknown."""
    if hasattr(layer, "in_features"):
        n = int(layer.in_features)
        return -1, n, f"(..., {n}): its last dimension must be {n}"
    if hasattr(layer, "in_channels"):
        c = int(layer.in_channels)
        return 1, c, f"NCHW input (batch, {c}, height, width)"
    return None


def check_layer_input(layer, name: str, shape: tuple, index: int) -> None:
    """Raise ``QuantizationError`` (a ValueError) naming the batch if ``layer`` cannot take ``shape``."""
    want = expected_input(layer)
    if want is None:
        return
    axis, size, text = want
    rank_ok = len(shape) >= 1 if axis == -1 else len(shape) == 4
    if rank_ok and shape[axis] == size:
        return
    raise QuantizationError(
        f"calibration_data: batch {index} reaches layer {name!r} ({type(layer).__name__}) with shape {shape}, "
        f"but it expects {text}; every batch must have the shape of the model's input (nothing was changed)"
    )

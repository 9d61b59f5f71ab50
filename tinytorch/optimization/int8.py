"""The INT8 codec: float ↔ (int8 codes, float32 scale, integer zero point), exact to half a step.

``x ≈ (q − zero_point) · scale`` with ``q`` int8. The design choices, each against a known failure:

- **The range always contains 0.** ``[lo, hi] = [min(x, 0), max(x, 0)]``, so the zero point always
  lies inside [−128, 127] and never has to be clamped. (Clamping it is what turns a one-sided range
  like [5, 9] into "all 4.0".) A one-sided range pays for this with coarser steps, never with
  values outside the error bound.
- **A constant tensor is exact.** When every value of a slice equals ``c`` the scale is ``|c|`` and
  the code is one step away from the zero point: ``(±1) · |c| == c`` bit for bit (0 gets scale 1).
- **The scale is rounded *up* to float32** (and never below the smallest float32 subnormal), so the
  255 (or 254) steps always cover the range: no value is clipped by more than half a step, even for
  subnormal inputs where float32 has only a few significant bits left.
- **Arithmetic is float64** (``max − min`` of ±3e38 overflows float32) and **rounding is
  ``np.round``** (half to even on every NumPy), and codes are clipped in float64 *before* the cast
  to int8. No int8 arithmetic with Python ints happens anywhere, so NEP 50 (NumPy 2's promotion
  rules) cannot change a single code: NumPy 1.24 … 2.x produce identical bits.

Round-trip guarantee: ``|dequantize(quantize(x)) − x| ≤ scale / 2`` per element, plus one float32
rounding of the product. Symmetric mode uses codes −127 … 127 with zero point 0 (so ``q · scale``
needs no zero point, which is what the quantized layers use for weights).
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import Tensor
from tinytorch.optimization.int8_scalars import as_python_scalar
from tinytorch.optimization.validation import require_bool

__all__ = [
    "quantize_int8",
    "dequantize_int8",
    "scale_and_zero_point",
    "encode",
    "check_finite",
    "QMIN",
    "QMAX",
]

QMIN, QMAX = -128, 127
_SYM_MAX = 127  # symmetric codes use −127 … 127 so that −q is always representable
_F32_TINY = np.float32(np.nextafter(np.float32(0), np.float32(1)))  # 2**−149, smallest positive float32
_F32_MAX = float(np.finfo(np.float32).max)


# ----------------------------------------------------------------------------- validation
def _as_array(x, name: str) -> np.ndarray:
    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); there is nothing to quantize")
    if arr.ndim == 0:
        raise ValueError(
            f"{name} is 0-d (the single value {arr.item()!r}); quantize_int8 takes an array of at least one "
            "dimension: pass np.atleast_1d(x), or store the value as it is (one number needs no int8 code)"
        )
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` if ``arr`` holds NaN/±inf or values beyond float32's range, naming count and place."""
    if arr.dtype.kind != "f":
        return
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} has {int(bad.sum())} non-finite value(s) (NaN or ±inf), the first at index {first} "
            f"= {arr[first]!r}; int8 quantization needs finite values. Find where they come from "
            "(a diverged training run, an overflow) or replace them, e.g. with np.nan_to_num."
        )
    if arr.dtype.itemsize > 4:  # float64 input can exceed what the float32 scale/dequantization can hold
        big = np.abs(arr) > _F32_MAX
        if big.any():
            first = tuple(int(i) for i in np.argwhere(big)[0])
            raise ValueError(
                f"{name} has {int(big.sum())} value(s) beyond the float32 range (±{_F32_MAX:.4g}), the first at "
                f"index {first} = {arr[first]!r}; dequantized values are float32, so rescale the input first"
            )


def _normalise_axis(axis, ndim: int):
    if axis is None:
        return None
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be None (per tensor) or an int (per channel), got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis={axis} is out of range for an input with {ndim} dimension(s)")
    return int(axis) % ndim


def _reduce_axes(ndim: int, axis):
    """Axes to reduce over: all of them (per tensor) or all but ``axis`` (per channel)."""
    return None if axis is None else tuple(a for a in range(ndim) if a != axis)


# ----------------------------------------------------------------------------- the scale
def _round_up_to_float32(v: np.ndarray) -> np.ndarray:
    """The smallest float32 ≥ ``v`` (float64), and at least the smallest positive float32."""
    v32 = v.astype(np.float32)  # v ≤ 2·3.4e38/254: never overflows
    low = v32.astype(np.float64) < v
    with np.errstate(over="ignore"):  # nextafter(FLT_MAX) → inf where it is not selected
        up = np.nextafter(v32, np.float32(np.inf))
    return np.maximum(np.where(low, up, v32), _F32_TINY).astype(np.float32)


def scale_and_zero_point(xmin, xmax, *, symmetric: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-slice float32 scale and int32 zero point from the slices' float64 ``min`` and ``max``.

    Works elementwise on arrays (one entry per channel) as on scalars.
    """
    xmin = np.asarray(xmin, dtype=np.float64)
    xmax = np.asarray(xmax, dtype=np.float64)
    lo, hi = np.minimum(xmin, 0.0), np.maximum(xmax, 0.0)
    if symmetric:
        step = np.maximum(-lo, hi) / _SYM_MAX
    else:
        step = (hi - lo) / (QMAX - QMIN)  # float64: hi − lo of ±3e38 does not overflow
    constant = xmin == xmax
    step = np.where(constant, np.abs(xmin), step)  # constant c: scale |c|, code = zero point ± 1
    step = np.where(step == 0.0, 1.0, step)  # all zeros: any scale is exact; 1 is the honest one
    scale = _round_up_to_float32(step)
    if symmetric:
        zero_point = np.zeros(scale.shape, dtype=np.int32)
    else:
        # lo ≤ 0 and 255·scale ≥ hi − lo put −lo/scale in [0, 255]: the zero point needs no clamping.
        zp = np.round(QMIN - lo / scale.astype(np.float64))
        zero_point = np.clip(zp, QMIN, QMAX).astype(np.int32)
    return np.asarray(scale, dtype=np.float32), np.asarray(zero_point, dtype=np.int32)  # 0-d arrays, not scalars


def encode(x64: np.ndarray, scale: np.ndarray, zero_point: np.ndarray, *, symmetric: bool) -> np.ndarray:
    """int8 codes of float64 ``x64``: round half to even, clip in float64, then cast."""
    codes = np.round(x64 / scale.astype(np.float64))
    codes += zero_point.astype(np.float64)
    low = -_SYM_MAX if symmetric else QMIN
    np.clip(codes, low, QMAX, out=codes)
    return codes.astype(np.int8)


# ----------------------------------------------------------------------------- public API
def quantize_int8(x, *, axis=None, symmetric: bool = False):
    """Quantize ``x`` to int8: returns ``(q, scale, zero_point)``.

    - ``q``: a ``Tensor`` of int8 codes, the shape of ``x``;
    - ``scale``: per tensor a ``Float32Scalar`` — a Python ``float`` holding the float32 scale, with
      ``dtype`` float32 and ``shape ()`` like a 0-d array (``int8_scalars.py``); per channel
      (``axis=k``) a float32 ndarray, the shape of ``x`` with every axis but ``k`` reduced to 1 (so it
      broadcasts against ``x``, e.g. ``(out, 1)`` for the rows of a Linear weight);
    - ``zero_point``: per tensor an ``Int32Scalar`` (a Python ``int``, dtype int32); per channel an
      int32 ndarray of the scale's shape (all 0 when ``symmetric``).

    ``dequantize_int8(q, scale, zero_point)`` is within ``scale / 2`` of ``x`` everywhere. NaN/±inf
    raise ``ValueError`` naming how many and where.
    """
    symmetric = require_bool(symmetric, "symmetric", "quantize_int8")
    arr = _as_array(x, "quantize_int8: x")
    check_finite(arr, "quantize_int8: x")
    axis = _normalise_axis(axis, arr.ndim)
    reduce = _reduce_axes(arr.ndim, axis)
    x64 = arr.astype(np.float64)
    xmin = x64.min(axis=reduce, keepdims=axis is not None)
    xmax = x64.max(axis=reduce, keepdims=axis is not None)
    scale, zero_point = scale_and_zero_point(xmin, xmax, symmetric=symmetric)
    q = encode(x64, scale, zero_point, symmetric=symmetric)
    if axis is None:  # one scale, one zero point: Python numbers that still read as 0-d float32 / int32
        return Tensor(q, dtype=np.int8), as_python_scalar(scale), as_python_scalar(zero_point)
    return Tensor(q, dtype=np.int8), scale, zero_point


def dequantize_int8(q, scale, zero_point) -> Tensor:
    """``(q − zero_point) · scale`` as a float32 ``Tensor`` (the subtraction is int32, never int8)."""
    codes = q.data if isinstance(q, Tensor) else np.asarray(q)
    if codes.dtype != np.int8:
        raise TypeError(
            f"dequantize_int8: q must hold int8 codes, got dtype {codes.dtype}; pass the q returned by quantize_int8"
        )
    scale = np.asarray(scale.data if isinstance(scale, Tensor) else scale, dtype=np.float32)
    zero_point = np.asarray(zero_point.data if isinstance(zero_point, Tensor) else zero_point)
    if zero_point.dtype.kind not in "iu":
        raise TypeError(f"dequantize_int8: zero_point must be integer, got dtype {zero_point.dtype}")
    outside = (zero_point < QMIN) | (zero_point > QMAX)
    if np.any(outside):
        bad = zero_point[outside].ravel()[0] if zero_point.ndim else zero_point.item()
        raise ValueError(
            f"dequantize_int8: zero_point must lie in [{QMIN}, {QMAX}] (an int8 code), got {int(bad)} "
            f"({int(np.count_nonzero(outside))} value(s) outside); pass the zero point quantize_int8 returned"
        )
    if not (np.all(np.isfinite(scale)) and np.all(scale > 0)):
        raise ValueError(f"dequantize_int8: scale must be finite and > 0, got {scale!r}")
    try:
        np.broadcast_shapes(codes.shape, scale.shape, zero_point.shape)
    except ValueError:
        raise ValueError(
            f"dequantize_int8: scale {scale.shape} / zero_point {zero_point.shape} do not broadcast against q "
            f"{codes.shape}; pass the scale and zero point quantize_int8 returned for this q"
        ) from None
    steps = codes.astype(np.int32) - zero_point.astype(np.int32)  # exact: |steps| ≤ 255
    # steps · scale is exact in float64; one rounding to float32 then gives the float32 product, except
    # that a scale rounded up near float32's limit may carry 255 steps a hair past FLT_MAX: clip first.
    values = steps.astype(np.float64) * scale.astype(np.float64)
    np.clip(values, -_F32_MAX, _F32_MAX, out=values)
    return Tensor(values.astype(np.float32), dtype=np.float32)

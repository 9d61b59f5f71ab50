"""``QuantizedLinear`` and ``QuantizedConv2D``: int8 weights that stay int8.

What a quantized layer holds (all discovered by ``Module`` and saved by ``state_dict``):

- ``weight_codes``: a plain ``Tensor`` *buffer* of int8 codes, the shape of the float weight — one
  byte an element, never a ``Parameter`` (the codes are frozen; optimizers skip them);
- ``weight_scale``: float32 buffer, one scale per output channel (shape ``(out, 1)`` for Linear,
  ``(out, 1, 1, 1)`` for Conv2D) or one for the whole weight with ``per_channel=False`` (shape
  ``(1, 1)`` / ``(1, 1, 1, 1)``). Weights are symmetric (zero point 0): a weight is ``code · scale``;
- ``bias``: a float ``Parameter`` — still trainable, so a quantized model can be fine-tuned;
- optionally ``input_scale`` / ``input_zero_point`` (shape ``(1,)``, after calibration, see
  ``calibration.py``): the layer then fake-quantizes its input activations to int8 with that static
  range.

The float layer is read once and not referenced afterwards: dropping it frees its weights.
``forward`` takes what the float layer took and returns the same shape; the backward pass gives the
gradient of the input (through the int8 weights) and of the bias.
"""

from __future__ import annotations

import importlib
import sys

import numpy as np

from tinytorch.core.layers import Linear, Module, Parameter
from tinytorch.core.tensor import OpFunction, Tensor
from tinytorch.optimization.int8 import QMAX, QMIN, check_finite, encode, scale_and_zero_point
from tinytorch.optimization.int8_matmul import block_rows, codes_matmul_t, matmul_codes

__all__ = ["QuantizedLinear", "QuantizedConv2D", "fake_quantize", "quantize_weight", "conv2d_class"]


class FakeQuantBackward(OpFunction):
    """Straight-through estimator: the gradient passes where the value was representable, 0 where clipped."""

    __slots__ = ()


class QuantizedLinearBackward(OpFunction):
    """int8 Linear: gradient to the input through the int8 codes times their scales, and to the bias."""

    __slots__ = ()


class QuantizedConv2dBackward(OpFunction):
    """int8 Conv2D: gradient to the input (col2im of g @ codes·scales) and to the bias."""

    __slots__ = ()


_SPATIAL = "tinytorch.core.spatial"  # module 09: looked up, never imported at import time


def conv2d_class():
    """``Conv2D`` if module 09 is loaded, else ``None`` (no Conv2D can exist before its module is)."""
    spatial = sys.modules.get(_SPATIAL)
    return getattr(spatial, "Conv2D", None)


# ----------------------------------------------------------------------------- weights
def quantize_weight(weight: np.ndarray, *, per_channel: bool, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 codes and float32 scales of a weight (axis 0 = output channels).

    The same codes and scale values, bit for bit, as ``quantize_int8(weight, axis=0 (or None),
    symmetric=True)``, but encoded a block of rows at a time so the float64 working copy stays small
    even for a huge weight. A per-tensor scale keeps the weight's ndim (shape (1, 1, …)), not ().
    """
    check_finite(weight, f"{owner}: weight")
    out = weight.shape[0]
    rows = weight.reshape(out, -1)
    if per_channel:
        lo = rows.min(axis=1).astype(np.float64).reshape((out,) + (1,) * (weight.ndim - 1))
        hi = rows.max(axis=1).astype(np.float64).reshape(lo.shape)
    else:  # one scale, kept with the weight's ndim so it broadcasts the same way (and is never 0-d)
        lo = np.full((1,) * weight.ndim, rows.min(), dtype=np.float64)
        hi = np.full((1,) * weight.ndim, rows.max(), dtype=np.float64)
    scale, _ = scale_and_zero_point(lo, hi, symmetric=True)
    row_scale = np.broadcast_to(scale.reshape(-1, 1), (out, 1))
    codes = np.empty(weight.shape, dtype=np.int8)  # owns its memory: the buffer is no view of anything
    code_rows = codes.reshape(out, -1)
    zero = np.zeros((1, 1), dtype=np.int32)
    step = block_rows(rows.shape[1], 16)  # float64 x and float64 codes per element
    for r0 in range(0, out, step):
        r1 = min(r0 + step, out)
        code_rows[r0:r1] = encode(rows[r0:r1].astype(np.float64), row_scale[r0:r1], zero, symmetric=True)
    return codes, scale


def _row_scales(scale: Tensor, out: int) -> np.ndarray:
    """The per-output-channel scale as a flat float32 (out,) array (a per-tensor scale is broadcast)."""
    flat = scale.data.reshape(-1)
    return flat if flat.size == out else np.broadcast_to(flat, (out,))


def _compute_dtype(x: Tensor):
    """The float32 layer's output dtype for this input: float64 stays float64 (gradient checks)."""
    return np.result_type(x.dtype, np.float32)


# ----------------------------------------------------------------------------- activations
def fake_quantize(x: Tensor, scale, zero_point) -> Tensor:
    """Round ``x`` to the int8 grid of ``(scale, zero_point)`` and back (values outside saturate).

    The gradient is the straight-through estimator: passed unchanged where ``x`` was inside the
    representable range, zero where it was clipped.
    """
    s = np.float64(np.asarray(scale, dtype=np.float32))
    z = np.float64(np.asarray(zero_point, dtype=np.int32))
    steps = np.round(x.data.astype(np.float64) / s) + z
    inside = (steps >= QMIN) & (steps <= QMAX)
    np.clip(steps, QMIN, QMAX, out=steps)
    steps -= z
    out = (steps * s).astype(_compute_dtype(x))
    return Tensor._make(out, (x,), lambda g: (g * inside,), FakeQuantBackward)


class _Int8Layer(Module):
    """Shared state and helpers of the two quantized layers."""

    weight_codes: Tensor
    weight_scale: Tensor
    input_scale: Tensor | None = None
    input_zero_point: Tensor | None = None

    def _store(self, weight: np.ndarray, bias: Tensor | None, per_channel: bool) -> None:
        codes, scale = quantize_weight(weight, per_channel=bool(per_channel), owner=type(self).__name__)
        self.weight_codes = Tensor(codes, dtype=np.int8)
        self.weight_scale = Tensor(scale, dtype=np.float32)
        # A copy: the float layer may live on (QuantizedLinear(layer) does not change it).
        self.bias = None if bias is None else Parameter(bias.data.copy(), dtype=bias.data.dtype)
        self.per_channel = bool(per_channel)

    def round_with_hessian(self, weight: np.ndarray, hessian: np.ndarray) -> None:
        """Replace the round-to-nearest codes by GPTQ's for float ``weight`` and inputs' ``H = XᵀX``.

        The scales stay round-to-nearest's (one per output channel); see ``gptq.py``.
        """
        from tinytorch.optimization.gptq import gptq_codes  # only the GPTQ path needs it

        out = weight.shape[0]
        scales = _row_scales(self.weight_scale, out)
        codes = gptq_codes(weight.reshape(out, -1), hessian, scales)
        self.weight_codes = Tensor(codes.reshape(weight.shape), dtype=np.int8)

    @property
    def weight(self):
        raise AttributeError(
            f"{type(self).__name__} keeps no float weight: its int8 codes are .weight_codes and the scales "
            ".weight_scale (weight = codes * scale). .dequantized_weight() builds a float32 approximation; "
            "the original float32 weights were discarded when the layer was quantized."
        )

    @property
    def calibrated(self) -> bool:
        return self.input_scale is not None

    def set_input_range(self, low: float, high: float) -> None:
        """Fake-quantize inputs to int8 over the static range ``[low, high]`` (asymmetric, per tensor)."""
        low, high = float(low), float(high)
        if not (np.isfinite(low) and np.isfinite(high) and low <= high):
            raise ValueError(f"{type(self).__name__}.set_input_range: need finite low <= high, got [{low}, {high}]")
        scale, zero_point = scale_and_zero_point(low, high, symmetric=False)
        # Shape (1,), not (): buffers are never 0-d, so every checkpoint format keeps their shape.
        self.input_scale = Tensor(scale.reshape(1), dtype=np.float32)
        self.input_zero_point = Tensor(zero_point.reshape(1), dtype=np.int32)

    def dequantized_weight(self) -> Tensor:
        """A float32 copy of ``codes · scale`` (the whole matrix: for inspection, not for forward)."""
        return Tensor(self.weight_codes.data.astype(np.float32) * self.weight_scale.data, dtype=np.float32)

    def prepared_input(self, x: Tensor) -> Tensor:
        """What the layer multiplies: ``x`` itself, or fake-quantized over the static range if calibrated."""
        return self._maybe_fake_quantize(x)

    def _maybe_fake_quantize(self, x: Tensor) -> Tensor:
        if self.input_scale is None:
            return x
        return fake_quantize(x, self.input_scale.data, self.input_zero_point.data)

    def _describe(self) -> str:
        mode = "per_channel" if self.per_channel else "per_tensor"
        return f"{mode}, bias={self.bias is not None}, calibrated={self.calibrated}"


# ----------------------------------------------------------------------------- Linear
class QuantizedLinear(_Int8Layer):
    """Int8 version of ``Linear``: ``y = x @ (codes · scale).T + bias`` for inputs (…, in_features)."""

    def __init__(self, linear: Linear, *, per_channel: bool = True):
        if not isinstance(linear, Linear):
            raise TypeError(
                f"QuantizedLinear needs a tinytorch Linear layer, got {type(linear).__name__}; "
                "for a whole model use quantize_model(model)"
            )
        self.in_features, self.out_features = int(linear.in_features), int(linear.out_features)
        self._store(linear.weight.data, linear.bias, per_channel)

    @classmethod
    def from_float(cls, linear: Linear, *, per_channel: bool = True) -> QuantizedLinear:
        return cls(linear, per_channel=per_channel)

    def forward(self, x) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"QuantizedLinear({self.in_features}, {self.out_features}) got input of shape {x.shape}: "
                f"its last dimension must be {self.in_features}"
            )
        return _linear(self._maybe_fake_quantize(x), self.weight_codes.data, self._scales(), self.bias)

    def _scales(self) -> np.ndarray:
        return _row_scales(self.weight_scale, self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 {self._describe()}"


def _linear(x: Tensor, codes: np.ndarray, scales: np.ndarray, bias: Tensor | None) -> Tensor:
    dtype = _compute_dtype(x)
    x_shape, (n, k) = x.shape, codes.shape
    out_t = codes_matmul_t(x.data.reshape(-1, k), codes, dtype)  # (out, batch): whole contiguous rows
    with np.errstate(over="ignore"):  # like fp32 BLAS: an overflowing product becomes inf, silently
        out_t *= scales[:, None]
        if bias is not None:
            out_t += bias.data[:, None]
    # For 2-D input the result is the transposed view (Fortran order, no copy); N-D input is reshaped.
    out = out_t.T.reshape(x_shape[:-1] + (n,))

    def backward(g: np.ndarray):
        g2 = g.reshape(-1, n)
        gx = None
        if x.requires_grad:
            gx = matmul_codes(g2 * scales, codes, dtype).reshape(x_shape)
        if bias is None:
            return (gx,)
        return gx, (g2.sum(axis=0) if bias.requires_grad else None)

    return Tensor._make(out, (x,) if bias is None else (x, bias), backward, QuantizedLinearBackward)


# ----------------------------------------------------------------------------- Conv2D
class QuantizedConv2D(_Int8Layer):
    """Int8 version of ``Conv2D`` on NCHW input (im2col + block-wise GEMM, like the float layer)."""

    def __init__(self, conv, *, per_channel: bool = True):
        conv_cls = conv2d_class()
        if conv_cls is None or not isinstance(conv, conv_cls):
            raise TypeError(
                f"QuantizedConv2D needs a tinytorch Conv2D layer, got {type(conv).__name__}; "
                "for a whole model use quantize_model(model)"
            )
        self.in_channels, self.out_channels = int(conv.in_channels), int(conv.out_channels)
        self.kernel_size, self.stride, self.padding = tuple(conv.kernel_size), tuple(conv.stride), tuple(conv.padding)
        self._store(conv.weight.data, conv.bias, per_channel)

    @classmethod
    def from_float(cls, conv, *, per_channel: bool = True) -> QuantizedConv2D:
        return cls(conv, per_channel=per_channel)

    def forward(self, x) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"QuantizedConv2D(in_channels={self.in_channels}, ...) expects NCHW input (batch, "
                f"{self.in_channels}, height, width), got shape {x.shape}"
            )
        x = self._maybe_fake_quantize(x)
        scales = _row_scales(self.weight_scale, self.out_channels)
        return _conv2d(x, self.weight_codes.data, scales, self.bias, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, int8 {self._describe()}"
        )


def _conv2d(x: Tensor, codes: np.ndarray, scales: np.ndarray, bias, kernel, stride, padding) -> Tensor:
    spatial = importlib.import_module(_SPATIAL)  # loaded already: a Conv2D was quantized
    dtype = _compute_dtype(x)
    n, c_out = x.shape[0], codes.shape[0]
    codes2d = codes.reshape(c_out, -1)
    cols, oh, ow = spatial.im2col(x.data.astype(dtype, copy=False), kernel, stride, padding)  # (N·oh·ow, C·kh·kw)
    out = np.empty((n, c_out, oh, ow), dtype=dtype)
    with np.errstate(over="ignore"):
        out_t = codes_matmul_t(cols, codes2d, dtype).reshape(c_out, n, oh, ow)
        np.multiply(out_t.transpose(1, 0, 2, 3), scales.reshape(1, c_out, 1, 1), out=out)
        if bias is not None:
            out += bias.data.reshape(1, c_out, 1, 1)
    del cols, out_t
    x_shape = x.shape

    def backward(g: np.ndarray):
        gx = None
        if x.requires_grad:
            g_mat = g.transpose(0, 2, 3, 1).reshape(-1, c_out) * scales  # rows line up with im2col's
            gx = spatial.col2im(matmul_codes(g_mat, codes2d, dtype), x_shape, kernel, stride, padding)
        if bias is None:
            return (gx,)
        return gx, (g.sum(axis=(0, 2, 3)) if bias.requires_grad else None)

    return Tensor._make(out, (x,) if bias is None else (x, bias), backward, QuantizedConv2dBackward)

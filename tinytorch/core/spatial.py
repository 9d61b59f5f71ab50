"""Module 09 — spatial: ``Conv2D``, ``MaxPool2D`` and ``AvgPool2D`` on NCHW images.

Convolution is lowered to a single matrix multiply ("im2col"): every receptive field of the padded
input becomes one row of a matrix, so the whole layer is ``cols @ W.reshape(out, -1).T``, one BLAS
call instead of Python loops over pixels. The backward pass reuses the same matrices; the only new
piece is ``col2im``, the adjoint of ``im2col``, which adds each row's gradient back onto the pixels it
came from (overlapping windows sum). The only Python loops are over the kh × kw kernel offsets.

``im2col``, ``col2im`` and ``conv_output_size`` are public because quantized convolution (module 16)
reuses them: its weight matrix has the same ``(c, kh, kw)`` column order as ``weight.reshape(out, -1)``.
"""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinytorch.core.layers import Module, Parameter
from tinytorch.core.tensor import OpFunction, Tensor

__all__ = [
    "Conv2D",
    "MaxPool2D",
    "AvgPool2D",
    "conv2d",
    "max_pool2d",
    "avg_pool2d",
    "im2col",
    "col2im",
    "conv_output_size",
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
]


class Conv2dBackward(OpFunction):
    """conv2d: gradients for the input (col2im of g @ W), the weight (g^T @ im2col) and the bias."""

    __slots__ = ()


class MaxPool2dBackward(OpFunction):
    """max_pool2d: each window's gradient goes to its (first) maximum."""

    __slots__ = ()


class AvgPool2dBackward(OpFunction):
    """avg_pool2d: each window's gradient is shared equally by its pixels."""

    __slots__ = ()


IntPair = Union[int, Sequence[int]]


# ----------------------------------------------------------------------------- argument helpers
def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _pair(value: IntPair, name: str, owner: str = "", minimum: int = 1) -> tuple[int, int]:
    """``3`` → ``(3, 3)``; ``(3, 2)`` stays. Rejects bools, floats, wrong lengths and small values."""
    if _is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(
            f"{owner or 'spatial'}: {name} must be an int or a (height, width) pair of ints, got {value!r}"
        )
    if min(pair) < minimum:
        raise ValueError(f"{owner or 'spatial'}: {name} must be >= {minimum}, got {value!r}")
    return pair


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def conv_output_size(size: int, k: int, stride: int, padding: int) -> int:
    """Output length of a sliding window: ``(size + 2·padding − k) // stride + 1`` (PyTorch's floor rule)."""
    padded = size + 2 * padding
    if k > padded:
        raise ValueError(
            f"kernel size {k} is larger than the padded input ({size} + 2·{padding} = {padded}); "
            "use a smaller kernel, more padding or a larger input"
        )
    return (padded - k) // stride + 1


def _check_image(shape: tuple, owner: str) -> None:
    if len(shape) != 4:
        raise ValueError(
            f"{owner} expects a 4-D NCHW input (batch, channels, height, width), got shape {tuple(shape)}; "
            "for a single image add a batch axis: x.reshape(1, C, H, W)"
        )


def _check_fits(shape: tuple, kernel: tuple, padding: tuple, owner: str) -> None:
    h, w = shape[2] + 2 * padding[0], shape[3] + 2 * padding[1]
    if kernel[0] > h or kernel[1] > w:
        raise ValueError(
            f"{owner}: kernel {kernel[0]}x{kernel[1]} is larger than the input {shape[2]}x{shape[3]} "
            f"padded by {padding} to {h}x{w}; use a smaller kernel_size, more padding or a larger image"
        )


# ----------------------------------------------------------------------------- im2col / col2im
def im2col(x: np.ndarray, kernel_size: IntPair, stride: IntPair = 1, padding: IntPair = 0):
    """Unfold NCHW ``x`` into ``(cols, out_h, out_w)``.

    ``cols`` has shape ``(N·out_h·out_w, C·kh·kw)``: row ``(n, i, j)`` is the receptive field of output
    pixel ``(i, j)`` of image ``n``, flattened in ``(c, kh, kw)`` order — the order of
    ``weight.reshape(out_channels, -1)`` — so a convolution is ``cols @ weight.reshape(out, -1).T``.
    """
    (kh, kw), (sh, sw), (ph, pw) = (
        _pair(kernel_size, "kernel_size"),
        _pair(stride, "stride"),
        _pair(padding, "padding", minimum=0),
    )
    n, c, h, w = x.shape
    out_h, out_w = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    # A strided view (N, C, out_h, out_w, kh, kw): no copy until the reshape below gathers the rows.
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * out_h * out_w, c * kh * kw)
    return cols, out_h, out_w


def col2im(
    cols: np.ndarray, x_shape: tuple, kernel_size: IntPair, stride: IntPair = 1, padding: IntPair = 0
) -> np.ndarray:
    """The adjoint of :func:`im2col`: fold rows back onto an ``x_shape`` array, summing overlaps.

    ``<im2col(x), cols> == <x, col2im(cols)>`` for every ``x`` — exactly what backpropagation through
    ``im2col`` needs. Gradients that fall on the padding are dropped.
    """
    (kh, kw), (sh, sw), (ph, pw) = (
        _pair(kernel_size, "kernel_size"),
        _pair(stride, "stride"),
        _pair(padding, "padding", minimum=0),
    )
    n, c, h, w = x_shape
    out_h, out_w = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    blocks = cols.reshape(n, out_h, out_w, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)  # (N, C, kh, kw, oh, ow)
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):  # one vectorised add per kernel offset
        for j in range(kw):
            padded[:, :, i : i + sh * out_h : sh, j : j + sw * out_w : sw] += blocks[:, :, i, j]
    return padded[:, :, ph : ph + h, pw : pw + w]


# ----------------------------------------------------------------------------- convolution
def conv2d(x, weight, bias=None, stride: IntPair = 1, padding: IntPair = 0) -> Tensor:
    """2-D cross-correlation of NCHW ``x`` with ``weight`` (out, in, kh, kw), as in PyTorch.

    Forward is im2col + one GEMM; backward gives gradients for ``x``, ``weight`` and ``bias``.
    """
    x, weight = _as_tensor(x), _as_tensor(weight)
    bias = None if bias is None else _as_tensor(bias)
    stride, padding = _pair(stride, "stride", "conv2d"), _pair(padding, "padding", "conv2d", minimum=0)
    if weight.ndim != 4:
        raise ValueError(f"conv2d: weight must be 4-D (out_channels, in_channels, kh, kw), got shape {weight.shape}")
    out_c, in_c, kh, kw = weight.shape
    _check_image(x.shape, "conv2d")
    if x.shape[1] != in_c:
        raise ValueError(f"conv2d: weight expects {in_c} input channels, got {x.shape[1]} (input shape {x.shape})")
    _check_fits(x.shape, (kh, kw), padding, "conv2d")

    cols, out_h, out_w = im2col(x.data, (kh, kw), stride, padding)
    w_mat = weight.data.reshape(out_c, -1)
    out = cols @ w_mat.T  # (N·oh·ow, out_c): the single GEMM
    if bias is not None:
        out = out + bias.data
    n = x.shape[0]
    out = np.ascontiguousarray(out.reshape(n, out_h, out_w, out_c).transpose(0, 3, 1, 2))
    x_shape, w_shape = x.shape, weight.shape

    def backward(g: np.ndarray):
        g_mat = g.transpose(0, 2, 3, 1).reshape(-1, out_c)  # rows line up with the rows of cols
        gx = col2im(g_mat @ w_mat, x_shape, (kh, kw), stride, padding) if x.requires_grad else None
        gw = (g_mat.T @ cols).reshape(w_shape) if weight.requires_grad else None
        if bias is None:
            return gx, gw
        return gx, gw, (g_mat.sum(axis=0) if bias.requires_grad else None)

    parents = (x, weight) if bias is None else (x, weight, bias)
    return Tensor._make(out, parents, backward, Conv2dBackward)


class Conv2D(Module):
    """2-D convolution over NCHW input; weight ``(out_channels, in_channels, kh, kw)``, He-initialised."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        bias: bool = True,
    ):
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not _is_int(value) or value <= 0:
                raise ValueError(f"Conv2D: {arg} must be a positive int, got {value!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2D")
        self.stride = _pair(stride, "stride", "Conv2D")
        self.padding = _pair(padding, "padding", "Conv2D", minimum=0)
        kh, kw = self.kernel_size
        fan_in = self.in_channels * kh * kw
        # He (Kaiming) normal: keeps activation variance steady through ReLU networks.
        std = np.sqrt(2.0 / fan_in)
        self.weight = Parameter(np.random.randn(self.out_channels, self.in_channels, kh, kw) * std)
        self.bias = Parameter(np.zeros(self.out_channels)) if bias else None

    def forward(self, x) -> Tensor:
        x = _as_tensor(x)
        if x.dtype.kind != "f":  # e.g. uint8 images: compute in the weight's float dtype (no graph is lost)
            x = Tensor(x.data, dtype=self.weight.dtype)
        _check_image(x.shape, f"Conv2D({self.in_channels}, {self.out_channels})")
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"Conv2D(in_channels={self.in_channels}, ...) expected {self.in_channels} input channels, "
                f"got {x.shape[1]} (input shape {x.shape}, NCHW: channels are axis 1)"
            )
        _check_fits(x.shape, self.kernel_size, self.padding, "Conv2D")
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, bias={self.bias is not None}"
        )


# ----------------------------------------------------------------------------- pooling
def _pool_setup(x: Tensor, kernel: tuple, stride: tuple, owner: str):
    _check_image(x.shape, owner)
    _check_fits(x.shape, kernel, (0, 0), owner)
    out_h = conv_output_size(x.shape[2], kernel[0], stride[0], 0)
    out_w = conv_output_size(x.shape[3], kernel[1], stride[1], 0)
    windows = sliding_window_view(x.data, kernel, axis=(2, 3))[:, :, :: stride[0], :: stride[1]]
    return windows, out_h, out_w  # windows: (N, C, out_h, out_w, kh, kw) strided view


def _scatter_offsets(shape: tuple, dtype, kernel: tuple, stride: tuple, out_hw: tuple, piece) -> np.ndarray:
    """Sum ``piece(i, j)`` (an (N, C, oh, ow) gradient for kernel offset (i, j)) back onto the input grid."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
    grad = np.zeros(shape, dtype=dtype)
    for i in range(kh):
        for j in range(kw):
            grad[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw] += piece(i, j)
    return grad


def max_pool2d(x, kernel_size: IntPair, stride: IntPair | None = None) -> Tensor:
    """Max over each window. Ties send the whole gradient to the first maximum (row-major), as PyTorch."""
    x = _as_tensor(x)
    kernel = _pair(kernel_size, "kernel_size", "MaxPool2D")
    stride = kernel if stride is None else _pair(stride, "stride", "MaxPool2D")
    windows, oh, ow = _pool_setup(x, kernel, stride, "MaxPool2D")
    flat = windows.reshape(*windows.shape[:4], -1)
    arg = flat.argmax(axis=-1)  # (N, C, oh, ow): first max wins
    out = np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
    shape, kw = x.shape, kernel[1]

    def backward(g):
        return (_scatter_offsets(shape, g.dtype, kernel, stride, (oh, ow), lambda i, j: g * (arg == i * kw + j)),)

    return Tensor._make(out, (x,), backward, MaxPool2dBackward)


def avg_pool2d(x, kernel_size: IntPair, stride: IntPair | None = None) -> Tensor:
    """Mean over each window; every pixel of a window receives ``grad / (kh·kw)``."""
    x = _as_tensor(x)
    kernel = _pair(kernel_size, "kernel_size", "AvgPool2D")
    stride = kernel if stride is None else _pair(stride, "stride", "AvgPool2D")
    windows, oh, ow = _pool_setup(x, kernel, stride, "AvgPool2D")
    area = kernel[0] * kernel[1]
    out = windows.mean(axis=(-2, -1))
    shape = x.shape

    def backward(g):
        share = g / area  # a Python int divisor keeps g's dtype
        return (_scatter_offsets(shape, g.dtype, kernel, stride, (oh, ow), lambda i, j: share),)

    return Tensor._make(out, (x,), backward, AvgPool2dBackward)


class _Pool2D(Module):
    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None):
        name = type(self).__name__
        self.kernel_size = _pair(kernel_size, "kernel_size", name)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", name)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class MaxPool2D(_Pool2D):
    """Max pooling; ``stride`` defaults to ``kernel_size`` (non-overlapping windows)."""

    def forward(self, x) -> Tensor:
        return max_pool2d(x, self.kernel_size, self.stride)


class AvgPool2D(_Pool2D):
    """Average pooling; ``stride`` defaults to ``kernel_size`` (non-overlapping windows)."""

    def forward(self, x) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride)


# PyTorch's spellings (and TinyTorch's): the same classes, so isinstance checks and quantization agree.
Conv2d = Conv2D
MaxPool2d = MaxPool2D
AvgPool2d = AvgPool2D

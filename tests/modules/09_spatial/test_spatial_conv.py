"""Conv2D: forward against a naive loop, gradients against finite differences, im2col/col2im, errors."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from tinytorch.core.autograd import gradcheck, no_grad
from tinytorch.core.layers import Parameter
from tinytorch.core.spatial import Conv2D, col2im, conv2d, conv_output_size, im2col
from tinytorch.core.tensor import Tensor


def naive_conv(x, w, b, stride, padding):
    """Reference: the definition of cross-correlation, one output element at a time."""
    (sh, sw), (ph, pw) = stride, padding
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, o, oh, ow))
    for bi in range(n):
        for oc in range(o):
            for i in range(oh):
                for j in range(ow):
                    patch = xp[bi, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
                    out[bi, oc, i, j] = np.sum(patch * w[oc])
    return out if b is None else out + b[None, :, None, None]


CONFIGS = [  # (x shape, out channels, kernel, stride, padding)
    ((2, 3, 5, 5), 4, (3, 3), (1, 1), (0, 0)),
    ((2, 3, 5, 5), 4, (3, 3), (1, 1), (1, 1)),
    ((1, 2, 7, 6), 3, (3, 3), (2, 2), (1, 1)),
    ((2, 2, 5, 7), 3, (2, 3), (2, 1), (0, 1)),  # non-square kernel, stride and padding
    ((1, 1, 4, 4), 2, (1, 1), (1, 1), (0, 0)),
    ((3, 1, 6, 5), 2, (4, 2), (1, 3), (0, 0)),
]


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("shape,out_c,kernel,stride,padding", CONFIGS)
def test_forward_matches_naive_loop(rng, shape, out_c, kernel, stride, padding, bias):
    layer = Conv2D(shape[1], out_c, kernel, stride=stride, padding=padding, bias=bias)
    if bias:
        layer.bias.data[...] = rng.standard_normal(out_c)
    x = rng.standard_normal(shape).astype(np.float32)
    out = layer(Tensor(x))
    expected = naive_conv(x, layer.weight.data, layer.bias.data if bias else None, stride, padding)
    assert out.shape == expected.shape
    assert out.dtype == np.float32
    assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)


GRAD_CONFIGS = [  # smaller than CONFIGS: finite differences run two forwards per element
    ((1, 2, 4, 4), 2, (3, 3), (1, 1), (1, 1)),
    ((1, 2, 5, 4), 2, (3, 3), (2, 2), (1, 1)),
    ((2, 1, 4, 5), 2, (2, 3), (2, 1), (0, 1)),
]


@pytest.mark.parametrize("shape,out_c,kernel,stride,padding", GRAD_CONFIGS)
def test_gradcheck_input_weight_bias(rng, shape, out_c, kernel, stride, padding):
    x = rng.standard_normal(shape)
    w = rng.standard_normal((out_c, shape[1], *kernel))
    b = rng.standard_normal(out_c)
    # A random projection of the output makes every output element matter differently.
    proj = rng.standard_normal(naive_conv(x, w, b, stride, padding).shape)
    assert gradcheck(lambda x_, w_, b_: conv2d(x_, w_, b_, stride, padding) * proj, x, w, b)


def test_gradcheck_without_bias(rng):
    x, w = rng.standard_normal((1, 2, 4, 3)), rng.standard_normal((2, 2, 2, 2))
    assert gradcheck(lambda x_, w_: conv2d(x_, w_, None, (1, 2), (1, 0)) ** 2, x, w)


def test_gradcheck_through_the_layer(rng):
    """The layer wires its own Parameters into conv2d: gradients reach weight and bias."""
    layer = Conv2D(2, 3, (2, 3), stride=(2, 1), padding=1)

    def through_layer(x, w, b):
        layer.weight, layer.bias = w, b  # float64 tensors from gradcheck
        return layer(x) ** 2

    x, w, b = rng.standard_normal((1, 2, 3, 4)), rng.standard_normal((3, 2, 2, 3)), rng.standard_normal(3)
    assert gradcheck(through_layer, x, w, b)


def test_backward_fills_parameter_grads_with_their_shapes(rng):
    layer = Conv2D(3, 4, 3, padding=1)
    x = Tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32), requires_grad=True)
    layer(x).sum().backward()
    assert layer.weight.grad.shape == (4, 3, 3, 3) and layer.weight.grad.dtype == np.float32
    assert_allclose(layer.bias.grad, np.full(4, 2 * 6 * 6), rtol=1e-6)  # d(sum)/d(bias) = N·H·W
    assert x.grad.shape == x.shape and np.abs(x.grad).sum() > 0


def test_no_graph_under_no_grad(rng):
    layer = Conv2D(1, 2, 3)
    with no_grad():
        out = layer(Tensor(rng.standard_normal((1, 1, 4, 4))))
    assert not out.requires_grad and out._backward is None


def test_float64_stays_float64(rng):
    x = Tensor(rng.standard_normal((1, 2, 4, 4)), dtype=np.float64)
    w = Tensor(rng.standard_normal((3, 2, 3, 3)), dtype=np.float64)
    assert conv2d(x, w).dtype == np.float64


# ----------------------------------------------------------------------------- construction
def test_attributes_and_shapes():
    layer = Conv2D(3, 8, (3, 5), stride=2, padding=(1, 2))
    assert (layer.in_channels, layer.out_channels) == (3, 8)
    assert layer.kernel_size == (3, 5) and layer.stride == (2, 2) and layer.padding == (1, 2)
    assert isinstance(layer.weight, Parameter) and layer.weight.shape == (8, 3, 3, 5)
    assert layer.weight.dtype == np.float32
    assert isinstance(layer.bias, Parameter) and layer.bias.shape == (8,)
    assert_array_equal(layer.bias.data, np.zeros(8))
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]


def test_no_bias_means_one_parameter():
    layer = Conv2D(2, 4, 3, bias=False)
    assert layer.bias is None and len(layer.parameters()) == 1


def test_he_initialisation_std():
    layer = Conv2D(16, 32, 3)  # fan_in 144: std sqrt(2/144)
    assert layer.weight.data.std() == pytest.approx(np.sqrt(2.0 / 144), rel=0.05)
    assert abs(layer.weight.data.mean()) < 0.01


def test_output_size_formula():
    assert conv_output_size(8, 3, 1, 1) == 8
    assert conv_output_size(7, 3, 2, 1) == 4
    assert conv_output_size(5, 2, 2, 0) == 2  # floor: the last column is dropped
    assert conv_output_size(3, 3, 1, 0) == 1
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv_output_size(2, 5, 1, 1)


# ----------------------------------------------------------------------------- im2col / col2im
def test_im2col_rows_are_receptive_fields_in_weight_order(rng):
    x = rng.standard_normal((2, 3, 5, 4))
    cols, oh, ow = im2col(x, (2, 3), (2, 1), (1, 0))
    assert (oh, ow) == (3, 2) and cols.shape == (2 * 3 * 2, 3 * 2 * 3)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (0, 0)))
    row = (1 * oh + 2) * ow + 1  # image 1, output pixel (2, 1)
    assert_array_equal(cols[row], xp[1, :, 4:6, 1:4].reshape(-1))  # (c, kh, kw) order
    w = rng.standard_normal((4, 3, 2, 3))
    gemm = (cols @ w.reshape(4, -1).T).reshape(2, oh, ow, 4).transpose(0, 3, 1, 2)
    assert_allclose(gemm, naive_conv(x, w, None, (2, 1), (1, 0)), atol=1e-12)


@pytest.mark.parametrize("kernel,stride,padding", [((3, 3), (1, 1), (1, 1)), ((2, 3), (2, 1), (0, 2)), (3, 2, 1)])
def test_col2im_is_the_adjoint_of_im2col(rng, kernel, stride, padding):
    """<im2col(x), c> == <x, col2im(c)>: the defining property backward relies on (overlaps sum)."""
    x = rng.standard_normal((2, 2, 6, 5))
    cols, _, _ = im2col(x, kernel, stride, padding)
    c = rng.standard_normal(cols.shape)
    back = col2im(c, x.shape, kernel, stride, padding)
    assert back.shape == x.shape
    assert np.sum(cols * c) == pytest.approx(np.sum(x * back), rel=1e-12)


def test_col2im_counts_overlaps():
    ones = np.ones(im2col(np.zeros((1, 1, 3, 3)), 2, 1, 0)[0].shape)
    counts = col2im(ones, (1, 1, 3, 3), 2, 1, 0)[0, 0]
    assert_array_equal(counts, [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


# ----------------------------------------------------------------------------- errors
def test_wrong_channel_count_names_expected_and_got():
    layer = Conv2D(3, 4, 3)
    with pytest.raises(ValueError, match=r"expected 3 input channels, got 1"):
        layer(Tensor(np.zeros((2, 1, 5, 5))))


@pytest.mark.parametrize("shape", [(1, 5, 5), (5, 5), (1, 1, 1, 5, 5)])
def test_input_must_be_4d(shape):
    with pytest.raises(ValueError, match="4-D NCHW"):
        Conv2D(1, 2, 3)(Tensor(np.zeros(shape)))


def test_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"kernel 5x5 is larger than the input 3x3 padded by \(0, 0\) to 3x3"):
        Conv2D(1, 1, 5, padding=0)(Tensor(np.zeros((1, 1, 3, 3))))
    assert Conv2D(1, 1, 5, padding=1)(Tensor(np.zeros((1, 1, 3, 3)))).shape == (1, 1, 1, 1)


def test_kernel_error_message_names_the_sizes():
    with pytest.raises(ValueError) as info:
        Conv2D(1, 1, (4, 2), padding=(0, 1))(Tensor(np.zeros((1, 1, 3, 3))))
    message = str(info.value)
    assert "kernel 4x2" in message and "3x3" in message and "kernel_size" in message


@pytest.mark.parametrize(
    "kwargs,bad",
    [
        ({"in_channels": 0}, "in_channels"),
        ({"out_channels": 2.0}, "out_channels"),
        ({"kernel_size": 0}, "kernel_size"),
        ({"kernel_size": (3, 3, 3)}, "kernel_size"),
        ({"kernel_size": 2.5}, "kernel_size"),
        ({"stride": 0}, "stride"),
        ({"padding": -1}, "padding"),
        ({"padding": True}, "padding"),
    ],
)
def test_bad_constructor_arguments(kwargs, bad):
    args = {"in_channels": 1, "out_channels": 2, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=bad):
        Conv2D(**args)

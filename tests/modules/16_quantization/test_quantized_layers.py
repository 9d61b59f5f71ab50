"""QuantizedLinear / QuantizedConv2D: storage, no surviving float weights, forward, gradients, blocks."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from tinytorch.core.autograd import gradcheck, no_grad
from tinytorch.core.layers import Linear, Parameter
from tinytorch.core.spatial import Conv2D
from tinytorch.core.tensor import Tensor
from tinytorch.optimization import int8_matmul
from tinytorch.optimization.quantization import QuantizedConv2D, QuantizedLinear, quantize_int8


def rel_err(got, want) -> float:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return float(np.linalg.norm(got - want) / np.linalg.norm(want))


def linear(in_f=12, out_f=6, bias=True) -> Linear:
    layer = Linear(in_f, out_f, bias=bias)
    if bias:
        layer.bias.data[...] = np.linspace(-0.5, 0.5, out_f)
    return layer


# ----------------------------------------------------------------------------- storage
def test_linear_stores_int8_codes_float32_scales_and_a_float_bias():
    q = QuantizedLinear(linear())
    named = dict(q.named_tensors())
    assert set(named) == {"weight_codes", "weight_scale", "bias"}
    assert q.weight_codes.data.dtype == np.int8 and q.weight_codes.shape == (6, 12)
    assert q.weight_codes.nbytes == 6 * 12  # one byte a weight
    assert not isinstance(q.weight_codes, Parameter) and not q.weight_codes.requires_grad
    assert q.weight_scale.data.dtype == np.float32 and q.weight_scale.shape == (6, 1)
    assert isinstance(q.bias, Parameter) and q.bias.requires_grad and q.bias.dtype == np.float32
    assert q.parameters() == [q.bias]
    assert (q.in_features, q.out_features) == (12, 6)
    assert all(t.data.base is None for t in named.values())  # each buffer owns its bytes: no hidden base


def test_codes_are_exactly_what_quantize_int8_gives_per_output_row():
    layer = linear()
    codes, scale, zero_point = quantize_int8(layer.weight.data, axis=0, symmetric=True)
    q = QuantizedLinear(layer)
    np.testing.assert_array_equal(q.weight_codes.data, codes.data)
    np.testing.assert_array_equal(q.weight_scale.data, scale)
    assert np.all(zero_point == 0)


def test_per_tensor_mode_keeps_one_scale(rng):
    layer = linear()
    q = QuantizedLinear(layer, per_channel=False)
    codes, scale, _ = quantize_int8(layer.weight.data, symmetric=True)
    assert q.weight_scale.shape == (1, 1) and q.per_channel is False  # broadcastable, never 0-d
    np.testing.assert_array_equal(q.weight_scale.data.reshape(()), scale)
    np.testing.assert_array_equal(q.weight_codes.data, codes.data)
    x = Tensor(rng.standard_normal((3, 12)).astype(np.float32))
    assert rel_err(q(x).data, layer(x).data) < 0.02


def test_conv_stores_codes_in_the_weight_shape_with_one_scale_per_output_channel():
    conv = Conv2D(3, 5, (3, 2), stride=(2, 1), padding=(1, 0))
    q = QuantizedConv2D(conv)
    assert q.weight_codes.data.dtype == np.int8 and q.weight_codes.shape == (5, 3, 3, 2)
    assert q.weight_scale.shape == (5, 1, 1, 1)
    assert (q.in_channels, q.out_channels, q.kernel_size, q.stride, q.padding) == (3, 5, (3, 2), (2, 1), (1, 0))


def test_the_float_layer_is_unchanged_and_its_weights_die_with_it():
    layer = linear()
    before = layer.weight.data.copy()
    q = QuantizedLinear(layer)
    np.testing.assert_array_equal(layer.weight.data, before)
    assert q.bias is not layer.bias and not np.shares_memory(q.bias.data, layer.bias.data)
    refs = [weakref.ref(layer), weakref.ref(layer.weight), weakref.ref(layer.weight.data)]
    del layer
    x = Tensor(np.ones((2, 12), dtype=np.float32), requires_grad=True)
    q(x).sum().backward()  # closures of forward/backward must not hold the float weights either
    gc.collect()
    assert [r() for r in refs] == [None, None, None]


def test_weight_attribute_explains_where_the_weights_went():
    q = QuantizedLinear(linear())
    with pytest.raises(AttributeError, match="weight_codes.*discarded"):
        _ = q.weight
    assert getattr(q, "weight", None) is None  # duck typing (the profiler) sees "no float weight"
    np.testing.assert_allclose(q.dequantized_weight().data, q.weight_codes.data * q.weight_scale.data, rtol=0, atol=0)


def test_constructors_reject_other_layers():
    with pytest.raises(TypeError, match="needs a tinytorch Linear"):
        QuantizedLinear(Conv2D(1, 1, 1))
    with pytest.raises(TypeError, match="needs a tinytorch Conv2D"):
        QuantizedConv2D(linear())
    assert isinstance(QuantizedLinear.from_float(linear()), QuantizedLinear)
    assert isinstance(QuantizedConv2D.from_float(Conv2D(1, 2, 3)), QuantizedConv2D)


# ----------------------------------------------------------------------------- forward
@pytest.mark.parametrize("shape", [(12,), (4, 12), (2, 3, 12), (2, 1, 3, 12)], ids=lambda s: f"x{len(s)}d")
def test_linear_forward_accepts_any_leading_dims_and_is_within_one_percent(shape, rng):
    layer = linear()
    x = rng.standard_normal(shape).astype(np.float32)
    want = layer(Tensor(x)).data
    got = QuantizedLinear(layer)(x)  # a plain array is accepted, as by Linear
    assert got.shape == want.shape and got.dtype == np.float32
    assert rel_err(got.data, want) < 0.01


def test_linear_forward_without_bias(rng):
    layer = linear(bias=False)
    x = Tensor(rng.standard_normal((3, 12)).astype(np.float32))
    q = QuantizedLinear(layer)
    assert q.bias is None and q.parameters() == []
    assert rel_err(q(x).data, layer(x).data) < 0.01


def test_linear_rejects_a_wrong_feature_size():
    with pytest.raises(ValueError, match=r"QuantizedLinear\(12, 6\) got input of shape \(2, 5\).*must be 12"):
        QuantizedLinear(linear())(Tensor(np.ones((2, 5), dtype=np.float32)))


@pytest.mark.parametrize(
    "kernel, stride, padding", [(3, 1, 1), (3, 2, 0), ((2, 3), (1, 2), (1, 0)), (1, 1, 0)], ids=str
)
def test_conv_forward_matches_the_float_layer(kernel, stride, padding, rng):
    conv = Conv2D(3, 4, kernel, stride=stride, padding=padding)
    conv.bias.data[...] = [0.1, -0.2, 0.3, 0.0]
    x = Tensor(rng.standard_normal((2, 3, 7, 6)).astype(np.float32))
    want = conv(x).data
    got = QuantizedConv2D(conv)(x)
    assert got.shape == want.shape and got.data.flags.c_contiguous
    assert rel_err(got.data, want) < 0.01


def test_conv_rejects_wrong_input():
    q = QuantizedConv2D(Conv2D(3, 4, 3))
    with pytest.raises(ValueError, match="expects NCHW input"):
        q(Tensor(np.ones((2, 2, 5, 5), dtype=np.float32)))


def test_blockwise_forward_equals_one_block(monkeypatch, rng):
    """Force 3-row blocks (the default budget is 1 MiB): the result must not depend on the blocking."""
    layer = linear(12, 10)
    q = QuantizedLinear(layer)
    x = Tensor(rng.standard_normal((5, 12)).astype(np.float32), requires_grad=True)
    whole = q(x)
    whole.backward(np.ones((5, 10), dtype=np.float32))
    whole_grad = x.grad.copy()
    monkeypatch.setattr(int8_matmul, "SCRATCH_BYTES", 3 * 12 * 4)
    assert int8_matmul.block_rows(12, 4) == 3
    x.grad = None
    blocked = q(x)
    blocked.backward(np.ones((5, 10), dtype=np.float32))
    np.testing.assert_allclose(blocked.data, whole.data, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(x.grad, whole_grad, rtol=1e-6, atol=1e-6)


def test_forward_never_builds_a_float_copy_of_the_whole_weight(monkeypatch):
    """Spy on the scratch buffers the kernels allocate: none may hold all (out × in) weights."""
    monkeypatch.setattr(int8_matmul, "SCRATCH_BYTES", 8 * 64 * 4)  # 8 of 64 rows at a time
    sizes = []
    real_empty = np.empty

    def spy(shape, *args, **kwargs):
        sizes.append(tuple(np.atleast_1d(shape)))
        return real_empty(shape, *args, **kwargs)

    q = QuantizedLinear(Linear(64, 64))
    monkeypatch.setattr(int8_matmul.np, "empty", spy)
    q(Tensor(np.ones((2, 64), dtype=np.float32)))
    assert (8, 64) in sizes and (64, 64) not in sizes


@pytest.mark.parametrize("fill", [0.0, 1.0, 3e38, -3e38, 1e-42], ids=["zeros", "ones", "huge+", "huge-", "subnormal"])
def test_degenerate_weights_give_finite_outputs(fill):
    layer, conv = linear(), Conv2D(2, 3, 3, padding=1)
    layer.weight.data[...] = fill
    conv.weight.data[...] = fill
    x = Tensor(np.full((2, 12), 1e-3, dtype=np.float32))
    image = Tensor(np.full((1, 2, 4, 4), 1e-3, dtype=np.float32))
    for q, inp, ref in ((QuantizedLinear(layer), x, layer), (QuantizedConv2D(conv), image, conv)):
        assert np.all(q.weight_scale.data > 0) and np.all(np.isfinite(q.weight_scale.data))  # never 0/0
        out = q(inp).data
        assert np.all(np.isfinite(out))
        np.testing.assert_allclose(out, ref(inp).data, rtol=1e-5, atol=1e-30)


# ----------------------------------------------------------------------------- gradients
def test_linear_input_gradient_matches_finite_differences(rng):
    q = QuantizedLinear(linear(5, 3))
    assert gradcheck(lambda x: q(x), rng.standard_normal((2, 4, 5)))


def test_conv_input_gradient_matches_finite_differences(rng):
    q = QuantizedConv2D(Conv2D(2, 3, 3, stride=2, padding=1))
    assert gradcheck(lambda x: q(x), rng.standard_normal((1, 2, 5, 4)))


def test_bias_gradients_and_frozen_codes(rng):
    lin, conv = QuantizedLinear(linear()), QuantizedConv2D(Conv2D(2, 3, 3))
    x = Tensor(rng.standard_normal((4, 12)).astype(np.float32))
    g = rng.standard_normal((4, 6)).astype(np.float32)
    lin(x).backward(g)
    np.testing.assert_allclose(lin.bias.grad, g.sum(axis=0), rtol=1e-6)
    image = Tensor(rng.standard_normal((2, 2, 5, 5)).astype(np.float32))
    gi = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
    conv(image).backward(gi)
    np.testing.assert_allclose(conv.bias.grad, gi.sum(axis=(0, 2, 3)), rtol=1e-5)
    assert x.grad is None and image.grad is None  # inputs that need no gradient get none
    assert lin.weight_codes.grad is None and conv.weight_codes.grad is None


def test_no_graph_under_no_grad(rng):
    q = QuantizedLinear(linear())
    with no_grad():
        out = q(Tensor(rng.standard_normal((2, 12)).astype(np.float32), requires_grad=True))
    assert not out.requires_grad and out._backward is None


def test_state_dict_round_trip_keeps_int8(rng):
    q, fresh = QuantizedLinear(linear()), QuantizedLinear(Linear(12, 6))
    state = q.state_dict()
    assert state["weight_codes"].dtype == np.int8 and state["weight_scale"].dtype == np.float32
    fresh.load_state_dict(state)
    x = Tensor(rng.standard_normal((3, 12)).astype(np.float32))
    assert fresh(x).data.tobytes() == q(x).data.tobytes()
    bad = dict(state, weight_codes=state["weight_codes"].astype(np.float32))
    with pytest.raises(ValueError, match="weight_codes"):
        fresh.load_state_dict(bad)


def test_non_finite_weights_are_refused_with_their_place():
    layer = linear()
    layer.weight.data[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"QuantizedLinear: weight has 1 non-finite.*\(2, 3\)"):
        QuantizedLinear(layer)

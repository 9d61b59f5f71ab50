"""Module 03 — Linear, Dropout, Sequential, Flatten."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Dropout, Flatten, Linear, Parameter, Sequential
from tinytorch.core.tensor import Tensor


# ----------------------------------------------------------------------------- Linear
def test_linear_shapes_dtypes_and_forward_formula(rng):
    lin = Linear(4, 3)
    assert lin.weight.shape == (3, 4) and lin.bias.shape == (3,)  # PyTorch layout (out, in)
    assert isinstance(lin.weight, Parameter) and lin.weight.dtype == np.float32
    assert_array_equal(lin.bias.data, 0.0)
    lin.bias.data[...] = rng.standard_normal(3)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    out = lin(Tensor(x))
    assert out.shape == (5, 3) and out.dtype == np.float32
    assert_allclose(out.data, x @ lin.weight.data.T + lin.bias.data, rtol=1e-5, atol=1e-6)
    assert_allclose(lin.forward(x).data, out.data)  # a raw array is accepted too


def test_linear_applies_to_the_last_axis_of_batched_input(rng):
    lin = Linear(4, 2)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    assert_allclose(lin(Tensor(x)).data, x @ lin.weight.data.T, rtol=1e-5, atol=1e-6)


def test_linear_without_bias():
    lin = Linear(3, 2, bias=False)
    assert lin.bias is None
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    assert "bias=False" in repr(lin)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((0, 3), {}, "in_features"),
        ((3, -1), {}, "out_features"),
        ((2.5, 3), {}, "in_features"),
        ((3, 3), {"init": "kaiming"}, "init"),
    ],
)
def test_linear_rejects_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Linear(*args, **kwargs)


def test_linear_rejects_wrong_input_width():
    with pytest.raises(ValueError, match="last dimension must be 4"):
        Linear(4, 2)(Tensor(np.zeros((3, 5))))


@pytest.mark.parametrize("init, expected_std", [("xavier", np.sqrt(2.0 / 400)), ("he", np.sqrt(2.0 / 100))])
def test_linear_init_std(init, expected_std):
    # fan_in=100, fan_out=300: Xavier 0.0707 vs He 0.1414, far apart; 30 000 draws give ~0.4 % noise.
    w = Linear(100, 300, init=init).weight.data
    assert abs(w.mean()) < 0.03 * expected_std  # zero-centred (noise: std / 173)
    assert_allclose(w.std(), expected_std, rtol=0.03)


# ----------------------------------------------------------------------------- Dropout
def test_dropout_is_identity_in_eval(rng):
    drop = Dropout(0.5).eval()
    x = Tensor(rng.standard_normal((4, 5)).astype(np.float32))
    assert_array_equal(drop(x).data, x.data)


def test_dropout_zeroes_about_p_and_preserves_the_mean():
    drop = Dropout(0.25)
    out = drop(Tensor(np.ones((100, 100), dtype=np.float32))).data
    assert out.dtype == np.float32
    kept = out != 0
    assert_allclose(out[kept], 1.0 / 0.75, rtol=1e-6)  # survivors are scaled up
    assert abs(kept.mean() - 0.75) < 0.02
    assert abs(float(out.mean()) - 1.0) < 0.03


def test_dropout_draws_a_fresh_mask_each_call():
    drop = Dropout(0.5)
    x = Tensor(np.ones(64, dtype=np.float32))
    assert not np.array_equal(drop(x).data, drop(x).data)


def test_dropout_p_zero_is_identity_and_bad_p_raises():
    x = Tensor(np.arange(4.0))
    assert_array_equal(Dropout(0.0)(x).data, x.data)
    for p in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="p must be"):
            Dropout(p)


# ----------------------------------------------------------------------------- Sequential, Flatten
def test_sequential_applies_layers_in_order(rng):
    a, b = Linear(3, 4), Linear(4, 2)
    model = Sequential(a, ReLU(), b)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    manual = b(Tensor(np.maximum(a(Tensor(x)).data, 0)))
    assert_allclose(model(Tensor(x)).data, manual.data, rtol=1e-6)
    assert len(model) == 3 and model[0] is a and model[2] is b
    assert [n for n, _ in model.named_modules()] == ["", "layers.0", "layers.2"]
    assert model.get_submodule("layers.2") is b


def test_sequential_accepts_a_list_and_trains_its_dropout():
    model = Sequential([Linear(2, 2), Dropout(0.5)])
    assert len(model) == 2
    model.eval()
    assert not model[1].training


def test_flatten_keeps_batch_and_order():
    x = np.arange(120.0).reshape(2, 3, 4, 5)
    out = Flatten()(Tensor(x))
    assert out.shape == (2, 60)
    assert_array_equal(out.data, x.reshape(2, 60))
    assert Flatten()(Tensor(np.zeros((3, 7)))).shape == (3, 7)

"""MaxPool2D / AvgPool2D values and gradients, and the image models of the zoo."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from tinytorch.core.autograd import gradcheck
from tinytorch.core.spatial import AvgPool2D, MaxPool2D, avg_pool2d, max_pool2d
from tinytorch.core.tensor import Tensor


def naive_pool(x, kernel, stride, reduce):
    (kh, kw), (sh, sw) = kernel, stride
    n, c, h, w = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = reduce(x[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw], axis=(2, 3))
    return out


POOL_CONFIGS = [  # (x shape, kernel_size arg, stride arg, kernel pair, stride pair)
    ((2, 3, 4, 4), 2, None, (2, 2), (2, 2)),
    ((1, 2, 5, 5), 2, None, (2, 2), (2, 2)),  # odd size: the last row/column is dropped (floor)
    ((1, 2, 5, 6), 3, 1, (3, 3), (1, 1)),  # overlapping windows
    ((2, 1, 6, 5), (2, 3), (2, 1), (2, 3), (2, 1)),  # non-square
]


@pytest.mark.parametrize("shape,k,s,kernel,stride", POOL_CONFIGS)
@pytest.mark.parametrize("layer_cls,reduce", [(MaxPool2D, np.max), (AvgPool2D, np.mean)], ids=["max", "avg"])
def test_pool_values_match_naive_loop(rng, shape, k, s, kernel, stride, layer_cls, reduce):
    layer = layer_cls(k, s)
    assert layer.kernel_size == kernel and layer.stride == stride
    x = rng.standard_normal(shape).astype(np.float32)
    out = layer(Tensor(x))
    assert out.dtype == np.float32
    assert_allclose(out.data, naive_pool(x, kernel, stride, reduce), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape,k,s,kernel,stride", POOL_CONFIGS)
@pytest.mark.parametrize("fn", [max_pool2d, avg_pool2d], ids=["max", "avg"])
def test_pool_gradcheck(rng, shape, k, s, kernel, stride, fn):
    # A permutation of well-separated values: no near-ties for the finite differences to straddle.
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.1
    proj = rng.standard_normal(naive_pool(x, kernel, stride, np.max).shape)
    assert gradcheck(lambda x_: fn(x_, k, s) * proj, x)


def test_max_pool_gradient_goes_to_the_max():
    x = Tensor(np.array([[[[1.0, 5.0], [3.0, 2.0]]]]), requires_grad=True)
    max_pool2d(x, 2).sum().backward()
    assert_array_equal(x.grad, [[[[0, 1], [0, 0]]]])


def test_max_pool_ties_send_the_gradient_to_the_first_max_only():
    """As PyTorch: a tied window routes its whole gradient to one element, so totals stay exact."""
    x = Tensor(np.full((1, 1, 4, 4), 7.0), requires_grad=True)
    out = max_pool2d(x, 2)
    assert_array_equal(out.data, np.full((1, 1, 2, 2), 7.0))
    (out * 3.0).sum().backward()
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 3.0  # the top-left element of each window
    assert_array_equal(x.grad[0, 0], expected)


def test_overlapping_max_pool_accumulates_gradient():
    x = Tensor(np.array([[[[0.0, 0.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 0.0]]]]), requires_grad=True)
    max_pool2d(x, 2, 1).sum().backward()  # the centre is the max of all four windows
    assert x.grad[0, 0, 1, 1] == 4.0 and x.grad.sum() == 4.0


def test_avg_pool_gradient_is_spread_evenly():
    x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    avg_pool2d(x, 2).sum().backward()
    assert_array_equal(x.grad, np.full((1, 1, 4, 4), 0.25))


def test_avg_pool_dropped_border_gets_no_gradient():
    x = Tensor(np.ones((1, 1, 3, 3)), requires_grad=True)
    avg_pool2d(x, 2).sum().backward()
    assert_array_equal(x.grad[0, 0], [[0.25, 0.25, 0], [0.25, 0.25, 0], [0, 0, 0]])


@pytest.mark.parametrize("layer_cls", [MaxPool2D, AvgPool2D])
def test_pool_errors(layer_cls):
    with pytest.raises(ValueError, match="4-D NCHW"):
        layer_cls(2)(Tensor(np.zeros((4, 4))))
    with pytest.raises(ValueError, match=r"kernel 3x3 is larger than the input 2x2"):
        layer_cls(3)(Tensor(np.zeros((1, 1, 2, 2))))
    with pytest.raises(ValueError, match="kernel_size"):
        layer_cls(0)
    with pytest.raises(ValueError, match="stride"):
        layer_cls(2, stride=(1, 0))


# ----------------------------------------------------------------------------- zoo image models
@pytest.mark.zoo(tags=["image"])
def test_zoo_image_model_forward_shape(zoo_model):
    out = zoo_model.model(zoo_model.input(batch=3))
    assert out.shape == (3, zoo_model.entry.num_classes)
    assert out.dtype == np.float32 and np.isfinite(out.data).all()


@pytest.mark.zoo(tags=["image"])
def test_zoo_image_model_backward_fills_grads(zoo_model):
    x = zoo_model.input(batch=4)
    x.requires_grad = True
    params = zoo_model.model.parameters()
    assert params, "an image model must have trainable parameters"
    (zoo_model.model(x) ** 2).mean().backward()
    for p in params:
        assert p.grad is not None and p.grad.shape == p.shape and np.isfinite(p.grad).all()
    assert x.grad is not None and x.grad.shape == x.shape and np.abs(x.grad).sum() > 0


@pytest.mark.zoo(tags=["image"])
def test_zoo_image_model_gradient_step_lowers_loss(zoo_model):
    model, x = zoo_model.model, zoo_model.input(batch=4)
    target = np.eye(zoo_model.entry.num_classes, dtype=np.float32)[zoo_model.target(batch=4)]

    def loss():
        return ((model(x) - target) ** 2).mean()

    before = loss()
    before.backward()
    for p in model.parameters():
        p.data -= 0.05 * p.grad
    assert loss().item() < before.item()

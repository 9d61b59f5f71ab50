"""Module 02: every activation's result carries its named backward node (TinyTorch's ``_grad_fn``)."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose

from tinytorch.core import activations as A
from tinytorch.core.activations import GELU, ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.tensor import Function, Tensor


def test_each_activation_names_its_backward():
    x = Tensor([[-1.0, 0.5, 2.0]], requires_grad=True)
    for act, name in ((ReLU(), "ReLUBackward"), (Sigmoid(), "SigmoidBackward"), (GELU(), "GELUBackward"),
                      (Softmax(), "SoftmaxBackward"), (Tanh(), "TanhBackward")):  # fmt: skip
        out = act.forward(x)
        assert type(out._grad_fn).__name__ == name and isinstance(out._grad_fn, Function)
        assert getattr(A, name) is type(out._grad_fn)


def test_fused_softmax_gradient_matches_its_formula():
    x = Tensor([[1.0, 2.0, 0.5]], requires_grad=True)
    p = Softmax()(x)
    assert_allclose(p.data.sum(), 1.0, rtol=1e-6)
    (p * Tensor([[1.0, 0.0, 0.0]])).sum().backward()
    s = p.data[0]
    assert_allclose(x.grad[0], s[0] * (np.eye(3)[0] - s), rtol=1e-5, atol=1e-7)

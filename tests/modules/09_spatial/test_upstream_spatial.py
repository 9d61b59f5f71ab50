"""Module 09: convolution and pooling results carry TinyTorch's named backward nodes."""

from __future__ import annotations

import numpy as np

from tinytorch.core import spatial
from tinytorch.core.spatial import AvgPool2d, Conv2d, MaxPool2d
from tinytorch.core.tensor import Function, Tensor


def test_spatial_ops_name_their_backward():
    np.random.seed(0)
    x = Tensor(np.random.randn(1, 1, 4, 4), requires_grad=True)
    conv = Conv2d(1, 2, 3)
    out = conv(x)
    assert isinstance(out._grad_fn, spatial.Conv2dBackward) and isinstance(out._grad_fn, Function)
    assert out._grad_fn.saved_tensors[:2] == (x, conv.weight)
    assert type(MaxPool2d(2)(x)._grad_fn).__name__ == "MaxPool2dBackward"
    assert type(AvgPool2d(2)(x)._grad_fn).__name__ == "AvgPool2dBackward"

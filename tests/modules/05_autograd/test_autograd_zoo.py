"""Module 05 on every zoo model (fp32 and int8): one backward pass reaches every parameter and the input."""

from __future__ import annotations

import numpy as np

from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.tensor import Tensor


def test_backward_fills_every_parameter_and_the_input(zoo_model):
    model = zoo_model.model
    x = zoo_model.input(2)
    float_input = x.dtype.kind == "f"  # token-id models take integers: no input gradient there
    if float_input:
        x = Tensor(x.data, requires_grad=True)
    model.zero_grad()
    loss = CrossEntropyLoss()(model(x), zoo_model.target(2))
    loss.backward()

    params = list(model.named_parameters())
    assert params, "a trainable model must expose parameters"
    for name, p in params:
        assert p.grad is not None, f"{name} got no gradient"
        assert p.grad.shape == p.shape and p.grad.dtype == p.dtype, name
        assert np.all(np.isfinite(p.grad)), name
    assert any(np.any(p.grad != 0) for _, p in params)
    if float_input:
        assert x.grad is not None and x.grad.shape == x.shape
        assert np.all(np.isfinite(x.grad)) and np.any(x.grad != 0)

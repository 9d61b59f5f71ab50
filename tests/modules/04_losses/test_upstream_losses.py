"""Module 04: losses carry named backward nodes; BCE refuses NaN probabilities or targets."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.tensor import Tensor


def test_each_loss_names_its_backward():
    pred = Tensor([[0.2, 0.7]], requires_grad=True)
    assert type(MSELoss()(pred, Tensor([[0.0, 1.0]]))._grad_fn).__name__ == "MSEBackward"
    assert type(BinaryCrossEntropyLoss()(pred, Tensor([[0.0, 1.0]]))._grad_fn).__name__ == "BCEBackward"
    assert type(CrossEntropyLoss()(pred, np.array([1]))._grad_fn).__name__ == "CrossEntropyBackward"


def test_fused_mse_gives_gradients_to_prediction_and_target():
    pred = Tensor([1.0, 2.0, 4.0], requires_grad=True)
    target = Tensor([1.5, 2.0, 3.0], requires_grad=True)
    loss = MSELoss()(pred, target)
    assert_allclose(loss.data, (0.25 + 0 + 1) / 3, rtol=1e-6)
    loss.backward()
    assert_allclose(pred.grad, 2 * (pred.data - target.data) / 3, rtol=1e-6)
    assert_allclose(target.grad, -pred.grad, rtol=1e-6)


@pytest.mark.parametrize("where", ["probabilities", "targets"])
def test_bce_with_nan_is_a_value_error_naming_it(where):
    p, t = np.array([0.2, 0.9, 0.5]), np.array([0.0, 1.0, 1.0])
    (p if where == "probabilities" else t)[1] = np.nan
    with pytest.raises(ValueError, match=rf"{where} contain NaN \(1 of 3, the first at index \(1,\)\)"):
        BinaryCrossEntropyLoss()(Tensor(p), Tensor(t))

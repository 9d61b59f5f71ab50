"""Module 07: a NaN or infinite loss stops training before it can poison the weights (issue 20 §5)."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.layers import Linear
from tinytorch.core.losses import MSELoss
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import Trainer


def _batches(bad_at: int, value=np.nan):
    rng = np.random.default_rng(0)
    out = []
    for i in range(3):
        x = rng.standard_normal((4, 2)).astype(np.float32)
        y = rng.standard_normal((4, 1)).astype(np.float32)
        if i == bad_at:
            y[2, 0] = value
        out.append((Tensor(x), Tensor(y)))
    return out


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_nonfinite_loss_raises_naming_the_step_before_the_weights_change(value):
    np.random.seed(0)
    model = Linear(2, 1)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), MSELoss())
    batches = _batches(bad_at=1, value=value)
    with pytest.raises(FloatingPointError, match=r"loss is (nan|inf) at epoch 0, batch 1 \(before optimizer step 2\)"):
        trainer.train_epoch(batches)
    assert trainer.step == 1  # the first, good batch stepped
    assert np.all(np.isfinite(model.weight.data)) and np.all(np.isfinite(model.bias.data))


def test_the_caller_may_opt_out():
    np.random.seed(0)
    model = Linear(2, 1)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), MSELoss(), allow_nonfinite_loss=True)
    trainer.train_epoch(_batches(bad_at=1))
    assert trainer.step == 3 and np.isnan(model.weight.data).any()  # what the check prevents by default


def test_the_opt_out_must_be_a_bool():
    model = Linear(2, 1)
    with pytest.raises(ValueError, match="allow_nonfinite_loss must be True or False"):
        Trainer(model, SGD(model.parameters(), lr=0.1), MSELoss(), allow_nonfinite_loss="yes")

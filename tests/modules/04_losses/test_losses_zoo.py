"""Module 04 on every zoo model (fp32 and int8): the model's logits give a sane cross-entropy."""

from __future__ import annotations

import numpy as np

from tinytorch.core.losses import CrossEntropyLoss


def test_cross_entropy_of_model_output_is_finite_and_positive(zoo_model):
    logits = zoo_model.model(zoo_model.input())
    loss = CrossEntropyLoss()(logits, zoo_model.target())
    assert loss.shape == ()
    assert loss.dtype == logits.dtype
    assert np.isfinite(loss.item()) and loss.item() > 0

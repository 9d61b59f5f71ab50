"""Module 07 where learners import from it: the losses re-exported here, and the top-level names."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch
from tinytorch.core import losses, training
from tinytorch.core.layers import Linear
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Tensor

LOSSES = ["MSELoss", "CrossEntropyLoss", "BinaryCrossEntropyLoss"]


@pytest.mark.parametrize("name", LOSSES)
def test_losses_are_importable_from_training_as_the_same_objects(name):
    assert getattr(training, name) is getattr(losses, name)
    assert name in training.__all__


def test_the_training_import_line_learners_write_works():
    from tinytorch.core.training import CrossEntropyLoss, Trainer

    model = Linear(4, 3)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
    batches = [(Tensor(np.random.randn(8, 4)), np.random.randint(0, 3, size=8)) for _ in range(2)]
    assert np.isfinite(trainer.train_epoch(batches))


@pytest.mark.parametrize("name", ["Trainer", "CosineSchedule", "clip_grad_norm", "save_checkpoint", "load_checkpoint"])
def test_top_level_names_are_the_same_objects(name):
    assert getattr(tinytorch, name) is getattr(training, name)

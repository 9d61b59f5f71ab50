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


def test_clip_grad_norm_clips_a_tensor_valued_grad():
    """The learner's idiom `p.grad = Tensor(...)` (accepted by the optimizers) is clipped like an array."""
    import numpy as np

    from tinytorch.core.layers import Parameter
    from tinytorch.core.tensor import Tensor
    from tinytorch.core.training import clip_grad_norm

    p = Parameter(np.zeros(2, dtype=np.float32))
    p.grad = Tensor(np.array([3.0, 4.0], dtype=np.float32))
    assert clip_grad_norm([p], max_norm=1.0) == 5.0
    np.testing.assert_allclose(p.grad.data, [0.6, 0.8], rtol=1e-5)

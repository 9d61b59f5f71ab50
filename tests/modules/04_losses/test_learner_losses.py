"""Module 04's names where learners import them: ``tinytorch`` and ``tinytorch.nn`` (same objects).

(``tinytorch.core.training`` re-exports them too; that is tested at stage 07, where training exists.)
"""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch
import tinytorch.nn as nn
from tinytorch.core import losses
from tinytorch.core.tensor import Tensor

NAMES = ["MSELoss", "CrossEntropyLoss", "BinaryCrossEntropyLoss"]


@pytest.mark.parametrize("name", NAMES)
def test_top_level_and_nn_names_are_the_same_objects(name):
    assert getattr(tinytorch, name) is getattr(losses, name)
    assert getattr(nn, name) is getattr(losses, name)


def test_a_loss_imported_from_nn_works():
    loss = nn.MSELoss()(Tensor([1.0, 3.0]), Tensor([1.0, 1.0]))
    assert loss.item() == pytest.approx(2.0) and loss.dtype == np.float32

"""Module 08's names at the top level (``from tinytorch import DataLoader``), the same objects."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch
from tinytorch.data import loader


@pytest.mark.parametrize("name", ["Dataset", "TensorDataset", "DataLoader"])
def test_top_level_names_are_the_same_objects(name):
    assert getattr(tinytorch, name) is getattr(loader, name)


def test_top_level_loader_yields_batches():
    data = tinytorch.TensorDataset(tinytorch.Tensor(np.arange(6.0).reshape(3, 2)), tinytorch.Tensor(np.arange(3)))
    (x, y), *rest = list(tinytorch.DataLoader(data, batch_size=2))
    assert x.shape == (2, 2) and y.shape == (2,) and len(rest) == 1

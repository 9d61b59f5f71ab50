"""Module 08: upstream's ``tinytorch.core.dataloader`` path, and samples that cannot be batched."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.data import loader


def test_core_dataloader_is_the_same_objects():
    from tinytorch.core.dataloader import DataLoader, Dataset, TensorDataset

    assert (DataLoader, Dataset, TensorDataset) == (loader.DataLoader, loader.Dataset, loader.TensorDataset)


class Ragged(loader.Dataset):
    """Sample 3 is one pixel short; sample 5 forgets its label."""

    def __len__(self):
        return 6

    def __getitem__(self, i):
        x = np.zeros(3 if i == 3 else 4, dtype=np.float32)
        return (x,) if i == 5 else (x, i % 2)


def test_a_sample_of_another_shape_names_its_index_and_both_shapes():
    with pytest.raises(ValueError, match=r"field 0 of dataset sample 3 has shape \(3,\) but sample 2 has shape \(4,\)"):
        list(loader.DataLoader(Ragged(), batch_size=2))


class Subset(loader.Dataset):
    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, indices

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return self.dataset[self.indices[i]]


def test_a_sample_with_another_field_count_names_its_index():
    batches = loader.DataLoader(Subset(Ragged(), [4, 5]), batch_size=2)
    with pytest.raises(ValueError, match=r"dataset sample 1 has 1 field\(s\) but sample 0 has 2"):
        next(iter(batches))


def test_shuffled_indices_are_the_datasets_not_the_batchs():
    batches = loader.DataLoader(Ragged(), batch_size=6, shuffle=True, seed=0)
    with pytest.raises(ValueError, match=r"dataset sample [35] "):
        next(iter(batches))

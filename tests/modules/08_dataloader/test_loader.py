"""Module 08: datasets and the DataLoader — batching, dtypes, shuffling, coverage of every sample."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from tinytorch.core.tensor import Tensor
from tinytorch.data.loader import DataLoader, Dataset, TensorDataset


def _ids_per_epoch(loader: DataLoader) -> list[np.ndarray]:
    """The sample ids of each batch (the dataset's only tensor is ``arange``)."""
    return [batch[0].data.copy() for batch in loader]


def _index_loader(n: int, **kwargs) -> DataLoader:
    return DataLoader(TensorDataset(np.arange(n)), **kwargs)


# ----------------------------------------------------------------------------- datasets
def test_tensor_dataset_items_and_length(rng):
    x, y = rng.standard_normal((5, 3)), rng.integers(0, 4, size=5)
    ds = TensorDataset(x, y)
    assert len(ds) == 5
    xi, yi = ds[2]
    assert isinstance(xi, Tensor) and isinstance(yi, Tensor)
    assert_array_equal(xi.data, x[2].astype(np.float32))
    assert yi.data == y[2] and yi.data.dtype == y.dtype


def test_tensor_dataset_accepts_tensors_and_keeps_their_dtype():
    x = Tensor(np.ones((4, 2)), dtype=np.float64)
    codes = Tensor(np.arange(4, dtype=np.int8))
    ds = TensorDataset(x, codes)
    assert ds.tensors[0].dtype == np.float64 and ds.tensors[1].dtype == np.int8


def test_tensor_dataset_length_mismatch_names_the_lengths():
    with pytest.raises(ValueError, match=r"\[5, 4\]"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(ValueError, match="scalar"):
        TensorDataset(np.float32(3.0))


def test_dataset_is_abstract():
    with pytest.raises(TypeError):
        Dataset()

    class Half(Dataset):
        def __len__(self):
            return 2

    with pytest.raises(TypeError):
        Half()


class Squares(Dataset):
    """A Dataset written the usual way: one (x, y) sample per index, Python scalars and arrays."""

    def __len__(self) -> int:
        return 5

    def __getitem__(self, i):
        return np.full(2, float(i)), i * i


def test_custom_dataset_is_collated_field_by_field():
    batches = list(DataLoader(Squares(), batch_size=2))
    assert [len(b) for b in batches] == [2, 2, 2]
    x, y = batches[1]
    assert_array_equal(x.data, [[2.0, 2.0], [3.0, 3.0]])
    assert_array_equal(y.data, [4, 9])
    assert x.dtype == np.float32 and y.dtype.kind == "i"


# ----------------------------------------------------------------------------- loader basics
def test_batches_are_tuples_of_tensors_with_dtypes_kept(rng):
    x = rng.integers(0, 17, size=(10, 64)).astype(np.uint8)
    y = rng.integers(0, 10, size=10)
    batches = list(DataLoader(TensorDataset(x, y), batch_size=4))
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    for xb, yb in batches:
        assert isinstance(xb, Tensor) and isinstance(yb, Tensor)
        assert xb.dtype == np.uint8 and yb.dtype == y.dtype
        assert not xb.requires_grad
    assert_array_equal(np.concatenate([b[0].data for b in batches]), x)  # no shuffle: order kept
    assert_array_equal(np.concatenate([b[1].data for b in batches]), y)


def test_single_tensor_dataset_still_yields_tuples():
    (batch,) = list(_index_loader(3, batch_size=8))
    assert isinstance(batch, tuple) and len(batch) == 1
    assert_array_equal(batch[0].data, [0, 1, 2])


@pytest.mark.parametrize(
    ("n", "size", "drop_last", "expected"), [(10, 3, False, 4), (10, 3, True, 3), (9, 3, True, 3), (2, 5, True, 0)]
)
def test_len(n, size, drop_last, expected):
    loader = _index_loader(n, batch_size=size, drop_last=drop_last)
    assert len(loader) == expected == len(list(loader))


@pytest.mark.parametrize("bad", [0, -2, 2.5, "4", True, None])
def test_bad_batch_size_names_the_value(bad):
    with pytest.raises(ValueError, match=rf"batch_size must be a positive int, got {bad!r}"):
        _index_loader(4, batch_size=bad)


def test_bad_seed_and_dataset():
    with pytest.raises(ValueError, match="seed"):
        _index_loader(4, seed=1.5)
    with pytest.raises(ValueError, match="__len__"):
        DataLoader(object())


# ----------------------------------------------------------------------------- shuffling
def test_shuffle_is_reproducible_from_the_seed_and_new_each_epoch():
    a, b = _index_loader(20, batch_size=6, shuffle=True, seed=3), _index_loader(20, batch_size=6, shuffle=True, seed=3)
    a1, a2 = np.concatenate(_ids_per_epoch(a)), np.concatenate(_ids_per_epoch(a))
    b1, b2 = np.concatenate(_ids_per_epoch(b)), np.concatenate(_ids_per_epoch(b))
    assert_array_equal(a1, b1)
    assert_array_equal(a2, b2)
    assert not np.array_equal(a1, a2)  # a new permutation each epoch
    assert not np.array_equal(a1, np.arange(20))
    other = np.concatenate(_ids_per_epoch(_index_loader(20, batch_size=6, shuffle=True, seed=4)))
    assert not np.array_equal(a1, other)
    for epoch in (a1, a2, b1, other):
        assert_array_equal(np.sort(epoch), np.arange(20))


def test_unseeded_shuffle_follows_numpys_global_seed():
    np.random.seed(11)
    first = np.concatenate(_ids_per_epoch(_index_loader(15, batch_size=4, shuffle=True)))
    np.random.seed(11)
    again = np.concatenate(_ids_per_epoch(_index_loader(15, batch_size=4, shuffle=True)))
    assert_array_equal(first, again)
    assert not np.array_equal(first, np.arange(15))


def test_shuffle_keeps_fields_aligned(rng):
    x = np.arange(12, dtype=np.float32).reshape(12, 1) * 10
    y = np.arange(12)
    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True, seed=0):
        assert_array_equal(xb.data[:, 0], yb.data * 10)


@settings(
    max_examples=30, deadline=None, derandomize=True, database=None, print_blob=True
)  # same examples at every stage
@given(
    n=st.integers(min_value=1, max_value=40),
    batch_size=st.integers(min_value=1, max_value=12),
    drop_last=st.booleans(),
    shuffle=st.booleans(),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_every_sample_once_per_epoch_property(n, batch_size, drop_last, shuffle, seed):
    loader = _index_loader(n, batch_size=batch_size, drop_last=drop_last, shuffle=shuffle, seed=seed)
    for _ in range(2):  # two epochs: the second permutation must be complete too
        batches = _ids_per_epoch(loader)
        seen = np.concatenate(batches) if batches else np.array([], dtype=int)
        assert len(batches) == len(loader)
        assert len(np.unique(seen)) == len(seen)  # no sample twice
        if drop_last:
            assert len(batches) == n // batch_size
            assert all(len(b) == batch_size for b in batches)
            assert len(seen) == (n // batch_size) * batch_size
        else:
            assert len(batches) == math.ceil(n / batch_size)
            assert_array_equal(np.sort(seen), np.arange(n))
            assert all(len(b) == batch_size for b in batches[:-1])

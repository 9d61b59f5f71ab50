"""Module 08 — data loading: ``Dataset``, ``TensorDataset`` and a batching ``DataLoader``.

``DataLoader`` yields one tuple of ``Tensor``s per batch, one per field of the dataset, so
``for x, y in loader`` works. It never changes dtypes beyond ``Tensor``'s own policy: integer labels
stay integer, uint8 stays uint8; float64 arrays become float32 tensors like everywhere else.

Shuffling: with ``seed`` the loader owns a ``numpy.random.Generator``, so the sequence of epochs is
reproducible and every epoch draws a new permutation. Without ``seed`` it draws from NumPy's global
state (``np.random.seed`` makes it reproducible, as ``torch.manual_seed`` does for PyTorch's).
A ``TensorDataset`` is batched with one fancy-index per tensor instead of a Python loop per sample.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Iterator

import numpy as np

from tinytorch.core.tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "DataLoader"]


class Dataset(ABC):
    """A sized, indexable collection of samples; subclasses define ``__len__`` and ``__getitem__``."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def __getitem__(self, index): ...


def _as_tensor(value) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor(value)


class TensorDataset(Dataset):
    """Samples are the i-th rows of the given arrays/tensors (e.g. ``TensorDataset(X, y)``)."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one array or tensor, e.g. TensorDataset(X, y)")
        self.tensors: tuple[Tensor, ...] = tuple(_as_tensor(t) for t in tensors)
        for i, t in enumerate(self.tensors):
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: argument {i} is a scalar; every argument needs a first (sample) axis")
        lengths = [t.shape[0] for t in self.tensors]
        if len(set(lengths)) != 1:
            raise ValueError(
                f"TensorDataset: all arguments must have the same first dimension (number of samples), got lengths "
                f"{lengths}"
            )

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index) -> tuple[Tensor, ...]:
        """One sample (int index) or a batch (slice / integer array), as a tuple of Tensors."""
        return tuple(Tensor(t.data[index], dtype=t.data.dtype) for t in self.tensors)


def _collate(samples: list, indices=None) -> tuple[Tensor, ...]:
    """Stack per-sample tuples field by field: ``[(x0, y0), (x1, y1)] -> (X, Y)``.

    Every sample must have the same number of fields and, field by field, the same shape; otherwise
    ``ValueError`` names the dataset index of the first sample that differs, its shape (or field count)
    and the first sample's. ``indices`` are the samples' dataset indices (positions in the batch if None).
    """
    indices = list(range(len(samples))) if indices is None else [int(i) for i in indices]
    single = not isinstance(samples[0], (tuple, list))
    samples = [(s,) if not isinstance(s, (tuple, list)) else s for s in samples]
    first = samples[0]
    for pos, s in enumerate(samples):
        if len(s) != len(first) or (single and len(s) != 1):
            raise ValueError(
                f"DataLoader: dataset sample {indices[pos]} has {len(s)} field(s) but sample {indices[0]} has "
                f"{len(first)}; every __getitem__ must return the same fields (e.g. always (x, y))"
            )
    fields = []
    for k in range(len(first)):
        arrays = [s[k].data if isinstance(s[k], Tensor) else np.asarray(s[k]) for s in samples]
        for pos, arr in enumerate(arrays):
            if arr.shape != arrays[0].shape:
                raise ValueError(
                    f"DataLoader: field {k} of dataset sample {indices[pos]} has shape {arr.shape} but sample "
                    f"{indices[0]} has shape {arrays[0].shape}; samples must have equal shapes to be batched "
                    "(pad or crop them in __getitem__, or use batch_size=1)"
                )
        fields.append(Tensor(np.stack(arrays)))
    return tuple(fields)


def _check_batch_size(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"DataLoader: batch_size must be a positive int, got {value!r}")
    return int(value)


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size``; each sample appears once per epoch."""

    def __init__(self, dataset, batch_size: int = 32, shuffle: bool = False, drop_last: bool = False, seed=None):
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise ValueError(f"DataLoader: dataset must define __len__ and __getitem__, got {type(dataset).__name__}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"DataLoader: seed must be None or an int, got {seed!r}")
        self.dataset = dataset
        self.batch_size = _check_batch_size(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return self._rng.permutation(n) if self._rng is not None else np.random.permutation(n)

    def _batch(self, indices: np.ndarray) -> tuple[Tensor, ...]:
        if isinstance(self.dataset, TensorDataset):
            return self.dataset[indices]
        return _collate([self.dataset[int(i)] for i in indices], indices)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        order = self._order()
        stop = len(self) * self.batch_size if self.drop_last else len(order)
        for start in range(0, stop, self.batch_size):
            yield self._batch(order[start : start + self.batch_size])

    def __repr__(self) -> str:
        return (
            f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed})"
        )

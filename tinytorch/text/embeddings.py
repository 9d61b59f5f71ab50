"""Module 11 — embeddings: token ids → vectors, plus position information.

``Embedding`` is a lookup table: row ``i`` of its weight is the vector of token ``i``. Its forward
is a gather, so its backward is a scatter-add: a token that appears k times in the batch receives
the sum of its k output gradients (``np.add.at`` — plain fancy-index assignment would keep only one).

``PositionalEncoding`` adds a vector per position, either the fixed sinusoids of "Attention Is All
You Need" (a buffer: saved in ``state_dict``, never trained) or a learned table (a ``Parameter``).
``forward(x, start_pos=0)`` takes an offset so that a KV-cached decoder (module 15), feeding one
token at a time, still gives the token at position ``start_pos`` that position's encoding.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.layers import Module, Parameter
from tinytorch.core.tensor import OpFunction, Tensor

__all__ = ["Embedding", "PositionalEncoding", "sinusoidal_encoding"]


class EmbeddingBackward(OpFunction):
    """Embedding lookup: the gradient rows are added (scattered) into the looked-up weight rows."""

    __slots__ = ()


def _positive_int(owner: str, arg: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{owner}: {arg} must be a positive int, got {value!r}")
    return int(value)


def _token_ids(ids, vocab_size: int) -> np.ndarray:
    """Validate ids for a lookup: an integer array (any shape) with every value in [0, vocab_size)."""
    arr = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"Embedding takes integer token ids, got dtype {arr.dtype}; "
            "convert with ids.astype(np.int64) (ids are indices, not values)"
        )
    if arr.size:
        bad = np.flatnonzero((arr.reshape(-1) < 0) | (arr.reshape(-1) >= vocab_size))
        if bad.size:
            raise IndexError(
                f"token id {int(arr.reshape(-1)[bad[0]])} is out of range for an Embedding with "
                f"vocab_size={vocab_size}: valid ids are 0..{vocab_size - 1}"
            )
    return arr


class Embedding(Module):
    """A trainable table of ``vocab_size`` vectors of length ``embed_dim``.

    ``forward(ids)`` accepts a ``Tensor``, ndarray or nested list of integer ids of any shape and
    returns a float32 ``Tensor`` of shape ``ids.shape + (embed_dim,)``. Weights start as N(0, init_std²)
    (``init_std=1`` as in PyTorch's ``nn.Embedding``).
    """

    def __init__(self, vocab_size: int, embed_dim: int, *, init_std: float = 1.0):
        self.vocab_size = _positive_int("Embedding", "vocab_size", vocab_size)
        self.embed_dim = _positive_int("Embedding", "embed_dim", embed_dim)
        self.weight = Parameter(np.random.randn(self.vocab_size, self.embed_dim) * float(init_std))

    def forward(self, ids) -> Tensor:
        idx = _token_ids(ids, self.vocab_size)
        weight = self.weight
        shape, dtype = weight.data.shape, weight.data.dtype

        def backward(g):
            full = np.zeros(shape, dtype=dtype)
            # add.at accumulates repeated ids; reshape makes it one 1-d scatter whatever idx's shape.
            np.add.at(full, idx.reshape(-1), g.reshape(-1, shape[1]))
            return (full,)

        return Tensor._make(weight.data[idx], (weight,), backward, EmbeddingBackward)

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, embed_dim={self.embed_dim}"


def sinusoidal_encoding(max_seq_len: int, embed_dim: int) -> np.ndarray:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(same angle); float32 (max_seq_len, d)."""
    positions = np.arange(max_seq_len, dtype=np.float64)[:, None]
    rates = np.exp(-np.log(10000.0) * np.arange(0, embed_dim, 2, dtype=np.float64) / embed_dim)
    angles = positions * rates  # (max_seq_len, ceil(d/2))
    table = np.zeros((max_seq_len, embed_dim), dtype=np.float64)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : embed_dim // 2])  # an odd embed_dim has one fewer cos column
    return table.astype(np.float32)


class PositionalEncoding(Module):
    """Adds a per-position vector to ``x`` of shape (batch, seq, embed_dim) (or (seq, embed_dim)).

    ``learned=False``: fixed sinusoids, kept in the buffer ``encoding``. ``learned=True``: a
    ``Parameter`` ``weight`` of shape (max_seq_len, embed_dim), initialised N(0, 0.02²) as in GPT-2
    so that at the start token identity dominates. Positions ``start_pos … start_pos+seq-1`` are used;
    going past ``max_seq_len`` raises ``ValueError``.
    """

    def __init__(self, max_seq_len: int, embed_dim: int, learned: bool = False):
        self.max_seq_len = _positive_int("PositionalEncoding", "max_seq_len", max_seq_len)
        self.embed_dim = _positive_int("PositionalEncoding", "embed_dim", embed_dim)
        self.learned = bool(learned)
        if self.learned:
            self.weight = Parameter(np.random.randn(self.max_seq_len, self.embed_dim) * 0.02)
        else:
            self.encoding = Tensor(sinusoidal_encoding(self.max_seq_len, self.embed_dim))

    @property
    def table(self) -> Tensor:
        """The (max_seq_len, embed_dim) position table, learned or fixed."""
        return self.weight if self.learned else self.encoding

    def forward(self, x, start_pos: int = 0) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim not in (2, 3) or x.shape[-1] != self.embed_dim:
            raise ValueError(
                f"PositionalEncoding(embed_dim={self.embed_dim}) expects input of shape (batch, seq, "
                f"{self.embed_dim}) or (seq, {self.embed_dim}), got {x.shape}"
            )
        seq = x.shape[-2]
        if start_pos < 0 or start_pos + seq > self.max_seq_len:
            raise ValueError(
                f"PositionalEncoding: positions {start_pos}..{start_pos + seq - 1} do not fit max_seq_len="
                f"{self.max_seq_len}; shorten the sequence or build the model with a larger max_seq_len"
            )
        return x + self.table[start_pos : start_pos + seq]

    def extra_repr(self) -> str:
        return f"max_seq_len={self.max_seq_len}, embed_dim={self.embed_dim}, learned={self.learned}"

"""Module 10 — tokenization: text ⇄ integer token ids.

Two tokenizers with the same surface (``encode(text) -> list[int]``, ``decode(ids) -> str``,
``vocab_size``):

- ``CharTokenizer``: one id per character seen in the corpus.
- ``BPETokenizer``: byte-pair encoding over characters. Training starts from the characters of the
  corpus and repeatedly merges the most frequent adjacent pair into a new token, until
  ``vocab_size`` is reached (or no pair occurs twice). Merges never cross a chunk boundary
  (a chunk is a run of whitespace followed by a run of non-whitespace, GPT-2 style), which keeps
  training fast and tokens word-like.

Unknown characters. Both tokenizers reserve id ``0`` for ``<unk>`` (``UNK_ID``). ``encode`` maps a
character absent from the training corpus to ``0`` instead of failing — one ``<unk>`` per unknown
character — and ``decode`` turns id ``0`` back into the text ``"<unk>"`` (the ``unk_token``). So
``decode(encode(s)) == s`` holds for every string over the training alphabet, and strings with
unknown characters come back with each of them replaced by ``"<unk>"``.

Bad ids. ``decode`` raises ``ValueError`` naming the first id outside ``[0, vocab_size)`` and
``TypeError`` for non-integer ids: silently skipping them would hide model bugs.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from tinytorch.core.tensor import Tensor

__all__ = ["UNK_ID", "UNK_TOKEN", "CharTokenizer", "BPETokenizer"]

UNK_ID = 0
UNK_TOKEN = "<unk>"

# A chunk is optional whitespace followed by non-whitespace, or trailing whitespace alone; every
# character of any string belongs to exactly one chunk, so splitting is lossless.
_CHUNK = re.compile(r"\s*\S+|\s+")


def _corpus_texts(corpus: str | Iterable[str]) -> list[str]:
    """A corpus is one string or an iterable of strings."""
    texts = [corpus] if isinstance(corpus, str) else list(corpus)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"corpus must be a str or an iterable of str; item {i} is {type(text).__name__}")
    if not any(texts):
        raise ValueError("corpus is empty: a tokenizer needs at least one character to build its vocabulary")
    return texts


def _check_text(text) -> str:
    if not isinstance(text, str):
        raise TypeError(f"encode() takes a str, got {type(text).__name__}; decode() is the inverse for ids")
    return text


def _as_id_list(ids, vocab_size: int) -> list[int]:
    """Validate token ids for ``decode``: integers in ``[0, vocab_size)``, any 0-d/1-d container."""
    arr = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
    if arr.ndim > 1:
        raise ValueError(f"decode() takes a 1-d sequence of ids, got shape {arr.shape}; decode each row separately")
    arr = arr.reshape(-1)
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"token ids must be integers, got dtype {arr.dtype} (e.g. {arr[0]!r})")
    bad = np.flatnonzero((arr < 0) | (arr >= vocab_size))
    if bad.size:
        raise ValueError(
            f"token id {int(arr[bad[0]])} (at position {int(bad[0])}) is out of range: "
            f"valid ids are 0..{vocab_size - 1} for this vocabulary of size {vocab_size}"
        )
    return [int(i) for i in arr]


class CharTokenizer:
    """Character-level tokenizer: id 0 is ``<unk>``, then the corpus characters in sorted order."""

    def __init__(self, corpus: str | Iterable[str] | None = None, *, unk_token: str = UNK_TOKEN):
        self.unk_token = unk_token
        self.unk_id = UNK_ID
        self.id_to_token: list[str] = [unk_token]
        self.token_to_id: dict[str, int] = {}
        if corpus is not None:
            self.fit(corpus)

    def fit(self, corpus: str | Iterable[str]) -> CharTokenizer:
        """(Re)build the vocabulary from every distinct character of ``corpus``."""
        chars = sorted(set("".join(_corpus_texts(corpus))))
        self.id_to_token = [self.unk_token, *chars]
        self.token_to_id = {c: i for i, c in enumerate(self.id_to_token) if i != self.unk_id}
        return self

    build_vocab = fit  # TinyTorch-style alias

    @property
    def vocab_size(self) -> int:
        return len(self.id_to_token)

    def encode(self, text: str) -> list[int]:
        """One id per character; characters not in the vocabulary become ``unk_id``."""
        lookup = self.token_to_id
        return [lookup.get(c, self.unk_id) for c in _check_text(text)]

    def decode(self, ids: Sequence[int]) -> str:
        tokens = self.id_to_token
        return "".join(tokens[i] for i in _as_id_list(ids, self.vocab_size))

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


class BPETokenizer:
    """Character-level byte-pair encoding.

    ``vocab_size`` is the largest vocabulary training may build (``<unk>`` + alphabet + merges); it
    must leave room for the alphabet. Training stops early when no adjacent pair occurs at least
    ``min_frequency`` times, so the trained ``vocab_size`` property can be smaller than asked for.
    """

    def __init__(self, vocab_size: int, *, min_frequency: int = 2, unk_token: str = UNK_TOKEN):
        if not isinstance(vocab_size, (int, np.integer)) or vocab_size < 2:
            raise ValueError(f"BPETokenizer: vocab_size must be an int >= 2 (<unk> + 1 char), got {vocab_size!r}")
        if not isinstance(min_frequency, (int, np.integer)) or min_frequency < 1:
            raise ValueError(f"BPETokenizer: min_frequency must be an int >= 1, got {min_frequency!r}")
        self.max_vocab_size = int(vocab_size)
        self.min_frequency = int(min_frequency)
        self.unk_token = unk_token
        self.unk_id = UNK_ID
        self.id_to_token: list[str] = [unk_token]
        self.merges: list[tuple[int, int]] = []  # in the order they were learned
        self._char_ids: dict[str, int] = {}
        # pair -> id of the merged token; ids grow with each merge, so a lower id was learned earlier.
        self._merged_ids: dict[tuple[int, int], int] = {}
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        """Size of the trained vocabulary (``<unk>`` + alphabet + one token per merge)."""
        return len(self.id_to_token)

    @property
    def trained(self) -> bool:
        return bool(self._char_ids)

    # ------------------------------------------------------------------ training
    def train(self, corpus: str | Iterable[str]) -> BPETokenizer:
        """Learn the alphabet and up to ``vocab_size - 1 - len(alphabet)`` merges from ``corpus``."""
        texts = _corpus_texts(corpus)
        alphabet = sorted(set("".join(texts)))
        if 1 + len(alphabet) > self.max_vocab_size:
            raise ValueError(
                f"BPETokenizer: vocab_size={self.max_vocab_size} is too small for this corpus: it has "
                f"{len(alphabet)} distinct characters, so vocab_size must be at least {1 + len(alphabet)}"
            )
        self.id_to_token = [self.unk_token, *alphabet]
        self._char_ids = {c: i for i, c in enumerate(self.id_to_token) if i != self.unk_id}
        self.merges, self._merged_ids, self._cache = [], {}, {}

        chunk_counts = Counter(chunk for text in texts for chunk in _CHUNK.findall(text))
        words = [([self._char_ids[c] for c in chunk], n) for chunk, n in chunk_counts.items()]
        while self.vocab_size < self.max_vocab_size:
            pair = self._best_pair(words)
            if pair is None:
                break
            new_id = self._add_merge(pair)
            words = [(_merge_pair(symbols, pair, new_id), n) for symbols, n in words]
        return self

    def _best_pair(self, words: list[tuple[list[int], int]]) -> tuple[int, int] | None:
        counts: Counter = Counter()
        for symbols, n in words:
            for pair in zip(symbols, symbols[1:]):
                counts[pair] += n
        if not counts:
            return None
        # Most frequent first; ties broken by the smallest ids so training is deterministic.
        pair, count = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return pair if count >= self.min_frequency else None

    def _add_merge(self, pair: tuple[int, int]) -> int:
        new_id = self.vocab_size
        self.id_to_token.append(self.id_to_token[pair[0]] + self.id_to_token[pair[1]])
        self._merged_ids[pair] = new_id
        self.merges.append(pair)
        return new_id

    # ------------------------------------------------------------------ encode / decode
    def encode(self, text: str) -> list[int]:
        """Split into chunks, map characters to ids (unknown → ``unk_id``), apply merges by rank."""
        if not self.trained:
            raise RuntimeError("BPETokenizer.encode() before train(): call tokenizer.train(corpus) first")
        ids: list[int] = []
        for chunk in _CHUNK.findall(_check_text(text)):
            cached = self._cache.get(chunk)
            if cached is None:
                cached = self._cache[chunk] = self._encode_chunk(chunk)
            ids.extend(cached)
        return ids

    def _encode_chunk(self, chunk: str) -> list[int]:
        symbols = [self._char_ids.get(c, self.unk_id) for c in chunk]
        merged, never = self._merged_ids, self.vocab_size
        while len(symbols) > 1:
            # The earliest-learned merge among the adjacent pairs is applied first, as in training.
            best = min(zip(symbols, symbols[1:]), key=lambda p: merged.get(p, never))
            if best not in merged:
                break
            symbols = _merge_pair(symbols, best, merged[best])
        return symbols

    def decode(self, ids: Sequence[int]) -> str:
        tokens = self.id_to_token
        return "".join(tokens[i] for i in _as_id_list(ids, self.vocab_size))

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size}, max_vocab_size={self.max_vocab_size})"


def _merge_pair(symbols: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every non-overlapping occurrence of ``pair`` (scanning left to right) by ``new_id``."""
    out: list[int] = []
    i, n = 0, len(symbols)
    while i < n:
        if i + 1 < n and symbols[i] == pair[0] and symbols[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out

"""Module 15 — memoization: a key/value cache for autoregressive generation.

Without a cache, generating token t re-runs the model over all t previous tokens, recomputing keys
and values that did not change: O(t²) work per sequence for the projections alone. With a cache,
each layer keeps the keys/values it has already computed; a step feeds only the newest token, whose
query attends over the cached keys. The results are the same up to float rounding, so greedy
decoding gives the same tokens (the tests check it, fp32 and int8).

``KVCache`` preallocates, per layer, arrays of shape (batch, num_heads, max_seq_len, head_dim) and
keeps one fill counter per layer: ``append(layer_idx, k, v)`` writes the new positions after that
layer's last one, ``get(layer_idx)`` returns views of everything written so far, and ``seq_len`` is
the number of positions cached (the same for every layer between forward passes).

``generate(model, prompt_ids, max_new_tokens)`` works with any model shaped like module 13's
``GPT``: ``model.forward(ids, cache=None)`` plus ``num_layers``, ``num_heads``, ``head_dim`` and
``max_seq_len`` attributes.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor

__all__ = ["KVCache", "generate"]


class KVCache:
    """Per-layer key/value storage for ``num_layers`` attention layers, up to ``max_seq_len`` positions.

    The five shape arguments are keyword-only: they are all positive ints, so a positional call in
    another project's order (TinyTorch's is ``batch_size, max_seq_len, num_layers, num_heads,
    head_dim``) would build a wrong-shaped cache without any error. Such a call raises instead.
    """

    def __new__(cls, *args, **kwargs):
        if args:
            raise TypeError(
                f"KVCache takes its shape arguments by keyword only, got {len(args)} positional value(s) {args!r}: "
                "write KVCache(num_layers=..., batch_size=..., num_heads=..., head_dim=..., max_seq_len=...) "
                "or KVCache.for_model(model, batch_size) (argument orders differ between projects)"
            )
        return super().__new__(cls)

    def __init__(
        self,
        *,
        num_layers: int,
        batch_size: int,
        num_heads: int,
        head_dim: int,
        max_seq_len: int,
        dtype=np.float32,
    ):
        for arg, value in (
            ("num_layers", num_layers),
            ("batch_size", batch_size),
            ("num_heads", num_heads),
            ("head_dim", head_dim),
            ("max_seq_len", max_seq_len),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"KVCache: {arg} must be a positive int, got {value!r}")
        self.num_layers, self.batch_size = int(num_layers), int(batch_size)
        self.num_heads, self.head_dim, self.max_seq_len = int(num_heads), int(head_dim), int(max_seq_len)
        shape = (self.batch_size, self.num_heads, self.max_seq_len, self.head_dim)
        self.keys = [np.zeros(shape, dtype=dtype) for _ in range(self.num_layers)]
        self.values = [np.zeros(shape, dtype=dtype) for _ in range(self.num_layers)]
        self.lengths = [0] * self.num_layers

    @classmethod
    def for_model(cls, model, batch_size: int) -> KVCache:
        """A cache sized for ``model`` (anything with num_layers/num_heads/head_dim/max_seq_len)."""
        return cls(
            num_layers=model.num_layers,
            batch_size=batch_size,
            num_heads=model.num_heads,
            head_dim=model.head_dim,
            max_seq_len=model.max_seq_len,
        )

    @property
    def seq_len(self) -> int:
        """Positions cached so far (the position the next token will take)."""
        if len(set(self.lengths)) != 1:
            raise RuntimeError(
                f"KVCache layers hold different lengths {self.lengths}: a forward pass stopped midway. "
                "Call cache.reset() and start again from the prompt."
            )
        return self.lengths[0]

    position = seq_len  # alias: the position counter

    def _check_layer(self, layer_idx: int) -> int:
        if not 0 <= layer_idx < self.num_layers:
            raise IndexError(f"KVCache: layer_idx {layer_idx} out of range for a cache of {self.num_layers} layers")
        return layer_idx

    def append(self, layer_idx: int, k: np.ndarray, v: np.ndarray) -> None:
        """Store keys/values (batch, num_heads, new, head_dim) after this layer's cached positions."""
        layer = self._check_layer(layer_idx)
        expected = (self.batch_size, self.num_heads, self.head_dim)
        for name, arr in (("k", k), ("v", v)):
            if arr.ndim != 4 or (arr.shape[0], arr.shape[1], arr.shape[3]) != expected:
                raise ValueError(
                    f"KVCache.append: {name} must have shape (batch={expected[0]}, heads={expected[1]}, new, "
                    f"head_dim={expected[2]}), got {arr.shape}"
                )
        if k.shape != v.shape:
            raise ValueError(f"KVCache.append: k {k.shape} and v {v.shape} must have the same shape")
        start, new = self.lengths[layer], k.shape[2]
        if start + new > self.max_seq_len:
            raise ValueError(
                f"KVCache is full: layer {layer} holds {start} of max_seq_len={self.max_seq_len} positions and "
                f"cannot take {new} more. Generate fewer tokens, or use a model/cache with a larger max_seq_len."
            )
        self.keys[layer][:, :, start : start + new] = k
        self.values[layer][:, :, start : start + new] = v
        self.lengths[layer] = start + new

    def get(self, layer_idx: int) -> tuple[np.ndarray, np.ndarray]:
        """Views (no copy) of this layer's cached keys and values: (batch, heads, cached, head_dim)."""
        layer = self._check_layer(layer_idx)
        n = self.lengths[layer]
        return self.keys[layer][:, :, :n], self.values[layer][:, :, :n]

    def reset(self) -> None:
        """Forget everything (the arrays are kept and overwritten by the next appends)."""
        self.lengths = [0] * self.num_layers

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.keys) + sum(a.nbytes for a in self.values)

    def __repr__(self) -> str:
        return (
            f"KVCache(num_layers={self.num_layers}, batch_size={self.batch_size}, num_heads={self.num_heads}, "
            f"head_dim={self.head_dim}, max_seq_len={self.max_seq_len}, lengths={self.lengths})"
        )


def _prompt_array(prompt_ids) -> np.ndarray:
    arr = prompt_ids.data if isinstance(prompt_ids, Tensor) else np.asarray(prompt_ids)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise ValueError(f"prompt_ids must be a non-empty (batch, seq) or (seq,) array of ids, got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"prompt_ids must be integer token ids, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _next_tokens(logits: np.ndarray, temperature: float, rng: np.random.Generator | None) -> np.ndarray:
    """Greedy (argmax) at temperature 0, else a sample from softmax(logits / temperature)."""
    if temperature == 0.0:
        return logits.argmax(axis=-1).astype(np.int64)
    z = logits.astype(np.float64) / temperature
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    rng = np.random.default_rng() if rng is None else rng
    return np.array([rng.choice(p.shape[-1], p=row) for row in p], dtype=np.int64)


def _set_modes(model, modes: dict) -> None:
    for m in model.modules():
        m.training = modes.get(id(m), m.training)


def generate(
    model,
    prompt_ids,
    max_new_tokens: int,
    *,
    use_cache: bool = True,
    temperature: float = 0.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Extend ``prompt_ids`` by ``max_new_tokens`` tokens; returns int64 ids (batch, prompt + new).

    Greedy by default (``temperature=0``); ``temperature > 0`` samples, from ``rng`` if given. Runs
    under ``no_grad`` and in eval mode (dropout off); the model's modes are restored afterwards.
    ``use_cache=False`` re-runs the whole sequence every step — slower, same tokens.
    """
    ids = _prompt_array(prompt_ids)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    if not temperature >= 0.0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature!r}")
    total = ids.shape[1] + int(max_new_tokens)
    if total > model.max_seq_len:
        raise ValueError(
            f"prompt ({ids.shape[1]} tokens) + max_new_tokens ({max_new_tokens}) = {total} exceeds the model's "
            f"max_seq_len={model.max_seq_len}"
        )
    if max_new_tokens == 0:
        return ids.copy()
    modes = {id(m): m.training for m in model.modules()}
    model.eval()
    try:
        with no_grad():
            step = _generate_cached if use_cache else _generate_uncached
            return step(model, ids, int(max_new_tokens), float(temperature), rng)
    finally:
        _set_modes(model, modes)


def _generate_uncached(model, ids, max_new_tokens, temperature, rng) -> np.ndarray:
    for _ in range(max_new_tokens):
        logits = model.forward(ids).data[:, -1, :]
        ids = np.concatenate([ids, _next_tokens(logits, temperature, rng)[:, None]], axis=1)
    return ids


def _generate_cached(model, ids, max_new_tokens, temperature, rng) -> np.ndarray:
    cache = KVCache.for_model(model, batch_size=ids.shape[0])
    logits = model.forward(ids, cache=cache).data[:, -1, :]  # prefill: caches every prompt position
    out = [ids]
    for i in range(max_new_tokens):
        token = _next_tokens(logits, temperature, rng)[:, None]
        out.append(token)
        if i + 1 < max_new_tokens:  # the last token's logits are never needed
            logits = model.forward(token, cache=cache).data[:, -1, :]
    return np.concatenate(out, axis=1)

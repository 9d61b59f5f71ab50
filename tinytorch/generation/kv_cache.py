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
from tinytorch.models.transformer import check_cache_fits

__all__ = ["KVCache", "KVCacheRangeError", "enable_kv_cache", "disable_kv_cache", "generate"]

MB = 1 << 20


class KVCacheRangeError(IndexError, ValueError):
    """A KV cache write or read out of range: the cache is full, or ``layer_idx`` is not one of its layers.

    Both an ``IndexError`` (what a bad index is) and a ``ValueError`` (what TinyTorch raises), so code
    catching either keeps working.
    """


class KVCache:
    """Per-layer key/value storage for ``num_layers`` attention layers, up to ``max_seq_len`` positions.

    ``KVCache(batch_size, max_seq_len, num_layers, num_heads, head_dim)`` — TinyTorch's order when
    positional — or the same five by keyword, or ``KVCache.for_model(model, batch_size)``.

    Two ways to fill it:

    - TinyTorch's: ``update(layer_idx, key, value)`` writes ONE position, at ``seq_pos``, for that layer;
      after every layer has been updated, ``advance()`` moves ``seq_pos`` on by one;
    - this framework's attention: ``append(layer_idx, k, v)`` writes any number of new positions after
      that layer's last one; ``seq_pos`` follows once every layer holds them.

    ``get(layer_idx)`` returns Tensors (views, no copy) ``(batch, heads, seq_pos, head_dim)``; ``reset()``
    forgets everything; ``get_memory_usage()`` gives ``total_mb`` / ``per_layer_mb``. A full cache or a
    bad layer index raises :class:`KVCacheRangeError`.
    """

    def __init__(
        self,
        batch_size: int,
        max_seq_len: int,
        num_layers: int,
        num_heads: int,
        head_dim: int,
        dtype=np.float32,
    ):
        for arg, value in (
            ("batch_size", batch_size),
            ("max_seq_len", max_seq_len),
            ("num_layers", num_layers),
            ("num_heads", num_heads),
            ("head_dim", head_dim),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"KVCache: {arg} must be a positive int, got {value!r}")
        self.num_layers, self.batch_size = int(num_layers), int(batch_size)
        self.num_heads, self.head_dim, self.max_seq_len = int(num_heads), int(head_dim), int(max_seq_len)
        shape = (self.batch_size, self.num_heads, self.max_seq_len, self.head_dim)
        self.keys = [np.zeros(shape, dtype=dtype) for _ in range(self.num_layers)]
        self.values = [np.zeros(shape, dtype=dtype) for _ in range(self.num_layers)]
        self.lengths = [0] * self.num_layers
        self._seq_pos = 0

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
        """Positions cached so far in every layer (the position the next token will take)."""
        if len(set(self.lengths)) != 1:
            raise RuntimeError(
                f"KVCache layers hold different lengths {self.lengths}: a forward pass stopped midway. "
                "Call cache.reset() and start again from the prompt."
            )
        return self.lengths[0]

    position = seq_len  # alias: the position counter

    @property
    def seq_pos(self) -> int:
        """TinyTorch's position counter: where ``update`` writes; moved on by ``advance()`` (and by
        ``append`` once every layer holds the new positions)."""
        return self._seq_pos

    def _check_layer(self, layer_idx: int) -> int:
        if isinstance(layer_idx, bool) or not isinstance(layer_idx, (int, np.integer)):
            raise TypeError(f"KVCache: layer_idx must be an int, got {type(layer_idx).__name__} {layer_idx!r}")
        if not 0 <= layer_idx < self.num_layers:
            raise KVCacheRangeError(
                f"KVCache: layer_idx {layer_idx} out of range for a cache of {self.num_layers} layers "
                f"(valid: 0..{self.num_layers - 1})"
            )
        return int(layer_idx)

    def _check_kv(self, who: str, k: np.ndarray, v: np.ndarray, new: int | None = None) -> None:
        expected = (self.batch_size, self.num_heads, self.head_dim)
        for name, arr in (("key", k), ("value", v)):
            if (
                arr.ndim != 4
                or (arr.shape[0], arr.shape[1], arr.shape[3]) != expected
                or (new is not None and arr.shape[2] != new)
            ):
                seq = "new" if new is None else new
                raise ValueError(
                    f"KVCache.{who}: {name} must have shape (batch={expected[0]}, heads={expected[1]}, {seq}, "
                    f"head_dim={expected[2]}), got {arr.shape}"
                )
        if k.shape != v.shape:
            raise ValueError(f"KVCache.{who}: key {k.shape} and value {v.shape} must have the same shape")

    def _full(self, layer: int, start: int, new: int) -> KVCacheRangeError:
        return KVCacheRangeError(
            f"KVCache is full: layer {layer} holds {start} of max_seq_len={self.max_seq_len} positions and "
            f"cannot take {new} more. Generate fewer tokens, or use a model/cache with a larger max_seq_len."
        )

    def update(self, layer_idx: int, key, value) -> None:
        """TinyTorch's write: one position, ``(batch, heads, 1, head_dim)`` (Tensor or array), at ``seq_pos``."""
        layer = self._check_layer(layer_idx)
        k = key.data if isinstance(key, Tensor) else np.asarray(key)
        v = value.data if isinstance(value, Tensor) else np.asarray(value)
        self._check_kv("update", k, v, new=1)
        pos = self._seq_pos
        if pos >= self.max_seq_len:
            raise self._full(layer, pos, 1)
        self.keys[layer][:, :, pos : pos + 1] = k
        self.values[layer][:, :, pos : pos + 1] = v
        self.lengths[layer] = pos + 1

    def advance(self) -> None:
        """Move ``seq_pos`` on by one, after every layer's ``update`` for this position."""
        if self._seq_pos >= self.max_seq_len:
            raise self._full(self.num_layers - 1, self._seq_pos, 1)
        self._seq_pos += 1

    def append(self, layer_idx: int, k: np.ndarray, v: np.ndarray) -> None:
        """Store keys/values (batch, num_heads, new, head_dim) after this layer's cached positions."""
        layer = self._check_layer(layer_idx)
        self._check_kv("append", k, v)
        start, new = self.lengths[layer], k.shape[2]
        if start + new > self.max_seq_len:
            raise self._full(layer, start, new)
        self.keys[layer][:, :, start : start + new] = k
        self.values[layer][:, :, start : start + new] = v
        self.lengths[layer] = start + new
        self._seq_pos = max(self._seq_pos, min(self.lengths))

    def get(self, layer_idx: int) -> tuple[Tensor, Tensor]:
        """This layer's cached keys and values as Tensors over views (no copy): (batch, heads, cached, head_dim)."""
        layer = self._check_layer(layer_idx)
        n = self.lengths[layer]
        k, v = self.keys[layer][:, :, :n], self.values[layer][:, :, :n]
        return Tensor(k, dtype=k.dtype), Tensor(v, dtype=v.dtype)

    def reset(self) -> None:
        """Forget everything (the arrays are kept and overwritten by the next writes)."""
        self.lengths = [0] * self.num_layers
        self._seq_pos = 0

    def get_memory_usage(self) -> dict:
        """TinyTorch's figures: ``total_mb`` and ``per_layer_mb`` (MiB, 2**20 bytes), plus ``total_bytes``."""
        total = self.nbytes
        return {"total_bytes": total, "total_mb": total / MB, "per_layer_mb": total / MB / self.num_layers}

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
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Extend ``prompt_ids`` by ``max_new_tokens`` tokens; returns int64 ids (batch, prompt + new).

    Greedy by default (``temperature=0``, a real number); ``temperature > 0`` samples, from ``rng``: a
    ``numpy.random.Generator``, or an int seed (``rng=42`` means ``np.random.default_rng(42)``, as NumPy
    accepts it), or None (fresh entropy). Anything else raises ``TypeError`` naming the argument. Runs
    under ``no_grad`` and in eval mode (dropout off); the model's modes are restored afterwards.
    ``use_cache=False`` re-runs the whole sequence every step — slower, same tokens. With a cache
    attached by :func:`enable_kv_cache`, that cache is used (reset first); one that does not fit the
    model and batch is refused before anything is written.
    """
    ids = _prompt_array(prompt_ids)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"generate: temperature must be a real number >= 0 (0 = greedy), got {type(temperature).__name__} "
            f"{temperature!r}; pass e.g. temperature=0.5"
        )
    if not temperature >= 0.0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature!r}")
    rng = _as_rng(rng)
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


def _as_rng(rng) -> np.random.Generator | None:
    if rng is None or isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"generate: rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__} {rng!r}; "
        "pass e.g. rng=np.random.default_rng(0) or rng=0"
    )


def enable_kv_cache(model, batch_size: int = 1) -> KVCache:
    """TinyTorch's switch: attach a cache sized for ``model`` (``model._kv_cache``, ``model._cache_enabled
    = True``) and return it; ``generate(model, …)`` then uses that cache. ``batch_size`` is the number of
    sequences generated at once (1, as in TinyTorch)."""
    for attr in ("num_layers", "num_heads", "head_dim", "max_seq_len"):
        if not hasattr(model, attr):
            raise TypeError(f"enable_kv_cache: the model has no {attr!r}; it must be shaped like module 13's GPT")
    cache = KVCache.for_model(model, batch_size=batch_size)
    model._kv_cache = cache
    model._cache_enabled = True
    return cache


def disable_kv_cache(model) -> None:
    """Undo :func:`enable_kv_cache`: ``model._cache_enabled = False`` and the cache is dropped."""
    model._cache_enabled = False
    model._kv_cache = None


def _generate_cached(model, ids, max_new_tokens, temperature, rng) -> np.ndarray:
    cache = getattr(model, "_kv_cache", None) if getattr(model, "_cache_enabled", False) else None
    if cache is None:
        cache = KVCache.for_model(model, batch_size=ids.shape[0])
    else:
        check_cache_fits(model, cache, ids.shape[0])
        cache.reset()
    logits = model.forward(ids, cache=cache).data[:, -1, :]  # prefill: caches every prompt position
    out = [ids]
    for i in range(max_new_tokens):
        token = _next_tokens(logits, temperature, rng)[:, None]
        out.append(token)
        if i + 1 < max_new_tokens:  # the last token's logits are never needed
            logits = model.forward(token, cache=cache).data[:, -1, :]
    return np.concatenate(out, axis=1)

"""Module 12 — attention: scaled dot-product attention and multi-head attention.

Mask convention (one convention, everywhere): a mask is a boolean array — or 0/1 numbers — that
broadcasts to the score shape (..., seq_q, seq_k); ``True``/1 means "this query MAY attend to this
key", ``False``/0 means it may not. ``causal_mask`` builds the usual lower-triangular one.

Masked scores are replaced by a large *finite* negative (``MASK_FILL = -1e9``) before the softmax,
never ``-inf``: ``-inf - (-inf)`` is NaN. After the softmax every masked weight is then multiplied by
the mask, so it is exactly 0.0 — a masked key has bit-for-bit no influence on the output — and a
row whose keys are ALL masked gets all-zero weights and therefore an all-zero output (it "attends
to nothing"), with zero gradient. No NaN, no RuntimeWarning.

KV-cache protocol (used by module 15, but nothing here imports it): ``MultiHeadAttention.forward``
takes ``cache=`` any object with ``append(layer_idx, k, v)`` and ``get(layer_idx) -> (k, v)``, where
k and v are NumPy arrays (``append``) and NumPy arrays or Tensors (``get``) of shape
(batch, num_heads, seq, head_dim). The new keys/values are
appended, and attention runs over everything cached so far for that layer.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.activations import SoftmaxBackward
from tinytorch.core.layers import Linear, Module
from tinytorch.core.tensor import Tensor

__all__ = ["MASK_FILL", "causal_mask", "masked_softmax", "scaled_dot_product_attention", "MultiHeadAttention"]

MASK_FILL = -1e9


def causal_mask(seq_q: int, seq_k: int | None = None) -> np.ndarray:
    """Boolean (seq_q, seq_k) mask: query i may attend to key j iff j <= i + (seq_k - seq_q).

    With ``seq_k = seq_q`` this is the lower triangle. With a KV cache the queries are the LAST
    ``seq_q`` positions of a ``seq_k``-long sequence, hence the offset.
    """
    seq_k = seq_q if seq_k is None else seq_k
    if seq_q <= 0 or seq_k < seq_q:
        raise ValueError(f"causal_mask needs 0 < seq_q <= seq_k, got seq_q={seq_q}, seq_k={seq_k}")
    return np.tri(seq_q, seq_k, k=seq_k - seq_q, dtype=bool)


def _as_bool_mask(mask, scores_shape: tuple) -> np.ndarray:
    arr = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if arr.dtype != bool:
        if arr.dtype.kind not in "iuf" or not np.all((arr == 0) | (arr == 1)):
            raise ValueError(
                "attention mask must be boolean or 0/1 (True/1 = may attend, False/0 = masked); "
                "for an additive float mask convert it first, e.g. mask = additive == 0"
            )
        arr = arr.astype(bool)
    try:
        np.broadcast_shapes(arr.shape, scores_shape)
    except ValueError:
        raise ValueError(
            f"attention mask of shape {arr.shape} does not broadcast to the scores' shape {scores_shape} "
            "(..., seq_q, seq_k)"
        ) from None
    return arr


def masked_softmax(scores: Tensor, mask=None) -> Tensor:
    """Softmax over the last axis where masked entries get weight exactly 0 (see module docstring)."""
    s = scores.data
    keep = None if mask is None else _as_bool_mask(mask, s.shape)
    if keep is not None:
        s = np.where(keep, s, np.asarray(MASK_FILL, dtype=s.dtype))
    e = np.exp(s - s.max(axis=-1, keepdims=True))  # the row max is finite: largest exponent is 0
    p = e / e.sum(axis=-1, keepdims=True)  # each sum >= 1, never 0
    if keep is not None:
        p = p * keep  # exact zeros at masked keys; all-zero rows when nothing may be attended

    def backward(g):
        # d softmax: p * (g - <g, p>); masked entries have p = 0 and so get no gradient.
        return (p * (g - (g * p).sum(axis=-1, keepdims=True)),)

    return Tensor._make(p.astype(s.dtype, copy=False), (scores,), backward, SoftmaxBackward)


def scaled_dot_product_attention(Q, K, V, mask=None) -> tuple[Tensor, Tensor]:
    """softmax(Q Kᵀ / √d) V over tensors of shape (..., seq, d); returns ``(output, weights)``.

    ``mask`` follows the module convention (True/1 = may attend), broadcast to (..., seq_q, seq_k).
    """
    Q, K, V = (t if isinstance(t, Tensor) else Tensor(t) for t in (Q, K, V))
    if Q.ndim < 2 or Q.shape[-1] != K.shape[-1] or K.shape[-2] != V.shape[-2]:
        raise ValueError(
            f"attention shapes do not fit: Q {Q.shape}, K {K.shape}, V {V.shape}; need Q (..., seq_q, d), "
            "K (..., seq_k, d), V (..., seq_k, d_v)"
        )
    scores = (Q @ K.transpose()) * (1.0 / float(np.sqrt(Q.shape[-1])))
    weights = masked_softmax(scores, mask)
    return weights @ V, weights


class MultiHeadAttention(Module):
    """Self-attention with ``num_heads`` heads of size ``embed_dim // num_heads``.

    The four projections are ordinary ``Linear`` children (``q_proj``, ``k_proj``, ``v_proj``,
    ``out_proj``) that are only ever *called*, so quantization can swap them for quantized layers.
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True):
        for arg, value in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"MultiHeadAttention: {arg} must be a positive int, got {value!r}")
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiHeadAttention: embed_dim={embed_dim} is not divisible by num_heads={num_heads}; "
                "each head gets embed_dim // num_heads features, so pick num_heads dividing embed_dim"
            )
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.head_dim = self.embed_dim // self.num_heads
        self.q_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)

    def _split_heads(self, t: Tensor) -> Tensor:
        batch, seq, _ = t.shape
        return t.reshape(batch, seq, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

    def forward(self, x, mask=None, *, cache=None, layer_idx: int = 0, return_weights: bool = False):
        """x (batch, seq, embed_dim) → (batch, seq, embed_dim); with ``return_weights`` also the
        attention weights (batch, num_heads, seq, seq_k).

        ``mask`` (True/1 = may attend) is (seq, seq_k) for every sample, (batch, seq, seq_k) per sample,
        or (batch, num_heads, seq, seq_k); any other shape raises (see ``_score_mask``).

        With ``cache`` (inference only, under ``no_grad``) ``x`` holds just the new positions; their
        keys/values are appended to ``cache`` at ``layer_idx`` and the queries attend over all cached
        positions, so ``mask`` (if any) must be (seq, cached_len + seq), e.g.
        ``causal_mask(seq, cached_len + seq)``.
        """
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim != 3 or x.shape[-1] != self.embed_dim:
            raise ValueError(
                f"MultiHeadAttention(embed_dim={self.embed_dim}) expects input (batch, seq, {self.embed_dim}), "
                f"got {x.shape}"
            )
        batch, seq, _ = x.shape
        q = self._split_heads(self.q_proj(x))
        k = self._split_heads(self.k_proj(x))
        v = self._split_heads(self.v_proj(x))
        if cache is not None:
            if k.requires_grad:
                raise RuntimeError(
                    "a KV cache is for inference only (cached keys carry no gradient): run under "
                    "tinytorch.core.autograd.no_grad(), or call without cache= to train"
                )
            cache.append(layer_idx, k.data, v.data)
            k_all, v_all = cache.get(layer_idx)  # Tensors (module 15's KVCache) or arrays: both wrap for free
            k = k_all if isinstance(k_all, Tensor) else Tensor(k_all, dtype=k_all.dtype)
            v = v_all if isinstance(v_all, Tensor) else Tensor(v_all, dtype=v_all.dtype)
        if mask is not None:
            mask = self._score_mask(mask, batch, seq, k.shape[2])
        out, weights = scaled_dot_product_attention(q, k, v, mask)
        out = self.out_proj(out.transpose(0, 2, 1, 3).reshape(batch, seq, self.embed_dim))
        return (out, weights) if return_weights else out

    def _score_mask(self, mask, batch: int, seq_q: int, seq_k: int) -> np.ndarray:
        """The mask as an array that broadcasts to the scores (batch, num_heads, seq_q, seq_k).

        (seq_q, seq_k) applies to every sample and head; (batch, seq_q, seq_k) is one mask PER SAMPLE
        (given a head axis here — left to NumPy's broadcasting it would be matched against the heads);
        (batch, num_heads, seq_q, seq_k) is per sample and head. Any axis may be 1 to broadcast.
        Every other shape raises, rather than being broadcast against the wrong axis.
        """
        arr = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
        by_ndim = {2: (seq_q, seq_k), 3: (batch, seq_q, seq_k), 4: (batch, self.num_heads, seq_q, seq_k)}
        expected = by_ndim.get(arr.ndim)
        fits = expected is not None and all(have in (1, want) for have, want in zip(arr.shape, expected))
        if not fits:
            raise ValueError(
                f"MultiHeadAttention: mask of shape {arr.shape} does not fit batch={batch}, "
                f"num_heads={self.num_heads}, seq_q={seq_q}, seq_k={seq_k}; use (seq_q, seq_k) for every sample, "
                "(batch, seq_q, seq_k) per sample, or (batch, num_heads, seq_q, seq_k) (any axis may be 1 to broadcast)"
            )
        return arr[:, None] if arr.ndim == 3 else arr

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"

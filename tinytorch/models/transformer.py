"""Module 13 — transformers: LayerNorm, the pre-norm TransformerBlock, and a small GPT.

``GPT`` maps integer token ids (batch, seq) to next-token logits (batch, seq, vocab_size) with a
causal mask, so position t only sees positions <= t. Generation lives in module 15
(``tinytorch.generation.kv_cache.generate``); this module only exposes what it needs:

- ``GPT.forward(ids, cache=None)``: with a cache (any object following the protocol in
  ``tinytorch.core.attention``, plus a ``seq_len`` attribute = positions already cached), ``ids``
  are the NEW tokens only; they are placed at positions ``cache.seq_len …`` and every block appends
  their keys/values to the cache under its own ``layer_idx``;
- the sizes a cache is built from: ``num_layers``, ``num_heads``, ``head_dim``, ``max_seq_len``.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.activations import GELU
from tinytorch.core.attention import MultiHeadAttention, causal_mask
from tinytorch.core.layers import Dropout, Linear, Module, Parameter
from tinytorch.core.tensor import OpFunction, Tensor
from tinytorch.text.embeddings import Embedding, PositionalEncoding

__all__ = ["LayerNorm", "MLP", "TransformerBlock", "GPT", "create_causal_mask", "check_cache_fits"]


class LayerNormBackward(OpFunction):
    """Fused LayerNorm: exact gradients for x, gamma and beta."""

    __slots__ = ()


def _layer_norm(x: Tensor, gamma: Tensor, beta: Tensor, eps: float) -> Tensor:
    """One fused op instead of ~10 elementwise ones: generation calls LayerNorm 2×layers+1 times per
    token, and per-op overhead dominates a one-token step."""
    a = x.data
    inv_n = 1.0 / a.shape[-1]  # sum × 1/n: ndarray.mean costs ~8 µs of Python per call
    centered = a - a.sum(axis=-1, keepdims=True) * inv_n
    inv_std = 1.0 / np.sqrt((centered * centered).sum(axis=-1, keepdims=True) * inv_n + eps)
    x_hat = centered * inv_std

    def backward(g):
        # With x̂ = (x - μ)/σ: dx = (dx̂ - mean(dx̂) - x̂·mean(dx̂·x̂)) / σ, where dx̂ = g·γ.
        d_hat = g * gamma.data
        dx = inv_std * (
            d_hat - d_hat.mean(axis=-1, keepdims=True) - x_hat * (d_hat * x_hat).mean(axis=-1, keepdims=True)
        )
        return dx, g * x_hat, g  # γ and β gradients are summed over the leading axes by the engine

    return Tensor._make(x_hat * gamma.data + beta.data, (x, gamma, beta), backward, LayerNormBackward)


class LayerNorm(Module):
    """Normalise the last axis to zero mean / unit variance, then scale by ``gamma``, shift by ``beta``.

    The variance is the biased one (divide by ``dim``), as in PyTorch; ``eps`` keeps a constant input
    finite (its output is then just ``beta``).
    """

    def __init__(self, dim: int, eps: float = 1e-5):
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim <= 0:
            raise ValueError(f"LayerNorm: dim must be a positive int, got {dim!r}")
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be > 0 (it keeps 1/sqrt(var + eps) finite), got {eps!r}")
        self.dim, self.eps = int(dim), float(eps)
        self.gamma = Parameter(np.ones(self.dim))
        self.beta = Parameter(np.zeros(self.dim))

    def forward(self, x) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.shape[-1] != self.dim:
            raise ValueError(
                f"LayerNorm({self.dim}) got input of shape {x.shape}: its last dimension must be {self.dim}"
            )
        return _layer_norm(x, self.gamma, self.beta, self.eps)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, eps={self.eps}"


class MLP(Module):
    """The transformer's feed-forward part (TinyTorch's ``MLP``): ``linear2(gelu(linear1(x)))``.

    ``hidden_dim`` defaults to ``4 * embed_dim``. ``dropout_prob`` is accepted and kept (TinyTorch's
    signature) but, as there, not applied inside: the ``TransformerBlock`` applies its own dropout to the
    MLP's output. ``layers`` lists ``(linear1, gelu, linear2)`` (the ``Sequential`` spelling it replaced).
    """

    def __init__(self, embed_dim: int, hidden_dim: int | None = None, dropout_prob: float = 0.1):
        hidden_dim = 4 * int(embed_dim) if hidden_dim is None else hidden_dim
        if not 0.0 <= float(dropout_prob) < 1.0:
            raise ValueError(f"MLP: dropout_prob must be in [0, 1), got {dropout_prob!r}")
        self.embed_dim, self.hidden_dim, self.dropout_prob = int(embed_dim), int(hidden_dim), float(dropout_prob)
        self.linear1 = Linear(embed_dim, hidden_dim)
        self.gelu = GELU()
        self.linear2 = Linear(hidden_dim, embed_dim)

    @property
    def layers(self) -> tuple:
        return (self.linear1, self.gelu, self.linear2)

    def forward(self, x) -> Tensor:
        return self.linear2(self.gelu(self.linear1(x)))


def create_causal_mask(seq_len: int) -> Tensor:
    """TinyTorch's causal mask: a float32 0/1 Tensor of shape (1, seq_len, seq_len), 1 = may attend."""
    return Tensor(causal_mask(int(seq_len)).astype(np.float32)[None])


class TransformerBlock(Module):
    """Pre-norm block: ``x + attn(ln1(x))`` then ``x + mlp(ln2(x))``, ``mlp`` an :class:`MLP`
    (Linear → GELU → Linear)."""

    def __init__(self, embed_dim: int, num_heads: int, mlp_ratio: int = 4, dropout: float = 0.0):
        if isinstance(mlp_ratio, bool) or not isinstance(mlp_ratio, (int, np.integer)) or mlp_ratio <= 0:
            raise ValueError(f"TransformerBlock: mlp_ratio must be a positive int, got {mlp_ratio!r}")
        self.embed_dim = int(embed_dim)
        self.ln1 = LayerNorm(embed_dim)
        self.attn = MultiHeadAttention(embed_dim, num_heads)
        self.ln2 = LayerNorm(embed_dim)
        hidden = self.embed_dim * int(mlp_ratio)
        self.mlp = MLP(embed_dim, hidden, dropout_prob=dropout)
        self.dropout = Dropout(dropout)

    def forward(self, x, mask=None, *, cache=None, layer_idx: int = 0) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        x = x + self.dropout(self.attn(self.ln1(x), mask, cache=cache, layer_idx=layer_idx))
        return x + self.dropout(self.mlp(self.ln2(x)))

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}"


def check_cache_fits(model, cache, batch_size: int) -> None:
    """Refuse, before anything is written, a KV cache whose shape is not the model's.

    Checks every size the cache states (``num_layers``, ``num_heads``, ``head_dim``, ``batch_size``)
    against the model and the batch: a cache with fewer layers would fill layer 0 and then fail, one
    with more would silently leave layers empty, and a wrong head size or batch would be written wrongly.
    """
    wanted = {
        "num_layers": model.num_layers,
        "num_heads": model.num_heads,
        "head_dim": model.head_dim,
        "batch_size": int(batch_size),
    }
    wrong = [
        f"{name}={getattr(cache, name)} (needs {want})"
        for name, want in wanted.items()
        if getattr(cache, name, None) is not None and getattr(cache, name) != want
    ]
    if wrong:
        raise ValueError(
            f"KV cache does not fit this model and batch: {', '.join(wrong)}; nothing was written. Build it with "
            f"KVCache.for_model(model, batch_size={int(batch_size)}) (or enable_kv_cache(model, batch_size=...))"
        )


def _check_ids(ids) -> np.ndarray:
    arr = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
    if arr.ndim != 2:
        raise ValueError(
            f"GPT takes integer token ids of shape (batch, seq), got shape {arr.shape}; "
            "for one sequence use ids[None, :]"
        )
    if arr.shape[1] == 0:
        raise ValueError("GPT got an empty sequence (seq = 0); give it at least one token")
    return arr


class GPT(Module):
    """Decoder-only transformer: token + learned position embeddings, ``num_layers`` causal blocks,
    a final LayerNorm and ``lm_head = Linear(embed_dim, vocab_size, bias=False)``.

    ``tie_weights=True`` makes ``lm_head.weight`` the very same ``Parameter`` object as
    ``token_embedding.weight`` (both are (vocab_size, embed_dim)): one tensor, saved once, updated
    once per step with the gradients of both uses summed.

    Token embeddings start as N(0, 1/embed_dim): rows of norm ≈ 1, so the residual stream is not
    dominated by the embedding and tied logits (LayerNorm output · embedding row) start with a spread
    of ≈ 1 — untrained greedy decoding does not just repeat its input token.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        num_layers: int,
        num_heads: int,
        max_seq_len: int = 1024,
        tie_weights: bool = False,
        *,
        mlp_ratio: int = 4,
        dropout: float = 0.0,
    ):
        if isinstance(num_layers, bool) or not isinstance(num_layers, (int, np.integer)) or num_layers <= 0:
            raise ValueError(f"GPT: num_layers must be a positive int, got {num_layers!r}")
        self.vocab_size, self.embed_dim = int(vocab_size), int(embed_dim)
        self.num_layers, self.num_heads, self.max_seq_len = int(num_layers), int(num_heads), int(max_seq_len)
        self.token_embedding = Embedding(vocab_size, embed_dim, init_std=float(embed_dim) ** -0.5)
        self.position_embedding = PositionalEncoding(max_seq_len, embed_dim, learned=True)
        self.blocks = [TransformerBlock(embed_dim, num_heads, mlp_ratio, dropout) for _ in range(self.num_layers)]
        self.ln_f = LayerNorm(embed_dim)
        self.lm_head = Linear(embed_dim, vocab_size, bias=False)
        self.tie_weights = bool(tie_weights)
        if self.tie_weights:
            self.lm_head.weight = self.token_embedding.weight

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    def forward(self, ids, cache=None) -> Tensor:
        """(batch, seq) integer ids → (batch, seq, vocab_size) logits.

        With ``cache``, ``ids`` are the tokens after the ``cache.seq_len`` already cached ones.
        """
        arr = _check_ids(ids)
        seq = arr.shape[1]
        if cache is not None:
            check_cache_fits(self, cache, arr.shape[0])
        start = 0 if cache is None else int(cache.seq_len)
        if start + seq > self.max_seq_len:
            raise ValueError(
                f"GPT(max_seq_len={self.max_seq_len}) cannot take {seq} tokens after {start} cached ones; "
                "shorten the sequence or build the model with a larger max_seq_len"
            )
        x = self.position_embedding(self.token_embedding(arr), start_pos=start)
        mask = causal_mask(seq, start + seq) if seq > 1 else None  # one new token may see every cached one
        for layer_idx, block in enumerate(self.blocks):
            x = block(x, mask, cache=cache, layer_idx=layer_idx)
        return self.lm_head(self.ln_f(x))

    def extra_repr(self) -> str:
        return (
            f"vocab_size={self.vocab_size}, embed_dim={self.embed_dim}, num_layers={self.num_layers}, "
            f"num_heads={self.num_heads}, max_seq_len={self.max_seq_len}, tie_weights={self.tie_weights}"
        )

"""Module 12 — scaled dot-product attention, masks, and MultiHeadAttention."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from tinytorch.core.attention import (
    MultiHeadAttention,
    causal_mask,
    masked_softmax,
    scaled_dot_product_attention,
)
from tinytorch.core.autograd import gradcheck, no_grad
from tinytorch.core.layers import Linear, Module
from tinytorch.core.tensor import Tensor


def _reference_attention(q, k, v, mask=None):
    """Plain float64 NumPy attention, with the documented mask convention (True = may attend)."""
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    w = np.exp(scores - scores.max(axis=-1, keepdims=True))
    w /= w.sum(axis=-1, keepdims=True)
    return w @ v, w


# ----------------------------------------------------------------------------- scaled dot-product attention
@pytest.mark.parametrize("masked", [False, True])
def test_sdpa_matches_reference(rng, masked):
    q, k, v = (rng.standard_normal((2, 3, 4, 5)) for _ in range(3))
    mask = causal_mask(4) if masked else None
    out, w = scaled_dot_product_attention(Tensor(q, dtype=np.float64), Tensor(k, dtype=np.float64), v, mask)
    ref_out, ref_w = _reference_attention(q, k, v, mask)
    assert out.shape == (2, 3, 4, 5) and w.shape == (2, 3, 4, 4)
    assert_allclose(out.data, ref_out, rtol=1e-6, atol=1e-6)
    assert_allclose(w.data, ref_w, rtol=1e-6, atol=1e-9)
    assert_allclose(w.data.sum(axis=-1), 1.0, rtol=1e-6)


def test_sdpa_different_key_length_and_value_width(rng):
    q, k, v = rng.standard_normal((3, 4)), rng.standard_normal((6, 4)), rng.standard_normal((6, 2))
    out, w = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v))
    assert out.shape == (3, 2) and w.shape == (3, 6)


def test_masked_weights_are_exactly_zero(rng):
    scores = Tensor(rng.standard_normal((4, 4)) * 30)
    w = masked_softmax(scores, causal_mask(4)).data
    assert_array_equal(w[np.triu_indices(4, k=1)], 0.0)
    assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("mask_dtype", [bool, np.int64, np.float32])
def test_fully_masked_row_gives_zeros_not_nan(rng, mask_dtype):
    q, k, v = (Tensor(rng.standard_normal((3, 4)), requires_grad=True) for _ in range(3))
    mask = np.ones((3, 3), dtype=mask_dtype)
    mask[1] = 0  # query 1 may attend to nothing
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning (overflow, invalid value) either
        out, w = scaled_dot_product_attention(q, k, v, mask)
        out.sum().backward()
    assert_array_equal(w.data[1], 0.0)
    assert_array_equal(out.data[1], 0.0)
    assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(q.grad))
    assert_array_equal(q.grad[1], 0.0)  # its output is constant, so no gradient
    assert_allclose(w.data[[0, 2]].sum(axis=-1), 1.0, rtol=1e-6)


def test_extreme_scores_stay_finite():
    scores = Tensor(np.array([[1e4, -1e4, 0.0], [3e4, 3e4, 3e4]], dtype=np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = masked_softmax(scores, np.array([True, True, False])).data
    assert_allclose(w, [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]], atol=1e-7)


@pytest.mark.parametrize("masked", [False, True])
def test_sdpa_gradcheck(rng, masked):
    q, k, v = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3, 2))
    mask = causal_mask(3) if masked else None
    assert gradcheck(
        lambda a, b, c: scaled_dot_product_attention(a, b, c, mask)[0] * Tensor(np.arange(12.0).reshape(2, 3, 2)),
        q,
        k,
        v,
    )


def test_bad_masks_are_rejected(rng):
    q = Tensor(rng.standard_normal((3, 2)))
    with pytest.raises(ValueError, match="boolean or 0/1"):
        scaled_dot_product_attention(q, q, q, np.where(causal_mask(3), 0.0, -np.inf))
    with pytest.raises(ValueError, match="does not broadcast"):
        scaled_dot_product_attention(q, q, q, np.ones((2, 2), dtype=bool))


def test_sdpa_shape_mismatch_raises(rng):
    with pytest.raises(ValueError, match="do not fit"):
        scaled_dot_product_attention(Tensor(np.ones((3, 2))), Tensor(np.ones((3, 4))), Tensor(np.ones((3, 4))))


@pytest.mark.parametrize("q_len, k_len", [(4, 4), (1, 5), (2, 5)])
def test_causal_mask(q_len, k_len):
    m = causal_mask(q_len, k_len)
    offset = k_len - q_len  # queries are the LAST q_len positions
    expected = np.array([[j <= i + offset for j in range(k_len)] for i in range(q_len)])
    assert m.dtype == bool
    assert_array_equal(m, expected)


@pytest.mark.parametrize("q_len, k_len", [(0, 3), (4, 3)])
def test_causal_mask_rejects_bad_lengths(q_len, k_len):
    with pytest.raises(ValueError, match="seq_q <= seq_k"):
        causal_mask(q_len, k_len)


# ----------------------------------------------------------------------------- MultiHeadAttention
def _mha_reference(mha: MultiHeadAttention, x: np.ndarray, mask=None) -> np.ndarray:
    """Heads computed one by one with plain NumPy from the projection weights."""

    def proj(layer, a):
        return a @ layer.weight.data.T + layer.bias.data

    q, k, v = proj(mha.q_proj, x), proj(mha.k_proj, x), proj(mha.v_proj, x)
    d = mha.head_dim
    heads = [
        _reference_attention(
            q[..., h * d : (h + 1) * d], k[..., h * d : (h + 1) * d], v[..., h * d : (h + 1) * d], mask
        )[0]
        for h in range(mha.num_heads)
    ]
    return proj(mha.out_proj, np.concatenate(heads, axis=-1))


@pytest.mark.parametrize("num_heads", [1, 2, 4])
@pytest.mark.parametrize("masked", [False, True])
def test_mha_matches_per_head_reference(rng, num_heads, masked):
    mha = MultiHeadAttention(8, num_heads)
    x = rng.standard_normal((2, 5, 8)).astype(np.float32)
    mask = causal_mask(5) if masked else None
    out, w = mha(Tensor(x), mask, return_weights=True)
    assert out.shape == (2, 5, 8) and w.shape == (2, num_heads, 5, 5)
    assert_allclose(out.data, _mha_reference(mha, x.astype(np.float64), mask), rtol=1e-4, atol=1e-5)


def test_mha_has_four_linear_children():
    mha = MultiHeadAttention(8, 2)
    linears = {name for name, m in mha.named_modules() if isinstance(m, Linear)}
    assert linears == {"q_proj", "k_proj", "v_proj", "out_proj"}
    assert len(mha.parameters()) == 8


class _Spy(Module):
    """Stands in for a Linear with no .weight attribute: MHA must only call its projections."""

    def __init__(self, inner: Linear):
        self._inner_fn = inner.forward  # a bound method, not a Module attribute
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self._inner_fn(x)


def test_mha_only_calls_its_projections(rng):
    mha = MultiHeadAttention(8, 2)
    x = Tensor(rng.standard_normal((1, 3, 8)))
    before = mha(x).data
    spies = {}
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        spies[name] = _Spy(mha.get_submodule(name))
        mha.set_submodule(name, spies[name])
    assert_array_equal(mha(x).data, before)
    assert {name: s.calls for name, s in spies.items()} == dict.fromkeys(spies, 1)


def test_mha_future_tokens_have_no_influence(rng):
    mha = MultiHeadAttention(8, 2)
    x = rng.standard_normal((2, 6, 8)).astype(np.float32)
    perturbed = x.copy()
    perturbed[:, 4:] += 10.0 * rng.standard_normal((2, 2, 8)).astype(np.float32)
    a = mha(Tensor(x), causal_mask(6)).data
    b = mha(Tensor(perturbed), causal_mask(6)).data
    assert_array_equal(a[:, :4], b[:, :4])  # bit-identical, not merely close
    assert not np.allclose(a[:, 4:], b[:, 4:])


def test_mha_gradients_reach_input_and_every_projection(rng):
    mha = MultiHeadAttention(4, 2)
    x = Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    mha(x, causal_mask(3)).sum().backward()
    assert x.grad is not None and np.any(x.grad != 0)
    assert all(p.grad is not None and np.any(p.grad != 0) for p in mha.parameters())


@pytest.mark.parametrize("embed_dim, num_heads", [(10, 3), (8, 0), (0, 2)])
def test_mha_rejects_bad_sizes(embed_dim, num_heads):
    with pytest.raises(ValueError, match="num_heads|embed_dim"):
        MultiHeadAttention(embed_dim, num_heads)


def test_mha_rejects_wrong_input_shape():
    with pytest.raises(ValueError, match=r"\(batch, seq, 8\)"):
        MultiHeadAttention(8, 2)(Tensor(np.zeros((3, 8))))


class _ListCache:
    """The minimal cache protocol MHA relies on (module 15 provides the real, preallocated one)."""

    def __init__(self):
        self.k, self.v = {}, {}

    def append(self, layer_idx, k, v):
        self.k[layer_idx] = np.concatenate([self.k[layer_idx], k], axis=2) if layer_idx in self.k else k
        self.v[layer_idx] = np.concatenate([self.v[layer_idx], v], axis=2) if layer_idx in self.v else v

    def get(self, layer_idx):
        return self.k[layer_idx], self.v[layer_idx]


def test_mha_with_cache_matches_full_causal_pass(rng):
    mha = MultiHeadAttention(8, 2)
    x = rng.standard_normal((2, 5, 8)).astype(np.float32)
    full = mha(Tensor(x), causal_mask(5)).data
    cache = _ListCache()
    with no_grad():
        first = mha(Tensor(x[:, :3]), causal_mask(3), cache=cache, layer_idx=0).data  # prefill 3 positions
        steps = [mha(Tensor(x[:, t : t + 1]), causal_mask(1, t + 1), cache=cache, layer_idx=0).data for t in (3, 4)]
    assert cache.get(0)[0].shape == (2, 2, 5, 4)
    assert_allclose(np.concatenate([first, *steps], axis=1), full, rtol=1e-5, atol=1e-6)


def test_mha_cache_refuses_to_record_gradients(rng):
    mha = MultiHeadAttention(4, 2)
    with pytest.raises(RuntimeError, match="no_grad"):
        mha(Tensor(rng.standard_normal((1, 2, 4))), cache=_ListCache())

"""Module 15 — KVCache and generate(): the cache is exact, complete, bounded, and only feeds new tokens."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor
from tinytorch.generation.kv_cache import KVCache, generate
from tinytorch.models.transformer import GPT

VOCAB = 13


def _gpt(seed: int = 0, tie_weights: bool = False, **kw) -> GPT:
    np.random.seed(seed)
    return GPT(VOCAB, embed_dim=8, num_layers=2, num_heads=2, max_seq_len=12, tie_weights=tie_weights, **kw)


# ----------------------------------------------------------------------------- KVCache
def _cache(**kw) -> KVCache:
    args = dict(num_layers=2, batch_size=1, num_heads=2, head_dim=3, max_seq_len=4)
    return KVCache(**{**args, **kw})


def test_cache_appends_per_layer_and_returns_what_was_written(rng):
    cache = _cache()
    k1, v1 = rng.standard_normal((2, 1, 2, 3, 3))
    k2, v2 = rng.standard_normal((2, 1, 2, 1, 3))
    assert cache.seq_len == 0
    for layer in (0, 1):
        cache.append(layer, k1 * (layer + 1), v1)
    assert cache.seq_len == 3
    cache.append(0, k2, v2)
    assert cache.lengths == [4, 3]
    k, v = (t.data for t in cache.get(0))  # get() returns Tensors over the cache's arrays
    assert_allclose(k, np.concatenate([k1, k2], axis=2), rtol=1e-6)
    assert_allclose(v, np.concatenate([v1, v2], axis=2), rtol=1e-6)
    assert_allclose(cache.get(1)[0].data, 2 * k1, rtol=1e-6)
    with pytest.raises(RuntimeError, match="reset"):  # layers disagree: a forward pass stopped midway
        _ = cache.seq_len


def test_cache_is_preallocated_and_reset_keeps_arrays():
    cache = _cache()
    assert cache.keys[0].shape == (1, 2, 4, 3) and cache.keys[0].dtype == np.float32
    assert cache.nbytes == 2 * 2 * 1 * 2 * 4 * 3 * 4
    before = cache.keys[0]
    cache.append(0, np.ones((1, 2, 2, 3)), np.ones((1, 2, 2, 3)))
    cache.reset()
    assert cache.lengths == [0, 0] and cache.position == 0
    assert cache.keys[0] is before
    assert cache.get(0)[0].shape == (1, 2, 0, 3)


def test_cache_overflow_is_a_clear_error():
    cache = _cache()
    cache.append(1, np.zeros((1, 2, 3, 3)), np.zeros((1, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"full: layer 1 holds 3 of max_seq_len=4 .* cannot take 2 more"):
        cache.append(1, np.zeros((1, 2, 2, 3)), np.zeros((1, 2, 2, 3)))
    assert cache.lengths == [0, 3]  # nothing was written


@pytest.mark.parametrize(
    "k_shape, v_shape, match",
    [
        ((1, 2, 1, 4), (1, 2, 1, 4), "head_dim=3"),
        ((2, 2, 1, 3), (2, 2, 1, 3), "batch=1"),
        ((1, 2, 1, 3), (1, 2, 2, 3), "same shape"),
    ],
)
def test_cache_rejects_wrong_shapes(k_shape, v_shape, match):
    with pytest.raises(ValueError, match=match):
        _cache().append(0, np.zeros(k_shape), np.zeros(v_shape))


def test_cache_repr_shows_sizes_and_fill():
    cache = _cache()
    cache.append(0, np.zeros((1, 2, 1, 3)), np.zeros((1, 2, 1, 3)))
    assert repr(cache) == (
        "KVCache(num_layers=2, batch_size=1, num_heads=2, head_dim=3, max_seq_len=4, lengths=[1, 0])"
    )


def test_cache_rejects_bad_layer_and_sizes():
    with pytest.raises(IndexError, match="layer_idx 2"):
        _cache().get(2)
    with pytest.raises(ValueError, match="max_seq_len"):
        _cache(max_seq_len=0)


# ----------------------------------------------------------------------------- prefill and incremental forward
def test_prefill_writes_every_prompt_position(rng):
    gpt = _gpt()
    prompt = rng.integers(0, VOCAB, size=(2, 5))
    cache = KVCache.for_model(gpt, batch_size=2)
    with no_grad():
        gpt.forward(prompt, cache=cache)
        # Layer 0's keys/values computed directly from the block's input.
        x = gpt.position_embedding(gpt.token_embedding(prompt))
        h = gpt.blocks[0].ln1(x)
        attn = gpt.blocks[0].attn
        expected_k = attn.k_proj(h).data.reshape(2, 5, 2, 4).transpose(0, 2, 1, 3)
        expected_v = attn.v_proj(h).data.reshape(2, 5, 2, 4).transpose(0, 2, 1, 3)
    assert cache.lengths == [5, 5]
    k, v = (t.data for t in cache.get(0))  # get() returns Tensors over the cache's arrays
    assert_allclose(k, expected_k, rtol=1e-6, atol=1e-7)
    assert_allclose(v, expected_v, rtol=1e-6, atol=1e-7)
    assert np.all(np.abs(cache.get(1)[0].data).sum(axis=-1) > 0)  # layer 1: no position left empty
    assert_array_equal(cache.keys[0][:, :, 5:], 0.0)  # and nothing written beyond the prompt


@pytest.mark.parametrize("chunks", [(1, 1, 1, 1, 1, 1), (4, 1, 1), (2, 3, 1)])
def test_incremental_logits_match_full_forward(rng, chunks):
    gpt = _gpt(seed=1)
    ids = rng.integers(0, VOCAB, size=(2, sum(chunks)))
    with no_grad():
        full = gpt(ids).data
        cache = KVCache.for_model(gpt, batch_size=2)
        bounds = np.cumsum((0,) + chunks)
        parts = [gpt.forward(ids[:, a:b], cache=cache).data for a, b in zip(bounds, bounds[1:])]
    assert_allclose(np.concatenate(parts, axis=1), full, rtol=1e-4, atol=1e-5)


def test_forward_past_max_seq_len_with_cache_raises(rng):
    gpt = _gpt()
    cache = KVCache.for_model(gpt, batch_size=1)
    with no_grad():
        gpt.forward(np.zeros((1, 10), dtype=np.int64), cache=cache)
        with pytest.raises(ValueError, match="max_seq_len=12"):
            gpt.forward(np.zeros((1, 3), dtype=np.int64), cache=cache)
    assert cache.seq_len == 10  # the failed call wrote nothing


# ----------------------------------------------------------------------------- generate
@pytest.mark.parametrize(
    "seed, prompt_len, tie_weights", [(0, 1, False), (1, 3, True), (2, 6, False), (3, 2, True), (4, 9, True)]
)
def test_greedy_with_cache_equals_without(seed, prompt_len, tie_weights):
    gpt = _gpt(seed, tie_weights)
    prompt = np.random.default_rng(seed).integers(0, VOCAB, size=(2, prompt_len))
    cached = generate(gpt, prompt, 12 - prompt_len, use_cache=True)
    plain = generate(gpt, prompt, 12 - prompt_len, use_cache=False)
    assert cached.shape == (2, 12) and cached.dtype == np.int64
    assert_array_equal(cached[:, :prompt_len], prompt)
    assert_array_equal(cached, plain)


def test_greedy_picks_the_argmax(rng):
    gpt = _gpt()
    prompt = rng.integers(0, VOCAB, size=(3, 4))
    out = generate(gpt, prompt, 2)
    with no_grad():
        first = gpt(prompt).data[:, -1].argmax(axis=-1)
        second = gpt(out[:, :5]).data[:, -1].argmax(axis=-1)
    assert_array_equal(out[:, 4], first)
    assert_array_equal(out[:, 5], second)


def test_cached_steps_feed_only_the_new_token(rng):
    gpt = _gpt()
    seen = []
    real_forward = gpt.forward

    def recording_forward(ids, cache=None):
        seen.append((np.shape(ids), cache is not None))
        return real_forward(ids, cache=cache)

    gpt.forward = recording_forward  # an instance attribute: neither a Tensor nor a Module
    generate(gpt, rng.integers(0, VOCAB, size=(2, 3)), 4, use_cache=True)
    assert seen == [((2, 3), True)] + [((2, 1), True)] * 3  # prefill, then one token per step
    seen.clear()
    generate(gpt, rng.integers(0, VOCAB, size=(2, 3)), 4, use_cache=False)
    assert seen == [((2, n), False) for n in (3, 4, 5, 6)]  # the whole sequence every step


@pytest.mark.zoo(names=["gpt"])
def test_zoo_gpt_cache_equals_no_cache(zoo_model):
    gpt = zoo_model.model.gpt  # fp32 and int8-quantized
    prompt = zoo_model.input(batch=3).data[:, :3]
    for steps in (1, 5):
        assert_array_equal(generate(gpt, prompt, steps), generate(gpt, prompt, steps, use_cache=False))


def test_generate_accepts_tensor_and_1d_prompt():
    gpt = _gpt()
    a = generate(gpt, Tensor(np.array([[1, 2, 3]])), 2)
    b = generate(gpt, [1, 2, 3], 2)
    assert b.shape == (1, 5)
    assert_array_equal(a, b)


def test_generate_is_eval_mode_and_restores_training():
    gpt = _gpt(dropout=0.5)
    gpt.train()
    out = generate(gpt, [[1, 2]], 5)
    assert all(m.training for m in gpt.modules())
    gpt.eval()
    assert_array_equal(out, generate(gpt, [[1, 2]], 5, use_cache=False))


def test_sampling_is_reproducible_with_an_rng():
    gpt = _gpt()
    a = generate(gpt, [[1, 2]], 8, temperature=1.5, rng=np.random.default_rng(7))
    b = generate(gpt, [[1, 2]], 8, temperature=1.5, rng=np.random.default_rng(7))
    c = generate(gpt, [[1, 2]], 8, temperature=1.5, rng=np.random.default_rng(8))
    assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.min() >= 0 and a.max() < VOCAB


def test_zero_new_tokens_returns_the_prompt():
    assert_array_equal(generate(_gpt(), [[4, 5]], 0), [[4, 5]])


@pytest.mark.parametrize(
    "prompt, new, kw, error, match",
    [
        ([[1, 2]], 11, {}, ValueError, "max_seq_len=12"),
        ([[1, 2]], -1, {}, ValueError, "max_new_tokens"),
        ([[1.0, 2.0]], 1, {}, TypeError, "integer"),
        ([[]], 1, {}, ValueError, "non-empty"),
        ([[1, 2]], 1, {"temperature": -1.0}, ValueError, "temperature"),
    ],
)
def test_generate_rejects_bad_arguments(prompt, new, kw, error, match):
    with pytest.raises(error, match=match):
        generate(_gpt(), prompt, new, **kw)

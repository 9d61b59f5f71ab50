"""Module 15: ``KVCache`` as TinyTorch's notebooks build and fill it — positional shape in upstream's order
``(batch_size, max_seq_len, num_layers, num_heads, head_dim)``, ``update``/``advance``/``get``,
``enable_kv_cache`` — and the keyword form, ``for_model`` and refusals of a cache that does not fit."""

from __future__ import annotations

import re

import numpy as np
import pytest

import tinytorch
from tinytorch.core.tensor import Tensor
from tinytorch.generation import kv_cache
from tinytorch.generation.kv_cache import KVCache, KVCacheRangeError, disable_kv_cache, enable_kv_cache, generate

SHAPE = {"num_layers": 2, "batch_size": 1, "num_heads": 4, "head_dim": 8, "max_seq_len": 16}


def test_positional_arguments_follow_tinytorchs_order():
    cache = KVCache(1, 16, 2, 4, 8)  # batch_size, max_seq_len, num_layers, num_heads, head_dim
    assert (cache.batch_size, cache.max_seq_len, cache.num_layers, cache.num_heads, cache.head_dim) == (1, 16, 2, 4, 8)
    assert cache.keys[0].shape == (1, 4, 16, 8) and len(cache.keys) == 2


def test_keywords_in_any_order_build_the_same_cache():
    a = KVCache(**SHAPE)
    b = KVCache(**dict(reversed(list(SHAPE.items()))))
    assert a.keys[0].shape == b.keys[0].shape == (1, 4, 16, 8) and len(a.keys) == 2


def test_for_model_still_builds_a_cache():
    class Shape:
        num_layers, num_heads, head_dim, max_seq_len = 3, 2, 4, 10

    cache = KVCache.for_model(Shape(), batch_size=5)
    assert cache.keys[0].shape == (5, 2, 10, 4) and cache.num_layers == 3
    assert cache.keys[0].dtype == np.float32


def test_update_advance_get_as_in_the_notebook():
    batch_size, max_seq_len, num_layers, num_heads, head_dim = 2, 8, 3, 2, 4
    cache = KVCache(batch_size, max_seq_len, num_layers, num_heads, head_dim)
    assert cache.seq_pos == 0
    for step in range(3):
        for layer_idx in range(num_layers):
            key = Tensor(np.full((batch_size, num_heads, 1, head_dim), step + layer_idx, dtype=np.float32))
            value = Tensor(np.full((batch_size, num_heads, 1, head_dim), -step, dtype=np.float32))
            cache.update(layer_idx, key, value)
        cache.advance()
    assert cache.seq_pos == 3
    cached_k, cached_v = cache.get(1)
    assert isinstance(cached_k, Tensor) and isinstance(cached_v, Tensor)
    assert cached_k.shape == (batch_size, num_heads, 3, head_dim)
    assert cached_k.data[0, 0, :, 0].tolist() == [1.0, 2.0, 3.0]
    assert cached_v.data[0, 0, :, 0].tolist() == [0.0, -1.0, -2.0]
    usage = cache.get_memory_usage()
    assert usage["total_mb"] == pytest.approx(
        2 * num_layers * batch_size * num_heads * max_seq_len * head_dim * 4 / 2**20
    )
    assert usage["per_layer_mb"] == pytest.approx(usage["total_mb"] / num_layers)
    cache.reset()
    assert cache.seq_pos == 0 and cache.get(0)[0].shape == (batch_size, num_heads, 0, head_dim)


def test_a_full_cache_and_a_bad_layer_raise_one_type_that_is_index_and_value_error():
    assert issubclass(KVCacheRangeError, IndexError) and issubclass(KVCacheRangeError, ValueError)
    cache = KVCache(1, 2, 1, 1, 2)
    one = Tensor(np.zeros((1, 1, 1, 2), dtype=np.float32))
    for _ in range(2):
        cache.update(0, one, one)
        cache.advance()
    with pytest.raises(KVCacheRangeError, match="full"):
        cache.update(0, one, one)
    with pytest.raises(ValueError, match="full"):
        cache.advance()
    with pytest.raises(IndexError, match="layer_idx 1 out of range"):
        cache.get(1)
    with pytest.raises(ValueError, match="layer_idx 5"):
        cache.update(5, one, one)


def test_update_refuses_a_wrong_shape():
    cache = KVCache(1, 4, 1, 2, 3)
    with pytest.raises(ValueError, match=r"key must have shape \(batch=1, heads=2, 1, head_dim=3\)"):
        cache.update(0, np.zeros((1, 2, 2, 3)), np.zeros((1, 2, 2, 3)))


def _gpt():
    from tinytorch.models.transformer import GPT

    np.random.seed(0)
    return GPT(vocab_size=11, embed_dim=8, num_layers=2, num_heads=2, max_seq_len=12)


def test_enable_kv_cache_attaches_the_cache_generation_uses():
    model = _gpt()
    prompt = np.array([[1, 2, 3]])
    expected = generate(model, prompt, 4, use_cache=False)
    cache = enable_kv_cache(model)
    assert model._kv_cache is cache and model._cache_enabled is True
    assert (cache.num_layers, cache.num_heads, cache.head_dim) == (2, 2, 4)
    assert np.array_equal(generate(model, prompt, 4), expected)
    assert cache.seq_pos == 3 + 3  # the prompt plus every generated token but the last was cached
    disable_kv_cache(model)
    assert model._cache_enabled is False and model._kv_cache is None
    assert np.array_equal(generate(model, prompt, 4), expected)


@pytest.mark.parametrize(
    "shape, wrong",
    [
        ((1, 12, 1, 2, 4), "num_layers=1 (needs 2)"),
        ((1, 12, 3, 2, 4), "num_layers=3 (needs 2)"),
        ((1, 12, 2, 1, 8), "num_heads=1 (needs 2)"),
        ((1, 12, 2, 2, 2), "head_dim=2 (needs 4)"),
        ((2, 12, 2, 2, 4), "batch_size=2 (needs 1)"),
    ],
)
def test_a_cache_that_does_not_fit_the_model_is_refused_before_any_write(shape, wrong):
    from tinytorch.core.autograd import no_grad

    model = _gpt()
    cache = KVCache(*shape)
    with no_grad(), pytest.raises(ValueError, match="does not fit.*" + re.escape(wrong)):
        model.forward(np.array([[1, 2]]), cache=cache)
    assert cache.lengths == [0] * cache.num_layers and cache.seq_pos == 0
    assert all(not k.any() for k in cache.keys)  # nothing was written
    model._kv_cache, model._cache_enabled = cache, True  # the same refusal through generate
    with pytest.raises(ValueError, match="does not fit"):
        generate(model, np.array([[1, 2]]), 2)


def test_generate_names_a_badly_typed_argument():
    model = _gpt()
    with pytest.raises(TypeError, match=r"temperature must be a real number.*got str '0.5'"):
        generate(model, [[1, 2]], 2, temperature="0.5")
    with pytest.raises(TypeError, match=r"rng must be a numpy.random.Generator, an int seed or None, got str"):
        generate(model, [[1, 2]], 2, temperature=1.0, rng="42")


def test_an_int_rng_is_a_seed_as_in_numpy():
    model = _gpt()
    a = generate(model, [[1, 2]], 4, temperature=1.0, rng=42)
    b = generate(model, [[1, 2]], 4, temperature=1.0, rng=np.random.default_rng(42))
    assert np.array_equal(a, b)


@pytest.mark.parametrize("name", ["KVCache", "generate"])
def test_top_level_names_are_the_same_objects(name):
    assert getattr(tinytorch, name) is getattr(kv_cache, name)


def test_upstream_path_perf_memoization_is_the_same_objects():
    from tinytorch.perf import memoization

    for name in ("KVCache", "enable_kv_cache", "disable_kv_cache", "generate", "KVCacheRangeError"):
        assert getattr(memoization, name) is getattr(kv_cache, name)
    from tinytorch.perf.memoization import KVCache as Upstream

    assert Upstream is KVCache


def test_a_layer_index_that_is_not_an_int_and_a_model_without_sizes_are_type_errors():
    with pytest.raises(TypeError, match="layer_idx must be an int, got str"):
        KVCache(1, 2, 1, 1, 2).get("0")
    with pytest.raises(TypeError, match="enable_kv_cache: the model has no 'num_layers'"):
        enable_kv_cache(object())
    assert "KVCache(" in repr(KVCache(1, 2, 1, 1, 2))

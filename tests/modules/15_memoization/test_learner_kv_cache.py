"""Module 15: ``KVCache`` shape arguments are keyword-only, so another project's positional order raises."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch
from tinytorch.generation import kv_cache
from tinytorch.generation.kv_cache import KVCache

SHAPE = {"num_layers": 2, "batch_size": 1, "num_heads": 4, "head_dim": 8, "max_seq_len": 16}


def test_a_positional_call_in_tinytorchs_order_raises_instead_of_building_a_wrong_cache():
    # TinyTorch: KVCache(batch_size, max_seq_len, num_layers, num_heads, head_dim). Here it would have
    # meant num_layers=1, batch_size=16, ... — every value a valid positive int, so nothing else catches it.
    with pytest.raises(TypeError, match=r"keyword only.*num_layers=\.\.\."):
        KVCache(1, 16, 2, 4, 8)


def test_even_one_positional_value_raises():
    with pytest.raises(TypeError, match="keyword only"):
        KVCache(2, batch_size=1, num_heads=4, head_dim=8, max_seq_len=16)


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


@pytest.mark.parametrize("name", ["KVCache", "generate"])
def test_top_level_names_are_the_same_objects(name):
    assert getattr(tinytorch, name) is getattr(kv_cache, name)

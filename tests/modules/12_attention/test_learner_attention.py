"""Module 12: a ``(batch, seq, seq)`` mask is per SAMPLE, never per head; other shapes raise; the names.

Before issue 12, NumPy broadcasting matched a 3-D mask's first axis against the heads: silently wrong
when batch == num_heads, an error otherwise.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import tinytorch
import tinytorch.nn as nn
from tinytorch.core import attention
from tinytorch.core.attention import MultiHeadAttention, causal_mask
from tinytorch.core.tensor import Tensor

BATCH = HEADS = 2  # equal on purpose: the case that used to be silently wrong
SEQ, EMBED = 4, 8


def _per_sample_masks() -> np.ndarray:
    padded = np.ones((SEQ, SEQ), dtype=bool)
    padded[:, -2:] = False  # sample 1: its last two positions are padding
    return np.stack([causal_mask(SEQ), padded])


def test_a_batch_mask_applies_to_each_sample_across_all_heads(rng):
    mha = MultiHeadAttention(EMBED, HEADS)
    x = rng.standard_normal((BATCH, SEQ, EMBED)).astype(np.float32)
    masks = _per_sample_masks()
    out, weights = mha(Tensor(x), masks, return_weights=True)
    for i in range(BATCH):
        alone = mha(Tensor(x[i : i + 1]), masks[i]).data
        assert_allclose(out.data[i : i + 1], alone, rtol=1e-5, atol=1e-6)
        for h in range(HEADS):
            assert_array_equal(weights.data[i, h] > 0, masks[i])


def test_a_batch_mask_equals_the_same_mask_with_an_explicit_head_axis(rng):
    mha = MultiHeadAttention(EMBED, HEADS)
    x = Tensor(rng.standard_normal((BATCH, SEQ, EMBED)).astype(np.float32))
    masks = _per_sample_masks()
    assert_array_equal(mha(x, masks).data, mha(x, masks[:, None]).data)
    assert_array_equal(mha(x, Tensor(masks)).data, mha(x, masks).data)  # a boolean Tensor mask too


@pytest.mark.parametrize(
    "shape",
    [(SEQ, SEQ), (1, SEQ, SEQ), (BATCH, 1, SEQ), (BATCH, HEADS, SEQ, SEQ), (1, 1, SEQ, SEQ), (BATCH, 1, 1, SEQ)],
)
def test_supported_mask_shapes(rng, shape):
    mha = MultiHeadAttention(EMBED, HEADS)
    x = Tensor(rng.standard_normal((BATCH, SEQ, EMBED)).astype(np.float32))
    assert mha(x, np.ones(shape, dtype=bool)).shape == (BATCH, SEQ, EMBED)


@pytest.mark.parametrize(
    "batch, shape",
    [
        (3, (HEADS, SEQ, SEQ)),  # a per-head mask passed as 3-D: batch 3 != 2
        (BATCH, (SEQ,)),
        (BATCH, (BATCH, SEQ + 1, SEQ)),
        (BATCH, (BATCH, SEQ, SEQ - 1)),
        (BATCH, (BATCH, HEADS + 1, SEQ, SEQ)),
        (BATCH, (1, BATCH, HEADS, SEQ, SEQ)),
    ],
)
def test_other_mask_shapes_raise_naming_the_shape(rng, batch, shape):
    mha = MultiHeadAttention(EMBED, HEADS)
    x = Tensor(rng.standard_normal((batch, SEQ, EMBED)).astype(np.float32))
    with pytest.raises(ValueError, match=r"mask of shape " + repr(shape).replace("(", r"\(").replace(")", r"\)")):
        mha(x, np.ones(shape, dtype=bool))


@pytest.mark.parametrize("name", ["MultiHeadAttention", "scaled_dot_product_attention"])
def test_top_level_names_are_the_same_objects(name):
    assert getattr(tinytorch, name) is getattr(attention, name)


def test_nn_multi_head_attention_is_the_same_class():
    assert nn.MultiHeadAttention is MultiHeadAttention

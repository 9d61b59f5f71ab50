"""Module 13 as TinyTorch's notebook imports it: ``tinytorch.core.transformer`` with ``MLP``, ``GPT``'s
default ``max_seq_len`` and ``create_causal_mask``."""

from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import Tensor
from tinytorch.models import transformer


def test_core_transformer_is_the_same_objects():
    from tinytorch.core import attention
    from tinytorch.core.transformer import GPT, MLP, LayerNorm, MultiHeadAttention, TransformerBlock, create_causal_mask

    assert (GPT, MLP, LayerNorm, TransformerBlock) == (
        transformer.GPT,
        transformer.MLP,
        transformer.LayerNorm,
        transformer.TransformerBlock,
    )
    assert MultiHeadAttention is attention.MultiHeadAttention
    assert create_causal_mask is transformer.create_causal_mask


def test_mlp_as_in_the_notebook():
    from tinytorch.core.transformer import MLP

    mlp = MLP(embed_dim=8)
    assert mlp.linear1.out_features == 32 and mlp.linear2.in_features == 32  # hidden = 4 * embed_dim
    assert mlp.dropout_prob == 0.1 and callable(mlp.gelu)
    assert len(mlp.parameters()) == 4
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3, 8)).astype(np.float32))
    out = mlp.forward(x)
    assert out.shape == (2, 3, 8)
    expected = mlp.linear2(mlp.gelu(mlp.linear1(x)))
    assert np.array_equal(out.data, expected.data)
    assert MLP(4, hidden_dim=6).linear1.out_features == 6


def test_the_blocks_feed_forward_part_is_an_mlp():
    block = transformer.TransformerBlock(embed_dim=8, num_heads=2)
    assert type(block.mlp) is transformer.MLP
    assert block.mlp.layers == (block.mlp.linear1, block.mlp.gelu, block.mlp.linear2)


def test_gpt_default_max_seq_len_and_the_causal_mask():
    from tinytorch.core.transformer import GPT, create_causal_mask

    np.random.seed(0)
    model = GPT(vocab_size=10, embed_dim=8, num_layers=1, num_heads=2)
    assert model.max_seq_len == 1024
    mask = create_causal_mask(3)
    assert mask.shape == (1, 3, 3) and mask.data.tolist()[0] == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert model(np.array([[1, 2, 3]])).shape == (1, 3, 10)


def test_mlp_refuses_a_dropout_probability_outside_0_1():
    import pytest

    with pytest.raises(ValueError, match=r"dropout_prob must be in \[0, 1\)"):
        transformer.MLP(4, dropout_prob=1.5)
    assert "(linear1): Linear(in_features=4, out_features=16" in repr(transformer.MLP(4))

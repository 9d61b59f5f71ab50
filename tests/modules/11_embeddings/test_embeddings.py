"""Module 11 — Embedding (gather / scatter-add) and PositionalEncoding (sinusoidal or learned)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from tinytorch.core.layers import Parameter
from tinytorch.core.tensor import Tensor
from tinytorch.text.embeddings import Embedding, PositionalEncoding, sinusoidal_encoding


@pytest.mark.parametrize("shape", [(5,), (2, 3), (2, 3, 2)])
@pytest.mark.parametrize("wrap", [Tensor, np.asarray, lambda a: a.tolist()], ids=["tensor", "ndarray", "list"])
def test_embedding_gathers_rows(rng, shape, wrap):
    emb = Embedding(7, 4)
    ids = rng.integers(0, 7, size=shape)
    out = emb(wrap(ids))
    assert out.shape == shape + (4,)
    assert out.dtype == np.float32
    assert_array_equal(out.data, emb.weight.data[ids])


def test_embedding_backward_scatter_adds_repeated_ids(rng):
    emb = Embedding(5, 3)
    ids = np.array([[1, 3, 1], [1, 0, 3]])
    upstream = rng.standard_normal((2, 3, 3)).astype(np.float32)
    emb(ids).backward(upstream)
    expected = np.zeros((5, 3), dtype=np.float32)
    for (b, t), i in np.ndenumerate(ids):
        expected[i] += upstream[b, t]
    assert_allclose(emb.weight.grad, expected, rtol=1e-6)
    assert_array_equal(emb.weight.grad[[2, 4]], 0.0)  # unused rows get no gradient
    # Equivalent to a one-hot matmul, whose gradient is onehotᵀ @ upstream.
    onehot = np.eye(5, dtype=np.float32)[ids.reshape(-1)]
    assert_allclose(emb.weight.grad, onehot.T @ upstream.reshape(-1, 3), rtol=1e-6)


def test_embedding_weight_is_a_parameter():
    emb = Embedding(6, 2)
    assert isinstance(emb.weight, Parameter) and emb.weight.shape == (6, 2)
    assert emb.parameters() == [emb.weight]


@pytest.mark.parametrize("bad", [-1, 7, 100])
def test_embedding_out_of_range_ids_raise_index_error(bad):
    emb = Embedding(7, 2)
    with pytest.raises(IndexError, match=rf"token id {bad} .*vocab_size=7"):
        emb(np.array([[0, bad]]))


@pytest.mark.parametrize("ids", [np.array([0.0, 1.0]), np.array([True, False]), Tensor([1.0])])
def test_embedding_rejects_non_integer_ids(ids):
    with pytest.raises(TypeError, match="integer"):
        Embedding(3, 2)(ids)


@pytest.mark.parametrize("args", [(0, 4), (4, 0), (2.5, 4)])
def test_embedding_rejects_bad_sizes(args):
    with pytest.raises(ValueError, match="positive int"):
        Embedding(*args)


# ----------------------------------------------------------------------------- positional encoding
def test_sinusoidal_table_matches_formula():
    table = sinusoidal_encoding(6, 4)
    pos = np.arange(6)
    assert_allclose(table[:, 0], np.sin(pos), rtol=1e-6, atol=1e-7)
    assert_allclose(table[:, 1], np.cos(pos), rtol=1e-6, atol=1e-7)
    assert_allclose(table[:, 2], np.sin(pos / 100.0), rtol=1e-6, atol=1e-7)
    assert_allclose(table[:, 3], np.cos(pos / 100.0), rtol=1e-6, atol=1e-7)
    assert sinusoidal_encoding(3, 5).shape == (3, 5)  # odd embed_dim: one fewer cos column


def test_sinusoidal_is_a_buffer_and_adds_to_input(rng):
    pe = PositionalEncoding(10, 4)
    assert pe.parameters() == []
    assert list(pe.state_dict()) == ["encoding"]
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    assert_allclose(pe(Tensor(x)).data, x + sinusoidal_encoding(10, 4)[:3], rtol=1e-6)


def test_start_pos_offsets_the_positions(rng):
    pe = PositionalEncoding(10, 4)
    x = rng.standard_normal((1, 2, 4)).astype(np.float32)
    assert_allclose(pe(Tensor(x), start_pos=5).data, x + sinusoidal_encoding(10, 4)[5:7], rtol=1e-6)


def test_learned_positions_are_trained(rng):
    pe = PositionalEncoding(5, 3, learned=True)
    assert [p is pe.weight for p in pe.parameters()] == [True]
    x = Tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
    out = pe(x)
    assert_allclose(out.data, x.data + pe.weight.data[:2], rtol=1e-6)
    out.backward(np.ones(out.shape, dtype=np.float32))
    expected = np.zeros((5, 3), dtype=np.float32)
    expected[:2] = 4.0  # summed over the batch, only the positions used
    assert_array_equal(pe.weight.grad, expected)
    assert_array_equal(x.grad, np.ones((4, 2, 3)))


@pytest.mark.parametrize("learned", [False, True])
@pytest.mark.parametrize("seq, start", [(6, 0), (3, 3), (1, 5)])
def test_too_long_sequence_raises(learned, seq, start):
    pe = PositionalEncoding(5, 2, learned=learned)
    with pytest.raises(ValueError, match="max_seq_len=5"):
        pe(Tensor(np.zeros((1, seq, 2))), start_pos=start)


def test_wrong_embed_dim_raises():
    with pytest.raises(ValueError, match=r"\(batch, seq, 4\)"):
        PositionalEncoding(5, 4)(Tensor(np.zeros((1, 2, 3))))

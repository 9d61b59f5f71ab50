"""Module 13 — LayerNorm, the pre-norm TransformerBlock, and GPT (shapes, causality, tying, training)."""

from __future__ import annotations

import numpy as np
import pytest
import zoo
from numpy.testing import assert_allclose, assert_array_equal

from tinytorch.core.attention import causal_mask
from tinytorch.core.autograd import gradcheck
from tinytorch.core.layers import Linear, Parameter
from tinytorch.core.tensor import Tensor
from tinytorch.models.transformer import GPT, LayerNorm, TransformerBlock


def _tiny_gpt(tie_weights=False, **kw) -> GPT:
    return GPT(vocab_size=11, embed_dim=8, num_layers=2, num_heads=2, max_seq_len=6, tie_weights=tie_weights, **kw)


def _cross_entropy(logits: Tensor, targets: np.ndarray) -> Tensor:
    """Mean CE over all positions, from Tensor ops (log-softmax with a constant max shift)."""
    flat = logits.reshape(-1, logits.shape[-1])
    shifted = flat - flat.data.max(axis=-1, keepdims=True)
    log_probs = shifted - shifted.exp().sum(axis=-1, keepdims=True).log()
    return -log_probs[np.arange(flat.shape[0]), targets.reshape(-1)].mean()


# ----------------------------------------------------------------------------- LayerNorm
def test_layernorm_normalises_last_axis(rng):
    ln = LayerNorm(6)
    x = rng.standard_normal((3, 4, 6)) * 5 + 2
    out = ln(Tensor(x)).data
    assert_allclose(out.mean(axis=-1), 0.0, atol=1e-5)
    assert_allclose(out.var(axis=-1), 1.0, rtol=1e-3)
    expected = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_layernorm_parameters_and_affine(rng):
    ln = LayerNorm(4)
    assert isinstance(ln.gamma, Parameter) and isinstance(ln.beta, Parameter)
    assert_array_equal(ln.gamma.data, 1.0) and assert_array_equal(ln.beta.data, 0.0)
    ln.gamma.data[...] = [1, 2, 3, 4]
    ln.beta.data[...] = [0, 1, 0, -1]
    x = rng.standard_normal((2, 4))
    plain = LayerNorm(4)(Tensor(x)).data
    assert_allclose(ln(Tensor(x)).data, plain * [1, 2, 3, 4] + [0, 1, 0, -1], rtol=1e-5, atol=1e-6)


def test_layernorm_gradcheck(rng):
    ln = LayerNorm(4)

    def fn(x, gamma, beta):
        ln.gamma, ln.beta = gamma, beta
        return ln(x) * Tensor(np.arange(12.0).reshape(3, 4))  # a non-uniform weighting of the outputs

    assert gradcheck(fn, rng.standard_normal((3, 4)), rng.standard_normal(4) + 1, rng.standard_normal(4))


def test_layernorm_constant_input_is_finite():
    out = LayerNorm(3)(Tensor(np.full((2, 3), 7.0))).data
    assert_array_equal(out, 0.0)


@pytest.mark.parametrize("args", [(0,), (4, 0.0)])
def test_layernorm_rejects_bad_args(args):
    with pytest.raises(ValueError):
        LayerNorm(*args)


# ----------------------------------------------------------------------------- TransformerBlock
def test_block_is_prenorm_residual(rng):
    block = TransformerBlock(8, 2, mlp_ratio=2)
    x = Tensor(rng.standard_normal((2, 5, 8)))
    mask = causal_mask(5)
    h = x + block.attn(block.ln1(x), mask)
    expected = h + block.mlp(block.ln2(h))
    assert_allclose(block(x, mask).data, expected.data, rtol=1e-6)
    linears = [n for n, m in block.named_modules() if isinstance(m, Linear)]
    assert len(linears) == 6  # 4 attention projections + 2 in the MLP
    assert block.mlp.layers[0].out_features == 16 and block.mlp.layers[2].in_features == 16


def test_block_dropout_only_in_training(rng):
    block = TransformerBlock(8, 2, dropout=0.5)
    x = Tensor(rng.standard_normal((1, 3, 8)))
    block.eval()
    assert_array_equal(block(x).data, block(x).data)
    block.train()
    assert not np.allclose(block(x).data, block(x).data)


# ----------------------------------------------------------------------------- GPT
def test_gpt_logits_shape_and_structure(rng):
    gpt = _tiny_gpt()
    ids = rng.integers(0, 11, size=(3, 5))
    logits = gpt(Tensor(ids))
    assert logits.shape == (3, 5, 11)
    assert isinstance(gpt.blocks, list) and len(gpt.blocks) == 2
    assert gpt.lm_head.bias is None and gpt.lm_head.weight.shape == (11, 8)
    assert_array_equal(gpt.forward(ids).data, logits.data)  # ndarray ids and forward() work too


def test_gpt_future_tokens_have_no_influence(rng):
    gpt = _tiny_gpt()
    ids = rng.integers(0, 11, size=(2, 6))
    changed = ids.copy()
    changed[:, 3:] = (changed[:, 3:] + 1 + rng.integers(0, 9, size=(2, 3))) % 11  # every future token differs
    a, b = gpt(ids).data, gpt(changed).data
    assert_array_equal(a[:, :3], b[:, :3])  # bit-identical
    assert not np.allclose(a[:, 3:], b[:, 3:])


def test_tied_weights_share_one_parameter():
    tied, untied = _tiny_gpt(tie_weights=True), _tiny_gpt(tie_weights=False)
    assert tied.lm_head.weight is tied.token_embedding.weight
    assert untied.lm_head.weight is not untied.token_embedding.weight
    assert len(untied.parameters()) - len(tied.parameters()) == 1
    assert len(untied.state_dict()) - len(tied.state_dict()) == 1


def test_tied_gradient_is_the_sum_of_both_uses(rng):
    np.random.seed(3)
    tied = _tiny_gpt(tie_weights=True)
    np.random.seed(3)
    untied = _tiny_gpt(tie_weights=False)
    untied.lm_head.weight.data[...] = untied.token_embedding.weight.data  # same numbers, two Parameters
    ids = rng.integers(0, 11, size=(2, 4))
    targets = rng.integers(0, 11, size=(2, 4))
    for model in (tied, untied):
        _cross_entropy(model(ids), targets).backward()
    expected = untied.token_embedding.weight.grad + untied.lm_head.weight.grad
    assert_allclose(tied.token_embedding.weight.grad, expected, rtol=1e-4, atol=1e-6)


def test_every_parameter_gets_a_gradient(rng):
    gpt = _tiny_gpt()
    ids = rng.integers(0, 11, size=(2, 6))
    _cross_entropy(gpt(ids), rng.integers(0, 11, size=(2, 6))).backward()
    missing = [n for n, p in gpt.named_parameters() if p.grad is None or not np.any(p.grad)]
    assert missing == []


@pytest.mark.parametrize("tie_weights", [False, True])
def test_training_lowers_the_loss(tie_weights):
    text = "abcabcabcabcabcabcabc"  # a trivially predictable sequence
    data = np.array([ord(c) - ord("a") for c in text])
    windows = np.stack([data[i : i + 7] for i in range(8)])
    inputs, targets = windows[:, :-1], windows[:, 1:]
    gpt = GPT(vocab_size=3, embed_dim=8, num_layers=1, num_heads=2, max_seq_len=6, tie_weights=tie_weights)
    losses = []
    for _ in range(15):
        gpt.zero_grad()
        loss = _cross_entropy(gpt(inputs), targets)
        loss.backward()
        losses.append(loss.item())
        for p in gpt.parameters():
            p.data -= 0.3 * p.grad
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize(
    "ids, error, match",
    [
        (np.zeros(4, dtype=np.int64), ValueError, r"\(batch, seq\)"),
        (np.zeros((1, 7), dtype=np.int64), ValueError, "max_seq_len=6"),
        (np.zeros((1, 0), dtype=np.int64), ValueError, "empty"),
        (np.zeros((1, 3)), TypeError, "integer"),
        (np.full((1, 3), 11), IndexError, "vocab_size=11"),
    ],
)
def test_gpt_rejects_bad_ids(ids, error, match):
    with pytest.raises(error, match=match):
        _tiny_gpt()(ids)


# ----------------------------------------------------------------------------- the zoo's GPT entry
@pytest.mark.zoo(tags=["gpt"])
def test_zoo_gpt_wraps_a_gpt(zoo_model):
    x = zoo_model.input(batch=3)
    assert x.dtype == np.int64
    gpt = zoo_model.model.gpt
    assert isinstance(gpt, GPT)
    out = zoo_model.model(x)
    assert out.shape == (3, zoo_model.entry.num_classes)
    assert_array_equal(out.data, gpt(x).data[:, -1, :])  # the wrapper returns last-position logits


@pytest.mark.zoo(tags=["gpt"])
def test_zoo_gpt_stays_causal(zoo_model):
    """Changing the last token changes no logit before it, quantized or not."""
    gpt, ids = zoo_model.model.gpt.eval(), zoo_model.input(batch=3).data
    changed = ids.copy()
    changed[:, -1] = (changed[:, -1] + 1) % zoo_model.entry.num_classes
    assert_allclose(gpt(changed).data[:, :-1], gpt(ids).data[:, :-1], rtol=1e-5, atol=1e-6)


@pytest.mark.zoo(tags=["tied"], variants=zoo.ALL_VARIANTS)
def test_zoo_tied_weights_survive_quantization(zoo_model):
    """The zoo GPT ties ``lm_head.weight`` to ``token_embedding.weight``; every variant keeps the tie: one
    Parameter (counted once, saved once), one gradient that sums both uses, one update that moves both."""
    gpt = zoo_model.model.gpt
    assert gpt.lm_head.weight is gpt.token_embedding.weight, f"{zoo_model.id}: the weight tie was broken"
    assert isinstance(gpt.lm_head.weight, Parameter)
    tied = [n for n, t in zoo_model.model.named_tensors() if t is gpt.token_embedding.weight]
    assert tied == ["gpt.token_embedding.weight"], tied  # once, under the embedding's name
    assert not [k for k in zoo_model.model.state_dict() if k.startswith("gpt.lm_head.weight")]
    x, y = zoo_model.input(batch=2), zoo_model.target(batch=2)
    logits = zoo_model.model(x)
    shifted = logits - logits.data.max(axis=-1, keepdims=True)
    loss = -(shifted - shifted.exp().sum(axis=-1, keepdims=True).log())[np.arange(2), y].mean()
    loss.backward()
    grad = gpt.token_embedding.weight.grad
    assert grad is not None and gpt.lm_head.weight.grad is grad
    rows_used = np.unique(x.data)
    unused = np.setdiff1d(np.arange(grad.shape[0]), rows_used)
    assert np.any(grad[unused] != 0), "the lm_head use adds gradient to rows no input token looked up"
    before = gpt(x).data[:, -1].copy()
    gpt.token_embedding.weight.data[y] += 1.0  # one array: the head's logits for those tokens move too
    assert not np.array_equal(gpt(x).data[:, -1], before)


@pytest.mark.zoo(tags=["sequence"], variants=["fp32"])
def test_zoo_sequence_models_take_token_ids(zoo_model):
    x = zoo_model.input(batch=2)
    out = zoo_model.model(x)
    assert out.shape == (2, zoo_model.entry.num_classes)
    assert np.all(np.isfinite(out.data))


def test_repr_names_every_layer_and_its_sizes():
    text = repr(_tiny_gpt(tie_weights=True))
    for part in (
        "GPT(",
        "(token_embedding): Embedding(vocab_size=11, embed_dim=8)",
        "(position_embedding): PositionalEncoding(max_seq_len=6, embed_dim=8, learned=True)",
        "(blocks.1): TransformerBlock(",
        "(attn): MultiHeadAttention(",
        "(q_proj): Linear(in_features=8, out_features=8, bias=True)",
        "(ln_f): LayerNorm(dim=8, eps=1e-05)",
        "(lm_head): Linear(in_features=8, out_features=11, bias=False)",
    ):
        assert part in text


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: TransformerBlock(8, 2, mlp_ratio=0), "mlp_ratio"),
        (lambda: GPT(11, 8, num_layers=0, num_heads=2, max_seq_len=4), "num_layers"),
        (lambda: GPT(11, 8, num_layers=1, num_heads=3, max_seq_len=4), "divisible"),
        (lambda: LayerNorm(4)(Tensor(np.zeros((2, 3)))), "last dimension must be 4"),
    ],
)
def test_bad_construction_or_input_is_a_clear_error(build, match):
    with pytest.raises(ValueError, match=match):
        build()

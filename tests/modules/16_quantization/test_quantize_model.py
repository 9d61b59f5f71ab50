"""quantize_model / dequantize_model / compare_model_sizes on small hand-built models."""

from __future__ import annotations

import copy
import gc
import warnings
import weakref

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.attention import MultiHeadAttention
from tinytorch.core.layers import Flatten, Linear, Module, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.spatial import Conv2D, MaxPool2D
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import load_checkpoint, save_checkpoint
from tinytorch.models.transformer import GPT, TransformerBlock
from tinytorch.optimization.quantization import (
    QuantizationError,
    QuantizationWarning,
    QuantizedConv2D,
    QuantizedLinear,
    compare_model_sizes,
    dequantize_model,
    quantize_model,
)
from tinytorch.profiling.profiler import Profiler
from tinytorch.text.embeddings import Embedding


def mlp() -> Sequential:
    return Sequential(Linear(8, 16, init="he"), ReLU(), Linear(16, 4))


def quiet_copy(model, **kw):
    """quantize_model(inplace=False) under warnings-as-errors: it must not warn."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return quantize_model(model, inplace=False, **kw)


def float_layers(model) -> list[str]:
    return [n for n, m in model.named_modules() if type(m) in (Linear, Conv2D)]


def state_bytes(model) -> dict[str, bytes]:
    return {name: (a.dtype.str, a.shape, a.tobytes()) for name, a in model.state_dict().items()}


class Hybrid(Module):
    """CNN features + a transformer block + an MHA + a list of heads: every place a layer can hide."""

    def __init__(self):
        self.stem = Sequential(Conv2D(1, 4, 3, padding=1), ReLU(), MaxPool2D(2), Flatten())
        self.proj = Linear(4 * 3 * 3, 8)
        self.block = TransformerBlock(8, 2, mlp_ratio=2)
        self.attn = MultiHeadAttention(8, 2)
        self.heads = [Linear(8, 3), Sequential(Linear(8, 8), ReLU(), Linear(8, 2))]

    def forward(self, x):
        tokens = self.proj(self.stem(x)).reshape(x.shape[0], 1, 8)
        h = self.attn(self.block(tokens)).reshape(x.shape[0], 8)
        return [head(h) for head in self.heads]


# ----------------------------------------------------------------------------- replacing layers
def test_every_linear_and_conv_anywhere_in_the_tree_is_replaced(rng):
    model = Hybrid()
    x = Tensor(rng.standard_normal((2, 1, 6, 6)).astype(np.float32))
    want = model(x)
    expected = float_layers(model)
    assert len(expected) == 15  # conv, proj, 4+2 in the block, 4 in the MHA, 3 in the heads
    q = quiet_copy(model)
    assert float_layers(q) == [] and sorted(q.quantization_report.quantized) == sorted(expected)
    assert isinstance(q.stem.layers[0], QuantizedConv2D) and isinstance(q.attn.v_proj, QuantizedLinear)
    assert isinstance(q.block.mlp.layers[2], QuantizedLinear) and isinstance(q.heads[1].layers[2], QuantizedLinear)
    got = q(x)
    for g, w in zip(got, want):
        # 15 quantized layers in a chain on a tiny random model: ≈ 1-3 % here (accuracy has its own
        # tests); a wrong layout or a lost bias would be off by ~100 %.
        assert g.shape == w.shape and np.linalg.norm(g.data - w.data) / np.linalg.norm(w.data) < 0.1


def test_inplace_warns_modifies_the_model_and_frees_the_float_weights():
    model = mlp()
    refs = [weakref.ref(layer.weight) for layer in (model.layers[0], model.layers[2])]
    with pytest.warns(QuantizationWarning) as caught:
        out = quantize_model(model)
    assert out is model and float_layers(model) == []
    message = str(caught[0].message)
    assert issubclass(QuantizationWarning, UserWarning)
    for needle in ("discarded", "copy.deepcopy(model)", "inplace=False", "cannot be recovered"):
        assert needle in message, needle
    assert caught[0].filename == __file__  # stacklevel points at the caller's line
    gc.collect()
    assert [r() for r in refs] == [None, None]


def test_not_inplace_returns_a_copy_and_leaves_the_original_bit_for_bit(rng):
    model = Hybrid()
    before = state_bytes(model)
    q = quiet_copy(model)
    assert q is not model and state_bytes(model) == before and len(float_layers(model)) == 15
    assert not hasattr(model, "quantization_report")


def test_calibrated_copy_leaves_the_original_untouched_too(rng):
    model = mlp().train()
    before = state_bytes(model)
    q = quiet_copy(model, calibration_data=[rng.standard_normal((4, 8)).astype(np.float32)])
    assert state_bytes(model) == before and model.training and "forward" not in vars(model.layers[0])
    assert q.quantization_report.calibrated == ["layers.0", "layers.2"]


def test_a_module_used_twice_becomes_one_quantized_module_used_twice(rng):
    shared = Linear(6, 6)
    model = Sequential(shared, ReLU(), shared)
    q = quiet_copy(model)
    assert isinstance(q.layers[0], QuantizedLinear) and q.layers[0] is q.layers[2]
    assert q.quantization_report.quantized == ["layers.0", "layers.2"]


def test_a_subclass_with_its_own_forward_is_left_alone():
    class Scaled(Linear):
        def forward(self, x):
            return super().forward(x) * 2.0

    q = quiet_copy(Sequential(Scaled(4, 4), Linear(4, 2)))
    assert type(q.layers[0]) is Scaled and isinstance(q.layers[1], QuantizedLinear)
    assert "overrides forward" in q.quantization_report.skipped["layers.0"]


def test_a_layer_held_in_a_tuple_is_kept_float_everywhere_it_sits():
    class Holder(Module):
        def __init__(self):
            shared = Linear(3, 3)
            self.fixed, self.free, self.other = (shared,), [shared], [Linear(3, 3)]

        def forward(self, x):
            return self.other[0](self.free[0](self.fixed[0](x)))

    q = quiet_copy(Holder())
    assert type(q.fixed[0]) is Linear and q.free[0] is q.fixed[0]  # not half-swapped
    assert isinstance(q.other[0], QuantizedLinear)
    assert set(q.quantization_report.skipped) == {"fixed.0", "free.0"}
    assert "tuple" in q.quantization_report.skipped["fixed.0"]


# ----------------------------------------------------------------------------- tied weights
def test_tied_gpt_head_stays_float_and_the_tie_holds(rng):
    model = GPT(vocab_size=12, embed_dim=8, num_layers=1, num_heads=2, max_seq_len=6, tie_weights=True)
    ids = rng.integers(0, 12, size=(2, 6))
    want = model(ids).data
    with pytest.warns(QuantizationWarning, match="lm_head"):
        quantize_model(model)
    assert type(model.lm_head) is Linear and model.lm_head.weight is model.token_embedding.weight
    assert "tied" in model.quantization_report.skipped["lm_head"]
    assert float_layers(model) == ["lm_head"]
    assert np.linalg.norm(model(ids).data - want) / np.linalg.norm(want) < 0.03
    # One optimizer step updates the one shared tensor; the two uses see the same values.
    opt = Adam(model.parameters(), lr=1e-2)
    CrossEntropyLoss()(model(ids).reshape(-1, 12), ids.reshape(-1)).backward()
    opt.step()
    assert model.lm_head.weight is model.token_embedding.weight


def test_weights_shared_between_two_linears_are_kept_float():
    a, b = Linear(4, 4), Linear(4, 4)
    b.weight = a.weight
    q = quiet_copy(Sequential(a, b, Linear(4, 2)))
    assert [type(m) for m in q.layers] == [Linear, Linear, QuantizedLinear]
    assert q.layers[0].weight is q.layers[1].weight
    assert set(q.quantization_report.skipped) == {"layers.0", "layers.1"}


# ----------------------------------------------------------------------------- refusals
def test_already_quantized_model_raises_and_says_what_to_do():
    q = quiet_copy(mlp())
    with pytest.raises(QuantizationError, match="already quantized.*float") as info:
        quantize_model(q, inplace=False)
    assert isinstance(info.value, ValueError)
    with pytest.raises(QuantizationError, match="already"):
        quantize_model(q.layers[0], inplace=False)


def test_nothing_to_quantize_names_the_layer_types():
    with pytest.raises(QuantizationError, match="Linear and Conv2D"):
        quantize_model(Sequential(ReLU(), Flatten()))
    with pytest.raises(QuantizationError, match="kept float|keep float"):
        emb = Embedding(5, 4)
        head = Linear(4, 5, bias=False)
        head.weight = emb.weight
        quantize_model(Sequential(emb, head))


def test_bare_linear_inplace_refuses_and_inplace_false_returns_the_quantized_layer(rng):
    layer = Linear(5, 3)
    before = state_bytes(layer)
    with pytest.raises(QuantizationError, match="Sequential"):
        quantize_model(layer)
    q = quiet_copy(layer)
    assert isinstance(q, QuantizedLinear) and state_bytes(layer) == before
    assert q.quantization_report.quantized == ["<root>"]
    conv = quiet_copy(Conv2D(1, 2, 3))
    assert isinstance(conv, QuantizedConv2D)
    calibrated = quiet_copy(layer, calibration_data=[rng.standard_normal((4, 5)).astype(np.float32)])
    assert calibrated.calibrated and state_bytes(layer) == before and "forward" not in vars(layer)


def test_bad_weights_raise_before_anything_changes():
    model = mlp()
    model.layers[2].weight.data[0, 0] = np.inf
    before = state_bytes(model)
    with pytest.raises(QuantizationError, match=r"'layers.2'.*non-finite"):
        quantize_model(model)
    assert state_bytes(model) == before and float_layers(model) == ["layers.0", "layers.2"]


def test_not_a_module_raises_type_error():
    with pytest.raises(TypeError, match="tinytorch Module"):
        quantize_model(np.ones(3))


def test_dequantize_model_explains_the_weights_are_gone():
    q = quiet_copy(mlp())
    with pytest.raises(QuantizationError) as info:
        dequantize_model(q)
    message = str(info.value)
    for needle in ("discarded", "inplace=False", "copy.deepcopy(model)", "checkpoint", "'layers.0'"):
        assert needle in message, needle


# ----------------------------------------------------------------------------- sizes, saving, training
def test_compare_model_sizes_uses_real_bytes_like_the_profiler():
    model = Sequential(Linear(64, 64), ReLU(), Linear(64, 10))
    q = quiet_copy(model)
    sizes = compare_model_sizes(model, q)
    fp32 = (64 * 64 + 64 + 64 * 10 + 10) * 4
    int8 = 64 * 64 + 64 * 10 + (64 + 10) * 4 * 2  # codes + scales + biases
    assert sizes["original_bytes"] == fp32 and sizes["quantized_bytes"] == int8
    assert sizes["compression_ratio"] == pytest.approx(fp32 / int8)
    assert sizes["quantized_by_dtype"] == {"int8": 64 * 64 + 64 * 10, "float32": (64 + 10) * 8}
    memory = Profiler().measure_memory(q)
    assert memory["total_bytes"] == sizes["quantized_bytes"] and memory["by_dtype"] == sizes["quantized_by_dtype"]
    assert Profiler().count_parameters(q) == Profiler().count_parameters(model)


def test_checkpoint_round_trip_preserves_int8_and_calibration(tmp_path, rng):
    batches = [rng.standard_normal((4, 8)).astype(np.float32) for _ in range(2)]
    q = quiet_copy(mlp(), calibration_data=batches)
    fresh = quiet_copy(mlp(), calibration_data=batches[:1])
    save_checkpoint(q, tmp_path / "int8.npz")
    load_checkpoint(fresh, tmp_path / "int8.npz")
    state = fresh.state_dict()
    assert state["layers.0.weight_codes"].dtype == np.int8 and state["layers.0.input_zero_point"].dtype == np.int32
    assert state_bytes(fresh) == state_bytes(q)
    x = Tensor(batches[0])
    assert fresh(x).data.tobytes() == q(x).data.tobytes()


def test_a_quantized_model_can_still_be_fine_tuned(rng):
    model = quiet_copy(Sequential(Conv2D(1, 3, 3), ReLU(), Flatten(), Linear(3 * 4 * 4, 4)))
    x = Tensor(rng.standard_normal((8, 1, 6, 6)).astype(np.float32))
    y = rng.integers(0, 4, size=8)
    codes = {n: t.data.copy() for n, t in model.named_buffers()}
    opt, loss_fn = Adam(model.parameters(), lr=0.05), CrossEntropyLoss()
    first = float(loss_fn(model(x), y).data)
    for _ in range(10):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    assert float(loss_fn(model(x), y).data) < first
    assert all(np.array_equal(t.data, codes[n]) for n, t in model.named_buffers())


def test_report_is_printable():
    q = quiet_copy(copy.deepcopy(mlp()), per_channel=False)
    assert "quantized 2 layer(s) to int8 (per tensor)" in str(q.quantization_report)
    assert q.layers[0].weight_scale.shape == (1, 1)

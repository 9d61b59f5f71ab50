"""The mutant catalogue: plausible regressions, each with the verdict the chain must give, stated up front.

Pure data. The rest of ``tools/mutants/`` (``python -m tools.mutants``) copies the checkout, applies one
mutant's edits to the copy, runs the chain up to the expected stage and compares what ``regression.json``
says with the three expectations below. Nothing here runs anything.

A mutant is one or more exact substitutions (``old`` must occur exactly once in ``file``, else the mutant
is stale and the engine refuses to run it) plus:

- ``expected_stage``: the first stage whose tests must go red — the lowest stage at which a check of the
  broken promise runs on a model that exercises it (each promise is checked at the lowest stage whose
  zoo model makes it possible: ``tests/regression/README.md``). Zoo models by stage, in the target
  world: ``mlp`` from 03 (variants ``fp32``, ``int8`` weight-only per channel, ``int8static`` calibrated
  static activations, ``int8tensor`` per tensor), ``cnn``/``resnet`` from 09 (with strided and unpadded convolutions),
  ``attention`` from 12, tied ``gpt`` and ``multimodal`` from 13. Checks: outputs, ``state_dict``
  completeness and a different-seed load at 03; gradients int8 vs fp32 at 05; int8 buffers frozen at 06;
  checkpoints into a fresh different-seed model at 07; ties at 13; profiler counts and bytes at 14.
- ``expected_module``: the module the report names — the first red stage's own module (stage k is where
  module k and its zoo models arrive: a module-03 zoo test failing on the stage-09 cnn names 09, whose
  promise broke). For an import/layering break it is the module that did the patching.
- ``expected_classification``: one of the four names below (``tests/regression/reporting/classify.py``): a failure in
  ``tests/modules/16_quantization`` or an int8 variant failing while its fp32 twin passes (or an int8-only
  test by design) is *broken by quantization*; an fp32 failure or a test with no variant outside 16 is
  *broken regardless*; a registry class/function changed by another module is an *import/layering break*.
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.harness import Classification

BY_QUANTIZATION, REGARDLESS = Classification.BY_QUANTIZATION, Classification.REGARDLESS
LAYERING, EMPTY = Classification.LAYERING, Classification.EMPTY

# What each mutant stands for; the catalogue must cover every area (tools/tests/test_mutants.py checks).
AREAS = {
    "codec": "int8.py: scale, zero point, rounding, clipping",
    "layers": "quantized_layers.py / int8_matmul.py: bias, scale broadcast, conv stride/padding, blocks, backward",
    "walk": "quantization.py: which layers are swapped, shared modules, tied weights, copies",
    "calibration": "calibration.py and the static activation range",
    "state": "state_dict / checkpoints of quantized layers",
    "profiler": "what the profiler counts and measures on int8 models",
    "earlier": "a float bug in modules 01-15: must read broken regardless at its own module",
    "patch": "module 16 monkey-patching an earlier module at import time (classes, functions, module-level "
    "state, NumPy's global state)",
    "promise": "an int8 twin breaking a promise of its fp32 model (dtype, shape, aliasing, grad) for one model",
    "int8only": "a module-16 bug that only a hand-built quantized layer test (int8-only by its code) shows",
}

QUANT = "tinytorch/optimization/quantization.py"
LAYERS = "tinytorch/optimization/quantized_layers.py"
MATMUL = "tinytorch/optimization/int8_matmul.py"
INT8 = "tinytorch/optimization/int8.py"
CALIBRATION = "tinytorch/optimization/calibration.py"


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` (which must occur exactly once in ``file``) by ``new``."""

    file: str  # relative to the repository root
    old: str
    new: str


@dataclass(frozen=True)
class Mutant:
    name: str
    area: str  # a key of AREAS
    description: str  # one line: the bug, and why the expected stage is the first to see it
    expected_stage: int
    expected_module: int
    expected_classification: str
    edits: tuple[Edit, ...]

    @property
    def files(self) -> list[str]:
        return sorted({e.file for e in self.edits})


@dataclass(frozen=True)
class Expect:
    stage: int
    module: int
    classification: str


def expect(stage: int, module: int, classification: str) -> Expect:
    """What the report must say: first red stage, the module it points at, the classification."""
    return Expect(stage, module, classification)


def _m(name: str, area: str, description: str, at: Expect, *edits: tuple[str, str, str]) -> Mutant:
    edits_ = tuple(Edit(*e) for e in edits)
    return Mutant(name, area, description, at.stage, at.module, at.classification, edits_)


_QUANT_TAIL = '        "quantized_by_dtype": after,\n    }\n'  # the last lines of quantization.py: patches go after

MUTANTS: tuple[Mutant, ...] = (
    # ------------------------------------------------------------------------------------------ codec
    _m(
        "codec_scale_4bit",
        "codec",
        "symmetric weight scale max|w|/7 instead of /127: 15 levels, ~10 % output error on the stage-03 mlp",
        expect(3, 3, BY_QUANTIZATION),
        (INT8, "step = np.maximum(-lo, hi) / _SYM_MAX", "step = np.maximum(-lo, hi) / 7"),
    ),
    _m(
        "codec_zero_point_sign",
        "codec",
        "asymmetric zero point QMIN + lo/scale (sign slip): clamps to -128, so negative activations saturate "
        "to 0; only static (calibrated) activations are asymmetric: the stage-03 int8static mlp",
        expect(3, 3, BY_QUANTIZATION),
        (
            INT8,
            "zp = np.round(QMIN - lo / scale.astype(np.float64))",
            "zp = np.round(QMIN + lo / scale.astype(np.float64))",
        ),
    ),
    _m(
        "codec_truncating_round",
        "codec",
        "codes truncated toward zero (np.trunc) instead of rounded: every weight shrinks by up to a step, "
        "a biased error the stage-03 mlp output check sees",
        expect(3, 3, BY_QUANTIZATION),
        (INT8, "codes = np.round(x64 / scale.astype(np.float64))", "codes = np.trunc(x64 / scale.astype(np.float64))"),
    ),
    _m(
        "codec_clip_one_short",
        "codec",
        "codes clipped at 126 instead of 127: the largest weight of each row loses one step; outputs stay "
        "within 1 % on small models; the stage-13 gpt's bound (35 dB) is the first to see the lost step",
        expect(13, 13, BY_QUANTIZATION),
        (INT8, "np.clip(codes, low, QMAX, out=codes)", "np.clip(codes, low, QMAX - 1, out=codes)"),
    ),
    _m(
        "codec_zero_weight_scale",
        "codec",
        "an all-zero slice gets scale 0 (no guard, no float32 floor): NaN codes and a refused dequantize; "
        "zoo weights are random, so only module 16's edge cases meet it",
        expect(16, 16, BY_QUANTIZATION),
        (INT8, "step = np.where(step == 0.0, 1.0, step)", "step = step"),
        (
            INT8,
            "return np.maximum(np.where(low, up, v32), _F32_TINY).astype(np.float32)",
            "return np.where(low, up, v32).astype(np.float32)",
        ),
    ),
    _m(
        "codec_dequantize_int8_wraparound",
        "codec",
        "dequantize subtracts the zero point in int8 (codes - zp.astype(int8)): 127 - (-128) wraps to -1; "
        "the layers never call dequantize_int8, only module 16's codec tests do",
        expect(16, 16, BY_QUANTIZATION),
        (
            INT8,
            "steps = codes.astype(np.int32) - zero_point.astype(np.int32)",
            "steps = (codes - zero_point.astype(np.int8)).astype(np.int32)",
        ),
    ),
    # ------------------------------------------------------------------------------------------ quantized layers
    _m(
        "layer_bias_dropped",
        "layers",
        "quantized layers drop the float layer's bias; zoo biases are seeded non-zero, so the stage-03 mlp "
        "int8 output check sees it",
        expect(3, 3, BY_QUANTIZATION),
        (
            LAYERS,
            "self.bias = None if bias is None else Parameter(bias.data.copy(), dtype=bias.data.dtype)",
            "self.bias = None",
        ),
    ),
    _m(
        "layer_scales_not_per_channel",
        "layers",
        "per-channel scales broadcast from the first channel: every output row uses row 0's scale",
        expect(3, 3, BY_QUANTIZATION),
        (
            LAYERS,
            "return flat if flat.size == out else np.broadcast_to(flat, (out,))",
            "return np.broadcast_to(flat[:1], (out,))",
        ),
    ),
    _m(
        "layer_per_tensor_range_first_row",
        "layers",
        "per-tensor weight range taken from the first output row only: the other rows saturate; only the "
        "per-tensor variant (int8tensor, stage-03 mlp) takes this path",
        expect(3, 3, BY_QUANTIZATION),
        (
            LAYERS,
            "lo = np.full((1,) * weight.ndim, rows.min(), dtype=np.float64)\n"
            "        hi = np.full((1,) * weight.ndim, rows.max(), dtype=np.float64)",
            "lo = np.full((1,) * weight.ndim, rows[0].min(), dtype=np.float64)\n"
            "        hi = np.full((1,) * weight.ndim, rows[0].max(), dtype=np.float64)",
        ),
    ),
    _m(
        "layer_linear_grad_unscaled",
        "layers",
        "QuantizedLinear's input gradient forgets the per-row scales (g @ codes, not (g * s) @ codes): "
        "~100x too large; the stage-05 int8-vs-fp32 gradient check sees it",
        expect(5, 5, BY_QUANTIZATION),
        (
            LAYERS,
            "gx = matmul_codes(g2 * scales, codes, dtype).reshape(x_shape)",
            "gx = matmul_codes(g2, codes, dtype).reshape(x_shape)",
        ),
    ),
    _m(
        "layer_no_input_grad",
        "layers",
        "QuantizedLinear's backward returns no input gradient: nothing below a quantized layer trains",
        expect(5, 5, BY_QUANTIZATION),
        (LAYERS, "gx = matmul_codes(g2 * scales, codes, dtype).reshape(x_shape)", "gx = None"),
    ),
    _m(
        "layer_codes_float32",
        "layers",
        "weight codes stored as float32 (same values, 4 bytes each): outputs unchanged; module 03's "
        "inventory of the stage-03 mlp (int8 codes, no float copy) sees it first",
        expect(3, 3, BY_QUANTIZATION),
        (
            LAYERS,
            "self.weight_codes = Tensor(codes, dtype=np.int8)",
            "self.weight_codes = Tensor(codes.astype(np.float32), dtype=np.float32)",
        ),
    ),
    _m(
        "conv_stride_ignored",
        "layers",
        "QuantizedConv2D copies the kernel and padding but runs with stride 1: the zoo's strided conv "
        "(from 09) gives a wrong output shape, first seen by module 03's zoo shape/output tests",
        expect(9, 9, BY_QUANTIZATION),
        (LAYERS, "tuple(conv.stride)", "(1, 1)"),
    ),
    _m(
        "conv_padding_assumed_same",
        "layers",
        "QuantizedConv2D assumes padding 1 ('same' for 3x3): right for every padded zoo conv, wrong for the "
        "unpadded one the zoo has from 09",
        expect(9, 9, BY_QUANTIZATION),
        (LAYERS, "tuple(conv.padding)", "(1, 1)"),
    ),
    _m(
        "conv_one_scale_for_all_channels",
        "layers",
        "QuantizedConv2D multiplies every output channel by channel 0's scale (a broadcast slip): the "
        "stage-09 cnn int8 output check (module 03's zoo test) sees it",
        expect(9, 9, BY_QUANTIZATION),
        (LAYERS, "scales.reshape(1, c_out, 1, 1), out=out)", "scales[:1].reshape(1, 1, 1, 1), out=out)"),
    ),
    _m(
        "conv_grad_unscaled",
        "layers",
        "QuantizedConv2D's input gradient forgets the per-channel scales: forward is right, the stage-09 "
        "cnn's int8-vs-fp32 input gradients (module 05's zoo test) disagree",
        expect(9, 9, BY_QUANTIZATION),
        (
            LAYERS,
            "g_mat = g.transpose(0, 2, 3, 1).reshape(-1, c_out) * scales",
            "g_mat = g.transpose(0, 2, 3, 1).reshape(-1, c_out)",
        ),
    ),
    _m(
        "matmul_block_offset_lost",
        "layers",
        "the blockwise int8 GEMM reads every block's codes from row 0 (offset forgotten): right while a layer "
        "fits in one 1 MiB block, as every zoo layer does; only module 16's multi-block test sees it",
        expect(16, 16, BY_QUANTIZATION),
        (
            MATMUL,
            'np.copyto(block, codes[r0:r1], casting="unsafe")  # int8 → float is exact',
            'np.copyto(block, codes[: r1 - r0], casting="unsafe")  # int8 → float is exact',
        ),
    ),
    # ------------------------------------------------------------------------------------------ model walk
    _m(
        "walk_misses_conv2d",
        "walk",
        "the Conv2D lookup names a module path that no longer exists (tinytorch.spatial): quantize_model finds "
        "no Conv2D, so every cnn keeps its convolutions float, unreported; module 03's 'no plain Linear/Conv2D "
        "left unless reported' check on the stage-09 cnn sees it",
        expect(9, 9, BY_QUANTIZATION),
        (LAYERS, '_SPATIAL = "tinytorch.core.spatial"', '_SPATIAL = "tinytorch.spatial"'),
    ),
    _m(
        "walk_stops_at_depth_two",
        "walk",
        "the model walk does not descend below two levels: gpt.blocks.N.* stay float (unreported); the "
        "first zoo model that deep is the stage-09 resnet (a conv inside its block), where module 03's "
        "'no plain Linear/Conv2D left' check runs",
        expect(9, 9, BY_QUANTIZATION),
        (
            QUANT,
            "if id(module) in ancestors:  # a cycle: do not descend again",
            'if id(module) in ancestors or name.count(".") >= 1:  # a cycle: do not descend again',
        ),
    ),
    _m(
        "walk_tie_broken",
        "walk",
        "a tensor counts as shared only if three modules hold it: GPT's tied lm_head is quantized and the "
        "tie lm_head.weight is token_embedding.weight breaks; the tie check is module 13's, on the stage-13 gpt",
        expect(13, 13, BY_QUANTIZATION),
        (
            QUANT,
            "any(len(holders.get(key, ())) > 1 for key in (id(t), id(t.data)))",
            "any(len(holders.get(key, ())) > 2 for key in (id(t), id(t.data)))",
        ),
    ),
    _m(
        "walk_shared_module_split",
        "walk",
        "a module used at two places gets two quantized copies (sharing lost); no zoo model reuses a layer, "
        "so module 16's shared-module test is the first to see it",
        expect(16, 16, BY_QUANTIZATION),
        (
            QUANT,
            "            target.set_submodule(name, new)",
            "            target.set_submodule(name, copy.deepcopy(new))",
        ),
    ),
    _m(
        "walk_copy_mutates_original",
        "walk",
        "quantize_model(inplace=False) quantizes the caller's model instead of its float twin; the zoo passes "
        "its own deepcopy, so only module 16 hands it a model it still needs",
        expect(16, 16, BY_QUANTIZATION),
        (QUANT, "        target = _float_twin(model, plan)\n", "        target = model\n"),
    ),
    _m(
        "walk_inplace_silent",
        "walk",
        "quantize_model(model) still replaces the float weights in place but no longer warns",
        expect(16, 16, BY_QUANTIZATION),
        (QUANT, "    if inplace:\n        _warn_inplace(model, report)\n", ""),
    ),
    # ------------------------------------------------------------------------------------------ calibration
    _m(
        "calibration_observes_outputs",
        "calibration",
        "calibration records each layer's output range instead of its input range: the static input grid "
        "of the stage-03 int8static mlp clips its inputs",
        expect(3, 3, BY_QUANTIZATION),
        (
            CALIBRATION,
            "        observer.observe(arr.astype(np.float32, copy=False))\n"
            "        return forward(x, *args, **kwargs)\n",
            "        out = forward(x, *args, **kwargs)\n"
            "        observer.observe((out.data if isinstance(out, Tensor) else np.asarray(out))"
            ".astype(np.float32, copy=False))\n"
            "        return out\n",
        ),
    ),
    _m(
        "calibration_low_uses_max",
        "calibration",
        "RangeObserver keeps max(low, x.min()) (a min/max slip): low stays +inf and building the stage-03 "
        "int8static mlp fails",
        expect(3, 3, BY_QUANTIZATION),
        (
            CALIBRATION,
            "self.low, self.high = min(self.low, float(x.min()))",
            "self.low, self.high = max(self.low, float(x.min()))",
        ),
    ),
    _m(
        "calibration_zero_point_ignored",
        "calibration",
        "calibrated layers fake-quantize their inputs with zero point 0, ignoring the stored one: a "
        "one-sided (post-ReLU) range loses half its grid; the stage-03 int8static mlp sees it",
        expect(3, 3, BY_QUANTIZATION),
        (
            LAYERS,
            "return fake_quantize(x, self.input_scale.data, self.input_zero_point.data)",
            "return fake_quantize(x, self.input_scale.data, 0)",
        ),
    ),
    _m(
        "calibration_empty_accepted",
        "calibration",
        "calibration_data=[] is silently accepted (weight-only quantization) instead of a ValueError",
        expect(16, 16, BY_QUANTIZATION),
        (CALIBRATION, "    if count == 0:\n", "    if count < 0:\n"),
    ),
    # ------------------------------------------------------------------------------------------ state
    _m(
        "state_zero_point_not_a_buffer",
        "state",
        "the static input zero point is kept as a plain array, not a Tensor buffer: outputs are right but "
        "state_dict misses it, so a different-seed int8static mlp loaded from it keeps its own (stage 03)",
        expect(3, 3, BY_QUANTIZATION),
        (
            LAYERS,
            "self.input_zero_point = Tensor(zero_point.reshape(1), dtype=np.int32)",
            "self.input_zero_point = zero_point.reshape(1)",
        ),
    ),
    _m(
        "state_scale_not_saved",
        "state",
        "weight scales kept as a plain float32 array, not a Tensor buffer (as the profiler's raw-array test "
        "layer does): outputs right, state_dict misses them; a different-seed mlp loaded from it keeps its "
        "own scales (stage 03)",
        expect(3, 3, BY_QUANTIZATION),
        (LAYERS, "self.weight_scale = Tensor(scale, dtype=np.float32)", "self.weight_scale = scale"),
        (
            LAYERS,
            "flat = scale.data.reshape(-1)",
            "flat = (scale.data if isinstance(scale, Tensor) else scale).reshape(-1)",
        ),
    ),
    # ------------------------------------------------------------------------------------------ profiler
    _m(
        "profiler_blind_linear",
        "profiler",
        "QuantizedLinear keeps out_features under another name (a refactor): forward works, but the profiler "
        "sees no Linear-like layer; module 03's layer-geometry check on the stage-03 mlp sees the lost size first",
        expect(3, 3, BY_QUANTIZATION),
        (
            LAYERS,
            "self.in_features, self.out_features = int(linear.in_features), int(linear.out_features)",
            "self.in_features, self.out_dim = int(linear.in_features), int(linear.out_features)",
        ),
        (
            LAYERS,
            "return _row_scales(self.weight_scale, self.out_features)",
            "return _row_scales(self.weight_scale, self.out_dim)",
        ),
        (
            LAYERS,
            'f"QuantizedLinear({self.in_features}, {self.out_features})',
            'f"QuantizedLinear({self.in_features}, {self.out_dim})',
        ),
        (
            LAYERS,
            'return f"in_features={self.in_features}, out_features={self.out_features}, int8',
            'return f"in_features={self.in_features}, out_dim={self.out_dim}, int8',
        ),
    ),
    _m(
        "profiler_float_weights_kept",
        "profiler",
        "quantized layers keep a float32 copy of the weight as a buffer 'for exact inspection': outputs and "
        "state are consistent, but the model does not shrink; module 03's 'no float copy kept' check sees it",
        expect(3, 3, BY_QUANTIZATION),
        (
            LAYERS,
            "        self.weight_scale = Tensor(scale, dtype=np.float32)\n",
            "        self.weight_scale = Tensor(scale, dtype=np.float32)\n"
            "        self.weight_float = Tensor(np.array(weight, dtype=np.float32))  # exact inspection\n",
        ),
    ),
    # ------------------------------------------------------------------------------------------ earlier modules
    _m(
        "tensor_rsub_reversed",
        "earlier",
        "Tensor.__rsub__ computes self - other: 1.0 - t has the wrong sign (module 01's reflected-op test)",
        expect(1, 1, REGARDLESS),
        (
            "tinytorch/core/tensor.py",
            "return self._other(other, self.data) - self",
            "return self - self._other(other, self.data)",
        ),
    ),
    _m(
        "gelu_constant",
        "earlier",
        "GELU's tanh-approximation cubic coefficient 0.44715 instead of 0.044715 (module 02's reference values)",
        expect(2, 2, REGARDLESS),
        ("tinytorch/core/activations.py", "_K = 0.044715", "_K = 0.44715"),
    ),
    _m(
        "dropout_no_rescale",
        "earlier",
        "Dropout zeroes elements in training but no longer rescales survivors by 1/(1-p) (module 03)",
        expect(3, 3, REGARDLESS),
        (
            "tinytorch/core/layers.py",
            "keep = (np.random.random_sample(x.shape) >= self.p).astype(x.dtype) / (1.0 - self.p)",
            "keep = (np.random.random_sample(x.shape) >= self.p).astype(x.dtype)",
        ),
    ),
    _m(
        "cross_entropy_sum",
        "earlier",
        "cross-entropy returns the batch sum, not the mean (module 04's loss values)",
        expect(4, 4, REGARDLESS),
        (
            "tinytorch/core/losses.py",
            "loss = np.asarray((lse - shifted[picked, ids]).mean(), dtype=z.dtype)",
            "loss = np.asarray((lse - shifted[picked, ids]).sum(), dtype=z.dtype)",
        ),
    ),
    _m(
        "avg_pool_grad_share",
        "earlier",
        "AvgPool2D's backward divides by the kernel height, not its area (module 09's pooling gradients; the "
        "zoo uses MaxPool2D, so no model test sees it first)",
        expect(9, 9, REGARDLESS),
        ("tinytorch/core/spatial.py", "share = g / area", "share = g / kernel[0]"),
    ),
    _m(
        "attention_scale_by_dim",
        "earlier",
        "scaled dot-product attention divides scores by d instead of sqrt(d) (module 12's reference test; "
        "fp32 and int8 attention models change alike)",
        expect(12, 12, REGARDLESS),
        (
            "tinytorch/core/attention.py",
            "scores = (Q @ K.transpose()) * (1.0 / float(np.sqrt(Q.shape[-1])))",
            "scores = (Q @ K.transpose()) * (1.0 / float(Q.shape[-1]))",
        ),
    ),
    # ------------------------------------------------------------------------------------------ import-time patches
    _m(
        "patch_lenient_load_state_dict",
        "patch",
        "importing module 16 replaces Module.load_state_dict by a non-strict one 'so float checkpoints load "
        "into quantized models': the stage-03 zoo imports it; the stage guard must name the patched attribute",
        expect(3, 16, LAYERING),
        (
            QUANT,
            _QUANT_TAIL,
            _QUANT_TAIL + "\n\n# Float checkpoints name weights a quantized model no longer has: load what matches.\n"
            "_strict_load_state_dict = Module.load_state_dict\n\n\n"
            "def _lenient_load_state_dict(self, state, strict=False):\n"
            "    return _strict_load_state_dict(self, state, strict=strict)\n\n\n"
            "Module.load_state_dict = _lenient_load_state_dict\n",
        ),
    ),
    _m(
        "patch_tensor_matmul_int8",
        "patch",
        "importing the quantized layers replaces Tensor.__matmul__ by one that also takes int8 codes (same "
        "results for float tensors): only the stage guard's snapshot of module 01 can see it, at stage 03",
        expect(3, 16, LAYERING),
        (
            LAYERS,
            "def conv2d_class():\n",
            "_float_matmul = Tensor.__matmul__\n\n\n"
            "def _matmul_accepting_int8(self, other):  # lets x @ layer.weight_codes work like a float weight\n"
            "    if isinstance(other, Tensor) and other.dtype == np.int8:\n"
            "        other = Tensor(other.data.astype(np.float32))\n"
            "    return _float_matmul(self, other)\n\n\n"
            "Tensor.__matmul__ = _matmul_accepting_int8\n\n\n"
            "def conv2d_class():\n",
        ),
    ),
    # ------------------------------------------------------------------------------------------ pinpointing (issue 24)
    _m(
        "promise_conv_float64_batched",
        "promise",
        "the quantized conv allocates its output as float64 whenever batch > 1 (values right, dtype not): "
        "the fp32 twin's dtype promise is compared on batch 3 from the first conv model, the stage-09 cnn",
        expect(9, 9, BY_QUANTIZATION),
        (
            LAYERS,
            "    out = np.empty((n, c_out, oh, ow), dtype=dtype)\n",
            "    out = np.empty((n, c_out, oh, ow), dtype=dtype if n == 1 else np.float64)\n",
        ),
    ),
    _m(
        "globals_quantization_disables_grad",
        "patch",
        "importing module 16 flips module 01's grad-mode flag off 'since int8 inference builds no graph': the "
        "stage-03 zoo imports it; the import watch names tinytorch.core.tensor._grad_enabled and module 16",
        expect(3, 16, LAYERING),
        (
            QUANT,
            _QUANT_TAIL,
            _QUANT_TAIL + "\n\nimport tinytorch.core.tensor as _tensor_state  # noqa: E402\n\n"
            "_tensor_state._grad_enabled = False  # int8 inference builds no graph\n",
        ),
    ),
    _m(
        "globals_int8_sets_printoptions",
        "patch",
        "the int8 codec sets NumPy's print options at import (to print codes compactly): no test output changes, "
        "only the import watch's comparison of NumPy's global state around the stage-03 zoo's import sees it",
        expect(3, 16, LAYERING),
        (
            INT8,
            "import numpy as np\n",
            "import numpy as np\n\nnp.set_printoptions(precision=4, suppress=True)\n",
        ),
    ),
    _m(
        "int8only_linear_output_always_float32",
        "int8only",
        "the quantized layers compute in float32 whatever the input (a float64 input gives float32, unlike "
        "Linear): zoo inputs are float32, so only module 03's hand-built QuantizedLinear test sees it, int8-only "
        "by its code (no marker)",
        expect(3, 3, BY_QUANTIZATION),
        (LAYERS, "    return np.result_type(x.dtype, np.float32)\n", "    return np.dtype(np.float32)\n"),
    ),
)

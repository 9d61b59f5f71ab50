"""Representative models, each tagged with the stage (module number) from which it can be built.

Like scikit-learn's estimator checks: a model-taking test is written once, and the zoo decides which
models it runs on at the current stage. ``tests/conftest.py`` turns every test that asks for the
``zoo_model`` fixture into one case per (entry, variant) with ids like ``mlp-fp32`` / ``cnn-int8``.

Variants (the names are an interface: the regression records read them from the test ids):

- ``fp32``: the model as built. It never touches quantization — not even to build a reference.
- ``int8``: weight-only, per-channel ``quantize_model`` (the default twin of every zoo test);
- ``int8static``: ``quantize_model`` with calibration data: static int8 input activations with an
  asymmetric zero point per quantized layer (after a ReLU the range is one-sided, zero point −128);
- ``int8tensor``: weight-only with one scale per weight tensor (``per_channel=False``).

``VARIANTS`` (fp32, int8) is what a zoo test gets by default; ``ALL_VARIANTS`` adds the two other
quantization paths. They cost a stage's worth of cases each, so only the tests where a zero-point,
calibration or per-tensor bug first shows (module 03's output/state checks, module 05's gradients,
module 07's checkpoint) ask for them, with ``@pytest.mark.zoo(variants=zoo.ALL_VARIANTS)``: module
03 tests then see the mlp at stage 03, the conv models at 09 and the sequence models at 12/13.

Builders import their layers lazily, so importing this file loads no tinytorch module: at stage k
only entries with ``stage <= k`` are built, and the chain's import guard stays meaningful.

The int8 twin keeps every promise the fp32 model makes. Each promise is observed on a model's output
(``observe``) and compared between each int8 variant and its fp32 twin by a zoo test of the module that
owns it (``tests/modules/<NN>_*/test_*_int8_promises.py``), so the first zoo model that can break it
does so at its own stage (a quantized Linear whose output became float64: the mlp, stage 03; a conv
that does it only for batch > 1: the cnn, stage 09). ``PROMISES`` is this table; a test keeps the two equal.

| promise | module | what the fp32 model promises and the int8 twin must match |
|---|---|---|
| output type | 03 | the forward returns a Tensor |
| output dtype | 03 | the output's dtype, for every batch and leading shape |
| output shape | 03 | the output's shape for batches 1 and 3 (and leading (2, 3) for vector models) |
| finite output | 03 | no NaN or inf in the output |
| input untouched | 03 | the forward leaves the input's values as they were |
| no input aliasing | 03 | the output shares no memory with the input |
| requires_grad | 05 | the output requires grad (parameters, and the input when it is float, do) |
| gradient dtype | 05 | the input gradient's dtype, and the dtypes of the parameters' gradients |
"""

from __future__ import annotations

import copy
import os
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from regression.common import ENV_STAGE  # the chain's one name for it; imports nothing of tinytorch
from regression.contract import Variant  # the variants' one spelling (stdlib only)

VARIANTS = (Variant.FP32, Variant.INT8)  # the default of every zoo test
EXTRA_VARIANTS = (Variant.INT8STATIC, Variant.INT8TENSOR)
ALL_VARIANTS = VARIANTS + EXTRA_VARIANTS
QUANTIZED_VARIANTS = (Variant.INT8,) + EXTRA_VARIANTS


def current_stage() -> int:
    """The chain sets the stage (``common.ENV_STAGE``); a plain test run is the full framework (stage 16)."""
    return int(os.environ.get(ENV_STAGE, "16"))


@dataclass(frozen=True)
class ZooEntry:
    name: str
    stage: int
    build: Callable[[], object]
    make_input: Callable[[np.random.Generator, int], object]  # (rng, batch) -> Tensor
    make_target: Callable[[np.random.Generator, int], np.ndarray]  # (rng, batch) -> int class ids
    num_classes: int
    tags: frozenset = field(default_factory=frozenset)
    # Relative output error ‖y_int8 − y‖/‖y‖ allowed for the int8 twin. 1 % is the bar; deep
    # chains of tiny layers sit at the floor of per-channel int8 rounding (≈ 0.5 % a layer, adding in
    # quadrature), so those are held to PyTorch's per-channel test bar instead: SQNR > 35 dB.
    int8_error_bound: float = 0.01
    # The same bound for the other int8 variants: {"int8static": …, "int8tensor": …}. Static input
    # activations add one more rounding a layer and per-tensor scales coarser weight steps, so each
    # entry's bound is its measured seed-0 error (batch 64, ENTRIES below) with ≈ 25-35 % headroom.
    variant_error_bounds: dict = field(default_factory=dict)

    def error_bound(self, variant: str) -> float:
        return self.int8_error_bound if variant == "int8" else self.variant_error_bounds[variant]


@dataclass
class ZooCase:
    """One model as a test receives it."""

    entry: ZooEntry
    variant: str  # one of ALL_VARIANTS
    model: object

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def quantized(self) -> bool:
        """Any int8 variant (weight-only, static activations or per-tensor)."""
        return self.variant != "fp32"

    @property
    def error_bound(self) -> float:
        """Largest relative output error ‖y_q − y‖/‖y‖ allowed against the fp32 twin (quantized only)."""
        return self.entry.error_bound(self.variant)

    def input(self, batch: int = 4, seed: int = 0):
        return self.entry.make_input(np.random.default_rng(seed), batch)

    def target(self, batch: int = 4, seed: int = 1) -> np.ndarray:
        return self.entry.make_target(np.random.default_rng(seed), batch)

    @property
    def id(self) -> str:
        return f"{self.entry.name}-{self.variant}"


def _tensor(array):
    from tinytorch.core.tensor import Tensor

    return Tensor(array)


def _vectors(features: int):
    return lambda rng, batch: _tensor(rng.standard_normal((batch, features)).astype(np.float32))


def _classes(n: int):
    return lambda rng, batch: rng.integers(0, n, size=batch)


# ----------------------------------------------------------------------------- builders
def build_mlp():
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear, Sequential

    return Sequential(Linear(16, 32, init="he"), ReLU(), Linear(32, 32, init="he"), ReLU(), Linear(32, 4))


def _images(channels: int = 1, size: int = 8):
    """NCHW float32 images, 8×8 single-channel by default (the shape of the shipped digits data)."""
    return lambda rng, batch: _tensor(rng.standard_normal((batch, channels, size, size)).astype(np.float32))


def build_cnn():
    """Padded, strided and pooled: a quantized conv that mixes up stride and padding changes the
    second conv's output size (2×2 → 6×6), which the classifier's input size then refuses."""
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Flatten, Linear, Sequential
    from tinytorch.core.spatial import Conv2D, MaxPool2D

    return Sequential(
        Conv2D(1, 4, 3, padding=1), ReLU(), MaxPool2D(2),  # 8×8 → 8×8 → 4×4
        Conv2D(4, 8, 3, stride=2, padding=1), ReLU(),  # 4×4 → 2×2
        Flatten(), Linear(8 * 2 * 2, 10),
    )  # fmt: skip


_RESIDUAL_BLOCK: list = []  # the class, built on first use so importing the zoo loads no tinytorch module


def _residual_block_class():
    if not _RESIDUAL_BLOCK:
        from tinytorch.core.layers import Module
        from tinytorch.core.spatial import Conv2D

        class ResidualBlock(Module):
            """``relu(x + conv2(relu(conv1(x))))``: the skip path adds the input back unchanged."""

            def __init__(self, channels: int):
                self.conv1 = Conv2D(channels, channels, 3, padding=1)
                self.conv2 = Conv2D(channels, channels, 3, padding=1)

            def forward(self, x):
                return (x + self.conv2(self.conv1(x).relu())).relu()

        _RESIDUAL_BLOCK.append(ResidualBlock)
    return _RESIDUAL_BLOCK[0]


def build_resnet():
    """A residual block, then an unpadded-in-height, strided, non-square downsampling conv: kernel
    (2, 3), stride 2, padding (0, 1). Swapping stride and padding, or the two axes of either, changes
    its 4×4 output (or fails), so the quantized conv's geometry is checked from stage 09 on."""
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Flatten, Linear, Sequential
    from tinytorch.core.spatial import Conv2D, MaxPool2D

    block = _residual_block_class()
    return Sequential(
        Conv2D(1, 4, 3, padding=1), ReLU(),  # stem, 8×8
        block(4),
        Conv2D(4, 8, (2, 3), stride=2, padding=(0, 1)), ReLU(),  # 8×8 → 4×4
        MaxPool2D(2),  # 4×4 → 2×2
        Flatten(), Linear(8 * 2 * 2, 10),
    )  # fmt: skip


# ----------------------------------------------------------------------------- sequence models (stages 12-13)
# Tiny on purpose: vocab 32, embed_dim 16, 2 heads, sequences of 8 tokens. Each model returns one row of
# class scores per sequence, (batch, num_classes), so every generic classifier test applies unchanged.
_VOCAB, _EMBED, _HEADS, _SEQ = 32, 16, 2, 8
_SEQ_CLASSES: dict = {}  # name -> class, built on first use so importing the zoo loads no tinytorch module


def _token_ids(vocab: int = _VOCAB, seq: int = _SEQ):
    """int64 token ids (batch, seq) in a Tensor."""
    return lambda rng, batch: _tensor(rng.integers(0, vocab, size=(batch, seq), dtype=np.int64))


def _attention_classifier_class():
    if "attention" not in _SEQ_CLASSES:
        from tinytorch.core.attention import MultiHeadAttention
        from tinytorch.core.layers import Linear, Module
        from tinytorch.text.embeddings import Embedding, PositionalEncoding

        class AttentionClassifier(Module):
            """Embedding → sinusoidal positions → multi-head self-attention → mean over tokens → Linear."""

            def __init__(self, num_classes: int):
                self.embedding = Embedding(_VOCAB, _EMBED)
                self.positions = PositionalEncoding(_SEQ, _EMBED)
                self.attn = MultiHeadAttention(_EMBED, _HEADS)
                self.head = Linear(_EMBED, num_classes)

            def forward(self, ids):
                x = self.positions(self.embedding(ids))
                return self.head(self.attn(x).mean(axis=1))

        _SEQ_CLASSES["attention"] = AttentionClassifier
    return _SEQ_CLASSES["attention"]


def build_attention():
    return _attention_classifier_class()(num_classes=4)


def _gpt_classifier_class():
    if "gpt" not in _SEQ_CLASSES:
        from tinytorch.core.layers import Module
        from tinytorch.models.transformer import GPT

        class GPTNextToken(Module):
            """A GPT (tied embeddings) whose output is the next-token logits of the LAST position,
            (batch, vocab): a classifier over the vocabulary. The GPT itself is ``.gpt``."""

            def __init__(self):
                self.gpt = GPT(_VOCAB, _EMBED, num_layers=2, num_heads=_HEADS, max_seq_len=_SEQ, tie_weights=True)

            def forward(self, ids):
                return self.gpt(ids)[:, -1, :]

        _SEQ_CLASSES["gpt"] = GPTNextToken
    return _SEQ_CLASSES["gpt"]


def build_gpt():
    return _gpt_classifier_class()()


_GPT_TAGS = frozenset({"sequence", "classifier", "gpt", "tied"})


_MM_IMAGE = 8  # image rows; row _MM_IMAGE of the input carries the token ids


def _image_and_tokens(rng, batch):
    """One float32 Tensor (batch, 1, 8 + 1, 8): rows 0-7 an 8×8 image, row 8 eight token ids stored as
    floats (exact small integers). One tensor keeps the zoo's single-input API; the model splits it."""
    x = np.empty((batch, 1, _MM_IMAGE + 1, _SEQ), dtype=np.float32)
    x[:, :, :_MM_IMAGE] = rng.standard_normal((batch, 1, _MM_IMAGE, _SEQ))
    x[:, 0, _MM_IMAGE] = rng.integers(0, _VOCAB, size=(batch, _SEQ))
    return _tensor(x)


def _multimodal_class():
    if "multimodal" not in _SEQ_CLASSES:
        from tinytorch.core.layers import Linear, Module
        from tinytorch.core.spatial import Conv2D, MaxPool2D
        from tinytorch.core.tensor import Tensor, concatenate
        from tinytorch.models.transformer import TransformerBlock
        from tinytorch.text.embeddings import Embedding, PositionalEncoding

        class ImageTextClassifier(Module):
            """CNN image features and transformer text features, concatenated → Linear classifier."""

            def __init__(self, num_classes: int):
                self.conv = Conv2D(1, 4, 3, padding=1)
                self.pool = MaxPool2D(2)  # 8×8 → 4×4
                self.image_proj = Linear(4 * 4 * 4, _EMBED)
                self.embedding = Embedding(_VOCAB, _EMBED)
                self.positions = PositionalEncoding(_SEQ, _EMBED)
                self.text_block = TransformerBlock(_EMBED, _HEADS, mlp_ratio=2)
                self.head = Linear(2 * _EMBED, num_classes)

            def forward(self, x):
                x = x if isinstance(x, Tensor) else Tensor(x)
                # Ids are rounded and clipped so any float input (e.g. random profiling input) stays valid.
                ids = np.clip(np.rint(x.data[:, 0, _MM_IMAGE]), 0, _VOCAB - 1).astype(np.int64)
                image = self.pool(self.conv(x[:, :, :_MM_IMAGE]).relu())
                image = self.image_proj(image.reshape(image.shape[0], -1))
                text = self.text_block(self.positions(self.embedding(ids))).mean(axis=1)
                return self.head(concatenate([image, text], axis=1))

        _SEQ_CLASSES["multimodal"] = ImageTextClassifier
    return _SEQ_CLASSES["multimodal"]


def build_multimodal():
    return _multimodal_class()(num_classes=4)


SQNR_35_DB = 10 ** (-35 / 20)  # 1.78 %


def _bounds(static: float, tensor: float) -> dict:
    return {Variant.INT8STATIC: static, Variant.INT8TENSOR: tensor}


# Measured relative errors, seed-0 model, batch 64 (NumPy 2.4, this machine): int8 / int8static / int8tensor
#   mlp 0.93 / 1.61 / 1.17 %   cnn 0.66 / 1.18 / 1.22 %   resnet 0.61 / 1.16 / 0.99 %
#   attention 0.84 / 1.51 / 2.84 % (one scale over q/k/v rows of different sizes)
#   gpt 1.14 / 2.56 / 1.95 %   multimodal 1.29 / 1.87 / 1.26 %
ENTRIES: list[ZooEntry] = [
    ZooEntry("mlp", 3, build_mlp, _vectors(16), _classes(4), 4, frozenset({"vector", "classifier"}), 0.01,
             _bounds(0.02, 0.015)),
    ZooEntry("cnn", 9, build_cnn, _images(), _classes(10), 10, frozenset({"image", "classifier"}), 0.01,
             _bounds(0.015, 0.015)),
    ZooEntry("resnet", 9, build_resnet, _images(), _classes(10), 10, frozenset({"image", "classifier"}), 0.01,
             _bounds(0.015, 0.0125)),
    ZooEntry("attention", 12, build_attention, _token_ids(), _classes(4), 4, frozenset({"sequence", "classifier"}),
             0.01, _bounds(0.02, 0.035)),
    ZooEntry("gpt", 13, build_gpt, _token_ids(), _classes(_VOCAB), _VOCAB, _GPT_TAGS, SQNR_35_DB,
             _bounds(0.03, 0.025)),
    ZooEntry("multimodal", 13, build_multimodal, _image_and_tokens, _classes(4), 4,
             frozenset({"multimodal", "classifier"}), SQNR_35_DB, _bounds(0.025, 0.016)),
]  # fmt: skip


def entries_for_stage(stage: int | None = None) -> list[ZooEntry]:
    stage = current_stage() if stage is None else stage
    return [e for e in ENTRIES if e.stage <= stage]


def _give_biases_values(model, rng: np.random.Generator) -> None:
    """Layers start with zero biases; a trained model's are not, and a bias lost or garbled by
    quantization must show up in the outputs, so every zoo model gets small seeded biases."""
    for name, param in model.named_parameters():
        if name.rsplit(".", 1)[-1] == "bias":
            param.data[...] = rng.uniform(-0.1, 0.1, size=param.shape)


def calibration_data(entry: ZooEntry) -> list:
    """What ``int8static`` calibrates on: the seed-0 batch of 64 (every seed-0 test batch up to 64 is
    a prefix of it, so the static ranges cover what the tests feed and nothing saturates there —
    saturation has its own tests in module 16) and a seed-1 batch of 64. The same data whatever the
    model's seed: two builds of different seeds differ in weights and ranges, not in what they saw."""
    return [entry.make_input(np.random.default_rng(seed), 64) for seed in (0, 1)]


def quantize_options(entry: ZooEntry, variant: str) -> dict:
    """The ``quantize_model`` keyword arguments that make ``variant`` (never called for fp32)."""
    if variant == Variant.INT8:
        return {}
    if variant == Variant.INT8STATIC:
        return {"calibration_data": calibration_data(entry)}
    if variant == Variant.INT8TENSOR:
        return {"per_channel": False}
    raise ValueError(f"unknown zoo variant {variant!r}; expected one of {QUANTIZED_VARIANTS}")


def build_float(entry: ZooEntry, seed: int = 0):
    """The fp32 model of ``entry`` with seeded weights and small seeded biases."""
    np.random.seed(seed)
    model = entry.build()
    _give_biases_values(model, np.random.default_rng(seed))
    return model


# (entry name, variant, seed) -> (the pristine built model, NumPy's global RNG state right after building).
_BUILT: dict[tuple[str, str, int], tuple[object, dict]] = {}


def build_case(entry: ZooEntry, variant: str, seed: int = 0) -> ZooCase:
    """Build ``entry`` with seeded weights; an int8 variant quantizes a copy of the same fp32 build.

    The fp32 variant never imports or calls quantization: its model is only ``build_float``.

    Each (entry, variant, seed) is built once per process and every call gets a deep copy of it, with
    NumPy's global RNG left where the build left it: exactly what a rebuild would give (builds are
    seeded), at a fraction of the cost (a copy is far cheaper than building and calibrating a model).
    The chain runs each stage in a fresh interpreter, so every stage still builds (and so checks) each
    model it uses for real.
    """
    if variant not in ALL_VARIANTS:
        raise ValueError(f"unknown zoo variant {variant!r}; expected one of {ALL_VARIANTS}")
    key = (entry.name, variant, seed)
    if key not in _BUILT:
        _BUILT[key] = (_build_model(entry, variant, seed), np.random.get_state())
    model, rng_state = _BUILT[key]
    np.random.set_state(rng_state)
    return ZooCase(entry, variant, copy.deepcopy(model))


def _build_model(entry: ZooEntry, variant: str, seed: int):
    model = build_float(entry, seed)
    if variant != "fp32":
        # Imported here, not at the top: quantization must load lazily at every stage.
        from tinytorch.optimization.quantization import quantize_model

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # inplace=False must not warn
            model = quantize_model(copy.deepcopy(model), inplace=False, **quantize_options(entry, variant))
    return model


# -- the promises an int8 twin keeps (the table in the module docstring) -----------------------------------
@dataclass(frozen=True)
class Promise:
    name: str
    module: int  # the module whose zoo tests check it (its first stage)
    says: str
    observe: Callable[[dict], object]  # from one run (see ``observe``) to what the twins must agree on


def _output_dtype(run: dict):
    return str(getattr(run["out"], "dtype", type(run["out"]).__name__))


PROMISES: tuple[Promise, ...] = (
    Promise("output type", 3, "the forward returns a Tensor", lambda run: type(run["out"]).__name__),
    Promise("output dtype", 3, "the output's dtype, for every batch and leading shape", _output_dtype),
    Promise(
        "output shape",
        3,
        "the output's shape for batches 1 and 3 (and leading (2, 3) for vector models)",
        lambda run: tuple(run["out"].shape),
    ),
    Promise("finite output", 3, "no NaN or inf in the output", lambda run: bool(np.all(np.isfinite(run["out"].data)))),
    Promise(
        "input untouched",
        3,
        "the forward leaves the input's values as they were",
        lambda run: bool(np.array_equal(run["x"].data, run["x_before"], equal_nan=True)),
    ),
    Promise(
        "no input aliasing",
        3,
        "the output shares no memory with the input",
        lambda run: not np.shares_memory(run["out"].data, run["x"].data),
    ),
    Promise(
        "requires_grad",
        5,
        "the output requires grad (parameters, and the input when it is float, do)",
        lambda run: bool(getattr(run["out"], "requires_grad", False)),
    ),
    Promise(
        "gradient dtype",
        5,
        "the input gradient's dtype, and the dtypes of the parameters' gradients",
        lambda run: (
            None if run["x_grad"] is None else str(run["x_grad"].dtype),
            tuple(sorted({str(g.dtype) for g in run["param_grads"] if g is not None})),
        ),
    ),
)


def promise_inputs(case: ZooCase) -> list:
    """The inputs the module-03 promises are observed on: batches 1 and 3 and, for vector models, a
    (2, 3) leading shape (a layer acts on the last axis)."""
    inputs = [case.input(1), case.input(3)]
    if "vector" in case.entry.tags:
        x = case.input(6)
        inputs.append(type(x)(x.data.reshape(2, 3, -1)))
    return inputs


def observe(model, x, module: int) -> dict[str, object]:
    """``{promise name: observation}`` for the promises of ``module``, from one forward (module 03: in
    eval mode, the input as given) or one backward (module 05: a float input requires grad)."""
    owned = [p for p in PROMISES if p.module == module]
    if not owned:
        raise ValueError(f"no promise is owned by module {module:02d}; see zoo.PROMISES")
    if module == 3:
        run = {"x": x, "x_before": np.array(x.data, copy=True)}
        run["out"] = model.eval()(x)
    else:
        from tinytorch.core.tensor import Tensor

        if x.dtype.kind == "f":
            x = Tensor(x.data, requires_grad=True)
        model.zero_grad()
        out = model.train()(x)
        out.sum().backward()
        params = [p for _, p in model.named_parameters()]
        run = {"out": out, "x_grad": getattr(x, "grad", None), "param_grads": [p.grad for p in params]}
    return {p.name: p.observe(run) for p in owned}


def broken_promises(case: ZooCase, x_for, module: int) -> list[str]:
    """Where ``case`` (an int8 variant) observes otherwise than its fp32 twin on the same input; for the
    fp32 variant, where it differs from a second build of itself. ``x_for()`` makes a fresh input."""
    twin = build_case(case.entry, "fp32").model
    mine, theirs = observe(case.model, x_for(), module), observe(twin, x_for(), module)
    return [
        f"{name}: {case.variant} {mine[name]!r}, fp32 {theirs[name]!r}" for name in mine if mine[name] != theirs[name]
    ]

"""Quantization benchmark (module 16): every row of the issues' Targets tables, measured.

Rows (``{"figure", "value", "unit", "target", "ok"}``, plus ``"ideal"`` where the figure is bounded by
the scheme):

1. model bytes fp32 / int8 of an MLP 1024-1024-1024-10 (real ``nbytes``, ``compare_model_sizes``);
2. process RSS freed by quantizing a 64 MiB float32 model in place, measured with psutil in a fresh
   subprocess (``rss_probe.py``), as a fraction of the bytes the model stops holding;
3. relative output error ``‖y_q − y‖ / ‖y‖`` on the held-out digits, for an MLP 64-256-128-10, a CNN
   and a transformer, each with Xavier, He and trained weights, twice: round-to-nearest (RTN) with the
   *ideal* beside it — the same per-channel scheme on the same weights simulated in float64
   (``ideal_rtn_error``), the limit no RTN int8 can beat; target ≤ 1.02× that ideal, and the absolute
   < 1 % only for trained weights, where it means something — and GPTQ (``rounding="gptq"``, codes
   chosen on the training split, weight-only), target < 1 % (and ≤ 0.35× RTN for the trained MLP).
   (For the ReLU MLP and CNN, Xavier and He draw the same seeded weights up to one factor per layer;
   ReLU networks and per-channel scales are both scale-equivariant, so their rows are identical by
   construction. The transformer's LayerNorm/GELU break that symmetry.)
4. a random He MLP 64-256-128-10 on Gaussian inputs: RTN against its ideal, GPTQ ≤ 0.9× RTN;
5. held-out accuracy drop of the trained digits MLP and CNN, RTN (≤ 0.5 pt) and GPTQ (no drop);
6. ``QuantizedLinear`` / ``Linear`` (batch 64, 1024 × 1024) and ``QuantizedConv2D`` / ``Conv2D``
   forward time: median of interleaved pairs in a fresh subprocess with one BLAS thread (target
   ≤ 1.15×; why one thread: ``forward_speed.py``), and with BLAS's default threads for information;
   and ``Profiler.measure_latency`` of an int8 / fp32 ``Linear(1024, 1024)`` model, best of 10 pairs
   with one BLAS thread (target ≤ 2×: the bound module 16's profiler test asserted until it flaked);
7. extra peak memory (tracemalloc) of a quantized forward, as a fraction of the float32 weight bytes,
   for the MLP 1024-1024-1024-10 (the target) and, for information, a single 1024 × 1024 layer and a
   Conv2D (there: quantized minus float forward, since both unfold the input the same way);
8. information rows on static activation calibration (no target in the issue).

Data: ``tests/data/digits.npz`` with the seeded 80/20 split every other digits test uses.
``python -m benchmarks quantization`` prints the table; ``python -m benchmarks.quantization`` too.
"""

from __future__ import annotations

import copy
import gc
import json
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Flatten, Linear, Module, Parameter, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.spatial import Conv2D, MaxPool2D
from tinytorch.core.tensor import Tensor
from tinytorch.models.transformer import LayerNorm, TransformerBlock
from tinytorch.optimization.int8 import scale_and_zero_point
from tinytorch.optimization.quantization import (
    compare_model_sizes,
    dequantize_int8,
    fake_quantize,
    quantize_int8,
    quantize_model,
)

ROOT = Path(__file__).resolve().parent.parent

DIGITS = ROOT / "tests" / "data" / "digits.npz"
RSS_PROBE, SPEED_PROBE = "benchmarks.rss_probe", "benchmarks.forward_speed"  # run with -m from ROOT


def row(figure: str, value: float, unit: str, target: str, ok: bool, ideal: float | None = None) -> dict:
    """One table row; ``ideal``: the scheme's bound for this figure (float64 round-to-nearest), if any."""
    out = {"figure": figure, "value": float(value), "unit": unit, "target": target, "ok": bool(ok)}
    if ideal is not None:
        out["ideal"] = float(ideal)
    return out


def quantized_copy(model: Module, **kw) -> Module:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # inplace=False never warns
        return quantize_model(model, inplace=False, **kw)


def relative_error(y_q: np.ndarray, y: np.ndarray) -> float:
    return float(np.linalg.norm(y_q.astype(np.float64) - y) / np.linalg.norm(y.astype(np.float64)))


# ----------------------------------------------------------------------------- models
def big_mlp() -> Sequential:
    return Sequential(Linear(1024, 1024), ReLU(), Linear(1024, 1024), ReLU(), Linear(1024, 10))


def digits_mlp(init: str) -> Sequential:
    return Sequential(
        Linear(64, 256, init=init), ReLU(), Linear(256, 128, init=init), ReLU(), Linear(128, 10, init=init)
    )


def digits_cnn() -> Sequential:
    return Sequential(
        Conv2D(1, 8, 3, padding=1), ReLU(), MaxPool2D(2),  # 8×8 → 4×4
        Conv2D(8, 16, 3, padding=1), ReLU(), MaxPool2D(2),  # 4×4 → 2×2
        Flatten(), Linear(16 * 2 * 2, 10),
    )  # fmt: skip


class DigitsTransformer(Module):
    """The 8 rows of a digit as 8 tokens: Linear embedding + learned positions, 2 pre-norm blocks,
    LayerNorm, mean over tokens, Linear classifier."""

    def __init__(self, dim: int = 32, heads: int = 4, layers: int = 2):
        self.embed = Linear(8, dim)
        self.positions = Parameter(np.random.randn(8, dim) * 0.02)
        self.blocks = [TransformerBlock(dim, heads, mlp_ratio=2) for _ in range(layers)]
        self.norm = LayerNorm(dim)
        self.head = Linear(dim, 10)

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        t = self.embed(x.reshape(x.shape[0], 8, 8)) + self.positions
        for block in self.blocks:
            t = block(t)
        return self.head(self.norm(t).mean(axis=1))


def reinit(model: Module, scheme: str) -> Module:
    """Redraw every Linear/Conv2D weight with Xavier (Glorot) or He (Kaiming) normal statistics."""
    for module in model.modules():
        if isinstance(module, (Linear, Conv2D)):
            w = module.weight.data
            receptive = int(np.prod(w.shape[2:])) if w.ndim > 2 else 1
            fan_in, fan_out = w.shape[1] * receptive, w.shape[0] * receptive
            std = np.sqrt(2.0 / (fan_in + fan_out)) if scheme == "xavier" else np.sqrt(2.0 / fan_in)
            w[...] = np.random.randn(*w.shape) * std
    return model


ARCH_LABEL = {"MLP": "MLP 64-256-128-10", "CNN": "CNN 2 conv + linear", "transformer": "transformer 2 blocks"}
ARCHITECTURES = {
    "MLP": (lambda: digits_mlp("xavier"), lambda x: x),
    "CNN": (digits_cnn, lambda x: x.reshape(-1, 1, 8, 8)),
    "transformer": (DigitsTransformer, lambda x: x),
}


# ----------------------------------------------------------------------------- data and training
def digits_split():
    with np.load(DIGITS, allow_pickle=False) as d:
        x, y = d["X"].astype(np.float32) / 16.0, d["y"].astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    cut = int(0.8 * len(x))
    return (x[order[:cut]], y[order[:cut]]), (x[order[cut:]], y[order[cut:]])


def train(model: Module, x: np.ndarray, y: np.ndarray, epochs: int, lr: float = 3e-3, batch: int = 32) -> Module:
    opt, loss_fn = Adam(model.parameters(), lr=lr), CrossEntropyLoss()
    rng = np.random.default_rng(1)
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            opt.zero_grad()
            loss_fn(model(Tensor(x[idx])), y[idx]).backward()
            opt.step()
    return model.eval()


def logits(model: Module, x: np.ndarray) -> np.ndarray:
    with no_grad():
        return model.eval()(Tensor(x)).data


def accuracy(model: Module, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(logits(model, x), axis=1) == y))


# ----------------------------------------------------------------------------- the rows
def bytes_ratio_rows() -> list[dict]:
    np.random.seed(0)
    model = big_mlp()
    sizes = compare_model_sizes(model, quantized_copy(model))
    print(f"[quantization] MLP 1024-1024-1024-10 sizes: {sizes}", file=sys.stderr)
    ratio = sizes["compression_ratio"]
    return [row("model bytes fp32 / int8, MLP 1024-1024-1024-10", ratio, "x", ">= 3.9 (limit 4.0)", ratio >= 3.9)]


def rss_rows() -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-m", RSS_PROBE, "--mb", "64"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"[quantization] rss probe: {probe}", file=sys.stderr)
    freed = probe["rss_freed"] / probe["theory_freed"]
    mib = 1 << 20
    return [
        row(
            f"process RSS freed quantizing a {probe['float_bytes'] / mib:.0f} MiB fp32 model "
            f"({probe['rss_freed'] / mib:.1f} of {probe['theory_freed'] / mib:.1f} MiB), psutil subprocess",
            100 * freed,
            "% of theory",
            ">= 70 %",
            freed >= 0.70,
        )
    ]


def ideal_rtn_error(model: Module, x: np.ndarray) -> float:
    """The scheme's own bound: per-channel symmetric round-to-nearest simulated in float64.

    A float64 copy of the model with every Linear/Conv2D weight replaced by ``round(w / s) · s``
    (``s = max|w_row| / 127``, float64: no float32 scale, no int8 storage, no float32 arithmetic),
    against the float64 model itself. The int8 layers can only match it, not beat it.
    """
    m = copy.deepcopy(model)
    for _, t in m.named_tensors():
        if t.data.dtype.kind == "f":
            t.data = t.data.astype(np.float64)
    x64 = Tensor(x.astype(np.float64))
    with no_grad():
        y = m.eval()(x64).data
        for module in m.modules():
            if type(module) in (Linear, Conv2D):
                w = module.weight.data.reshape(module.weight.shape[0], -1)
                s = np.abs(w).max(axis=1, keepdims=True) / 127
                s[s == 0] = 1.0
                module.weight.data = (np.round(w / s) * s).reshape(module.weight.shape)
        y_q = m(x64).data
    return float(np.linalg.norm(y_q - y) / np.linalg.norm(y))


def batches(x: np.ndarray, size: int = 256) -> list[np.ndarray]:
    return [x[i : i + size] for i in range(0, len(x), size)]


def gptq_copy(model: Module, calibration: np.ndarray) -> Module:
    """GPTQ codes from the training inputs, weight-only (the data drives only the rounding)."""
    return quantized_copy(model, calibration_data=batches(calibration), rounding="gptq", quantize_activations=False)


def rtn_row(what: str, err: float, ideal: float, trained: bool) -> dict:
    bar = err <= 1.02 * ideal and (err < 0.01 if trained else True)
    target = "<= 1.02x ideal" + (", < 1 %" if trained else "")
    return row(f"output error int8/fp32, {what}, round-to-nearest", 100 * err, "%", target, bar, ideal=100 * ideal)


def gptq_row(what: str, err: float, rtn: float, max_ratio: float | None) -> dict:
    ratio = err / rtn
    target = "< 1 %" + (f", <= {max_ratio:g}x RTN" if max_ratio is not None else "")
    ok = err < 0.01 and (max_ratio is None or ratio <= max_ratio)
    figure = f"output error int8/fp32, {what}, GPTQ ({ratio:.2f}x RTN's {100 * rtn:.3f} %)"
    return row(figure, 100 * err, "%", target, ok)


# The GPTQ ratio targets (others: the absolute < 1 % bar only, their ratio is reported).
GPTQ_MAX_RATIO = {("MLP", "trained"): 0.35}


def error_and_accuracy_rows() -> list[dict]:
    (x_train, y_train), (x_test, y_test) = digits_split()
    rows, accuracies = [], []
    for name, (build, shape) in ARCHITECTURES.items():
        xs_train, xs_test = shape(x_train), shape(x_test)
        for weights in ("xavier", "he", "trained"):
            np.random.seed(0)
            model = build()
            if weights == "trained":
                train(model, xs_train, y_train, epochs={"MLP": 15, "CNN": 15, "transformer": 12}[name])
            else:
                reinit(model, weights)
            reference = logits(model, xs_test)
            nearest, gptq = quantized_copy(model), gptq_copy(model, xs_train)
            err, err_gptq = (relative_error(logits(q, xs_test), reference) for q in (nearest, gptq))
            what = f"{ARCH_LABEL[name]}, {weights} weights (digits test set)"
            rows.append(rtn_row(what, err, ideal_rtn_error(model, xs_test), weights == "trained"))
            rows.append(gptq_row(what, err_gptq, err, GPTQ_MAX_RATIO.get((name, weights))))
            if weights == "trained":
                accs = [accuracy(m, xs_test, y_test) for m in (model, nearest, gptq)]
                accuracies.append((name, *accs))
    for name, fp32_acc, rtn_acc, gptq_acc in accuracies:
        print(
            f"[quantization] digits {name}: fp32 {fp32_acc:.2%}, int8 RTN {rtn_acc:.2%}, int8 GPTQ {gptq_acc:.2%}",
            file=sys.stderr,
        )
        if name == "transformer":
            continue  # the issue asks for the MLP and the CNN; the transformer's is printed above
        for rounding, acc, limit in (("round-to-nearest", rtn_acc, 0.5), ("GPTQ", gptq_acc, 0.0)):
            drop = 100 * (fp32_acc - acc)
            rows.append(
                row(
                    f"digits {name} held-out accuracy drop, {rounding} (fp32 {fp32_acc:.2%} -> int8 {acc:.2%})",
                    drop,
                    "points",
                    f"<= {limit:g}",
                    drop <= limit + 1e-9,
                )
            )
    return rows


def gaussian_mlp_rows() -> list[dict]:
    """A random (He) MLP 64-256-128-10 on Gaussian inputs: RTN against its ideal, GPTQ <= 0.9x RTN."""
    rng = np.random.default_rng(2)
    np.random.seed(2)
    model = reinit(digits_mlp("he"), "he")
    calibration = rng.standard_normal((2048, 64)).astype(np.float32)
    held_out = rng.standard_normal((1024, 64)).astype(np.float32)
    reference = logits(model, held_out)
    err = relative_error(logits(quantized_copy(model), held_out), reference)
    err_gptq = relative_error(logits(gptq_copy(model, calibration), held_out), reference)
    what = "random He MLP 64-256-128-10, Gaussian inputs"
    ratio = err_gptq / err
    return [
        rtn_row(what, err, ideal_rtn_error(model, held_out), trained=False),
        row(
            f"output error int8/fp32, {what}, GPTQ ({ratio:.2f}x RTN's {100 * err:.3f} %)",
            100 * err_gptq,
            "%",
            "<= 0.9x RTN",
            ratio <= 0.9,
        ),
    ]


def _speed_probe(threads: int | None, pairs: int, profiler_pairs: int = 0) -> dict:
    command = [sys.executable, "-m", SPEED_PROBE, "--pairs", str(pairs), "--profiler-pairs", str(profiler_pairs)]
    if threads:
        command += ["--threads", str(threads)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"[quantization] forward speed probe: {probe}", file=sys.stderr)
    return probe


def speed_rows(pairs: int = 300) -> list[dict]:
    """Quantized / float forward time (``forward_speed.py``): one BLAS thread for the target, see there."""
    pinned, threaded = _speed_probe(1, pairs, profiler_pairs=10), _speed_probe(None, pairs)
    labels = {
        "linear": "QuantizedLinear / Linear forward, batch 64, 1024x1024",
        "conv": "QuantizedConv2D / Conv2D forward, Conv2D(64,64,3,pad=1), batch (8,64,16,16)",
    }
    rows = []
    for key, label in labels.items():
        p, t = pinned[key], threaded[key]
        rows.append(
            row(
                f"{label}, 1 BLAS thread, median of {p['pairs']} interleaved pairs "
                f"({p['quant_ms']:.2f} / {p['float_ms']:.2f} ms)",
                p["ratio"],
                "x",
                "<= 1.15",
                p["ratio"] <= 1.15,
            )
        )
        rows.append(
            row(
                f"{label}, default BLAS threads (info: tracks machine load), median of {t['pairs']} pairs "
                f"({t['quant_ms']:.2f} / {t['float_ms']:.2f} ms, best-of ratio {t['best_ratio']:.2f})",
                t["ratio"],
                "x",
                "report only",
                True,
            )
        )
    prof = pinned["profiler"]  # was a test's assertion (tests/modules/16_quantization, with_profiler)
    rows.append(
        row(
            f"Profiler latency int8 / fp32, quantize_model(Linear 1024x1024), batch 64, 1 BLAS thread, best of "
            f"{prof['pairs']} interleaved pairs ({prof['int8_ms']:.2f} / {prof['fp32_ms']:.2f} ms)",
            prof["ratio"],
            "x",
            "<= 2",
            prof["ratio"] <= 2,
        )
    )
    return rows


def peak_extra_bytes(model: Module, x: Tensor) -> int:
    """tracemalloc peak during one no-grad forward, minus what was allocated before it (output included)."""
    gc.collect()
    tracemalloc.start()
    try:
        with no_grad():
            model(x)  # warm-up outside the measurement window
            gc.collect()
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            out = model(x)
            peak = tracemalloc.get_traced_memory()[1]
        del out
    finally:
        tracemalloc.stop()
    return peak - base


def memory_rows() -> list[dict]:
    np.random.seed(0)
    x = Tensor(np.random.randn(64, 1024).astype(np.float32))
    rows = []
    for label, build, is_target in (
        ("MLP 1024-1024-1024-10", big_mlp, True),
        ("single 1024x1024 layer (info: its 1 MiB scratch is 25 % of its weights)", lambda: Linear(1024, 1024), False),
    ):
        model = build()
        weight_bytes = sum(int(m.weight.nbytes) for m in model.modules() if isinstance(m, Linear))
        q = quantized_copy(model)
        del model
        extra = peak_extra_bytes(q, x)
        fraction = extra / weight_bytes
        rows.append(
            row(
                f"extra peak memory of a quantized forward, batch 64, {label} "
                f"({extra / 1024:.0f} KiB, output included)",
                100 * fraction,
                "% of fp32 weights",
                "<= 25 %" if is_target else "report only",
                fraction <= 0.25 if is_target else True,
            )
        )
    rows.append(conv_memory_row())
    return rows


def conv_memory_row() -> dict:
    """QuantizedConv2D's extra peak over the float Conv2D's on the same input (information)."""
    np.random.seed(0)
    conv = Conv2D(64, 64, 3, padding=1)
    x = Tensor(np.random.randn(8, 64, 16, 16).astype(np.float32))
    weight_bytes = int(conv.weight.nbytes)
    float_peak = peak_extra_bytes(Sequential(conv), x)
    quant_peak = peak_extra_bytes(quantized_copy(Sequential(conv)), x)
    extra = quant_peak - float_peak
    return row(
        f"extra peak memory of a QuantizedConv2D forward over Conv2D's, Conv2D(64,64,3,pad=1), batch (8,64,16,16) "
        f"({quant_peak / 1024:.0f} vs {float_peak / 1024:.0f} KiB)",
        100 * extra / weight_bytes,
        "% of fp32 weights",
        "report only",
        True,
    )


def calibration_rows() -> list[dict]:
    """Static activation ranges on outlier-heavy inputs: calibrated vs guessed vs dynamic (information)."""
    rng = np.random.default_rng(0)
    np.random.seed(0)

    def spiky():
        x = rng.standard_normal((16, 32))
        x[rng.random(x.shape) < 0.01] *= 20
        return x.astype(np.float32)

    model = Sequential(Linear(32, 16))
    calibrated = quantized_copy(model, calibration_data=[spiky() for _ in range(16)])
    weight_only = quantized_copy(model)
    held_out = [spiky() for _ in range(8)]

    def guessed(low, high):
        scale, zero_point = scale_and_zero_point(low, high, symmetric=False)
        return lambda t: weight_only(fake_quantize(t, scale, zero_point))

    def dynamic(t):
        q, scale, zero_point = quantize_int8(t)
        return weight_only(dequantize_int8(q, scale, zero_point))

    runs = {
        "weight-only (no activation quantization)": weight_only,
        "calibrated static range (16 batches, min/max)": calibrated,
        "guessed static range [-128, 127] (unobserved default)": guessed(-128.0, 127.0),
        "guessed static range [-6, 6]": guessed(-6.0, 6.0),
        "dynamic per-batch min/max range": dynamic,
    }
    rows = []
    for label, run in runs.items():
        errs = [relative_error(run(Tensor(x)).data, model(Tensor(x)).data) for x in held_out]
        rows.append(row(f"int8 activations, outlier-heavy inputs: {label}", 100 * np.mean(errs), "%", "info", True))
    return rows


def run() -> list[dict]:
    rows = []
    parts = (bytes_ratio_rows, rss_rows, error_and_accuracy_rows, gaussian_mlp_rows, speed_rows, memory_rows)
    for part in (*parts, calibration_rows):
        start = time.perf_counter()
        rows += part()
        print(f"[quantization] {part.__name__} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return rows


if __name__ == "__main__":
    for r in run():
        mark = "ok" if r["ok"] else "MISSED"
        print(f"{r['figure']}: {r['value']:.4g} {r['unit']} (target {r['target']}) {mark}")

"""Quantization benchmark (module 16): every row of the issue's Targets table, measured.

Rows (``{"figure", "value", "unit", "target", "ok"}``):

1. model bytes fp32 / int8 of an MLP 1024-1024-1024-10 (real ``nbytes``, ``compare_model_sizes``);
2. process RSS freed by quantizing a 64 MiB float32 model in place, measured with psutil in a fresh
   subprocess (``rss_probe.py``), as a fraction of the bytes the model stops holding;
3. relative output error ``‖y_q − y‖ / ‖y‖`` of per-channel weight-only int8, for an MLP, a CNN and a
   transformer, each with Xavier, He and trained weights (9 rows), on the held-out digits. (For the
   ReLU MLP and CNN, Xavier and He draw the same seeded weights up to one factor per layer; ReLU
   networks and per-channel scales are both scale-equivariant, so their two rows are identical by
   construction. The transformer's LayerNorm/GELU break that symmetry.)
4. held-out accuracy drop after quantizing an MLP and a CNN trained on the digits (plus the
   accuracies themselves);
5. ``QuantizedLinear`` / ``Linear`` forward time, batch 64, 1024 × 1024, interleaved in one run (median
   of the per-pair ratios);
6. extra peak memory (tracemalloc) of a quantized forward, as a fraction of the float32 weight bytes,
   for the MLP 1024-1024-1024-10 (the target) and, for information, a single 1024 × 1024 layer;
7. information rows on static activation calibration (no target in the issue).

Data: ``tests/data/digits.npz`` with the seeded 80/20 split every other digits test uses.
``python -m benchmarks quantization`` prints the table; ``python benchmarks/quantization.py`` too.
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from tinytorch.core.activations import ReLU  # noqa: E402
from tinytorch.core.autograd import no_grad  # noqa: E402
from tinytorch.core.layers import Flatten, Linear, Module, Parameter, Sequential  # noqa: E402
from tinytorch.core.losses import CrossEntropyLoss  # noqa: E402
from tinytorch.core.optimizers import Adam  # noqa: E402
from tinytorch.core.spatial import Conv2D, MaxPool2D  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402
from tinytorch.models.transformer import LayerNorm, TransformerBlock  # noqa: E402
from tinytorch.optimization.int8 import scale_and_zero_point  # noqa: E402
from tinytorch.optimization.quantization import (  # noqa: E402
    QuantizedLinear,
    compare_model_sizes,
    dequantize_int8,
    fake_quantize,
    quantize_int8,
    quantize_model,
)

DIGITS = ROOT / "tests" / "data" / "digits.npz"
RSS_PROBE = Path(__file__).resolve().with_name("rss_probe.py")


def row(figure: str, value: float, unit: str, target: str, ok: bool) -> dict:
    return {"figure": figure, "value": float(value), "unit": unit, "target": target, "ok": bool(ok)}


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
    return Sequential(Linear(64, 128, init=init), ReLU(), Linear(128, 64, init=init), ReLU(), Linear(64, 10, init=init))


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
        [sys.executable, str(RSS_PROBE), "--mb", "64"], cwd=ROOT, capture_output=True, text=True, check=True
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
            q = quantized_copy(model)
            err = relative_error(logits(q, xs_test), logits(model, xs_test))
            rows.append(
                row(
                    f"relative output error int8/fp32, {name}, {weights} weights (digits test set)",
                    100 * err,
                    "%",
                    "<= 1 %",
                    err <= 0.01,
                )
            )
            if weights == "trained":
                accuracies.append((name, accuracy(model, xs_test, y_test), accuracy(q, xs_test, y_test)))
    for name, fp32_acc, int8_acc in accuracies:
        if name == "transformer":
            continue  # the issue asks for the MLP and the CNN; the transformer's is printed below
        drop = 100 * (fp32_acc - int8_acc)
        rows.append(
            row(
                f"digits {name} held-out accuracy drop (fp32 {fp32_acc:.2%} -> int8 {int8_acc:.2%})",
                drop,
                "points",
                "<= 0.5",
                drop <= 0.5,
            )
        )
    for name, fp32_acc, int8_acc in accuracies:
        print(f"[quantization] digits {name}: fp32 {fp32_acc:.2%}, int8 {int8_acc:.2%}", file=sys.stderr)
    return rows


def speed_rows(repeats: int = 300) -> list[dict]:
    np.random.seed(0)
    layer = Linear(1024, 1024)
    qlayer = QuantizedLinear(layer)
    x = Tensor(np.random.randn(64, 1024).astype(np.float32))
    times = {"fp32": [], "int8": []}
    with no_grad():
        for _ in range(10):  # warm up BLAS threads and caches
            layer(x), qlayer(x)
        for _ in range(repeats):  # interleaved: both see the same machine load
            for key, fn in (("fp32", layer), ("int8", qlayer)):
                start = time.perf_counter()
                fn(x)
                times[key].append(time.perf_counter() - start)
    # The figure is the median of the per-pair ratios: each int8 call is timed right after its fp32
    # twin, so slow drifts in machine load (other processes on this 2-core VM) cancel pair by pair.
    # Best-of-N and plain medians are printed too; under CPU contention the four block-wise BLAS calls
    # suffer more than one big call, which shows in best-of-N (see the module's README notes).
    pair_ratio = statistics.median(i / f for i, f in zip(times["int8"], times["fp32"]))
    fp32, int8 = min(times["fp32"]), min(times["int8"])
    med_fp32, med_int8 = statistics.median(times["fp32"]), statistics.median(times["int8"])
    print(
        f"[quantization] forward: per-pair median ratio {pair_ratio:.3f}; best-of-{repeats} fp32 {fp32 * 1e3:.3f} ms, "
        f"int8 {int8 * 1e3:.3f} ms (ratio {int8 / fp32:.2f}); medians {med_fp32 * 1e3:.3f} / {med_int8 * 1e3:.3f} ms",
        file=sys.stderr,
    )
    return [
        row(
            f"QuantizedLinear / Linear forward time, batch 64, 1024x1024, median of {repeats} interleaved pairs "
            f"(best-of: {int8 * 1e3:.2f} / {fp32 * 1e3:.2f} ms = {int8 / fp32:.2f})",
            pair_ratio,
            "x",
            "<= 1.25",
            pair_ratio <= 1.25,
        )
    ]


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
    return rows


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
    for part in (bytes_ratio_rows, rss_rows, error_and_accuracy_rows, speed_rows, memory_rows, calibration_rows):
        start = time.perf_counter()
        rows += part()
        print(f"[quantization] {part.__name__} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return rows


if __name__ == "__main__":
    for r in run():
        mark = "ok" if r["ok"] else "MISSED"
        print(f"{r['figure']}: {r['value']:.4g} {r['unit']} (target {r['target']}) {mark}")

"""Process RSS before and after quantizing a float32 model in place; prints one JSON line.

Run in a fresh interpreter (``benchmarks/quantization.py`` does) so nothing else lives in the
process: ``python -m benchmarks.rss_probe [--mb 64]``. The model is ``Sequential`` of square
``Linear`` layers (2048 × 2048, 16 MiB of float32 weights each) adding up to ``--mb`` MiB. The
figure is what the operating system sees: resident set size from ``psutil``, with no allocator
tricks (no ``malloc_trim``) — freed memory only counts if the process actually gave it back.
"""

from __future__ import annotations

import argparse
import gc
import json
import warnings
from pathlib import Path

import numpy as np
import psutil

from tinytorch.core.layers import Linear, Sequential
from tinytorch.optimization.quantization import QuantizationWarning, compare_model_sizes, quantize_model

ROOT = Path(__file__).resolve().parent.parent

WIDTH = 2048
MIB = 1 << 20


def rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=64, help="float32 weight MiB (multiple of 16, default 64)")
    args = parser.parse_args(argv)
    layers = max(1, args.mb * MIB // (WIDTH * WIDTH * 4))

    np.random.seed(0)
    baseline = rss()
    model = Sequential(*[Linear(WIDTH, WIDTH) for _ in range(layers)])
    weight_bytes = sum(int(t.nbytes) for _, t in model.named_tensors())
    before = rss()
    sizes_before = compare_model_sizes(model, model)["original_bytes"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)  # in place on purpose: that is what frees memory
        quantize_model(model)
    after = rss()
    held_after = compare_model_sizes(model, model)["original_bytes"]
    result = {
        "layers": layers,
        "float_bytes": weight_bytes,
        "held_bytes_before": sizes_before,
        "held_bytes_after": held_after,
        "theory_freed": sizes_before - held_after,
        "rss_baseline": baseline,
        "rss_before": before,
        "rss_after": after,
        "rss_freed": before - after,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

"""Run in a fresh interpreter by the module-16 integration tests, for measurements the test process
itself cannot make reliably.

Default mode (``test_os_level_memory_reduction``): how much resident memory (RSS, as the operating
system counts it) quantizing a float32 model really gives back.

Builds a Linear-only model of ``--megabytes`` MB of float32 weights, measures RSS, quantizes it in
place, collects garbage and measures again, then runs one forward + backward pass and measures a
third time. Prints one JSON line: the model's bytes before/after and the three RSS readings.

The parent sets ``MALLOC_MMAP_THRESHOLD_`` so glibc serves every large array with its own mapping and
unmaps it on free: then RSS drops exactly when the last reference to an array goes, which is what is
being tested (not glibc's heap-trimming heuristics).

``--latency`` (``test_quantization_with_profiler``): the profiler's latency of an int8 and a float32
``Linear(1024, 1024)`` on a batch of 64, interleaved, best of five. The parent pins BLAS to one thread:
on a busy machine a multi-threaded BLAS stalls on every call for whole scheduler slices, which punishes
the block-by-block int8 path (several BLAS calls) far more than one float32 call, and says nothing
about the code being measured.
"""

from __future__ import annotations

import argparse
import gc
import json
import warnings

import numpy as np
import psutil  # the test's dependency: add psutil to the test environment if this import fails

from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.tensor import Tensor
from tinytorch.optimization.quantization import QuantizationWarning, quantize_model
from tinytorch.profiling.profiler import Profiler

WIDTH = 1024  # every layer is WIDTH × WIDTH: 4 MiB of float32 weights


def rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


def model_bytes(model) -> dict:
    return {
        str(dtype): sum(t.data.nbytes for _, t in model.named_tensors() if t.data.dtype == dtype)
        for dtype in {t.data.dtype for _, t in model.named_tensors()}
    }


def latency() -> dict:
    np.random.seed(0)
    fp32 = Sequential(Linear(WIDTH, WIDTH))
    int8 = quantize_model(fp32, inplace=False)
    x = Tensor(np.random.default_rng(0).standard_normal((64, WIDTH)).astype(np.float32))
    prof = Profiler()
    pairs = [(prof.measure_latency(int8, x, 3, 3), prof.measure_latency(fp32, x, 3, 3)) for _ in range(5)]
    return {"int8_ms": min(q for q, _ in pairs), "fp32_ms": min(f for _, f in pairs)}  # milliseconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=16)
    parser.add_argument("--latency", action="store_true")
    args = parser.parse_args()
    if args.latency:
        print(json.dumps(latency()))
        return
    layers = max(1, args.megabytes * (1 << 20) // (WIDTH * WIDTH * 4))
    np.random.seed(0)
    model = Sequential([Linear(WIDTH, WIDTH) for _ in range(layers)])
    before_bytes = model_bytes(model)
    rss_fp32 = rss()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)
        quantize_model(model)
    rss_int8 = rss()
    x = Tensor(np.random.default_rng(0).standard_normal((4, WIDTH)).astype(np.float32), requires_grad=True)
    model(x).sum().backward()
    del x
    rss_after_pass = rss()
    print(
        json.dumps(
            {
                "layers": layers,
                "weights": layers * WIDTH * WIDTH,
                "before_bytes": before_bytes,
                "after_bytes": model_bytes(model),
                "rss_fp32": rss_fp32,
                "rss_int8": rss_int8,
                "rss_after_pass": rss_after_pass,
            }
        )
    )


if __name__ == "__main__":
    main()

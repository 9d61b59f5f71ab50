"""Quantized / float forward time, interleaved pairs; prints one JSON line. Run in a fresh interpreter.

``python -m benchmarks.forward_speed [--threads N] [--pairs 300]``. ``--threads`` is set as
``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` *before* NumPy loads (the only
moment BLAS reads it), which is why this is a subprocess.

Why a single BLAS thread for the target figure: on this shared 2-core machine, other processes keep
both cores busy and a threaded BLAS call then waits for its second thread to be scheduled — a delay of
a scheduler time slice (milliseconds) per call against a 1.5 ms product. One float GEMM pays that once,
the quantized forward once per weight block, so the threaded ratio measures the machine's load more
than the code (medians of 15-70 ms for a 1.2-1.5 ms product were seen under load). With one thread
each call is plain single-core arithmetic and the per-pair ratio is stable. The threaded figure is
measured too and reported as information.

Each pair runs the two forwards back to back, in alternating order (float first on even pairs,
quantized first on odd ones) so neither always inherits the other's warm caches; the figure is the
median of the per-pair ratios.

``--profiler-pairs N`` adds what module 16's ``test_quantization_with_profiler`` used to assert (a timing
ratio, which failed once in four stage-16 runs under load): ``Profiler.measure_latency`` of
``quantize_model(Sequential(Linear(1024, 1024)), inplace=False)`` and of the float model on a batch of 64,
``repeats=3``, N interleaved pairs, best of each — the figure is int8 best / fp32 best.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pin_threads(threads: int | None) -> None:
    if threads:
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(threads)


def interleaved_ratio(float_fn, quant_fn, pairs: int) -> dict:
    """Median of quant/float time ratios over ``pairs`` back-to-back pairs, order alternating."""
    for _ in range(10):  # warm up BLAS, caches and the allocator
        float_fn(), quant_fn()
    ratios, floats, quants = [], [], []
    for i in range(pairs):
        order = ((0, float_fn), (1, quant_fn)) if i % 2 == 0 else ((1, quant_fn), (0, float_fn))
        took = [0.0, 0.0]
        for slot, fn in order:
            start = time.perf_counter()
            fn()
            took[slot] = time.perf_counter() - start
        floats.append(took[0])
        quants.append(took[1])
        ratios.append(took[1] / took[0])
    return {
        "ratio": statistics.median(ratios),
        "float_ms": 1e3 * statistics.median(floats),
        "quant_ms": 1e3 * statistics.median(quants),
        "best_ratio": min(quants) / min(floats),
        "pairs": pairs,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: BLAS's own choice)")
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--profiler-pairs", type=int, default=0, help="Profiler latency pairs (0: not measured)")
    args = parser.parse_args(argv)
    _pin_threads(args.threads)

    import numpy as np  # after the thread count is in the environment

    from tinytorch.core.autograd import no_grad
    from tinytorch.core.layers import Linear
    from tinytorch.core.spatial import Conv2D
    from tinytorch.core.tensor import Tensor
    from tinytorch.optimization.quantization import QuantizedConv2D, QuantizedLinear

    np.random.seed(0)
    rng = np.random.default_rng(0)
    linear = Linear(1024, 1024)
    conv = Conv2D(64, 64, 3, padding=1)
    x_lin = Tensor(rng.standard_normal((64, 1024)).astype(np.float32))
    x_conv = Tensor(rng.standard_normal((8, 64, 16, 16)).astype(np.float32))
    q_lin, q_conv = QuantizedLinear(linear), QuantizedConv2D(conv)
    with no_grad():
        result = {
            "threads": args.threads,
            "linear": interleaved_ratio(lambda: linear(x_lin), lambda: q_lin(x_lin), args.pairs),
            "conv": interleaved_ratio(lambda: conv(x_conv), lambda: q_conv(x_conv), max(50, args.pairs // 3)),
        }
    if args.profiler_pairs:
        result["profiler"] = profiler_latency(args.profiler_pairs)
    print(json.dumps(result))
    return result


def profiler_latency(pairs: int) -> dict:
    """Best ``Profiler.measure_latency`` of an int8 and a float32 ``Linear(1024, 1024)``, batch 64,
    over ``pairs`` interleaved pairs (the measurement ``test_quantization_with_profiler`` asserted on)."""
    import numpy as np

    from tinytorch.core.layers import Linear, Sequential
    from tinytorch.core.tensor import Tensor
    from tinytorch.optimization.quantization import quantize_model
    from tinytorch.profiling.profiler import Profiler

    np.random.seed(0)
    fp32 = Sequential(Linear(1024, 1024))
    int8 = quantize_model(fp32, inplace=False)
    x = Tensor(np.random.default_rng(0).standard_normal((64, 1024)).astype(np.float32))
    prof = Profiler()
    took = [(prof.measure_latency(int8, x, repeats=3), prof.measure_latency(fp32, x, repeats=3)) for _ in range(pairs)]
    best_int8, best_fp32 = min(q for q, _ in took), min(f for _, f in took)
    return {"ratio": best_int8 / best_fp32, "int8_ms": 1e3 * best_int8, "fp32_ms": 1e3 * best_fp32, "pairs": pairs}


if __name__ == "__main__":
    main()

"""How much resident memory (RSS, as the operating system counts it) quantizing a float32 model in
place really gives back — measured in a forked child of the test process (``measure_in_fork``), for
``test_os_level_memory_reduction``.

Builds a Linear-only model of ``megabytes`` MiB of float32 weights, measures RSS, quantizes it in
place, collects garbage and measures again, then runs one forward + backward pass and measures a
third time. Returns the model's bytes before/after and the three RSS readings.

The child first sets glibc's mmap threshold (``mallopt``, what ``MALLOC_MMAP_THRESHOLD_=65536`` does at
start-up) so every large array gets its own mapping and is unmapped on free: then RSS drops exactly
when the last reference to an array goes, which is what is being tested (not glibc's heap-trimming
heuristics, nor the dynamic threshold earlier tests in the same process have raised). A fork costs
~5 ms where a fresh interpreter cost ~0.9 s (importing NumPy alone ~0.4 s here); the readings are
differences, so the pages the child shares with its parent cancel out.

Why 16 MiB is enough: the in-place quantization frees 12.0 MiB (theory: weights minus codes and
scales). What is read is the *anonymous* resident memory (``rss``): plain RSS also counts the code pages of
NumPy, BLAS and Python, which the kernel evicts under memory pressure and the pass faults back in — in a
30-cell sign-off that once moved plain RSS by ~5 MiB, twice in a row, and failed a correct model. Read
anonymously, the fork shows 11.99 MiB freed and 11.66 MiB after a forward + backward pass (the pass keeps
~0.3 MiB of its own); the test asks for 70 % of theory (8.4 MiB): a model that keeps its float weights
alive reads −4.0 MiB (verified by leaking them on purpose: the test fails), 12.4 MiB below the bar. At
8 MiB the same readings are 5.99 / 5.66 MiB against a 4.2 MiB bar: 16 MiB doubles the margin for the
pass's own allocations for ~0.1 s; the fork does not depend on the size.

As a script: ``python rss_probe_script.py [--megabytes 16]`` measures in its own process (after the same
``mallopt``) and prints one JSON line.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import json
import os
import traceback
import warnings

import numpy as np
import psutil  # the test's dependency: add psutil to the test environment if this import fails

from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.tensor import Tensor
from tinytorch.optimization.quantization import QuantizationWarning, quantize_model

WIDTH = 1024  # every layer is WIDTH × WIDTH: 4 MiB of float32 weights
MEGABYTES = 16
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def rss() -> int:
    """Resident *anonymous* memory (RssAnon = rss - shared): the heap the model lives in. File-backed pages
    (the code of NumPy, BLAS, Python) are left out: under memory pressure the kernel evicts them and the
    pass faults them back in, which moves plain RSS by megabytes that have nothing to do with the model."""
    gc.collect()
    info = psutil.Process().memory_info()
    return info.rss - getattr(info, "shared", 0)


def model_bytes(model) -> dict:
    return {
        str(dtype): sum(t.data.nbytes for _, t in model.named_tensors() if t.data.dtype == dtype)
        for dtype in {t.data.dtype for _, t in model.named_tensors()}
    }


def map_large_allocations(threshold: int = 65536) -> bool:
    """glibc: serve every allocation of ``threshold`` bytes or more by its own mapping, trim freed heap
    above it. False where there is no ``mallopt`` (then freed memory may stay resident)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold)) and bool(mallopt(_M_TRIM_THRESHOLD, threshold))


def measure(megabytes: int = MEGABYTES) -> dict:
    layers = max(1, megabytes * (1 << 20) // (WIDTH * WIDTH * 4))
    gc.freeze()  # what the process held before is never collected here: not between two readings, nor
    # traversed by every collection (the test process's heap: seconds of gc under load)
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
    return {
        "layers": layers,
        "weights": layers * WIDTH * WIDTH,
        "before_bytes": before_bytes,
        "after_bytes": model_bytes(model),
        "rss_fp32": rss_fp32,
        "rss_int8": rss_int8,
        "rss_after_pass": rss_after_pass,
    }


def measure_in_fork(megabytes: int = MEGABYTES) -> dict:
    """``measure(megabytes)`` in a forked child with large allocations mapped; its result (or its error)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller
        code, reply = 1, "{}"
        try:
            os.close(read_end)
            if not map_large_allocations():
                raise RuntimeError("no mallopt in this C library: RSS after a free would not be meaningful")
            reply, code = json.dumps(measure(megabytes)), 0
        except BaseException:
            reply = json.dumps({"error": traceback.format_exc()})
        finally:
            try:
                with os.fdopen(write_end, "w") as out:
                    out.write(reply)
            finally:
                os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as replies:
        reply = replies.read()
    _, status = os.waitpid(pid, 0)
    result = json.loads(reply or "{}")
    assert os.waitstatus_to_exitcode(status) == 0 and "error" not in result, result.get("error", status)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="RSS freed by quantizing a float32 model in place")
    parser.add_argument("--megabytes", type=int, default=MEGABYTES)
    args = parser.parse_args()
    map_large_allocations()
    print(json.dumps(measure(args.megabytes)))


if __name__ == "__main__":
    main()

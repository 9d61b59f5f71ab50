"""Backward benchmark (module 01's engine): a 10,000-op chain, its cost against the engine it replaced.

The ``Function``/``_grad_fn`` protocol (every op result holds a named ``Function`` node) replaced
micrograd-style closures stored on the tensor. Rows:

1. CPU time of ``loss.backward()`` over a chain of 10,000 ops (``y = y * 1.0001``, ``y = y + 0.5``
   alternately, on 8 float32 elements), best of several runs — it must complete (no recursion limit);
2. that time over the same chain's backward with the closure engine of commit ``BASELINE_COMMIT``
   (loaded from git into a private module, run interleaved with today's in this one interpreter; the
   median of the pair ratios), target <= 1.1. Without git (an exported tree) the ratio is taken against
   ``BASELINE_S``, the closure engine's best CPU time measured on this 2-core machine.

``python -m benchmarks.backward`` prints the rows.
"""

from __future__ import annotations

import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

OPS = 10_000
PAIRS = 15
TARGET_RATIO = 1.1
BASELINE_COMMIT = "a8e36cc"  # the last commit with the closure engine
BASELINE_S = 0.052  # its best CPU time for this chain, measured here (0.0520-0.0526 s, 2 runs of 7)


def _chain(tensor_cls, ops: int = OPS):
    x = tensor_cls(np.ones(8, dtype=np.float32), requires_grad=True)
    y = x
    for _ in range(ops // 2):
        y = y * 1.0001
        y = y + 0.5
    return x, y.sum()


def backward_cpu_time(tensor_cls) -> float:
    _, loss = _chain(tensor_cls)
    start = time.process_time()
    loss.backward()
    return time.process_time() - start


def _baseline_tensor():
    """The closure engine's ``Tensor``, from git, as a private module (None without git or the commit)."""
    try:
        source = subprocess.run(
            ["git", "show", f"{BASELINE_COMMIT}:tinytorch/core/tensor.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(tempfile.mkdtemp(prefix="tinytorch-bench-")) / "baseline_tensor.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("_tinytorch_baseline_tensor", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses/annotations may look the module up
    spec.loader.exec_module(module)
    return module.Tensor


def run() -> list[dict]:
    from tinytorch.core.tensor import Tensor

    baseline = _baseline_tensor()
    ours, ratios = [], []
    for _ in range(PAIRS):
        t = backward_cpu_time(Tensor)
        ours.append(t)
        if baseline is not None:
            ratios.append(t / backward_cpu_time(baseline))
    best = min(ours)
    if baseline is not None:
        ratio = statistics.median(ratios)
        against = f"the closure engine of {BASELINE_COMMIT}, median of {PAIRS} interleaved pairs"
    else:
        ratio = best / BASELINE_S
        against = f"its recorded {BASELINE_S * 1000:.0f} ms (no git here)"
    print(f"[backward] {OPS}-op chain: {best * 1000:.1f} ms CPU, {ratio:.3f}x {against}", file=sys.stderr)
    return [
        {
            "figure": f"backward of a {OPS:,}-op chain, CPU time, best of {PAIRS} (no recursion limit)",
            "value": best * 1000,
            "unit": "ms",
            "target": "completes",
            "ok": True,
        },
        {
            "figure": f"that backward / {against}",
            "value": ratio,
            "unit": "x",
            "target": f"<= {TARGET_RATIO:g}",
            "ok": ratio <= TARGET_RATIO,
        },
    ]


if __name__ == "__main__":
    for row in run():
        mark = "ok" if row["ok"] else "MISSED"
        print(f"{row['figure']}: {row['value']:.3f} {row['unit']} (target {row['target']}) {mark}")

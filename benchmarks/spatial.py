"""Conv2D speed: forward + backward of a CIFAR-sized batch, the cost that dominates CNN training."""

from __future__ import annotations

import time

import numpy as np

from tinytorch.core.spatial import Conv2D
from tinytorch.core.tensor import Tensor

BATCH_SHAPE = (32, 3, 32, 32)
TARGET_MS = 100.0  # ~7 ms on an idle 2-core box; headroom for a loaded CI machine. A per-pixel loop takes seconds


def conv_forward_backward_ms(repeats: int = 5) -> float:
    """Median milliseconds of Conv2D(3, 16, 3, padding=1) forward + backward on a (32, 3, 32, 32) batch."""
    rng = np.random.default_rng(0)
    np.random.seed(0)
    layer = Conv2D(3, 16, 3, padding=1)
    x = Tensor(rng.standard_normal(BATCH_SHAPE).astype(np.float32), requires_grad=True)
    times = []
    for _ in range(repeats + 1):  # the first run warms caches and is discarded
        layer.zero_grad()
        x.grad = None
        start = time.perf_counter()
        layer(x).sum().backward()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:])) * 1e3


def run() -> list[dict]:
    ms = conv_forward_backward_ms()
    return [
        {
            "figure": "Conv2D(3,16,3,pad=1) fwd+bwd, batch (32,3,32,32), median of 5",
            "value": ms,
            "unit": "ms",
            "target": f"<= {TARGET_MS:g} ms",
            "ok": ms <= TARGET_MS,
        }
    ]


if __name__ == "__main__":
    for row in run():
        print(row)

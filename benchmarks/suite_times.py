"""Time of the module tests 01-15 in a fresh interpreter (issue 3's target; 01-08 is in foundation).

The figure is CPU time with one BLAS thread, the wall time beside it: see ``foundation.pytest_wall_time``.
"""

from __future__ import annotations

from benchmarks.foundation import pytest_wall_time

TARGET_S = 20.0


def run() -> list[dict]:
    seconds, code, folders, wall = pytest_wall_time(15)
    return [
        {
            "figure": f"pytest tests/modules 01-15 CPU time, 1 BLAS thread ({len(folders)} folders; "
            f"wall {wall:.1f} s under this load)",
            "value": seconds,
            "unit": "s",
            "target": f"<= {TARGET_S:g} s, all green",
            "ok": code == 0 and seconds <= TARGET_S,
        }
    ]

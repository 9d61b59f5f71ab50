"""Wall time of the module tests 01-15 in a fresh interpreter (issue 3's target; 01-08 is in foundation)."""

from __future__ import annotations

from benchmarks.foundation import pytest_wall_time

TARGET_S = 20.0


def run() -> list[dict]:
    seconds, code, folders = pytest_wall_time(15)
    return [
        {
            "figure": f"pytest tests/modules 01-15 wall time ({len(folders)} folders)",
            "value": seconds,
            "unit": "s",
            "target": f"<= {TARGET_S:g} s, all green",
            "ok": code == 0 and seconds <= TARGET_S,
        }
    ]

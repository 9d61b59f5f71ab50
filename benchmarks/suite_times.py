"""Wall time of the module test runs, each in a fresh interpreter (what a developer waits for)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tinytorch.registry import MODULES

ROOT = Path(__file__).resolve().parent.parent


def _time_pytest(last_module: int) -> float:
    folders = [str(ROOT / spec.test_folder) for spec in MODULES if spec.number <= last_module]
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *folders],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def run() -> list[dict]:
    rows = []
    for last, target in ((8, 10.0), (15, 20.0)):
        seconds = _time_pytest(last)
        rows.append(
            {
                "figure": f"tests/modules 01-{last:02d} wall time",
                "value": seconds,
                "unit": "s",
                "target": f"<= {target:g} s",
                "ok": seconds <= target,
            }
        )
    return rows

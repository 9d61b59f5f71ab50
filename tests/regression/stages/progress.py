"""Live progress of a chain on stderr: one line per finished stage, and a heartbeat naming what still runs."""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from typing import TYPE_CHECKING

from regression.common import ENV_PROGRESS

if TYPE_CHECKING:
    from regression.schema import StageResult
    from regression.stages.stage import StagePlan


class Progress:
    """Live lines on stderr: one per finished stage (where the whole run is, elapsed, an estimate of what
    is left in this cell), plus a heartbeat naming what is still running."""

    def __init__(self, cell: str, plans: list[StagePlan]):
        self.cell, self.total, self.done = cell, len(plans), 0
        place = os.environ.get(ENV_PROGRESS, "").strip()
        self.prefix = f"cell {place} {cell}" if re.fullmatch(r"\d+/\d+", place) else cell
        # Stage k re-runs the tests of modules 01..k: its cost grows with the folders it runs.
        self.weights = {p.key: len(p.modules) for p in plans}
        self.weight_done = 0
        self.started = time.perf_counter()
        self.lock = threading.Lock()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def left(self) -> str:
        total = sum(self.weights.values())
        if not self.weight_done or self.weight_done >= total:
            return ""
        return f", ~{self.elapsed() * (total - self.weight_done) / self.weight_done:.0f} s left"

    def say(self, text: str) -> None:
        with self.lock:
            print(f"[{self.prefix}] {text}", file=sys.stderr, flush=True)

    def finished(self, stage_plan: StagePlan, result: StageResult) -> None:
        self.done += 1
        self.weight_done += self.weights.get(stage_plan.key, 1)
        verdict = "RED" if result.red else "ok "
        if result.reused:
            verdict += " (reused)"
        failed = result.failed + result.errors + result.collect_errors
        line = (
            f"{stage_plan.label:<26} {verdict} {result.seconds:6.1f} s, {result.passed} passed, {failed} failed"
            f"  (stage {self.done}/{self.total} done, elapsed {self.elapsed():.1f} s{self.left()})"
        )
        if result.problems:
            line += f"  - {result.problems[0].message}"
        self.say(line)

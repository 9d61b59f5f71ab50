"""Runs a cell's stages, ``--jobs`` at a time; with ``--first-red`` it stops the cell at its first red stage.

Full chain: longest stage first (stage k runs k folders), which packs the parallel slots best.
``--first-red``: ascending order, so the lowest stages finish first; when a stage is red every stage
above it is cancelled — a running one has its process group killed, a queued one never starts — and
left out of the results, exactly as if it had not been asked for (the cell reads *partial*). Stages
below it still finish: one of them may be red too, and the answer is the lowest red stage, so it is
the same answer a full chain gives, whatever the timing.

A SIGTERM or Ctrl-C ends every stage's process group and raises ``exits.Interrupted``; nothing is published.
"""

from __future__ import annotations

import concurrent.futures as futures
import math
import platform
import signal
import sys
import threading

from regression.contract import RUNNING
from regression.exits import Interrupted
from regression.stages.progress import Progress
from regression.stages.reuse import Reuse, execute
from regression.stages.stage import Context, StagePlan
from regression.stages.stage_run import StageRun

HEARTBEAT_SECONDS = 15


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def install_signal_handlers() -> None:
    signal.signal(signal.SIGTERM, _raise_interrupted)
    signal.signal(signal.SIGINT, _raise_interrupted)


class _Cutoff:
    """The lowest red stage so far (``--first-red``): everything above it is cancelled."""

    def __init__(self):
        self.stage = math.inf
        self.lock = threading.Lock()

    def lower_to(self, stage: int) -> None:
        with self.lock:
            self.stage = min(self.stage, stage)

    def above(self, stage: int) -> bool:
        return stage > self.stage


def run_chain(
    ctx: Context, plans: list[StagePlan], jobs: int, reuse: Reuse, first_red: bool = False
) -> tuple[list[StageRun], list[str]]:
    """Returns (the runs of the stages that count, in stage order; keys of the stages cancelled)."""
    progress = Progress(ctx.cell, plans)
    progress.say(
        f"{len(plans)} stage(s), {jobs} in parallel, python {platform.python_version()} ({sys.executable})"
        + (", with coverage" if ctx.coverage else "")
        + (", stopping at the first red stage" if first_red else "")
    )
    cutoff = _Cutoff()
    stopping = threading.Event()

    def work(stage_plan: StagePlan):
        if stopping.is_set() or (first_red and cutoff.above(stage_plan.stage)):
            return None
        return execute(ctx, stage_plan, reuse, lambda: stopping.is_set() or cutoff.above(stage_plan.stage))

    if first_red:
        ordered = sorted(plans, key=lambda p: (p.stage, p.key))
    else:
        ordered = sorted(plans, key=lambda p: (-len(p.modules), -p.stage))
    results: dict[str, StageRun] = {}
    pool = futures.ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        running = {pool.submit(work, p): p for p in ordered}
        while running:
            finished, _ = futures.wait(running, timeout=HEARTBEAT_SECONDS, return_when=futures.FIRST_COMPLETED)
            if not finished:
                busy = sorted(p.key for f, p in running.items() if f.running())
                progress.say(f"... running stage(s) {', '.join(busy)} (elapsed {progress.elapsed():.0f} s)")
            for future in finished:
                stage_plan = running.pop(future)
                run = future.result()
                if run is None or run.result.cancelled:
                    continue
                results[stage_plan.key] = run
                if first_red and run.result.red:
                    cutoff.lower_to(stage_plan.stage)
                if not (first_red and cutoff.above(stage_plan.stage)):
                    progress.finished(stage_plan, run.result)
    except BaseException:
        stopping.set()
        RUNNING.kill_all()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    kept = [p for p in plans if p.key in results and not (first_red and cutoff.above(p.stage))]
    cancelled = sorted(p.key for p in plans if p not in kept)
    if cancelled:
        progress.say(f"first red stage {int(cutoff.stage):02d}: cancelled stage(s) {', '.join(cancelled)}")
    return [results[p.key] for p in sorted(kept, key=lambda p: (p.stage, p.key))], cancelled

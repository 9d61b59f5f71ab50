"""Run a stage, or reuse the stored result of a run with exactly the same inputs (see stage_store.py)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from regression.common import spec
from regression.plugins import record_io
from regression.schema import Reused
from regression.stages.stage import Context, StagePlan, coverage_file, inputs_path, stage_paths
from regression.stages.stage_run import StageRun, run_stage
from regression.stages.stage_store import Hashes, Hit, StageStore, environment_digest, fixed_inputs

REUSE_ANY, REUSE_SAME_COMMIT, NO_REUSE = "any", "same-commit", "none"  # --reuse
REUSE_MODES = (REUSE_ANY, REUSE_SAME_COMMIT, NO_REUSE)
ANY_CELL = "any-cell"


@dataclass
class Reuse:
    store: StageStore | None  # None: --no-reuse (nothing looked up, nothing stored)
    mode: str
    hashes: Hashes
    commit: str | None


def stage_material(ctx: Context, stage_plan: StagePlan) -> dict:
    """What the chain passes a stage, besides files and the environment: part of the stage's key. The cell
    name is part of it only with coverage (it is in the coverage contexts); records are relabelled."""
    return {
        "cell": ctx.cell if ctx.coverage else None,
        "key": stage_plan.key,
        "modules": list(stage_plan.modules),
        "only_module": stage_plan.only_module,
        "coverage": ctx.coverage,
        "import_from": ctx.import_from,
        "autoload": ctx.autoload,
        "timeout": ctx.timeout,
        "pytest_args": list(ctx.pytest_args),
        "traced_after": ctx.traced_after.get(stage_plan.key, 0),
    }


def store_cell(ctx: Context) -> str:
    """The store's folder for this cell: results without coverage do not depend on the cell's name (the
    digest tells interpreters apart), so e.g. every mutant's chain reuses the control's stages."""
    return ctx.cell if ctx.coverage else ANY_CELL


def execute(ctx: Context, stage_plan: StagePlan, reuse: Reuse, cancelled=None) -> StageRun:
    if reuse.store is None:
        return run_stage(ctx, stage_plan, cancelled)
    folders = [spec(n).test_folder for n in stage_plan.modules]
    fixed = fixed_inputs(ctx.root, folders)
    digest = environment_digest(stage_material(ctx, stage_plan), dict(os.environ))
    for_commit = reuse.commit if reuse.mode == REUSE_SAME_COMMIT else None
    if reuse.mode != NO_REUSE and not (reuse.mode == REUSE_SAME_COMMIT and reuse.commit is None):
        hit = reuse.store.lookup(store_cell(ctx), stage_plan.key, digest, reuse.hashes, fixed, for_commit)
        if hit is not None:
            return _restore(ctx, stage_plan, hit)
    for rel in fixed:  # hashed before the run: the content the stage runs with
        reuse.hashes.of(rel)
    run = run_stage(ctx, stage_plan, cancelled)
    if not (run.result.timed_out or run.result.cancelled):
        read = _recorded_inputs(inputs_path(ctx, stage_plan))
        if read is not None:  # a stage that could not say what it read is never stored
            inputs = {rel: reuse.hashes.of(rel) for rel in sorted(set(fixed) | set(read))}
            records, log = stage_paths(ctx, stage_plan)
            files = {"records.jsonl": records, "stage.log": log}
            if ctx.coverage:
                files["coverage.data"] = coverage_file(ctx, stage_plan)
            ran_as = (ctx.cell, ctx.root)
            reuse.store.save(store_cell(ctx), stage_plan.key, digest, inputs, run.result, files, reuse.commit, ran_as)
    return run


def _recorded_inputs(path: Path) -> list[str] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, list) and all(isinstance(x, str) for x in data) else None


def _restore(ctx: Context, stage_plan: StagePlan, hit: Hit) -> StageRun:
    """The stored run's records, log and coverage data, put where this run's would go; marked reused."""
    records, log = stage_paths(ctx, stage_plan)
    for stored, target in (("records.jsonl", records), ("stage.log", log)):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(hit.folder / stored, target)
    if hit.cell not in (None, ctx.cell):
        record_io.write(records, [r.replace(cell=ctx.cell) for r in record_io.load(records)])
    if ctx.coverage and (hit.folder / "coverage.data").exists():
        target = coverage_file(ctx, stage_plan)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(hit.folder / "coverage.data", target)
    result = hit.result
    file = result.tinytorch_file
    if hit.root and file is not None and file.startswith(hit.root + os.sep):
        result = result.replace(tinytorch_file=str(ctx.root) + file[len(hit.root) :])  # the same checkout file, here
    reused = Reused(commit=hit.commit, date=hit.date, seconds=result.seconds)
    return StageRun(result.replace(reused=reused, seconds=0.0, cancelled=False), records)

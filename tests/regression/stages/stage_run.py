"""Running one stage: its pytest in its own process group, the rerun of its failures, then its verdict.

``run_stage`` returns a ``StageRun``: the typed ``schema.StageResult`` that ``judge.judge_stage`` decided
(with the run's own facts — wall time, log, cancelled, flaky tests — filled in), and beside it the path of
the stage's records file, which only this run needs (the chain merges it; it is never written to JSON).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from regression.common import ENV_INPUTS, safe_name
from regression.contract import Classification, RecordKind, run_with_timeout, tail_text
from regression.plugins import record_io
from regression.schema import Problem, Record, StageResult
from regression.stages.judge import judge_stage
from regression.stages.rerun import apply_rerun, rerun_candidates
from regression.stages.stage import (
    Context,
    StagePlan,
    build_command,
    build_env,
    coverage_file,
    stage_folders,
    stage_paths,
)

EMPTY = Classification.EMPTY
STDERR_TAIL_LINES = 25
PROBE_BYTES = 256 * 1024
_TEST_DEF = re.compile(r"^\s*(?:async\s+)?def test|^\s*class Test", re.M)


@dataclass(frozen=True)
class StageRun:
    result: StageResult
    records: Path  # this run's records file of the stage (runtime only: stages.json names the merged one)


def run_stage(ctx: Context, stage_plan: StagePlan, cancelled=None) -> StageRun:
    started = time.perf_counter()
    records_path, log_path = stage_paths(ctx, stage_plan)
    records_path.unlink(missing_ok=True)
    problems: list[Problem] = []
    existing, candidates = [], []
    for number, folder in stage_folders(ctx, stage_plan):
        rel = folder.relative_to(ctx.root).as_posix()
        if folder.is_dir():
            existing.append(rel)
            candidates += [(number, f) for f in test_like_files(folder, ctx.root)]
        else:
            problems.append(Problem(EMPTY, rel, f"{rel} does not exist", module=number))
    exit_code, timed_out, was_cancelled = None, False, False
    if existing:
        exit_code, timed_out, was_cancelled = _run_pytest(ctx, stage_plan, existing, records_path, log_path, cancelled)
    else:
        log_path.write_text("", encoding="utf-8")
    records = record_io.load(records_path) if records_path.exists() else []
    flaky: list[str] = []
    if exit_code not in (None, 0) and not (timed_out or was_cancelled) and records_path.exists():
        records, flaky = _rerun_failures(ctx, stage_plan, records_path, records, cancelled)
    output = tail_text(log_path, STDERR_TAIL_LINES)
    if existing and not any(r.kind == RecordKind.SESSION for r in records):
        probe_disk(ctx.scratch)  # a stage that could not finish its records: a full disk is not a test's fault
    if records:  # without records pytest never ran properly: that problem is reported instead
        for number, rel in candidates:
            problems += [p.replace(module=number) for p in uncollected_files([rel], records, ctx.pytest_args)]
    result = judge_stage(stage_plan, records, problems, exit_code, timed_out, output, ctx)
    result = result.replace(
        seconds=round(time.perf_counter() - started, 2),
        log=f"logs/{log_path.name}",  # where publish puts it
        cancelled=was_cancelled,
        flaky=flaky,
    )
    return StageRun(result, records_path)


def test_like_files(folder: Path, root: Path) -> list[str]:
    """Python files in a test folder that define tests (``def test…`` / ``class Test…``), relative to root."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        if path.name in ("conftest.py", "__init__.py"):
            continue
        if _TEST_DEF.search(path.read_text(encoding="utf-8", errors="replace")):
            found.append(path.relative_to(root).as_posix())
    return found


def uncollected_files(candidates: list[str], records: list[Record], pytest_args: list[str]) -> list[Problem]:
    """Files that define tests but from which pytest collected nothing (e.g. a name not matching test_*.py)."""
    if any(arg.startswith(("-k", "-m", "--deselect", "--lf", "--last-failed")) for arg in pytest_args):
        return []  # a selection on purpose: not collecting a file is expected
    seen = {r.file for r in records if r.kind != RecordKind.SESSION}
    return [
        Problem(
            EMPTY,
            rel,
            f"{rel} defines tests but pytest collected none of them "
            f"(is it named test_*.py? rename it test_{Path(rel).name})",
        )
        for rel in candidates
        if rel not in seen
    ]


def probe_disk(folder: Path) -> None:
    """Raise the ``OSError`` (no space, file-size limit, quota) that writing here gives now, if any: a stage
    whose records stop short is judged red only when the disk is not the reason."""
    probe = folder / f".probe-{os.getpid()}-{time.monotonic_ns()}"
    try:
        with open(probe, "wb") as handle:
            handle.write(b"\0" * PROBE_BYTES)
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        probe.unlink(missing_ok=True)


def _rerun_failures(ctx: Context, stage_plan: StagePlan, records_path: Path, records: list[Record], cancelled):
    """Run the stage's failed tests once more in a fresh process (rerun.py): (the stage's records, those
    that passed there marked flaky; their test ids)."""
    node_ids = rerun_candidates(records)
    if not node_ids:
        return records, []
    rerun_records = records_path.with_name(f"rerun_{stage_plan.key}.jsonl")
    rerun_log = stage_paths(ctx, stage_plan)[1].with_suffix(".rerun.log")
    command = build_command(ctx, stage_plan, node_ids)
    env = build_env(ctx, stage_plan, rerun_records)
    env.pop(ENV_INPUTS, None)  # the first run already said what the stage reads
    if ctx.coverage:
        env["COVERAGE_FILE"] = str(coverage_file(ctx, stage_plan)) + ".rerun"
    run_with_timeout(command, timeout=ctx.timeout, output=rerun_log, cwd=ctx.root, env=env, cancelled=cancelled)
    if ctx.coverage:
        Path(env["COVERAGE_FILE"]).unlink(missing_ok=True)  # the first run's data is the stage's
    return apply_rerun(records_path, records, rerun_records, f"logs/{rerun_log.name}")


def _run_pytest(ctx: Context, stage_plan: StagePlan, folders: list[str], records: Path, log: Path, cancelled):
    """The stage's pytest in its own process group (contract.run_with_timeout): on time-out the whole group
    is killed, a test's own subprocesses included; its output streams to the stage log, never into memory."""
    if ctx.coverage:
        for stale in (ctx.out / "coverage").glob(f".coverage.{safe_name(ctx.cell)}.{stage_plan.key}*"):
            stale.unlink()
    command = build_command(ctx, stage_plan, folders)
    env = build_env(ctx, stage_plan, records)
    done = run_with_timeout(command, timeout=ctx.timeout, output=log, cwd=ctx.root, env=env, cancelled=cancelled)
    if done.timed_out:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"\n[chain] killed after {ctx.timeout:.0f} s\n")
        return -9, True, False
    return done.returncode, False, done.cancelled

"""Running one mutant: copy the snapshot, apply the edits, run the chain and the report there, keep the
small outputs, judge.

The chain runs in the copy with this interpreter, ``--upto <expected stage>``, ``--first-red`` and
``--import-from checkout`` (the verdict checks every stage imported the copy's tinytorch), then
``report.py`` on that one cell. Each child runs through the contract's one runner
(``run_with_timeout``): on time-out its whole process group is killed, grandchildren included, whether or
not it ever printed a line — a hung chain becomes an ERROR outcome, never a hung run. The copy is removed
afterwards; its ``stages.json``, ``regression.{json,md}``, ``chain.log`` and stage logs are kept.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tools.harness import Interrupted, Stop, WriteError, schema
from tools.mutants.catalogue import Mutant
from tools.mutants.verdict import Outcome, judge, read_typed
from tools.mutants.workspace import apply_mutant, copy_any

CHAIN = "tests/regression/chain.py"
REPORT = "tests/regression/report.py"
REPORT_TIMEOUT = 300.0  # seconds: the report reads one cell
KEPT_ARTIFACTS = ("stages.json", "regression.json", "regression.md", "chain.log", "logs")


@dataclass
class ChainRun:
    """What one chain + report run left behind."""

    cell: str
    chain_exit: int | None
    report_exit: int | None
    seconds: float
    regression: schema.Report | None  # regression.json
    stages: schema.CellRun | None  # stages.json
    artifacts: Path  # folder holding chain.log, stages.json, regression.json, logs/
    error: str | None = None


Runner = Callable[..., ChainRun]

GRACE = 30.0  # seconds a chain gets, after SIGTERM/Ctrl-C, to end its own stage process groups
# The run's signal handling (cli.main installs it): a signal during a chain asks it to stop, then kills it
# ``GRACE`` seconds later; the run then ends as ``Interrupted`` (exit 130/143), its temporary copies removed.
STOP = Stop(Interrupted, GRACE)


def _run_logged(command: list[str], cwd: Path, log: Path, verbose: bool, timeout: float) -> int:
    """Run ``command`` with its output appended to ``log``; killed with its whole process group at the
    time-out, even when it prints nothing (``subprocess.TimeoutExpired`` then), or ended by a signal to this
    run (``Interrupted``, raised once the child is gone)."""
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(command)}\n")
    done = STOP.run(command, timeout=timeout, output=log, cwd=cwd, append=True)
    if verbose:
        sys.stderr.write(log.read_text(encoding="utf-8", errors="replace"))
    if done.timed_out:
        raise subprocess.TimeoutExpired(command, timeout)
    return done.returncode


def run_chain(
    copy: Path,
    cell: str,
    *,
    upto: int,
    jobs: int,
    stage_timeout: float,
    verbose: bool = False,
    store: Path | None = None,
) -> ChainRun:
    """Stages 1..``upto`` of the chain on the copy at ``copy`` (this interpreter, the copy's tinytorch),
    stopping at the first red stage, then the report on that one cell. With ``store`` the stages whose
    recorded inputs the mutant did not touch are reused from the control's run (stage_store.py)."""
    cell_out = copy / "reports" / "cells" / cell
    report_out = copy / "reports" / cell
    report_out.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    chain = [python, CHAIN, "--cell", cell, "--out", str(cell_out), "--import-from", "checkout"]
    chain += ["--upto", str(upto), "--jobs", str(jobs), "--timeout", str(stage_timeout), "--first-red"]
    chain += ["--store", str(store)] if store is not None else ["--no-reuse"]
    report = [python, REPORT, "--cells", str(cell_out), "--out", str(report_out)]
    start = time.monotonic()
    chain_exit = report_exit = None
    error = None
    log = report_out / "chain.log"
    log.write_text("", encoding="utf-8")
    try:
        chain_exit = _run_logged(chain, copy, log, verbose, stage_timeout * upto)
        report_exit = _run_logged(report, copy, log, False, REPORT_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.monotonic() - start
    for name in ("stages.json", "logs"):
        if (cell_out / name).exists():
            copy_any(cell_out / name, report_out / name)
    regression = read_typed(report_out / "regression.json", "regression.json", schema.Report)
    stages = read_typed(cell_out / "stages.json", "stages.json", schema.CellRun)
    if error is None and report_exit == 2:
        error = f"report.py could not read the chain's output (exit 2); see {report_out / 'chain.log'}"
    if error is None and (regression is None or stages is None):
        error = f"no regression.json / stages.json (chain exit {chain_exit}); see {report_out / 'chain.log'}"
    return ChainRun(cell, chain_exit, report_exit, seconds, regression, stages, report_out, error)


def keep_artifacts(run: ChainRun, dest: Path) -> str:
    """Copy a run's small artifacts (not the bulky records) out of the temporary copy; returns the folder.
    ``WriteError`` if they cannot be written (the run stops: its evidence would be lost)."""
    try:
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for name in KEPT_ARTIFACTS:
            if (run.artifacts / name).exists():
                copy_any(run.artifacts / name, dest / name)
    except OSError as error:
        raise WriteError(f"could not write {dest}: {error.strerror or error}") from error
    return str(dest)


def run_one(
    base: Path,
    work: Path,
    mutant: Mutant | None,
    runner: Runner,
    keep_dir: Path,
    *,
    upto: int,
    keep_temp: bool = False,
    **run_kw,
) -> Outcome:
    """Copy the snapshot ``base`` to ``work``, apply ``mutant`` (None = control), run stages 1..upto, judge.

    The copy is removed afterwards (unless ``keep_temp``): its small artifacts are kept in ``keep_dir``."""
    shutil.copytree(base, work)
    try:
        if mutant is not None:
            apply_mutant(work, mutant)
        cell = f"mutant-{mutant.name if mutant else 'control'}"
        run = runner(work, cell, upto=upto, **run_kw)
        outcome = judge(mutant, run, work, upto)
        outcome.artifacts = keep_artifacts(run, keep_dir)
        return outcome
    finally:
        if not keep_temp:
            shutil.rmtree(work, ignore_errors=True)

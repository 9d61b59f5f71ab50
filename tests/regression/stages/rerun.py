"""A failing test is run once more, in a fresh process at the same stage: if it then passes it is *flaky*.

The chain re-runs every test at up to sixteen stages, so a test that fails only sometimes would read as
"stage k broke it". After a stage's run, its failed and erroring tests (not collection errors, not import
guard refusals: those are not chance) run again — the same stage, environment and plugins, only those node
ids, in a new interpreter. A test that passes there becomes outcome ``flaky``: it keeps its first message
and points at both logs, it never makes the stage red or picks the first red stage, and it never reads as
green either (the cell reads *flaky*; ``nox -s signoff`` says NO-GO naming it). A test that fails again is
a failure as before. More than ``MAX_RERUN`` failures at one stage are a broken stage, not chance: they are
not re-run (the stage's time stays bounded under a real bug).
"""

from __future__ import annotations

from pathlib import Path

from regression.contract import PASS_OUTCOMES, Outcome, RecordKind
from regression.plugins import record_io
from regression.schema import Record

RERUN_OUTCOMES = frozenset({Outcome.FAILED, Outcome.ERROR})
MAX_RERUN = 40


def rerun_candidates(records: list[Record]) -> list[str]:
    failing = [
        r.test_id
        for r in records
        if r.kind == RecordKind.TEST and r.outcome in RERUN_OUTCOMES and not r.guard_violations
    ]
    return failing if len(failing) <= MAX_RERUN else []


def mark_flaky(records: list[Record], rerun: list[Record], log_name: str) -> tuple[list[Record], list[str]]:
    """The records with each test that passed on the rerun turned ``flaky`` (its first outcome and the
    rerun's log kept); and their test ids."""
    passed = {r.test_id for r in rerun if r.kind == RecordKind.TEST and r.outcome in PASS_OUTCOMES}
    marked, flaky = [], []
    for record in records:
        if record.kind == RecordKind.TEST and record.outcome in RERUN_OUTCOMES and record.test_id in passed:
            record = record.replace(outcome=Outcome.FLAKY, first_outcome=record.outcome, rerun_log=log_name)
            flaky.append(record.test_id)
        marked.append(record)
    return marked, flaky


def apply_rerun(records_path: Path, records: list[Record], rerun_path: Path, log_name: str):
    """Fold a rerun's records into the stage's records (and its file): (the records, the flaky test ids)."""
    rerun = record_io.load(rerun_path) if rerun_path.exists() else []
    marked, flaky = mark_flaky(records, rerun, log_name)
    if flaky:
        record_io.write(records_path, marked)
    return marked, flaky

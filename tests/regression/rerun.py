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

from regression.common import FLAKY, read_jsonl, write_jsonl
from regression.contract import Outcome

RERUN_OUTCOMES = frozenset({Outcome.FAILED, Outcome.ERROR})
MAX_RERUN = 40


def rerun_candidates(records: list[dict]) -> list[str]:
    failing = [
        r["test_id"]
        for r in records
        if r.get("kind") == "test" and r.get("outcome") in RERUN_OUTCOMES and not r.get("guard_violations")
    ]
    return failing if len(failing) <= MAX_RERUN else []


def mark_flaky(records: list[dict], rerun: list[dict], log_name: str) -> list[str]:
    """Turn each record whose test passed on the rerun into ``flaky``; returns their test ids."""
    passed = {r["test_id"] for r in rerun if r.get("kind") == "test" and r.get("outcome") in ("passed", "xpassed")}
    flaky = []
    for record in records:
        if record.get("kind") == "test" and record.get("outcome") in RERUN_OUTCOMES and record["test_id"] in passed:
            record["first_outcome"], record["outcome"] = record["outcome"], FLAKY
            record["rerun_log"] = log_name
            flaky.append(record["test_id"])
    return flaky


def apply_rerun(records_path: Path, rerun_path: Path, log_name: str) -> list[str]:
    """Fold a rerun's records into the stage's records file; returns the flaky test ids."""
    records = list(read_jsonl(records_path))
    rerun = list(read_jsonl(rerun_path)) if rerun_path.exists() else []
    flaky = mark_flaky(records, rerun, log_name)
    if flaky:
        write_jsonl(records_path, records)
    return flaky

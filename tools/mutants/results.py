"""What a run shows and keeps: the ``--list`` text, the table, the summary line and ``mutants.json``.

The table has one row per mutant — stage, module and classification, each as expected / got, with ``!``
before what a miss got wrong — and under a row that is not pinpointed, why, the first failing test and its
reason. The last line printed is the summary ``mutants: N/M pinpointed``. ``mutants.json`` holds every
outcome with its mutant's edits, written atomically (a reader never sees half a file).
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from tinytorch.registry import label as module_label  # import-free: loads no tinytorch module
from tools.harness import WriteError, current, schema, write_text_atomic
from tools.mutants.catalogue import MUTANTS, Mutant
from tools.mutants.verdict import Outcome, stage_text

SCHEMA = current("mutants.json")  # its change log: tests/regression/schema/versions.py
HEADER = ("mutant", "stage exp/got", "module exp/got", "classification exp/got", "verdict")
_MARK = {True: " ", False: "!"}  # "!" marks the expectation a miss got wrong


def expectation_text(mutant: Mutant) -> str:
    return (
        f"stage {mutant.expected_stage:02d}, module {module_label(mutant.expected_module)}, "
        f"{mutant.expected_classification}"
    )


def list_text(mutants: Sequence[Mutant] = MUTANTS) -> str:
    lines = []
    for m in mutants:
        lines.append(f"{m.name:<34} [{m.area}] expects {expectation_text(m)}")
        lines.append(f"{'':<34} {m.description}")
        lines.append(f"{'':<34} edits {', '.join(m.files)} ({len(m.edits)} substitution(s))")
    return "\n".join(lines)


def _pair(outcome: Outcome, key: str, show) -> str:
    expected = (outcome.expected or {}).get(key)
    if not outcome.got:  # a chain that never produced a report: nothing to compare
        return f"{show(expected)} / -"
    got = outcome.got.get(key)
    mark = _MARK[outcome.matches.get(key, True)] if outcome.expected else " "
    if got is None:  # a green run has no red stage and points at nothing
        return f"{show(expected)} /{mark}{'green' if key == 'stage' else '-'}"
    return f"{show(expected)} /{mark}{show(got)}"


def table_rows(outcomes: Sequence[Outcome]) -> list[tuple[str, ...]]:
    rows = []
    for o in outcomes:
        rows.append(
            (
                o.name,
                _pair(o, "stage", stage_text),
                _pair(o, "module", module_label),
                _pair(o, "classification", str),
                o.verdict,
            )
        )
    return rows


def format_table(outcomes: Sequence[Outcome]) -> str:
    """mutant | stage, module, classification as expected / got | verdict; under a miss, why and the test."""
    rows = table_rows(outcomes)
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADER, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for outcome, row in zip(outcomes, rows):
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
        if not outcome.ok:
            lines.append(f"    {outcome.why}")
            at = outcome.pinpointed or {}
            if at.get("test_id"):
                lines.append(f"    first failing test: {at['test_id']}")
            if at.get("reason"):
                lines.append(f"    reason: {' '.join(str(at['reason']).split())[:200]}")
    return "\n".join(lines)


def summary_line(outcomes: Sequence[Outcome]) -> str:
    return f"mutants: {sum(o.ok for o in outcomes)}/{len(outcomes)} pinpointed"


def write_results(
    path: Path, outcomes: Sequence[Outcome], control: Outcome | None, mutants: Sequence[Mutant], seconds: float
) -> dict:
    """``mutants.json``, written atomically (keys in this order: schema and provenance first); returns the
    data. ``WriteError`` if it cannot be written: the previous file, if any, stays whole."""
    import numpy  # only for the record of which NumPy ran the chain

    by = {m.name: m for m in mutants}
    data = {
        "schema": SCHEMA,
        "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "executable": sys.executable,
        "numpy": numpy.__version__,
        "seconds": round(seconds, 1),
        "control": asdict(control) if control else None,
        "mutants": [
            dict(
                asdict(o),
                area=by[o.name].area,
                description=by[o.name].description,
                edits=[asdict(e) for e in by[o.name].edits],
            )
            for o in outcomes
        ],
        "counts": {"pinpointed": sum(o.ok for o in outcomes), "total": len(outcomes)},
        "ok": bool(outcomes) and all(o.ok for o in outcomes) and (control is None or control.ok),
    }
    data = schema.MutantsResult.from_json(data, str(path)).to_json()  # built through its type, field by field
    try:
        write_text_atomic(path, json.dumps(data, indent=2) + "\n")  # not write_json: it would sort the keys
    except OSError as error:
        raise WriteError(f"could not write {path}: {error.strerror or error}") from error
    return data

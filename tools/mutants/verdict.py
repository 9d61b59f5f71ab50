"""Judging one run: what the chain's ``stages.json`` and the report's ``regression.json`` say, against what
the mutant's catalogue entry expects.

*Pinpointed* means the first red stage, the module the report points at and the classification all match.
Only stages 1..expected run, so a red stage *earlier* than expected is a miss (named "red early"), and a
chain still green at the expected stage is a miss "not red by stage K" — whatever a later stage would say,
the first red stage would not be the expected one. A run whose stages imported a tinytorch that is not
the mutated copy's tested nothing about the mutant: an error, whatever it says. The control (no mutant)
must be green.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tinytorch.registry import label as module_label  # import-free: loads no tinytorch module
from tools.harness import check_version, current, schema
from tools.mutants.catalogue import Mutant

if TYPE_CHECKING:
    from tools.mutants.engine import ChainRun

OK, MISS, ERROR = "OK", "MISS", "ERROR"


def read_report(path: Path, kind: str | None = None) -> dict | None:
    """The JSON object in ``path`` (a ``stages.json``, ``regression.json`` or store entry); None if the file is
    missing, unreadable or not a JSON object — the caller says which file a run failed to leave behind. With
    its ``kind``, a schema version this build does not read is refused (``SchemaVersionError``, exit 2)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    if kind is not None:
        check_version(kind, data.get("schema", current(kind)), path)
    return data


def read_typed(path: Path, kind: str, type_):
    """``path`` read as its schema type (``schema.Report``, ``schema.CellRun``); None if the run left no JSON
    object there (the mutant's verdict is then ERROR); ``SchemaVersionError``/``SchemaError`` (exit 2) if it
    is of another version or shape (``schema.read_typed``, the tools' one typed reader)."""
    try:
        return schema.read_typed(path, kind, type_)
    except schema.UnreadableFile:
        return None


@dataclass
class Outcome:
    name: str
    expected: dict | None  # {"stage", "module", "classification"}; None for the control (expected green)
    verdict: str  # OK / MISS / ERROR
    why: str  # one line
    got: dict = field(default_factory=dict)  # {"stage", "module", "classification"} as regression.json says
    matches: dict = field(default_factory=dict)  # {"stage": bool, "module": bool, "classification": bool}
    upto: int | None = None  # the chain ran stages 1..upto
    pinpointed: dict | None = None  # points_at: module, module_label, stage, file, test_id, classification, reason
    failing_modules: dict = field(default_factory=dict)
    chain_seconds: float | None = None
    tinytorch_files: list = field(default_factory=list)
    artifacts: str | None = None

    @property
    def ok(self) -> bool:
        return self.verdict == OK


def expectations(mutant: Mutant) -> dict:
    return {
        "stage": mutant.expected_stage,
        "module": mutant.expected_module,
        "classification": mutant.expected_classification,
    }


def imported_tinytorch(stages: schema.CellRun | None) -> list[str]:
    """Every ``tinytorch_file`` the chain's stages recorded (the cell's and each stage's)."""
    if not stages:
        return []
    found = [stages.tinytorch_file] + [s.tinytorch_file for s in stages.stages]
    return sorted({f for f in found if f})


def foreign_tinytorch(files: list[str], copy: Path) -> list[str]:
    """Imported tinytorch files that are not the copy's (empty = the mutated copy was tested)."""
    base = Path(copy).resolve()
    return [f for f in files if base not in Path(f).resolve().parents]


def read_verdict(regression: schema.Report, cell: str) -> tuple[schema.CellSummary | None, dict | None]:
    """(the cell's summary, {stage, module, classification}) as the report decided them (None, None if the
    report has no such cell): the mutants read the report's answer, they never decide it again."""
    entry = next((c for c in regression.cells if c.cell == cell), None)
    if entry is None:
        return None, None
    at = entry.points_at
    return entry, {
        "stage": entry.first_red_stage,
        "module": at.module if at else None,
        "classification": str(at.classification) if at else None,
    }


def judge(mutant: Mutant | None, run: ChainRun, copy: Path, upto: int | None = None) -> Outcome:
    """Compare one run with what its mutant expects (``mutant=None``: the control, which must be green)."""
    expected = expectations(mutant) if mutant else None
    outcome = Outcome(
        name=mutant.name if mutant else "control",
        expected=expected,
        verdict=ERROR,
        why="",
        upto=upto if upto is not None else (mutant.expected_stage if mutant else None),
        chain_seconds=round(run.seconds, 1),
        artifacts=str(run.artifacts),
    )
    if run.error:
        outcome.why = run.error
        return outcome
    files = imported_tinytorch(run.stages)
    outcome.tinytorch_files = files
    foreign = foreign_tinytorch(files, copy)
    if not files or foreign:
        outcome.why = (
            f"the stages imported tinytorch from {foreign or 'nowhere recorded'}, not the mutated copy {copy}: "
            "nothing about this mutant was tested"
        )
        return outcome
    cell, got = read_verdict(run.regression, run.cell)
    if cell is None:
        outcome.why = f"regression.json holds no cell {run.cell!r}"
        return outcome
    outcome.got = got
    outcome.failing_modules = dict(cell.failing_modules)
    if cell.points_at:
        keys = ("module", "module_label", "stage", "file", "test_id", "classification", "reason")
        at = cell.points_at.to_json()  # once, not once per key
        outcome.pinpointed = {key: at[key] for key in keys}
    red = cell.red or run.chain_exit not in (0, None)
    if expected is None:
        outcome.verdict = MISS if red else OK
        outcome.why = f"stages 1-{outcome.upto} green" if not red else f"{got_text(got)}: the baseline is red"
        return outcome
    outcome.matches = {key: got[key] == expected[key] for key in expected}
    outcome.verdict = OK if red and all(outcome.matches.values()) else MISS
    outcome.why = _why(expected, got, red, outcome.upto)
    return outcome


def got_text(got: dict) -> str:
    return f"red at stage {stage_text(got['stage'])}, module {module_label(got['module'])}, {got['classification']}"


def _why(expected: dict, got: dict, red: bool, upto: int) -> str:
    if not red:
        return f"not red by stage {upto}: stages 1-{upto} stayed green"
    if got["stage"] is None:
        return "the chain failed but no stage is marked red"
    if got["stage"] < expected["stage"]:
        return f"red early: {got_text(got)} (expected stage {stage_text(expected['stage'])})"
    wrong = [key for key in expected if got[key] != expected[key]]
    if not wrong:
        return got_text(got)
    if got["module"] is None:
        return f"red at stage {stage_text(got['stage'])} but the report points at nothing"
    return f"{got_text(got)}; wrong {' and '.join(wrong)}"


def stage_text(stage) -> str:
    """A stage as the table and the verdicts show it: two digits, ``--`` for none."""
    return "--" if stage is None else f"{int(stage):02d}"

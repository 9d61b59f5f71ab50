"""What every output of the report says alike — a grid entry (``ok 1171``, ``RED 43``), the legend, a cause's
line, a cell's partial/stale/flaky notes, what a red cell points at, the last line — from the typed report
(``schema.Report``), so the terminal, Markdown and HTML never word one thing two ways."""

from __future__ import annotations

import re

from regression.reporting.causes import cause_hits
from regression.reporting.failures import stage_span
from regression.schema import Cause, CellSummary, Report, StageSummary

_CELL_NAME = re.compile(r"^py(\d+\.\d+)-np(\d+\.\d+)$")
CAUSES_SHOWN = 8  # causes per red cell in the terminal and Markdown (JSON and HTML have all)
TESTS_PER_CAUSE = 3  # tests listed under each cause in the terminal and Markdown


def cell_header(name: str) -> tuple[str, str]:
    """(python, numpy) header lines of a grid column: ``py3.12-np2.5`` -> ``("3.12", "2.5")``; another name
    is cut to 7 characters over an empty second line."""
    match = _CELL_NAME.match(name)
    return (match.group(1), match.group(2)) if match else (name[:7], "")


def grid_entry(stage: StageSummary | None, cell: CellSummary) -> tuple[str, str]:
    """(text, state) of one grid entry, at most 7 characters; state is ok | red | skip | none."""
    if cell.skipped:
        return "skip", "skip"
    if stage is None:
        return "-", "none"
    if stage.red:
        return f"RED {stage.failed + stage.errors + stage.collect_errors + stage.problems}", "red"
    return f"ok {stage.passed}", "ok"


def stage_lookup(report: Report) -> dict[tuple[str, int], StageSummary]:
    """(cell, stage number) -> that stage of that cell."""
    return {(c.cell, s.stage): s for c in report.cells for s in c.stages}


def legend(report: Report) -> str:
    """One line under the grid: what the entries and the total count."""
    counts = report.counts
    return (
        f"ok N: passed at stage k (modules 01..k) | RED N: failing | "
        f"{counts.passed + counts.failed} test runs, {counts.distinct_tests} distinct tests"
    )


def cause_line(cause: Cause) -> str:
    where = f" at {cause.origin}" if cause.origin else ""
    hits = cause_hits(cause)  # variants, models, modules, stages it hits (causes.py)
    return f"{cause.tests} test(s) [{'/'.join(cause.classifications)}] {cause.example}{where} — {hits}"


def cell_notes(cell: CellSummary) -> list[str]:
    notes = []
    if cell.partial:
        missing = stage_span(cell.missing_stages) if cell.missing_stages else "(module-only run)"
        notes.append(f"partial: stages {missing} did not run")
    if cell.stale:
        notes.append(f"stale: {cell.stale}")
    for test in cell.flaky:  # both outcomes are in the records, both logs in the cell folder
        notes.append(f"flaky (failed, then passed on a rerun): {test}")
    return notes


def pointed_at(cell: CellSummary) -> tuple[str, str]:
    """(module label, file) the red cell points at; ``??`` and ``?`` when there is nothing to point at."""
    at = cell.points_at
    return (at.module_label, at.file) if at is not None else ("??", "?")


def last_line(report: Report) -> str:
    """Exactly ``regression: N passed, M failed`` — scripts read it; partial/stale is said in the verdict above."""
    return f"regression: {report.counts.passed} passed, {report.counts.failed} failed"


def dash(value) -> str:
    return "—" if value is None else str(value)

"""The report as Markdown (``regression.md``): the verdict, the grid as a table, each red cell's causes, the
baseline and the coverage table. Every value is ``escape.md_text`` or ``md_code``: a ``|`` never splits a
row, no value becomes emphasis, a link or HTML."""

from __future__ import annotations

from regression.common import module_label
from regression.escape import clean_all, md_code, md_text
from regression.render_words import (
    CAUSES_SHOWN,
    TESTS_PER_CAUSE,
    cause_line,
    cell_notes,
    dash,
    grid_entry,
    last_line,
    legend,
    pointed_at,
    stage_lookup,
)
from regression.schema import CellSummary, Report

_ICON = {"ok": "✅ ", "red": "❌ ", "skip": "⏭ ", "none": ""}


def _grid(report: Report) -> list[str]:
    cells, lookup = report.cells, stage_lookup(report)
    out = [
        "| stage | " + " | ".join(md_text(c.cell) for c in cells) + " |",
        "|---|" + "---|" * len(cells),
    ]
    for number in report.stages:
        row = [md_text(module_label(number))]
        for cell in cells:
            text, state = grid_entry(lookup.get((cell.cell, number)), cell)
            row.append(_ICON[state] + text)
        out.append("| " + " | ".join(row) + " |")
    return out + ["", md_text(legend(report))]


def _red_cell(cell: CellSummary) -> list[str]:
    label, file = pointed_at(cell)
    out = [
        "",
        f"## ❌ {md_text(cell.cell)} (python {md_text(cell.python)}, numpy {md_text(cell.numpy)})",
        "",
        f"**{md_text(cell.headline)}**",
        "",
        f"Points at module **{md_text(label)}**, {md_code(file)}",
        "",
    ]
    for cause in cell.causes[:CAUSES_SHOWN]:
        out.append(f"- cause {cause.id}: {md_text(cause_line(cause))}")
        out += [f"  - {md_code(t)}" for t in cause.test_ids[:TESTS_PER_CAUSE]]
        if cause.tests > TESTS_PER_CAUSE:
            out.append(f"  - … {cause.tests - TESTS_PER_CAUSE} more (regression.json)")
    if len(cell.causes) > CAUSES_SHOWN:
        out.append(f"- … {len(cell.causes) - CAUSES_SHOWN} more cause(s) (regression.json)")
    return out


def _coverage(coverage: dict) -> list[str]:
    out = ["", "## Coverage per module", "", "| module | file | statements | branches | % |", "|---|---|---|---|---|"]
    for row in coverage["modules"]:
        out.append(
            f"| {md_text(row['label'])} | {md_code(row['file'], in_table=True)} "
            f"| {md_text(dash(row['covered']))}/{md_text(dash(row['statements']))} "
            f"| {md_text(dash(row.get('covered_branches')))}/{md_text(dash(row.get('branches')))} "
            f"| {md_text(dash(row['percent']))} |"
        )
    for row in coverage["other_files"]:
        out.append(f"| (helper) | {md_code(row['file'], in_table=True)} | | | {md_text(dash(row['percent']))} |")
    out.append(f"\nTotal: {md_text(dash(coverage['total_percent']))}%")
    return out


def render_markdown(report: Report) -> str:
    report = clean_all(report)
    out = [
        "# Regression matrix",
        "",
        f"**Verdict: {md_text(report.verdict.text)}** — {report.counts.passed} passed, "
        f"{report.counts.failed} failed · generated {md_text(report.generated)}",
        "",
        *_grid(report),
    ]
    skipped = [c for c in report.cells if c.skipped]
    if skipped:
        out += ["", "## Skipped cells", ""] + [f"- **{md_text(c.cell)}**: {md_text(c.skip_reason)}" for c in skipped]
    notes = [f"- **{md_text(c.cell)}** {md_text(n)}" for c in report.cells for n in cell_notes(c)]
    if notes:
        out += ["", "## Partial or stale cells", "", *notes]
    for cell in (c for c in report.cells if c.red):
        out += _red_cell(cell)
    baseline = report.baseline
    if baseline is not None:
        out += ["", "## Against the baseline", "", f"{baseline.new} NEW, {baseline.known} KNOWN, "
                f"{len(baseline.fixed)} FIXED", ""]  # fmt: skip
        out += [f"- FIXED: stage {f.stage:02d} {md_code(f.test_id)}" for f in baseline.fixed]
    if report.coverage:
        out += _coverage(report.coverage)
    out += ["", last_line(report), ""]
    return "\n".join(out)

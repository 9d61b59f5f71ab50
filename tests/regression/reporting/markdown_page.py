"""The report as Markdown (``regression.md``): the verdict, the grid as a table, each red cell's causes, the
baseline and the coverage table. Every value is ``escape.md_text`` or ``md_code``: a ``|`` never splits a
row, no value becomes emphasis, a link or HTML."""

from __future__ import annotations

from regression.common import module_label
from regression.reporting import render_words as words
from regression.reporting.escape import clean_all, md_code, md_text
from regression.schema import CellSummary, Report

_ICON = {"ok": "✅ ", "red": "❌ ", "skip": "⏭ ", "none": ""}


def _grid(report: Report) -> list[str]:
    cells, lookup = report.cells, words.stage_lookup(report)
    out = [
        "| stage | " + " | ".join(md_text(c.cell) for c in cells) + " |",
        "|---|" + "---|" * len(cells),
    ]
    for number in report.stages:
        row = [md_text(module_label(number))]
        for cell in cells:
            text, state = words.grid_entry(lookup.get((cell.cell, number)), cell)
            row.append(_ICON[state] + text)
        out.append("| " + " | ".join(row) + " |")
    return out + ["", md_text(words.legend(report))]


def _red_cell(cell: CellSummary) -> list[str]:
    label, file = words.pointed_at(cell)
    out = [
        "",
        f"## ❌ {md_text(cell.cell)} (python {md_text(cell.python)}, numpy {md_text(cell.numpy)})",
        "",
        f"**{md_text(cell.headline)}**",
        "",
        f"Points at module **{md_text(label)}**, {md_code(file)}",
        "",
    ]
    for cause in cell.causes[: words.CAUSES_SHOWN]:
        out.append(f"- cause {cause.id}: {md_text(words.cause_line(cause))}")
        out += [f"  - {md_code(t)}" for t in cause.test_ids[: words.TESTS_PER_CAUSE]]
        if cause.tests > words.TESTS_PER_CAUSE:
            out.append(f"  - … {cause.tests - words.TESTS_PER_CAUSE} more (regression.json)")
    if len(cell.causes) > words.CAUSES_SHOWN:
        out.append(f"- … {len(cell.causes) - words.CAUSES_SHOWN} more cause(s) (regression.json)")
    return out


def _coverage(coverage: dict) -> list[str]:
    out = ["", "## Coverage per module", "", "| module | file | statements | branches | % |", "|---|---|---|---|---|"]
    for row in coverage["modules"]:
        out.append(
            f"| {md_text(row['label'])} | {md_code(row['file'], in_table=True)} "
            f"| {md_text(words.dash(row['covered']))}/{md_text(words.dash(row['statements']))} "
            f"| {md_text(words.dash(row.get('covered_branches')))}/{md_text(words.dash(row.get('branches')))} "
            f"| {md_text(words.dash(row['percent']))} |"
        )
    for row in coverage["other_files"]:
        out.append(f"| (helper) | {md_code(row['file'], in_table=True)} | | | {md_text(words.dash(row['percent']))} |")
    out.append(f"\nTotal: {md_text(words.dash(coverage['total_percent']))}%")
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
    notes = [f"- **{md_text(c.cell)}** {md_text(n)}" for c in report.cells for n in words.cell_notes(c)]
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
    out += ["", words.last_line(report), ""]
    return "\n".join(out)

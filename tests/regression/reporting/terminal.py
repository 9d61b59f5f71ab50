"""The report as terminal text: the stage x cell grid, each red cell's causes, the baseline and the verdict.

The grid fits 100 columns for the 10-cell default matrix: two header lines (Python, NumPy) and
7-character entries in 8-character columns (``ok 1171``, ``RED 43`` = failing records at that stage),
with a one-line legend below. Every string is ``escape.visible`` first: the only control sequences
printed are the colours, and only with ``colour``.
"""

from __future__ import annotations

from regression.common import module_label
from regression.reporting import render_words as words
from regression.reporting.escape import visible_all
from regression.reporting.failures import dedupe, stage_span
from regression.schema import CellSummary, Report


def _grid(report: Report, colour: bool) -> list[str]:
    paint = {"red": "\033[31m", "ok": "\033[32m", "skip": "\033[90m"} if colour else {}
    reset = "\033[0m" if colour else ""
    cells, lookup = report.cells, words.stage_lookup(report)
    lines = [f"regression matrix: {len(cells)} cell(s), {sum(c.skipped for c in cells)} skipped", ""]
    label_width, col = max([15] + [len(module_label(s)) for s in report.stages]) + 1, 8
    heads = [words.cell_header(c.cell) for c in cells]
    marked = [c.partial or bool(c.stale) for c in cells]
    lines.append("python".ljust(label_width) + "".join(py.rjust(col) for py, _ in heads))
    lines.append("numpy".ljust(label_width) + "".join((np + "*" * m).rjust(col) for (_, np), m in zip(heads, marked)))
    for number in report.stages:
        row = module_label(number).ljust(label_width)
        for cell in cells:
            text, state = words.grid_entry(lookup.get((cell.cell, number)), cell)
            row += paint.get(state, "") + text.rjust(col) + (reset if state in paint else "")
        lines.append(row)
    lines.append(words.legend(report) + (" *: partial or stale, below" if any(marked) else ""))
    return lines


def _red_cell(report: Report, cell: CellSummary, max_lines: int) -> list[str]:
    label, file = words.pointed_at(cell)
    lines = ["", f"RED {cell.cell} (python {cell.python}, numpy {cell.numpy}): {cell.headline}"]
    lines.append(f"  points at module {label}, {file}")
    lines.append(
        "  failing modules (first stage): "
        + ", ".join(f"{module_label(int(m))} ({s:02d})" for m, s in cell.failing_modules.items())
    )
    mine = [f for f in report.failures if f.cell == cell.cell]
    by_test = {failure.test_id: (failure, stages) for failure, stages in dedupe(mine)}
    shown = 0
    for cause in cell.causes[: words.CAUSES_SHOWN]:
        lines.append(f"  cause {cause.id}: {words.cause_line(cause)}")
        for test_id in cause.test_ids[: words.TESTS_PER_CAUSE]:
            failure, stages = by_test.get(test_id, (None, [0]))
            status = f"{failure.status} " if failure is not None and failure.status is not None else ""
            lines.append(f"      {status}{test_id} (stage {stage_span(stages)})")
            shown += 1
        if cause.tests > words.TESTS_PER_CAUSE:
            lines.append(f"      ... {cause.tests - words.TESTS_PER_CAUSE} more")
        if shown >= max_lines:
            break
    if len(cell.causes) > words.CAUSES_SHOWN:
        lines.append(f"  ... {len(cell.causes) - words.CAUSES_SHOWN} more cause(s) in regression.md / .json")
    return lines


def render_text(report: Report, max_lines: int = 40, colour: bool = False) -> str:
    report = visible_all(report)  # control characters shown as \x1b, \n: the only ones printed are ours
    lines = _grid(report, colour)
    skipped = [c for c in report.cells if c.skipped]
    if skipped:
        lines += ["", "skipped cells:"] + [f"  {c.cell}: {c.skip_reason}" for c in skipped]
    for cell in report.cells:
        for note in words.cell_notes(cell):
            lines.append(f"  {cell.cell} {note}")
    for cell in (c for c in report.cells if c.red):
        lines += _red_cell(report, cell, max_lines)
    baseline = report.baseline
    if baseline is not None:
        lines += ["", f"baseline: {baseline.new} NEW, {baseline.known} KNOWN, {len(baseline.fixed)} FIXED"]
        lines += [f"  FIXED stage {f.stage:02d} {f.test_id}" for f in baseline.fixed[:max_lines]]
    if report.coverage:
        lines += ["", f"coverage: {report.coverage['total_percent']}% total"]
    lines += ["", f"verdict: {report.verdict.text}"]
    lines.append(words.last_line(report))
    return "\n".join(lines)

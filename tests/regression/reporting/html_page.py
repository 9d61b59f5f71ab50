"""The report as one HTML page (``regression.html``): the verdict, the stage x cell grid with its marks
(NEW / KNOWN / FIXED, flaky, reused, cancelled — always in words, the colour only repeats them), the stage
time charts (charts.py), each red cell's causes folded open/closed, the baseline and the coverage table.

No script runs in it (a Content-Security-Policy forbids any), every value is ``escape.html_text``, and a
stage log is linked only when it lies inside its cell's folder.
"""

from __future__ import annotations

from collections import Counter

from regression.common import FLAKY, module_label
from regression.reporting import charts
from regression.reporting import render_words as words
from regression.reporting.classify import BY_QUANTIZATION, EMPTY, LAYERING, REGARDLESS
from regression.reporting.decision import FIXED, KNOWN, NEW
from regression.reporting.escape import clean_all, file_href, html_text, inside
from regression.schema import CellSummary, Report, StageSummary

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;background:#fff}
h1{margin-bottom:.2em} table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #bbb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.ok{background:#c8e6c9} td.red{background:#ef5350;color:#fff;font-weight:bold}
td.red{border:3px double #222} td.flaky{background:#ffe0b2;font-style:italic}
td.skip{background:#e0e0e0;color:#555} td.none{background:#fafafa;color:#999}
.verdict{padding:.6em 1em;border-radius:4px;display:inline-block;font-weight:bold}
.verdict.ok{background:#c8e6c9} .verdict.red{background:#ef9a9a;border:2px solid #222}
.cls{border-radius:3px;padding:0 4px;white-space:nowrap}
.cls-q{background:#ffe082} .cls-r{background:#ef9a9a} .cls-l{background:#ce93d8} .cls-e{background:#b0bec5}
.NEW{color:#b71c1c;font-weight:bold} .KNOWN{color:#555} .FIXED{color:#1b5e20} .note{color:#8a4b00}
.mark{display:inline-block;font-size:11px;padding:0 3px;margin-top:2px;border:1px solid currentColor;
border-radius:3px;background:#fff;font-style:normal;white-space:nowrap}
.mark.NEW{border-width:2px} .mark.KNOWN{border-style:dashed} .mark.FIXED{border-style:dotted}
.mark.flaky,.mark.reused,.mark.cancelled{color:#333;border-style:dashed}
code{font-size:12px;word-break:break-all} details{margin:.3em 0} summary{cursor:pointer}
.bar{background:#eee;width:120px;height:10px;display:inline-block}
.bar span{background:#43a047;height:10px;display:block}
a{color:inherit}
@media (prefers-color-scheme: dark){
body{color:#e6e6e6;background:#121212} th,td{border-color:#555} th{background:#262626}
td.ok{background:#143018;color:#e8f5e9} td.red{background:#d32f2f;color:#fff;border-color:#eee}
td.flaky{background:#5a3a00;color:#fff3e0} td.skip{background:#333;color:#bbb} td.none{background:#1a1a1a;color:#777}
.verdict.ok{background:#143018} .verdict.red{background:#7f1d1d;border-color:#eee}
.cls-q{background:#6d5400} .cls-r{background:#7f1d1d} .cls-l{background:#4a2a5a} .cls-e{background:#37474f}
.NEW{color:#ff8a80} .KNOWN{color:#bbb} .FIXED{color:#a5d6a7} .note{color:#ffcc80}
.mark{background:#121212} .mark.flaky,.mark.reused,.mark.cancelled{color:#ddd}
.bar{background:#333} .bar span{background:#66bb6a}
}
"""
_CLS_CSS = {BY_QUANTIZATION: "cls-q", REGARDLESS: "cls-r", LAYERING: "cls-l", EMPTY: "cls-e"}
# No script may run in the page, whatever it holds: the report has none, and needs none (details/summary).
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def _baseline_statuses(report: Report) -> dict:
    """(cell, stage) -> Counter of NEW / KNOWN failures there (empty without a baseline)."""
    counts: dict = {}
    if report.baseline is None:
        return counts
    for failure in report.failures:
        if failure.status in (NEW, KNOWN):
            counts.setdefault((failure.cell, failure.stage), Counter())[failure.status] += 1
    return counts


def marks(
    report: Report, cell: CellSummary, stage: StageSummary | None, statuses: dict | None = None
) -> list[tuple[str, str]]:
    """The words under one HTML grid entry, as (kind, text): ``NEW 2``, ``KNOWN 1``, ``FIXED 1`` (against the
    baseline), ``flaky 1``, ``reused``, ``cancelled`` — always text, the colour only repeats it.

    FIXED n at a stage: n baseline failures of that stage pass now and fail nowhere (matched on stage, test id
    and variant in any cell, decision.apply_baseline), shown in every cell that ran the stage."""
    if stage is None or cell.skipped:
        return []
    statuses = _baseline_statuses(report) if statuses is None else statuses
    here = statuses.get((cell.cell, stage.stage), Counter())
    found = [(kind, f"{kind} {here[kind]}") for kind in (NEW, KNOWN) if here[kind]]
    fixed = sum(1 for f in report.baseline.fixed if f.stage == stage.stage) if report.baseline else 0
    if fixed:
        found.append((FIXED, f"{FIXED} {fixed}"))
    if stage.flaky:
        found.append((FLAKY, f"{FLAKY} {len(stage.flaky)}"))
    if stage.cancelled:
        found.append(("cancelled", "cancelled"))
    elif stage.reused:
        found.append(("reused", "reused"))
    return found


def _column_head(cell: CellSummary, esc) -> str:
    if cell.skipped:
        detail = "skipped"
    else:
        known = [f"{words.dash(cell.seconds)} s", (cell.commit or "")[:10], cell.started or ""]
        detail = " · ".join([f"py {cell.python}", f"np {cell.numpy}", *filter(None, known)])
    mark = " (partial)" if cell.partial else ""
    mark += " (stale)" if cell.stale else ""
    flaky = f'<br><span class="mark flaky">flaky {len(cell.flaky)}</span>' if cell.flaky else ""
    return f"<th>{esc(cell.cell)}{esc(mark)}<br><small>{esc(detail)}</small>{flaky}</th>"


def _grid_entry(report: Report, cell: CellSummary, stage: StageSummary | None, statuses: dict, esc) -> str:
    text, state = words.grid_entry(stage, cell)
    tip = "" if stage is None else f"{stage.collected} collected, {stage.seconds} s"
    log = inside(cell.dir, stage.log) if stage and cell.dir else None
    body = esc(text)
    if log is not None:  # only a file inside the cell's own folder is linked, its path percent-encoded
        body = f'<a href="{esc(file_href(log))}">{body}</a>'
    found = marks(report, cell, stage, statuses)
    if state == "ok" and any(kind == FLAKY for kind, _ in found):
        state = FLAKY  # never green: the text says it too
    body += "".join(f'<br><span class="mark {kind}">{esc(word)}</span>' for kind, word in found)
    return f'<td class="{state}" title="{esc(tip)}">{body}</td>'


def _html_grid(report: Report, esc) -> list[str]:
    lookup, statuses = words.stage_lookup(report), _baseline_statuses(report)
    parts = ['<h2>Stage × cell</h2><table id="grid"><thead><tr><th>stage</th>']
    parts += [_column_head(cell, esc) for cell in report.cells]
    parts.append("</tr></thead><tbody>")
    for number in report.stages:
        parts.append(f"<tr><th>{esc(module_label(number))}</th>")
        parts += [_grid_entry(report, c, lookup.get((c.cell, number)), statuses, esc) for c in report.cells]
        parts.append("</tr>")
    parts.append(f'</tbody></table><p id="legend"><small>{esc(words.legend(report))}</small></p>')
    return parts


def _html_cell(cell: CellSummary, report: Report, esc) -> list[str]:
    label, file = words.pointed_at(cell)
    parts = [
        f'<h2 class="red-cell">{esc(cell.cell)}: red</h2>',
        f'<p class="headline"><b>{esc(cell.headline or "")}</b><br>Points at module '
        f"<b>{esc(str(label))}</b>, <code>{esc(str(file))}</code></p>",
    ]
    status = {f.test_id: f.status or "" for f in report.failures if f.cell == cell.cell}
    for cause in cell.causes:
        classes = "".join(
            f'<span class="cls {_CLS_CSS.get(c, "cls-e")}">{esc(c)}</span> ' for c in cause.classifications
        )
        summary = f"{classes}cause {esc(cause.id)}: {esc(words.cause_line(cause))}"
        parts.append(f'<details class="cause"><summary>{summary}</summary><ul>')
        parts += [
            f'<li><span class="{esc(status.get(t, ""))}">{esc(status.get(t, ""))}</span> <code>{esc(t)}</code></li>'
            for t in cause.test_ids
        ]
        parts.append("</ul></details>")
    return parts


def _html_coverage(coverage: dict, esc) -> list[str]:
    parts = [
        '<h2>Coverage per module</h2><table id="coverage"><thead><tr><th>module</th><th>file</th>'
        "<th>statements covered</th><th>branches covered</th><th>%</th><th>threshold</th><th>status</th>"
        "</tr></thead><tbody>"
    ]
    for row in coverage["modules"]:
        percent = row["percent"]
        number = isinstance(percent, (int, float)) and not isinstance(percent, bool) and percent == percent
        width = max(0.0, min(100.0, float(percent))) if number else 0
        parts.append(
            f"<tr><td>{esc(words.dash(row['label']))}</td><td><code>{esc(words.dash(row['file']))}</code></td>"
            f"<td>{esc(words.dash(row['covered']))}/{esc(words.dash(row['statements']))}</td>"
            f"<td>{esc(words.dash(row.get('covered_branches')))}/{esc(words.dash(row.get('branches')))}</td>"
            f'<td>{esc(words.dash(percent))} <span class="bar"><span style="width:{width}%"></span></span></td>'
            f"<td>{esc(words.dash(row.get('threshold')))}</td><td>{esc(str(row.get('status') or ''))}</td></tr>"
        )
    for row in coverage["other_files"]:
        parts.append(
            f"<tr><td>(support)</td><td><code>{esc(words.dash(row['file']))}</code></td><td></td><td></td>"
            f"<td>{esc(words.dash(row['percent']))}</td><td></td><td></td></tr>"
        )
    parts.append(f"</tbody></table><p>Total: {esc(str(coverage['total_percent']))}%")
    if coverage.get("html"):
        parts.append(
            f' · <a id="coverage-html" href="{esc(file_href(coverage["html"]))}">line-by-line HTML with contexts</a>'
        )
    parts.append("</p>")
    return parts


def _baseline(report: Report, esc) -> list[str]:
    baseline = report.baseline
    if baseline is None:
        return []
    parts = [
        f"<h2>Against the baseline</h2><p>{esc(baseline.new)} NEW, {esc(baseline.known)} KNOWN, "
        f'{len(baseline.fixed)} FIXED</p><ul id="fixed">'
    ]
    parts += [f"<li>FIXED: stage {f.stage:02d} <code>{esc(f.test_id)}</code></li>" for f in baseline.fixed]
    return parts + ["</ul>"]


def render_html(report: Report) -> str:
    report = clean_all(report)
    esc = html_text
    ok = report.verdict.ok
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">',
        "<title>tinytorch regression matrix</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>tinytorch regression matrix</h1>",
        f'<p><span id="verdict" class="verdict {"ok" if ok else "red"}">{esc(report.verdict.text)}</span> '
        f"{esc(report.counts.passed)} passed, {esc(report.counts.failed)} failed · {esc(report.generated)}</p>",
        *_html_grid(report, esc),
        *charts.stage_charts(report),  # inline SVG, charts.py
    ]
    skipped = [c for c in report.cells if c.skipped]
    if skipped:
        parts.append('<h2>Skipped cells</h2><ul id="skipped">')
        parts += [f"<li><b>{esc(c.cell)}</b>: {esc(str(c.skip_reason))}</li>" for c in skipped]
        parts.append("</ul>")
    notes = [f'<li class="note"><b>{esc(c.cell)}</b> {esc(n)}</li>' for c in report.cells for n in words.cell_notes(c)]
    if notes:
        parts += ['<h2>Partial or stale cells</h2><ul id="notes">', *notes, "</ul>"]
    for cell in (c for c in report.cells if c.red):
        parts += _html_cell(cell, report, esc)
    parts += _baseline(report, esc)
    if report.coverage:
        parts += _html_coverage(report.coverage, esc)
        parts.append(charts.coverage_chart(report.coverage))
    else:
        parts.append('<h2>Coverage per module</h2><p id="coverage-missing">No coverage data in this report: run '
                     "<code>nox -s coverage</code> after <code>nox -s regression</code>.</p>")  # fmt: skip
    parts.append(f'<p id="last-line">{esc(words.last_line(report))}</p>')
    parts.append("</body></html>\n")
    return "\n".join(parts)

"""Report dict (analysis.py) -> terminal text, Markdown, HTML. Renderers never classify: they only show.

The terminal grid fits 100 columns for the 10-cell default matrix: two header lines (Python, NumPy) and
7-character entries in 8-character columns (``ok 1171``, ``RED 43`` = failing records at that stage),
with a one-line legend below.

Every value from the code under test goes through ``escape.py`` on its way out: shown, never obeyed —
no terminal control sequence, no Markdown or HTML markup, no ``file://`` link outside a cell's folder.
"""

from __future__ import annotations

import re
from collections import Counter

from regression import charts
from regression.analysis import dedupe, stage_span
from regression.causes import cause_hits
from regression.classify import BY_QUANTIZATION, EMPTY, LAYERING, REGARDLESS
from regression.common import module_label
from regression.escape import clean_all, file_href, html_text, inside, md_code, md_text, visible_all

_CELL_NAME = re.compile(r"^py(\d+\.\d+)-np(\d+\.\d+)$")
CAUSES_SHOWN = 8  # causes per red cell in the terminal and Markdown (JSON and HTML have all)
TESTS_PER_CAUSE = 3  # tests listed under each cause in the terminal and Markdown


def cell_header(name: str) -> tuple[str, str]:
    """(python, numpy) header lines of a grid column: ``py3.12-np2.5`` -> ``("3.12", "2.5")``; another name
    is cut to 7 characters over an empty second line."""
    match = _CELL_NAME.match(name)
    return (match.group(1), match.group(2)) if match else (name[:7], "")


def grid_entry(stage: dict | None, cell: dict) -> tuple[str, str]:
    """(text, state) of one grid entry, at most 7 characters; state is ok | red | skip | none."""
    if cell["skipped"]:
        return "skip", "skip"
    if stage is None:
        return "-", "none"
    if stage["red"]:
        failed = (stage["failed"] or 0) + (stage["errors"] or 0) + (stage["collect_errors"] or 0) + stage["problems"]
        return f"RED {failed}", "red"
    return f"ok {stage['passed']}", "ok"


def _lookup(report: dict) -> dict:
    return {(c["cell"], s["stage"]): s for c in report["cells"] for s in c["stages"]}


def legend(report: dict) -> str:
    """One line under the grid: what the entries and the total count."""
    counts = report["counts"]
    return (
        f"ok N: passed at stage k (modules 01..k) | RED N: failing | "
        f"{counts['passed'] + counts['failed']} test runs, {counts['distinct_tests']} distinct tests"
    )


def _cause_line(cause: dict) -> str:
    where = f" at {cause['origin']}" if cause.get("origin") else ""
    hits = cause_hits(cause)  # variants, models, modules, stages it hits (causes.py)
    return f"{cause['tests']} test(s) [{'/'.join(cause['classifications'])}] {cause['example']}{where} — {hits}"


def _cell_notes(cell: dict) -> list[str]:
    notes = []
    if cell["partial"]:
        missing = stage_span(cell["missing_stages"]) if cell["missing_stages"] else "(module-only run)"
        notes.append(f"partial: stages {missing} did not run")
    if cell["stale"]:
        notes.append(f"stale: {cell['stale']}")
    for test in cell.get("flaky", []):  # both outcomes are in the records, both logs in the cell folder
        notes.append(f"flaky (failed, then passed on a rerun): {test}")
    return notes


def render_text(report: dict, max_lines: int = 40, colour: bool = False) -> str:
    report = visible_all(report)  # control characters shown as \x1b, \n: the only ones printed are ours
    paint = {"red": "\033[31m", "ok": "\033[32m", "skip": "\033[90m"} if colour else {}
    reset = "\033[0m" if colour else ""
    cells, lookup = report["cells"], _lookup(report)
    lines = [f"regression matrix: {len(cells)} cell(s), {sum(c['skipped'] for c in cells)} skipped", ""]
    label_width, col = max([15] + [len(module_label(s)) for s in report["stages"]]) + 1, 8
    heads = [cell_header(c["cell"]) for c in cells]
    marked = [c["partial"] or bool(c["stale"]) for c in cells]
    lines.append("python".ljust(label_width) + "".join(py.rjust(col) for py, _ in heads))
    lines.append("numpy".ljust(label_width) + "".join((np + "*" * m).rjust(col) for (_, np), m in zip(heads, marked)))
    for number in report["stages"]:
        row = module_label(number).ljust(label_width)
        for cell in cells:
            text, state = grid_entry(lookup.get((cell["cell"], number)), cell)
            row += paint.get(state, "") + text.rjust(col) + (reset if state in paint else "")
        lines.append(row)
    lines.append(legend(report) + (" *: partial or stale, below" if any(marked) else ""))
    skipped = [c for c in cells if c["skipped"]]
    if skipped:
        lines += ["", "skipped cells:"] + [f"  {c['cell']}: {c['skip_reason']}" for c in skipped]
    for cell in cells:
        for note in _cell_notes(cell):
            lines.append(f"  {cell['cell']} {note}")
    for cell in (c for c in cells if c["red"]):
        lines += ["", f"RED {cell['cell']} (python {cell['python']}, numpy {cell['numpy']}): {cell['headline']}"]
        at = cell["points_at"] or {}
        lines.append(f"  points at module {at.get('module_label', '??')}, {at.get('file', '?')}")
        lines.append(
            "  failing modules (first stage): "
            + ", ".join(f"{module_label(int(m))} ({s:02d})" for m, s in cell["failing_modules"].items())
        )
        by_test = {}
        for failure in dedupe([f for f in report["failures"] if f["cell"] == cell["cell"]]):
            by_test[failure["test_id"]] = failure
        shown = 0
        for cause in cell["causes"][:CAUSES_SHOWN]:
            lines.append(f"  cause {cause['id']}: {_cause_line(cause)}")
            for test_id in cause["test_ids"][:TESTS_PER_CAUSE]:
                entry = by_test.get(test_id, {})
                status = f"{entry['status']} " if "status" in entry else ""
                lines.append(f"      {status}{test_id} (stage {stage_span(entry.get('stages', [0]))})")
                shown += 1
            if cause["tests"] > TESTS_PER_CAUSE:
                lines.append(f"      ... {cause['tests'] - TESTS_PER_CAUSE} more")
            if shown >= max_lines:
                break
        if len(cell["causes"]) > CAUSES_SHOWN:
            lines.append(f"  ... {len(cell['causes']) - CAUSES_SHOWN} more cause(s) in regression.md / .json")
    baseline = report["baseline"]
    if baseline is not None:
        lines += ["", f"baseline: {baseline['new']} NEW, {baseline['known']} KNOWN, {len(baseline['fixed'])} FIXED"]
        lines += [f"  FIXED stage {f['stage']:02d} {f['test_id']}" for f in baseline["fixed"][:max_lines]]
    if report["coverage"]:
        lines += ["", f"coverage: {report['coverage']['total_percent']}% total"]
    lines += ["", f"verdict: {report['verdict']['text']}"]
    lines.append(last_line(report))
    return "\n".join(lines)


def last_line(report: dict) -> str:
    """Exactly ``regression: N passed, M failed`` — scripts read it; partial/stale is said in the verdict above."""
    return f"regression: {report['counts']['passed']} passed, {report['counts']['failed']} failed"


def _md(text) -> str:
    return md_text(text)


def _dash(value) -> str:
    return "—" if value is None else str(value)


def render_markdown(report: dict) -> str:
    report = clean_all(report)
    cells, lookup = report["cells"], _lookup(report)
    icon = {"ok": "✅ ", "red": "❌ ", "skip": "⏭ ", "none": ""}
    out = [
        "# Regression matrix",
        "",
        f"**Verdict: {_md(report['verdict']['text'])}** — {report['counts']['passed']} passed, "
        f"{report['counts']['failed']} failed · generated {_md(report['generated'])}",
        "",
        "| stage | " + " | ".join(_md(c["cell"]) for c in cells) + " |",
        "|---|" + "---|" * len(cells),
    ]
    for number in report["stages"]:
        row = [_md(module_label(number))]
        for cell in cells:
            text, state = grid_entry(lookup.get((cell["cell"], number)), cell)
            row.append(icon[state] + text)
        out.append("| " + " | ".join(row) + " |")
    out += ["", _md(legend(report))]
    skipped = [c for c in cells if c["skipped"]]
    if skipped:
        out += ["", "## Skipped cells", ""] + [f"- **{_md(c['cell'])}**: {_md(c['skip_reason'])}" for c in skipped]
    notes = [f"- **{_md(c['cell'])}** {_md(n)}" for c in cells for n in _cell_notes(c)]
    if notes:
        out += ["", "## Partial or stale cells", "", *notes]
    for cell in (c for c in cells if c["red"]):
        at = cell["points_at"] or {}
        out += [
            "",
            f"## ❌ {_md(cell['cell'])} (python {_md(cell['python'])}, numpy {_md(cell['numpy'])})",
            "",
            f"**{_md(cell['headline'])}**",
            "",
            f"Points at module **{_md(at.get('module_label', '??'))}**, {md_code(at.get('file', '?'))}",
            "",
        ]
        for cause in cell["causes"][:CAUSES_SHOWN]:
            out.append(f"- cause {cause['id']}: {_md(_cause_line(cause))}")
            out += [f"  - {md_code(t)}" for t in cause["test_ids"][:TESTS_PER_CAUSE]]
            if cause["tests"] > TESTS_PER_CAUSE:
                out.append(f"  - … {cause['tests'] - TESTS_PER_CAUSE} more (regression.json)")
        if len(cell["causes"]) > CAUSES_SHOWN:
            out.append(f"- … {len(cell['causes']) - CAUSES_SHOWN} more cause(s) (regression.json)")
    if report["baseline"] is not None:
        baseline = report["baseline"]
        out += ["", "## Against the baseline", "", f"{baseline['new']} NEW, {baseline['known']} KNOWN, "
                f"{len(baseline['fixed'])} FIXED", ""]  # fmt: skip
        out += [f"- FIXED: stage {f['stage']:02d} {md_code(f['test_id'])}" for f in baseline["fixed"]]
    if report["coverage"]:
        out += [
            "",
            "## Coverage per module",
            "",
            "| module | file | statements | branches | % |",
            "|---|---|---|---|---|",
        ]
        for row in report["coverage"]["modules"]:
            out.append(
                f"| {_md(row['label'])} | {md_code(row['file'], in_table=True)} "
                f"| {_md(_dash(row['covered']))}/{_md(_dash(row['statements']))} "
                f"| {_md(_dash(row.get('covered_branches')))}/{_md(_dash(row.get('branches')))} "
                f"| {_md(_dash(row['percent']))} |"
            )
        for row in report["coverage"]["other_files"]:
            out.append(f"| (helper) | {md_code(row['file'], in_table=True)} | | | {_md(_dash(row['percent']))} |")
        out.append(f"\nTotal: {_md(_dash(report['coverage']['total_percent']))}%")
    out += ["", last_line(report), ""]
    return "\n".join(out)


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


def _baseline_statuses(report: dict) -> dict:
    """(cell, stage) -> Counter of NEW / KNOWN failures there (empty without a baseline)."""
    counts: dict = {}
    if report.get("baseline") is None:
        return counts
    for failure in report["failures"]:
        if failure.get("status") in ("NEW", "KNOWN"):
            slot = counts.setdefault((failure["cell"], failure["stage"]), Counter())
            slot[failure["status"]] += 1
    return counts


def marks(report: dict, cell: dict, stage: dict | None, statuses: dict | None = None) -> list[tuple[str, str]]:
    """The words under one HTML grid entry, as (kind, text): ``NEW 2``, ``KNOWN 1``, ``FIXED 1`` (against the
    baseline), ``flaky 1``, ``reused``, ``cancelled`` — always text, the colour only repeats it.

    FIXED n at a stage: n baseline failures of that stage pass now and fail nowhere (matched on stage, test id
    and variant in any cell, analysis.apply_baseline), shown in every cell that ran the stage."""
    if stage is None or cell.get("skipped"):
        return []
    statuses = _baseline_statuses(report) if statuses is None else statuses
    found = []
    here = statuses.get((cell["cell"], stage["stage"]), Counter())
    found += [(kind, f"{kind} {here[kind]}") for kind in ("NEW", "KNOWN") if here[kind]]
    baseline = report.get("baseline")
    fixed = sum(1 for f in (baseline or {}).get("fixed", []) if f.get("stage") == stage["stage"])
    if fixed:
        found.append(("FIXED", f"FIXED {fixed}"))
    flaky = stage.get("flaky")
    if isinstance(flaky, list) and flaky:
        found.append(("flaky", f"flaky {len(flaky)}"))
    if stage.get("cancelled"):
        found.append(("cancelled", "cancelled"))
    elif stage.get("reused"):
        found.append(("reused", "reused"))
    return found


def _html_grid(report: dict, esc) -> list[str]:
    cells, lookup = report["cells"], _lookup(report)
    statuses = _baseline_statuses(report)
    parts = ['<h2>Stage × cell</h2><table id="grid"><thead><tr><th>stage</th>']
    for cell in cells:
        if cell["skipped"]:
            detail = "skipped"
        else:
            known = [f"{_dash(cell['seconds'])} s", (cell.get("commit") or "")[:10], cell.get("started") or ""]
            detail = " · ".join([f"py {cell['python']}", f"np {cell['numpy']}", *filter(None, known)])
        mark = " (partial)" if cell["partial"] else ""
        mark += " (stale)" if cell["stale"] else ""
        flaky = f'<br><span class="mark flaky">flaky {len(cell["flaky"])}</span>' if cell.get("flaky") else ""
        parts.append(f"<th>{esc(cell['cell'])}{esc(mark)}<br><small>{esc(detail)}</small>{flaky}</th>")
    parts.append("</tr></thead><tbody>")
    for number in report["stages"]:
        parts.append(f"<tr><th>{esc(module_label(number))}</th>")
        for cell in cells:
            stage = lookup.get((cell["cell"], number))
            text, state = grid_entry(stage, cell)
            tip = "" if stage is None else f"{stage['collected']} collected, {stage['seconds']} s"
            log = inside(cell["dir"], stage.get("log")) if stage and cell.get("dir") else None
            body = esc(text)
            if log is not None:  # only a file inside the cell's own folder is linked, its path percent-encoded
                body = f'<a href="{esc(file_href(log))}">{body}</a>'
            found = marks(report, cell, stage, statuses)
            if state == "ok" and any(kind == "flaky" for kind, _ in found):
                state = "flaky"  # never green: the text says it too
            body += "".join(f'<br><span class="mark {kind}">{esc(word)}</span>' for kind, word in found)
            parts.append(f'<td class="{state}" title="{esc(tip)}">{body}</td>')
        parts.append("</tr>")
    parts.append(f'</tbody></table><p id="legend"><small>{esc(legend(report))}</small></p>')
    return parts


def _html_cell(cell: dict, report: dict, esc) -> list[str]:
    at = cell["points_at"] or {}
    parts = [
        f'<h2 class="red-cell">{esc(cell["cell"])}: red</h2>',
        f'<p class="headline"><b>{esc(cell["headline"] or "")}</b><br>Points at module '
        f"<b>{esc(str(at.get('module_label', '??')))}</b>, <code>{esc(str(at.get('file', '?')))}</code></p>",
    ]
    status = {f["test_id"]: f.get("status", "") for f in report["failures"] if f["cell"] == cell["cell"]}
    for cause in cell["causes"]:
        classes = "".join(
            f'<span class="cls {_CLS_CSS.get(c, "cls-e")}">{esc(c)}</span> ' for c in cause["classifications"]
        )
        summary = f"{classes}cause {esc(cause['id'])}: {esc(_cause_line(cause))}"
        parts.append(f'<details class="cause"><summary>{summary}</summary><ul>')
        parts += [
            f'<li><span class="{esc(status.get(t, ""))}">{esc(status.get(t, ""))}</span> <code>{esc(t)}</code></li>'
            for t in cause["test_ids"]
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
            f"<tr><td>{esc(_dash(row['label']))}</td><td><code>{esc(_dash(row['file']))}</code></td>"
            f"<td>{esc(_dash(row['covered']))}/{esc(_dash(row['statements']))}</td>"
            f"<td>{esc(_dash(row.get('covered_branches')))}/{esc(_dash(row.get('branches')))}</td>"
            f'<td>{esc(_dash(percent))} <span class="bar"><span style="width:{width}%"></span></span></td>'
            f"<td>{esc(_dash(row.get('threshold')))}</td><td>{esc(str(row.get('status') or ''))}</td></tr>"
        )
    for row in coverage["other_files"]:
        parts.append(
            f"<tr><td>(support)</td><td><code>{esc(_dash(row['file']))}</code></td><td></td><td></td>"
            f"<td>{esc(_dash(row['percent']))}</td><td></td><td></td></tr>"
        )
    parts.append(f"</tbody></table><p>Total: {esc(str(coverage['total_percent']))}%")
    if coverage.get("html"):
        parts.append(
            f' · <a id="coverage-html" href="{esc(file_href(coverage["html"]))}">line-by-line HTML with contexts</a>'
        )
    parts.append("</p>")
    return parts


def render_html(report: dict) -> str:
    report = clean_all(report)
    esc = html_text
    ok = report["verdict"]["ok"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">',
        "<title>tinytorch regression matrix</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>tinytorch regression matrix</h1>",
        f'<p><span id="verdict" class="verdict {"ok" if ok else "red"}">{esc(report["verdict"]["text"])}</span> '
        f"{esc(report['counts']['passed'])} passed, {esc(report['counts']['failed'])} failed · "
        f"{esc(report['generated'])}</p>",
        *_html_grid(report, esc),
        *charts.stage_charts(report),  # inline SVG, charts.py
    ]
    skipped = [c for c in report["cells"] if c["skipped"]]
    if skipped:
        parts.append('<h2>Skipped cells</h2><ul id="skipped">')
        parts += [f"<li><b>{esc(c['cell'])}</b>: {esc(str(c['skip_reason']))}</li>" for c in skipped]
        parts.append("</ul>")
    notes = [f'<li class="note"><b>{esc(c["cell"])}</b> {esc(n)}</li>' for c in report["cells"] for n in _cell_notes(c)]
    if notes:
        parts += ['<h2>Partial or stale cells</h2><ul id="notes">', *notes, "</ul>"]
    for cell in (c for c in report["cells"] if c["red"]):
        parts += _html_cell(cell, report, esc)
    baseline = report["baseline"]
    if baseline is not None:
        parts.append(
            f"<h2>Against the baseline</h2><p>{esc(baseline['new'])} NEW, {esc(baseline['known'])} KNOWN, "
            f'{len(baseline["fixed"])} FIXED</p><ul id="fixed">'
        )
        parts += [f"<li>FIXED: stage {f['stage']:02d} <code>{esc(f['test_id'])}</code></li>" for f in baseline["fixed"]]
        parts.append("</ul>")
    if report["coverage"]:
        parts += _html_coverage(report["coverage"], esc)
        parts.append(charts.coverage_chart(report["coverage"]))
    else:
        parts.append('<h2>Coverage per module</h2><p id="coverage-missing">No coverage data in this report: run '
                     "<code>nox -s coverage</code> after <code>nox -s regression</code>.</p>")  # fmt: skip
    parts.append(f'<p id="last-line">{esc(last_line(report))}</p>')
    parts.append("</body></html>\n")
    return "\n".join(parts)

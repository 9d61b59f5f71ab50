"""The matrix report: stage x cell grid, first red stage per cell, every failure classified.

    python tests/regression/report.py --cells reports/cells --out reports
        [--baseline PATH] [--coverage-json PATH] [--fail-on-skipped] [--max-lines N]

Reads only what the chain wrote: every ``stages.json`` (and the ``records.jsonl`` beside it) found under
``--cells``. Prints the grid, the skipped cells with their reason, and per red cell the first red stage,
the module and file it points at and each failure classified as one of

* ``broken by quantization`` — an int8 test fails while the same test on fp32 passes (same cell, stage);
* ``broken regardless``      — fp32 fails too, or a test without a model variant fails;
* ``import/layering break``  — the import guard refused a module, or an ImportError of a tinytorch module;
* ``empty or uncollectable stage`` — a folder missing or collecting nothing, a file that cannot be
  imported (or is never collected), pytest exiting before it ran anything.

Writes ``OUT/regression.json``, ``OUT/regression.md`` and ``OUT/regression.html``. With ``--baseline`` (a
previous ``regression.json``) every failure is NEW or KNOWN, matched on (stage, test id, variant) in any
cell, and baseline failures that now pass are listed as FIXED. The last line printed is exactly
``regression: N passed, M failed``. Exit status: 1 if anything failed (with ``--baseline``: if anything
NEW failed; with ``--fail-on-skipped`` also if a cell was skipped), 2 for bad input, else 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: `regression` lives in tests/, the registry in the checkout
    _HERE = Path(__file__).resolve().parent
    sys.path[0] = str(_HERE.parent)
    sys.path.append(str(_HERE.parents[1]))

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import html  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402

from regression.common import (  # noqa: E402
    FAIL_OUTCOMES,
    PASS_OUTCOMES,
    SCHEMA,
    TINYTORCH_IMPORT,
    module_label,
    read_jsonl,
    write_json,
)
from tinytorch.registry import MODULES  # noqa: E402

BY_QUANTIZATION = "broken by quantization"
REGARDLESS = "broken regardless"
LAYERING = "import/layering break"
EMPTY = "empty or uncollectable stage"
CLASSIFICATIONS = (BY_QUANTIZATION, REGARDLESS, LAYERING, EMPTY)


# ------------------------------------------------------------------------------------------- loading
def _natural(text: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def load_cells(cells_dir: Path) -> list[dict]:
    """Every cell (a ``stages.json`` with its ``records.jsonl``) under ``cells_dir``, naturally sorted."""
    cells = []
    for stages_file in sorted(Path(cells_dir).rglob("stages.json")):
        header = json.loads(stages_file.read_text(encoding="utf-8"))
        records_file = stages_file.with_name("records.jsonl")
        header["records"] = list(read_jsonl(records_file)) if records_file.exists() else []
        header["dir"] = str(stages_file.parent)
        cells.append(header)
    names = Counter(c["cell"] for c in cells)
    duplicated = sorted(n for n, count in names.items() if count > 1)
    if duplicated:
        raise ValueError(f"cell name(s) {duplicated} appear in more than one folder under {cells_dir}")
    return sorted(cells, key=lambda c: _natural(c["cell"]))


# ------------------------------------------------------------------------------------------- analysis
def classify(record: dict, passed: set) -> str:
    """One failing record's classification; ``passed`` holds (cell, stage, test id) of passing tests."""
    if record.get("guard_violations") or TINYTORCH_IMPORT.search(record.get("message") or ""):
        return LAYERING
    if record["outcome"] == "collect_error":
        return EMPTY
    twin = record.get("twin_id")
    if record.get("variant") == "int8" and twin and (record["cell"], record["stage"], twin) in passed:
        return BY_QUANTIZATION
    return REGARDLESS


def _failure(cell: str, stage: int, record: dict, classification: str) -> dict:
    module = record.get("module")
    return {
        "cell": cell,
        "stage": stage,
        "module": module,
        "module_label": module_label(module),
        "file": record.get("file") or record["test_id"].split("::")[0],
        "test_id": record["test_id"],
        "variant": record.get("variant") or "none",
        "outcome": record.get("outcome", "problem"),
        "classification": classification,
        "reason": record.get("message") or "",
    }


def analyse_cell(cell: dict) -> tuple[dict, list[dict], Counter]:
    """(summary for the grid, failures in order, outcome counts) of one cell."""
    name = cell["cell"]
    records = [r for r in cell["records"] if r.get("kind") in ("test", "collect_error")]
    passed = {(name, r["stage"], r["test_id"]) for r in records if r["outcome"] in PASS_OUTCOMES}
    by_stage = defaultdict(list)
    for index, record in enumerate(records):
        record = dict(record, cell=name)
        if record["outcome"] in FAIL_OUTCOMES:
            entry = _failure(name, record["stage"], record, classify(record, passed))
            by_stage[record["stage"]].append((record.get("module") or 99, index, entry))
    for stage in cell.get("stages", []):
        for index, problem in enumerate(stage.get("problems", [])):
            entry = _failure(name, stage["stage"], dict(problem, outcome="problem"), problem["classification"])
            by_stage[stage["stage"]].append((problem.get("module") or 99, -1 - index, entry))
    failures = [entry for stage in sorted(by_stage) for *_, entry in sorted(by_stage[stage], key=lambda t: t[:2])]
    counts = Counter(r["outcome"] for r in records)
    stages = []
    for stage in cell.get("stages", []):
        stages.append(
            {
                key: stage.get(key)
                for key in (
                    "stage",
                    "key",
                    "name",
                    "collected",
                    "passed",
                    "failed",
                    "errors",
                    "collect_errors",
                    "skipped",
                    "xfailed",
                    "seconds",
                    "exit_code",
                    "red",
                )
            }
        )
        stages[-1]["problems"] = len(stage.get("problems", []))
    red = [s for s in stages if s["red"]]
    first_red = min((s["stage"] for s in red), default=None)
    first = next((f for f in failures if f["stage"] == first_red), None)
    summary = {
        "cell": name,
        "skipped": bool(cell.get("skipped")),
        "skip_reason": cell.get("skip_reason"),
        "python": cell.get("python"),
        "numpy": cell.get("numpy"),
        "seconds": cell.get("seconds"),
        "red": bool(red),
        "stages": stages,
        "first_red_stage": first_red,
        "points_at": None
        if first is None
        else {
            "stage": first_red,
            "module": first["module"],
            "module_label": first["module_label"],
            "file": first["file"],
            "test_id": first["test_id"],
            "classification": first["classification"],
            "reason": first["reason"],
        },
        "classification_counts": dict(Counter(f["classification"] for f in failures)),
        # module number -> the first stage at which one of its tests (or its folder) failed
        "failing_modules": {
            f"{m:02d}": min(f["stage"] for f in failures if f["module"] == m)
            for m in sorted({f["module"] for f in failures if f["module"] is not None})
        },
    }
    return summary, failures, counts


def failure_key(failure: dict) -> tuple:
    """Baseline matching is cell-insensitive: the same test broken the same way in another cell is known."""
    return (failure["stage"], failure["test_id"], failure.get("variant") or "none")


def apply_baseline(failures: list[dict], cells: list[dict], baseline: dict) -> dict:
    known = {failure_key(f) for f in baseline.get("failures", [])}
    for failure in failures:
        failure["status"] = "KNOWN" if failure_key(failure) in known else "NEW"
    failing_now = {failure_key(f) for f in failures}
    passing_now = {
        (r["stage"], r["test_id"], r.get("variant") or "none")
        for cell in cells
        for r in cell["records"]
        if r.get("kind") == "test" and r["outcome"] in PASS_OUTCOMES
    }
    fixed = sorted(known & passing_now - failing_now, key=lambda k: (k[0], k[1]))
    return {
        "new": sum(1 for f in failures if f["status"] == "NEW"),
        "known": sum(1 for f in failures if f["status"] == "KNOWN"),
        "fixed": [{"stage": s, "test_id": t, "variant": v} for s, t, v in fixed],
    }


def _module_files(module, paths: list[str]) -> list[str]:
    """The measured files of a registry module: its own file, plus the helpers beside it when its folder
    holds no other registry module (``tinytorch/optimization/int8.py`` counts for 16 quantization) —
    the same rule as the ``coverage`` session's per-module table."""
    own = [p for p in paths if p.endswith(module.source_file)]
    folder = module.source_file.rsplit("/", 1)[0] + "/"
    if sum(m.source_file.startswith(folder) for m in MODULES) > 1:
        return own
    helpers = [p for p in paths if folder in p and p not in own and not p.endswith("__init__.py")]
    return own + sorted(helpers) if own else own


def _percent(summaries: list[dict]) -> float:
    """coverage.py's own formula: (lines + branches covered) / (statements + branches)."""
    hit = sum(s.get("covered_lines", 0) + s.get("covered_branches", 0) for s in summaries)
    total = sum(s.get("num_statements", 0) + s.get("num_branches", 0) for s in summaries)
    return round(100.0 * hit / total, 1) if total else 100.0


def coverage_table(data: dict) -> dict:
    """Per registry module rows from a coverage.py ``json`` report (paths matched by their tinytorch suffix)."""
    files = {path.replace("\\", "/"): info.get("summary", {}) for path, info in data.get("files", {}).items()}
    rows, used = [], set()
    for module in MODULES:
        matched = _module_files(module, list(files))
        used.update(matched)
        summaries = [files[p] for p in matched]
        rows.append(
            {
                "module": module.number,
                "label": f"{module.tag} {module.name}",
                "file": ", ".join(p[p.rfind("tinytorch/") :] for p in matched) or module.source_file,
                "statements": sum(s.get("num_statements", 0) for s in summaries) if matched else None,
                "covered": sum(s.get("covered_lines", 0) for s in summaries) if matched else None,
                "percent": _percent(summaries) if matched else None,
            }
        )
    others = sorted(p for p in files if p not in used)
    short = {p: p[p.rfind("tinytorch/") :] if "tinytorch/" in p else p for p in others}
    totals = data.get("totals", {})
    return {
        "modules": rows,
        "other_files": [
            {"file": short[p], "percent": round(float(files[p].get("percent_covered", 0.0)), 1)} for p in others
        ],
        "total_percent": None if not totals else round(float(totals.get("percent_covered", 0.0)), 1),
    }


def build_report(cells: list[dict], baseline: dict | None = None, coverage: dict | None = None) -> dict:
    summaries, failures, counts = [], [], Counter()
    for cell in cells:
        summary, cell_failures, cell_counts = analyse_cell(cell)
        summaries.append(summary)
        failures += cell_failures
        counts += cell_counts
    passed = sum(counts[o] for o in PASS_OUTCOMES)
    failed = len(failures)  # failing test records + collection errors + stage problems
    report = {
        "schema": SCHEMA,
        "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cells": summaries,
        "stages": sorted({s["stage"] for c in summaries for s in c["stages"]}),
        "counts": {
            "passed": passed,
            "failed": failed,
            "skipped": counts["skipped"],
            "xfailed": counts["xfailed"],
            "records": sum(counts.values()),
        },
        "failures": failures,
        "baseline": None,
        "coverage": coverage_table(coverage) if coverage else None,
    }
    if baseline is not None:
        report["baseline"] = apply_baseline(failures, cells, baseline)
    report["verdict"] = verdict(report)
    return report


def verdict(report: dict, fail_on_skipped: bool = False) -> dict:
    red = any(c["red"] for c in report["cells"]) or report["counts"]["failed"] > 0
    skipped = [c["cell"] for c in report["cells"] if c["skipped"]]
    if report["baseline"] is not None:
        bad = report["baseline"]["new"] > 0
        text = (
            f"NEW and red: {report['baseline']['new']} new failure(s)"
            if bad
            else "nothing new and red"
            + (f" ({report['baseline']['known']} known failure(s) remain)" if report["baseline"]["known"] else "")
        )
    else:
        bad = red
        text = "red" if red else "green"
    if fail_on_skipped and skipped:
        bad = True
        text += f"; skipped cell(s) not allowed: {', '.join(skipped)}"
    return {
        "red": red,
        "new_red": None if report["baseline"] is None else report["baseline"]["new"] > 0,
        "skipped_cells": skipped,
        "ok": not bad,
        "text": text,
    }


def dedupe(failures: list[dict]) -> list[dict]:
    """One entry per (cell, test id): where it first fails, and every stage it fails at."""
    entries: dict[tuple, dict] = {}
    for failure in failures:
        key = (failure["cell"], failure["test_id"])
        if key not in entries:
            entries[key] = dict(failure, stages=[failure["stage"]])
        elif failure["stage"] not in entries[key]["stages"]:
            entries[key]["stages"].append(failure["stage"])
    return list(entries.values())


def stage_span(stages: list[int]) -> str:
    stages = sorted(stages)
    if len(stages) == 1:
        return f"{stages[0]:02d}"
    contiguous = stages == list(range(stages[0], stages[-1] + 1))
    return f"{stages[0]:02d}-{stages[-1]:02d}" if contiguous else ",".join(f"{s:02d}" for s in stages)


# ------------------------------------------------------------------------------------------- rendering
def _grid_cell(stage: dict | None, cell: dict) -> tuple[str, str]:
    """(text, state) of one grid cell; state is ok | red | skip | none."""
    if cell["skipped"]:
        return "skipped", "skip"
    if stage is None:
        return "-", "none"
    failed = (stage["failed"] or 0) + (stage["errors"] or 0) + (stage["collect_errors"] or 0) + stage["problems"]
    if stage["red"]:
        return f"RED {stage['passed']}/{failed}", "red"
    return f"ok {stage['passed']}", "ok"


def _stage_lookup(report: dict) -> dict:
    return {(c["cell"], s["stage"]): s for c in report["cells"] for s in c["stages"]}


def _stage_name(number: int) -> str:
    return module_label(number)


def render_text(report: dict, max_lines: int = 40, colour: bool = False) -> str:
    paint = {"red": "\033[31m", "ok": "\033[32m", "skip": "\033[90m", "none": ""} if colour else {}
    reset = "\033[0m" if colour else ""
    cells = report["cells"]
    lookup = _stage_lookup(report)
    lines = [f"regression matrix: {len(cells)} cell(s), {sum(c['skipped'] for c in cells)} skipped", ""]
    widths = [max(16, *(len(_stage_name(s)) for s in report["stages"]))] if report["stages"] else [16]
    col = max([12] + [len(c["cell"]) for c in cells]) + 2
    lines.append("stage".ljust(widths[0]) + "".join(c["cell"].rjust(col) for c in cells))
    for number in report["stages"]:
        row = _stage_name(number).ljust(widths[0])
        for cell in cells:
            text, state = _grid_cell(lookup.get((cell["cell"], number)), cell)
            row += (paint.get(state, "") + text.rjust(col) + reset) if colour and state != "none" else text.rjust(col)
        lines.append(row)
    skipped = [c for c in cells if c["skipped"]]
    if skipped:
        lines += ["", "skipped cells:"] + [f"  {c['cell']}: {c['skip_reason']}" for c in skipped]
    failures = report["failures"]
    for cell in cells:
        if not cell["red"]:
            continue
        at = cell["points_at"] or {}
        lines += [
            "",
            f"RED {cell['cell']} (python {cell['python']}, numpy {cell['numpy']}): first red stage "
            f"{_stage_name(cell['first_red_stage'])} -> module {at.get('module_label', '??')}, {at.get('file', '?')}",
        ]
        cell_failures = [f for f in failures if f["cell"] == cell["cell"]]
        entries = dedupe(cell_failures)
        by_kind = Counter(e["classification"] for e in entries)
        lines.append(
            f"  {len(entries)} failing test(s) ({len(cell_failures)} failures over "
            f"{len({f['stage'] for f in cell_failures})} stage(s)): "
            + ", ".join(f"{n} {k}" for k, n in sorted(by_kind.items()))
        )
        lines.append(
            "  failing modules (first stage): "
            + ", ".join(f"{_stage_name(int(m))} ({s:02d})" for m, s in cell["failing_modules"].items())
        )
        for entry in entries[:max_lines]:
            status = f"{entry['status']} " if "status" in entry else ""
            lines.append(
                f"  {status}[{entry['classification']}] stage {stage_span(entry['stages'])} "
                f"{entry['test_id']} - {entry['reason']}"
            )
        if len(entries) > max_lines:
            lines.append(f"  ... and {len(entries) - max_lines} more (see regression.md / regression.json)")
    baseline = report["baseline"]
    if baseline is not None:
        lines += ["", f"baseline: {baseline['new']} NEW, {baseline['known']} KNOWN, {len(baseline['fixed'])} FIXED"]
        lines += [f"  FIXED stage {f['stage']:02d} {f['test_id']}" for f in baseline["fixed"][:max_lines]]
    if report["coverage"]:
        lines += ["", f"coverage: {report['coverage']['total_percent']}% total"]
    lines += ["", f"verdict: {report['verdict']['text']}"]
    lines.append(f"regression: {report['counts']['passed']} passed, {report['counts']['failed']} failed")
    return "\n".join(lines)


def _md(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: dict) -> str:
    cells = report["cells"]
    lookup = _stage_lookup(report)
    icon = {"ok": "✅ ", "red": "❌ ", "skip": "⏭ ", "none": ""}
    out = [
        "# Regression matrix",
        "",
        f"**Verdict: {report['verdict']['text']}** — {report['counts']['passed']} passed, "
        f"{report['counts']['failed']} failed · generated {report['generated']}",
        "",
        "| stage | " + " | ".join(_md(c["cell"]) for c in cells) + " |",
        "|---|" + "---|" * len(cells),
    ]
    for number in report["stages"]:
        row = [_md(_stage_name(number))]
        for cell in cells:
            text, state = _grid_cell(lookup.get((cell["cell"], number)), cell)
            row.append(icon[state] + text)
        out.append("| " + " | ".join(row) + " |")
    skipped = [c for c in cells if c["skipped"]]
    if skipped:
        out += ["", "## Skipped cells", ""] + [f"- **{_md(c['cell'])}**: {_md(c['skip_reason'])}" for c in skipped]
    for cell in (c for c in cells if c["red"]):
        at = cell["points_at"] or {}
        out += [
            "",
            f"## ❌ {_md(cell['cell'])} (python {cell['python']}, numpy {cell['numpy']})",
            "",
            f"First red stage **{_md(_stage_name(cell['first_red_stage']))}** → module "
            f"**{_md(at.get('module_label', '??'))}**, `{_md(at.get('file', '?'))}`",
            "",
            "| status | classification | stages | test id | reason |",
            "|---|---|---|---|---|",
        ]
        for entry in dedupe([f for f in report["failures"] if f["cell"] == cell["cell"]]):
            out.append(
                f"| {entry.get('status', '')} | {entry['classification']} | {stage_span(entry['stages'])} "
                f"| `{_md(entry['test_id'])}` | {_md(entry['reason'])} |"
            )
    if report["baseline"] is not None:
        baseline = report["baseline"]
        out += [
            "",
            "## Against the baseline",
            "",
            f"{baseline['new']} NEW, {baseline['known']} KNOWN, {len(baseline['fixed'])} FIXED",
            "",
        ]
        out += [f"- FIXED: stage {f['stage']:02d} `{_md(f['test_id'])}`" for f in baseline["fixed"]]
    if report["coverage"]:
        out += ["", "## Coverage per module", "", "| module | file | statements | covered | % |"]
        out.append("|---|---|---|---|---|")
        for row in report["coverage"]["modules"]:
            out.append(
                f"| {row['label']} | `{row['file']}` | {_dash(row['statements'])} | {_dash(row['covered'])} "
                f"| {_dash(row['percent'])} |"
            )
        for row in report["coverage"]["other_files"]:
            out.append(f"| (helper) | `{_md(row['file'])}` | | | {row['percent']} |")
        out.append(f"\nTotal: {report['coverage']['total_percent']}%")
    out += ["", f"regression: {report['counts']['passed']} passed, {report['counts']['failed']} failed", ""]
    return "\n".join(out)


def _dash(value) -> str:
    return "—" if value is None else str(value)


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{margin-bottom:.2em} table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #bbb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.ok{background:#c8e6c9} td.red{background:#ef9a9a;font-weight:bold}
td.skip{background:#e0e0e0;color:#555} td.none{background:#fafafa;color:#999}
.verdict{padding:.6em 1em;border-radius:4px;display:inline-block;font-weight:bold}
.verdict.ok{background:#c8e6c9} .verdict.red{background:#ef9a9a}
.cls{border-radius:3px;padding:0 4px;white-space:nowrap}
.cls-q{background:#ffe082} .cls-r{background:#ef9a9a} .cls-l{background:#ce93d8} .cls-e{background:#b0bec5}
.NEW{color:#b71c1c;font-weight:bold} .KNOWN{color:#555}
code{font-size:12px;word-break:break-all} table.failures{width:100%;table-layout:fixed}
table.failures col.status{width:5em} table.failures col.cls{width:15em} table.failures col.stages{width:5em}
th small{font-weight:normal;color:#555} .bar{background:#eee;width:120px;height:10px;display:inline-block}
.bar span{background:#43a047;height:10px;display:block}
"""
_CLS_CSS = {BY_QUANTIZATION: "cls-q", REGARDLESS: "cls-r", LAYERING: "cls-l", EMPTY: "cls-e"}


def render_html(report: dict) -> str:
    esc = html.escape
    cells = report["cells"]
    lookup = _stage_lookup(report)
    ok = report["verdict"]["ok"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>tinytorch regression matrix</title>',
        f"<style>{_CSS}</style></head><body>",
        "<h1>tinytorch regression matrix</h1>",
        f'<p><span id="verdict" class="verdict {"ok" if ok else "red"}">{esc(report["verdict"]["text"])}</span> '
        f"{report['counts']['passed']} passed, {report['counts']['failed']} failed · {esc(report['generated'])}</p>",
        '<h2>Stage × cell</h2><table id="grid"><thead><tr><th>stage</th>',
    ]
    for cell in cells:
        title = cell["skip_reason"] if cell["skipped"] else f"python {cell['python']}, numpy {cell['numpy']}"
        detail = "skipped" if cell["skipped"] else f"py {cell['python']} · np {cell['numpy']}"
        parts.append(f'<th title="{esc(str(title))}">{esc(cell["cell"])}<br><small>{esc(detail)}</small></th>')
    parts.append("</tr></thead><tbody>")
    for number in report["stages"]:
        parts.append(f"<tr><th>{esc(_stage_name(number))}</th>")
        for cell in cells:
            stage = lookup.get((cell["cell"], number))
            text, state = _grid_cell(stage, cell)
            tip = "" if stage is None else f"{stage['collected']} collected, {stage['seconds']} s"
            parts.append(f'<td class="{state}" title="{esc(tip)}">{esc(text)}</td>')
        parts.append("</tr>")
    parts.append("</tbody></table>")
    skipped = [c for c in cells if c["skipped"]]
    if skipped:
        parts.append('<h2>Skipped cells</h2><ul id="skipped">')
        parts += [f"<li><b>{esc(c['cell'])}</b>: {esc(str(c['skip_reason']))}</li>" for c in skipped]
        parts.append("</ul>")
    for cell in (c for c in cells if c["red"]):
        at = cell["points_at"] or {}
        parts += [
            f'<h2 class="red-cell">{esc(cell["cell"])}: red</h2>',
            f"<p>First red stage <b>{esc(_stage_name(cell['first_red_stage']))}</b> → module "
            f"<b>{esc(str(at.get('module_label', '??')))}</b>, <code>{esc(str(at.get('file', '?')))}</code></p>",
            '<table class="failures"><colgroup><col class="status"><col class="cls"><col class="stages">'
            "<col><col></colgroup><thead><tr><th>status</th><th>classification</th><th>stages</th>"
            "<th>test id</th><th>reason</th></tr></thead><tbody>",
        ]
        for entry in dedupe([f for f in report["failures"] if f["cell"] == cell["cell"]]):
            status = entry.get("status", "")
            parts.append(
                f'<tr><td class="{esc(status)}">{esc(status)}</td>'
                f'<td><span class="cls {_CLS_CSS[entry["classification"]]}">{esc(entry["classification"])}</span></td>'
                f"<td>{esc(stage_span(entry['stages']))}</td><td><code>{esc(entry['test_id'])}</code></td>"
                f"<td>{esc(entry['reason'])}</td></tr>"
            )
        parts.append("</tbody></table>")
    baseline = report["baseline"]
    if baseline is not None:
        parts.append(
            f"<h2>Against the baseline</h2><p>{baseline['new']} NEW, {baseline['known']} KNOWN, "
            f'{len(baseline["fixed"])} FIXED</p><ul id="fixed">'
        )
        parts += [f"<li>FIXED: stage {f['stage']:02d} <code>{esc(f['test_id'])}</code></li>" for f in baseline["fixed"]]
        parts.append("</ul>")
    if report["coverage"]:
        parts.append(
            '<h2>Coverage per module</h2><table id="coverage"><thead><tr><th>module</th><th>file</th>'
            "<th>statements</th><th>covered</th><th>%</th></tr></thead><tbody>"
        )
        for row in report["coverage"]["modules"]:
            width = 0 if row["percent"] is None else max(0.0, min(100.0, row["percent"]))
            parts.append(
                f"<tr><td>{esc(row['label'])}</td><td><code>{esc(row['file'])}</code></td>"
                f"<td>{_dash(row['statements'])}</td><td>{_dash(row['covered'])}</td>"
                f'<td>{_dash(row["percent"])} <span class="bar"><span style="width:{width}%"></span></span></td></tr>'
            )
        for row in report["coverage"]["other_files"]:
            parts.append(
                f"<tr><td>(helper)</td><td><code>{esc(row['file'])}</code></td><td></td><td></td>"
                f"<td>{row['percent']}</td></tr>"
            )
        parts.append(f"</tbody></table><p>Total: {esc(str(report['coverage']['total_percent']))}%</p>")
    parts.append(
        f'<p id="last-line">regression: {report["counts"]["passed"]} passed, {report["counts"]["failed"]} failed</p>'
    )
    parts.append("</body></html>\n")
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------- CLI
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="report.py", description="Report on the regression chain's records.")
    parser.add_argument("--cells", required=True, type=Path, help="folder searched for */stages.json")
    parser.add_argument("--out", required=True, type=Path, help="where regression.{json,md,html} go")
    parser.add_argument("--baseline", type=Path, help="a previous regression.json: mark NEW / KNOWN / FIXED")
    parser.add_argument("--coverage-json", type=Path, help="coverage.py `coverage json` output: per-module table")
    parser.add_argument("--fail-on-skipped", action="store_true", help="a skipped cell makes the exit status 1")
    parser.add_argument("--max-lines", type=int, default=40, help="failures printed per red cell (files have all)")
    return parser.parse_args(argv)


def _load_json(path: Path, what: str) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{what} {path}: cannot read it as JSON ({error})") from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        cells = load_cells(args.cells)
        if not cells:
            raise ValueError(f"no stages.json under {args.cells}: run tests/regression/chain.py first")
        baseline = _load_json(args.baseline, "--baseline") if args.baseline else None
        coverage = _load_json(args.coverage_json, "--coverage-json") if args.coverage_json else None
    except ValueError as error:
        print(f"report.py: {error}", file=sys.stderr)
        return 2
    report = build_report(cells, baseline, coverage)
    report["verdict"] = verdict(report, args.fail_on_skipped)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "regression.json", report)
    (args.out / "regression.md").write_text(render_markdown(report), encoding="utf-8")
    (args.out / "regression.html").write_text(render_html(report), encoding="utf-8")
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    print(render_text(report, args.max_lines, colour))
    return 0 if report["verdict"]["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

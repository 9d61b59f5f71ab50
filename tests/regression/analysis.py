"""Records -> one report dict: the one interface between the analysis and the renderers (render.py).

The report dict (also written as ``regression.json``, ``schema`` 2):

* ``schema``, ``generated`` (UTC ISO time), ``stages`` (every stage number that ran somewhere);
* ``cells``: one summary per cell — ``cell``, ``python``, ``numpy``, ``seconds``, ``started``, ``commit``,
  ``skipped``/``skip_reason``, ``red``, ``partial`` (not every stage 01..16 ran), ``missing_stages``,
  ``stale`` (a reason string, or null), ``stages`` (per stage: ``stage``, ``key``, ``name``, ``collected``,
  ``passed``, ``failed``, ``errors``, ``collect_errors``, ``skipped``, ``xfailed``, ``seconds``,
  ``exit_code``, ``red``, ``problems`` (a count), ``log``), ``first_red_stage``, ``points_at``
  (``stage``, ``module`` — the module blamed, see ``blamed_module`` — ``module_label``, ``test_module``
  (the folder of the failing test), ``file``, ``test_id``, ``classification``, ``reason``),
  ``headline`` (the red cell's answer in words), ``classification_counts``, ``failing_modules``
  (module -> first failing stage) and ``causes`` (see causes.py; each with ``test_ids``);
* ``failures``: every failing record and stage problem — ``cell``, ``stage``, ``module``,
  ``module_label``, ``file``, ``test_id``, ``variant``, ``model``, ``pairing``, ``outcome``,
  ``classification``, ``why`` (the rule that classified it), ``reason`` (the one-line message),
  ``origin`` (code location), ``cause`` (id of its cause in the cell), and ``status`` with a baseline;
* ``counts``: ``passed``, ``failed`` (failing records + stage problems), ``skipped``, ``xfailed``,
  ``records``, ``distinct_tests``;
* ``baseline``: null, or ``new``, ``known``, ``fixed`` (matched on stage, test id, variant in any cell);
* ``coverage``: null, or the per-module table (coverage_table.py);
* ``verdict``: ``ok``, ``red``, ``new_red``, ``partial_cells``, ``stale_cells``, ``skipped_cells``, ``text``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

from regression.causes import group_causes
from regression.classify import BY_QUANTIZATION, EMPTY, LAYERING, REGARDLESS, classify, layering_culprit
from regression.common import FLAKY, module_label
from regression.contract import FAIL_OUTCOMES, PASS_OUTCOMES
from regression.coverage_table import coverage_table, table_from_modules
from regression.schema import current
from tinytorch.registry import LAST_STAGE

SCHEMA = current("regression.json")
_STAGE_KEYS = (
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
    "log",
)


def _failure(cell: str, stage: int, record: dict, classification: str, why: str) -> dict:
    module = record.get("module")
    return {
        "cell": cell,
        "stage": stage,
        "module": module,
        "module_label": module_label(module),
        "file": record.get("file") or record["test_id"].split("::")[0],
        "test_id": record["test_id"],
        "variant": record.get("variant") or "none",
        "model": record.get("model"),
        "pairing": record.get("pairing"),
        "outcome": record.get("outcome", "problem"),
        "classification": classification,
        "why": why,
        "reason": record.get("message") or "",
        "origin": record.get("origin"),
    }


def cell_failures(cell: dict) -> list[dict]:
    """Every failing record and stage problem of one cell, classified, by stage then module."""
    name = cell["cell"]
    records = [r for r in cell["records"] if r.get("kind") in ("test", "collect_error")]
    passed = {(r["stage"], r["test_id"]) for r in records if r["outcome"] in PASS_OUTCOMES}
    ran = {(r["stage"], r["test_id"]) for r in records if r.get("kind") == "test"}
    by_stage = defaultdict(list)
    for index, record in enumerate(records):
        if record["outcome"] in FAIL_OUTCOMES:
            entry = _failure(name, record["stage"], record, *classify(record, passed, ran))
            by_stage[record["stage"]].append((record.get("module") or 99, index, entry))
    for stage in cell.get("stages", []):
        for index, problem in enumerate(stage.get("problems", [])):
            classification = problem.get("classification", EMPTY)
            entry = _failure(name, stage["stage"], dict(problem, outcome="problem"), classification, "a stage problem")
            by_stage[stage["stage"]].append((problem.get("module") or 99, -1 - index, entry))
    return [entry for stage in sorted(by_stage) for *_, entry in sorted(by_stage[stage], key=lambda t: t[:2])]


_HEADLINE = {
    BY_QUANTIZATION: "quantization broke module {module}",
    REGARDLESS: "module {module} is broken regardless of quantization",
    LAYERING: "import/layering break in module {module}",
    EMPTY: "module {module}: empty or uncollectable stage",
}


def headline(first_red: int, points_at: dict, failures: list[dict], causes: list[dict]) -> str:
    """``stage 03: quantization broke module 03 layers — 43 tests, 1 cause: AssertionError: …``."""
    at_stage = [f for f in failures if f["stage"] == first_red]
    tests = len({f["test_id"] for f in at_stage})
    stage_causes = [c for c in causes if first_red in c["stages"]]
    top = next(
        (c for c in stage_causes if points_at["test_id"] in c["test_ids"]), stage_causes[0] if stage_causes else None
    )
    what = _HEADLINE[points_at["classification"]].format(module=points_at["module_label"])
    text = f"stage {first_red:02d}: {what} — {tests} test(s), {len(stage_causes)} cause(s)"
    return text + (f": {top['example']}" if top else "")


_PRIORITY = {LAYERING: 0, EMPTY: 1, REGARDLESS: 2, BY_QUANTIZATION: 3}


def pick_points_at(first_red: int | None, failures: list[dict]) -> dict | None:
    """The failure a red cell points at, at its first red stage k: a layering break first (it is the cause
    of what else fails there), then a failure in module k's own folder, else the lowest module's; within
    those an empty stage, then a float-path failure (int8 failures follow from it), then quantization's."""
    at_stage = [f for f in failures if f["stage"] == first_red]
    if not at_stage:
        return None
    layering = [f for f in at_stage if f["classification"] == LAYERING]
    own = [f for f in at_stage if f["module"] == first_red]
    lowest = min((f["module"] for f in at_stage if f["module"] is not None), default=None)
    candidates = layering or own or [f for f in at_stage if f["module"] == lowest] or at_stage
    return min(candidates, key=lambda f: _PRIORITY[f["classification"]])


def blamed_module(first_red: int, failure: dict) -> int | None:
    """The module a red cell names: for a layering break the module that made it (the importer the guard
    refused, the module that patched an earlier one); otherwise the first red stage's own module — stage
    k is where module k and the zoo models it makes possible arrive, so what turned it red came with k,
    even when the failing test lives in an earlier module's folder (a quantized conv bug fails module 03's
    forward checks on the stage-09 CNN: module 09's promise is the one broken)."""
    if failure["classification"] == LAYERING:
        return layering_culprit(failure["reason"]) or failure["module"]
    return first_red


def _stale_reason(cell: dict, newest_commit: str | None) -> str | None:
    commit = cell.get("commit")
    if newest_commit and commit and commit != newest_commit:
        return f"ran on commit {commit[:12]}, not {newest_commit[:12]} (the checkout now): rerun this cell"
    return None


def analyse_cell(cell: dict, current_commit: str | None = None) -> tuple[dict, list[dict], Counter]:
    """(summary for the grid, failures in order, outcome counts) of one cell."""
    failures = cell_failures(cell)
    causes = group_causes(failures)
    index = {(t, c["first_stage"]): c["id"] for c in causes for t in c["test_ids"]}
    by_test = {t: c["id"] for c in causes for t in c["test_ids"]}
    for failure in failures:
        failure["cause"] = index.get((failure["test_id"], failure["stage"]), by_test.get(failure["test_id"]))
    records = [r for r in cell["records"] if r.get("kind") in ("test", "collect_error")]
    stages = []
    for stage in cell.get("stages", []):
        stages.append({key: stage.get(key) for key in _STAGE_KEYS})
        stages[-1]["problems"] = len(stage.get("problems", []))
        stages[-1].update({k: stage[k] for k in ("reused", "cancelled", "flaky") if stage.get(k)})  # charts, grid
    red = [s for s in stages if s["red"]]
    first_red = min((s["stage"] for s in red), default=None)
    first = pick_points_at(first_red, failures)
    points_at = None
    if first is not None:
        points_at = {key: first[key] for key in ("file", "test_id", "classification", "reason")}
        points_at["stage"] = first_red
        points_at["test_module"] = first["module"]
        points_at["module"] = blamed_module(first_red, first)
        points_at["module_label"] = module_label(points_at["module"])
    ran = {s["stage"] for s in stages}
    missing = [] if cell.get("skipped") else [k for k in range(1, LAST_STAGE + 1) if k not in ran]
    partial = bool(missing) or any(s.get("key") and "-m" in str(s["key"]) for s in stages)
    summary = {
        "cell": cell["cell"],
        "skipped": bool(cell.get("skipped")),
        "skip_reason": cell.get("skip_reason"),
        "python": cell.get("python"),
        "numpy": cell.get("numpy"),
        "seconds": cell.get("seconds"),
        "started": cell.get("started"),
        "commit": cell.get("commit"),
        "dir": cell.get("dir"),
        "red": bool(red),
        "partial": partial and not cell.get("skipped"),
        "missing_stages": missing,
        "stale": _stale_reason(cell, current_commit),
        "stages": stages,
        "first_red_stage": first_red,
        "points_at": points_at,
        "headline": headline(first_red, points_at, failures, causes) if points_at else None,
        "classification_counts": dict(Counter(f["classification"] for f in failures)),
        # module number -> the first stage at which one of its tests (or its folder) failed
        "failing_modules": {
            f"{m:02d}": min(f["stage"] for f in failures if f["module"] == m)
            for m in sorted({f["module"] for f in failures if f["module"] is not None})
        },
        "causes": causes,
        "flaky": sorted({r["test_id"] for r in records if r.get("outcome") == FLAKY}),
    }
    return summary, failures, Counter(r["outcome"] for r in records)


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


def build_report(
    cells: list[dict],
    baseline: dict | None = None,
    coverage: dict | None = None,
    current_commit: str | None = None,
    fail_on_skipped: bool = False,
) -> dict:
    summaries, failures, counts = [], [], Counter()
    for cell in cells:
        summary, found, cell_counts = analyse_cell(cell, current_commit)
        summaries.append(summary)
        failures += found
        counts += cell_counts
    distinct = {r["test_id"] for c in cells for r in c["records"] if r.get("kind") == "test"}
    report = {
        "schema": SCHEMA,
        "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cells": summaries,
        "stages": sorted({s["stage"] for c in summaries for s in c["stages"]}),
        "counts": {
            "passed": sum(counts[o] for o in PASS_OUTCOMES),
            "failed": len(failures),  # failing test records + collection errors + stage problems
            "skipped": counts["skipped"],
            "xfailed": counts["xfailed"],
            "records": sum(counts.values()),
            "distinct_tests": len(distinct),
        },
        "failures": failures,
        "baseline": None if baseline is None else apply_baseline(failures, cells, baseline),
        "coverage": None if not coverage else _coverage(coverage),
    }
    report["verdict"] = verdict(report, fail_on_skipped)
    return report


def _coverage(coverage: dict) -> dict:
    """``{"json": coverage.py's JSON, "modules": the coverage session's modules.json or None}``."""
    if coverage.get("modules"):
        table = table_from_modules(coverage["modules"], coverage.get("json"))
    else:
        table = coverage_table(coverage["json"])
    return dict(table, html=coverage.get("html"))


def verdict(report: dict, fail_on_skipped: bool = False) -> dict:
    """Red, partial and stale results are never called green; with a baseline, nothing NEW reads as a pass."""
    cells = report["cells"]
    red = any(c["red"] for c in cells) or report["counts"]["failed"] > 0
    skipped = [c["cell"] for c in cells if c["skipped"]]
    partial = [c["cell"] for c in cells if c["partial"]]
    stale = [c["cell"] for c in cells if c["stale"]]
    flaky = [c["cell"] for c in cells if c.get("flaky")]
    if report["baseline"] is not None:
        new = report["baseline"]["new"]
        bad = new > 0
        known = report["baseline"]["known"]
        text = f"NO-GO: {new} NEW failure(s)" if bad else "GO: nothing new and red"
        if known:
            text += f" ({known} known failure(s) remain)"
    else:
        bad = red
        text = "red" if red else "green"
    if (partial or stale or flaky) and text == "green":
        text = "not green"  # what did run passed, but the answer is incomplete
    if partial:
        bad = True
        text += f"; partial: not every stage ran in {', '.join(partial)}"
    if flaky:  # a test that fails only sometimes: never green, never the first red stage
        bad = True
        tests = sum(len(c["flaky"]) for c in cells)
        text += f"; flaky: {tests} test(s) failed once and passed on a rerun in {', '.join(flaky)}"
    if stale:
        bad = True
        text += f"; stale: results of another commit in {', '.join(stale)}"
    if fail_on_skipped and skipped:
        bad = True
        text += f"; skipped cell(s) not allowed: {', '.join(skipped)}"
    return {
        "red": red,
        "new_red": None if report["baseline"] is None else report["baseline"]["new"] > 0,
        "partial_cells": partial,
        "stale_cells": stale,
        "flaky_cells": flaky,
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
    """``[3, 5, 6, 7]`` -> ``03,05-07``: runs of consecutive stages as ranges."""
    runs: list[list[int]] = []
    for stage in sorted(set(stages)):
        if runs and stage == runs[-1][-1] + 1:
            runs[-1].append(stage)
        else:
            runs.append([stage])
    return ",".join(f"{r[0]:02d}" if len(r) == 1 else f"{r[0]:02d}-{r[-1]:02d}" for r in runs)

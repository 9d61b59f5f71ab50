"""Loaded cells -> one typed ``schema.Report``: the one interface between the analysis and the renderers
(render.py, junit.py), written as ``regression.json`` (``report.to_json()``). Its shape, field by field, is
in SCHEMA.md (generated from tests/regression/schema/report.py).

The analysis trusts each stage's verdict: a stage is red when its ``StageResult.red`` says so
(``stage.judge_stage``, or loading.py for a cell whose files do not add up), and its problems are failures
as given. What it adds is per failure (failures.py: classify.py's classification; causes.py: one cause per
bug), per red cell (points_at.py: the failure and the module it names, the headline) and for the whole
matrix (decision.py: NEW / KNOWN / FIXED against a baseline, GO / NO-GO).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from regression.contract import PASS_OUTCOMES, Outcome, RecordKind
from regression.reporting.causes import group_causes
from regression.reporting.coverage_table import coverage_table, table_from_modules
from regression.reporting.decision import apply_baseline, verdict
from regression.reporting.failures import cell_failures, dedupe, stage_span
from regression.reporting.loading import LoadedCell
from regression.reporting.points_at import blamed_module, headline, pick_points_at, points_at
from regression.schema import Cause, CellSummary, Counts, Failure, Report, StageResult, StageSummary, current
from tinytorch.registry import LAST_STAGE

__all__ = [
    "SCHEMA",
    "analyse_cell",
    "blamed_module",
    "build_report",
    "cell_failures",
    "dedupe",
    "pick_points_at",
    "stage_span",
    "verdict",
]

SCHEMA = current("regression.json")


def stage_summary(stage: StageResult) -> StageSummary:
    """A stage as the grid, the charts and JUnit show it (reused, cancelled and flaky only when so)."""
    return StageSummary(
        stage=stage.stage,
        key=stage.key,
        name=stage.name,
        collected=stage.collected,
        passed=stage.passed,
        failed=stage.failed,
        errors=stage.errors,
        collect_errors=stage.collect_errors,
        skipped=stage.skipped,
        xfailed=stage.xfailed,
        red=stage.red,
        problems=len(stage.problems),
        seconds=stage.seconds,
        exit_code=stage.exit_code,
        log=stage.log,
        reused=stage.reused,
        cancelled=stage.cancelled or None,
        flaky=list(stage.flaky) or None,
    )


def _stale_reason(cell: LoadedCell, newest_commit: str | None) -> str | None:
    commit = cell.run.commit
    if newest_commit and commit and commit != newest_commit:
        return f"ran on commit {commit[:12]}, not {newest_commit[:12]} (the checkout now): rerun this cell"
    return None


def _with_causes(failures: list[Failure], causes: list[Cause]) -> list[Failure]:
    """Each failure with the id of its cause: the one of its test at this stage's, else any of its test's."""
    index = {(t, c.first_stage): c.id for c in causes for t in c.test_ids}
    by_test = {t: c.id for c in causes for t in c.test_ids}
    return [f.replace(cause=index.get((f.test_id, f.stage), by_test.get(f.test_id))) for f in failures]


def analyse_cell(cell: LoadedCell, current_commit: str | None = None) -> tuple[CellSummary, list[Failure], Counter]:
    """(summary for the grid, failures in order, outcome counts) of one cell."""
    run = cell.run
    failures = cell_failures(cell)
    causes = group_causes(failures)
    failures = _with_causes(failures, causes)
    stages = [stage_summary(stage) for stage in run.stages]
    first_red = min((s.stage for s in stages if s.red), default=None)  # judge_stage's verdict, trusted
    at = points_at(first_red, failures)
    ran = {s.stage for s in stages}
    missing = [] if run.skipped else [k for k in range(1, LAST_STAGE + 1) if k not in ran]
    partial = bool(missing) or any(s.key and "-m" in str(s.key) for s in stages)
    summary = CellSummary(
        cell=run.cell,
        skipped=run.skipped,
        skip_reason=run.skip_reason,
        python=run.python,
        numpy=run.numpy,
        seconds=run.seconds,
        started=run.started,
        commit=run.commit,
        dir=cell.dir,
        red=first_red is not None,
        partial=partial and not run.skipped,
        missing_stages=missing,
        stale=_stale_reason(cell, current_commit),
        stages=stages,
        first_red_stage=first_red,
        points_at=at,
        headline=headline(at, failures, causes) if at else None,
        classification_counts=dict(Counter(str(f.classification) for f in failures)),
        # module number -> the first stage at which one of its tests (or its folder) failed
        failing_modules={
            f"{m:02d}": min(f.stage for f in failures if f.module == m)
            for m in sorted({f.module for f in failures if f.module is not None})
        },
        causes=causes,
        flaky=sorted({r.test_id for r in cell.records if r.outcome == Outcome.FLAKY}),
    )
    return summary, failures, Counter(r.outcome for r in cell.records)


def build_report(
    cells: list[LoadedCell],
    baseline: dict | None = None,
    coverage: dict | None = None,
    current_commit: str | None = None,
    fail_on_skipped: bool = False,
) -> Report:
    """The report of ``cells`` (loading.py); ``baseline`` a previous regression.json as report.load_baseline
    read it, ``coverage`` as report.load_coverage read it."""
    summaries, failures, outcomes = [], [], Counter()
    for cell in cells:
        summary, found, cell_outcomes = analyse_cell(cell, current_commit)
        summaries.append(summary)
        failures += found
        outcomes += cell_outcomes
    compared = None
    if baseline is not None:
        failures, compared = apply_baseline(failures, cells, baseline)
    counts = Counts(
        passed=sum(outcomes[o] for o in PASS_OUTCOMES),
        failed=len(failures),  # failing test records + collection errors + stage problems
        skipped=outcomes[Outcome.SKIPPED],
        xfailed=outcomes[Outcome.XFAILED],
        records=sum(outcomes.values()),
        distinct_tests=len({r.test_id for c in cells for r in c.records if r.kind == RecordKind.TEST}),
    )
    return Report(
        schema=SCHEMA,
        generated=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        cells=summaries,
        stages=sorted({s.stage for c in summaries for s in c.stages}),
        counts=counts,
        failures=failures,
        verdict=verdict(summaries, counts, compared, fail_on_skipped),
        baseline=compared,
        coverage=_coverage(coverage) if coverage else None,
    )


def _coverage(coverage: dict) -> dict:
    """``{"json": coverage.py's JSON, "modules": the coverage session's modules.json or None}``."""
    if coverage.get("modules"):
        table = table_from_modules(coverage["modules"], coverage.get("json"))
    else:
        table = coverage_table(coverage["json"])
    return dict(table, html=coverage.get("html"))

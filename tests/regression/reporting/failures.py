"""A cell's failures: every failing record and every stage problem of one loaded cell, as ``schema.Failure``,
classified (classify.py) — the rows that the causes, the points-at, the baseline and every output read.

A stage problem (``judge_stage``'s, or loading.py's for a damaged cell) is a failure whose ``outcome`` is
``PROBLEM`` and whose ``test_id`` names what failed (``<stage 04>``, a folder); it keeps the classification
the stage result gives it.
"""

from __future__ import annotations

from collections import defaultdict

from regression.common import module_label
from regression.contract import FAIL_OUTCOMES, PASS_OUTCOMES, RecordKind, Variant
from regression.reporting.classify import classify
from regression.reporting.loading import LoadedCell
from regression.schema import Failure, Problem, TestRecord

PROBLEM = "problem"  # the outcome of a stage problem (Failure.outcome): not a record's, so not an Outcome
_NO_MODULE = 99  # sorts a failure outside every module's folder after theirs


def record_failure(cell: str, record: TestRecord, passed: set, ran: set) -> Failure:
    classification, why = classify(record, passed, ran)
    return Failure(
        cell=cell,
        stage=record.stage,
        module=record.module,
        module_label=module_label(record.module),
        file=record.file or record.test_id.split("::")[0],
        test_id=record.test_id,
        variant=record.variant,
        model=record.model,
        pairing=record.pairing,
        outcome=record.outcome,
        classification=classification,
        why=why,
        reason=record.message or "",
        origin=record.origin,
    )


def problem_failure(cell: str, stage: int, problem: Problem) -> Failure:
    return Failure(
        cell=cell,
        stage=stage,
        module=problem.module,
        module_label=module_label(problem.module),
        file=problem.test_id.split("::")[0],
        test_id=problem.test_id,
        variant=Variant.NONE,
        outcome=PROBLEM,
        classification=problem.classification,
        why="a stage problem",
        reason=problem.message or "",
    )


def cell_failures(cell: LoadedCell) -> list[Failure]:
    """Every failing record and stage problem of one cell, classified, by stage then module (a stage's
    problems before its records of the same module)."""
    records = cell.records
    passed = {(r.stage, r.test_id) for r in records if r.outcome in PASS_OUTCOMES}
    ran = {(r.stage, r.test_id) for r in records if r.kind == RecordKind.TEST}
    by_stage = defaultdict(list)
    for index, record in enumerate(records):
        if record.outcome in FAIL_OUTCOMES:
            entry = record_failure(cell.name, record, passed, ran)
            by_stage[record.stage].append((record.module or _NO_MODULE, index, entry))
    for stage in cell.run.stages:
        for index, problem in enumerate(stage.problems):
            entry = problem_failure(cell.name, stage.stage, problem)
            by_stage[stage.stage].append((problem.module or _NO_MODULE, -1 - index, entry))
    return [entry for stage in sorted(by_stage) for *_, entry in sorted(by_stage[stage], key=lambda t: t[:2])]


def dedupe(failures: list[Failure]) -> list[tuple[Failure, list[int]]]:
    """One entry per (cell, test id): where it first fails, and every stage it fails at."""
    entries: dict[tuple, tuple[Failure, list[int]]] = {}
    for failure in failures:
        key = (failure.cell, failure.test_id)
        if key not in entries:
            entries[key] = (failure, [failure.stage])
        elif failure.stage not in entries[key][1]:
            entries[key][1].append(failure.stage)
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

"""Helpers of the mutants tests: a demo mutant, a file writer and a fake chain run (what regression.json
and stages.json would say)."""

from __future__ import annotations

from pathlib import Path

from tools import mutants as mt
from tools.harness import schema
from tools.mutants.catalogue import BY_QUANTIZATION, Edit, Mutant


def _mutant(*edits: Edit, name="demo", stage=3, module=3, classification=BY_QUANTIZATION, area="codec") -> Mutant:
    edits = edits or (Edit("pkg/a.py", "x = 1", "x = 2"),)
    return Mutant(name, area, "a demo bug", stage, module, classification, tuple(edits))


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _run(copy: Path, *, red=True, stage=3, module=3, classification=BY_QUANTIZATION, cell="mutant-demo", **kw):
    """A chain run as the engine reads it: the typed report of one cell and its stages, built through the
    schema types (what regression.json and stages.json would hold)."""
    at = None
    if red and module is not None:
        at = schema.PointsAt(
            stage=stage,
            module=module,
            module_label=f"{module:02d}",
            test_module=module,
            file=f"tests/modules/{module:02d}_x/test_x.py",
            test_id=f"tests/modules/{module:02d}_x/test_x.py::test_it[mlp-int8]",
            classification=schema.Classification(classification),
            reason="AssertionError: boom\n  with detail",
        )
    entry = schema.CellSummary(
        cell=cell,
        skipped=False,
        red=red,
        partial=True,
        stages=[],
        first_red_stage=stage if red else None,
        points_at=at,
        failing_modules={f"{module:02d}": stage} if at else {},
    )
    counts = schema.Counts(passed=1, failed=int(red), skipped=0, xfailed=0, records=1, distinct_tests=1)
    verdict = schema.Verdict(red=red, ok=not red, text="red" if red else "green")
    report = schema.Report(
        schema=2, generated="now", cells=[entry], stages=[1], counts=counts, failures=[], verdict=verdict
    )
    tinytorch = kw.get("tinytorch", str(copy / "tinytorch" / "__init__.py"))
    one = schema.StageResult(1, 1, 1, 0, 0, 0, 0, 0, False, tinytorch_file=tinytorch)
    stages = schema.CellRun(cell=cell, tinytorch_file=tinytorch, stages=[one])
    exit_code = kw.get("chain_exit", 1 if red else 0)
    return mt.ChainRun(cell, exit_code, exit_code, 12.34, report, stages, copy / "art", kw.get("error"))

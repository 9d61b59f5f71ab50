"""Helpers of the mutants tests: a demo mutant, a file writer and a fake chain run (what regression.json
and stages.json would say)."""

from __future__ import annotations

from pathlib import Path

from tools import mutants as mt
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
    at = None
    if red and module is not None:
        at = {
            "stage": stage,
            "module": module,
            "module_label": f"{module:02d}",
            "file": f"tests/modules/{module:02d}_x/test_x.py",
            "test_id": f"tests/modules/{module:02d}_x/test_x.py::test_it[mlp-int8]",
            "classification": classification,
            "reason": "AssertionError: boom\n  with detail",
        }
    entry = {
        "cell": cell,
        "red": red,
        "first_red_stage": stage if red else None,
        "points_at": at,
        "failing_modules": {f"{module:02d}": stage} if at else {},
    }
    tinytorch = kw.get("tinytorch", str(copy / "tinytorch" / "__init__.py"))
    stages = {"tinytorch_file": tinytorch, "stages": [{"stage": 1, "tinytorch_file": tinytorch}]}
    exit_code = kw.get("chain_exit", 1 if red else 0)
    return mt.ChainRun(cell, exit_code, exit_code, 12.34, {"cells": [entry]}, stages, copy / "art", kw.get("error"))

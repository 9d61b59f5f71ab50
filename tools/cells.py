"""Where each cell's results live, which cells the report shows, and the sign-off verdict.

Layout under the reports root (``reports/``, or ``reports/signoff/`` for the release check):

    cells/<cell>/        tests/regression/chain.py output: stages.json, the records-<stamp>.jsonl it names, logs/, …
    coverage/            tools/coverage_report.py output: html/, coverage.json, modules.json (.coverage: --keep-data)
    regression.{json,md,html}   tests/regression/report.py output
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tools import matrix
from tools.harness import ENV_CHAIN_ARGS as ENV_CHAIN_ARGS  # re-exported: the noxfile reads cells.ENV_*
from tools.harness import ENV_FROM_ARTIFACTS as ENV_FROM_ARTIFACTS
from tools.harness import ENV_NO_REPORT as ENV_NO_REPORT
from tools.harness import ENV_PROGRESS as ENV_PROGRESS
from tools.harness import ENV_REPORT_ARGS as ENV_REPORT_ARGS
from tools.harness import ENV_REPORTS, OUTER_RUN_SETTINGS, InputError, schema
from tools.interpreters import Interpreter, missing_reason

REPO_ROOT = Path(__file__).resolve().parent.parent

RUN_SETTINGS = OUTER_RUN_SETTINGS
"""What an outer run (``signoff``, CI, a user's shell) sets for its own cells and report (named in the
harness's ``common.py``: the chain keeps them from its stages and their keys). The test suite
must never see them: under ``signoff`` the reports root is ``reports/signoff``, and a test that runs the
tools would read or write the release's results instead of its own (``regression/run_isolation.py`` removes them)."""


def editable_is_current(venv: Path, repo: Path = REPO_ROOT) -> bool:
    """Whether ``venv`` already has tinytorch installed editable from ``repo``, newer than pyproject.toml.

    Rebuilding the editable wheel on every run would cost each cell time although only a change of the
    project's metadata needs it: source edits are seen through the editable finder anyway.
    """
    finders = list(venv.glob("lib/python*/site-packages/__editable___tinytorch_*_finder.py"))
    if len(finders) != 1:
        return False
    finder = finders[0]
    points_here = repr(str(repo / "tinytorch")) in finder.read_text(encoding="utf-8")
    return points_here and finder.stat().st_mtime >= (repo / "pyproject.toml").stat().st_mtime


def reports_root() -> Path:
    root = Path(os.environ.get(ENV_REPORTS, "reports"))
    return root if root.is_absolute() else REPO_ROOT / root


def cell_dir(root: Path, cell: matrix.Cell) -> Path:
    return root / "cells" / cell.name


def coverage_json(root: Path) -> Path:
    return root / "coverage" / "coverage.json"


def has_results(root: Path, cell: matrix.Cell) -> bool:
    return (cell_dir(root, cell) / "stages.json").is_file()


def clear_cell(root: Path, name: str) -> Path:
    """Remove a cell's folder (records, logs, coverage data); returns its path."""
    target = root / "cells" / name
    shutil.rmtree(target, ignore_errors=True)
    return target


def reset_cell(root: Path, cell: matrix.Cell) -> Path:
    """Before a cell's chain runs (its arguments already checked): drop the combined coverage, which will
    no longer match the cells' data. The cell's own folder is left to the chain, which replaces its
    results atomically at the end — so a run that is killed or refused leaves the previous ones whole."""
    shutil.rmtree(root / "coverage", ignore_errors=True)
    target = cell_dir(root, cell)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def prune_unknown(root: Path) -> list[str]:
    """Remove folders named like a cell that is no cell of the matrix any more (a pin or Python dropped).

    Folders with other names (a hand-run ``chain.py --cell local``) are left alone: they are someone's.
    """
    known = {cell.name for cell in matrix.all_cells()}
    removed = []
    for folder in sorted((root / "cells").glob("py*-np*")):
        if folder.is_dir() and matrix.CELL_NAME.fullmatch(folder.name) and folder.name not in known:
            shutil.rmtree(folder)
            removed.append(folder.name)
    return removed


def expected_cells(root: Path) -> list[matrix.Cell]:
    """The cells a report under ``root`` should account for: all pairs for sign-off, else the default."""
    return matrix.all_cells() if root.name == "signoff" else matrix.default_cells()


def skip_reasons(
    root: Path, cells: list[matrix.Cell], found: dict[str, Interpreter | None], from_artifacts: bool
) -> dict[str, str]:
    """The cells the report must show as skipped, and why.

    Locally: every cell whose interpreter is missing, even if an older run left results there (they
    cannot be from this run); a cell whose interpreter exists but that was not run this time keeps
    what it has. In CI's combine job: every cell whose job uploaded no results.
    """
    reasons = {}
    for cell in cells:
        if from_artifacts:
            if not has_results(root, cell):
                reasons[cell.name] = f"no results uploaded by the CI job of {cell.name} (see that job's log)"
        elif found.get(cell.python) is None:
            reasons[cell.name] = missing_reason(cell.python)
    return reasons


def report_args(root: Path) -> list[str]:
    """``report.py`` arguments: the cells, the output, and the combined coverage when it is current."""
    args = ["--cells", str(root / "cells"), "--out", str(root)]
    if coverage_json(root).is_file():  # reset_cell deletes it whenever a cell re-runs
        args += ["--coverage-json", str(coverage_json(root))]
    return args


def missed_bench_rows(bench: Path) -> list[str]:
    """One reason per benchmark row off its target, with value and target; a damaged file is one reason."""
    if not bench.is_file():
        return []
    try:
        rows = json.loads(bench.read_text(encoding="utf-8"))["rows"]
        return [
            f"bench missed: {row['suite']}: {row['figure']} = {float(row['value']):.4g} {row['unit']} "
            f"(target {row['target']})"
            for row in rows
            if not row["ok"]
        ]
    except (ValueError, KeyError, TypeError) as error:
        return [f"{bench} cannot be read ({type(error).__name__}: {error}): rerun `nox -s bench`"]


def reused_stages(root: Path) -> tuple[int, int]:
    """(stages reused from the stage store, stages in all) over the cells under ``root``."""
    reused = total = 0
    for stages_json in sorted((root / "cells").glob("*/stages.json")):
        try:
            stages = json.loads(stages_json.read_text(encoding="utf-8")).get("stages") or []
        except (OSError, ValueError):
            continue  # a damaged cell is the report's to refuse
        total += len(stages)
        reused += sum(1 for stage in stages if isinstance(stage, dict) and stage.get("reused"))
    return reused, total


def signoff_verdict(root: Path, nox_report: Path, missing_pythons: list[str]) -> list[str]:
    """Reasons for NO-GO (empty list = GO) from the inner nox run's ``--report`` and the report's JSON.

    A red cell alone is not a reason: with ``--baseline`` the question is "anything new and red?",
    which the regression report's verdict answers (without a baseline it is red on any failure).
    What must hold besides: every Python present, every cell produced results, and the non-cell
    sessions (lint, tests, coverage thresholds, bench, report) succeeded.
    """
    reasons = [f"interpreter missing: {missing_reason(version)}" for version in missing_pythons]
    for cell in matrix.all_cells():
        if not has_results(root, cell):
            reasons.append(f"cell {cell.name} produced no results (its environment failed: see its nox log)")
    sessions = json.loads(nox_report.read_text(encoding="utf-8"))["sessions"] if nox_report.is_file() else []
    if not sessions:
        reasons.append(f"no nox session report at {nox_report}")
    for entry in sessions:
        reason = entry.get("reason") or ""
        if entry["name"] in ("regression", "signoff_cell", "report") and "interpreter" not in reason:
            continue  # a red cell is judged by the report's verdict below (known failures may be fine)
        if entry["result"] != "success":
            name = entry["name"] + (f"({entry['args']})" if entry.get("args") else "")
            reasons.append(f"session {name} {entry['result']}" + (f": {reason}" if reason else ""))
            if entry["name"] == "bench":
                reasons += missed_bench_rows(root / "bench.json")
    regression = root / "regression.json"
    if not regression.is_file():
        reasons.append(f"no regression report at {regression}")
    else:
        try:  # the report's typed verdict, decided once by the report: the sign-off never decides again
            verdict = schema.read_typed(regression, "regression.json", schema.Report).verdict
        except InputError as error:  # unreadable, not JSON, another schema, another shape
            reasons.append(f"regression report unreadable: {error}")
        else:
            if not verdict.ok:
                reasons.append(f"regression report: {verdict.text}")
    return reasons

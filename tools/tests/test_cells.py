"""Results layout, stale-cell pruning, skipped-cell reasons and the sign-off verdict."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tools import cells, matrix
from tools.harness import current, schema
from tools.interpreters import Interpreter

CELL = matrix.Cell("3.12", "2.5")


def write_results(root: Path, cell: matrix.Cell) -> None:
    folder = root / "cells" / cell.name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stages.json").write_text(json.dumps({"cell": cell.name}))


def test_reset_cell_keeps_the_previous_results_and_drops_combined_coverage(tmp_path):
    write_results(tmp_path, CELL)
    (tmp_path / "coverage").mkdir()
    (tmp_path / "coverage" / "coverage.json").write_text("{}")
    out = cells.reset_cell(tmp_path, CELL)
    assert out == tmp_path / "cells" / CELL.name
    assert (out / "stages.json").is_file()  # replaced by the chain at its end, never deleted up front
    assert not (tmp_path / "coverage").exists()


def test_prune_removes_only_cell_named_folders_outside_the_matrix(tmp_path):
    for name in ("py3.8-np1.24", "py3.12-np2.5", "local"):
        (tmp_path / "cells" / name).mkdir(parents=True)
    assert cells.prune_unknown(tmp_path) == ["py3.8-np1.24"]
    assert sorted(p.name for p in (tmp_path / "cells").iterdir()) == ["local", "py3.12-np2.5"]


def test_skip_reasons_name_the_missing_interpreter_and_how_to_get_it(tmp_path):
    py39 = [c for c in matrix.default_cells() if c.python == "3.9"]
    py310 = [c for c in matrix.default_cells() if c.python == "3.10"]
    found = {"3.9": None, "3.10": Interpreter("3.10", Path("/x/python3.10"), "3.10.13", "pyenv")}
    write_results(tmp_path, py39[0])  # left by an older run: cannot be from this one
    reasons = cells.skip_reasons(tmp_path, py39 + py310, found, from_artifacts=False)
    assert list(reasons) == [c.name for c in py39]  # 3.10 cells were just not run: nothing to say
    assert all("pyenv install 3.9" in reason for reason in reasons.values())


def test_skip_reasons_in_ci_blame_the_missing_artifact_only(tmp_path):
    write_results(tmp_path, matrix.Cell("3.9", "2.0"))
    reasons = cells.skip_reasons(tmp_path, [CELL, matrix.Cell("3.9", "2.0")], {}, from_artifacts=True)
    assert reasons == {CELL.name: f"no results uploaded by the CI job of {CELL.name} (see that job's log)"}


def test_report_args_add_coverage_only_when_it_exists(tmp_path):
    base = ["--cells", str(tmp_path / "cells"), "--out", str(tmp_path)]
    assert cells.report_args(tmp_path) == base
    (tmp_path / "coverage").mkdir()
    (tmp_path / "coverage" / "coverage.json").write_text("{}")
    assert cells.report_args(tmp_path) == [*base, "--coverage-json", str(tmp_path / "coverage" / "coverage.json")]


def test_expected_cells_depend_on_the_root(tmp_path):
    assert cells.expected_cells(tmp_path / "reports") == matrix.default_cells()
    assert cells.expected_cells(tmp_path / "reports" / "signoff") == matrix.all_cells()


def test_reports_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(cells.ENV_REPORTS, raising=False)
    assert cells.reports_root() == cells.REPO_ROOT / "reports"
    monkeypatch.setenv(cells.ENV_REPORTS, str(tmp_path))
    assert cells.reports_root() == tmp_path


def signoff_tree(root: Path, *, verdict_ok=True, session_results=None) -> Path:
    for cell in matrix.all_cells():
        write_results(root, cell)
    verdict = schema.Verdict(red=not verdict_ok, ok=verdict_ok, text="green" if verdict_ok else "red")
    counts = schema.Counts(passed=1, failed=0, skipped=0, xfailed=0, records=1, distinct_tests=1)
    report = schema.Report(
        schema=current("regression.json"),
        generated="2026-12-03T00:00:00+00:00",
        cells=[],
        stages=[1],
        counts=counts,
        failures=[],
        verdict=verdict,
    )
    (root / "regression.json").write_text(json.dumps(report.to_json()))
    results = session_results or {"lint": ("success", None), "regression": ("failed", "exit code 1")}
    report = root / "nox.json"
    entries = [{"name": n, "result": r, "reason": why} for n, (r, why) in results.items()]
    report.write_text(json.dumps({"sessions": entries}))
    return report


def test_signoff_is_go_when_everything_holds_even_with_a_known_red_cell(tmp_path):
    # the cell session failed, but the report's verdict (e.g. against a baseline) is ok: nothing new and red
    assert cells.signoff_verdict(tmp_path, signoff_tree(tmp_path), []) == []


@pytest.mark.parametrize(
    "change, expected",
    [
        ("missing_python", "interpreter missing: python 3.9 not found"),
        ("red_report", "regression report: red"),
        ("coverage_failed", "session coverage failed: exit code 1"),
        ("no_interpreter", "session regression failed: Python interpreter 3.9 not found"),
        ("cell_without_results", "cell py3.13-np2.5 produced no results"),
        ("no_nox_report", "no nox session report"),
        ("another_schema", "regression.json schema 9 is not one this build reads (it reads 2)"),
        ("not_a_report", "regression.json: verdict is 'ok', not an object (Verdict)"),
    ],
)
def test_signoff_is_no_go_with_the_reason(tmp_path, change, expected):
    report = signoff_tree(
        tmp_path,
        verdict_ok=change != "red_report",
        session_results={
            "coverage_failed": {"coverage": ("failed", "exit code 1")},
            "no_interpreter": {"regression": ("failed", "Python interpreter 3.9 not found")},
        }.get(change),
    )
    if change == "cell_without_results":
        (tmp_path / "cells" / "py3.13-np2.5" / "stages.json").unlink()
    if change == "no_nox_report":
        report.unlink()
    if change in ("another_schema", "not_a_report"):
        data = json.loads((tmp_path / "regression.json").read_text())
        data.update(schema=9) if change == "another_schema" else data.update(verdict="ok")
        (tmp_path / "regression.json").write_text(json.dumps(data))
    reasons = cells.signoff_verdict(tmp_path, report, ["3.9"] if change == "missing_python" else [])
    assert any(expected in reason for reason in reasons), reasons


def test_editable_install_is_current_only_if_it_points_here_and_is_newer_than_pyproject(tmp_path):
    repo, venv = tmp_path / "repo", tmp_path / "venv"
    repo.mkdir()
    (repo / "pyproject.toml").write_text("[project]\n")
    assert not cells.editable_is_current(venv, repo)  # nothing installed
    site = venv / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    finder = site / "__editable___tinytorch_0_1_0_finder.py"
    finder.write_text(f"MAPPING: dict[str, str] = {{'tinytorch': {str(repo / 'tinytorch')!r}}}\n")
    assert cells.editable_is_current(venv, repo)
    os.utime(repo / "pyproject.toml", (finder.stat().st_mtime + 10,) * 2)  # metadata changed since
    assert not cells.editable_is_current(venv, repo)
    finder.write_text("MAPPING: dict[str, str] = {'tinytorch': '/elsewhere/tinytorch'}\n")
    os.utime(finder, (finder.stat().st_mtime + 20,) * 2)
    assert not cells.editable_is_current(venv, repo)  # installed from another checkout


def test_a_failed_bench_names_each_missed_row_with_its_value_and_target(tmp_path):
    report = signoff_tree(tmp_path, session_results={"bench": ("failed", "exit code 1")})
    rows = [
        {
            "suite": "generation",
            "figure": "KV-cache speed-up",
            "value": 2.9189,
            "unit": "x",
            "target": ">= 3 x",
            "ok": False,
        },
        {
            "suite": "spatial",
            "figure": "Conv2D fwd+bwd",
            "value": 20.6,
            "unit": "ms",
            "target": "<= 100 ms",
            "ok": True,
        },
    ]
    (tmp_path / "bench.json").write_text(json.dumps({"environment": {}, "rows": rows}))
    reasons = cells.signoff_verdict(tmp_path, report, [])
    assert "bench missed: generation: KV-cache speed-up = 2.919 x (target >= 3 x)" in reasons, reasons
    assert not any("Conv2D" in reason for reason in reasons)


@pytest.mark.parametrize("content", ["{not json", '{"rows": 3}', '{"rows": [{"figure": 1}]}'])
def test_an_unreadable_bench_file_is_a_reason_not_a_crash(tmp_path, content):
    report = signoff_tree(tmp_path, session_results={"bench": ("failed", "exit code 1")})
    (tmp_path / "bench.json").write_text(content)
    reasons = cells.signoff_verdict(tmp_path, report, [])
    assert any("bench.json" in reason and "cannot be read" in reason for reason in reasons), reasons

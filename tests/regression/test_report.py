"""The report: classification, first red stage, baseline NEW/KNOWN/FIXED, the last line, HTML that parses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from regression import chain, report
from regression.common import write_json
from regression.report_fixtures import StrictHTML, stage_entry, test_record, write_cell
from regression.reporting.analysis import build_report
from regression.reporting.classify import BY_QUANTIZATION, EMPTY, LAYERING, REGARDLESS, classify
from regression.reporting.coverage_table import coverage_table
from regression.reporting.loading import load_cells
from regression.schema import Report, TestRecord

MIXED = "tests/modules/02_activations/test_mixed.py"
LAST_LINE = re.compile(r"^regression: (\d+) passed, (\d+) failed$")


# ----------------------------------------------------------------------------------------- helpers
def run_report(capsys, *args) -> tuple[int, list[str]]:
    status = report.main([str(a) for a in args])
    return status, capsys.readouterr().out.rstrip("\n").split("\n")


# ----------------------------------------------------------------------------------------- on the real chain output
@pytest.fixture(scope="module")
def synthetic_report(synthetic_run):
    return build_report(load_cells(synthetic_run["cells"]))


def classification_of(built: Report, stage: int, test_id: str) -> str:
    (match,) = [f for f in built.failures if f.stage == stage and f.test_id == test_id]
    return match.classification


@pytest.mark.parametrize(
    "test_id, expected",
    [
        (f"{MIXED}::test_quantization_sensitive[mlp-int8]", BY_QUANTIZATION),
        (f"{MIXED}::test_always_broken[mlp-int8]", REGARDLESS),
        (f"{MIXED}::test_always_broken[mlp-fp32]", REGARDLESS),
        (f"{MIXED}::test_imports_a_later_module", LAYERING),
        (f"{MIXED}::test_swallows_the_guard", LAYERING),
    ],
)
def test_failures_of_stage_2_are_classified(synthetic_report, test_id, expected):
    assert classification_of(synthetic_report, 2, test_id) == expected


def test_empty_and_uncollectable_stages_are_classified(synthetic_report):
    assert classification_of(synthetic_report, 4, "tests/modules/03_layers") == EMPTY
    assert classification_of(synthetic_report, 4, "tests/modules/04_losses/test_broken_import.py") == EMPTY


def test_the_first_red_stage_points_at_the_module_and_file(synthetic_report):
    (cell,) = synthetic_report.cells
    assert cell.first_red_stage == 2
    assert cell.points_at.module == 2
    assert cell.points_at.file == MIXED


def test_cli_writes_json_md_html_and_ends_with_the_count_line(synthetic_run, tmp_path, capsys):
    status, lines = run_report(capsys, "--cells", synthetic_run["cells"], "--out", tmp_path)
    assert status == 1
    assert LAST_LINE.match(lines[-1]) and lines[-1] == "regression: 12 passed, 12 failed"
    written = json.loads((tmp_path / "regression.json").read_text())
    assert written["counts"]["passed"] == 12 and written["counts"]["failed"] == 12
    assert "RED 5" in "\n".join(lines)  # stage 02: 4 passed, 5 failed
    assert "  syn partial: stages 03,05-16 did not run" in lines
    assert (tmp_path / "regression.md").read_text().rstrip().endswith("regression: 12 passed, 12 failed")
    page = StrictHTML()
    page.feed((tmp_path / "regression.html").read_text())
    page.close()
    assert page.stack == []
    assert page.grid_classes == ["ok", "red", "red"]
    assert page.ids["last-line"] == "regression: 12 passed, 12 failed"


# ----------------------------------------------------------------------------------------- on hand-made records
def test_green_matrix_exits_0_with_skipped_cells_explained(tmp_path, capsys):
    cells = tmp_path / "cells"
    write_cell(cells, "py3.11-np2.2", [stage_entry(1, 2)], [test_record("py3.11-np2.2", 1, "t.py::a", "passed")] * 2)
    reason = "python 3.9 not found: install with `pyenv install 3.9`"
    chain.write_skipped(cells / "py3.9-np1.24", "py3.9-np1.24", reason)
    status, lines = run_report(capsys, "--cells", cells, "--out", tmp_path / "r")
    assert status == 0
    assert lines[-1] == "regression: 2 passed, 0 failed"
    text = "\n".join(lines)
    assert f"py3.9-np1.24: {reason}" in text and "skipped" in text
    assert run_report(capsys, "--cells", cells, "--out", tmp_path / "r", "--fail-on-skipped")[0] == 1
    page = StrictHTML()
    page.feed((tmp_path / "r" / "regression.html").read_text())
    assert page.grid_classes[:2] == ["skip", "ok"]  # cells sorted naturally: 3.9 before 3.11


def test_int8_failure_without_a_passing_twin_is_broken_regardless(tmp_path):
    cells = tmp_path / "cells"
    write_cell(cells, "c", [stage_entry(3, 0, 1)], [test_record("c", 3, "t.py::a[mlp-int8]", "failed", "E: x")])
    built = build_report(load_cells(cells))
    assert built.failures[0].classification == REGARDLESS


def test_only_the_guard_makes_a_layering_break_not_any_tinytorch_import_error(tmp_path):
    cells = tmp_path / "cells"
    message = "ModuleNotFoundError: No module named 'tinytorch.optimization.quantization'"
    records = [
        test_record("c", 3, "t.py::a[mlp-fp32]", "passed"),
        test_record("c", 3, "t.py::a[mlp-int8]", "error", message),
        test_record("c", 3, "t.py::b", "failed", "ModuleNotFoundError: No module named 'scipy'"),
    ]
    write_cell(cells, "c", [stage_entry(3, 1, 2)], records)
    built = build_report(load_cells(cells))
    assert [f.classification for f in built.failures] == [BY_QUANTIZATION, REGARDLESS]
    guard = dict(records[1], message="LayeringError: import guard: tinytorch.core.spatial is module 09")
    assert classify(TestRecord.from_json(guard), set(), set())[0] == LAYERING


def baseline_cells(tmp_path: Path, name: str, outcomes: dict) -> Path:
    cells = tmp_path / name
    records = [
        test_record("py3.12-np2.2", 3, test_id, outcome, "AssertionError: x") for test_id, outcome in outcomes.items()
    ]
    failed = sum(o != "passed" for o in outcomes.values())
    write_cell(cells, "py3.12-np2.2", [stage_entry(3, len(outcomes) - failed, failed)], records)
    return cells


def test_baseline_marks_new_known_and_fixed(tmp_path, capsys):
    before = baseline_cells(tmp_path, "before", {"t.py::a": "failed", "t.py::b": "failed", "t.py::c": "passed"})
    assert run_report(capsys, "--cells", before, "--out", tmp_path / "r0")[0] == 1
    after = baseline_cells(tmp_path, "after", {"t.py::a": "failed", "t.py::b": "passed", "t.py::c": "failed"})
    status, lines = run_report(
        capsys, "--cells", after, "--out", tmp_path / "r1", "--baseline", tmp_path / "r0" / "regression.json"
    )
    assert status == 1  # c is new and red
    built = json.loads((tmp_path / "r1" / "regression.json").read_text())
    assert {f["test_id"]: f["status"] for f in built["failures"]} == {"t.py::a": "KNOWN", "t.py::c": "NEW"}
    assert built["baseline"]["fixed"] == [{"stage": 3, "test_id": "t.py::b", "variant": "none"}]
    assert "FIXED stage 03 t.py::b" in "\n".join(lines)
    assert lines[-1] == "regression: 1 passed, 2 failed"


def test_baseline_with_only_known_failures_exits_0(tmp_path, capsys):
    before = baseline_cells(tmp_path, "before", {"t.py::a": "failed"})
    run_report(capsys, "--cells", before, "--out", tmp_path / "r0")
    status, lines = run_report(
        capsys, "--cells", before, "--out", tmp_path / "r1", "--baseline", tmp_path / "r0" / "regression.json"
    )
    assert status == 0
    assert "nothing new and red" in lines[-2]
    assert lines[-1] == "regression: 0 passed, 1 failed"


def test_coverage_json_becomes_a_per_module_table(tmp_path, capsys):
    cells = tmp_path / "cells"
    write_cell(cells, "c", [stage_entry(1, 1)], [test_record("c", 1, "t.py::a", "passed")])
    coverage = {
        "files": {
            "tinytorch/core/tensor.py": {
                "summary": {"num_statements": 10, "covered_lines": 9, "percent_covered": 90.0}
            },
            "tinytorch/registry.py": {"summary": {"num_statements": 4, "covered_lines": 4, "percent_covered": 100.0}},
        },
        "totals": {"percent_covered": 92.857},
    }
    write_json(tmp_path / "coverage.json", coverage)
    status, _ = run_report(
        capsys, "--cells", cells, "--out", tmp_path / "r", "--coverage-json", tmp_path / "coverage.json"
    )
    assert status == 0
    table = json.loads((tmp_path / "r" / "regression.json").read_text())["coverage"]
    assert table["modules"][0] == {
        "module": 1,
        "label": "01 tensor",
        "file": "tinytorch/core/tensor.py",
        "statements": 10,
        "covered": 9,
        "branches": 0,
        "covered_branches": 0,
        "percent": 90.0,
    }
    assert table["html"] is None  # no coverage HTML beside the JSON
    assert table["modules"][1]["percent"] is None  # not measured: shown as a dash, not as 0 %
    assert table["other_files"] == [{"file": "tinytorch/registry.py", "percent": 100.0}]
    html_text = (tmp_path / "r" / "regression.html").read_text()
    assert 'id="coverage"' in html_text and "01 tensor" in html_text


def test_no_cells_is_a_usage_error(tmp_path, capsys):
    assert report.main(["--cells", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "run `nox -s regression` first" in capsys.readouterr().err


def test_module_coverage_includes_helper_files_beside_a_lone_module():
    summary = lambda lines, hit: {"num_statements": lines, "covered_lines": hit}  # noqa: E731
    data = {
        "files": {
            "tinytorch/optimization/quantization.py": {"summary": summary(10, 10)},
            "tinytorch/optimization/int8.py": {"summary": summary(30, 15)},
            "tinytorch/optimization/__init__.py": {"summary": summary(1, 1)},
            "tinytorch/core/tensor.py": {"summary": summary(4, 4)},
            "tinytorch/core/layers.py": {"summary": summary(4, 2)},
        }
    }
    rows = {row["module"]: row for row in coverage_table(data)["modules"]}
    assert rows[16]["percent"] == 62.5 and rows[16]["statements"] == 40  # (10 + 15) / (10 + 30)
    assert "tinytorch/optimization/int8.py" in rows[16]["file"]
    assert rows[1]["percent"] == 100.0 and rows[3]["percent"] == 50.0  # core/ holds many modules: own file only

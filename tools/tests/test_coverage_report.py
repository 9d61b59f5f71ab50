"""Per-module coverage: which module owns a file, thresholds, and a real combine of two cells."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools import coverage_report as cr

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "path, number",
    [
        ("tinytorch/core/tensor.py", 1),
        ("tinytorch/optimization/quantization.py", 16),
        ("tinytorch/optimization/int8.py", 16),  # helper in a package only quantization lives in
        ("tinytorch/data/collate.py", 8),
        ("tinytorch/core/helpers.py", None),  # core hosts many modules: shared support
        ("tinytorch/text/vocab.py", None),  # text hosts 10 and 11
        ("tinytorch/optimization/__init__.py", None),
        ("tinytorch/registry.py", None),
    ],
)
def test_owner_of_a_file(path, number):
    spec = cr.owner(path)
    assert (spec.number if spec else None) == number


def test_stages_measured_from_contexts():
    contexts = {"py3.9-np1.24@stage03", "py3.9-np1.24@stage16", "py3.12-np2.5@stage12-m12", "", "other"}
    assert cr.stages_measured(contexts) == {3, 16}  # a --module run is not a whole stage
    # with each test as the dynamic context: a stage whose lines all ran inside tests is still measured
    traced = {"py3.9-np1.24@stage16|tests/modules/16_quantization/test_q.py::test_q", "py3.9-np1.24@stage12-m12|t"}
    assert cr.stages_measured(traced) == {16}


def summary(statements, covered, branches=0, covered_branches=0):
    return {
        "summary": {
            "num_statements": statements,
            "covered_lines": covered,
            "num_branches": branches,
            "covered_branches": covered_branches,
        }
    }


def test_module_rows_judge_the_whole_chain():
    report = {
        "files": {
            "tinytorch/core/tensor.py": summary(90, 90, 10, 5),  # 95 %
            "tinytorch/core/activations.py": summary(10, 5),  # 50 %
            "tinytorch/optimization/int8.py": summary(10, 0),
            "tinytorch/registry.py": summary(20, 20),
        }
    }
    rows = {row.label: row for row in cr.module_rows(report, (80.0, {"01_tensor": 96.0}), stages={1, 15, 16})}
    assert rows["01 tensor"].percent == pytest.approx(95.0)
    assert (rows["01 tensor"].threshold, rows["01 tensor"].status) == (96.0, "LOW")
    assert (rows["02 activations"].threshold, rows["02 activations"].status) == (80.0, "LOW")
    assert rows["03 layers"].status == "MISSING"  # the chain ran, yet no file of module 03 was measured
    assert rows["16 quantization"].status == "LOW"
    assert rows["support"].files == ["tinytorch/registry.py"]


def test_a_partial_chain_is_reported_not_judged():
    report = {"files": {"tinytorch/core/tensor.py": summary(10, 1)}}
    rows = cr.module_rows(report, (80.0, {}), stages={1, 2, 9})
    assert {row.status for row in rows if row.number} == {"partial"}


def test_thresholds_of_the_repository_config_are_valid():
    default, modules = cr.load_thresholds(REPO / "coverage.toml")
    assert 0 < default <= 100
    assert all(0 < value <= 100 for value in modules.values())


def test_unknown_threshold_key_is_a_clear_error(tmp_path):
    rc = tmp_path / "c.toml"
    rc.write_text('[tool.tinytorch.coverage]\ndefault = 80\n[tool.tinytorch.coverage.modules]\n"16_quant" = 90\n')
    with pytest.raises(ValueError, match="unknown module key.*16_quant"):
        cr.load_thresholds(rc)
    rc.write_text("[tool.coverage.run]\nbranch = true\n")
    with pytest.raises(ValueError, match=r"no \[tool.tinytorch.coverage\] table"):
        cr.load_thresholds(rc)


def rcfile_with(tmp_path: Path, default: int, modules: str = "") -> Path:
    """The repository's coverage.toml with other thresholds."""
    text = (REPO / "coverage.toml").read_text()
    text = re.sub(r"(?m)^default = .*$", f"default = {default}", text)
    text = re.sub(r"(?ms)^\[tool\.tinytorch\.coverage\.modules\].*", "", text)
    rc = tmp_path / "coverage.toml"
    rc.write_text(text + f"[tool.tinytorch.coverage.modules]\n{modules}")
    return rc


def measure_cell(root: Path, rcfile: Path, cell: str, stage: str, statement: str) -> None:
    """What chain.py --coverage does for one stage: coverage run with the cell@stage context."""
    script = root / f"stage_{cell}_{stage}.py"
    script.write_text(statement + "\n")
    data = root / "cells" / cell / "coverage" / f".coverage.{cell}.{stage}"
    data.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "coverage", "run", f"--rcfile={rcfile}", f"--data-file={data}"]
    subprocess.run([*command, f"--context={cell}@stage{stage}", str(script)], cwd=REPO, check=True)


def add_site_packages_data(root: Path, cell: str) -> None:
    """A data file measured in a non-editable install: combine must map it back to tinytorch/."""
    from coverage import CoverageData

    target = root / "cells" / cell / "coverage" / f".coverage.{cell}.02"
    target.parent.mkdir(parents=True, exist_ok=True)
    data = CoverageData(basename=str(target))
    data.set_context(f"{cell}@stage09")
    data.add_arcs({"/venv/lib/python3.12/site-packages/tinytorch/registry.py": {(-1, 1), (1, 2)}})
    data.write()


def test_build_combines_cells_maps_paths_and_judges(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)  # coverage resolves the relative tinytorch/ paths against the checkout
    rc = rcfile_with(tmp_path, 0, '"02_activations" = 100\n')
    measure_cell(tmp_path, rc, "py3.11-np2.4", "16", "import tinytorch.core.tensor")
    add_site_packages_data(tmp_path, "py3.12-np2.5")
    assert cr.build(tmp_path, rc) == 1  # activations (never imported) is under 100 %
    out = capsys.readouterr().out
    assert "coverage of 2 cell(s), 2 cell@stage run(s)" in out
    assert "module 02 activations is under its threshold 100%: 0.0%" in out
    files = json.loads((tmp_path / "coverage" / "coverage.json").read_text())["files"]
    assert "tinytorch/core/tensor.py" in files and "tinytorch/registry.py" in files
    assert not any("site-packages" in name for name in files)
    rows = {row["label"]: row for row in json.loads((tmp_path / "coverage" / "modules.json").read_text())}
    assert rows["01 tensor"]["status"] == "ok" and rows["01 tensor"]["percent"] > 0
    assert rows["02 activations"]["status"] == "LOW"
    html = (tmp_path / "coverage" / "html" / "index.html").read_text()
    assert "tensor.py" in html
    # the cells' data files are kept, so the combine can run again
    assert (tmp_path / "cells" / "py3.11-np2.4" / "coverage" / ".coverage.py3.11-np2.4.16").is_file()


def test_build_without_data_says_what_to_run(tmp_path, capsys):
    assert cr.build(tmp_path, REPO / "coverage.toml") == 2
    assert "run `nox -s regression` first" in capsys.readouterr().err


def test_combined_data_is_kept_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    rc = rcfile_with(tmp_path, 0, "")
    measure_cell(tmp_path, rc, "py3.11-np2.4", "16", "import tinytorch.core.tensor")
    killed = tmp_path / ".coverage-build.4194305.tmp"  # what a coverage step killed mid-combine leaves
    (killed / "html").mkdir(parents=True)
    cr.build(tmp_path, rc)
    assert not killed.exists()
    assert not (tmp_path / "coverage" / ".coverage").exists()  # the reports carry it; the cells' files stay
    assert (tmp_path / "coverage" / "modules.json").is_file()
    cr.build(tmp_path, rc, keep_data=True)
    assert (tmp_path / "coverage" / ".coverage").is_file()
    assert not list(tmp_path.glob(".coverage*.tmp")) and not list(tmp_path.glob(".coverage*.old"))


def test_a_damaged_data_file_is_named_and_the_previous_reports_stay(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    rc = rcfile_with(tmp_path, 0, "")
    measure_cell(tmp_path, rc, "py3.11-np2.4", "16", "import tinytorch.core.tensor")
    cr.build(tmp_path, rc)
    before = (tmp_path / "coverage" / "modules.json").read_text()
    damaged = tmp_path / "cells" / "py3.12-np2.5" / "coverage" / ".coverage.py3.12-np2.5.16"
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"not a coverage data file")
    assert cr.build(tmp_path, rc) == 2  # coverage.py's combine alone would warn and leave the cell out
    assert f"{damaged} is damaged" in capsys.readouterr().err
    assert (tmp_path / "coverage" / "modules.json").read_text() == before
    assert (tmp_path / "coverage" / "html" / "index.html").is_file()
    assert not list(tmp_path.glob(".coverage*.tmp"))


def test_a_full_disk_while_writing_keeps_the_previous_reports(tmp_path, monkeypatch):
    import coverage

    from tools.harness import WriteError

    monkeypatch.chdir(REPO)
    rc = rcfile_with(tmp_path, 0, "")
    measure_cell(tmp_path, rc, "py3.11-np2.4", "16", "import tinytorch.core.tensor")
    cr.build(tmp_path, rc)
    before = (tmp_path / "coverage" / "html" / "index.html").read_text()

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(coverage.Coverage, "json_report", no_space)
    with pytest.raises(WriteError, match="No space left on device; the previous ones are kept"):
        cr.build(tmp_path, rc)
    assert (tmp_path / "coverage" / "html" / "index.html").read_text() == before
    assert (tmp_path / "coverage" / "modules.json").is_file()
    assert not list(tmp_path.glob(".coverage*.tmp"))


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--root", "/nonexistent/reports"], "--root /nonexistent/reports: no such folder"),
        (["--rcfile", "/nonexistent/coverage.toml"], "--rcfile /nonexistent/coverage.toml: no such file"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_touched(tmp_path, capsys, argv, named):
    with pytest.raises(SystemExit) as exit_info:
        cr.main(["--root", str(tmp_path), *argv])
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_rcfile_without_thresholds_is_refused_by_name(tmp_path, capsys):
    rc = tmp_path / "rc.toml"
    rc.write_text("[tool.coverage.run]\nbranch = true\n")
    with pytest.raises(SystemExit):
        cr.main(["--root", str(tmp_path), "--rcfile", str(rc)])
    assert "has no [tool.tinytorch.coverage] table" in capsys.readouterr().err

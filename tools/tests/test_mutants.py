"""The mutants machinery without running the chain: substitutions, snapshots, verdicts, the table, the CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tools import mutants as mt
from tools.mutants import Edit, Mutant

REQUIRED_AUDIT_BUGS = (  # the seed audit's P0/P1 list, as the issue words it
    "corrupts the model state",
    "accuracy degraded > 5 %",
    "memory not actually reduced",
    "in-place modification without warning",
    "incompatible with training",
    "profiler breaks",
    "edge case",
)


def _mutant(*edits: Edit, name: str = "demo", expected: int = 3) -> Mutant:
    return Mutant(name, "a demo bug", "P0 demo", expected, tuple(edits))


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- the registered mutants
def test_every_mutant_applies_exactly_once_to_the_current_sources():
    """A stale mutant is found here, in the fast test run, before anyone waits for the chain."""
    assert mt.stale_problems(mt.REPO_ROOT, mt.MUTANTS) == []
    for mutant in mt.MUTANTS:
        for rel, text in mt.mutate_sources(mt.REPO_ROOT, mutant).items():
            assert text != (mt.REPO_ROOT / rel).read_text(encoding="utf-8"), mutant.name


def test_mutants_are_well_formed():
    names = [m.name for m in mt.MUTANTS]
    assert len(names) == len(set(names)) >= 8
    for m in mt.MUTANTS:
        assert m.name.isidentifier(), m.name
        assert 1 <= m.expected_module <= mt.LAST_STAGE, m.name
        assert m.description and "\n" not in m.description, m.name
        assert m.audit_bug.startswith(("P0 ", "P1 ")), m.name
        assert m.edits and all(e.old and e.old != e.new for e in m.edits), m.name
        assert all(e.file.startswith("tinytorch/optimization/") for e in m.edits), m.name


@pytest.mark.parametrize("bug", REQUIRED_AUDIT_BUGS)
def test_every_p0_p1_audit_bug_has_a_mutant(bug):
    assert any(bug in m.audit_bug for m in mt.MUTANTS), f"no mutant stands for {bug!r}"


def test_by_name_keeps_the_order_given_and_names_unknown_mutants():
    first, second = mt.MUTANTS[1], mt.MUTANTS[0]
    assert mt.by_name([first.name, second.name]) == [first, second]
    with pytest.raises(KeyError, match="unknown mutant.*nope.*valid: " + mt.MUTANTS[0].name):
        mt.by_name(["nope"])


# ----------------------------------------------------------------------------- substitution
def test_apply_edit_replaces_the_one_occurrence():
    edit = Edit("pkg/a.py", "x = 1", "x = 2")
    assert mt.apply_edit("a\nx = 1\nb\n", edit, "demo") == "a\nx = 2\nb\n"


@pytest.mark.parametrize(("text", "found"), [("y = 1\n", "does not occur"), ("x = 1\nx = 1\n", "occurs 2 times")])
def test_apply_edit_refuses_a_stale_old_text_loudly(text, found):
    edit = Edit("tinytorch/optimization/int8.py", "x = 1", "x = 2")
    with pytest.raises(mt.StaleMutant) as info:
        mt.apply_edit(text, edit, "scale_4bit")
    message = str(info.value)
    assert message.startswith(
        "mutant scale_4bit no longer applies to tinytorch/optimization/int8.py: update its `old` text"
    )
    assert found in message and "'x = 1'" in message


def test_edits_apply_in_sequence_and_a_stale_one_writes_nothing(tmp_path):
    path = _write(tmp_path, "pkg/a.py", "alpha\nbeta\n")
    chained = _mutant(Edit("pkg/a.py", "alpha", "gamma"), Edit("pkg/a.py", "gamma\nbeta", "delta"))
    assert mt.mutate_sources(tmp_path, chained) == {"pkg/a.py": "delta\n"}
    half_stale = _mutant(Edit("pkg/a.py", "alpha", "gamma"), Edit("pkg/a.py", "missing", "x"))
    with pytest.raises(mt.StaleMutant, match="mutant demo no longer applies to pkg/a.py"):
        mt.apply_mutant(tmp_path, half_stale)
    assert path.read_text(encoding="utf-8") == "alpha\nbeta\n"
    mt.apply_mutant(tmp_path, chained)
    assert path.read_text(encoding="utf-8") == "delta\n"


def test_a_missing_file_is_stale_too(tmp_path):
    problems = mt.stale_problems(tmp_path, [_mutant(Edit("pkg/gone.py", "a", "b"), name="gone")])
    assert problems == ["mutant gone no longer applies to pkg/gone.py: the file does not exist"]


# ----------------------------------------------------------------------------- snapshots
def test_source_files_without_git_skip_reports_nox_git_and_caches(tmp_path):
    for rel in ("pkg/a.py", "tests/t.py", "reports/r.json", ".nox/x", ".git/HEAD", "pkg/__pycache__/a.pyc"):
        _write(tmp_path, rel, "x")
    assert mt.source_files(tmp_path) == ["pkg/a.py", "tests/t.py"]


def test_source_files_with_git_take_untracked_files_but_not_ignored_ones(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    _write(tmp_path, ".gitignore", "*.log\nreports/\n")
    for rel in ("pkg/new_module.py", "run.log", "reports/r.json"):
        _write(tmp_path, rel, "x")
    assert mt.source_files(tmp_path) == [".gitignore", "pkg/new_module.py"]
    dest = tmp_path / "copy"
    mt.snapshot(tmp_path, dest, ["pkg/new_module.py"])
    assert (dest / "pkg/new_module.py").read_text(encoding="utf-8") == "x"


# ----------------------------------------------------------------------------- verdicts on a fake regression.json
def _run(copy: Path, *, red=True, module=3, stage=3, cell="mutant-demo", chain_exit=None, tinytorch=None, error=None):
    at = None
    if red and module is not None:
        at = {
            "stage": stage,
            "module": module,
            "module_label": f"{module:02d}",
            "file": f"tests/modules/{module:02d}_x/test_x.py",
            "test_id": f"tests/modules/{module:02d}_x/test_x.py::test_it[mlp-int8]",
            "classification": "broken by quantization",
            "reason": "AssertionError: boom",
        }
    cells = [
        {
            "cell": cell,
            "red": red,
            "first_red_stage": stage if red else None,
            "points_at": at,
            "failing_modules": {f"{module:02d}": stage} if at else {},
        }
    ]
    tinytorch = str(copy / "tinytorch" / "__init__.py") if tinytorch is None else tinytorch
    stages = {"tinytorch_file": tinytorch, "stages": [{"stage": 1, "tinytorch_file": tinytorch}]}
    exit_code = (1 if red else 0) if chain_exit is None else chain_exit
    return mt.ChainRun(cell, exit_code, exit_code, 12.34, {"cells": cells}, stages, copy / "art", error)


def test_judge_ok_when_the_first_red_stage_points_at_the_expected_module(tmp_path):
    outcome = mt.judge(_mutant(expected=3), _run(tmp_path, module=3), tmp_path)
    assert outcome.verdict == mt.OK and outcome.ok
    assert outcome.pinpointed["test_id"].endswith("test_it[mlp-int8]") and outcome.first_red_stage == 3
    assert outcome.tinytorch_files == [str(tmp_path / "tinytorch" / "__init__.py")]


def test_judge_mismatch_when_another_module_goes_red_first(tmp_path):
    outcome = mt.judge(_mutant(expected=5), _run(tmp_path, module=3), tmp_path)
    assert outcome.verdict == mt.MISMATCH
    assert "points at module 03 layers, expected module 05 autograd" in outcome.why


def test_judge_missed_when_the_chain_stays_green(tmp_path):
    outcome = mt.judge(_mutant(), _run(tmp_path, red=False), tmp_path)
    assert outcome.verdict == mt.MISSED and "stayed green" in outcome.why


def test_judge_red_without_a_pointer_is_a_mismatch(tmp_path):
    assert mt.judge(_mutant(), _run(tmp_path, module=None), tmp_path).verdict == mt.MISMATCH


@pytest.mark.parametrize("where", ["elsewhere", "nowhere"])
def test_judge_refuses_a_run_that_did_not_import_the_mutated_copy(tmp_path, where):
    other = str(tmp_path.parent / "installed" / "tinytorch" / "__init__.py") if where == "elsewhere" else ""
    outcome = mt.judge(_mutant(), _run(tmp_path / "copy", tinytorch=other), tmp_path / "copy")
    assert outcome.verdict == mt.ERROR and "not the mutated copy" in outcome.why


def test_judge_reports_a_chain_that_could_not_run(tmp_path):
    outcome = mt.judge(_mutant(), _run(tmp_path, error="TimeoutExpired: too slow"), tmp_path)
    assert outcome.verdict == mt.ERROR and outcome.why == "TimeoutExpired: too slow"


def test_judge_the_control_must_be_green(tmp_path):
    assert mt.judge(None, _run(tmp_path, red=False, cell="mutant-control"), tmp_path).verdict == mt.OK
    red = mt.judge(None, _run(tmp_path, cell="mutant-control"), tmp_path)
    assert red.verdict == mt.MISMATCH and "the baseline is red" in red.why


# ----------------------------------------------------------------------------- the table
def test_table_shows_expected_pinpointed_test_and_verdict_and_the_last_line_counts(tmp_path):
    ok = mt.judge(_mutant(name="good", expected=3), _run(tmp_path, module=3), tmp_path)
    wrong = mt.judge(_mutant(name="wrong", expected=5), _run(tmp_path, module=3), tmp_path)
    green = mt.judge(_mutant(name="green"), _run(tmp_path, red=False), tmp_path)
    table = mt.format_table([ok, wrong, green])
    lines = table.splitlines()
    assert lines[0].split() == ["mutant", "audit", "bug", "expected", "pinpointed", "(module", "@", "first", "red"] + [
        "stage,",
        "classification)",
        "verdict",
    ]
    good_row = next(line for line in lines if line.startswith("good "))
    assert "03 layers @ stage 03, broken by quantization" in good_row and good_row.endswith("OK")
    assert "    first failing test: tests/modules/03_x/test_x.py::test_it[mlp-int8]" in lines
    assert next(line for line in lines if line.startswith("wrong ")).endswith("MISMATCH")
    assert "nothing: chain stayed green" in table and "MISSED" in table
    assert mt.summary_line([ok, wrong, green]) == "mutants: 1 pinpointed, 2 missed"


# ----------------------------------------------------------------------------- the CLI, with a fake chain
def _fake_repo(tmp_path: Path) -> Path:
    """A repository holding just the files the registered mutants edit (a copy of the real ones)."""
    repo = tmp_path / "repo"
    for rel in {e.file for m in mt.MUTANTS for e in m.edits}:
        _write(repo, rel, (mt.REPO_ROOT / rel).read_text(encoding="utf-8"))
    return repo


def test_main_runs_the_control_then_each_mutant_and_writes_the_json(tmp_path, capsys):
    repo, seen = _fake_repo(tmp_path), []
    first, second = mt.MUTANTS[0], mt.MUTANTS[2]

    def fake_chain(copy, cell, **kw):
        seen.append((cell, kw["jobs"]))
        mutated = {m.name: m for m in mt.MUTANTS}.get(cell.removeprefix("mutant-"))
        if mutated:  # the copy really holds the mutant
            assert mutated.edits[0].new in (copy / mutated.edits[0].file).read_text(encoding="utf-8")
        if cell == "mutant-control":
            return _run(copy, red=False, cell=cell)
        return _run(copy, cell=cell, module=mutated.expected_module if mutated is first else 1)

    argv = [first.name, second.name, "--root", str(repo), "--out", str(tmp_path / "out"), "--jobs", "1"]
    assert mt.main(argv, runner=fake_chain) == 1
    assert seen == [("mutant-control", 1), (f"mutant-{first.name}", 1), (f"mutant-{second.name}", 1)]
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "mutants: 1 pinpointed, 1 missed"
    data = json.loads((tmp_path / "out" / "mutants.json").read_text(encoding="utf-8"))
    assert [m["verdict"] for m in data["mutants"]] == [mt.OK, mt.MISMATCH]
    assert data["control"]["verdict"] == mt.OK and data["counts"] == {"pinpointed": 1, "missed": 1}
    assert data["mutants"][0]["edits"][0]["old"] == first.edits[0].old and data["ok"] is False


def test_main_stops_before_running_anything_when_a_mutant_is_stale(tmp_path, capsys):
    repo = _fake_repo(tmp_path)
    target = repo / mt.MUTANTS[0].edits[0].file
    target.write_text(target.read_text(encoding="utf-8").replace(mt.MUTANTS[0].edits[0].old, "refactored"), "utf-8")

    def never(*args, **kw):
        raise AssertionError("the chain must not run with a stale mutant")

    assert mt.main(["--root", str(repo), "--out", str(tmp_path / "out")], runner=never) == 1
    captured = capsys.readouterr()
    assert f"mutant {mt.MUTANTS[0].name} no longer applies to {target.relative_to(repo).as_posix()}" in captured.err
    assert captured.out.splitlines()[-1].startswith("mutants: 0 pinpointed, 0 missed; 1 stale")


def test_main_a_red_control_stops_the_run(tmp_path, capsys):
    calls = []

    def red_chain(copy, cell, **kw):
        calls.append(cell)
        return _run(copy, cell=cell)

    argv = [mt.MUTANTS[0].name, "--root", str(_fake_repo(tmp_path)), "--out", str(tmp_path / "out")]
    assert mt.main(argv, runner=red_chain) == 1
    assert calls == ["mutant-control"]
    assert "control run is not green" in capsys.readouterr().out


def test_list_and_unknown_names(capsys):
    assert mt.main(["--list"]) == 0
    listed = capsys.readouterr().out
    assert all(m.name in listed for m in mt.MUTANTS) and "expects 03 layers" in listed
    assert mt.main(["no_such_mutant"]) == 2
    assert "unknown mutant(s) no_such_mutant" in capsys.readouterr().err

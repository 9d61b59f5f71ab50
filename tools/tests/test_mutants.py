"""The mutants engine without running the chain: a tiny synthetic catalogue and tree, and a fake chain.

Plus the checks on the real catalogue that need no chain: it is well formed, covers every area, and every
mutant still applies exactly once to today's sources.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tools import mutants as mt
from tools.harness import run_main
from tools.mutants import catalogue as cat
from tools.mutants.catalogue import BY_QUANTIZATION, LAYERING, REGARDLESS, Edit, Mutant


def _mutant(*edits: Edit, name="demo", stage=3, module=3, classification=BY_QUANTIZATION, area="codec") -> Mutant:
    edits = edits or (Edit("pkg/a.py", "x = 1", "x = 2"),)
    return Mutant(name, area, "a demo bug", stage, module, classification, tuple(edits))


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- the real catalogue
def test_the_catalogue_is_well_formed_and_large_enough():
    assert mt.catalogue_problems(cat.MUTANTS) == []
    assert len(cat.MUTANTS) >= 25


@pytest.mark.parametrize("area", sorted(cat.AREAS))
def test_every_area_has_a_mutant(area):
    assert any(m.area == area for m in cat.MUTANTS), f"no mutant in area {area!r}: {cat.AREAS[area]}"


def test_earlier_module_mutants_read_broken_regardless_at_their_own_module():
    earlier = [m for m in cat.MUTANTS if m.area == "earlier"]
    assert len({m.expected_module for m in earlier}) >= 4
    for m in earlier:
        assert m.expected_classification == REGARDLESS and m.expected_module == m.expected_stage < 16, m.name
        assert all(not e.file.startswith("tinytorch/optimization/") for e in m.edits), m.name


def test_quantization_mutants_edit_module_16_and_blame_quantization():
    for m in cat.MUTANTS:
        if m.area == "earlier":
            continue
        assert all(e.file.startswith("tinytorch/optimization/") for e in m.edits), m.name
        want = LAYERING if m.area == "patch" else BY_QUANTIZATION
        assert m.expected_classification == want, m.name


def test_every_mutant_applies_exactly_once_to_the_current_sources():
    """A stale mutant is found here, in the fast test run, before anyone waits for the chain."""
    assert mt.stale_problems(mt.REPO_ROOT, cat.MUTANTS) == []
    for mutant in cat.MUTANTS:
        for rel, text in mt.mutate_sources(mt.REPO_ROOT, mutant).items():
            assert text != (mt.REPO_ROOT / rel).read_text(encoding="utf-8"), mutant.name


def test_mutated_python_still_compiles():
    """A mutant that is a syntax error tests nothing but the collector."""
    for mutant in cat.MUTANTS:
        for rel, text in mt.mutate_sources(mt.REPO_ROOT, mutant).items():
            compile(text, f"{mutant.name}:{rel}", "exec")


# ----------------------------------------------------------------------------- catalogue checks
@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ({"name": "not an id"}, "is not an identifier"),
        ({"area": "nowhere"}, "area 'nowhere' is not one of"),
        ({"stage": 17}, "expected_stage must be an int in 1..16, got 17"),
        ({"module": 0}, "expected_module must be an int in 1..16, got 0"),
        ({"stage": 3, "module": 5}, "module 5 cannot go red at stage 3"),
        ({"classification": "broken"}, "classification 'broken' is not one of"),
    ],
)
def test_catalogue_problems_name_the_mutant_and_the_fault(bad, problem):
    kwargs = {"name": "demo", **bad}
    problems = mt.catalogue_problems([_mutant(**kwargs)])
    assert len(problems) == 1 and problem in problems[0]


def test_a_layering_break_may_name_the_later_module_that_patched():
    assert mt.catalogue_problems([_mutant(stage=3, module=16, classification=LAYERING, area="patch")]) == []


def test_catalogue_problems_find_duplicates_and_empty_edits():
    same = [_mutant(), _mutant()]
    assert mt.catalogue_problems(same) == ["mutant name 'demo' appears more than once"]
    noop = _mutant(Edit("pkg/a.py", "x", "x"))
    assert "changes nothing" in mt.catalogue_problems([noop])[0]


def test_by_name_keeps_the_order_given_and_names_unknown_mutants():
    a, b = _mutant(name="a"), _mutant(name="b")
    assert mt.by_name(["b", "a"], [a, b]) == [b, a]
    with pytest.raises(mt.UnknownMutant, match="unknown mutant.*nope.*valid: a, b"):
        mt.by_name(["nope"], [a, b])


# ----------------------------------------------------------------------------- substitution
def test_apply_edit_replaces_the_one_occurrence():
    assert mt.apply_edit("a\nx = 1\nb\n", Edit("pkg/a.py", "x = 1", "x = 2"), "demo") == "a\nx = 2\nb\n"


@pytest.mark.parametrize(("text", "found"), [("y = 1\n", "does not occur"), ("x = 1\nx = 1\n", "occurs 2 times")])
def test_apply_edit_refuses_a_stale_old_text_loudly(text, found):
    with pytest.raises(mt.StaleMutant) as info:
        mt.apply_edit(text, Edit("pkg/a.py", "x = 1", "x = 2"), "demo")
    message = str(info.value)
    assert message.startswith("mutant demo no longer applies to pkg/a.py: update its `old` text")
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
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.py"]  # no temporary file left behind


def test_a_missing_file_is_stale_too(tmp_path):
    problems = mt.stale_problems(tmp_path, [_mutant(Edit("pkg/gone.py", "a", "b"), name="gone")])
    assert problems == ["mutant gone no longer applies to pkg/gone.py: the file does not exist"]


def test_atomic_write_failure_keeps_the_old_file_and_cleans_up(tmp_path, monkeypatch):
    path = _write(tmp_path, "pkg/a.py", "x = 1\n")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        mt.apply_mutant(tmp_path, _mutant())
    assert path.read_text(encoding="utf-8") == "x = 1\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.py"]


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


def test_judge_ok_only_when_stage_module_and_classification_all_match(tmp_path):
    outcome = mt.judge(_mutant(), _run(tmp_path), tmp_path)
    assert outcome.verdict == mt.OK and outcome.ok
    assert outcome.got == {"stage": 3, "module": 3, "classification": BY_QUANTIZATION}
    assert outcome.matches == {"stage": True, "module": True, "classification": True}
    assert outcome.upto == 3 and outcome.pinpointed["test_id"].endswith("test_it[mlp-int8]")


@pytest.mark.parametrize(
    ("got", "wrong"),
    [
        ({"classification": REGARDLESS}, "wrong classification"),
        ({"module": 16, "stage": 16}, None),  # a later stage than run: impossible with --upto, still a miss
        ({"module": 5, "stage": 5}, None),
        ({"module": 2}, "wrong module"),
        ({"module": 2, "classification": REGARDLESS}, "wrong module and classification"),
    ],
)
def test_judge_misses_when_any_of_the_three_differs(tmp_path, got, wrong):
    outcome = mt.judge(_mutant(), _run(tmp_path, **got), tmp_path)
    assert outcome.verdict == mt.MISS and not outcome.ok
    assert not all(outcome.matches.values())
    if wrong:
        assert outcome.why.endswith(wrong)


def test_judge_a_red_stage_before_the_expected_one_is_a_miss_named_early(tmp_path):
    outcome = mt.judge(_mutant(stage=9, module=3), _run(tmp_path, stage=4, module=4), tmp_path)
    assert outcome.verdict == mt.MISS
    assert outcome.why == "red early: red at stage 04, module 04 losses, broken by quantization (expected stage 09)"


def test_judge_green_up_to_the_expected_stage_is_not_red_by_stage_k(tmp_path):
    outcome = mt.judge(_mutant(stage=9, module=3), _run(tmp_path, red=False), tmp_path)
    assert outcome.verdict == mt.MISS and outcome.why == "not red by stage 9: stages 1-9 stayed green"


def test_judge_red_without_a_pointer_is_a_miss(tmp_path):
    outcome = mt.judge(_mutant(), _run(tmp_path, module=None), tmp_path)
    assert outcome.verdict == mt.MISS and "points at nothing" in outcome.why


@pytest.mark.parametrize("where", ["elsewhere", "nowhere"])
def test_judge_refuses_a_run_that_did_not_import_the_mutated_copy(tmp_path, where):
    other = str(tmp_path.parent / "installed" / "tinytorch" / "__init__.py") if where == "elsewhere" else ""
    outcome = mt.judge(_mutant(), _run(tmp_path / "copy", tinytorch=other), tmp_path / "copy")
    assert outcome.verdict == mt.ERROR and "not the mutated copy" in outcome.why


def test_judge_reports_a_chain_that_could_not_run(tmp_path):
    outcome = mt.judge(_mutant(), _run(tmp_path, error="TimeoutExpired: too slow"), tmp_path)
    assert outcome.verdict == mt.ERROR and outcome.why == "TimeoutExpired: too slow"


def test_judge_the_control_must_be_green(tmp_path):
    green = mt.judge(None, _run(tmp_path, red=False, cell="mutant-control"), tmp_path, upto=16)
    assert green.verdict == mt.OK and green.why == "stages 1-16 green"
    red = mt.judge(None, _run(tmp_path, cell="mutant-control"), tmp_path, upto=16)
    assert red.verdict == mt.MISS and "the baseline is red" in red.why


def test_read_verdict_takes_the_three_fields_the_report_promises():
    regression = {"cells": [{"cell": "c", "first_red_stage": 7, "points_at": {"module": 3, "classification": "x"}}]}
    assert mt.read_verdict(regression, "c")[1] == {"stage": 7, "module": 3, "classification": "x"}
    assert mt.read_verdict(regression, "other") == (None, None)


# ----------------------------------------------------------------------------- the table
def test_table_shows_expected_vs_got_marks_the_wrong_ones_and_counts(tmp_path):
    ok = mt.judge(_mutant(name="good"), _run(tmp_path), tmp_path)
    wrong = mt.judge(_mutant(name="wrong"), _run(tmp_path, classification=REGARDLESS), tmp_path)
    green = mt.judge(_mutant(name="green", stage=9), _run(tmp_path, red=False), tmp_path)
    lines = mt.format_table([ok, wrong, green]).splitlines()
    assert lines[0].split() == ["mutant", "stage", "exp/got", "module", "exp/got", "classification", "exp/got"] + [
        "verdict"
    ]
    good_row = next(line for line in lines if line.startswith("good "))
    assert "03 / 03" in good_row and "03 layers / 03 layers" in good_row and good_row.endswith("OK")
    wrong_row = next(line for line in lines if line.startswith("wrong "))
    assert f"{BY_QUANTIZATION} /!{REGARDLESS}" in wrong_row and wrong_row.endswith("MISS")
    green_row = next(line for line in lines if line.startswith("green "))
    assert "09 /!green" in green_row and "03 layers /!-" in green_row
    assert "    not red by stage 9: stages 1-9 stayed green" in lines
    assert "    first failing test: tests/modules/03_x/test_x.py::test_it[mlp-int8]" in lines
    assert "    reason: AssertionError: boom with detail" in lines  # one line, whitespace folded
    assert not any("first failing test" in line for line in lines[2:4])  # nothing under a pinpointed row
    assert mt.summary_line([ok, wrong, green]) == "mutants: 1/3 pinpointed"


# ----------------------------------------------------------------------------- the CLI, on a synthetic tree
def _tree(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    _write(repo, "pkg/a.py", "x = 1\ny = 1\n")
    _write(repo, "pkg/b.py", "z = 1\n")
    return repo


CATALOGUE = (
    _mutant(name="early", stage=3, module=3),
    _mutant(Edit("pkg/a.py", "y = 1", "y = 2"), name="late", stage=9, module=3),
    _mutant(Edit("pkg/b.py", "z = 1", "z = 2"), name="wrongly", stage=5, module=5, classification=REGARDLESS),
)


def _fake_chain(calls: list, verdicts: dict):
    """A chain that records (cell, upto, what the copy holds) and answers from ``verdicts``."""

    def run(copy, cell, **kw):
        calls.append((cell, kw["upto"], (copy / "pkg/a.py").read_text(encoding="utf-8")))
        stage, module, classification = verdicts.get(cell, (None, None, None))
        if stage is None:
            return _run(copy, red=False, cell=cell)
        return _run(copy, stage=stage, module=module, classification=classification, cell=cell)

    return run


def test_main_runs_the_control_then_each_mutant_up_to_its_stage_and_writes_the_json(tmp_path, capsys):
    repo, calls = _tree(tmp_path), []
    verdicts = {
        "mutant-early": (3, 3, BY_QUANTIZATION),
        "mutant-late": (9, 3, BY_QUANTIZATION),
        "mutant-wrongly": (5, 5, BY_QUANTIZATION),  # the report blames quantization; the catalogue says regardless
    }
    out = tmp_path / "out"
    argv = ["--root", str(repo), "--out", str(out), "--jobs", "1"]
    assert mt.main(argv, runner=_fake_chain(calls, verdicts), mutants=CATALOGUE) == 1
    assert [(cell, upto) for cell, upto, _ in calls] == [  # cheapest first: stages 1..expected only
        ("mutant-control", 9),
        ("mutant-early", 3),
        ("mutant-wrongly", 5),
        ("mutant-late", 9),
    ]
    texts = [text for *_, text in calls]
    assert texts == ["x = 1\ny = 1\n", "x = 2\ny = 1\n", "x = 1\ny = 1\n", "x = 1\ny = 2\n"]  # each copy, one edit
    assert (repo / "pkg/a.py").read_text(encoding="utf-8") == "x = 1\ny = 1\n"  # the real tree is never edited
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1] == "mutants: 2/3 pinpointed"
    assert "[mutants] 3/3 late: expects stage 09, module 03 layers" in captured.err
    table = captured.out.splitlines()
    rows = [line.split()[0] for line in table if line.split() and line.split()[0] in ("early", "late", "wrongly")]
    assert rows == ["early", "late", "wrongly"]  # the table keeps the catalogue's order
    data = json.loads((out / "mutants.json").read_text(encoding="utf-8"))
    assert [m["verdict"] for m in data["mutants"]] == [mt.OK, mt.OK, mt.MISS]
    assert data["mutants"][2]["expected"]["classification"] == REGARDLESS
    assert data["mutants"][2]["got"]["classification"] == BY_QUANTIZATION
    assert data["control"]["verdict"] == mt.OK and data["counts"] == {"pinpointed": 2, "total": 3}
    assert data["ok"] is False and data["schema"] == mt.SCHEMA
    assert data["mutants"][1]["edits"] == [{"file": "pkg/a.py", "old": "y = 1", "new": "y = 2"}]
    assert sorted(p.name for p in out.iterdir()) == ["mutants", "mutants.json"]  # no temporary file left


def test_main_exits_0_when_every_mutant_is_pinpointed(tmp_path, capsys):
    verdicts = {"mutant-early": (3, 3, BY_QUANTIZATION)}
    argv = ["early", "--no-control", "--root", str(_tree(tmp_path)), "--out", str(tmp_path / "out")]
    assert mt.main(argv, runner=_fake_chain([], verdicts), mutants=CATALOGUE) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "mutants: 1/1 pinpointed"


def test_main_stops_before_running_anything_when_a_mutant_is_stale(tmp_path, capsys):
    repo = _tree(tmp_path)
    _write(repo, "pkg/b.py", "z = 3\n")  # the code moved on: mutant "wrongly" no longer applies

    def never(*args, **kw):
        raise AssertionError("the chain must not run with a stale mutant")

    assert mt.main(["--root", str(repo), "--out", str(tmp_path / "out")], runner=never, mutants=CATALOGUE) == 1
    captured = capsys.readouterr()
    assert "mutant wrongly no longer applies to pkg/b.py" in captured.err
    assert captured.out.splitlines()[-1] == "mutants: 0/3 pinpointed; 1 stale (wrongly): nothing was run"


def test_main_refuses_a_malformed_catalogue(tmp_path, capsys):
    bad = (_mutant(classification="broken somehow"),)

    def never(*args, **kw):
        raise AssertionError("the chain must not run with a malformed catalogue")

    assert mt.main(["--root", str(_tree(tmp_path))], runner=never, mutants=bad) == 1
    assert "classification 'broken somehow'" in capsys.readouterr().err


def test_main_a_red_control_stops_the_run(tmp_path, capsys):
    calls = []
    verdicts = {"mutant-control": (2, 2, REGARDLESS)}
    argv = ["--root", str(_tree(tmp_path)), "--out", str(tmp_path / "out")]
    assert mt.main(argv, runner=_fake_chain(calls, verdicts), mutants=CATALOGUE) == 1
    assert [c[0] for c in calls] == ["mutant-control"]
    assert "control run is not green" in capsys.readouterr().out


def _exit(argv, **kw) -> int:
    """``main`` as ``python -m tools.mutants`` runs it: through ``run_main``, errors become exit codes."""
    return run_main(lambda: mt.main(argv, **kw), "mutants")


def test_list_and_unknown_names(capsys):
    assert _exit(["--list"]) == 0
    listed = capsys.readouterr().out
    assert all(m.name in listed for m in cat.MUTANTS)
    assert "expects stage 03, module 03 layers, broken by quantization" in listed
    assert _exit(["no_such_mutant"]) == 2
    assert "unknown mutant(s) no_such_mutant" in capsys.readouterr().err


@pytest.mark.parametrize(("flag", "value"), [("--jobs", "0"), ("--stage-timeout", "-1")])
def test_bad_arguments_exit_2_naming_the_flag(flag, value, capsys):
    assert _exit([flag, value]) == 2
    err = capsys.readouterr().err
    assert flag in err and err.startswith("mutants: ") and err.count("\n") == 1


def _never(*args, **kw):
    raise AssertionError("nothing may run after a refused argument")


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--root", "{tmp}/nonexistent"], "--root"),
        (["--root", "{repo}/pkg/a.py"], "--root"),
        (["--out", "{repo}/pkg/a.py"], "--out"),
        (["--out", "{repo}/pkg/a.py/sub"], "--out"),
        (["--stage-timeout", "nan"], "--stage-timeout"),
        (["--stage-timeout", "inf"], "--stage-timeout"),
        (["--stage-timeout", "0"], "--stage-timeout"),
        (["--stage-timeout", "soon"], "--stage-timeout"),
        (["--no-reuse", "--check-reuse"], "--no-reuse"),
        (["early", "late", "early"], "early"),
        (["--list", "--jobs", "-3"], "--jobs"),
    ],
)
def test_refused_arguments_exit_2_in_one_line_before_anything_is_touched(tmp_path, monkeypatch, capsys, argv, named):
    repo = _tree(tmp_path)
    argv = [a.format(tmp=tmp_path, repo=repo) for a in argv]
    if "--root" not in argv:
        argv += ["--root", str(repo)]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]

    def no_temp(*args, **kw):
        raise AssertionError("a refused argument must not create the temporary folder")

    monkeypatch.setattr(mt.cli.tempfile, "mkdtemp", no_temp)
    assert _exit(argv, runner=_never, mutants=CATALOGUE) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("mutants: ") and captured.err.count("\n") == 1
    assert named in captured.err
    assert not (tmp_path / "out").exists() and (repo / "pkg/a.py").read_text(encoding="utf-8") == "x = 1\ny = 1\n"


FAKE_CHAIN = """import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open(os.environ["FAKE_CHAIN_PID"], "w") as handle:
    handle.write(str(child.pid))
time.sleep(60)
"""


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"  # a zombie is dead
    except FileNotFoundError:
        return True


def test_a_silent_hung_chain_is_killed_at_the_time_out_and_reads_error(tmp_path, monkeypatch, capsys):
    """The real runner (run_chain) on a chain that never prints and never ends: killed with its own child
    at --stage-timeout x stages, the mutant an ERROR, the run over in seconds — not a hang."""
    repo = _tree(tmp_path)
    _write(repo, mt.engine.CHAIN, FAKE_CHAIN)
    pid_file = tmp_path / "grandchild.pid"
    monkeypatch.setenv("FAKE_CHAIN_PID", str(pid_file))
    out = tmp_path / "out"
    argv = ["early", "--no-control", "--stage-timeout", "0.5", "--root", str(repo), "--out", str(out)]
    started = time.monotonic()
    assert _exit(argv, mutants=CATALOGUE) == 1
    assert time.monotonic() - started < 10
    outcome = json.loads((out / "mutants.json").read_text(encoding="utf-8"))["mutants"][0]
    assert outcome["verdict"] == mt.ERROR and outcome["why"].startswith("TimeoutExpired: ")
    assert "timed out after 1.5 seconds" in outcome["why"]  # 0.5 s per stage, stages 1-3
    assert capsys.readouterr().out.splitlines()[-1] == "mutants: 0/1 pinpointed"
    grandchild = int(pid_file.read_text(encoding="utf-8"))
    deadline = time.monotonic() + 2
    while not _gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(grandchild), "the chain's own subprocess survived the time-out"


def test_a_sigterm_ends_the_running_chain_first_then_the_run_exits_143_with_its_copies_gone(tmp_path, monkeypatch):
    """SIGTERM during a mutant's chain: the chain (and its own child) end, the temporary copies are removed,
    and the run ends as interrupted (143), not as a verdict — well before the stage time-out."""
    repo = _tree(tmp_path)
    _write(repo, mt.engine.CHAIN, FAKE_CHAIN)
    pid_file = tmp_path / "grandchild.pid"
    monkeypatch.setenv("FAKE_CHAIN_PID", str(pid_file))
    temps = tmp_path / "tmp"
    temps.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temps))
    argv = ["early", "--no-control", "--stage-timeout", "60", "--root", str(repo), "--out", str(tmp_path / "out")]
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    started = time.monotonic()
    try:
        assert _exit(argv, mutants=CATALOGUE) == 143
    finally:
        timer.cancel()
    assert time.monotonic() - started < 20
    assert list(temps.iterdir()) == []
    grandchild = int(pid_file.read_text(encoding="utf-8"))
    deadline = time.monotonic() + 2
    while not _gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(grandchild), "the chain's own subprocess survived the stop"


def test_an_unwritable_mutants_json_fails_the_run_in_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "mutants.json").mkdir(parents=True)  # a folder where the file goes: the rename fails
    argv = ["early", "--no-control", "--root", str(_tree(tmp_path)), "--out", str(out)]
    verdicts = {"mutant-early": (3, 3, BY_QUANTIZATION)}
    assert _exit(argv, runner=_fake_chain([], verdicts), mutants=CATALOGUE) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith(f"mutants: could not write {out / 'mutants.json'}: ")
    assert sorted(p.name for p in out.iterdir()) == ["mutants", "mutants.json"]  # no temporary left behind


def test_python_m_tools_mutants_ends_through_run_main(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "tools.mutants", "--root", str(tmp_path / "nonexistent")],
        cwd=mt.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"mutants: --root {tmp_path / 'nonexistent'}: not a folder; pass the repository root\n"

"""The mutants command on a synthetic tree with a fake chain: the run, its verdict table and mutants.json,
its refusals (exit 2, one line), a hung or interrupted chain, and the exit codes through run_main."""

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
from tools.mutants.catalogue import BY_QUANTIZATION, REGARDLESS, Edit
from tools.tests.mutant_helpers import _mutant, _run, _write


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

"""How every child process of the bisect ends: at its time-out, silent or not, with its whole process group;
and on a signal, after it has ended its own process groups (``contract.Stop``), as the judge's chain must.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tools.bisection import env as venv
from tools.bisection import search as bisect_search
from tools.harness import Stop

TARGET = [{"test_id": "tests/modules/16_quantization/test_q.py::test_q", "reason": "AssertionError"}]


# A child that prints nothing and sleeps, with a grandchild in its process group that sleeps too.
SILENT = (
    "import pathlib, subprocess, sys, time; "
    "grandchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
    "pathlib.Path(sys.argv[1]).write_text(str(grandchild.pid)); time.sleep(60)"
)


def _gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z":
            return True  # ended; waiting for its new parent to reap it
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("runner", ["search", "env", "judge"])
def test_a_silent_child_is_killed_with_its_group_at_its_timeout(runner, judge, tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    command = [sys.executable, "-c", SILENT, str(pid_file)]
    started = time.monotonic()
    if runner == "search":  # the search's judge runs
        done = Stop(bisect_search.SearchInterrupted, 30).run(command, timeout=1.0, output=tmp_path / "out")
        timed_out = done.timed_out
    elif runner == "env":  # venv creation and installs
        done, _ = venv.run_captured(command, timeout=1.0)
        timed_out = done.timed_out
    else:  # the judge's reinstall and its chain or pytest run
        code, output = judge._run(command, tmp_path, dict(os.environ), tmp_path / "judge.log", 1.0)
        timed_out = code == -9 and "killed after 1 s" in output
    assert timed_out and time.monotonic() - started < 5
    assert pid_file.is_file() and _gone(int(pid_file.read_text()))


def test_a_signal_during_a_run_lets_the_child_end_its_own_work_before_the_stop(tmp_path):
    """As the judge does for its chain (and the search for its judge): SIGTERM first, the error after."""
    ended, output = tmp_path / "ended", tmp_path / "out"
    child = (
        "import pathlib, signal, sys, time\n"
        f"def bye(*_):\n    pathlib.Path({str(ended)!r}).write_text('cleaned up'); sys.exit(3)\n"
        "signal.signal(signal.SIGTERM, bye)\nprint('ready', flush=True)\ntime.sleep(60)\n"
    )

    def signal_when_ready():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "ready" not in (output.read_text() if output.exists() else ""):
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGTERM)

    stop = Stop(bisect_search.SearchInterrupted, grace=20)
    with stop.installed():
        threading.Thread(target=signal_when_ready, daemon=True).start()
        started = time.monotonic()
        with pytest.raises(bisect_search.SearchInterrupted, match=r"interrupted \(SIGTERM\)") as caught:
            stop.run([sys.executable, "-c", child], timeout=60, output=output)
    assert ended.read_text() == "cleaned up" and time.monotonic() - started < 15
    assert caught.value.exit_code == 143
    with pytest.raises(bisect_search.SearchInterrupted):
        stop.run([sys.executable, "-c", "pass"], timeout=10, output=output)  # once asked, no new child starts


def test_a_signal_between_runs_stops_at_once(tmp_path):
    stop, before = Stop(bisect_search.SearchInterrupted, grace=20), signal.getsignal(signal.SIGINT)
    with stop.installed(), pytest.raises(bisect_search.SearchInterrupted) as caught:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    assert caught.value.exit_code == 130
    assert signal.getsignal(signal.SIGINT) is before  # the old handler is back


# A stand-in chain: its "stage" runs in a session of its own, which only the chain's SIGTERM handler ends.
FAKE_CHAIN = """
import os, pathlib, signal, subprocess, sys, time
stage = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
def stop(*_):
    os.killpg(stage.pid, signal.SIGKILL)
    sys.exit(143)
signal.signal(signal.SIGTERM, stop)
pathlib.Path(sys.argv[1]).write_text(str(stage.pid))
time.sleep(60)
"""


def test_sigterm_to_the_judge_lets_its_chain_end_the_stages_first(tmp_path):
    """A judge that died at once would leave the chain's stages running (their own process groups)."""
    worktree = tmp_path / "worktree"
    (worktree / "tests" / "regression").mkdir(parents=True)
    (worktree / "tests" / "regression" / "chain.py").write_text(FAKE_CHAIN)
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"]):
        subprocess.run(["git", *args], cwd=worktree, check=True, capture_output=True)
    stage_pid = tmp_path / "stage.pid"
    spec = {
        "worktree": str(worktree),
        "install": None,
        "mode": "chain",
        "targets": TARGET,
        "steps_dir": str(tmp_path / "steps"),
        "command": [sys.executable, str(worktree / "tests" / "regression" / "chain.py"), str(stage_pid)],
        "env": {},
        "step_timeout": 60,
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    script = bisect_search.stage_judge(tmp_path / "judge")
    judge_run = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "spec.json"), "step-01", "step 1"],
        cwd=worktree,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not stage_pid.is_file() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stage_pid.is_file(), "the stand-in chain did not start its stage"
        judge_run.send_signal(signal.SIGTERM)
        assert judge_run.wait(timeout=30) == 255  # not a verdict: the search stops
    finally:
        judge_run.kill()
    assert _gone(int(stage_pid.read_text()))

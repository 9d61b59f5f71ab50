"""--first-red, the stage store, and the process runner: fast answers that are still the right answers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from regression.common import ENV_STORE, ENV_STORE_MAX_MB, OUTER_RUN_SETTINGS
from regression.conftest import CHAIN, build_tree, chain_env, start_chain
from regression.contract import run_with_timeout, tail_text
from regression.schema import StageResult
from regression.stages.stage_store import Hashes, StageStore

# Stage 02 is red; 03 and 04 are green but slow: --first-red must not wait for them.
TREE = {
    "pytest.ini": "[pytest]\npython_files = test_*.py\n",
    "tests/modules/01_tensor/test_ok.py": "def test_one():\n    assert True\n",
    "tests/modules/02_activations/test_red.py": "def test_red():\n    assert 1 == 2, 'two'\n",
    "tests/modules/03_layers/test_slow.py": "import time\n\ndef test_slow():\n    time.sleep(30)\n",
    "tests/modules/04_losses/test_four.py": "def test_ok():\n    assert True\n",
}
GREEN_RESULT = StageResult(
    stage=1, collected=1, passed=1, failed=0, errors=0, collect_errors=0, skipped=0, xfailed=0, red=False
)
GREEN = {
    "pytest.ini": "[pytest]\npython_files = test_*.py\n",
    "tests/modules/01_tensor/test_ok.py": "def test_one():\n    assert True\n",
    "tests/modules/02_activations/test_two.py": "def test_two():\n    assert True\n",
}


def run_chain(root: Path, out: Path, *args: str, timeout: float = 120):
    process = start_chain(root, out, *args)
    stdout, stderr = process.communicate(timeout=timeout)
    return (
        process.returncode,
        stderr,
        json.loads((out / "stages.json").read_text()) if (out / "stages.json").exists() else None,
    )


def test_first_red_stops_the_cell_at_its_first_red_stage_and_cancels_those_above(tmp_path):
    root = build_tree(tmp_path / "repo", TREE)
    started = time.monotonic()
    code, stderr, cell = run_chain(root, tmp_path / "out", "--upto", "4", "--jobs", "2", "--first-red", "--no-reuse")
    assert time.monotonic() - started < 25, stderr  # stage 03's 30 s sleep was cancelled, not waited for
    assert code == 1
    assert [s["key"] for s in cell["stages"]] == ["01", "02"] and cell["stages"][1]["red"]
    assert cell["cancelled"] == ["03", "04"] and cell["green"] is False
    assert "cancelled stage(s) 03, 04" in stderr


def test_a_stage_whose_inputs_did_not_change_is_reused_and_any_change_reruns_it(tmp_path):
    root = build_tree(tmp_path / "repo", GREEN)
    store = tmp_path / "store"
    code, _, first = run_chain(root, tmp_path / "out", "--upto", "2", "--store", str(store))
    assert code == 0 and first["reused"] == 0
    code, stderr, second = run_chain(root, tmp_path / "out", "--upto", "2", "--store", str(store))
    assert code == 0 and second["reused"] == 2 and "(reused)" in stderr
    assert all(s["reused"]["date"] for s in second["stages"]) and [s["passed"] for s in second["stages"]] == [1, 2]
    # a test file of module 02 changes: stage 01 is still reused, stage 02 runs again
    (root / "tests/modules/02_activations/test_two.py").write_text("def test_two():\n    assert 2 == 3\n")
    code, _, third = run_chain(root, tmp_path / "out", "--upto", "2", "--store", str(store))
    assert code == 1 and [bool(s.get("reused")) for s in third["stages"]] == [True, False]
    assert third["stages"][1]["red"]
    # a new test file in folder 01 is an input too, although no stage ever opened it
    (root / "tests/modules/01_tensor/test_new.py").write_text("def test_new():\n    assert True\n")
    code, _, fourth = run_chain(root, tmp_path / "out", "--upto", "2", "--store", str(store))
    assert not fourth["stages"][0].get("reused") and fourth["stages"][0]["passed"] == 2
    # --no-reuse runs everything; same-commit reuses nothing recorded outside a git commit
    _, _, forced = run_chain(root, tmp_path / "out", "--upto", "2", "--store", str(store), "--no-reuse")
    assert forced["reused"] == 0
    _, _, pinned = run_chain(root, tmp_path / "out", "--upto", "2", "--store", str(store), "--reuse", "same-commit")
    assert pinned["reused"] == 0


def test_a_stage_of_the_same_commit_is_reused_under_an_outer_run_whose_settings_never_reach_it(tmp_path):
    """``nox -s signoff`` sets its reports root, report and chain arguments for its cells: the stages that
    ``nox -s regression`` recorded at the same commit must still be reused there, and a test never sees them."""
    tree = {
        **GREEN,
        "tests/modules/02_activations/test_two.py": "import os\n\ndef test_two():\n"
        "    assert not [k for k in os.environ if k in ('TINYTORCH_REPORTS', 'TINYTORCH_CHAIN_ARGS')]\n",
    }
    root = build_tree(tmp_path / "repo", tree)
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)
    store = tmp_path / "store"
    args = ("--upto", "2", "--store", str(store), "--reuse", "same-commit")
    code, stderr, first = run_chain(root, tmp_path / "cells" / "syn", *args)
    assert code == 0 and first["reused"] == 0, stderr
    outer = {name: f"set-by-signoff-{name}" for name in OUTER_RUN_SETTINGS if name not in (ENV_STORE, ENV_STORE_MAX_MB)}
    outer[ENV_STORE_MAX_MB] = "512"
    command = [sys.executable, str(CHAIN), "--cell", "syn", "--out", str(tmp_path / "signoff" / "syn"), "--root"]
    done = subprocess.run(
        [*command, str(root), *args], env={**chain_env(), **outer}, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    second = json.loads((tmp_path / "signoff" / "syn" / "stages.json").read_text())
    assert done.returncode == 0 and second["reused"] == 2, done.stderr
    # and run afresh under those settings, the test that looks for them still passes: they never reach it
    forced = subprocess.run(
        [*command, str(root), "--upto", "2", "--no-reuse"], env={**chain_env(), **outer}, capture_output=True, text=True
    )
    assert forced.returncode == 0, forced.stderr


@pytest.mark.parametrize("value", ["abc", "0", "-5", "nan", "inf"])
def test_a_store_bound_that_is_not_a_size_is_refused_by_name(tmp_path, value):
    root = build_tree(tmp_path / "repo", GREEN)
    command = [sys.executable, str(CHAIN), "--cell", "syn", "--out", str(tmp_path / "out"), "--root", str(root)]
    env = {**chain_env(), ENV_STORE_MAX_MB: value}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{ENV_STORE_MAX_MB}={value!r}: not a size in megabytes" in done.stderr
    assert not (tmp_path / "out").exists()


def test_the_store_stays_within_its_bound_dropping_the_least_recently_used(tmp_path):
    store = StageStore(tmp_path / "store", max_bytes=1500)
    for key in ("01", "02", "03"):
        data = tmp_path / f"{key}.log"
        data.write_text("x" * 600)
        store.save("c", key, "d", {}, GREEN_RESULT, {"stage.log": data}, None)
        time.sleep(0.02)
    assert store.prune() >= 1
    assert not list((tmp_path / "store" / "c" / "01").glob("*/entry.json"))
    assert list((tmp_path / "store" / "c" / "03").glob("*/entry.json"))


def test_a_stored_result_reads_back_typed_and_an_ill_shaped_or_unknown_entry_is_a_miss(tmp_path):
    store, hashes = StageStore(tmp_path / "store"), Hashes(tmp_path)
    log = tmp_path / "stage.log"
    log.write_text("log")
    store.save("c", "01", "d", {}, GREEN_RESULT, {"stage.log": log}, "abc", ("py3.12-np2.5", tmp_path))
    hit = store.lookup("c", "01", "d", hashes, [], None)
    assert hit.result == GREEN_RESULT and (hit.cell, hit.root, hit.commit) == ("py3.12-np2.5", str(tmp_path), "abc")
    (entry,) = (tmp_path / "store").glob("c/01/*/entry.json")
    data = json.loads(entry.read_text())
    damaged = [
        {"result": dict(data["result"], red="no")},
        {"result": {"stage": 1}},
        {"result": [1]},
        {"schema": 99},
        {"inputs": ["x"]},
    ]
    for damage in damaged:
        entry.write_text(json.dumps({**data, **damage}))
        assert store.lookup("c", "01", "d", hashes, [], None) is None, damage  # a miss: the stage runs again
    entry.write_text('{"schema": 1, "res')
    assert store.lookup("c", "01", "d", hashes, [], None) is None


def test_a_silent_hung_child_and_its_own_children_are_killed_at_the_time_out(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"  # never prints a line
    )
    started = time.monotonic()
    done = run_with_timeout([sys.executable, "-c", script], timeout=1.5, output=tmp_path / "log")
    assert done.timed_out and time.monotonic() - started < 10
    grandchild = int(pid_file.read_text())
    time.sleep(0.2)
    assert not _alive(grandchild), "the child's own subprocess survived the time-out"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:  # a zombie is dead
        return handle.read().split()[2] != "Z"


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_every_stage_process_group_and_publishes_nothing(tmp_path, sig, code):
    root = build_tree(
        tmp_path / "repo",
        {**TREE, "tests/modules/02_activations/test_red.py": TREE["tests/modules/03_layers/test_slow.py"]},
    )
    out = tmp_path / "out"
    out.mkdir()
    (out / "stages.json").write_text('{"previous": true}')
    process = start_chain(root, out, "--upto", "3", "--jobs", "3", "--no-reuse")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(_stage_groups(process.pid)) < 2:
        time.sleep(0.1)
    groups = _stage_groups(process.pid)
    assert groups, "no stage process started"
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr and "stopped by" in stderr
    assert json.loads((out / "stages.json").read_text()) == {"previous": True}
    time.sleep(0.2)
    survivors = [pid for pid in _pids() if _pgid(pid) in groups and _alive(pid)]
    assert not survivors
    assert not list(out.glob(".run-*")), "the run's working folder was left behind"


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _stage_groups(parent: int) -> set[int]:
    """Process groups led by children of the chain process (each stage leads its own)."""
    found = set()
    for pid in _pids():
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent and _pgid(pid) == pid:
            found.add(pid)
    return found


def test_tail_text_bounds_a_huge_output_and_says_how_much_was_cut(tmp_path):
    log = tmp_path / "log"
    log.write_text("x" * 5_000_000 + "\nlast line\n")
    tail = tail_text(log, 25)
    assert len(tail) < 20_000 and tail.endswith("last line") and "bytes cut" in tail


def test_the_chain_refuses_a_store_it_cannot_write(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("chain.py")),
            "--cell",
            "c",
            "--out",
            str(tmp_path / "o"),
            "--store",
            str(blocker / "store"),
            "--check-only",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and "--store" in done.stderr


def test_two_chains_into_one_out_never_destroy_each_other(tmp_path):
    """The second waits for the first (saying so); with --no-wait it exits 2 naming the holder."""
    root = build_tree(tmp_path / "repo", GREEN)
    out = tmp_path / "out"
    first = start_chain(root, out, "--upto", "2", "--no-reuse")
    second = start_chain(root, out, "--upto", "2", "--no-reuse")
    results = [p.communicate(timeout=120) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], results
    cell = json.loads((out / "stages.json").read_text())
    assert [s["passed"] for s in cell["stages"]] == [1, 2] and (out / cell["records_file"]).is_file()
    assert sorted(p.name for p in (out / "logs").iterdir()) == ["stage_01.log", "stage_02.log"]
    assert any("is busy" in err or "waiting" in err for _, err in results), results  # the second said it waits
    slow = build_tree(
        tmp_path / "slow", {**GREEN, "tests/modules/01_tensor/test_ok.py": TREE["tests/modules/03_layers/test_slow.py"]}
    )
    holder = start_chain(slow, tmp_path / "busy", "--upto", "1", "--no-reuse")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (tmp_path / "busy" / ".lock").exists():
        time.sleep(0.05)
    code, stderr, _ = run_chain(root, tmp_path / "busy", "--upto", "1", "--no-wait")
    holder.kill()
    holder.communicate()
    assert code == 2 and str(holder.pid) in stderr


@pytest.mark.parametrize("sub", ["logs", "records", "coverage"])
@pytest.mark.parametrize("kind", ["file", "symlink"])
def test_an_out_subfolder_that_is_a_file_or_a_link_is_refused_before_anything_is_written(tmp_path, sub, kind):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    if kind == "file":
        (out / sub).write_text("mine")
    else:
        (out / sub).symlink_to(elsewhere, target_is_directory=True)
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("chain.py")), "--cell", "c", "--out", str(out), "--upto", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and f"{sub} is a" in done.stderr and "Traceback" not in done.stderr
    assert list(elsewhere.iterdir()) == [] and sorted(p.name for p in out.iterdir()) == [sub]


def test_a_file_size_limit_fails_the_run_as_such_and_keeps_the_previous_result(tmp_path):
    """Writes fail (as on a full disk): the chain says it could not write, exits 1, blames no test."""
    import resource

    root = build_tree(tmp_path / "repo", GREEN)
    out = tmp_path / "out"
    code, _, first = run_chain(root, out, "--upto", "2", "--no-reuse")
    assert code == 0
    before = (out / "stages.json").read_bytes()

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    command = [sys.executable, str(Path(__file__).with_name("chain.py")), "--cell", "syn", "--out", str(out)]
    command += ["--root", str(root), "--upto", "2", "--no-reuse"]
    done = subprocess.run(command, env=chain_env(), capture_output=True, text=True, preexec_fn=limited, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "could not write" in done.stderr and "File too large" in done.stderr and "Traceback" not in done.stderr
    assert (out / "stages.json").read_bytes() == before  # the previous green result stays published
    assert not list(out.glob(".run-*"))

"""Two report runs into one --out never destroy each other; a full disk never loses the published report.

Concurrent runs are serialized by ``out_lock.exclusive`` (the second waits, or exits 2 with ``--no-wait``);
what is published is always the three files of one complete run; temporaries are cleaned only when their
run is this one or provably dead.
"""

from __future__ import annotations

import errno
import json
import os
import re
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from regression import out_lock, report
from regression.conftest import REPORT, chain_env
from regression.report_fixtures import stage_entry, test_record, write_cell

NAMES = ("regression.json", "regression.md", "regression.html", "regression.junit.xml")
ROUNDS = 8


def cells_named(root: Path, name: str, tests: int = 1500) -> Path:
    """A green cell called ``name`` with enough records that writing the report takes a while."""
    records = [test_record(name, 1, f"t.py::t{i}", "passed") for i in range(tests)]
    write_cell(root, name, [stage_entry(1, tests)], records)
    return root


def start(cells: Path, out: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, str(REPORT), "--cells", str(cells), "--out", str(out), *extra]
    return subprocess.Popen(
        command, env=chain_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8"
    )


def published_run(out: Path) -> str:
    """The one cell every published file names (json, md, html): the three came from the same run."""
    data = json.loads((out / "regression.json").read_text(encoding="utf-8"))
    (cell,) = [c["cell"] for c in data["cells"]]
    markdown = (out / "regression.md").read_text(encoding="utf-8")
    page = (out / "regression.html").read_text(encoding="utf-8")
    assert markdown.rstrip().endswith("regression: 1500 passed, 0 failed") and page.rstrip().endswith("</html>")
    others = {"alpha", "beta"} - {cell}
    assert f"| stage | {cell} |" in markdown and f"<th>{cell}<br>" in page
    assert not any(other in markdown or other in page for other in others)
    return cell


@pytest.mark.timeout(600)
def test_two_writers_at_once_always_publish_one_complete_run(tmp_path):
    alpha, beta = cells_named(tmp_path / "a", "alpha"), cells_named(tmp_path / "b", "beta")
    out = tmp_path / "out"
    seen = set()
    for _ in range(ROUNDS):
        runs = [start(alpha, out), start(beta, out)]
        results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in runs]
        for process in runs:
            process.stdout.close()
            process.stderr.close()
        for status, stdout, stderr in results:
            assert status == 0, stderr
            assert stdout.rstrip().endswith("regression: 1500 passed, 0 failed")
            assert "Traceback" not in stderr
        seen.add(published_run(out))
        assert sorted(p.name for p in out.iterdir()) == sorted(NAMES)  # no temporaries, no lock left
    assert seen <= {"alpha", "beta"}


@pytest.mark.timeout(120)
def test_a_second_run_waits_for_the_first_and_says_so(tmp_path):
    cells = cells_named(tmp_path / "c", "alpha", tests=10)
    out = tmp_path / "out"
    with out_lock.exclusive(out, who="test-holder"):
        waiting = start(cells, out)
        line = waiting.stderr.readline()  # printed before it blocks
        assert f"waiting for pid {os.getpid()} (test-holder)" in line and str(out) in line
        time.sleep(0.3)
        assert waiting.poll() is None and not (out / "regression.json").exists()
    assert waiting.wait(timeout=120) == 0
    waiting.stdout.close()
    waiting.stderr.close()
    assert sorted(p.name for p in out.iterdir()) == sorted(NAMES)


def test_no_wait_exits_2_naming_the_holder_and_touches_nothing(tmp_path, capsys):
    cells = cells_named(tmp_path / "c", "alpha", tests=10)
    out = tmp_path / "out"
    out.mkdir()
    (out / "regression.json").write_text("previous")
    with out_lock.exclusive(out, who="test-holder"):
        status = report.main(["--cells", str(cells), "--out", str(out), "--no-wait"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert f"being written by pid {os.getpid()} (test-holder)" in err and str(out) in err
    assert (out / "regression.json").read_text() == "previous"


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_own_or_dead_runs_temporaries_are_cleaned(tmp_path, capsys):
    cells = cells_named(tmp_path / "c", "alpha", tests=10)
    out = tmp_path / "out"
    out.mkdir()
    dead, alive = dead_pid(), os.getpid()  # this test process outlives the report run it makes
    assert not out_lock.pid_alive(dead)
    leftovers = {
        f".regression.json.{dead}-0a1b2c3d.tmp": False,  # a killed run's: removed
        f".regression.html.{dead}.tmp": False,  # common.py's older naming, dead: removed
        f".regression.md.{alive}-deadbeef.tmp": True,  # a live run's: kept
        ".regression.md.notapid.tmp": True,  # not a temporary of ours at all
    }
    for name in leftovers:
        (out / name).write_text("x")
    assert report.main(["--cells", str(cells), "--out", str(out)]) == 0
    capsys.readouterr()
    for name, kept in leftovers.items():
        assert (out / name).exists() == kept, name
    assert all((out / name).is_file() for name in NAMES)


def test_the_lock_excludes_every_other_holder(tmp_path):
    """Four processes add 1 to a counter 25 times each under the lock (read, pause, write): no update is lost,
    though each release removes the lock file a waiter may already have opened."""
    folder = tmp_path / "shared"
    (tmp_path / "count").write_text("0")
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(Path(out_lock.__file__).parent.parent)!r})
        from regression.out_lock import exclusive
        for _ in range(25):
            with exclusive({str(folder)!r}, stream=open("/dev/null", "w")):
                value = int(open({str(tmp_path / "count")!r}).read())
                time.sleep(0.001)
                open({str(tmp_path / "count")!r}, "w").write(str(value + 1))
        """
    )
    workers = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(4)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0, 0, 0]
    assert (tmp_path / "count").read_text() == "100"
    assert list(folder.iterdir()) == []  # the last holder removed the lock file


def test_a_killed_holder_never_blocks_the_next_run(tmp_path):
    cells = cells_named(tmp_path / "c", "alpha", tests=10)
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; sys.path.insert(0, sys.argv[1]); from regression.out_lock import exclusive\n"
            "with exclusive(sys.argv[2]):\n    print('held', flush=True); time.sleep(600)",
            str(Path(out_lock.__file__).parent.parent),
            str(out),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    holder.stdout.close()
    done = subprocess.run(
        [sys.executable, str(REPORT), "--cells", str(cells), "--out", str(out), "--no-wait"],
        env=chain_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(NAMES)


# ----------------------------------------------------------------------------------------- write faults
def previous_report(tmp_path: Path) -> tuple[Path, Path, dict]:
    cells = cells_named(tmp_path / "c", "alpha")
    out = tmp_path / "out"
    first = subprocess.run(
        [sys.executable, str(REPORT), "--cells", str(cells), "--out", str(out)],
        env=chain_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.returncode == 0, first.stderr
    return cells, out, {p.name: p.read_bytes() for p in out.iterdir()}


@pytest.mark.parametrize("limit", [0, 4096])  # not even the lock file's pid; regression.json cut short
def test_a_file_size_limit_fails_the_run_and_keeps_the_previous_report(tmp_path, limit):
    cells, out, before = previous_report(tmp_path)
    cells_named(cells, "beta")  # a different report: a file that got through would show

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run(
        [sys.executable, str(REPORT), "--cells", str(cells), "--out", str(out)],
        env=chain_env(),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_files,
    )
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert re.fullmatch(
        rf"report\.py: could not write {re.escape(str(out))}/regression\.\w+: File too large\n", done.stderr
    )
    assert done.stdout == ""
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # published whole, no temporary, no lock


def test_a_full_disk_fails_the_run_and_keeps_the_previous_report(tmp_path, capsys, monkeypatch):
    cells, out, before = previous_report(tmp_path)
    cells_named(cells, "beta")
    real_fsync, calls = os.fsync, []

    def full_disk(fd):
        calls.append(fd)
        if len(calls) == 2:  # regression.md: regression.json's temporary is already written
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(out_lock.os, "fsync", full_disk)
    assert report.main(["--cells", str(cells), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"report.py: could not write {out}/regression.md: No space left on device\n"
    assert captured.out == ""
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

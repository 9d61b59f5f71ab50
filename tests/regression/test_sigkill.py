"""SIGKILL at random points of report.py and chain.py: the previous results stay whole and readable."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from regression.conftest import CHAIN, REPORT, build_tree, chain_env
from regression.contract import RecordKind
from regression.reporting.loading import load_cells
from regression.test_report import stage_entry, test_record, write_cell

RUNS = 20
GREEN_TREE = {
    "pytest.ini": "[pytest]\npython_files = test_*.py\n",
    "tests/modules/01_tensor/test_ok.py": "import pytest\n\n@pytest.mark.parametrize('i', range(40))\ndef test_ok(i):\n"
    "    assert i >= 0\n",
}


def kill_at_random(command: list[str], seconds: float, rng: random.Random, cwd: Path | None = None) -> None:
    """Start ``command`` in its own process group and SIGKILL the whole group after a random delay."""
    process = subprocess.Popen(
        command, cwd=cwd, env=chain_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    time.sleep(rng.uniform(0.2 * seconds, seconds))  # the start-up is uninteresting: bias to the writes
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it finished first: a complete run is fine too
    process.wait()


def timed(command: list[str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=chain_env(), capture_output=True, text=True, check=False)
    assert done.returncode in (0, 1), done.stderr
    return time.perf_counter() - started


def test_killed_report_runs_leave_the_previous_report_whole(tmp_path):
    cells = tmp_path / "cells"
    write_cell(cells, "c", [stage_entry(1, 3000)], [test_record("c", 1, f"t.py::t{i}", "passed") for i in range(3000)])
    out = tmp_path / "out"
    command = [sys.executable, str(REPORT), "--cells", str(cells), "--out", str(out)]
    duration = timed(command)
    names = ("regression.json", "regression.md", "regression.html", "regression.junit.xml")
    endings = ("}", "regression: 3000 passed, 0 failed", "</html>", "</testsuites>")
    rng = random.Random(0)
    for _ in range(RUNS):
        kill_at_random(command, duration * 1.2, rng)
        for path in [out / name for name in names] + [cells / "c" / "junit.xml"]:
            text = path.read_text(encoding="utf-8")  # an old or a new complete one: every version ends the same way
            assert text.rstrip().endswith(endings), path
    timed(command)  # the next complete run clears what killed ones left
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    assert not list((cells / "c").glob(".*.tmp"))


@pytest.mark.timeout(900)  # 20 chain starts: ~30 s on an idle 2-core machine, much more under load
def test_killed_chain_runs_leave_the_previous_cell_results_readable(tmp_path):
    root = build_tree(tmp_path / "repo", GREEN_TREE)
    out = tmp_path / "cells" / "syn"
    command = [sys.executable, str(CHAIN), "--cell", "syn", "--out", str(out), "--root", str(root), "--stages", "1"]
    duration = timed(command, cwd=root)
    rng = random.Random(1)
    for _ in range(RUNS):
        kill_at_random(command, duration * 1.2, rng, cwd=root)
        (cell,) = load_cells(tmp_path / "cells")  # raises on anything damaged
        stage = cell.run.stages[0]
        assert stage.collected == 40 and stage.passed == 40 and not stage.red, stage
        assert len([r for r in cell.records if r.kind == RecordKind.TEST]) == 40
    timed(command, cwd=root)
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == sorted(["stages.json", cell_records(out)])


def cell_records(out: Path) -> str:
    import json

    return json.loads((out / "stages.json").read_text())["records_file"]

"""A failing test that passes when run again in a fresh process is flaky (rerun.py): never red, never green."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from regression.conftest import build_tree, chain_env
from regression.contract import Outcome, RecordKind
from regression.plugins.record_io import record_json
from regression.schema import SessionRecord, TestRecord
from regression.stages.rerun import mark_flaky, rerun_candidates
from regression.test_chain_speed import run_chain

FLAKY_TREE = {
    "pytest.ini": "[pytest]\npython_files = test_*.py\n",
    # fails on its first run only: the marker file is written by the failing run
    "tests/modules/01_tensor/test_flaky.py": (
        "import pathlib\n\n"
        "MARK = pathlib.Path(__file__).with_name('ran-once')\n\n"
        "def test_fails_the_first_time_only():\n"
        "    first = not MARK.exists()\n"
        "    MARK.write_text('x')\n"
        "    assert not first, 'first run'\n\n"
        "def test_always_red():\n"
        "    assert False, 'always'\n\n"
        "def test_green():\n"
        "    assert True\n"
    ),
}


def test_a_test_that_fails_once_then_passes_in_a_fresh_process_is_flaky_never_green_nor_red(tmp_path):
    root = build_tree(tmp_path / "repo", FLAKY_TREE)
    code, stderr, cell = run_chain(root, tmp_path / "out", "--upto", "1", "--no-reuse")
    stage = cell["stages"][0]
    assert stage["flaky"] == ["tests/modules/01_tensor/test_flaky.py::test_fails_the_first_time_only"]
    records = [json.loads(line) for line in (tmp_path / "out" / cell["records_file"]).read_text().splitlines()]
    by_id = {r["test_id"].split("::")[-1]: r for r in records if r.get("kind") == "test"}
    flaky = by_id["test_fails_the_first_time_only"]
    assert flaky["outcome"] == "flaky" and flaky["first_outcome"] == "failed" and "first run" in flaky["message"]
    assert (tmp_path / "out" / flaky["rerun_log"]).is_file() and (tmp_path / "out" / stage["log"]).is_file()
    assert by_id["test_always_red"]["outcome"] == "failed" and stage["red"]  # failed twice: a failure


def test_a_stage_whose_only_failure_is_flaky_is_not_red(tmp_path):
    tree = {k: v.replace("def test_always_red():\n    assert False, 'always'\n\n", "") for k, v in FLAKY_TREE.items()}
    root = build_tree(tmp_path / "repo", tree)
    code, stderr, cell = run_chain(root, tmp_path / "out", "--upto", "1", "--no-reuse")
    stage = cell["stages"][0]
    assert stage["flaky"] and not stage["red"] and stage["problems"] == []
    assert code == 1 and cell["green"] is False and "1 flaky test(s)" in stderr  # and never green
    report = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("report.py")),
            "--cells",
            str(tmp_path),
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=chain_env(),
    )
    assert report.returncode == 1, report.stderr  # the cell reads flaky: not green, and not red either
    verdict = json.loads((tmp_path / "r" / "regression.json").read_text())["verdict"]
    assert not verdict["ok"] and not verdict["red"] and "flaky: 1 test(s)" in verdict["text"]
    assert "flaky (failed, then passed on a rerun): tests/modules/01_tensor/test_flaky.py::" in report.stdout


def _test(test_id: str, outcome: Outcome, **fields) -> TestRecord:
    return TestRecord(kind=RecordKind.TEST, stage=1, test_id=test_id, outcome=outcome, cell="c", **fields)


def test_mark_flaky_turns_only_the_failures_that_passed_on_the_rerun_into_flaky():
    session = SessionRecord(kind=RecordKind.SESSION, cell="c", stage=1, collected=4, collected_per_module={"01": 4})
    guarded = _test("t.py::guard", Outcome.FAILED, guard_violations=[{"kind": "import", "message": "m"}])
    records = [
        _test("t.py::once", Outcome.FAILED, message="AssertionError: first run"),
        _test("t.py::twice", Outcome.FAILED),
        _test("t.py::ok", Outcome.PASSED),
        guarded,
        session,
    ]
    assert rerun_candidates(records) == ["t.py::once", "t.py::twice"]  # a guard refusal is not chance
    rerun = [_test("t.py::once", Outcome.PASSED), _test("t.py::twice", Outcome.FAILED)]
    marked, flaky = mark_flaky(records, rerun, "logs/stage_01.rerun.log")
    assert flaky == ["t.py::once"]
    assert marked[0] == records[0].replace(
        outcome=Outcome.FLAKY, first_outcome=Outcome.FAILED, rerun_log="logs/stage_01.rerun.log"
    )
    assert marked[1:] == records[1:]
    line = record_json(marked[0])
    assert (line["outcome"], line["first_outcome"], line["message"]) == ("flaky", "failed", "AssertionError: first run")
    assert "first_outcome" not in record_json(records[1])  # only a flaky test carries it

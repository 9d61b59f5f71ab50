"""Bad arguments, damaged files and write faults: a clear error (exit 2, one line naming it) and nothing lost."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import pytest

from regression import chain, report
from regression.common import write_json
from regression.test_report import stage_entry, test_record, write_cell


def run_report(capsys, *args) -> tuple[int, list[str]]:
    """Like test_report's, but stderr stays readable by the test (the report's errors go there)."""
    status = report.main([str(a) for a in args])
    captured = capsys.readouterr()
    sys.stderr.write(captured.err)  # re-emitted: capsys.readouterr() below sees it
    return status, captured.out.rstrip("\n").split("\n")


# ----------------------------------------------------------------------------------------- chain arguments
BAD_CHAIN_ARGS = [
    (["--upto", "0"], "stages run 1..16"),
    (["--upto", "99"], "stages run 1..16"),
    (["--timeout", "nan"], "--timeout nan"),
    (["--timeout", "0"], "--timeout 0"),
    (["--timeout", "-1"], "--timeout -1"),
    (["--jobs", "0"], "--jobs 0"),
    (["--root", "/"], "not a tinytorch checkout"),
    (["--stages", "0-3"], "1..16"),
    (["--pytest-args", "--no-such-pytest-option"], "pytest refuses them"),
]


@pytest.mark.parametrize("args, complaint", BAD_CHAIN_ARGS, ids=[" ".join(a) for a, _ in BAD_CHAIN_ARGS])
def test_bad_chain_arguments_exit_2_in_one_line_and_touch_nothing(tmp_path, capsys, args, complaint):
    out = tmp_path / "cell"
    out.mkdir()
    (out / "stages.json").write_text("previous results")
    assert chain.main(["--cell", "c", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert complaint in err and err.count("\n") == 1, err
    assert len(err) < 300  # "stages run 1..16", not a list of 83 numbers
    assert sorted(p.name for p in out.iterdir()) == ["stages.json"]
    assert (out / "stages.json").read_text() == "previous results"


def test_empty_cell_name_and_out_under_a_file_are_refused(tmp_path, capsys):
    afile = tmp_path / "a-file"
    afile.write_text("x")
    assert chain.main(["--cell", "", "--out", str(tmp_path / "o")]) == 2
    assert "--cell ''" in capsys.readouterr().err
    assert chain.main(["--cell", "c", "--out", str(afile / "cell")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_check_only_validates_without_touching(tmp_path, capsys):
    assert chain.main(["--cell", "c", "--out", str(tmp_path / "o"), "--upto", "3", "--check-only"]) == 0
    assert not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------------------- damaged input
def green_cell(tmp_path, tests: int = 3):
    cells = tmp_path / "cells"
    records = [test_record("c", 1, f"t.py::t{i}", "passed") for i in range(tests)]
    write_cell(cells, "c", [stage_entry(1, tests)], records)
    return cells, cells / "c" / "records.jsonl"


def test_a_damaged_middle_record_line_is_an_error_naming_file_and_line(tmp_path, capsys):
    cells, records = green_cell(tmp_path)
    lines = records.read_text().splitlines()
    lines[1] = lines[1][: len(lines[1]) // 2]
    records.write_text("\n".join(lines) + "\n")
    status, _ = run_report(capsys, "--cells", cells, "--out", tmp_path / "r")
    err = capsys.readouterr().err
    assert status == 2 and f"{records}: line 2 is not valid JSON" in err
    assert not (tmp_path / "r" / "regression.json").exists()


def test_a_cut_off_last_line_is_an_incomplete_stage_and_red(tmp_path, capsys):
    cells, records = green_cell(tmp_path)
    text = records.read_text()
    records.write_text(text[: text.rindex("{") + 20])  # a killed writer's unfinished last line
    status, lines = run_report(capsys, "--cells", cells, "--out", tmp_path / "r")
    assert status == 1
    assert any("incomplete stage" in line for line in lines)
    assert lines[-1] == "regression: 2 passed, 1 failed"


def test_counts_that_do_not_add_up_red_the_stage(tmp_path, capsys):
    cells, records = green_cell(tmp_path)
    records.write_text("".join(records.read_text().splitlines(keepends=True)[:2]))  # 2 records, 3 collected
    status, lines = run_report(capsys, "--cells", cells, "--out", tmp_path / "r")
    assert status == 1 and any("pytest collected 3" in line for line in lines)


@pytest.mark.parametrize(
    "content, complaint",
    [
        ("{not json", "line 1 is not valid JSON"),
        ("[]", "not a chain stages.json"),
        ('{"cell": "c", "stages": {}}', "'stages' is not a list"),
        ('{"cell": "c", "stages": [{"stage": 1}]}', "has no 'collected'"),
    ],
)
def test_a_damaged_stages_json_is_an_error_naming_the_file(tmp_path, capsys, content, complaint):
    cells, _ = green_cell(tmp_path)
    (cells / "c" / "stages.json").write_text(content)
    assert run_report(capsys, "--cells", cells, "--out", tmp_path / "r")[0] == 2
    assert complaint in capsys.readouterr().err


def test_records_that_are_not_records_are_an_error(tmp_path, capsys):
    cells, records = green_cell(tmp_path)
    records.write_text(records.read_text() + '[1, 2]\n{"kind": "test", "test_id": "x", "outcome": "weird"}\n')
    assert run_report(capsys, "--cells", cells, "--out", tmp_path / "r")[0] == 2
    assert "line 4 is not a record" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------- baseline, partial
def test_a_baseline_of_the_wrong_kind_is_refused(tmp_path, capsys):
    cells, _ = green_cell(tmp_path)
    assert (
        run_report(capsys, "--cells", cells, "--out", tmp_path / "r", "--baseline", cells / "c" / "stages.json")[0] == 2
    )
    assert "not a regression.json" in capsys.readouterr().err


def test_a_baseline_with_nothing_new_reads_as_go(tmp_path, capsys):
    cells, _ = green_cell(tmp_path)
    run_report(capsys, "--cells", cells, "--out", tmp_path / "r0")
    status, lines = run_report(
        capsys, "--cells", cells, "--out", tmp_path / "r1", "--baseline", tmp_path / "r0" / "regression.json"
    )
    assert status == 0 and lines[-2] == "verdict: GO: nothing new and red"


def test_a_partial_run_is_never_green(tmp_path, capsys):
    cells = tmp_path / "cells"
    write_cell(
        cells,
        "c",
        [stage_entry(k, 1) for k in range(1, 10)],
        [test_record("c", k, "t.py::a", "passed") for k in range(1, 10)],
        full=False,
    )
    status, lines = run_report(capsys, "--cells", cells, "--out", tmp_path / "r")
    assert status == 1
    assert "  c partial: stages 10-16 did not run" in lines and "partial" in lines[-2]


def test_a_cell_from_another_commit_is_stale(tmp_path, capsys):
    cells, _ = green_cell(tmp_path)
    data = json.loads((cells / "c" / "stages.json").read_text())
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
        check=True,
    )
    write_json(cells / "c" / "stages.json", dict(data, root=str(repo), commit="0" * 40))
    status, lines = run_report(capsys, "--cells", cells, "--out", tmp_path / "r")
    assert status == 1 and any("stale: ran on commit 000000000000" in line for line in lines)
    assert "stale" in (tmp_path / "r" / "regression.html").read_text()


# ----------------------------------------------------------------------------------------- write faults
def test_a_write_error_keeps_the_previous_outputs_whole_and_leaves_no_temporaries(tmp_path):
    cells, _ = green_cell(tmp_path, tests=2000)
    out = tmp_path / "r"
    command = [sys.executable, report.__file__, "--cells", str(cells), "--out", str(out)]
    first = subprocess.run(command, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the child inherits "ignore": a write then fails with EFBIG
    try:
        second = subprocess.run(command, capture_output=True, text=True, check=False, preexec_fn=small_files)
    finally:
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    assert second.returncode == 1 and "could not write" in second.stderr and str(out) in second.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

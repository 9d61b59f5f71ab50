"""The typed contract (tests/regression/schema/): every file kind round-trips through its type, a wrong field
is named with its file, path and value, an unknown schema version is refused by every reader, and
SCHEMA.md is what the types generate."""

from __future__ import annotations

import json

import pytest

from regression import report
from regression.contract import CLASSIFICATIONS, Classification, Outcome, Variant
from regression.exits import ExitCode, SchemaVersionError, exit_code_of
from regression.report_fixtures import stage_entry, test_record, write_cell
from regression.schema import (
    CellRun,
    Problem,
    Report,
    SchemaError,
    StageResult,
    TestRecord,
    UnreadableFile,
    check_version,
    read_typed,
    record_from_json,
    reference,
)
from regression.schema.versions import KINDS


def test_the_words_are_their_strings_wherever_they_are_written():
    assert Outcome.FAILED == "failed" and hash(Outcome.FAILED) == hash("failed")
    assert json.dumps([Outcome.FAILED, Variant.INT8]) == '["failed", "int8"]'
    assert f"{Classification.BY_QUANTIZATION}|{Outcome.PASSED:>8}" == "broken by quantization|  passed"
    assert repr([Outcome.XFAILED]) == "['xfailed']"  # messages listing them read as before
    assert CLASSIFICATIONS == (
        "broken by quantization",
        "broken regardless",
        "import/layering break",
        "empty or uncollectable stage",
    )


def test_a_cell_round_trips_through_its_types():
    problem = {"classification": "broken regardless", "module": 4, "test_id": "<stage 04>", "message": "killed"}
    header = {"cell": "py3.12-np2.2", "schema": 1, "stages": [stage_entry(4, 3, 1, [problem])], "green": False}
    cell = CellRun.from_json(header, "stages.json")
    assert cell.stages[0].problems[0] == Problem(Classification.REGARDLESS, "<stage 04>", "killed", 4)
    assert CellRun.from_json(cell.to_json()) == cell
    assert json.loads(json.dumps(cell.to_json())) == cell.to_json()


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (None, UnreadableFile, "no such file"),
        (b"\xff\xfe not utf-8", UnreadableFile, "cannot be read"),
        (b"{not json", UnreadableFile, "not JSON"),
        (b"[1, 2]", UnreadableFile, "a JSON list, not an object"),
        (b'{"cell": "c", "schema": 99, "stages": []}', SchemaVersionError, "schema 99 is not one this build reads"),
        (b'{"cell": "c", "schema": 1, "stages": "none"}', SchemaError, "stages"),
    ],
)
def test_a_typed_file_that_cannot_be_read_names_the_file_and_why(tmp_path, content, error, message):
    path = tmp_path / "stages.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(error, match=message) as raised:
        read_typed(path, "stages.json", CellRun)
    assert str(path) in str(raised.value)
    assert exit_code_of(raised.value) == ExitCode.USAGE


def test_a_typed_file_reads_as_its_type(tmp_path):
    path = tmp_path / "stages.json"
    path.write_text(json.dumps({"cell": "py3.12-np2.2", "schema": 1, "stages": [stage_entry(4, 3, 1, [])]}))
    assert read_typed(path, "stages.json", CellRun).stages[0].stage == 4


def test_a_record_round_trips_and_its_rare_fields_are_left_out_when_unset():
    data = test_record("c", 3, "tests/modules/03_layers/test_x.py::t[mlp-int8]", "failed", "AssertionError: x")
    record = record_from_json(data, "records.jsonl: line 1")
    assert isinstance(record, TestRecord) and record.variant is Variant.INT8 and record.outcome is Outcome.FAILED
    assert record.to_json() == data and "first_outcome" not in data
    flaky = record.replace(outcome=Outcome.FLAKY, first_outcome=Outcome.FAILED, rerun_log="logs/x.rerun.log")
    assert flaky.to_json()["first_outcome"] == "failed"


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.update(stage="3"), "F: stage is '3', not an integer"),
        (lambda d: d.update(outcome="won"), "F: outcome is 'won', not one of ['passed',"),
        (lambda d: d.update(seconds=float("nan")), "F: seconds is nan, not a finite number"),
        (lambda d: d.update(guard_violations="none"), "F: guard_violations is 'none', not a list"),
        (lambda d: d.pop("test_id"), "F has no 'test_id' (a TestRecord needs it)"),
        (lambda d: d.update(module=True), "F: module is True, not an integer"),
    ],
)
def test_a_wrong_field_is_named_with_its_place_and_value(edit, message):
    data = test_record("c", 3, "t.py::x", "passed")
    edit(data)
    with pytest.raises(SchemaError) as error:
        TestRecord.from_json(data, "F")
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
    assert exit_code_of(error.value) == ExitCode.USAGE


def test_a_nested_wrong_field_names_its_path():
    header = {"cell": "c", "stages": [stage_entry(1, 1), dict(stage_entry(2, 1), problems=[{"test_id": "x"}])]}
    with pytest.raises(SchemaError, match=r"^S: stages\[1\]\.problems\[0\] has no 'classification'"):
        CellRun.from_json(header, "S")
    with pytest.raises(SchemaError, match=r"^S: stages\[0\]\.red is 1, not true or false"):
        CellRun.from_json({"cell": "c", "stages": [dict(stage_entry(1, 1), red=1)]}, "S")
    with pytest.raises(SchemaError, match=r"^S: collected is -1\.5, not an integer"):
        StageResult.from_json(dict(stage_entry(1, 1), collected=-1.5), "S")


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("found", [99, "1", True, None])
def test_every_file_kind_refuses_a_version_it_does_not_read(kind, found):
    with pytest.raises(SchemaVersionError) as error:
        check_version(kind, found, "/x/FILE")
    text = str(error.value)
    reads = ", ".join(map(str, KINDS[kind].reads))
    assert text.startswith(f"/x/FILE: {kind} schema {found!r} is not one this build reads (it reads {reads})")
    assert exit_code_of(error.value) == ExitCode.USAGE
    assert check_version(kind, KINDS[kind].current, "/x/FILE") == KINDS[kind].current


def test_the_report_refuses_a_baseline_of_an_unknown_version(tmp_path, capsys):
    write_cell(tmp_path / "cells", "c", [stage_entry(1, 1)], [test_record("c", 1, "t.py::x", "passed")])
    baseline = tmp_path / "old.json"
    baseline.write_text(json.dumps({"schema": 7, "cells": [], "failures": []}))
    out = tmp_path / "r"
    assert report.main(["--cells", str(tmp_path / "cells"), "--out", str(out), "--baseline", str(baseline)]) == 2
    err = capsys.readouterr().err
    assert f"--baseline {baseline}: regression.json schema 7 is not one this build reads (it reads 2)" in err
    assert not out.exists()  # refused before anything is written


def test_the_report_it_writes_is_a_report_of_its_schema(tmp_path, capsys):
    write_cell(tmp_path / "cells", "c", [stage_entry(1, 1)], [test_record("c", 1, "t.py::x", "passed")])
    report.main(["--cells", str(tmp_path / "cells"), "--out", str(tmp_path / "r")])
    data = json.loads((tmp_path / "r" / "regression.json").read_text())
    assert Report.from_json(data, "regression.json").to_json() == data


def test_a_red_report_against_a_baseline_round_trips_through_its_types(tmp_path, capsys):
    """Failures with a cause and a status, a stage problem, points_at, the baseline's FIXED: all typed."""
    problem = {"classification": Classification.EMPTY, "module": 4, "test_id": "<stage 04>", "message": "x"}
    ids = ["tests/modules/03_layers/t.py::a[mlp-fp32]", "tests/modules/03_layers/t.py::a[mlp-int8]", "t.py::b"]
    for name, outcomes in (("before", ["passed", "failed", "failed"]), ("after", ["passed", "failed", "passed"])):
        records = [test_record("c", 3, i, o, "AssertionError: x") for i, o in zip(ids, outcomes)]
        failed = outcomes.count("failed")
        write_cell(tmp_path / name, "c", [stage_entry(3, 3 - failed, failed), stage_entry(4, 0, 0, [problem])], records)
    report.main(["--cells", str(tmp_path / "before"), "--out", str(tmp_path / "r0")])
    baseline = str(tmp_path / "r0" / "regression.json")
    report.main(["--cells", str(tmp_path / "after"), "--out", str(tmp_path / "r1"), "--baseline", baseline])
    capsys.readouterr()
    data = json.loads((tmp_path / "r1" / "regression.json").read_text())
    typed = Report.from_json(data, "regression.json")
    assert typed.to_json() == data
    assert typed.baseline.fixed[0].test_id == "t.py::b" and {f.status for f in typed.failures} == {"KNOWN"}
    assert typed.cells[0].points_at.classification is Classification.BY_QUANTIZATION and typed.cells[0].causes


def test_schema_md_is_what_the_types_generate():
    assert reference.TARGET.read_text(encoding="utf-8") == reference.render(), (
        "SCHEMA.md is stale: cd tests && python -m regression.schema.reference"
    )

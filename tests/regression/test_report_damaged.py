"""Damaged, mistyped or oversized input never breaks the report: a lone surrogate and a limited stdout are
written with replacements, a 5 MB message is cut everywhere, a malformed stages.json, record or coverage
table is refused with exit 2 and one line naming the file, and any field set to any JSON value ends in
exit 0, 1 or 2 — never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regression import report
from regression.conftest import REPORT, chain_env
from regression.hostile_fixtures import BENIGN, HOSTILE, hostile_tree
from regression.report_fixtures import test_record
from regression.reporting.escape import LIMIT, clean


# ----------------------------------------------------------------------------------------- encodings, size
def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPORT), *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=env or chain_env(),
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "utf-8"])
def test_a_lone_surrogate_and_a_limited_stdout_are_written_with_replacements(tmp_path, encoding):
    paths = hostile_tree(tmp_path, HOSTILE["lone-surrogate"] + " — ✓ " + HOSTILE["osc52-clipboard"])
    env = dict(chain_env(), PYTHONIOENCODING=encoding)
    done = run_cli("--cells", paths["cells"], "--out", tmp_path / "r", env=env)
    assert done.returncode == 1, done.stderr  # red, not a crash
    assert "Traceback" not in done.stderr and done.stderr == ""
    assert done.stdout.rstrip().endswith("regression: 2 passed, 2 failed")
    assert "\ufffd" in done.stdout or "\\ufffd" in done.stdout
    written = json.loads((tmp_path / "r" / "regression.json").read_text(encoding="utf-8"))
    assert any("bad \ufffd text" in f["reason"] for f in written["failures"])
    for name in ("regression.md", "regression.html"):
        (tmp_path / "r" / name).read_text(encoding="utf-8")


def test_a_5_mb_message_and_stderr_tail_are_cut_everywhere(tmp_path):
    huge = "x" * 5_000_000
    paths = hostile_tree(tmp_path, BENIGN)
    lines = (paths["cell"] / "records.jsonl").read_text().splitlines()
    failing = json.loads(lines[1])
    lines[1] = json.dumps(dict(failing, message="AssertionError: " + huge))
    (paths["cell"] / "records.jsonl").write_text("\n".join(lines) + "\n")
    data = json.loads((paths["cell"] / "stages.json").read_text())
    data["stages"] = [dict(s, stderr_tail=huge) for s in data["stages"]]
    (paths["cell"] / "stages.json").write_text(json.dumps(data))
    done = run_cli("--cells", paths["cells"], "--out", tmp_path / "r")
    assert done.returncode == 1, done.stderr
    assert len(done.stdout) < 50_000 and "bytes cut)" in done.stdout
    for name in ("regression.json", "regression.md", "regression.html"):
        text = (tmp_path / "r" / name).read_text()
        assert len(text) < 200_000, (name, len(text))
        if name.endswith(".json"):
            text = json.dumps(json.loads(text), ensure_ascii=False)
        assert f"… ({5_000_000 + len('AssertionError: ') - LIMIT} bytes cut)" in text, name


def test_cut_counts_bytes_and_never_splits_a_character():
    assert clean("é" * 3000, 101) == "é" * 50 + "… (5900 bytes cut)"
    assert clean("short") == "short"


# ----------------------------------------------------------------------------------------- malformed stages.json
def green(tmp_path: Path) -> Path:
    paths = hostile_tree(tmp_path, BENIGN)
    return paths["cell"] / "stages.json"


def edit(stages_file: Path, change) -> None:
    data = json.loads(stages_file.read_text())
    change(data)
    stages_file.write_text(json.dumps(data))


def stage_4(data: dict) -> dict:
    return next(s for s in data["stages"] if s["stage"] == 4)


MALFORMED = {
    "problem-not-an-object": (
        lambda d: stage_4(d).update(problems=["just a string"]),
        "problems[0] is 'just a string', not an object",
    ),
    "problem-null": (lambda d: stage_4(d).update(problems=[None]), "problems[0] is None, not an object"),
    "unknown-classification": (
        lambda d: stage_4(d)["problems"][0].update(classification="<b>made up</b>"),
        "classification is '<b>made up</b>', not one of",
    ),
    "problem-module-text": (
        lambda d: stage_4(d)["problems"][0].update(module="four"),
        "problems[0].module is 'four', not an integer",
    ),
    "stage-twice": (lambda d: d["stages"].append(dict(d["stages"][0])), "stage(s) [1] listed more than once"),
    "schema-from-the-future": (lambda d: d.update(schema=99), "schema 99 is not one this build reads (it reads 1)"),
    "schema-text": (lambda d: d.update(schema="1"), "schema '1' is not one this build reads"),
    "schema-true": (lambda d: d.update(schema=True), "schema True is not one this build reads"),
    "commit-number": (lambda d: d.update(commit=12345), "commit is 12345, not a string"),
    "log-object": (lambda d: d["stages"][0].update(log={"a": 1}), "stages[0].log is {'a': 1}, not a string"),
}


@pytest.mark.parametrize("kind", MALFORMED)
def test_malformed_stages_json_is_refused_with_exit_2_naming_the_file(tmp_path, capsys, kind):
    change, complaint = MALFORMED[kind]
    stages_file = green(tmp_path)
    edit(stages_file, change)
    assert report.main(["--cells", str(tmp_path / "cells"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(stages_file) in err and complaint in err, err
    assert not (tmp_path / "r").exists()  # bad input touches nothing


def test_a_stages_json_without_schema_is_read_as_the_current_one(tmp_path, capsys):
    stages_file = green(tmp_path)
    edit(stages_file, lambda d: d.pop("schema"))
    assert report.main(["--cells", str(tmp_path / "cells"), "--out", str(tmp_path / "r")]) == 1  # red, read


def test_a_record_with_a_mistyped_field_is_refused(tmp_path, capsys):
    paths = hostile_tree(tmp_path, BENIGN)
    records = paths["cell"] / "records.jsonl"
    records.write_text(
        records.read_text() + json.dumps(dict(test_record("c", 3, "t.py::z", "passed"), module="3")) + "\n"
    )
    assert report.main(["--cells", str(paths["cells"]), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert f"{records}: record 4 ('t.py::z'): module is '3', not an integer; not a test record" in err


def test_a_coverage_table_with_text_counts_is_refused(tmp_path, capsys):
    paths = hostile_tree(tmp_path, BENIGN)
    modules = paths["coverage"].with_name("modules.json")
    modules.write_text(json.dumps([{"label": "x", "statements": "<b>", "number": 1}]))
    argv = ["--cells", str(paths["cells"]), "--out", str(tmp_path / "r"), "--coverage-json", str(paths["coverage"])]
    assert report.main(argv) == 2
    assert f"{modules}: row 0: 'statements' is '<b>', not a count" in capsys.readouterr().err


def test_error_messages_show_control_characters_in_paths_on_one_line(tmp_path, capsys):
    stages_file = green(tmp_path / "evil\x1b[2J\nname")
    edit(stages_file, lambda d: d.update(schema=7))
    assert report.main(["--cells", str(stages_file.parents[1]), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and err.count("\n") == 1 and "evil\\x1b[2J\\nname" in err


# ----------------------------------------------------------------------------------------- any damage: no traceback
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
HEADER_KEYS = ["cell", "schema", "skipped", "skip_reason", "python", "numpy", "started", "commit", "seconds",
               "records_file", "stages", "root"]  # fmt: skip
STAGE_KEYS = ["stage", "key", "collected", "passed", "failed", "errors", "red", "problems", "seconds", "log",
              "exit_code", "stderr_tail"]  # fmt: skip
PROBLEM_KEYS = ["classification", "module", "test_id", "message"]
COVERAGE_JSON_KEYS = ["totals", "files", "summary", "num_statements", "covered_lines", "percent_covered"]
BASELINE_KEYS = ["stage", "test_id", "variant", "failures", "cells"]
COVERAGE_KEYS = ["label", "files", "threshold", "status", "number", "statements", "covered_lines", "branches",
                 "covered_branches"]  # fmt: skip
RECORD_KEYS = ["kind", "stage", "module", "file", "test_id", "variant", "twin_id", "pairing", "outcome", "message",
               "origin", "guard_violations", "model"]  # fmt: skip


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    where=st.sampled_from(["header", "stage", "problem", "record", "baseline", "coverage row", "coverage json"]),
    key=st.sampled_from(
        sorted(
            set(
                HEADER_KEYS
                + STAGE_KEYS
                + PROBLEM_KEYS
                + RECORD_KEYS
                + BASELINE_KEYS
                + COVERAGE_KEYS
                + COVERAGE_JSON_KEYS
            )
        )
    ),
    value=JSON_VALUES,
)
def test_any_field_set_to_any_json_value_exits_0_1_or_2_never_a_traceback(tmp_path_factory, where, key, value):
    root = tmp_path_factory.mktemp("fuzz")
    paths = hostile_tree(root, BENIGN)
    stages_file, records_file = paths["cell"] / "stages.json", paths["cell"] / "records.jsonl"
    data = json.loads(stages_file.read_text())
    if where == "header":
        data[key] = value
    elif where == "stage":
        data["stages"][2][key] = value
    elif where == "problem":
        stage_4(data)["problems"][0][key] = value
    elif where == "baseline":
        baseline = json.loads(paths["baseline"].read_text())
        (baseline if key in ("failures", "cells") else baseline["failures"][0])[key] = value
        paths["baseline"].write_text(json.dumps(baseline))
    elif where == "coverage row":
        modules = paths["coverage"].with_name("modules.json")
        rows = json.loads(modules.read_text())
        rows[0][key] = value
        modules.write_text(json.dumps(rows))
    elif where == "coverage json":
        coverage = {"files": {"tinytorch/core/tensor.py": {"summary": {"num_statements": 3, "covered_lines": 2}}}}
        coverage["totals"] = {"percent_covered": 50.0}
        if key in ("totals", "files"):
            coverage[key] = value
        elif key == "summary":
            coverage["files"]["tinytorch/core/tensor.py"]["summary"] = value
        else:
            coverage["files"]["tinytorch/core/tensor.py"]["summary"][key] = value
        paths["coverage"].write_text(json.dumps(coverage))
        paths["coverage"].with_name("modules.json").unlink()  # the table is then computed from this file
    else:
        lines = records_file.read_text().splitlines()
        record = json.loads(lines[1])
        record[key] = value
        lines[1] = json.dumps(record)
        records_file.write_text("\n".join(lines) + "\n")
    stages_file.write_text(json.dumps(data))
    out = root / "out"
    with pytest.MonkeyPatch.context() as patch:
        errors = []
        patch.setattr(sys, "stderr", _Collect(errors))
        patch.setattr(sys, "stdout", _Collect([]))
        extra = ["--baseline", str(paths["baseline"]), "--coverage-json", str(paths["coverage"])]
        status = report.main(["--cells", str(paths["cells"]), "--out", str(out), *extra])
    assert status in (0, 1, 2)
    if status == 2:
        text = "".join(errors)
        assert text.count("\n") == 1 and text.startswith("report.py: "), text
    else:
        json.loads((out / "regression.json").read_text())


class _Collect:
    encoding = "utf-8"

    def __init__(self, into: list):
        self.into = into

    def write(self, text):
        self.into.append(text)

    def flush(self):
        pass

    def isatty(self):
        return False

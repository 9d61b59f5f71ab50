"""The records plugin, run in-process by pytester on a small synthetic test tree."""

from __future__ import annotations

import pytest

from regression.common import read_jsonl
from regression.plugins.record_io import record_json
from regression.plugins.records import collect_message
from regression.schema import SessionRecord, TestRecord, record_from_json

OUTCOMES = """
import types
import pytest

@pytest.fixture
def broken_setup():
    raise RuntimeError("setup broke")

@pytest.fixture
def broken_teardown():
    yield
    raise OSError("teardown broke")

def test_pass():
    pass

def test_fail():
    assert 1 == 2, "numbers differ\\nmore detail"

def test_setup_error(broken_setup):
    pass

def test_teardown_error(broken_teardown):
    pass

def test_skip():
    pytest.skip("not today")

@pytest.mark.xfail(reason="known")
def test_xfail():
    raise KeyError("k")

@pytest.mark.xfail(reason="fixed?")
def test_xpass():
    pass

@pytest.mark.parametrize("zoo_model", [pytest.param("f", id="mlp-fp32"), pytest.param("i", id="mlp-int8")])
def test_zoo(zoo_model):
    assert zoo_model == "f"

@pytest.mark.parametrize("zoo_model", [pytest.param((types.SimpleNamespace(name="cnn"), "int8"), id="custom")])
def test_zoo_tuple(zoo_model):
    pass
"""


@pytest.fixture
def run_records(pytester, monkeypatch):
    monkeypatch.setenv("TINYTORCH_STAGE", "6")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # inner runs need no installed plugin
    monkeypatch.delenv("TINYTORCH_RECORDS", raising=False)

    def run(*args: str):
        path = pytester.path / "records.jsonl"
        result = pytester.runpytest_inprocess(
            "-p", "regression.plugins.records", f"--regression-records={path}", "--regression-cell=c1", *args
        )
        return result, list(read_jsonl(path))

    return run


def test_every_outcome_is_one_record_with_type_and_first_line(pytester, run_records):
    pytester.makepyfile(**{"tests/modules/05_autograd/test_outcomes": OUTCOMES})
    result, records = run_records("-p", "no:cacheprovider")
    tests = {r["test_id"].split("::")[1]: r for r in records if r["kind"] == "test"}
    expected = {
        "test_pass": ("passed", ""),
        "test_fail": ("failed", "AssertionError: numbers differ"),
        "test_setup_error": ("error", "RuntimeError: setup broke"),
        "test_teardown_error": ("error", "OSError: teardown broke"),
        "test_skip": ("skipped", "Skipped: not today"),
        "test_xfail": ("xfailed", "KeyError: 'k'"),
        "test_xpass": ("xpassed", "xfail: fixed?"),
        "test_zoo[mlp-fp32]": ("passed", ""),
        "test_zoo[mlp-int8]": ("failed", "AssertionError: assert 'i' == 'f'"),
        "test_zoo_tuple[custom]": ("passed", ""),
    }
    assert sorted(tests) == sorted(expected)
    for name, (outcome, message) in expected.items():
        assert tests[name]["outcome"] == outcome, name
        assert "\n" not in tests[name]["message"]
        assert tests[name]["message"].startswith(message) and bool(message) == bool(tests[name]["message"]), name
    assert tests["test_teardown_error"]["when"] == "teardown"
    assert all(r["cell"] == "c1" and r["stage"] == 6 and r["module"] == 5 for r in tests.values())
    assert tests["test_zoo[mlp-int8]"]["variant"] == "int8"
    assert tests["test_zoo[mlp-int8]"]["twin_id"].endswith("test_zoo[mlp-fp32]")
    assert tests["test_zoo_tuple[custom]"]["variant"] == "int8"  # from the fixture parameter itself
    assert tests["test_zoo_tuple[custom]"]["model"] == "cnn"
    assert tests["test_pass"]["variant"] == "none"
    assert all(r["seconds"] >= 0 for r in tests.values())
    session = records[-1]
    assert session["kind"] == "session"
    assert session["collected"] == 10 and session["collected_per_module"] == {"05": 10}
    assert session["exitstatus"] == 1
    assert_written_through_the_types(records)


def assert_written_through_the_types(records: list[dict]) -> None:
    """Each line is a whole TestRecord/SessionRecord: it reads back as its type and writes out the same."""
    typed = [record_from_json(record, f"record {n}") for n, record in enumerate(records, start=1)]
    assert [type(t) for t in typed] == [TestRecord] * (len(records) - 1) + [SessionRecord]
    assert [record_json(t) for t in typed] == records


def test_collection_errors_are_recorded_and_the_rest_still_runs(pytester, run_records):
    pytester.makepyfile(
        **{
            "tests/modules/07_training/test_broken": "import module_that_does_not_exist_xyz\n",
            "tests/modules/08_dataloader/test_ok": "def test_ok():\n    pass\n",
        }
    )
    result, records = run_records("-p", "no:cacheprovider", "--continue-on-collection-errors")
    errors = [r for r in records if r["kind"] == "collect_error"]
    assert len(errors) == 1
    assert errors[0]["outcome"] == "collect_error" and errors[0]["module"] == 7
    assert errors[0]["file"] == "tests/modules/07_training/test_broken.py"
    assert errors[0]["message"] == "ModuleNotFoundError: No module named 'module_that_does_not_exist_xyz'"
    assert [r["outcome"] for r in records if r["kind"] == "test"] == ["passed"]
    assert records[-1]["collected"] == 1
    assert "origin" not in errors[0]  # a collection error has no failing frame
    assert_written_through_the_types(records)


def test_nothing_is_written_without_a_records_file(pytester, monkeypatch):
    monkeypatch.delenv("TINYTORCH_RECORDS", raising=False)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_a="def test_a():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "regression.plugins.records", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert sorted(p.name for p in pytester.path.iterdir() if p.suffix == ".jsonl") == []


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "ImportError while importing\nE   ModuleNotFoundError: No module named 'x'\n",
            "ModuleNotFoundError: No module named 'x'",
        ),
        ("E   regression.plugins.guard.LayeringError: import guard: a\n", "LayeringError: import guard: a"),
        ("E     File x\nE       def f(:\nE   SyntaxError: invalid syntax\n", "SyntaxError: invalid syntax"),
        ("import file mismatch:\nimported module 'a'\n", "import file mismatch:"),
    ],
)
def test_collection_messages_keep_the_exception_line(text, expected):
    assert collect_message(text) == expected

"""The stage runner on the synthetic tree of conftest.py (one real chain run, shared), and its CLI edges."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from regression import chain
from regression.common import read_jsonl
from regression.contract import Classification, Outcome, RecordKind
from regression.schema import SessionRecord, StageResult, TestRecord
from regression.stages.judge import judge_stage

MIXED = "tests/modules/02_activations/test_mixed.py"
HERE = Path(__file__).resolve().parent


def stages_of(run: dict) -> dict:
    data = json.loads((run["out"] / "stages.json").read_text())
    return {s["key"]: s for s in data["stages"]}


def records_of(run: dict) -> list[dict]:
    return list(read_jsonl(records_file(run["out"])))


def records_file(out: Path) -> Path:
    """The records that ``stages.json`` names (written under a new name each run, see chain.publish)."""
    return out / json.loads((out / "stages.json").read_text())["records_file"]


def test_exit_status_is_red_and_the_green_stage_is_green(synthetic_run):
    run = synthetic_run["full"]
    assert run["exit"] == 1, run["stderr"]
    stages = stages_of(run)
    assert sorted(stages) == ["01", "02", "04"]
    first = stages["01"]
    assert (first["red"], first["collected"], first["passed"], first["exit_code"]) == (False, 3, 3, 0)
    assert first["problems"] == [] and first["guard_violations"] == []
    assert [stages[k]["red"] for k in ("02", "04")] == [True, True]


def test_stage_k_runs_the_folders_of_modules_1_to_k(synthetic_run):
    stages = stages_of(synthetic_run["full"])
    assert stages["02"]["modules"] == [1, 2]
    assert stages["02"]["collected_per_module"] == {"01": 3, "02": 6}
    assert stages["04"]["modules"] == [1, 2, 3, 4]


def test_guard_violations_are_recorded_even_when_the_test_swallows_them(synthetic_run):
    stage = stages_of(synthetic_run["full"])["02"]
    refused = sorted(v["module"] for v in stage["guard_violations"])
    assert refused == ["tinytorch.core.layers", "tinytorch.core.spatial"]
    records = {r["test_id"]: r for r in records_of(synthetic_run["full"]) if r["stage"] == 2}
    swallowed = records[f"{MIXED}::test_swallows_the_guard"]
    assert swallowed["outcome"] == "failed"
    assert "swallowed" in swallowed["message"] and "module 03" in swallowed["message"]
    direct = records[f"{MIXED}::test_imports_a_later_module"]
    assert direct["message"].startswith("LayeringError: import guard: tinytorch.core.spatial is module 09")
    assert "not available at stage 02" in direct["message"]


def test_variants_and_modules_are_in_the_records(synthetic_run):
    records = {(r["stage"], r["test_id"]): r for r in records_of(synthetic_run["full"])}
    int8 = records[(2, f"{MIXED}::test_quantization_sensitive[mlp-int8]")]
    assert (int8["variant"], int8["module"], int8["outcome"], int8["cell"]) == ("int8", 2, "failed", "syn")
    assert int8["twin_id"] == f"{MIXED}::test_quantization_sensitive[mlp-fp32]"
    assert records[(2, int8["twin_id"])]["outcome"] == "passed"
    assert int8["message"] == "AssertionError: int8 output drifted"


def test_a_folder_that_collects_nothing_makes_the_stage_red(synthetic_run):
    problems = stages_of(synthetic_run["full"])["04"]["problems"]
    messages = " | ".join(p["message"] for p in problems)
    assert "tests/modules/03_layers collected no tests" in messages
    assert "layers_test.py defines tests but pytest collected none" in messages
    assert {p["classification"] for p in problems} == {"empty or uncollectable stage"}
    assert {p["module"] for p in problems} == {3}


def test_a_file_that_fails_to_import_is_a_collection_error(synthetic_run):
    stage = stages_of(synthetic_run["full"])["04"]
    assert stage["collect_errors"] == 1
    errors = [r for r in records_of(synthetic_run["full"]) if r["outcome"] == "collect_error"]
    assert [(e["stage"], e["file"]) for e in errors] == [(4, "tests/modules/04_losses/test_broken_import.py")]
    assert stage["passed"] == 5  # the other folders still ran


def test_a_stage_that_collects_nothing_at_all_is_red(synthetic_run):
    run = synthetic_run["module3"]
    assert run["exit"] == 1
    (stage,) = stages_of(run).values()
    assert (stage["key"], stage["only_module"], stage["modules"], stage["collected"]) == ("03-m03", 3, [3], 0)
    assert stage["red"] is True


def test_progress_says_the_cell_place_in_the_whole_run(monkeypatch, capsys):
    monkeypatch.setenv(chain.ENV_PROGRESS, "3/10")
    progress = chain.Progress("py3.12-np2.5", chain.plan([1, 2], None))
    progress.say("x")
    assert capsys.readouterr().err == "[cell 3/10 py3.12-np2.5] x\n"


def test_progress_lines_name_cell_stage_counts_and_elapsed(synthetic_run):
    stderr = synthetic_run["full"]["stderr"]
    assert re.search(
        r"^\[syn\] stage 01 tensor\s+ok\s+[\d.]+ s, 3 passed, 0 failed  \(stage \d/3 done, elapsed [\d.]+ s",
        stderr,
        re.M,
    )
    assert re.search(r"elapsed [\d.]+ s, ~\d+ s left\)", stderr)  # an estimate until the last stage
    assert re.search(r"^\[syn\] stage 02 activations\s+RED\s+[\d.]+ s, 4 passed, 5 failed", stderr, re.M)
    assert "RED at stage(s) 02, 04" in stderr


def test_logs_and_merged_records_are_written(synthetic_run):
    out = synthetic_run["full"]["out"]
    logs = sorted(p.name for p in (out / "logs").iterdir())
    # a red stage's failing tests ran once more in a fresh process (rerun.py): their log is kept beside
    assert logs == ["stage_01.log", "stage_02.log", "stage_02.rerun.log", "stage_04.log", "stage_04.rerun.log"]
    assert not (out / "records").exists()  # per-stage files are merged into the one stages.json names
    assert {r["stage"] for r in records_of(synthetic_run["full"])} == {1, 2, 4}


def test_skipped_cell_records_the_reason_and_runs_nothing(tmp_path, capsys):
    reason = "python 3.9 not found: install with `pyenv install 3.9`"
    assert chain.main(["--cell", "py3.9-np1.24", "--out", str(tmp_path / "c"), "--skipped", reason]) == 0
    data = json.loads((tmp_path / "c" / "stages.json").read_text())
    assert (data["skipped"], data["skip_reason"], data["stages"]) == (True, reason, [])
    assert records_file(tmp_path / "c").read_text() == ""
    assert reason in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["--module", "5", "--stages", "3"], "cannot run at stage(s) [3]"),
        (["--stages", "0-3"], "1..16"),
        (["--upto", "17"], "1..16"),
        (["--coverage", "--rcfile", "/nonexistent/coverage.toml"], "--coverage needs"),
    ],
)
def test_bad_arguments_exit_2_with_a_reason(tmp_path, capsys, args, complaint):
    assert chain.main(["--cell", "c", "--out", str(tmp_path / "c"), *args]) == 2
    assert complaint in capsys.readouterr().err


def test_coverage_runs_each_stage_with_its_own_data_file_and_context(tmp_path):
    ctx = chain.Context(
        cell="py3.12-np2.2",
        out=tmp_path,
        root=tmp_path,
        coverage=True,
        rcfile=tmp_path / "coverage.toml",
        import_from="installed",
        timeout=60,
        autoload=False,
        pytest_args=["-x"],
    )
    stage = chain.StagePlan(9, tuple(range(1, 10)))
    command = chain.build_command(ctx, stage, ["tests/modules/01_tensor"])
    assert "--cov" in command and f"--cov-config={tmp_path / 'coverage.toml'}" in command
    # trace_once.py sets the per-test contexts: pytest-cov must not switch them too
    assert "regression.plugins.trace_once" in command and "--cov-context=test" not in command
    ctx.traced_after = chain.traced_after([chain.StagePlan(k, tuple(range(1, k + 1))) for k in (3, 9)])
    env = chain.build_env(ctx, stage, tmp_path / "r.jsonl")
    assert env["TINYTORCH_TRACE_AFTER"] == "3"  # stage 09 traces what is new above the stage run before it
    assert env["PYTHONPYCACHEPREFIX"] == str(tmp_path / ".pycache") and "PYTHONDONTWRITEBYTECODE" not in env
    assert env["COVERAGE_FILE"] == str(tmp_path / "coverage" / ".coverage.py3.12-np2.2.09")
    assert env["TINYTORCH_COVERAGE_CONTEXT"] == "py3.12-np2.2@stage09"
    assert command[-1] == "-x" and "regression.plugins.guard" in command and "regression.plugins.records" in command
    assert Path(command[1]).name == "pytest_entry.py" and "pytest_cov.plugin" in command


def test_module_plans_and_full_plans():
    assert [p.modules for p in chain.plan([1, 3], None)] == [(1,), (1, 2, 3)]
    assert [(p.stage, p.modules, p.key) for p in chain.plan([12, 13], 12)] == [
        (12, (12,), "12-m12"),
        (13, (12,), "13-m12"),
    ]


def judge(exit_code, output="", timed_out=False, records=()):
    ctx = chain.Context("c", Path("/nonexistent"), Path("/nonexistent"), False, Path("x"), "installed", 60, False, [])
    return judge_stage(chain.StagePlan(1, (1,)), list(records), [], exit_code, timed_out, output, ctx)


def test_a_conftest_dying_on_the_guard_is_a_layering_break():
    output = (
        "E   regression.plugins.guard.LayeringError: import guard: tinytorch.core.layers is module 03, not available"
    )
    result = judge(4, output)
    assert isinstance(result, StageResult) and result.red is True
    assert [p.classification for p in result.problems] == [Classification.LAYERING]
    assert result.problems[0].message.startswith(
        "pytest exited with code 4: E   regression.plugins.guard.LayeringError"
    )


def test_an_unexplained_exit_or_a_timeout_is_red():
    assert [p.classification for p in judge(3, "INTERNALERROR> boom").problems] == [Classification.EMPTY]
    assert [p.classification for p in judge(-9, timed_out=True).problems] == [Classification.REGARDLESS]


def test_a_green_exit_with_tests_has_no_problem():
    records = [
        TestRecord(kind=RecordKind.TEST, stage=1, test_id="t.py::a", outcome=Outcome.PASSED),
        SessionRecord(kind=RecordKind.SESSION, cell="c", stage=1, collected=1, collected_per_module={"01": 1}),
    ]
    result = judge(0, records=records)
    assert (result.red, result.problems, result.passed, result.collected) == (False, [], 1, 1)
    assert StageResult.from_json(result.to_json()) == result  # what stages.json holds reads back the same


def test_a_stage_is_judged_red_in_one_function_only():
    """``red`` of a stage result is decided by ``judge.judge_stage`` alone: no other module of the harness
    builds or replaces a ``StageResult`` with ``red=`` but the report's loader (a damaged cell: integrity, not a
    verdict), and none writes a stage-shaped dict with a ``red`` (the old way). The report's cell and
    verdict (``analysis.py``) and the JUnit properties read the judge's answer; they never make one."""
    found = {"typed": set(), "item": set(), "dict": set()}
    for path in sorted(HERE.rglob("*.py")):
        if path.name.startswith("test_") or path.name.endswith("_fixtures.py") or path.name == "conftest.py":
            continue  # the harness's own tests and their fixtures build red stages on purpose
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _name(node.func) in ("StageResult", "replace"):
                if any(keyword.arg == "red" for keyword in node.keywords):
                    found["typed"].add(path.name)
            elif isinstance(node, ast.Assign):
                if any(isinstance(t, ast.Subscript) and _is_text(t.slice, "red") for t in node.targets):
                    found["item"].add(path.name)
            elif isinstance(node, ast.Dict):
                keys = {key.value for key in node.keys if isinstance(key, ast.Constant)}
                if {"red", "collected"} <= keys:
                    found["dict"].add(path.name)
    assert found == {"typed": {"judge.py", "loading.py"}, "item": set(), "dict": set()}


def _name(func) -> str | None:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _is_text(node, text: str) -> bool:
    return isinstance(node, ast.Constant) and node.value == text

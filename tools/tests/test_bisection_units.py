"""The bisect's parts on their own: the judge's verdicts and imports, the plan, git's conclusions, the venv
commands. The judge is loaded the way the search runs it (the ``judge`` fixture of ``conftest.py``).
"""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from tools import matrix
from tools.bisection import env as venv
from tools.bisection import git as bisect_git
from tools.bisection import plan as bisect_plan
from tools.bisection import search as bisect_search
from tools.bisection.cli import parse_args
from tools.harness import UsageError

REPO = Path(__file__).resolve().parents[2]
CELL = "py3.11-np2.4"
INT8 = "tests/modules/16_quantization/test_quantization.py::test_roundtrip[mlp-int8]"
OTHER = "tests/modules/16_quantization/test_other.py::test_other"
INT8_FAILURE = {
    "cell": CELL,
    "stage": 16,
    "module": 16,
    "test_id": INT8,
    "classification": "broken by quantization",
    "reason": "AssertionError: assert 0.0157 < 0.01",
}
TARGET = [{"test_id": INT8, "reason": "AssertionError: assert 0.0157 < 0.01"}]


def _record(test_id: str, outcome: str, message: str = "", kind: str = "test") -> dict:
    return {"kind": kind, "test_id": test_id, "outcome": outcome, "message": message}


# ----------------------------------------------------------------------------------------- the judge
def test_verdict_bad_when_a_judged_test_fails_good_when_only_others_fail(judge):
    bad = judge.decide(TARGET, [_record(INT8, "failed", "AssertionError")], [], "")
    assert bad[0] == "bad"
    good = judge.decide(TARGET, [_record(INT8, "passed"), _record(OTHER, "failed", "boom")], [], "")
    assert good[0] == "good" and "1 other failure(s) ignored" in good[1]


def test_verdict_skip_when_the_judged_tests_cannot_run(judge):
    collect = _record(
        "tests/modules/16_quantization/test_quantization.py", "collect_error", "SyntaxError: x", "collect_error"
    )
    skip = judge.decide(TARGET, [collect], [], "")
    assert skip[0] == "skip" and "cannot collect" in skip[1]
    assert judge.decide(TARGET, [], [], "chain.py exited with code 2")[0] == "skip"
    crash = _record(INT8, "failed", "ModuleNotFoundError: No module named 'tinytorch.optimization.x'")
    assert judge.decide(TARGET, [crash], [], "")[0] == "skip"
    layering = [{"test_id": INT8, "reason": "ImportError: cannot import name 'q' from 'tinytorch.core'"}]
    assert judge.decide(layering, [crash], [], "")[0] == "bad"  # an import break that is the failure
    classified = [{"test_id": INT8, "classification": "import/layering break"}]  # no reason given
    assert judge.decide(classified, [crash], [], "")[0] == "bad"


def _imported_top_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: a relative import cannot work stand-alone"
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Name) and node.id == "__import__":
            raise AssertionError(f"{path.name}: imports by name, which this test cannot check")
    return names


def test_the_judge_source_imports_only_the_standard_library_contract_and_exits():
    """Read, not run: every import statement of the judge, and of the two files it is staged with."""
    judge_file, *harness_files = bisect_search.JUDGE_FILES
    assert [p.name for p in harness_files] == ["contract.py", "exits.py"]
    names = _imported_top_names(judge_file)
    assert names - set(sys.stdlib_module_names) == {"contract", "exits"}
    assert "importlib" not in names
    for path in harness_files:
        assert _imported_top_names(path) <= set(sys.stdlib_module_names), path


def test_the_stand_alone_judge_loads_only_the_standard_library_and_the_files_beside_it(tmp_path):
    """Run: what importing the staged judge loads, from a script beside it (as ``python judge.py`` finds them)."""
    script = bisect_search.stage_judge(tmp_path / "judge")
    probe = script.with_name("probe.py")
    probe.write_text(
        "import sys; before = set(sys.modules); import judge\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(sorted(m for m in new if m not in sys.stdlib_module_names and m not in ('judge', 'contract', 'exits')))"
    )
    done = subprocess.run([sys.executable, "-E", "-s", str(probe)], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_the_judge_fills_the_step_folder_into_the_plans_command(judge, tmp_path):
    assert judge.OUT == bisect_plan.OUT
    plan = bisect_plan.Plan(matrix.cell_by_name(CELL), "pytest", 16, None, [INT8], TARGET, "--test")
    run = bisect_plan.step_command(plan, sys.executable, tmp_path, 30.0, [])
    assert run["env"]["TINYTORCH_RECORDS"] == f"{bisect_plan.OUT}/records.jsonl"
    assert run["command"][:3] == [sys.executable, "-m", "pytest"] and INT8 in run["command"]
    chain = bisect_plan.step_command(dataclasses.replace(plan, mode="chain"), "py", tmp_path, 30.0, [])
    assert chain["command"][1] == str(tmp_path / "tests" / "regression" / "chain.py")
    assert chain["step_timeout"] > run["step_timeout"] == 30.0


# ----------------------------------------------------------------------------------------- plan and git
def test_plan_from_the_report_runs_the_first_red_stage_and_module(tmp_path):
    report = {
        "cells": [{"cell": CELL, "red": True, "first_red_stage": 16}],
        "failures": [INT8_FAILURE, dict(INT8_FAILURE, stage=17, test_id="later")],
    }
    args = parse_args(["--good", "x"])
    cell = bisect_plan.choose_cell(None, report)
    plan = bisect_plan.make_plan(args, report, cell, tmp_path / "r.json")
    assert (cell.name, plan.mode, plan.stage, plan.module) == (CELL, "chain", 16, 16)
    assert [t["test_id"] for t in plan.targets] == [INT8]
    assert plan.classification == {INT8: "broken by quantization"}


def test_default_cell_is_the_default_python_with_its_newest_numpy():
    cell = bisect_plan.choose_cell(None, None)
    newest = [c for c in matrix.all_cells() if c.python == matrix.DEFAULT_PYTHON][-1]
    assert cell == newest and cell.python == matrix.DEFAULT_PYTHON


def test_plan_without_report_failures_judges_what_fails_at_bad(tmp_path):
    args = parse_args(["--good", "x", "--module", "16"])
    plan = bisect_plan.make_plan(args, None, bisect_plan.default_cell(), tmp_path / "r.json")
    assert (plan.mode, plan.stage, plan.module, plan.targets) == ("chain", 16, 16, None)
    with pytest.raises(UsageError, match="before the module exists"):
        bisect_plan.make_plan(parse_args(["--good", "x", "--module", "9", "--stage", "3"]), None, plan.cell, tmp_path)


def test_cell_venv_installs_dependencies_once_and_the_package_without_them(tmp_path):
    cell = matrix.cell_by_name(CELL)
    deps = venv.deps_command(tmp_path, venv.requirements(cell), uv=None)
    assert f"numpy=={cell.numpy_pin}" in deps and "--only-binary" in deps
    package = venv.package_command(tmp_path, uv="uv")
    assert "--no-deps" in package and package[-1] == "-e"
    assert not any(req.startswith("numpy") for req in package)


SHA_A, SHA_B = "a" * 40, "b" * 40


def test_outcome_reads_what_git_bisect_concluded():
    found = bisect_search.outcome(
        ["Bisecting: 0 revisions left", f"{SHA_A} is the first bad commit", f"commit {SHA_A}"]
    )
    assert found == {"result": "found", "first_bad": SHA_A, "candidates": [SHA_A]}
    skipped = [
        "There are only 'skip'ped commits left to test.",
        "The first bad commit could be any of:",
        SHA_A,
        SHA_B,
        "We cannot bisect more!",
    ]
    assert bisect_search.outcome(skipped)["candidates"] == [SHA_A, SHA_B]
    assert bisect_search.outcome(["Bisecting: 3 revisions left to test after this (roughly 2 steps)"]) is None
    failed = bisect_search.failure("the judge failed at step 2 of ≈3 (exit 255: judge error: JudgeError: elsewhere)")
    assert failed["result"] == "failed" and "exit 255" in failed["error"] and failed["first_bad"] is None


def test_the_stdlib_bisect_is_not_shadowed_when_tools_is_first_on_the_path():
    """``python tools/x.py`` puts tools/ first on the path: the package is named so as not to hide ``bisect``."""
    assert not (REPO / "tools" / "bisect").exists() and not (REPO / "tools" / "bisect.py").exists()
    code = "import sys; sys.path.insert(0, 'tools'); import random, bisect; print(bisect.__file__, random.random())"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert "tools" not in done.stdout.split()[0]


def test_git_runs_no_hook_of_the_users_repository(tmp_path):
    """The bisect checks commits out in its own worktree: a post-checkout hook of the user's must not run."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q"], ["config", "user.email", "t@t"], ["config", "user.name", "t"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True)
    (repo / "a.txt").write_text("1")
    subprocess.run(["git", "-C", str(repo), "add", "a.txt"], check=True)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "one"], check=True)
    marker = tmp_path / "hook-ran"
    hook = repo / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "--detach", "HEAD"], check=True)
    assert marker.exists()  # the hook works when git is run plainly
    marker.unlink()
    bisect_git.git(repo, "checkout", "--quiet", "--detach", "HEAD")
    assert not marker.exists()

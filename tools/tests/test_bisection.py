"""``nox -s bisect``: a real ``git bisect run`` with the real judge over a small history built here.

The history is a tiny project with the real chain machinery (``tests/regression/*`` and the registry,
copied from this checkout) and one quantization module: a good commit, unrelated commits, a commit
that breaks an unrelated test for a while, the commit that introduces the quantization regression, and
a commit whose quantization module does not even import. The bisect must name exactly the regression
commit, skip the broken one, ignore the unrelated failure, and leave the user's checkout as it was.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tools import matrix

REPO = Path(__file__).resolve().parents[2]
CELL = "py3.11-np2.4"
INT8 = "tests/modules/16_quantization/test_quantization.py::test_roundtrip[mlp-int8]"
FP32 = "tests/modules/16_quantization/test_quantization.py::test_roundtrip[mlp-fp32]"
OTHER = "tests/modules/16_quantization/test_other.py::test_other"
# The chain's machinery, whatever files it is split into (not its own tests).
CHAIN_FILES = tuple(
    p.name for p in sorted((REPO / "tests" / "regression").glob("*.py")) if not p.name.startswith(("test_", "conftest"))
)

QUANTIZATION = """
def quantize(values, scale=127):
    return [max(-127, min(127, round(v * scale))) for v in values]


def dequantize(codes):
    return [c / 127 for c in codes]
"""
TEST = """
import pytest

from tinytorch.optimization.quantization import dequantize, quantize


@pytest.mark.parametrize("case", ["mlp-fp32", "mlp-int8"])
def test_roundtrip(case):
    values = [0.5, -0.25, 1.0]
    out = values if case.endswith("fp32") else dequantize(quantize(values))
    assert max(abs(a - b) for a, b in zip(out, values)) < 0.01
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def commit(repo: Path, message: str, files: dict[str, str]) -> str:
    for rel, text in files.items():
        write(repo, rel, text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> dict:
    return build_history(tmp_path_factory.mktemp("project"))


def build_history(repo: Path) -> dict:
    """The project's history in ``repo``; returns it and the sha of each named commit."""
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    git(repo, "config", "commit.gpgsign", "false")
    base = {
        ".gitignore": "reports/\n__pycache__/\n*.egg-info/\n",
        "pyproject.toml": '[project]\nname = "tinytorch"\nversion = "0"\n',
        "tinytorch/__init__.py": "",
        "tinytorch/registry.py": (REPO / "tinytorch" / "registry.py").read_text(encoding="utf-8"),
        "tinytorch/optimization/__init__.py": "",
        "tinytorch/optimization/quantization.py": QUANTIZATION,
        "tests/modules/16_quantization/test_quantization.py": TEST,
        "notes.txt": "notes\n",
    }
    for name in CHAIN_FILES:
        base[f"tests/regression/{name}"] = (REPO / "tests" / "regression" / name).read_text(encoding="utf-8")
    shas = {"good": commit(repo, "the good commit", base)}
    shas["notes"] = commit(repo, "unrelated: more notes", {"notes.txt": "notes\nmore\n"})
    other = "def test_other():\n    assert False, 'unrelated breakage'\n"
    shas["other"] = commit(repo, "unrelated: breaks another test", {OTHER.split("::")[0]: other})
    broken = QUANTIZATION.replace("scale=127", "scale=12")
    shas["regression"] = commit(
        repo, "quantization: a smaller scale", {"tinytorch/optimization/quantization.py": broken}
    )
    syntax = broken.replace("def dequantize(codes):", "def dequantize(codes:")
    shas["no_import"] = commit(
        repo, "quantization: does not import", {"tinytorch/optimization/quantization.py": syntax}
    )
    shas["repair"] = commit(repo, "quantization: imports again", {"tinytorch/optimization/quantization.py": broken})
    fixed_other = "def test_other():\n    assert True\n"
    shas["fix_other"] = commit(repo, "unrelated: repairs the other test", {OTHER.split("::")[0]: fixed_other})
    shas["notes2"] = commit(repo, "unrelated: even more notes", {"notes.txt": "notes\nmore\nagain\n"})
    shas["bad"] = commit(repo, "unrelated: last notes", {"notes.txt": "notes\nmore\nagain\nlast\n"})
    return {"repo": repo, **shas}


def report_on(repo: Path, failures: list[dict]) -> Path:
    path = repo / "reports" / "regression.json"
    cells = [{"cell": CELL, "red": bool(failures), "first_red_stage": 16 if failures else None}]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": cells, "failures": failures}), encoding="utf-8")
    return path


INT8_FAILURE = {
    "cell": CELL,
    "stage": 16,
    "module": 16,
    "test_id": INT8,
    "variant": "int8",
    "classification": "broken by quantization",
    "reason": "AssertionError: assert 0.0157 < 0.01",
}


def user_state(repo: Path) -> dict:
    """Everything of the user's checkout the bisect must leave alone."""
    return {
        "head": git(repo, "rev-parse", "HEAD"),
        "branch": git(repo, "symbolic-ref", "HEAD"),
        "status": git(repo, "status", "--porcelain"),
        "index": (repo / ".git" / "index").read_bytes(),
        "stash": git(repo, "stash", "list"),
        "worktrees": git(repo, "worktree", "list", "--porcelain"),
        "refs": git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        "bisect_log": (repo / ".git" / "BISECT_LOG").read_text() if (repo / ".git" / "BISECT_LOG").exists() else None,
    }


def run_bisect(repo: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "tools.bisection", "--repo", str(repo), "--python", sys.executable, *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture
def dirty_user_checkout(history):
    """The user has a stash, a staged change, an unstaged one and a bisect of their own while ours runs."""
    repo = history["repo"]
    git(repo, "bisect", "start", "--no-checkout", history["bad"], history["notes"])
    write(repo, "notes.txt", "stashed\n")
    git(repo, "stash", "-q")
    write(repo, "staged.txt", "staged\n")
    git(repo, "add", "staged.txt")
    write(repo, "notes.txt", "unstaged edit\n")
    yield repo
    git(repo, "bisect", "reset")
    git(repo, "reset", "-q", "--hard")
    git(repo, "stash", "clear")


@pytest.mark.slow  # a real git bisect run: seconds per judged commit
def test_bisect_names_the_regression_commit_skips_the_broken_one_and_touches_nothing(history, dirty_user_checkout):
    repo = dirty_user_checkout
    report_on(repo, [INT8_FAILURE])
    before = user_state(repo)
    done = run_bisect(repo, "--good", history["good"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"first bad commit: {history['regression']} quantization: a smaller scale" in done.stdout
    assert f"broke: {INT8} [broken by quantization]" in done.stdout
    assert "uncommitted changes" in done.stdout
    assert user_state(repo) == before
    result = json.loads((repo / "reports" / "bisect.json").read_text(encoding="utf-8"))
    assert result["result"] == "found" and result["first_bad"]["sha"] == history["regression"]
    assert result["cell"] == CELL and result["mode"] == "chain" and (result["stage"], result["module"]) == (16, 16)
    assert result["python"] == ".".join(map(str, sys.version_info[:3]))  # the judged interpreter, as it ran
    verdicts = {s["sha"]: s["verdict"] for s in result["steps"] if s["label"].startswith("step")}
    assert verdicts.get(history["no_import"]) == "skip", result["steps"]
    order = ["notes", "other", "regression", "no_import", "repair", "fix_other", "notes2", "bad"]
    expected = {history[name]: "good" if i < 2 else "bad" for i, name in enumerate(order) if name != "no_import"}
    # "other" carries an unrelated failure: still good
    assert {sha: v for sha, v in verdicts.items() if v != "skip"} == {
        sha: expected[sha] for sha in verdicts if sha in expected
    }


@pytest.mark.slow  # a real git bisect run: seconds per judged commit
def test_a_test_id_is_judged_alone_with_pytest(history):
    repo = history["repo"]
    report_on(repo, [])
    span = ("--good", history["other"], "--bad", history["regression"])  # one candidate: the two checks decide
    done = run_bisect(repo, *span, "--cell", CELL, "--test", INT8, "--test", FP32)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"first bad commit: {history['regression']} " in done.stdout
    # no report classification: the checkout's report.py classifies from the step's records (fp32 passed)
    assert f"broke: {INT8} [broken by quantization]" in done.stdout
    result = json.loads((repo / "reports" / "bisect.json").read_text(encoding="utf-8"))
    assert result["mode"] == "pytest" and result["node_ids"] == [INT8, FP32]


@pytest.mark.slow  # a real git bisect run: seconds per judged commit
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--good", "no-such-ref"], "--good 'no-such-ref' is not a commit"),
        (["--good", "{good}", "--bad", "nope"], "--bad 'nope' is not a commit"),
        (["--good", "{bad}", "--bad", "{good}"], "is not an ancestor of --bad"),
        (["--good", "{good}", "--bad", "{good}"], "are the same commit"),
        (["--good", "{good}", "--cell", "py2.7-np0.1"], "no matrix cell named 'py2.7-np0.1'"),
        (["--good", "{good}", "--stage", "17"], "--stage 17: must lie in 1..16"),
        (["--good", "{regression}"], "the failure is older than the good ref"),
        (["--good", "{good}", "--bad", "{notes}"], "the judged failure does not show at --bad"),
        (["--good", "{good}", "--bad", "{no_import}"], "--bad {no_import} ({no_import12}) cannot be judged"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_touches_nothing(history, args, message):
    repo = history["repo"]
    report_on(repo, [INT8_FAILURE])
    (repo / "reports" / "bisect.json").unlink(missing_ok=True)
    before = user_state(repo)
    names = {**history, **{f"{k}12": v[:12] for k, v in history.items() if isinstance(v, str)}}
    done = run_bisect(repo, *(a.format(**names) for a in args))
    message = message.format(**names)
    assert done.returncode == 2, done.stdout + done.stderr
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 1 and message in errors[0], done.stderr
    assert user_state(repo) == before
    assert not (repo / "reports" / "bisect.json").exists()


@pytest.mark.slow  # a real git bisect run: seconds per judged commit
def test_sigterm_mid_search_stops_the_judge_and_removes_the_worktree(history):
    repo = history["repo"]
    report_on(repo, [INT8_FAILURE])
    before = user_state(repo)
    command = [sys.executable, "-m", "tools.bisection", "--repo", str(repo), "--python", sys.executable]
    proc = subprocess.Popen(
        [*command, "--good", history["good"]], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        for line in proc.stdout:  # the --bad check is done: the --good check's judge is running now
            if "check --bad" in line:
                break
        worktrees = git(repo, "worktree", "list", "--porcelain")
        assert worktrees != before["worktrees"]  # the search's own worktree exists ...
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "interrupted (SIGTERM)" in err, err
    assert user_state(repo) == before  # ... and is gone again, with every process it started
    path = next(line.split(" ", 1)[1] for line in worktrees.splitlines()[::-1] if line.startswith("worktree "))
    assert not Path(path).exists() and not Path(path).parent.exists()
    assert not [c for c in _command_lines() if str(Path(path).parent) in c]  # no judge or chain left running


def _command_lines() -> list[str]:
    lines = []
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(entry.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue  # the process ended meanwhile
    return lines


def test_nothing_to_judge_without_report_failures_or_a_selection(history):
    repo = history["repo"]
    report_on(repo, [])
    done = run_bisect(repo, "--good", history["good"])
    assert done.returncode == 2 and "nothing to judge" in done.stderr


# ----------------------------------------------------------------------------------------- units
def _record(test_id: str, outcome: str, message: str = "", kind: str = "test") -> dict:
    return {"kind": kind, "test_id": test_id, "outcome": outcome, "message": message}


TARGET = [{"test_id": INT8, "reason": "AssertionError: assert 0.0157 < 0.01"}]


def test_verdict_bad_when_a_judged_test_fails_good_when_only_others_fail():
    bad = bisect_judge.decide(TARGET, [_record(INT8, "failed", "AssertionError")], [], "")
    assert bad[0] == "bad"
    good = bisect_judge.decide(TARGET, [_record(INT8, "passed"), _record(OTHER, "failed", "boom")], [], "")
    assert good[0] == "good" and "1 other failure(s) ignored" in good[1]


def test_verdict_skip_when_the_judged_tests_cannot_run():
    collect = _record(
        "tests/modules/16_quantization/test_quantization.py", "collect_error", "SyntaxError: x", "collect_error"
    )
    skip = bisect_judge.decide(TARGET, [collect], [], "")
    assert skip[0] == "skip" and "cannot collect" in skip[1]
    assert bisect_judge.decide(TARGET, [], [], "chain.py exited with code 2")[0] == "skip"
    crash = _record(INT8, "failed", "ModuleNotFoundError: No module named 'tinytorch.optimization.x'")
    assert bisect_judge.decide(TARGET, [crash], [], "")[0] == "skip"
    layering = [{"test_id": INT8, "reason": "ImportError: cannot import name 'q' from 'tinytorch.core'"}]
    assert bisect_judge.decide(layering, [crash], [], "")[0] == "bad"  # an import break that is the failure
    classified = [{"test_id": INT8, "classification": "import/layering break"}]  # no reason given
    assert bisect_judge.decide(classified, [crash], [], "")[0] == "bad"


def test_plan_from_the_report_runs_the_first_red_stage_and_module(tmp_path):
    report = {
        "cells": [{"cell": CELL, "red": True, "first_red_stage": 16}],
        "failures": [INT8_FAILURE, dict(INT8_FAILURE, stage=17, test_id="later")],
    }
    args = bisect_cli.parse_args(["--good", "x"])
    cell = bisect_cli.choose_cell(None, report)
    plan = bisect_cli.make_plan(args, report, cell, tmp_path / "r.json")
    assert (cell.name, plan.mode, plan.stage, plan.module) == (CELL, "chain", 16, 16)
    assert [t["test_id"] for t in plan.targets] == [INT8]
    assert plan.classification == {INT8: "broken by quantization"}


def test_default_cell_is_the_default_python_with_its_newest_numpy():
    cell = bisect_cli.choose_cell(None, None)
    newest = [c for c in matrix.all_cells() if c.python == matrix.DEFAULT_PYTHON][-1]
    assert cell == newest and cell.python == matrix.DEFAULT_PYTHON


def test_cell_venv_installs_dependencies_once_and_the_package_without_them(tmp_path):
    cell = matrix.cell_by_name(CELL)
    deps = bisect_env.deps_command(tmp_path, bisect_env.requirements(cell), uv=None)
    assert f"numpy=={cell.numpy_pin}" in deps and "--only-binary" in deps
    package = bisect_env.package_command(tmp_path, uv="uv")
    assert "--no-deps" in package and package[-1] == "-e"
    assert not any(req.startswith("numpy") for req in package)


def test_the_stdlib_bisect_is_not_shadowed_when_tools_is_first_on_the_path():
    code = "import sys; sys.path.insert(0, 'tools'); import random, bisect; print(bisect.__file__, random.random())"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert "tools" not in done.stdout.split()[0]


def test_worktree_is_removed_even_when_interrupted(history):
    repo = history["repo"]
    before = git(repo, "worktree", "list", "--porcelain")
    with pytest.raises(KeyboardInterrupt), bisect_git.temporary_worktree(repo, history["good"]) as worktree:
        assert (worktree / "notes.txt").is_file()
        raise KeyboardInterrupt
    assert not worktree.exists() and not worktree.parent.exists()
    assert git(repo, "worktree", "list", "--porcelain") == before


def test_plan_without_report_failures_judges_what_fails_at_bad(tmp_path):
    args = bisect_cli.parse_args(["--good", "x", "--module", "16"])
    plan = bisect_cli.make_plan(args, None, bisect_cli.default_cell(), tmp_path / "r.json")
    assert (plan.mode, plan.stage, plan.module, plan.targets) == ("chain", 16, 16, None)
    with pytest.raises(bisect_cli.InputError, match="before the module exists"):
        bisect_cli.make_plan(
            bisect_cli.parse_args(["--good", "x", "--module", "9", "--stage", "3"]), None, plan.cell, tmp_path
        )


SHA_A, SHA_B = "a" * 40, "b" * 40


def test_outcome_reads_what_git_bisect_concluded():
    found = bisect_cli.outcome(["[bisect] step 1 ...", f"{SHA_A} is the first bad commit", "commit " + SHA_A], 0)
    assert found == {"result": "found", "first_bad": SHA_A, "candidates": [SHA_A]}
    skipped = [
        "There are only 'skip'ped commits left to test.",
        "The first bad commit could be any of:",
        SHA_A,
        SHA_B,
        "We cannot bisect more!",
    ]
    assert bisect_cli.outcome(skipped, 1)["candidates"] == [SHA_A, SHA_B]
    failed = bisect_cli.outcome(
        ["[bisect] judge error: JudgeError: imported another tinytorch", "bisect run failed:"], 1
    )
    assert failed["result"] == "failed" and "exited 1" in failed["error"]


def test_the_stand_alone_judge_imports_only_the_standard_library_and_the_contract(tmp_path):
    """bisect_cli copies the judge and contract.py beside each other; nothing else may be needed."""
    import shutil
    import subprocess
    import sys

    from tools import bisect_cli

    shutil.copyfile(bisect_cli.JUDGE, tmp_path / "bisect_judge.py")
    shutil.copyfile(bisect_cli.CONTRACT, tmp_path / "contract.py")
    probe = (
        "import sys; before = set(sys.modules); import bisect_judge; bisect_judge._run_with_timeout(); "
        "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
        "print(sorted(m for m in new if m not in sys.stdlib_module_names and m not in ('bisect_judge', 'contract')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout

"""``nox -s bisect``: a real bisect (the search driving ``git bisect``) with the real judge over a small history.

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
import time
from pathlib import Path

import pytest

from tools.bisection.git import temporary_worktree

REPO = Path(__file__).resolve().parents[2]
CELL = "py3.11-np2.4"
INT8 = "tests/modules/16_quantization/test_quantization.py::test_roundtrip[mlp-int8]"
FP32 = "tests/modules/16_quantization/test_quantization.py::test_roundtrip[mlp-fp32]"
OTHER = "tests/modules/16_quantization/test_other.py::test_other"
# The chain's machinery, whatever files it is split into (not its own tests).
CHAIN_FILES = tuple(
    p.relative_to(REPO / "tests" / "regression").as_posix()
    for p in sorted((REPO / "tests" / "regression").rglob("*.py"))
    if not p.name.startswith(("test_", "conftest"))
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


def bisect_command(repo: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "tools.bisection", "--repo", str(repo), "--python", sys.executable, *args]


def run_bisect(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(bisect_command(repo, *args), cwd=REPO, capture_output=True, text=True, timeout=600)


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


@pytest.mark.slow  # a real bisect: seconds per judged commit
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


@pytest.mark.slow  # a real bisect: seconds per judged commit
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


@pytest.mark.slow  # a real bisect: seconds per judged commit
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
        (["--good", "{good}", "--timeout", "0"], "--timeout 0: give a positive number of seconds"),
        (["--bad", "{good}"], "the following arguments are required: --good"),
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


@pytest.mark.slow  # a real bisect: seconds per judged commit
def test_sigterm_mid_search_stops_the_judge_and_removes_the_worktree(history):
    """SIGTERM while the --good check's chain runs: the judge ends the chain (which ends its stages)
    before the worktree goes; exit 143, as the chain's own SIGTERM."""
    repo = history["repo"]
    report_on(repo, [INT8_FAILURE])
    before = user_state(repo)
    command = bisect_command(repo, "--good", history["good"])
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:  # the --bad check is done: the --good check's judge starts now
            if "check --bad" in line:
                break
        worktrees = git(repo, "worktree", "list", "--porcelain")
        assert worktrees != before["worktrees"]  # the search's own worktree exists ...
        path = next(line.split(" ", 1)[1] for line in worktrees.splitlines()[::-1] if line.startswith("worktree "))
        base = str(Path(path).parent)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not [c for c in _command_lines() if base in c and "chain.py" in c]:
            time.sleep(0.02)  # signal while the judge's chain runs, if it is still running by now
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143 and err.strip() == "bisect: interrupted (SIGTERM); the temporary worktree was removed"
    assert user_state(repo) == before  # ... and is gone again, with every process it started
    assert not Path(path).exists() and not Path(base).exists()
    assert not [c for c in _command_lines() if base in c]  # no judge, chain or stage left running


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


def test_worktree_is_removed_even_when_interrupted(history):
    repo = history["repo"]
    before = git(repo, "worktree", "list", "--porcelain")
    with pytest.raises(KeyboardInterrupt), temporary_worktree(repo, history["good"]) as worktree:
        assert (worktree / "notes.txt").is_file()
        raise KeyboardInterrupt
    assert not worktree.exists() and not worktree.parent.exists()
    assert git(repo, "worktree", "list", "--porcelain") == before

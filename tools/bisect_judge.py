"""The judge ``git bisect run`` calls at each commit: is the judged failure present here?

    python bisect_judge.py SPEC.json [--label TEXT]

``tools/bisect_main.py`` copies this file out of the checkout before the search starts, so every commit is
judged by the same judge, whatever version of it (or none) that commit holds. It imports nothing from
the project: only the standard library, and the commit's own chain and tests through subprocesses.

At each commit (the worktree's HEAD) it

1. reinstalls the package from the worktree into the bisect venv with ``--no-deps`` (dependencies were
   installed once) when the packaging metadata differs from what is installed there;
2. runs only what shows the failure: ``tests/regression/chain.py --stages K [--module N]`` of that
   commit, or pytest on the judged node ids under the same import guard and records plugin;
3. decides from the per-test records: a judged test id failing = ``bad`` (exit 1); the judged tests ran
   and none of them fails = ``good`` (exit 0), whatever else fails; the judged tests could not run
   (no chain, a syntax error, an import crash, a collection error of their files) = ``skip`` (125).

Anything the judge itself cannot handle exits 255, which makes ``git bisect run`` stop instead of
mistaking a broken judge for a bad commit. Each verdict is written to ``STEPS/NN-<sha>.json`` and one
progress line (prefixed ``[bisect]``) goes to stdout.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path

GOOD, BAD, SKIP = "good", "bad", "skip"
EXIT = {GOOD: 0, BAD: 1, SKIP: 125}
ABORT = 255  # > 127: git bisect run stops
PREFIX = "[bisect]"
FAIL_OUTCOMES = ("failed", "error", "collect_error")
PACKAGING_FILES = ("pyproject.toml", "setup.cfg", "setup.py")
INSTALL_STAMP = ".bisect-installed"
IMPORT_KINDS = ("import/layering break", "empty or uncollectable stage")  # the report's classifications

# A failure that only says "tinytorch does not even import here" (not the failure being judged).
CANNOT_IMPORT = re.compile(
    r"^(?:SyntaxError|IndentationError|TabError)\b|\b(?:ImportError|ModuleNotFoundError)\b.*\btinytorch\b"
)


class JudgeError(Exception):
    """The judge cannot give a verdict that means anything (e.g. the tests imported another tinytorch)."""


# ----------------------------------------------------------------------------------------- verdict
def file_of(test_id: str) -> str:
    return test_id.split("::", 1)[0]


def _under(path: str, collector: str) -> bool:
    """Whether a test file lies in (or is) what a collection error was reported for."""
    collector = collector.rstrip("/")
    return path == collector or path.startswith(collector + "/") or collector in ("", ".")


def is_import_break(target: dict) -> bool:
    """Whether the judged failure itself is an import or collection break (then an import crash is it)."""
    return bool(CANNOT_IMPORT.search(target.get("reason") or "")) or target.get("classification") in IMPORT_KINDS


def decide(targets: list[dict], records: list[dict], problems: list[dict], ran: str) -> tuple[str, str, list]:
    """(verdict, reason, judged failures present) for one commit.

    ``targets``: the judged failures, ``{"test_id", "reason", "classification"}`` as the report (or the
    run at ``--bad``) gave them; only the test id is required.
    ``records``: the run's per-test records; ``problems``: the chain's stage problems (test id + message);
    ``ran``: "" if the chain or pytest ran to the end, else why not.
    """
    failing: dict[str, str] = {}
    for record in records:
        if record.get("kind") in ("test", "collect_error") and record.get("outcome") in FAIL_OUTCOMES:
            failing.setdefault(record["test_id"], record.get("message") or "")
    for problem in problems:
        failing.setdefault(problem.get("test_id") or "", problem.get("message") or "")
    real, crashed = [], []
    for target in targets:
        if target["test_id"] not in failing:
            continue
        message = failing[target["test_id"]]
        # Failing only because tinytorch does not import at this commit says nothing about the judged
        # failure (unless that failure itself is an import break).
        import_crash = CANNOT_IMPORT.search(message) and not is_import_break(target)
        (crashed if import_crash else real).append((target["test_id"], message))
    if real:
        first_id, first_msg = real[0]
        return BAD, f"{len(real)} of {len(targets)} judged failure(s) present: {first_id} - {first_msg}", real
    if crashed:
        return SKIP, f"the judged tests fail because tinytorch does not import: {crashed[0][1]}", []
    if ran:
        return SKIP, f"the chain could not run: {ran}", []
    ran_tests = {r["test_id"] for r in records if r.get("kind") == "test"}
    missing = [t["test_id"] for t in targets if "::" in t["test_id"] and t["test_id"] not in ran_tests]
    if missing:
        why = _why_not_run(missing[0], records, problems)
        return SKIP, f"{len(missing)} judged test(s) did not run ({missing[0]}): {why}", []
    if not ran_tests:
        return SKIP, "no test ran at all: " + _why_not_run("", records, problems), []
    others = [tid for tid in failing if tid not in {t["test_id"] for t in targets}]
    reason = f"the {len(targets)} judged failure(s) are absent"
    if others:
        reason += f"; {len(others)} other failure(s) ignored (e.g. {others[0]})"
    return GOOD, reason, []


def _why_not_run(test_id: str, records: list[dict], problems: list[dict]) -> str:
    """The collection error that covers ``test_id``, else the first stage problem, else a generic word."""
    for record in records:
        if record.get("kind") == "collect_error" and _under(file_of(test_id), record["test_id"]):
            return f"cannot collect {record['test_id']}: {record.get('message') or 'collection failed'}"
    for record in records:
        if record.get("kind") == "collect_error":
            return f"cannot collect {record['test_id']}: {record.get('message') or 'collection failed'}"
    if problems:
        return problems[0].get("message") or "the stage failed before its tests ran"
    return "not collected at this commit"


def discovered_targets(records: list[dict], problems: list[dict]) -> list[dict]:
    """Every failure of a run, as targets (used at ``--bad`` when no report names the failures)."""
    found: dict[str, dict] = {}
    for record in records:
        if record.get("kind") in ("test", "collect_error") and record.get("outcome") in FAIL_OUTCOMES:
            found.setdefault(record["test_id"], {"test_id": record["test_id"], "reason": record.get("message") or ""})
    for problem in problems:
        tid = problem.get("test_id") or ""
        found.setdefault(tid, {"test_id": tid, "reason": problem.get("message") or ""})
    return list(found.values())


# ----------------------------------------------------------------------------------------- running
def read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a killed process's last line
    return rows


def write_json(path: Path, data: dict) -> None:
    # Its own copy, not tools.atomic's: this file runs standalone, copied out of the checkout (see above).
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or line.startswith("E ")]
    return ((errors or lines or ["no output"])[-1])[:240]


def _run_with_timeout():
    """The one process runner (tests/regression/contract.py): beside this file when it runs stand-alone
    (bisect_cli copies both), else through the tools' one way to the harness."""
    try:
        from contract import run_with_timeout
    except ImportError:
        from tools.harness import run_with_timeout
    return run_with_timeout


def _run(command: list[str], cwd: Path, env: dict, log: Path, timeout: float) -> tuple[int, str]:
    """Run ``command`` in its own process group, killed whole at the time-out even if it prints nothing."""
    log.parent.mkdir(parents=True, exist_ok=True)
    output_file = log.with_name(log.name + ".out")
    done = _run_with_timeout()(command, timeout=timeout, output=output_file, cwd=cwd, env=env)
    output = output_file.read_text(encoding="utf-8", errors="replace")
    output_file.unlink(missing_ok=True)
    code = -9 if done.timed_out else done.returncode
    if done.timed_out:
        output += f"\n[judge] killed after {timeout:.0f} s\n"
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(command)}\n{output}\n[exit {code}]\n")
    return code, output


def packaging_hash(worktree: Path) -> str:
    digest = hashlib.sha256(str(worktree).encode())
    for name in PACKAGING_FILES:
        path = worktree / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"-") + b"\0")
    return digest.hexdigest()


def reinstall(spec: dict, worktree: Path, log: Path) -> str:
    """Reinstall the package from the worktree (``--no-deps``) if its metadata changed; "" or why it failed.

    The install is editable and the worktree path is fixed for the whole search, so a commit that
    changes only sources is already what the venv imports; only new packaging metadata needs a reinstall.
    """
    if not spec.get("install"):
        return ""
    stamp = Path(spec["venv"]) / INSTALL_STAMP
    wanted = packaging_hash(worktree)
    if stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == wanted:
        return ""
    stamp.unlink(missing_ok=True)
    code, output = _run([*spec["install"], str(worktree)], worktree, dict(os.environ), log, spec["timeout"])
    if code != 0:
        return f"the package does not install from this commit: {_last_line(output)}"
    stamp.write_text(wanted + "\n", encoding="utf-8")
    return ""


def _base_env(spec: dict) -> dict:
    env = dict(os.environ)
    env.setdefault("PYTHONHASHSEED", "0")
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, "1")
    return env


def run_chain(spec: dict, worktree: Path, out: Path) -> tuple[list, list, str, list, dict]:
    """(records, problems, why it did not run or "", tinytorch files imported, versions) from the commit's chain."""
    chain = worktree / "tests" / "regression" / "chain.py"
    if not chain.is_file():
        return [], [], "this commit has no tests/regression/chain.py", [], {}
    command = [spec["python"], str(chain), "--cell", spec["cell"], "--out", str(out), "--stages", str(spec["stage"])]
    if spec.get("module") is not None:
        command += ["--module", str(spec["module"])]
    command += ["--jobs", "1", "--import-from", "checkout", "--timeout", str(spec["timeout"])]
    code, output = _run(command, worktree, _base_env(spec), out / "judge.log", spec["timeout"] + 60)
    stages_file = out / "stages.json"
    if code not in (0, 1) or not stages_file.is_file():
        return [], [], f"chain.py exited with code {code}: {_last_line(output)}", [], {}
    header = json.loads(stages_file.read_text(encoding="utf-8"))
    stages = header.get("stages", [])
    problems = [p for stage in stages for p in stage.get("problems", [])]
    files = [s["tinytorch_file"] for s in stages if s.get("tinytorch_file")]
    versions = {"python": header.get("python"), "numpy": header.get("numpy")}
    records_file = out / header.get("records_file", "records.jsonl")  # older chains wrote records.jsonl
    return read_jsonl(records_file), problems, "", files, versions


def run_pytest(spec: dict, worktree: Path, out: Path) -> tuple[list, list, str, list, dict]:
    """Same as :func:`run_chain` for judged node ids: pytest on them alone, under the guard at the stage."""
    records_file = out / "records.jsonl"
    records_file.unlink(missing_ok=True)
    env = _base_env(spec)
    env.update({"TINYTORCH_STAGE": str(spec["stage"]), "TINYTORCH_CELL": spec["cell"]})
    env["TINYTORCH_RECORDS"] = str(records_file)
    paths = [str(worktree / "tests"), str(worktree), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)  # the worktree's tinytorch, not an installed one
    command = [spec["python"], "-m", "pytest", *spec["node_ids"], "-p", "regression.guard", "-p", "regression.records"]
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # as the chain runs: only the plugins named
    for plugin in spec.get("pytest_plugins", []):  # pyproject's `timeout` needs pytest-timeout (--strict-config)
        command += ["-p", plugin]
    command += ["-p", "no:cacheprovider", "-q", "--tb=line", f"--rootdir={worktree}"]
    code, output = _run(command, worktree, env, out / "judge.log", spec["timeout"])
    records = read_jsonl(records_file)
    sessions = [r for r in records if r.get("kind") == "session"]
    if not sessions:
        return records, [], f"pytest exited with code {code} before running tests: {_last_line(output)}", [], {}
    files = [s["tinytorch_file"] for s in sessions if s.get("tinytorch_file")]
    return records, [], "", files, {"python": sessions[-1].get("python"), "numpy": sessions[-1].get("numpy")}


def judge(spec: dict, sha: str, out: Path) -> dict:
    worktree = Path(spec["worktree"])
    started = time.perf_counter()
    why = reinstall(spec, worktree, out / "judge.log")
    records, problems, files, versions = [], [], [], {}
    if not why:
        runner = run_pytest if spec["mode"] == "pytest" else run_chain
        records, problems, why, files, versions = runner(spec, worktree, out)
    foreign = [f for f in files if not Path(f).resolve().is_relative_to(worktree.resolve())]
    if foreign:
        raise JudgeError(f"the tests imported tinytorch from {foreign[0]}, not from the worktree {worktree}")
    targets = spec.get("targets")
    result = {"sha": sha, "seconds": 0.0, "out": str(out)}
    if targets is None:  # discovery at --bad: whatever fails there is what gets judged
        result["targets"] = discovered_targets(records, problems)
        verdict = BAD if result["targets"] else (SKIP if why else GOOD)
        reason = f"{len(result['targets'])} failure(s) to judge" if result["targets"] else (why or "nothing fails")
        present = [(t["test_id"], t["reason"]) for t in result["targets"]]
    else:
        verdict, reason, present = decide(targets, records, problems, why)
    result.update(
        verdict=verdict,
        reason=reason,
        present=[{"test_id": tid, "reason": msg} for tid, msg in present],
        python=versions.get("python"),
        numpy=versions.get("numpy"),
        seconds=round(time.perf_counter() - started, 2),
    )
    return result


def _git(worktree: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=worktree, capture_output=True, text=True, check=True).stdout.strip()


def estimate(commits: int) -> int:
    """≈ steps git bisect needs over ``commits`` candidates (``log2``, at least 1)."""
    return max(1, math.ceil(math.log2(commits))) if commits > 1 else 1


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: bisect_judge.py SPEC.json [--label TEXT]", file=sys.stderr)
        return ABORT
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    label = argv[argv.index("--label") + 1] if "--label" in argv else None
    worktree = Path(spec["worktree"])
    sha = _git(worktree, "rev-parse", "HEAD")
    steps = Path(spec["steps_dir"])
    steps.mkdir(parents=True, exist_ok=True)
    number = len(list(steps.glob("step-*.json"))) + 1
    name = f"check-{label}" if label else f"step-{number:02d}"
    result = judge(spec, sha, steps / f"{name}-{sha[:12]}")
    result.update(label=label or f"step {number}", subject=_git(worktree, "log", "-1", "--format=%s", sha))
    write_json(steps / f"{name}-{sha[:12]}.json", result)
    where = f"check --{label}" if label else f"step {number} of ≈{estimate(spec['commits'])}"
    print(
        f"{PREFIX} {where}: {sha[:12]} {result['subject'][:60]} -> {result['verdict'].upper()} "
        f"({result['seconds']:.1f} s) {result['reason']}",
        flush=True,
    )
    return EXIT[result["verdict"]]


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(ABORT)
    except Exception as error:  # a crash must stop the search, not count as "bad" (exit 1)
        traceback.print_exc()
        print(f"{PREFIX} judge error: {type(error).__name__}: {error}", flush=True)
        sys.exit(ABORT)

"""The judge at each commit of a bisect: is the judged failure present here?  ``python judge.py SPEC.json [--label X]``

The search (``search.py``) copies this file, ``tests/regression/contract.py`` and ``exits.py`` into one
folder and runs it from there at every commit: the same judge whatever version of it (or none) a commit
holds. So it imports the standard library and those two files beside it, nothing else. At the worktree's
HEAD it reinstalls the package (``--no-deps``) into the bisect venv when the packaging metadata changed;
runs only what shows the failure, as child processes killed whole at their time-out (``contract.py``):
``tests/regression/chain.py --stages K [--module N]`` of that commit, or pytest on the judged node ids
under the same guard and records plugin; and decides from the per-test records. A judged test id failing
is ``bad`` (exit 1); the judged tests ran and none fails, ``good`` (0), whatever else fails; they could
not run (no chain, a syntax error, an import crash, their files do not collect), ``skip`` (125).
Anything else exits 255 and stops the search rather than pass a broken judge off as a bad commit: a
crash, or SIGTERM/SIGINT (after the child ended its own process groups). Each verdict goes to
``STEPS/<step>-<sha>.json``, which the search reads and prints.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path

from contract import FAIL_OUTCOMES, Classification, RecordKind, Stop
from exits import HarnessError, Interrupted

GOOD, BAD, SKIP = "good", "bad", "skip"
EXIT = {GOOD: 0, BAD: 1, SKIP: 125}
ABORT = 255  # not a verdict: the search stops
GRACE = 15.0  # seconds the chain gets to end its stages after a SIGTERM
OUT, PLUGINS = "{out}", "regression.plugins."  # in the spec: this step's folder; where the plugins live
PACKAGING_FILES = ("pyproject.toml", "setup.cfg", "setup.py")
INSTALL_STAMP = ".bisect-installed"
IMPORT_KINDS = (Classification.LAYERING, Classification.EMPTY)  # the report's classifications

# A failure that only says "tinytorch does not even import here" (not the failure being judged).
CANNOT_IMPORT = re.compile(
    r"^(?:SyntaxError|IndentationError|TabError)\b|\b(?:ImportError|ModuleNotFoundError)\b.*\btinytorch\b"
)


class JudgeError(HarnessError):
    """The judge cannot give a verdict that means anything (e.g. the tests imported another tinytorch)."""


# ----------------------------------------------------------------------------------------- verdict
def _under(test_id: str, collector: str) -> bool:
    """Whether a test's file lies in (or is) what a collection error was reported for."""
    path, collector = test_id.split("::", 1)[0], collector.rstrip("/")
    return path == collector or path.startswith(collector + "/") or collector in ("", ".")


def is_import_break(target: dict) -> bool:
    """Whether the judged failure itself is an import or collection break (then an import crash is it)."""
    return bool(CANNOT_IMPORT.search(target.get("reason") or "")) or target.get("classification") in IMPORT_KINDS


def failures(records: list[dict], problems: list[dict]) -> dict[str, str]:
    """Every failure of a run, test id -> message: failed tests, collection errors, the chain's stage problems."""
    failing: dict[str, str] = {}
    for record in records:
        if record.get("kind") in (RecordKind.TEST, RecordKind.COLLECT_ERROR) and record.get("outcome") in FAIL_OUTCOMES:
            failing.setdefault(record["test_id"], record.get("message") or "")
    for problem in problems:
        failing.setdefault(problem.get("test_id") or "", problem.get("message") or "")
    return failing


def decide(targets: list[dict], records: list[dict], problems: list[dict], ran: str) -> tuple[str, str, list]:
    """(verdict, reason, judged failures present) for one commit.

    ``targets``: the judged failures, ``{"test_id", "reason", "classification"}`` as the report (or the
    run at ``--bad``) gave them; only the test id is required.
    ``records``: the run's per-test records; ``problems``: the chain's stage problems (test id + message);
    ``ran``: "" if the chain or pytest ran to the end, else why not.
    """
    failing = failures(records, problems)
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
    """The collection error that covers ``test_id``, else the first one, else the first stage problem."""
    errors = [r for r in records if r.get("kind") == RecordKind.COLLECT_ERROR]
    covering = [r for r in errors if _under(test_id, r["test_id"])]
    for record in (covering or errors)[:1]:
        return f"cannot collect {record['test_id']}: {record.get('message') or 'collection failed'}"
    if problems:
        return problems[0].get("message") or "the stage failed before its tests ran"
    return "not collected at this commit"


def read_jsonl(path: Path) -> list[dict]:
    """A commit's records, less any line that does not parse (a killed writer's last). Not the harness's
    reader (which refuses such a file): this one runs stand-alone, on what old commits' machinery wrote."""
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if path.is_file() else []:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def write_json(path: Path, data: dict) -> None:
    """A temporary and a rename. Not the harness's: this file runs stand-alone; contract.py has none."""
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


# ----------------------------------------------------------------------------------------- running
STOP = Stop(Interrupted, GRACE)  # its handlers are installed when this file runs as the judge


def _run(command: list[str], cwd: Path, env: dict, log: Path, timeout: float) -> tuple[int, str]:
    """Run ``command`` in its own process group, killed whole at the time-out even if it prints nothing."""
    log.parent.mkdir(parents=True, exist_ok=True)
    output_file = log.with_name(log.name + ".out")
    done = STOP.run(command, timeout=timeout, output=output_file, cwd=cwd, env=env)
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
    """Reinstall the package (``--no-deps``) if its metadata changed; "" or why it failed. The install is
    editable from a worktree fixed for the whole search: a change of sources alone needs none."""
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


def _run_step(spec: dict, worktree: Path, out: Path) -> tuple[int, str]:
    """The spec's ``command`` (``plan.step_command``), ``{out}`` standing for this step's folder; a commit
    older than ``tests/regression/plugins/`` has its plugins at ``regression.<name>``."""
    where = PLUGINS if (worktree / "tests" / "regression" / "plugins").is_dir() else "regression."
    command = [arg.replace(OUT, str(out)).replace(PLUGINS, where) for arg in spec["command"]]
    env = {**os.environ, **{k: v.replace(OUT, str(out)) for k, v in spec["env"].items()}}
    return _run(command, worktree, env, out / "judge.log", spec["step_timeout"])


def run_chain(spec: dict, worktree: Path, out: Path) -> tuple[list, list, str, list, dict]:
    """(records, problems, why it did not run or "", tinytorch files imported, versions) from the commit's chain."""
    if not (worktree / "tests" / "regression" / "chain.py").is_file():
        return [], [], "this commit has no tests/regression/chain.py", [], {}
    code, output = _run_step(spec, worktree, out)
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
    code, output = _run_step(spec, worktree, out)
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
        result["targets"] = [{"test_id": tid, "reason": msg} for tid, msg in failures(records, problems).items()]
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


def main(argv: list[str]) -> int:
    """``SPEC.json STEP LABEL``: judge the worktree's HEAD into ``STEPS/STEP-<sha>.json``, labelled LABEL."""
    if len(argv) != 3:
        print("usage: judge.py SPEC.json STEP LABEL", file=sys.stderr)
        return ABORT
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    worktree, steps = Path(spec["worktree"]), Path(spec["steps_dir"])
    sha = _git(worktree, "rev-parse", "HEAD")
    result = judge(spec, sha, steps / f"{argv[1]}-{sha[:12]}")
    result.update(label=argv[2], subject=_git(worktree, "log", "-1", "--format=%s", sha))
    write_json(steps / f"{argv[1]}-{sha[:12]}.json", result)
    return EXIT[result["verdict"]]


def guarded(argv: list[str]) -> int:
    """:func:`main`, any exception made ``ABORT`` here rather than by ``exits.run_main``, whose exit 1
    would read as a bad commit."""
    try:
        with STOP.installed():
            return main(argv)
    except (Interrupted, KeyboardInterrupt):
        return ABORT  # the search is stopping too; the child's process groups were ended first
    except Exception as error:
        traceback.print_exc()
        print(f"judge error: {type(error).__name__}: {error}", flush=True)  # the search shows this line
        return ABORT


if __name__ == "__main__":
    sys.exit(guarded(sys.argv[1:]))

"""The search: the judge at both ends of the range, then ``git bisect`` driven one judged commit at a time.

Everything runs in the temporary worktree (``git.py``). The judge is the same stand-alone file at every
commit: :func:`stage_judge` copies it with ``contract.py`` and ``exits.py`` into a folder of the search's
own, beside each other, where its imports find them. This loop, not ``git bisect run``, starts each
judge, so each is a direct child run by ``run_with_timeout`` under the search's ``Stop``: bounded in
time, and on SIGTERM or Ctrl-C sent SIGTERM first, so that it ends its chain's process groups before
the worktree goes (``git bisect run`` dies at once and would leave the judge's children running).
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import re
import shutil
import signal
import sys
import time
from collections import Counter
from pathlib import Path

from tools.bisection import git
from tools.bisection.env import Env, has_module
from tools.bisection.plan import Plan, estimate, step_command
from tools.harness import (
    HarnessError,
    Interrupted,
    Stop,
    UsageError,
    build_report,
    current,
    load_cells,
    load_records_cell,
    schema,
)

SCHEMA = current("bisect.json")  # its change log: tests/regression/schema/versions.py
MAX_LINES = 10  # "broke:" lines printed; bisect.json has them all
GRACE = 30.0  # seconds a judge gets to end its chain after a SIGTERM (its own grace for the chain is less)
JUDGE_FILES = (Path(__file__).with_name("judge.py"), Path(inspect.getfile(Stop)), Path(inspect.getfile(HarnessError)))
FIRST_BAD = re.compile(r"^([0-9a-f]{40}) is the first bad commit$")
SHA_LINE = re.compile(r"^([0-9a-f]{40})\b")


class SearchError(HarnessError):
    """The judge could not judge an end of the range (it crashed, or did not finish): exit 1."""


class SearchInterrupted(Interrupted):
    """SIGTERM, SIGINT or SIGHUP: the judge's process groups were ended and the worktree removed."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.args = (f"interrupted ({signal.Signals(signum).name}); the temporary worktree was removed",)


def stage_judge(folder: Path) -> Path:
    """The judge and the two harness files it imports, copied into ``folder`` beside each other."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in JUDGE_FILES:
        shutil.copyfile(path, folder / path.name)
    return folder / "judge.py"


class Search:
    """One bisect: the worktree, the judge's spec, its steps, and the ``git bisect`` it drives."""

    def __init__(self, worktree: Path, plan: Plan, env: Env, commits: int, timeout: float, stop: Stop):
        self.worktree, self.plan, self.stop, self.commits = worktree, plan, stop, commits
        self.base = worktree.parent
        self.judge = stage_judge(self.base / "judge")  # the same judge at every commit, whatever it holds
        self.spec_path = self.base / "spec.json"
        self.steps_dir = self.base / "steps"
        # pytest mode loads no plugin but these (as the chain does): autoloading every one slows each step
        plugins = ["pytest_timeout"] if plan.mode == "pytest" and has_module(env.python, "pytest_timeout") else []
        run = step_command(plan, env.python, worktree, timeout, plugins)
        self.bound = 2 * timeout + 120  # the judge's reinstall and its run, each bounded by the judge itself
        self.spec = {
            "worktree": str(worktree),
            "venv": env.venv,
            "install": list(env.install) if env.install else None,
            "mode": plan.mode,
            "targets": plan.targets,
            "steps_dir": str(self.steps_dir),
            "timeout": timeout,
            **run,
        }
        self.write_spec()
        self.output: list[str] = []  # what git bisect said

    def write_spec(self) -> None:
        self.spec_path.write_text(json.dumps(self.spec, indent=2), encoding="utf-8")

    def _judge(self, step: str, label: str, where: str) -> tuple[dict | None, str]:
        """Judge the worktree's HEAD: (the step's result, "") with its line printed, or (None, why not)."""
        sha = git.git(self.worktree, "rev-parse", "HEAD").stdout.strip()
        output = self.base / "judge-output.txt"
        command = [sys.executable, str(self.judge), str(self.spec_path), step, label]
        done = self.stop.run(command, timeout=self.bound, output=output, cwd=self.worktree)
        result_file = self.steps_dir / f"{step}-{sha[:12]}.json"
        if done.timed_out:
            return None, f"did not finish within {self.bound:.0f} s"
        if done.returncode not in (0, 1, 125) or not result_file.is_file():
            lines = [line for line in output.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
            why = ([line for line in lines if line.startswith("judge error:")] or lines or ["no output"])[-1]
            return None, f"exit {done.returncode}: {why}"
        result = json.loads(result_file.read_text(encoding="utf-8"))
        print(
            f"bisect: {where}: {sha[:12]} {result['subject'][:60]} -> {result['verdict'].upper()} "
            f"({result['seconds']:.1f} s) {result['reason']}",
            flush=True,
        )
        return result, ""

    def check(self, sha: str, label: str) -> dict:
        """Judge one end of the range (``--bad`` or ``--good``) before the search."""
        git.git(self.worktree, "checkout", "--quiet", "--detach", sha)
        result, why = self._judge(f"check-{label}", label, f"check --{label}")
        if result is None:
            raise SearchError(f"the judge failed at --{label} {sha[:12]} ({why})")
        return result

    def _bisect(self, *args: str) -> str:
        """``git bisect ARGS`` in the worktree, its output kept; "" or why it failed."""
        done = git.git(self.worktree, "bisect", *args, check=False)
        self.output += (done.stdout + done.stderr).splitlines()
        if done.returncode != 0 and outcome(self.output) is None:
            return f"git bisect {' '.join(args)} exited {done.returncode}: {last_line(self.output)}"
        return ""

    def run(self, good: str, bad: str) -> dict:
        """``git bisect start BAD GOOD``, then each commit git checks out judged and its verdict told to git
        (``git bisect good|bad|skip``) until git concludes; the outcome as git states it."""
        failed = self._bisect("start", bad, good)
        number = 0
        while not failed:
            found = outcome(self.output)
            if found is not None:  # also before any step: with one candidate git knows at once
                return found
            number += 1
            where = f"step {number} of ≈{estimate(self.commits)}"
            result, why = self._judge(f"step-{number:02d}", f"step {number}", where)
            if result is None:
                return failure(f"the judge failed at {where} ({why})")
            failed = self._bisect(result["verdict"])  # the verdicts are git's words: good, bad, skip
        return failure(failed)

    def steps(self) -> list[dict]:
        files = sorted(self.steps_dir.glob("check-bad-*.json")) + sorted(self.steps_dir.glob("check-good-*.json"))
        files += sorted(self.steps_dir.glob("step-*.json"))
        return [json.loads(path.read_text(encoding="utf-8")) for path in files]


def last_line(lines: list[str]) -> str:
    return ([line for line in lines if line.strip()] or ["no output"])[-1]


def outcome(lines: list[str]) -> dict | None:
    """What ``git bisect`` concluded, from its output: found, ambiguous (only skips left), or None (not yet)."""
    for line in lines:
        match = FIRST_BAD.match(line.strip())
        if match:
            return {"result": "found", "first_bad": match.group(1), "candidates": [match.group(1)]}
    for index, line in enumerate(lines):
        if "first bad commit could be any of" in line:
            candidates = []
            for later in lines[index + 1 :]:
                match = SHA_LINE.match(later.strip())
                if not match:
                    break
                candidates.append(match.group(1))
            return {"result": "ambiguous", "first_bad": None, "candidates": candidates}
    return None


def failure(error: str) -> dict:
    """The outcome of a search that stopped before git concluded."""
    return {"result": "failed", "first_bad": None, "candidates": [], "error": error}


def check_ends(search: Search, args, good: str, bad: str, report_path: Path) -> None:
    """``--bad`` must show the judged failure and ``--good`` must not; else bad input (exit 2)."""
    plan = search.plan
    at_bad = search.check(bad, "bad")
    if at_bad["verdict"] == "skip":
        raise UsageError(f"--bad {args.bad} ({bad[:12]}) cannot be judged: {at_bad['reason']}")
    if plan.targets is None:
        if not at_bad.get("targets"):
            raise UsageError(f"nothing fails at --bad {args.bad} ({bad[:12]}) in {plan.describe()}: nothing to bisect")
        plan.targets = [dict(t, classification=None) for t in at_bad["targets"]]
        plan.source = f"the {len(plan.targets)} failure(s) at --bad"
        search.spec["targets"] = plan.targets
        search.write_spec()
    elif at_bad["verdict"] != "bad":
        raise UsageError(
            f"the judged failure does not show at --bad {args.bad} ({bad[:12]}): {at_bad['verdict']}, "
            f"{at_bad['reason']} (is {report_path} older than --bad? re-run the regression or pass --test)"
        )
    at_good = search.check(good, "good")
    if at_good["verdict"] == "bad":
        raise UsageError(
            f"the failure is older than the good ref: already at --good {args.good} ({good[:12]}) "
            f"{at_good['reason']}; pick an older --good"
        )
    if at_good["verdict"] == "skip":
        raise UsageError(f"--good {args.good} ({good[:12]}) cannot be judged: {at_good['reason']}")


def classify(step: dict, plan: Plan) -> list[dict]:
    """What the first bad commit broke: the judged failures present there, each with its classification.

    The report's classification when it has one; else the classification this checkout's report gives
    that step's records (an int8 test is "broken by quantization" only if its fp32 twin ran and passed
    in the same step).
    """
    computed: dict[str, str] = {}
    if any(p["test_id"] not in plan.classification for p in step.get("present", [])):
        out = Path(step["out"])
        if (out / "stages.json").is_file():
            loaded = load_cells(out)
        else:
            loaded = [load_records_cell(out / "records.jsonl", plan.cell.name)]
        computed = {f.test_id: str(f.classification) for f in build_report(loaded).failures}
    return [
        dict(p, classification=plan.classification.get(p["test_id"]) or computed.get(p["test_id"]))
        for p in step.get("present", [])
    ]


def summarize(args, repo, plan, env, good, bad, commits, found, steps, started) -> dict:
    """``bisect.json``: the range, what was judged and how, every step, and the first bad commit."""
    first = found.get("first_bad")
    first_bad = None
    if first:
        step = next((s for s in steps if s["sha"] == first and s["verdict"] == "bad"), None)
        first_bad = dict(git.commit_info(repo, first), broke=classify(step, plan) if step else [])
    versions = next((s for s in steps if s.get("python")), {})
    return _typed(
        {
            "schema": SCHEMA,
            "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "repo": str(repo),
            "good": {"ref": args.good, "sha": good, "subject": git.subject(repo, good)},
            "bad": {"ref": args.bad, "sha": bad, "subject": git.subject(repo, bad)},
            "cell": plan.cell.name,
            "python": versions.get("python"),
            "numpy": versions.get("numpy"),
            "interpreter": env.python,
            "mode": plan.mode,
            "stage": plan.stage,
            "module": plan.module,
            "node_ids": plan.node_ids,
            "judged": plan.targets,
            "judged_from": plan.source,
            "commits": commits,
            "steps": [
                {k: s.get(k) for k in ("label", "sha", "subject", "verdict", "reason", "seconds")} for s in steps
            ],
            "result": found["result"],
            "error": found.get("error"),
            "first_bad": first_bad,
            "candidates": found["candidates"],
            "seconds": round(time.perf_counter() - started, 1),
            "env_seconds": getattr(args, "env_seconds", None),  # of those: making or checking the venv
        }
    )


def _typed(data: dict) -> dict:
    """``bisect.json`` built through its type (``schema.BisectResult``), checked field by field."""
    return schema.BisectResult.from_json(data, "bisect.json").to_json()


def print_result(result: dict, out_path: Path) -> None:
    searched = [s for s in result["steps"] if not s["label"].startswith(("bad", "good"))]
    skipped = sum(s["verdict"] == "skip" for s in searched)
    if result["result"] == "found":
        first = result["first_bad"]
        print(f"first bad commit: {first['sha']} {first['subject']}")
        for broke in first["broke"][:MAX_LINES]:
            print(f"  broke: {broke['test_id']} [{broke.get('classification') or 'unclassified'}] - {broke['reason']}")
        if len(first["broke"]) > MAX_LINES:
            kinds = Counter(b.get("classification") or "unclassified" for b in first["broke"])
            summary = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
            print(f"  ... {len(first['broke'])} judged failures in all ({summary}): every one in {out_path}")
    elif result["result"] == "ambiguous":
        print("bisect: only skipped commits are left: the first bad commit is one of")
        for sha in result["candidates"]:
            print(f"  {sha}")
    else:
        print(f"bisect: failed: {result['error']}")
    print(
        f"bisect: {len(searched)} step(s) ({skipped} skipped) + 2 checks over {result['commits']} commit(s) "
        f"in {result['seconds']:.1f} s (venv {result['env_seconds'] or 0:.1f} s) -> {out_path}"
    )

"""The bisect's command line and search (``tools/bisect_main.py`` is its entry point; read its docstring)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tinytorch.registry import LAST_STAGE  # import-free: loads no tinytorch module
from tools import bisect_env, bisect_git, cells, interpreters, matrix
from tools.atomic import write_json
from tools.bisect_git import GitError, Interrupted
from tools.bisect_judge import estimate

REPO_ROOT = Path(__file__).resolve().parent.parent

SCHEMA = 1
MAX_LINES = 10  # "broke:" lines printed; bisect.json has them all
JUDGE = Path(__file__).with_name("bisect_judge.py")
CONTRACT = Path(__file__).resolve().parents[1] / "tests" / "regression" / "contract.py"
PREFIX = "[bisect]"  # the judge's progress lines inside git's output
FIRST_BAD = re.compile(r"^([0-9a-f]{40}) is the first bad commit$")
SHA_LINE = re.compile(r"^([0-9a-f]{40})\b")
_MODULE_DIR = re.compile(r"(?:^|/)modules/(\d{2})_[^/]+/")


class InputError(Exception):
    """Bad input: one line, exit 2, nothing touched."""


@dataclass
class Plan:
    """What each step runs and which failures it judges."""

    cell: matrix.Cell
    mode: str  # "chain" (chain.py --stages K [--module N]) | "pytest" (the node ids alone)
    stage: int
    module: int | None
    node_ids: list[str]
    targets: list[dict] | None  # {"test_id", "reason", "classification"}; None: take what fails at --bad
    source: str  # where the targets come from
    classification: dict = field(default_factory=dict)  # test id -> the report's classification

    def describe(self) -> str:
        if self.mode == "pytest":
            what = f"{len(self.node_ids)} test id(s) at stage {self.stage:02d}"
        else:
            what = f"chain stage {self.stage:02d}" + (f", module {self.module:02d} only" if self.module else "")
        count = "the failures at --bad" if self.targets is None else f"{len(self.targets)} failure(s)"
        return f"{what}; judging {count} ({self.source})"


# ------------------------------------------------------------------------------------------ input
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bisect", description="Find the commit that broke a test, stage or module (git bisect + the chain)."
    )
    parser.add_argument("--good", required=True, help="a commit where the failure is absent (older)")
    parser.add_argument("--bad", default="HEAD", help="a commit where it shows (default HEAD)")
    parser.add_argument("--cell", help="Python x NumPy cell, e.g. py3.12-np2.5 (default: first red cell of the report)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--test", action="append", metavar="NODEID", help="judge this pytest node id (repeatable)")
    which.add_argument("--module", type=int, help="judge module N's tests (at stage --stage, default N)")
    parser.add_argument("--stage", type=int, help="the stage to run at (default: the report's first red stage)")
    parser.add_argument("--report", type=Path, help="the regression report (default reports/regression.json)")
    parser.add_argument("--out", type=Path, help="where to write the result (default reports/bisect.json)")
    parser.add_argument("--python", type=Path, help="judge with this interpreter as it is (no venv, no installs)")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="the repository (default: the current one)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds one step may take (default 900)")
    return parser.parse_args(argv)


def reports_dir(repo: Path) -> Path:
    """``$TINYTORCH_REPORTS`` (relative to the repository) if set, else ``<repo>/reports``."""
    root = os.environ.get(cells.ENV_REPORTS)
    return (repo / root if not Path(root).is_absolute() else Path(root)) if root else repo / "reports"


def load_report(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(f"--report {path}: not a readable regression.json ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("failures", []), list):
        raise InputError(f"--report {path}: no failures list; is it a tests/regression/report.py output?")
    return data


def default_cell() -> matrix.Cell:
    """The default Python with the newest NumPy it has wheels for."""
    return [c for c in matrix.all_cells() if c.python == matrix.DEFAULT_PYTHON][-1]


def choose_cell(name: str | None, report: dict | None) -> matrix.Cell:
    if name is None:
        red = [c.get("cell") for c in (report or {}).get("cells", []) if c.get("red")]
        if not red:
            return default_cell()
        name = red[0]
        try:
            return matrix.cell_by_name(name)
        except KeyError:
            raise InputError(f"the report's first red cell {name!r} is no matrix cell: pass --cell") from None
    try:
        return matrix.cell_by_name(name)
    except KeyError as error:
        raise InputError(f"--cell: {error.args[0]}") from None


def _check_number(option: str, value: int | None) -> None:
    if value is not None and not 1 <= value <= LAST_STAGE:
        raise InputError(f"{option} {value}: must lie in 1..{LAST_STAGE}")


def module_of(test_id: str) -> int | None:
    match = _MODULE_DIR.search(test_id.replace("\\", "/"))
    return int(match.group(1)) if match else None


def _targets(failures: list[dict]) -> list[dict]:
    seen: dict[str, dict] = {}
    for f in failures:
        seen.setdefault(
            f["test_id"],
            {"test_id": f["test_id"], "reason": f.get("reason") or "", "classification": f.get("classification")},
        )
    return list(seen.values())


def make_plan(args: argparse.Namespace, report: dict | None, cell: matrix.Cell, report_path: Path) -> Plan:
    _check_number("--stage", args.stage)
    _check_number("--module", args.module)
    failures = [f for f in (report or {}).get("failures", []) if f.get("cell") == cell.name and f.get("test_id")]
    known = {f["test_id"]: f for f in failures}
    if args.test:
        stages = []
        for test_id in args.test:
            if args.stage is None:
                stage = min((f["stage"] for f in failures if f["test_id"] == test_id), default=module_of(test_id))
                if stage is None:
                    raise InputError(
                        f"--test {test_id}: not under tests/modules/NN_*/, so its stage is unknown: pass --stage K"
                    )
                stages.append(stage)
        targets = [
            {
                "test_id": t,
                "reason": known.get(t, {}).get("reason", ""),
                "classification": known.get(t, {}).get("classification"),
            }
            for t in dict.fromkeys(args.test)
        ]
        plan = Plan(cell, "pytest", args.stage or max(stages), None, [t["test_id"] for t in targets], targets, "--test")
        plan.classification = {t["test_id"]: t["classification"] for t in targets if t.get("classification")}
        return plan
    selected = failures
    if args.module is not None:
        selected = [f for f in selected if f.get("module") == args.module]
    if args.stage is not None:
        selected = [f for f in selected if f.get("stage") == args.stage]
    elif selected:
        red = {c.get("cell"): c.get("first_red_stage") for c in (report or {}).get("cells", [])}
        first = red.get(cell.name) if args.module is None else None
        stage = first if first in {f["stage"] for f in selected} else min(f["stage"] for f in selected)
        selected = [f for f in selected if f["stage"] == stage]
    if selected:
        stage = selected[0]["stage"]
        modules = {f.get("module") for f in selected}
        module = args.module if args.module is not None else (modules.pop() if len(modules) == 1 else None)
        targets = _targets(selected)
        source = f"{report_path}, cell {cell.name}, stage {stage:02d}"
    elif args.stage is None and args.module is None:
        raise InputError(
            f"nothing to judge: {report_path} has no failure on {cell.name} "
            f'(run `nox -s "regression({cell.name})"` first), or pass --test, --stage or --module'
        )
    else:
        stage = args.stage if args.stage is not None else args.module
        module, targets, source = args.module, None, "whatever fails at --bad"
    if module is not None and module > stage:
        raise InputError(f"--module {module}: its tests cannot run at stage {stage}, before the module exists")
    plan = Plan(cell, "chain", stage, module, [], targets, source)
    plan.classification = {t["test_id"]: t["classification"] for t in targets or [] if t.get("classification")}
    return plan


def prepare_env(args: argparse.Namespace, cell: matrix.Cell, repo: Path) -> bisect_env.Env:
    if args.python is not None:
        if interpreters.probe(args.python) is None:
            raise InputError(f"--python {args.python}: does not run as CPython")
        return bisect_env.as_is(args.python.absolute())  # not resolve(): a venv's python is a symlink
    found = interpreters.find(cell.python)
    if found is None:
        raise InputError(f"cell {cell.name}: {interpreters.missing_reason(cell.python)}")
    return bisect_env.prepare(cell, found.path, repo / ".nox" / "bisect-envs")


# ------------------------------------------------------------------------------------------ running
class Search:
    """One bisect: the worktree, the judge's spec, its steps, and ``git bisect run``."""

    def __init__(self, repo: Path, worktree: Path, plan: Plan, env: bisect_env.Env, commits: int, timeout: float):
        self.repo, self.worktree, self.plan = repo, worktree, plan
        self.base = worktree.parent
        self.judge = self.base / "bisect_judge.py"
        shutil.copyfile(JUDGE, self.judge)  # the same judge at every commit, whatever the commit holds
        shutil.copyfile(CONTRACT, self.base / "contract.py")  # the judge's one dependency besides the stdlib
        self.spec_path = self.base / "spec.json"
        self.steps_dir = self.base / "steps"
        self.spec = {
            "worktree": str(worktree),
            "python": env.python,
            "venv": env.venv,
            "install": list(env.install) if env.install else None,
            "mode": plan.mode,
            "stage": plan.stage,
            "module": plan.module,
            "node_ids": plan.node_ids,
            # pytest mode loads no plugin but these (as the chain does): autoloading them all costs seconds
            "pytest_plugins": ["pytest_timeout"]
            if plan.mode == "pytest" and bisect_env.has_module(env.python, "pytest_timeout")
            else [],
            "targets": plan.targets,
            "cell": plan.cell.name,
            "steps_dir": str(self.steps_dir),
            "commits": commits,
            "timeout": timeout,
        }
        self.write_spec()
        self.output: list[str] = []

    def write_spec(self) -> None:
        self.spec_path.write_text(json.dumps(self.spec, indent=2), encoding="utf-8")

    def _line(self, line: str) -> None:
        self.output.append(line)
        if line.startswith(PREFIX):
            print("bisect:" + line[len(PREFIX) :], flush=True)

    def check(self, sha: str, label: str) -> dict:
        """Judge one end of the range (``--bad`` or ``--good``) before the search."""
        bisect_git.git(self.worktree, "checkout", "--quiet", "--detach", sha)
        code = bisect_git.stream(
            [sys.executable, str(self.judge), str(self.spec_path), "--label", label], self.worktree, self._line
        )
        results = sorted(self.steps_dir.glob(f"check-{label}-*.json"))
        if code not in (0, 1, 125) or not results:
            raise RuntimeError(f"the judge failed at --{label} {sha[:12]} (exit {code}): {self._last_output()}")
        return json.loads(results[-1].read_text(encoding="utf-8"))

    def run(self, good: str, bad: str) -> dict:
        """``git bisect start bad good`` + ``git bisect run`` the judge; the outcome as git states it."""
        start = bisect_git.git(self.worktree, "bisect", "start", bad, good)
        for line in (start.stdout + start.stderr).splitlines():
            self._line(line)
        code = 0
        if not any(FIRST_BAD.match(line) for line in self.output):  # a single candidate: git knows already
            code = bisect_git.stream(
                ["git", "bisect", "run", sys.executable, str(self.judge), str(self.spec_path)],
                self.worktree,
                self._line,
            )
        return outcome(self.output, code)

    def steps(self) -> list[dict]:
        files = sorted(self.steps_dir.glob("check-bad-*.json")) + sorted(self.steps_dir.glob("check-good-*.json"))
        files += sorted(self.steps_dir.glob("step-*.json"))
        return [json.loads(path.read_text(encoding="utf-8")) for path in files]

    def _last_output(self) -> str:
        lines = [line for line in self.output if line.strip()]
        return lines[-1] if lines else "no output"


def outcome(lines: list[str], code: int) -> dict:
    """What ``git bisect`` concluded, from its output: found, ambiguous (skips) or failed."""
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
    errors = [line for line in lines if "judge error" in line or "bisect run failed" in line or "error" in line.lower()]
    why = (errors or [line for line in lines if line.strip()] or ["no output"])[-1]
    return {"result": "failed", "first_bad": None, "candidates": [], "error": f"git bisect run exited {code}: {why}"}


def classify(step: dict, plan: Plan) -> list[dict]:
    """What the first bad commit broke: the judged failures present there, each with its classification.

    The report's classification when it has one; else the classification the current checkout's
    ``report.py`` gives that step's records (an int8 test is "broken by quantization" only if its fp32
    twin ran and passed in the same step).
    """
    computed: dict[str, str] = {}
    missing = [p["test_id"] for p in step.get("present", []) if p["test_id"] not in plan.classification]
    if missing:
        computed = _classify_records(Path(step["out"]), plan.cell.name)
    return [
        dict(p, classification=plan.classification.get(p["test_id"]) or computed.get(p["test_id"]))
        for p in step.get("present", [])
    ]


def _classify_records(out: Path, cell: str) -> dict[str, str]:
    tests_dir = str(REPO_ROOT / "tests")
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    from regression.analysis import build_report  # the checkout's classifier
    from regression.loading import load_cells, load_records_cell

    if (out / "stages.json").is_file():
        loaded = load_cells(out)
    else:
        loaded = [load_records_cell(out / "records.jsonl", cell)]
    built = build_report(loaded)
    return {f.test_id: str(f.classification) for f in built.failures}


# ------------------------------------------------------------------------------------------ main
def bisect(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    repo = bisect_git.toplevel(args.repo)
    good = bisect_git.resolve(repo, args.good, "--good")
    bad = bisect_git.resolve(repo, args.bad, "--bad")
    if good == bad:
        raise InputError(f"--good {args.good} and --bad {args.bad} are the same commit {good[:12]}: nothing to search")
    if not bisect_git.is_ancestor(repo, good, bad):
        raise InputError(
            f"--good {args.good} ({good[:12]}) is not an ancestor of --bad {args.bad} ({bad[:12]}): "
            "the good commit must be older, on the bad commit's history"
        )
    report_path = args.report or reports_dir(repo) / "regression.json"
    out_path = args.out or reports_dir(repo) / "bisect.json"
    report = load_report(report_path)
    cell = choose_cell(args.cell, report)
    plan = make_plan(args, report, cell, report_path)
    env_started = time.perf_counter()
    env = prepare_env(args, cell, repo)
    args.env_seconds = round(time.perf_counter() - env_started, 1)
    commits = bisect_git.count_between(repo, good, bad)
    print(f"bisect: {commits} commit(s) in --good {args.good}..--bad {args.bad}, ≈{estimate(commits)} step(s)")
    print(f"bisect: cell {cell.name} ({env.python}); {plan.describe()}")
    if bisect_git.is_dirty(repo):
        print("bisect: your checkout has uncommitted changes; the search covers committed history only")
    with bisect_git.signals_as_exceptions(), bisect_git.temporary_worktree(repo, bad) as worktree:
        search = Search(repo, worktree, plan, env, commits, args.timeout)
        try:
            check_ends(search, args, good, bad, report_path)
            found = search.run(good, bad)
        except GitError as error:  # past the input checks, a git failure is no bad input
            raise RuntimeError(str(error)) from None
        # inside: classifying reads the steps' records, which go with the temporary folder
        result = summarize(args, repo, plan, env, good, bad, commits, found, search.steps(), started)
    write_json(out_path, result)
    print_result(result, out_path)
    return 0 if result["result"] == "found" else 1


def check_ends(search: Search, args: argparse.Namespace, good: str, bad: str, report_path: Path) -> None:
    """``--bad`` must show the judged failure and ``--good`` must not; else bad input (exit 2)."""
    plan = search.plan
    at_bad = search.check(bad, "bad")
    if at_bad["verdict"] == "skip":
        raise InputError(f"--bad {args.bad} ({bad[:12]}) cannot be judged: {at_bad['reason']}")
    if plan.targets is None:
        if not at_bad.get("targets"):
            raise InputError(f"nothing fails at --bad {args.bad} ({bad[:12]}) in {plan.describe()}: nothing to bisect")
        plan.targets = [dict(t, classification=None) for t in at_bad["targets"]]
        plan.source = f"the {len(plan.targets)} failure(s) at --bad"
        search.spec["targets"] = plan.targets
        search.write_spec()
    elif at_bad["verdict"] != "bad":
        raise InputError(
            f"the judged failure does not show at --bad {args.bad} ({bad[:12]}): {at_bad['verdict']}, "
            f"{at_bad['reason']} (is {report_path} older than --bad? re-run the regression or pass --test)"
        )
    at_good = search.check(good, "good")
    if at_good["verdict"] == "bad":
        raise InputError(
            f"the failure is older than the good ref: already at --good {args.good} ({good[:12]}) "
            f"{at_good['reason']}; pick an older --good"
        )
    if at_good["verdict"] == "skip":
        raise InputError(f"--good {args.good} ({good[:12]}) cannot be judged: {at_good['reason']}")


def summarize(args, repo, plan, env, good, bad, commits, found, steps, started) -> dict:
    first = found.get("first_bad")
    first_bad = None
    if first:
        step = next((s for s in steps if s["sha"] == first and s["verdict"] == "bad"), None)
        first_bad = dict(bisect_git.commit_info(repo, first), broke=classify(step, plan) if step else [])
    versions = next((s for s in steps if s.get("python")), {})
    return {
        "schema": SCHEMA,
        "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "repo": str(repo),
        "good": {"ref": args.good, "sha": good, "subject": bisect_git.subject(repo, good)},
        "bad": {"ref": args.bad, "sha": bad, "subject": bisect_git.subject(repo, bad)},
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
        "steps": [{k: s.get(k) for k in ("label", "sha", "subject", "verdict", "reason", "seconds")} for s in steps],
        "result": found["result"],
        "error": found.get("error"),
        "first_bad": first_bad,
        "candidates": found["candidates"],
        "seconds": round(time.perf_counter() - started, 1),
        "env_seconds": getattr(args, "env_seconds", None),  # of those: making or checking the venv
    }


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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return bisect(args)
    except (InputError, GitError) as error:
        print(f"bisect: {error}", file=sys.stderr)
        return 2
    except bisect_env.EnvError as error:
        print(f"bisect: {error}", file=sys.stderr)
        return 1
    except RuntimeError as error:
        print(f"bisect: {error}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Interrupted) as error:
        print(f"bisect: interrupted ({str(error) or 'SIGINT'}); the temporary worktree was removed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

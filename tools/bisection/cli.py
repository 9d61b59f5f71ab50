"""The bisect's command line: its arguments, their checks, and the main flow from the refs to ``bisect.json``.

Every check of the arguments — the flags, the refs, the report, the cell, the plan, the interpreter —
is made before anything is touched (no venv made, no worktree added), and a refusal is one line, exit 2
(``UsageError``/``InputError``, made an exit code by ``exits.run_main`` in ``__main__.py`` alone).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from tools import cells, interpreters
from tools.bisection import env as venv
from tools.bisection import git
from tools.bisection.plan import choose_cell, estimate, make_plan
from tools.bisection.search import GRACE, Search, SearchInterrupted, check_ends, print_result, summarize
from tools.harness import InputError, Stop, UsageError, write_json


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own: usage text and exit 2; here one line, through run_main
        raise UsageError(f"{message} (see --help)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(
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
    args = parser.parse_args(argv)
    if not args.timeout > 0:
        raise UsageError(f"--timeout {args.timeout:g}: give a positive number of seconds, e.g. --timeout 900")
    return args


def reports_dir(repo: Path) -> Path:
    """``$TINYTORCH_REPORTS`` (relative to the repository) if set, else ``<repo>/reports``."""
    root = os.environ.get(cells.ENV_REPORTS)
    return (repo / root if not Path(root).is_absolute() else Path(root)) if root else repo / "reports"


def load_report(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"--report {path}: not a readable regression.json ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("failures", []), list):
        raise InputError(f"--report {path}: no failures list; is it a tests/regression/report.py output?")
    return data


def prepare_env(args: argparse.Namespace, cell, repo: Path) -> venv.Env:
    """``--python`` as it is, or the cell's venv (made once, then reused); refused before anything is made."""
    if args.python is not None:
        if interpreters.probe(args.python) is None:
            raise UsageError(f"--python {args.python}: does not run as CPython")
        return venv.as_is(args.python.absolute())  # not resolve(): a venv's python is a symlink
    found = interpreters.find(cell.python)
    if found is None:
        raise UsageError(f"cell {cell.name}: {interpreters.missing_reason(cell.python)}")
    return venv.prepare(cell, found.path, repo / ".nox" / "bisect-envs", args.timeout)


def bisect(args: argparse.Namespace, stop: Stop) -> int:
    """The whole run: the checks, the venv, the search in a temporary worktree, ``bisect.json``; 0 found, 1 not."""
    started = time.perf_counter()
    repo = git.toplevel(args.repo)
    good = git.resolve(repo, args.good, "--good")
    bad = git.resolve(repo, args.bad, "--bad")
    if good == bad:
        raise UsageError(f"--good {args.good} and --bad {args.bad} are the same commit {good[:12]}: nothing to search")
    if not git.is_ancestor(repo, good, bad):
        raise UsageError(
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
    commits = git.count_between(repo, good, bad)
    print(f"bisect: {commits} commit(s) in --good {args.good}..--bad {args.bad}, ≈{estimate(commits)} step(s)")
    print(f"bisect: cell {cell.name} ({env.python}); {plan.describe()}")
    if git.is_dirty(repo):
        print("bisect: your checkout has uncommitted changes; the search covers committed history only")
    with git.temporary_worktree(repo, bad) as worktree:
        search = Search(worktree, plan, env, commits, args.timeout, stop)
        check_ends(search, args, good, bad, report_path)
        found = search.run(good, bad)
        # inside: classifying reads the steps' records, which go with the temporary folder
        result = summarize(args, repo, plan, env, good, bad, commits, found, search.steps(), started)
    write_json(out_path, result)
    print_result(result, out_path)
    return 0 if result["result"] == "found" else 1


def main(argv: list[str] | None = None) -> int:
    """Parse, then run under the search's ``Stop`` (SIGTERM/Ctrl-C end the judge first, then the worktree goes)."""
    args = parse_args(argv)
    with Stop(SearchInterrupted, GRACE).installed() as stop:
        return bisect(args, stop)

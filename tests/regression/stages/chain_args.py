"""The chain's command line: every argument parsed and checked before anything is touched.

A bad argument is an ``exits.UsageError``: one line naming the argument, the value and the fix (exit 2
through ``exits.run_main``). ``validate`` turns good arguments into the stage plans and the ``Context``
every stage of the run shares.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from regression.common import first_line, parse_stages, unwritable_folder
from regression.exits import UsageError
from regression.stages.reuse import NO_REUSE, REUSE_ANY, REUSE_MODES
from regression.stages.stage import ENTRY, Context, StagePlan, plan
from regression.stages.stage_store import StageStore
from tinytorch.registry import LAST_STAGE

TESTS_DIR = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = TESTS_DIR.parent
PYTEST_USAGE_ERROR = 4  # pytest.ExitCode.USAGE_ERROR, without importing pytest into the chain process


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump: the message names the argument
        raise UsageError(f"{message} (see --help)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(
        prog="chain.py",
        description="Run the tinytorch regression chain (stage k = tests of modules 01..k under the import guard).",
    )
    parser.add_argument("--cell", required=True, help="name of this Python x NumPy cell, e.g. py3.12-np2.2")
    parser.add_argument("--out", required=True, type=Path, help="output folder, e.g. reports/cells/CELL")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--stages", help="stages to run: 1-16 (default), 9, 1-3,9")
    which.add_argument("--upto", type=int, help="run stages 1..K")
    parser.add_argument("--module", type=int, help="run only module N's test folder, at stage N (or at --stages)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="stages run in parallel (default: CPUs)")
    parser.add_argument("--coverage", action="store_true", help="run each stage under coverage run")
    parser.add_argument("--rcfile", type=Path, default=None, help="coverage config (default: ROOT/coverage.toml)")
    parser.add_argument(
        "--import-from",
        choices=("auto", "installed", "checkout"),
        default="auto",
        help="which tinytorch the tests import: the interpreter's installed one, the checkout at --root, "
        "or auto = installed if importable, else the checkout (default)",
    )
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="repository root (default: this checkout)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds before a stage is killed (default 900)")
    parser.add_argument(
        "--plugin-autoload",
        action="store_true",
        help="let pytest load every installed plugin (default: only pytest-timeout, for a fast start)",
    )
    parser.add_argument(
        "--first-red",
        action="store_true",
        help="stop the cell at its first red stage: stages run in ascending order, those above it are cancelled",
    )
    parser.add_argument(
        "--reuse",
        choices=REUSE_MODES,
        default=REUSE_ANY,
        help="reuse stored stage results whose inputs are identical: any (default), same-commit (only results "
        "recorded at this commit), none",
    )
    parser.add_argument("--no-reuse", dest="reuse", action="store_const", const=NO_REUSE, help="= --reuse none")
    parser.add_argument("--store", type=Path, default=None, help="stage result store (default: ROOT/.regression-cache)")
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="if another chain is writing --out, exit 2 (naming it) instead of waiting",
    )
    parser.add_argument("--skipped", metavar="REASON", help="record this cell as skipped with REASON; run nothing")
    parser.add_argument("--check-only", action="store_true", help="validate the arguments, touch nothing, exit 0/2")
    parser.add_argument("--pytest-args", nargs=argparse.REMAINDER, default=[], help="extra pytest arguments (last)")
    return parser.parse_args(argv)


def check_cell_and_out(args: argparse.Namespace) -> None:
    if not args.cell.strip():
        raise UsageError("--cell '': give the cell a name, e.g. --cell py3.12-np2.5")
    out = args.out.absolute()
    if out.is_symlink():
        raise UsageError(
            f"--out {args.out}: is a symbolic link; give the real folder, nothing is written through a link"
        )
    problem = unwritable_folder(args.out.resolve(), "--out")
    if problem:
        raise UsageError(problem)
    for sub in ("logs", "records", "coverage"):  # what the chain writes into: real folders or nothing
        path = out / sub
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            kind = "a symbolic link" if path.is_symlink() else "a file"
            raise UsageError(f"--out {args.out}: {path} is {kind}, not a folder; remove it (nothing was written)")


def chosen_stages(args: argparse.Namespace) -> list[int]:
    if args.upto is not None:
        if not 1 <= args.upto <= LAST_STAGE:
            raise UsageError(f"--upto {args.upto}: stages run 1..{LAST_STAGE}; pass --upto 1 to --upto {LAST_STAGE}")
        return list(range(1, args.upto + 1))
    if args.stages is not None:
        return parse_stages(args.stages)
    if args.module is not None:
        return parse_stages(str(args.module))
    return list(range(1, LAST_STAGE + 1))


def check_pytest_args(root: Path, pytest_args: list[str]) -> None:
    """A pytest usage error is the caller's mistake, not a red matrix: ask pytest before any stage runs."""
    if not pytest_args:
        return
    with tempfile.TemporaryDirectory(prefix="chain-args-") as empty:
        command = [sys.executable, str(ENTRY), "--collect-only", "-q", "-p", "no:cacheprovider", f"--rootdir={root}"]
        done = subprocess.run(
            [*command, *pytest_args, empty],
            cwd=root,
            env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if done.returncode == PYTEST_USAGE_ERROR:
        reason = first_line(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.stdout)
        raise UsageError(f"--pytest-args {shlex.join(pytest_args)}: pytest refuses them: {reason}")


def validate(args: argparse.Namespace) -> tuple[list[StagePlan], Context]:
    """Every argument checked before anything is touched (exit 2 with one line naming it)."""
    check_cell_and_out(args)
    try:
        plans = plan(chosen_stages(args), args.module)
    except (ValueError, KeyError) as error:
        raise UsageError(str(error).strip("'\"")) from None
    if args.module is not None and not 1 <= args.module <= LAST_STAGE:
        raise UsageError(f"--module {args.module}: modules are 1..{LAST_STAGE}")
    if not math.isfinite(args.timeout) or args.timeout <= 0:
        raise UsageError(f"--timeout {args.timeout}: give a positive number of seconds, e.g. --timeout 900")
    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: run at least 1 stage at a time, e.g. --jobs 2")
    root = args.root.resolve()
    if not (root / "tests" / "modules").is_dir():
        raise UsageError(f"--root {args.root}: not a tinytorch checkout (no tests/modules/); pass the repository root")
    rcfile = (args.rcfile or root / "coverage.toml").resolve()
    if args.coverage and not rcfile.is_file():
        raise UsageError(f"--coverage needs {rcfile} (pass --rcfile PATH)")
    if args.coverage and importlib.util.find_spec("pytest_cov") is None:
        raise UsageError(f"--coverage needs pytest-cov in this interpreter: {sys.executable} -m pip install pytest-cov")
    check_pytest_args(root, list(args.pytest_args))
    if args.store is not None:
        problem = unwritable_folder(args.store.resolve(), "--store")
        if problem:
            raise UsageError(problem)
    import_from = args.import_from
    if import_from == "auto":
        import_from = "installed" if _installed_tinytorch() else "checkout"
    ctx = Context(
        cell=args.cell,
        out=args.out.resolve(),
        root=root,
        coverage=args.coverage,
        rcfile=rcfile,
        import_from=import_from,
        timeout=args.timeout,
        autoload=args.plugin_autoload,
        pytest_args=list(args.pytest_args),
        traced_after=traced_after(plans),
        record_inputs=args.reuse != NO_REUSE,
        # Bytecode beside the stage store: shared by every cell and run of this checkout (each .pyc is
        # named for its interpreter and pytest version), so a new --out folder does not recompile.
        pycache=StageStore.for_root(root).folder / "pycache",  # not --store's: a new store needs no recompile
    )
    return plans, ctx


def traced_after(plans: list[StagePlan]) -> dict[str, int]:
    """Per stage, the stage run just below it in this cell (0 for the lowest): a case new above that stage
    is traced there. With every stage run it is k-1; with ``--stages 9`` alone it is 0 (trace everything)."""
    ordered = sorted(plans, key=lambda p: p.stage)
    return {p.key: (ordered[i - 1].stage if i else 0) for i, p in enumerate(ordered)}


def _installed_tinytorch() -> bool:
    """Whether tinytorch is installed in this interpreter (regular or editable), not just sitting in the checkout."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution("tinytorch")
    except PackageNotFoundError:
        return False
    return True

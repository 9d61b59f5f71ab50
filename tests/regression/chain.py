"""The stage runner CLI: stage k = a fresh interpreter running the tests of modules 01..k under the import guard.

    python tests/regression/chain.py --cell CELL --out reports/cells/CELL
        [--stages 1-16 | --upto K] [--module N] [--jobs N] [--coverage [--rcfile coverage.toml]]
        [--first-red] [--reuse any|same-commit|none | --no-reuse] [--store PATH]
        [--import-from auto|installed|checkout] [--timeout S] [--plugin-autoload]
        [--pytest-args ARGS...]                        # must come last: everything after it goes to pytest
    python tests/regression/chain.py --cell CELL --out DIR --skipped "REASON"   # record a cell that could not run

Run by the cell's interpreter (the venv that has tinytorch and NumPy installed). Writes ``DIR/stages.json``
(the cell and per stage its verdict, see stage.py), the records file it names (every test record of
every stage, see records.py), ``DIR/logs/stage_KK.log`` (full pytest output) and with ``--coverage``
``DIR/coverage/.coverage.<cell>.<KK>``. The pieces: stage.py (one stage and its verdict), scheduler.py
(parallel stages, ``--first-red``), reuse.py + stage_store.py (never re-run a stage whose inputs did not
change), publish.py (the result made whole at once). Exit status 0 iff no stage run is red; 2 for bad
arguments; 130/143 when interrupted. See tests/regression/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: `regression` lives in tests/, the registry in the checkout
    _HERE = Path(__file__).resolve().parent
    sys.path[0] = str(_HERE.parent)
    sys.path.append(str(_HERE.parents[1]))  # after site-packages: an installed tinytorch wins

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from regression.common import first_line, git_head, parse_stages, read_jsonl, unwritable_folder  # noqa: E402
from regression.out_lock import FolderBusy, exclusive  # noqa: E402
from regression.progress import ENV_PROGRESS, Progress  # noqa: E402, F401  (re-exported for the tests)
from regression.publish import cell_header, drop_stale_coverage, make_work_folder, publish, write_skipped  # noqa: E402
from regression.reuse import REUSE_MODES, Reuse  # noqa: E402
from regression.scheduler import Interrupted, install_signal_handlers, run_chain  # noqa: E402
from regression.stage import (  # noqa: E402, F401  (re-exported: the chain's tests and tools use them)
    ENTRY,
    Context,
    StagePlan,
    build_command,
    build_env,
    judge_stage,
    plan,
    run_stage,
)
from regression.stage_store import Hashes, StageStore  # noqa: E402
from tinytorch.registry import LAST_STAGE  # noqa: E402

TESTS_DIR = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = TESTS_DIR.parent
PYTEST_USAGE_ERROR = 4  # pytest.ExitCode.USAGE_ERROR, without importing pytest into the chain process
summarize = judge_stage  # the old name


class UsageError(ValueError):
    """A bad argument: one line on stderr, exit 2, nothing touched."""


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
        default="any",
        help="reuse stored stage results whose inputs are identical: any (default), same-commit (only results "
        "recorded at this commit), none",
    )
    parser.add_argument("--no-reuse", dest="reuse", action="store_const", const="none", help="= --reuse none")
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
        record_inputs=args.reuse != "none",
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


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        if args.skipped is not None:
            check_cell_and_out(args)
            return write_skipped(args.out, args.cell, args.skipped)
        plans, ctx = validate(args)
    except UsageError as error:
        print(f"chain.py: {error}", file=sys.stderr)
        return 2
    if args.check_only:
        print(f"chain.py: arguments ok ({len(plans)} stage(s) would run)", file=sys.stderr)
        return 0
    install_signal_handlers()
    try:
        with exclusive(ctx.out, wait=not args.no_wait, who="chain.py"):  # one chain per --out at a time
            return run_and_publish(args, argv, plans, ctx)
    except FolderBusy as busy:
        print(f"chain.py: --out {busy}; wait for it, or run without --no-wait to queue behind it", file=sys.stderr)
        return 2
    except Interrupted as stop:
        print(
            f"chain.py: stopped by {stop}: every stage process ended; the previous result in {ctx.out} is unchanged",
            file=sys.stderr,
        )
        return stop.exit_code
    except OSError as error:  # a full disk, a file-size limit: said as such, never blamed on a test
        print(f"chain.py: could not write {error.filename or ctx.out}: {error.strerror or error}", file=sys.stderr)
        print(f"chain.py: the previous result in {ctx.out} is unchanged", file=sys.stderr)
        return 1
    finally:
        if ctx.work is not None and ctx.work.exists():
            shutil.rmtree(ctx.work, ignore_errors=True)


def run_and_publish(args: argparse.Namespace, argv, plans: list[StagePlan], ctx: Context) -> int:
    out, root = ctx.out, ctx.root
    ctx.work = make_work_folder(out)
    if ctx.coverage:
        (out / "coverage").mkdir(exist_ok=True)
    commit = git_head(root)
    store = None if args.reuse == "none" else StageStore.for_root(root, args.store)
    reuse = Reuse(store, args.reuse, Hashes(root), commit)
    started = time.perf_counter()
    results, cancelled = run_chain(ctx, plans, args.jobs, reuse, first_red=args.first_red)
    merged = [
        record
        for result in results
        for path in [result.pop("records_file")]
        if path.exists()
        for record in read_jsonl(path)
        if record.get("kind") != "session"
    ]
    header = cell_header(args.cell, False, None)
    flaky = [test for r in results for test in r.get("flaky", [])]
    green = not any(r["red"] for r in results) and not cancelled and not flaky  # flaky is never green
    reused = [r["key"] for r in results if r.get("reused")]
    header.update(
        {
            "numpy": next((r["numpy"] for r in results if r.get("numpy")), None),
            "pytest": _version("pytest"),
            "tinytorch_file": next((r["tinytorch_file"] for r in results if r.get("tinytorch_file")), None),
            "root": str(root),
            "commit": commit,
            "import_from": ctx.import_from,
            "coverage": args.coverage,
            "jobs": args.jobs,
            "argv": sys.argv[1:] if argv is None else list(argv),
            "seconds": round(time.perf_counter() - started, 2),
            "green": green,
            "first_red": args.first_red,
            "cancelled": cancelled,
            "reused": len(reused),
            "stages": results,
        }
    )
    if ctx.coverage:
        drop_stale_coverage(out, ctx.cell, {r["key"] for r in results})
    publish(out, header, merged, ctx.work)
    if store is not None:
        store.prune()
    red = [r["key"] for r in results if r["red"]]
    print(
        f"[{args.cell}] {len(results)} stage(s) in {header['seconds']:.1f} s"
        + (f" ({len(reused)} reused)" if reused else "")
        + ": "
        + ("all green" if green else f"RED at stage(s) {', '.join(red)}" if red else "not green")
        + (f", {len(flaky)} flaky test(s): {flaky[0]}{' …' if len(flaky) > 1 else ''}" if flaky else "")
        + (f", cancelled {', '.join(cancelled)}" if cancelled else "")
        + f"  -> {out / 'stages.json'}",
        file=sys.stderr,
    )
    return 0 if not red and not flaky else 1


def _installed_tinytorch() -> bool:
    """Whether tinytorch is installed in this interpreter (regular or editable), not just sitting in the checkout."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution("tinytorch")
    except PackageNotFoundError:
        return False
    return True


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    raise SystemExit(main())

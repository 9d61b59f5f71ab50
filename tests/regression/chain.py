"""The stage runner CLI: stage k = a fresh interpreter running the tests of modules 01..k under the import guard.

    python tests/regression/chain.py --cell CELL --out reports/cells/CELL
        [--stages 1-16 | --upto K] [--module N] [--jobs N] [--coverage [--rcfile coverage.toml]]
        [--first-red] [--reuse any|same-commit|none | --no-reuse] [--store PATH]
        [--import-from auto|installed|checkout] [--timeout S] [--plugin-autoload]
        [--pytest-args ARGS...]                        # must come last: everything after it goes to pytest
    python tests/regression/chain.py --cell CELL --out DIR --skipped "REASON"   # record a cell that could not run

Run by the cell's interpreter (the venv that has tinytorch and NumPy installed). Writes ``DIR/stages.json``
(the cell and per stage its verdict, ``schema.CellRun``), the records file it names
(``records-<stamp>.jsonl``: every test record of every stage, see records.py), ``DIR/logs/stage_KK.log``
(full pytest output) and with ``--coverage`` ``DIR/coverage/.coverage.<cell>.<KK>``. The pieces:
chain_args.py (the arguments), stage.py (a stage's command and environment), stage_run.py (its run),
judge.py (its verdict), scheduler.py (parallel stages, ``--first-red``), reuse.py + stage_store.py (never
re-run a stage whose inputs did not change), publish.py (the result made whole at once). Exit status 0 iff
no stage run is red; 2 for bad arguments; 130/143 when interrupted (``exits.run_main`` says which). See
tests/regression/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: `regression` lives in tests/, the registry in the checkout
    _HERE = Path(__file__).resolve().parent
    sys.path[0] = str(_HERE.parent)
    sys.path.append(str(_HERE.parents[1]))  # after site-packages: an installed tinytorch wins

import argparse  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402

from regression.common import git_head, installed_version, read_jsonl  # noqa: E402
from regression.contract import RecordKind  # noqa: E402
from regression.exits import ExitCode, Interrupted, UsageError, WriteError, run_main  # noqa: E402
from regression.out_lock import FolderBusy, exclusive  # noqa: E402
from regression.schema import CellRun  # noqa: E402
from regression.stages.chain_args import check_cell_and_out, parse_args, traced_after, validate  # noqa: E402, F401
from regression.stages.progress import ENV_PROGRESS, Progress  # noqa: E402, F401  (re-exported for the tests)
from regression.stages.publish import cell_header, drop_stale_coverage, make_work_folder, publish, write_skipped  # noqa: E402
from regression.stages.reuse import NO_REUSE, Reuse  # noqa: E402
from regression.stages.scheduler import install_signal_handlers, run_chain  # noqa: E402
from regression.stages.stage import Context, StagePlan, build_command, build_env, plan  # noqa: E402, F401  (the tests')
from regression.stages.stage_run import StageRun  # noqa: E402
from regression.stages.stage_store import Hashes, StageStore  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    return run_main(lambda: _main(argv), "chain.py")


def _main(argv: list[str] | None) -> int:
    args = parse_args(argv)
    if args.skipped is not None:
        check_cell_and_out(args)
        try:
            return write_skipped(args.out, args.cell, args.skipped)
        except OSError as error:
            raise _write_error(error, args.out.resolve()) from None
    plans, ctx = validate(args)
    if args.check_only:
        print(f"chain.py: arguments ok ({len(plans)} stage(s) would run)", file=sys.stderr)
        return ExitCode.OK
    install_signal_handlers()
    try:
        with exclusive(ctx.out, wait=not args.no_wait, who="chain.py"):  # one chain per --out at a time
            return run_and_publish(args, argv, plans, ctx)
    except FolderBusy as busy:
        raise UsageError(f"--out {busy}; wait for it, or run without --no-wait to queue behind it") from None
    except Interrupted as stop:
        name = signal.Signals(stop.signum).name
        message = f"stopped by {name}: every stage process ended; the previous result in {ctx.out} is unchanged"
        raise Interrupted(stop.signum, message) from None
    except OSError as error:  # a full disk, a file-size limit: said as such, never blamed on a test
        raise _write_error(error, ctx.out) from None
    finally:
        if ctx.work is not None and ctx.work.exists():
            shutil.rmtree(ctx.work, ignore_errors=True)


def _write_error(error: OSError, out: Path) -> WriteError:
    return WriteError(
        f"could not write {error.filename or out}: {error.strerror or error}; the previous result in {out} is unchanged"
    )


def run_and_publish(args: argparse.Namespace, argv, plans: list[StagePlan], ctx: Context) -> int:
    out, root = ctx.out, ctx.root
    ctx.work = make_work_folder(out)
    if ctx.coverage:
        (out / "coverage").mkdir(exist_ok=True)
    commit = git_head(root)
    store = None if args.reuse == NO_REUSE else StageStore.for_root(root, args.store)
    reuse = Reuse(store, args.reuse, Hashes(root), commit)
    header = cell_header(args.cell)
    started = time.perf_counter()
    runs, cancelled = run_chain(ctx, plans, args.jobs, reuse, first_red=args.first_red)
    merged = [
        record
        for run in runs
        if run.records.exists()
        for record in read_jsonl(run.records)
        if record.get("kind") != RecordKind.SESSION
    ]
    header = summarize(header, args, argv, ctx, runs, cancelled, commit, round(time.perf_counter() - started, 2))
    if ctx.coverage:
        drop_stale_coverage(out, ctx.cell, {stage.key for stage in header.stages})
    publish(out, header, merged, ctx.work)
    if store is not None:
        store.prune()
    red = [stage.key for stage in header.stages if stage.red]
    flaky = [test for stage in header.stages for test in stage.flaky]
    print(
        f"[{args.cell}] {len(header.stages)} stage(s) in {header.seconds:.1f} s"
        + (f" ({header.reused} reused)" if header.reused else "")
        + ": "
        + ("all green" if header.green else f"RED at stage(s) {', '.join(red)}" if red else "not green")
        + (f", {len(flaky)} flaky test(s): {flaky[0]}{' …' if len(flaky) > 1 else ''}" if flaky else "")
        + (f", cancelled {', '.join(cancelled)}" if cancelled else "")
        + f"  -> {out / 'stages.json'}",
        file=sys.stderr,
    )
    return ExitCode.OK if not red and not flaky else ExitCode.RED


def summarize(
    header: CellRun,
    args: argparse.Namespace,
    argv,
    ctx: Context,
    runs: list[StageRun],
    cancelled: list[str],
    commit: str | None,
    seconds: float,
) -> CellRun:
    """The cell's ``stages.json`` header: its stages' results and what the run was. Green only when every
    stage is, none was cancelled and no test was flaky (flaky is never green)."""
    results = [run.result for run in runs]
    flaky = [test for result in results for test in result.flaky]
    return header.replace(
        numpy=next((r.numpy for r in results if r.numpy), None),
        pytest=installed_version("pytest"),
        tinytorch_file=next((r.tinytorch_file for r in results if r.tinytorch_file), None),
        root=str(ctx.root),
        commit=commit,
        import_from=ctx.import_from,
        coverage=args.coverage,
        jobs=args.jobs,
        argv=sys.argv[1:] if argv is None else list(argv),
        seconds=seconds,
        green=not any(r.red for r in results) and not cancelled and not flaky,
        first_red=args.first_red,
        cancelled=cancelled,
        reused=sum(1 for r in results if r.reused),
        stages=results,
    )


if __name__ == "__main__":
    raise SystemExit(main())

"""The command that proves the regression chain pinpoints: run each catalogued mutant, judge three things.

    python -m tools.mutants                 # every mutant of tools/mutants/catalogue.py (after a control run)
    python -m tools.mutants NAME [NAME ...] # a subset
    python -m tools.mutants --list          # names, area, expected stage / module / classification
        [--jobs 2] [--no-control] [--out reports] [--root DIR] [--stage-timeout S] [--no-reuse | --check-reuse]
        [--keep-temp] [-v]

Every argument is checked before anything is touched. Then one snapshot of the checkout is taken
(``workspace.py``), every selected mutant must still apply to it, and an unmutated copy runs as a control
up to the highest expected stage: if it is red, every verdict would be meaningless. The mutants run one
after another, cheapest (lowest expected stage) first — the chain already runs two stages at a time
(``--jobs 2``), which keeps both cores of the target machine busy — each in its own copy
(``engine.py``), judged by ``verdict.py``; ``--check-reuse`` adds ``reuse_check.py``'s proof.

Exit status (``tools.harness.run_main``): 0 iff every mutant selected was pinpointed (and the control is
green); 1 otherwise (a miss, a stale edit, a malformed catalogue, a red control, a chain that could not
run, an output that could not be written); 2 for a bad argument, one line, nothing touched. Writes
``<out>/mutants.json`` and keeps each mutant's ``stages.json``, ``regression.{json,md}`` and logs in
``<out>/mutants/<name>/`` (``results.py``). The last line printed is ``mutants: N/M pinpointed``.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable, Sequence

from tinytorch.registry import LAST_STAGE
from tools.harness import CLASSIFICATIONS, ExitCode, UsageError, unwritable_folder
from tools.mutants.catalogue import AREAS, LAYERING, MUTANTS, Mutant
from tools.mutants.engine import STOP, Runner, run_chain, run_one
from tools.mutants.results import expectation_text, format_table, list_text, summary_line, write_results
from tools.mutants.reuse_check import check_reuse
from tools.mutants.verdict import Outcome
from tools.mutants.workspace import REPO_ROOT, snapshot, source_files, stale_problems

PROG = "mutants"  # the prefix of run_main's one-line messages, as of the summary line


class UnknownMutant(UsageError):
    """A NAME on the command line that the catalogue does not hold (exit 2)."""


# --------------------------------------------------------------------------------------------- the catalogue
def by_name(names: Iterable[str], mutants: Sequence[Mutant] = MUTANTS) -> list[Mutant]:
    """The mutants named, in the order given; ``UnknownMutant`` naming the unknown ones and the valid names."""
    table = {m.name: m for m in mutants}
    unknown = [n for n in names if n not in table]
    if unknown:
        raise UnknownMutant(f"unknown mutant(s) {', '.join(unknown)}; valid: {', '.join(table)} (see --list)")
    return [table[n] for n in names]


def catalogue_problems(mutants: Sequence[Mutant]) -> list[str]:
    """What is wrong with a catalogue's data (empty = well formed): names, areas, expectations, edits."""
    problems = []
    names = [m.name for m in mutants]
    problems += [f"mutant name {n!r} appears more than once" for n in sorted({n for n in names if names.count(n) > 1})]
    for m in mutants:
        if not m.name.isidentifier():
            problems.append(f"mutant name {m.name!r} is not an identifier")
        if m.area not in AREAS:
            problems.append(f"mutant {m.name}: area {m.area!r} is not one of {sorted(AREAS)}")
        for what, value in (("expected_stage", m.expected_stage), ("expected_module", m.expected_module)):
            if not (isinstance(value, int) and 1 <= value <= LAST_STAGE):
                problems.append(f"mutant {m.name}: {what} must be an int in 1..{LAST_STAGE}, got {value!r}")
        # A test of module k runs from stage k on; only a layering break may name a later module (the patcher).
        if (
            isinstance(m.expected_module, int)
            and isinstance(m.expected_stage, int)
            and m.expected_classification != LAYERING
        ):
            if m.expected_module > m.expected_stage:
                problems.append(
                    f"mutant {m.name}: module {m.expected_module} cannot go red at stage {m.expected_stage} "
                    "(stage k runs only the tests of modules 1..k)"
                )
        if m.expected_classification not in CLASSIFICATIONS:
            problems.append(
                f"mutant {m.name}: classification {m.expected_classification!r} is not one of {list(CLASSIFICATIONS)}"
            )
        if not m.description or "\n" in m.description:
            problems.append(f"mutant {m.name}: the description must be one non-empty line")
        if not m.edits:
            problems.append(f"mutant {m.name}: no edit")
        for edit in m.edits:
            if not edit.old or edit.old == edit.new:
                problems.append(f"mutant {m.name}: an edit of {edit.file} has an empty old text or changes nothing")
    return problems


# --------------------------------------------------------------------------------------------- arguments
class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump: the message names the argument
        raise UsageError(f"{message} (see --help)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The arguments, each checked (``UsageError``: one line, exit 2) before anything is touched; ``root``
    and ``out`` come back resolved (``out`` relative to ``root``)."""
    parser = _Parser(
        prog="python -m tools.mutants",
        description="Apply each catalogued mutant to a copy of the checkout, run the chain up to its expected "
        "stage, and check the report names the expected stage, module and classification.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="mutants to run (default: all; see --list)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--jobs", type=int, default=2, help="chain stages run in parallel (default 2)")
    parser.add_argument("--no-control", action="store_true", help="skip the unmutated control run")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="reports folder (default: reports)")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root (default: this checkout)")
    parser.add_argument("--stage-timeout", type=float, default=300.0, help="seconds before a stage is killed")
    parser.add_argument(
        "--no-reuse", action="store_true", help="run every stage of every mutant (default: reuse the control's)"
    )
    parser.add_argument(
        "--check-reuse",
        action="store_true",
        help="prove the stage store: run each mutant a second time with --no-reuse and require the same verdict, "
        "and require the warm run to have re-run exactly the stages whose recorded inputs the mutant touched",
    )
    parser.add_argument("--keep-temp", action="store_true", help="keep the temporary copies (path printed)")
    parser.add_argument("-v", "--verbose", action="store_true", help="echo the chain's progress lines")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: run at least 1 stage at a time, e.g. --jobs 2")
    if not (math.isfinite(args.stage_timeout) and args.stage_timeout > 0):
        raise UsageError(f"--stage-timeout {args.stage_timeout}: give a positive number of seconds, e.g. 300")
    if args.no_reuse and args.check_reuse:
        raise UsageError("--check-reuse compares runs with and without the stage store; it cannot go with --no-reuse")
    twice = sorted({n for n in args.names if args.names.count(n) > 1})
    if twice:
        raise UsageError(f"mutant(s) {', '.join(twice)} named more than once; name each mutant once")
    if not args.root.is_dir():
        raise UsageError(f"--root {args.root}: not a folder; pass the repository root")
    args.root = args.root.resolve()
    args.out = args.out if args.out.is_absolute() else args.root / args.out
    problem = unwritable_folder(args.out, "--out")
    if problem:
        raise UsageError(problem)
    return args


def _progress(text: str) -> None:
    print(f"[mutants] {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------- the run
def main(argv: list[str] | None = None, runner: Runner = run_chain, mutants: Sequence[Mutant] = MUTANTS) -> int:
    """The command's body: returns its exit code, or raises the ``HarnessError`` that says what went wrong
    (``__main__`` runs it through ``run_main``, the one place an error becomes an exit code)."""
    args = parse_args(argv)
    if args.list:
        print(list_text(mutants))
        return ExitCode.OK
    problems = catalogue_problems(mutants)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(f"mutants: the catalogue is malformed ({len(problems)} problem(s)); nothing was run")
        return ExitCode.RED
    selected = by_name(args.names, mutants) if args.names else list(mutants)
    start = time.monotonic()
    with STOP.installed():  # SIGTERM / Ctrl-C: the running chain ends first, then the copies go
        temp = Path(tempfile.mkdtemp(prefix="tinytorch-mutants-"))
        try:
            return _run(args, selected, runner, temp, start)
        finally:
            if args.keep_temp:
                _progress(f"temporary copies kept in {temp}")
            else:
                shutil.rmtree(temp, ignore_errors=True)


def _run(args: argparse.Namespace, selected: list[Mutant], runner: Runner, temp: Path, start: float) -> int:
    """Snapshot, stale check, control, then every mutant cheapest first; the table, mutants.json, the summary."""
    out = args.out
    base = temp / "base"
    snapshot(args.root, base, source_files(args.root))  # one snapshot: parallel edits to the checkout cannot leak in
    stale = stale_problems(base, selected)
    if stale:
        print("\n".join(stale), file=sys.stderr)
        names = [m.name for m in selected if any(p.startswith(f"mutant {m.name} ") for p in stale)]
        print(f"mutants: 0/{len(selected)} pinpointed; {len(names)} stale ({', '.join(names)}): nothing was run")
        return ExitCode.RED
    kw = {"jobs": args.jobs, "stage_timeout": args.stage_timeout, "verbose": args.verbose, "keep_temp": args.keep_temp}
    store = None if args.no_reuse else temp / "store"  # warmed by the control, shared by the mutants
    if store is not None:
        kw["store"] = store
    control = None
    if not args.no_control:
        upto = max(m.expected_stage for m in selected)
        _progress(f"control: the unmutated copy must be green through stage {upto} ...")
        control = run_one(base, temp / "control", None, runner, out / "mutants" / "control", upto=upto, **kw)
        _progress(f"control: {control.verdict} in {control.chain_seconds} s: {control.why}")
        if not control.ok:
            write_results(out / "mutants.json", [], control, selected, time.monotonic() - start)
            print(f"mutants: the control run is not green ({control.why}); fix that first, no mutant was run")
            return ExitCode.RED
    done: dict[str, Outcome] = {}
    # Cheapest first (a mutant runs stages 1..expected): the quick verdicts arrive while the full chains
    # still run. The table keeps the catalogue's (or the command line's) order.
    for index, mutant in enumerate(sorted(selected, key=lambda m: m.expected_stage), 1):
        step = f"{index}/{len(selected)} {mutant.name}"
        _progress(f"{step}: expects {expectation_text(mutant)}; running stages 1-{mutant.expected_stage}")
        keep = out / "mutants" / mutant.name
        outcome = run_one(base, temp / mutant.name, mutant, runner, keep, upto=mutant.expected_stage, **kw)
        if args.check_reuse and store is not None:
            fresh = (temp / f"{mutant.name}-fresh", runner, out / "mutants" / f"{mutant.name}-no-reuse")
            outcome = check_reuse(mutant, outcome, base, *fresh, **kw)
        done[mutant.name] = outcome
        _progress(f"{step}: {outcome.verdict} in {outcome.chain_seconds} s: {outcome.why}")
    outcomes = [done[m.name] for m in selected]
    seconds = time.monotonic() - start
    write_results(out / "mutants.json", outcomes, control, selected, seconds)
    print(format_table(outcomes))
    print(
        f"wall time {seconds:.1f} s ({len(outcomes)} mutant(s){'' if control is None else ' + control'}); "
        f"details in {out / 'mutants.json'}"
    )
    print(summary_line(outcomes))
    return ExitCode.OK if all(o.ok for o in outcomes) else ExitCode.RED

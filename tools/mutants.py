"""The engine that proves the regression chain pinpoints: run each catalogued mutant, judge three things.

    python -m tools.mutants                 # every mutant of tools/mutant_catalogue.py (after a control run)
    python -m tools.mutants NAME [NAME ...] # a subset
    python -m tools.mutants --list          # names, area, expected stage / module / classification
        [--jobs 2] [--no-control] [--out reports] [--stage-timeout S] [--keep-temp] [-v]

The catalogue (``tools/mutant_catalogue.py``) is data: each mutant is an exact source edit plus the verdict
the chain must give, stated before it runs. For each mutant this engine

1. copies a snapshot of the checkout (every file git does not ignore: tracked *and* not yet committed,
   never ``.git``, ``.nox``, ``reports``) into a temporary folder — the real tree is never edited;
2. applies the edits, refusing loudly unless each ``old`` text occurs exactly once (a stale mutant must be
   updated, never silently skipped), and checks the copy now holds exactly the mutated text;
3. runs the chain there with this interpreter, ``--upto <expected stage>`` and ``--import-from checkout``
   (checking every stage imported the copy's tinytorch), then ``report.py`` on that one cell;
4. reads ``regression.json``: ``cells[0]["first_red_stage"]`` and ``points_at["module"]`` /
   ``points_at["classification"]``, and compares the three with the expectations.

Only stages 1..expected run: a red stage *earlier* than expected is a miss (shown as such), and a chain
still green at the expected stage is a miss "not red by stage K" — whatever a later stage would say, the
first red stage would not be the expected one. *Pinpointed* = stage, module and classification all match.

Before the mutants an unmutated copy runs as a control, up to the highest expected stage: if it is red,
every verdict would be meaningless. Mutants run one after another, cheapest (lowest expected stage) first:
the chain already runs two stages at a time (``--jobs 2``), which keeps both cores of the target machine busy.

Exit status: 0 iff every mutant selected was pinpointed (and the control is green); 1 otherwise (a miss, a
stale edit, a red control, a chain that could not run); 2 for bad arguments. Writes ``<out>/mutants.json``
(atomically) and keeps each mutant's ``stages.json``, ``regression.{json,md}`` and logs in
``<out>/mutants/<name>/``. The last line printed is ``mutants: N/M pinpointed``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # `python tools/mutants.py` as well as `python -m tools.mutants`
    sys.path.insert(0, str(REPO_ROOT))

from tinytorch.registry import LAST_STAGE  # noqa: E402
from tinytorch.registry import label as module_label  # noqa: E402  (import-free: loads no tinytorch module)
from tools.harness import run_with_timeout  # noqa: E402
from tools.mutant_catalogue import AREAS, CLASSIFICATIONS, LAYERING, MUTANTS, Edit, Mutant  # noqa: E402

SCHEMA = 2  # 2: verdicts judge stage, module and classification; mutants run --upto their expected stage
CHAIN = "tests/regression/chain.py"
REPORT = "tests/regression/report.py"
EXCLUDED_TOP = frozenset({".git", ".nox", "reports", ".venv", "htmlcov"})  # never part of a snapshot
KEPT_ARTIFACTS = ("stages.json", "regression.json", "regression.md", "chain.log", "logs")

OK, MISS, ERROR = "OK", "MISS", "ERROR"
__all__ = ["AREAS", "CLASSIFICATIONS", "MUTANTS", "Edit", "Mutant", "main"]


class StaleMutant(Exception):
    """A mutant's ``old`` text no longer occurs exactly once in its file."""


def by_name(names: Iterable[str], mutants: Sequence[Mutant] = MUTANTS) -> list[Mutant]:
    """The mutants named, in the order given; ``KeyError`` naming the unknown ones and the valid names."""
    table = {m.name: m for m in mutants}
    unknown = [n for n in names if n not in table]
    if unknown:
        raise KeyError(f"unknown mutant(s) {', '.join(unknown)}; valid: {', '.join(table)} (see --list)")
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


# --------------------------------------------------------------------------------------------- substitution
def apply_edit(text: str, edit: Edit, mutant_name: str) -> str:
    """``text`` with ``edit`` applied; ``StaleMutant`` unless ``edit.old`` occurs exactly once."""
    count = text.count(edit.old)
    if count != 1:
        where = "does not occur" if count == 0 else f"occurs {count} times"
        raise StaleMutant(
            f"mutant {mutant_name} no longer applies to {edit.file}: update its `old` text "
            f"(it {where}; it must occur exactly once): {edit.old!r}"
        )
    return text.replace(edit.old, edit.new, 1)


def mutate_sources(root: Path, mutant: Mutant) -> dict[str, str]:
    """{file: mutated text} for ``mutant`` against the sources under ``root``; writes nothing."""
    texts: dict[str, str] = {}
    for edit in mutant.edits:
        if edit.file not in texts:
            path = root / edit.file
            if not path.is_file():
                raise StaleMutant(f"mutant {mutant.name} no longer applies to {edit.file}: the file does not exist")
            texts[edit.file] = path.read_text(encoding="utf-8")
        texts[edit.file] = apply_edit(texts[edit.file], edit, mutant.name)
    return texts


def stale_problems(root: Path, mutants: Sequence[Mutant]) -> list[str]:
    """One message per mutant that does not apply to the sources under ``root`` (empty = all apply)."""
    problems = []
    for mutant in mutants:
        try:
            mutate_sources(root, mutant)
        except StaleMutant as error:
            problems.append(str(error))
    return problems


def apply_mutant(root: Path, mutant: Mutant) -> None:
    """Write ``mutant``'s edits into the copy at ``root`` (all checked before any file is written), then
    read each file back: the copy must hold exactly the mutated text, or nothing about the mutant is tested."""
    texts = mutate_sources(root, mutant)
    for rel, text in texts.items():
        _write_atomic(root / rel, text)
    for rel, text in texts.items():
        if (root / rel).read_text(encoding="utf-8") != text:
            raise StaleMutant(f"mutant {mutant.name}: {rel} in the copy does not hold the mutated text after writing")


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder (removed on failure)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------------------------- snapshots
def source_files(root: Path) -> list[str]:
    """Files of the checkout to copy: what git tracks plus what it does not ignore, minus build/report dirs.

    Untracked files count (an uncommitted quantization module is what the maintainer is testing). Without
    git (or outside a work tree) every file is taken except the excluded top folders and caches.
    """
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8")
        names = [n for n in out.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
        names = [n for n in names if "__pycache__" not in n.split("/") and ".egg-info/" not in n]
    keep = [n for n in names if n.split("/", 1)[0] not in EXCLUDED_TOP]
    return sorted(n for n in keep if (root / n).is_file())  # tracked files deleted in the work tree drop out


def snapshot(root: Path, dest: Path, files: Iterable[str]) -> None:
    """Copy ``files`` (relative paths) from ``root`` into ``dest``."""
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)


# --------------------------------------------------------------------------------------------- running
@dataclass
class ChainRun:
    """What one chain + report run left behind."""

    cell: str
    chain_exit: int | None
    report_exit: int | None
    seconds: float
    regression: dict | None  # regression.json
    stages: dict | None  # stages.json
    artifacts: Path  # folder holding chain.log, stages.json, regression.json, logs/
    error: str | None = None


def _run_logged(command: list[str], cwd: Path, log: Path, verbose: bool, timeout: float) -> int:
    """Run ``command`` with its output appended to ``log``; killed with its whole process group at the
    time-out, even when it prints nothing (contract.run_with_timeout)."""
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(command)}\n")
    done = run_with_timeout(command, timeout=timeout, output=log, cwd=cwd, append=True)
    if verbose:
        sys.stderr.write(log.read_text(encoding="utf-8", errors="replace"))
    if done.timed_out:
        raise subprocess.TimeoutExpired(command, timeout)
    return done.returncode


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def run_chain(
    copy: Path,
    cell: str,
    *,
    upto: int,
    jobs: int,
    stage_timeout: float,
    verbose: bool = False,
    store: Path | None = None,
) -> ChainRun:
    """Stages 1..``upto`` of the chain on the copy at ``copy`` (this interpreter, the copy's tinytorch),
    stopping at the first red stage, then the report on that one cell. With ``store`` the stages whose
    recorded inputs the mutant did not touch are reused from the control's run (stage_store.py)."""
    cell_out = copy / "reports" / "cells" / cell
    report_out = copy / "reports" / cell
    report_out.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    chain = [python, CHAIN, "--cell", cell, "--out", str(cell_out), "--import-from", "checkout"]
    chain += ["--upto", str(upto), "--jobs", str(jobs), "--timeout", str(stage_timeout), "--first-red"]
    chain += ["--store", str(store)] if store is not None else ["--no-reuse"]
    report = [python, REPORT, "--cells", str(cell_out), "--out", str(report_out)]
    start = time.monotonic()
    chain_exit = report_exit = None
    error = None
    log = report_out / "chain.log"
    log.write_text("", encoding="utf-8")
    try:
        chain_exit = _run_logged(chain, copy, log, verbose, stage_timeout * upto)
        report_exit = _run_logged(report, copy, log, False, 300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.monotonic() - start
    for name in ("stages.json", "logs"):
        if (cell_out / name).exists():
            _copy_any(cell_out / name, report_out / name)
    regression, stages = _load(report_out / "regression.json"), _load(cell_out / "stages.json")
    if error is None and report_exit == 2:
        error = f"report.py could not read the chain's output (exit 2); see {report_out / 'chain.log'}"
    if error is None and (regression is None or stages is None):
        error = f"no regression.json / stages.json (chain exit {chain_exit}); see {report_out / 'chain.log'}"
    return ChainRun(cell, chain_exit, report_exit, seconds, regression, stages, report_out, error)


def _copy_any(src: Path, dest: Path) -> None:
    if src.is_dir():
        shutil.copytree(src, dest, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dest)


# --------------------------------------------------------------------------------------------- verdicts
@dataclass
class Outcome:
    name: str
    expected: dict | None  # {"stage", "module", "classification"}; None for the control (expected green)
    verdict: str  # OK / MISS / ERROR
    why: str  # one line
    got: dict = field(default_factory=dict)  # {"stage", "module", "classification"} as regression.json says
    matches: dict = field(default_factory=dict)  # {"stage": bool, "module": bool, "classification": bool}
    upto: int | None = None  # the chain ran stages 1..upto
    pinpointed: dict | None = None  # points_at: module, module_label, stage, file, test_id, classification, reason
    failing_modules: dict = field(default_factory=dict)
    chain_seconds: float | None = None
    tinytorch_files: list = field(default_factory=list)
    artifacts: str | None = None

    @property
    def ok(self) -> bool:
        return self.verdict == OK


def expectations(mutant: Mutant) -> dict:
    return {
        "stage": mutant.expected_stage,
        "module": mutant.expected_module,
        "classification": mutant.expected_classification,
    }


def imported_tinytorch(stages: dict | None) -> list[str]:
    """Every ``tinytorch_file`` the chain's stages recorded (the cell's and each stage's)."""
    if not stages:
        return []
    found = [stages.get("tinytorch_file")] + [s.get("tinytorch_file") for s in stages.get("stages", [])]
    return sorted({f for f in found if f})


def foreign_tinytorch(files: list[str], copy: Path) -> list[str]:
    """Imported tinytorch files that are not the copy's (empty = the mutated copy was tested)."""
    base = Path(copy).resolve()
    return [f for f in files if base not in Path(f).resolve().parents]


def read_verdict(regression: dict, cell: str) -> tuple[dict | None, dict | None]:
    """(the cell's entry, {stage, module, classification}) from ``regression.json`` (None, None if absent)."""
    cells = regression.get("cells") or []
    entry = next((c for c in cells if c.get("cell") == cell), None)
    if entry is None:
        return None, None
    at = entry.get("points_at") or {}
    return entry, {
        "stage": entry.get("first_red_stage"),
        "module": at.get("module"),
        "classification": at.get("classification"),
    }


def judge(mutant: Mutant | None, run: ChainRun, copy: Path, upto: int | None = None) -> Outcome:
    """Compare one run with what its mutant expects (``mutant=None``: the control, which must be green)."""
    expected = expectations(mutant) if mutant else None
    outcome = Outcome(
        name=mutant.name if mutant else "control",
        expected=expected,
        verdict=ERROR,
        why="",
        upto=upto if upto is not None else (mutant.expected_stage if mutant else None),
        chain_seconds=round(run.seconds, 1),
        artifacts=str(run.artifacts),
    )
    if run.error:
        outcome.why = run.error
        return outcome
    files = imported_tinytorch(run.stages)
    outcome.tinytorch_files = files
    foreign = foreign_tinytorch(files, copy)
    if not files or foreign:
        outcome.why = (
            f"the stages imported tinytorch from {foreign or 'nowhere recorded'}, not the mutated copy {copy}: "
            "nothing about this mutant was tested"
        )
        return outcome
    cell, got = read_verdict(run.regression, run.cell)
    if cell is None:
        outcome.why = f"regression.json holds no cell {run.cell!r}"
        return outcome
    outcome.got = got
    outcome.failing_modules = dict(cell.get("failing_modules") or {})
    at = cell.get("points_at")
    if at:
        keys = ("module", "module_label", "stage", "file", "test_id", "classification", "reason")
        outcome.pinpointed = {key: at.get(key) for key in keys}
    red = bool(cell.get("red")) or run.chain_exit not in (0, None)
    if expected is None:
        outcome.verdict = MISS if red else OK
        outcome.why = f"stages 1-{outcome.upto} green" if not red else f"{_got_text(got)}: the baseline is red"
        return outcome
    outcome.matches = {key: got[key] == expected[key] for key in expected}
    outcome.verdict = OK if red and all(outcome.matches.values()) else MISS
    outcome.why = _why(expected, got, red, outcome.upto)
    return outcome


def _got_text(got: dict) -> str:
    return f"red at stage {_stage(got['stage'])}, module {module_label(got['module'])}, {got['classification']}"


def _why(expected: dict, got: dict, red: bool, upto: int) -> str:
    if not red:
        return f"not red by stage {upto}: stages 1-{upto} stayed green"
    if got["stage"] is None:
        return "the chain failed but no stage is marked red"
    if got["stage"] < expected["stage"]:
        return f"red early: {_got_text(got)} (expected stage {_stage(expected['stage'])})"
    wrong = [key for key in expected if got[key] != expected[key]]
    if not wrong:
        return _got_text(got)
    if got["module"] is None:
        return f"red at stage {_stage(got['stage'])} but the report points at nothing"
    return f"{_got_text(got)}; wrong {' and '.join(wrong)}"


def _stage(stage) -> str:
    return "--" if stage is None else f"{int(stage):02d}"


# --------------------------------------------------------------------------------------------- output
HEADER = ("mutant", "stage exp/got", "module exp/got", "classification exp/got", "verdict")
_MARK = {True: " ", False: "!"}  # "!" marks the expectation a miss got wrong


def _pair(outcome: Outcome, key: str, show) -> str:
    expected = (outcome.expected or {}).get(key)
    if not outcome.got:  # a chain that never produced a report: nothing to compare
        return f"{show(expected)} / -"
    got = outcome.got.get(key)
    mark = _MARK[outcome.matches.get(key, True)] if outcome.expected else " "
    if got is None:  # a green run has no red stage and points at nothing
        return f"{show(expected)} /{mark}{'green' if key == 'stage' else '-'}"
    return f"{show(expected)} /{mark}{show(got)}"


def table_rows(outcomes: Sequence[Outcome]) -> list[tuple[str, ...]]:
    rows = []
    for o in outcomes:
        rows.append(
            (
                o.name,
                _pair(o, "stage", _stage),
                _pair(o, "module", module_label),
                _pair(o, "classification", str),
                o.verdict,
            )
        )
    return rows


def format_table(outcomes: Sequence[Outcome]) -> str:
    """mutant | stage, module, classification as expected / got | verdict; under a miss, why and the test."""
    rows = table_rows(outcomes)
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADER, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for outcome, row in zip(outcomes, rows):
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
        if not outcome.ok:
            lines.append(f"    {outcome.why}")
            at = outcome.pinpointed or {}
            if at.get("test_id"):
                lines.append(f"    first failing test: {at['test_id']}")
            if at.get("reason"):
                lines.append(f"    reason: {' '.join(str(at['reason']).split())[:200]}")
    return "\n".join(lines)


def summary_line(outcomes: Sequence[Outcome]) -> str:
    return f"mutants: {sum(o.ok for o in outcomes)}/{len(outcomes)} pinpointed"


def list_text(mutants: Sequence[Mutant] = MUTANTS) -> str:
    lines = []
    for m in mutants:
        expect = f"stage {m.expected_stage:02d}, module {module_label(m.expected_module)}, {m.expected_classification}"
        lines.append(f"{m.name:<34} [{m.area}] expects {expect}")
        lines.append(f"{'':<34} {m.description}")
        lines.append(f"{'':<34} edits {', '.join(m.files)} ({len(m.edits)} substitution(s))")
    return "\n".join(lines)


def write_json(path: Path, outcomes: Sequence[Outcome], control: Outcome | None, mutants, seconds: float) -> dict:
    """``mutants.json``, written atomically (a reader never sees half a file)."""
    import numpy  # only for the record of which NumPy ran the chain

    by = {m.name: m for m in mutants}
    data = {
        "schema": SCHEMA,
        "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "executable": sys.executable,
        "numpy": numpy.__version__,
        "seconds": round(seconds, 1),
        "control": asdict(control) if control else None,
        "mutants": [
            dict(
                asdict(o),
                area=by[o.name].area,
                description=by[o.name].description,
                edits=[asdict(e) for e in by[o.name].edits],
            )
            for o in outcomes
        ],
        "counts": {"pinpointed": sum(o.ok for o in outcomes), "total": len(outcomes)},
        "ok": bool(outcomes) and all(o.ok for o in outcomes) and (control is None or control.ok),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, json.dumps(data, indent=2) + "\n")
    return data


# --------------------------------------------------------------------------------------------- orchestration
Runner = Callable[..., ChainRun]


def _keep(run: ChainRun, dest: Path) -> str:
    """Copy a run's small artifacts (not the bulky records) out of the temporary copy; returns the folder."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in KEPT_ARTIFACTS:
        if (run.artifacts / name).exists():
            _copy_any(run.artifacts / name, dest / name)
    return str(dest)


def run_one(
    base: Path,
    work: Path,
    mutant: Mutant | None,
    runner: Runner,
    keep_dir: Path,
    *,
    upto: int,
    keep_temp: bool = False,
    **run_kw,
) -> Outcome:
    """Copy the snapshot ``base`` to ``work``, apply ``mutant`` (None = control), run stages 1..upto, judge.

    The copy is removed afterwards (unless ``keep_temp``): its small artifacts are kept in ``keep_dir``."""
    shutil.copytree(base, work)
    try:
        if mutant is not None:
            apply_mutant(work, mutant)
        cell = f"mutant-{mutant.name if mutant else 'control'}"
        run = runner(work, cell, upto=upto, **run_kw)
        outcome = judge(mutant, run, work, upto)
        outcome.artifacts = _keep(run, keep_dir)
        return outcome
    finally:
        if not keep_temp:
            shutil.rmtree(work, ignore_errors=True)


def reuse_problems(mutant: Mutant, warm: Outcome, fresh: Outcome, store: Path) -> list[str]:
    """What the warm run (stages reused from the control) did differently from a run with --no-reuse, and
    which stages it reused although their recorded inputs include a file the mutant edited (or re-ran
    although none did)."""
    problems = []
    if warm.got != fresh.got or warm.verdict != fresh.verdict:
        problems.append(f"with reuse {warm.got} ({warm.verdict}), without {fresh.got} ({fresh.verdict})")
    stages = _load(Path(warm.artifacts or "") / "stages.json") or {}
    edited = set(mutant.files)
    for stage in stages.get("stages", []):
        recorded = _recorded_inputs(store, stage["key"])
        touched = bool(edited & recorded)
        if bool(stage.get("reused")) == touched:
            what = "reused although" if touched else "re-ran although no"
            problems.append(f"stage {stage['key']} {what} recorded input was edited ({', '.join(sorted(edited))})")
    return problems


def _recorded_inputs(store: Path, key: str) -> set[str]:
    """The inputs the control's run of stage ``key`` recorded in the store."""
    found: set[str] = set()
    for entry in store.glob(f"*/{key}/*/entry.json"):
        found |= set((_load(entry) or {}).get("inputs", {}))  # the control's, and any mutant's since: a superset
    return found


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
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
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    if args.stage_timeout <= 0:
        parser.error(f"--stage-timeout must be > 0 seconds, got {args.stage_timeout}")
    return args


def _progress(text: str) -> None:
    print(f"[mutants] {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None, runner: Runner = run_chain, mutants: Sequence[Mutant] = MUTANTS) -> int:
    args = parse_args(argv)
    if args.list:
        print(list_text(mutants))
        return 0
    problems = catalogue_problems(mutants)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(f"mutants: the catalogue is malformed ({len(problems)} problem(s)); nothing was run")
        return 1
    try:
        selected = by_name(args.names, mutants) if args.names else list(mutants)
    except KeyError as error:
        print(f"mutants: {error.args[0]}", file=sys.stderr)
        return 2
    root = args.root.resolve()
    out = args.out if args.out.is_absolute() else root / args.out
    start = time.monotonic()
    temp = Path(tempfile.mkdtemp(prefix="tinytorch-mutants-"))
    try:
        base = temp / "base"
        snapshot(root, base, source_files(root))  # one snapshot: parallel edits to the checkout cannot leak in
        stale = stale_problems(base, selected)
        if stale:
            print("\n".join(stale), file=sys.stderr)
            names = [m.name for m in selected if any(p.startswith(f"mutant {m.name} ") for p in stale)]
            print(f"mutants: 0/{len(selected)} pinpointed; {len(names)} stale ({', '.join(names)}): nothing was run")
            return 1
        kw = {"jobs": args.jobs, "stage_timeout": args.stage_timeout, "verbose": args.verbose}
        kw["keep_temp"] = args.keep_temp
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
                write_json(out / "mutants.json", [], control, selected, time.monotonic() - start)
                print(f"mutants: the control run is not green ({control.why}); fix that first, no mutant was run")
                return 1
        done: dict[str, Outcome] = {}
        # Cheapest first (a mutant runs stages 1..expected): the quick verdicts arrive while the full chains
        # still run. The table keeps the catalogue's (or the command line's) order.
        for index, mutant in enumerate(sorted(selected, key=lambda m: m.expected_stage), 1):
            expect = (
                f"stage {mutant.expected_stage:02d}, module {module_label(mutant.expected_module)}, "
                f"{mutant.expected_classification}"
            )
            _progress(
                f"{index}/{len(selected)} {mutant.name}: expects {expect}; running stages 1-{mutant.expected_stage}"
            )
            work = temp / mutant.name
            outcome = run_one(
                base, work, mutant, runner, out / "mutants" / mutant.name, upto=mutant.expected_stage, **kw
            )
            if args.check_reuse and store is not None:
                fresh_kw = {**kw, "store": None}
                fresh_dir = out / "mutants" / f"{mutant.name}-no-reuse"
                fresh = run_one(
                    base,
                    temp / f"{mutant.name}-fresh",
                    mutant,
                    runner,
                    fresh_dir,
                    upto=mutant.expected_stage,
                    **fresh_kw,
                )
                problems = reuse_problems(mutant, outcome, fresh, store)
                if problems:
                    outcome.verdict, outcome.why = MISS, "stage store: " + "; ".join(problems)
            done[mutant.name] = outcome
            _progress(
                f"{index}/{len(selected)} {mutant.name}: {outcome.verdict} in {outcome.chain_seconds} s: {outcome.why}"
            )
        outcomes = [done[m.name] for m in selected]
        seconds = time.monotonic() - start
        write_json(out / "mutants.json", outcomes, control, selected, seconds)
        print(format_table(outcomes))
        print(
            f"wall time {seconds:.1f} s ({len(outcomes)} mutant(s){'' if control is None else ' + control'}); "
            f"details in {out / 'mutants.json'}"
        )
        print(summary_line(outcomes))
        return 0 if all(o.ok for o in outcomes) else 1
    finally:
        if args.keep_temp:
            _progress(f"temporary copies kept in {temp}")
        else:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

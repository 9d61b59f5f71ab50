"""The proof that the regression chain pinpoints: deliberately broken quantization modules, one at a time.

    python -m tools.mutants                 # every mutant (after an unmutated control run)
    python -m tools.mutants NAME [NAME ...] # a subset
    python -m tools.mutants --list          # names, expected module, audit bug, what each breaks
        [--jobs 2] [--no-control] [--out reports] [--stage-timeout S] [--keep-temp] [-v]

A *mutant* is a small, exact source substitution in ``tinytorch/optimization/`` standing for one bug of
the seed audit's P0/P1 list (``/work/shared/seed-audit.md``, "Bug-Catching Priorities"), with the module
whose tests must go red *first* in the 01 → 16 chain. For each mutant this tool

1. copies a snapshot of the checkout (every file git does not ignore: tracked *and* not yet committed,
   so an uncommitted change to the quantization module is what gets tested; never ``.git``, ``.nox``,
   ``reports``) into a temporary folder,
2. applies the substitution, refusing loudly if its ``old`` text does not occur exactly once (the
   quantization module changed: the mutant must be updated, never silently skipped),
3. runs the whole chain there with this interpreter, ``--import-from checkout`` (and checks every stage
   really imported the copy's tinytorch), then ``report.py`` on that one cell,
4. reads ``regression.json``: the first red stage and ``points_at`` (module, test id, classification).

A mutant is *pinpointed* when the chain went red and the first red stage points at its expected module.
The whole chain always runs (never ``--upto``): only a full run proves which stage is the *first* red one.
Before the mutants an unmutated copy runs as a control: if it is red, every verdict would be meaningless.

Exit status: 0 iff every mutant selected was pinpointed; 1 on a mismatch, a mutant the chain missed
(stayed green), a stale substitution, a red control or a chain that could not run; 2 for bad arguments.
Writes ``<out>/mutants.json`` and keeps each mutant's ``stages.json``, ``regression.{json,md}`` and logs in
``<out>/mutants/<name>/``. The last line printed is ``mutants: N pinpointed, M missed``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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

SCHEMA = 1
CHAIN = "tests/regression/chain.py"
REPORT = "tests/regression/report.py"
EXCLUDED_TOP = frozenset({".git", ".nox", "reports", ".venv", "htmlcov"})  # never part of a snapshot
KEPT_ARTIFACTS = ("stages.json", "regression.json", "regression.md", "chain.log", "logs")

OK, MISMATCH, MISSED, ERROR = "OK", "MISMATCH", "MISSED", "ERROR"

QUANT = "tinytorch/optimization/quantization.py"
LAYERS = "tinytorch/optimization/quantized_layers.py"
INT8 = "tinytorch/optimization/int8.py"
CALIBRATION = "tinytorch/optimization/calibration.py"


class StaleMutant(Exception):
    """A mutant's ``old`` text no longer occurs exactly once in its file."""


# --------------------------------------------------------------------------------------------- the mutants
@dataclass(frozen=True)
class Edit:
    """Replace ``old`` (which must occur exactly once in ``file``) by ``new``."""

    file: str  # relative to the repository root
    old: str
    new: str


@dataclass(frozen=True)
class Mutant:
    name: str
    description: str  # one line: what is broken (and, where it matters, why the expected module catches it)
    audit_bug: str  # the seed audit's P0/P1 bug it stands for
    expected_module: int  # the module of the first red stage's first failure
    edits: tuple[Edit, ...]

    @property
    def files(self) -> list[str]:
        return sorted({e.file for e in self.edits})


MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "copy_mutates_original",
        "quantize_model(inplace=False) quantizes the caller's model instead of a deep copy; only module 16 "
        "hands it a model it still needs (the zoo passes its own deepcopy)",
        "P0 corrupts the model state",
        16,
        (Edit(QUANT, "target = model if inplace else copy.deepcopy(model)", "target = model"),),
    ),
    Mutant(
        "bias_dropped",
        "quantized layers drop the float layer's bias; zoo models carry seeded non-zero biases, so 03's "
        "int8-vs-fp32 output check is the first to see it",
        "P0 corrupts the model state",
        3,
        (
            Edit(
                LAYERS,
                "self.bias = None if bias is None else Parameter(bias.data.copy(), dtype=bias.data.dtype)",
                "self.bias = None",
            ),
        ),
    ),
    Mutant(
        "scale_4bit",
        "symmetric weight scale max|w|/7 instead of /127: 15 levels, a 4-bit-like grid (~10 % output error)",
        "P0 output accuracy degraded > 5 %",
        3,
        (Edit(INT8, "step = np.maximum(-lo, hi) / _SYM_MAX", "step = np.maximum(-lo, hi) / 7"),),
    ),
    Mutant(
        "codes_float32",
        "weight codes stored as float32 (same values, 4 bytes each); outputs are unchanged, and 06 is the "
        "first module to require int8 buffers (the optimizer test checks they exist and stay untouched)",
        "P0 memory not actually reduced (codes float32)",
        6,
        (
            Edit(
                LAYERS,
                "self.weight_codes = Tensor(codes, dtype=np.int8)",
                "self.weight_codes = Tensor(codes.astype(np.float32), dtype=np.float32)",
            ),
        ),
    ),
    Mutant(
        "inplace_silent",
        "quantize_model(model) still replaces the float weights in place but no longer warns",
        "P0 in-place modification without warning",
        16,
        (Edit(QUANT, "    if inplace:\n        _warn_inplace(model, report)\n", ""),),
    ),
    Mutant(
        "no_input_grad",
        "QuantizedLinear's backward returns no input gradient: nothing below a quantized layer trains",
        "P1 incompatible with training (no gradient)",
        5,
        (Edit(LAYERS, "gx = matmul_codes(g2 * scales, codes, dtype).reshape(x_shape)", "gx = None"),),
    ),
    Mutant(
        "profiler_blind_linear",
        "QuantizedLinear keeps out_features under another name (a plausible refactor): forward still works, "
        "but the profiler no longer sees a Linear-like layer and counts no FLOPs for it",
        "P1 profiler breaks on quantized models",
        14,
        (
            Edit(
                LAYERS,
                "self.in_features, self.out_features = int(linear.in_features), int(linear.out_features)",
                "self.in_features, self.out_dim = int(linear.in_features), int(linear.out_features)",
            ),
            Edit(
                LAYERS,
                "return _row_scales(self.weight_scale, self.out_features)",
                "return _row_scales(self.weight_scale, self.out_dim)",
            ),
            Edit(
                LAYERS,
                'f"QuantizedLinear({self.in_features}, {self.out_features})',
                'f"QuantizedLinear({self.in_features}, {self.out_dim})',
            ),
            Edit(
                LAYERS,
                'return f"in_features={self.in_features}, out_features={self.out_features}, int8',
                'return f"in_features={self.in_features}, out_dim={self.out_dim}, int8',
            ),
        ),
    ),
    Mutant(
        "zero_weight_scale",
        "an all-zero (or constant 0) weight row gets scale 0 (no guard, no float32 floor): 0/0 = NaN codes, "
        "and dequantizing is refused; zoo weights are random, so only module 16's edge cases meet it",
        "P1 edge case crashes silently (constant weights)",
        16,
        (
            Edit(INT8, "step = np.where(step == 0.0, 1.0, step)", "step = step"),
            Edit(
                INT8,
                "return np.maximum(np.where(low, up, v32), _F32_TINY).astype(np.float32)",
                "return np.where(low, up, v32).astype(np.float32)",
            ),
        ),
    ),
    Mutant(
        "empty_calibration_accepted",
        "calibration_data=[] is silently accepted (weight-only quantization) instead of a ValueError",
        "P1 edge case crashes silently (empty calibration)",
        16,
        (Edit(CALIBRATION, "    if count == 0:\n", "    if count < 0:\n"),),
    ),
)


def by_name(names: Iterable[str], mutants: Sequence[Mutant] = MUTANTS) -> list[Mutant]:
    """The mutants named, in the order given; ``KeyError`` naming the unknown ones and the valid names."""
    table = {m.name: m for m in mutants}
    unknown = [n for n in names if n not in table]
    if unknown:
        raise KeyError(f"unknown mutant(s) {', '.join(unknown)}; valid: {', '.join(table)} (see --list)")
    return [table[n] for n in names]


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
    """Write ``mutant``'s edits into the copy at ``root`` (all checked before any file is written)."""
    for rel, text in mutate_sources(root, mutant).items():
        (root / rel).write_text(text, encoding="utf-8")


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


def _run_logged(command: list[str], cwd: Path, log, verbose: bool, timeout: float | None) -> int:
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        for line in proc.stdout:
            log.write(line)
            if verbose:
                sys.stderr.write(f"    {line}")
            if deadline is not None and time.monotonic() > deadline:
                proc.kill()
                raise subprocess.TimeoutExpired(command, timeout)
        return proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def run_chain(copy: Path, cell: str, *, jobs: int, stage_timeout: float, verbose: bool = False) -> ChainRun:
    """The whole chain on the copy at ``copy`` (this interpreter, the copy's tinytorch), then its report."""
    cell_out = copy / "reports" / "cells" / cell
    report_out = copy / "reports" / cell
    report_out.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    chain = [python, CHAIN, "--cell", cell, "--out", str(cell_out), "--import-from", "checkout"]
    chain += ["--jobs", str(jobs), "--timeout", str(stage_timeout)]
    report = [python, REPORT, "--cells", str(cell_out), "--out", str(report_out)]
    start = time.monotonic()
    chain_exit = report_exit = None
    error = None
    with open(report_out / "chain.log", "w", encoding="utf-8") as log:
        try:
            chain_exit = _run_logged(chain, copy, log, verbose, stage_timeout * LAST_STAGE)
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
    audit_bug: str
    expected_module: int | None  # None for the control (expected green)
    verdict: str  # OK / MISMATCH / MISSED / ERROR
    why: str  # one line
    pinpointed: dict | None = None  # module, module_label, stage, file, test_id, classification, reason
    first_red_stage: int | None = None
    failing_modules: dict = field(default_factory=dict)
    chain_seconds: float | None = None
    tinytorch_files: list = field(default_factory=list)
    artifacts: str | None = None

    @property
    def ok(self) -> bool:
        return self.verdict == OK


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


def judge(mutant: Mutant | None, run: ChainRun, copy: Path) -> Outcome:
    """Compare one run with what its mutant expects (``mutant=None``: the control, which must be green)."""
    name = mutant.name if mutant else "control"
    outcome = Outcome(
        name=name,
        audit_bug=mutant.audit_bug if mutant else "none (unmutated copy)",
        expected_module=mutant.expected_module if mutant else None,
        verdict=ERROR,
        why="",
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
    cells = run.regression.get("cells") or []
    cell = next((c for c in cells if c.get("cell") == run.cell), None)
    if cell is None:
        outcome.why = f"regression.json holds no cell {run.cell!r}"
        return outcome
    outcome.first_red_stage = cell.get("first_red_stage")
    outcome.failing_modules = dict(cell.get("failing_modules") or {})
    at = cell.get("points_at")
    if at:
        outcome.pinpointed = {
            key: at.get(key)
            for key in ("module", "module_label", "stage", "file", "test_id", "classification", "reason")
        }
    red = bool(cell.get("red")) or run.chain_exit not in (0, None)
    if mutant is None:
        outcome.verdict = MISMATCH if red else OK
        outcome.why = "the unmutated copy is green" if not red else _red_text(outcome) + ": the baseline is red"
    elif not red:
        outcome.verdict = MISSED
        outcome.why = "the chain stayed green: no test catches this bug"
    elif at is None:
        outcome.verdict = MISMATCH
        outcome.why = f"red at stage {outcome.first_red_stage} but the report points at nothing"
    elif at.get("module") == mutant.expected_module:
        outcome.verdict = OK
        outcome.why = _red_text(outcome)
    else:
        outcome.verdict = MISMATCH
        outcome.why = f"{_red_text(outcome)}, expected module {module_label(mutant.expected_module)}"
    return outcome


def _red_text(outcome: Outcome) -> str:
    at = outcome.pinpointed or {}
    return f"first red stage {outcome.first_red_stage} points at module {module_label(at.get('module'))}"


# --------------------------------------------------------------------------------------------- output
HEADER = ("mutant", "audit bug", "expected", "pinpointed (module @ first red stage, classification)", "verdict")


def _pinpointed_cell(outcome: Outcome) -> str:
    at = outcome.pinpointed
    if outcome.verdict == MISSED:
        return "nothing: chain stayed green"
    if not at:
        return "-"
    return f"{module_label(at.get('module'))} @ stage {outcome.first_red_stage:02d}, {at.get('classification')}"


def format_table(outcomes: Sequence[Outcome]) -> str:
    """The mutant → audit bug → expected → pinpointed → verdict table, the first failing test under each row."""
    rows = [
        (
            o.name,
            o.audit_bug,
            module_label(o.expected_module) if o.expected_module is not None else "green",
            _pinpointed_cell(o),
            o.verdict,
        )
        for o in outcomes
    ]
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADER, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for outcome, row in zip(outcomes, rows):
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
        at = outcome.pinpointed or {}
        if at.get("test_id"):
            lines.append(f"    first failing test: {at['test_id']}")
        if outcome.verdict != OK or not at.get("test_id"):
            lines.append(f"    {outcome.why}")
    return "\n".join(lines)


def summary_line(outcomes: Sequence[Outcome]) -> str:
    pinpointed = sum(o.ok for o in outcomes)
    return f"mutants: {pinpointed} pinpointed, {len(outcomes) - pinpointed} missed"


def list_text(mutants: Sequence[Mutant] = MUTANTS) -> str:
    lines = []
    for m in mutants:
        lines.append(f"{m.name:<28} expects {module_label(m.expected_module):<16} {m.audit_bug}")
        lines.append(f"{'':<28} {m.description}")
        lines.append(f"{'':<28} edits {', '.join(m.files)} ({len(m.edits)} substitution(s))")
    return "\n".join(lines)


def write_json(path: Path, outcomes: Sequence[Outcome], control: Outcome | None, mutants, seconds: float) -> dict:
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
            dict(asdict(o), description=by[o.name].description, edits=[asdict(e) for e in by[o.name].edits])
            for o in outcomes
        ],
        "counts": {"pinpointed": sum(o.ok for o in outcomes), "missed": sum(not o.ok for o in outcomes)},
        "ok": bool(outcomes) and all(o.ok for o in outcomes) and (control is None or control.ok),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
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


def run_one(base: Path, work: Path, mutant: Mutant | None, runner: Runner, keep_dir: Path, **run_kw) -> Outcome:
    """Copy the snapshot ``base`` to ``work``, apply ``mutant`` (None = control), run and judge it."""
    shutil.copytree(base, work)
    if mutant is not None:
        apply_mutant(work, mutant)
    cell = f"mutant-{mutant.name if mutant else 'control'}"
    run = runner(work, cell, **run_kw)
    outcome = judge(mutant, run, work)
    outcome.artifacts = _keep(run, keep_dir)
    return outcome


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.mutants",
        description="Apply each deliberately broken quantization module, run the 01->16 chain on it, and check "
        "the chain pinpoints the expected module.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="mutants to run (default: all; see --list)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--jobs", type=int, default=2, help="chain stages run in parallel (default 2)")
    parser.add_argument("--no-control", action="store_true", help="skip the unmutated control run")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="reports folder (default: reports)")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root (default: this checkout)")
    parser.add_argument("--stage-timeout", type=float, default=300.0, help="seconds before a stage is killed")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temporary copies (path printed)")
    parser.add_argument("-v", "--verbose", action="store_true", help="echo the chain's progress lines")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    return args


def main(argv: list[str] | None = None, runner: Runner = run_chain) -> int:
    args = parse_args(argv)
    if args.list:
        print(list_text())
        return 0
    try:
        selected = by_name(args.names) if args.names else list(MUTANTS)
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
            print(f"mutants: 0 pinpointed, 0 missed; {len(names)} stale ({', '.join(names)}): nothing was run")
            return 1
        kw = {"jobs": args.jobs, "stage_timeout": args.stage_timeout, "verbose": args.verbose}
        control = None
        if not args.no_control:
            print("[mutants] control: the unmutated copy must be green ...", file=sys.stderr, flush=True)
            control = run_one(base, temp / "control", None, runner, out / "mutants" / "control", **kw)
            print(f"[mutants] control: {control.verdict} in {control.chain_seconds} s: {control.why}", file=sys.stderr)
            if not control.ok:
                write_json(out / "mutants.json", [], control, selected, time.monotonic() - start)
                print(f"mutants: the control run is not green ({control.why}); fix that first, no mutant was run")
                return 1
        outcomes = []
        for index, mutant in enumerate(selected, 1):
            print(
                f"[mutants] {index}/{len(selected)} {mutant.name}: running the chain ...", file=sys.stderr, flush=True
            )
            outcome = run_one(base, temp / mutant.name, mutant, runner, out / "mutants" / mutant.name, **kw)
            outcomes.append(outcome)
            print(f"[mutants] {mutant.name}: {outcome.verdict} in {outcome.chain_seconds} s", file=sys.stderr)
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
            print(f"[mutants] temporary copies kept in {temp}", file=sys.stderr)
        else:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

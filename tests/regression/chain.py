"""The stage runner: stage k = a fresh interpreter running the tests of modules 01..k under the import guard.

    python tests/regression/chain.py --cell CELL --out reports/cells/CELL
        [--stages 1-16 | --upto K] [--module N] [--jobs N] [--coverage [--rcfile coverage.toml]]
        [--import-from auto|installed|checkout] [--timeout S] [--plugin-autoload]
        [--pytest-args ARGS...]                        # must come last: everything after it goes to pytest
    python tests/regression/chain.py --cell CELL --out DIR --skipped "REASON"   # record a cell that could not run

Run by the cell's interpreter (the venv that has tinytorch and NumPy installed). Writes ``DIR/records.jsonl``
(every test record of every stage, see records.py), ``DIR/stages.json`` (per stage counts, exit code,
guard violations, the problems that make it red, stderr tail), ``DIR/logs/stage_KK.log`` (full pytest
output) and with ``--coverage`` ``DIR/coverage/.coverage.<cell>.<KK>`` (context ``<cell>@stageKK``).
Exit status 0 iff every stage run is green; 2 for bad arguments. See README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: `regression` lives in tests/, the registry in the checkout
    _HERE = Path(__file__).resolve().parent
    sys.path[0] = str(_HERE.parent)
    sys.path.append(str(_HERE.parents[1]))  # after site-packages: an installed tinytorch wins

import argparse  # noqa: E402
import concurrent.futures as futures  # noqa: E402
import datetime as dt  # noqa: E402
import importlib.util  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

from regression.common import (  # noqa: E402
    ENV_CELL,
    ENV_RECORDS,
    ENV_STAGE,
    ENV_TRACE_AFTER,
    FAIL_OUTCOMES,
    LAYERING_MESSAGE,
    SCHEMA,
    first_line,
    git_head,
    module_of,
    parse_stages,
    read_jsonl,
    safe_name,
    spec,
    unwritable_folder,
    violation_text,
    write_json,
    write_jsonl,
)
from tinytorch.registry import LAST_STAGE, MODULES  # noqa: E402

TESTS_DIR = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = TESTS_DIR.parent
ENTRY = Path(__file__).resolve().parent / "pytest_entry.py"

EMPTY = "empty or uncollectable stage"
LAYERING = "import/layering break"
REGARDLESS = "broken regardless"
STDERR_TAIL_LINES = 25
PYCACHE = ".pycache"  # under --out: the stage processes' PYTHONPYCACHEPREFIX
PYTEST_USAGE_ERROR = 4  # pytest.ExitCode.USAGE_ERROR, without importing pytest into the chain process
_TEST_DEF = re.compile(r"^\s*(?:async\s+)?def test|^\s*class Test", re.M)


@dataclass(frozen=True)
class StagePlan:
    stage: int
    modules: tuple[int, ...]  # whose test folders run
    only_module: int | None = None  # --module N

    @property
    def key(self) -> str:
        return f"{self.stage:02d}" if self.only_module is None else f"{self.stage:02d}-m{self.only_module:02d}"

    @property
    def label(self) -> str:
        text = f"stage {self.stage:02d} {spec(self.stage).name}"
        return text if self.only_module is None else f"{text} (module {spec(self.only_module).tag} only)"


@dataclass
class Context:
    cell: str
    out: Path
    root: Path
    coverage: bool
    rcfile: Path
    import_from: str
    timeout: float
    autoload: bool
    pytest_args: list
    traced_after: dict = field(default_factory=dict)  # stage key -> the run stage below it (trace_once.py)


# --------------------------------------------------------------------------------------------- planning
def plan(stages: list[int], module: int | None) -> list[StagePlan]:
    if module is None:
        return [StagePlan(k, tuple(m.number for m in MODULES if m.number <= k)) for k in stages]
    early = [k for k in stages if k < module]
    if early:
        raise ValueError(f"--module {module}: its tests cannot run at stage(s) {early} before the module exists")
    return [StagePlan(k, (module,), module) for k in stages]


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
    parser.add_argument("--skipped", metavar="REASON", help="record this cell as skipped with REASON; run nothing")
    parser.add_argument("--check-only", action="store_true", help="validate the arguments, touch nothing, exit 0/2")
    parser.add_argument("--pytest-args", nargs=argparse.REMAINDER, default=[], help="extra pytest arguments (last)")
    return parser.parse_args(argv)


# --------------------------------------------------------------------------------------------- one stage
def stage_folders(ctx: Context, stage_plan: StagePlan) -> list[tuple[int, Path]]:
    return [(n, ctx.root / spec(n).test_folder) for n in stage_plan.modules]


def test_like_files(folder: Path, root: Path) -> list[str]:
    """Python files in a test folder that define tests (``def test…`` / ``class Test…``), relative to root."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        if path.name in ("conftest.py", "__init__.py"):
            continue
        if _TEST_DEF.search(path.read_text(encoding="utf-8", errors="replace")):
            found.append(path.relative_to(root).as_posix())
    return found


def uncollected_files(candidates: list[str], records: list[dict], pytest_args: list[str]) -> list[dict]:
    """Files that define tests but from which pytest collected nothing (e.g. a name not matching test_*.py)."""
    if any(arg.startswith(("-k", "-m", "--deselect", "--lf", "--last-failed")) for arg in pytest_args):
        return []  # a selection on purpose: not collecting a file is expected
    seen = {r.get("file") for r in records}
    return [
        {
            "classification": EMPTY,
            "test_id": rel,
            "message": f"{rel} defines tests but pytest collected none of them "
            f"(is it named test_*.py? rename it test_{Path(rel).name})",
        }
        for rel in candidates
        if rel not in seen
    ]


def coverage_file(ctx: Context, stage_plan: StagePlan) -> Path:
    return ctx.out / "coverage" / f".coverage.{safe_name(ctx.cell)}.{stage_plan.key}"


def coverage_context(ctx: Context, stage_plan: StagePlan) -> str:
    """The static coverage context of a stage run; pytest-cov appends ``|<test id>|<phase>`` per test."""
    return f"{ctx.cell}@stage{stage_plan.key}"


def build_command(ctx: Context, stage_plan: StagePlan, folders: list[str]) -> list[str]:
    command = [sys.executable, str(ENTRY), *folders]
    command += ["-p", "regression.guard", "-p", "regression.records", "-p", "no:cacheprovider"]
    if not ctx.autoload and importlib.util.find_spec("pytest_timeout") is not None:
        command += ["-p", "pytest_timeout"]  # pyproject sets `timeout`; --strict-config needs the plugin
    if ctx.coverage:
        # pytest-cov, with each test as a dynamic context on top of the cell@stage static one (set in
        # build_env through coverage.toml's `context`), so the HTML says which tests ran a line, where.
        if not ctx.autoload:
            command += ["-p", "pytest_cov.plugin"]
        # Each case is traced once per cell, at the stage where it is new (trace_once.py); that plugin also
        # sets the per-test contexts (`--cov-context=test`'s labels) on top of the cell@stage static one.
        command += ["-p", "regression.trace_once"]
        command += ["--cov", f"--cov-config={ctx.rcfile}", "--cov-report="]
    # --tb=line: the records carry each failure's message; full tracebacks cost ~30 % of a red stage's time.
    command += ["-q", "--tb=line", "--continue-on-collection-errors", f"--rootdir={ctx.root}", *ctx.pytest_args]
    return command


def build_env(ctx: Context, stage_plan: StagePlan, records: Path) -> dict:
    env = dict(os.environ)
    env.update({ENV_STAGE: str(stage_plan.stage), ENV_CELL: ctx.cell, ENV_RECORDS: str(records)})
    env.setdefault("PYTHONHASHSEED", "0")
    # Bytecode once per cell, not per stage: compiled tinytorch and pytest's rewritten test modules go to
    # the cell's own cache (never into the checkout), whatever the caller's PYTHONDONTWRITEBYTECODE says.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(ctx.out / PYCACHE)
    if ctx.coverage:
        env["COVERAGE_FILE"] = str(coverage_file(ctx, stage_plan))
        env["TINYTORCH_COVERAGE_CONTEXT"] = coverage_context(ctx, stage_plan)
        env[ENV_TRACE_AFTER] = str(ctx.traced_after.get(stage_plan.key, 0))
    # Stages already run in parallel, and the test arrays are tiny: BLAS threads only oversubscribe the
    # cores (measured here: 33 s -> 24 s for the whole chain on 2 cores).
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, "1")
    if not ctx.autoload:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    if ctx.import_from == "checkout":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ctx.root), env.get("PYTHONPATH", "")]))
    return env


def run_stage(ctx: Context, stage_plan: StagePlan) -> dict:
    started = time.perf_counter()
    records_path = ctx.out / "records" / f"stage_{stage_plan.key}.jsonl"
    log_path = ctx.out / "logs" / f"stage_{stage_plan.key}.log"
    records_path.unlink(missing_ok=True)
    problems: list[dict] = []
    existing, candidates = [], []
    for number, folder in stage_folders(ctx, stage_plan):
        rel = folder.relative_to(ctx.root).as_posix()
        if folder.is_dir():
            existing.append(rel)
            candidates += [(number, f) for f in test_like_files(folder, ctx.root)]
        else:
            problems.append(
                {"classification": EMPTY, "module": number, "test_id": rel, "message": f"{rel} does not exist"}
            )
    exit_code, timed_out, output = None, False, ""
    if existing:
        exit_code, timed_out, output = _run_pytest(ctx, stage_plan, existing, records_path)
    log_path.write_text(output, encoding="utf-8")
    records = list(read_jsonl(records_path)) if records_path.exists() else []
    if records:  # without records pytest never ran properly: that problem is reported instead
        for number, rel in candidates:
            problems += [dict(p, module=number) for p in uncollected_files([rel], records, ctx.pytest_args)]
    result = summarize(stage_plan, records, problems, exit_code, timed_out, output, ctx)
    result["seconds"] = round(time.perf_counter() - started, 2)
    result["log"] = log_path.relative_to(ctx.out).as_posix()
    result["records_file"] = records_path
    return result


def _run_pytest(ctx: Context, stage_plan: StagePlan, folders: list[str], records: Path):
    if ctx.coverage:
        for stale in (ctx.out / "coverage").glob(f".coverage.{safe_name(ctx.cell)}.{stage_plan.key}*"):
            stale.unlink()
    command = build_command(ctx, stage_plan, folders)
    env = build_env(ctx, stage_plan, records)
    try:
        done = subprocess.run(
            command,
            cwd=ctx.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=ctx.timeout,
            check=False,
        )
        return done.returncode, False, _decode(done.stdout)
    except subprocess.TimeoutExpired as expired:
        return -9, True, _decode(expired.stdout or b"") + f"\n[chain] killed after {ctx.timeout:.0f} s\n"


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def summarize(stage_plan, records, problems, exit_code, timed_out, output, ctx) -> dict:
    """Counts and the problems that make the stage red, from the stage's records and exit code."""
    tests = [r for r in records if r.get("kind") == "test"]
    collect_errors = [r for r in records if r.get("kind") == "collect_error"]
    sessions = [r for r in records if r.get("kind") == "session"]
    session = sessions[-1] if sessions else {}
    outcomes = Counter(r["outcome"] for r in tests)
    per_module = session.get("collected_per_module", {})
    failing_modules = {r.get("module") for r in collect_errors}
    for number in stage_plan.modules:
        rel = spec(number).test_folder
        if (ctx.root / rel).is_dir() and session and not per_module.get(spec(number).tag):
            if number not in failing_modules:
                problems.append(
                    {
                        "classification": EMPTY,
                        "module": number,
                        "test_id": rel,
                        "message": f"{rel} collected no tests (test files must be named test_*.py)",
                    }
                )
    violations = session.get("guard_violations", [])
    explained = {r["test_id"] for r in tests + collect_errors if r.get("guard_violations")}
    for violation in violations:
        if violation.get("nodeid") not in explained:
            problems.append(
                {
                    "classification": LAYERING,
                    "module": module_of(violation.get("nodeid") or "") or stage_plan.stage,
                    "test_id": violation.get("nodeid") or f"<stage {stage_plan.key} startup>",
                    "message": violation_text(violation),
                }
            )
    failing = sum(1 for r in tests if r["outcome"] in FAIL_OUTCOMES) + len(collect_errors)
    if timed_out:
        problems.append(
            {
                "classification": REGARDLESS,
                "module": stage_plan.stage,
                "test_id": f"<stage {stage_plan.key}>",
                "message": f"stage killed after {ctx.timeout:.0f} s (raise --timeout or find the hanging test)",
            }
        )
    elif exit_code not in (None, 0) and not failing and not problems:
        reason = _last_meaningful_line(output)
        problems.append(
            {
                # e.g. a conftest importing a later module: pytest stops before any test ran
                "classification": LAYERING if LAYERING_MESSAGE.search(reason) else EMPTY,
                "module": stage_plan.stage,
                "test_id": f"<stage {stage_plan.key}>",
                "message": f"pytest exited with code {exit_code}: {reason}",
            }
        )
    collected = session.get("collected", 0)
    red = bool(problems or failing or exit_code not in (0,) or collected == 0)
    if collected == 0 and not problems and not failing:
        problems.append(
            {
                "classification": EMPTY,
                "module": stage_plan.stage,
                "test_id": f"<stage {stage_plan.key}>",
                "message": "the stage collected no tests",
            }
        )
    return {
        "stage": stage_plan.stage,
        "key": stage_plan.key,
        "name": spec(stage_plan.stage).name,
        "modules": list(stage_plan.modules),
        "only_module": stage_plan.only_module,
        "collected": collected,
        "collected_per_module": per_module,
        "passed": outcomes["passed"] + outcomes["xpassed"],
        "failed": outcomes["failed"],
        "errors": outcomes["error"],
        "collect_errors": len(collect_errors),
        "skipped": outcomes["skipped"],
        "xfailed": outcomes["xfailed"],
        "exit_code": exit_code,
        "timed_out": timed_out,
        "guard_violations": violations,
        "problems": problems,
        "red": red,
        "python": session.get("python"),
        "numpy": session.get("numpy"),
        "tinytorch_file": session.get("tinytorch_file"),
        "stderr_tail": "\n".join(output.splitlines()[-STDERR_TAIL_LINES:]),
    }


def _last_meaningful_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or line.startswith("E ")]
    return first_line((errors or lines or ["no output"])[-1])


# --------------------------------------------------------------------------------------------- the chain
ENV_PROGRESS = "TINYTORCH_PROGRESS"  # "3/10": this cell's place in the whole run (set by the noxfile)


class Progress:
    """Live lines on stderr: one per finished stage (where the whole run is, elapsed, an estimate of what
    is left in this cell), plus a heartbeat naming what is still running."""

    def __init__(self, cell: str, plans: list[StagePlan]):
        self.cell, self.total, self.done = cell, len(plans), 0
        place = os.environ.get(ENV_PROGRESS, "").strip()
        self.prefix = f"cell {place} {cell}" if re.fullmatch(r"\d+/\d+", place) else cell
        # Stage k re-runs the tests of modules 01..k: its cost grows with the folders it runs.
        self.weights = {p.key: len(p.modules) for p in plans}
        self.weight_done = 0
        self.started = time.perf_counter()
        self.lock = threading.Lock()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def left(self) -> str:
        total = sum(self.weights.values())
        if not self.weight_done or self.weight_done >= total:
            return ""
        return f", ~{self.elapsed() * (total - self.weight_done) / self.weight_done:.0f} s left"

    def say(self, text: str) -> None:
        with self.lock:
            print(f"[{self.prefix}] {text}", file=sys.stderr, flush=True)

    def finished(self, stage_plan: StagePlan, result: dict) -> None:
        self.done += 1
        self.weight_done += self.weights.get(stage_plan.key, 1)
        verdict = "RED" if result["red"] else "ok "
        failed = result["failed"] + result["errors"] + result["collect_errors"]
        line = (
            f"{stage_plan.label:<26} {verdict} {result['seconds']:6.1f} s, {result['passed']} passed, {failed} failed"
            f"  (stage {self.done}/{self.total} done, elapsed {self.elapsed():.1f} s{self.left()})"
        )
        if result["problems"]:
            line += f"  - {result['problems'][0]['message']}"
        self.say(line)


def run_chain(ctx: Context, plans: list[StagePlan], jobs: int) -> list[dict]:
    progress = Progress(ctx.cell, plans)
    progress.say(
        f"{len(plans)} stage(s), {jobs} in parallel, python {platform.python_version()} ({sys.executable})"
        + (", with coverage" if ctx.coverage else "")
    )
    results: dict[str, dict] = {}
    # Longest first (stage k runs k folders): better packing of the parallel slots.
    ordered = sorted(plans, key=lambda p: (-len(p.modules), -p.stage))
    with futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        running = {pool.submit(run_stage, ctx, p): p for p in ordered}
        while running:
            finished, _ = futures.wait(running, timeout=15, return_when=futures.FIRST_COMPLETED)
            if not finished:
                busy = sorted(p.key for f, p in running.items() if f.running())
                progress.say(f"... running stage(s) {', '.join(busy)} (elapsed {progress.elapsed():.0f} s)")
            for future in finished:
                stage_plan = running.pop(future)
                results[stage_plan.key] = future.result()
                progress.finished(stage_plan, results[stage_plan.key])
    return [results[p.key] for p in sorted(plans, key=lambda p: (p.stage, p.key))]


def prepare_out(out: Path, keep_coverage: bool) -> None:
    """Clear the per-stage working folders; the previous ``stages.json`` and its records stay whole until
    the new ones replace them (``publish``), so a killed run leaves the last results readable."""
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("records", "logs"):
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir()
    if keep_coverage:
        (out / "coverage").mkdir(exist_ok=True)


def drop_stale_coverage(out: Path, cell: str, keys: set[str]) -> None:
    """Coverage files of stages this run did not run (an earlier, longer run's) must not be combined."""
    prefix = f".coverage.{safe_name(cell)}."
    for path in (out / "coverage").glob(prefix + "*"):
        if path.name[len(prefix) :].split(".", 1)[0] not in keys:
            path.unlink(missing_ok=True)


def publish(out: Path, header: dict, records: list[dict]) -> None:
    """Records under a new name first, then ``stages.json`` naming them (the commit point), then the old
    records go: at every instant ``stages.json`` and the records it names belong to the same run."""
    name = f"records-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%f}-{os.getpid()}.jsonl"
    write_jsonl(out / name, records)
    write_json(out / "stages.json", dict(header, records_file=name))
    for old in [*out.glob("records*.jsonl"), *out.glob(".records*.tmp")]:  # incl. a killed run's
        if old.name != name:
            old.unlink(missing_ok=True)


def cell_header(cell: str, skipped: bool, reason: str | None) -> dict:
    return {
        "schema": SCHEMA,
        "cell": cell,
        "skipped": skipped,
        "skip_reason": reason,
        "python": platform.python_version(),
        "executable": sys.executable,
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def write_skipped(out: Path, cell: str, reason: str) -> int:
    prepare_out(out, keep_coverage=False)
    header = cell_header(cell, True, reason)
    header.update({"python": None, "executable": None, "stages": [], "green": None, "seconds": 0.0})
    publish(out, header, [])
    print(f"[{cell}] skipped: {reason}", file=sys.stderr)
    return 0


def check_cell_and_out(args: argparse.Namespace) -> None:
    if not args.cell.strip():
        raise UsageError("--cell '': give the cell a name, e.g. --cell py3.12-np2.5")
    problem = unwritable_folder(args.out.resolve(), "--out")
    if problem:
        raise UsageError(problem)


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
    out, root, import_from = ctx.out, ctx.root, ctx.import_from
    prepare_out(out, keep_coverage=args.coverage)
    started = time.perf_counter()
    results = run_chain(ctx, plans, args.jobs)
    merged = [
        record
        for result in results
        for path in [result.pop("records_file")]
        if path.exists()
        for record in read_jsonl(path)
        if record.get("kind") != "session"
    ]
    shutil.rmtree(out / "records", ignore_errors=True)
    header = cell_header(args.cell, False, None)
    green = not any(r["red"] for r in results)
    header.update(
        {
            "numpy": next((r["numpy"] for r in results if r.get("numpy")), None),
            "pytest": _version("pytest"),
            "tinytorch_file": next((r["tinytorch_file"] for r in results if r.get("tinytorch_file")), None),
            "root": str(root),
            "commit": git_head(root),
            "import_from": import_from,
            "coverage": args.coverage,
            "jobs": args.jobs,
            "argv": sys.argv[1:] if argv is None else list(argv),
            "seconds": round(time.perf_counter() - started, 2),
            "green": green,
            "stages": results,
        }
    )
    if ctx.coverage:
        drop_stale_coverage(out, ctx.cell, {p.key for p in plans})
    publish(out, header, merged)
    red = [r["key"] for r in results if r["red"]]
    print(
        f"[{args.cell}] {len(results)} stage(s) in {header['seconds']:.1f} s: "
        + ("all green" if green else f"RED at stage(s) {', '.join(red)}")
        + f"  -> {out / 'stages.json'}",
        file=sys.stderr,
    )
    return 0 if green else 1


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

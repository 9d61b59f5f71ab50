"""One stage of the chain: its plan, its pytest command and environment, its run, and its verdict.

Stage k is a fresh interpreter that runs the tests of modules 01..k under the import guard; ``judge_stage``
is the only function that decides whether a stage is red, and why.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from regression.common import (
    ENV_CELL,
    ENV_RECORDS,
    ENV_STAGE,
    ENV_TRACE_AFTER,
    LAYERING_MESSAGE,
    first_line,
    module_of,
    read_jsonl,
    safe_name,
    spec,
    violation_text,
)
from regression.contract import FAIL_OUTCOMES, Classification, run_with_timeout, tail_text
from regression.inputs import ENV_EXCLUDE, ENV_INPUTS
from regression.rerun import FLAKY, apply_rerun, rerun_candidates
from tinytorch.registry import MODULES

ENTRY = Path(__file__).resolve().parent / "pytest_entry.py"
EMPTY, LAYERING, REGARDLESS = Classification.EMPTY, Classification.LAYERING, Classification.REGARDLESS
STDERR_TAIL_LINES = 25
PYCACHE = ".pycache"  # under --out: the stage processes' PYTHONPYCACHEPREFIX
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
    work: Path | None = None  # this run's own working folder under --out (records, logs, inputs)
    record_inputs: bool = False  # the stage store is on: each stage reports the files it read
    pycache: Path | None = None  # the stage processes' bytecode cache (default: --out/.pycache)

    @property
    def scratch(self) -> Path:
        return self.work or self.out


def plan(stages: list[int], module: int | None) -> list[StagePlan]:
    if module is None:
        return [StagePlan(k, tuple(m.number for m in MODULES if m.number <= k)) for k in stages]
    early = [k for k in stages if k < module]
    if early:
        raise ValueError(f"--module {module}: its tests cannot run at stage(s) {early} before the module exists")
    return [StagePlan(k, (module,), module) for k in stages]


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
    if ctx.record_inputs:
        command += ["-p", "regression.inputs"]
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
    env["PYTHONPYCACHEPREFIX"] = str(ctx.pycache or ctx.out / PYCACHE)
    if ctx.coverage:
        env["COVERAGE_FILE"] = str(coverage_file(ctx, stage_plan))
        env["TINYTORCH_COVERAGE_CONTEXT"] = coverage_context(ctx, stage_plan)
        env[ENV_TRACE_AFTER] = str(ctx.traced_after.get(stage_plan.key, 0))
    if ctx.record_inputs:
        env[ENV_INPUTS] = str(inputs_path(ctx, stage_plan))
        env[ENV_EXCLUDE] = str(ctx.out)
    # Stages already run in parallel, and the test arrays are tiny: BLAS threads only oversubscribe the
    # cores (measured here: 33 s -> 24 s for the whole chain on 2 cores).
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, "1")
    if not ctx.autoload:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    if ctx.import_from == "checkout":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ctx.root), env.get("PYTHONPATH", "")]))
    return env


def stage_paths(ctx: Context, stage_plan: StagePlan) -> tuple[Path, Path]:
    """(records, log) of a stage in this run's working folder."""
    return (
        ctx.scratch / "records" / f"stage_{stage_plan.key}.jsonl",
        ctx.scratch / "logs" / f"stage_{stage_plan.key}.log",
    )


def inputs_path(ctx: Context, stage_plan: StagePlan) -> Path:
    return ctx.scratch / "inputs" / f"stage_{stage_plan.key}.json"


def run_stage(ctx: Context, stage_plan: StagePlan, cancelled=None) -> dict:
    started = time.perf_counter()
    records_path, log_path = stage_paths(ctx, stage_plan)
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
    exit_code, timed_out, was_cancelled = None, False, False
    if existing:
        exit_code, timed_out, was_cancelled = _run_pytest(ctx, stage_plan, existing, records_path, log_path, cancelled)
    else:
        log_path.write_text("", encoding="utf-8")
    flaky = []
    if exit_code not in (None, 0) and not (timed_out or was_cancelled) and records_path.exists():
        flaky = _rerun_failures(ctx, stage_plan, records_path, cancelled)
    output = tail_text(log_path, STDERR_TAIL_LINES)
    records = list(read_jsonl(records_path)) if records_path.exists() else []
    if existing and not any(r.get("kind") == "session" for r in records):
        probe_disk(ctx.scratch)  # a stage that could not finish its records: a full disk is not a test's fault
    if records:  # without records pytest never ran properly: that problem is reported instead
        for number, rel in candidates:
            problems += [dict(p, module=number) for p in uncollected_files([rel], records, ctx.pytest_args)]
    result = judge_stage(stage_plan, records, problems, exit_code, timed_out, output, ctx)
    result["seconds"] = round(time.perf_counter() - started, 2)
    result["log"] = f"logs/{log_path.name}"  # where publish puts it
    result["records_file"] = records_path
    result["cancelled"] = was_cancelled
    result["flaky"] = flaky
    return result


PROBE_BYTES = 256 * 1024


def probe_disk(folder: Path) -> None:
    """Raise the ``OSError`` (no space, file-size limit, quota) that writing here gives now, if any: a stage
    whose records stop short is judged red only when the disk is not the reason."""
    probe = folder / f".probe-{os.getpid()}-{time.monotonic_ns()}"
    try:
        with open(probe, "wb") as handle:
            handle.write(b"\0" * PROBE_BYTES)
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        probe.unlink(missing_ok=True)


def _rerun_failures(ctx: Context, stage_plan: StagePlan, records_path: Path, cancelled) -> list[str]:
    """Run the stage's failed tests once more in a fresh process (rerun.py); returns those that passed."""
    node_ids = rerun_candidates(list(read_jsonl(records_path)))
    if not node_ids:
        return []
    rerun_records = records_path.with_name(f"rerun_{stage_plan.key}.jsonl")
    rerun_log = stage_paths(ctx, stage_plan)[1].with_suffix(".rerun.log")
    command = build_command(ctx, stage_plan, node_ids)
    env = build_env(ctx, stage_plan, rerun_records)
    env.pop(ENV_INPUTS, None)  # the first run already said what the stage reads
    if ctx.coverage:
        env["COVERAGE_FILE"] = str(coverage_file(ctx, stage_plan)) + ".rerun"
    run_with_timeout(command, timeout=ctx.timeout, output=rerun_log, cwd=ctx.root, env=env, cancelled=cancelled)
    if ctx.coverage:
        Path(env["COVERAGE_FILE"]).unlink(missing_ok=True)  # the first run's data is the stage's
    return apply_rerun(records_path, rerun_records, f"logs/{rerun_log.name}")


def _run_pytest(ctx: Context, stage_plan: StagePlan, folders: list[str], records: Path, log: Path, cancelled):
    """The stage's pytest in its own process group (contract.run_with_timeout): on time-out the whole group
    is killed, a test's own subprocesses included; its output streams to the stage log, never into memory."""
    if ctx.coverage:
        for stale in (ctx.out / "coverage").glob(f".coverage.{safe_name(ctx.cell)}.{stage_plan.key}*"):
            stale.unlink()
    command = build_command(ctx, stage_plan, folders)
    env = build_env(ctx, stage_plan, records)
    done = run_with_timeout(command, timeout=ctx.timeout, output=log, cwd=ctx.root, env=env, cancelled=cancelled)
    if done.timed_out:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"\n[chain] killed after {ctx.timeout:.0f} s\n")
        return -9, True, False
    return done.returncode, False, done.cancelled


def judge_stage(stage_plan, records, problems, exit_code, timed_out, output, ctx) -> dict:
    """The one place a stage becomes red or green, and why: counts and the problems that make it red, from
    the stage's records and exit code. The report, mutants, bisect and sign-off read this verdict."""
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
    # Failures that passed on their rerun (rerun.py) explain pytest's exit code 1 without making it red.
    flaky_only = exit_code == 1 and not failing and any(r["outcome"] == FLAKY for r in tests)
    if timed_out:
        problems.append(
            {
                "classification": REGARDLESS,
                "module": stage_plan.stage,
                "test_id": f"<stage {stage_plan.key}>",
                "message": f"stage killed after {ctx.timeout:.0f} s (raise --timeout or find the hanging test)",
            }
        )
    elif exit_code not in (None, 0) and not failing and not problems and not flaky_only:
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
    red = bool(problems or failing or (exit_code != 0 and not flaky_only) or collected == 0)
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
        "stderr_tail": output,  # already the log's bounded tail (contract.tail_text)
    }


def _last_meaningful_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or line.startswith("E ")]
    return first_line((errors or lines or ["no output"])[-1])

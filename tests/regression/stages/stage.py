"""One stage of the chain as it is planned: which test folders it runs, its pytest command and environment,
and where its records and log go. ``stage_run.py`` runs it; ``judge.py`` decides whether it is red.

Stage k is a fresh interpreter that runs the tests of modules 01..k under the import guard.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from regression.common import (
    ENV_CELL,
    ENV_COVERAGE_CONTEXT,
    ENV_INPUTS,
    ENV_INPUTS_EXCLUDE,
    ENV_RECORDS,
    ENV_STAGE,
    ENV_TRACE_AFTER,
    OUTER_RUN_SETTINGS,
    safe_name,
    spec,
)
from regression.stages.judge import judge_stage  # noqa: F401  (the schema and the docs name it stage.judge_stage)
from tinytorch.registry import MODULES

ENTRY = Path(__file__).resolve().parents[1] / "pytest_entry.py"
PYCACHE = ".pycache"  # under --out: the stage processes' PYTHONPYCACHEPREFIX


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


def coverage_file(ctx: Context, stage_plan: StagePlan) -> Path:
    return ctx.out / "coverage" / f".coverage.{safe_name(ctx.cell)}.{stage_plan.key}"


def coverage_context(ctx: Context, stage_plan: StagePlan) -> str:
    """The static coverage context of a stage run; pytest-cov appends ``|<test id>|<phase>`` per test."""
    return f"{ctx.cell}@stage{stage_plan.key}"


def build_command(ctx: Context, stage_plan: StagePlan, folders: list[str]) -> list[str]:
    command = [sys.executable, str(ENTRY), *folders]
    command += ["-p", "regression.plugins.guard", "-p", "regression.plugins.records", "-p", "no:cacheprovider"]
    if ctx.record_inputs:
        command += ["-p", "regression.plugins.inputs"]
    if not ctx.autoload and importlib.util.find_spec("pytest_timeout") is not None:
        command += ["-p", "pytest_timeout"]  # pyproject sets `timeout`; --strict-config needs the plugin
    if ctx.coverage:
        # pytest-cov, with each test as a dynamic context on top of the cell@stage static one (set in
        # build_env through coverage.toml's `context`), so the HTML says which tests ran a line, where.
        if not ctx.autoload:
            command += ["-p", "pytest_cov.plugin"]
        # Each case is traced once per cell, at the stage where it is new (trace_once.py); that plugin also
        # sets the per-test contexts (`--cov-context=test`'s labels) on top of the cell@stage static one.
        command += ["-p", "regression.plugins.trace_once"]
        command += ["--cov", f"--cov-config={ctx.rcfile}", "--cov-report="]
    # --tb=line: the records carry each failure's message; full tracebacks would only slow a red stage.
    command += ["-q", "--tb=line", "--continue-on-collection-errors", f"--rootdir={ctx.root}", *ctx.pytest_args]
    return command


def build_env(ctx: Context, stage_plan: StagePlan, records: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in OUTER_RUN_SETTINGS}  # the outer run's, not the tests'
    env.update({ENV_STAGE: str(stage_plan.stage), ENV_CELL: ctx.cell, ENV_RECORDS: str(records)})
    env.setdefault("PYTHONHASHSEED", "0")
    # Bytecode once per cell, not per stage: compiled tinytorch and pytest's rewritten test modules go to
    # the cell's own cache (never into the checkout), whatever the caller's PYTHONDONTWRITEBYTECODE says.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(ctx.pycache or ctx.out / PYCACHE)
    if ctx.coverage:
        env["COVERAGE_FILE"] = str(coverage_file(ctx, stage_plan))
        env[ENV_COVERAGE_CONTEXT] = coverage_context(ctx, stage_plan)
        env[ENV_TRACE_AFTER] = str(ctx.traced_after.get(stage_plan.key, 0))
    if ctx.record_inputs:
        env[ENV_INPUTS] = str(inputs_path(ctx, stage_plan))
        env[ENV_INPUTS_EXCLUDE] = str(ctx.out)
    # Stages already run in parallel, and the test arrays are tiny: BLAS threads only oversubscribe the cores.
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


def stage_folders(ctx: Context, stage_plan: StagePlan) -> list[tuple[int, Path]]:
    return [(n, ctx.root / spec(n).test_folder) for n in stage_plan.modules]

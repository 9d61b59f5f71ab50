"""What a bisect judges and what each of its steps runs: the cell, the chain stage or node ids, the targets.

The targets are the failures of the last report on the cell (by default those at its first red stage,
or at ``--stage K`` / of ``--module N``), the ``--test`` node ids, or — with no report failure there —
``None``: whatever fails at ``--bad``, filled in by the first check. Every refusal is a ``UsageError``
naming the option, raised before anything is touched.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from tinytorch.registry import LAST_STAGE  # import-free: loads no tinytorch module
from tools import matrix
from tools.harness import ENV_CELL, ENV_RECORDS, ENV_STAGE, UsageError

OUT = "{out}"  # in a step's command and env: that step's folder (the judge fills it in)
_MODULE_DIR = re.compile(r"(?:^|/)modules/(\d{2})_[^/]+/")
# As the chain runs its stages: hash seed and BLAS threads fixed, unless the caller's environment sets them.
STEP_DEFAULTS = {"PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass
class Plan:
    """What each step runs and which failures it judges."""

    cell: matrix.Cell
    mode: str  # "chain" (chain.py --stages K [--module N]) | "pytest" (the node ids alone)
    stage: int
    module: int | None
    node_ids: list[str]
    targets: list[dict] | None  # {"test_id", "reason", "classification"}; None: take what fails at --bad
    source: str  # where the targets come from
    classification: dict = field(default_factory=dict)  # test id -> the report's classification

    def describe(self) -> str:
        if self.mode == "pytest":
            what = f"{len(self.node_ids)} test id(s) at stage {self.stage:02d}"
        else:
            what = f"chain stage {self.stage:02d}" + (f", module {self.module:02d} only" if self.module else "")
        count = "the failures at --bad" if self.targets is None else f"{len(self.targets)} failure(s)"
        return f"{what}; judging {count} ({self.source})"


def default_cell() -> matrix.Cell:
    """The default Python with the newest NumPy it has wheels for."""
    return [c for c in matrix.all_cells() if c.python == matrix.DEFAULT_PYTHON][-1]


def choose_cell(name: str | None, report: dict | None) -> matrix.Cell:
    """``--cell``, else the report's first red cell, else :func:`default_cell`."""
    if name is None:
        red = [c.get("cell") for c in (report or {}).get("cells", []) if c.get("red")]
        if not red:
            return default_cell()
        try:
            return matrix.cell_by_name(red[0])
        except KeyError:
            raise UsageError(f"the report's first red cell {red[0]!r} is no matrix cell: pass --cell") from None
    try:
        return matrix.cell_by_name(name)
    except KeyError as error:
        raise UsageError(f"--cell: {error.args[0]}") from None


def check_number(option: str, value: int | None) -> None:
    if value is not None and not 1 <= value <= LAST_STAGE:
        raise UsageError(f"{option} {value}: must lie in 1..{LAST_STAGE}")


def module_of(test_id: str) -> int | None:
    match = _MODULE_DIR.search(test_id.replace("\\", "/"))
    return int(match.group(1)) if match else None


def _targets(failures: list[dict]) -> list[dict]:
    seen: dict[str, dict] = {}
    for f in failures:
        seen.setdefault(
            f["test_id"],
            {"test_id": f["test_id"], "reason": f.get("reason") or "", "classification": f.get("classification")},
        )
    return list(seen.values())


def _test_plan(args: argparse.Namespace, failures: list[dict], cell: matrix.Cell) -> Plan:
    """``--test NODEID ...``: pytest on those alone, at ``--stage`` or the stage their report failures (or
    their module folder) name."""
    known = {f["test_id"]: f for f in failures}
    stages = []
    for test_id in args.test:
        if args.stage is None:
            stage = min((f["stage"] for f in failures if f["test_id"] == test_id), default=module_of(test_id))
            if stage is None:
                raise UsageError(
                    f"--test {test_id}: not under tests/modules/NN_*/, so its stage is unknown: pass --stage K"
                )
            stages.append(stage)
    targets = [
        {
            "test_id": t,
            "reason": known.get(t, {}).get("reason", ""),
            "classification": known.get(t, {}).get("classification"),
        }
        for t in dict.fromkeys(args.test)
    ]
    plan = Plan(cell, "pytest", args.stage or max(stages), None, [t["test_id"] for t in targets], targets, "--test")
    plan.classification = {t["test_id"]: t["classification"] for t in targets if t.get("classification")}
    return plan


def make_plan(args: argparse.Namespace, report: dict | None, cell: matrix.Cell, report_path: Path) -> Plan:
    check_number("--stage", args.stage)
    check_number("--module", args.module)
    failures = [f for f in (report or {}).get("failures", []) if f.get("cell") == cell.name and f.get("test_id")]
    if args.test:
        return _test_plan(args, failures, cell)
    selected = failures
    if args.module is not None:
        selected = [f for f in selected if f.get("module") == args.module]
    if args.stage is not None:
        selected = [f for f in selected if f.get("stage") == args.stage]
    elif selected:
        red = {c.get("cell"): c.get("first_red_stage") for c in (report or {}).get("cells", [])}
        first = red.get(cell.name) if args.module is None else None
        stage = first if first in {f["stage"] for f in selected} else min(f["stage"] for f in selected)
        selected = [f for f in selected if f["stage"] == stage]
    if selected:
        stage = selected[0]["stage"]
        modules = {f.get("module") for f in selected}
        module = args.module if args.module is not None else (modules.pop() if len(modules) == 1 else None)
        targets = _targets(selected)
        source = f"{report_path}, cell {cell.name}, stage {stage:02d}"
    elif args.stage is None and args.module is None:
        raise UsageError(
            f"nothing to judge: {report_path} has no failure on {cell.name} "
            f'(run `nox -s "regression({cell.name})"` first), or pass --test, --stage or --module'
        )
    else:
        stage = args.stage if args.stage is not None else args.module
        module, targets, source = args.module, None, "whatever fails at --bad"
    if module is not None and module > stage:
        raise UsageError(f"--module {module}: its tests cannot run at stage {stage}, before the module exists")
    plan = Plan(cell, "chain", stage, module, [], targets, source)
    plan.classification = {t["test_id"]: t["classification"] for t in targets or [] if t.get("classification")}
    return plan


def step_command(plan: Plan, python: str, worktree: Path, timeout: float, plugins: list[str]) -> dict:
    """The judge's run at each commit, ``OUT`` standing for the step's folder: ``command``, ``env`` (what
    it adds to the environment) and ``step_timeout``.

    Chain mode: the commit's ``tests/regression/chain.py`` at the stage (and module), one job, importing
    the worktree's tinytorch, its own time-out per stage (the judge's allows for the chain's start).
    Pytest mode: the node ids alone under the chain's guard and records plugin, as a stage runs them.
    """
    env = {k: v for k, v in STEP_DEFAULTS.items() if k not in os.environ}
    if plan.mode == "chain":
        command = [python, str(worktree / "tests" / "regression" / "chain.py"), "--cell", plan.cell.name]
        command += ["--out", OUT, "--stages", str(plan.stage)]
        if plan.module is not None:
            command += ["--module", str(plan.module)]
        command += ["--jobs", "1", "--import-from", "checkout", "--timeout", str(timeout)]
        return {"command": command, "env": env, "step_timeout": timeout + 60}
    paths = [str(worktree / "tests"), str(worktree), os.environ.get("PYTHONPATH", "")]
    env.update(
        {
            ENV_STAGE: str(plan.stage),
            ENV_CELL: plan.cell.name,
            ENV_RECORDS: f"{OUT}/records.jsonl",
            "PYTHONPATH": os.pathsep.join(p for p in paths if p),  # the worktree's tinytorch, not an installed one
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # as the chain runs: only the plugins named
        }
    )
    command = [python, "-m", "pytest", *plan.node_ids]
    command += ["-p", "regression.plugins.guard", "-p", "regression.plugins.records"]
    for plugin in plugins:  # pyproject's `timeout` needs pytest-timeout (--strict-config)
        command += ["-p", plugin]
    command += ["-p", "no:cacheprovider", "-q", "--tb=line", f"--rootdir={worktree}"]
    return {"command": command, "env": env, "step_timeout": timeout}


def estimate(commits: int) -> int:
    """≈ steps git bisect needs over ``commits`` candidates (``log2``, at least 1)."""
    return max(1, math.ceil(math.log2(commits))) if commits > 1 else 1

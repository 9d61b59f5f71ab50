"""One cell's chain run as ``stages.json`` holds it: the header and one ``StageResult`` per stage.

``StageResult`` is what ``judge_stage`` decides — the only place a stage becomes red or green, and why
(``problems``); every later reader (the report, mutants, bisect, sign-off) trusts ``red`` and ``problems``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from regression.contract import Classification
from regression.schema.records import Violation
from regression.schema.typed import Typed, doc


@dataclass(frozen=True)
class Problem(Typed):
    """Why a stage is red besides its failing tests: a missing folder, a time-out, a guard refusal…"""

    classification: Classification = field(metadata=doc("one of the four classifications"))
    test_id: str = field(metadata=doc("what failed: a test, a file, a folder or <stage NN>"))
    message: str = field(metadata=doc("one line, with the fix where there is one"))
    module: Optional[int] = field(default=None, metadata=doc("the module it concerns"))


@dataclass(frozen=True)
class Reused(Typed):
    """Where a reused stage result came from (the stage store)."""

    commit: Optional[str] = field(metadata=doc("the commit of the run that produced it"))
    date: Optional[str] = field(metadata=doc("when that run happened (UTC ISO time)"))
    seconds: Optional[float] = field(default=None, metadata=doc("what that run took"))


@dataclass(frozen=True)
class StageResult(Typed):
    """One stage's verdict (``stage.judge_stage``) and the facts it was decided from."""

    stage: int = field(metadata=doc("1..16"))
    collected: int = field(metadata=doc("tests pytest collected"))
    passed: int = field(metadata=doc("passed + xpassed"))
    failed: int = field(metadata=doc("failed tests"))
    errors: int = field(metadata=doc("tests whose setup or teardown failed"))
    collect_errors: int = field(metadata=doc("files or folders that failed to collect"))
    skipped: int = field(metadata=doc("skipped tests"))
    xfailed: int = field(metadata=doc("expected failures"))
    red: bool = field(metadata=doc("the verdict"))
    key: Optional[str] = field(default=None, metadata=doc("'03', or '12-m12' for a module-only run"))
    name: Optional[str] = field(default=None, metadata=doc("the stage's module name"))
    modules: List[int] = field(default_factory=list, metadata=doc("whose test folders ran"))
    only_module: Optional[int] = field(default=None, metadata=doc("--module N, else null"))
    collected_per_module: Dict[str, int] = field(default_factory=dict, metadata=doc("module tag -> collected"))
    exit_code: Optional[int] = field(default=None, metadata=doc("pytest's exit code; -9 killed; null not run"))
    timed_out: bool = field(default=False, metadata=doc("killed at --timeout"))
    guard_violations: List[Violation] = field(default_factory=list, metadata=doc("the session's guard refusals"))
    problems: List[Problem] = field(default_factory=list, metadata=doc("why it is red besides failing tests"))
    python: Optional[str] = field(default=None, metadata=doc("the stage interpreter's version"))
    numpy: Optional[str] = field(default=None, metadata=doc("NumPy's version in the stage"))
    tinytorch_file: Optional[str] = field(default=None, metadata=doc("where the stage imported tinytorch from"))
    stderr_tail: str = field(default="", metadata=doc("the bounded tail of the stage log"))
    seconds: Optional[float] = field(default=None, metadata=doc("the stage's wall time"))
    log: Optional[str] = field(default=None, metadata=doc("the stage log, relative to the cell folder"))
    cancelled: bool = field(default=False, metadata=doc("ended early by --first-red or an interrupt"))
    flaky: List[str] = field(default_factory=list, metadata=doc("tests that failed, then passed on the rerun"))
    reused: Optional[Reused] = field(default=None, metadata=doc("set when reused from the store", omit_none=True))


@dataclass(frozen=True)
class CellRun(Typed):
    """``stages.json``: one cell's run of the chain (or a cell recorded as skipped)."""

    cell: str = field(metadata=doc("the cell's name, e.g. py3.12-np2.2"))
    schema: int = field(default=1, metadata=doc("the stages.json schema version"))
    skipped: bool = field(default=False, metadata=doc("recorded as skipped: nothing ran"))
    skip_reason: Optional[str] = field(default=None, metadata=doc("why it was skipped"))
    python: Optional[str] = field(default=None, metadata=doc("the interpreter's version"))
    executable: Optional[str] = field(default=None, metadata=doc("the interpreter"))
    started: Optional[str] = field(default=None, metadata=doc("UTC ISO time"))
    stages: List[StageResult] = field(default_factory=list, metadata=doc("one result per stage that ran"))
    green: Optional[bool] = field(default=None, metadata=doc("every stage green (null when skipped)"))
    seconds: Optional[float] = field(default=None, metadata=doc("the chain's wall time"))
    records_file: str = field(
        default="records.jsonl", metadata=doc("the records file beside it (records-<UTC stamp>-<pid>.jsonl)")
    )
    numpy: Optional[str] = field(default=None, metadata=doc("NumPy's version"))
    pytest: Optional[str] = field(default=None, metadata=doc("pytest's version"))
    tinytorch_file: Optional[str] = field(default=None, metadata=doc("where the stages imported tinytorch from"))
    root: Optional[str] = field(default=None, metadata=doc("the checkout"))
    commit: Optional[str] = field(default=None, metadata=doc("its HEAD commit"))
    import_from: Optional[str] = field(default=None, metadata=doc("installed or checkout"))
    coverage: bool = field(default=False, metadata=doc("run under coverage"))
    jobs: Optional[int] = field(default=None, metadata=doc("stages run in parallel"))
    argv: List[str] = field(default_factory=list, metadata=doc("the chain's arguments"))
    first_red: bool = field(default=False, metadata=doc("run with --first-red"))
    cancelled: List[str] = field(default_factory=list, metadata=doc("keys of the stages cancelled by --first-red"))
    reused: int = field(default=0, metadata=doc("stages reused from the store"))

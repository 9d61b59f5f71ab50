"""The report (``regression.json``): what ``analysis.build_report`` concludes from every cell's run, and the
one input of the renderers (terminal, Markdown, HTML, JUnit)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from regression.contract import Classification
from regression.schema.cell import Reused
from regression.schema.typed import Typed, doc


@dataclass(frozen=True)
class Failure(Typed):
    """A failing record or a stage problem of one cell, classified."""

    cell: str = field(metadata=doc("the cell"))
    stage: int = field(metadata=doc("the stage it failed at"))
    module: Optional[int] = field(metadata=doc("the module whose folder holds the test"))
    module_label: str = field(metadata=doc("'03 layers'"))
    file: str = field(metadata=doc("the test file or folder"))
    test_id: str = field(metadata=doc("the node id, or <stage NN> for a stage problem"))
    classification: Classification = field(metadata=doc("one of the four classifications"))
    why: str = field(metadata=doc("the rule that classified it"))
    reason: str = field(metadata=doc("the one-line message"))
    outcome: str = field(metadata=doc("failed, error, collect_error, or problem (a stage problem)"))
    variant: str = field(default="none", metadata=doc("the model variant"))
    model: Optional[str] = field(default=None, metadata=doc("the zoo model"))
    pairing: Optional[str] = field(default=None, metadata=doc("paired, int8-only, no-variant; null for a problem"))
    origin: Optional[str] = field(default=None, metadata=doc("file:line where it failed"))
    cause: Optional[int] = field(default=None, metadata=doc("the id of its cause in the cell"))
    status: Optional[str] = field(default=None, metadata=doc("NEW or KNOWN, with a baseline", omit_none=True))


@dataclass(frozen=True)
class Cause(Typed):
    """Failures of one cell that are one cause: same exception type, normalized message and code location."""

    id: int = field(metadata=doc("1.., most widespread first"))
    exception: str = field(metadata=doc("the exception type"))
    message: str = field(metadata=doc("the normalized message"))
    example: str = field(metadata=doc("one member's message as written"))
    origin: Optional[str] = field(metadata=doc("the code location"))
    tests: int = field(metadata=doc("distinct tests"))
    failures: int = field(metadata=doc("failing records"))
    classifications: List[str] = field(metadata=doc("the members' classifications"))
    modules: List[int] = field(metadata=doc("the members' modules"))
    models: List[str] = field(metadata=doc("zoo models hit"))
    variants: List[str] = field(metadata=doc("variants hit"))
    stages: List[int] = field(metadata=doc("stages it fails at"))
    first_stage: int = field(metadata=doc("the lowest of them"))
    test_ids: List[str] = field(metadata=doc("the tests"))
    hits: str = field(default="", metadata=doc("what it reaches, in words"))


@dataclass(frozen=True)
class PointsAt(Typed):
    """The one failure a red cell points at, and the module it names (``analysis.blamed_module``)."""

    stage: int = field(metadata=doc("the first red stage"))
    module: Optional[int] = field(metadata=doc("the module blamed"))
    module_label: str = field(metadata=doc("its label"))
    test_module: Optional[int] = field(metadata=doc("the folder of the failing test"))
    file: str = field(metadata=doc("the failing test's file"))
    test_id: str = field(metadata=doc("the failing test"))
    classification: Classification = field(metadata=doc("its classification"))
    reason: str = field(metadata=doc("its message"))


@dataclass(frozen=True)
class StageSummary(Typed):
    """A stage of a cell, as the grid shows it."""

    stage: int = field(metadata=doc("1..16"))
    key: Optional[str] = field(metadata=doc("'03' or '12-m12'"))
    name: Optional[str] = field(metadata=doc("the stage's module name"))
    collected: int = field(metadata=doc("tests collected"))
    passed: int = field(metadata=doc("passed"))
    failed: int = field(metadata=doc("failed"))
    errors: int = field(metadata=doc("setup/teardown errors"))
    collect_errors: int = field(metadata=doc("collection errors"))
    skipped: int = field(metadata=doc("skipped"))
    xfailed: int = field(metadata=doc("expected failures"))
    red: bool = field(metadata=doc("the stage's verdict (judge_stage)"))
    problems: int = field(metadata=doc("how many stage problems"))
    seconds: Optional[float] = field(default=None, metadata=doc("wall time"))
    exit_code: Optional[int] = field(default=None, metadata=doc("pytest's exit code"))
    log: Optional[str] = field(default=None, metadata=doc("the stage log"))
    reused: Optional[Reused] = field(default=None, metadata=doc("reused from the store", omit_none=True))
    cancelled: Optional[bool] = field(default=None, metadata=doc("cancelled by --first-red", omit_none=True))
    flaky: Optional[List[str]] = field(default=None, metadata=doc("flaky tests", omit_none=True))


@dataclass(frozen=True)
class CellSummary(Typed):
    """One cell in the report: its grid row, its answer and its causes."""

    cell: str = field(metadata=doc("the cell"))
    skipped: bool = field(metadata=doc("recorded as skipped"))
    red: bool = field(metadata=doc("any stage red"))
    partial: bool = field(metadata=doc("not every stage 01..16 ran"))
    stages: List[StageSummary] = field(metadata=doc("per stage"))
    skip_reason: Optional[str] = field(default=None, metadata=doc("why skipped"))
    python: Optional[str] = field(default=None, metadata=doc("Python"))
    numpy: Optional[str] = field(default=None, metadata=doc("NumPy"))
    seconds: Optional[float] = field(default=None, metadata=doc("the chain's wall time"))
    started: Optional[str] = field(default=None, metadata=doc("UTC ISO time"))
    commit: Optional[str] = field(default=None, metadata=doc("the commit it ran on"))
    dir: Optional[str] = field(default=None, metadata=doc("the cell folder"))
    missing_stages: List[int] = field(default_factory=list, metadata=doc("stages that did not run"))
    stale: Optional[str] = field(default=None, metadata=doc("why its results are of another commit"))
    first_red_stage: Optional[int] = field(default=None, metadata=doc("the first red stage"))
    points_at: Optional[PointsAt] = field(default=None, metadata=doc("what the red cell points at"))
    headline: Optional[str] = field(default=None, metadata=doc("the red cell's answer in words"))
    classification_counts: Dict[str, int] = field(default_factory=dict, metadata=doc("classification -> n"))
    failing_modules: Dict[str, int] = field(default_factory=dict, metadata=doc("module -> first failing stage"))
    causes: List[Cause] = field(default_factory=list, metadata=doc("the causes, most widespread first"))
    flaky: List[str] = field(default_factory=list, metadata=doc("flaky tests"))


@dataclass(frozen=True)
class Counts(Typed):
    passed: int = field(metadata=doc("passing records"))
    failed: int = field(metadata=doc("failing records + collection errors + stage problems"))
    skipped: int = field(metadata=doc("skipped records"))
    xfailed: int = field(metadata=doc("expected failures"))
    records: int = field(metadata=doc("all records"))
    distinct_tests: int = field(metadata=doc("distinct node ids"))


@dataclass(frozen=True)
class Fixed(Typed):
    stage: int = field(metadata=doc("the stage"))
    test_id: str = field(metadata=doc("the test"))
    variant: str = field(metadata=doc("its variant"))


@dataclass(frozen=True)
class Baseline(Typed):
    """Against a previous regression.json (matched on stage, test id, variant in any cell)."""

    new: int = field(metadata=doc("failures the baseline did not have"))
    known: int = field(metadata=doc("failures it had"))
    fixed: List[Fixed] = field(default_factory=list, metadata=doc("its failures that pass now"))


@dataclass(frozen=True)
class Verdict(Typed):
    """GO / NO-GO (``analysis.verdict``): red, partial, stale and flaky results are never called green."""

    red: bool = field(metadata=doc("any cell or failure red"))
    ok: bool = field(metadata=doc("the exit status is 0"))
    text: str = field(metadata=doc("the verdict in words"))
    new_red: Optional[bool] = field(default=None, metadata=doc("with a baseline: anything NEW"))
    partial_cells: List[str] = field(default_factory=list, metadata=doc("cells where not every stage ran"))
    stale_cells: List[str] = field(default_factory=list, metadata=doc("cells of another commit"))
    flaky_cells: List[str] = field(default_factory=list, metadata=doc("cells with flaky tests"))
    skipped_cells: List[str] = field(default_factory=list, metadata=doc("skipped cells"))


@dataclass(frozen=True)
class Report(Typed):
    """``regression.json``."""

    schema: int = field(metadata=doc("the regression.json schema version"))
    generated: str = field(metadata=doc("UTC ISO time"))
    cells: List[CellSummary] = field(metadata=doc("one per cell"))
    stages: List[int] = field(metadata=doc("every stage that ran somewhere"))
    counts: Counts = field(metadata=doc("totals"))
    failures: List[Failure] = field(metadata=doc("every failure of every cell"))
    verdict: Verdict = field(metadata=doc("the answer"))
    baseline: Optional[Baseline] = field(default=None, metadata=doc("with --baseline"))
    coverage: Optional[Dict[str, Any]] = field(default=None, metadata=doc("the per-module coverage table"))

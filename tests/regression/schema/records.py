"""The records a stage's pytest writes, one JSON line each (``records.py`` the plugin): a test, a file that
failed to collect, and the session's closing summary. A records file has the version of the ``stages.json``
that names it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union

from regression.contract import Outcome, Pairing, RecordKind, Variant
from regression.schema.typed import SchemaError, Typed, doc

Violation = Dict[str, Any]  # guard.Violation.to_dict() or a registry patch: kind, message and where


@dataclass(frozen=True)
class TestRecord(Typed):
    """One test of one stage (``kind`` test), or a file or folder that failed to collect (``collect_error``)."""

    __test__ = False  # not a pytest test class, whatever its name says

    kind: RecordKind = field(metadata=doc("test, or collect_error for a file or folder that failed to collect"))
    stage: int = field(metadata=doc("the chain stage that ran it (1..16)"))
    test_id: str = field(metadata=doc("the pytest node id"))
    outcome: Outcome = field(metadata=doc("setup, call and teardown folded into one outcome"))
    cell: Optional[str] = field(default=None, metadata=doc("the Python x NumPy cell, e.g. py3.12-np2.2"))
    module: Optional[int] = field(default=None, metadata=doc("the module whose test folder holds it; null outside"))
    file: str = field(default="", metadata=doc("the test file (or folder) part of the node id"))
    when: str = field(
        default="call", metadata=doc("the phase that decided the outcome: setup, call, teardown, collect")
    )
    variant: Variant = field(default=Variant.NONE, metadata=doc("the zoo model variant the test ran on"))
    model: Optional[str] = field(default=None, metadata=doc("the zoo model, for a zoo test"))
    twin_id: Optional[str] = field(default=None, metadata=doc("the node id of the same test on its twin variant"))
    pairing: Pairing = field(default=Pairing.NO_VARIANT, metadata=doc("why it has, or lacks, an fp32 twin"))
    message: str = field(default="", metadata=doc("the one-line failure message; empty when it passed"))
    origin: Optional[str] = field(default=None, metadata=doc("file:line in the checkout where it failed"))
    seconds: float = field(default=0.0, metadata=doc("setup + call + teardown"))
    guard_violations: List[Violation] = field(default_factory=list, metadata=doc("what the guard refused during it"))
    first_outcome: Optional[Outcome] = field(
        default=None, metadata=doc("for a flaky test: the outcome before its rerun", omit_none=True)
    )
    rerun_log: Optional[str] = field(default=None, metadata=doc("for a flaky test: its rerun's log", omit_none=True))


@dataclass(frozen=True)
class SessionRecord(Typed):
    """The last line a stage's pytest writes: what it collected and how the session ended."""

    kind: RecordKind = field(metadata=doc("session"))
    cell: str = field(metadata=doc("the cell"))
    stage: int = field(metadata=doc("the stage"))
    collected: int = field(metadata=doc("tests pytest collected"))
    collected_per_module: Dict[str, int] = field(metadata=doc("module tag ('01') -> tests collected from it"))
    outcomes: Dict[str, int] = field(default_factory=dict, metadata=doc("outcome -> count"))
    exitstatus: int = field(default=0, metadata=doc("pytest's exit status"))
    python: Optional[str] = field(default=None, metadata=doc("the interpreter's version"))
    numpy: Optional[str] = field(default=None, metadata=doc("NumPy's version"))
    pytest: Optional[str] = field(default=None, metadata=doc("pytest's version"))
    tinytorch_file: Optional[str] = field(default=None, metadata=doc("where tinytorch was imported from"))
    guard_violations: List[Violation] = field(default_factory=list, metadata=doc("every refusal of the guard"))
    seconds: float = field(default=0.0, metadata=doc("the session's wall time"))


Record = Union[TestRecord, SessionRecord]


def record_from_json(data: Any, where: str) -> Record:
    """A line of a records file as its type, chosen by ``kind``."""
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == RecordKind.SESSION:
        return SessionRecord.from_json(data, where)
    if kind in (RecordKind.TEST, RecordKind.COLLECT_ERROR):
        return TestRecord.from_json(data, where)
    raise SchemaError(f"{where}: kind {kind!r} is not one of {[k.value for k in RecordKind]}")

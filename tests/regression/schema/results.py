"""What the readers of the report write: ``mutants.json`` (nox -s mutants) and ``bisect.json`` (nox -s bisect).

Their inner parts (a mutant's expectations, a bisect step) are objects whose shape their own tools own; the
top level is typed here so that every reader checks one version and one shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from regression.schema.typed import Typed, doc


@dataclass(frozen=True)
class MutantsResult(Typed):
    """``mutants.json``: each catalogued mutant's verdict (stage, module, classification as expected?)."""

    schema: int = field(metadata=doc("the mutants.json schema version"))
    generated: str = field(metadata=doc("UTC ISO time"))
    python: Optional[str] = field(default=None, metadata=doc("the interpreter's version"))
    executable: Optional[str] = field(default=None, metadata=doc("the interpreter"))
    numpy: Optional[str] = field(default=None, metadata=doc("NumPy's version"))
    seconds: Optional[float] = field(default=None, metadata=doc("wall time"))
    control: Optional[Dict[str, Any]] = field(default=None, metadata=doc("the unmutated control run's verdict"))
    mutants: List[Dict[str, Any]] = field(
        default_factory=list, metadata=doc("per mutant: name, expected, got, verdict OK/MISS/ERROR, why")
    )
    counts: Dict[str, int] = field(default_factory=dict, metadata=doc("pinpointed and total"))
    ok: bool = field(default=False, metadata=doc("every mutant pinpointed and the control green"))


@dataclass(frozen=True)
class BisectResult(Typed):
    """``bisect.json``: the range searched, each step's verdict and the first bad commit."""

    schema: int = field(metadata=doc("the bisect.json schema version"))
    generated: str = field(metadata=doc("UTC ISO time"))
    good: Dict[str, Any] = field(metadata=doc("ref, sha, subject of the good end"))
    bad: Dict[str, Any] = field(metadata=doc("ref, sha, subject of the bad end"))
    cell: str = field(metadata=doc("the cell judged in"))
    result: str = field(metadata=doc("what the search found"))
    steps: List[Dict[str, Any]] = field(
        default_factory=list, metadata=doc("label, sha, subject, verdict, reason, seconds")
    )
    repo: Optional[str] = field(default=None, metadata=doc("the repository"))
    python: Optional[str] = field(default=None, metadata=doc("Python"))
    numpy: Optional[str] = field(default=None, metadata=doc("NumPy"))
    interpreter: Optional[str] = field(default=None, metadata=doc("the interpreter of the judge's venv"))
    mode: Optional[str] = field(default=None, metadata=doc("what was judged: tests, a stage, a module"))
    stage: Optional[int] = field(default=None, metadata=doc("the stage judged"))
    module: Optional[int] = field(default=None, metadata=doc("the module judged"))
    node_ids: List[str] = field(default_factory=list, metadata=doc("the tests judged"))
    judged: Optional[List[Dict[str, Any]]] = field(default=None, metadata=doc("the failures judged, if chosen"))
    judged_from: Optional[str] = field(default=None, metadata=doc("where the targets came from"))
    commits: Optional[int] = field(default=None, metadata=doc("commits in the range"))
    error: Optional[str] = field(default=None, metadata=doc("why the search stopped, if it did"))
    first_bad: Optional[Dict[str, Any]] = field(default=None, metadata=doc("the first bad commit and what it broke"))
    candidates: List[Any] = field(default_factory=list, metadata=doc("commits it could be, when not one"))
    seconds: Optional[float] = field(default=None, metadata=doc("wall time"))
    env_seconds: Optional[float] = field(default=None, metadata=doc("of those: making or checking the venv"))

"""The typed, versioned contract of every file the machinery writes (see SCHEMA.md, generated from it).

``typed`` (the JSON <-> dataclass base), ``versions``
(one version per file kind and its change log), ``records``, ``cell`` (stages.json), ``report``
(regression.json), ``results`` (mutants.json, bisect.json) and ``reference`` (the generated document).
"""

from regression.contract import Classification, Outcome, Pairing, RecordKind, StrEnum, Variant
from regression.schema.cell import CellRun, Problem, Reused, StageResult
from regression.schema.files import UnreadableFile, read_json_object, read_typed
from regression.schema.records import Record, SessionRecord, TestRecord, record_from_json
from regression.schema.report import (
    Baseline,
    Cause,
    CellSummary,
    Counts,
    Failure,
    PointsAt,
    Report,
    StageSummary,
    Verdict,
)
from regression.schema.results import BisectResult, MutantsResult
from regression.schema.typed import SchemaError, Typed
from regression.schema.versions import check_version, current

__all__ = [
    "UnreadableFile",
    "read_json_object",
    "read_typed",
    "BisectResult",
    "MutantsResult",
    "Baseline",
    "Cause",
    "CellRun",
    "CellSummary",
    "Classification",
    "Counts",
    "Failure",
    "Outcome",
    "Pairing",
    "PointsAt",
    "Problem",
    "Record",
    "RecordKind",
    "Report",
    "Reused",
    "SchemaError",
    "SessionRecord",
    "StageResult",
    "StageSummary",
    "StrEnum",
    "TestRecord",
    "Typed",
    "Variant",
    "Verdict",
    "check_version",
    "current",
    "record_from_json",
]

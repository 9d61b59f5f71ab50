"""One schema version per file kind the machinery writes, each with its change log, and the one refusal.

A reader calls ``check_version(kind, found, path)`` before it trusts a file's shape: a version this build
does not read is refused with a one-line message naming the file, the version found and the versions read
(exit 2 through ``exits.run_main``), the way coverage.py refuses a data file of another ``SCHEMA_VERSION``.
Bump a version when a field changes meaning or a required field is added; add a line to its change log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Tuple

from regression.exits import SchemaVersionError


@dataclass(frozen=True)
class FileKind:
    name: str  # what the message calls it
    pattern: str  # where it is written
    current: int  # the version this build writes
    reads: Tuple[int, ...]  # the versions this build reads
    changes: Tuple[Tuple[int, str], ...]  # (version, what changed)


KINDS: Dict[str, FileKind] = {
    kind.name: kind
    for kind in (
        FileKind(
            "stages.json",
            "<out>/stages.json (one cell's chain run)",
            1,
            (1,),
            ((1, "the cell header, its stage results and the name of its records file"),),
        ),
        FileKind(
            "records",
            "<out>/records-*.jsonl (one JSON line per test; its version is that of the stages.json naming it)",
            1,
            (1,),
            ((1, "test, collect_error and session records, phases folded into one outcome"),),
        ),
        FileKind(
            "regression.json",
            "reports/regression.json (the report)",
            2,
            (2,),
            (
                (1, "cells, failures, counts and the verdict"),
                (2, "causes per cell, points_at names the blamed module, baseline new/known/fixed"),
            ),
        ),
        FileKind(
            "mutants.json",
            "reports/mutants.json (nox -s mutants)",
            2,
            (2,),
            (
                (1, "one verdict per mutant: first red stage"),
                (2, "verdicts judge stage, module and classification; mutants run --upto their expected stage"),
            ),
        ),
        FileKind(
            "bisect.json",
            "reports/bisect/bisect.json (nox -s bisect)",
            1,
            (1,),
            ((1, "the range, each step's verdict, the first bad commit and what it broke"),),
        ),
        FileKind(
            "entry.json",
            ".regression-cache/<key>/entry.json (the stage result store)",
            1,
            (1,),
            ((1, "schema, digest, inputs, commit, date, result, used"),),
        ),
    )
}


def current(kind: str) -> int:
    return KINDS[kind].current


def check_version(kind: str, found: Any, path: Any) -> int:
    """The version of a file of this kind, or ``SchemaVersionError`` if this build does not read it."""
    known = KINDS[kind]
    if isinstance(found, bool) or found not in known.reads:
        reads = ", ".join(map(str, known.reads))
        raise SchemaVersionError(
            f"{path}: {known.name} schema {repr(found)[:40]} is not one this build reads (it reads {reads}); "
            "use the checkout that wrote it, or run again to rewrite it"
        )
    return found


def changelog_text() -> str:
    """The change log of every file kind, as Markdown (for the generated reference)."""
    lines = []
    for kind in KINDS.values():
        lines.append(
            f"- **{kind.name}** — {kind.pattern}; writes {kind.current}, reads {', '.join(map(str, kind.reads))}"
        )
        lines += [f"  - {version}: {text}" for version, text in kind.changes]
    return "\n".join(lines)

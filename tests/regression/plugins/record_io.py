"""A records file read and written through the types (``schema.TestRecord``, ``schema.SessionRecord``).

The records plugin writes each line with ``record_line``; the chain reads a stage's file with ``load`` to
judge it, and rewrites it with ``write`` after a rerun or to relabel a reused stage. No pytest here: the
chain process never imports it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from regression.common import read_jsonl, write_text_atomic
from regression.contract import RecordKind
from regression.schema import Record, record_from_json


def record_json(record: Record) -> dict:
    """The JSON object of one record line. A collection error has no failing frame: its line has never
    carried ``origin``, so readers of the file see the same keys as ever."""
    data = record.to_json()
    if record.kind == RecordKind.COLLECT_ERROR and data.get("origin") is None:
        data.pop("origin", None)
    return data


def record_line(record: Record) -> str:
    return json.dumps(record_json(record), sort_keys=True) + "\n"


def load(path: Path) -> list[Record]:
    """Every record of a records file as its type; a line of the wrong shape is a ``SchemaError`` naming
    the file and the record (a cut-off last line is dropped, see ``common.read_records``)."""
    return [record_from_json(data, f"{path}: record {n}") for n, data in enumerate(read_jsonl(path), start=1)]


def write(path: Path, records: Iterable[Record]) -> None:
    """The records, one line each, written atomically (readers see the old file or the new one)."""
    write_text_atomic(path, "".join(map(record_line, records)))

"""A machinery file read as its type, in one place: the JSON object, its schema version, its shape.

    run = read_typed(path, "stages.json", CellRun)    # CellRun, or UnreadableFile / SchemaVersionError / SchemaError

Every failure is an ``InputError`` (exit 2) whose message names the file: ``UnreadableFile`` when there is no
JSON object to read (missing, unreadable, not UTF-8, not JSON, not an object), ``SchemaVersionError`` for a
version this build does not read, ``SchemaError`` for a known version of another shape. A caller for whom a
file a run failed to leave behind is an answer, not an error (the mutants' verdict: the run is an ERROR),
catches ``UnreadableFile`` alone. A file without a ``schema`` key is read as the current version, as the
report's own loaders read it. The report keeps its own readers (``reporting/loading.py``): it also cleans
hostile strings and checks counts and stage numbers before it trusts a file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Type, TypeVar

from regression.exits import InputError
from regression.schema.typed import Typed
from regression.schema.versions import check_version, current

T = TypeVar("T", bound=Typed)


class UnreadableFile(InputError):
    """No JSON object to read at the path: missing, unreadable, not UTF-8, not JSON, or not an object."""


def read_json_object(path: Path) -> dict:
    """The JSON object in ``path``, or ``UnreadableFile`` saying which of the ways it is not one."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UnreadableFile(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UnreadableFile(f"{path}: cannot be read ({error})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableFile(f"{path}: not JSON ({error})") from None
    if not isinstance(data, dict):
        raise UnreadableFile(f"{path}: a JSON {type(data).__name__}, not an object")
    return data


def read_typed(path: Path, kind: str, type_: Type[T]) -> T:
    """``path`` as ``type_`` (a file of ``kind``, e.g. ``"regression.json"``), its version checked first."""
    data = read_json_object(path)
    check_version(kind, data.get("schema", current(kind)), path)
    return type_.from_json(data, str(path))

"""Small helpers shared by the chain, the pytest plugins and the report.

Imports nothing from tinytorch except the registry (which is import-free), so loading it never
defeats the import guard.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable, Iterator

from tinytorch.registry import LAST_STAGE, by_number, label

SCHEMA = 1

# Environment variables the chain sets for each stage's pytest process.
ENV_STAGE = "TINYTORCH_STAGE"  # also read by tests/zoo.py
ENV_CELL = "TINYTORCH_CELL"
ENV_RECORDS = "TINYTORCH_RECORDS"

VARIANTS = ("fp32", "int8")

# Outcomes of one test record, as written by records.py.
PASS_OUTCOMES = frozenset({"passed", "xpassed"})
FAIL_OUTCOMES = frozenset({"failed", "error", "collect_error"})
NEUTRAL_OUTCOMES = frozenset({"skipped", "xfailed"})

# An import failure of a tinytorch module (the guard's LayeringError included): an import/layering break.
TINYTORCH_IMPORT = re.compile(r"\b(?:ImportError|ModuleNotFoundError|LayeringError)\b.*\btinytorch\b")

_MODULE_DIR = re.compile(r"(?:^|/)modules/(\d{2})_[^/]+/")
# A zoo parameter inside the brackets of a test id: "...[mlp-int8]" or "...[2-cnn-fp32-x]".
_ZOO_PARAM = re.compile(r"(?:(?<=\[)|(?<=-))([A-Za-z0-9_.]+)-(fp32|int8)(?=-|\])")


def module_of(nodeid: str) -> int | None:
    """Module number of a test from its folder ``tests/modules/NN_name/``; None outside it."""
    match = _MODULE_DIR.search(nodeid.replace("\\", "/"))
    return int(match.group(1)) if match else None


def file_of(nodeid: str) -> str:
    """The test file (or folder) part of a pytest node id."""
    return nodeid.split("::", 1)[0]


def zoo_param(nodeid: str) -> tuple[str | None, str]:
    """(model name, variant) parsed from a ``zoo_model`` parameter id, else (None, "none")."""
    if "[" not in nodeid:
        return None, "none"
    match = _ZOO_PARAM.search(nodeid, nodeid.index("["))
    return (match.group(1), match.group(2)) if match else (None, "none")


def twin_of(nodeid: str) -> str | None:
    """The same test on the other variant: ``t[mlp-int8]`` <-> ``t[mlp-fp32]``; None without a variant."""
    model, variant = zoo_param(nodeid)
    if model is None:
        return None
    other = "fp32" if variant == "int8" else "int8"
    start = nodeid.index("[")
    head, tail = nodeid[:start], nodeid[start:]
    return head + _ZOO_PARAM.sub(lambda m: f"{m.group(1)}-{other}", tail, count=1)


def parse_stages(text: str) -> list[int]:
    """``"1-16"``, ``"9"``, ``"1-3,9,12-13"`` -> sorted stage numbers; a clear error otherwise."""
    stages: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        bounds = part.split("-")
        try:
            numbers = [int(b) for b in bounds]
        except ValueError:
            raise ValueError(f"--stages {text!r}: {part!r} is not a number or a range like 1-9") from None
        if len(numbers) > 2 or numbers[0] > numbers[-1]:
            raise ValueError(f"--stages {text!r}: {part!r} is not a range like 1-9")
        stages.update(range(numbers[0], numbers[-1] + 1))
    bad = sorted(s for s in stages if not 1 <= s <= LAST_STAGE)
    if not stages or bad:
        raise ValueError(f"--stages {text!r}: stages must lie in 1..{LAST_STAGE} (got {bad or 'nothing'})")
    return sorted(stages)


spec = by_number  # the registry's lookup, under the name the chain uses
module_label = label


def safe_name(text: str) -> str:
    """A cell name made safe for a file name (the original stays in the records)."""
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", text).strip("_") or "cell"


def read_jsonl(path: Path) -> Iterator[dict]:
    """Records of one JSON-lines file; a truncated last line (killed process) is ignored."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def write_jsonl(path: Path, records: Iterable[dict]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, sort_keys=True) + "\n")


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def first_line(text: str, limit: int = 240) -> str:
    line = next((s.strip() for s in str(text).splitlines() if s.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def exception_line(exc: BaseException) -> str:
    """``"TypeName: first line of the message"`` — the one-line reason the report shows."""
    message = first_line(str(exc))
    name = type(exc).__name__
    return f"{name}: {message}" if message else name

"""Small helpers shared by the chain, the pytest plugins and the report.

Imports nothing from tinytorch at import time, and only the import-free registry when a function needs
it: the pytest plugins load this file before pytest-cov starts measuring, so anything of tinytorch it
imported then would show as unmeasured module-level lines — and loading it never defeats the guard.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from regression.contract import Outcome, Pairing, Variant

# Environment variables the chain sets for each stage's pytest process (every reader imports them from here).
ENV_STAGE = "TINYTORCH_STAGE"  # guard.py, records.py, tests/zoo.py: the stage number
ENV_CELL = "TINYTORCH_CELL"
ENV_RECORDS = "TINYTORCH_RECORDS"  # records.py: the JSON-lines file the stage writes
ENV_TRACE_AFTER = "TINYTORCH_TRACE_AFTER"  # trace_once.py: cases new above this stage are traced
ENV_COVERAGE_CONTEXT = "TINYTORCH_COVERAGE_CONTEXT"  # coverage.toml's static context: <cell>@stage<KK>
ENV_INPUTS = "TINYTORCH_INPUTS"  # inputs.py: where the stage says which files it read
ENV_INPUTS_EXCLUDE = "TINYTORCH_INPUTS_EXCLUDE"  # inputs.py: the chain's own output folder, never an input
# ... and the ones the chain itself reads.
ENV_PROGRESS = "TINYTORCH_PROGRESS"  # "3/10": this cell's place in the whole run (set by the noxfile)
ENV_STORE = "TINYTORCH_REGRESSION_STORE"  # stage_store.py: the stage result store's folder
ENV_STORE_MAX_MB = "TINYTORCH_REGRESSION_STORE_MAX_MB"  # its size bound
# The settings of an outer run (the noxfile, ``signoff``, CI) for its cells and report (tools/cells.py).
ENV_REPORTS = "TINYTORCH_REPORTS"  # the reports root; signoff points it at reports/signoff
ENV_NO_REPORT = "TINYTORCH_NO_REPORT"  # CI's per-cell jobs: a cell does not queue the report
ENV_FROM_ARTIFACTS = "TINYTORCH_CELLS_FROM_ARTIFACTS"  # CI's combine job: cells come from artifacts
ENV_REPORT_ARGS = "TINYTORCH_REPORT_ARGS"  # extra report.py arguments (signoff: --fail-on-skipped, …)
ENV_CHAIN_ARGS = "TINYTORCH_CHAIN_ARGS"  # extra chain.py arguments for every cell of a run
OUTER_RUN_SETTINGS = (
    *(ENV_REPORTS, ENV_NO_REPORT, ENV_FROM_ARTIFACTS, ENV_REPORT_ARGS, ENV_CHAIN_ARGS, ENV_PROGRESS),
    *(ENV_STORE, ENV_STORE_MAX_MB),
)
"""Where an outer run puts things and what it asks of the chain: never what a test does. So they never reach
a stage's pytest process (stage.build_env) nor a stage's key (stage_store.py): ``signoff`` sets several,
and a stage recorded by ``nox -s regression`` at the same commit must still be reused there. The harness's
own tests do not see them either (run_isolation.py)."""

# The words of the records (contract.py defines them once). Model variants of the zoo: the float model and
# its int8 twins (weight-only per-channel "int8", the default twin; "int8static" with calibrated static
# activation ranges; "int8tensor" with one scale per tensor).
FP32 = Variant.FP32
INT8_VARIANTS = (Variant.INT8, Variant.INT8STATIC, Variant.INT8TENSOR)
VARIANTS = (FP32, *INT8_VARIANTS)

# Why a record has, or lacks, an fp32 twin (records.py writes it as ``pairing``).
PAIRED, INT8_ONLY, NO_VARIANT = Pairing.PAIRED, Pairing.INT8_ONLY, Pairing.NO_VARIANT
PAIRINGS = tuple(Pairing)
FLAKY = Outcome.FLAKY  # failed, then passed when re-run in a fresh process (rerun.py): never red, never green

# What the import guard says (a refused import, a registry patch): an import/layering break. A plain
# ImportError of a tinytorch module (a name that is gone, a module that does not import) is not one: it is
# that module broken, and classified like any other failure (an int8 twin failing alone is quantization's).
LAYERING_MESSAGE = re.compile(r"\bLayeringError\b|\bRegistryPatch\b|\bimport guard: |\bregistry patch: ")

_MODULE_DIR = re.compile(r"(?:^|/)modules/(\d{2})_[^/]+/")
# A zoo parameter inside the brackets of a test id: "...[mlp-int8]" or "...[2-cnn-fp32-x]".
_ZOO_PARAM = re.compile(r"(?:(?<=\[)|(?<=-))([A-Za-z0-9_.]+)-(fp32|int8[a-z]*)(?=-|\])")


def module_of(nodeid: str) -> int | None:
    """Module number of a test from its folder ``tests/modules/NN_name/``; None outside it."""
    match = _MODULE_DIR.search(nodeid.replace("\\", "/"))
    return int(match.group(1)) if match else None


def file_of(nodeid: str) -> str:
    """The test file (or folder) part of a pytest node id."""
    return nodeid.split("::", 1)[0]


def zoo_param(nodeid: str) -> tuple[str | None, str]:
    """(model name, variant) parsed from a ``zoo_model`` parameter id, else (None, ``Variant.NONE``)."""
    if "[" not in nodeid:
        return None, Variant.NONE
    match = _ZOO_PARAM.search(nodeid, nodeid.index("["))
    return (match.group(1), match.group(2)) if match else (None, Variant.NONE)


def is_int8(variant: str | None) -> bool:
    return bool(variant) and variant.startswith("int8")


def twin_of(nodeid: str) -> str | None:
    """The same test on its twin: every int8 variant's twin is fp32 (``t[mlp-int8static]`` -> ``t[mlp-fp32]``),
    fp32's is the default int8 twin; None without a variant."""
    model, variant = zoo_param(nodeid)
    if model is None:
        return None
    other = FP32 if is_int8(variant) else INT8_VARIANTS[0]
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
    from tinytorch.registry import LAST_STAGE  # lazily: see the module docstring

    bad = sorted(s for s in stages if not 1 <= s <= LAST_STAGE)
    if not stages or bad:
        raise ValueError(f"--stages {text!r}: stages must lie in 1..{LAST_STAGE} (got {bad or 'nothing'})")
    return sorted(stages)


def spec(number: int):
    """The registry's lookup, under the name the chain uses."""
    from tinytorch.registry import by_number

    return by_number(number)


def module_label(number: int | None) -> str:
    """``"09 spatial"`` (the registry's label)."""
    from tinytorch.registry import label

    return label(number)


def safe_name(text: str) -> str:
    """A cell name made safe for a file name (the original stays in the records)."""
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", text).strip("_") or "cell"


class DamagedRecords(ValueError):
    """A JSON-lines file with a line that is not a JSON object (named by file and line)."""


@dataclass
class JsonLines:
    records: list[dict]
    truncated_tail: str | None = None  # why the last line was dropped: a killed writer's unfinished line


def read_records(path: Path) -> JsonLines:
    """Every JSON object of a JSON-lines file. A damaged line is a ``DamagedRecords`` error naming the file
    and line — except a last line without its newline that does not parse: a writer killed mid-line
    leaves exactly that, so it is dropped and reported in ``truncated_tail`` for the caller to flag."""
    with open(path, encoding="utf-8", errors="strict") as handle:
        lines = handle.read().split("\n")
    records, tail = [], None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            if number == len(lines):  # no newline after it: the writer never finished this line
                tail = f"{path}: line {number} is cut off ({error.msg}); the process writing it was killed"
                continue
            raise DamagedRecords(f"{path}: line {number} is not valid JSON ({error.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("kind"), str):
            raise DamagedRecords(f"{path}: line {number} is not a record (a JSON object with a 'kind')")
        records.append(record)
    return JsonLines(records, tail)


def read_jsonl(path: Path) -> Iterator[dict]:
    """Records of one JSON-lines file (see ``read_records``: a damaged line raises, a cut-off last line is dropped)."""
    yield from read_records(path).records


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file of this run in the same folder and a rename:
    readers see the old file or the new one, never half of one; on any error the temporary is removed and
    the error raised. Only provably dead writers' temporaries are cleaned (out_lock.publish), never a live
    run's."""
    from regression.out_lock import publish

    publish(Path(path).parent, {Path(path).name: text})


def write_jsonl(path: Path, records: Iterable[dict]) -> None:
    write_text_atomic(path, "".join(json.dumps(record, sort_keys=True) + "\n" for record in records))


def write_json(path: Path, data) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def violation_text(violation: dict) -> str:
    """One line for a recorded violation: ``LayeringError: …`` for a refused import, ``RegistryPatch: …``."""
    kind = "RegistryPatch" if violation.get("kind") == "patch" else "LayeringError"
    return f"{kind}: {violation.get('message', '')}"


def installed_version(name: str) -> str | None:
    """The version of an installed distribution (``importlib.metadata``), None when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def git_head(root: Path) -> str | None:
    """The commit a checkout is at (None outside git): the report marks cells from another commit stale."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def unwritable_folder(path: Path, flag: str) -> str | None:
    """Why ``path`` cannot be (or become) a folder this process writes into, for the CLI's ``flag``; None if it can."""
    for parent in [path, *path.parents]:
        if parent.exists():
            if not parent.is_dir():
                return f"{flag} {path}: {parent} is a file, not a folder; pass a folder"
            if not os.access(parent, os.W_OK | os.X_OK):
                return f"{flag} {path}: {parent} is not writable; pass a folder you can write to"
            return None
    return None


def first_line(text: str, limit: int = 240) -> str:
    line = next((s.strip() for s in str(text).splitlines() if s.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def exception_line(exc: BaseException) -> str:
    """``"TypeName: first line of the message"`` — the one-line reason the report shows."""
    message = first_line(str(exc))
    name = type(exc).__name__
    return f"{name}: {message}" if message else name

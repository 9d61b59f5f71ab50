"""Reading what the chain wrote — every ``stages.json`` and the ``records.jsonl`` beside it — and nothing else.

Damaged data is never dropped silently: a file that is not JSON, a ``stages.json`` of the wrong shape, a
record line that is not a record is a ``ReportInputError`` naming the file (and line). The one damage
that happens legitimately — a writer killed in the middle of its last line — becomes an explicit
"incomplete stage" problem that turns the cell red, and so does a stage whose records do not add up to
what it collected.

Text from the code under test is read defensively: every string is ``escape.clean`` (lone surrogates
replaced, at most ``escape.LIMIT`` bytes — a 5 MB message or stderr tail becomes an excerpt ending
``… (N bytes cut)``); a field of the wrong type (a problem that is not an object, an unknown
classification, a stage listed twice, a ``schema`` this build does not read) is refused, file named.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from regression.classify import CLASSIFICATIONS, EMPTY
from regression.common import (
    FAIL_OUTCOMES,
    FLAKY,
    NEUTRAL_OUTCOMES,
    PASS_OUTCOMES,
    SCHEMA,
    DamagedRecords,
    read_records,
)
from regression.escape import LIMIT, clean_all
from tinytorch.registry import LAST_STAGE

OUTCOMES = PASS_OUTCOMES | FAIL_OUTCOMES | NEUTRAL_OUTCOMES | {FLAKY}
_STAGE_INTS = ("stage", "collected", "passed", "failed", "errors", "collect_errors", "skipped", "xfailed")
READS_SCHEMAS = (SCHEMA,)  # the stages.json versions this build reads (no ``schema`` field: the current one)
_NUMBER = (int, float)
_STR, _INT = (str,), (int,)  # exact types, as JSON gives them (``True`` is not a count)
# Fields the report shows or computes with: each must be absent, null, or of this type.
_HEADER_TYPES = {
    "python": _STR,
    "numpy": _STR,
    "started": _STR,
    "commit": _STR,
    "root": _STR,
    "skip_reason": _STR,
    "seconds": _NUMBER,
}
_STAGE_TYPES = {"key": _STR, "name": _STR, "log": _STR, "seconds": _NUMBER, "exit_code": _INT}
_PROBLEM_TYPES = {"module": _INT, "test_id": _STR, "message": _STR}
_RECORD_TYPES = tuple(
    dict.fromkeys(("file", "variant", "model", "pairing", "twin_id", "message", "origin", "when"), _STR).items()
) + (("module", _INT),)
# A JSON text can only hold a lone surrogate as a \udXXX escape; a string longer than its line it cannot hold.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class ReportInputError(ValueError):
    """Input the report cannot trust, named by file (and line)."""


def _natural(text: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def read_json_file(path: Path, what: str):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise ReportInputError(f"{what} {path}: not UTF-8 text ({error.reason})") from None
    except json.JSONDecodeError as error:
        raise ReportInputError(f"{what} {path}: line {error.lineno} is not valid JSON ({error.msg})") from None
    except OSError as error:
        raise ReportInputError(f"{what} {path}: cannot read it ({error.strerror or error})") from None
    except (ValueError, RecursionError) as error:  # an integer of 5000 digits, arrays nested 10 000 deep
        raise ReportInputError(f"{what} {path}: not JSON this report reads ({str(error)[:120]})") from None


def _wrong_type(data: dict, types) -> str | None:
    """The first field of ``data`` that is present, not null and not of its type in ``types``."""
    for key, kinds in types.items() if isinstance(types, dict) else types:
        value = data.get(key)
        if value is not None and type(value) not in kinds:
            return f"{key!r} is {type(value).__name__} {str(value)[:60]!r}"
    return None


def needs_cleaning(path: Path) -> bool:
    """Whether a JSON-lines file may hold a lone surrogate or a string over ``LIMIT`` bytes (a quick scan
    of its bytes: cleaning 80 000 records one string at a time would cost seconds)."""
    data = Path(path).read_bytes()
    return bool(_SURROGATE_ESCAPE.search(data)) or max(map(len, data.split(b"\n")), default=0) > LIMIT


def check_problem(problem, where: str) -> None:
    if not isinstance(problem, dict):
        raise ReportInputError(f"{where} is {type(problem).__name__}, not an object; rerun `nox -s regression`")
    if problem.get("classification", EMPTY) not in CLASSIFICATIONS:
        raise ReportInputError(
            f"{where}: classification {str(problem.get('classification'))[:80]!r} is not one of {list(CLASSIFICATIONS)}"
        )
    bad = _wrong_type(problem, _PROBLEM_TYPES) or _wrong_type(problem, _RECORD_TYPES)  # shown as a record
    if not isinstance(problem.get("test_id"), str) or not problem["test_id"]:
        bad = "no 'test_id' (what failed: a test, a file or a folder)"
    if bad:
        raise ReportInputError(f"{where}: {bad}")


def check_header(header, path: Path) -> dict:
    """A ``stages.json`` must be the chain's: a cell name, a ``stages`` list of stage dicts with counts."""
    if not isinstance(header, dict) or not isinstance(header.get("cell"), str) or not header["cell"]:
        raise ReportInputError(f"{path}: not a chain stages.json (no 'cell' name); rerun `nox -s regression`")
    schema = header.get("schema", SCHEMA)
    if isinstance(schema, bool) or schema not in READS_SCHEMAS:
        raise ReportInputError(
            f"{path}: schema {repr(schema)[:40]} is not one this build reads (it reads "
            f"{', '.join(map(str, READS_SCHEMAS))}); report it with the checkout that wrote it, or rerun the chain"
        )
    bad = _wrong_type(header, _HEADER_TYPES)
    if bad:
        raise ReportInputError(f"{path}: {bad}; rerun `nox -s regression`")
    stages = header.get("stages")
    if not isinstance(stages, list):
        raise ReportInputError(f"{path}: 'stages' is not a list; rerun `nox -s regression`")
    for index, stage in enumerate(stages):
        where = f"{path}: stages[{index}]"
        if not isinstance(stage, dict):
            raise ReportInputError(f"{where} is not an object")
        for key in _STAGE_INTS:
            value = stage.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ReportInputError(f"{where}: {key!r} is {value!r}, not a count")
        if not 1 <= stage["stage"] <= LAST_STAGE:
            raise ReportInputError(f"{where}: stage {stage['stage']} is outside 1..{LAST_STAGE}")
        if not isinstance(stage.get("red"), bool) or not isinstance(stage.get("problems", []), list):
            raise ReportInputError(f"{where}: 'red' must be true/false and 'problems' a list")
        bad = _wrong_type(stage, _STAGE_TYPES)
        if bad:
            raise ReportInputError(f"{where}: {bad}")
        for number, problem in enumerate(stage.get("problems", [])):
            check_problem(problem, f"{where}.problems[{number}]")
    twice = sorted(k for k, n in Counter(s["stage"] for s in stages).items() if n > 1)
    if twice:
        raise ReportInputError(f"{path}: stage(s) {twice} listed more than once; rerun `nox -s regression`")
    return header


def check_record(record: dict, path: Path, number: int) -> None:
    if record["kind"] not in ("test", "collect_error"):
        return
    bad = None
    if not isinstance(record.get("test_id"), str) or not record["test_id"]:
        bad = "no test_id"
    elif not isinstance(record.get("outcome"), str) or record["outcome"] not in OUTCOMES:
        bad = f"outcome {record.get('outcome')!r} is not one of {sorted(OUTCOMES)}"
    elif not isinstance(record.get("stage"), int) or not 1 <= record["stage"] <= LAST_STAGE:
        bad = f"stage {record.get('stage')!r} is not a stage number"
    else:
        bad = _wrong_type(record, _RECORD_TYPES)
    if bad:
        name = str(record.get("test_id", "?"))[:200]
        raise ReportInputError(f"{path}: record {number} ({name!r}) is not a test record: {bad}")


def _count_problems(header: dict, records: list[dict], records_file: Path, truncated: str | None) -> None:
    """Per stage: the test records must add up to what pytest collected, else the stage is red with why."""
    per_stage = Counter(r["stage"] for r in records if r["kind"] == "test")
    for stage in header["stages"]:
        expected, got = stage["collected"], per_stage.get(stage["stage"], 0)
        outcomes = stage["passed"] + stage["failed"] + stage["errors"] + stage["skipped"] + stage["xfailed"]
        outcomes += len(stage.get("flaky") or [])  # failed once, passed on the rerun (rerun.py)
        reasons = []
        if got != expected:
            reasons.append(
                f"{records_file} holds {got} test record(s) of stage {stage['stage']:02d}, pytest collected {expected}"
            )
        elif outcomes != expected:
            reasons.append(f"stage {stage['stage']:02d} counts {outcomes} outcomes for {expected} collected tests")
        if truncated and got < expected:
            reasons.append(truncated)
        if reasons:  # one problem per stage: one cause, however many symptoms
            stage["problems"] = [*stage.get("problems", []), _problem(stage, "incomplete stage: " + "; ".join(reasons))]
            stage["red"] = True


def _problem(stage: dict, message: str) -> dict:
    return {
        "classification": EMPTY,
        "module": stage["stage"],
        "test_id": f"<stage {stage['stage']:02d}>",
        "message": message,
    }


def load_cell(stages_file: Path) -> dict:
    data = read_json_file(stages_file, "cell results")
    try:
        data = clean_all(data, LIMIT)
    except RecursionError:
        raise ReportInputError(f"{stages_file}: nested too deeply to be a chain stages.json") from None
    header = check_header(data, stages_file)
    name = header.get("records_file", "records.jsonl")
    if not isinstance(name, str) or "/" in name or "\\" in name or not name.endswith(".jsonl"):
        raise ReportInputError(f"{stages_file}: 'records_file' {name!r} is not a file name beside it")
    records_file = stages_file.with_name(name)
    records, truncated = [], None
    if header.get("skipped"):
        header["stages"] = []
    elif not records_file.exists():
        if header["stages"]:
            raise ReportInputError(f"{records_file} is missing beside {stages_file}; rerun `nox -s regression`")
    else:
        try:
            loaded = read_records(records_file)
        except DamagedRecords as error:
            raise ReportInputError(str(error)) from None
        except UnicodeDecodeError as error:
            raise ReportInputError(f"{records_file}: not UTF-8 text ({error.reason})") from None
        except OSError as error:
            raise ReportInputError(f"{records_file}: cannot read it ({error.strerror or error})") from None
        except (ValueError, RecursionError) as error:  # json's: a 5000-digit integer, nesting 10 000 deep
            raise ReportInputError(
                f"{records_file}: a line is not JSON this report reads ({str(error)[:120]})"
            ) from None
        for number, record in enumerate(loaded.records, start=1):
            check_record(record, records_file, number)
        records, truncated = loaded.records, loaded.truncated_tail
        if needs_cleaning(records_file):
            try:
                records = clean_all(records, LIMIT)
            except RecursionError:
                raise ReportInputError(f"{records_file}: a record is nested too deeply to be a record") from None
        _count_problems(header, records, records_file, truncated)
    header["records"] = records
    header["dir"] = str(stages_file.parent)
    return header


def load_cells(cells_dir: Path) -> list[dict]:
    """Every cell (a ``stages.json`` with its ``records.jsonl``) under ``cells_dir``, naturally sorted."""
    cells = [load_cell(path) for path in sorted(Path(cells_dir).rglob("stages.json"))]
    names = Counter(c["cell"] for c in cells)
    duplicated = sorted(n for n, count in names.items() if count > 1)
    if duplicated:
        raise ReportInputError(f"cell name(s) {duplicated} appear in more than one folder under {cells_dir}")
    return sorted(cells, key=lambda c: _natural(c["cell"]))

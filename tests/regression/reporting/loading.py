"""Reading what the chain wrote — every ``stages.json`` and the ``records.jsonl`` beside it — and nothing else,
through the schema's types: each cell comes back as a ``LoadedCell`` (its ``CellRun`` and ``TestRecord``s).

Damaged data is never dropped silently: a file that is not JSON, a ``stages.json`` of the wrong shape, a
record line that is not a record is a ``ReportInputError`` naming the file (and line). The one damage
that happens legitimately — a writer killed in the middle of its last line — becomes an explicit
"incomplete stage" problem that turns the cell red, and so does a stage whose records do not add up to
what it collected — the only stage verdict decided outside ``stage.judge_stage``, because it is about the
files, not the tests.

Text from the code under test is read defensively: every string is ``escape.clean`` (lone surrogates
replaced, at most ``escape.LIMIT`` bytes — a 5 MB message or stderr tail becomes an excerpt ending
``… (N bytes cut)``); a field of the wrong type (a problem that is not an object, an unknown
classification, a stage listed twice, a ``schema`` this build does not read) is refused, file named.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from regression.common import DamagedRecords, read_records
from regression.contract import RecordKind
from regression.exits import InputError
from regression.reporting.classify import EMPTY
from regression.reporting.escape import LIMIT, clean_all
from regression.schema import CellRun, Problem, SchemaError, TestRecord, check_version, current
from tinytorch.registry import LAST_STAGE

_STAGE_INTS = ("stage", "collected", "passed", "failed", "errors", "collect_errors", "skipped", "xfailed")
# A JSON text can only hold a lone surrogate as a \udXXX escape; a string longer than its line it cannot hold.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class ReportInputError(InputError):
    """Input the report cannot trust, named by file (and line)."""


@dataclass(frozen=True)
class LoadedCell:
    """One cell as the report reads it: its ``stages.json`` (with an integrity problem added where its files
    do not add up), the test and collect_error records beside it, and its folder."""

    run: CellRun
    records: list[TestRecord] = field(default_factory=list)
    dir: str | None = None

    @property
    def name(self) -> str:
        return self.run.cell


def _natural(text: str):
    return [int(part) if part.isdecimal() else part for part in re.split(r"(\d+)", text)]


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


def needs_cleaning(path: Path) -> bool:
    """Whether a JSON-lines file may hold a lone surrogate or a string over ``LIMIT`` bytes (a quick scan
    of its bytes: cleaning 80 000 records one string at a time would cost seconds)."""
    data = Path(path).read_bytes()
    return bool(_SURROGATE_ESCAPE.search(data)) or max(map(len, data.split(b"\n")), default=0) > LIMIT


def check_header(header, path: Path) -> CellRun:
    """A ``stages.json`` must be the chain's, of a schema version this build reads (else exit 2, file named),
    with the shape of ``schema.CellRun`` (keys it does not know are dropped)."""
    if not isinstance(header, dict) or not isinstance(header.get("cell"), str) or not header["cell"]:
        raise ReportInputError(f"{path}: not a chain stages.json (no 'cell' name); rerun `nox -s regression`")
    check_version("stages.json", header.get("schema", current("stages.json")), path)
    if not isinstance(header.get("stages"), list):
        raise ReportInputError(f"{path}: 'stages' is not a list; rerun `nox -s regression`")
    try:
        cell = CellRun.from_json(header, str(path))
    except SchemaError as error:
        raise ReportInputError(f"{error}; rerun `nox -s regression`") from None
    for index, stage in enumerate(cell.stages):
        where = f"{path}: stages[{index}]"
        for key in _STAGE_INTS:
            if getattr(stage, key) < 0:
                raise ReportInputError(f"{where}: {key!r} is {getattr(stage, key)!r}, not a count")
        if not 1 <= stage.stage <= LAST_STAGE:
            raise ReportInputError(f"{where}: stage {stage.stage} is outside 1..{LAST_STAGE}")
        for number, problem in enumerate(stage.problems):
            if not problem.test_id:
                raise ReportInputError(
                    f"{where}.problems[{number}]: no 'test_id' (what failed: a test, a file or a folder)"
                )
    twice = sorted(k for k, n in Counter(s.stage for s in cell.stages).items() if n > 1)
    if twice:
        raise ReportInputError(f"{path}: stage(s) {twice} listed more than once; rerun `nox -s regression`")
    return cell


def check_record(record: dict, path: Path, number: int) -> TestRecord | None:
    """A test or collect_error line as its type (``schema.TestRecord``); None for another kind (a session)."""
    if record["kind"] not in (RecordKind.TEST, RecordKind.COLLECT_ERROR):
        return None
    where = f"{path}: record {number} ({str(record.get('test_id', '?'))[:200]!r})"
    try:
        typed = TestRecord.from_json(record, where)
    except SchemaError as error:
        raise ReportInputError(f"{error}; not a test record") from None
    if not typed.test_id:
        raise ReportInputError(f"{path}: record {number} ({typed.test_id!r}) is not a test record: no test_id")
    if not 1 <= typed.stage <= LAST_STAGE:
        raise ReportInputError(f"{path}: record {number}: stage {typed.stage!r} is not a stage number")
    return typed


def _integrity(run: CellRun, records: list[TestRecord], records_file: Path, truncated: str | None) -> CellRun:
    """Per stage: the test records must add up to what pytest collected, else the stage is red with why —
    the one verdict the report adds to ``judge_stage``'s: the files of this cell are damaged."""
    per_stage = Counter(r.stage for r in records if r.kind == RecordKind.TEST)
    stages = []
    for stage in run.stages:
        expected, got = stage.collected, per_stage.get(stage.stage, 0)
        outcomes = stage.passed + stage.failed + stage.errors + stage.skipped + stage.xfailed
        outcomes += len(stage.flaky)  # failed once, passed on the rerun (rerun.py)
        reasons = []
        if got != expected:
            reasons.append(
                f"{records_file} holds {got} test record(s) of stage {stage.stage:02d}, pytest collected {expected}"
            )
        elif outcomes != expected:
            reasons.append(f"stage {stage.stage:02d} counts {outcomes} outcomes for {expected} collected tests")
        if truncated and got < expected:
            reasons.append(truncated)
        if reasons:  # one problem per stage: one cause, however many symptoms
            why = "incomplete stage: " + "; ".join(reasons)
            problem = Problem(EMPTY, test_id=f"<stage {stage.stage:02d}>", message=why, module=stage.stage)
            stage = stage.replace(problems=[*stage.problems, problem], red=True)
        stages.append(stage)
    return run.replace(stages=stages)


def read_test_records(records_file: Path) -> tuple[list[TestRecord], str | None]:
    """(the test and collect_error records of a records file, why its last line was cut off or None)."""
    try:
        loaded = read_records(records_file)
    except DamagedRecords as error:
        raise ReportInputError(str(error)) from None
    except UnicodeDecodeError as error:
        raise ReportInputError(f"{records_file}: not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise ReportInputError(f"{records_file}: cannot read it ({error.strerror or error})") from None
    except (ValueError, RecursionError) as error:  # json's: a 5000-digit integer, nesting 10 000 deep
        raise ReportInputError(f"{records_file}: a line is not JSON this report reads ({str(error)[:120]})") from None
    checked = (check_record(line, records_file, number) for number, line in enumerate(loaded.records, start=1))
    records = [record for record in checked if record is not None]
    if needs_cleaning(records_file):
        try:
            records = clean_all(records, LIMIT)
        except RecursionError:
            raise ReportInputError(f"{records_file}: a record is nested too deeply to be a record") from None
    return records, loaded.truncated_tail


def load_cell(stages_file: Path) -> LoadedCell:
    data = read_json_file(stages_file, "cell results")
    try:
        data = clean_all(data, LIMIT)
    except RecursionError:
        raise ReportInputError(f"{stages_file}: nested too deeply to be a chain stages.json") from None
    run = check_header(data, stages_file)
    name = run.records_file
    if "/" in name or "\\" in name or not name.endswith(".jsonl"):
        raise ReportInputError(f"{stages_file}: 'records_file' {name!r} is not a file name beside it")
    records_file = stages_file.with_name(name)
    records: list[TestRecord] = []
    if run.skipped:
        run = run.replace(stages=[])
    elif not records_file.exists():
        if run.stages:
            raise ReportInputError(f"{records_file} is missing beside {stages_file}; rerun `nox -s regression`")
    else:
        records, truncated = read_test_records(records_file)
        run = _integrity(run, records, records_file, truncated)
    return LoadedCell(run, records, str(stages_file.parent))


def load_records_cell(records_file: Path, cell: str) -> LoadedCell:
    """A cell of records alone, without a ``stages.json`` (a pytest run of chosen tests: the bisect judge's)."""
    return LoadedCell(CellRun(cell=cell), read_test_records(Path(records_file))[0])


def load_cells(cells_dir: Path) -> list[LoadedCell]:
    """Every cell (a ``stages.json`` with its ``records.jsonl``) under ``cells_dir``, naturally sorted."""
    cells = [load_cell(path) for path in sorted(Path(cells_dir).rglob("stages.json"))]
    names = Counter(c.name for c in cells)
    duplicated = sorted(n for n, count in names.items() if count > 1)
    if duplicated:
        raise ReportInputError(f"cell name(s) {duplicated} appear in more than one folder under {cells_dir}")
    return sorted(cells, key=lambda c: _natural(c.name))

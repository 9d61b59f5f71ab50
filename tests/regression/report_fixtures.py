"""The chain's files as the report's tests write them: a stage result, a test record and a cell's folder,
built through their types (``schema.StageResult``, ``schema.TestRecord``), a loaded cell without files, and
a strict HTML parser for the page the report writes."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from regression.common import write_json, write_jsonl
from regression.contract import Outcome, Pairing, RecordKind, Variant
from regression.reporting.loading import LoadedCell
from regression.schema import CellRun, Problem, StageResult, TestRecord


def stage_entry(stage: int, passed: int, failed: int = 0, problems=()) -> dict:
    """A stage result as the chain writes it, built through its type (``schema.StageResult``)."""
    return StageResult(
        stage=stage,
        key=f"{stage:02d}",
        name="x",
        collected=passed + failed,
        passed=passed,
        failed=failed,
        errors=0,
        collect_errors=0,
        skipped=0,
        xfailed=0,
        seconds=0.1,
        exit_code=1 if failed or problems else 0,
        red=bool(failed or problems),
        problems=[Problem.from_json(p) for p in problems],
    ).to_json()


def test_record(cell: str, stage: int, test_id: str, outcome: str, message: str = "") -> dict:
    """A test record as records.py writes it, built through its type (``schema.TestRecord``)."""
    variant = Variant.INT8 if "-int8]" in test_id else Variant.FP32 if "-fp32]" in test_id else Variant.NONE
    twin = None if variant == "none" else test_id.replace(f"-{variant}]", "-fp32]" if variant == "int8" else "-int8]")
    return TestRecord(
        kind=RecordKind.TEST,
        cell=cell,
        stage=stage,
        module=3,
        file=test_id.split("::")[0],
        test_id=test_id,
        variant=variant,
        twin_id=twin,
        pairing=Pairing.NO_VARIANT if variant == "none" else Pairing.PAIRED,
        outcome=Outcome(outcome),
        message=message,
        seconds=0.01,
    ).to_json()


test_record.__test__ = False  # a helper, not a test


def loaded_cell(name: str, stages: list[dict] = (), records: list[dict] = (), **header) -> LoadedCell:
    """A cell as loading.py gives it, from the dicts these helpers make, without its files."""
    run = CellRun.from_json(dict(header, cell=name, stages=list(stages)))
    return LoadedCell(run, [TestRecord.from_json(r) for r in records])


def write_cell(root: Path, name: str, stages: list[dict], records: list[dict], full: bool = True) -> None:
    """A cell's files; ``full`` adds the stages not given as green and empty, so the cell is not partial."""
    header = {"schema": 1, "cell": name, "skipped": False, "skip_reason": None, "python": "3.11.7", "numpy": "2.2.0"}
    given = {s["stage"] for s in stages}
    if full:
        stages = sorted(stages + [stage_entry(k, 0) for k in range(1, 17) if k not in given], key=lambda s: s["stage"])
    write_json(root / name / "stages.json", dict(header, stages=stages, seconds=1.0))
    write_jsonl(root / name / "records.jsonl", records)


class StrictHTML(HTMLParser):
    """Fails on mis-nested tags; collects the grid's cell classes and element texts by id."""

    VOID = {"meta", "br", "hr", "img", "input", "link", "col"}

    def __init__(self):
        super().__init__()
        self.stack, self.grid_classes, self.ids, self._id, self.in_grid = [], [], {}, None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag not in self.VOID:
            self.stack.append(tag)
        if tag == "table" and attrs.get("id") == "grid":
            self.in_grid = True
        if tag == "td" and self.in_grid:
            self.grid_classes.append(attrs.get("class"))
        if "id" in attrs:
            self._id = attrs["id"]
            self.ids[self._id] = ""

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()
        if tag == "table":
            self.in_grid = False
        if tag in ("span", "p"):
            self._id = None

    def handle_data(self, data):
        if self._id in ("verdict", "last-line"):
            self.ids[self._id] += data

"""A report tree full of one value: cells, a skipped cell, a baseline and a coverage table carrying it in
every field the report shows (the hostile tests), and the HTML element tree the outputs are compared by."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from regression import report
from regression.contract import Classification
from regression.report_fixtures import stage_entry, test_record
from regression.reporting.analysis import build_report
from regression.reporting.loading import load_cells
from regression.schema import Report

HOSTILE = {
    # HTML
    "img-onerror": "<img src=x onerror=alert(1)>",
    "script": '"><script>alert(1)</script>',
    "attribute-break": "' onmouseover='alert(1)' x='",
    "close-tags": "</code></li></ul></details></table><h1>big</h1>",
    "comment": "<!-- x",
    "entity": "&lt;b&gt; &amp;",
    # terminal
    "clear-screen": "\x1b[2J\x1b[H",
    "osc52-clipboard": "\x1b]52;c;cm0gLXJmIH4=\x07",
    "bel": "ding\x07",
    "c1-csi": "\x9b31mred \x85 next-line \x9d",
    "carriage-return": "hidden\rshown",
    "newline": "first\nsecond",
    "bidi": "abc\u202edcb",
    # Markdown
    "pipe": "a | b | c",
    "crlf": "one\r\ntwo",
    "backticks": "x `` y ` z ```",
    "emphasis-link": "**bold** _it_ [link](javascript:alert(1)) ~~s~~",
    "html-in-md": "<b>bold</b>",
    # encoding
    "lone-surrogate": "bad \ud800 text",
}
BENIGN = "plain"


# ----------------------------------------------------------------------------------------- a cell full of the value
def _stages_file(folder: Path, header: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    # ensure_ascii: a lone surrogate travels as the "\ud800" escape, as json.dumps writes it
    (folder / "stages.json").write_text(json.dumps(header, ensure_ascii=True), encoding="ascii")


def hostile_tree(root: Path, value: str) -> dict:
    """Cells, a baseline and a coverage report carrying ``value`` in every shown field; returns the paths."""
    cells = root / "cells"
    name = f"c-{value}"
    test_id = f"tests/modules/03_layers/test_{value}.py::test_x[mlp-int8]"
    twin = test_id.replace("-int8]", "-fp32]")
    records = [
        dict(test_record(name, 3, twin, "passed"), module=3),
        dict(
            test_record(name, 3, test_id, "failed", f"AssertionError: {value}"), origin=f"tinytorch/x.py:1 in {value}"
        ),
        dict(test_record(name, 3, f"t.py::fixed_{value}", "passed")),
    ]
    problem = {"classification": Classification.EMPTY, "module": 4, "test_id": f"<{value}>", "message": value}
    stages = [stage_entry(k, 0) for k in range(1, 17) if k not in (3, 4)]
    stages += [
        dict(stage_entry(3, 2, 1), log="logs/stage_03.log"),
        dict(stage_entry(4, 0), red=True, problems=[problem]),
    ]
    header = {
        "schema": 1,
        "cell": name,
        "skipped": False,
        "python": f"3.11 {value}",
        "numpy": f"2.2 {value}",
        "started": value,
        "seconds": 1.0,
        "stages": sorted(stages, key=lambda s: s["stage"]),
    }
    folder = cells / "one"
    _stages_file(folder, header)
    (folder / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="ascii")
    (folder / "logs").mkdir()
    (folder / "logs" / "stage_03.log").write_text("log\n")
    skipped = {"schema": 1, "cell": f"s-{value}", "skipped": True, "skip_reason": value, "stages": []}
    _stages_file(cells / "two", skipped)
    (cells / "two" / "records.jsonl").write_text("")
    baseline = root / "baseline.json"
    baseline.write_text(
        json.dumps({"cells": [], "failures": [{"stage": 3, "test_id": f"t.py::fixed_{value}", "variant": "none"}]})
    )
    coverage = root / "coverage" / "coverage.json"
    coverage.parent.mkdir()
    coverage.write_text(json.dumps({"files": {}, "totals": {"percent_covered": 50.0}}))
    row = {"label": value, "files": [value], "threshold": value, "status": value, "number": 1}
    row.update(statements=4, covered_lines=2, branches=0, covered_branches=0)
    (coverage.parent / "modules.json").write_text(json.dumps([row, dict(row, number=None)]))
    return {"cells": cells, "baseline": baseline, "coverage": coverage, "cell": folder}


def report_of(root: Path, value: str) -> Report:
    paths = hostile_tree(root, value)
    baseline = report.load_baseline(paths["baseline"])
    return build_report(load_cells(paths["cells"]), baseline, report.load_coverage(paths["coverage"]))


class Tree(HTMLParser):
    """The element tree of a page: (start|end, tag, sorted attribute names) in document order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.events, self.attrs = [], []

    def handle_starttag(self, tag, attrs):
        self.events.append(("start", tag, tuple(sorted(a for a, _ in attrs))))
        self.attrs += [(tag, a, v) for a, v in attrs]

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        self.events.append(("end", tag, ()))

    def handle_comment(self, data):
        self.events.append(("comment", data, ()))


def tree(page: str) -> Tree:
    parsed = Tree()
    parsed.feed(page)
    parsed.close()
    return parsed

"""Inline SVG charts (charts.py): well-formed, escaped, labelled in text, no script and nothing fetched."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from regression import report
from regression.contract import Classification, Outcome
from regression.report_fixtures import StrictHTML, stage_entry, test_record, write_cell
from regression.reporting import charts
from regression.reporting.analysis import stage_summary
from regression.reporting.decision import KNOWN, NEW
from regression.schema import Baseline, CellSummary, Counts, Failure, Report, Reused, StageResult, StageSummary, Verdict
from regression.schema.report import Fixed

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "py3.12<script>alert(1)</script>&\"'\x1b\x00"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # expat: strict XML


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def stage(number: int, **fields) -> StageSummary:
    """A stage of a cell summary as the analysis makes it (``analysis.stage_summary``)."""
    counts = dict(collected=0, passed=0, failed=0, errors=0, collect_errors=0, skipped=0, xfailed=0, red=False)
    return stage_summary(StageResult(stage=number, **dict(counts, **fields)))


def summary(name: str, stages: list[StageSummary], **fields) -> CellSummary:
    return CellSummary(cell=name, **dict(dict(skipped=False, red=False, partial=False), stages=stages, **fields))


REUSED = Reused(commit="abc123", date="2025-01-02T03:04:05+00:00")


def cell(**extra) -> CellSummary:
    stages = [
        stage(1, seconds=0.6),
        stage(2, seconds=1.2).replace(reused=REUSED),
        stage(3, seconds=2.4, red=True),
        stage(9, seconds=float("nan"), cancelled=True),
        stage(12, key="12-m12", seconds=None),
    ]
    return summary(HOSTILE, stages, **extra)


def test_a_stage_chart_labels_every_bar_in_words_and_marks_red_reused_cancelled():
    svg = charts.stage_chart(cell())
    root = parse(svg)
    words = texts(root)
    assert words[:2] == ["01 tensor", "0.6 s ok"] and "2.4 s RED" in words and "1.2 s reused" in words
    assert "0.0 s cancelled" in words and any("(12-m12)" in w for w in words)
    classes = [r.get("class") for r in root.iter(f"{SVG}rect") if r.get("class")]
    assert classes == ["ok", "reused", "red", "cancelled", "ok"]
    assert root.find(f"{SVG}title").text == f"stage times of cell {HOSTILE[:-2]}\\x1b\\x00"


def test_without_reused_or_cancelled_fields_a_stage_is_ok_or_red():
    assert charts.stage_state(stage(1, red=True)) == "red" and charts.stage_state(stage(1)) == "ok"
    assert charts.stage_chart(summary("c", [])) == ""


def test_text_is_escaped_and_nothing_runs_or_is_fetched():
    svg = charts.stage_chart(cell()) + charts.coverage_chart(coverage())
    assert "<script" not in svg and "alert(1)</script>" not in svg and "\x1b" not in svg and "\x00" not in svg
    fetched = svg.replace('xmlns="http://www.w3.org/2000/svg"', "")  # a namespace name, never fetched
    assert not re.search(r"(?:href|src)\s*=|https?:|@import|url\((?!#)", fetched)  # only url(#local-pattern)


def coverage() -> dict:
    return {
        "modules": [
            {"label": "01 tensor", "statements": 100, "covered": 97, "branches": 40, "covered_branches": 30,
             "threshold": 90, "status": "ok"},
            {"label": "16 <quantization>", "statements": 200, "covered": 150, "branches": 0, "covered_branches": 0,
             "threshold": 85, "status": "below"},
            {"label": "17 not measured", "statements": None, "covered": None, "threshold": 90},
        ]
    }  # fmt: skip


def test_the_coverage_chart_draws_statements_and_branches_against_the_threshold():
    root = parse(charts.coverage_chart(coverage()))
    key, *words = texts(root)
    assert "upper bar statements, lower bar branches" in key and "hatched: under it" in key
    assert words[0] == "01 tensor" and words[1] == "stmts 97.0 % · branches 75.0 % (under) · threshold 90 % · ok"
    assert words[2] == "16 <quantization>" and words[3] == "stmts 75.0 % (under) · branches — · threshold 85 % · below"
    assert [r.get("class") for r in root.iter(f"{SVG}rect") if r.get("class")] == ["stmts", "under", "under"]
    lines = [ln for ln in root.iter(f"{SVG}line") if ln.get("class") == "threshold"]
    assert [float(ln.get("x1")) for ln in lines] == [charts.LABEL + charts.BAR * 0.9, charts.LABEL + charts.BAR * 0.85]
    assert charts.coverage_chart({"modules": []}) == "" and charts.coverage_chart(None) == ""


def luminance(hex_colour: str) -> float:
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_the_palette_reads_in_grey_scale_and_on_a_dark_page():
    style = charts._STYLE
    fills = dict(re.findall(r"\.ttc \.(\w+)\{fill:(#[0-9a-f]{6})", style))
    grey = sorted(luminance(fills[k]) for k in ("ok", "reused"))
    assert grey[1] - grey[0] > 0.1  # ok and reused differ as greys (red is hatched, cancelled hollow)
    assert abs(luminance(fills["stmts"]) - luminance(fills["branches"])) > 0.05
    for colour in fills.values():  # mid-tones: visible on white and on a dark background
        assert 0.15 < luminance(colour) < 0.75, colour
    assert "text{fill:currentColor" in style and "stroke:currentColor" in style


def test_the_html_report_holds_the_charts_and_still_parses(tmp_path, capsys):
    cells = tmp_path / "cells"
    records = [
        test_record(HOSTILE, 3, "t.py::a[mlp-fp32]", "passed"),
        test_record(HOSTILE, 3, "t.py::a[mlp-int8]", "failed"),
    ]
    write_cell(cells, "c", [stage_entry(3, 1, 1)], records)
    header = (cells / "c" / "stages.json").read_text().replace('"cell": "c"', '"cell": "py<b>\\u001b"')
    (cells / "c" / "stages.json").write_text(header)
    assert report.main(["--cells", str(cells), "--out", str(tmp_path / "r")]) == 1
    capsys.readouterr()
    page = (tmp_path / "r" / "regression.html").read_text(encoding="utf-8")
    StrictHTML().feed(page)
    assert page.count("<svg") == 1 and 'id="stage-charts"' in page and "py&lt;b&gt;\\x1b" in page
    (svg,) = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(list(parse(svg).iter(f"{SVG}rect"))) == 16 + 2  # 16 stages and the hatch pattern's two


def _failure(status: str) -> Failure:
    return Failure(
        HOSTILE, 3, 3, "03 layers", "t.py", "t.py::a", Classification.REGARDLESS, "", "", Outcome.FAILED
    ).replace(status=status)


def _grid_report(baseline: Baseline | None = None) -> tuple[Report, CellSummary, StageSummary]:
    red = stage(3, red=True, collected=2, seconds=1.0)
    one = summary(HOSTILE, [red], red=True)
    failures = [_failure(NEW), _failure(NEW), _failure(KNOWN)] if baseline else [_failure(None)] * 3
    counts = Counts(passed=0, failed=3, skipped=0, xfailed=0, records=3, distinct_tests=1)
    verdict = Verdict(red=True, ok=False, text="red")
    data = Report(2, "", cells=[one], stages=[3], counts=counts, failures=failures, verdict=verdict, baseline=baseline)
    return data, one, red


def test_grid_marks_say_new_known_fixed_flaky_reused_in_words():
    from regression.reporting import render

    fixed = [Fixed(stage=3, test_id="t::b", variant="none"), Fixed(stage=4, test_id="t::c", variant="none")]
    data, one, red = _grid_report(Baseline(new=2, known=1, fixed=fixed))
    assert render.marks(data, one, red) == [("NEW", "NEW 2"), ("KNOWN", "KNOWN 1"), ("FIXED", "FIXED 1")]
    assert render.marks(data, one, red.replace(flaky=["t::w"], reused=REUSED))[-2:] == [
        ("flaky", "flaky 1"),
        ("reused", "reused"),
    ]
    no_baseline, one, red = _grid_report()
    assert render.marks(no_baseline, one, red) == []  # statuses only mean something against a baseline
    assert render.marks(data, one.replace(skipped=True), red) == [] and render.marks(data, one, None) == []


def _luminance(hex_colour: str) -> float:
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_palette_has_a_dark_mode_and_ok_red_differ_in_grey_scale_in_both():
    from regression.reporting import html_page

    light, dark = html_page._CSS.split("@media (prefers-color-scheme: dark)")
    for css in (light, dark):
        ok = re.search(r"td\.ok\{background:(#[0-9a-f]{6})", css).group(1)
        red = re.search(r"td\.red\{background:(#[0-9a-f]{6})", css).group(1)
        assert abs(_luminance(ok) - _luminance(red)) > 0.1, (ok, red)  # not hue alone

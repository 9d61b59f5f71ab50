"""Inline SVG charts for the HTML report (no script, no network): each cell's stage times, the per-module
coverage against its threshold.

Colour never carries a meaning alone: every bar has a text label beside it (``2.4 s RED``, ``stmts 95.1 %``),
a red stage or a bar under its threshold is hatched, a reused stage outlined dashed, a cancelled one dotted
and hollow. Fills are mid-tones that read on a light and a dark page and as distinct greys; text and
lines are ``currentColor`` (the page's text colour). All text is escaped (cell names, labels and files are
data), characters XML cannot hold spelled out.
"""

from __future__ import annotations

import html
import re

from regression.common import module_label
from regression.reporting.junit import xml_text
from regression.schema import CellSummary, Report, StageSummary

WIDTH = 720
LABEL = 150  # the label column
BAR = 360  # the longest bar
ROW = 20
_STYLE = (
    "<style>"
    ".ttc text{fill:currentColor;font:12px system-ui,sans-serif}"
    ".ttc .ok{fill:#5b8fc9}.ttc .red{fill:url(#{hatch})}.ttc .red,.ttc .reused,.ttc .cancelled"
    "{stroke:currentColor;stroke-width:1}.ttc .reused{fill:#9db7d5;stroke-dasharray:4 2}"
    ".ttc .cancelled{fill:none;stroke-dasharray:1 2}.ttc .stmts{fill:#5b8fc9}.ttc .branches{fill:#8a6fb8}"
    ".ttc .under{fill:url(#{hatch});stroke:currentColor;stroke-width:1}"
    ".ttc .threshold{stroke:currentColor;stroke-width:1.5;stroke-dasharray:3 2}"
    ".ttc .axis{stroke:currentColor;stroke-opacity:.4}"
    "</style>"
)


def _esc(value) -> str:
    return html.escape(xml_text(value), quote=True)


def _id(text: str) -> str:
    return "ttc-" + re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:60]


def _svg(chart_id: str, title: str, rows: int, body: list[str], width: int = WIDTH) -> str:
    hatch = f"{chart_id}-hatch"
    height = ROW * rows + 10
    return "\n".join(
        [
            f'<svg class="ttc" id="{_esc(chart_id)}" xmlns="http://www.w3.org/2000/svg" role="img" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" aria-labelledby="{_esc(chart_id)}-t">',
            f'<title id="{_esc(chart_id)}-t">{_esc(title)}</title>',
            _STYLE.replace("{hatch}", _esc(hatch)),
            f'<defs><pattern id="{_esc(hatch)}" width="6" height="6" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><rect width="6" height="6" fill="#d9534f"/>'
            '<rect width="2" height="6" fill="#3a0d0c"/></pattern></defs>',
            *body,
            "</svg>",
        ]
    )


def stage_state(stage: StageSummary) -> str:
    """ok | red | reused | cancelled — what a stage bar shows (``reused``/``cancelled`` when the chain says so)."""
    if stage.cancelled:
        return "cancelled"
    if stage.red:
        return "red"
    return "reused" if stage.reused else "ok"


_STATE_TEXT = {"ok": "ok", "red": "RED", "reused": "reused", "cancelled": "cancelled"}


def _seconds(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if number == number and number > 0 else 0.0  # NaN and negatives draw nothing


def stage_chart(cell: CellSummary) -> str:
    """Horizontal bars of one cell's stage times (the report's cell summary), a text label on each."""
    stages = sorted(cell.stages, key=lambda s: s.stage)
    if not stages:
        return ""
    longest = max(_seconds(s.seconds) for s in stages) or 1.0
    body = []
    for row, stage in enumerate(stages):
        y = 5 + row * ROW
        state = stage_state(stage)
        width = max(1.0, BAR * _seconds(stage.seconds) / longest)
        label = module_label(stage.stage)
        if stage.key and "-m" in stage.key:
            label = f"{label} ({stage.key})"
        text = f"{_seconds(stage.seconds):.1f} s {_STATE_TEXT[state]}"
        body += [
            f'<text x="0" y="{y + 13}">{_esc(label)}</text>',
            f'<rect class="{state}" x="{LABEL}" y="{y + 2}" width="{width:.1f}" height="{ROW - 6}">'
            f"<title>{_esc(label)}: {_esc(text)}</title></rect>",
            f'<text x="{LABEL + width + 6:.1f}" y="{y + 13}">{_esc(text)}</text>',
        ]
    body.append(f'<line class="axis" x1="{LABEL}" y1="2" x2="{LABEL}" y2="{ROW * len(stages) + 6}"/>')
    return _svg(_id(f"stages-{cell.cell}"), f"stage times of cell {cell.cell}", len(stages), body)


def _ratio(covered, total) -> float | None:
    if covered is None or not total:
        return None
    return 100.0 * covered / total


def coverage_chart(coverage: dict) -> str:
    """Per module: statements and branches covered (%) as two bars, the module's threshold as a dashed
    line across them, and the numbers and status in text."""
    rows = [r for r in (coverage or {}).get("modules", []) if r.get("statements") is not None]
    if not rows:
        return ""
    key = "per module: upper bar statements, lower bar branches; dashed line: its threshold; hatched: under it"
    body = [f'<text x="0" y="13">{_esc(key)}</text>']
    for index, row in enumerate(rows):
        y = 5 + (index + 1) * ROW * 2 - ROW
        threshold = row.get("threshold")
        stmts = _ratio(row.get("covered"), row.get("statements"))
        branches = _ratio(row.get("covered_branches"), row.get("branches"))
        body.append(f'<text x="0" y="{y + 17}">{_esc(row.get("label"))}</text>')
        words = []
        for offset, (kind, value) in enumerate((("stmts", stmts), ("branches", branches))):
            if value is None:
                words.append(f"{kind} —")
                continue
            under = isinstance(threshold, (int, float)) and value < threshold
            width = max(1.0, BAR * min(value, 100.0) / 100)
            body.append(
                f'<rect class="{"under" if under else kind}" x="{LABEL}" y="{y + 3 + offset * 16}" '
                f'width="{width:.1f}" height="13"><title>{kind} {value:.1f} %</title></rect>'
            )
            words.append(f"{kind} {value:.1f} %{' (under)' if under else ''}")
        if isinstance(threshold, (int, float)):
            x = LABEL + BAR * min(max(threshold, 0), 100) / 100
            body.append(f'<line class="threshold" x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 34}"/>')
            words.append(f"threshold {threshold:g} %")
        if row.get("status"):
            words.append(str(row["status"]))
        body.append(f'<text x="{LABEL + BAR + 8}" y="{y + 17}">{_esc(" · ".join(words))}</text>')
    title = "coverage per module: statements and branches against the threshold"
    return _svg("ttc-coverage", title, 2 * len(rows) + 1, body, width=LABEL + BAR + 380)


def stage_charts(report: Report) -> list[str]:
    """The HTML section of every cell's stage-time chart (skipped cells have none)."""
    charts = [(c.cell, stage_chart(c)) for c in report.cells if not c.skipped]
    charts = [(name, svg) for name, svg in charts if svg]
    if not charts:
        return []
    parts = ['<h2>Stage times</h2><div id="stage-charts">']
    for name, svg in charts:
        parts.append(f"<figure><figcaption>{_esc(name)}</figcaption>{svg}</figure>")
    return parts + ["</div>"]

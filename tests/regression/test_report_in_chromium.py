"""The HTML report really renders: headless Chromium loads it, lays out the grid, and can paint it.

Chromium is a prerequisite of the test suite (Debian: ``apt-get install chromium``; ``.ci/run`` installs
it). Without a browser this test fails with that instruction — it never skips, because a page
nobody opened is exactly what a parser-only check lets through.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np

from regression import chain, report
from regression.png_pixels import read_rgb, share_of
from regression.report_fixtures import stage_entry, test_record, write_cell
from tools import prerequisites

# No background networking: this machine's closed network refuses those connections one by one.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def find_browser() -> str:
    browser = prerequisites.find_browser()
    assert browser, f"no headless browser on PATH: the HTML report must be checked in one. {prerequisites.HINT}"
    return browser


def render(browser: str, page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
    )


GREEN_CELL = (0xC8, 0xE6, 0xC9)  # td.ok in render.py's CSS
RED_CELL = (0xEF, 0x53, 0x50)  # td.red
FLAKY_CELL = (0xFF, 0xE0, 0xB2)  # td.flaky
BAR_OK = (0x5B, 0x8F, 0xC9)  # a stage-time bar that passed (charts.py .ok)
HATCH_RED = (0xD9, 0x53, 0x4F)  # the hatch of a red stage-time bar (charts.py)
# Chromium 156's headless mode cannot be told to run no script: --disable-javascript and
# --blink-settings=javascriptEnabled=false still run one, and --blink-settings=scriptEnabled=false leaves
# --screenshot/--dump-dom with no output at all. So the proof is the page's own CSP: a script planted in
# it does not run (test_a_planted_script_does_not_run), and everything below is painted under that CSP.
PLANTED = '<script>document.body.setAttribute("data-ran", "yes")</script>'
WINDOW = "--window-size=900,1000"  # down to the first stage-time chart's stage 03


def red_and_green_report(tmp_path: Path) -> Path:
    cells = tmp_path / "cells"
    write_cell(cells, "py3.11-np2.2", [stage_entry(1, 2)], [test_record("py3.11-np2.2", 1, "t.py::a", "passed")] * 2)
    write_cell(
        cells,
        "py3.12-np2.2",
        [stage_entry(3, 1, 1)],
        [
            test_record("py3.12-np2.2", 3, "t.py::a[mlp-fp32]", "passed"),
            test_record("py3.12-np2.2", 3, "t.py::a[mlp-int8]", "failed", "AssertionError: int8 drifted"),
        ],
    )
    chain.write_skipped(cells / "py3.9-np1.24", "py3.9-np1.24", "python 3.9 not found: `pyenv install 3.9`")
    assert report.main(["--cells", str(cells), "--out", str(tmp_path / "out")]) == 1
    return tmp_path / "out" / "regression.html"


def green_report(tmp_path: Path) -> Path:
    cells = tmp_path / "green-cells"
    write_cell(cells, "py3.11-np2.2", [stage_entry(1, 2)], [test_record("py3.11-np2.2", 1, "t.py::a", "passed")] * 2)
    assert report.main(["--cells", str(cells), "--out", str(tmp_path / "green")]) == 0
    return tmp_path / "green" / "regression.html"


def flaky_report(tmp_path: Path) -> Path:
    """One cell whose stage 02 test failed, then passed on the rerun (rerun.py): never green, never red."""
    cells, name = tmp_path / "flaky-cells", "py3.11-np2.2"
    stage = dict(stage_entry(2, 1), collected=2, flaky=["t.py::wobbly"])
    records = [
        test_record(name, 2, "t.py::steady", "passed"),
        test_record(name, 2, "t.py::wobbly", "flaky", "AssertionError: once"),
    ]
    write_cell(cells, name, [stage], records)
    assert report.main(["--cells", str(cells), "--out", str(tmp_path / "flaky")]) == 1  # flaky is not green
    return tmp_path / "flaky" / "regression.html"


def baseline_report(tmp_path: Path) -> Path:
    """Against a baseline that failed ``a[mlp-int8]`` and ``b`` at stage 03: ``a`` is KNOWN, ``b`` FIXED,
    ``c[mlp-int8]`` NEW."""
    name = "py3.11-np2.2"

    def run(folder: str, outcomes: dict, *extra: str) -> int:
        records = [
            test_record(name, 3, t, o, "AssertionError: drift" if o == "failed" else "") for t, o in outcomes.items()
        ]
        failed = sum(o == "failed" for o in outcomes.values())
        write_cell(tmp_path / folder, name, [stage_entry(3, len(outcomes) - failed, failed)], records)
        return report.main(["--cells", str(tmp_path / folder), "--out", str(tmp_path / f"{folder}-out"), *extra])

    twins = {"t.py::a[mlp-fp32]": "passed", "t.py::c[mlp-fp32]": "passed"}
    assert (
        run("before", {**twins, "t.py::a[mlp-int8]": "failed", "t.py::b": "failed", "t.py::c[mlp-int8]": "passed"}) == 1
    )
    baseline = str(tmp_path / "before-out" / "regression.json")
    now = {**twins, "t.py::a[mlp-int8]": "failed", "t.py::b": "passed", "t.py::c[mlp-int8]": "failed"}
    assert run("after", now, "--baseline", baseline) == 1  # a NEW failure
    return tmp_path / "after-out" / "regression.html"


def screenshot(browser: str, page: Path, tmp_path: Path, name: str, *extra: str):
    shot = tmp_path / f"{name}.png"
    painted = render(browser, page, tmp_path / f"profile-{name}", f"--screenshot={shot}", WINDOW, *extra)
    assert painted.returncode == 0, painted.stderr[-2000:]
    pixels = read_rgb(shot)
    assert pixels.std() > 20, f"the {name} screenshot is blank"
    return pixels


def where(pixels, rgb, tolerance: int = 12):
    """(rows, columns) of the pixels within ``tolerance`` of a colour."""
    distance = np.abs(pixels.astype(np.int32) - np.array(rgb, dtype=np.int32)).max(axis=2)
    return np.nonzero(distance <= tolerance)


def one_box(pixels, rgb, most: tuple[int, int]) -> None:
    """The pixels of that colour make one small filled box (one grid entry), at most ``most`` (h, w) pixels."""
    rows, cols = where(pixels, rgb)
    assert rows.size, f"no {rgb} painted"
    height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    assert height <= most[0] and width <= most[1], f"{rgb} spreads over {height}x{width} px, not one grid entry"
    assert rows.size > 0.4 * height * width, f"{rgb} is scattered, not one filled grid entry"


def grid_text(page_html: str) -> str:
    grid = page_html[page_html.index('<table id="grid">') :]
    return grid[: grid.index("</table>")]


def test_red_report_renders_in_headless_chromium_and_shows_red(tmp_path):
    page = red_and_green_report(tmp_path)
    browser = find_browser()
    dom = render(browser, page, tmp_path / "profile-dom", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert '<table id="grid">' in html and 'id="legend"' in html
    assert 'class="ok"' in html and 'class="red"' in html and 'class="skip"' in html
    assert "quantization broke module 03 layers" in html and "int8 drifted" in html  # the grouped cause
    assert "regression: 3 passed, 1 failed" in html and "<script" not in html
    # The same page with a script planted in it: its CSP stops it; without the CSP it would run (the check works).
    source = page.read_text(encoding="utf-8").replace("</body>", PLANTED + "</body>")
    for name, text, runs in (
        ("planted", source, False),
        ("no-csp", re.sub(r"<meta http-equiv[^>]*>", "", source), True),
    ):
        (tmp_path / f"{name}.html").write_text(text, encoding="utf-8")
        dom = render(browser, tmp_path / f"{name}.html", tmp_path / f"profile-{name}", "--dump-dom")
        assert dom.returncode == 0 and '<table id="grid">' in dom.stdout, dom.stderr[-2000:]
        assert ('data-ran="yes"' in dom.stdout) is runs, (
            f"{name}: the planted script {'did not run' if runs else 'ran'}"
        )

    pixels = screenshot(browser, page, tmp_path, "red")
    one_box(pixels, RED_CELL, most=(40, 260))  # red only in the one red grid entry (stage 03 of py3.12)
    assert share_of(pixels, GREEN_CELL) > 0.002, "no green grid cell painted"
    assert share_of(pixels, BAR_OK, 6) > 0.001, "the stage-time bars are not drawn"


def test_green_report_paints_no_red(tmp_path):
    pixels = screenshot(find_browser(), green_report(tmp_path), tmp_path, "green")
    assert share_of(pixels, GREEN_CELL) > 0.01 and share_of(pixels, RED_CELL) == 0.0
    assert share_of(pixels, HATCH_RED, 30) == 0.0, "a green report draws a red bar"
    assert share_of(pixels, BAR_OK, 6) > 0.001, "the stage-time bars are not drawn"


def test_flaky_report_marks_the_stage_flaky_in_text_and_paints_no_red(tmp_path):
    page = flaky_report(tmp_path)
    grid = grid_text(page.read_text(encoding="utf-8"))
    assert '<span class="mark flaky">flaky 1</span>' in grid  # the word, not the colour alone
    assert "RED" not in grid
    pixels = screenshot(find_browser(), page, tmp_path, "flaky")
    assert share_of(pixels, RED_CELL) == 0.0 and share_of(pixels, HATCH_RED, 30) == 0.0, "flaky is not red"
    assert share_of(pixels, BAR_OK, 6) > 0.001, "the stage-time bars are not drawn"


def test_baseline_report_marks_new_known_fixed_in_the_grid(tmp_path):
    page = baseline_report(tmp_path)
    grid = grid_text(page.read_text(encoding="utf-8"))
    for word in ("NEW 1", "KNOWN 1", "FIXED 1"):
        assert f"{word}</span>" in grid, f"{word} is not in the grid"
    pixels = screenshot(find_browser(), page, tmp_path, "baseline")
    one_box(pixels, RED_CELL, most=(110, 260))  # the red stage 03 entry, nowhere else
    assert share_of(pixels, GREEN_CELL) > 0.002 and share_of(pixels, BAR_OK, 6) > 0.001
    assert share_of(pixels, HATCH_RED, 6) > 0.0002, "the red stage's hatched bar is not drawn"


DARK_OK_CELL = (0x14, 0x30, 0x18)  # td.ok under prefers-color-scheme: dark
DARK_PAGE = (0x12, 0x12, 0x12)


def test_dark_mode_paints_a_dark_page_with_the_grid_and_bars(tmp_path):
    dark = "--blink-settings=preferredColorScheme=0"  # 0: dark (Chromium 156)
    pixels = screenshot(find_browser(), green_report(tmp_path), tmp_path, "dark", dark)
    assert share_of(pixels, DARK_PAGE, 4) > 0.5, "the page is not dark"
    assert share_of(pixels, DARK_OK_CELL, 6) > 0.01
    assert share_of(pixels, GREEN_CELL) < 0.001, "the light palette on the dark page"  # text edges only
    assert share_of(pixels, BAR_OK, 6) > 0.001, "the stage-time bars are not drawn on the dark page"

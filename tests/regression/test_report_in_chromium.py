"""The HTML report really renders: headless Chromium loads it, lays out the grid, and can paint it.

Chromium is a prerequisite of the test suite (Debian: ``apt-get install chromium``; ``.ci/run`` installs
it). Without a browser this test fails with that instruction — it never skips, because a page
nobody opened is exactly what a parser-only check lets through.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from regression import chain, report
from regression.png_pixels import read_rgb, share_of
from regression.test_report import stage_entry, test_record, write_cell
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


def screenshot(browser: str, page: Path, tmp_path: Path, name: str):
    shot = tmp_path / f"{name}.png"
    painted = render(browser, page, tmp_path / f"profile-{name}", f"--screenshot={shot}", "--window-size=900,700")
    assert painted.returncode == 0, painted.stderr[-2000:]
    return read_rgb(shot)


def test_red_report_renders_in_headless_chromium_and_shows_red(tmp_path):
    page = red_and_green_report(tmp_path)
    browser = find_browser()
    dom = render(browser, page, tmp_path / "profile-dom", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert '<table id="grid">' in html and 'id="legend"' in html
    assert 'class="ok"' in html and 'class="red"' in html and 'class="skip"' in html
    assert "quantization broke module 03 layers" in html and "int8 drifted" in html  # the grouped cause
    assert "regression: 3 passed, 1 failed" in html

    pixels = screenshot(browser, page, tmp_path, "red")
    assert pixels.std() > 20, "the screenshot is blank"
    assert share_of(pixels, RED_CELL) > 0.002, "no red grid cell painted"
    assert share_of(pixels, GREEN_CELL) > 0.002, "no green grid cell painted"


def test_green_report_paints_no_red(tmp_path):
    page = green_report(tmp_path)
    pixels = screenshot(find_browser(), page, tmp_path, "green")
    assert pixels.std() > 20, "the screenshot is blank"
    assert share_of(pixels, GREEN_CELL) > 0.01 and share_of(pixels, RED_CELL) == 0.0

"""Nothing the code under test prints becomes markup or a terminal command (test_report_damaged.py: nothing it
writes breaks the report).

Each hostile value goes into every field the report shows — cell name, versions, skip reason, test id,
failure message, code location, stage problem, baseline FIXED entry, coverage table (label, file,
threshold, status) — and the outputs are compared with a benign copy's: the HTML's element tree (tags and
attribute names, parsed with ``html.parser``), the terminal's and Markdown's line structure.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regression import report
from regression.hostile_fixtures import BENIGN, HOSTILE, hostile_tree, report_of, tree
from regression.reporting.analysis import build_report
from regression.reporting.escape import md_code, md_text, visible
from regression.reporting.loading import load_cells
from regression.reporting.render import render_html, render_markdown, render_text


@pytest.fixture(scope="module")
def benign(tmp_path_factory):
    return report_of(tmp_path_factory.mktemp("benign"), BENIGN)


# ----------------------------------------------------------------------------------------- HTML
@pytest.mark.parametrize("kind", HOSTILE)
def test_html_has_the_benign_element_tree_whatever_the_values(tmp_path, benign, kind):
    value = HOSTILE[kind]
    page = render_html(report_of(tmp_path, value))
    page.encode("utf-8")  # never a lone surrogate
    assert tree(page).events == tree(render_html(benign)).events
    assert "<script" not in page.lower() and "<img" not in page.lower()


def test_html_carries_a_csp_that_forbids_script_and_has_no_script_at_all(benign):
    parsed = tree(render_html(benign))
    (csp,) = [v for tag, a, v in parsed.attrs if tag == "meta" and a == "content" and "default-src" in v]
    assert "default-src 'none'" in csp and "script-src" not in csp  # no script source is allowed
    assert not any(a.startswith("on") for _, a, _ in parsed.attrs)
    assert not any("javascript:" in (v or "") for _, _, v in parsed.attrs)
    assert all(tag != "script" for _, tag, _ in parsed.events)


def test_the_coverage_threshold_field_is_text_not_an_element(tmp_path):
    page = render_html(report_of(tmp_path, HOSTILE["img-onerror"]))
    assert "<td>&lt;img src=x onerror=alert(1)&gt;</td>" in page


@pytest.mark.parametrize("folder", ["odd name #1 ?q=x", "per%cent&amp;", "naïve"])
def test_stage_log_links_are_percent_encoded_and_open_the_log(tmp_path, folder):
    paths = hostile_tree(tmp_path / folder, BENIGN)
    page = render_html(build_report(load_cells(paths["cells"])))
    (href,) = [v for tag, a, v in tree(page).attrs if tag == "a" and a == "href" and "stage_03" in v]
    url = urllib.parse.urlparse(href)
    assert url.scheme == "file" and not url.query and not url.fragment
    assert Path(urllib.parse.unquote(url.path)) == (paths["cell"] / "logs" / "stage_03.log").resolve()


@pytest.mark.parametrize("log", ["../../../etc/passwd", "/etc/passwd", "logs/../../escape.log", "link/x.log", ""])
def test_a_log_outside_the_cell_folder_is_shown_as_text_never_linked(tmp_path, log):
    paths = hostile_tree(tmp_path, BENIGN)
    (paths["cell"] / "link").symlink_to(tmp_path)  # inside by name, outside once resolved
    data = json.loads((paths["cell"] / "stages.json").read_text())
    data["stages"] = [dict(s, log=log) for s in data["stages"]]
    (paths["cell"] / "stages.json").write_text(json.dumps(data))
    page = render_html(build_report(load_cells(paths["cells"])))
    assert [v for tag, a, v in tree(page).attrs if tag == "a" and a == "href"] == []
    assert "RED 1" in page  # the entry itself is still shown


# ----------------------------------------------------------------------------------------- terminal
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize("kind", HOSTILE)
def test_terminal_text_never_carries_a_control_character_nor_an_extra_line(tmp_path, benign, kind):
    text = render_text(report_of(tmp_path, HOSTILE[kind]), colour=False)
    assert not CONTROL.search(text), repr(CONTROL.search(text))
    text.encode("utf-8")
    assert text.count("\n") == render_text(benign).count("\n")


def test_control_characters_are_shown_escaped():
    assert visible("\x1b[2J\x07\x9b\r\n\t\u202e") == "\\x1b[2J\\x07\\x9b\\r\\n\\t\\u202e"


def test_colour_codes_are_the_only_escapes_printed(tmp_path):
    text = render_text(report_of(tmp_path, HOSTILE["clear-screen"]), colour=True)
    assert set(re.findall("\x1b\\[[0-9;]*m", text)) <= {"\x1b[31m", "\x1b[32m", "\x1b[90m", "\x1b[0m"}
    assert re.sub("\x1b\\[[0-9;]*m", "", text).count("\x1b") == 0


# ----------------------------------------------------------------------------------------- Markdown
def unescaped_pipes(line: str) -> int:
    """Cell separators of a GFM table row (cmark-gfm pairs backslashes: ``\\\\|`` is a backslash, then one)."""
    return len(re.findall(r"(?<!\\)(?:\\\\)*\|", line))


def table_shape(markdown: str) -> list[int]:
    """Per line: its separators if it is a table row (starts with ``|``), else -1; the lines' count is kept."""
    return [unescaped_pipes(line) if line.startswith("|") else -1 for line in markdown.split("\n")]


@pytest.mark.parametrize("kind", HOSTILE)
def test_markdown_rows_and_lines_keep_their_shape(tmp_path, benign, kind):
    text = render_markdown(report_of(tmp_path, HOSTILE[kind]))
    assert table_shape(text) == table_shape(render_markdown(benign))
    assert "\r" not in text and not CONTROL.search(text)


def test_markdown_headlines_and_cause_lines_escape_markdown_and_html(tmp_path):
    text = render_markdown(report_of(tmp_path, "<b>bold</b> **x** [l](u)"))
    (headline,) = [line for line in text.split("\n") if line.startswith("**stage 03")]
    assert headline.endswith("AssertionError: \\<b\\>bold\\</b\\> \\*\\*x\\*\\* \\[l\\](u)**")
    (cause,) = [line for line in text.split("\n") if line.startswith("- cause 1:")]
    assert "<b>" not in cause and "\\*\\*x\\*\\*" in cause


MD_SPECIAL = set("\\`*_[]<>|~&")


def md_unescape(text: str) -> str:
    """The text a CommonMark renderer shows for ``md_text``'s output; fails on an unescaped special."""
    out, index = [], 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in MD_SPECIAL:
            out.append(text[index + 1])
            index += 2
            continue
        assert char not in MD_SPECIAL, f"unescaped {char!r} in {text!r}"
        out.append(char)
        index += 1
    return "".join(out)


def code_span_content(span: str) -> str:
    """CommonMark: a backtick string of length n opens; the next one of exactly length n closes."""
    opening = re.match(r"`+", span).group(0)
    closing = re.compile(r"(?<!`)" + opening + r"(?!`)")
    found = closing.search(span, len(opening))
    assert found and found.end() == len(span), f"the code span of {span!r} closes early"
    body = span[len(opening) : found.start()]
    if len(body) >= 2 and body[0] == " " and body[-1] == " " and body.strip(" "):
        body = body[1:-1]
    return body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(codec=None), min_size=1, max_size=40) | st.sampled_from(list(HOSTILE.values())))
def test_md_text_and_code_spans_show_exactly_the_value(value):
    assert md_unescape(md_text(value)) == visible(value)
    assert "\n" not in md_text(value) and "\r" not in md_code(value)
    assert code_span_content(md_code(value)) == visible(value)
    in_table = md_code(value, in_table=True)
    assert unescaped_pipes(in_table) == 0
    if "\\" not in visible(value):  # else it is escaped text (a backslash would pair with the pipe's)
        assert code_span_content(in_table).replace("\\|", "|") == visible(value)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(value=st.text(alphabet=st.characters(codec=None), min_size=1, max_size=30))
def test_any_text_in_every_field_keeps_every_output_whole(tmp_path_factory, benign, value):
    built = report_of(tmp_path_factory.mktemp("h"), value)
    page, text, markdown = render_html(built), render_text(built), render_markdown(built)
    for output in (page, text, markdown, json.dumps(built.to_json())):
        output.encode("utf-8")
    assert tree(page).events == tree(render_html(benign)).events
    assert not CONTROL.search(text) and text.count("\n") == render_text(benign).count("\n")
    assert table_shape(markdown) == table_shape(render_markdown(benign))


# ----------------------------------------------------------------------------------------- in a browser
def test_a_hostile_report_in_headless_chromium_holds_no_injected_element(tmp_path):
    from regression.test_report_in_chromium import find_browser, render

    value = HOSTILE["img-onerror"] + HOSTILE["script"] + HOSTILE["close-tags"]
    paths = hostile_tree(tmp_path, value)
    out = tmp_path / "out folder #1 ?q=x"
    argv = ["--cells", str(paths["cells"]), "--out", str(out), "--coverage-json", str(paths["coverage"])]
    assert report.main(argv) == 1
    dom = render(find_browser(), out / "regression.html", tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    parsed = tree(dom.stdout)
    tags = {tag for kind, tag, _ in parsed.events if kind == "start"}
    assert "img" not in tags and "script" not in tags
    assert [tag for kind, tag, _ in parsed.events if kind == "start" and tag == "h1"] == ["h1"]  # only the title
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom.stdout

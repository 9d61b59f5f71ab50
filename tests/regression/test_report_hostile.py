"""Nothing the code under test prints becomes markup or a terminal command, and nothing it writes breaks the report.

Each hostile value goes into every field the report shows — cell name, versions, skip reason, test id,
failure message, code location, stage problem, baseline FIXED entry, coverage table (label, file,
threshold, status) — and the outputs are compared with a benign copy's: the HTML's element tree (tags and
attribute names, parsed with ``html.parser``), the terminal's and Markdown's line structure.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regression import report
from regression.analysis import build_report
from regression.conftest import REPORT, chain_env
from regression.contract import Classification
from regression.escape import LIMIT, clean, md_code, md_text, visible
from regression.loading import load_cells
from regression.render import render_html, render_markdown, render_text
from regression.schema import Report
from regression.test_report import stage_entry, test_record

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


def test_error_messages_show_control_characters_in_paths_on_one_line(tmp_path, capsys):
    stages_file = green(tmp_path / "evil\x1b[2J\nname")
    edit(stages_file, lambda d: d.update(schema=7))
    assert report.main(["--cells", str(stages_file.parents[1]), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and err.count("\n") == 1 and "evil\\x1b[2J\\nname" in err


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


# ----------------------------------------------------------------------------------------- encodings, size
def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPORT), *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=env or chain_env(),
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "utf-8"])
def test_a_lone_surrogate_and_a_limited_stdout_are_written_with_replacements(tmp_path, encoding):
    paths = hostile_tree(tmp_path, HOSTILE["lone-surrogate"] + " — ✓ " + HOSTILE["osc52-clipboard"])
    env = dict(chain_env(), PYTHONIOENCODING=encoding)
    done = run_cli("--cells", paths["cells"], "--out", tmp_path / "r", env=env)
    assert done.returncode == 1, done.stderr  # red, not a crash
    assert "Traceback" not in done.stderr and done.stderr == ""
    assert done.stdout.rstrip().endswith("regression: 2 passed, 2 failed")
    assert "\ufffd" in done.stdout or "\\ufffd" in done.stdout
    written = json.loads((tmp_path / "r" / "regression.json").read_text(encoding="utf-8"))
    assert any("bad \ufffd text" in f["reason"] for f in written["failures"])
    for name in ("regression.md", "regression.html"):
        (tmp_path / "r" / name).read_text(encoding="utf-8")


def test_a_5_mb_message_and_stderr_tail_are_cut_everywhere(tmp_path):
    huge = "x" * 5_000_000
    paths = hostile_tree(tmp_path, BENIGN)
    lines = (paths["cell"] / "records.jsonl").read_text().splitlines()
    failing = json.loads(lines[1])
    lines[1] = json.dumps(dict(failing, message="AssertionError: " + huge))
    (paths["cell"] / "records.jsonl").write_text("\n".join(lines) + "\n")
    data = json.loads((paths["cell"] / "stages.json").read_text())
    data["stages"] = [dict(s, stderr_tail=huge) for s in data["stages"]]
    (paths["cell"] / "stages.json").write_text(json.dumps(data))
    done = run_cli("--cells", paths["cells"], "--out", tmp_path / "r")
    assert done.returncode == 1, done.stderr
    assert len(done.stdout) < 50_000 and "bytes cut)" in done.stdout
    for name in ("regression.json", "regression.md", "regression.html"):
        text = (tmp_path / "r" / name).read_text()
        assert len(text) < 200_000, (name, len(text))
        if name.endswith(".json"):
            text = json.dumps(json.loads(text), ensure_ascii=False)
        assert f"… ({5_000_000 + len('AssertionError: ') - LIMIT} bytes cut)" in text, name


def test_cut_counts_bytes_and_never_splits_a_character():
    assert clean("é" * 3000, 101) == "é" * 50 + "… (5900 bytes cut)"
    assert clean("short") == "short"


# ----------------------------------------------------------------------------------------- malformed stages.json
def green(tmp_path: Path) -> Path:
    paths = hostile_tree(tmp_path, BENIGN)
    return paths["cell"] / "stages.json"


def edit(stages_file: Path, change) -> None:
    data = json.loads(stages_file.read_text())
    change(data)
    stages_file.write_text(json.dumps(data))


def stage_4(data: dict) -> dict:
    return next(s for s in data["stages"] if s["stage"] == 4)


MALFORMED = {
    "problem-not-an-object": (
        lambda d: stage_4(d).update(problems=["just a string"]),
        "problems[0] is 'just a string', not an object",
    ),
    "problem-null": (lambda d: stage_4(d).update(problems=[None]), "problems[0] is None, not an object"),
    "unknown-classification": (
        lambda d: stage_4(d)["problems"][0].update(classification="<b>made up</b>"),
        "classification is '<b>made up</b>', not one of",
    ),
    "problem-module-text": (
        lambda d: stage_4(d)["problems"][0].update(module="four"),
        "problems[0].module is 'four', not an integer",
    ),
    "stage-twice": (lambda d: d["stages"].append(dict(d["stages"][0])), "stage(s) [1] listed more than once"),
    "schema-from-the-future": (lambda d: d.update(schema=99), "schema 99 is not one this build reads (it reads 1)"),
    "schema-text": (lambda d: d.update(schema="1"), "schema '1' is not one this build reads"),
    "schema-true": (lambda d: d.update(schema=True), "schema True is not one this build reads"),
    "commit-number": (lambda d: d.update(commit=12345), "commit is 12345, not a string"),
    "log-object": (lambda d: d["stages"][0].update(log={"a": 1}), "stages[0].log is {'a': 1}, not a string"),
}


@pytest.mark.parametrize("kind", MALFORMED)
def test_malformed_stages_json_is_refused_with_exit_2_naming_the_file(tmp_path, capsys, kind):
    change, complaint = MALFORMED[kind]
    stages_file = green(tmp_path)
    edit(stages_file, change)
    assert report.main(["--cells", str(tmp_path / "cells"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(stages_file) in err and complaint in err, err
    assert not (tmp_path / "r").exists()  # bad input touches nothing


def test_a_stages_json_without_schema_is_read_as_the_current_one(tmp_path, capsys):
    stages_file = green(tmp_path)
    edit(stages_file, lambda d: d.pop("schema"))
    assert report.main(["--cells", str(tmp_path / "cells"), "--out", str(tmp_path / "r")]) == 1  # red, read


def test_a_record_with_a_mistyped_field_is_refused(tmp_path, capsys):
    paths = hostile_tree(tmp_path, BENIGN)
    records = paths["cell"] / "records.jsonl"
    records.write_text(
        records.read_text() + json.dumps(dict(test_record("c", 3, "t.py::z", "passed"), module="3")) + "\n"
    )
    assert report.main(["--cells", str(paths["cells"]), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert f"{records}: record 4 ('t.py::z'): module is '3', not an integer; not a test record" in err


def test_a_coverage_table_with_text_counts_is_refused(tmp_path, capsys):
    paths = hostile_tree(tmp_path, BENIGN)
    modules = paths["coverage"].with_name("modules.json")
    modules.write_text(json.dumps([{"label": "x", "statements": "<b>", "number": 1}]))
    argv = ["--cells", str(paths["cells"]), "--out", str(tmp_path / "r"), "--coverage-json", str(paths["coverage"])]
    assert report.main(argv) == 2
    assert f"{modules}: row 0: 'statements' is '<b>', not a count" in capsys.readouterr().err


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


# ----------------------------------------------------------------------------------------- any damage: no traceback
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
HEADER_KEYS = ["cell", "schema", "skipped", "skip_reason", "python", "numpy", "started", "commit", "seconds",
               "records_file", "stages", "root"]  # fmt: skip
STAGE_KEYS = ["stage", "key", "collected", "passed", "failed", "errors", "red", "problems", "seconds", "log",
              "exit_code", "stderr_tail"]  # fmt: skip
PROBLEM_KEYS = ["classification", "module", "test_id", "message"]
COVERAGE_JSON_KEYS = ["totals", "files", "summary", "num_statements", "covered_lines", "percent_covered"]
BASELINE_KEYS = ["stage", "test_id", "variant", "failures", "cells"]
COVERAGE_KEYS = ["label", "files", "threshold", "status", "number", "statements", "covered_lines", "branches",
                 "covered_branches"]  # fmt: skip
RECORD_KEYS = ["kind", "stage", "module", "file", "test_id", "variant", "twin_id", "pairing", "outcome", "message",
               "origin", "guard_violations", "model"]  # fmt: skip


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    where=st.sampled_from(["header", "stage", "problem", "record", "baseline", "coverage row", "coverage json"]),
    key=st.sampled_from(
        sorted(
            set(
                HEADER_KEYS
                + STAGE_KEYS
                + PROBLEM_KEYS
                + RECORD_KEYS
                + BASELINE_KEYS
                + COVERAGE_KEYS
                + COVERAGE_JSON_KEYS
            )
        )
    ),
    value=JSON_VALUES,
)
def test_any_field_set_to_any_json_value_exits_0_1_or_2_never_a_traceback(tmp_path_factory, where, key, value):
    root = tmp_path_factory.mktemp("fuzz")
    paths = hostile_tree(root, BENIGN)
    stages_file, records_file = paths["cell"] / "stages.json", paths["cell"] / "records.jsonl"
    data = json.loads(stages_file.read_text())
    if where == "header":
        data[key] = value
    elif where == "stage":
        data["stages"][2][key] = value
    elif where == "problem":
        stage_4(data)["problems"][0][key] = value
    elif where == "baseline":
        baseline = json.loads(paths["baseline"].read_text())
        (baseline if key in ("failures", "cells") else baseline["failures"][0])[key] = value
        paths["baseline"].write_text(json.dumps(baseline))
    elif where == "coverage row":
        modules = paths["coverage"].with_name("modules.json")
        rows = json.loads(modules.read_text())
        rows[0][key] = value
        modules.write_text(json.dumps(rows))
    elif where == "coverage json":
        coverage = {"files": {"tinytorch/core/tensor.py": {"summary": {"num_statements": 3, "covered_lines": 2}}}}
        coverage["totals"] = {"percent_covered": 50.0}
        if key in ("totals", "files"):
            coverage[key] = value
        elif key == "summary":
            coverage["files"]["tinytorch/core/tensor.py"]["summary"] = value
        else:
            coverage["files"]["tinytorch/core/tensor.py"]["summary"][key] = value
        paths["coverage"].write_text(json.dumps(coverage))
        paths["coverage"].with_name("modules.json").unlink()  # the table is then computed from this file
    else:
        lines = records_file.read_text().splitlines()
        record = json.loads(lines[1])
        record[key] = value
        lines[1] = json.dumps(record)
        records_file.write_text("\n".join(lines) + "\n")
    stages_file.write_text(json.dumps(data))
    out = root / "out"
    with pytest.MonkeyPatch.context() as patch:
        errors = []
        patch.setattr(sys, "stderr", _Collect(errors))
        patch.setattr(sys, "stdout", _Collect([]))
        extra = ["--baseline", str(paths["baseline"]), "--coverage-json", str(paths["coverage"])]
        status = report.main(["--cells", str(paths["cells"]), "--out", str(out), *extra])
    assert status in (0, 1, 2)
    if status == 2:
        text = "".join(errors)
        assert text.count("\n") == 1 and text.startswith("report.py: "), text
    else:
        json.loads((out / "regression.json").read_text())


class _Collect:
    encoding = "utf-8"

    def __init__(self, into: list):
        self.into = into

    def write(self, text):
        self.into.append(text)

    def flush(self):
        pass

    def isatty(self):
        return False

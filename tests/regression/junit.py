"""JUnit XML of the chain's results (stdlib only): what CI test-report tools read.

Per cell ``reports/cells/<cell>/junit.xml`` and for all cells ``reports/regression.junit.xml``, both a
``<testsuites>`` of one ``<testsuite name="<cell>@stage<KK>">`` per stage (KK is the stage's key: ``09``,
or ``12-m12`` for a module-only run). Valid against ``data/junit-10.xsd`` (the schema pytest's own tests
use). One ``<testcase>`` per record:

* ``classname`` is the test file as a dotted path (and the test class, if any), ``name`` the test with
  its parameters — the zoo model and variant, ``test_x[mlp-int8]``; a variant the id does not spell
  is added: ``test_x[0] (mlp-int8)``;
* ``failed`` -> ``<failure>``; ``error`` (setup/teardown), ``collect_error`` and a stage problem (an
  incomplete stage, a folder that collects nothing: a ``<stage KK>`` testcase) -> ``<error>``; both with
  the classification as ``type``, the record's one-line message as ``message`` and, as text, the cause
  it belongs to (causes.py), its code location and why it was classified so;
* ``skipped`` -> ``<skipped>``, ``xfailed`` -> ``<skipped type="pytest.xfail">`` (as pytest writes it);
* ``passed``/``xpassed`` -> a plain testcase; ``flaky`` (passed after failing) -> a passing testcase with
  a ``<flakyFailure>`` and a ``<system-out>`` note: it is not a failure, but it is said.

Counts match the report's (``counts`` of regression.json): passing testcases = ``passed``, failures +
errors = ``failed``, skipped = ``skipped`` + ``xfailed``. Text is hostile input (test ids and messages
come from any code): characters XML 1.0 cannot hold are written as ``\\xNN`` / ``\\uNNNN``.
"""

from __future__ import annotations

import functools
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from regression.common import FLAKY, write_text_atomic
from regression.contract import FAIL_OUTCOMES, PASS_OUTCOMES

CELL_FILE = "junit.xml"
COMBINED_FILE = "regression.junit.xml"

_XFAIL_TYPE = "pytest.xfail"

# XML 1.0: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]; the rest cannot be written.
_ILLEGAL = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _visible(match: re.Match) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def xml_text(value) -> str:
    """``value`` as text XML 1.0 can hold: control characters, lone surrogates, U+FFFE/FFFF spelled out."""
    return _ILLEGAL.sub(_visible, "" if value is None else str(value))


def seconds(value) -> str:
    """JUnit's time (``SUREFIRE_TIME``: digits, at most 3 decimals); a missing, negative or NaN value is 0."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "0.000"
    return f"{number:.3f}" if math.isfinite(number) and number > 0 else "0.000"


def _element(tag: str, parent: ET.Element | None = None, text=None, **attributes) -> ET.Element:
    clean = {key.rstrip("_"): xml_text(value) for key, value in attributes.items() if value is not None}
    node = ET.Element(tag, clean) if parent is None else ET.SubElement(parent, tag, clean)
    if text is not None:
        node.text = xml_text(text)
    return node


@functools.lru_cache(maxsize=1 << 16)  # the same ids come back at every stage of every cell
def split_test_id(test_id: str, variant: str | None = None, model: str | None = None) -> tuple[str, str]:
    """(classname, name) of a pytest node id: ``tests/modules/03_layers/test_x.py::TestY::test_z[mlp-int8]``
    -> ``("tests.modules.03_layers.test_x.TestY", "test_z[mlp-int8]")``. A collection error's id is the file:
    the classname is its folder, the name the file."""
    parts = test_id.split("::")
    path = parts[0].replace("\\", "/")
    dotted = re.sub(r"\.py$", "", path).strip("/").replace("/", ".")
    if len(parts) == 1:
        folder, _, file = dotted.rpartition(".") if path.endswith(".py") else (dotted, "", dotted)
        return folder or file, path.rsplit("/", 1)[-1] or test_id
    classname = ".".join([dotted, *parts[1:-1]])
    name = parts[-1]
    if variant and variant != "none":
        params = name[name.find("[") :] if "[" in name else ""
        if not re.search(rf"(?<![A-Za-z0-9]){re.escape(variant)}(?![A-Za-z0-9])", params):
            name += f" ({model}-{variant})" if model else f" ({variant})"
    return classname, name


def _detail(failure: dict | None, causes: dict) -> str:
    if failure is None:
        return ""
    lines = [f"classification: {failure.get('classification')} ({failure.get('why')})"]
    cause = causes.get(failure.get("cause"))
    if cause is not None:
        lines.append(f"cause {cause['id']}: {cause['message']} — {cause['tests']} test(s); {cause.get('hits', '')}")
    if failure.get("origin"):
        lines.append(f"at {failure['origin']}")
    lines.append(f"module {failure.get('module_label')}, stage {failure.get('stage')}")
    return "\n".join(lines)


def _testcase(suite: ET.Element, record: dict, failure: dict | None, causes: dict) -> str:
    """One testcase under ``suite``; returns its counter: passed | failures | errors | skipped."""
    classname, name = split_test_id(record["test_id"], record.get("variant"), record.get("model"))
    case = _element("testcase", suite, classname=classname, name=name, time=seconds(record.get("seconds")))
    outcome = record.get("outcome")
    message = record.get("message") or ""
    kind = (failure or {}).get("classification") or "failure"
    if outcome == "failed":
        _element("failure", case, _detail(failure, causes), type=kind, message=message)
        return "failures"
    if outcome in FAIL_OUTCOMES or outcome == "problem":
        _element("error", case, _detail(failure, causes), type=kind, message=message)
        return "errors"
    if outcome == "skipped":
        _element("skipped", case, type="pytest.skip", message=message)
        return "skipped"
    if outcome == "xfailed":
        _element("skipped", case, type=_XFAIL_TYPE, message=message or "expected failure")
        return "skipped"
    if outcome == FLAKY:
        _element("flakyFailure", case, type="flaky", message=message or "failed, then passed on a rerun")
        _element("system-out", case, f"flaky: passed after failing{': ' + message if message else ''}")
        return "passed"
    if outcome not in PASS_OUTCOMES:  # an outcome this writer does not know is not called a pass
        _element("error", case, f"unknown outcome {outcome!r}", type="unknown outcome", message=str(outcome))
        return "errors"
    return "passed"


def _properties(suite: ET.Element, values: dict) -> None:
    present = {k: v for k, v in values.items() if v is not None}
    if present:
        props = _element("properties", suite)
        for key, value in present.items():
            _element("property", props, name=key, value=value if not isinstance(value, bool) else str(value).lower())


def cell_suites(cell: dict, summary: dict, failures: list[dict]) -> list[ET.Element]:
    """One ``<testsuite>`` per stage of a loaded cell (loading.py), from its records and stage problems;
    ``summary``/``failures`` are the cell's summary and failures in the report dict (classification, cause)."""
    name = cell["cell"]
    causes = {c["id"]: c for c in summary.get("causes", [])}
    classified: dict[tuple, list[dict]] = {}
    for failure in failures:
        classified.setdefault((failure["stage"], failure["test_id"], failure["outcome"]), []).append(failure)
    by_stage: dict[int, list[dict]] = {}
    for record in cell.get("records", []):
        if record.get("kind") in ("test", "collect_error"):
            by_stage.setdefault(record["stage"], []).append(record)
    suites = []
    if cell.get("skipped"):
        suite = _element("testsuite", name=f"{name}@skipped", tests=0, failures=0, errors=0, skipped=0, time="0.000")
        _properties(suite, {"cell": name, "skipped": True, "skip_reason": cell.get("skip_reason")})
        _element("system-out", suite, f"cell skipped: {cell.get('skip_reason')}")
        return [suite]
    for stage in cell.get("stages", []):
        number = stage["stage"]
        key = stage.get("key") or f"{number:02d}"
        suite = _element(
            "testsuite", name=f"{name}@stage{key}", timestamp=cell.get("started"), time=seconds(stage.get("seconds"))
        )
        _properties(
            suite,
            {
                "cell": name,
                "stage": number,
                "python": cell.get("python"),
                "numpy": cell.get("numpy"),
                "commit": cell.get("commit"),
                "red": stage.get("red"),
                "reused": stage.get("reused"),
                "cancelled": stage.get("cancelled"),
                "log": stage.get("log"),
            },
        )
        counts = {"passed": 0, "failures": 0, "errors": 0, "skipped": 0}
        entries = list(by_stage.get(number, []))
        entries += [dict(p, outcome="problem", stage=number) for p in stage.get("problems", [])]
        for record in entries:
            queue = classified.get((number, record["test_id"], record.get("outcome")))
            failure = queue.pop(0) if queue else None
            counts[_testcase(suite, record, failure, causes)] += 1
        suite.set("tests", str(sum(counts.values())))
        for counter in ("failures", "errors", "skipped"):
            suite.set(counter, str(counts[counter]))
        suites.append(suite)
    return suites


def _totals(suites: list[ET.Element]) -> dict:
    totals = {"tests": 0, "failures": 0, "errors": 0}
    time = 0.0
    for suite in suites:
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
        time += float(suite.get("time", "0"))
    return dict(totals, time=seconds(time))


def testsuites(suites: list[ET.Element], name: str) -> ET.Element:
    """``<testsuites>`` over ``suites`` with their counts and time added up."""
    root = _element("testsuites", name=name, **_totals(suites))
    root.extend(suites)
    return root


def to_text(root: ET.Element) -> str:
    ET.indent(root)
    return _DECLARATION + ET.tostring(root, encoding="unicode") + "\n"


_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def _suite_text(suite: ET.Element) -> str:
    ET.indent(suite, level=1)
    return "  " + ET.tostring(suite, encoding="unicode")


def _wrap(suites: list[ET.Element], texts: list[str], name: str) -> str:
    """A ``<testsuites>`` document from suites serialized once (``texts``): the combined file reuses them."""
    head = ET.tostring(_element("testsuites", name=name, **_totals(suites)), encoding="unicode")
    if not texts:
        return _DECLARATION + head + "\n"
    return _DECLARATION + head.replace(" />", ">", 1) + "\n" + "\n".join(texts) + "\n</testsuites>\n"


def render_junit(report: dict, cells: list[dict]) -> tuple[dict[str, str], str]:
    """({cell name: that cell's junit.xml text}, the combined text) for the loaded ``cells`` of ``report``."""
    summaries = {c["cell"]: c for c in report["cells"]}
    failures: dict[str, list[dict]] = {}
    for failure in report["failures"]:
        failures.setdefault(failure["cell"], []).append(failure)
    per_cell, every, every_text = {}, [], []
    for cell in cells:
        name = cell["cell"]
        suites = cell_suites(cell, summaries.get(name, {}), failures.get(name, []))
        texts = [_suite_text(suite) for suite in suites]
        per_cell[name] = _wrap(suites, texts, name)
        every += [ET.Element("testsuite", suite.attrib) for suite in suites]  # the counts, not the testcases
        every_text += texts
    return per_cell, _wrap(every, every_text, "tinytorch regression")


def write_junit(out: Path, report: dict, cells: list[dict]) -> None:
    """Each cell's ``junit.xml`` beside its ``stages.json`` and ``OUT/regression.junit.xml``, atomically."""
    per_cell, combined = render_junit(report, cells)
    for cell in cells:
        if cell.get("dir"):
            write_text_atomic(Path(cell["dir"]) / CELL_FILE, per_cell[cell["cell"]])
    write_text_atomic(Path(out) / COMBINED_FILE, combined)

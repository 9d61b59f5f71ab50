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
from dataclasses import dataclass
from pathlib import Path

from regression.common import write_text_atomic
from regression.contract import FAIL_OUTCOMES, PASS_OUTCOMES, Outcome, Variant
from regression.reporting.failures import PROBLEM
from regression.reporting.loading import LoadedCell
from regression.schema import Cause, Failure, Problem, Report, TestRecord

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
    if variant and variant != Variant.NONE:
        params = name[name.find("[") :] if "[" in name else ""
        if not re.search(rf"(?<![A-Za-z0-9]){re.escape(variant)}(?![A-Za-z0-9])", params):
            name += f" ({model}-{variant})" if model else f" ({variant})"
    return classname, name


def _detail(failure: Failure | None, causes: dict[int, Cause]) -> str:
    if failure is None:
        return ""
    lines = [f"classification: {failure.classification} ({failure.why})"]
    cause = causes.get(failure.cause)
    if cause is not None:
        lines.append(f"cause {cause.id}: {cause.message} — {cause.tests} test(s); {cause.hits}")
    if failure.origin:
        lines.append(f"at {failure.origin}")
    lines.append(f"module {failure.module_label}, stage {failure.stage}")
    return "\n".join(lines)


@dataclass(frozen=True)
class _Case:
    """What one testcase shows: a record's, or a stage problem's (outcome ``PROBLEM``)."""

    test_id: str
    outcome: str
    message: str
    variant: str | None = None
    model: str | None = None
    seconds: float | None = None

    @classmethod
    def of_record(cls, record: TestRecord) -> _Case:
        return cls(record.test_id, record.outcome, record.message, record.variant, record.model, record.seconds)

    @classmethod
    def of_problem(cls, problem: Problem) -> _Case:
        return cls(problem.test_id, PROBLEM, problem.message)


def _testcase(suite: ET.Element, entry: _Case, failure: Failure | None, causes: dict[int, Cause]) -> str:
    """One testcase under ``suite``; returns its counter: passed | failures | errors | skipped."""
    classname, name = split_test_id(entry.test_id, entry.variant, entry.model)
    case = _element("testcase", suite, classname=classname, name=name, time=seconds(entry.seconds))
    outcome, message = entry.outcome, entry.message or ""
    kind = (failure.classification if failure is not None else None) or "failure"
    if outcome == Outcome.FAILED:
        _element("failure", case, _detail(failure, causes), type=kind, message=message)
        return "failures"
    if outcome in FAIL_OUTCOMES or outcome == PROBLEM:
        _element("error", case, _detail(failure, causes), type=kind, message=message)
        return "errors"
    if outcome == Outcome.SKIPPED:
        _element("skipped", case, type="pytest.skip", message=message)
        return "skipped"
    if outcome == Outcome.XFAILED:
        _element("skipped", case, type=_XFAIL_TYPE, message=message or "expected failure")
        return "skipped"
    if outcome == Outcome.FLAKY:
        _element("flakyFailure", case, type=Outcome.FLAKY, message=message or "failed, then passed on a rerun")
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


def _skipped_suite(cell: LoadedCell) -> ET.Element:
    run = cell.run
    suite = _element("testsuite", name=f"{run.cell}@skipped", tests=0, failures=0, errors=0, skipped=0, time="0.000")
    _properties(suite, {"cell": run.cell, "skipped": True, "skip_reason": run.skip_reason})
    _element("system-out", suite, f"cell skipped: {run.skip_reason}")
    return suite


def cell_suites(cell: LoadedCell, causes: list[Cause], failures: list[Failure]) -> list[ET.Element]:
    """One ``<testsuite>`` per stage of a loaded cell (loading.py), from its records and stage problems;
    ``causes``/``failures`` are the cell's in the report (classification, cause)."""
    if cell.run.skipped:
        return [_skipped_suite(cell)]
    run, by_id = cell.run, {c.id: c for c in causes}
    classified: dict[tuple, list[Failure]] = {}
    for failure in failures:
        classified.setdefault((failure.stage, failure.test_id, failure.outcome), []).append(failure)
    by_stage: dict[int, list[_Case]] = {}
    for record in cell.records:
        by_stage.setdefault(record.stage, []).append(_Case.of_record(record))
    suites = []
    for stage in run.stages:
        number = stage.stage
        key = stage.key or f"{number:02d}"
        suite = _element("testsuite", name=f"{run.cell}@stage{key}", timestamp=run.started, time=seconds(stage.seconds))
        _properties(
            suite,
            {
                "cell": run.cell,
                "stage": number,
                "python": run.python,
                "numpy": run.numpy,
                "commit": run.commit,
                "red": stage.red,
                "reused": None if stage.reused is None else stage.reused.to_json(),  # as stages.json holds it
                "cancelled": stage.cancelled,
                "log": stage.log,
            },
        )
        counts = {"passed": 0, "failures": 0, "errors": 0, "skipped": 0}
        entries = by_stage.get(number, []) + [_Case.of_problem(p) for p in stage.problems]
        for entry in entries:
            queue = classified.get((number, entry.test_id, entry.outcome))
            failure = queue.pop(0) if queue else None
            counts[_testcase(suite, entry, failure, by_id)] += 1
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


def render_junit(report: Report, cells: list[LoadedCell]) -> tuple[dict[str, str], str]:
    """({cell name: that cell's junit.xml text}, the combined text) for the loaded ``cells`` of ``report``."""
    causes = {c.cell: c.causes for c in report.cells}
    failures: dict[str, list[Failure]] = {}
    for failure in report.failures:
        failures.setdefault(failure.cell, []).append(failure)
    per_cell, every, every_text = {}, [], []
    for cell in cells:
        suites = cell_suites(cell, causes.get(cell.name, []), failures.get(cell.name, []))
        texts = [_suite_text(suite) for suite in suites]
        per_cell[cell.name] = _wrap(suites, texts, cell.name)
        every += [ET.Element("testsuite", suite.attrib) for suite in suites]  # the counts, not the testcases
        every_text += texts
    return per_cell, _wrap(every, every_text, "tinytorch regression")


def write_junit(out: Path, report: Report, cells: list[LoadedCell]) -> None:
    """Each cell's ``junit.xml`` beside its ``stages.json`` and ``OUT/regression.junit.xml``, atomically."""
    per_cell, combined = render_junit(report, cells)
    for cell in cells:
        if cell.dir:
            write_text_atomic(Path(cell.dir) / CELL_FILE, per_cell[cell.name])
    write_text_atomic(Path(out) / COMBINED_FILE, combined)

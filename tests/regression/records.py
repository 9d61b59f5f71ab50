"""Per-test records (pytest plugin, ``-p regression.records``): one JSON line per test outcome.

Active when a records file is given (``--regression-records PATH`` or ``TINYTORCH_RECORDS``). Appends:

* ``kind: "test"`` — one per test, phases folded into one outcome: passed · failed · error (setup or
  teardown failed) · skipped · xfailed · xpassed; with cell, stage, module (NN of ``tests/modules/NN_*``),
  file, test id (node id), variant (fp32 | int8 | none, from the ``zoo_model`` parameter), model, the
  other variant's test id (``twin_id``), a one-line message (exception type + first line), seconds and
  the import-guard violations that happened during the test;
* ``kind: "collect_error"`` — one per file or folder that failed to collect (outcome ``collect_error``);
* ``kind: "session"`` — once at the end: collected count (total and per module), exit status,
  versions, every guard violation, wall seconds.

The report reads only these lines (plus the chain's ``stages.json``).
"""

from __future__ import annotations

import inspect
import json
import os
import platform
import re
import sys
import time
from collections import Counter

import pytest

from regression.common import (
    ENV_CELL,
    ENV_RECORDS,
    ENV_STAGE,
    FP32,
    INT8_ONLY,
    NO_VARIANT,
    PAIRED,
    VARIANTS,
    exception_line,
    file_of,
    first_line,
    module_of,
    twin_of,
    violation_text,
    zoo_param,
)
from regression.guard import active_guard  # None unless the guard plugin is active in this run

_EXC_LINE = re.compile(r"^(?:[A-Za-z_][\w]*\.)*([A-Za-z_]\w*(?:Error|Exception|Exit|Failed|Interrupt|Warning))\b(.*)$")


def pytest_addoption(parser):
    group = parser.getgroup("tinytorch regression records")
    group.addoption("--regression-records", default=None, help=f"JSON-lines file to append to (env {ENV_RECORDS})")
    group.addoption("--regression-cell", default=None, help=f"cell name written into each record (env {ENV_CELL})")


def pytest_configure(config):
    path = config.getoption("--regression-records") or os.environ.get(ENV_RECORDS)
    if path and not config.pluginmanager.has_plugin("tinytorch-records"):
        cell = config.getoption("--regression-cell") or os.environ.get(ENV_CELL) or "local"
        raw_stage = os.environ.get(ENV_STAGE, "").strip()
        stage = int(raw_stage) if raw_stage.isdigit() else None
        config.pluginmanager.register(RecordsPlugin(config, path, cell, stage), "tinytorch-records")


def collect_message(text: str) -> str:
    """The exception line of a collection error's text (pytest hides the original exception)."""
    lines = [line[1:].strip() for line in str(text).splitlines() if line.startswith("E ")]
    for line in reversed(lines):
        match = _EXC_LINE.match(line)
        if match:
            return first_line(match.group(1) + match.group(2))
    return first_line(lines[-1] if lines else text) or "collection failed"


def _zoo_meta(item) -> tuple[str | None, str]:
    """(model, variant) from the zoo fixture's parameter, falling back to the id text."""
    callspec = getattr(item, "callspec", None)
    param = callspec.params.get("zoo_model") if callspec is not None else None
    if isinstance(param, tuple) and len(param) == 2 and param[1] in VARIANTS:
        return getattr(param[0], "name", None), param[1]
    return zoo_param(item.nodeid)


def pairing_of(item, variant: str) -> str:
    """Why the test has, or lacks, an fp32 twin: ``int8-only`` by design (``@pytest.mark.int8_only``, a
    zoo marker whose variants leave fp32 out, or — read off the code, no marker needed — a test without a
    zoo variant that creates or runs module-16 objects: ``runs_quantization``), ``paired`` (a zoo variant
    with its twin), ``no-variant``."""
    if item.get_closest_marker("int8_only") is not None:
        return INT8_ONLY
    zoo = item.get_closest_marker("zoo")
    variants = zoo.kwargs.get("variants") if zoo is not None else None
    if variant != "none" and variants is not None and FP32 not in variants:
        return INT8_ONLY
    if variant == "none" and runs_quantization(item):
        return INT8_ONLY
    return PAIRED if variant != "none" else NO_VARIANT


QUANTIZATION_PACKAGE = "tinytorch.optimization"  # module 16 and its helper files


def _is_quantization(value) -> bool:
    name = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None)
    if not isinstance(name, str):
        name = getattr(type(value), "__module__", None)
    return isinstance(name, str) and (name == QUANTIZATION_PACKAGE or name.startswith(QUANTIZATION_PACKAGE + "."))


def _code_uses_quantization(code, namespace: dict, seen: set) -> bool:
    """Does ``code`` (or a function, lambda or comprehension inside it, or a helper function of the same
    module it calls) import ``tinytorch.optimization`` or name one of its objects?"""
    if code in seen:
        return False
    seen.add(code)
    names = code.co_names
    if any(n == QUANTIZATION_PACKAGE or n.startswith(QUANTIZATION_PACKAGE + ".") for n in names):
        return True  # import tinytorch.optimization.x / from tinytorch.optimization import y, anywhere in it
    if "optimization" in names and "tinytorch" in names:
        return True  # tinytorch.optimization.<...> reached by attribute
    for name in names:
        value = namespace.get(name)
        if value is None:
            continue
        if _is_quantization(value):
            return True
        func = inspect.unwrap(value) if inspect.isfunction(value) else None
        if func is not None and getattr(func, "__globals__", None) is namespace:  # a helper of this file
            if _code_uses_quantization(func.__code__, namespace, seen):
                return True
    return any(inspect.iscode(c) and _code_uses_quantization(c, namespace, seen) for c in code.co_consts)


def _cell(cell):
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


def runs_quantization(item) -> bool:
    """Does the test create or run module-16 objects? Read statically, once per test at collection, from
    the test function, its parameters and the fixtures it requests (each fixture's own file): what they
    import from or name of ``tinytorch.optimization``, following the helper functions of their file.

    Static on purpose: a per-test runtime probe would either trace calls (``sys.setprofile`` or coverage
    contexts on every test: far from free), or patch constructors (which the registry watch forbids),
    or read first imports (module 16 loads once per process, so only the first such test would be seen,
    and which one depends on the order). The zoo fixture is left out: its int8 variants are paired twins.
    """
    function = getattr(item, "function", None)
    code = getattr(inspect.unwrap(function), "__code__", None) if function is not None else None
    if code is None:
        return False
    callspec = getattr(item, "callspec", None)
    if callspec is not None and any(_is_quantization(v) for v in callspec.params.values() if v is not None):
        return True
    seen: set = set()
    function = inspect.unwrap(function)
    if any(_is_quantization(_cell(c)) for c in function.__closure__ or ()):
        return True
    if _code_uses_quantization(code, function.__globals__, seen):
        return True
    info = getattr(item, "_fixtureinfo", None)
    for name, definitions in (getattr(info, "name2fixturedefs", None) or {}).items():
        if name == "zoo_model":
            continue
        for definition in definitions:
            fixture = inspect.unwrap(getattr(definition, "func", None) or (lambda: None))
            fixture_code = getattr(fixture, "__code__", None)
            globals_ = getattr(fixture, "__globals__", None)
            if fixture_code is not None and globals_ is not None:
                if _code_uses_quantization(fixture_code, globals_, seen):
                    return True
    return False


def _package_dir() -> str | None:
    """The folder of the tinytorch package that is running (a checkout may itself be named tinytorch)."""
    package = sys.modules.get("tinytorch")
    file = getattr(package, "__file__", None)
    return os.path.dirname(os.path.abspath(file)) + os.sep if file else None


def origin_of(excinfo, rootdir: str) -> str | None:
    """Where a failure came from: the innermost frame in the tinytorch package, else the innermost frame
    under the test root (``path:line in function``) — the code location a cause is grouped by."""
    if excinfo is None:
        return None
    try:
        entries = [(os.path.abspath(str(e.path)), e) for e in excinfo.traceback]
    except Exception:  # a traceback pytest cannot walk: the cause is grouped by its message alone
        return None
    package = _package_dir()
    root = os.path.abspath(rootdir) + os.sep
    inside = [(p, e) for p, e in entries if package and p.startswith(package)]
    base = os.path.dirname(package.rstrip(os.sep)) + os.sep if inside else root
    own = [(p, e) for p, e in entries if p.startswith(root) and "site-packages" not in p]  # not pytest's
    chosen = (inside or own or [None])[-1]
    if chosen is None:
        return None
    path, entry = chosen
    return f"{os.path.relpath(path, base).replace(os.sep, '/')}:{entry.lineno + 1} in {entry.name}"


def _fold(phases: dict) -> tuple[str, str]:
    """(outcome, phase that decided it) from the setup/call/teardown reports of one test."""
    setup, call, teardown = phases.get("setup"), phases.get("call"), phases.get("teardown")
    if setup is not None and setup.failed:
        return "error", "setup"
    if setup is not None and setup.skipped:
        return ("xfailed" if hasattr(setup, "wasxfail") else "skipped"), "setup"
    outcome, when = "passed", "call"
    if call is not None:
        if call.failed:
            outcome = "failed"
        elif call.skipped:
            outcome = "xfailed" if hasattr(call, "wasxfail") else "skipped"
        elif hasattr(call, "wasxfail"):
            outcome = "xpassed"
    if teardown is not None and teardown.failed and outcome in ("passed", "xpassed", "skipped", "xfailed"):
        return "error", "teardown"
    return outcome, when


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


class RecordsPlugin:
    def __init__(self, config, path: str, cell: str, stage: int | None):
        self.config = config
        self.cell, self.stage = cell, stage
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in sessionfinish
        self.started = time.perf_counter()
        self.collected = 0
        self.per_module: Counter = Counter()
        self.phases: dict[str, dict] = {}
        self.messages: dict[tuple[str, str], str] = {}
        self.counts: Counter = Counter()
        self.meta: dict[str, tuple[str | None, str]] = {}
        self.pairing: dict[str, str] = {}
        self.origins: dict[tuple[str, str], str | None] = {}

    def _write(self, record: dict) -> None:
        record = {"cell": self.cell, "stage": self.stage, **record}
        self.handle.write(json.dumps(record, sort_keys=True) + "\n")
        self.handle.flush()  # a killed stage keeps what it wrote

    # -- collection ----------------------------------------------------------------------------
    def pytest_collection_finish(self, session):
        self.collected = len(session.items)
        self.per_module = Counter(f"{module_of(item.nodeid) or 0:02d}" for item in session.items)
        self.meta = {item.nodeid: _zoo_meta(item) for item in session.items}
        self.pairing = {item.nodeid: pairing_of(item, self.meta[item.nodeid][1]) for item in session.items}

    def pytest_collectreport(self, report):
        if not report.failed:
            return
        self.counts["collect_error"] += 1
        self._write(
            {
                "kind": "collect_error",
                "module": module_of(report.nodeid + "/"),
                "file": file_of(report.nodeid),
                "test_id": report.nodeid,
                "variant": "none",
                "model": None,
                "twin_id": None,
                "pairing": NO_VARIANT,
                "outcome": "collect_error",
                "when": "collect",
                "message": collect_message(str(report.longrepr)),
                "seconds": round(getattr(report, "duration", 0.0) or 0.0, 4),
                "guard_violations": self._guard_during(report.nodeid, "collect"),
            }
        )

    # -- tests ---------------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if call.excinfo is not None:
            self.messages[(item.nodeid, call.when)] = exception_line(call.excinfo.value)
            self.origins[(item.nodeid, call.when)] = origin_of(call.excinfo, str(item.config.rootpath))
        return report

    def pytest_runtest_logreport(self, report):
        self.phases.setdefault(report.nodeid, {})[report.when] = report

    def pytest_runtest_logfinish(self, nodeid, location):
        phases = self.phases.pop(nodeid, {})
        outcome, when = _fold(phases)
        deciding = phases.get(when)
        violations = [v for r in phases.values() for v in getattr(r, "tinytorch_guard", [])]
        model, variant = self.meta.get(nodeid) or zoo_param(nodeid)
        self.counts[outcome] += 1
        self._write(
            {
                "kind": "test",
                "module": module_of(nodeid),
                "file": file_of(nodeid),
                "test_id": nodeid,
                "variant": variant,
                "model": model,
                "twin_id": twin_of(nodeid) if model else None,
                "pairing": self.pairing.get(nodeid) or (PAIRED if variant != "none" else NO_VARIANT),
                "outcome": outcome,
                "when": when,
                "message": self._message(nodeid, when, deciding, violations, outcome),
                "origin": None if outcome == "passed" else self.origins.get((nodeid, when)),
                "seconds": round(sum(r.duration for r in phases.values()), 4),
                "guard_violations": violations,
            }
        )
        for key in [k for k in self.messages if k[0] == nodeid]:
            del self.messages[key]
            self.origins.pop(key, None)

    def _message(self, nodeid, when, report, violations, outcome) -> str:
        if outcome in ("passed",):
            return ""
        message = self.messages.get((nodeid, when))
        if violations and (message is None or "import guard" not in message):
            kind, text = violation_text(violations[0]).split(": ", 1)
            swallowed = " (swallowed by the test)" if violations[0].get("kind") != "patch" else ""
            return f"{kind}{swallowed}: {text}"
        if message:
            return message
        if report is None:
            return ""
        if hasattr(report, "wasxfail") and report.wasxfail:
            return f"xfail: {report.wasxfail}"
        longrepr = report.longrepr
        if isinstance(longrepr, tuple) and len(longrepr) == 3:  # skip: (path, line, "Skipped: reason")
            return first_line(longrepr[2])
        return first_line(str(longrepr)) if longrepr else ""

    def _guard_during(self, nodeid: str, when: str) -> list[dict]:
        guard = active_guard(self.config)
        return [v.to_dict() for v in guard.during(nodeid, when)] if guard else []

    # -- end -----------------------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        guard = active_guard(self.config)
        numpy = sys.modules.get("numpy")
        tinytorch = sys.modules.get("tinytorch")
        self._write(
            {
                "kind": "session",
                "collected": self.collected,
                "collected_per_module": dict(sorted(self.per_module.items())),
                "outcomes": dict(self.counts),
                "exitstatus": int(session.exitstatus),
                "python": platform.python_version(),
                "numpy": getattr(numpy, "__version__", None) or _version("numpy"),
                "pytest": pytest.__version__,
                "tinytorch_file": getattr(tinytorch, "__file__", None),
                "guard_violations": [v.to_dict() for v in guard.violations] if guard else [],
                "seconds": round(time.perf_counter() - self.started, 3),
            }
        )
        self.handle.close()

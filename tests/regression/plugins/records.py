"""Per-test records (pytest plugin, ``-p regression.plugins.records``): one JSON line per test outcome.

Active when a records file is given (``--regression-records PATH`` or ``TINYTORCH_RECORDS``). Appends:

* ``kind: "test"`` — one per test, phases folded into one outcome: passed · failed · error (setup or
  teardown failed) · skipped · xfailed · xpassed; with cell, stage, module (NN of ``tests/modules/NN_*``),
  file, test id (node id), variant (fp32 | int8 | none, from the ``zoo_model`` parameter), model, the
  other variant's test id (``twin_id``), a one-line message (exception type + first line), seconds and
  the import-guard violations that happened during the test;
* ``kind: "collect_error"`` — one per file or folder that failed to collect (outcome ``collect_error``);
* ``kind: "session"`` — once at the end: collected count (total and per module), exit status,
  versions, every guard violation, wall seconds.

Each line is a ``schema.TestRecord`` or ``schema.SessionRecord`` written through ``record_io.record_line``.
The report reads only these lines (plus the chain's ``stages.json``); the chain merges every stage's into
the records file its ``stages.json`` names. The parts of a record live beside: ``record_fields.py`` (the
folded outcome, messages, origin) and ``quantization_use.py`` (``pairing``, ``runs_quantization``).
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections import Counter

import pytest

from regression.common import (
    ENV_CELL,
    ENV_RECORDS,
    ENV_STAGE,
    NO_VARIANT,
    PAIRED,
    exception_line,
    file_of,
    first_line,
    installed_version,
    module_of,
    twin_of,
    violation_text,
    zoo_param,
)
from regression.contract import Outcome, RecordKind, Variant
from regression.plugins.guard import active_guard  # None unless the guard plugin is active in this run
from regression.plugins.quantization_use import pairing_of, runs_quantization, zoo_meta  # noqa: F401  (importers use it)
from regression.plugins.record_fields import collect_message, fold, origin_of  # noqa: F401  (importers use collect_message)
from regression.plugins.record_io import record_line
from regression.schema import Record, SessionRecord, TestRecord


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

    def _write(self, record: Record) -> None:
        self.handle.write(record_line(record))
        self.handle.flush()  # a killed stage keeps what it wrote

    # -- collection ----------------------------------------------------------------------------
    def pytest_collection_finish(self, session):
        self.collected = len(session.items)
        self.per_module = Counter(f"{module_of(item.nodeid) or 0:02d}" for item in session.items)
        self.meta = {item.nodeid: zoo_meta(item) for item in session.items}
        self.pairing = {item.nodeid: pairing_of(item, self.meta[item.nodeid][1]) for item in session.items}

    def pytest_collectreport(self, report):
        if not report.failed:
            return
        self.counts[Outcome.COLLECT_ERROR] += 1
        self._write(
            TestRecord(
                kind=RecordKind.COLLECT_ERROR,
                cell=self.cell,
                stage=self.stage,
                module=module_of(report.nodeid + "/"),
                file=file_of(report.nodeid),
                test_id=report.nodeid,
                variant=Variant.NONE,
                model=None,
                twin_id=None,
                pairing=NO_VARIANT,
                outcome=Outcome.COLLECT_ERROR,
                when="collect",
                message=collect_message(str(report.longrepr)),
                seconds=round(getattr(report, "duration", 0.0) or 0.0, 4),
                guard_violations=self._guard_during(report.nodeid, "collect"),
            )
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
        outcome, when = fold(phases)
        deciding = phases.get(when)
        violations = [v for r in phases.values() for v in getattr(r, "tinytorch_guard", [])]
        model, variant = self.meta.get(nodeid) or zoo_param(nodeid)
        self.counts[outcome] += 1
        self._write(
            TestRecord(
                kind=RecordKind.TEST,
                cell=self.cell,
                stage=self.stage,
                module=module_of(nodeid),
                file=file_of(nodeid),
                test_id=nodeid,
                variant=variant,
                model=model,
                twin_id=twin_of(nodeid) if model else None,
                pairing=self.pairing.get(nodeid) or (PAIRED if variant != Variant.NONE else NO_VARIANT),
                outcome=outcome,
                when=when,
                message=self._message(nodeid, when, deciding, violations, outcome),
                origin=None if outcome == Outcome.PASSED else self.origins.get((nodeid, when)),
                seconds=round(sum(r.duration for r in phases.values()), 4),
                guard_violations=violations,
            )
        )
        for key in [k for k in self.messages if k[0] == nodeid]:
            del self.messages[key]
            self.origins.pop(key, None)

    def _message(self, nodeid, when, report, violations, outcome) -> str:
        if outcome == Outcome.PASSED:
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
            SessionRecord(
                kind=RecordKind.SESSION,
                cell=self.cell,
                stage=self.stage,
                collected=self.collected,
                collected_per_module=dict(sorted(self.per_module.items())),
                outcomes=dict(self.counts),
                exitstatus=int(session.exitstatus),
                python=platform.python_version(),
                numpy=getattr(numpy, "__version__", None) or installed_version("numpy"),
                pytest=pytest.__version__,
                tinytorch_file=getattr(tinytorch, "__file__", None),
                guard_violations=[v.to_dict() for v in guard.violations] if guard else [],
                seconds=round(time.perf_counter() - self.started, 3),
            )
        )
        self.handle.close()

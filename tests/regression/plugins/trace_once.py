"""Trace each test case once per cell, at the stage where it is new (``-p regression.plugins.trace_once``).

Stage k re-runs every test of modules 01..k. A case that already ran at an earlier stage of the same cell
executes the same lines again — that is what "still passes" means — so tracing it again adds nothing to
the cell's coverage, yet the tracer was the largest single cost of a covered cell. A case is *new* at the
first stage where it exists: its module's stage, or, for a zoo case, the stage of its zoo entry if that is
later (``max(module, entry.stage)``). This plugin keeps the tracer on for new cases only and suspends it
(``Coverage.stop()`` / ``start()``, coverage.py's public API) around every other one.

It also owns the per-test dynamic contexts (``--cov-context=test`` used to set them): one context per
test *function*, its test id without the parameters (``…/test_zoo.py::test_forward``), switched to at
each traced case's setup, so an old case costs neither tracing nor a context switch. The question the
HTML answers is which tests, at which stage, ran a line; a context per parametrized case (``[cnn-int8-3]``)
stored every line a test's cases share once per case — 2.4 times the data of one context per test
(342,687 against 143,643 arc rows in a cell) — and one per phase (``|setup``, ``|run``, ``|teardown``)
three times more again. Which case ran is in the records and the JUnit.

``TINYTORCH_TRACE_AFTER=j`` (set by the chain) says which stages of this cell already traced their new
cases: every stage run before this one, i.e. a case is traced here iff it is new at a stage above j.
A partial chain (``--stages 9``) sets j to the previous stage it runs, so nothing is ever left untraced.
Without the variable every case is traced (a hand-run stage).
"""

from __future__ import annotations

import os

import pytest

from regression.common import ENV_TRACE_AFTER, module_of


def context_of(item) -> str:
    """The dynamic context of a case: its test id without the parametrization (``[...]``)."""
    name = getattr(item, "originalname", None) or item.name
    return item.nodeid[: len(item.nodeid) - len(item.name)] + name


def first_stage(item) -> int:
    """The first stage at which this case exists: its module, or its zoo entry's stage if later."""
    module = module_of(item.nodeid) or 0
    callspec = getattr(item, "callspec", None)
    param = callspec.params.get("zoo_model") if callspec is not None else None
    entry = param[0] if isinstance(param, tuple) and len(param) == 2 else None
    return max(module, getattr(entry, "stage", 0) or 0)


class TraceOnce:
    def __init__(self, traced_after: int | None):
        self.traced_after = traced_after
        self.cov = None  # the running Coverage, found at the first test (pytest-cov starts it first)
        self.suspended = False
        self.traced = 0
        self.skipped = 0

    def _coverage(self):
        if self.cov is None:
            import coverage

            self.cov = coverage.Coverage.current()
        return self.cov

    def is_new(self, item) -> bool:
        return self.traced_after is None or first_stage(item) > self.traced_after

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        cov = self._coverage()
        if cov is None:
            return None
        if self.is_new(item):
            self.traced += 1
            if self.suspended:
                cov.start()
                self.suspended = False
        else:
            self.skipped += 1
            if not self.suspended:
                cov.stop()  # stays stopped across consecutive old cases: no cost between them
                self.suspended = True
        return None

    def pytest_runtest_setup(self, item):
        if self.cov is not None and not self.suspended:
            self.cov.switch_context(context_of(item))

    @pytest.hookimpl(hookwrapper=True, trylast=True)  # inside pytest-cov's: runs before it saves
    def pytest_runtestloop(self, session):
        yield
        if self.suspended and self.cov is not None:  # pytest-cov stops and saves it next: leave it started
            self.cov.start()
            self.suspended = False

    def pytest_terminal_summary(self, terminalreporter):
        if self.cov is not None:
            terminalreporter.write_line(
                f"trace-once: {self.traced} case(s) traced, {self.skipped} already traced at an earlier stage"
            )


def pytest_configure(config):
    raw = os.environ.get(ENV_TRACE_AFTER, "").strip()
    traced_after = int(raw) if raw.isdigit() else None
    if not config.pluginmanager.has_plugin("tinytorch-trace-once"):
        config.pluginmanager.register(TraceOnce(traced_after), "tinytorch-trace-once")

"""Import guard (pytest plugin, ``-p regression.plugins.guard``): at stage k no tinytorch module numbered above k loads.

With ``TINYTORCH_STAGE=k`` a ``sys.meta_path`` finder refuses every registry module numbered > k with a
``LayeringError`` (an ``ImportError``) that names the module, its number and the stage. Quantization (16)
is the one exception — the zoo quantizes models at every stage — but whatever quantization itself pulls
in is still checked, so an eager ``import tinytorch.core.spatial`` inside it breaks at stages 03–08.

Every refusal is recorded with where it happened (test or collector node id, phase, importer), because a
test may swallow the ``ImportError``. A test during which a refusal happened is turned into a failure
even if it passed, and refusals outside any test make the session exit non-zero: a layering break is
never green. ``records.py`` copies the violations into the per-test records for the report.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Sequence

import pytest

from regression.common import ENV_STAGE
from regression.plugins.patches import RegistrySnapshot
from regression.plugins.state_watch import GlobalState, ImportWatch

if TYPE_CHECKING:
    from tinytorch.registry import ModuleSpec

_IMPORT_MACHINERY = ("<frozen importlib", "importlib/__init__.py", "importlib\\__init__.py")


class LayeringError(ImportError):
    """A tinytorch module numbered above the current stage was imported."""


@dataclass
class Violation:
    module: str  # import path refused
    number: int
    stage: int
    nodeid: str  # test or collector running when it happened ("" before collection)
    when: str  # setup | call | teardown | collect | startup
    importer: str  # "package.module (file:line)" of the import statement

    kind = "import"

    @property
    def message(self) -> str:
        return (
            f"import guard: {self.module} is module {self.number:02d}, not available at stage {self.stage:02d} "
            f"(imported by {self.importer}); a module may import only lower-numbered modules"
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "kind": self.kind, "message": self.message}


class Guard:
    """The ``sys.meta_path`` finder; ``modules`` is injectable so it can be tested on a fake registry."""

    def __init__(self, stage: int, modules: Sequence[ModuleSpec] | None = None, exempt: str | None = None):
        # The registry is imported here, not at the top: the plugin loads before pytest-cov measures.
        from tinytorch.registry import MODULES, QUANTIZATION

        modules = MODULES if modules is None else modules
        exempt = QUANTIZATION.import_path if exempt is None else exempt
        self.stage = stage
        self.forbidden = {  # a module's aliases (registry) are refused with it: they are the same objects
            path: m
            for m in modules
            if m.number > stage and m.import_path != exempt
            for path in (m.import_path, *getattr(m, "aliases", ()))
        }
        self.violations: list[Violation] = []
        self.nodeid = ""
        self.when = "startup"
        self._stashed: dict[str, object] = {}

    # -- importlib finder protocol -------------------------------------------------------------
    def find_spec(self, fullname, path=None, target=None):
        module = self.forbidden.get(fullname)
        if module is None:
            return None  # not ours: let the normal finders handle it
        violation = Violation(fullname, module.number, self.stage, self.nodeid, self.when, _importer())
        self.violations.append(violation)
        raise LayeringError(violation.message)

    # -- lifecycle -----------------------------------------------------------------------------
    def install(self) -> None:
        """Put the finder first; a forbidden module already loaded (before the guard) is a violation too."""
        for name in sorted(self.forbidden):
            if name in sys.modules:
                module = self.forbidden[name]
                self.violations.append(
                    Violation(name, module.number, self.stage, "", "startup", "loaded before the guard was installed")
                )
                self._stashed[name] = sys.modules.pop(name)
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def uninstall(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        for name, module in self._stashed.items():
            sys.modules.setdefault(name, module)
        self._stashed.clear()

    def during(self, nodeid: str, when: str) -> list[Violation]:
        return [v for v in self.violations if v.nodeid == nodeid and v.when == when]


def _importer() -> str:
    """The first frame outside the import machinery: who wrote the refused import statement."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_IMPORT_MACHINERY[0]) and not filename.endswith(_IMPORT_MACHINERY[1:]):
            name = frame.f_globals.get("__name__", "?")
            return f"{name} ({os.path.basename(filename)}:{frame.f_lineno})"
        frame = frame.f_back
    return "?"


def stage_from_env() -> int | None:
    raw = os.environ.get(ENV_STAGE, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise pytest.UsageError(f"{ENV_STAGE}={raw!r} is not a stage number; use 1..16") from None


class GuardPlugin:
    """Tracks which node is running so each violation says where it happened; watches for registry patches."""

    def __init__(self, guard: Guard):
        self.guard = guard
        self.snapshot = RegistrySnapshot(guard.stage)
        # Module-level and NumPy state: compared right around each tinytorch import (state_watch.ImportWatch).
        self.imports = ImportWatch(GlobalState(guard.stage), self.guard.violations.extend, self._where)

    def _where(self) -> tuple[str, str]:
        return self.guard.nodeid, self.guard.when

    def _watch(self, nodeid: str, when: str) -> list:
        patches = self.snapshot.changes(nodeid, when)
        self.guard.violations.extend(patches)
        return patches

    def pytest_sessionstart(self, session):
        """Before collection imports anything: the stage's registry modules, pristine (see patches.py)."""
        self.guard.nodeid, self.guard.when = "", "startup"
        self.imports.install(after=self.guard)  # so importing module k that changes module j < k is seen
        self.snapshot.import_all()
        self.snapshot.take()

    def pytest_collection_finish(self, session):
        self._watch("", "collect")  # a test module or conftest that patched at import: a session problem

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector):
        previous = (self.guard.nodeid, self.guard.when)
        self.guard.nodeid, self.guard.when = collector.nodeid, "collect"
        try:
            return (yield)
        finally:
            self.guard.nodeid, self.guard.when = previous

    def _phase(self, item, when):
        self.guard.nodeid, self.guard.when = item.nodeid, when

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item):
        self._phase(item, "setup")
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        self._phase(item, "call")
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item, nextitem):
        self._phase(item, "teardown")
        try:
            return (yield)
        finally:
            self.guard.nodeid, self.guard.when = "", "session"

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if call.when == "teardown":  # the test and its fixtures are done: whatever changed now stays changed
            self._watch(item.nodeid, "teardown")
        caught = self.guard.during(item.nodeid, call.when)
        if caught:
            report.tinytorch_guard = [v.to_dict() for v in caught]
            if not report.failed:  # the test swallowed the ImportError: still a layering break
                report.outcome = "failed"
                report.longrepr = "\n".join(v.message for v in caught)
        return report

    def pytest_sessionfinish(self, session, exitstatus):
        self._watch("", "session")
        if self.guard.violations and exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_unconfigure(self, config):
        self.imports.uninstall()

    def pytest_terminal_summary(self, terminalreporter):
        if self.guard.violations:
            terminalreporter.section(f"import guard: {len(self.guard.violations)} violation(s)", red=True)
            for v in self.guard.violations:
                terminalreporter.line(f"{v.nodeid or '<startup>'} [{v.when}]: {v.message}")


_ACTIVE: dict[int, Guard] = {}  # id(config) -> guard, so pytester in-process runs stay independent


def _start(config) -> None:
    if id(config) in _ACTIVE:
        return
    stage = stage_from_env()
    if stage is None:
        return
    guard = Guard(stage)
    guard.install()
    _ACTIVE[id(config)] = guard
    config.pluginmanager.register(GuardPlugin(guard), "tinytorch-import-guard")


def active_guard(config) -> Guard | None:
    return _ACTIVE.get(id(config))


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """Installed before any conftest is imported (conftests may import tinytorch at module level)."""
    _start(early_config)


def pytest_configure(config):
    _start(config)  # no-op when the early hook already ran


def pytest_unconfigure(config):
    guard = _ACTIVE.pop(id(config), None)
    if guard is not None:
        guard.uninstall()

"""A later module that patches an earlier one is an import/layering break naming the attribute, whatever
the test order; a test's own ``monkeypatch`` (undone at teardown) is not."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from regression.plugins.patches import RegistrySnapshot

PATCHING_TEST = """
import tinytorch.core.layers as layers

def test_a_later_module_patches_module_03_at_import():
    def load_state_dict(self, state):  # what an import-time patch in module 16 would install
        return None
    layers.Module.load_state_dict = load_state_dict

def test_after_the_patch():
    assert True
"""

MONKEYPATCHING_TEST = """
import tinytorch.core.tensor as tensor

def test_monkeypatch_is_undone(monkeypatch):
    monkeypatch.setattr(tensor.Tensor, "__add__", lambda self, other: self)
    assert True

def test_adding_a_module_level_helper_is_fine():
    tensor.some_cache_helper = lambda: None
"""


TESTS = Path(__file__).resolve().parents[1]


def run_stage(pytester, monkeypatch, source: str, stage: int = 3):
    """One stage in a subprocess (a patch must not leak into this process), with the real registry."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), str(TESTS.parent), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("TINYTORCH_STAGE", str(stage))
    records = pytester.path / "records.jsonl"
    monkeypatch.setenv("TINYTORCH_RECORDS", str(records))
    pytester.makepyfile(test_patch=source)
    result = pytester.runpytest_subprocess(
        "-p", "regression.plugins.guard", "-p", "regression.plugins.records", "-p", "no:cacheprovider"
    )
    lines = [json.loads(line) for line in records.read_text().splitlines()]
    return result, {r["test_id"].split("::")[-1]: r for r in lines if r["kind"] == "test"}, lines[-1]


def test_a_patch_of_a_registry_class_fails_the_test_it_happened_in(pytester, monkeypatch):
    result, tests, session = run_stage(pytester, monkeypatch, PATCHING_TEST)
    patched = tests["test_a_later_module_patches_module_03_at_import"]
    assert patched["outcome"] == "error" and patched["when"] == "teardown"
    assert patched["message"].startswith("RegistryPatch: registry patch: tinytorch.core.layers.Module.load_state_dict")
    assert "replaced" in patched["message"] and "stage 03" in patched["message"]
    assert tests["test_after_the_patch"]["outcome"] == "passed"  # reported once, not on every later test
    assert [v["kind"] for v in session["guard_violations"]] == ["patch"]
    assert result.ret != 0


def test_monkeypatch_undone_at_teardown_and_new_module_names_are_not_patches(pytester, monkeypatch):
    result, tests, session = run_stage(pytester, monkeypatch, MONKEYPATCHING_TEST)
    assert {r["outcome"] for r in tests.values()} == {"passed"}, tests
    assert session["guard_violations"] == [] and result.ret == 0


def test_snapshot_names_the_module_that_defined_the_new_value():
    import tinytorch.core.layers as layers

    snapshot = RegistrySnapshot(3)
    snapshot.import_all()
    snapshot.take()
    original = layers.Module.state_dict
    try:
        layers.Module.state_dict = json.dumps  # any function defined elsewhere
        (patch,) = snapshot.changes("t.py::x", "teardown")
    finally:
        layers.Module.state_dict = original
    assert patch.attribute == "tinytorch.core.layers.Module.state_dict" and patch.number == 3
    assert "json" in patch.patched_by
    assert snapshot.changes("t.py::y", "teardown")[0].change == "replaced"  # the restore is a change too


# -- the fast path: ``unchanged`` must see every change the full walk reports ---------------------------
def _fake_registry(monkeypatch):
    """One fake registry module (number 3) with a class, a function and some module-level state."""
    import types

    from tinytorch.registry import ModuleSpec

    module = types.ModuleType("fake_registry_03")
    exec(  # noqa: S102 - builds the fake module's source
        "class Layer:\n    def forward(self, x):\n        return x\n    def last(self):\n        return 1\n"
        "def helper():\n    return 2\n",
        module.__dict__,
    )
    module.Layer.__module__ = module.__name__
    helper = module.helper
    helper.__module__ = module.__name__
    monkeypatch.setitem(sys.modules, module.__name__, module)
    snapshot = RegistrySnapshot(3, [ModuleSpec(3, "fake", module.__name__)], exempt="")
    snapshot.take()
    return module, snapshot


def _rename_last(module):
    last = module.Layer.last
    del module.Layer.last
    module.Layer.renamed = last  # same object under a new name, same size, same order of values


CHANGES = {
    "class member replaced": (lambda m: setattr(m.Layer, "forward", lambda self, x: -x), "Layer.forward", "replaced"),
    "class member added": (lambda m: setattr(m.Layer, "extra", lambda self: 0), "Layer.extra", "added"),
    "class member removed": (lambda m: delattr(m.Layer, "forward"), "Layer.forward", "removed"),
    "member renamed, same object": (_rename_last, "Layer.last", "removed"),
    "function replaced": (lambda m: setattr(m, "helper", json.dumps), "helper", "replaced"),
    "class replaced": (lambda m: setattr(m, "Layer", type("Layer", (), {})), "Layer", "replaced"),
}


@pytest.mark.parametrize("what", sorted(CHANGES))
def test_the_identity_fast_path_misses_nothing_the_walk_reports(monkeypatch, what):
    module, snapshot = _fake_registry(monkeypatch)
    assert snapshot.unchanged() and snapshot.changes("t::a", "teardown") == []
    change, attribute, kind = CHANGES[what]
    change(module)
    assert not snapshot.unchanged()
    found = {(p.attribute, p.change) for p in snapshot.changes("t::b", "teardown")}
    assert (f"fake_registry_03.{attribute}", kind) in found
    assert snapshot.unchanged() and snapshot.changes("t::c", "teardown") == []  # reported once


def test_a_reloaded_module_object_is_a_change_for_the_fast_path(monkeypatch):
    import types

    module, snapshot = _fake_registry(monkeypatch)
    clone = types.ModuleType(module.__name__)
    clone.__dict__.update(module.__dict__)
    clone.Layer = type("Layer", (), {"__module__": module.__name__})
    monkeypatch.setitem(sys.modules, module.__name__, clone)
    assert not snapshot.unchanged()
    assert [p.attribute for p in snapshot.changes("t::a", "teardown")][:1] == ["fake_registry_03.Layer"]


def test_the_watch_costs_microseconds_when_nothing_changed():
    import timeit

    snapshot = RegistrySnapshot(15)
    snapshot.import_all()
    snapshot.take()
    seconds = min(timeit.repeat(lambda: snapshot.changes("t::x", "teardown"), number=200, repeat=5)) / 200
    assert seconds < 200e-6, f"{seconds * 1e6:.0f} µs per test"  # ~13 µs measured; the full walk is ~250 µs


# -- module-level and NumPy state: a change made by importing a later module ----------------------------
EARLY = "flag = True\n_registry = {}\n_order = []\nBIG = list(range(1000))\n"
LATE = """import numpy as np
import fakepkg.early as early
early.flag = False
early._registry["late"] = object()
early._order.append(1)
np.set_printoptions(precision=3)
np.random.seed(123)
"""


def test_a_later_import_that_changes_module_state_or_numpy_is_blamed_on_that_import(tmp_path, monkeypatch):
    import numpy as np

    from regression.plugins.state_watch import GlobalState, ImportWatch
    from tinytorch.registry import ModuleSpec

    (tmp_path / "fakepkg").mkdir()
    (tmp_path / "fakepkg" / "__init__.py").write_text("")
    (tmp_path / "fakepkg" / "early.py").write_text(EARLY)
    (tmp_path / "fakepkg" / "late.py").write_text(LATE)
    (tmp_path / "fakepkg" / "quiet.py").write_text("import fakepkg.early\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("fakepkg", "fakepkg.early", "fakepkg.late", "fakepkg.quiet"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    found: list = []
    state = GlobalState(2, [ModuleSpec(1, "early", "fakepkg.early")], exempt="")
    watch = ImportWatch(state, found.extend, lambda: ("t.py::test_x", "call"), package="fakepkg")
    printoptions = np.get_printoptions()
    watch.install()
    try:
        import fakepkg.early as early

        assert found == []  # a module's own state, appearing with it, is not a change
        np.random.seed(7)  # the test's own RNG use, a flag it flips, a cache it fills: not an import's doing
        np.random.rand(3)
        early.BIG.append(0)
        import fakepkg.quiet  # noqa: F401 - an import that changes nothing

        assert found == []
        import fakepkg.late  # noqa: F401
    finally:
        watch.uninstall()
        np.set_printoptions(**printoptions)
    changes = {p.attribute: p.change for p in found}
    assert changes == {
        "fakepkg.early.flag": "replaced",
        "fakepkg.early._registry": "changed in place",
        "fakepkg.early._order": "changed in place",
        "numpy.get_printoptions()": "changed",
        "numpy.random.get_state()": "changed",
    }
    assert {(p.nodeid, p.when, p.patched_by) for p in found} == {
        ("t.py::test_x", "call", "changed while importing fakepkg.late")
    }
    flag = next(p for p in found if p.attribute == "fakepkg.early.flag")
    assert "module-level state of module 01" in flag.message
    numpy = next(p for p in found if p.attribute.startswith("numpy.random"))
    assert numpy.number == 0 and "NumPy's global state" in numpy.message


def test_the_import_watch_blames_the_innermost_import(tmp_path, monkeypatch):
    from regression.plugins.state_watch import GlobalState, ImportWatch
    from tinytorch.registry import ModuleSpec

    (tmp_path / "nestpkg").mkdir()
    (tmp_path / "nestpkg" / "__init__.py").write_text("")
    (tmp_path / "nestpkg" / "early.py").write_text("flag = 1\nother = 1\n")
    (tmp_path / "nestpkg" / "inner.py").write_text("import nestpkg.early as e\ne.flag = 2\n")
    (tmp_path / "nestpkg" / "outer.py").write_text("import nestpkg.early as e\ne.other = 2\nimport nestpkg.inner\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    found: list = []
    state = GlobalState(2, [ModuleSpec(1, "early", "nestpkg.early")], exempt="")
    watch = ImportWatch(state, found.extend, package="nestpkg")
    watch.install()
    try:
        import nestpkg.outer  # noqa: F401
    finally:
        watch.uninstall()
        for name in ("nestpkg", "nestpkg.early", "nestpkg.inner", "nestpkg.outer"):
            sys.modules.pop(name, None)
    assert {p.attribute: p.patched_by for p in found} == {
        "nestpkg.early.other": "changed while importing nestpkg.outer",
        "nestpkg.early.flag": "changed while importing nestpkg.inner",
    }

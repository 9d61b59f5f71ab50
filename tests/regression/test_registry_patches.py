"""A later module that patches an earlier one is an import/layering break naming the attribute, whatever
the test order; a test's own ``monkeypatch`` (undone at teardown) is not."""

from __future__ import annotations

import json
import os
from pathlib import Path

from regression.patches import RegistrySnapshot

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
        "-p", "regression.guard", "-p", "regression.records", "-p", "no:cacheprovider"
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

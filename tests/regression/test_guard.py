"""The import guard on a fake three-module registry (the real registry is exercised by test_chain.py)."""

from __future__ import annotations

import importlib
import sys

import pytest

from regression.plugins.guard import Guard, LayeringError
from tinytorch.registry import ModuleSpec

FAKE = (
    ModuleSpec(1, "base", "fakett.base"),
    ModuleSpec(2, "later", "fakett.later"),
    ModuleSpec(3, "quant_lazy", "fakett.quant_lazy"),
    ModuleSpec(4, "quant_eager", "fakett.quant_eager"),
)
SOURCES = {
    "__init__.py": "",
    "base.py": "VALUE = 1\n",
    "later.py": "VALUE = 2\n",
    "quant_lazy.py": "def use_later():\n    import fakett.later\n    return fakett.later.VALUE\n",
    "quant_eager.py": "import fakett.later  # noqa: F401\n",
}


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    package = tmp_path / "fakett"
    package.mkdir()
    for name, text in SOURCES.items():
        (package / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in [n for n in sys.modules if n == "fakett" or n.startswith("fakett.")]:
        del sys.modules[name]


@pytest.fixture
def guard_at(fake_package):
    guards = []

    def make(stage: int, exempt: str) -> Guard:
        guard = Guard(stage, FAKE, exempt=exempt)
        guard.install()
        guards.append(guard)
        return guard

    yield make
    for guard in guards:
        guard.uninstall()


def test_a_later_module_is_refused_with_its_number_and_the_stage(guard_at):
    guard = guard_at(1, exempt="fakett.quant_lazy")
    assert importlib.import_module("fakett.base").VALUE == 1
    with pytest.raises(LayeringError, match=r"fakett\.later is module 02, not available at stage 01"):
        importlib.import_module("fakett.later")
    assert [(v.module, v.number, v.stage) for v in guard.violations] == [("fakett.later", 2, 1)]
    assert isinstance(LayeringError("x"), ImportError)


def test_the_exempt_module_loads_but_what_it_pulls_in_is_still_checked(guard_at):
    guard = guard_at(1, exempt="fakett.quant_lazy")
    lazy = importlib.import_module("fakett.quant_lazy")  # exempt (number 3 > stage 1) and lazy: fine
    assert guard.violations == []
    with pytest.raises(LayeringError):
        lazy.use_later()
    assert guard.violations[0].importer.startswith("fakett.quant_lazy (quant_lazy.py:")


def test_an_exempt_module_that_imports_a_later_one_eagerly_is_a_layering_break(guard_at):
    guard = guard_at(1, exempt="fakett.quant_eager")
    with pytest.raises(LayeringError, match="fakett.later"):
        importlib.import_module("fakett.quant_eager")
    assert guard.violations[0].importer.startswith("fakett.quant_eager")


def test_at_the_last_stage_nothing_is_refused(guard_at):
    guard = guard_at(4, exempt="fakett.quant_lazy")
    assert importlib.import_module("fakett.quant_eager") is not None
    assert guard.violations == []


def test_a_module_loaded_before_the_guard_is_a_violation_and_hidden_until_uninstall(fake_package):
    preloaded = importlib.import_module("fakett.later")
    guard = Guard(1, FAKE, exempt="fakett.quant_lazy")
    guard.install()
    try:
        assert "fakett.later" not in sys.modules
        assert guard.violations[0].importer == "loaded before the guard was installed"
        with pytest.raises(LayeringError):
            importlib.import_module("fakett.later")
    finally:
        guard.uninstall()
    assert sys.modules["fakett.later"] is preloaded
    assert guard not in sys.meta_path


def _fresh_import(path: str):
    """Import ``path`` as if for the first time (the package may already be loaded by this session)."""
    saved = {n: m for n, m in sys.modules.items() if n == path or n.startswith(path + ".")}
    for name in saved:
        del sys.modules[name]
    try:
        return importlib.import_module(path)
    finally:
        sys.modules.update(saved)


@pytest.mark.parametrize(
    "alias, number",
    [
        ("tinytorch.core.dataloader", 8),
        ("tinytorch.core.tokenization", 10),
        ("tinytorch.core.embeddings", 11),
        ("tinytorch.core.transformer", 13),
        ("tinytorch.perf.profiling", 14),
        ("tinytorch.perf.memoization", 15),
    ],
)
def test_an_alias_module_counts_as_the_module_it_aliases(alias, number):
    from tinytorch.registry import MODULES, by_import_path, by_number

    assert by_import_path(alias) is by_number(number)
    below = Guard(number - 1, MODULES)
    below.install()
    try:
        with pytest.raises(
            LayeringError, match=rf"{alias} is module {number:02d}, not available at stage {number - 1:02d}"
        ):
            _fresh_import(alias)
    finally:
        below.uninstall()
    at = Guard(number, MODULES)
    at.install()
    try:
        assert _fresh_import(alias).__name__ == alias
    finally:
        at.uninstall()
    assert not [v for v in at.violations if v.module == alias]  # (modules loaded earlier may be listed)


def test_the_quantization_alias_is_exempt_like_module_16():
    from tinytorch.registry import MODULES

    guard = Guard(3, MODULES)
    assert "tinytorch.perf.quantization" not in guard.forbidden
    assert "tinytorch.core.transformer" in guard.forbidden and "tinytorch.perf.memoization" in guard.forbidden

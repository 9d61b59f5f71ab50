"""The lazy exports (``tinytorch``, ``tinytorch.nn``, ``tinytorch.optim``) under the chain's import guard.

Importing the namespaces must load no framework module, a name must load only its own module and only
when asked for, and a name above the stage must fail with the guard's ``LayeringError`` — never
silently. Each check runs in a fresh interpreter (``sys.modules`` starts empty, the guard is installed
exactly as the chain installs it), so nothing this test process already imported can hide a leak.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tinytorch
import tinytorch.nn
import tinytorch.optim
from tinytorch._lazy import invert
from tinytorch.registry import MODULES

REPO = Path(__file__).resolve().parents[2]
NAMESPACES = {"tinytorch": tinytorch, "tinytorch.nn": tinytorch.nn, "tinytorch.optim": tinytorch.optim}

PRELUDE = """
import json, sys
from regression.plugins.guard import Guard, LayeringError
from tinytorch.registry import MODULES

guard = Guard({stage})
guard.install()

def loaded():
    return sorted(m.import_path for m in MODULES if m.import_path in sys.modules)

def tinytorch_modules():
    return sorted(m for m in sys.modules if m == "tinytorch" or m.startswith("tinytorch."))

out = {{}}
"""


def run_at_stage(stage: int, body: str) -> dict:
    """Run ``body`` in a fresh interpreter with the guard at ``stage``; return the ``out`` dict it fills."""
    code = PRELUDE.format(stage=stage) + textwrap.dedent(body) + "\nprint(json.dumps(out))\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO)])}
    env.pop("TINYTORCH_STAGE", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_tinytorch_nn_and_optim_loads_no_framework_module():
    out = run_at_stage(
        1,
        """
        import tinytorch, tinytorch.nn, tinytorch.optim
        out["after_import"] = loaded()
        out["dir_has_aliases"] = all(n in dir(tinytorch) for n in ("Conv2d", "GPT", "nn", "optim"))
        out["nn_dir_has_aliases"] = "Conv2d" in dir(tinytorch.nn) and "SGD" in dir(tinytorch.optim)
        out["after_dir"] = loaded()
        out["modules"] = tinytorch_modules()
        out["violations"] = len(guard.violations)
        """,
    )
    assert out["after_import"] == [] and out["after_dir"] == []
    # tinytorch.registry is the guard's own import (it reads the module order), not the namespaces'
    assert out["modules"] == ["tinytorch", "tinytorch._lazy", "tinytorch.nn", "tinytorch.optim", "tinytorch.registry"]
    assert out["dir_has_aliases"] and out["nn_dir_has_aliases"]
    assert out["violations"] == 0


def test_an_alias_loads_its_module_only_when_asked_for():
    out = run_at_stage(
        3,
        """
        import tinytorch, tinytorch.nn
        out["before"] = loaded()
        linear = tinytorch.nn.Linear
        out["after_nn_linear"] = loaded()
        import tinytorch.core.layers as layers
        out["same_object"] = linear is layers.Linear and tinytorch.Layer is layers.Module
        out["cached"] = "Linear" in vars(tinytorch.nn) and "Layer" in vars(tinytorch)
        from tinytorch import Tensor
        out["after_tensor"] = loaded()
        out["violations"] = len(guard.violations)
        """,
    )
    assert out["before"] == []
    assert out["after_nn_linear"] == ["tinytorch.core.layers", "tinytorch.core.tensor"]
    assert out["after_tensor"] == out["after_nn_linear"]  # 01 was already loaded by 03: nothing new
    assert out["same_object"] and out["cached"]
    assert out["violations"] == 0


ABOVE_STAGE_3 = [  # (attribute access, the module it needs, that module's number)
    ("tinytorch.Conv2d", "tinytorch.core.spatial", 9),
    ("tinytorch.nn.Conv2d", "tinytorch.core.spatial", 9),
    ("tinytorch.MaxPool2d", "tinytorch.core.spatial", 9),
    ("tinytorch.optim.SGD", "tinytorch.core.optimizers", 6),
    ("tinytorch.nn.LayerNorm", "tinytorch.models.transformer", 13),
]


def test_an_alias_above_the_stage_fails_with_the_guards_layering_error():
    out = run_at_stage(
        3,
        f"""
        import tinytorch, tinytorch.nn, tinytorch.optim
        out["attempts"] = []
        for access in {[access for access, _, _ in ABOVE_STAGE_3]!r}:
            before = len(guard.violations)
            try:
                eval(access)
                out["attempts"].append([access, None, False, "", []])
            except Exception as exc:
                new = [[v.module, v.number, v.stage] for v in guard.violations[before:]]
                out["attempts"].append([access, type(exc).__name__, isinstance(exc, LayeringError), str(exc), new])
        out["loaded"] = loaded()
        """,
    )
    assert len(out["attempts"]) == len(ABOVE_STAGE_3)
    for (access, raised, is_guard_error, message, recorded), (_, module, number) in zip(out["attempts"], ABOVE_STAGE_3):
        assert raised == "LayeringError" and is_guard_error, (access, raised, message)
        assert f"{module} is module {number:02d}, not available at stage 03" in message, access
        assert recorded == [[module, number, 3]], access
        assert module not in out["loaded"]


def test_from_import_and_hasattr_fail_loudly_too():
    out = run_at_stage(
        3,
        """
        import tinytorch
        results = []
        for attempt in ("from tinytorch import Conv2d", "hasattr(tinytorch, 'Conv2d')"):
            try:
                exec(attempt)
                results.append(None)
            except LayeringError:
                results.append("LayeringError")
        out["results"] = results
        out["typo_is_attribute_error"] = not hasattr(tinytorch, "Conv2dd")
        """,
    )
    assert out["results"] == ["LayeringError", "LayeringError"]  # hasattr does not turn it into False
    assert out["typo_is_attribute_error"]


def test_the_chains_pytest_guard_fails_a_test_that_swallows_the_alias_error(tmp_path):
    """As the chain runs a stage: ``-p regression.plugins.guard`` with TINYTORCH_STAGE=3."""
    (tmp_path / "test_uses_aliases.py").write_text(
        textwrap.dedent(
            """
            import tinytorch, tinytorch.nn

            def test_linear_is_fine_at_stage_3():
                assert tinytorch.nn.Linear(2, 2)

            def test_conv2d_swallowed():
                try:
                    tinytorch.Conv2d
                except ImportError:
                    pass
            """
        )
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO)]),
        "TINYTORCH_STAGE": "3",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "regression.plugins.guard", "-p", "no:cacheprovider", "-q", "-rf", "-o"]
        + ["addopts=", "test_uses_aliases.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout
    assert "FAILED test_uses_aliases.py::test_conv2d_swallowed" in done.stdout
    assert "tinytorch.core.spatial is module 09, not available at stage 03" in done.stdout


@pytest.mark.parametrize("namespace", sorted(NAMESPACES))
def test_every_lazy_name_is_a_registry_modules_own_object(namespace):
    module = NAMESPACES[namespace]
    registry_paths = {m.import_path for m in MODULES}
    for name, path in invert(module.EXPORTS).items():
        assert path in registry_paths, f"{namespace}.{name} points at {path}, not a registry module"
        assert getattr(module, name) is getattr(importlib.import_module(path), name), f"{namespace}.{name}"


def test_a_name_listed_twice_is_refused():
    with pytest.raises(ValueError, match="'Linear' listed for both a and b"):
        invert({"a": ("Linear",), "b": ("Linear",)})


ALIAS_PATHS = sorted(alias for m in MODULES for alias in m.aliases)  # upstream's notebook-export paths


@pytest.mark.parametrize("alias", ALIAS_PATHS)
def test_every_alias_modules_name_is_a_registry_modules_own_object(alias):
    module = importlib.import_module(alias)
    registry_paths = {m.import_path for m in MODULES}
    for name, path in invert(module.EXPORTS).items():
        assert path in registry_paths, f"{alias}.{name} points at {path}, not a registry module"
        assert getattr(module, name) is getattr(importlib.import_module(path), name), f"{alias}.{name}"


def test_an_alias_module_loads_nothing_until_a_name_is_asked_for():
    out = run_at_stage(
        13,
        """
        import tinytorch.core.transformer as t
        out["after_import"] = loaded()
        t.GPT
        out["after_name"] = loaded()
        """,
    )
    assert out["after_import"] == []
    assert (
        "tinytorch.models.transformer" in out["after_name"] and "tinytorch.generation.kv_cache" not in out["after_name"]
    )

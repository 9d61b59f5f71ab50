"""Fixtures for the tests of the chain machinery: pytester, and one synthetic chain run shared by the tests.

``pytest_plugins = ["pytester"]`` is refused in a conftest below the top level (pytest: "Defining
'pytest_plugins' in a non-top-level conftest is no longer supported"), so the plugin is registered from
``pytest_configure`` instead; that works whether this conftest loads early or during collection.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from regression.common import ENV_STAGE
from regression.run_isolation import without_outer_run_settings  # noqa: F401  (autouse)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHAIN = HERE / "chain.py"
REPORT = HERE / "report.py"


def pytest_configure(config):
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


# A synthetic repository: each folder exercises one way a stage goes red.
SYNTHETIC_TREE = {
    "pytest.ini": "[pytest]\npython_files = test_*.py\n",
    # 01: green.
    "tests/modules/01_tensor/test_green.py": """
        import pytest

        def test_one():
            assert 1 + 1 == 2

        @pytest.mark.parametrize("zoo_model", [pytest.param("m", id="mlp-fp32"), pytest.param("m", id="mlp-int8")])
        def test_model_ok(zoo_model):
            assert zoo_model == "m"
        """,
    # 02: one test broken by quantization, one broken regardless, two layering breaks.
    "tests/modules/02_activations/test_mixed.py": """
        import pytest

        VARIANTS = [pytest.param("fp32", id="mlp-fp32"), pytest.param("int8", id="mlp-int8")]

        @pytest.mark.parametrize("zoo_model", VARIANTS)
        def test_quantization_sensitive(zoo_model):
            assert zoo_model == "fp32", "int8 output drifted"

        @pytest.mark.parametrize("zoo_model", VARIANTS)
        def test_always_broken(zoo_model):
            raise ValueError("bad shape\\nsecond line is not reported")

        def test_imports_a_later_module():
            import tinytorch.core.spatial  # noqa: F401  (module 09 at stage 02)

        def test_swallows_the_guard():
            try:
                import tinytorch.core.layers  # noqa: F401
            except ImportError:
                pass
        """,
    # 03: nothing pytest will collect (a misnamed file and a helper).
    "tests/modules/03_layers/layers_test.py": "def test_never_collected():\n    assert False\n",
    "tests/modules/03_layers/helpers.py": "VALUE = 3\n",
    # 04: a file that fails to import.
    "tests/modules/04_losses/test_broken_import.py": "import module_that_does_not_exist_xyz  # noqa: F401\n",
}


def build_tree(root: Path, files: dict) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def chain_env() -> dict:
    """The machinery imports the registry from the checkout, whatever the synthetic root is."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env.pop(ENV_STAGE, None)
    return env


def start_chain(root: Path, out: Path, *args: str) -> subprocess.Popen:
    command = [sys.executable, str(CHAIN), "--cell", "syn", "--out", str(out), "--root", str(root), *args]
    return subprocess.Popen(command, env=chain_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory):
    """Run the chain over SYNTHETIC_TREE once: stages 1, 2, 4 (4 covers folder 03 too), and module 03 alone."""
    base = tmp_path_factory.mktemp("chain")
    root = build_tree(base / "repo", SYNTHETIC_TREE)
    runs = {
        "full": (base / "cells" / "syn", ["--stages", "1,2,4", "--jobs", "2"]),
        "module3": (base / "module3" / "syn", ["--module", "3"]),
    }
    started = {name: (out, start_chain(root, out, *args)) for name, (out, args) in runs.items()}
    results = {}
    for name, (out, process) in started.items():
        stdout, stderr = process.communicate(timeout=120)
        results[name] = {"out": out, "exit": process.returncode, "stdout": stdout, "stderr": stderr}
    results["root"] = root
    results["cells"] = base / "cells"
    return results

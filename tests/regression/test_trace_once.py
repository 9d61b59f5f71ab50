"""trace_once.py: which cases a stage traces, and the dynamic context each traced case gets.

Runs the plugin for real under ``coverage run`` (the plugin finds the running Coverage the same way under
pytest-cov) on a two-module project, then reads the data file back with coverage.py's own API.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import coverage  # the test session installs it (noxfile: tests); a missing one fails here, never skips

from regression.common import ENV_TRACE_AFTER

HARNESS = Path(__file__).resolve().parents[1]  # tests/, where `regression` is importable from


def _project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text(
        textwrap.dedent(
            """
            def first(x):
                return x + 1

            def second(x):
                if x > 1:
                    return x * 2
                return x
            """
        )
    )
    for folder, body in {
        "01_one": "from pkg import first\n\n@pytest.mark.parametrize('x', [1, 2, 3])\ndef test_first(x):\n"
        "    assert first(x) == x + 1\n",
        "02_two": "from pkg import second\n\n@pytest.mark.parametrize('x', [0, 5])\ndef test_second(x):\n"
        "    assert second(x) >= x\n\nclass TestPlain:\n    def test_plain(self):\n        assert second(1) == 1\n",
    }.items():
        test_dir = tmp_path / "tests" / "modules" / folder
        test_dir.mkdir(parents=True)
        (test_dir / f"test_{folder[3:]}.py").write_text("import pytest\n" + body)
    (tmp_path / "rc.toml").write_text('[tool.coverage.run]\nsource_pkgs = ["pkg"]\nbranch = true\n')
    return tmp_path


def _run(project: Path, traced_after: int | None) -> coverage.CoverageData:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(project), str(HARNESS)])}
    env.pop(ENV_TRACE_AFTER, None)
    if traced_after is not None:
        env[ENV_TRACE_AFTER] = str(traced_after)
    data_file = project / ".coverage"
    data_file.unlink(missing_ok=True)
    command = [sys.executable, "-m", "coverage", "run", "--rcfile=rc.toml", f"--data-file={data_file}", "-m"]
    command += ["pytest", "-q", "-p", "no:cacheprovider", "-p", "regression.plugins.trace_once", "-c", "rc.toml"]
    command += ["tests"]
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    data = coverage.CoverageData(basename=str(data_file))
    data.read()
    return data


def test_one_context_per_test_function_not_per_parametrized_case(tmp_path):
    data = _run(_project(tmp_path), traced_after=None)
    assert data.measured_contexts() - {""} == {
        "tests/modules/01_one/test_one.py::test_first",
        "tests/modules/02_two/test_two.py::test_second",
        "tests/modules/02_two/test_two.py::TestPlain::test_plain",
    }
    source = str(tmp_path / "pkg" / "__init__.py")
    data.set_query_context("tests/modules/02_two/test_two.py::test_second")
    lines = set(data.lines(source))
    assert {6, 7, 8} <= lines  # both cases' lines under the one context: x * 2 (x=5) and the fall-through (x=0)


def test_cases_of_stages_already_traced_are_not_traced_again(tmp_path):
    data = _run(_project(tmp_path), traced_after=1)  # stage 01 already traced module 01's cases
    assert data.measured_contexts() - {""} == {
        "tests/modules/02_two/test_two.py::test_second",
        "tests/modules/02_two/test_two.py::TestPlain::test_plain",
    }
    data.set_query_context("tests/modules/01_one/test_one.py::test_first")
    assert not data.lines(str(tmp_path / "pkg" / "__init__.py"))

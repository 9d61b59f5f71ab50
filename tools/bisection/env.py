"""The one environment a bisect judges every commit in: the cell's interpreter and NumPy, made once.

``.nox/bisect-envs/<cell>/`` holds a venv of the cell's CPython with the cell's NumPy pin and the test
dependencies (``tools/matrix.py``), plus setuptools so the package reinstalls offline with
``--no-build-isolation``. A stamp file records what was installed; a later bisect on the same cell
reuses the venv and installs nothing. Per commit the judge reinstalls only the package, ``--no-deps``.
Every command here runs through ``run_with_timeout`` (killed whole at the time-out, even a silent one).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tools import matrix
from tools.harness import Finished, HarnessError, run_with_timeout

DEPS_STAMP = ".bisect-deps"
# The build backend, for offline --no-build-isolation installs. 70.1+: bdist_wheel is built in (older
# needs the `wheel` package), and `python -m venv` may bundle an older one that `>=61` would keep.
BUILD_DEPS = ("setuptools>=70.1",)


@dataclass(frozen=True)
class Env:
    python: str  # the interpreter the judge runs the chain with
    venv: str | None  # None: an interpreter used as it is (``--python``), nothing installed into it
    install: tuple[str, ...] | None  # the command that reinstalls the package, the worktree path appended


class EnvError(HarnessError):
    """The environment cannot be made (the message says what failed and how to fix it): exit 1."""


def requirements(cell: matrix.Cell) -> list[str]:
    return [cell.requirement, *matrix.TEST_DEPS, *BUILD_DEPS]


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _uv() -> str | None:
    return shutil.which("uv")


def create_command(interpreter: Path, venv: Path, uv: str | None) -> list[str]:
    if uv:
        return [uv, "venv", "--quiet", "--python", str(interpreter), str(venv)]
    return [str(interpreter), "-m", "venv", str(venv)]


def deps_command(venv: Path, reqs: list[str], uv: str | None) -> list[str]:
    """Wheels only, as the cells install NumPy: a pair without a wheel fails at once instead of compiling."""
    if uv:
        return [uv, "pip", "install", "--quiet", "--python", str(venv_python(venv)), "--only-binary", ":all:", *reqs]
    return [str(venv_python(venv)), "-m", "pip", "install", "--quiet", "--only-binary", ":all:", *reqs]


def package_command(venv: Path, uv: str | None) -> list[str]:
    """Reinstall the package alone: editable, ``--no-deps``, no build isolation (setuptools is in the venv)."""
    python = str(venv_python(venv))
    alone = ["--no-deps", "--no-build-isolation"]
    if uv:
        return [uv, "pip", "install", "--quiet", "--python", python, *alone, "--reinstall-package", "tinytorch", "-e"]
    return [python, "-m", "pip", "install", "--quiet", *alone, "--force-reinstall", "-e"]


def run_captured(command: list[str], timeout: float) -> tuple[Finished, str]:
    """Run ``command`` in its own process group, killed whole after ``timeout`` s; (how it ended, its output)."""
    with tempfile.TemporaryDirectory(prefix="tinytorch-bisect-env-") as folder:
        output = Path(folder) / "output"
        done = run_with_timeout(command, timeout=timeout, output=output)
        return done, output.read_text(encoding="utf-8", errors="replace")


def _run(command: list[str], what: str, timeout: float) -> None:
    done, output = run_captured(command, timeout)
    if done.timed_out:
        raise EnvError(f"{what} did not finish within {timeout:.0f} s ({' '.join(command)})")
    if done.returncode != 0:
        tail = output.strip().splitlines()[-1:] or ["no output"]
        raise EnvError(f"{what} failed ({' '.join(command)}): {tail[0]}")


def prepare(cell: matrix.Cell, interpreter: Path, root: Path, timeout: float, log=print) -> Env:
    """The cell's venv under ``root`` (created, or reused when its stamp matches), ready for the judge."""
    venv = root / cell.name
    uv = _uv()
    reqs = requirements(cell)
    stamp = venv / DEPS_STAMP
    wanted = "\n".join([str(interpreter.resolve()), *reqs]) + "\n"
    if not (stamp.is_file() and stamp.read_text(encoding="utf-8") == wanted and venv_python(venv).exists()):
        shutil.rmtree(venv, ignore_errors=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        log(f"bisect: making the {cell.name} venv {venv} (once; later bisects on {cell.name} reuse it)")
        _run(create_command(interpreter, venv, uv), f"creating the venv {venv}", timeout)
        _run(deps_command(venv, reqs, uv), f"installing {', '.join(reqs)} into {venv}", timeout)
        stamp.write_text(wanted, encoding="utf-8")
    return Env(python=str(venv_python(venv)), venv=str(venv), install=tuple(package_command(venv, uv)))


def has_module(python: str, name: str, timeout: float = 60.0) -> bool:
    """Whether ``python`` can import ``name`` (asked once, not at every step)."""
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({name!r}) is None)"
    done, _ = run_captured([python, "-c", probe], timeout)
    return done.returncode == 0 and not done.timed_out


def as_is(python: Path) -> Env:
    """``--python EXE``: judge with that interpreter and whatever it has installed; install nothing."""
    return Env(python=str(python), venv=None, install=None)

"""Find CPython 3.9–3.13 without asking the user to edit PATH, and never download one.

nox looks on PATH (and through its own discovery), where on this kind of machine the pyenv shims
answer "command not found" for every version but the global one. So we look ourselves, in order:

1. ``pythonX.Y`` on PATH, but only if it really runs and really is CPython X.Y (a shim may not);
2. pyenv: ``$(pyenv root)/versions/X.Y.*/bin/pythonX.Y``, newest patch first;
3. uv-managed interpreters (under ``uv python dir``).

:func:`expose` then links each interpreter found as ``pythonX.Y`` in one private directory and puts
that directory first on PATH, so nox and uv find exactly these. Only versioned names are linked, so
``python``/``python3`` on PATH keep meaning what they meant.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# -I -S: no site, no user paths: a quick probe, and nothing on the machine can change the answer.
_PROBE = "import sys; print(sys.implementation.name, *sys.version_info[:3])"
_PATCH_DIR = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")  # pyenv "3.12.1", not "3.12-dev" or "3.13.0t"


@dataclass(frozen=True)
class Interpreter:
    version: str  # "3.12"
    path: Path
    full_version: str  # "3.12.1"
    source: str  # "PATH" | "pyenv" | "uv"


def probe(executable: Path | str) -> str | None:
    """``"3.12.1"`` if ``executable`` runs and is CPython, else None (shims that fail, PyPy, junk)."""
    try:
        result = subprocess.run(
            [str(executable), "-I", "-S", "-c", _PROBE], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = result.stdout.split()
    if result.returncode != 0 or len(parts) != 4 or parts[0] != "cpython":
        return None
    return ".".join(parts[1:])


def _matches(version: str, full_version: str | None) -> bool:
    return full_version is not None and full_version.rsplit(".", 1)[0] == version


def _pyenv_root() -> Path | None:
    """``$PYENV_ROOT``, else what ``pyenv root`` says, else ``~/.pyenv`` if it exists."""
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    pyenv = shutil.which("pyenv")
    if pyenv:
        result = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
        if result.returncode == 0 and result.stdout.strip():
            return Path(result.stdout.strip())
    default = Path.home() / ".pyenv"
    return default if default.is_dir() else None


def pyenv_candidates(version: str, root: Path | None) -> list[Path]:
    """``root/versions/X.Y.Z/bin/pythonX.Y`` for every plain CPython X.Y.Z, newest patch first."""
    if root is None or not (root / "versions").is_dir():
        return []
    found = []
    for entry in (root / "versions").iterdir():
        match = _PATCH_DIR.match(entry.name)
        if match and f"{match[1]}.{match[2]}" == version:
            exe = entry / "bin" / f"python{version}"
            if exe.exists():
                found.append((int(match[3]), exe))
    return [exe for _, exe in sorted(found, reverse=True)]


_UV_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _uv_python_dir() -> Path | None:
    """Where uv keeps the interpreters it installed (``uv python dir``); None without uv."""
    uv = shutil.which("uv")
    if not uv:
        return None
    try:
        result = subprocess.run([uv, "python", "dir"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(result.stdout.strip()) if result.returncode == 0 and result.stdout.strip() else None


def uv_candidates(version: str, python_dir: Path | None = None) -> list[Path]:
    """``<uv python dir>/cpython-X.Y.Z-<platform>/bin/pythonX.Y``, newest patch first.

    Read from the directory rather than ``uv python list``, which probes every interpreter on the
    machine (shims included) and takes most of a second.
    """
    if python_dir is None:
        with _UV_LOCK:
            python_dir = _uv_python_dir()
    if python_dir is None or not python_dir.is_dir():
        return []
    pattern = re.compile(rf"^cpython-{re.escape(version)}\.(\d+)-")  # not "cpython-3.13.0+freethreaded"
    found = []
    for entry in python_dir.iterdir():
        match = pattern.match(entry.name)
        exe = entry / "bin" / f"python{version}"
        if match and "freethreaded" not in entry.name and exe.exists():
            found.append((int(match[1]), exe))
    return [exe for _, exe in sorted(found, reverse=True)]


def _path_candidates(version: str, search_path: str | None, pyenv_root: Path | None) -> list[Path]:
    """Every ``pythonX.Y`` on the search path, in PATH order (not just the first: it may be broken).

    pyenv's shims are left out: they can only dispatch to ``versions/*``, which :func:`pyenv_candidates`
    reads directly, and each failing shim costs a quarter of a second.
    """
    shims = pyenv_root / "shims" if pyenv_root is not None else None
    found = []
    for directory in (search_path if search_path is not None else os.environ.get("PATH", "")).split(os.pathsep):
        if shims is not None and Path(directory) == shims:
            continue
        exe = Path(directory or ".") / f"python{version}"
        if exe.is_file() and os.access(exe, os.X_OK) and exe not in found:
            found.append(exe)
    return found


def find(version: str, *, search_path: str | None = None, pyenv_root: Path | None = None) -> Interpreter | None:
    """The first working CPython ``version`` ("3.12") on PATH, then pyenv, then uv; None if absent."""
    root = pyenv_root if pyenv_root is not None else _pyenv_root()
    sources = (
        ("PATH", _path_candidates(version, search_path, root)),
        ("pyenv", pyenv_candidates(version, root)),
        ("uv", uv_candidates(version)),
    )
    for source, candidates in sources:
        for exe in candidates:
            full = probe(exe)
            if _matches(version, full):
                return Interpreter(version, exe, full, source)
    return None


def missing_reason(version: str) -> str:
    """The skip reason a report shows for a cell whose interpreter is absent: what, and how to get it."""
    return (
        f"python {version} not found on PATH, under pyenv or among uv's pythons: "
        f"`pyenv install {version}` or `uv python install {version}`"
    )


def discover(versions: tuple[str, ...] | list[str]) -> dict[str, Interpreter | None]:
    """:func:`find` for each version, probed concurrently (the noxfile runs this on every ``nox -l``)."""
    with ThreadPoolExecutor(max_workers=len(versions) or 1) as pool:
        return dict(zip(versions, pool.map(find, versions)))


def expose(found: dict[str, Interpreter | None], link_dir: Path) -> None:
    """Link each found interpreter as ``link_dir/pythonX.Y`` and put ``link_dir`` first on PATH.

    Links, not the interpreters' own bin directories: those also hold ``python3``, ``pip`` and
    friends, which would silently change what every other command on PATH means.
    """
    link_dir.mkdir(parents=True, exist_ok=True)
    for version, interpreter in found.items():
        link = link_dir / f"python{version}"
        # Resolve first: a nested nox finds these very links on PATH, and a link resolved after
        # being unlinked would point at itself.
        target = interpreter.path.resolve() if interpreter is not None else None
        if link.is_symlink() or link.exists():
            link.unlink()
        if target is not None:
            link.symlink_to(target)
    entries = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join([str(link_dir), *(e for e in entries if e != str(link_dir))])

"""A stage's outcome is a function of its inputs: keep results, and reuse one whose inputs did not change.

Like Bazel's and Pants' test-result caching. Every stage run records its inputs:

* the content hash of every checkout file the stage process imported or opened (``inputs.py`` reports
  them from inside the stage), plus — so that a test file added to a folder is never missed — every file
  of the stage's test folders, ``tests/*.py``, ``tests/data/``, the harness and the project settings;
* a digest of everything else that reaches the tests: the interpreter, the exact installed
  distributions, the chain's arguments for the stage and the environment variables the tests read.

The store (``.regression-cache/`` of the checkout, or ``--store``; git-ignored) keeps per cell and stage
the recorded result, records, log and coverage data, bounded in size (oldest use dropped first). A later
run whose stage has the same digest and whose recorded files all hash the same reuses the result instead
of running it; any difference runs it. A reused stage says so (``reused``: commit and date of the run it
comes from) — nothing reused is ever presented as freshly run.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from regression.common import ENV_INPUTS, ENV_RECORDS, ENV_STORE, ENV_STORE_MAX_MB, OUTER_RUN_SETTINGS
from regression.exits import UsageError
from regression.schema import SchemaError, StageResult, current

# The store is a cache: an entry of a version this build does not read, or whose result does not have the
# shape of a ``StageResult``, is a miss (run the stage), never an error.
STORE_SCHEMA = current("entry.json")
DEFAULT_MAX_MB = 1024

# Environment variables that reach the tests and can change an outcome (prefixes and exact names).
_ENV_PREFIXES = ("TINYTORCH_", "NPY_", "OPENBLAS_", "OMP_", "MKL_", "HYPOTHESIS", "PYTEST_", "COVERAGE_")
_ENV_NAMES = ("PYTHONHASHSEED", "PYTHONPATH", "PYTHONWARNINGS", "PYTHONDEVMODE", "PYTHONOPTIMIZE", "LANG", "LC_ALL")
# Set per run or per output folder, or by the run around the chain: they say where things go, not what the
# tests do (and a stage process never sees the outer run's: stage.build_env drops them).
_ENV_IGNORED = (*OUTER_RUN_SETTINGS, ENV_RECORDS, ENV_INPUTS, "COVERAGE_FILE")
# Files every stage reads whatever it imports (besides its own test folders).
_ALWAYS = ("conftest.py", "pyproject.toml", "coverage.toml", "setup.cfg", "pytest.ini", "tox.ini")
_ALWAYS_DIRS = ("tests/data", "tests/regression")


def file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


class Hashes:
    """File hashes of one chain run, each file read once."""

    def __init__(self, root: Path):
        self.root = root
        self._seen: dict[str, str | None] = {}

    def of(self, rel: str) -> str | None:
        if rel not in self._seen:
            self._seen[rel] = file_digest(self.root / rel)
        return self._seen[rel]


def fixed_inputs(root: Path, test_folders: list[str]) -> list[str]:
    """Files a stage depends on whatever it imports: its test folders (every file, so a new test counts),
    the top-level test helpers and data, the harness, the project settings."""
    found = {rel for rel in _ALWAYS if (root / rel).is_file()}
    found |= {p.relative_to(root).as_posix() for p in (root / "tests").glob("*.py")}
    for folder in [*test_folders, *_ALWAYS_DIRS]:
        for path in (root / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                found.add(path.relative_to(root).as_posix())
    return sorted(found)


@functools.lru_cache(maxsize=1)
def installed_distributions() -> tuple[str, ...]:
    """``name==version`` of every distribution of this interpreter: read once per chain, not per stage."""
    from importlib.metadata import distributions

    return tuple(sorted({f"{d.metadata['Name']}=={d.version}" for d in distributions() if d.metadata["Name"]}))


def environment_digest(material: dict, env: dict) -> str:
    """Digest of the interpreter, the installed distributions, the stage's arguments and relevant env."""
    dists = list(installed_distributions())
    relevant = {
        k: v for k, v in env.items() if (k.startswith(_ENV_PREFIXES) or k in _ENV_NAMES) and k not in _ENV_IGNORED
    }
    blob = {
        "python": sys.version,
        "executable": sys.executable,
        "cache_tag": sys.implementation.cache_tag,
        "distributions": dists,
        "stage": material,
        "env": dict(sorted(relevant.items())),
    }
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Hit:
    folder: Path
    result: StageResult
    cell: str | None  # the cell whose run stored it (its records carry that name)
    root: str | None  # the checkout it ran in (its tinytorch_file is under it)
    commit: str | None
    date: str


class StageStore:
    def __init__(self, folder: Path, max_bytes: int = DEFAULT_MAX_MB * 1024 * 1024):
        self.folder = folder
        self.max_bytes = max_bytes

    @classmethod
    def for_root(cls, root: Path, override: Path | None = None) -> StageStore:
        folder = override or Path(os.environ.get(ENV_STORE) or root / ".regression-cache")
        raw = os.environ.get(ENV_STORE_MAX_MB, "").strip()
        try:
            megabytes = float(raw) if raw else DEFAULT_MAX_MB
        except ValueError:
            megabytes = float("nan")
        if not 0 < megabytes < float("inf"):  # also refuses nan
            raise UsageError(
                f"{ENV_STORE_MAX_MB}={raw!r}: not a size in megabytes; set a positive number such as "
                f"{DEFAULT_MAX_MB}, or unset it"
            )
        return cls(folder.resolve(), int(megabytes * 1024 * 1024))

    def _stage_dir(self, cell: str, key: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "._+-" else "_" for c in cell)
        return self.folder / safe / key

    def lookup(self, cell: str, key: str, digest: str, hashes: Hashes, fixed: list[str], commit: str | None):
        """A stored run of this stage whose digest matches and whose inputs all hash as now (and, with
        ``commit``, which ran at that commit), else None."""
        base = self._stage_dir(cell, key)
        if not base.is_dir():
            return None
        for folder in sorted(base.iterdir(), reverse=True):
            entry = _read_entry(folder)
            if entry is None or entry.get("digest") != digest:
                continue
            if commit is not None and entry.get("commit") != commit:
                continue
            inputs = entry.get("inputs", {})
            if not isinstance(inputs, dict) or not set(fixed) <= set(inputs):
                continue  # a file was added to a test folder (or the harness) since
            if all(hashes.of(rel) == sha for rel, sha in inputs.items()):
                hit = _hit(folder, entry)
                if hit is not None:
                    _touch(folder)
                    return hit
        return None

    def save(
        self,
        cell: str,
        key: str,
        digest: str,
        inputs: dict,
        result: StageResult,
        files: dict[str, Path],
        commit: str | None,
        ran_as: tuple[str | None, Path | None] = (None, None),
    ) -> None:
        """Keep one stage run: written to a temporary folder of this run, then renamed into place. ``ran_as``:
        the cell and checkout it ran in, stored beside the result (a later run relabels and relocates it)."""
        base = self._stage_dir(cell, key)
        base.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256((digest + json.dumps(inputs, sort_keys=True)).encode()).hexdigest()[:20]
        final = base / name
        work = base / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        work.mkdir()
        try:
            for stored, source in files.items():
                if source is not None and source.exists():
                    shutil.copyfile(source, work / stored)
            entry = {
                "schema": STORE_SCHEMA,
                "digest": digest,
                "inputs": inputs,
                "commit": commit,
                "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()) + " UTC",
                "result": dict(result.to_json(), cell=ran_as[0], root=None if ran_as[1] is None else str(ran_as[1])),
            }
            (work / "entry.json").write_text(json.dumps(entry, sort_keys=True, default=str), encoding="utf-8")
            if final.exists():
                shutil.rmtree(final, ignore_errors=True)  # same inputs, same outcome: the newer copy wins
            os.replace(work, final)
        except OSError:
            pass  # a full disk costs the cache entry, never the run
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)

    def prune(self) -> int:
        """Drop the least recently used entries until the store fits its bound; returns how many went."""
        if not self.folder.is_dir():
            return 0
        entries = []
        for entry in self.folder.glob("*/*/*/entry.json"):
            folder = entry.parent
            size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
            entries.append((entry.stat().st_mtime, size, folder))
        total = sum(size for _, size, _ in entries)
        dropped = 0
        for _, size, folder in sorted(entries, key=lambda e: e[0]):
            if total <= self.max_bytes:
                break
            shutil.rmtree(folder, ignore_errors=True)
            total -= size
            dropped += 1
        return dropped


def _read_entry(folder: Path) -> dict | None:
    try:
        entry = json.loads((folder / "entry.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a damaged or half-written entry is simply not a hit
    if not isinstance(entry, dict) or entry.get("schema") != STORE_SCHEMA or not isinstance(entry.get("result"), dict):
        return None
    return entry


def _hit(folder: Path, entry: dict) -> Hit | None:
    """The entry's result read back as a ``StageResult``; None (a miss) when it does not have that shape."""
    stored = entry["result"]
    try:
        result = StageResult.from_json(stored, str(folder / "entry.json"))
    except SchemaError:
        return None

    def text(value):
        return value if isinstance(value, str) else None

    date = text(entry.get("date")) or "?"
    return Hit(folder, result, text(stored.get("cell")), text(stored.get("root")), text(entry.get("commit")), date)


def _touch(folder: Path) -> None:
    try:
        os.utime(folder / "entry.json")  # least recently used goes first
    except OSError:
        pass

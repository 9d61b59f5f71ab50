"""What ``nox -s bisect`` costs over a 16-commit history, and whether it names the right commit.

A throw-away clone of this checkout's HEAD gets 16 more commits: 15 that change only documentation and,
at commit 9, the ``codec_scale_4bit`` mutant (an int8 scale regression, first red at stage 03 in module
03, tools/mutants/catalogue.py). ``python -m tools.bisection --good <HEAD> --cell <this interpreter's
cell> --module 3`` then searches it as a maintainer would after a red report (the cell's venv made by the
tool itself the first time, as on a fresh machine). Rows: the wall time (≤ 40 s) and the commit it
names (must be commit 9).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MUTANT = "codec_scale_4bit"
COMMITS = 16
BROKEN_AT = 9  # which of the 16 brings the regression


def _git(repo: Path, *args: str) -> str:
    command = ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def _history(work: Path) -> tuple[Path, str, str]:
    """(the clone, its good commit, the commit that breaks it)."""
    from tools import mutants  # `python -m benchmarks` runs from the checkout: tools/ is importable

    repo = work / "repo"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(repo)], check=True)
    good = _git(repo, "rev-parse", "HEAD")
    broken = ""
    for i in range(1, COMMITS + 1):
        if i == BROKEN_AT:
            mutants.apply_mutant(repo, mutants.by_name([MUTANT])[0])
            message = f"commit {i}: int8 codes at 4 bits ({MUTANT})"
        else:
            notes = repo / "docs-bench.md"
            notes.write_text(notes.read_text() + f"line {i}\n" if notes.exists() else f"line {i}\n")
            message = f"commit {i}: documentation"
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", message)
        if i == BROKEN_AT:
            broken = _git(repo, "rev-parse", "HEAD")
    return repo, good, broken


def _cell() -> str:
    numpy = ".".join(np.__version__.split(".")[:2])
    return f"py{'.'.join(platform.python_version_tuple()[:2])}-np{numpy}"


def run() -> list[dict]:
    work = Path(tempfile.mkdtemp(prefix="tinytorch-bisect-cost-"))
    try:
        repo, good, broken = _history(work)
        out = work / "bisect.json"
        command = [sys.executable, "-m", "tools.bisection", "--repo", str(repo), "--good", good]
        command += ["--cell", _cell(), "--module", "3", "--out", str(out), "--timeout", "300"]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        result = json.loads(out.read_text()) if out.is_file() else {}
        named = (result.get("first_bad") or {}).get("sha") or ""
        if done.returncode not in (0, 1) or not named:
            print(f"[bisect_cost] bisect exited {done.returncode}: {done.stderr.strip()[-2000:]}", file=sys.stderr)
        right = bool(named) and named == broken
        steps = len(result.get("steps", []))
        venv = result.get("env_seconds") or 0.0
        return [
            {
                "figure": f"nox -s bisect, {COMMITS} commits, broken at {BROKEN_AT} ({steps} steps, venv {venv:.1f} s)",
                "value": round(seconds, 3),
                "unit": "s",
                "target": "<= 40 s",
                "ok": right and seconds <= 40,
            },
            {
                "figure": f"bisect names commit {BROKEN_AT} ({(named or 'nothing')[:12]})",
                "value": 1.0 if right else 0.0,
                "unit": "",
                "target": "1",
                "ok": right,
            },
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)

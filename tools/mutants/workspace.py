"""The checkout a mutant runs in: a snapshot of the sources, and the mutant's edits applied to a copy of it.

The real tree is never edited. One snapshot is taken per run (so a parallel edit of the checkout cannot
leak into some mutants and not others); each mutant gets its own copy of that snapshot, and its edits are
exact substitutions: an ``old`` text that no longer occurs exactly once makes the mutant *stale*, refused
loudly before anything runs — a stale mutant must be updated, never silently skipped.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Iterable, Sequence

from tools.harness import HarnessError, write_text_atomic
from tools.mutants.catalogue import Edit, Mutant

REPO_ROOT = Path(__file__).resolve().parents[2]  # the checkout this package belongs to: the default --root
EXCLUDED_TOP = frozenset({".git", ".nox", "reports", ".venv", "htmlcov"})  # never part of a snapshot


class StaleMutant(HarnessError):
    """A mutant's ``old`` text no longer occurs exactly once in its file, its file is gone, or the copy does
    not hold the mutated text after writing: nothing about the mutant could be tested (exit 1)."""


# --------------------------------------------------------------------------------------------- snapshots
def source_files(root: Path) -> list[str]:
    """Files of the checkout to copy: what git tracks plus what it does not ignore, minus build/report dirs.

    Untracked files count (an uncommitted quantization module is what the maintainer is testing). Without
    git (or outside a work tree) every file is taken except the excluded top folders and caches.
    """
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8")
        names = [n for n in out.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
        names = [n for n in names if "__pycache__" not in n.split("/") and ".egg-info/" not in n]
    keep = [n for n in names if n.split("/", 1)[0] not in EXCLUDED_TOP]
    return sorted(n for n in keep if (root / n).is_file())  # tracked files deleted in the work tree drop out


def snapshot(root: Path, dest: Path, files: Iterable[str]) -> None:
    """Copy ``files`` (relative paths) from ``root`` into ``dest``."""
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)


def copy_any(src: Path, dest: Path) -> None:
    """Copy a file or a whole folder (merged into an existing one)."""
    if src.is_dir():
        shutil.copytree(src, dest, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dest)


# --------------------------------------------------------------------------------------------- substitution
def apply_edit(text: str, edit: Edit, mutant_name: str) -> str:
    """``text`` with ``edit`` applied; ``StaleMutant`` unless ``edit.old`` occurs exactly once."""
    count = text.count(edit.old)
    if count != 1:
        where = "does not occur" if count == 0 else f"occurs {count} times"
        raise StaleMutant(
            f"mutant {mutant_name} no longer applies to {edit.file}: update its `old` text "
            f"(it {where}; it must occur exactly once): {edit.old!r}"
        )
    return text.replace(edit.old, edit.new, 1)


def mutate_sources(root: Path, mutant: Mutant) -> dict[str, str]:
    """{file: mutated text} for ``mutant`` against the sources under ``root``; writes nothing."""
    texts: dict[str, str] = {}
    for edit in mutant.edits:
        if edit.file not in texts:
            path = root / edit.file
            if not path.is_file():
                raise StaleMutant(f"mutant {mutant.name} no longer applies to {edit.file}: the file does not exist")
            texts[edit.file] = path.read_text(encoding="utf-8")
        texts[edit.file] = apply_edit(texts[edit.file], edit, mutant.name)
    return texts


def stale_problems(root: Path, mutants: Sequence[Mutant]) -> list[str]:
    """One message per mutant that does not apply to the sources under ``root`` (empty = all apply)."""
    problems = []
    for mutant in mutants:
        try:
            mutate_sources(root, mutant)
        except StaleMutant as error:
            problems.append(str(error))
    return problems


def apply_mutant(root: Path, mutant: Mutant) -> None:
    """Write ``mutant``'s edits into the copy at ``root`` (all checked before any file is written, each
    written atomically), then read each file back: the copy must hold exactly the mutated text, or nothing
    about the mutant is tested."""
    texts = mutate_sources(root, mutant)
    for rel, text in texts.items():
        write_text_atomic(root / rel, text)
    for rel, text in texts.items():
        if (root / rel).read_text(encoding="utf-8") != text:
            raise StaleMutant(f"mutant {mutant.name}: {rel} in the copy does not hold the mutated text after writing")

"""One writer per output folder, and temporaries that belong to their run. Standard library only (POSIX).

    with exclusive(out, wait=True, who="report.py"):   # raises FolderBusy with wait=False
        publish(out, {"regression.json": text, "regression.md": md, "regression.html": page})

``exclusive`` takes an ``fcntl.flock`` on ``<folder>/.lock`` (created if needed, holding ``<pid> <who>``).
A second writer waits, saying so once on ``stderr`` (``report.py: waiting for pid 123 (report.py), which
is writing reports``), or with ``wait=False`` raises ``FolderBusy`` naming the holder's pid. The kernel
drops the lock when its holder dies, however it dies, so a killed run never blocks the next one. The lock
file is removed on release (so a folder ends as it was); a waiter that then holds the lock of a removed
file notices (its inode is no longer the path's) and locks the new one, so two writers never both hold it.

``publish`` writes every file to a temporary beside it (``.<name>.<pid>-<random>.tmp``, flushed and
fsync'd), and only when all are written renames them into place, one after the other: readers see each
file whole, old or new. A failed write (full disk, ``RLIMIT_FSIZE``) removes this run's temporaries and
raises before anything is renamed, so the previous files stay published together. Cleaning touches only
this run's own temporaries and those whose pid is provably dead (no such process) — never a live run's.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import sys
from pathlib import Path
from typing import Iterator, Mapping, TextIO

LOCK_NAME = ".lock"
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # a folder name's ESC or newline is shown, never obeyed
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)(?:-[0-9a-f]+)?\.tmp$")  # also common.py's ``.<name>.<pid>.tmp``


class FolderBusy(RuntimeError):
    """Another live process holds the folder's lock (``wait=False``)."""

    def __init__(self, folder: Path, pid: int | None, holder: str):
        self.folder, self.pid, self.holder = folder, pid, holder
        who = f"pid {pid} ({holder})" if pid else "another process (pid not known yet)"
        super().__init__(_shown(f"{folder} is being written by {who}"))


def _shown(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def _holder(fd: int) -> tuple[int | None, str]:
    """(pid, who) written in the lock file by its holder; (None, "?") before it has written them."""
    try:
        first = os.pread(fd, 200, 0).decode("utf-8", "replace").split("\n", 1)[0].split(" ", 1)
        return int(first[0]), (first[1] if len(first) > 1 else "?")
    except (OSError, ValueError):
        return None, "?"


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


@contextlib.contextmanager
def exclusive(folder, wait: bool = True, who: str = "report.py", stream: TextIO | None = None) -> Iterator[Path]:
    """Hold ``folder``'s exclusive lock for the ``with`` block (the folder is created if missing); yields
    the lock file. ``wait=False``: raise ``FolderBusy`` at once if a live process holds it; else wait,
    saying so once on ``stream`` (default stderr). Raises ``OSError`` if the folder cannot hold a lock file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    said = False
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                pid, holder = _holder(fd)
                if not wait:
                    raise FolderBusy(folder, pid, holder) from None
                if not said:
                    by = f"pid {pid} ({holder})" if pid else "another process"
                    message = _shown(f"{who}: waiting for {by}, which is writing {folder}")
                    print(message, file=stream or sys.stderr, flush=True)
                    said = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            if not _same_file(fd, path):  # its holder removed it while we waited: lock the folder's current one
                os.close(fd)
                continue
        except BaseException:
            os.close(fd)
            raise
        break
    try:
        mine = f"{os.getpid()} {who}\n".encode()
        with contextlib.suppress(OSError):  # a full disk must not stop the run here: the lock itself is held
            os.pwrite(fd, mine, 0)
            os.ftruncate(fd, len(mine))
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # still ours: nobody else can hold it, and a waiter re-checks the inode
        os.close(fd)  # releases the lock


def pid_alive(pid: int) -> bool:
    """False only if no process ``pid`` exists (provably dead); a process of another user counts as alive."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def temporary_name(name: str) -> str:
    """``.<name>.<pid>-<random>.tmp``: whose it is, and unique even within one process."""
    return f".{name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"


def clean_temporaries(folder, names=None) -> list[Path]:
    """Remove temporaries (of ``names``, or any) left in ``folder`` by a dead process; a live process's —
    this one's included — are kept (a run removes its own when it fails). Returns what was removed."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in Path(folder).iterdir():
            match = _TEMPORARY.match(entry.name)
            if not match or (names is not None and match["name"] not in names):
                continue
            pid = int(match["pid"])
            if not pid_alive(pid):
                with contextlib.suppress(OSError):
                    entry.unlink()
                    removed.append(entry)
    return removed


def publish(folder, files: Mapping[str, str]) -> None:
    """Write every ``{name: text}`` into ``folder``: all to temporaries first, then renamed into place.
    Any error (``OSError`` with ``filename`` set to the file being written) removes this run's temporaries
    and leaves every previously published file as it was."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    clean_temporaries(folder, set(files))
    written: list[tuple[Path, Path]] = []
    try:
        for name, text in files.items():
            target = folder / name
            tmp = folder / temporary_name(name)
            written.append((tmp, target))
            try:
                with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as handle:
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())
            except OSError as error:
                error.filename = str(target)
                raise
        for tmp, target in written:
            os.replace(tmp, target)
    except BaseException:
        for tmp, _ in written:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise

"""What every process of the machinery shares and may import: standard library only.

The words every file holds — outcome, variant, pairing, classification, record kind — are defined here, once,
as ``str`` enums: each member *is* its string, so a record written from one reads exactly as before and
``"failed" == Outcome.FAILED`` holds; the four classification names are the ones users read in every report.

``run_with_timeout`` is the one way the chain, the mutants and bisect start a child that may hang: the
child gets its own process group, and on time-out, on cancellation or when the run is interrupted the
whole group is killed — grandchildren included, and whether or not the child ever prints a line (a
runner that checks its clock only when a line arrives never kills a silent, hung child). ``Stop`` is what
a signal does to a runner whose children end their own children on SIGTERM (the bisect and its judge).
"""

from __future__ import annotations

import contextlib
import enum
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence


class StrEnum(str, enum.Enum):
    """``enum.StrEnum`` for Python 3.9/3.10: str() and format() give the value, not ``Class.NAME``."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    def __repr__(self) -> str:  # a member reads as the string it is, in messages and lists alike
        return repr(self.value)


class Outcome(StrEnum):
    PASSED = "passed"
    XPASSED = "xpassed"
    FAILED = "failed"
    ERROR = "error"  # setup or teardown failed
    COLLECT_ERROR = "collect_error"  # a file or folder that failed to collect
    SKIPPED = "skipped"
    XFAILED = "xfailed"
    FLAKY = "flaky"  # failed, then passed on its rerun in a fresh process: never red, never green


class Variant(StrEnum):
    FP32 = "fp32"
    INT8 = "int8"  # weight-only per-channel: the default twin
    INT8STATIC = "int8static"  # calibrated static activation ranges
    INT8TENSOR = "int8tensor"  # one scale per tensor
    NONE = "none"  # a test that takes no model variant


class Pairing(StrEnum):
    PAIRED = "paired"  # run on fp32 and int8 twins: the twin says whether the float path breaks
    INT8_ONLY = "int8-only"  # int8 by design
    NO_VARIANT = "no-variant"


class Classification(StrEnum):
    BY_QUANTIZATION = "broken by quantization"
    REGARDLESS = "broken regardless"
    LAYERING = "import/layering break"
    EMPTY = "empty or uncollectable stage"


class RecordKind(StrEnum):
    TEST = "test"
    COLLECT_ERROR = "collect_error"
    SESSION = "session"


PASS_OUTCOMES = frozenset({Outcome.PASSED, Outcome.XPASSED})
FAIL_OUTCOMES = frozenset({Outcome.FAILED, Outcome.ERROR, Outcome.COLLECT_ERROR})
NEUTRAL_OUTCOMES = frozenset({Outcome.SKIPPED, Outcome.XFAILED})
CLASSIFICATIONS = tuple(member.value for member in Classification)


POLL_SECONDS = 0.05  # how often a waiting runner looks at its clock and its cancel flag


@dataclass(frozen=True)
class Finished:
    returncode: int  # negative: killed by that signal (-9 on time-out or cancellation)
    timed_out: bool
    cancelled: bool
    seconds: float


class ProcessGroups:
    """Every process group started and not yet reaped, so that a signal to the parent can end them all."""

    def __init__(self):
        self._lock = threading.Lock()
        self._groups: set[int] = set()

    def add(self, pgid: int) -> None:
        with self._lock:
            self._groups.add(pgid)

    def discard(self, pgid: int) -> None:
        with self._lock:
            self._groups.discard(pgid)

    def kill_all(self, sig: int = signal.SIGKILL) -> int:
        with self._lock:
            groups = list(self._groups)
        for pgid in groups:
            kill_group(pgid, sig)
        return len(groups)


RUNNING = ProcessGroups()


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # already gone


def run_with_timeout(
    command: Sequence[str],
    *,
    timeout: float,
    output: Path,
    cwd: Path | None = None,
    env: dict | None = None,
    cancelled: Callable[[], bool] | None = None,
    append: bool = False,
) -> Finished:
    """Run ``command`` in a new process group, its stdout and stderr written to ``output``; kill the group
    after ``timeout`` seconds, or as soon as ``cancelled()`` turns true. Whatever the child left running
    in its group (a test's own ``sleep`` subprocess) is killed when it ends, too."""
    started = time.monotonic()
    with open(output, "ab" if append else "wb") as sink:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killpg reaches its children
        )
        RUNNING.add(process.pid)
        timed_out = was_cancelled = False
        try:
            while True:
                try:
                    process.wait(timeout=POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if time.monotonic() - started > timeout:
                    timed_out = True
                elif cancelled is not None and cancelled():
                    was_cancelled = True
                if timed_out or was_cancelled:
                    kill_group(process.pid)
                    process.wait()
                    break
        finally:
            kill_group(process.pid)  # leftovers of a child that ended on its own
            if process.poll() is None:
                process.kill()
                process.wait()
            RUNNING.discard(process.pid)
    return Finished(process.returncode, timed_out, was_cancelled, time.monotonic() - started)


class Stop:
    """SIGTERM, SIGINT and SIGHUP for a single-threaded runner of children that end their own children.

    Outside :meth:`run` a signal raises ``error(signum)`` at once. During a run it only asks: the running
    process groups get SIGTERM, so a child like the chain or the bisect judge can end its own process
    groups first (a SIGKILL would leave them running), the run is killed whole ``grace`` seconds later if
    it has not ended by then (at once on a second signal), and ``error(signum)`` is raised when it returns.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

    def __init__(self, error: Callable[[int], BaseException], grace: float):
        self.error, self.grace = error, grace
        self.signum: int | None = None
        self._asked: float | None = None  # when the running groups were sent SIGTERM
        self._running = False

    def handle(self, signum: int, _frame=None) -> None:
        if self.signum is not None:
            self.grace = 0.0  # asked twice: kill now
        self.signum = signum
        if not self._running:
            raise self.error(signum)

    def check(self) -> None:
        """Raise ``error(signum)`` if a signal has asked for the stop."""
        if self.signum is not None:
            raise self.error(self.signum)

    def _cancelled(self) -> bool:
        if self.signum is None:
            return False
        if self._asked is None:
            self._asked = time.monotonic()
            RUNNING.kill_all(signal.SIGTERM)
        return time.monotonic() - self._asked >= self.grace

    def run(self, command: Sequence[str], *, on_poll: Callable[[], None] | None = None, **kwargs) -> Finished:
        """:func:`run_with_timeout` under this stop; ``on_poll()`` is called at each of its polls."""
        self.check()

        def cancelled() -> bool:
            if on_poll is not None:
                on_poll()
            return self._cancelled()

        self._running = True
        try:
            done = run_with_timeout(command, cancelled=cancelled, **kwargs)
        finally:
            self._running = False
        self.check()
        return done

    @contextlib.contextmanager
    def installed(self) -> Iterator[Stop]:
        """These signals go to :meth:`handle` inside; the previous handlers come back on the way out. Each
        installation starts with no signal seen (a runner used twice in one process is not stopped twice)."""
        self.signum, self._asked = None, None
        previous = {sig: signal.signal(sig, self.handle) for sig in self.SIGNALS}
        try:
            yield self
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)


def tail_text(path: Path, lines: int, max_bytes: int = 16384) -> str:
    """The last ``lines`` lines of a (possibly huge) file, at most ``max_bytes`` of it, decoded leniently;
    says how much was cut so an excerpt is never mistaken for the whole."""
    size = path.stat().st_size if path.exists() else 0
    if not size:
        return ""
    with open(path, "rb") as handle:
        handle.seek(max(0, size - max_bytes))
        data = handle.read()
    text = data.decode("utf-8", errors="replace")
    kept = text.splitlines()[-lines:]
    cut = size - len("\n".join(kept).encode("utf-8", errors="replace"))
    head = [f"… ({cut} bytes cut; the whole output is in the stage log)"] if size > max_bytes and cut > 0 else []
    return "\n".join(head + [_cap(line, max_bytes // 4) for line in kept])


def _cap(line: str, limit: int) -> str:
    if len(line) <= limit:
        return line
    return line[:limit] + f"… ({len(line.encode('utf-8', errors='replace')) - limit} bytes cut)"

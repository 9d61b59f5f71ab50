"""The machinery's exit codes and its one error hierarchy — standard library only.

Every command line of the machinery (the chain, the report, mutants, bisect, the coverage table) ends
through ``run_main``: the one place an exception becomes an exit code and a one-line message. A command
raises the error that says what went wrong; it never picks a number itself.

    OK (0)           the answer is green / the work was done
    RED (1)          the answer is red, or a write failed (nothing half-written was published)
    USAGE (2)        a bad argument or an input this build refuses (named); nothing was touched
    INTERRUPTED (130) Ctrl-C; TERMINATED (143) SIGTERM — every child process group was ended
    CLOSED_PIPE (141) stdout's reader went away (``… | head``): said quietly, as a shell's SIGPIPE would
"""

from __future__ import annotations

import os
import signal
import sys
from enum import IntEnum
from typing import Callable, TextIO


class ExitCode(IntEnum):
    OK = 0
    RED = 1
    USAGE = 2
    INTERRUPTED = 128 + signal.SIGINT  # 130, as a shell reports Ctrl-C
    TERMINATED = 128 + signal.SIGTERM  # 143
    CLOSED_PIPE = 128 + signal.SIGPIPE  # 141, as a shell reports a pipe closed by its reader


class HarnessError(Exception):
    """Something the command cannot get past; its ``exit_code`` says what kind."""

    exit_code: ExitCode = ExitCode.RED


class UsageError(HarnessError, ValueError):
    """A bad argument: the message names the argument, the value and the fix."""

    exit_code = ExitCode.USAGE


class InputError(HarnessError, ValueError):
    """An input file this build cannot trust or read, named by file (and line)."""

    exit_code = ExitCode.USAGE


class SchemaVersionError(InputError):
    """A file written by a build whose schema version this build does not read."""


class WriteError(HarnessError):
    """An output could not be written (full disk, file-size limit); the previous result is kept."""

    exit_code = ExitCode.RED


class Interrupted(HarnessError):
    """The run got SIGTERM or Ctrl-C; every stage's process group was ended, nothing was published. A
    command may say what it kept in ``message``; the exit code follows the signal."""

    def __init__(self, signum: int, message: str | None = None):
        super().__init__(message or f"interrupted by {signal.Signals(signum).name}; nothing was published")
        self.signum = signum
        self.exit_code = ExitCode.TERMINATED if signum == signal.SIGTERM else ExitCode.INTERRUPTED


def exit_code_of(error: BaseException) -> ExitCode:
    """The exit code an exception stands for (an unexpected one is a crash: let it propagate instead)."""
    if isinstance(error, HarnessError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    raise TypeError(f"{type(error).__name__} is not one of the machinery's errors") from error


def run_main(main: Callable[[], int | None], prog: str, stderr: TextIO | None = None) -> int:
    """Run a command's body: its return value (None = OK), or the exit code of the error it raised, with
    ``prog: message`` on stderr. Anything else is a bug and keeps its traceback."""
    stream = stderr if stderr is not None else sys.stderr
    try:
        code = main()
    except (HarnessError, KeyboardInterrupt) as error:
        message = str(error) or type(error).__name__
        print(f"{prog}: {message}", file=stream, flush=True)
        return int(exit_code_of(error))
    except BrokenPipeError:
        # `… | head` stopped reading: no traceback; stdout goes to /dev/null so the interpreter's own
        # flush at exit cannot fail again (Python's documented way, "Note on SIGPIPE").
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), sys.stdout.fileno())
        return int(ExitCode.CLOSED_PIPE)
    return int(ExitCode.OK if code is None else code)

"""The one place an exception becomes an exit code (exits.run_main)."""

from __future__ import annotations

import io
import signal

import pytest

from regression.exits import (
    ExitCode,
    InputError,
    Interrupted,
    SchemaVersionError,
    UsageError,
    WriteError,
    exit_code_of,
    run_main,
)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UsageError("--jobs 0: run at least 1"), ExitCode.USAGE),
        (InputError("x.json: line 3 is not JSON"), ExitCode.USAGE),
        (SchemaVersionError("x.json: schema 9"), ExitCode.USAGE),
        (WriteError("could not write x"), ExitCode.RED),
        (Interrupted(signal.SIGTERM), ExitCode.TERMINATED),
        (Interrupted(signal.SIGINT), ExitCode.INTERRUPTED),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED),
    ],
)
def test_each_error_maps_to_its_named_code_with_one_line(error, code):
    err = io.StringIO()

    def body():
        raise error

    assert run_main(body, "prog", err) == code == exit_code_of(error)
    assert err.getvalue().startswith("prog: ") and err.getvalue().count("\n") == 1


def test_codes_are_the_documented_numbers():
    assert [int(c) for c in ExitCode] == [0, 1, 2, 130, 143]


def test_return_value_passes_through_and_a_bug_keeps_its_traceback():
    assert run_main(lambda: None, "prog") == 0
    assert run_main(lambda: ExitCode.RED, "prog") == 1
    with pytest.raises(ZeroDivisionError):
        run_main(lambda: 1 / 0, "prog")

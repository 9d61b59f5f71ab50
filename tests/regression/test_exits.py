"""The one place an exception becomes an exit code (exits.run_main)."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
from pathlib import Path

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
    assert [int(c) for c in ExitCode] == [0, 1, 2, 130, 143, 141]


def test_return_value_passes_through_and_a_bug_keeps_its_traceback():
    assert run_main(lambda: None, "prog") == 0
    assert run_main(lambda: ExitCode.RED, "prog") == 1
    with pytest.raises(ZeroDivisionError):
        run_main(lambda: 1 / 0, "prog")


def test_a_reader_that_stops_reading_is_a_quiet_exit_141_not_a_traceback(tmp_path):
    script = tmp_path / "lister.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})\n"
        "from regression.exits import run_main\n"
        "def main():\n"
        "    for n in range(200000):\n"
        "        print('line', n)\n"
        "sys.exit(run_main(main, 'lister'))\n"
    )
    done = subprocess.run(f"{sys.executable} {script} | head -1", shell=True, capture_output=True, text=True)
    assert done.stdout == "line 0\n" and done.stderr == ""
    status = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys; p = subprocess.Popen([sys.executable, {str(script)!r}], "
            "stdout=subprocess.PIPE); p.stdout.readline(); p.stdout.close(); sys.exit(p.wait())",
        ],
    )
    assert status.returncode == 141

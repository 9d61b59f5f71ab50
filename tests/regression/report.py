"""The matrix report CLI: stage x cell grid, first red stage per cell, every failure classified and grouped.

    python tests/regression/report.py --cells reports/cells --out reports
        [--baseline PATH] [--coverage-json PATH] [--fail-on-skipped] [--max-lines N] [--no-wait]

Reads only what the chain wrote (loading.py), turns it into one typed report (``schema.Report``, analysis.py:
classification in classify.py, causes in causes.py) and renders it (render.py, junit.py). Writes
``OUT/regression.json``, ``.md`` and ``.html`` under an exclusive lock on ``OUT`` (out_lock.py: a second run
into the same ``OUT`` waits, saying so on stderr, or with ``--no-wait`` exits 2 naming the holder's pid), all
three to temporaries first and then renamed into place, so a failed write (full disk, ``RLIMIT_FSIZE``) leaves
the previous report published whole. The last line printed is exactly ``regression: N passed, M failed``. Exit
status: 1 if anything failed, or a cell is partial or stale (with ``--baseline``: only if something NEW
failed, or partial/stale; with ``--fail-on-skipped`` also for a skipped cell), or the report could not be
written (``could not write FILE: REASON`` on stderr); 2 for bad arguments or input, or ``OUT`` busy with
``--no-wait`` (one line on stderr naming the file); else 0. Every error ends the run through
``exits.run_main``: it is raised as ``UsageError``, ``InputError`` or ``WriteError``, never picked as a number
here.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: `regression` lives in tests/, the registry in the checkout
    _HERE = Path(__file__).resolve().parent
    sys.path[0] = str(_HERE.parent)
    sys.path.append(str(_HERE.parents[1]))

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402

from regression.common import git_head, unwritable_folder  # noqa: E402
from regression.contract import Variant  # noqa: E402
from regression.exits import ExitCode, UsageError, WriteError, run_main  # noqa: E402
from regression.out_lock import FolderBusy, exclusive, publish  # noqa: E402
from regression.reporting.analysis import build_report  # noqa: E402
from regression.reporting.escape import LIMIT, clean_all, visible  # noqa: E402
from regression.reporting.junit import write_junit  # noqa: E402
from regression.reporting.loading import LoadedCell, ReportInputError, load_cells, read_json_file  # noqa: E402
from regression.reporting.render import render_html, render_markdown, render_text  # noqa: E402
from regression.schema import Report, check_version, current  # noqa: E402

PROG = "report.py"  # the prefix of every error line
NO_RESULTS = 'no results under {}: run `nox -s regression` first (one cell: nox -s "regression(py3.12-np2.5)")'


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description="Report on the regression chain's records.")
    parser.add_argument("--cells", required=True, type=Path, help="folder searched for */stages.json")
    parser.add_argument("--out", required=True, type=Path, help="where regression.{json,md,html} go")
    parser.add_argument("--baseline", type=Path, help="a previous regression.json: mark NEW / KNOWN / FIXED")
    parser.add_argument("--coverage-json", type=Path, help="coverage.py `coverage json` output: per-module table")
    parser.add_argument("--fail-on-skipped", action="store_true", help="a skipped cell makes the exit status 1")
    parser.add_argument("--max-lines", type=_positive_int, default=40, help="tests printed per red cell")
    parser.add_argument(
        "--no-wait", action="store_true", help="if another run is writing --out, exit 2 (naming it) instead of waiting"
    )
    return parser.parse_args(argv)


def check_out(out: Path) -> None:
    """``--out`` must be (or become) a writable folder — checked before anything is read or written."""
    problem = unwritable_folder(out, "--out")
    if problem:
        raise UsageError(problem)


def load_baseline(path: Path) -> dict:
    data = clean_all(read_json_file(path, "--baseline"), LIMIT)  # cleaned as the cells are: their test ids match
    if not isinstance(data, dict) or not isinstance(data.get("failures"), list) or "cells" not in data:
        raise ReportInputError(
            f"--baseline {path}: not a regression.json (no 'failures' list); pass the regression.json of a "
            "release, e.g. reports/signoff/regression.json"
        )
    check_version("regression.json", data.get("schema", current("regression.json")), f"--baseline {path}")
    for number, failure in enumerate(data["failures"]):  # matched on (stage, test id, variant)
        if (
            not isinstance(failure, dict)
            or type(failure.get("stage")) is not int
            or not isinstance(failure.get("test_id"), str)
            or not isinstance(failure.get("variant", Variant.NONE), (str, type(None)))
        ):
            raise ReportInputError(
                f"--baseline {path}: failures[{number}] is not a failure (stage number, test id, variant); "
                "pass the regression.json of a release"
            )
    return data


def load_coverage(path: Path) -> dict:
    """coverage.py's JSON report, and the ``coverage`` session's ``modules.json`` beside it when there is one
    (per-module thresholds and verdicts, so the HTML table agrees with the session's terminal table)."""
    data = read_json_file(path, "--coverage-json")
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise ReportInputError(f"--coverage-json {path}: not the output of `coverage json` (no 'files' table)")
    modules_file = Path(path).with_name("modules.json")
    modules = read_json_file(modules_file, "coverage table") if modules_file.is_file() else None
    if modules is not None and not (isinstance(modules, list) and all(isinstance(r, dict) for r in modules)):
        raise ReportInputError(f"{modules_file}: not the coverage session's per-module table; rerun `nox -s coverage`")
    for number, row in enumerate(modules or []):
        for key in _MODULE_COUNTS:  # computed with: must be counts (the text fields are only shown, escaped)
            value = row.get(key, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ReportInputError(f"{modules_file}: row {number}: {key!r} is {str(value)[:60]!r}, not a count")
        if (
            not isinstance(row.get("files", []), list)
            or row.get("number") is not None
            and not isinstance(row["number"], int)
        ):
            raise ReportInputError(f"{modules_file}: row {number}: 'files' must be a list and 'number' a module number")
    for name, info in data["files"].items():
        summary = info.get("summary", {}) if isinstance(info, dict) else None
        if not isinstance(summary, dict) or not all(_is_number(v) for k, v in summary.items() if k in _SUMMARY):
            raise ReportInputError(f"--coverage-json {path}: file {str(name)[:200]!r} has no summary of counts")
    totals = data.get("totals", {})
    if not isinstance(totals, dict) or not _is_number(totals.get("percent_covered", 0)):
        raise ReportInputError(f"--coverage-json {path}: 'totals' is not coverage.py's (no percent_covered number)")
    html_index = Path(path).parent / "html" / "index.html"
    found = {"json": data, "modules": modules, "html": str(html_index.resolve()) if html_index.is_file() else None}
    return clean_all(found, LIMIT)


_MODULE_COUNTS = ("statements", "covered_lines", "branches", "covered_branches")
_SUMMARY = ("num_statements", "covered_lines", "num_branches", "covered_branches", "percent_covered")


def _is_number(value) -> bool:
    return type(value) in (int, float) and value == value and abs(value) != float("inf")


OUTPUTS = ("regression.json", "regression.md", "regression.html")


def write_outputs(out: Path, report: Report) -> None:
    """All three files or none: rendered first, written to temporaries, then renamed into place."""
    publish(
        out,
        {
            "regression.json": json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n",
            "regression.md": render_markdown(report),
            "regression.html": render_html(report),
        },
    )


def _say(text: str, stream) -> None:
    """Print ``text`` whatever the stream's encoding can hold (the rest as ``\\u2014`` escapes)."""
    if stream is sys.stderr:  # one line, whatever a path or value in it holds: shown, never obeyed
        text = visible(text)
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text = text.encode(encoding, "backslashreplace").decode(encoding, "replace")
    except LookupError:
        text = text.encode("ascii", "backslashreplace").decode("ascii")
    print(text, file=stream, flush=True)


def read_inputs(args: argparse.Namespace) -> tuple[list[LoadedCell], dict | None, dict | None]:
    """(cells, baseline, coverage) — reading only: bad arguments or input touch nothing."""
    check_out(args.out)
    if not args.cells.is_dir():
        raise UsageError(NO_RESULTS.format(args.cells))
    cells = load_cells(args.cells)
    if not cells:
        raise UsageError(NO_RESULTS.format(args.cells))
    baseline = load_baseline(args.baseline) if args.baseline else None
    coverage = load_coverage(args.coverage_json) if args.coverage_json else None
    return cells, baseline, coverage


def run(argv: list[str] | None) -> ExitCode:
    """The command: read, analyse, write the files, print the summary; errors raised as ``exits``' kinds."""
    args = parse_args(argv)
    cells, baseline, coverage = read_inputs(args)
    roots = {c.run.root for c in cells if c.run.root}
    commit = git_head(Path(next(iter(roots)))) if len(roots) == 1 else None
    report = clean_all(build_report(cells, baseline, coverage, commit, args.fail_on_skipped))
    try:
        with exclusive(args.out, wait=not args.no_wait, who=PROG):  # one writer per --out at a time
            write_outputs(args.out, report)
            write_junit(args.out, report, cells)  # each cell's junit.xml and OUT/regression.junit.xml
    except FolderBusy as busy:
        raise UsageError(f"--out {busy}; wait for it, or run without --no-wait to queue behind it") from None
    except OSError as error:
        raise WriteError(f"could not write {error.filename or args.out}: {error.strerror or error}") from None
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    try:
        _say(render_text(report, args.max_lines, colour), sys.stdout)
    except OSError as error:  # stdout a full disk or a closed pipe: the report files are written
        raise WriteError(f"could not write the summary to stdout: {error.strerror or error}") from None
    return ExitCode.OK if report.verdict.ok else ExitCode.RED


def main(argv: list[str] | None = None) -> int:
    """``run`` through ``exits.run_main`` (the one place an error becomes an exit code); its one-line message
    shown on stderr with every control character escaped, in what stderr's encoding can hold."""
    message = io.StringIO()
    code = run_main(lambda: run(argv), PROG, message)
    if message.getvalue():
        _say(message.getvalue().rstrip("\n"), sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())

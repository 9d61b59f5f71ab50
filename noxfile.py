"""tinytorch's sessions. `nox -l` lists them; plain `nox` runs lint, tests, regression, coverage, report.

Matrix cells are named ``py<python>-np<numpy minor>`` (e.g. ``py3.12-np2.5``), the same name as their
results folder ``reports/cells/<cell>`` and their coverage context prefix ``<cell>@stage<KK>``:

    nox -s regression                          # the 10 default cells, then the report
    nox -s "regression(py3.12-np2.5)"          # one cell alone (then the report)
    nox -s "regression(py3.12-np2.5)" -- --upto 9     # chain.py arguments after --: stages 1..9 only
    nox -s "regression(py3.12-np2.5)" -- --module 12  # module 12's tests only
    nox -s report -- --baseline old/regression.json   # re-report, marking failures NEW or KNOWN
    nox -s signoff                             # every valid pair + coverage + bench: GO / NO-GO

Arguments after -- go to every selected session (a notified report gets none), so give them with one
kind of session selected; for plain `nox` use the environment: TINYTORCH_CHAIN_ARGS="--upto 9" nox
(every cell), TINYTORCH_REPORT_ARGS="--baseline F" (the report).
`nox -R` reuses the venvs and skips the installs: the fastest way to iterate. Interpreters are found on
PATH, under pyenv and among uv's pythons, never downloaded; a missing one skips its cells (the report
says how to get it), or fails them when CI is set, as in .ci/run.

The matrix and every pin live in tools/matrix.py; interpreter discovery in tools/interpreters.py;
coverage combining in tools/coverage_report.py; results layout and the sign-off verdict in tools/cells.py.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import nox

REPO_ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO_ROOT))

from tools import cells, interpreters, matrix  # noqa: E402

nox.needs_version = ">=2025.10.14"  # the first with download_python
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.download_python = "never"  # no network for interpreters: find them or skip/fail the cell
nox.options.reuse_venv = "yes"  # installs still run each time: pins changes apply, a no-op costs ~0.1 s
nox.options.sessions = ["prerequisites", "lint", "tests", "regression", "coverage", "report"]

# pyenv's shims fail here for all but the global version: link what we find where nox and uv look first.
FOUND = interpreters.discover(matrix.PYTHONS)
interpreters.expose(FOUND, REPO_ROOT / ".nox" / "_interpreters")
for _version in (v for v, found in FOUND.items() if found is None):  # stderr: `nox -l --json` stays clean
    print(f"noxfile: {interpreters.missing_reason(_version)}; its cells skip (error if CI is set)", file=sys.stderr)

CHAIN = "tests/regression/chain.py"
REPORT = "tests/regression/report.py"
DEFAULT = matrix.DEFAULT_PYTHON


def _cell_params(cell_list: list[matrix.Cell]):
    """``@nox.parametrize`` over (python, numpy) with the cell name as id: ``regression(py3.12-np2.5)``."""
    return nox.parametrize(
        ["python", "numpy"],
        [(cell.python, cell.numpy) for cell in cell_list],
        ids=[cell.name for cell in cell_list],
    )


def _run_cell(session: nox.Session, numpy: str, cell_list: list[matrix.Cell]) -> None:
    """Install the cell's pinned NumPy (wheels only) and tools, then run the 01→16 chain with coverage."""
    cell = matrix.Cell(str(session.python), numpy)
    if not os.environ.get(cells.ENV_NO_REPORT):
        session.notify("report", posargs=[])  # queued first: it also runs when this cell goes red
    session.install("--only-binary", ":all:", cell.requirement, matrix.COVERAGE, matrix.PYTEST_COV, *matrix.TEST_DEPS)
    if not cells.editable_is_current(Path(session.virtualenv.location)):
        session.install("--no-deps", "-e", ".")
    out = cells.cell_dir(cells.reports_root(), cell)
    extra = shlex.split(os.environ.get(cells.ENV_CHAIN_ARGS, ""))
    args = ["--cell", cell.name, "--out", str(out), "--coverage", *extra, *session.posargs]
    session.run("python", CHAIN, *args, "--check-only", silent=True)  # a bad argument: exit 2, nothing touched
    cells.reset_cell(cells.reports_root(), cell)
    place = f"{cell_list.index(cell) + 1}/{len(cell_list)}" if cell in cell_list else ""
    session.run("python", CHAIN, *args, env={cells.ENV_PROGRESS: place})


@nox.session(tags=["regression"])
@_cell_params(matrix.default_cells())
def regression(session: nox.Session, numpy: str) -> None:
    """Default matrix cell: the 01→16 chain on this Python × oldest/newest NumPy, with coverage."""
    _run_cell(session, numpy, matrix.default_cells())


@nox.session(tags=["signoff"], default=False)
@_cell_params(matrix.extra_cells())
def signoff_cell(session: nox.Session, numpy: str) -> None:
    """Sign-off-only cell: the chain on a Python × NumPy minor pair outside the default matrix."""
    _run_cell(session, numpy, matrix.extra_cells())


def _mark_skipped_cells(session: nox.Session, root: Path) -> None:
    """Replace what cells that cannot have run hold by a skipped marker saying why (chain.py --skipped)."""
    from_artifacts = bool(os.environ.get(cells.ENV_FROM_ARTIFACTS))
    for name, reason in cells.skip_reasons(root, cells.expected_cells(root), FOUND, from_artifacts).items():
        out = cells.clear_cell(root, name)  # old data of that cell must not reach coverage or the report
        session.run(sys.executable, CHAIN, "--cell", name, "--out", str(out), "--skipped", reason, silent=True)


@nox.session(venv_backend="none")
def report(session: nox.Session) -> None:
    """Stage × cell grid of reports/cells/* (terminal, JSON, Markdown, HTML); skipped cells say why."""
    root = cells.reports_root()
    for name in cells.prune_unknown(root):
        session.log(f"removed results of {name}: no longer a matrix cell")
    _mark_skipped_cells(session, root)
    extra = shlex.split(os.environ.get(cells.ENV_REPORT_ARGS, ""))
    session.run(sys.executable, REPORT, *cells.report_args(root), *extra, *session.posargs)


@nox.session(python=DEFAULT)
def coverage(session: nox.Session) -> None:
    """Combine every cell × stage coverage file; per-module table, HTML with contexts; fail under threshold."""
    session.notify("report", posargs=[])  # re-report with the per-module coverage table
    root = cells.reports_root()
    _mark_skipped_cells(session, root)
    session.install(matrix.COVERAGE)
    session.run("python", "-m", "tools.coverage_report", "--root", str(root), *session.posargs)  # e.g. --keep-data


@nox.session(python=DEFAULT)
def tests(session: nox.Session) -> None:
    """The whole test suite (tests/ and tools/tests) on one interpreter; pytest arguments after --."""
    session.install(*matrix.TEST_DEPS, matrix.COVERAGE, matrix.NOX)
    session.install("-e", ".")
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "tests", "tools/tests", *session.posargs)


@nox.session(venv_backend="none")
def prerequisites(session: nox.Session) -> None:
    """First, in seconds: what the suite needs outside Python (a headless Chromium), or the command to get it."""
    session.run(sys.executable, "tools/prerequisites.py")


@nox.session(python=DEFAULT)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the repository; the GitHub workflows against GitHub's schema
    (check-jsonschema) and zizmor's security audits, offline, zero findings (all pinned in tools/matrix.py);
    SCHEMA.md must be what the schema types generate."""
    session.install(matrix.RUFF, *matrix.WORKFLOW_LINTERS)
    session.run("ruff", "check", "--output-format", "concise", ".")
    session.run("ruff", "format", "--check", ".")
    # SCHEMA.md is generated from tests/regression/schema/ (stdlib only): stale is a lint failure.
    session.run("python", "-m", "regression.schema.reference", "--check", env={"PYTHONPATH": str(REPO_ROOT / "tests")})
    workflows = sorted(str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / ".github" / "workflows").glob("*.y*ml"))
    if not workflows:
        session.error("no workflow found under .github/workflows")
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows)
    session.run("zizmor", "--offline", "--no-progress", *workflows)


@nox.session(python=DEFAULT)
def bench(session: nox.Session) -> None:
    """Benchmark tables (python -m benchmarks): printed, and written to reports/bench.json."""
    session.install(*matrix.TEST_DEPS, matrix.COVERAGE, matrix.PYTEST_COV)  # psutil; pytest & co.; a covered chain
    session.install("-e", ".")
    out = cells.reports_root() / "bench.json"
    session.run("python", "-m", "benchmarks", "--out", str(out), *session.posargs)


@nox.session(python=DEFAULT, default=False)
def mutants(session: nox.Session) -> None:
    """Proof that the chain pinpoints: each catalogued mutant (tools/mutants/catalogue.py) must go red at its
    expected stage, pointing at its expected module with its expected classification (-- NAME ... for a subset)."""
    session.install(*matrix.TEST_DEPS)
    session.install("-e", ".")
    session.run("python", "-m", "tools.mutants", *session.posargs)


@nox.session(venv_backend="none", default=False)
def bisect(session: nox.Session) -> None:
    """Which commit broke it: git bisect with the chain as the judge (-- --good REF [--bad REF] [--cell C])."""
    if not session.posargs:
        session.error("give the range after --: nox -s bisect -- --good REF [--bad REF] (see tools/bisection/)")
    # The tool makes the cell's venv itself (the cell is known only once the report is read). Long
    # timeouts: on Ctrl-C it must stop its judge and remove its worktree before nox may kill it.
    session.run(
        sys.executable, "-m", "tools.bisection", *session.posargs, interrupt_timeout=60.0, terminate_timeout=30.0
    )


@nox.session(venv_backend="none", default=False)
def signoff(session: nox.Session) -> None:
    """Release check: lint, tests, every valid Python × NumPy pair, coverage, bench, report; GO / NO-GO.

    Runs a nested nox over those sessions with missing interpreters as errors and the results under
    reports/signoff/. Arguments after -- go to the report (e.g. -- --baseline reports/release.json).
    """
    root = REPO_ROOT / "reports" / "signoff"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    nox_report = root / "nox-sessions.json"
    command = [
        *(sys.executable, "-m", "nox", "--noxfile", str(REPO_ROOT / "noxfile.py")),
        *("--error-on-missing-interpreters", "--download-python", "never", "--report", str(nox_report)),
        *("--sessions", "lint", "tests", "regression", "signoff_cell", "coverage", "bench", "report"),
    ]
    # A stage result is reused only if it was recorded at this very commit with identical inputs: right
    # after `nox -s regression` its 10 cells are not run again, and nothing older than HEAD is trusted.
    chain_args = shlex.join(["--reuse", "same-commit", *shlex.split(os.environ.get(cells.ENV_CHAIN_ARGS, ""))])
    env = {
        **os.environ,
        cells.ENV_REPORTS: str(root),
        cells.ENV_REPORT_ARGS: shlex.join(["--fail-on-skipped", *session.posargs]),
        cells.ENV_CHAIN_ARGS: chain_args,
    }
    session.log(" ".join(command))
    subprocess.run(command, env=env, check=False)
    missing = [version for version, found in FOUND.items() if found is None]
    reused, total = cells.reused_stages(root)
    print(f"signoff: {reused} of {total} stage(s) reused from runs of this commit with identical inputs")
    reasons = cells.signoff_verdict(root, nox_report, missing)
    for reason in reasons:
        print(f"NO-GO reason: {reason}")
    print("NO-GO" if reasons else "GO: every cell, coverage threshold and benchmark passed")
    if reasons:
        session.error(f"NO-GO ({len(reasons)} reason(s)); details in {root}")

"""``python -m tools.mutants``: the command (``cli.main``) run through ``run_main``, the one place an
error becomes an exit code and a one-line message."""

from __future__ import annotations

from tools.harness import run_main
from tools.mutants.cli import PROG, main

raise SystemExit(run_main(main, PROG))

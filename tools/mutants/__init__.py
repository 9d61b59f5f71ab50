"""The mutants: proof that the regression chain pinpoints (``python -m tools.mutants``, ``nox -s mutants``).

Each mutant of ``catalogue.py`` (data) is an exact source edit plus the verdict the chain must give,
stated before it runs. ``cli.py`` is the command; ``workspace.py`` the snapshot of the checkout and the
edits; ``engine.py`` one mutant's run; ``verdict.py`` the judging; ``reuse_check.py`` the proof of the
stage store; ``results.py`` the table and ``mutants.json``. This file only re-exports the names the
tests and the benchmarks use.
"""

from __future__ import annotations

from tools.harness import CLASSIFICATIONS
from tools.mutants.catalogue import AREAS, MUTANTS, Edit, Mutant
from tools.mutants.cli import UnknownMutant, by_name, catalogue_problems, main, parse_args
from tools.mutants.engine import ChainRun, run_chain, run_one
from tools.mutants.results import SCHEMA, format_table, list_text, summary_line, write_results
from tools.mutants.reuse_check import reuse_problems
from tools.mutants.verdict import ERROR, MISS, OK, Outcome, judge, read_report, read_verdict
from tools.mutants.workspace import (
    REPO_ROOT,
    StaleMutant,
    apply_edit,
    apply_mutant,
    mutate_sources,
    snapshot,
    source_files,
    stale_problems,
)

__all__ = [
    "AREAS",
    "CLASSIFICATIONS",
    "ERROR",
    "MISS",
    "MUTANTS",
    "OK",
    "REPO_ROOT",
    "SCHEMA",
    "ChainRun",
    "Edit",
    "Mutant",
    "Outcome",
    "StaleMutant",
    "UnknownMutant",
    "apply_edit",
    "apply_mutant",
    "by_name",
    "catalogue_problems",
    "format_table",
    "judge",
    "list_text",
    "main",
    "mutate_sources",
    "parse_args",
    "read_report",
    "read_verdict",
    "reuse_problems",
    "run_chain",
    "run_one",
    "snapshot",
    "source_files",
    "stale_problems",
    "summary_line",
    "write_results",
]

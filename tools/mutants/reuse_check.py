"""``--check-reuse``: the proof that the warm stage store changes no verdict.

By default every mutant's chain reuses the control's stages whose recorded inputs the mutant did not
touch (``tests/regression/stages/stage_store.py``). With ``--check-reuse`` each mutant runs a second time with
``--no-reuse``, and the warm run must (1) give the same verdict and the same stage, module and
classification, and (2) have re-run exactly the stages whose recorded inputs include a file the mutant
edited — reusing one of those would hide the bug, re-running the others would mean the store keys on
more than its inputs. A mutant failing either check is a MISS.
"""

from __future__ import annotations

from pathlib import Path

from tools.harness import schema
from tools.mutants.catalogue import Mutant
from tools.mutants.engine import Runner, run_one
from tools.mutants.verdict import MISS, Outcome, read_report, read_typed


def check_reuse(
    mutant: Mutant, warm: Outcome, base: Path, work: Path, runner: Runner, keep_dir: Path, **run_kw
) -> Outcome:
    """Run ``mutant`` again without the store (``run_kw["store"]``, which the warm run used) in ``work``, its
    outputs kept in ``keep_dir``, and turn ``warm`` into a MISS naming each difference; returns ``warm``."""
    store = run_kw["store"]
    fresh = run_one(base, work, mutant, runner, keep_dir, upto=mutant.expected_stage, **{**run_kw, "store": None})
    problems = reuse_problems(mutant, warm, fresh, store)
    if problems:
        warm.verdict, warm.why = MISS, "stage store: " + "; ".join(problems)
    return warm


def reuse_problems(mutant: Mutant, warm: Outcome, fresh: Outcome, store: Path) -> list[str]:
    """What the warm run (stages reused from the control) did differently from a run with --no-reuse, and
    which stages it reused although their recorded inputs include a file the mutant edited (or re-ran
    although none did)."""
    problems = []
    if warm.got != fresh.got or warm.verdict != fresh.verdict:
        problems.append(f"with reuse {warm.got} ({warm.verdict}), without {fresh.got} ({fresh.verdict})")
    run = read_typed(Path(warm.artifacts or "") / "stages.json", "stages.json", schema.CellRun)
    edited = set(mutant.files)
    for stage in run.stages if run else []:
        recorded = recorded_inputs(store, stage.key)
        touched = bool(edited & recorded)
        if (stage.reused is not None) == touched:
            what = "reused although" if touched else "re-ran although no"
            problems.append(f"stage {stage.key} {what} recorded input was edited ({', '.join(sorted(edited))})")
    return problems


def recorded_inputs(store: Path, key: str) -> set[str]:
    """The inputs the control's run of stage ``key`` recorded in the store.

    Note: this reads the stage store's own ``<cell>/<key>/<run>/entry.json`` files (their ``inputs``
    field, ``stage_store.STORE_SCHEMA`` 1) directly — the store has no public reader for them; a change of
    that layout must change this function too."""
    found: set[str] = set()
    for entry in store.glob(f"*/{key}/*/entry.json"):
        found |= set((read_report(entry) or {}).get("inputs") or {})  # the control's, and any mutant's since
    return found

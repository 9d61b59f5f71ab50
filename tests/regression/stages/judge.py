"""A stage's verdict: ``judge_stage`` is the one place a stage becomes red or green, and why.

It reads only what the stage left — its typed records (``schema.TestRecord``/``SessionRecord``), pytest's
exit code, whether it was killed, the tail of its log — plus the problems found before it ran (a missing
test folder, a file that defines tests pytest did not collect). The report, mutants, bisect and sign-off
read its ``red`` and ``problems``; ``loading.py`` only adds a problem when a cell's files do not add up.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Sequence

from regression.common import LAYERING_MESSAGE, first_line, module_of, spec, violation_text
from regression.contract import FAIL_OUTCOMES, Classification, Outcome, RecordKind
from regression.schema import Problem, Record, SessionRecord, StageResult

if TYPE_CHECKING:
    from regression.stages.stage import Context, StagePlan

EMPTY, LAYERING, REGARDLESS = Classification.EMPTY, Classification.LAYERING, Classification.REGARDLESS


def judge_stage(
    stage_plan: StagePlan,
    records: Sequence[Record],
    problems: list[Problem],
    exit_code: int | None,
    timed_out: bool,
    output: str,
    ctx: Context,
) -> StageResult:
    """The stage's counts and verdict. Red when a test failed, a folder or file collected nothing, the guard
    refused an import outside any test, pytest exited non-zero for another reason, it timed out, or it
    collected nothing at all; a test that failed and then passed on its rerun (flaky) is none of these."""
    tests = [r for r in records if r.kind == RecordKind.TEST]
    collect_errors = [r for r in records if r.kind == RecordKind.COLLECT_ERROR]
    sessions = [r for r in records if isinstance(r, SessionRecord)]
    session = sessions[-1] if sessions else None
    problems = list(problems)
    outcomes = Counter(r.outcome for r in tests)
    per_module = session.collected_per_module if session else {}
    failing_modules = {r.module for r in collect_errors}
    for number in stage_plan.modules:
        rel = spec(number).test_folder
        if (ctx.root / rel).is_dir() and session and not per_module.get(spec(number).tag):
            if number not in failing_modules:
                message = f"{rel} collected no tests (test files must be named test_*.py)"
                problems.append(Problem(EMPTY, rel, message, module=number))
    violations = session.guard_violations if session else []
    explained = {r.test_id for r in tests + collect_errors if r.guard_violations}
    for violation in violations:
        if violation.get("nodeid") not in explained:
            problems.append(
                Problem(
                    LAYERING,
                    violation.get("nodeid") or f"<stage {stage_plan.key} startup>",
                    violation_text(violation),
                    module=module_of(violation.get("nodeid") or "") or stage_plan.stage,
                )
            )
    failing = sum(1 for r in tests if r.outcome in FAIL_OUTCOMES) + len(collect_errors)
    # Failures that passed on their rerun (rerun.py) explain pytest's exit code 1 without making it red.
    flaky_only = exit_code == 1 and not failing and any(r.outcome == Outcome.FLAKY for r in tests)
    whole_stage = f"<stage {stage_plan.key}>"
    if timed_out:
        message = f"stage killed after {ctx.timeout:.0f} s (raise --timeout or find the hanging test)"
        problems.append(Problem(REGARDLESS, whole_stage, message, module=stage_plan.stage))
    elif exit_code not in (None, 0) and not failing and not problems and not flaky_only:
        reason = _last_meaningful_line(output)
        # e.g. a conftest importing a later module: pytest stops before any test ran
        kind = LAYERING if LAYERING_MESSAGE.search(reason) else EMPTY
        message = f"pytest exited with code {exit_code}: {reason}"
        problems.append(Problem(kind, whole_stage, message, module=stage_plan.stage))
    collected = session.collected if session else 0
    red = bool(problems or failing or (exit_code != 0 and not flaky_only) or collected == 0)
    if collected == 0 and not problems and not failing:
        problems.append(Problem(EMPTY, whole_stage, "the stage collected no tests", module=stage_plan.stage))
    return StageResult(
        stage=stage_plan.stage,
        key=stage_plan.key,
        name=spec(stage_plan.stage).name,
        modules=list(stage_plan.modules),
        only_module=stage_plan.only_module,
        collected=collected,
        collected_per_module=per_module,
        passed=outcomes[Outcome.PASSED] + outcomes[Outcome.XPASSED],
        failed=outcomes[Outcome.FAILED],
        errors=outcomes[Outcome.ERROR],
        collect_errors=len(collect_errors),
        skipped=outcomes[Outcome.SKIPPED],
        xfailed=outcomes[Outcome.XFAILED],
        exit_code=exit_code,
        timed_out=timed_out,
        guard_violations=violations,
        problems=problems,
        red=red,
        python=session.python if session else None,
        numpy=session.numpy if session else None,
        tinytorch_file=session.tinytorch_file if session else None,
        stderr_tail=output,  # already the log's bounded tail (contract.tail_text)
    )


def _last_meaningful_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or line.startswith("E ")]
    return first_line((errors or lines or ["no output"])[-1])

"""What a red cell points at: the one failure of its first red stage that explains it, the module it names,
and the headline that says it in words (``stage 03: quantization broke module 03 layers — …``)."""

from __future__ import annotations

from regression.common import module_label
from regression.reporting.classify import BY_QUANTIZATION, EMPTY, LAYERING, REGARDLESS, layering_culprit
from regression.schema import Cause, Failure, PointsAt

_HEADLINE = {
    BY_QUANTIZATION: "quantization broke module {module}",
    REGARDLESS: "module {module} is broken regardless of quantization",
    LAYERING: "import/layering break in module {module}",
    EMPTY: "module {module}: empty or uncollectable stage",
}
_PRIORITY = {LAYERING: 0, EMPTY: 1, REGARDLESS: 2, BY_QUANTIZATION: 3}


def pick_points_at(first_red: int | None, failures: list[Failure]) -> Failure | None:
    """The failure a red cell points at, at its first red stage k: a layering break first (it is the cause
    of what else fails there), then a failure in module k's own folder, else the lowest module's; within
    those an empty stage, then a float-path failure (int8 failures follow from it), then quantization's."""
    at_stage = [f for f in failures if f.stage == first_red]
    if not at_stage:
        return None
    layering = [f for f in at_stage if f.classification == LAYERING]
    own = [f for f in at_stage if f.module == first_red]
    lowest = min((f.module for f in at_stage if f.module is not None), default=None)
    candidates = layering or own or [f for f in at_stage if f.module == lowest] or at_stage
    return min(candidates, key=lambda f: _PRIORITY[f.classification])


def blamed_module(first_red: int, failure: Failure) -> int | None:
    """The module a red cell names: for a layering break the module that made it (the importer the guard
    refused, the module that patched an earlier one); otherwise the first red stage's own module — stage
    k is where module k and the zoo models it makes possible arrive, so what turned it red came with k,
    even when the failing test lives in an earlier module's folder (a quantized conv bug fails module 03's
    forward checks on the stage-09 CNN: module 09's promise is the one broken)."""
    if failure.classification == LAYERING:
        return layering_culprit(failure.reason) or failure.module
    return first_red


def points_at(first_red: int | None, failures: list[Failure]) -> PointsAt | None:
    """The failure ``pick_points_at`` chooses, with the module ``blamed_module`` names; None when the first
    red stage (if any) has no failure to point at."""
    first = pick_points_at(first_red, failures)
    if first is None:
        return None
    module = blamed_module(first_red, first)
    return PointsAt(
        stage=first_red,
        module=module,
        module_label=module_label(module),
        test_module=first.module,
        file=first.file,
        test_id=first.test_id,
        classification=first.classification,
        reason=first.reason,
    )


def headline(at: PointsAt, failures: list[Failure], causes: list[Cause]) -> str:
    """``stage 03: quantization broke module 03 layers — 43 tests, 1 cause: AssertionError: …``."""
    first_red = at.stage
    tests = len({f.test_id for f in failures if f.stage == first_red})
    stage_causes = [c for c in causes if first_red in c.stages]
    top = next((c for c in stage_causes if at.test_id in c.test_ids), stage_causes[0] if stage_causes else None)
    what = _HEADLINE[at.classification].format(module=at.module_label)
    text = f"stage {first_red:02d}: {what} — {tests} test(s), {len(stage_causes)} cause(s)"
    return text + (f": {top.example}" if top else "")

"""What the report concludes: each failure NEW or KNOWN against a baseline (and what it had that is FIXED
now), and the GO / NO-GO verdict — red, partial, stale and flaky results are never called green."""

from __future__ import annotations

from regression.contract import PASS_OUTCOMES, RecordKind, Variant
from regression.reporting.loading import LoadedCell
from regression.schema import Baseline, CellSummary, Counts, Failure, Verdict
from regression.schema.report import Fixed

NEW, KNOWN, FIXED = "NEW", "KNOWN", "FIXED"  # a failure's status against the baseline, and what it had


def failure_key(stage: int, test_id: str, variant: str | None) -> tuple:
    """Baseline matching is cell-insensitive: the same test broken the same way in another cell is known."""
    return (stage, test_id, variant or Variant.NONE)


def baseline_keys(baseline: dict) -> set[tuple]:
    """The failures of a previous regression.json (as report.load_baseline checked it), as ``failure_key``s."""
    return {failure_key(f["stage"], f["test_id"], f.get("variant")) for f in baseline.get("failures", [])}


def apply_baseline(failures: list[Failure], cells: list[LoadedCell], baseline: dict) -> tuple[list[Failure], Baseline]:
    """(the failures with their status NEW or KNOWN, the counts and the baseline's failures that pass now)."""
    known = baseline_keys(baseline)
    marked = [f.replace(status=KNOWN if failure_key(f.stage, f.test_id, f.variant) in known else NEW) for f in failures]
    failing_now = {failure_key(f.stage, f.test_id, f.variant) for f in marked}
    passing_now = {
        failure_key(r.stage, r.test_id, r.variant)
        for cell in cells
        for r in cell.records
        if r.kind == RecordKind.TEST and r.outcome in PASS_OUTCOMES
    }
    fixed = sorted(known & passing_now - failing_now, key=lambda k: (k[0], k[1]))
    summary = Baseline(
        new=sum(1 for f in marked if f.status == NEW),
        known=sum(1 for f in marked if f.status == KNOWN),
        fixed=[Fixed(stage=s, test_id=t, variant=v) for s, t, v in fixed],
    )
    return marked, summary


def verdict(
    cells: list[CellSummary], counts: Counts, baseline: Baseline | None, fail_on_skipped: bool = False
) -> Verdict:
    """Red, partial and stale results are never called green; with a baseline, nothing NEW reads as a pass."""
    red = any(c.red for c in cells) or counts.failed > 0
    skipped = [c.cell for c in cells if c.skipped]
    partial = [c.cell for c in cells if c.partial]
    stale = [c.cell for c in cells if c.stale]
    flaky = [c.cell for c in cells if c.flaky]
    if baseline is not None:
        bad = baseline.new > 0
        text = f"NO-GO: {baseline.new} NEW failure(s)" if bad else "GO: nothing new and red"
        if baseline.known:
            text += f" ({baseline.known} known failure(s) remain)"
    else:
        bad = red
        text = "red" if red else "green"
    if (partial or stale or flaky) and text == "green":
        text = "not green"  # what did run passed, but the answer is incomplete
    if partial:
        bad = True
        text += f"; partial: not every stage ran in {', '.join(partial)}"
    if flaky:  # a test that fails only sometimes: never green, never the first red stage
        bad = True
        tests = sum(len(c.flaky) for c in cells)
        text += f"; flaky: {tests} test(s) failed once and passed on a rerun in {', '.join(flaky)}"
    if stale:
        bad = True
        text += f"; stale: results of another commit in {', '.join(stale)}"
    if fail_on_skipped and skipped:
        bad = True
        text += f"; skipped cell(s) not allowed: {', '.join(skipped)}"
    return Verdict(
        red=red,
        ok=not bad,
        text=text,
        new_red=None if baseline is None else baseline.new > 0,
        partial_cells=partial,
        stale_cells=stale,
        flaky_cells=flaky,
        skipped_cells=skipped,
    )

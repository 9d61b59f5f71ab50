"""The mutants engine without running the chain: a tiny synthetic catalogue and tree, and a fake chain.

Plus the checks on the real catalogue that need no chain: it is well formed, covers every area, and every
mutant still applies exactly once to today's sources.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tools import mutants as mt
from tools.harness import SchemaVersionError, schema
from tools.mutants import catalogue as cat
from tools.mutants.catalogue import BY_QUANTIZATION, LAYERING, REGARDLESS, Edit
from tools.tests.mutant_helpers import _mutant, _run, _write


# ----------------------------------------------------------------------------- the real catalogue
def test_the_catalogue_is_well_formed_and_large_enough():
    assert mt.catalogue_problems(cat.MUTANTS) == []
    assert len(cat.MUTANTS) >= 25


@pytest.mark.parametrize("area", sorted(cat.AREAS))
def test_every_area_has_a_mutant(area):
    assert any(m.area == area for m in cat.MUTANTS), f"no mutant in area {area!r}: {cat.AREAS[area]}"


def test_earlier_module_mutants_read_broken_regardless_at_their_own_module():
    earlier = [m for m in cat.MUTANTS if m.area == "earlier"]
    assert len({m.expected_module for m in earlier}) >= 4
    for m in earlier:
        assert m.expected_classification == REGARDLESS and m.expected_module == m.expected_stage < 16, m.name
        assert all(not e.file.startswith("tinytorch/optimization/") for e in m.edits), m.name


def test_quantization_mutants_edit_module_16_and_blame_quantization():
    for m in cat.MUTANTS:
        if m.area == "earlier":
            continue
        assert all(e.file.startswith("tinytorch/optimization/") for e in m.edits), m.name
        want = LAYERING if m.area == "patch" else BY_QUANTIZATION
        assert m.expected_classification == want, m.name


def test_every_mutant_applies_exactly_once_to_the_current_sources():
    """A stale mutant is found here, in the fast test run, before anyone waits for the chain."""
    assert mt.stale_problems(mt.REPO_ROOT, cat.MUTANTS) == []
    for mutant in cat.MUTANTS:
        for rel, text in mt.mutate_sources(mt.REPO_ROOT, mutant).items():
            assert text != (mt.REPO_ROOT / rel).read_text(encoding="utf-8"), mutant.name


def test_mutated_python_still_compiles():
    """A mutant that is a syntax error tests nothing but the collector."""
    for mutant in cat.MUTANTS:
        for rel, text in mt.mutate_sources(mt.REPO_ROOT, mutant).items():
            compile(text, f"{mutant.name}:{rel}", "exec")


# ----------------------------------------------------------------------------- catalogue checks
@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ({"name": "not an id"}, "is not an identifier"),
        ({"area": "nowhere"}, "area 'nowhere' is not one of"),
        ({"stage": 17}, "expected_stage must be an int in 1..16, got 17"),
        ({"module": 0}, "expected_module must be an int in 1..16, got 0"),
        ({"stage": 3, "module": 5}, "module 5 cannot go red at stage 3"),
        ({"classification": "broken"}, "classification 'broken' is not one of"),
    ],
)
def test_catalogue_problems_name_the_mutant_and_the_fault(bad, problem):
    kwargs = {"name": "demo", **bad}
    problems = mt.catalogue_problems([_mutant(**kwargs)])
    assert len(problems) == 1 and problem in problems[0]


def test_a_layering_break_may_name_the_later_module_that_patched():
    assert mt.catalogue_problems([_mutant(stage=3, module=16, classification=LAYERING, area="patch")]) == []


def test_catalogue_problems_find_duplicates_and_empty_edits():
    same = [_mutant(), _mutant()]
    assert mt.catalogue_problems(same) == ["mutant name 'demo' appears more than once"]
    noop = _mutant(Edit("pkg/a.py", "x", "x"))
    assert "changes nothing" in mt.catalogue_problems([noop])[0]


def test_by_name_keeps_the_order_given_and_names_unknown_mutants():
    a, b = _mutant(name="a"), _mutant(name="b")
    assert mt.by_name(["b", "a"], [a, b]) == [b, a]
    with pytest.raises(mt.UnknownMutant, match="unknown mutant.*nope.*valid: a, b"):
        mt.by_name(["nope"], [a, b])


# ----------------------------------------------------------------------------- substitution
def test_apply_edit_replaces_the_one_occurrence():
    assert mt.apply_edit("a\nx = 1\nb\n", Edit("pkg/a.py", "x = 1", "x = 2"), "demo") == "a\nx = 2\nb\n"


@pytest.mark.parametrize(("text", "found"), [("y = 1\n", "does not occur"), ("x = 1\nx = 1\n", "occurs 2 times")])
def test_apply_edit_refuses_a_stale_old_text_loudly(text, found):
    with pytest.raises(mt.StaleMutant) as info:
        mt.apply_edit(text, Edit("pkg/a.py", "x = 1", "x = 2"), "demo")
    message = str(info.value)
    assert message.startswith("mutant demo no longer applies to pkg/a.py: update its `old` text")
    assert found in message and "'x = 1'" in message


def test_edits_apply_in_sequence_and_a_stale_one_writes_nothing(tmp_path):
    path = _write(tmp_path, "pkg/a.py", "alpha\nbeta\n")
    chained = _mutant(Edit("pkg/a.py", "alpha", "gamma"), Edit("pkg/a.py", "gamma\nbeta", "delta"))
    assert mt.mutate_sources(tmp_path, chained) == {"pkg/a.py": "delta\n"}
    half_stale = _mutant(Edit("pkg/a.py", "alpha", "gamma"), Edit("pkg/a.py", "missing", "x"))
    with pytest.raises(mt.StaleMutant, match="mutant demo no longer applies to pkg/a.py"):
        mt.apply_mutant(tmp_path, half_stale)
    assert path.read_text(encoding="utf-8") == "alpha\nbeta\n"
    mt.apply_mutant(tmp_path, chained)
    assert path.read_text(encoding="utf-8") == "delta\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.py"]  # no temporary file left behind


def test_a_missing_file_is_stale_too(tmp_path):
    problems = mt.stale_problems(tmp_path, [_mutant(Edit("pkg/gone.py", "a", "b"), name="gone")])
    assert problems == ["mutant gone no longer applies to pkg/gone.py: the file does not exist"]


def test_atomic_write_failure_keeps_the_old_file_and_cleans_up(tmp_path, monkeypatch):
    path = _write(tmp_path, "pkg/a.py", "x = 1\n")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        mt.apply_mutant(tmp_path, _mutant())
    assert path.read_text(encoding="utf-8") == "x = 1\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.py"]


# ----------------------------------------------------------------------------- snapshots
def test_source_files_without_git_skip_reports_nox_git_and_caches(tmp_path):
    for rel in ("pkg/a.py", "tests/t.py", "reports/r.json", ".nox/x", ".git/HEAD", "pkg/__pycache__/a.pyc"):
        _write(tmp_path, rel, "x")
    assert mt.source_files(tmp_path) == ["pkg/a.py", "tests/t.py"]


def test_source_files_with_git_take_untracked_files_but_not_ignored_ones(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    _write(tmp_path, ".gitignore", "*.log\nreports/\n")
    for rel in ("pkg/new_module.py", "run.log", "reports/r.json"):
        _write(tmp_path, rel, "x")
    assert mt.source_files(tmp_path) == [".gitignore", "pkg/new_module.py"]
    dest = tmp_path / "copy"
    mt.snapshot(tmp_path, dest, ["pkg/new_module.py"])
    assert (dest / "pkg/new_module.py").read_text(encoding="utf-8") == "x"


# ----------------------------------------------------------------------------- verdicts on a fake regression.json
def test_judge_ok_only_when_stage_module_and_classification_all_match(tmp_path):
    outcome = mt.judge(_mutant(), _run(tmp_path), tmp_path)
    assert outcome.verdict == mt.OK and outcome.ok
    assert outcome.got == {"stage": 3, "module": 3, "classification": BY_QUANTIZATION}
    assert outcome.matches == {"stage": True, "module": True, "classification": True}
    assert outcome.upto == 3 and outcome.pinpointed["test_id"].endswith("test_it[mlp-int8]")


@pytest.mark.parametrize(
    ("got", "wrong"),
    [
        ({"classification": REGARDLESS}, "wrong classification"),
        ({"module": 16, "stage": 16}, None),  # a later stage than run: impossible with --upto, still a miss
        ({"module": 5, "stage": 5}, None),
        ({"module": 2}, "wrong module"),
        ({"module": 2, "classification": REGARDLESS}, "wrong module and classification"),
    ],
)
def test_judge_misses_when_any_of_the_three_differs(tmp_path, got, wrong):
    outcome = mt.judge(_mutant(), _run(tmp_path, **got), tmp_path)
    assert outcome.verdict == mt.MISS and not outcome.ok
    assert not all(outcome.matches.values())
    if wrong:
        assert outcome.why.endswith(wrong)


def test_judge_a_red_stage_before_the_expected_one_is_a_miss_named_early(tmp_path):
    outcome = mt.judge(_mutant(stage=9, module=3), _run(tmp_path, stage=4, module=4), tmp_path)
    assert outcome.verdict == mt.MISS
    assert outcome.why == "red early: red at stage 04, module 04 losses, broken by quantization (expected stage 09)"


def test_judge_green_up_to_the_expected_stage_is_not_red_by_stage_k(tmp_path):
    outcome = mt.judge(_mutant(stage=9, module=3), _run(tmp_path, red=False), tmp_path)
    assert outcome.verdict == mt.MISS and outcome.why == "not red by stage 9: stages 1-9 stayed green"


def test_judge_red_without_a_pointer_is_a_miss(tmp_path):
    outcome = mt.judge(_mutant(), _run(tmp_path, module=None), tmp_path)
    assert outcome.verdict == mt.MISS and "points at nothing" in outcome.why


@pytest.mark.parametrize("where", ["elsewhere", "nowhere"])
def test_judge_refuses_a_run_that_did_not_import_the_mutated_copy(tmp_path, where):
    other = str(tmp_path.parent / "installed" / "tinytorch" / "__init__.py") if where == "elsewhere" else ""
    outcome = mt.judge(_mutant(), _run(tmp_path / "copy", tinytorch=other), tmp_path / "copy")
    assert outcome.verdict == mt.ERROR and "not the mutated copy" in outcome.why


def test_judge_reports_a_chain_that_could_not_run(tmp_path):
    outcome = mt.judge(_mutant(), _run(tmp_path, error="TimeoutExpired: too slow"), tmp_path)
    assert outcome.verdict == mt.ERROR and outcome.why == "TimeoutExpired: too slow"


def test_judge_the_control_must_be_green(tmp_path):
    green = mt.judge(None, _run(tmp_path, red=False, cell="mutant-control"), tmp_path, upto=16)
    assert green.verdict == mt.OK and green.why == "stages 1-16 green"
    red = mt.judge(None, _run(tmp_path, cell="mutant-control"), tmp_path, upto=16)
    assert red.verdict == mt.MISS and "the baseline is red" in red.why


def test_read_verdict_takes_the_three_fields_the_report_promises(tmp_path):
    regression = _run(tmp_path, stage=7, module=3, classification=REGARDLESS, cell="c").regression
    assert mt.read_verdict(regression, "c")[1] == {"stage": 7, "module": 3, "classification": REGARDLESS}
    assert mt.read_verdict(regression, "other") == (None, None)


def test_a_report_of_another_schema_or_shape_is_refused_not_guessed(tmp_path):
    path = tmp_path / "regression.json"
    path.write_text(json.dumps(dict(_run(tmp_path).regression.to_json(), schema=9)))
    with pytest.raises(SchemaVersionError, match=r"regression.json schema 9 is not one this build reads"):
        mt.verdict.read_typed(path, "regression.json", schema.Report)
    path.write_text(json.dumps({"schema": 2, "generated": "now", "cells": "none"}))
    with pytest.raises(schema.SchemaError, match=r"regression.json: cells is 'none', not a list"):
        mt.verdict.read_typed(path, "regression.json", schema.Report)


# ----------------------------------------------------------------------------- the table
def test_table_shows_expected_vs_got_marks_the_wrong_ones_and_counts(tmp_path):
    ok = mt.judge(_mutant(name="good"), _run(tmp_path), tmp_path)
    wrong = mt.judge(_mutant(name="wrong"), _run(tmp_path, classification=REGARDLESS), tmp_path)
    green = mt.judge(_mutant(name="green", stage=9), _run(tmp_path, red=False), tmp_path)
    lines = mt.format_table([ok, wrong, green]).splitlines()
    assert lines[0].split() == ["mutant", "stage", "exp/got", "module", "exp/got", "classification", "exp/got"] + [
        "verdict"
    ]
    good_row = next(line for line in lines if line.startswith("good "))
    assert "03 / 03" in good_row and "03 layers / 03 layers" in good_row and good_row.endswith("OK")
    wrong_row = next(line for line in lines if line.startswith("wrong "))
    assert f"{BY_QUANTIZATION} /!{REGARDLESS}" in wrong_row and wrong_row.endswith("MISS")
    green_row = next(line for line in lines if line.startswith("green "))
    assert "09 /!green" in green_row and "03 layers /!-" in green_row
    assert "    not red by stage 9: stages 1-9 stayed green" in lines
    assert "    first failing test: tests/modules/03_x/test_x.py::test_it[mlp-int8]" in lines
    assert "    reason: AssertionError: boom with detail" in lines  # one line, whitespace folded
    assert not any("first failing test" in line for line in lines[2:4])  # nothing under a pinpointed row
    assert mt.summary_line([ok, wrong, green]) == "mutants: 1/3 pinpointed"

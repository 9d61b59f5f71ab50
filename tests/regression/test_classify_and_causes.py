"""Classification tells the truth (module 16, int8-only by design, twins of every int8 variant) and
failures group by cause."""

from __future__ import annotations

import pytest

from regression.common import module_label, twin_of, zoo_param
from regression.contract import Outcome, Pairing, RecordKind, Variant
from regression.reporting.analysis import pick_points_at, stage_span
from regression.reporting.causes import group_causes, normalize
from regression.reporting.classify import BY_QUANTIZATION, EMPTY, LAYERING, REGARDLESS, classify
from regression.schema import Failure, TestRecord


def record(test_id: str, module: int = 3, stage: int = 3, pairing: Pairing | None = None, **extra) -> TestRecord:
    """A failing test record, as records.py writes it (``schema.TestRecord``)."""
    model, variant = zoo_param(test_id)
    if pairing is None:
        pairing = Pairing.PAIRED if model else Pairing.NO_VARIANT
    fields = dict(
        kind=RecordKind.TEST,
        stage=stage,
        module=module,
        test_id=test_id,
        variant=Variant(variant),
        twin_id=twin_of(test_id),
        pairing=pairing,
        outcome=Outcome.FAILED,
        message="AssertionError: x",
    )
    return TestRecord(**{**fields, **extra})


@pytest.mark.parametrize(
    "failing, passed, expected",
    [
        (record("t.py::a[mlp-int8]"), {(3, "t.py::a[mlp-fp32]")}, BY_QUANTIZATION),
        (record("t.py::a[mlp-int8static]"), {(3, "t.py::a[mlp-fp32]")}, BY_QUANTIZATION),
        (record("t.py::a[cnn-int8tensor]"), {(3, "t.py::a[cnn-fp32]")}, BY_QUANTIZATION),
        (record("t.py::a[mlp-int8]"), set(), REGARDLESS),  # the fp32 twin fails too (it ran, below)
        (record("t.py::a[mlp-fp32]"), {(3, "t.py::a[mlp-int8]")}, REGARDLESS),
        (record("t.py::b"), set(), REGARDLESS),
        (record("t.py::b", pairing=Pairing.INT8_ONLY), set(), BY_QUANTIZATION),
        (record("tests/modules/16_quantization/t.py::c", module=16, stage=16), set(), BY_QUANTIZATION),
        (record("tests/modules/16_quantization/t.py::c[mlp-fp32]", module=16, stage=16), set(), BY_QUANTIZATION),
        (record("t.py::d", guard_violations=[{"kind": "patch"}]), set(), LAYERING),
        (
            record("t.py::e", message="LayeringError: import guard: tinytorch.core.spatial is module 09"),
            set(),
            LAYERING,
        ),
        (
            record("t.py::f", message="ImportError: cannot import name 'x' from 'tinytorch.core.layers'"),
            set(),
            REGARDLESS,
        ),
        (record("t.py", kind=RecordKind.COLLECT_ERROR, outcome=Outcome.COLLECT_ERROR), set(), EMPTY),
    ],
)
def test_classification_rules(failing, passed, expected):
    ran = passed | {(3, "t.py::a[mlp-fp32]")}
    assert classify(failing, passed, ran)[0] == expected


def test_a_twin_that_did_not_run_is_not_cleared_and_says_so():
    classification, why = classify(record("t.py::a[mlp-int8]"), set(), set())
    assert classification == REGARDLESS and "did not run" in why


def test_every_int8_variant_has_the_fp32_twin():
    assert twin_of("t.py::a[mlp-int8static]") == "t.py::a[mlp-fp32]"
    assert twin_of("t.py::a[2-cnn-int8tensor-x]") == "t.py::a[2-cnn-fp32-x]"
    assert twin_of("t.py::a[mlp-fp32]") == "t.py::a[mlp-int8]"
    assert zoo_param("t.py::a[gpt-int8static]") == ("gpt", "int8static")


def failure(
    test_id: str, reason: str, stage: int = 3, module: int = 3, origin: str | None = "tinytorch/x.py:3 in f"
) -> Failure:
    """A failure as the analysis makes it (``schema.Failure``)."""
    model, variant = zoo_param(test_id)
    return Failure(
        cell="c",
        stage=stage,
        module=module,
        module_label=module_label(module),
        file=test_id.split("::")[0],
        test_id=test_id,
        classification=BY_QUANTIZATION,
        why="",
        reason=reason,
        outcome=Outcome.FAILED,
        variant=Variant(variant),
        model=model,
        origin=origin,
    )


def test_one_cause_for_many_tests_differing_only_in_numbers():
    failures = [
        failure(f"t.py::a[{m}-int8]", f"AssertionError: relative error {e} > 0.01 at 0x7f{i}ab", stage=s)
        for i, (m, e, s) in enumerate([("mlp", 0.031, 3), ("cnn", 0.2, 9), ("gpt", 1e-1, 13)])
    ]
    failures.append(failure("t.py::b", "ValueError: shape (4, 0)", origin="tinytorch/y.py:9 in g"))
    causes = group_causes(failures)
    assert [c.tests for c in causes] == [3, 1]
    top = causes[0]
    assert top.models == ["cnn", "gpt", "mlp"] and top.stages == [3, 9, 13] and top.exception == "AssertionError"
    assert normalize("error 0.031 > 0.01 at 0x7f00ab in 'layers.0'") == "error N > N at 0x… in '…'"


def test_same_message_from_different_code_is_two_causes():
    a = failure("t.py::a", "KeyError: 'w'", origin="tinytorch/a.py:1 in f")
    b = failure("t.py::b", "KeyError: 'w'", origin="tinytorch/b.py:1 in g")
    assert len(group_causes([a, b])) == 2


def test_points_at_the_stage_own_module_then_layering_first():
    f03 = failure("tests/modules/03_layers/t.py::a[cnn-int8]", "E: x", stage=9, module=3)
    f09 = failure("tests/modules/09_spatial/t.py::a[cnn-int8]", "E: x", stage=9, module=9)
    assert pick_points_at(9, [f03, f09]).module == 9  # stage 09 brought the conv: its module is named
    layering = f03.replace(classification=LAYERING, test_id="t.py::z")
    assert pick_points_at(9, [f03, layering]).classification == LAYERING


def test_stage_spans_compress_runs():
    assert stage_span([3, 5, 6, 7, 16]) == "03,05-07,16" and stage_span([9]) == "09"


def test_a_layering_break_blames_the_module_that_made_it():
    from regression.reporting.analysis import blamed_module
    from regression.reporting.classify import layering_culprit

    patch = "RegistryPatch: registry patch: tinytorch.core.layers.Module.load_state_dict was replaced at stage 03 "
    patch += "(new value defined in tinytorch.optimization.quantization; first imported meanwhile: ...)"
    refused = "LayeringError: import guard: tinytorch.core.spatial is module 09, not available at stage 03 "
    refused += "(imported by tinytorch.optimization.quantized_layers (quantized_layers.py:12))"
    assert layering_culprit(patch) == 16 and layering_culprit(refused) == 16  # a helper file of module 16
    assert layering_culprit("LayeringError: ... (imported by test_mixed (test_mixed.py:14))") is None
    layering = failure("t.py::a", patch, stage=3, module=3).replace(classification=LAYERING)
    assert blamed_module(3, layering) == 16
    assert blamed_module(9, failure("tests/modules/03_layers/t.py::a[cnn-int8]", "E: x", stage=9, module=3)) == 9


def test_a_state_change_at_import_blames_the_imported_module():
    from regression.reporting.classify import layering_culprit

    state = "RegistryPatch: registry patch: tinytorch.core.tensor._grad_enabled was replaced at stage 09 "
    state += "(changed while importing tinytorch.core.spatial); a module must not change the module-level state"
    numpy = "registry patch: numpy.get_printoptions() was changed at stage 03 (changed while importing "
    numpy += "tinytorch.optimization.int8); importing a module must not change NumPy's global state"
    assert layering_culprit(state) == 9 and layering_culprit(numpy) == 16


# -- int8-only read off the code: a test without a zoo variant that creates or runs module-16 objects --------
def _lazy_quantized_layer():
    from tinytorch.optimization.quantized_layers import QuantizedLinear

    return QuantizedLinear


def _helper_calls_helper():
    return _lazy_quantized_layer()


def test_a_test_that_runs_module_16_code_is_int8_only_by_its_code():
    from types import SimpleNamespace

    import tinytorch.optimization.quantization as quantization
    from regression.plugins.records import runs_quantization

    def item(function, params=None, fixtures=None):
        info = SimpleNamespace(name2fixturedefs={k: [SimpleNamespace(func=f)] for k, f in (fixtures or {}).items()})
        return SimpleNamespace(function=function, callspec=SimpleNamespace(params=params or {}), _fixtureinfo=info)

    def lazy_import():
        from tinytorch.optimization import quantize_model  # noqa: F401

    def by_attribute():
        return [quantization.quantize_model for _ in range(1)]  # inside a comprehension, via a module global

    def through_helpers():
        return _helper_calls_helper()

    def plain():
        from tinytorch.core.layers import Linear

        return Linear(2, 2)

    assert runs_quantization(item(lazy_import)) and runs_quantization(item(by_attribute))
    assert runs_quantization(item(through_helpers))
    assert runs_quantization(item(plain, params={"layer": _lazy_quantized_layer()}))
    assert runs_quantization(item(plain, fixtures={"qlayer": _lazy_quantized_layer}))
    assert not runs_quantization(item(plain)) and not runs_quantization(
        item(plain, fixtures={"zoo_model": lazy_import})
    )


def test_an_int8_only_failure_is_regardless_when_its_fp32_counterpart_fails_too():
    from regression.reporting.classify import BY_QUANTIZATION, REGARDLESS, classify

    record = TestRecord(RecordKind.TEST, 3, "t.py::b", Outcome.FAILED, module=3, pairing=Pairing.INT8_ONLY)
    assert classify(record, set(), set())[0] == BY_QUANTIZATION
    paired = record.replace(variant=Variant.INT8, twin_id="t.py::a[mlp-fp32]")
    assert classify(paired, set(), {(3, "t.py::a[mlp-fp32]")})[0] == REGARDLESS
    assert classify(paired, {(3, "t.py::a[mlp-fp32]")}, {(3, "t.py::a[mlp-fp32]")})[0] == BY_QUANTIZATION


def test_one_bug_in_every_int8_variant_is_one_cause_that_names_them():
    """Issue 22: the message names the variant and the model; the bug is one (same type, same line)."""
    origin = "tinytorch/optimization/int8.py:131 in encode"
    failures = [
        failure(f"t.py::test_out[{m}-{v}]", f"AssertionError: {m}-{v}: relative error {e} % > 1.0 %", stage=s)
        for m, v, e, s in [("mlp", "int8", 2.43, 3), ("mlp", "int8static", 2.58, 3), ("cnn", "int8tensor", 3.07, 9)]
    ]
    failures = [f.replace(origin=origin) for f in failures]
    causes = group_causes(failures)
    assert len(causes) == 1
    (cause,) = causes
    assert cause.message == "AssertionError: <model>-<variant>: relative error N % > N %"
    assert cause.variants == ["int8", "int8static", "int8tensor"] and cause.models == ["cnn", "mlp"]
    assert cause.hits == (
        "3 variants: int8, int8static, int8tensor; 2 models: cnn, mlp; 1 module: 03 layers; stages 03,09"
    )


def test_variant_and_model_names_normalize_as_words_only():
    assert normalize("mlp-int8static: err 2.5", models={"mlp"}) == "<model>-<variant>: err N"
    assert normalize("model cnn drifted on int8tensor", models={"cnn"}) == "model <model> drifted on <variant>"
    # a word that merely contains a name is kept: "cnnx", "myint8", "the_mlp"
    assert normalize("cnnx myint8 the_mlp", models={"cnn", "mlp"}) == "cnnx myint8 the_mlp"


def test_the_same_normalized_message_at_another_line_or_of_another_type_stays_apart():
    a = failure("t.py::a[mlp-int8]", "AssertionError: mlp-int8: error 2.4", origin="tinytorch/a.py:1 in f")
    b = failure("t.py::a[mlp-int8static]", "AssertionError: mlp-int8static: error 2.5", origin="tinytorch/a.py:7 in f")
    c = failure("t.py::a[cnn-int8]", "ValueError: cnn-int8: error 2.4", origin="tinytorch/a.py:1 in f")
    assert len(group_causes([a, b, c])) == 3


def test_the_headline_counts_one_cause_for_one_bug_in_three_variants():
    from regression.reporting.analysis import analyse_cell
    from regression.reporting.loading import LoadedCell
    from regression.schema import CellRun, StageResult

    records = []
    for variant, error in [("fp32", None), ("int8", 2.43), ("int8static", 2.58), ("int8tensor", 3.07)]:
        test_id = f"tests/modules/03_layers/t.py::test_out[mlp-{variant}]"
        rec = record(test_id, outcome=Outcome.PASSED if error is None else Outcome.FAILED, model="mlp")
        if error is not None:
            rec = rec.replace(
                message=f"AssertionError: mlp-{variant}: relative error {error} % > 1.0 %",
                origin="tinytorch/optimization/int8.py:131 in encode",
            )
        records.append(rec)
    counts = dict(collected=4, passed=1, failed=3, errors=0, collect_errors=0, skipped=0, xfailed=0)
    stage = StageResult(3, key="03", name="layers", red=True, **counts)
    summary, failures, _ = analyse_cell(LoadedCell(CellRun("c", stages=[stage]), records))
    assert len(summary.causes) == 1 and len(failures) == 3
    assert "3 test(s), 1 cause(s)" in summary.headline
    assert summary.causes[0].hits.startswith("3 variants: int8, int8static, int8tensor; 1 model: mlp")

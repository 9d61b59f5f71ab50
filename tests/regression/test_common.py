"""Parsing helpers: module from folder, variant and twin from the zoo parameter id, stage ranges."""

from __future__ import annotations

import pytest

from regression.common import module_of, parse_stages, safe_name, twin_of, zoo_param


@pytest.mark.parametrize(
    "nodeid, expected",
    [
        ("tests/modules/09_spatial/test_conv.py::test_x", 9),
        ("tests/modules/16_quantization/test_quantization_integration.py::test_y[cnn-int8]", 16),
        ("tests/regression/test_common.py::test_z", None),
        ("tests\\modules\\03_layers\\test_a.py::t", 3),
    ],
)
def test_module_comes_from_the_test_folder(nodeid, expected):
    assert module_of(nodeid) == expected


@pytest.mark.parametrize(
    "nodeid, expected",
    [
        ("t.py::test_a[mlp-fp32]", ("mlp", "fp32")),
        ("t.py::test_a[cnn-int8]", ("cnn", "int8")),
        ("t.py::test_a[cnn-int8-3]", ("cnn", "int8")),
        ("t.py::test_a[2-gpt-int8]", ("gpt", "int8")),
        ("t.py::test_a[no-zoo-model-at-this-stage]", (None, "none")),
        ("t.py::test_a", (None, "none")),
        ("tests/modules/01_x-int8]/t.py::test_a[1]", (None, "none")),  # only the parameter part counts
    ],
)
def test_variant_is_parsed_from_the_zoo_parameter(nodeid, expected):
    assert zoo_param(nodeid) == expected


def test_twin_swaps_only_the_variant():
    assert twin_of("t.py::test_a[cnn-int8-3]") == "t.py::test_a[cnn-fp32-3]"
    assert twin_of("t.py::test_a[mlp-fp32]") == "t.py::test_a[mlp-int8]"
    assert twin_of("t.py::test_a[1]") is None


@pytest.mark.parametrize(
    "text, expected",
    [("1-16", list(range(1, 17))), ("9", [9]), ("1-3,9,12-13", [1, 2, 3, 9, 12, 13]), ("3,3", [3])],
)
def test_stage_ranges(text, expected):
    assert parse_stages(text) == expected


@pytest.mark.parametrize("text", ["0-3", "17", "x", "5-2", "1-2-3", ""])
def test_bad_stage_ranges_say_what_is_wrong(text):
    with pytest.raises(ValueError, match="--stages"):
        parse_stages(text)


def test_cell_names_become_safe_file_names():
    assert safe_name("regression(python='3.12', numpy='2.2')") == "regression_python_3.12_numpy_2.2"

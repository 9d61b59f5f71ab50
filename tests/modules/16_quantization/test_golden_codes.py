"""The codes of a fixed input must match the stored golden file bit for bit on every NumPy of the matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data.make_golden_int8 import CONFIGS, golden_input  # tests/ is on sys.path (conftest)

from tinytorch.optimization.quantization import dequantize_int8, quantize_int8

GOLDEN = Path(__file__).resolve().parents[2] / "data" / "golden_int8.npz"


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def test_golden_file_holds_every_config(golden):
    expected = {"x"} | {f"{c}_{part}" for c in CONFIGS for part in ("codes", "scale", "zero_point")}
    assert set(golden) == expected
    assert golden["x"].dtype == np.float32 and golden["x"].shape == (16, 16)
    np.testing.assert_array_equal(golden["x"], golden_input())  # the script still builds the stored input


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_codes_scales_and_zero_points_match_bit_for_bit(golden, config):
    axis, symmetric = CONFIGS[config]
    q, scale, zero_point = quantize_int8(golden["x"], axis=axis, symmetric=symmetric)
    for part, got in (("codes", q.data), ("scale", scale), ("zero_point", zero_point)):
        want = golden[f"{config}_{part}"]
        assert got.dtype == want.dtype and got.shape == want.shape, (part, got.dtype, got.shape, want.dtype, want.shape)
        if got.tobytes() != want.tobytes():
            diff = np.argwhere(got != want)
            first = tuple(diff[0]) if len(diff) else "(bit pattern only)"
            pytest.fail(f"{config} {part}: {len(diff)} element(s) differ from the golden file, first at {first}")
    assert np.all(np.isfinite(dequantize_int8(q, scale, zero_point).data))


def test_golden_ties_were_rounded_half_to_even(golden):
    # Row 0 (symmetric, scale 1) holds ±k.5 values: NumPy's round-half-to-even picks the even code.
    assert golden["row_sym_scale"][0, 0] == 1.0
    np.testing.assert_array_equal(golden["row_sym_codes"][0, 6:11], [-2, 0, 0, 2, 2])  # -1.5 -0.5 0.5 1.5 2.5

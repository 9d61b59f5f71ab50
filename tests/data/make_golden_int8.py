"""Write ``golden_int8.npz``: int8 codes, scales and zero points of one fixed input, to be matched bit for bit.

The input is built from integers and exact float32 constants only (no RNG, no transcendental
functions), so it is the same array on every NumPy. It covers what can go wrong between NumPy
versions (NEP 50 promotion, rounding of exact halves) and the codec's special cases:

- rows 0 and 9: exact ties (x / scale ends in .5: scale 1 symmetric in row 0, asymmetric in row 9),
  so ``np.round``'s half-to-even rule decides codes;
- rows 1-2: one-sided ranges [5, 9] and [-9, -5];
- rows 3-6: constants 0, 1, -300 and 1e-30;
- row 7: float32 subnormals;
- row 8: ±3e38 next to ordinary values;
- rows 10-15: integer patterns scaled by powers of two.

Every (axis, symmetric) combination the tests use is stored under ``<config>_codes``,
``<config>_scale``, ``<config>_zero_point``, with ``x`` itself. Regenerate (only when the codec is
meant to change) with ``python tests/data/make_golden_int8.py`` and commit the result.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "golden_int8.npz"
COLS = 16
CONFIGS = {  # name: (axis, symmetric)
    "tensor_asym": (None, False),
    "tensor_sym": (None, True),
    "row_asym": (0, False),
    "row_sym": (0, True),
    "col_asym": (1, False),
    "col_sym": (1, True),
}


def golden_input() -> np.ndarray:
    """A (16, 16) float32 array built from integers and exactly representable constants."""
    i = np.arange(COLS, dtype=np.int64)
    rows = [
        np.where(i == 0, np.float32(127), (i - 8).astype(np.float32) + np.float32(0.5)),  # ±k.5, max 127
        np.float32(5) + (i % 5).astype(np.float32),  # one-sided [5, 9]
        -(np.float32(5) + (i % 5).astype(np.float32)),  # one-sided [-9, -5]
        np.zeros(COLS, dtype=np.float32),
        np.ones(COLS, dtype=np.float32),
        np.full(COLS, -300, dtype=np.float32),
        np.full(COLS, 1e-30, dtype=np.float32),
        (i + 1).astype(np.float32) * np.float32(2.0**-149),  # subnormals: 1..16 × the smallest float32
        np.where(i % 3 == 0, np.float32(3e38), np.where(i % 3 == 1, np.float32(-3e38), (i - 7).astype(np.float32))),
    ]
    rows.append(np.where(i == 0, np.float32(255), i.astype(np.float32) + np.float32(0.5)))  # k.5 in [0, 255]
    for k in range(10, COLS):
        pattern = ((i * (2 * k + 1)) % 23 - 11).astype(np.float32)  # integers in [-11, 11]
        rows.append(pattern * np.float32(2.0 ** (k - 12)))
    return np.stack(rows).astype(np.float32)


def golden_arrays() -> dict[str, np.ndarray]:
    from tinytorch.optimization.quantization import quantize_int8

    x = golden_input()
    arrays = {"x": x}
    for name, (axis, symmetric) in CONFIGS.items():
        q, scale, zero_point = quantize_int8(x, axis=axis, symmetric=symmetric)
        arrays[f"{name}_codes"] = q.data
        arrays[f"{name}_scale"] = scale
        arrays[f"{name}_zero_point"] = zero_point
    return arrays


def write(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz with fixed zip timestamps, so the same arrays always give the same bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def main() -> None:
    arrays = golden_arrays()
    write(OUT, arrays)
    with np.load(OUT, allow_pickle=False) as check:
        for name, array in arrays.items():
            assert check[name].dtype == array.dtype and np.array_equal(check[name], array), name
    print(f"wrote {OUT.name}: {len(arrays)} arrays, sha256 {hashlib.sha256(OUT.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main()

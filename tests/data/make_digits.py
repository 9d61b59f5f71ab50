"""Build ``tests/data/digits.npz`` from the UCI optical-digits copy that scikit-learn ships.

Provenance: "Optical Recognition of Handwritten Digits", E. Alpaydin and C. Kaynak (1998), UCI Machine
Learning Repository (https://doi.org/10.24432/C50P49), licensed CC BY 4.0. scikit-learn distributes the
1,797-sample test split (``optdigits.tes``) as ``sklearn/datasets/data/digits.csv.gz``: one row per image,
64 pixel counts (0..16, an 8x8 image read row by row) followed by the class label (0..9).

The project does not depend on scikit-learn: the generated ``digits.npz`` is committed. This script only
documents (and reproduces) how it was made. It locates the CSV without importing scikit-learn, or takes
its path as the first argument::

    python tests/data/make_digits.py [path/to/digits.csv.gz]

Output arrays: ``X`` uint8 (1797, 64), ``y`` uint8 (1797,). For images use ``X.reshape(-1, 1, 8, 8)``.
The archive is written with fixed zip timestamps so that regenerating it gives the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).with_name("digits.npz")
N_SAMPLES, N_PIXELS = 1797, 64


def find_source() -> Path:
    """Path of scikit-learn's ``digits.csv.gz``, found from the package location (sklearn is not imported)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("scikit-learn is not installed; pass the path of digits.csv.gz as the first argument")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
    if not path.is_file():
        raise SystemExit(f"{path} not found; pass the path of digits.csv.gz as the first argument")
    return path


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    if table.shape != (N_SAMPLES, N_PIXELS + 1):
        raise SystemExit(f"{path}: expected a {N_SAMPLES}x{N_PIXELS + 1} table, got {table.shape}")
    X, y = table[:, :N_PIXELS], table[:, N_PIXELS]
    if X.min() < 0 or X.max() > 16 or y.min() < 0 or y.max() > 9:
        raise SystemExit(f"{path}: pixel values must be 0..16 and labels 0..9")
    return X.astype(np.uint8), y.astype(np.uint8)


def write_npz(path: Path, arrays: dict) -> None:
    """Like ``np.savez_compressed`` but with a fixed timestamp per member, so the bytes are reproducible."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def main(argv: list[str]) -> None:
    source = Path(argv[1]) if len(argv) > 1 else find_source()
    X, y = read_csv(source)
    write_npz(OUT, {"X": X, "y": y})
    with np.load(OUT, allow_pickle=False) as check:  # read it back: what tests will see
        assert np.array_equal(check["X"], X) and np.array_equal(check["y"], y)
    print(f"source {source} sha256 {hashlib.sha256(source.read_bytes()).hexdigest()}")
    print(f"wrote  {OUT} X{X.shape} {X.dtype} y{y.shape} {y.dtype}")
    print(f"sha256 {hashlib.sha256(OUT.read_bytes()).hexdigest()}")
    print("class counts", np.bincount(y, minlength=10).tolist())


if __name__ == "__main__":
    main(sys.argv)

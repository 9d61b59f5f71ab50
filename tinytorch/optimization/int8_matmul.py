"""Matrix products with int8 weight codes, block by block through BLAS.

NumPy has no integer BLAS: ``int32 @ int32`` runs a naive loop ~250× slower than float32 BLAS. So
each product here converts a block of weight rows (``SCRATCH_BYTES`` at most, 1 MiB) from int8 to
float into one reused scratch buffer and hands it to BLAS. At no moment does a float copy of the
whole weight matrix exist.

The per-row scale is *not* applied to the scratch: a pure int8 → float cast runs at memory speed
(≈ 0.1 ms for 1024×1024 here) while a mixed-type ``codes * scale`` ufunc costs ≈ 3× more. Since
``x @ (diag(s) · Q)ᵀ = (x @ Qᵀ) · diag(s)``, the scale is applied to the (much smaller) output
instead — the same product with one rounding fewer.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SCRATCH_BYTES", "block_rows", "codes_matmul_t", "matmul_codes"]

SCRATCH_BYTES = 1 << 20  # measured: 256 rows of 1024 floats keep a 1024×1024 layer within ≈ 1.1× of fp32


def block_rows(row_length: int, itemsize: int) -> int:
    """How many weight rows of ``row_length`` elements fit in the scratch budget (at least one)."""
    return max(1, SCRATCH_BYTES // max(1, row_length * itemsize))


def _blas_ready(a: np.ndarray, dtype) -> np.ndarray:
    """``a`` as ``dtype`` in C or Fortran order (BLAS reads either; other strides would copy inside matmul)."""
    a = np.asarray(a, dtype=dtype)
    return a if a.flags.c_contiguous or a.flags.f_contiguous else np.ascontiguousarray(a)


def codes_matmul_t(a: np.ndarray, codes: np.ndarray, dtype) -> np.ndarray:
    """``codes @ a.T`` with ``codes`` (N, K) int8 and ``a`` (M, K) float: the (N, M) transpose of ``a @ codes.T``.

    Computing the transposed product lets every block write whole contiguous rows of the result.
    """
    n, k = codes.shape
    a = _blas_ready(a, dtype)
    out_t = np.empty((n, a.shape[0]), dtype=dtype)
    rows = block_rows(k, out_t.itemsize)
    scratch = np.empty((min(rows, n), k), dtype=dtype)
    a_t = a.T  # a transposed view: BLAS reads it as is, no copy
    for r0 in range(0, n, rows):
        r1 = min(r0 + rows, n)
        block = scratch[: r1 - r0]
        np.copyto(block, codes[r0:r1], casting="unsafe")  # int8 → float is exact
        np.matmul(block, a_t, out=out_t[r0:r1])
    return out_t


def matmul_codes(g: np.ndarray, codes: np.ndarray, dtype) -> np.ndarray:
    """``g @ codes`` with ``g`` (M, N) float and ``codes`` (N, K) int8 → (M, K), summed over row blocks."""
    n, k = codes.shape
    g = _blas_ready(g, dtype)
    out = np.empty((g.shape[0], k), dtype=dtype)
    rows = block_rows(k, out.itemsize)
    scratch = np.empty((min(rows, n), k), dtype=dtype)
    partial = np.empty_like(out) if rows < n else None
    for r0 in range(0, n, rows):
        r1 = min(r0 + rows, n)
        block = scratch[: r1 - r0]
        np.copyto(block, codes[r0:r1], casting="unsafe")
        if r0 == 0:
            np.matmul(g[:, r0:r1], block, out=out)
        else:
            np.matmul(g[:, r0:r1], block, out=partial)
            out += partial
    return out

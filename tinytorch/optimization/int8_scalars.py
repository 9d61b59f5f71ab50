"""A per-tensor scale and zero point that are Python numbers *and* behave as 0-d NumPy arrays.

``quantize_int8(x)`` (no ``axis``) has one scale and one zero point. Code written for learners treats
them as numbers: ``round(scale, 4)``, ``isinstance(zero_point, int)``, ``json.dumps``, a dict key. A 0-d
ndarray fails all four. ``Float32Scalar`` is a ``float`` and ``Int32Scalar`` an ``int`` holding exactly
the float32 / int32 value, which also carry what array code reads of a 0-d array: ``dtype`` (float32 /
int32), ``shape == ()``, ``ndim``, ``size``, ``nbytes``, ``item()``, ``tobytes()``, ``astype()``,
``reshape()``, ``ravel()``, ``numpy()`` (the 0-d float32 array the codec used to return, bit for bit)
— and NumPy ufuncs see the float32 / int32 value, so ``codes * scale`` has the dtype it had with a 0-d
array on every NumPy. Python arithmetic is a Python number's (a float32 value is exact in a Python
float, so nothing is rounded by the conversion). ``np.asarray(scale)`` alone gives float64: NumPy
reads any ``float`` subclass as a Python float; use ``scale.numpy()`` or ``np.float32(scale)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Float32Scalar", "Int32Scalar", "as_python_scalar"]


class _ArrayLike:
    """The 0-d-array face shared by both scalar types (``dtype`` is set by each)."""

    __slots__ = ()
    dtype: np.dtype
    shape: tuple = ()
    ndim = 0
    size = 1

    @property
    def nbytes(self) -> int:
        return self.dtype.itemsize

    def _value(self):
        raise NotImplementedError

    def numpy(self) -> np.ndarray:
        """The 0-d array of the right dtype (``np.asarray`` alone would see a Python float: float64)."""
        return np.array(self._value(), dtype=self.dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # NumPy 2 promotes a float *subclass* as a strong float64 (only an exact float is "weak"): run
        # ufuncs on the float32/int32 value instead, so `codes * scale` keeps the dtype it had as an array.
        inputs = tuple(self.dtype.type(x._value()) if isinstance(x, _ArrayLike) else x for x in inputs)
        return getattr(ufunc, method)(*inputs, **kwargs)

    def item(self):
        return self._value()

    def tobytes(self, order: str = "C") -> bytes:
        return self.numpy().tobytes(order)

    def astype(self, dtype, copy: bool = True):
        return self.numpy().astype(dtype, copy=copy)

    def reshape(self, *shape):
        return self.numpy().reshape(*shape)

    def ravel(self):
        return self.numpy().ravel()


class Float32Scalar(_ArrayLike, float):
    """A float32 value as a Python ``float`` (``isinstance(s, float)``) with ``dtype == float32``."""

    __slots__ = ()
    dtype = np.dtype(np.float32)

    def _value(self) -> float:
        return float(self)

    def __repr__(self) -> str:
        return f"Float32Scalar({float(self)!r})"


class Int32Scalar(_ArrayLike, int):
    """An int32 value as a Python ``int`` (``isinstance(z, int)``) with ``dtype == int32``."""

    __slots__ = ()
    dtype = np.dtype(np.int32)

    def _value(self) -> int:
        return int(self)

    def __repr__(self) -> str:
        return f"Int32Scalar({int(self)!r})"


def as_python_scalar(arr: np.ndarray):
    """A 0-d float32 / int32 array as the matching scalar type; any other array unchanged."""
    if arr.ndim != 0:
        return arr
    if arr.dtype == np.float32:
        return Float32Scalar(float(arr))
    if arr.dtype == np.int32:
        return Int32Scalar(int(arr))
    return arr

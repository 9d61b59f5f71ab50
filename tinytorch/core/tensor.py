"""Module 01 — Tensor: a NumPy array that records how it was made.

Each operation computes its forward result with NumPy and, when any input requires a gradient,
attaches a small closure that knows how to push the output's gradient back to its inputs
(micrograd-style: the backward rule sits next to the forward). Module 05 (``autograd``) exposes the
grad-mode switches and the gradient checker; the engine itself lives here so that no later module
has to monkey-patch this one.

Dtype policy: float input is stored as float32 unless a float dtype is asked for explicitly
(``dtype=np.float64`` for gradient checks); integer arrays keep their dtype, so int8 stays 1 byte.
"""

from __future__ import annotations

import operator
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import numpy as np

_grad_enabled = True


def is_grad_enabled() -> bool:
    """True when new operations record their backward rule."""
    return _grad_enabled


def set_grad_enabled(mode: bool) -> bool:
    """Switch gradient recording on or off; returns the previous mode."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, bool(mode)
    return previous


@contextmanager
def grad_mode(mode: bool) -> Iterator[None]:
    """Run a block with gradient recording set to ``mode``, restoring it afterwards."""
    previous = set_grad_enabled(mode)
    try:
        yield
    finally:
        set_grad_enabled(previous)


def _to_array(data, dtype=None) -> np.ndarray:
    if isinstance(data, Tensor):  # wrapping a tensor keeps its dtype (float64 stays float64)
        data = data.data
        return data if dtype is None else data.astype(dtype)
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    arr = np.asarray(data)
    if arr.dtype.kind == "f" and arr.dtype != np.float32:
        return arr.astype(np.float32)
    return arr


def _unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` over the axes NumPy broadcast so it matches ``shape`` again."""
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _shape_error(op: str, a: np.ndarray, b: np.ndarray) -> ValueError:
    return ValueError(
        f"cannot {op} tensors of shapes {a.shape} and {b.shape}: they do not broadcast "
        f"(NumPy rules: trailing dimensions must be equal or 1). Reshape one of them."
    )


class Tensor:
    """An n-dimensional array with optional reverse-mode gradient tracking."""

    __array_priority__ = 1000  # so ndarray <op> Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        self.data: np.ndarray = _to_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise ValueError(
                f"requires_grad=True needs a float tensor, got dtype {self.data.dtype}; "
                "cast with .astype(np.float32) first"
            )
        self.requires_grad = bool(requires_grad)
        self.grad: np.ndarray | None = None
        self._parents: tuple[Tensor, ...] = ()
        self._backward: Callable[[np.ndarray], Sequence[np.ndarray | None]] | None = None

    # ------------------------------------------------------------------ graph plumbing
    @classmethod
    def _make(cls, data: np.ndarray, parents: Sequence[Tensor], backward) -> Tensor:
        """Wrap an op result; record ``backward(grad) -> grads per parent`` if needed."""
        out = cls.__new__(Tensor)
        out.data = np.asarray(data)
        out.grad = None
        track = _grad_enabled and any(p.requires_grad for p in parents)
        out.requires_grad = track
        out._parents = tuple(parents) if track else ()
        out._backward = backward if track else None
        return out

    def backward(self, grad=None) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad."""
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad: "
                "create inputs/parameters with requires_grad=True (and not under no_grad())"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a scalar output, got shape {self.shape}; "
                    "reduce it first (e.g. .sum()) or pass grad="
                )
            grad = np.ones_like(self.data)
        grad = np.asarray(grad, dtype=self.data.dtype).reshape(self.data.shape)

        order: list[Tensor] = []
        seen: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        while stack:  # iterative post-order DFS: deep graphs must not hit the recursion limit
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node._parents if id(p) not in seen)

        grads: dict[int, np.ndarray] = {id(self): grad}
        for node in reversed(order):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node._backward is None:  # a leaf
                node.grad = g.copy() if node.grad is None else node.grad + g
                continue
            for parent, pg in zip(node._parents, node._backward(g)):
                if pg is None or not parent.requires_grad:
                    continue
                pg = _unbroadcast(np.asarray(pg), parent.data.shape).astype(parent.data.dtype, copy=False)
                grads[id(parent)] = grads[id(parent)] + pg if id(parent) in grads else pg

    def zero_grad(self) -> None:
        self.grad = None

    def detach(self) -> Tensor:
        """Same data, no history."""
        return Tensor(self.data, dtype=self.data.dtype)

    # ------------------------------------------------------------------ basic properties
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def nbytes(self) -> int:
        return self.data.nbytes

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self):
        return self.data.item()

    def astype(self, dtype) -> Tensor:
        src = self.data.dtype
        return Tensor._make(self.data.astype(dtype), (self,), lambda g: (g.astype(src),))

    def __len__(self) -> int:
        return len(self.data)

    def __bool__(self) -> bool:
        """NumPy's and PyTorch's rule: a one-element tensor is its truth value, anything else is ambiguous.

        Without this Python falls back to ``len()``: ``Tensor([0.0])`` would be True and a 0-d tensor
        (``if t < 1.0:``) would raise "len() of unsized object".
        """
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a Tensor with {self.data.size} elements (shape {self.shape}) is ambiguous; "
                "use (t).data.any() or (t).data.all(), or reduce it to one element first"
            )
        return bool(self.data.reshape(-1)[0])

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, precision=4, threshold=20)}, dtype={self.dtype}{grad})"

    # ------------------------------------------------------------------ arithmetic
    @staticmethod
    def _other(x, like: np.ndarray) -> Tensor:
        if isinstance(x, Tensor):
            return x
        arr = np.asarray(x)
        # Raw float operands (Python scalars, lists, ndarrays) adopt the tensor's float dtype, so a
        # float32 model never drifts to float64 and the result is the same under NEP 50 and before it.
        if like.dtype.kind == "f" and arr.dtype.kind in "fiub" and arr.dtype != like.dtype:
            arr = arr.astype(like.dtype)
        return Tensor(arr, dtype=arr.dtype)

    def _binary(self, other, op: str, fn, backward) -> Tensor:
        o = self._other(other, self.data)
        try:
            out = fn(self.data, o.data)
        except ValueError:
            raise _shape_error(op, self.data, o.data) from None
        return Tensor._make(out, (self, o), lambda g: backward(g, self.data, o.data))

    def __add__(self, other) -> Tensor:
        return self._binary(other, "add", np.add, lambda g, a, b: (g, g))

    def __sub__(self, other) -> Tensor:
        return self._binary(other, "subtract", np.subtract, lambda g, a, b: (g, -g))

    def __mul__(self, other) -> Tensor:
        return self._binary(other, "multiply", np.multiply, lambda g, a, b: (g * b, g * a))

    def __truediv__(self, other) -> Tensor:
        return self._binary(other, "divide", np.divide, lambda g, a, b: (g / b, -g * a / (b * b)))

    def __radd__(self, other) -> Tensor:
        return self._other(other, self.data) + self

    def __rsub__(self, other) -> Tensor:
        return self._other(other, self.data) - self

    def __rmul__(self, other) -> Tensor:
        return self._other(other, self.data) * self

    def __rtruediv__(self, other) -> Tensor:
        return self._other(other, self.data) / self

    def __neg__(self) -> Tensor:
        return Tensor._make(-self.data, (self,), lambda g: (-g,))

    def __pow__(self, exponent) -> Tensor:
        if isinstance(exponent, Tensor):
            raise TypeError("Tensor ** Tensor is not supported; use a Python number as exponent")
        a = self.data
        p = float(exponent)
        if p == 0.0:  # x**0 is constant: derivative 0 everywhere (0 * 0**-1 would be NaN at x = 0)
            return Tensor._make(a**exponent, (self,), lambda g: (np.zeros_like(g),))
        return Tensor._make(a**exponent, (self,), lambda g: (g * p * a ** (p - 1),))

    def __matmul__(self, other) -> Tensor:
        o = self._other(other, self.data)
        a, b = self.data, o.data
        try:
            out = a @ b
        except ValueError:
            raise ValueError(
                f"cannot matmul tensors of shapes {a.shape} and {b.shape}: the last dimension of the "
                f"first ({a.shape[-1] if a.ndim else 'scalar'}) must equal the second-to-last of the "
                f"second ({b.shape[-2] if b.ndim > 1 else b.shape})"
            ) from None

        def backward(g):
            if b.ndim == 1:
                ga = np.multiply.outer(g, b)
                gb = np.tensordot(g, a, axes=(tuple(range(g.ndim)), tuple(range(a.ndim - 1))))
                return ga, gb
            if a.ndim == 1:
                # g[..., None, :] keeps a batched b's stacks apart; (p,) @ (B, p, n) would pair every g row with every b
                ga = (g[..., None, :] @ np.swapaxes(b, -1, -2))[..., 0, :]
                gb = np.multiply.outer(a, g) if g.ndim == 1 else a[:, None] * g[..., None, :]
                return ga, gb
            return g @ np.swapaxes(b, -1, -2), np.swapaxes(a, -1, -2) @ g

        return Tensor._make(out, (self, o), backward)

    def __rmatmul__(self, other) -> Tensor:
        return self._other(other, self.data) @ self

    matmul = __matmul__  # PyTorch's / TinyTorch's method spelling; the same function

    # ------------------------------------------------------------------ comparisons (no grad)
    # Elementwise, like NumPy: each returns a boolean Tensor. ``__hash__`` stays identity-based so
    # tensors can still be dict keys and set members (which compare with ``is`` first).
    def _compare(self, other, fn) -> Tensor:
        o = other.data if isinstance(other, Tensor) else other
        try:
            # Checked first: NumPy < 1.25 answers `==`/`!=` of shapes that do not broadcast with a scalar
            # False (and a DeprecationWarning) instead of raising.
            np.broadcast_shapes(self.data.shape, np.shape(o))
            return Tensor(fn(self.data, o))
        except ValueError:
            raise _shape_error("compare", self.data, np.asarray(o)) from None

    def __eq__(self, other):  # noqa: D105
        return self._compare(other, operator.eq)

    def __ne__(self, other):
        return self._compare(other, operator.ne)

    def __lt__(self, other):
        return self._compare(other, operator.lt)

    def __le__(self, other):
        return self._compare(other, operator.le)

    def __gt__(self, other):
        return self._compare(other, operator.gt)

    def __ge__(self, other):
        return self._compare(other, operator.ge)

    __hash__ = object.__hash__

    # ------------------------------------------------------------------ shape ops
    def reshape(self, *shape) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        src = self.data.shape
        try:
            out = self.data.reshape(shape)
        except ValueError:
            raise ValueError(f"cannot reshape tensor of shape {src} ({self.data.size} elements) into {shape}") from None
        return Tensor._make(out, (self,), lambda g: (g.reshape(src),))

    def transpose(self, *axes) -> Tensor:
        """No axes: swap the last two dimensions (matrix transpose). Two axes: swap those two
        (PyTorch's ``transpose(dim0, dim1)``, also on 2-D). Otherwise a full permutation (NumPy)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if not axes:
            if self.ndim < 2:
                return self
            if self.ndim == 2:  # the hot path (Linear's weight.T): a view, its own inverse
                return Tensor._make(self.data.T, (self,), lambda g: (g.T,))
            axes = tuple(range(self.ndim - 2)) + (self.ndim - 1, self.ndim - 2)
        elif len(axes) == 2 and self.ndim >= 2:
            perm = list(range(self.ndim))
            perm[axes[0]], perm[axes[1]] = perm[axes[1]], perm[axes[0]]
            axes = tuple(perm)
        # Normalise negative axes: the inverse permutation below must be computed from 0..ndim-1.
        axes = tuple(int(a) % self.ndim if -self.ndim <= a < self.ndim else a for a in axes)
        inverse = tuple(sorted(range(len(axes)), key=axes.__getitem__))  # argsort, without NumPy's overhead
        return Tensor._make(self.data.transpose(axes), (self,), lambda g: (g.transpose(inverse),))

    def __getitem__(self, index) -> Tensor:
        if isinstance(index, Tensor):
            index = index.data
        src_shape, src_dtype = self.data.shape, self.data.dtype

        def backward(g):
            full = np.zeros(src_shape, dtype=src_dtype)
            np.add.at(full, index, g)
            return (full,)

        return Tensor._make(self.data[index], (self,), backward)

    # ------------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        src = self.data.shape

        def backward(g):
            if not keepdims and axis is not None:
                g = np.expand_dims(g, axis)
            return (np.broadcast_to(g, src),)

        return Tensor._make(self.data.sum(axis=axis, keepdims=keepdims), (self,), backward)

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        count = self.data.size if axis is None else np.prod([self.data.shape[a] for a in np.atleast_1d(axis)])
        return self.sum(axis=axis, keepdims=keepdims) / float(count)

    def max(self, axis=None, keepdims: bool = False) -> Tensor:
        a = self.data
        out = a.max(axis=axis, keepdims=True)

        def backward(g):
            if not keepdims and axis is not None:
                g = np.expand_dims(g, axis)
            mask = a == out
            # ties share the gradient equally so the total stays exact
            return (mask * g / mask.sum(axis=axis, keepdims=True),)

        result = out if keepdims else (out.reshape(()) if axis is None else np.squeeze(out, axis=axis))
        return Tensor._make(result, (self,), backward)

    # ------------------------------------------------------------------ elementwise math
    def exp(self) -> Tensor:
        out = np.exp(self.data)
        return Tensor._make(out, (self,), lambda g: (g * out,))

    def log(self) -> Tensor:
        a = self.data
        return Tensor._make(np.log(a), (self,), lambda g: (g / a,))

    def sqrt(self) -> Tensor:
        out = np.sqrt(self.data)
        return Tensor._make(out, (self,), lambda g: (g / (2 * out),))

    def tanh(self) -> Tensor:
        out = np.tanh(self.data)
        return Tensor._make(out, (self,), lambda g: (g * (1 - out * out),))

    def relu(self) -> Tensor:
        a = self.data
        return Tensor._make(np.maximum(a, 0), (self,), lambda g: (g * (a > 0),))

    def abs(self) -> Tensor:
        a = self.data
        return Tensor._make(np.abs(a), (self,), lambda g: (g * np.sign(a),))


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along ``axis``; the gradient is split back into the pieces."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    sizes = np.cumsum([t.shape[axis] for t in tensors])[:-1]
    out = np.concatenate([t.data for t in tensors], axis=axis)
    return Tensor._make(out, tensors, lambda g: tuple(np.split(g, sizes, axis=axis)))

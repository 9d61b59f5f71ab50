"""Module 01 — Tensor: a NumPy array that records how it was made.

Each operation computes its forward result with NumPy and, when any input requires a gradient,
records on the result a ``_grad_fn``: an instance of a named :class:`Function` subclass
(``AddBackward``, ``MatmulBackward``, …) holding the inputs (``saved_tensors``) and the rule that
pushes the output's gradient back to them (``apply(grad_output)``, one gradient per saved tensor).
That is TinyTorch's ``Function`` protocol; a learner's own ``class MyBackward(Function)`` set as
``out._grad_fn = MyBackward(x)`` is followed by ``backward()`` like a built-in one. A leaf has
``_grad_fn is None``. Module 05 (``autograd``) re-exports ``Function`` and exposes the grad-mode
switches and the gradient checker; the engine itself lives here so that no later module has to
monkey-patch this one (the backward classes of later modules' ops live in those modules).

Dtype policy: float input is stored as float32 unless a float dtype is asked for explicitly
(``dtype=np.float64`` for gradient checks); integer arrays keep their dtype, so int8 stays 1 byte.
"""

from __future__ import annotations

import operator
from contextlib import contextmanager
from typing import Iterator, Sequence

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


class Function:
    """A node of the backward graph (TinyTorch's protocol): ``Function(*tensors)`` saves its inputs.

    - ``saved_tensors``: the inputs, in order (non-``Tensor`` entries are allowed and get no gradient);
    - ``next_functions``: the ``_grad_fn`` of every saved tensor that has one (the graph's edges);
    - ``apply(grad_output)``: given d(loss)/d(output) as a NumPy array, return one gradient per saved
      tensor (a tuple; ``None`` for "no gradient"; arrays or Tensors; broadcast inputs are summed back
      to their shape by the engine).

    Subclass it and override ``apply``; call ``super().__init__(*tensors)`` if you override ``__init__``.
    The built-in ops create their nodes through ``Tensor._make``, which stores the op's backward rule as
    the instance's ``apply`` (so a backward step is one call, as fast as the closures it replaced).
    """

    def __init__(self, *tensors):
        self.saved_tensors = tensors

    @property
    def next_functions(self) -> tuple:
        return tuple(t._grad_fn for t in self.saved_tensors if isinstance(t, Tensor) and t._grad_fn is not None)

    def apply(self, grad_output):
        raise NotImplementedError(
            f"{type(self).__name__}.apply(grad_output) is not defined: a Function subclass must return one "
            "gradient per saved tensor"
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class OpFunction(Function):
    """Base of the built-in ops' nodes: ``Tensor._make`` fills the two slots directly (``apply`` is the
    op's backward rule), which keeps creating a node about as cheap as the closure it holds."""

    __slots__ = ("saved_tensors", "apply")


def _backward_class(name: str, doc: str) -> type:
    return type(name, (OpFunction,), {"__doc__": doc, "__module__": __name__, "__slots__": ()})


# The built-in ops of this module (later modules define theirs next to their ops).
AddBackward = _backward_class("AddBackward", "d(a + b) = (g, g).")
SubBackward = _backward_class("SubBackward", "d(a - b) = (g, -g).")
MulBackward = _backward_class("MulBackward", "d(a * b) = (g * b, g * a).")
DivBackward = _backward_class("DivBackward", "d(a / b) = (g / b, -g * a / b^2).")
MatmulBackward = _backward_class("MatmulBackward", "d(a @ b) = (g @ b^T, a^T @ g).")
TransposeBackward = _backward_class("TransposeBackward", "Swap of two axes: the gradient is swapped back.")
PermuteBackward = _backward_class("PermuteBackward", "A full axis permutation: the gradient gets the inverse one.")
ReshapeBackward = _backward_class("ReshapeBackward", "The gradient is reshaped back to the input's shape.")
SliceBackward = _backward_class("SliceBackward", "Indexing: the gradient is scattered (added) back into zeros.")
SumBackward = _backward_class("SumBackward", "The gradient is broadcast back over the summed axes.")
NegBackward = _backward_class("NegBackward", "d(-a) = -g.")
PowBackward = _backward_class("PowBackward", "d(a ** p) = g * p * a^(p-1).")
ExpBackward = _backward_class("ExpBackward", "d exp(a) = g * exp(a).")
LogBackward = _backward_class("LogBackward", "d log(a) = g / a.")
SqrtBackward = _backward_class("SqrtBackward", "d sqrt(a) = g / (2 sqrt(a)).")
TanhBackward = _backward_class("TanhBackward", "d tanh(a) = g * (1 - tanh(a)^2).")
ReLUBackward = _backward_class("ReLUBackward", "d relu(a) = g where a > 0, else 0.")
AbsBackward = _backward_class("AbsBackward", "d |a| = g * sign(a).")
MaxBackward = _backward_class("MaxBackward", "The gradient goes to the maxima (ties share it equally).")
CastBackward = _backward_class("CastBackward", "astype: the gradient is cast back to the input's dtype.")
ConcatBackward = _backward_class("ConcatBackward", "concatenate: the gradient is split back into the pieces.")
StackBackward = _backward_class("StackBackward", "stack: the gradient is unstacked back into the pieces.")
CustomBackward = _backward_class("CustomBackward", "An op made by ``Tensor._make`` without naming its class.")


class Tensor:
    """An n-dimensional array with optional reverse-mode gradient tracking."""

    __array_priority__ = 1000  # so ndarray <op> Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        """``data``: array-like; ``requires_grad``: record operations for ``backward()``.

        Float input is stored as float32 (unless ``dtype`` says otherwise); integer input keeps its
        dtype — except with ``requires_grad=True``, where it is cast to float32 (gradients are float:
        ``Tensor([1, 2, 3], requires_grad=True)`` is a float32 tensor, as in TinyTorch). An explicit
        integer ``dtype`` with ``requires_grad=True`` raises.
        """
        self.data: np.ndarray = _to_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            if dtype is not None or self.data.dtype.kind not in "iub":
                raise ValueError(
                    f"requires_grad=True needs a float tensor, got dtype {self.data.dtype}; "
                    "cast with .astype(np.float32) first"
                )
            self.data = self.data.astype(np.float32)
        self.requires_grad = bool(requires_grad)
        self.grad: np.ndarray | None = None
        self._grad_fn: Function | None = None

    # ------------------------------------------------------------------ graph plumbing
    @classmethod
    def _make(cls, data: np.ndarray, parents: Sequence[Tensor], backward, kind: type = CustomBackward) -> Tensor:
        """Wrap an op result; if it needs a gradient, record a ``kind`` node (a :class:`Function`
        subclass) with ``saved_tensors = parents`` and ``backward(grad) -> grads per parent`` as its
        ``apply``."""
        out = cls.__new__(Tensor)
        out.data = np.asarray(data)
        out.grad = None
        track = _grad_enabled and any(p.requires_grad for p in parents)
        out.requires_grad = track
        if track:
            fn = object.__new__(kind)
            fn.saved_tensors = parents if type(parents) is tuple else tuple(parents)
            fn.apply = backward
            out._grad_fn = fn
        else:
            out._grad_fn = None
        return out

    @property
    def grad_fn(self) -> Function | None:
        """PyTorch's spelling of ``_grad_fn``."""
        return self._grad_fn

    @property
    def _parents(self) -> tuple:
        """The tensors this one was computed from (``()`` for a leaf)."""
        fn = self._grad_fn
        return () if fn is None else tuple(t for t in fn.saved_tensors if isinstance(t, Tensor))

    @property
    def _backward(self):
        """The node's backward rule (``None`` for a leaf): ``grad -> one gradient per parent``."""
        fn = self._grad_fn
        return None if fn is None else fn.apply

    def backward(self, grad=None) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        Walks the ``_grad_fn`` graph iteratively (a 10,000-op chain needs no recursion), calling each
        node's ``apply`` once with the summed gradient of its output.
        """
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
        elif isinstance(grad, Tensor):
            grad = grad.data
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
            fn = node._grad_fn
            if fn is not None:
                stack.extend((p, False) for p in fn.saved_tensors if isinstance(p, Tensor) and id(p) not in seen)

        grads: dict[int, np.ndarray] = {id(self): grad}
        for node in reversed(order):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            fn = node._grad_fn
            if fn is None:  # a leaf
                node.grad = g.copy() if node.grad is None else node.grad + g
                continue
            pgs = fn.apply(g)
            if not isinstance(pgs, (tuple, list)):  # a learner's apply for one input may return it bare
                pgs = (pgs,)
            for parent, pg in zip(fn.saved_tensors, pgs):
                if pg is None or not isinstance(parent, Tensor) or not parent.requires_grad:
                    continue
                if isinstance(pg, Tensor):
                    pg = pg.data
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
        return Tensor._make(self.data.astype(dtype), (self,), lambda g: (g.astype(src),), CastBackward)

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

    def _binary(self, other, op: str, fn, backward, kind: type) -> Tensor:
        o = self._other(other, self.data)
        try:
            out = fn(self.data, o.data)
        except ValueError:
            raise _shape_error(op, self.data, o.data) from None
        return Tensor._make(out, (self, o), lambda g: backward(g, self.data, o.data), kind)

    def __add__(self, other) -> Tensor:
        return self._binary(other, "add", np.add, lambda g, a, b: (g, g), AddBackward)

    def __sub__(self, other) -> Tensor:
        return self._binary(other, "subtract", np.subtract, lambda g, a, b: (g, -g), SubBackward)

    def __mul__(self, other) -> Tensor:
        return self._binary(other, "multiply", np.multiply, lambda g, a, b: (g * b, g * a), MulBackward)

    def __truediv__(self, other) -> Tensor:
        return self._binary(other, "divide", np.divide, lambda g, a, b: (g / b, -g * a / (b * b)), DivBackward)

    def __radd__(self, other) -> Tensor:
        return self._other(other, self.data) + self

    def __rsub__(self, other) -> Tensor:
        return self._other(other, self.data) - self

    def __rmul__(self, other) -> Tensor:
        return self._other(other, self.data) * self

    def __rtruediv__(self, other) -> Tensor:
        return self._other(other, self.data) / self

    def __neg__(self) -> Tensor:
        return Tensor._make(-self.data, (self,), lambda g: (-g,), NegBackward)

    def __pow__(self, exponent) -> Tensor:
        if isinstance(exponent, Tensor):
            raise TypeError("Tensor ** Tensor is not supported; use a Python number as exponent")
        a = self.data
        p = float(exponent)
        if p == 0.0:  # x**0 is constant: derivative 0 everywhere (0 * 0**-1 would be NaN at x = 0)
            return Tensor._make(a**exponent, (self,), lambda g: (np.zeros_like(g),), PowBackward)
        return Tensor._make(a**exponent, (self,), lambda g: (g * p * a ** (p - 1),), PowBackward)

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

        return Tensor._make(out, (self, o), backward, MatmulBackward)

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
        return Tensor._make(out, (self,), lambda g: (g.reshape(src),), ReshapeBackward)

    def transpose(self, *axes) -> Tensor:
        """No axes: swap the last two dimensions (matrix transpose). Two axes: swap those two
        (PyTorch's ``transpose(dim0, dim1)``, also on 2-D). Otherwise a full permutation (NumPy)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        swap = len(axes) < 3  # no axes or two of them: a transpose; otherwise a permutation
        if not axes:
            if self.ndim < 2:
                return self
            if self.ndim == 2:  # the hot path (Linear's weight.T): a view, its own inverse
                return Tensor._make(self.data.T, (self,), lambda g: (g.T,), TransposeBackward)
            axes = tuple(range(self.ndim - 2)) + (self.ndim - 1, self.ndim - 2)
        elif len(axes) == 2 and self.ndim >= 2:
            perm = list(range(self.ndim))
            perm[axes[0]], perm[axes[1]] = perm[axes[1]], perm[axes[0]]
            axes = tuple(perm)
        # Normalise negative axes: the inverse permutation below must be computed from 0..ndim-1.
        axes = tuple(int(a) % self.ndim if -self.ndim <= a < self.ndim else a for a in axes)
        inverse = tuple(sorted(range(len(axes)), key=axes.__getitem__))  # argsort, without NumPy's overhead
        kind = TransposeBackward if swap else PermuteBackward
        return Tensor._make(self.data.transpose(axes), (self,), lambda g: (g.transpose(inverse),), kind)

    def __getitem__(self, index) -> Tensor:
        if isinstance(index, Tensor):
            index = index.data
        src_shape, src_dtype = self.data.shape, self.data.dtype

        def backward(g):
            full = np.zeros(src_shape, dtype=src_dtype)
            np.add.at(full, index, g)
            return (full,)

        return Tensor._make(self.data[index], (self,), backward, SliceBackward)

    # ------------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        src = self.data.shape

        def backward(g):
            if not keepdims and axis is not None:
                g = np.expand_dims(g, axis)
            return (np.broadcast_to(g, src),)

        return Tensor._make(self.data.sum(axis=axis, keepdims=keepdims), (self,), backward, SumBackward)

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
        return Tensor._make(result, (self,), backward, MaxBackward)

    # ------------------------------------------------------------------ elementwise math
    def exp(self) -> Tensor:
        out = np.exp(self.data)
        return Tensor._make(out, (self,), lambda g: (g * out,), ExpBackward)

    def log(self) -> Tensor:
        a = self.data
        return Tensor._make(np.log(a), (self,), lambda g: (g / a,), LogBackward)

    def sqrt(self) -> Tensor:
        out = np.sqrt(self.data)
        return Tensor._make(out, (self,), lambda g: (g / (2 * out),), SqrtBackward)

    def tanh(self) -> Tensor:
        out = np.tanh(self.data)
        return Tensor._make(out, (self,), lambda g: (g * (1 - out * out),), TanhBackward)

    def relu(self) -> Tensor:
        a = self.data
        return Tensor._make(np.maximum(a, 0), (self,), lambda g: (g * (a > 0),), ReLUBackward)

    def abs(self) -> Tensor:
        a = self.data
        return Tensor._make(np.abs(a), (self,), lambda g: (g * np.sign(a),), AbsBackward)


def _pieces(tensors, what: str) -> list[Tensor]:
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError(f"{what} needs at least one tensor, got an empty sequence")
    return tensors


def _shapes_error(what: str, tensors: Sequence[Tensor], axis: int, rule: str) -> ValueError:
    shapes = ", ".join(f"[{i}] {tuple(t.shape)}" for i, t in enumerate(tensors))
    return ValueError(f"{what}(axis={axis}): the shapes given are {shapes}; {rule}")


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along ``axis``; the gradient is split back into the pieces.

    Shapes that do not fit raise ``ValueError`` naming every shape given.
    """
    tensors = _pieces(tensors, "concatenate")
    try:
        out = np.concatenate([t.data for t in tensors], axis=axis)
    except ValueError:  # an AxisError is a ValueError too
        raise _shapes_error(
            "concatenate",
            tensors,
            axis,
            f"all must have the same number of dimensions and equal sizes except on axis {axis}",
        ) from None
    sizes = np.cumsum([t.shape[axis] for t in tensors])[:-1]
    return Tensor._make(out, tensors, lambda g: tuple(np.split(g, sizes, axis=axis)), ConcatBackward)


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Stack same-shaped tensors along a new ``axis``; the gradient is unstacked back.

    Shapes that differ raise ``ValueError`` naming every shape given.
    """
    tensors = _pieces(tensors, "stack")
    if len({t.shape for t in tensors}) != 1:
        raise _shapes_error("stack", tensors, axis, "stack needs every tensor to have the same shape")
    out = np.stack([t.data for t in tensors], axis=axis)
    n = len(tensors)
    return Tensor._make(out, tensors, lambda g: tuple(np.take(g, i, axis=axis) for i in range(n)), StackBackward)

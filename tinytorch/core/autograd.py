"""Module 05 — autograd: grad-mode switches and the finite-difference gradient checker.

The reverse-mode engine lives in module 01 (``Tensor.backward`` and each op's ``_grad_fn`` node), so
no module has to patch an earlier one. This module is the user-facing surface: ``no_grad`` to stop
recording, ``enable_autograd`` to (re-)enable it, ``gradcheck`` to verify any op's gradient
against central finite differences in float64, and TinyTorch's ``Function`` protocol with module 01's
backward classes (``AddBackward``, ``MatmulBackward``, …; those of later modules' ops — ``ReLU``'s
excepted, a module 01 op — live in their modules: ``SigmoidBackward`` in activations, ``MSEBackward``
in losses, ``Conv2dBackward`` in spatial, ``EmbeddingBackward`` in embeddings).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from tinytorch.core.tensor import (
    AbsBackward,
    AddBackward,
    CastBackward,
    ConcatBackward,
    DivBackward,
    ExpBackward,
    Function,
    LogBackward,
    MatmulBackward,
    MaxBackward,
    MulBackward,
    NegBackward,
    PermuteBackward,
    PowBackward,
    ReLUBackward,
    ReshapeBackward,
    SliceBackward,
    SqrtBackward,
    StackBackward,
    SubBackward,
    SumBackward,
    TanhBackward,
    Tensor,
    TransposeBackward,
    grad_mode,
    is_grad_enabled,
    set_grad_enabled,
)

BACKWARD_CLASSES = (
    AddBackward, SubBackward, MulBackward, DivBackward, MatmulBackward, TransposeBackward, PermuteBackward,
    ReshapeBackward, SliceBackward, SumBackward, NegBackward, PowBackward, ExpBackward, LogBackward,
    SqrtBackward, TanhBackward, ReLUBackward, AbsBackward, MaxBackward, CastBackward, ConcatBackward,
    StackBackward,
)  # fmt: skip

__all__ = [
    "enable_autograd", "no_grad", "is_grad_enabled", "gradcheck", "numerical_grad", "Function",
    *(cls.__name__ for cls in BACKWARD_CLASSES),
]  # fmt: skip


def enable_autograd() -> None:
    """Turn gradient recording on (it is on by default; kept for TinyTorch compatibility)."""
    set_grad_enabled(True)


def no_grad():
    """Context manager: operations inside record no graph (inference, optimizer updates)."""
    return grad_mode(False)


def numerical_grad(
    fn: Callable[..., Tensor], inputs: Sequence[np.ndarray], index: int, eps: float = 1e-6
) -> np.ndarray:
    """Central finite difference of ``fn(*inputs).sum()`` with respect to ``inputs[index]``."""
    x = inputs[index]
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        orig = x[i]
        x[i] = orig + eps
        plus = float(np.sum(fn(*[Tensor(a, dtype=a.dtype) for a in inputs]).data))
        x[i] = orig - eps
        minus = float(np.sum(fn(*[Tensor(a, dtype=a.dtype) for a in inputs]).data))
        x[i] = orig
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(fn: Callable[..., Tensor], *arrays, atol: float = 1e-6, rtol: float = 1e-4) -> bool:
    """Compare autograd gradients of ``fn(*tensors).sum()`` with finite differences in float64.

    Raises ``AssertionError`` naming the input and the worst element when they disagree.
    """
    inputs = [np.array(a, dtype=np.float64) for a in arrays]
    tensors = [Tensor(a.copy(), requires_grad=True, dtype=np.float64) for a in inputs]
    with grad_mode(True):
        fn(*tensors).sum().backward()
    for k, t in enumerate(tensors):
        expected = numerical_grad(fn, inputs, k)
        got = t.grad if t.grad is not None else np.zeros_like(expected)
        if not np.allclose(got, expected, atol=atol, rtol=rtol):
            worst = np.unravel_index(np.argmax(np.abs(got - expected)), expected.shape)
            raise AssertionError(
                f"gradient of input {k} disagrees with finite differences at {worst}: "
                f"autograd {got[worst]!r} vs numerical {expected[worst]!r}"
            )
    return True

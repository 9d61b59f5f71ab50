"""Module 04 — losses: MSELoss, CrossEntropyLoss, BinaryCrossEntropyLoss.

Each loss is a callable object, ``loss_fn(pred, target) -> scalar Tensor``, averaged over the batch.
The result keeps the prediction's float dtype (float64 in, float64 out) so ``gradcheck`` can verify it.

Cross-entropy and binary cross-entropy compute their value in NumPy and attach one fused backward
rule through ``Tensor._make``: the fused gradients ``(softmax - onehot) / N`` and
``(p - t) / (p (1 - p)) / N`` are exact, cheap, and never see the overflowing intermediates
(``exp(1e4)``, ``log(0)``) that a naive composition of ops would.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import OpFunction, Tensor

__all__ = [
    "Loss",
    "MSELoss",
    "CrossEntropyLoss",
    "BinaryCrossEntropyLoss",
    "mse_loss",
    "cross_entropy",
    "binary_cross_entropy",
    "MSEBackward",
    "CrossEntropyBackward",
    "BCEBackward",
]


class MSEBackward(OpFunction):
    """mean((p - t)^2): gradients 2 (p - t) / N for the prediction and its negative for the target."""

    __slots__ = ()


class CrossEntropyBackward(OpFunction):
    """Fused softmax cross-entropy: (softmax - onehot) / N."""

    __slots__ = ()


class BCEBackward(OpFunction):
    """Binary cross-entropy: (p - t) / (p (1 - p)) / N inside the clip range."""

    __slots__ = ()


# ----------------------------------------------------------------------------- input checks
def _float_tensor(x) -> Tensor:
    """Predictions as a float Tensor; an int array is promoted to float32 (it carries no graph)."""
    t = x if isinstance(x, Tensor) else Tensor(x)
    if t.dtype.kind != "f":
        t = Tensor(t.data, dtype=np.float32)
    return t


def _target_like(target, pred: Tensor, who: str) -> Tensor:
    """A float target in the prediction's dtype, with exactly the prediction's shape."""
    if isinstance(target, Tensor):
        t = target if target.dtype == pred.dtype else target.astype(pred.dtype)
    else:
        t = Tensor(np.asarray(target), dtype=pred.dtype)
    if t.shape != pred.shape:
        # No silent broadcasting: (N, 1) against (N,) would turn a loss into an N x N average.
        raise ValueError(
            f"{who}: prediction has shape {pred.shape} but target has shape {t.shape}; "
            "they must match exactly (reshape the target, e.g. target.reshape(pred.shape))"
        )
    return t


def _class_ids(target, logits_shape: tuple, who: str) -> np.ndarray:
    """Integer class ids of shape ``logits_shape[:-1]``, each in ``[0, C)``."""
    ids = np.asarray(target.data if isinstance(target, Tensor) else target)
    num_classes = logits_shape[-1]
    if ids.dtype.kind == "f":
        if not np.all(np.isfinite(ids)) or np.any(ids != np.round(ids)):
            raise ValueError(
                f"{who}: targets must be integer class ids, got non-integral floats (dtype {ids.dtype}); "
                "pass ids such as np.array([0, 2, 1])"
            )
        ids = ids.astype(np.int64)
    elif ids.dtype.kind not in "iu":
        raise ValueError(f"{who}: targets must be integer class ids, got dtype {ids.dtype}")
    if ids.shape != tuple(logits_shape[:-1]):
        raise ValueError(
            f"{who}: logits of shape {tuple(logits_shape)} need targets of shape {tuple(logits_shape[:-1])} "
            f"(one class id per row), got targets of shape {ids.shape}"
        )
    bad = (ids < 0) | (ids >= num_classes)
    if np.any(bad):
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{who}: class id {int(ids[where])} at position {where} is out of range for C={num_classes} "
            f"classes (valid ids are 0..{num_classes - 1})"
        )
    return ids.astype(np.intp, copy=False)


# ----------------------------------------------------------------------------- functional forms
def mse_loss(pred, target) -> Tensor:
    """Mean of squared differences, one fused node (``MSEBackward``); gradients reach pred and target."""
    pred = _float_tensor(pred)
    tgt = _target_like(target, pred, "MSELoss")
    diff = pred.data - tgt.data
    if diff.size == 0:
        raise ValueError(f"MSELoss: empty prediction of shape {diff.shape}; the mean of nothing is undefined")
    loss = np.asarray((diff * diff).mean(), dtype=diff.dtype)

    def backward(g):
        grad = diff * (g * 2)
        grad /= diff.size
        return grad, -grad

    return Tensor._make(loss, (pred, tgt), backward, MSEBackward)


def cross_entropy(logits, target) -> Tensor:
    """Mean of ``-log softmax(logits)[target]`` over every row.

    ``logits`` is ``(N, C)`` (or ``(..., C)``, e.g. a language model's ``(B, T, V)``) and ``target``
    holds one integer class id per row, shape ``(N,)`` (or ``(...)``), as a Tensor, array or list.
    """
    who = "CrossEntropyLoss"
    logits = _float_tensor(logits)
    if logits.ndim < 2:
        raise ValueError(f"{who}: logits must be (N, C) with one row per sample, got shape {logits.shape}")
    ids = _class_ids(target, logits.shape, who).reshape(-1)
    num_classes = logits.shape[-1]
    rows = ids.size
    if rows == 0:
        raise ValueError(f"{who}: empty batch (logits of shape {logits.shape}); the mean of nothing is undefined")

    z = logits.data.reshape(rows, num_classes)
    shifted = z - z.max(axis=1, keepdims=True)  # log-sum-exp trick: largest exponent is 0
    lse = np.log(np.exp(shifted).sum(axis=1))
    picked = np.arange(rows)
    loss = np.asarray((lse - shifted[picked, ids]).mean(), dtype=z.dtype)

    def backward(g):
        grad = np.exp(shifted - lse[:, None])  # softmax
        grad[picked, ids] -= 1
        grad *= g  # in place: keeps the logits' dtype on every NumPy (no value-based promotion)
        grad /= rows
        return (grad.reshape(logits.shape),)

    return Tensor._make(loss, (logits,), backward, CrossEntropyBackward)


def binary_cross_entropy(probs, target, eps: float = 1e-7) -> Tensor:
    """Mean of ``-(t log p + (1 - t) log(1 - p))`` on probabilities ``p`` (apply Sigmoid first).

    ``p`` is clipped to ``[eps, 1 - eps]`` so a confident 0 or 1 gives a large finite loss, not inf.
    The target is treated as a constant (no gradient flows to it).
    """
    who = "BinaryCrossEntropyLoss"
    probs = _float_tensor(probs)
    t = _target_like(target, probs, who).data
    p = probs.data
    if p.size == 0:
        raise ValueError(f"{who}: empty prediction of shape {p.shape}; the mean of nothing is undefined")
    for arg, arr in (("probabilities", p), ("targets", t)):
        bad = np.isnan(arr)
        if np.any(bad):
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{who}: {arg} contain NaN ({int(bad.sum())} of {arr.size}, the first at index {where}); "
                "a NaN loss would silently poison every weight. Find where the NaN comes from (a diverging "
                "model, a bad sample) and fix or drop it"
            )
    if np.any((p < 0) | (p > 1)):
        raise ValueError(
            f"{who} expects probabilities in [0, 1], got values in [{p.min()}, {p.max()}]; "
            "apply Sigmoid to the logits first"
        )
    if np.any((t < 0) | (t > 1)):
        raise ValueError(f"{who}: targets must lie in [0, 1], got values in [{t.min()}, {t.max()}]")
    pc = np.clip(p, eps, 1.0 - eps)
    loss = np.asarray(-(t * np.log(pc) + (1.0 - t) * np.log1p(-pc)).mean(), dtype=p.dtype)

    def backward(g):
        # Exact derivative inside the clip range; at the clip edges it stays large and points the
        # right way, so a saturated prediction can still be trained back (as in PyTorch's BCELoss).
        grad = (pc - t) / (pc * (1.0 - pc))
        grad *= g  # in place: keeps the prediction's dtype on every NumPy
        grad /= p.size
        return (grad,)

    return Tensor._make(loss, (probs,), backward, BCEBackward)


# ----------------------------------------------------------------------------- callable objects
class Loss:
    """Base: ``loss_fn(pred, target)`` returns a scalar Tensor with its backward rule attached."""

    def __call__(self, pred, target) -> Tensor:
        return self.forward(pred, target)

    def forward(self, pred, target) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MSELoss(Loss):
    """Mean squared error; prediction and target must have the same shape."""

    def forward(self, pred, target) -> Tensor:
        return mse_loss(pred, target)


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy on logits ``(N, C)`` with integer class targets ``(N,)``."""

    def forward(self, pred, target) -> Tensor:
        return cross_entropy(pred, target)


class BinaryCrossEntropyLoss(Loss):
    """Binary cross-entropy on probabilities; ``eps`` bounds them away from 0 and 1."""

    def __init__(self, eps: float = 1e-7):
        if not 0.0 < eps < 0.5:
            raise ValueError(f"BinaryCrossEntropyLoss: eps must be in (0, 0.5), got {eps!r}")
        self.eps = float(eps)

    def forward(self, pred, target) -> Tensor:
        return binary_cross_entropy(pred, target, self.eps)

    def __repr__(self) -> str:
        return f"BinaryCrossEntropyLoss(eps={self.eps})"

"""Module 06 — optimizers: SGD (momentum, Nesterov), Adam and AdamW.

Names, defaults and update rules follow ``torch.optim`` exactly, so one step here can be checked
against theirs (or against the published equations, as the tests do):

- ``SGD``: ``g += wd·p``; ``buf = g`` on the first step, then ``buf = μ·buf + (1-τ)·g``;
  Nesterov uses ``g + μ·buf``, plain momentum uses ``buf``; ``p -= lr·g``.
- ``Adam``: L2 penalty added to the gradient (``g += wd·p``), then the bias-corrected moments
  ``p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps)``.
- ``AdamW``: the same, but the decay is decoupled from the gradient: ``p *= 1 - lr·wd`` first
  (Loshchilov & Hutter, 2019).

Parameters are updated in place (``p.data[...] -= …``) so a model's live arrays change and their
dtype is kept: hyper-parameters are Python floats, which NumPy treats as "weak" scalars, so a
float32 parameter and its optimizer state stay float32.

``lr`` is a plain (validated) attribute, so a schedule can set ``optimizer.lr = schedule(step)``.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from tinytorch.core.tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]


def _check_number(owner: str, name: str, value, low: float = 0.0, high: float | None = None, open_high=True):
    """Validate a hyper-parameter; the error names the argument, the value and the allowed range."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{owner}: {name} must be a number, got {value!r}")
    value = float(value)
    too_high = high is not None and (value >= high if open_high else value > high)
    if not math.isfinite(value) or value < low or too_high:
        bound = "" if high is None else (f" and < {high}" if open_high else f" and <= {high}")
        raise ValueError(f"{owner}: {name} must be >= {low}{bound}, got {value!r}")
    return value


class Optimizer:
    """Holds the parameter list, the learning rate and per-parameter state."""

    def __init__(self, params: Iterable[Tensor], lr: float):
        self.params = self._collect(params)
        self.lr = lr  # validated by the property below
        # Per-parameter state, indexed like ``self.params`` (ids could be reused after GC).
        self.state: list[dict] = [{} for _ in self.params]

    def _collect(self, params) -> list[Tensor]:
        owner = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{owner}: params must be an iterable of tensors, e.g. model.parameters(), not one Tensor")
        params = list(params)
        if not params:
            raise ValueError(f"{owner}: got an empty parameter list; pass model.parameters()")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{owner}: params[{i}] is a {type(p).__name__}, expected a Tensor/Parameter")
            if p.data.dtype.kind != "f":
                raise ValueError(
                    f"{owner}: params[{i}] has dtype {p.data.dtype}; only float tensors can be optimized "
                    "(int8 quantized codes are buffers, not parameters)"
                )
        return params

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _check_number(type(self).__name__, "lr", value)

    def zero_grad(self) -> None:
        """Forget every gradient (``.grad = None``, like PyTorch's default ``set_to_none=True``)."""
        for p in self.params:
            p.grad = None

    def _grads(self):
        """Yield ``(param, grad as param dtype, state)`` for every parameter that has a gradient."""
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            # A Tensor-valued .grad (learners' code often wraps it: ``p.grad = Tensor(...)``) counts by its array.
            g = p.grad.data if isinstance(p.grad, Tensor) else np.asarray(p.grad)
            if g.shape != p.data.shape:
                raise ValueError(
                    f"{type(self).__name__}: a parameter of shape {p.data.shape} has a gradient of shape "
                    f"{g.shape}; gradients must match their parameter"
                )
            yield p, g.astype(p.data.dtype, copy=True), state

    def step(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.params)} params, lr={self.lr})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov and L2 weight decay."""

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, lr)
        self.momentum = _check_number("SGD", "momentum", momentum)
        self.dampening = _check_number("SGD", "dampening", dampening)
        self.weight_decay = _check_number("SGD", "weight_decay", weight_decay)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                f"SGD: nesterov=True requires momentum > 0 and dampening = 0, got momentum={momentum!r}, "
                f"dampening={dampening!r}"
            )

    def step(self) -> None:
        for p, g, state in self._grads():
            if self.weight_decay:
                g += self.weight_decay * p.data
            if self.momentum:
                buf = state.get("momentum_buffer")
                if buf is None:  # PyTorch starts the buffer at the first gradient, undamped
                    buf = state["momentum_buffer"] = g.copy()
                else:
                    buf *= self.momentum
                    buf += (1.0 - self.dampening) * g
                g = g + self.momentum * buf if self.nesterov else buf
            p.data[...] -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with PyTorch's defaults; ``weight_decay`` is an L2 term on the gradient."""

    decoupled = False

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, lr)
        name = type(self).__name__
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (
            _check_number(name, "betas[0]", betas[0], high=1.0),
            _check_number(name, "betas[1]", betas[1], high=1.0),
        )
        self.eps = _check_number(name, "eps", eps)
        self.weight_decay = _check_number(name, "weight_decay", weight_decay)

    def step(self) -> None:
        beta1, beta2 = self.betas
        for p, g, state in self._grads():
            if self.weight_decay:
                if self.decoupled:  # AdamW: shrink the weights, leave the gradient alone
                    p.data[...] *= 1.0 - self.lr * self.weight_decay
                else:  # Adam: L2 penalty folded into the gradient
                    g += self.weight_decay * p.data
            if not state:
                state["step"] = 0
                state["exp_avg"] = np.zeros_like(p.data)
                state["exp_avg_sq"] = np.zeros_like(p.data)
            state["step"] += 1
            t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
            m *= beta1
            m += (1.0 - beta1) * g
            v *= beta2
            v += (1.0 - beta2) * g * g
            step_size = self.lr / (1.0 - beta1**t)
            denom = np.sqrt(v) / math.sqrt(1.0 - beta2**t) + self.eps
            p.data[...] -= step_size * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (``p *= 1 - lr·wd`` before the Adam step), as ``torch.optim.AdamW``."""

    decoupled = True

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

"""Module 02 — activations: ReLU, Sigmoid, Tanh, GELU, Softmax.

Each is a callable object (so it can sit in a ``Sequential``) built from Tensor operations, so
gradients come from the ops' own backward rules. Sigmoid and Softmax are written to never overflow.

Integer (or boolean) input is computed in float32, the framework's float: ``Sigmoid()(Tensor([0, 1]))``
is ``[0.5, 0.731]`` float32, never cast back to the integer dtype (and never float64). Integer tensors
cannot require grad, so the conversion loses no graph. ``forward`` converts too, so calling
``act.forward(x)`` directly (TinyTorch's idiom) gives the same result as ``act(x)``.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import OpFunction, ReLUBackward, TanhBackward, Tensor

__all__ = [
    "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "softmax",
    "ReLUBackward", "TanhBackward", "SigmoidBackward", "GELUBackward", "SoftmaxBackward",
]  # fmt: skip

# ReLUBackward and TanhBackward are module 01's (``Tensor.relu`` / ``Tensor.tanh`` are its ops); the
# activations here use those ops, so their results carry those nodes. The fused ones below are ours.


class SigmoidBackward(OpFunction):
    """d sigmoid(x) = g * s * (1 - s)."""

    __slots__ = ()


class GELUBackward(OpFunction):
    """The tanh-approximation GELU's exact derivative."""

    __slots__ = ()


class SoftmaxBackward(OpFunction):
    """d softmax: p * (g - sum(g * p)) along the softmax axis."""

    __slots__ = ()


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _float_input(x) -> Tensor:
    """``x`` as a float Tensor: float dtypes are kept (float64 for gradient checks), anything else -> float32."""
    x = _as_tensor(x)
    return x if x.dtype.kind == "f" else Tensor(x.data, dtype=np.float32)


class Activation:
    """Base: call it like a layer. (Module 03 is not imported here: 02 comes before it.)"""

    training = True

    def __call__(self, x) -> Tensor:
        return self.forward(_as_tensor(x))  # a user subclass's forward may expect a Tensor

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ReLU(Activation):
    def forward(self, x: Tensor) -> Tensor:
        return _float_input(x).relu()


class Tanh(Activation):
    def forward(self, x: Tensor) -> Tensor:
        return _float_input(x).tanh()


class Sigmoid(Activation):
    """1 / (1 + e^-x), evaluated as e^x / (1 + e^x) for negative x so |x| = 1000 cannot overflow."""

    def forward(self, x: Tensor) -> Tensor:
        x = _float_input(x)
        a = x.data
        e = np.exp(-np.abs(a))  # always in (0, 1]
        out = np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(a.dtype, copy=False)
        return Tensor._make(out, (x,), lambda g: (g * out * (1.0 - out),), SigmoidBackward)


class GELU(Activation):
    """Gaussian Error Linear Unit, tanh approximation (as in GPT-2).

    One fused op with its own derivative rather than ~8 composed ones: every transformer MLP calls it
    once per token during generation, where per-op overhead dominates.
    """

    _C = float(np.sqrt(2.0 / np.pi))
    _K = 0.044715

    def forward(self, x: Tensor) -> Tensor:
        x = _float_input(x)
        a = x.data
        t = np.tanh(self._C * (a + self._K * a * a * a))
        out = 0.5 * a * (1.0 + t)

        def backward(g):
            d_inner = self._C * (1.0 + 3.0 * self._K * a * a)
            return (g * (0.5 * (1.0 + t) + 0.5 * a * (1.0 - t * t) * d_inner),)

        return Tensor._make(out, (x,), backward, GELUBackward)


class Softmax(Activation):
    """exp(x - max) / sum(exp(x - max)) along ``axis``; the shift makes it overflow-free."""

    def __init__(self, axis: int = -1):
        self.axis = axis

    def forward(self, x: Tensor) -> Tensor:
        return softmax(x, self.axis)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """Numerically stable softmax as a function (used by attention and the losses)."""
    x = _float_input(x)
    # The shift is a constant: softmax is invariant to it. One fused node (SoftmaxBackward).
    e = np.exp(x.data - x.data.max(axis=axis, keepdims=True))
    p = e / e.sum(axis=axis, keepdims=True)

    def backward(g):
        return (p * (g - (g * p).sum(axis=axis, keepdims=True)),)

    return Tensor._make(p, (x,), backward, SoftmaxBackward)

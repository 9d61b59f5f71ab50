"""Module 03 — layers: ``Module`` and the basic building blocks.

Like PyTorch's ``nn.Module``, a ``Module`` discovers its parameters, buffers and children from its
attributes (and from lists/tuples of modules), so ``named_modules()`` walks any model and a child can
be swapped by its dotted name — which is how quantization replaces layers anywhere in a tree.

Vocabulary:
- a *parameter* is a ``Parameter`` attribute (trainable, returned by ``parameters()``), or a plain
  float ``Tensor`` attribute created with ``requires_grad=True`` — the way TinyTorch learners declare
  weights (``self.w = Tensor(np.random.randn(3, 4), requires_grad=True)``). Only *leaf* tensors count:
  the result of an operation stored on ``self`` (say a cached activation) is never a parameter;
- a *buffer* is any other ``Tensor`` attribute (e.g. int8 codes, scales): saved, not trained.

``Layer`` is the same class as ``Module`` (the name learners subclass in TinyTorch).
"""

from __future__ import annotations

from collections import OrderedDict
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

import numpy as np

from tinytorch.core.tensor import OpFunction, Tensor


class LinearBackward(OpFunction):
    """Fused ``x @ W.T + b``: gradients ``g @ W``, ``g^T @ x`` and ``sum(g)``."""

    __slots__ = ()


class Parameter(Tensor):
    """A trainable tensor: ``requires_grad`` defaults to True.

    A plain ``Tensor(..., requires_grad=True)`` attribute of a ``Module`` is a parameter too (see
    :func:`is_parameter`); ``Parameter`` stays the explicit spelling, and the only one that remains a
    parameter when frozen (``requires_grad=False``).
    """

    def __init__(self, data, requires_grad: bool = True, dtype=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)


def is_parameter(t) -> bool:
    """True for a ``Parameter``, or a float leaf ``Tensor`` that requires grad (a learner's weight).

    A leaf is a tensor not produced by an operation (``_grad_fn is None``): an op result stored on a
    module is an activation and stays a buffer, so it is never handed to an optimizer.
    """
    if isinstance(t, Parameter):
        return True
    return isinstance(t, Tensor) and t.requires_grad and t.dtype.kind == "f" and t._grad_fn is None


def _split_name(name: str) -> list[str]:
    if not name:
        raise KeyError("empty module name; use the names printed by model.named_modules()")
    return name.split(".")


def _step(obj: object, part: str, name: str, owner: Module) -> object:
    """One hop of a dotted name: an attribute, or an index into a list/tuple of children.

    Every kind of bad name (unknown attribute, non-integer or out-of-range index) becomes the same
    ``KeyError`` so callers need to catch one exception type.
    """
    if isinstance(obj, (list, tuple)):
        if not (part.isdigit() and int(part) < len(obj)):
            raise KeyError(
                f"{type(owner).__name__} has no submodule {name!r}: {part!r} is not an index of a list of {len(obj)}"
            )
        return obj[int(part)]
    child = getattr(obj, part, None)
    if child is None:
        raise KeyError(f"{type(owner).__name__} has no submodule {name!r}; see model.named_modules() for valid names")
    return child


class Module:
    """Base class of every layer and model."""

    training: bool = True

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ discovery
    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every descendant, depth first; each module once (shared ones too)."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            kids = [(f"{name}.{n}" if name else n, c) for n, c in module.named_children()]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def _own_tensors(self) -> Iterator[tuple[str, Tensor]]:
        for name, value in vars(self).items():
            if isinstance(value, Tensor):
                yield name, value

    def named_tensors(self) -> Iterator[tuple[str, Tensor]]:
        """Every tensor (parameters and buffers) under its dotted name; shared ones once."""
        seen: set[int] = set()
        for mod_name, module in self.named_modules():
            for name, t in module._own_tensors():
                if id(t) not in seen:
                    seen.add(id(t))
                    yield (f"{mod_name}.{name}" if mod_name else name), t

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        for name, t in self.named_tensors():
            if is_parameter(t):
                yield name, t

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        for name, t in self.named_tensors():
            if not is_parameter(t):
                yield name, t

    # ------------------------------------------------------------------ swapping children
    def get_submodule(self, name: str) -> Module:
        module: object = self
        for part in _split_name(name):
            module = _step(module, part, name, self)
        if not isinstance(module, Module):
            raise KeyError(f"{name!r} is not a Module (it is a {type(module).__name__})")
        return module

    def set_submodule(self, name: str, new: Module) -> None:
        """Replace the child at dotted ``name`` (e.g. ``"blocks.0.attn.q_proj"``) with ``new``."""
        if not isinstance(new, Module):
            raise TypeError(f"set_submodule({name!r}, ...) needs a Module, got {type(new).__name__}")
        parts = _split_name(name)
        parent: object = self
        for part in parts[:-1]:
            parent = _step(parent, part, name, self)
        last = parts[-1]
        if not isinstance(_step(parent, last, name, self), Module):  # only existing children are swapped
            raise KeyError(f"{type(self).__name__} has no submodule {name!r}; see model.named_modules()")
        if isinstance(parent, list):
            parent[int(last)] = new
        elif isinstance(parent, tuple):
            raise TypeError(f"cannot replace {name!r}: its container is a tuple; store children in a list")
        else:
            setattr(parent, last, new)

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    # ------------------------------------------------------------------ state
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Name → a copy of every tensor's array (parameters and buffers), dtypes preserved."""
        return OrderedDict((name, t.data.copy()) for name, t in self.named_tensors())

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy arrays into this model. Everything is checked first, so a bad state changes nothing."""
        own = dict(self.named_tensors())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        problems = []
        if strict and (missing or unexpected):
            problems.append(f"missing keys {missing}, unexpected keys {unexpected}")
        for name, t in own.items():
            if name not in state:
                continue
            arr = np.asarray(state[name])
            if arr.shape != t.data.shape or arr.dtype != t.data.dtype:
                problems.append(
                    f"{name}: model has {t.data.dtype}{list(t.data.shape)}, state has {arr.dtype}{list(arr.shape)}"
                )
        if problems:
            raise ValueError(f"state does not match {type(self).__name__} (nothing was loaded): " + "; ".join(problems))
        for name, t in own.items():
            if name in state:
                t.data[...] = state[name]

    def __repr__(self) -> str:
        kids = list(self.named_children())
        if not kids:
            return f"{type(self).__name__}({self.extra_repr()})"
        body = "\n".join(f"  ({n}): " + repr(c).replace("\n", "\n  ") for n, c in kids)
        return f"{type(self).__name__}(\n{body}\n)"

    def extra_repr(self) -> str:
        return ""


Layer = Module  # TinyTorch's name for the base class; the same object, so isinstance checks agree


@contextmanager
def wrapped_forwards(layers: Iterable[Module], wrap: Callable[[Module, Callable], Callable]) -> Iterator[None]:
    """Within the block, each layer's ``forward`` is ``wrap(layer, original_forward)``.

    The wrapper is an instance attribute shadowing the class method (a layer that already had its own
    instance ``forward`` gets it back); everything is restored even if the block raises. The profiler
    (14) counts FLOPs and quantization (16) records calibration ranges through this one mechanism.
    """
    patched: list[tuple[Module, bool, Callable]] = []
    try:
        for layer in layers:
            had_own, original = "forward" in vars(layer), layer.forward
            layer.forward = wrap(layer, original)
            patched.append((layer, had_own, original))
        yield
    finally:
        for layer, had_own, original in reversed(patched):
            if had_own:
                layer.forward = original
            else:
                del layer.forward


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` as one graph node (any leading dims on ``x``).

    One fused op instead of transpose + matmul + add: a small model's step is dominated by per-op
    overhead (cached generation, the chain's tests). Leading dims are folded so the product is one
    2-D GEMM, which stays on BLAS (3-D @ a transposed view is ~20x slower).
    """
    lead = x.shape[:-1]
    x2 = x.data.reshape(-1, x.shape[-1])
    w = weight.data
    out = x2 @ w.T
    if bias is not None:
        out += bias.data
    parents = (x, weight) if bias is None else (x, weight, bias)

    def backward(g):
        g2 = g.reshape(-1, w.shape[0])
        grads = ((g2 @ w).reshape(x.shape), g2.T @ x2)
        return grads if bias is None else (*grads, g2.sum(axis=0))

    return Tensor._make(out.reshape(*lead, w.shape[0]), parents, backward, LinearBackward)


_INITS = ("xavier", "he")


class Linear(Module):
    """``y = x @ W.T + b`` with ``W`` of shape (out_features, in_features), as in PyTorch."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, init: str = "xavier"):
        for arg, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"Linear: {arg} must be a positive int, got {value!r}")
        if init not in _INITS:
            raise ValueError(f"Linear: init must be one of {_INITS}, got {init!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        # Xavier/Glorot keeps variance for tanh/sigmoid nets; He for ReLU nets (fan-in, gain 2).
        std = np.sqrt(2.0 / (in_features + out_features)) if init == "xavier" else np.sqrt(2.0 / in_features)
        self.weight = Parameter(np.random.randn(out_features, in_features) * std)
        self.bias = Parameter(np.zeros(out_features)) if bias else None

    def forward(self, x) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.dtype.kind != "f":  # integer/bool input carries no graph: compute in the weight's float dtype
            x = Tensor(x.data, dtype=self.weight.dtype)
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}) got input of shape {x.shape}: "
                f"its last dimension must be {self.in_features}"
            )
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Dropout(Module):
    """Zeroes each element with probability ``p`` in training, scaling survivors by 1/(1-p)."""

    def __init__(self, p: float = 0.5):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p!r}")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = (np.random.random_sample(x.shape) >= self.p).astype(x.dtype) / (1.0 - self.p)
        return x * keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Sequential(Module):
    """Applies its layers in order. ``model.layers[i]`` (or name ``"layers.i"``) addresses one."""

    def __init__(self, *layers: Module):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)


class Flatten(Module):
    """(batch, d1, d2, …) → (batch, d1·d2·…)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1)

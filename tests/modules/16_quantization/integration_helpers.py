"""Shared pieces of the module-16 integration suite (not a test file: pytest does not collect it).

- the real data: the shipped 8×8 digits, a fixed seeded 80/20 split, pixels scaled to [0, 1];
- three architectures that all read the same (batch, 64) float vectors, so every input
  distribution (uniform, normal, real digits) and every weight scheme (Xavier, He, trained) applies
  to each of them unchanged: an MLP, a CNN (the vector is an 8×8 image) and a transformer (the image
  is a sequence of 8 rows of 8 pixels);
- measurements that do not trust the code under test: relative error in float64, and a walk over
  every object a model can reach (``gc`` referents, closures included) that finds every NumPy array
  it keeps alive — a hidden float32 copy of the weights cannot escape it the way it escapes a walk
  over the model's declared tensors.
"""

from __future__ import annotations

import gc
import types
from functools import lru_cache
from pathlib import Path

import numpy as np

from tinytorch.core.activations import ReLU, Tanh
from tinytorch.core.layers import Linear, Module, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.spatial import Conv2D, MaxPool2D
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import Trainer
from tinytorch.data.loader import DataLoader, TensorDataset
from tinytorch.models.transformer import TransformerBlock
from tinytorch.text.embeddings import PositionalEncoding

DIGITS = Path(__file__).resolve().parents[2] / "data" / "digits.npz"
FEATURES, CLASSES = 64, 10
ARCHITECTURES = ("mlp", "cnn", "transformer")
WEIGHT_SCHEMES = ("xavier", "he")
INPUT_KINDS = ("uniform", "normal", "digits")


# ----------------------------------------------------------------------------- data
@lru_cache(maxsize=1)
def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_test, y_test)``: float32 pixels in [0, 1], int64 labels, seeded 80/20 split."""
    with np.load(DIGITS, allow_pickle=False) as archive:
        x, y = archive["X"], archive["y"]
    assert x.shape == (1797, FEATURES) and x.dtype == np.uint8 and int(x.max()) == 16, "digits.npz changed"
    x, y = x.astype(np.float32) / np.float32(16.0), y.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    cut = int(0.8 * len(x))
    train, test = order[:cut], order[cut:]
    parts = (x[train], y[train], x[test], y[test])
    for arr in parts:
        arr.setflags(write=False)  # cached and shared between tests: nobody may change it
    return parts


def make_inputs(kind: str, batch: int, seed: int = 0) -> np.ndarray:
    """(batch, 64) float32: ``uniform`` on [-1, 1), standard ``normal``, or real held-out ``digits``."""
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        return rng.uniform(-1.0, 1.0, size=(batch, FEATURES)).astype(np.float32)
    if kind == "normal":
        return rng.standard_normal((batch, FEATURES)).astype(np.float32)
    if kind == "digits":
        x_test = digits_split()[2]
        return np.array(x_test[rng.permutation(len(x_test))[:batch]])
    raise ValueError(f"unknown input kind {kind!r}; use one of {INPUT_KINDS}")


def relative_error(approx, exact) -> float:
    """``‖approx − exact‖ / ‖exact‖`` over every element, in float64."""
    a = np.asarray(approx.data if isinstance(approx, Tensor) else approx, dtype=np.float64)
    e = np.asarray(exact.data if isinstance(exact, Tensor) else exact, dtype=np.float64)
    assert a.shape == e.shape, f"shapes differ: {a.shape} vs {e.shape}"
    return float(np.linalg.norm(a - e) / np.linalg.norm(e))


# ----------------------------------------------------------------------------- architectures
class DigitsCNN(Module):
    """(batch, 64) → 1×8×8 image → conv 8 → pool → conv 16 → pool → Linear(64, 10)."""

    def __init__(self):
        self.conv1 = Conv2D(1, 8, 3, padding=1)
        self.pool = MaxPool2D(2)  # 8×8 → 4×4, then 4×4 → 2×2
        self.conv2 = Conv2D(8, 16, 3, padding=1)
        self.fc = Linear(16 * 2 * 2, CLASSES)

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        h = self.pool(self.conv1(x.reshape(x.shape[0], 1, 8, 8)).relu())
        h = self.pool(self.conv2(h).relu())
        return self.fc(h.reshape(h.shape[0], -1))


class RowTransformer(Module):
    """(batch, 64) → 8 tokens (the image rows) → Linear embedding + sinusoidal positions →
    pre-norm TransformerBlock (multi-head attention + MLP) → mean over tokens → Linear(32, 10)."""

    def __init__(self, dim: int = 32, heads: int = 4):
        self.embed = Linear(8, dim)
        self.positions = PositionalEncoding(8, dim)
        self.block = TransformerBlock(dim, heads, mlp_ratio=2)
        self.head = Linear(dim, CLASSES)

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        tokens = self.positions(self.embed(x.reshape(x.shape[0], 8, 8)))
        return self.head(self.block(tokens).mean(axis=1))


def build(arch: str, scheme: str = "he", seed: int = 0) -> Module:
    """A seeded model of ``arch`` whose every Linear/Conv2D weight is drawn from ``scheme``.

    The MLP uses the activation its scheme was derived for (tanh for Xavier, ReLU for He), like the
    digits MLP of modules 07/08 (64 → 64 → 10).
    """
    np.random.seed(seed)
    if arch == "mlp":
        model = Sequential(Linear(FEATURES, 64), Tanh() if scheme == "xavier" else ReLU(), Linear(64, CLASSES))
    elif arch == "cnn":
        model = DigitsCNN()
    elif arch == "transformer":
        model = RowTransformer()
    else:
        raise ValueError(f"unknown architecture {arch!r}; use one of {ARCHITECTURES}")
    return reinit(model, scheme, seed)


def reinit(model: Module, scheme: str, seed: int) -> Module:
    """Redraw every Linear/Conv2D weight: Xavier ``N(0, 2/(fan_in+fan_out))`` or He ``N(0, 2/fan_in)``."""
    rng = np.random.default_rng(seed)
    for module in model.modules():
        if isinstance(module, (Linear, Conv2D)):
            w = module.weight.data
            receptive = int(np.prod(w.shape[2:])) if w.ndim > 2 else 1
            fan_in, fan_out = int(np.prod(w.shape[1:])), w.shape[0] * receptive
            var = 2.0 / (fan_in + fan_out) if scheme == "xavier" else 2.0 / fan_in
            w[...] = rng.standard_normal(w.shape) * np.sqrt(var)
    return model


def train_on_digits(model: Module, epochs: int, lr: float = 1e-2, seed: int = 0) -> Module:
    """Adam on the digits training split, batches of 64, seeded shuffling."""
    x_train, y_train, _, _ = digits_split()
    trainer = Trainer(model, Adam(model.parameters(), lr=lr), CrossEntropyLoss())
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True, seed=seed)
    for _ in range(epochs):
        trainer.train_epoch(loader)
    return model.eval()


def accuracy(model: Module, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model(Tensor(x)).data.argmax(axis=1) == y))


# ----------------------------------------------------------------------------- what a model holds
def layers_of(model: Module, *types_: type) -> list[tuple[str, Module]]:
    return [(name, m) for name, m in model.named_modules() if isinstance(m, types_)]


def state_snapshot(model: Module) -> dict[str, np.ndarray]:
    """Name → copy of every array (``state_dict`` already copies)."""
    return dict(model.state_dict())


def assert_same_state(model: Module, snapshot: dict[str, np.ndarray]) -> None:
    """Bit-for-bit the same names, dtypes and values as ``snapshot``."""
    now = model.state_dict()
    assert list(now) == list(snapshot), f"tensor names changed: {list(snapshot)} -> {list(now)}"
    for name, arr in snapshot.items():
        assert now[name].dtype == arr.dtype, f"{name}: dtype {arr.dtype} -> {now[name].dtype}"
        np.testing.assert_array_equal(now[name], arr, err_msg=f"{name} changed")


_LEAVES = (type, types.ModuleType, types.BuiltinFunctionType, str, bytes, int, float, complex, bool, type(None))


def reachable_arrays(root) -> list[np.ndarray]:
    """Every distinct ndarray reachable from ``root`` through attributes, containers, closures, bound
    methods and array bases — but not through classes, modules or a function's globals (which would
    reach the whole program). Whatever a model keeps alive, by any path, is in this list."""
    seen: set[int] = set()
    found: dict[int, np.ndarray] = {}
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _LEAVES):
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            found[id(obj)] = obj
            if obj.base is not None:
                stack.append(obj.base)
            continue
        if isinstance(obj, types.FunctionType):
            stack.extend(c.cell_contents for c in obj.__closure__ or () if _cell_filled(c))
            stack.extend(obj.__defaults__ or ())
            stack.extend((obj.__kwdefaults__ or {}).values())
            continue
        if isinstance(obj, types.MethodType):
            stack.extend((obj.__self__, obj.__func__))
            continue
        stack.extend(gc.get_referents(obj))
    return list(found.values())


def _cell_filled(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def float_arrays_at_least(root, size: int) -> list[tuple[tuple, np.dtype]]:
    """(shape, dtype) of every reachable float array with ``size`` elements or more."""
    return [(a.shape, a.dtype) for a in reachable_arrays(root) if a.dtype.kind == "f" and a.size >= size]


def reachable_bytes(root) -> int:
    """Bytes of every distinct array reachable from ``root`` (views counted through their base)."""
    return sum(a.nbytes for a in reachable_arrays(root) if a.base is None)

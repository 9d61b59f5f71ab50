"""Representative models, each tagged with the stage (module number) from which it can be built.

Like scikit-learn's estimator checks: a model-taking test is written once, and the zoo decides which
models it runs on at the current stage. ``tests/conftest.py`` turns every test that asks for the
``zoo_model`` fixture into one case per (entry, variant) with ids like ``mlp-fp32`` / ``cnn-int8``.

Builders import their layers lazily, so importing this file loads no tinytorch module: at stage k
only entries with ``stage <= k`` are built, and the chain's import guard stays meaningful.
"""

from __future__ import annotations

import copy
import os
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

VARIANTS = ("fp32", "int8")


def current_stage() -> int:
    """The chain sets TINYTORCH_STAGE; a plain test run is the full framework (stage 16)."""
    return int(os.environ.get("TINYTORCH_STAGE", "16"))


@dataclass(frozen=True)
class ZooEntry:
    name: str
    stage: int
    build: Callable[[], object]
    make_input: Callable[[np.random.Generator, int], object]  # (rng, batch) -> Tensor
    make_target: Callable[[np.random.Generator, int], np.ndarray]  # (rng, batch) -> int class ids
    num_classes: int
    tags: frozenset = field(default_factory=frozenset)


@dataclass
class ZooCase:
    """One model as a test receives it."""

    entry: ZooEntry
    variant: str  # "fp32" or "int8"
    model: object

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def quantized(self) -> bool:
        return self.variant == "int8"

    def input(self, batch: int = 4, seed: int = 0):
        return self.entry.make_input(np.random.default_rng(seed), batch)

    def target(self, batch: int = 4, seed: int = 1) -> np.ndarray:
        return self.entry.make_target(np.random.default_rng(seed), batch)

    @property
    def id(self) -> str:
        return f"{self.entry.name}-{self.variant}"


def _tensor(array):
    from tinytorch.core.tensor import Tensor

    return Tensor(array)


def _vectors(features: int):
    return lambda rng, batch: _tensor(rng.standard_normal((batch, features)).astype(np.float32))


def _classes(n: int):
    return lambda rng, batch: rng.integers(0, n, size=batch)


# ----------------------------------------------------------------------------- builders
def build_mlp():
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear, Sequential

    return Sequential(Linear(16, 32, init="he"), ReLU(), Linear(32, 32, init="he"), ReLU(), Linear(32, 4))


ENTRIES: list[ZooEntry] = [
    ZooEntry("mlp", 3, build_mlp, _vectors(16), _classes(4), 4, frozenset({"vector", "classifier"})),
]


def entries_for_stage(stage: int | None = None) -> list[ZooEntry]:
    stage = current_stage() if stage is None else stage
    return [e for e in ENTRIES if e.stage <= stage]


def build_case(entry: ZooEntry, variant: str, seed: int = 0) -> ZooCase:
    """Build ``entry`` with seeded weights; for ``int8`` quantize a copy (the fp32 build is the same)."""
    np.random.seed(seed)
    model = entry.build()
    if variant == "int8":
        # Imported here, not at the top: quantization must load lazily at every stage.
        from tinytorch.optimization.quantization import quantize_model

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # inplace=False must not warn
            model = quantize_model(copy.deepcopy(model), inplace=False)
    return ZooCase(entry, variant, model)

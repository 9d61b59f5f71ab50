"""The single source of truth for the module order.

nox, the regression chain's import guard, the model zoo and the report all read this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModuleSpec:
    """One numbered module. ``aliases``: other import paths of the same objects (upstream TinyTorch's
    notebook-export paths, e.g. ``tinytorch.core.transformer``); each counts as this module everywhere
    the order matters (the import guard refuses an alias above the stage exactly like the module)."""

    number: int
    name: str
    import_path: str
    aliases: tuple[str, ...] = ()

    @property
    def import_paths(self) -> tuple[str, ...]:
        """The module's own path first, then its aliases."""
        return (self.import_path, *self.aliases)

    @property
    def tag(self) -> str:
        """The two-digit stage tag, e.g. ``"09"``."""
        return f"{self.number:02d}"

    @property
    def test_folder(self) -> str:
        """Folder of this module's own tests, relative to the repository root."""
        return f"tests/modules/{self.tag}_{self.name}"

    @property
    def source_file(self) -> str:
        """Source file relative to the repository root."""
        return self.import_path.replace(".", "/") + ".py"


MODULES: tuple[ModuleSpec, ...] = (
    ModuleSpec(1, "tensor", "tinytorch.core.tensor"),
    ModuleSpec(2, "activations", "tinytorch.core.activations"),
    ModuleSpec(3, "layers", "tinytorch.core.layers"),
    ModuleSpec(4, "losses", "tinytorch.core.losses"),
    ModuleSpec(5, "autograd", "tinytorch.core.autograd"),
    ModuleSpec(6, "optimizers", "tinytorch.core.optimizers"),
    ModuleSpec(7, "training", "tinytorch.core.training"),
    ModuleSpec(8, "dataloader", "tinytorch.data.loader", ("tinytorch.core.dataloader",)),
    ModuleSpec(9, "spatial", "tinytorch.core.spatial"),
    ModuleSpec(10, "tokenization", "tinytorch.text.tokenization", ("tinytorch.core.tokenization",)),
    ModuleSpec(11, "embeddings", "tinytorch.text.embeddings", ("tinytorch.core.embeddings",)),
    ModuleSpec(12, "attention", "tinytorch.core.attention"),
    ModuleSpec(13, "transformers", "tinytorch.models.transformer", ("tinytorch.core.transformer",)),
    ModuleSpec(14, "profiling", "tinytorch.profiling.profiler", ("tinytorch.perf.profiling",)),
    ModuleSpec(15, "memoization", "tinytorch.generation.kv_cache", ("tinytorch.perf.memoization",)),
    ModuleSpec(16, "quantization", "tinytorch.optimization.quantization", ("tinytorch.perf.quantization",)),
)

QUANTIZATION = MODULES[-1]
LAST_STAGE = MODULES[-1].number


def by_number(number: int) -> ModuleSpec:
    for spec in MODULES:
        if spec.number == number:
            return spec
    raise KeyError(f"no tinytorch module numbered {number}; valid: 1..{LAST_STAGE}")


def label(number: int | None) -> str:
    """``"09 spatial"`` for a module number; ``"??"`` for none, the bare number when unknown (report text)."""
    if number is None:
        return "??"
    try:
        return f"{number:02d} {by_number(number).name}"
    except KeyError:
        return f"{number:02d}"


def by_import_path(path: str) -> ModuleSpec | None:
    """The module with this import path, or whose alias it is; ``None`` for any other path."""
    for spec in MODULES:
        if path in spec.import_paths:
            return spec
    return None

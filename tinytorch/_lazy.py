"""Lazy re-exports (PEP 562) for ``tinytorch``, ``tinytorch.nn`` and ``tinytorch.optim``.

A namespace lists, per module, the names it re-exports; nothing is imported until a name is asked
for. ``from tinytorch import Linear`` loads ``tinytorch.core.layers`` (and what it imports) and
nothing else, so ``import tinytorch`` stays free at every stage of the regression chain, and asking
for a name whose module is above the chain's stage fails with the import guard's own error instead
of half-working. A resolved name is cached in the namespace, so the second lookup is a plain global.
"""

from __future__ import annotations

import importlib
from typing import Mapping, Sequence


def invert(exports: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """``{module path: names}`` -> ``{name: module path}``; a name listed twice is a bug, said so."""
    table: dict[str, str] = {}
    for module, names in exports.items():
        for name in names:
            if name in table:
                raise ValueError(f"lazy export {name!r} listed for both {table[name]} and {module}")
            table[name] = module
    return table


def lazy_namespace(namespace: str, namespace_globals: dict, table: Mapping[str, str]):
    """``(__getattr__, __dir__)`` for a module whose public names live in the modules of ``table``."""

    def __getattr__(name: str):
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {namespace!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)  # a LayeringError / ImportError propagates
        namespace_globals[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace_globals) | set(table))

    return __getattr__, __dir__

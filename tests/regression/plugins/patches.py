"""Registry snapshots: a later module that monkey-patches an earlier one is caught, whatever the test order.

A module-16 change that replaces, say, ``Module.load_state_dict`` when it is imported would otherwise show
up (if at all) as an unrelated failure several stages later — or not at all at the stage of the patched
module, whose own tests may already have run. So when a stage starts, every registry module the stage
allows (except quantization, which nothing imports after) is imported and its public classes and functions
are snapshotted: each module-level class/function object, and each callable or descriptor in those
classes' own ``__dict__`` (dunders included: ``Tensor.__add__`` counts). After each test — once its
teardown ran, so ``monkeypatch`` has undone its own changes — and after collection, the snapshot is
compared again; a difference is a ``Patch`` that names the attribute, the module that defined the new
value and the tinytorch modules first imported meanwhile. The guard turns it into an import/layering
break of the test during which it happened, then re-snapshots so one patch is reported once.

The comparison runs after every test of every stage, so it must cost next to nothing: the snapshot keeps
the namespaces it read (module and class ``__dict__``s) with a shallow copy of each, and ``unchanged``
compares them in C, far cheaper than walking them again; only when something differs is the walk redone
and diffed. Module-level state (flags, registries) and NumPy's global state are watched around imports
instead (``state_watch.py``).
"""

from __future__ import annotations

import importlib
import inspect
import operator
import sys
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from tinytorch.registry import ModuleSpec

_IGNORED = frozenset({"__dict__", "__weakref__", "__doc__", "__module__", "__annotations__", "__qualname__"})
DESCRIPTORS = (staticmethod, classmethod, property)


@dataclass
class Patch:
    attribute: str  # e.g. "tinytorch.core.layers.Module.load_state_dict"
    change: str  # "replaced" | "added" | "removed"
    number: int  # the patched module's registry number
    stage: int
    nodeid: str
    when: str
    patched_by: str  # who defined the new value / which modules were imported meanwhile
    what: str = "classes or functions"  # or "module-level state", "global state" (number 0: NumPy's)

    kind = "patch"

    @property
    def message(self) -> str:
        rule = (
            f"a module must not change the {self.what} of module {self.number:02d} it imports"
            if self.number
            else f"importing a module must not change NumPy's {self.what}"
        )
        return (
            f"registry patch: {self.attribute} was {self.change} at stage {self.stage:02d} ({self.patched_by}); {rule}"
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "kind": self.kind, "module": self.attribute, "message": self.message}


def _watched(value) -> bool:
    return inspect.isclass(value) or callable(value) or isinstance(value, DESCRIPTORS)


def _definer(value) -> str | None:
    target = getattr(value, "__func__", None) or getattr(value, "fget", None) or value
    return getattr(target, "__module__", None)


class RegistrySnapshot:
    """Identity of every public class/function (and their methods) of the registry modules of one stage."""

    def __init__(self, stage: int, modules: Sequence[ModuleSpec] | None = None, exempt: str | None = None):
        # The registry is imported here, not at the top: the plugin loads before pytest-cov measures.
        from tinytorch.registry import MODULES, QUANTIZATION

        modules = MODULES if modules is None else modules
        exempt = QUANTIZATION.import_path if exempt is None else exempt
        self.stage = stage
        self.specs = [m for m in modules if m.number <= stage and m.import_path != exempt]
        self.paths = tuple(spec.import_path for spec in self.specs)
        self.state: dict[str, tuple[int, object]] = {}
        self.loaded: set[str] = set()
        # The fast path (see ``unchanged``): the watched namespaces as they were at the last snapshot.
        self._modules: tuple = ()
        self._namespaces: tuple = ()
        self._copies: tuple[dict, ...] = ()
        self._sys_modules = 0

    def import_all(self) -> list[str]:
        """Import the stage's registry modules so the snapshot sees them pristine; returns those that failed
        (their own tests report why — an import error here is not hidden, only not duplicated)."""
        failed = []
        for spec in self.specs:
            try:
                importlib.import_module(spec.import_path)
            except Exception:  # noqa: BLE001 - a broken module is its tests' finding, not the snapshot's
                failed.append(spec.import_path)
        return failed

    def take(self) -> None:
        self.state = self._current()
        self.loaded = _tinytorch_modules()
        self._remember()

    def _remember(self) -> None:
        """Keep the namespaces the snapshot reads (each module ``__dict__`` and each walked class's) and a
        shallow copy of each: ``unchanged`` compares them in C, without a walk."""
        self._modules = tuple(map(sys.modules.get, self.paths))
        namespaces = []
        for path, module in zip(self.paths, self._modules):
            if module is None:
                continue
            namespaces.append(vars(module))
            for name, value in list(vars(module).items()):
                if inspect.isclass(value) and value.__module__ == path and value.__name__ == name:
                    namespaces.append(vars(value))  # a live, read-only view of the class dict
        self._namespaces = tuple(namespaces)
        self._copies = tuple(map(dict, self._namespaces))
        self._sys_modules = len(sys.modules)

    def unchanged(self) -> bool:
        """True when no watched namespace changed since the last snapshot: the same registry module objects,
        and each namespace equal to its copy — dict equality, in C: same size, same keys, and per key the
        same object (identity is checked first, so ``__eq__`` runs only on a value that was replaced).
        Anything else (a class or function replaced, added or removed, a module reloaded) makes it False
        and ``changes`` diffs in full. A replacement equal to
        the original passes here; for the watched kinds that is the same thing (functions, classes and
        descriptors compare by identity), and module-level state is compared by identity separately."""
        if not all(map(operator.is_, map(sys.modules.get, self.paths), self._modules)):
            return False
        try:
            return all(map(operator.eq, self._namespaces, self._copies))
        except Exception:  # noqa: BLE001 - a replaced value whose __eq__ raises (an array): changed
            return False

    def _new_modules(self) -> list[str]:
        """tinytorch modules first imported since the last check (``sys.modules`` is scanned only if it grew)."""
        if len(sys.modules) == self._sys_modules:
            return []
        self._sys_modules = len(sys.modules)
        return sorted(_tinytorch_modules() - self.loaded)

    def _current(self) -> dict[str, tuple[int, object]]:
        state: dict[str, tuple[int, object]] = {}
        for spec in self.specs:
            module = sys.modules.get(spec.import_path)
            if module is None:
                continue
            for name, value in list(vars(module).items()):
                if name.startswith("_") or not _watched(value):
                    continue
                state[f"{spec.import_path}.{name}"] = (spec.number, value)
                # A class is walked once, under its own name: an alias (Layer = Module) is the same object.
                if inspect.isclass(value) and value.__module__ == spec.import_path and value.__name__ == name:
                    for attr, member in list(vars(value).items()):
                        if attr not in _IGNORED and _watched(member):
                            state[f"{spec.import_path}.{name}.{attr}"] = (spec.number, member)
        return state

    def changes(self, nodeid: str, when: str) -> list[Patch]:
        """Differences since the last snapshot (then re-snapshotted, so each change is reported once)."""
        if not self.state:
            return []
        new_modules = self._new_modules()
        if self.unchanged():
            self.loaded.update(new_modules)
            return []
        now = self._current()
        found = []
        for key in sorted(self.state.keys() | now.keys()):
            before, after = self.state.get(key), now.get(key)
            if before is not None and after is not None and before[1] is after[1]:
                continue
            if before is None and key.count(".") <= _depth(key, self.specs):
                continue  # a new module-level name (e.g. a lazily created helper) is not a patch of anything
            change = "added" if before is None else "removed" if after is None else "replaced"
            number = (before or after)[0]
            definer = _definer(after[1]) if after is not None else None
            who = []
            if definer and not key.startswith(definer + "."):
                who.append(f"new value defined in {definer}")
            if new_modules:
                who.append("first imported meanwhile: " + ", ".join(new_modules))
            found.append(
                Patch(key, change, number, self.stage, nodeid, when, "; ".join(who) or "patched by code run meanwhile")
            )
        self.state, self.loaded = now, self.loaded | set(new_modules)
        self._remember()
        return found


def _tinytorch_modules() -> set[str]:
    return {name for name in sys.modules if name == "tinytorch" or name.startswith("tinytorch.")}


def _depth(key: str, specs: Sequence[ModuleSpec]) -> int:
    """Dots in ``<module path>.<name>``: a key with more dots is a class member."""
    for spec in specs:
        if key.startswith(spec.import_path + "."):
            return spec.import_path.count(".") + 1
    return key.count(".")

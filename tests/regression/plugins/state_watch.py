"""Module-level and NumPy global state, compared around each tinytorch import (the guard installs it).

Module-level state — every attribute of a registry module that is not a class, function or module, public
or private: a grad-mode flag, a registry dict, a list of defaults; by value when it is a scalar or a
container of at most ``SMALL`` items, else by identity — and NumPy's global state (``np.geterr()``, the
print options, the legacy global RNG) legitimately change *during* tests (the autouse fixture re-seeds the
RNG per test). So they are compared only around imports: ``ImportWatch``, a ``sys.meta_path`` finder after
the guard, takes them right before a tinytorch module executes and compares right after, so a change is an
import/layering break naming the attribute and the module whose import made it ("changed while importing
tinytorch.x"). The stage's own modules are imported under the watch too (``RegistrySnapshot.import_all``,
in registry order), so module 09 flipping a flag of module 01 at import is seen at stage 09. Between
imports it costs nothing; each tinytorch import costs two reads of the state.
"""

from __future__ import annotations

import inspect
import sys
from typing import TYPE_CHECKING, Sequence

from regression.plugins.patches import DESCRIPTORS, Patch, RegistrySnapshot

if TYPE_CHECKING:
    from tinytorch.registry import ModuleSpec

_MODULE_DUNDERS = frozenset(
    {"__name__", "__doc__", "__package__", "__loader__", "__spec__", "__file__", "__cached__", "__builtins__"}
    | {"__path__", "__annotations__", "__getattr__", "__dir__"}
)
_SCALARS = (type(None), bool, int, float, complex, str, bytes)
SMALL = 64  # a container up to this many items is compared by value (shallow), a larger one by identity


def _is_state(value) -> bool:
    return not (inspect.isclass(value) or callable(value) or inspect.ismodule(value) or isinstance(value, DESCRIPTORS))


def _value_of(value):
    """What is compared besides identity: the value of a scalar or of a small container (a shallow copy),
    None for anything else (compared by identity only)."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, (list, tuple)) and len(value) <= SMALL:
        return ("sequence", tuple(value))
    if isinstance(value, dict) and len(value) <= SMALL:
        return ("mapping", tuple(value.items()))
    if isinstance(value, (set, frozenset)) and len(value) <= SMALL:
        return ("set", frozenset(value))
    if isinstance(value, bytearray) and len(value) <= SMALL:
        return ("bytes", bytes(value))
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.ndarray) and value.size <= SMALL:
        return ("array", value.dtype.str, value.shape, value.tobytes())
    return None


def _numpy_state() -> dict[str, object]:
    """NumPy's process-wide state: error handling, print options, the legacy global RNG (``np.random.seed``)."""
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return {}
    rng = numpy.random.get_state(legacy=False)
    return {
        "numpy.geterr()": tuple(sorted(numpy.geterr().items())),
        "numpy.geterrcall()": numpy.geterrcall(),
        "numpy.get_printoptions()": tuple(sorted((k, repr(v)) for k, v in numpy.get_printoptions().items())),
        "numpy.random.get_state()": (
            rng["bit_generator"],
            rng["state"]["key"].tobytes(),
            rng["state"]["pos"],
            rng["has_gauss"],
            rng["gauss"],
        ),
    }


class GlobalState:
    """The module-level state of a stage's registry modules (public and private attributes that are not
    classes, functions or modules: flags, constants, registries, caches) and NumPy's global state."""

    def __init__(self, stage: int, modules: Sequence[ModuleSpec] | None = None, exempt: str | None = None):
        self.specs = RegistrySnapshot(stage, modules, exempt).specs
        self.stage = stage
        self.state: dict[str, tuple[int, object, object]] = {}

    def current(self) -> dict[str, tuple[int, object, object]]:
        """``{attribute: (module number, object, value)}``; module number 0 for NumPy's state."""
        state = {key: (0, value, value) for key, value in _numpy_state().items()}
        for spec in self.specs:
            module = sys.modules.get(spec.import_path)
            if module is None:
                continue
            for name, value in list(vars(module).items()):
                if name not in _MODULE_DUNDERS and _is_state(value):
                    state[f"{spec.import_path}.{name}"] = (spec.number, value, _value_of(value))
        return state

    def take(self) -> None:
        self.state = self.current()

    def changes(self, importing: str, nodeid: str, when: str) -> list[Patch]:
        """What changed since ``take`` (then re-taken), blamed on the import of ``importing``. A name the
        import added is not a change (a new module's own state, or a lazily created one)."""
        now, found = self.current(), []
        for key in sorted(self.state):
            number, before, value = self.state[key]
            if key not in now:
                change = "removed"
            elif now[key][1] is not before and not number:
                change = "changed"  # NumPy's state is rebuilt on each read: only its value counts
                if _equal(now[key][2], value):
                    continue
            elif now[key][1] is not before:
                change = "replaced"
            elif not _equal(now[key][2], value):
                change = "changed in place"
            else:
                continue
            what = "module-level state" if number else "global state"
            found.append(
                Patch(key, change, number, self.stage, nodeid, when, f"changed while importing {importing}", what)
            )
        self.state = now
        return found


def _equal(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - values whose comparison raises are not the same
        return False


class _WatchedLoader:
    """Delegates to the real loader; ``exec_module`` is bracketed by the watch's state comparisons."""

    def __init__(self, loader, watch: ImportWatch, name: str):
        self._loader, self._watch, self._name = loader, watch, name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._watch.begin(self._name)
        try:
            self._loader.exec_module(module)
        finally:
            self._watch.end(self._name)

    def __getattr__(self, name):  # get_source, get_resource_reader, is_package ...: the real loader's
        return getattr(self._loader, name)


class ImportWatch:
    """A ``sys.meta_path`` finder that sees every tinytorch import as it happens (after the import guard):
    the state is taken right before the module executes and compared right after, so only a change made by
    *importing* it is blamed — never the test's own RNG draws or a flag it sets and restores. Nested imports
    blame the innermost: the outer import's changes so far are compared before the inner one starts.

    ``report(patches)`` receives the changes (the guard stamps them with the running test and phase).
    Outside imports it costs nothing; each tinytorch import costs one read of the state."""

    def __init__(self, state: GlobalState, report, where=lambda: ("", "startup"), package: str = "tinytorch"):
        self.state, self.report, self.where = state, report, where  # where() -> (node id, phase)
        self.package = package
        self.stack: list[str] = []

    def find_spec(self, fullname, path=None, target=None):
        if not (fullname == self.package or fullname.startswith(self.package + ".")) or self not in sys.meta_path:
            return None
        for finder in sys.meta_path[sys.meta_path.index(self) + 1 :]:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _WatchedLoader(spec.loader, self, fullname)
        return spec

    def begin(self, name: str) -> None:
        if self.stack:
            self.report(self.state.changes(self.stack[-1], *self.where()))
        else:
            self.state.take()  # whatever the running test changed so far is its own business
        self.stack.append(name)

    def end(self, name: str) -> None:
        self.stack.pop()
        self.report(self.state.changes(name, *self.where()))

    def install(self, after=None) -> None:
        if self not in sys.meta_path:
            index = sys.meta_path.index(after) + 1 if after in sys.meta_path else 0
            sys.meta_path.insert(index, self)

    def uninstall(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)

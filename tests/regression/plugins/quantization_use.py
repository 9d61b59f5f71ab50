"""Which tests run quantization (module 16), read off their code: the ``pairing`` of a test record.

A test on a zoo variant is ``paired`` with its fp32 twin; one that is int8 by design (a marker, or code
that creates or runs module-16 objects) is ``int8-only``; the rest have ``no-variant``. The classification
of a failure (``classify.py``) rests on it: an int8-only failure is quantization's, a paired one is
quantization's only when its fp32 twin passes.
"""

from __future__ import annotations

import inspect

from regression.common import FP32, INT8_ONLY, NO_VARIANT, PAIRED, VARIANTS, zoo_param
from regression.contract import Pairing, Variant


def zoo_meta(item) -> tuple[str | None, str]:
    """(model, variant) from the zoo fixture's parameter, falling back to the id text."""
    callspec = getattr(item, "callspec", None)
    param = callspec.params.get("zoo_model") if callspec is not None else None
    if isinstance(param, tuple) and len(param) == 2 and param[1] in VARIANTS:
        return getattr(param[0], "name", None), param[1]
    return zoo_param(item.nodeid)


def pairing_of(item, variant: str) -> Pairing:
    """Why the test has, or lacks, an fp32 twin: ``int8-only`` by design (``@pytest.mark.int8_only``, a
    zoo marker whose variants leave fp32 out, or — read off the code, no marker needed — a test without a
    zoo variant that creates or runs module-16 objects: ``runs_quantization``), ``paired`` (a zoo variant
    with its twin), ``no-variant``."""
    if item.get_closest_marker("int8_only") is not None:
        return INT8_ONLY
    zoo = item.get_closest_marker("zoo")
    variants = zoo.kwargs.get("variants") if zoo is not None else None
    if variant != Variant.NONE and variants is not None and FP32 not in variants:
        return INT8_ONLY
    if variant == Variant.NONE and runs_quantization(item):
        return INT8_ONLY
    return PAIRED if variant != Variant.NONE else NO_VARIANT


QUANTIZATION_PACKAGE = "tinytorch.optimization"  # module 16 and its helper files


def _is_quantization(value) -> bool:
    name = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None)
    if not isinstance(name, str):
        name = getattr(type(value), "__module__", None)
    return isinstance(name, str) and (name == QUANTIZATION_PACKAGE or name.startswith(QUANTIZATION_PACKAGE + "."))


def _code_uses_quantization(code, namespace: dict, seen: set) -> bool:
    """Does ``code`` (or a function, lambda or comprehension inside it, or a helper function of the same
    module it calls) import ``tinytorch.optimization`` or name one of its objects?"""
    if code in seen:
        return False
    seen.add(code)
    names = code.co_names
    if any(n == QUANTIZATION_PACKAGE or n.startswith(QUANTIZATION_PACKAGE + ".") for n in names):
        return True  # import tinytorch.optimization.x / from tinytorch.optimization import y, anywhere in it
    if "optimization" in names and "tinytorch" in names:
        return True  # tinytorch.optimization.<...> reached by attribute
    for name in names:
        value = namespace.get(name)
        if value is None:
            continue
        if _is_quantization(value):
            return True
        func = inspect.unwrap(value) if inspect.isfunction(value) else None
        if func is not None and getattr(func, "__globals__", None) is namespace:  # a helper of this file
            if _code_uses_quantization(func.__code__, namespace, seen):
                return True
    return any(inspect.iscode(c) and _code_uses_quantization(c, namespace, seen) for c in code.co_consts)


def _cell(cell):
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


def runs_quantization(item) -> bool:
    """Does the test create or run module-16 objects? Read statically, once per test at collection, from
    the test function, its parameters and the fixtures it requests (each fixture's own file): what they
    import from or name of ``tinytorch.optimization``, following the helper functions of their file.

    Static on purpose: a per-test runtime probe would either trace calls (``sys.setprofile`` or coverage
    contexts on every test: far from free), or patch constructors (which the registry watch forbids),
    or read first imports (module 16 loads once per process, so only the first such test would be seen,
    and which one depends on the order). The zoo fixture is left out: its int8 variants are paired twins.
    """
    function = getattr(item, "function", None)
    code = getattr(inspect.unwrap(function), "__code__", None) if function is not None else None
    if code is None:
        return False
    callspec = getattr(item, "callspec", None)
    if callspec is not None and any(_is_quantization(v) for v in callspec.params.values() if v is not None):
        return True
    seen: set = set()
    function = inspect.unwrap(function)
    if any(_is_quantization(_cell(c)) for c in function.__closure__ or ()):
        return True
    if _code_uses_quantization(code, function.__globals__, seen):
        return True
    info = getattr(item, "_fixtureinfo", None)
    for name, definitions in (getattr(info, "name2fixturedefs", None) or {}).items():
        if name == "zoo_model":
            continue
        for definition in definitions:
            fixture = inspect.unwrap(getattr(definition, "func", None) or (lambda: None))
            fixture_code = getattr(fixture, "__code__", None)
            globals_ = getattr(fixture, "__globals__", None)
            if fixture_code is not None and globals_ is not None:
                if _code_uses_quantization(fixture_code, globals_, seen):
                    return True
    return False

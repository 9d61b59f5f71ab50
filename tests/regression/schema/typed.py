"""The base of every file kind the machinery writes: a frozen dataclass that turns itself into JSON and back.

``to_json()`` gives the plain dict written to disk (enums as their string values, nested types as dicts);
``from_json(data, where)`` checks every field against its type hint and builds the instance, or raises
``SchemaError`` naming where (file and path inside it), the field, the value found and what was expected.
Keys a type does not know are ignored (a tolerant loader, as pytest's stepwise cache is): the schema version
of the file, checked before, says whether the shape can be trusted at all.

Type hints must stay evaluable on Python 3.9: ``Optional[X]``, ``List[X]``/``list[X]``, ``Dict[str, X]``,
never ``X | None``. Each field may carry a one-line ``doc`` (``field(metadata=doc("..."))``), which the
generated schema reference prints.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import typing
from typing import Any, Callable, Dict, Tuple

from regression.exits import InputError

Checker = Callable[[Any, str], Any]


class SchemaError(InputError):
    """A file of a known schema version whose content does not have that version's shape."""


def doc(text: str, omit_none: bool = False) -> dict:
    """Field metadata: the line the schema reference shows for this field; ``omit_none``: a None value is
    left out of the JSON (a field most records do not have, e.g. a flaky test's first outcome)."""
    return {"doc": text, "omit_none": omit_none}


class _Bad(Exception):
    """Raised inside the checkers with the path in the document; ``from_json`` adds the file and words."""

    def __init__(self, path: str, text: str):
        super().__init__(path, text)
        self.path, self.text = path, text


def _fail(where: str, value: Any, expected: str) -> _Bad:
    return _Bad(where, f"is {repr(value)[:80]}, not {expected}")


def _scalar(kind: type, name: str) -> Checker:
    def check(value, where):
        if isinstance(value, bool) and kind is not bool:
            raise _fail(where, value, name)
        if kind is float:
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise _fail(where, value, "a finite number")
            return value
        if not isinstance(value, kind):
            raise _fail(where, value, name)
        return value

    return check


def _optional(inner: Checker) -> Checker:
    return lambda value, where: None if value is None else inner(value, where)


def _sequence(inner: Checker, as_tuple: bool) -> Checker:
    def check(value, where):
        if not isinstance(value, list):
            raise _fail(where, value, "a list")
        items = [inner(item, f"{where}[{index}]") for index, item in enumerate(value)]
        return tuple(items) if as_tuple else items

    return check


def _mapping(inner: Checker) -> Checker:
    def check(value, where):
        if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
            raise _fail(where, value, "an object with string keys")
        return {key: inner(item, _join(where, key)) for key, item in value.items()}

    return check


def _enum(kind: type) -> Checker:
    names = [member.value for member in kind]

    def check(value, where):
        try:
            return kind(value)
        except ValueError:
            raise _fail(where, value, f"one of {names}") from None

    return check


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _nested(kind: type) -> Checker:
    return lambda value, where: kind._build(value, where)


def _union(options: Tuple[Checker, ...], names: str) -> Checker:
    def check(value, where):
        for option in options:
            try:
                return option(value, where)
            except _Bad:
                continue
        raise _fail(where, value, names)

    return check


def checker_for(hint: Any) -> Checker:
    """The function that checks (and converts) a JSON value against one type hint."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return lambda value, where: value
    if origin is typing.Union:
        rest = [arg for arg in args if arg is not type(None)]
        inner = checker_for(rest[0]) if len(rest) == 1 else _union(tuple(map(checker_for, rest)), str(hint))
        return _optional(inner) if len(rest) < len(args) else inner
    if origin in (list, tuple):
        return _sequence(checker_for(args[0]) if args else checker_for(Any), origin is tuple)
    if origin is dict:
        return _mapping(checker_for(args[1]))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum(hint)
    if isinstance(hint, type) and issubclass(hint, Typed):
        return _nested(hint)
    if hint in (int, float, str, bool):
        return _scalar(hint, {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[hint])
    raise TypeError(f"no JSON checker for the type hint {hint!r}")


def to_plain(value: Any) -> Any:
    """A value as JSON holds it: enums as their value, typed records as dicts, tuples as lists."""
    if isinstance(value, Typed):
        return value.to_json()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    return value


_CHECKERS: Dict[type, list] = {}


def _field_checkers(cls: type) -> list:
    """(name, checker, required) per field, computed once per class."""
    found = _CHECKERS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = [
            (
                f.name,
                checker_for(hints[f.name]),
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            )
            for f in dataclasses.fields(cls)
            if f.init
        ]
        _CHECKERS[cls] = found
    return found


class Typed:
    """Mixin for ``@dataclasses.dataclass(frozen=True)`` classes that cross a process or file boundary."""

    def to_json(self) -> dict:
        data = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.init and not (value is None and f.metadata.get("omit_none")):
                data[f.name] = to_plain(value)
        return data

    @classmethod
    def from_json(cls, data: Any, where: str = ""):
        """An instance from parsed JSON, or ``SchemaError`` "WHERE: PATH is VALUE, not WHAT" (one line)."""
        try:
            return cls._build(data, "")
        except _Bad as bad:
            place = f"{where or cls.__name__}: {bad.path}" if bad.path else (where or cls.__name__)
            raise SchemaError(f"{place} {bad.text}") from None

    @classmethod
    def _build(cls, data: Any, path: str):
        if not isinstance(data, dict):
            raise _fail(path, data, f"an object ({cls.__name__})")
        values = {}
        for name, check, required in _field_checkers(cls):
            if name in data:
                values[name] = check(data[name], _join(path, name))
            elif required:
                raise _Bad(path, f"has no {name!r} (a {cls.__name__} needs it)")
        return cls(**values)

    def replace(self, **changes):
        """A copy with some fields changed (the instances are frozen)."""
        return dataclasses.replace(self, **changes)

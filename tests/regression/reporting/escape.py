"""Text from the code under test, made safe for each place the report shows it. Standard library only.

Everything a test id, a failure message, a stderr tail or a coverage table carries is data, never markup
or a terminal command:

* ``clean`` — any value: lone surrogates (``"\\ud800"`` from a JSON escape) become U+FFFD, so writing it
  never raises ``UnicodeEncodeError``; longer than ``LIMIT`` UTF-8 bytes (as read; ``SHOWN_LIMIT`` for a
  line shown, which joins a few values), it is cut to an excerpt ending ``… (N bytes cut)``.
  ``clean_all`` does it to every string of a nested dict/list or typed record (``schema.Typed``).
* ``visible`` — control characters (C0 incl. ``\\r``, ``\\n``, ``\\t``, ESC; DEL; C1 U+0080–U+009F; line and
  paragraph separators; bidi overrides) shown as ``\\x1b``, ``\\n``, ``\\u202e``: nothing moves the cursor,
  clears the screen, rings, sets the clipboard (OSC 52) or breaks a line of the grid.
* ``md_text`` / ``md_code`` — Markdown: also every Markdown and HTML special character backslash-escaped
  (``|`` never splits a table row); a code span fenced with more backticks than the value holds.
* ``html_text`` — ``html.escape`` (quotes too) of the visible, clean text; ``file_href`` a percent-encoded
  ``file://`` URI.
"""

from __future__ import annotations

import dataclasses
import enum
import html
import re
from pathlib import Path

LIMIT = 4000  # UTF-8 bytes of any one value read (a failure message, a test id, a stderr tail): loading.py
SHOWN_LIMIT = 16000  # of any one string shown — a headline or cause line joins a few values: a safety net

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")  # emphasis, code, links, HTML, tables, strike, entities


def cut(text: str, limit: int = LIMIT) -> str:
    """``text`` within ``limit`` UTF-8 bytes: longer, its head and ``… (N bytes cut)``."""
    size = len(text.encode("utf-8", "replace"))
    if size <= limit:
        return text
    head = text.encode("utf-8", "replace")[:limit].decode("utf-8", "ignore")
    return f"{head}… ({size - len(head.encode('utf-8'))} bytes cut)"


def clean(value, limit: int = LIMIT) -> str:
    """``str(value)`` that always encodes (lone surrogates -> U+FFFD) and is at most ~``limit`` bytes."""
    text = value if type(value) is str else str(value)
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    return cut(text, limit) if len(text) > limit // 4 else text  # 4 bytes a character at most


def map_strings(data, change):
    """``data`` with ``change`` applied to every string in it — dict keys too, inside lists, tuples and frozen
    dataclasses (the report's types, rebuilt with the changed values); an enum member (one of the contract's
    words: never text from the code under test), a number, a boolean and None stay as they are."""
    if isinstance(data, enum.Enum):
        return data
    if isinstance(data, str):
        return change(data)
    if isinstance(data, dict):
        return {map_strings(k, change): map_strings(v, change) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [map_strings(v, change) for v in data]
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        fields = [f.name for f in dataclasses.fields(data) if f.init]
        return dataclasses.replace(data, **{name: map_strings(getattr(data, name), change) for name in fields})
    return data


def clean_all(data, limit: int = SHOWN_LIMIT):
    """``data`` with every string (keys too) ``clean``; numbers, booleans and None as they are."""
    return map_strings(data, lambda text: clean(text, limit))


def _show(match: re.Match) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def visible(value) -> str:
    """Clean text with every control character shown as an escape (``\\x1b``), never emitted."""
    return _CONTROL.sub(_show, clean(value, SHOWN_LIMIT))


def visible_all(data):
    """``data`` with every string value ``visible`` (keys too: cell names are keys of lookups)."""
    return map_strings(data, visible)


def md_text(value) -> str:
    """Markdown inline text: visible, every Markdown/HTML special character escaped, on one line."""
    return _MD_SPECIAL.sub(r"\\\1", visible(value))


def md_code(value, in_table: bool = False) -> str:
    """A Markdown code span holding ``value`` literally: fenced with one backtick more than its longest run
    (padded with spaces when it starts or ends with one). In a GFM table a ``|`` is ``\\|`` (GFM's rule);
    a backslash there would pair with the pipe's, so such a value is escaped text instead of code."""
    text = visible(value)
    if in_table:
        if "\\" in text:
            return md_text(value)
        text = text.replace("|", "\\|")
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    edge = text.startswith(("`", " ")) or text.endswith(("`", " "))
    pad = " " if edge and text.strip(" ") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def html_text(value) -> str:
    """HTML text or attribute value: visible, clean, escaped (``<``, ``>``, ``&``, both quotes)."""
    return html.escape(visible(value), quote=True)


def file_href(path) -> str:
    """A percent-encoded ``file://`` URI of ``path`` (made absolute): ``odd name #1 ?q=x`` still opens."""
    return Path(path).resolve().as_uri()


def inside(folder, name) -> Path | None:
    """``folder/name`` resolved, if it lies inside ``folder`` (symlinks followed); None otherwise."""
    if not isinstance(name, str) or not name or "\x00" in name:
        return None
    try:
        base = Path(folder).resolve()
        target = (base / name).resolve()
        target.relative_to(base)
    except (OSError, ValueError, RuntimeError):
        return None
    return target if target != base else None

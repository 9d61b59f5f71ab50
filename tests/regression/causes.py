"""Grouping a red cell's failures by cause: one real bug usually fails many tests the same way.

A cause is (exception type, the message with numbers, addresses and quoted values normalized, the code
location it came from — the innermost tinytorch frame, else the test's own frame). A person reads the
causes; the individual tests fold under each one (all of them in JSON).
"""

from __future__ import annotations

import re
from collections import defaultdict

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_ADDRESS_MARK = "@ADDR@"
_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?%?")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_SPACES = re.compile(r"\s+")
_BRACKETS = re.compile(r"\[[^\]]*\]")  # zoo ids inside a message: test_x[mlp-int8] ~ test_x[cnn-int8]


def normalize(message: str) -> str:
    """The message with what varies between tests of one cause replaced: ``0x…``, ``N``, ``'…'``, ``[…]``."""
    text = _ADDRESS.sub(_ADDRESS_MARK, message or "")
    text = _QUOTED.sub("'…'", text)
    text = _BRACKETS.sub("[…]", text)
    text = _NUMBER.sub("N", text)
    return _SPACES.sub(" ", text).strip().replace(_ADDRESS_MARK, "0x…")


def exception_type(message: str) -> str:
    head = (message or "").split(":", 1)[0].strip()
    return head if head and " " not in head else "?"


def cause_key(failure: dict) -> tuple[str, str, str]:
    message = failure.get("reason") or ""
    return exception_type(message), normalize(message), failure.get("origin") or ""


def group_causes(failures: list[dict]) -> list[dict]:
    """Causes of one cell's failures, the most widespread first (then by first stage)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for failure in failures:
        groups[cause_key(failure)].append(failure)
    causes = []
    for (kind, normalized, origin), members in groups.items():
        tests = sorted({m["test_id"] for m in members})
        causes.append(
            {
                "exception": kind,
                "message": normalized,
                "example": members[0].get("reason") or "",
                "origin": origin or None,
                "tests": len(tests),
                "failures": len(members),
                "classifications": sorted({m["classification"] for m in members}),
                "modules": sorted({m["module"] for m in members if m.get("module") is not None}),
                "models": sorted({m["model"] for m in members if m.get("model")}),
                "variants": sorted({m["variant"] for m in members if m.get("variant") not in (None, "none")}),
                "stages": sorted({m["stage"] for m in members}),
                "first_stage": min(m["stage"] for m in members),
                "test_ids": tests,
            }
        )
    causes.sort(key=lambda c: (c["first_stage"], -c["tests"], c["message"]))
    for number, cause in enumerate(causes, start=1):
        cause["id"] = number
    return causes

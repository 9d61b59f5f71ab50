"""The same code gives the same answer: the chain re-runs every test at up to sixteen stages, so any
randomness would read as "stage k broke it". Hypothesis must draw the same examples every time, and write
no example database (which would change what the next stage draws)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REQUIRED = {"derandomize": True, "database": None, "print_blob": True}


def _settings_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "settings":
            yield node


def _uses_given(tree: ast.AST) -> bool:
    return any(
        isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "given"
        for node in ast.walk(tree)
    )


def test_every_hypothesis_settings_in_module_tests_is_derandomized_without_a_database():
    offenders, property_files = [], 0
    for path in sorted((TESTS / "modules").rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = list(_settings_calls(tree))
        if _uses_given(tree):
            property_files += 1
            if not calls:
                offenders.append(f"{path.relative_to(TESTS)}: @given without settings({REQUIRED})")
        for call in calls:
            given = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg in REQUIRED}
            if given != REQUIRED:
                offenders.append(
                    f"{path.relative_to(TESTS)}:{call.lineno}: settings(...) has {given}, needs {REQUIRED}"
                )
    assert property_files >= 4  # the scan really sees the property tests
    assert not offenders, "\n".join(offenders)


def test_every_test_starts_from_seeded_global_generators():
    """Tests that draw from the global NumPy or ``random`` generators get the same numbers at every stage:
    an autouse fixture of tests/conftest.py seeds both before each test (the equivalent of a plugin that
    refuses unseeded draws)."""
    tree = ast.parse((TESTS / "conftest.py").read_text(encoding="utf-8"))
    seeded = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        autouse = any(
            isinstance(d, ast.Call) and any(k.arg == "autouse" and getattr(k.value, "value", False) for k in d.keywords)
            for d in node.decorator_list
        )
        if autouse:
            seeded |= {ast.unparse(c.func) for c in ast.walk(node) if isinstance(c, ast.Call)}
    assert {"random.seed", "np.random.seed"} <= seeded

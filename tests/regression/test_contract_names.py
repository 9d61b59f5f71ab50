"""Every copy-prone name of the contract is spelled in one place: the words of the records (classification,
pairing, variant and outcome names) in ``contract.py``, the environment variables the chain sets in
``common.py``. Everything else imports them — a second spelling is how copies drift apart."""

from __future__ import annotations

import ast
from pathlib import Path

from regression import common, contract

ROOT = Path(__file__).resolve().parents[2]
HOMES = {
    **{word.value: "tests/regression/contract.py" for word in contract.Classification},
    **{word.value: "tests/regression/contract.py" for word in contract.Pairing if word != contract.Pairing.PAIRED},
    # (``xfailed`` and friends are also the stage results' count fields: not checked, they are not copy-prone)
    **{v: "tests/regression/contract.py" for v in ("int8static", "int8tensor", "collect_error")},
    **{
        value: "tests/regression/common.py"
        for name, value in vars(common).items()
        if name.startswith("ENV_") and isinstance(value, str) and value.startswith("TINYTORCH_")
    },
}


def machinery_files() -> list[Path]:
    """The harness, the tools, the benchmarks, the noxfile and the test helpers — not the tests of the
    machinery itself, which write such words on purpose (synthetic records), nor the modules' tests."""
    found = [ROOT / "noxfile.py", ROOT / "tests" / "zoo.py", ROOT / "tests" / "conftest.py"]
    for folder in ("tests/regression", "tools", "benchmarks"):
        found += [
            p for p in (ROOT / folder).rglob("*.py") if not p.name.startswith("test_") and p.parent.name != "tests"
        ]
    return sorted({p for p in found if p.parent.name != "tests" or p.parent == ROOT / "tests"})


def test_each_copy_prone_name_is_spelled_only_where_it_is_defined():
    second = []
    for path in machinery_files():
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(node, ast.keyword) and (node.arg or "").startswith("TINYTORCH_"):
                text = node.arg  # env.update(TINYTORCH_STAGE=...) spells the name, too
            if isinstance(text, str) and text in HOMES and HOMES[text] != rel:
                line = getattr(node, "lineno", "?")
                second.append(f"{rel}:{line}: {text!r} (defined in {HOMES[text]})")
    assert not second, "spelled again instead of imported:\n" + "\n".join(second)


def test_the_homes_define_them():
    assert {w.value for w in contract.Classification} <= set(HOMES)
    assert "TINYTORCH_STAGE" in HOMES and "TINYTORCH_RECORDS" in HOMES

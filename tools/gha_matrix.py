"""Turn ``nox --list --json`` into a GitHub Actions job matrix of regression cells.

    nox --list --json | python tools/gha_matrix.py [--name regression]
    -> {"include": [{"session": "regression(py3.12-np2.5)", "python": "3.12", "cell": "py3.12-np2.5"}, ...]}

The noxfile stays the single source of the matrix: CI fans out exactly the sessions nox defines.
"""

from __future__ import annotations

import argparse
import json
import sys


def matrix_from_listing(listing: list[dict], name: str = "regression") -> dict:
    """One matrix entry per nox session called ``name`` (each parametrization is a cell)."""
    include = []
    for entry in listing:
        if entry.get("name") != name:
            continue
        session = entry["session"]  # "regression(py3.12-np2.5)"
        cell = session[session.index("(") + 1 : -1] if "(" in session else session
        include.append({"session": session, "python": str(entry["python"]), "cell": cell})
    if not include:
        raise ValueError(f"no nox session named {name!r} in the listing")
    return {"include": include}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="regression", help="nox session family to fan out (default regression)")
    args = parser.parse_args(argv)
    try:
        print(json.dumps(matrix_from_listing(json.load(sys.stdin), args.name), separators=(",", ":")))
    except (ValueError, json.JSONDecodeError) as error:
        print(f"gha_matrix: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

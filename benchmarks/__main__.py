"""Run every benchmark, print one table, write ``reports/bench.json``.

Each benchmark module exposes ``run() -> list[dict]`` with rows
``{"figure": str, "value": float, "unit": str, "target": str, "ok": bool}``.
Usage: ``python -m benchmarks [name ...] [--out reports/bench.json]``; exit 1 if any row misses its target.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SUITES = ("foundation", "backward", "spatial", "generation", "quantization", "suite_times", "chain_cost", "bisect_cost")


def _format_table(rows: list[dict]) -> str:
    """The rows as text columns; ``ideal`` (the scheme's own bound, when a row has one) beside the value."""
    header = ("suite", "figure", "value", "ideal", "unit", "target", "ok")
    cells = [
        (
            r["suite"],
            r["figure"],
            f"{r['value']:.4g}",
            f"{r['ideal']:.4g}" if "ideal" in r else "",
            r["unit"],
            r["target"],
            "yes" if r["ok"] else "NO",
        )
        for r in rows
    ]
    widths = [max(len(str(c[i])) for c in [header, *cells]) for i in range(len(header))]
    line = lambda c: "  ".join(str(v).ljust(w) for v, w in zip(c, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, cells)])


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over: never a half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="*", default=list(SUITES), help=f"subset of {', '.join(SUITES)}")
    parser.add_argument("--out", default="reports/bench.json", help="where to write the JSON (default %(default)s)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.suites) - set(SUITES))
    if unknown:
        parser.error(f"unknown suite(s) {unknown}; choose from {list(SUITES)}")

    rows: list[dict] = []
    for name in args.suites:
        start = time.perf_counter()
        print(f"[bench] {name} …", file=sys.stderr, flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        for row in module.run():
            rows.append({"suite": name, **row, "ok": bool(row["ok"])})
        print(f"[bench] {name} done in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)

    print(_format_table(rows))
    out = Path(args.out)
    meta = {"python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine()}
    write_atomically(out, json.dumps({"environment": meta, "rows": rows}, indent=2) + "\n")
    failed = [r for r in rows if not r["ok"]]
    print(f"bench: {len(rows) - len(failed)} on target, {len(failed)} missed -> {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

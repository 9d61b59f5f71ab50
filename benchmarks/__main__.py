"""Run every benchmark, print one table, write ``reports/bench.json``.

Each benchmark module exposes ``run() -> list[dict]`` with rows
``{"figure": str, "value": float, "unit": str, "target": str, "ok": bool}``.
Usage: ``python -m benchmarks [name ...] [--out reports/bench.json]``; exit 1 if any row misses its target.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

SUITES = ("foundation", "spatial", "generation", "quantization", "suite_times")


def _format_table(rows: list[dict]) -> str:
    header = ("suite", "figure", "value", "unit", "target", "ok")
    cells = [
        (r["suite"], r["figure"], f"{r['value']:.4g}", r["unit"], r["target"], "yes" if r["ok"] else "NO") for r in rows
    ]
    widths = [max(len(str(c[i])) for c in [header, *cells]) for i in range(len(header))]
    line = lambda c: "  ".join(str(v).ljust(w) for v, w in zip(c, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, cells)])


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
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine()}
    out.write_text(json.dumps({"environment": meta, "rows": rows}, indent=2) + "\n")
    failed = [r for r in rows if not r["ok"]]
    print(f"bench: {len(rows) - len(failed)} on target, {len(failed)} missed -> {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

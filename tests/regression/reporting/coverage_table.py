"""The per-module coverage table of the report, from a coverage.py ``json`` report.

A registry module's measured files are its own file plus, when its folder holds no other registry
module, the helpers beside it (``tinytorch/optimization/int8.py`` counts for 16 quantization) — the
same rule as the ``coverage`` session's table, so the two agree to the decimal.
"""

from __future__ import annotations

from tinytorch.registry import MODULES


def _module_files(module, paths: list[str]) -> list[str]:
    """The measured files of a registry module: its own file, plus the helpers beside it when its folder
    holds no other registry module (``tinytorch/optimization/int8.py`` counts for 16 quantization) —
    the same rule as the ``coverage`` session's per-module table."""
    own = [p for p in paths if p.endswith(module.source_file)]
    folder = module.source_file.rsplit("/", 1)[0] + "/"
    if sum(m.source_file.startswith(folder) for m in MODULES) > 1:
        return own
    helpers = [p for p in paths if folder in p and p not in own and not p.endswith("__init__.py")]
    return own + sorted(helpers) if own else own


def _percent(summaries: list[dict]) -> float:
    """coverage.py's own formula: (lines + branches covered) / (statements + branches)."""
    hit = sum(s.get("covered_lines", 0) + s.get("covered_branches", 0) for s in summaries)
    total = sum(s.get("num_statements", 0) + s.get("num_branches", 0) for s in summaries)
    return round(100.0 * hit / total, 1) if total else 100.0


def coverage_table(data: dict) -> dict:
    """Per registry module rows from a coverage.py ``json`` report (paths matched by their tinytorch suffix)."""
    files = {path.replace("\\", "/"): info.get("summary", {}) for path, info in data.get("files", {}).items()}
    rows, used = [], set()
    for module in MODULES:
        matched = _module_files(module, list(files))
        used.update(matched)
        summaries = [files[p] for p in matched]
        rows.append(
            {
                "module": module.number,
                "label": f"{module.tag} {module.name}",
                "file": ", ".join(p[p.rfind("tinytorch/") :] for p in matched) or module.source_file,
                "statements": sum(s.get("num_statements", 0) for s in summaries) if matched else None,
                "covered": sum(s.get("covered_lines", 0) for s in summaries) if matched else None,
                "branches": sum(s.get("num_branches", 0) for s in summaries) if matched else None,
                "covered_branches": sum(s.get("covered_branches", 0) for s in summaries) if matched else None,
                "percent": _percent(summaries) if matched else None,
            }
        )
    others = sorted(p for p in files if p not in used)
    short = {p: p[p.rfind("tinytorch/") :] if "tinytorch/" in p else p for p in others}
    totals = data.get("totals", {})
    return {
        "modules": rows,
        "other_files": [
            {"file": short[p], "percent": round(float(files[p].get("percent_covered", 0.0)), 1)} for p in others
        ],
        "total_percent": None if not totals else round(float(totals.get("percent_covered", 0.0)), 1),
    }


def table_from_modules(rows: list[dict], data: dict | None = None) -> dict:
    """The table from the ``coverage`` session's ``modules.json`` — its thresholds and verdicts, and the
    percentage computed from the same counts and rounded the same way as its terminal table."""
    table_rows, others = [], []
    for row in rows:
        hit = row.get("covered_lines", 0) + row.get("covered_branches", 0)
        total = row.get("statements", 0) + row.get("branches", 0)
        percent = None if not row.get("files") else (100.0 if total == 0 else float(f"{100.0 * hit / total:.1f}"))
        entry = {
            "module": row.get("number"),
            "label": row.get("label"),
            "file": ", ".join(row.get("files", [])) or "—",
            "statements": row.get("statements"),
            "covered": row.get("covered_lines"),
            "branches": row.get("branches"),
            "covered_branches": row.get("covered_branches"),
            "percent": percent,
            "threshold": row.get("threshold"),
            "status": row.get("status"),
        }
        (table_rows if row.get("number") is not None else others).append(entry)
    totals = (data or {}).get("totals", {})
    return {
        "modules": table_rows,
        "other_files": [{"file": o["file"], "percent": o["percent"]} for o in others],
        "total_percent": None if not totals else round(float(totals.get("percent_covered", 0.0)), 1),
    }

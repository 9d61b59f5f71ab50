"""Combine every cell's and stage's coverage data and judge it per tinytorch module.

    python -m tools.coverage_report --root reports [--rcfile coverage.toml] [--keep-data]

Run by the ``coverage`` nox session in a venv holding the pinned coverage. Reads
``ROOT/cells/*/coverage/.coverage.<cell>.<stage>`` (written by ``tests/regression/chain.py --coverage``,
context ``<cell>@stage<KK>``), combines them (site-packages and foreign checkout paths mapped back to
``tinytorch/`` by ``[tool.coverage.paths]``) and writes under ``ROOT/coverage/``:

* ``html/``          the HTML report with contexts: each line lists the ``cell@stage|test`` runs that hit it;
* ``coverage.json``  coverage.py's JSON report (``tests/regression/report.py --coverage-json`` reads it);
* ``modules.json``   the per-module table printed here, with each module's threshold and verdict;
* ``.coverage``      the combined data, only with ``--keep-data``: every run combines the cells' files
  afresh and the reports above carry what it holds, while the file itself is the largest thing a run
  would leave (30 cells: ≈ 160 MB).

The folder is built beside ``ROOT/coverage`` and swapped in whole, under the lock ``report.py`` takes on
``ROOT`` (out_lock.py): a failed combine (full disk, damaged data) leaves the previous reports as they
were, and two runs on one ``ROOT`` take turns instead of writing into each other.

Per-module thresholds live in ``coverage.toml`` under ``[tool.tinytorch.coverage]``: coverage.py reads
only ``[tool.coverage.*]`` and ignores other tables silently, whereas an unknown option inside one of
its own sections draws a warning (measured with 7.10.7). Exit status 1 if a module is under its
threshold, 2 if there is no data to combine or a data file is damaged (coverage.py's combine would skip
it with a warning; here it is named, with the cell to run again).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from tinytorch.registry import LAST_STAGE, MODULES, ModuleSpec  # import-free, no numpy
from tools.harness import WriteError, exclusive, run_main, write_text_atomic

if sys.version_info >= (3, 11):
    import tomllib
else:  # coverage[toml] brings tomli on older Pythons
    import tomli as tomllib

REPO_ROOT = Path(__file__).resolve().parent.parent

SUPPORT = "support"
_STAGE_CONTEXT = re.compile(r"@stage(\d+)$")  # "<cell>@stage16"; "--module N" runs end in "-mNN"


@dataclass
class ModuleRow:
    """Coverage of one registry module: its own file plus the helper files of its package."""

    number: int | None
    label: str
    files: list[str] = field(default_factory=list)
    statements: int = 0
    covered_lines: int = 0
    branches: int = 0
    covered_branches: int = 0
    threshold: float | None = None
    status: str = ""  # ok | LOW | MISSING | partial | support

    @property
    def percent(self) -> float | None:
        total = self.statements + self.branches
        if not self.files:
            return None
        return 100.0 if total == 0 else 100.0 * (self.covered_lines + self.covered_branches) / total

    def to_dict(self) -> dict:
        return {**asdict(self), "percent": None if self.percent is None else round(self.percent, 2)}


def owner(path: str, modules: tuple[ModuleSpec, ...] = MODULES) -> ModuleSpec | None:
    """The registry module a measured file belongs to; None for shared support code.

    A module's own file (``spec.source_file``) is its; a helper file sitting in a package that holds
    exactly one registry module (``tinytorch/optimization/int8.py`` -> 16 quantization) is that
    module's; ``__init__.py`` files and helpers of packages shared by several modules are support.
    """
    posix = PurePosixPath(path.replace("\\", "/"))
    for spec in modules:
        if posix.as_posix() == spec.source_file:
            return spec
    if posix.name == "__init__.py":
        return None
    in_package = [spec for spec in modules if PurePosixPath(spec.source_file).parent == posix.parent]
    return in_package[0] if len(in_package) == 1 else None


def load_thresholds(rcfile: Path) -> tuple[float, dict[str, float]]:
    """(default threshold, {"16_quantization": 90.0, ...}) from ``[tool.tinytorch.coverage]``."""
    table = tomllib.loads(rcfile.read_text(encoding="utf-8")).get("tool", {}).get("tinytorch", {}).get("coverage")
    if table is None:
        raise ValueError(f"{rcfile} has no [tool.tinytorch.coverage] table (default + per-module thresholds)")
    known = {f"{spec.tag}_{spec.name}" for spec in MODULES}
    modules = {str(key): float(value) for key, value in table.get("modules", {}).items()}
    unknown = sorted(set(modules) - known)
    if unknown:
        raise ValueError(
            f"{rcfile}: unknown module key(s) {unknown} in [tool.tinytorch.coverage.modules]; "
            f"use NN_name as in tests/modules/, e.g. {sorted(known)[0]!r}"
        )
    return float(table.get("default", 0.0)), modules


def stage_runs(contexts: set[str]) -> set[str]:
    """The ``cell@stageKK`` runs behind ``cell@stageKK[|test id]`` contexts: their static part."""
    return {context.split("|", 1)[0] for context in contexts} - {""}


def stages_measured(contexts: set[str]) -> set[int]:
    """Whole stages found in ``cell@stageKK[|test id]`` contexts (``cell@stageKK-mNN``, one module's tests, is
    not). Only the static part counts: a stage where every line ran inside some test still ran."""
    return {int(m.group(1)) for context in stage_runs(contexts) if (m := _STAGE_CONTEXT.search(context))}


def module_rows(report: dict, thresholds: tuple[float, dict[str, float]], stages: set[int]) -> list[ModuleRow]:
    """One row per registry module (+ one support row) from coverage.py's JSON report, judged.

    The thresholds hold for the whole chain: later stages exercise earlier modules too, so the data
    is judged only if some cell ran stage 16 (a partial run, ``--upto 9`` or ``--module 12``, is
    reported, not judged). A module whose file was never measured is MISSING.
    """
    default, per_module = thresholds
    rows = {spec.number: ModuleRow(spec.number, f"{spec.tag} {spec.name}") for spec in MODULES}
    support = ModuleRow(None, SUPPORT)
    for path, info in sorted(report.get("files", {}).items()):
        spec = owner(path)
        row = rows[spec.number] if spec else support
        summary = info.get("summary", {})
        row.files.append(path.replace("\\", "/"))
        row.statements += int(summary.get("num_statements", 0))
        row.covered_lines += int(summary.get("covered_lines", 0))
        row.branches += int(summary.get("num_branches", 0))
        row.covered_branches += int(summary.get("covered_branches", 0))
    whole_chain = LAST_STAGE in stages
    for spec in MODULES:
        row = rows[spec.number]
        row.threshold = per_module.get(f"{spec.tag}_{spec.name}", default)
        if not whole_chain:
            row.status = "partial"
        elif row.percent is None:
            row.status = "MISSING"
        else:
            row.status = "ok" if row.percent + 1e-9 >= row.threshold else "LOW"
    support.status = SUPPORT
    return [*rows.values(), support]


def _file_names(files: list[str]) -> str:
    """``int8.py, quantization.py`` — repeated names counted: ``__init__.py ×8, registry.py``."""
    counts = Counter(PurePosixPath(f).name for f in files)
    return ", ".join(name if n == 1 else f"{name} ×{n}" for name, n in counts.items())


def render(rows: list[ModuleRow]) -> str:
    lines = [f"{'module':<18} {'stmts':>6} {'branch':>6} {'cover':>7} {'min':>5}  status  files", "-" * 78]
    for row in rows:
        percent = "—" if row.percent is None else f"{row.percent:6.1f}%"
        threshold = "" if row.threshold is None else f"{row.threshold:4.0f}%"
        lines.append(
            f"{row.label:<18} {row.statements:>6} {row.branches:>6} {percent:>7} {threshold:>5}  {row.status:<7} "
            f"{_file_names(row.files)}"
        )
    return "\n".join(lines)


def data_dirs(root: Path) -> list[Path]:
    return sorted(d for d in (root / "cells").glob("*/coverage") if any(d.glob(".coverage.*")))


def damaged_files(dirs: list[Path]) -> list[tuple[Path, str]]:
    """The cells' data files coverage.py cannot open, with its reason: its combine would only warn and
    leave them out, and a per-module table missing a cell must not pass for the whole matrix's."""
    from coverage import CoverageData
    from coverage.exceptions import CoverageException

    damaged = []
    for path in sorted(p for d in dirs for p in d.glob(".coverage.*")):
        try:
            CoverageData(basename=str(path)).read()
        except (CoverageException, OSError) as error:
            damaged.append((path, str(error).splitlines()[0]))
    return damaged


def _swap_in(built: Path, out: Path) -> None:
    """Replace ``out`` by the finished ``built`` folder: two renames, the old folder removed last."""
    old = out.with_name(f".{out.name}.{os.getpid()}.old")
    if out.exists():
        os.replace(out, old)
    os.replace(built, out)
    shutil.rmtree(old, ignore_errors=True)


def build(root: Path, rcfile: Path, keep_data: bool = False) -> int:
    """Combine, write every report, print the module table; the exit status judges the thresholds."""
    from coverage import Coverage  # the pinned coverage of the session's venv

    thresholds = load_thresholds(rcfile)  # a bad table fails now, not after a minute of combining
    dirs = data_dirs(root)
    if not dirs:
        print(f"coverage: no data under {root}/cells/*/coverage: run `nox -s regression` first", file=sys.stderr)
        return 2
    damaged = damaged_files(dirs)
    for path, why in damaged:
        cell = path.parent.parent.name
        again = f'nox -s "regression({cell})"'
        print(f"coverage: {path} is damaged ({why}): run that cell again, {again}", file=sys.stderr)
    if damaged:
        return 2
    out = root / "coverage"
    with exclusive(root, wait=True, who="coverage_report"):
        # Holding the lock, this is the only coverage step on ROOT: folders left here are a killed run's.
        for left in [*root.glob(".coverage-build.*.tmp"), *root.glob(".coverage.*.old")]:
            shutil.rmtree(left, ignore_errors=True)
        built = root / f".coverage-build.{os.getpid()}.tmp"
        built.mkdir()
        try:
            cov = Coverage(data_file=str(built / ".coverage"), config_file=str(rcfile))
            cov.combine([str(d) for d in dirs], strict=True, keep=True)
            contexts = cov.get_data().measured_contexts()
            title = "tinytorch coverage per cell@stage"
            cov.html_report(directory=str(built / "html"), show_contexts=True, title=title)
            cov.json_report(outfile=str(built / "coverage.json"))
            report = json.loads((built / "coverage.json").read_text(encoding="utf-8"))
            rows = module_rows(report, thresholds, stages_measured(contexts))
            write_text_atomic(built / "modules.json", json.dumps([row.to_dict() for row in rows], indent=2) + "\n")
            if not keep_data:
                (built / ".coverage").unlink(missing_ok=True)
            _swap_in(built, out)
        except OSError as error:  # a full disk, a file-size limit: one line, and the old reports stand
            raise WriteError(f"could not write the reports under {out}: {error}; the previous ones are kept") from error
        finally:
            shutil.rmtree(built, ignore_errors=True)
    print(f"coverage of {len(dirs)} cell(s), {len(stage_runs(contexts))} cell@stage run(s), per tinytorch module:")
    print(render(rows))
    print(f"HTML with contexts: {out / 'html' / 'index.html'}")
    if not keep_data:
        print("combined data not kept (the reports above carry it): --keep-data leaves it as coverage/.coverage")
    low = [row for row in rows if row.status in ("LOW", "MISSING")]
    for row in low:
        got = "no measured file" if row.percent is None else f"{row.percent:.1f}%"
        print(f"coverage: module {row.label} is under its threshold {row.threshold:.0f}%: {got}")
    if any(row.status == "partial" for row in rows):
        print(f"coverage: no cell ran the whole chain to stage {LAST_STAGE}: thresholds not judged (partial run)")
    elif not low:
        print("coverage: every module meets its threshold")
    return 1 if low else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("reports"), help="reports root holding cells/")
    parser.add_argument("--rcfile", type=Path, default=REPO_ROOT / "coverage.toml", help="coverage config")
    parser.add_argument("--keep-data", action="store_true", help="also keep the combined data as coverage/.coverage")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        parser.error(f"--root {args.root}: no such folder; give the reports root that holds cells/ (default: reports)")
    if not args.rcfile.is_file():
        parser.error(f"--rcfile {args.rcfile}: no such file; give a coverage config such as coverage.toml")
    try:
        load_thresholds(args.rcfile)  # checked before anything under --root is touched
    except (ValueError, OSError) as error:
        parser.error(f"--rcfile {args.rcfile}: {error}")
    return build(args.root, args.rcfile, keep_data=args.keep_data)


if __name__ == "__main__":
    sys.exit(run_main(main, "coverage_report"))

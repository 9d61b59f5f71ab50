"""A cell's results under ``--out``: one run's working folder, and the publish step that makes it the result.

Each run works in its own folder, ``--out/.run-<pid>-<random>/`` (records, logs, inputs per stage), so two
runs never touch each other's temporaries. The previous result stays whole until the new one replaces
it: the merged records go to a new file first, then the logs are swapped in, then ``stages.json``
(written atomically, the commit point) names the records, then the old records and logs go. A run
killed at any instant, or one that cannot write (a full disk), leaves a readable, consistent cell.
Working folders of runs that are provably dead (their pid is gone) are removed by the next run.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import shutil
import sys
import uuid
from pathlib import Path

from regression.common import safe_name, write_json, write_jsonl
from regression.schema import CellRun, current

_RUN_FOLDER = re.compile(r"^\.run-(\d+)-[0-9a-f]+$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def make_work_folder(out: Path) -> Path:
    """This run's own working folder; dead runs' folders (and the old shared ones) are cleared first."""
    out.mkdir(parents=True, exist_ok=True)
    for path in out.iterdir():
        match = _RUN_FOLDER.match(path.name)
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(out / "records", ignore_errors=True)  # the shared working folder of older chains
    work = out / f".run-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    for sub in ("records", "logs", "inputs"):
        (work / sub).mkdir(parents=True)
    return work


def drop_stale_coverage(out: Path, cell: str, keys: set[str]) -> None:
    """Coverage files of stages this result does not hold (an earlier, longer run's) must not be combined."""
    prefix = f".coverage.{safe_name(cell)}."
    for path in (out / "coverage").glob(prefix + "*"):
        if path.name[len(prefix) :].split(".", 1)[0] not in keys:
            path.unlink(missing_ok=True)


def publish(out: Path, header: CellRun, records: list[dict], work: Path | None = None) -> None:
    """Records under a new name, the new logs, then ``stages.json`` naming them (the commit point), then the
    old records and logs go. An ``OSError`` before the commit point leaves the previous result published."""
    name = f"records-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%f}-{os.getpid()}.jsonl"
    try:
        write_jsonl(out / name, records)
    except OSError:
        (out / name).unlink(missing_ok=True)
        raise
    old_logs = None
    if work is not None and (work / "logs").is_dir():
        if (out / "logs").exists():
            old_logs = work / "logs-replaced"
            os.replace(out / "logs", old_logs)
        os.replace(work / "logs", out / "logs")
    write_json(out / "stages.json", _header_json(header.replace(records_file=name)))
    for old in [*out.glob("records*.jsonl"), *out.glob(".records*.tmp")]:  # incl. a killed run's
        if old.name != name:
            old.unlink(missing_ok=True)
    if work is not None:
        shutil.rmtree(work, ignore_errors=True)


def cell_header(cell: str) -> CellRun:
    """The header of a cell that runs here: its name, this interpreter, now; the chain adds the rest."""
    return CellRun(
        cell=cell,
        schema=current("stages.json"),
        python=platform.python_version(),
        executable=sys.executable,
        started=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )


# A skipped cell ran nothing: its stages.json says what it is and why, and no facts of a run.
_SKIPPED_FIELDS = ("schema", "cell", "skipped", "skip_reason", "python", "executable", "started")
_SKIPPED_FIELDS += ("stages", "green", "seconds", "records_file")


def _header_json(header: CellRun) -> dict:
    data = header.to_json()
    return {key: data[key] for key in _SKIPPED_FIELDS} if header.skipped else data


def write_skipped(out: Path, cell: str, reason: str) -> int:
    work = make_work_folder(out)
    header = cell_header(cell).replace(skipped=True, skip_reason=reason, python=None, executable=None, seconds=0.0)
    publish(out, header, [], work)
    print(f"[{cell}] skipped: {reason}", file=sys.stderr)
    return 0

"""Module 07: checkpoints under faults — damaged zips, lying sizes, read-only targets, killed saves.

Every damaged file must be a ``ValueError`` naming the path with the model unchanged (zip-level
damage used to escape as ``NotImplementedError``/``RuntimeError``); a tiny file declaring a huge array
is refused before anything is allocated; a load that cannot write every parameter writes none; and a
save killed with SIGKILL leaves the previous checkpoint whole and its temporary is removed by the next
save to the same path.
"""

from __future__ import annotations

import io
import os
import signal
import struct
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tinytorch.core.layers import Linear, Module, Sequential
from tinytorch.core.training import load_checkpoint, save_checkpoint


def small_model(seed: int = 0) -> Sequential:
    np.random.seed(seed)
    return Sequential(Linear(3, 4), Linear(4, 2))


def snapshot(model: Module) -> list:
    return [(n, t.data.dtype.str, t.data.shape, t.data.tobytes()) for n, t in model.named_tensors()]


def assert_refused(path, target: Module | None = None, match: str = "") -> ValueError:
    """Loading ``path`` raises ValueError naming it (matching ``match``) and leaves ``target`` as it was."""
    target = small_model(7) if target is None else target
    before = snapshot(target)
    with pytest.raises(ValueError, match=match) as info:
        load_checkpoint(target, path)
    assert str(path) in str(info.value)
    assert snapshot(target) == before
    return info.value


@pytest.fixture
def saved(tmp_path) -> tuple[Path, list]:
    path = tmp_path / "ckpt.npz"
    model = small_model(1)
    save_checkpoint(model, path)
    return path, snapshot(model)


def _offsets(data: bytes, signature: bytes) -> list[int]:
    found, start = [], 0
    while (i := data.find(signature, start)) >= 0:
        found.append(i)
        start = i + 1
    return found


def _patched(path: Path, edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(path.read_bytes())
    for offset, raw in edits:
        data[offset : offset + len(raw)] = raw
    path.write_bytes(bytes(data))


CENTRAL = b"PK\x01\x02"  # central directory entry: flags at +8, method at +10
LOCAL = b"PK\x03\x04"  # local file header: flags at +6, method at +8


# ----------------------------------------------------------------------------- zip-level damage
@pytest.mark.parametrize("method", [99, 8, 12, 14, 1], ids=["unknown-99", "deflate", "bzip2", "lzma", "shrunk"])
def test_flipped_compression_method_in_the_directory_is_a_value_error(saved, method):
    path, _ = saved
    first = _offsets(path.read_bytes(), CENTRAL)[0]
    _patched(path, [(first + 10, struct.pack("<H", method))])
    assert_refused(path, match="corrupt")


@pytest.mark.parametrize("entry", [0, -1], ids=["first", "last"])
def test_flipped_encryption_flag_in_the_directory_is_a_value_error(saved, entry):
    path, _ = saved
    data = path.read_bytes()
    at = _offsets(data, CENTRAL)[entry] + 8
    flags = struct.unpack("<H", data[at : at + 2])[0]
    _patched(path, [(at, struct.pack("<H", flags | 0x1))])
    assert_refused(path, match="encrypted")


@pytest.mark.parametrize("field, value", [(6, 0x1), (8, 8), (8, 99)], ids=["encrypted", "deflate", "unknown"])
def test_flipped_local_header_fields_load_exactly_or_refuse(saved, field, value):
    # zipfile reads the method and flags from the central directory: a local header that disagrees
    # may be ignored (the CRC still vouches for the data) or refused, but never escape as another error.
    path, want = saved
    first = _offsets(path.read_bytes(), LOCAL)[1]
    _patched(path, [(first + field, struct.pack("<H", value))])
    target = small_model(7)
    try:
        load_checkpoint(target, path)
    except ValueError as exc:
        assert str(path) in str(exc)
        assert snapshot(target) == snapshot(small_model(7))
    else:
        assert snapshot(target) == want


def test_every_single_byte_flip_loads_exactly_or_is_a_value_error(tmp_path):
    path = tmp_path / "tiny.npz"
    np.random.seed(1)
    save_checkpoint(Linear(2, 1), path)  # two members, ~520 bytes: every byte of every structure
    want = snapshot(load_checkpoint(Linear(2, 1), path))
    good = path.read_bytes()
    refused = 0
    np.random.seed(7)
    target = Linear(2, 1)
    untouched, initial = snapshot(target), [t.data.copy() for _, t in target.named_tensors()]
    fd = os.open(path, os.O_RDWR)  # each byte flipped and restored in place: no reopening per flip
    try:
        for offset in range(len(good)):
            os.pwrite(fd, bytes([good[offset] ^ 0xFF]), offset)
            for (_, t), values in zip(target.named_tensors(), initial):
                t.data[...] = values  # the target back to its own values before every load
            try:
                load_checkpoint(target, path)
            except ValueError as exc:  # any other exception type fails the test
                assert str(path) in str(exc), (offset, exc)
                assert snapshot(target) == untouched, offset
                refused += 1
            else:
                assert snapshot(target) == want, offset  # only harmless bytes (times, padding) may change
            os.pwrite(fd, good[offset : offset + 1], offset)
    finally:
        os.close(fd)
    assert path.read_bytes() == good
    assert refused > len(good) // 2, refused  # most bytes matter; the others were loaded exactly


def test_truncation_anywhere_is_a_value_error(saved):
    path, _ = saved
    good = path.read_bytes()
    sizes = sorted({*range(0, len(good), 7), *range(len(good) - 48, len(good))}, reverse=True)
    for size in sizes:  # longest first: each size is the previous file cut shorter, never rewritten
        os.truncate(path, size)
        assert path.stat().st_size == size
        assert_refused(path, match="truncated or corrupt")


# ----------------------------------------------------------------------------- sizes that lie
GIB_186 = 186 * (1 << 30) // 4  # float32 elements in 186 GiB


def _npy_header(shape, descr="<f4") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _tiny_npz(path: Path, members: dict[str, bytes], method=zipfile.ZIP_STORED) -> None:
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, raw in members.items():
            archive.writestr(name, raw)


def _refused_without_allocating(path: Path, match: str) -> None:
    tracemalloc.start()
    try:
        assert_refused(path, match=match)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"refusing {path.name} allocated {peak} bytes"


def test_a_tiny_file_declaring_186_gib_is_refused_before_allocating(tmp_path):
    path = tmp_path / "bomb.npz"
    _tiny_npz(path, {"layers.0.weight.npy": _npy_header((GIB_186,))})
    assert path.stat().st_size < 400  # the 280-byte file
    _refused_without_allocating(path, r"declares a float32\[49928994816\] array of 199715979264 bytes")


def test_a_stored_member_declaring_more_bytes_than_the_file_has_is_refused(tmp_path):
    path = tmp_path / "bomb.npz"
    _tiny_npz(path, {"layers.0.weight.npy": _npy_header((GIB_186,))})
    data = path.read_bytes()
    central = _offsets(data, CENTRAL)[0]
    huge = struct.pack("<I", 0xFFFFFFFE)
    _patched(path, [(central + 20, huge), (central + 24, huge)])  # compressed and uncompressed sizes
    _refused_without_allocating(path, "declares 4294967294 bytes; the file has")


def test_a_deflated_member_claiming_an_impossible_expansion_is_refused(tmp_path):
    path = tmp_path / "bomb.npz"
    _tiny_npz(path, {"layers.0.weight.npy": _npy_header((GIB_186,))}, method=zipfile.ZIP_DEFLATED)
    central = _offsets(path.read_bytes(), CENTRAL)[0]
    _patched(path, [(central + 24, struct.pack("<I", 0xFFFFFFFE))])  # uncompressed size only
    _refused_without_allocating(path, "claims 4294967294 bytes from only")


@pytest.mark.parametrize(
    "header, match",
    [
        (b"\x93NUMPY\x01\x00\xff\xff" + b" " * 10, "ends inside its .npy header"),
        (b"\x93NUMPY\x09\x00\x10\x00" + b" " * 16, "format version 9"),
        (b"\x93NUMPY\x01\x00\x10\x00{'a': (1,)}    \n", "malformed"),
        (_npy_header((2, 3), descr="|O"), "pickled/object"),
        (_npy_header((-1,)).replace(b"(-1,)", b"(-1, )"), "malformed"),
        (b"PK\x03\x04 not an npy at all", "bad magic"),
    ],
    ids=["short-header", "version", "keys", "object", "negative-shape", "magic"],
)
def test_broken_npy_headers_are_value_errors(tmp_path, header, match):
    path = tmp_path / "bad.npz"
    _tiny_npz(path, {"layers.0.weight.npy": header})
    assert_refused(path, match=match)


def test_a_member_that_is_not_an_array_is_refused(tmp_path):
    path = tmp_path / "odd.npz"
    _tiny_npz(path, {"notes.txt": b"hello"})
    assert_refused(path, match="not an .npy array")


def test_compressed_checkpoints_from_numpy_still_load(tmp_path):
    source, target = small_model(1), small_model(7)
    path = tmp_path / "compressed.npz"
    np.savez_compressed(path, **source.state_dict())
    load_checkpoint(target, path)
    assert snapshot(target) == snapshot(source)


def test_fortran_ordered_and_zero_size_arrays_round_trip(tmp_path):
    class Odd(Module):
        def __init__(self, a, b):
            from tinytorch.core.tensor import Tensor

            self.a, self.b = Tensor(a), Tensor(b)

    a = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    path = tmp_path / "odd.npz"
    np.savez(path, a=a, b=np.zeros((0, 5), np.float32))
    target = Odd(np.zeros((3, 4), np.float32), np.zeros((0, 5), np.float32))
    load_checkpoint(target, path)
    np.testing.assert_array_equal(target.a.data, a)
    assert target.a.data.flags.writeable


# ----------------------------------------------------------------------------- all or nothing
@pytest.mark.parametrize("kind", ["memmap", "flag"])
def test_a_read_only_parameter_means_no_parameter_is_written(tmp_path, kind):
    path = tmp_path / "ckpt.npz"
    save_checkpoint(small_model(1), path)
    target = small_model(7)
    last = target.layers[1].weight
    if kind == "memmap":
        np.asarray(last.data).tofile(tmp_path / "w.bin")
        last.data = np.memmap(tmp_path / "w.bin", dtype=np.float32, mode="r", shape=last.data.shape)
    else:
        last.data.flags.writeable = False
    error = assert_refused(path, target, match="'layers.1.weight' is (a read-only memory map|read-only)")
    assert "no parameter was changed" in str(error)


# ----------------------------------------------------------------------------- orphaned temporaries
def _forked(live: bool) -> int:
    """The pid of a forked child: ``live`` — sleeping until killed; else already exited and reaped.
    (A fork costs ~4 ms here; a fresh interpreter, ~30 ms.)"""
    pid = os.fork()
    if pid == 0:
        try:
            while live:
                time.sleep(60)
        finally:
            os._exit(0)
    if not live:
        os.waitpid(pid, 0)
    return pid


def test_the_next_save_removes_a_dead_writers_temporaries_and_keeps_live_ones(tmp_path):
    path = tmp_path / "ckpt.npz"
    sleeper = _forked(live=True)
    try:
        dead = tmp_path / f".ckpt.npz.{_forked(live=False)}.k1l2m3n4.tmp"
        live = tmp_path / f".ckpt.npz.{sleeper}.a1b2c3d4.tmp"  # a save still in progress elsewhere
        legacy_old = tmp_path / ".ckpt.npz.zz9yy8xx.tmp"  # no pid: named by an earlier version
        legacy_new = tmp_path / ".ckpt.npz.qq1ww2ee.tmp"
        other = tmp_path / f".other.npz.{_forked(live=False)}.abcdefgh.tmp"  # another checkpoint's: not ours to touch
        for stray in (dead, live, legacy_old, legacy_new, other):
            stray.write_bytes(b"partial")
        hour_ago = time.time() - 7200
        os.utime(legacy_old, (hour_ago, hour_ago))
        save_checkpoint(small_model(1), path)
        left = sorted(p.name for p in tmp_path.iterdir())
        assert left == sorted(["ckpt.npz", live.name, legacy_new.name, other.name])
    finally:
        os.kill(sleeper, signal.SIGKILL)
        os.waitpid(sleeper, 0)


def _filled_model(fill: float) -> Sequential:
    """A 68 KiB model of 8 arrays (4 × ``Linear(64, 64)``) with every value ``fill``."""
    model = Sequential(*[Linear(64, 64) for _ in range(4)])
    for _, t in model.named_tensors():
        t.data[...] = fill
    return model


# Where each forked saver is SIGKILLed: (name, what to hook in the child, "before"/"after" the hooked
# call, which call of it), in the order a save reaches them. The child blocks there and the parent kills
# it, so every kill lands at a known point of the save: 5 of 5 mid-save, where random kill times over a
# save loop landed mid-save 12-18 times in 20 (0.6 s) and inside the ~1 ms of writing the archive (of a
# ~11 ms save, the rest fsyncs) about one time in ten.
# The first four are before the rename — the previous checkpoint must stand and a temporary is left for
# the next save to remove; the last is after it — the new checkpoint is whole. (Before ``mkstemp`` and
# between the write and its fsync are left out: killed there, a save has nothing on disk yet, or leaves
# the same whole temporary as after the fsync — a SIGKILL keeps the page cache; only power loss would not.)
KILL_POINTS = [
    ("temporary created, nothing written", "tempfile.mkstemp", "after", 1),
    ("one array of eight in the archive", "np.lib.format.write_array", "before", 2),
    ("seven arrays of eight in the archive", "np.lib.format.write_array", "before", 8),
    ("archive written and fsynced, not yet renamed", "os.replace", "before", 1),
    ("renamed, directory not yet fsynced", "os.replace", "after", 1),
]
_RENAMED = KILL_POINTS[-1][0]


def _blocking_hook(target: str, when: str, nth: int, signal_fd: int) -> None:
    """In the forked child: make the ``nth`` call of ``target`` write b"k" to ``signal_fd`` and block
    (before or after doing its work) until the parent's SIGKILL."""
    owner = {"tempfile": tempfile, "np.lib.format": np.lib.format, "os": os}[target.rpartition(".")[0]]
    name = target.rpartition(".")[2]
    real, calls = getattr(owner, name), []

    def stop() -> None:
        os.write(signal_fd, b"k")
        while True:
            time.sleep(60)

    def hooked(*args, **kwargs):
        calls.append(1)
        if len(calls) == nth and when == "before":
            stop()
        result = real(*args, **kwargs)
        if len(calls) == nth:
            stop()
        return result

    setattr(owner, name, hooked)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="SIGKILL of a forked saver needs POSIX")
def test_sigkilled_saves_keep_the_checkpoint_whole_and_the_next_save_cleans_up(tmp_path, monkeypatch):
    """A save SIGKILLed at each point of ``KILL_POINTS`` (5 kills, all 5 mid-save by construction;
    4 of them leave a temporary behind) leaves a whole checkpoint — the previous one before the rename,
    the new one after — never a mix, and the next save to that path removes the dead writer's temporary.

    Why this is enough: a writer that is not atomic (writing ``path`` itself, or renaming before it
    writes) is caught at the first kill inside the archive, deterministically; one that leaves or
    mis-names its temporaries, by the next save's listing. Verified by breaking ``save_checkpoint`` in
    each of those three ways: the test fails.
    """
    # fsync is what survives power loss; a SIGKILLed process's writes survive without it (the page cache
    # is the kernel's): made a no-op here, in the parent and the children, it takes nothing from what a
    # kill can show and saves 9 saves' fsyncs (3-20 ms each on a loaded disk). The save still calls it.
    fsyncs = []
    monkeypatch.setattr(os, "fsync", fsyncs.append)
    path = tmp_path / "ckpt.npz"
    model = _filled_model(-1.0)
    save_checkpoint(model, path)
    assert fsyncs, "save_checkpoint no longer fsyncs"
    previous, orphans_seen = -1.0, 0
    for run, (where, target, when, nth) in enumerate(KILL_POINTS):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            try:
                os.close(read_end)
                for _, t in model.named_tensors():
                    t.data[...] = float(run)
                _blocking_hook(target, when, nth, write_end)
                save_checkpoint(model, path)
                os.write(write_end, b"x")  # the save finished without reaching the kill point
            finally:
                os._exit(1)
        os.close(write_end)
        reached = os.read(read_end, 1)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read_end)
        assert reached == b"k", f"{where}: save_checkpoint never called {target} (update KILL_POINTS)"
        load_checkpoint(model, path)  # always a whole checkpoint
        values = {float(v) for _, t in model.named_tensors() for v in np.unique(t.data)}
        expected = float(run) if where == _RENAMED else previous
        assert values == {expected}, (where, values)  # the previous one before the rename, never a mix
        previous = expected
        orphans = [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"]
        assert len(orphans) == (0 if where == _RENAMED else 1), (where, orphans)
        orphans_seen += len(orphans)
        save_checkpoint(model, path)  # the next save to that path
        assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz"], f"{where}: temporaries left"
    assert orphans_seen == len(KILL_POINTS) - 1

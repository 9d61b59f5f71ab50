"""Module 07 — training: the loop, gradient clipping, a cosine schedule and safe checkpoints.

- ``Trainer`` runs epochs over any iterable of ``(inputs, targets)`` batches (module 08's
  ``DataLoader`` is one, but 07 cannot import 08, so a list of pairs works just as well). With
  ``accumulation_steps=k`` it sums the gradients of k micro-batches and divides by how many it saw
  before stepping, so k equal micro-batches give exactly the step of one big batch (for a mean loss).
- ``clip_grad_norm`` rescales all gradients together by their global L2 norm, as
  ``torch.nn.utils.clip_grad_norm_``.
- ``CosineSchedule(max_lr, min_lr, total_steps)`` is ``torch``'s cosine annealing as a function of
  the step; past ``total_steps`` it stays at ``min_lr``.
- ``save_checkpoint`` / ``load_checkpoint`` store ``model.state_dict()`` as a NumPy ``.npz`` that is
  written atomically (temp file in the same directory + fsync + ``os.replace``: a crash leaves the
  previous checkpoint intact) and read with ``allow_pickle=False`` (a checkpoint can never run
  code). A truncated, corrupt or mismatched file raises ``ValueError`` naming the path and leaves the
  model untouched, because ``Module.load_state_dict`` validates every entry before writing any.
"""

from __future__ import annotations

import ast
import math
import os
import tempfile
import time
import zipfile
from typing import Iterable

import numpy as np

from tinytorch.core.autograd import no_grad

# Re-exported: learners' training code imports the losses from here (TinyTorch's layout). Same objects.
from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.tensor import Tensor

__all__ = [
    "Trainer",
    "CosineSchedule",
    "clip_grad_norm",
    "save_checkpoint",
    "load_checkpoint",
]
__all__ += ["MSELoss", "CrossEntropyLoss", "BinaryCrossEntropyLoss"]  # the re-exported losses (see the import)


# ---------------------------------------------------------------------------------------- clipping
def clip_grad_norm(params: Iterable[Tensor], max_norm: float, error_if_nonfinite: bool = False) -> float:
    """Scale every gradient by ``max_norm / (total_norm + 1e-6)`` when the global L2 norm exceeds it.

    Returns the total norm *before* clipping (as PyTorch does). Parameters without a gradient are
    ignored. A non-finite norm leaves the gradients alone (scaling by 0 or NaN would destroy them);
    pass ``error_if_nonfinite=True`` to raise instead.
    """
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float, np.integer, np.floating)):
        raise ValueError(f"clip_grad_norm: max_norm must be a positive number, got {max_norm!r}")
    if not max_norm > 0:
        raise ValueError(f"clip_grad_norm: max_norm must be > 0, got {max_norm!r}")
    if isinstance(params, Tensor):
        params = [params]
    # A Tensor-valued .grad (the learner's idiom, accepted by the optimizers too) is clipped in its array.
    grads = [p.grad.data if isinstance(p.grad, Tensor) else p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    # float64 accumulation: a float32 sum of squares loses digits over millions of elements.
    total = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads))
    if not math.isfinite(total):
        if error_if_nonfinite:
            raise ValueError(f"clip_grad_norm: the total gradient norm is {total}; a gradient holds NaN or inf")
        return total
    coef = float(max_norm) / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= coef  # in place: .grad is the parameter's own array; float32 stays float32
    return total


# ---------------------------------------------------------------------------------------- schedule
class CosineSchedule:
    """``lr(step) = min_lr + (max_lr - min_lr) · (1 + cos(π · step / total_steps)) / 2``.

    ``schedule(0) == max_lr``, ``schedule(total_steps / 2)`` is the midpoint, and every step from
    ``total_steps`` on returns ``min_lr``.
    """

    def __init__(self, max_lr: float = 0.1, min_lr: float = 0.01, total_steps: int = 100):
        for name, value in (("max_lr", max_lr), ("min_lr", min_lr)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ValueError(f"CosineSchedule: {name} must be a number, got {value!r}")
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"CosineSchedule: {name} must be a finite number >= 0, got {value!r}")
        if min_lr > max_lr:
            raise ValueError(f"CosineSchedule: min_lr ({min_lr!r}) must not exceed max_lr ({max_lr!r})")
        if isinstance(total_steps, bool) or not isinstance(total_steps, (int, np.integer)) or total_steps <= 0:
            raise ValueError(f"CosineSchedule: total_steps must be a positive int, got {total_steps!r}")
        self.max_lr, self.min_lr, self.total_steps = float(max_lr), float(min_lr), int(total_steps)

    def __call__(self, step: int) -> float:
        if step < 0:
            raise ValueError(f"CosineSchedule: step must be >= 0, got {step!r}")
        if step >= self.total_steps:
            return self.min_lr
        cosine = (1.0 + math.cos(math.pi * step / self.total_steps)) / 2.0
        return self.min_lr + (self.max_lr - self.min_lr) * cosine

    def __repr__(self) -> str:
        return f"CosineSchedule(max_lr={self.max_lr}, min_lr={self.min_lr}, total_steps={self.total_steps})"


# ---------------------------------------------------------------------------------------- checkpoints
# Writing: a temporary file next to the target, fsynced, then os.replace — a crash at any point leaves
# the previous checkpoint whole. The temporary's name carries the writer's pid, so the next save to the
# same path can tell a dead writer's leftover (SIGKILL, power loss) from a save still in progress.
#
# Reading never trusts the file: the zip's flags and sizes and every .npy header are checked against
# the bytes really there before any array is allocated, and nothing is unpickled. Any damage is a
# ValueError naming the path; the model is written only once every entry is known to fit.

_TMP_SUFFIX = ".tmp"
_LEGACY_TMP_AGE_S = 3600.0  # temporaries without a pid (older versions): removed once this old
_DEFLATE_MAX_RATIO = 1032  # the most DEFLATE can expand (258-byte matches in 2 bits); bounds a member's size
_MAX_NPY_HEADER = 1 << 16


def _write_npz(handle, state: dict) -> None:
    """Write ``state`` as an uncompressed .npz into an open binary file, refusing object arrays."""
    with zipfile.ZipFile(handle, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in state.items():
            array = np.asarray(array)
            if array.dtype.hasobject:
                raise ValueError(
                    f"state entry {name!r} has dtype {array.dtype}; checkpoints hold numeric arrays only "
                    "(object arrays would need pickle)"
                )
            with archive.open(f"{name}.npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.require(array, requirements="C"), allow_pickle=False)  # keeps 0-d


def _fsync_dir(directory: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _file_mode(path: str) -> int:
    """The mode the checkpoint should have: the previous file's, else 0666 minus the umask."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _tmp_prefix(path: str) -> str:
    return f".{os.path.basename(path)}."


def _pid_alive(pid: int) -> bool:
    """True unless ``pid`` surely is not running (POSIX only: elsewhere every writer counts as alive)."""
    if pid == os.getpid() or os.name != "posix":  # our own pid: maybe another thread's save in progress
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


def _remove_orphans(path: str) -> list[str]:
    """Delete the temporaries a killed save to ``path`` left behind; returns what was removed.

    Ours are ``.<name>.<pid>.<random>.tmp``: removed when that pid no longer runs. Names without a pid
    (``.<name>.<random>.tmp``, from before) are removed once older than an hour.
    """
    directory = os.path.dirname(os.path.abspath(path))
    prefix = _tmp_prefix(path)
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(prefix) and name.endswith(_TMP_SUFFIX)):
            continue
        middle = name[len(prefix) : -len(_TMP_SUFFIX)]
        pid_text, _, rest = middle.partition(".")
        full = os.path.join(directory, name)
        try:
            if rest and pid_text.isdigit():
                orphan = not _pid_alive(int(pid_text))
            else:
                orphan = time.time() - os.stat(full).st_mtime > _LEGACY_TMP_AGE_S
            if orphan:
                os.remove(full)
                removed.append(full)
        except OSError:  # gone already (another cleaner) or not ours to remove: leave it
            continue
    return removed


def save_checkpoint(model, path) -> None:
    """Atomically write ``model.state_dict()`` to ``path`` as a NumPy ``.npz`` (dtypes preserved).

    The data goes to a temporary file next to ``path``, is flushed and fsynced, then renamed over
    ``path`` with ``os.replace``. If anything fails the temporary file is removed and the previous
    checkpoint at ``path`` is untouched. A save that was killed (SIGKILL, power loss) cannot clean up
    after itself: its temporary is removed by the next save to the same ``path``. ``path`` is used as
    given (no ``.npz`` is appended).
    """
    path = os.fspath(path)
    state = model.state_dict()
    directory = os.path.dirname(os.path.abspath(path))
    _remove_orphans(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{_tmp_prefix(path)}{os.getpid()}.", suffix=_TMP_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            _write_npz(handle, state)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _file_mode(path))  # mkstemp makes 0600; give the checkpoint a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(directory)


_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first local header / an empty zip's end record
_NPY_MAGIC = b"\x93NUMPY"


class _Damaged(Exception):
    """Internal: what is wrong with the file, turned into the ValueError naming the path."""


def _check_magic(path: str) -> None:
    """Recognise the file type ourselves: older NumPy treats an unknown or empty file as a pickle."""
    with open(path, "rb") as handle:
        head = handle.read(6)
    if head.startswith(_NPY_MAGIC):
        raise ValueError(f"checkpoint {path!r} is a single .npy array, not an .npz of named arrays")
    if not head.startswith(_ZIP_MAGIC):
        what = "is empty" if not head else "does not start like an .npz (zip) archive"
        raise ValueError(
            f"checkpoint {path!r} {what}: it is truncated or corrupt, or not a checkpoint (a pickle, say); "
            "the model was not changed"
        )


def _check_member(info: zipfile.ZipInfo, file_size: int) -> None:
    """Flags and sizes of one zip member, against what checkpoints use and the bytes really there."""
    if not info.filename.endswith(".npy"):
        raise _Damaged(f"member {info.filename!r} is not an .npy array")
    if info.flag_bits & 0x1:
        raise _Damaged(f"member {info.filename!r} is marked encrypted (checkpoints never are)")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _Damaged(f"member {info.filename!r} uses compression method {info.compress_type}, not stored/deflated")
    room = file_size - info.header_offset  # no member's data can extend past the end of the file
    if info.header_offset < 0 or info.compress_size > room:
        raise _Damaged(f"member {info.filename!r} declares {info.compress_size} bytes; the file has {max(room, 0)}")
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        raise _Damaged(
            f"stored member {info.filename!r} declares {info.file_size} bytes but holds {info.compress_size}"
        )
    if info.file_size > _DEFLATE_MAX_RATIO * info.compress_size + 64:
        raise _Damaged(f"member {info.filename!r} claims {info.file_size} bytes from only {info.compress_size}")


def _npy_header(member, name: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, header bytes) of an .npy stream, parsed without allocating the array."""
    head = member.read(8)
    if len(head) != 8 or not head.startswith(_NPY_MAGIC):
        raise _Damaged(f"member {name!r} is not an .npy array (bad magic)")
    major = head[6]
    if major not in (1, 2, 3):
        raise _Damaged(f"member {name!r} has .npy format version {major}.{head[7]}, which is unknown")
    width = 2 if major == 1 else 4
    raw_length = member.read(width)
    if len(raw_length) != width:
        raise _Damaged(f"member {name!r} ends inside its .npy header")
    length = int.from_bytes(raw_length, "little")
    if length > _MAX_NPY_HEADER:
        raise _Damaged(f"member {name!r} declares a {length}-byte .npy header")
    text = member.read(length)
    if len(text) != length:
        raise _Damaged(f"member {name!r} ends inside its .npy header")
    try:
        header = ast.literal_eval(text.decode("utf8" if major == 3 else "latin1"))
    except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError) as exc:
        raise _Damaged(f"member {name!r} has an unreadable .npy header ({type(exc).__name__})") from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise _Damaged(f"member {name!r} has a malformed .npy header")
    shape, fortran = header["shape"], header["fortran_order"]
    if not (isinstance(shape, tuple) and all(type(n) is int and n >= 0 for n in shape) and isinstance(fortran, bool)):
        raise _Damaged(f"member {name!r} has a malformed .npy header (shape {shape!r})")
    try:
        dtype = np.lib.format.descr_to_dtype(header["descr"])
    except (ValueError, TypeError, KeyError) as exc:
        raise _Damaged(f"member {name!r} has an invalid dtype {header['descr']!r} ({exc})") from None
    if dtype.hasobject:
        raise _Damaged(f"member {name!r} holds pickled/object data (dtype {dtype}), which is refused")
    return shape, fortran, dtype, 8 + width + length


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    name = info.filename
    with archive.open(info) as member:
        shape, fortran, dtype, header_bytes = _npy_header(member, name)
        declared = math.prod(shape) * dtype.itemsize  # Python ints: a huge shape cannot overflow
        if declared != info.file_size - header_bytes:
            raise _Damaged(
                f"member {name!r} declares a {dtype}{list(shape)} array of {declared} bytes, but holds "
                f"{info.file_size - header_bytes} bytes of data"
            )
        buffer = bytearray(declared)  # allocated only now: its size is backed by the file's own bytes
        view, got = memoryview(buffer), 0
        while got < declared:
            n = member.readinto(view[got:])
            if not n:
                raise _Damaged(f"member {name!r} ends after {got} of {declared} data bytes")
            got += n
        if member.read(1):
            raise _Damaged(f"member {name!r} has bytes after its array")
    flat = np.frombuffer(buffer, dtype=dtype)
    return flat.reshape(shape, order="F" if fortran else "C") if shape else flat.reshape(())


def _read_npz(path: str) -> dict:
    """Read every array of an .npz without pickle; any damage becomes a ValueError naming ``path``."""
    _check_magic(path)
    try:
        size = os.path.getsize(path)
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            if len(set(names)) != len(names):
                raise _Damaged("it holds two members of the same name")
            for info in infos:
                _check_member(info, size)
            return {info.filename[: -len(".npy")]: _read_member(archive, info) for info in infos}
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except _Damaged as exc:
        raise ValueError(f"checkpoint {path!r} is corrupt: {exc}; the model was not changed") from None
    except Exception as exc:  # zipfile, zlib and struct report damage in many types (BadZipFile,
        # NotImplementedError for an unknown method, RuntimeError for encryption, EOFError, OverflowError...)
        raise ValueError(
            f"checkpoint {path!r} is truncated or corrupt ({type(exc).__name__}: {exc}); the model was not changed"
        ) from None


def _check_writable(model, state: dict, path: str) -> None:
    """Every array the state would be copied into must accept writes, or nothing is written at all."""
    named = getattr(model, "named_tensors", None)
    if named is None:
        return
    for name, tensor in named():
        data = getattr(tensor, "data", None)
        if name in state and isinstance(data, np.ndarray) and not data.flags.writeable:
            kind = "a read-only memory map" if isinstance(data, np.memmap) else "read-only"
            raise ValueError(
                f"checkpoint {path!r} cannot be loaded: the model's {name!r} is {kind} (its array does not "
                "accept writes), so no parameter was changed. Make it writable first, e.g. "
                "tensor.data = np.array(tensor.data), or memory-map with mode 'r+' / 'c'."
            )


def load_checkpoint(model, path):
    """Load a checkpoint written by ``save_checkpoint`` into ``model``; returns the model.

    Raises ``ValueError`` naming the path if the file is truncated, corrupt (including a damaged zip
    directory, a flipped compression or encryption flag, or an array larger than the file), holds
    pickled data, does not match the model (missing/unexpected keys, shapes, dtypes) or cannot be
    written into it (a read-only array); the model is then unchanged.
    """
    path = os.fspath(path)
    state = _read_npz(path)
    _check_writable(model, state, path)
    try:
        model.load_state_dict(state)
    except ValueError as exc:
        raise ValueError(f"checkpoint {path!r} does not match the model: {exc}") from None
    return model


# ---------------------------------------------------------------------------------------- trainer
def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _pair(batch) -> tuple:
    """A batch must be ``(inputs, targets)``; say so instead of a bare unpacking error."""
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        kind = f"a {len(batch)}-tuple" if isinstance(batch, (tuple, list)) else type(batch).__name__
        raise ValueError(f"Trainer: each batch must be an (inputs, targets) pair, got {kind}")
    return batch[0], batch[1]


def _batch_size(x) -> int:
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    return int(data.shape[0]) if data.ndim else 1


def _correct(pred: Tensor, target) -> int | None:
    """Count argmax hits when the targets are integer class ids shaped like ``pred`` minus its last axis."""
    labels = target.data if isinstance(target, Tensor) else np.asarray(target)
    if labels.dtype.kind not in "iu" or pred.data.shape[:-1] != labels.shape:
        return None
    return int(np.sum(np.argmax(pred.data, axis=-1) == labels))


class Trainer:
    """Train ``model`` with ``optimizer`` on ``loss_fn(model(x), y)``.

    ``scheduler``: a callable ``epoch -> lr`` (e.g. ``CosineSchedule``) applied to ``optimizer.lr``
    at the start of every training epoch. ``grad_clip_norm``: clip the global gradient norm before
    each step. ``accumulation_steps=k``: one optimizer step per k batches, with the gradients
    averaged over those batches (a last, shorter group is averaged over its own size).

    A NaN or infinite loss stops ``train_epoch`` with a ``FloatingPointError`` naming the epoch, the batch
    and the optimizer step, raised BEFORE its backward pass and the step that would poison the weights
    (they are left exactly as the last good step made them). ``allow_nonfinite_loss=True`` opts out:
    the loss is then back-propagated and stepped on whatever its value.
    """

    def __init__(
        self,
        model,
        optimizer,
        loss_fn,
        scheduler=None,
        grad_clip_norm=None,
        accumulation_steps: int = 1,
        *,
        allow_nonfinite_loss: bool = False,
    ):
        if not isinstance(allow_nonfinite_loss, (bool, np.bool_)):
            raise ValueError(f"Trainer: allow_nonfinite_loss must be True or False, got {allow_nonfinite_loss!r}")
        if isinstance(accumulation_steps, bool) or not isinstance(accumulation_steps, (int, np.integer)):
            raise ValueError(f"Trainer: accumulation_steps must be a positive int, got {accumulation_steps!r}")
        if accumulation_steps < 1:
            raise ValueError(f"Trainer: accumulation_steps must be >= 1, got {accumulation_steps!r}")
        if grad_clip_norm is not None and not grad_clip_norm > 0:
            raise ValueError(f"Trainer: grad_clip_norm must be None or > 0, got {grad_clip_norm!r}")
        if scheduler is not None and not callable(scheduler):
            raise ValueError(f"Trainer: scheduler must be callable (epoch -> lr), got {scheduler!r}")
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.scheduler = scheduler
        self.grad_clip_norm = grad_clip_norm
        self.accumulation_steps = int(accumulation_steps)
        self.allow_nonfinite_loss = bool(allow_nonfinite_loss)
        self.epoch = 0  # completed training epochs
        self.step = 0  # optimizer steps taken
        self.history: list[dict] = []

    # ------------------------------------------------------------------ training
    def _params(self) -> list[Tensor]:
        return list(getattr(self.optimizer, "params", None) or self.model.parameters())

    def _apply_step(self, micro_batches: int) -> None:
        """Average the accumulated gradients, clip, step, and clear them."""
        params = self._params()
        if micro_batches > 1:
            for p in params:
                if p.grad is not None:
                    p.grad /= micro_batches
        if self.grad_clip_norm is not None:
            clip_grad_norm(params, self.grad_clip_norm)
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.step += 1

    def train_epoch(self, loader) -> float:
        """One pass over ``loader``; returns the mean training loss per sample."""
        if self.scheduler is not None:
            self.optimizer.lr = self.scheduler(self.epoch)
        self.model.train()
        self.optimizer.zero_grad()
        total, count, pending = 0.0, 0, 0
        for index, batch in enumerate(loader):
            x, y = _pair(batch)
            loss = self.loss_fn(self.model(_as_tensor(x)), y)
            if not self.allow_nonfinite_loss and not np.all(np.isfinite(loss.data)):
                raise FloatingPointError(
                    f"Trainer.train_epoch: the loss is {float(np.asarray(loss.data).reshape(-1)[0])} at epoch "
                    f"{self.epoch}, batch {index} (before optimizer step {self.step + 1}); stopped before its "
                    "backward pass and step, so the weights are those of the last good step. Lower the learning "
                    "rate, clip gradients (grad_clip_norm=), or check the data; Trainer(..., "
                    "allow_nonfinite_loss=True) trains on regardless"
                )
            loss.backward()
            n = _batch_size(x)
            total += float(loss.data) * n
            count += n
            pending += 1
            if pending == self.accumulation_steps:
                self._apply_step(pending)
                pending = 0
        if pending:
            self._apply_step(pending)
        if count == 0:
            raise ValueError("Trainer.train_epoch: the loader yielded no batches")
        self.epoch += 1
        return total / count

    def evaluate(self, loader) -> dict:
        """Mean loss and accuracy over ``loader`` in eval mode without recording a graph.

        ``accuracy`` is the argmax hit rate when targets are integer class ids, else ``None``.
        """
        was_training = getattr(self.model, "training", True)
        self.model.eval()
        total, count, hits, scored = 0.0, 0, 0, 0
        try:
            with no_grad():
                for batch in loader:
                    x, y = _pair(batch)
                    pred = self.model(_as_tensor(x))
                    n = _batch_size(x)
                    total += float(self.loss_fn(pred, y).data) * n
                    count += n
                    correct = _correct(pred, y)
                    if correct is not None:
                        hits += correct
                        scored += int(np.asarray(y.data if isinstance(y, Tensor) else y).size)
        finally:
            self.model.train(was_training)
        if count == 0:
            raise ValueError("Trainer.evaluate: the loader yielded no batches")
        return {"loss": total / count, "accuracy": hits / scored if scored else None}

    def fit(self, train_loader, val_loader=None, epochs: int = 1) -> list[dict]:
        """Run ``epochs`` training epochs (evaluating on ``val_loader`` after each); returns the history."""
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"Trainer.fit: epochs must be a positive int, got {epochs!r}")
        for _ in range(int(epochs)):
            epoch = self.epoch
            train_loss = self.train_epoch(train_loader)  # sets the scheduled lr first, so record it after
            record = {"epoch": epoch, "lr": self.optimizer.lr, "train_loss": train_loss}
            if val_loader is not None:
                metrics = self.evaluate(val_loader)
                record["val_loss"], record["val_accuracy"] = metrics["loss"], metrics["accuracy"]
            self.history.append(record)
        return self.history

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path) -> None:
        save_checkpoint(self.model, path)

    def load_checkpoint(self, path):
        return load_checkpoint(self.model, path)

"""Module 07: checkpoints are exact, atomic, pickle-free and refuse damaged or foreign files."""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest

from tinytorch.core.layers import Linear, Module, Parameter, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import Trainer, load_checkpoint, save_checkpoint


class _Mixed(Module):
    """A float32 parameter plus int8 and float64 buffers: what a quantized model's state looks like."""

    def __init__(self, rng: np.random.Generator):
        self.weight = Parameter(rng.standard_normal((3, 4)).astype(np.float32))
        self.codes = Tensor(rng.integers(-128, 128, size=(3, 4)).astype(np.int8))
        self.scale = Tensor(rng.random(3), dtype=np.float64)
        self.head = Linear(4, 2)


def _assert_same_state(a: Module, b: Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        assert sa[name].dtype == sb[name].dtype, name
        assert sa[name].tobytes() == sb[name].tobytes(), name


def test_round_trip_is_exact_with_dtypes(tmp_path, rng):
    saved, fresh = _Mixed(rng), _Mixed(np.random.default_rng(99))
    path = tmp_path / "ckpt.npz"
    save_checkpoint(saved, path)
    assert load_checkpoint(fresh, path) is fresh
    _assert_same_state(saved, fresh)
    assert fresh.codes.data.dtype == np.int8 and fresh.scale.data.dtype == np.float64
    with np.load(path, allow_pickle=False) as archive:  # a plain .npz any NumPy can read
        assert sorted(archive.files) == sorted(saved.state_dict())


def test_zero_dimensional_buffers_keep_their_shape(tmp_path):
    class Scalars(Module):
        def __init__(self, value):
            self.scale = Tensor(np.array(value, dtype=np.float32))

    path = str(tmp_path / "scalar.npz")
    save_checkpoint(Scalars(3.5), path)
    target = Scalars(0.0)
    load_checkpoint(target, path)
    assert target.scale.shape == () and target.scale.item() == 3.5


def test_trainer_methods_delegate(tmp_path, rng):
    model, other = Linear(3, 2), Linear(3, 2)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
    trainer.save_checkpoint(str(tmp_path / "t.npz"))
    Trainer(other, SGD(other.parameters(), lr=0.1), CrossEntropyLoss()).load_checkpoint(tmp_path / "t.npz")
    _assert_same_state(model, other)


def _truncate_to(path, size: int) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: size if size >= 0 else len(data) + size])


@pytest.mark.parametrize("keep", [0, 10, 200, 0.5, -1], ids=["empty", "10-bytes", "200-bytes", "half", "minus-1"])
def test_truncated_file_raises_and_leaves_the_model_untouched(tmp_path, rng, keep):
    path = tmp_path / "ckpt.npz"
    save_checkpoint(_Mixed(rng), path)
    _truncate_to(path, int(len(path.read_bytes()) * keep) if isinstance(keep, float) else keep)
    target = _Mixed(np.random.default_rng(5))
    before = copy.deepcopy(target)
    with pytest.raises(ValueError, match="truncated or corrupt") as info:
        load_checkpoint(target, path)
    assert str(path) in str(info.value)
    _assert_same_state(target, before)


def test_corrupted_bytes_raise(tmp_path, rng):
    path = tmp_path / "ckpt.npz"
    save_checkpoint(_Mixed(rng), path)
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 16] = bytes(16)  # zero a run of bytes inside the stored arrays
    path.write_bytes(bytes(data))
    target = _Mixed(np.random.default_rng(5))
    before = copy.deepcopy(target)
    with pytest.raises(ValueError, match="corrupt"):
        load_checkpoint(target, path)
    _assert_same_state(target, before)


@pytest.mark.parametrize(
    ("other", "problem"),
    [
        (lambda: Linear(4, 5), r"weight: model has float32\[5, 4\], state has float32\[3, 4\]"),
        (lambda: Sequential(Linear(4, 3)), "missing keys"),
    ],
    ids=["shape", "keys"],
)
def test_mismatched_model_raises_and_is_untouched(tmp_path, other, problem):
    path = tmp_path / "linear.npz"
    save_checkpoint(Linear(4, 3), path)
    target = other()
    before = copy.deepcopy(target)
    with pytest.raises(ValueError, match="does not match the model") as info:
        load_checkpoint(target, path)
    assert str(path) in str(info.value)
    assert info.match(problem)
    _assert_same_state(target, before)


def test_dtype_mismatch_is_refused(tmp_path):
    # A float64 copy of a float32 model must not be silently cast on load.
    source = Linear(2, 2)
    source.weight = Parameter(source.weight.data.astype(np.float64), dtype=np.float64)
    path = tmp_path / "f64.npz"
    save_checkpoint(source, path)
    with pytest.raises(ValueError, match="float64"):
        load_checkpoint(Linear(2, 2), path)


def _boom(*args, **kwargs):
    raise OSError("simulated crash")


@pytest.mark.parametrize("crash_in", ["os.replace", "write_array"])
def test_previous_checkpoint_survives_a_crash_mid_write(tmp_path, rng, monkeypatch, crash_in):
    path = tmp_path / "ckpt.npz"
    first = _Mixed(rng)
    save_checkpoint(first, path)
    good_bytes = path.read_bytes()
    if crash_in == "os.replace":
        monkeypatch.setattr(os, "replace", _boom)
    else:
        real = np.lib.format.write_array
        calls = []

        def crash_on_second_array(*args, **kwargs):  # the first array is written, then the crash
            calls.append(1)
            if len(calls) == 2:
                raise OSError("simulated crash")
            return real(*args, **kwargs)

        monkeypatch.setattr(np.lib.format, "write_array", crash_on_second_array)
    with pytest.raises(OSError, match="simulated crash"):
        save_checkpoint(_Mixed(np.random.default_rng(7)), path)
    monkeypatch.undo()
    assert path.read_bytes() == good_bytes
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # the temp file was cleaned up
    restored = _Mixed(np.random.default_rng(3))
    load_checkpoint(restored, path)
    _assert_same_state(first, restored)


def test_object_arrays_are_refused_without_unpickling(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, weight=np.array([{"not": "numbers"}, None], dtype=object), bias=np.zeros(3, np.float32))
    target = Linear(2, 3)
    before = copy.deepcopy(target)
    with pytest.raises(ValueError, match="pickle") as info:
        load_checkpoint(target, path)
    assert str(path) in str(info.value)
    _assert_same_state(target, before)


def test_saving_object_state_is_refused_and_writes_nothing(tmp_path):
    class Holder(Module):
        def __init__(self):
            self.blob = Tensor(np.array([object()], dtype=object))

    with pytest.raises(ValueError, match="object"):
        save_checkpoint(Holder(), tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_a_single_npy_file_is_refused(tmp_path):
    path = tmp_path / "weights.npy"
    np.save(path, np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="not an .npz"):
        load_checkpoint(Linear(2, 3), path)


def test_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(Linear(2, 3), tmp_path / "nope.npz")

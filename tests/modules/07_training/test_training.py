"""Module 07: the Trainer loop, gradient clipping and the cosine schedule.

Module 08 (DataLoader) comes after this one, so the chain's import guard forbids it here: batches
are plain lists of ``(x, y)`` pairs, which is all ``Trainer`` asks of a loader.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Module, Parameter, Sequential
from tinytorch.core.losses import CrossEntropyLoss, MSELoss
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import CosineSchedule, Trainer, clip_grad_norm


def _batches(x: np.ndarray, y: np.ndarray, size: int) -> list[tuple[Tensor, Tensor]]:
    return [(Tensor(x[i : i + size]), Tensor(y[i : i + size])) for i in range(0, len(x), size)]


def _classification_data(rng, n=8, features=4, classes=3):
    return rng.standard_normal((n, features)).astype(np.float32), rng.integers(0, classes, size=n)


# ----------------------------------------------------------------------------- accumulation
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_accumulating_k_micro_batches_equals_one_big_batch(rng, momentum):
    x, y = _classification_data(rng)
    big = Linear(4, 3)
    small = copy.deepcopy(big)
    one = Trainer(big, SGD(big.parameters(), lr=0.5, momentum=momentum), CrossEntropyLoss())
    four = Trainer(small, SGD(small.parameters(), lr=0.5, momentum=momentum), CrossEntropyLoss(), accumulation_steps=4)
    one.train_epoch(_batches(x, y, 8))
    four.train_epoch(_batches(x, y, 2))
    assert (one.step, four.step) == (1, 1)
    assert_allclose(small.weight.data, big.weight.data, rtol=1e-5, atol=1e-6)
    assert_allclose(small.bias.data, big.bias.data, rtol=1e-5, atol=1e-6)
    assert not np.allclose(big.weight.data, copy.deepcopy(Linear(4, 3)).weight.data)  # it did train


def test_a_short_last_group_is_averaged_over_its_own_size(rng):
    # 3 batches with k=2: one step over batches 1-2, one over batch 3 alone (not halved).
    x, y = _classification_data(rng, n=6)
    model = Linear(4, 3)
    ref = copy.deepcopy(model)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.5), CrossEntropyLoss(), accumulation_steps=2)
    trainer.train_epoch(_batches(x, y, 2))
    assert trainer.step == 2
    expected = Trainer(ref, SGD(ref.parameters(), lr=0.5), CrossEntropyLoss())
    expected.train_epoch(_batches(x[:4], y[:4], 4) + _batches(x[4:], y[4:], 2))
    assert_allclose(model.weight.data, ref.weight.data, rtol=1e-5, atol=1e-6)


def test_epoch_loss_is_the_per_sample_mean(rng):
    # lr = 0: nothing moves, so the epoch's mean over unequal batches (2, 2, 1) is the full-data loss.
    x, y = _classification_data(rng, n=5)
    model = Linear(4, 3)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.0), CrossEntropyLoss())
    mean = trainer.train_epoch(_batches(x, y, 2))
    assert_allclose(mean, float(CrossEntropyLoss()(model(Tensor(x)), y).data), rtol=1e-6)


# ----------------------------------------------------------------------------- clipping
def test_clip_grad_norm_returns_the_global_norm_and_rescales():
    a, b, c = Parameter(np.zeros(2)), Parameter(np.zeros(1)), Parameter(np.zeros(3))
    a.grad, b.grad = np.array([3.0, 4.0], dtype=np.float32), np.array([12.0], dtype=np.float32)
    total = clip_grad_norm([a, b, c], max_norm=6.5)  # c has no gradient: ignored
    assert_allclose(total, 13.0)
    scale = 6.5 / (13.0 + 1e-6)
    assert_allclose(a.grad, [3.0 * scale, 4.0 * scale], rtol=1e-6)
    assert_allclose(b.grad, [12.0 * scale], rtol=1e-6)
    assert a.grad.dtype == np.float32 and c.grad is None
    assert_allclose(np.sqrt(np.sum(a.grad**2) + np.sum(b.grad**2)), 6.5, rtol=1e-6)


def test_clip_grad_norm_leaves_small_gradients_alone():
    p = Parameter(np.zeros(2))
    p.grad = np.array([0.3, 0.4], dtype=np.float32)
    assert_allclose(clip_grad_norm([p], max_norm=1.0), 0.5, rtol=1e-6)
    assert_array_equal(p.grad, np.array([0.3, 0.4], dtype=np.float32))


def test_clip_grad_norm_non_finite_and_bad_arguments():
    p = Parameter(np.zeros(2))
    p.grad = np.array([np.inf, 1.0], dtype=np.float32)
    assert clip_grad_norm([p], 1.0) == math.inf
    assert_array_equal(p.grad, np.array([np.inf, 1.0], dtype=np.float32))  # not turned into NaN
    with pytest.raises(ValueError, match="NaN or inf"):
        clip_grad_norm([p], 1.0, error_if_nonfinite=True)
    for bad in (0.0, -1.0, "1"):
        with pytest.raises(ValueError, match="max_norm"):
            clip_grad_norm([p], bad)


def test_trainer_clips_before_stepping(rng):
    # SGD with lr = 1 moves the weights by exactly the clipped gradient.
    x, y = rng.standard_normal((4, 3)).astype(np.float32), 100 * rng.standard_normal((4, 2)).astype(np.float32)
    model = Linear(3, 2)
    start = [p.data.copy() for p in model.parameters()]
    trainer = Trainer(model, SGD(model.parameters(), lr=1.0), MSELoss(), grad_clip_norm=0.25)
    trainer.train_epoch([(Tensor(x), Tensor(y))])
    moved = np.sqrt(sum(np.sum((p.data.astype(np.float64) - s) ** 2) for p, s in zip(model.parameters(), start)))
    assert_allclose(moved, 0.25, rtol=1e-4)


# ----------------------------------------------------------------------------- cosine schedule
def test_cosine_schedule_values():
    s = CosineSchedule(max_lr=1.0, min_lr=0.1, total_steps=10)
    assert_allclose(s(0), 1.0)
    assert_allclose(s(5), 0.55)
    assert_allclose(s(2), 0.1 + 0.9 * (1 + math.cos(math.pi * 0.2)) / 2)
    assert_allclose(s(10), 0.1)
    assert_allclose(s(25), 0.1)
    values = [s(t) for t in range(11)]
    assert all(a > b for a, b in zip(values, values[1:]))


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        (dict(max_lr=-1.0, min_lr=0.0, total_steps=5), "max_lr"),
        (dict(max_lr=0.1, min_lr=0.5, total_steps=5), "min_lr"),
        (dict(max_lr=0.1, min_lr=0.0, total_steps=0), "total_steps"),
        (dict(max_lr=0.1, min_lr=0.0, total_steps=2.5), "total_steps"),
    ],
)
def test_cosine_schedule_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        CosineSchedule(**kwargs)
    with pytest.raises(ValueError, match="step"):
        CosineSchedule(1.0, 0.0, 5)(-1)


def test_trainer_sets_the_scheduled_lr_each_epoch(rng):
    x, y = _classification_data(rng)
    model = Linear(4, 3)
    schedule = CosineSchedule(0.2, 0.02, total_steps=3)
    trainer = Trainer(model, SGD(model.parameters(), lr=123.0), CrossEntropyLoss(), scheduler=schedule)
    history = trainer.fit(_batches(x, y, 4), _batches(x, y, 8), epochs=3)
    assert [h["lr"] for h in history] == [schedule(0), schedule(1), schedule(2)]
    assert trainer.optimizer.lr == schedule(2)
    assert [h["epoch"] for h in history] == [0, 1, 2]
    assert all(set(h) == {"epoch", "lr", "train_loss", "val_loss", "val_accuracy"} for h in history)


# ----------------------------------------------------------------------------- evaluate
class _FixedLogits(Module):
    """Returns preset logits for row ids and records the mode and grad tracking it ran under."""

    def __init__(self, logits: np.ndarray):
        self.logits = Parameter(logits)
        self.seen: list[tuple[bool, bool]] = []

    def forward(self, ids: Tensor) -> Tensor:
        out = self.logits[ids.data.astype(np.intp).ravel()]
        self.seen.append((self.training, out.requires_grad))
        return out


def test_evaluate_reports_loss_and_accuracy_in_eval_mode_without_a_graph():
    logits = np.array([[2.0, 0.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0], [5.0, 0.0]], dtype=np.float32)
    labels = np.array([0, 1, 1, 1, 1])  # rows 0, 1, 3 right -> 3/5
    model = _FixedLogits(logits)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
    ids = np.arange(5, dtype=np.float32)[:, None]
    result = trainer.evaluate(_batches(ids, labels, 2))
    assert result["accuracy"] == pytest.approx(0.6)
    assert_allclose(result["loss"], float(CrossEntropyLoss()(Tensor(logits), labels).data), rtol=1e-6)
    assert model.seen == [(False, False)] * 3
    assert model.training is True  # restored


def test_evaluate_accuracy_is_none_for_regression_targets(rng):
    model = Linear(3, 2)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), MSELoss())
    x, y = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32)
    assert trainer.evaluate([(Tensor(x), Tensor(y))])["accuracy"] is None


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [(dict(accumulation_steps=0), "accumulation_steps"), (dict(grad_clip_norm=-1.0), "grad_clip_norm")],
)
def test_trainer_bad_arguments(kwargs, argument):
    model = Linear(2, 2)
    with pytest.raises(ValueError, match=argument):
        Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss(), **kwargs)


def test_batches_must_be_pairs_and_loaders_non_empty():
    model = Linear(2, 2)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
    x = Tensor(np.ones((1, 2)))
    with pytest.raises(ValueError, match="pair, got a 1-tuple"):
        trainer.train_epoch([(x,)])
    with pytest.raises(ValueError, match="no batches"):
        trainer.train_epoch([])
    with pytest.raises(ValueError, match="no batches"):
        trainer.evaluate([])


# ----------------------------------------------------------------------------- real data
def _digits_split(data_dir):
    with np.load(data_dir / "digits.npz", allow_pickle=False) as d:
        x, y = d["X"].astype(np.float32) / 16.0, d["y"].astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    cut = int(0.8 * len(x))
    return (x[order[:cut]], y[order[:cut]]), (x[order[cut:]], y[order[cut:]])


def test_digits_mlp_reaches_95_percent_held_out(data_dir):
    (x_train, y_train), (x_test, y_test) = _digits_split(data_dir)
    model = Sequential(Linear(64, 64, init="he"), ReLU(), Linear(64, 10))
    schedule = CosineSchedule(max_lr=1e-2, min_lr=1e-3, total_steps=6)
    trainer = Trainer(model, Adam(model.parameters(), lr=1e-2), CrossEntropyLoss(), scheduler=schedule)
    rng = np.random.default_rng(1)
    for _ in range(6):
        order = rng.permutation(len(x_train))
        trainer.train_epoch(_batches(x_train[order], y_train[order], 32))
    result = trainer.evaluate(_batches(x_test, y_test, 360))
    assert result["accuracy"] >= 0.95, result

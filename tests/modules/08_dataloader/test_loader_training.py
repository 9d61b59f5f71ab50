"""Module 08 with models: batched forwards agree with one big forward; loaders drive the Trainer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import zoo
from numpy.testing import assert_allclose

from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import CosineSchedule, Trainer
from tinytorch.data.loader import DataLoader, TensorDataset


@pytest.mark.zoo(variants=zoo.ALL_VARIANTS)
def test_batched_outputs_concatenate_to_one_forward(zoo_model):
    """Every variant is per-sample: int8static's activation ranges are static (from calibration),
    never the batch's own min/max, so how the data is batched changes nothing."""
    model = zoo_model.model.eval()
    x = zoo_model.input(7)
    with no_grad():
        whole = model(x).data
        parts = [model(xb).data for (xb,) in DataLoader(TensorDataset(x), batch_size=3)]
    assert [p.shape[0] for p in parts] == [3, 3, 1]
    assert_allclose(np.concatenate(parts), whole, rtol=1e-5, atol=1e-6)


def test_trainer_epoch_over_a_loader(zoo_model):
    model = zoo_model.model
    loader = DataLoader(TensorDataset(zoo_model.input(6), zoo_model.target(6)), batch_size=4, shuffle=True, seed=0)
    trainer = Trainer(model, Adam(model.parameters(), lr=1e-3), CrossEntropyLoss())
    loss = trainer.train_epoch(loader)
    assert math.isfinite(loss) and loss > 0
    assert trainer.step == len(loader) == 2


def _digits_split(data_dir):
    """Fixed seeded 80/20 split of the 1,797 digits; pixels 0..16 scaled to [0, 1]."""
    with np.load(data_dir / "digits.npz", allow_pickle=False) as d:
        x, y = d["X"], d["y"]
    assert x.shape == (1797, 64) and x.dtype == np.uint8 and y.dtype == np.uint8
    x, y = x.astype(np.float32) / 16.0, y.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    cut = int(0.8 * len(x))
    return TensorDataset(x[order[:cut]], y[order[:cut]]), TensorDataset(x[order[cut:]], y[order[cut:]])


def test_digits_data_file(data_dir):
    with np.load(data_dir / "digits.npz", allow_pickle=False) as d:
        x, y = d["X"], d["y"]
    assert int(x.min()) == 0 and int(x.max()) == 16
    assert np.bincount(y, minlength=10).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_digits_mlp_with_dataloader_reaches_95_percent_held_out(data_dir):
    train, test = _digits_split(data_dir)
    model = Sequential(Linear(64, 64, init="he"), ReLU(), Linear(64, 10))
    # the cosine decay settles Adam at the end (lr 1e-2 alone oscillates by a few points per epoch)
    schedule = CosineSchedule(max_lr=1e-2, min_lr=1e-3, total_steps=6)
    trainer = Trainer(model, Adam(model.parameters(), lr=1e-2), CrossEntropyLoss(), scheduler=schedule)
    history = trainer.fit(
        DataLoader(train, batch_size=32, shuffle=True, seed=0), DataLoader(test, batch_size=512), epochs=6
    )
    assert history[-1]["val_accuracy"] >= 0.95, history[-1]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    # and the trained model really classifies the held-out images
    with no_grad():
        pred = model(Tensor(test.tensors[0].data)).data.argmax(axis=1)
    assert np.mean(pred == test.tensors[1].data) >= 0.95

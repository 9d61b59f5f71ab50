"""Module 07 on every representative model, fp32 and int8: a training epoch and a checkpoint round trip."""

from __future__ import annotations

import copy
import math

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.training import Trainer, load_checkpoint, save_checkpoint


def test_a_trainer_epoch_returns_a_finite_loss(zoo_model):
    model = zoo_model.model
    x, y = zoo_model.input(6), zoo_model.target(6)
    batches = [(x[i : i + 2], y[i : i + 2]) for i in range(0, 6, 2)]
    trainer = Trainer(model, Adam(model.parameters(), lr=1e-3), CrossEntropyLoss(), grad_clip_norm=1.0)
    loss = trainer.train_epoch(batches)
    assert math.isfinite(loss) and loss > 0
    assert trainer.step == 3


def _perturb(model) -> None:
    """Change every entry (int8 codes included) so only a real load can bring them back."""
    for _, t in model.named_tensors():
        if t.data.dtype.kind == "f":
            t.data[...] += 1
        elif t.data.dtype.kind in "iu":
            t.data[...] = np.bitwise_xor(t.data, np.ones((), dtype=t.data.dtype))


def test_checkpoint_round_trip_reproduces_outputs_and_dtypes(zoo_model, tmp_path):
    model = zoo_model.model.eval()
    path = tmp_path / f"{zoo_model.id}.npz"
    save_checkpoint(model, path)
    fresh = copy.deepcopy(model)
    _perturb(fresh)
    load_checkpoint(fresh, path)

    original, restored = model.state_dict(), fresh.state_dict()
    assert list(original) == list(restored)
    for name, array in original.items():
        assert restored[name].dtype == array.dtype, name
        assert restored[name].tobytes() == array.tobytes(), name
    if zoo_model.quantized:
        assert any(a.dtype == np.int8 for a in restored.values())
    x = zoo_model.input(3)
    with no_grad():
        assert model(x).data.tobytes() == fresh.eval()(x).data.tobytes()

"""Module 07 on every representative model, fp32 and int8: a training epoch and a checkpoint round trip
(the checkpoint on all four variants: static activation ranges and per-tensor scales must survive too)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import zoo

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


@pytest.mark.zoo(variants=zoo.ALL_VARIANTS)
def test_checkpoint_round_trip_reproduces_outputs_and_dtypes(zoo_model, tmp_path):
    """Save, then load into an independently built model (seed 1, quantized the same way): every
    array comes back bit for bit with its dtype, and so do the outputs. A fresh model, not a copy: a
    copy already holds the right values, so a key the checkpoint leaves out would go unnoticed."""
    model = zoo_model.model.eval()
    path = tmp_path / f"{zoo_model.id}.npz"
    save_checkpoint(model, path)
    fresh = zoo.build_case(zoo_model.entry, zoo_model.variant, seed=1).model.eval()
    x = zoo_model.input(3)
    with no_grad():
        assert model(x).data.tobytes() != fresh(x).data.tobytes(), "seed 1 must build a different model"
    load_checkpoint(fresh, path)

    original, restored = model.state_dict(), fresh.state_dict()
    assert list(original) == list(restored)
    for name, array in original.items():
        assert restored[name].dtype == array.dtype, name
        assert restored[name].tobytes() == array.tobytes(), name
    if zoo_model.quantized:
        assert any(a.dtype == np.int8 for a in restored.values())
    with no_grad():
        assert model(x).data.tobytes() == fresh.eval()(x).data.tobytes()


@pytest.mark.int8_only("loads an fp32 checkpoint into a quantized model: no fp32 counterpart")
@pytest.mark.zoo(variants=["int8"])
def test_a_float_checkpoint_is_refused_by_a_quantized_model(zoo_model, tmp_path):
    """A float checkpoint does not fit a quantized model (float weights where int8 codes live): a
    clear error, and the quantized model is left exactly as it was."""
    path = tmp_path / "float.npz"
    save_checkpoint(zoo.build_case(zoo_model.entry, "fp32", seed=1).model, path)
    model = zoo_model.model
    before = {k: v.tobytes() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="does not match"):
        load_checkpoint(model, path)
    assert {k: v.tobytes() for k, v in model.state_dict().items()} == before

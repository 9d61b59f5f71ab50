"""Module 04 — losses: values vs hand-written NumPy, stability, target forms, errors, gradients.

The stage-04 import guard forbids module 05, so the float64 finite-difference check here is a
small local helper; module 05's tests run the same losses through ``autograd.gradcheck`` too.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.tensor import Tensor

# Stability is the point of these tests: an overflow warning is a failure even outside this repo's config.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def _ref_cross_entropy(logits: np.ndarray, ids: np.ndarray) -> float:
    z = logits.astype(np.float64)
    log_probs = z - z.max(axis=1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(ids)), ids].mean())


def _finite_difference(fn, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of scalar ``fn(x)`` in float64."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        orig = x[i]
        x[i] = orig + eps
        plus = fn(x)
        x[i] = orig - eps
        minus = fn(x)
        x[i] = orig
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def _autograd(loss_fn, x: np.ndarray, target) -> tuple[Tensor, np.ndarray]:
    t = Tensor(x.copy(), requires_grad=True, dtype=np.float64)
    loss = loss_fn(t, target)
    loss.backward()
    return loss, t.grad


# ----------------------------------------------------------------------------- MSE
def test_mse_value_matches_numpy(rng):
    pred, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    loss = MSELoss()(Tensor(pred), Tensor(target))
    assert loss.shape == () and loss.dtype == np.float32
    assert_allclose(loss.item(), np.mean((pred - target) ** 2), rtol=1e-5)
    assert_allclose(MSELoss()(Tensor(pred), target).item(), loss.item(), rtol=1e-6)  # ndarray target


def test_mse_keeps_float64_and_its_gradient_is_2_diff_over_n(rng):
    pred, target = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    loss, grad = _autograd(MSELoss(), pred, target)
    assert loss.dtype == np.float64
    assert_allclose(grad, 2 * (pred - target) / pred.size, rtol=1e-12)


def test_mse_flows_gradient_to_a_target_that_requires_it(rng):
    pred, target = rng.standard_normal(4), rng.standard_normal(4)
    t = Tensor(target, requires_grad=True, dtype=np.float64)
    MSELoss()(Tensor(pred, dtype=np.float64), t).backward()
    assert_allclose(t.grad, -2 * (pred - target) / 4, rtol=1e-12)


def test_mse_refuses_shapes_that_would_silently_broadcast():
    with pytest.raises(ValueError) as info:
        MSELoss()(Tensor(np.zeros((4, 1))), np.zeros(4))
    assert "(4, 1)" in str(info.value) and "(4,)" in str(info.value)


# ----------------------------------------------------------------------------- cross-entropy
@pytest.mark.parametrize(
    "make_target",
    [
        lambda ids: Tensor(ids),
        lambda ids: ids,
        lambda ids: ids.astype(np.int32),
        lambda ids: ids.astype(np.uint8),
        lambda ids: ids.tolist(),
    ],
    ids=["int-tensor", "int64-array", "int32-array", "uint8-array", "list"],
)
def test_cross_entropy_matches_numpy_for_every_target_form(rng, make_target):
    logits = rng.standard_normal((5, 4)).astype(np.float32) * 3
    ids = np.array([0, 3, 1, 1, 2])
    loss = CrossEntropyLoss()(Tensor(logits), make_target(ids))
    assert loss.shape == () and loss.dtype == np.float32
    assert_allclose(loss.item(), _ref_cross_entropy(logits, ids), rtol=1e-5)


def test_cross_entropy_hand_computed_value():
    # logits [0, ln 3] -> softmax [1/4, 3/4]; targets 1 and 0 -> mean(-ln .75, -ln .25)
    logits = Tensor(np.array([[0.0, np.log(3.0)], [0.0, np.log(3.0)]]), dtype=np.float64)
    expected = -(np.log(0.75) + np.log(0.25)) / 2
    assert_allclose(CrossEntropyLoss()(logits, np.array([1, 0])).item(), expected, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_stable_for_huge_logits(dtype):
    logits = Tensor(np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 0.0]]), dtype=dtype, requires_grad=True)
    loss = CrossEntropyLoss()(logits, np.array([1, 0]))
    assert np.isfinite(loss.item())
    assert_allclose(loss.item(), (1e4 + np.log(2.0)) / 2, rtol=1e-6)  # row 1: -log(1/2)
    loss.backward()
    assert np.all(np.isfinite(logits.grad))


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n(rng):
    logits, ids = rng.standard_normal((3, 4)), np.array([2, 0, 3])
    loss, grad = _autograd(CrossEntropyLoss(), logits, ids)
    assert loss.dtype == np.float64
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected = e / e.sum(axis=1, keepdims=True)
    expected[np.arange(3), ids] -= 1
    assert_allclose(grad, expected / 3, rtol=1e-10, atol=1e-14)


def test_cross_entropy_accepts_sequence_logits_with_per_position_targets(rng):
    logits, ids = rng.standard_normal((2, 3, 5)), rng.integers(0, 5, size=(2, 3))
    loss = CrossEntropyLoss()(Tensor(logits, dtype=np.float64), ids)
    assert_allclose(loss.item(), _ref_cross_entropy(logits.reshape(6, 5), ids.reshape(6)), rtol=1e-12)


def test_cross_entropy_accepts_integral_float_targets():
    logits = np.array([[2.0, 1.0, 0.0]])
    assert_allclose(
        CrossEntropyLoss()(Tensor(logits), np.array([1.0])).item(), _ref_cross_entropy(logits, np.array([1])), rtol=1e-6
    )


@pytest.mark.parametrize("bad_id", [3, 7, -1])
def test_cross_entropy_out_of_range_class_id_names_id_and_c(bad_id):
    with pytest.raises(ValueError) as info:
        CrossEntropyLoss()(Tensor(np.zeros((2, 3))), np.array([0, bad_id]))
    msg = str(info.value)
    assert f"class id {bad_id}" in msg and "C=3" in msg


@pytest.mark.parametrize(
    "logits_shape, target, match",
    [
        ((4, 3), np.zeros(5, dtype=int), r"\(4,\)"),
        ((4, 3), np.zeros((4, 1), dtype=int), r"\(4, 1\)"),
        ((3,), np.zeros(1, dtype=int), r"\(N, C\)"),
        ((2, 3), np.array([0.5, 1.0]), "integer"),
        ((2, 3), np.array([True, False]), "integer"),
        ((0, 3), np.zeros(0, dtype=int), "empty"),
    ],
    ids=["too-many-targets", "2d-targets", "1d-logits", "fractional-targets", "bool-targets", "empty"],
)
def test_cross_entropy_rejects_bad_shapes_and_targets(logits_shape, target, match):
    with pytest.raises(ValueError, match=match):
        CrossEntropyLoss()(Tensor(np.zeros(logits_shape)), target)


# ----------------------------------------------------------------------------- binary cross-entropy
def test_bce_value_matches_numpy(rng):
    p = rng.uniform(0.05, 0.95, size=(4, 2))
    t = rng.integers(0, 2, size=(4, 2)).astype(np.float64)
    loss = BinaryCrossEntropyLoss()(Tensor(p), t)
    assert loss.shape == () and loss.dtype == np.float32
    assert_allclose(loss.item(), -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)), rtol=1e-5)
    assert_allclose(BinaryCrossEntropyLoss()(Tensor(p), Tensor(t)).item(), loss.item(), rtol=1e-6)


def test_bce_soft_targets_and_float64(rng):
    p, t = rng.uniform(0.1, 0.9, size=5), rng.uniform(0, 1, size=5)
    loss, grad = _autograd(BinaryCrossEntropyLoss(), p, t)
    assert loss.dtype == np.float64
    assert_allclose(loss.item(), -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)), rtol=1e-12)
    assert_allclose(grad, (p - t) / (p * (1 - p)) / 5, rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_saturated_probabilities_stay_finite(dtype):
    p = Tensor(np.array([0.0, 1.0, 0.0, 1.0]), dtype=dtype, requires_grad=True)
    loss = BinaryCrossEntropyLoss()(p, np.array([1.0, 0.0, 0.0, 1.0]))
    assert np.isfinite(loss.item()) and loss.item() > 5  # wrong and confident: large, not inf
    loss.backward()
    assert np.all(np.isfinite(p.grad))
    assert p.grad[0] < 0 < p.grad[1]  # still pushes the wrong predictions the right way


def test_bce_errors():
    with pytest.raises(ValueError, match="Sigmoid"):
        BinaryCrossEntropyLoss()(Tensor([1.5, 0.5]), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        BinaryCrossEntropyLoss()(Tensor([0.5, 0.5]), np.array([2.0, 0.0]))
    with pytest.raises(ValueError, match="shape"):
        BinaryCrossEntropyLoss()(Tensor([0.5, 0.5]), np.array([1.0]))
    with pytest.raises(ValueError, match="eps"):
        BinaryCrossEntropyLoss(eps=0.0)


# ----------------------------------------------------------------------------- finite differences
CASES = {
    "mse": (MSELoss(), lambda r: r.standard_normal((3, 2)), lambda r: r.standard_normal((3, 2))),
    "cross-entropy": (CrossEntropyLoss(), lambda r: r.standard_normal((3, 4)), lambda r: np.array([1, 0, 3])),
    "bce": (BinaryCrossEntropyLoss(), lambda r: r.uniform(0.1, 0.9, (2, 3)), lambda r: r.uniform(0, 1, (2, 3))),
}


@pytest.mark.parametrize("name", list(CASES))
def test_loss_gradients_match_finite_differences_in_float64(rng, name):
    loss_fn, make_x, make_target = CASES[name]
    x, target = make_x(rng), make_target(rng)
    _, grad = _autograd(loss_fn, x, target)
    numeric = _finite_difference(lambda z: loss_fn(Tensor(z, dtype=np.float64), target).item(), x.copy())
    assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_losses_are_callables_with_a_repr():
    assert repr(MSELoss()) == "MSELoss()"
    assert "eps=" in repr(BinaryCrossEntropyLoss())

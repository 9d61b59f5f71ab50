"""Module 06: every optimizer step against the published update rule, written out in NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from tinytorch.core.layers import Parameter
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.tensor import Tensor

STEPS = 3


def _gradients(rng: np.random.Generator, shape: tuple) -> list[np.ndarray]:
    """A different gradient for each of the steps, so state carried between steps matters."""
    return [rng.standard_normal(shape) for _ in range(STEPS)]


# ----------------------------------------------------------------------------- reference rules
def reference_sgd(p, grads, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    """Sutskever et al. momentum as PyTorch states it: b_1 = g_1, b_t = mu b_{t-1} + (1 - tau) g_t."""
    p, buf, path = p.copy(), None, []
    for g in grads:
        d = g + weight_decay * p
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        p = p - lr * d
        path.append(p)
    return path


def reference_adam(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    """Kingma & Ba, Algorithm 1, with L2 (Adam) or decoupled (AdamW, Loshchilov & Hutter) decay."""
    b1, b2 = betas
    p, m, v, path = p.copy(), np.zeros_like(p), np.zeros_like(p), []
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p - lr * weight_decay * p
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        path.append(p)
    return path


CASES = {
    "sgd": (SGD, dict(lr=0.1), reference_sgd, {}),
    "sgd-momentum": (SGD, dict(lr=0.1, momentum=0.9), reference_sgd, {}),
    "sgd-dampening": (SGD, dict(lr=0.1, momentum=0.9, dampening=0.3), reference_sgd, {}),
    "sgd-nesterov": (SGD, dict(lr=0.1, momentum=0.9, nesterov=True), reference_sgd, {}),
    "sgd-weight-decay": (SGD, dict(lr=0.1, momentum=0.5, weight_decay=0.1), reference_sgd, {}),
    "adam": (Adam, dict(lr=0.01), reference_adam, {}),
    "adam-betas": (Adam, dict(lr=0.05, betas=(0.5, 0.6), eps=1e-3), reference_adam, {}),
    "adam-l2": (Adam, dict(lr=0.01, weight_decay=0.1), reference_adam, {}),
    "adamw": (AdamW, dict(lr=0.01, weight_decay=0.1), reference_adam, {"decoupled": True}),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_three_steps_match_the_published_rule(case, rng):
    cls, kwargs, reference, extra = case
    start = rng.standard_normal((3, 2))
    grads = _gradients(rng, start.shape)
    p = Parameter(start.copy(), dtype=np.float64)
    opt = cls([p], **kwargs)
    expected = reference(start, grads, **kwargs, **extra)
    for step, g in enumerate(grads):
        p.grad = g.copy()
        opt.step()
        assert_allclose(p.data, expected[step], rtol=1e-12, atol=1e-14, err_msg=f"after step {step + 1}")


def test_sgd_momentum_hand_computed():
    # p = 1, constant gradient 1, lr 0.1, mu 0.9: buffers 1, 1.9, 2.71 -> p 0.9, 0.71, 0.439
    p = Parameter(np.array([1.0]), dtype=np.float64)
    opt = SGD([p], lr=0.1, momentum=0.9)
    for expected in (0.9, 0.71, 0.439):
        p.grad = np.array([1.0])
        opt.step()
        assert_allclose(p.data, [expected], rtol=1e-12)


def test_adam_first_step_is_lr_times_sign_thanks_to_bias_correction():
    # Without bias correction the first step would be lr * 0.1 / sqrt(0.001) ≈ 3.16 lr.
    p = Parameter(np.zeros(3), dtype=np.float64)
    opt = Adam([p], lr=0.01)
    p.grad = np.array([5.0, -0.2, 1e3])
    opt.step()
    assert_allclose(p.data, [-0.01, 0.01, -0.01], rtol=1e-6)


def test_adamw_decay_is_decoupled_from_the_gradient():
    # With a zero gradient Adam's moments stay 0, so AdamW moves p only by the decay: p (1 - lr wd).
    p = Parameter(np.array([2.0, -4.0]), dtype=np.float64)
    opt = AdamW([p], lr=0.1, weight_decay=0.5)
    p.grad = np.zeros(2)
    opt.step()
    assert_allclose(p.data, [2.0 * 0.95, -4.0 * 0.95], rtol=1e-12)
    # Adam's L2 term instead becomes a gradient, normalised to a step of ~lr.
    q = Parameter(np.array([2.0, -4.0]), dtype=np.float64)
    q.grad = np.zeros(2)
    Adam([q], lr=0.1, weight_decay=0.5).step()
    assert_allclose(q.data, [1.9, -3.9], rtol=1e-6)


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps), lambda ps: AdamW(ps)])
def test_params_without_grad_are_skipped(make):
    a, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    opt = make([a, b])
    a.grad = np.ones(2, dtype=np.float32)
    opt.step()
    assert_array_equal(b.data, np.ones(2, dtype=np.float32))
    assert not np.array_equal(a.data, np.ones(2, dtype=np.float32))
    assert opt.state[1] == {}


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps), lambda ps: AdamW(ps)])
def test_updates_in_place_and_keeps_float32(make, rng):
    p = Parameter(rng.standard_normal((4, 3)).astype(np.float32))
    live = p.data
    opt = make([p])
    for _ in range(STEPS):
        p.grad = rng.standard_normal((4, 3))  # a float64 gradient must not upcast the parameter
        opt.step()
    assert p.data is live
    assert p.data.dtype == np.float32
    for value in opt.state[0].values():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32


def test_zero_grad_clears_every_gradient():
    ps = [Parameter(np.ones(2)), Parameter(np.ones(3))]
    for p in ps:
        p.grad = np.ones_like(p.data)
    SGD(ps, lr=0.1).zero_grad()
    assert all(p.grad is None for p in ps)


def test_lr_is_a_live_attribute_a_schedule_can_set():
    p = Parameter(np.ones(2), dtype=np.float64)
    opt = SGD([p], lr=0.1)
    opt.lr = 0.5
    p.grad = np.ones(2)
    opt.step()
    assert_allclose(p.data, [0.5, 0.5])
    with pytest.raises(ValueError, match="lr"):
        opt.lr = -1.0


@pytest.mark.parametrize(
    ("cls", "kwargs", "argument"),
    [
        (SGD, dict(lr=-0.1), "lr"),
        (Adam, dict(lr=-1e-3), "lr"),
        (SGD, dict(lr=0.1, momentum=-0.5), "momentum"),
        (SGD, dict(lr=0.1, nesterov=True), "nesterov"),
        (SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
        (SGD, dict(lr=0.1, weight_decay=-1.0), "weight_decay"),
        (Adam, dict(betas=(1.0, 0.999)), r"betas\[0\]"),
        (Adam, dict(betas=(0.9, -0.1)), r"betas\[1\]"),
        (AdamW, dict(betas=(0.9, 1.5)), r"betas\[1\]"),
        (Adam, dict(betas=0.9), "betas"),
        (Adam, dict(eps=-1e-8), "eps"),
        (AdamW, dict(weight_decay=-0.01), "weight_decay"),
        (SGD, dict(lr="fast"), "lr"),
    ],
)
def test_bad_hyper_parameters_name_the_argument(cls, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        cls([Parameter(np.ones(2))], **kwargs)


def test_bad_params_are_refused():
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="int8"):
        SGD([Tensor(np.ones(2, dtype=np.int8))], lr=0.1)
    with pytest.raises(TypeError, match="iterable"):
        SGD(Parameter(np.ones(2)), lr=0.1)


# ----------------------------------------------------------------------------- on every zoo model
@pytest.mark.parametrize(
    "make",
    [lambda ps: Adam(ps, lr=1e-2), lambda ps: SGD(ps, lr=0.05, momentum=0.9)],
    ids=["adam", "sgd-momentum"],
)
def test_five_steps_reduce_the_loss_and_leave_int8_codes_alone(zoo_model, make):
    model = zoo_model.model.eval()  # deterministic forward: no dropout noise in the comparison
    x, y = zoo_model.input(8), zoo_model.target(8)
    loss_fn = CrossEntropyLoss()
    params = model.parameters()
    before = [p.data.copy() for p in params]
    codes = {name: t.data.copy() for name, t in model.named_buffers() if t.data.dtype == np.int8}
    assert bool(codes) == zoo_model.quantized, "int8 models must hold int8 buffers; fp32 ones none"

    opt = make(params)
    first = float(loss_fn(model(x), y).data)
    for _ in range(5):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    last = float(loss_fn(model(x), y).data)

    assert last < first
    # Attention's key bias has an exactly-zero gradient (softmax ignores a shift shared by every key),
    # so only parameters that really receive a gradient must move.
    unchanged = [
        name
        for (name, p), old in zip(model.named_parameters(), before)
        if np.array_equal(p.data, old) and np.abs(p.grad).max() > 1e-6
    ]
    assert not unchanged, f"parameters not updated: {unchanged}"
    for name, t in model.named_buffers():
        if name in codes:
            assert t.data.dtype == np.int8
            assert t.data.tobytes() == codes[name].tobytes(), f"int8 buffer {name} changed"

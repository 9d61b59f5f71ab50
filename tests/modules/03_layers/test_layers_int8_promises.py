"""The int8 twin keeps every promise the fp32 model makes (``zoo.PROMISES``, module 03's rows): output
type, dtype and shape for batches 1 and 3 (and a (2, 3) leading shape on vector models), finiteness, an
untouched and unaliased input. Checked here, at the first stage with a zoo model, and again on each model
as the zoo grows, so a quantized layer that breaks one for one model goes red at that model's stage."""

from __future__ import annotations

import re

import pytest
import zoo


@pytest.mark.zoo(variants=zoo.ALL_VARIANTS)
def test_the_int8_twin_keeps_the_forward_promises_of_the_fp32_model(zoo_model):
    inputs = zoo.promise_inputs(zoo_model)
    broken = []
    for index, x in enumerate(inputs):
        fresh = lambda i=index: zoo.promise_inputs(zoo_model)[i]  # noqa: E731 - the same input, rebuilt
        broken += [f"input {tuple(x.shape)}: {b}" for b in zoo.broken_promises(zoo_model, fresh, module=3)]
    assert not broken, f"{zoo_model.id} breaks the fp32 model's promises: " + "; ".join(broken)
    if not zoo_model.quantized:
        assert all(zoo.observe(zoo_model.model, x, 3)["finite output"] for x in zoo.promise_inputs(zoo_model))


_ROW = re.compile(r"^\| ([^|]+?) \| (\d\d) \| ([^|]+?) \|$")


def test_the_promise_table_and_the_checks_agree():
    """The table in ``zoo``'s docstring is ``zoo.PROMISES``, and every owning module has the test file
    that checks its rows (this one for 03, ``05_autograd/test_autograd_int8_promises.py`` for 05)."""
    from pathlib import Path

    rows = [m.groups() for m in map(_ROW.match, (zoo.__doc__ or "").splitlines()) if m and m.group(2) != "---"]
    assert rows == [(p.name, f"{p.module:02d}", p.says) for p in zoo.PROMISES]
    modules = Path(__file__).resolve().parents[1]
    for number in sorted({p.module for p in zoo.PROMISES}):
        (folder,) = modules.glob(f"{number:02d}_*")
        (checks,) = folder.glob("test_*_int8_promises.py")
        text = checks.read_text()
        assert f"module={number})" in text, f"{folder.name} must check the module-{number:02d} promises"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("leading", [(1,), (3,), (2, 3)])
def test_a_hand_built_quantized_linear_keeps_the_linear_promises(dtype, leading):
    """A ``QuantizedLinear`` made by hand from a ``Linear`` keeps its output dtype (float64 stays float64:
    gradient checks rely on it) and shape for any leading shape, within int8 rounding of its values. It
    runs module-16 code without a zoo variant, so the records mark it int8-only (read off the code)."""
    import numpy as np

    from tinytorch.core.layers import Linear
    from tinytorch.core.tensor import Tensor
    from tinytorch.optimization.quantized_layers import QuantizedLinear

    np.random.seed(0)
    linear = Linear(5, 3)
    x = Tensor(np.random.default_rng(0).standard_normal(leading + (5,)), dtype=dtype)
    want, got = linear(x), QuantizedLinear.from_float(linear)(x)
    assert (got.dtype, got.shape) == (want.dtype, want.shape)
    np.testing.assert_allclose(got.data, want.data, rtol=0.05, atol=0.05)

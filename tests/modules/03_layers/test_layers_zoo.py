"""Module 03 contract checks on every zoo model (fp32 and int8): shapes, determinism, state, names.

Models take different inputs (vectors, images, token ids), so only ``case.input(batch)`` is used.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import zoo
from numpy.testing import assert_array_equal

from tinytorch.core.layers import Module
from tinytorch.core.tensor import Tensor


def _fp32_twin(case: zoo.ZooCase) -> Module:
    """The float model the case was built from (same seed), as the reference for the int8 one."""
    return zoo.build_case(case.entry, "fp32").model if case.quantized else case.model


@pytest.mark.parametrize("batch", [1, 3])
def test_forward_shape_matches_the_float_model(zoo_model, batch):
    model = zoo_model.model.eval()
    out = model(zoo_model.input(batch))
    assert isinstance(out, Tensor)
    assert out.shape[0] == batch
    assert out.shape == _fp32_twin(zoo_model).eval()(zoo_model.input(batch)).shape
    if "classifier" in zoo_model.entry.tags:
        assert out.shape[-1] == zoo_model.entry.num_classes
    assert out.dtype.kind == "f" and np.all(np.isfinite(out.data))


def test_output_matches_the_float_model(zoo_model):
    """A layer computes what it promises: an int8 twin stays within its entry's error bound of fp32.

    For the fp32 variant the twin is a second seeded build, which must agree exactly. A batch of 64
    keeps the estimate steady (a tiny model's error moves by ~0.1 point between batches of 8).
    """
    x = zoo_model.input(64)
    got = zoo_model.model.eval()(x).data
    ref = zoo.build_case(zoo_model.entry, "fp32").model.eval()(x).data
    if not zoo_model.quantized:
        assert_array_equal(got, ref)
        return
    rel = np.linalg.norm(got - ref) / np.linalg.norm(ref)
    bound = zoo_model.entry.int8_error_bound
    assert rel <= bound, f"{zoo_model.id}: int8 output is {rel:.2%} away from fp32 (limit {bound:.2%})"


def test_eval_forward_is_deterministic(zoo_model):
    model = zoo_model.model.eval()
    x = zoo_model.input(2)
    assert_array_equal(model(x).data, model(x).data)


def test_forward_and_model_call_agree(zoo_model):
    model = zoo_model.model.eval()
    x = zoo_model.input(2)
    assert_array_equal(model.forward(x).data, model(x).data)


def _scramble(model: Module) -> None:
    """Overwrite every tensor so a load that silently does nothing cannot pass."""
    for _, t in model.named_tensors():
        if t.data.dtype.kind == "f":
            t.data[...] = 0.5
        else:
            t.data[...] = 1


def test_state_dict_round_trip_into_a_fresh_copy_reproduces_outputs(zoo_model):
    model = zoo_model.model.eval()
    x = zoo_model.input(2)
    expected = model(x).data.copy()
    state = model.state_dict()
    fresh = copy.deepcopy(model)
    _scramble(fresh)
    assert not np.array_equal(fresh(x).data, expected)
    fresh.load_state_dict(state)
    assert_array_equal(fresh(x).data, expected)
    for name, t in fresh.named_tensors():
        assert t.data.dtype == state[name].dtype, name  # int8 codes stay int8, scales stay float
    assert_array_equal(model(x).data, expected)  # the source model was not disturbed


def test_every_named_module_can_be_fetched_back(zoo_model):
    model = zoo_model.model
    names = [name for name, _ in model.named_modules()]
    assert names[0] == "" and len(names) > 1
    assert len(set(names)) == len(names)
    for name, module in model.named_modules():
        if name:
            assert model.get_submodule(name) is module

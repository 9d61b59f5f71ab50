"""Module 03 — ``Module``: attribute discovery, dotted names, swapping children, modes, state dicts."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Dropout, Linear, Module, Parameter, Sequential
from tinytorch.core.tensor import Tensor


class Block(Module):
    def __init__(self, dim: int):
        self.fc = Linear(dim, dim)
        self.drop = Dropout(0.5)

    def forward(self, x):
        return self.drop(self.fc(x))


class Net(Module):
    """Parameters, buffers, a child, a list of children and a non-module list, all as attributes."""

    def __init__(self):
        self.scale = Parameter(np.ones(3))
        self.codes = Tensor(np.array([1, -2, 3], dtype=np.int8))  # a buffer: saved, not trained
        self.stem = Linear(2, 3)
        self.blocks = [Block(3), Block(3)]
        self.act = ReLU()  # not a Module: must not appear among children
        self.sizes = [1, 2, 3]  # a list that holds no module
        self.head = Linear(3, 1, bias=False)

    def forward(self, x):
        x = self.act(self.stem(x) * self.scale)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


MODULE_NAMES = [
    "",
    "stem",
    "blocks.0",
    "blocks.0.fc",
    "blocks.0.drop",
    "blocks.1",
    "blocks.1.fc",
    "blocks.1.drop",
    "head",
]


def test_named_modules_walks_attributes_and_lists_depth_first():
    net = Net()
    assert [name for name, _ in net.named_modules()] == MODULE_NAMES
    assert [n for n, _ in net.named_children()] == ["stem", "blocks.0", "blocks.1", "head"]
    assert list(net.children())[1] is net.blocks[0]
    assert len(list(net.modules())) == len(MODULE_NAMES)


def test_parameters_and_buffers_are_discovered_by_name():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == [
        "scale",
        "stem.weight",
        "stem.bias",
        "blocks.0.fc.weight",
        "blocks.0.fc.bias",
        "blocks.1.fc.weight",
        "blocks.1.fc.bias",
        "head.weight",
    ]
    assert net.parameters()[1] is net.stem.weight  # the live objects, not copies
    assert all(p.requires_grad for p in net.parameters())
    assert [n for n, _ in net.named_buffers()] == ["codes"]


def test_shared_modules_and_parameters_are_listed_once():
    shared = Linear(2, 2)
    model = Sequential(shared, shared)
    assert [n for n, _ in model.named_modules()] == ["", "layers.0"]
    assert len(model.parameters()) == 2


def test_get_submodule_follows_dotted_names():
    net = Net()
    assert net.get_submodule("blocks.1.fc") is net.blocks[1].fc
    assert net.get_submodule("head") is net.head


@pytest.mark.parametrize(
    "name", ["", "nope", "blocks.2", "blocks.x", "blocks", "stem.weight", "stem.nope.deeper", "sizes.0"]
)
def test_get_submodule_rejects_bad_names_with_key_error(name):
    with pytest.raises(KeyError):
        Net().get_submodule(name)


def test_set_submodule_swaps_a_nested_child_and_forward_uses_it():
    np.random.seed(1)
    net = Net().eval()
    x = Tensor(np.ones((2, 2)))
    new = Linear(3, 3)
    net.set_submodule("blocks.1.fc", new)
    assert net.blocks[1].fc is new
    assert net.get_submodule("blocks.1.fc") is new
    new.weight.data[...] = 0.0
    new.bias.data[...] = 0.0
    assert_array_equal(net(x).data, 0.0)  # the zeroed layer is on the forward path


def test_set_submodule_replaces_a_list_item():
    net = Net()
    replacement = Block(3)
    net.set_submodule("blocks.0", replacement)
    assert net.blocks[0] is replacement
    assert isinstance(net.blocks, list)


@pytest.mark.parametrize(
    "name", ["", "nope", "nope.fc", "blocks.7", "blocks.x", "blocks", "stem.weight", "sizes.0", "act"]
)
def test_set_submodule_rejects_bad_names_and_changes_nothing(name):
    net = Net()
    before = [(n, id(m)) for n, m in net.named_modules()]
    with pytest.raises(KeyError):
        net.set_submodule(name, Linear(3, 3))
    assert [(n, id(m)) for n, m in net.named_modules()] == before
    assert net.sizes == [1, 2, 3]


def test_set_submodule_rejects_non_modules_and_tuples():
    net = Net()
    with pytest.raises(TypeError, match="Module"):
        net.set_submodule("head", "not a module")
    net.blocks = tuple(net.blocks)
    with pytest.raises(TypeError, match="tuple"):
        net.set_submodule("blocks.0", Block(3))


def test_train_and_eval_propagate_to_every_descendant():
    net = Net()
    assert net.eval() is net
    assert all(not m.training for m in net.modules())
    assert net.train() is net
    assert all(m.training for m in net.modules())
    net.train(False)
    assert not net.blocks[1].drop.training


def test_zero_grad_clears_every_parameter():
    net = Net()
    for p in net.parameters():
        p.grad = np.ones_like(p.data)
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


# ----------------------------------------------------------------------------- state dicts
def test_state_dict_holds_copies_with_dtypes_preserved():
    net = Net()
    state = net.state_dict()
    assert list(state) == [n for n, _ in net.named_tensors()]
    assert "codes" in state and state["codes"].dtype == np.int8
    assert state["stem.weight"].dtype == np.float32
    state["stem.weight"][...] = 123.0
    assert not np.any(net.stem.weight.data == 123.0)  # a copy, not the live array


def test_state_dict_round_trip_reproduces_outputs():
    np.random.seed(1)
    a = Net().eval()
    np.random.seed(2)
    b = Net().eval()
    x = Tensor(np.random.default_rng(3).standard_normal((4, 2)).astype(np.float32))
    assert not np.array_equal(a(x).data, b(x).data)
    b.load_state_dict(a.state_dict())
    assert_array_equal(b(x).data, a(x).data)
    for (na, ta), (nb, tb) in zip(a.named_tensors(), b.named_tensors()):
        assert na == nb and ta.dtype == tb.dtype
        assert ta.data is not tb.data  # loading copies values, it does not alias arrays


def test_load_state_dict_writes_into_the_live_arrays():
    net = Net()
    weight = net.stem.weight
    state = net.state_dict()
    state["stem.weight"] = np.full((3, 2), 0.5, dtype=np.float32)
    net.load_state_dict(state)
    assert net.stem.weight is weight  # optimizers holding the Parameter keep seeing it
    assert_array_equal(weight.data, 0.5)


def _corrupt_last(kind):
    state = Net().state_dict()
    last = "head.weight"  # the last entry: a naive loader would have written everything before it
    if kind == "shape":
        state[last] = np.zeros((2, 3), dtype=np.float32)
    elif kind == "dtype":
        state[last] = state[last].astype(np.float64)
    elif kind == "missing":
        del state[last]
    elif kind == "unexpected":
        state["extra.weight"] = np.zeros(1, dtype=np.float32)
    elif kind == "int8-buffer-dtype":
        state["codes"] = state["codes"].astype(np.int32)
    for name, arr in state.items():
        if name not in (last, "codes") and arr.dtype.kind == "f":
            state[name] = arr + 1.0  # valid, different values
    return state


@pytest.mark.parametrize("kind", ["shape", "dtype", "missing", "unexpected", "int8-buffer-dtype"])
def test_bad_state_raises_and_leaves_model_untouched(kind):
    net = Net()
    before = net.state_dict()
    bad = _corrupt_last(kind)
    with pytest.raises(ValueError, match="nothing was loaded"):
        net.load_state_dict(bad)
    after = net.state_dict()
    assert list(after) == list(before)
    for name in before:
        assert_array_equal(after[name], before[name])


def test_non_strict_load_ignores_missing_and_extra_keys():
    net = Net()
    state = {"stem.bias": np.full(3, 7.0, dtype=np.float32), "extra": np.zeros(1)}
    net.load_state_dict(state, strict=False)
    assert_array_equal(net.stem.bias.data, 7.0)


def test_module_repr_names_children():
    text = repr(Net())
    assert "(blocks.0): Block(" in text and "Linear(in_features=2, out_features=3, bias=True)" in text


def test_base_forward_is_abstract():
    with pytest.raises(NotImplementedError, match="Module"):
        Module()(Tensor([1.0]))

"""Module 05's names at the top level (``from tinytorch import no_grad``), the same objects."""

from __future__ import annotations

import pytest

import tinytorch
from tinytorch.core import autograd
from tinytorch.core.tensor import Tensor


@pytest.mark.parametrize("name", ["no_grad", "enable_autograd"])
def test_top_level_names_are_the_same_objects(name):
    assert getattr(tinytorch, name) is getattr(autograd, name)


def test_top_level_no_grad_switches_recording_off():
    x = Tensor([1.0], requires_grad=True)
    with tinytorch.no_grad():
        assert not (x * 2.0).requires_grad
    assert (x * 2.0).requires_grad

"""Module 05: ``from tinytorch.core.autograd import Function`` and the backward classes, as TinyTorch's
autograd notebook imports them; a learner's ``Function`` subclass trains through ``backward()``."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose

from tinytorch.core import autograd, tensor
from tinytorch.core.autograd import AddBackward, Function, MatmulBackward, MulBackward, SumBackward
from tinytorch.core.tensor import Tensor


def test_the_protocol_is_module_01s_own_objects():
    assert autograd.Function is tensor.Function
    for name in ("AddBackward", "SubBackward", "MulBackward", "DivBackward", "MatmulBackward", "TransposeBackward",
                 "PermuteBackward", "ReshapeBackward", "SliceBackward", "SumBackward"):  # fmt: skip
        assert getattr(autograd, name) is getattr(tensor, name) and issubclass(getattr(autograd, name), Function)
        assert name in autograd.__all__


def test_graph_of_a_small_expression():
    x = Tensor([[1.0, 2.0]], requires_grad=True)
    w = Tensor([[3.0], [4.0]], requires_grad=True)
    loss = (x @ w * 2.0 + 1.0).sum()
    assert isinstance(loss._grad_fn, SumBackward)
    add = loss._grad_fn.next_functions[0]
    assert isinstance(add, AddBackward) and isinstance(add.next_functions[0], MulBackward)
    assert isinstance(add.next_functions[0].next_functions[0], MatmulBackward)


class MulTwoBackward(Function):
    """A learner's two-input node: d(a*b) = (g*b, g*a), returned as Tensors as some notebooks do."""

    def apply(self, grad_output):
        a, b = self.saved_tensors
        return Tensor(grad_output * b.data), Tensor(grad_output * a.data)


def test_a_learners_two_input_function_with_broadcasting():
    a = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = Tensor([10.0, 20.0], requires_grad=True)  # broadcast over rows: its gradient is summed back
    out = Tensor(a.data * b.data, requires_grad=True)
    out._grad_fn = MulTwoBackward(a, b)
    out.sum().backward()
    assert_allclose(a.grad, np.broadcast_to(b.data, (2, 2)))
    assert_allclose(b.grad, a.data.sum(axis=0))


class DoubleBackward(Function):
    """One input, its gradient returned bare (not in a tuple), as a notebook may write it."""

    def apply(self, grad_output):
        return 2.0 * grad_output


def test_a_single_gradient_may_be_returned_bare():
    x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    out = Tensor(2.0 * x.data, requires_grad=True)
    out._grad_fn = DoubleBackward(x)
    out.sum().backward()
    assert_allclose(x.grad, np.full((2, 2), 2.0))

"""Module 01 as TinyTorch's notebooks use it: the ``Function`` / ``_grad_fn`` autograd protocol, integer
data with ``requires_grad=True``, and clear errors from ``concatenate`` / ``stack``."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from tinytorch.core import tensor as T
from tinytorch.core.tensor import Function, Tensor, concatenate, stack


def test_a_leaf_has_no_grad_fn_and_each_op_names_its_backward():
    a = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = Tensor([[0.5, -1.0], [2.0, 1.0]], requires_grad=True)
    assert a._grad_fn is None
    cases = {
        "AddBackward": a + b,
        "SubBackward": a - b,
        "MulBackward": a * b,
        "DivBackward": a / b,
        "MatmulBackward": a @ b,
        "TransposeBackward": a.transpose(),
        "PermuteBackward": a.reshape(1, 2, 2).transpose(2, 0, 1),
        "ReshapeBackward": a.reshape(4),
        "SliceBackward": a[0],
        "SumBackward": a.sum(),
        "ReLUBackward": a.relu(),
    }
    for name, out in cases.items():
        assert type(out._grad_fn).__name__ == name and isinstance(out._grad_fn, Function)
        if name != "PermuteBackward":  # (that one's input is the reshaped a)
            assert out._grad_fn.saved_tensors[0] is a
    assert (a + b).grad_fn is not None  # PyTorch's spelling


def test_next_functions_link_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    z = y + x
    assert z._grad_fn.next_functions == (y._grad_fn,)  # x is a leaf: no node of its own
    assert isinstance(z._grad_fn.next_functions[0], T.MulBackward)


def test_apply_returns_one_gradient_per_saved_tensor():
    a = Tensor([2.0, 3.0], requires_grad=True)
    b = Tensor([4.0, 5.0], requires_grad=True)
    grads = (a * b)._grad_fn.apply(np.ones(2, dtype=np.float32))
    assert len(grads) == 2
    assert_allclose(grads[0], [4.0, 5.0]) and assert_allclose(grads[1], [2.0, 3.0])


class SquareBackward(Function):
    """A learner's own node: d(x^2) = 2 x g."""

    def apply(self, grad_output):
        (x,) = self.saved_tensors
        return (2.0 * x.data * grad_output,)


def test_a_learners_own_function_is_followed_by_backward():
    x = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    out = Tensor(x.data**2, requires_grad=True)
    out._grad_fn = SquareBackward(x)
    assert out._grad_fn.saved_tensors == (x,)
    (out * 3.0).sum().backward()
    assert_allclose(x.grad, 6.0 * x.data)


def test_a_function_without_apply_says_what_is_missing():
    with pytest.raises(NotImplementedError, match="one gradient per saved tensor"):
        Function(Tensor([1.0])).apply(np.ones(1))


def test_a_chain_deeper_than_the_recursion_limit_backpropagates():
    # 3,000 ops (Python's default recursion limit is 1,000); the 10,000-op chain and its cost are a
    # benchmark row (benchmarks/backward.py): this test re-runs at every stage of every cell.
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(3_000):
        y = y + 1.0
    y.sum().backward()
    assert x.grad.tolist() == [1.0]


def test_integer_data_with_requires_grad_becomes_float32():
    w = Tensor([1, 2, 3], requires_grad=True)
    assert w.dtype == np.float32
    (w * w).sum().backward()
    assert w.grad.tolist() == [2.0, 4.0, 6.0]
    assert Tensor([1, 2, 3]).dtype.kind == "i"


def test_concatenate_and_stack_name_every_shape_given():
    a, b, c = Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4))), Tensor(np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"concatenate\(axis=0\).*\[0\] \(2, 3\), \[1\] \(2, 4\), \[2\] \(3, 3\)"):
        concatenate([a, b, c], axis=0)
    with pytest.raises(ValueError, match=r"stack\(axis=0\).*\[0\] \(2, 3\), \[1\] \(3, 3\).*same shape"):
        stack([a, c])
    with pytest.raises(ValueError, match="at least one tensor"):
        stack([])


def test_stack_and_concatenate_carry_gradients():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    s = stack([a, b], axis=1)
    assert s.shape == (2, 2) and isinstance(s._grad_fn, T.StackBackward)
    (s * Tensor([[1.0, 10.0], [1.0, 10.0]])).sum().backward()
    assert a.grad.tolist() == [1.0, 1.0] and b.grad.tolist() == [10.0, 10.0]
    c = concatenate([a, b])
    assert isinstance(c._grad_fn, T.ConcatBackward) and c.shape == (4,)


def test_backward_takes_a_tensor_gradient_and_nodes_have_readable_reprs():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    y.backward(Tensor([1.0, 1.0]))
    assert x.grad.tolist() == [3.0, 3.0]
    assert repr(y._grad_fn) == "<MulBackward>" and y._backward is not None and x._backward is None
    assert y._parents[0] is x and x._parents == ()

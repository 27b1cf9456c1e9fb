"""The PyTorch adapter, where PyTorch is installed (CI installs it)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gradcheck.torch_adapter import check_torch  # noqa: E402

AT = {"x": np.array([[0.5, -1.0], [2.0, 0.25]]), "W": np.array([[1.0, -0.5], [0.75, 2.0]])}


def test_autograd_of_a_dense_layer_agrees_with_the_exact_derivative():
    r = check_torch(lambda x, W: torch.sigmoid(x @ W), at=AT, expr="σ(x·W)")
    assert r.passed, str(r)
    assert check_torch(lambda x, W: torch.sigmoid(x @ W), at=AT).passed


class WrongSquare(torch.autograd.Function):
    """x² with a wrong backward (x instead of 2x): the kind of bug to catch."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x


def test_a_custom_function_with_a_wrong_backward_is_caught():
    r = check_torch(lambda x, W: WrongSquare.apply(x) @ W, at=AT, expr="(x*x) @ W")
    assert not r.passed and {m.variable for m in r.mismatches} == {"x"}

"""The PyTorch adapter, where PyTorch is installed (CI installs it)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gradcheck.adapters.torch import check_torch  # noqa: E402

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


def test_float32_inside_requires_grad_at_tuple_outputs_and_labels():
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((8, 6)), rng.standard_normal((6, 4)) / 2, rng.standard_normal(4)

    def layer(x, W, b):
        return torch.tanh(x @ W + b)

    inside = check_torch(lambda x, W, b: layer(x.float(), W.float(), b.float()),
                         at={"x": x, "W": W, "b": b})
    # Finite differences of a float32 forward resolve entries to about 1e-3 of
    # their scale: smaller ones may be left undecided, never failed.
    assert inside.verdict in ("pass", "undecided") and inside.precision == "float32"
    assert len(inside.undecided) < 0.05 * 3 * (x.size + W.size + b.size)

    class Wrong(torch.autograd.Function):  # tanh where tanh' belongs
        @staticmethod
        def forward(ctx, z):  # type: ignore[no-untyped-def]
            t = torch.tanh(z)
            ctx.save_for_backward(t)
            return t

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            (t,) = ctx.saved_tensors
            return g * t

    bug = check_torch(lambda x, W, b: Wrong.apply(x.float() @ W.float() + b.float()),
                      at={"x": x, "W": W, "b": b})
    assert bug.verdict == "fail" and {m.variable for m in bug.mismatches} == {"x", "W", "b"}
    grad_at = {n: torch.tensor(v, requires_grad=True) for n, v in {"x": x, "W": W}.items()}
    assert check_torch(lambda x, W: torch.tanh(x @ W), at=grad_at).passed
    pair = check_torch(lambda x, W: (torch.tanh(x @ W), (x * x).sum()), at={"x": x, "W": W})
    assert pair.passed and pair.output_shape == (8 * 4 + 1,)
    y = torch.tensor([0, 1, 3, 2, 0, 1, 1, 2])
    ce = check_torch(lambda x, W, y: torch.nn.functional.cross_entropy(x @ W, y),
                     at={"x": x, "W": W, "y": y})
    assert ce.passed and set(ce.inputs) == {"x", "W"}

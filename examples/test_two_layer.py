"""examples/two_layer.py checked with gradcheck.

The hand-written backward pass agrees with finite differences and with the
exact derivative of the network written as an expression; the planted bug
in ``backward_buggy`` is caught, and blamed on the one input it breaks.
"""

from pathlib import Path

import numpy as np
import pytest
from two_layer import backward, backward_buggy, forward, loss, loss_gradient, sigmoid

import gradcheck

# The network in gradcheck's language. Every · is a matrix product here (the
# inner dimensions agree), and the 1-D biases are read as 1×n rows that
# spread over the rows, as in NumPy.
EXPR = "relu(σ(x·W0 + b0)·W1 + b1)"

# A fixed point: 4 examples with 2 features, 2 hidden units, 2 outputs.
SHAPES = {"x": (4, 2), "W0": (2, 2), "b0": (2,), "W1": (2, 2), "b1": (2,)}
RNG = np.random.default_rng(21)
AT = {name: RNG.normal(size=shape).round(2) for name, shape in SHAPES.items()}


def test_the_point_is_away_from_the_relu_kink():
    # relu has no derivative at 0: finite differences there would straddle
    # the kink. Keep every pre-activation clear of it, on both sides, so the
    # checks below are deterministic and exercise both branches of relu.
    a1 = sigmoid(AT["x"] @ AT["W0"] + AT["b0"]) @ AT["W1"] + AT["b1"]
    assert np.abs(a1).min() > 1e-3
    assert (a1 > 0).any() and (a1 < 0).any()


def test_backward_agrees_with_finite_differences():
    result = gradcheck.assert_function(forward, backward, at=AT)
    assert result.inputs == SHAPES and result.output_shape == (4, 2)


def test_backward_agrees_with_the_exact_derivative():
    # Also checks that forward computes the expression's values.
    result = gradcheck.assert_function(forward, backward, at=AT, expr=EXPR)
    assert max(result.max_error.values()) < 1e-12


def test_the_planted_bug_is_caught_and_blamed_on_x():
    with pytest.raises(gradcheck.GradientMismatch) as info:
        gradcheck.assert_function(forward, backward_buggy, at=AT)
    report = str(info.value)
    assert report.splitlines()[-1] == "FAIL: backward is wrong for x"
    assert {m.variable for m in info.value.result.mismatches} == {"x"}
    for name in ["W0", "b0", "W1", "b1"]:  # the other gradients are right
        assert f"∂/∂{name}[" not in report
        assert info.value.result.max_error[name] < 1e-10


def test_the_loss_gradient_starts_the_backward_pass():
    # loss(forward(...)) is a scalar: its upstream is a number u, and the
    # gradients are u times backward(∂loss/∂y).
    t = np.array([[0.5, 0.0], [0.0, 0.5], [1.0, 0.0], [0.0, 1.0]])

    def training_loss(**inputs):
        return loss(forward(**inputs), t)

    def training_backward(u, **inputs):
        g = loss_gradient(forward(**inputs), t)
        return {name: u * grad for name, grad in backward(g, **inputs).items()}

    gradcheck.assert_function(training_loss, training_backward, at=AT)


def test_the_docs_show_this_code():
    # docs/user-code.md shows the network and a test: the code of this folder, verbatim.
    here = Path(__file__).resolve().parent
    page = (here.parent / "docs" / "user-code.md").read_text()
    blocks = [b.split("```", 1)[0] for b in page.split("```python\n")[1:]]
    code = [b for b in blocks if "def " in b]
    assert code
    sources = [(here / name).read_text() for name in ["two_layer.py", "test_two_layer.py"]]
    for block in code:
        assert any(block in source for source in sources), block

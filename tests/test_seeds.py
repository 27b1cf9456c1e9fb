"""Every example of the seed lecture notes (../shared/seeds/), checked."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck
from conftest import SEED_AT

F = "(x·y+z)·A+z"
A_PLUS_1 = [[2, 1], [3, 2], [1, 2]]


def test_the_three_matrices_and_f_read_as_the_notes_mean():
    r = gradcheck.check(F, wrt="z", at=SEED_AT)
    assert r.reading == "(x@y+z)*A+z"
    assert [x.symbol for x in r.readings] == ["@", "*"]
    assert r.shapes == {"x": (3, 2), "y": (2, 2), "z": (3, 2), "A": (3, 2)}
    assert r.output_shape == (3, 2)


def test_dy_dz_is_A_plus_1_as_hand_derived():
    r = gradcheck.check(F, wrt="z", at=SEED_AT, expect="A + 1")
    assert r.passed
    assert r.exact.shape == (3, 2, 3, 2)  # the notes' (3×2)×(3×2)
    assert r["z"].elementwise and r["z"].claim_form == "elementwise"
    diag = np.array([[r.exact[i, j, i, j] for j in range(2)] for i in range(3)])
    assert diag.tolist() == A_PLUS_1
    off = r.exact.copy()
    for i in range(3):
        for j in range(2):
            off[i, j, i, j] = 0
    assert not off.any()


def test_forgetting_the_plus_z_term_is_caught_on_every_diagonal_entry():
    r = gradcheck.check(F, wrt="z", at=SEED_AT, expect="A")
    assert not r.passed
    assert [m.index for m in r.mismatches] == [(i, j, i, j) for i in range(3) for j in range(2)]
    assert all(m.kind == "claim" and m.exact - m.claimed == 1 for m in r.mismatches)


@pytest.mark.parametrize(("wrt", "gradient"), [
    ("z", A_PLUS_1),
    ("x", [[0.5, 0.5], [1.5, 1.5], [0.5, 0.5]]),  # A @ y.T
    ("y", [[3, 2], [3, 2]]),  # x.T @ A
])
def test_gradient_of_the_sum(wrt, gradient):
    r = gradcheck.check("sum((x·y+z)·A+z)", wrt=wrt, at=SEED_AT)
    assert r.passed
    assert r.exact.tolist() == gradient
    assert np.allclose(r.numeric, gradient, rtol=0, atol=1e-8)


def test_theta_sum_y1_has_gradient_ones():
    r = gradcheck.check("sum(y₁)", shapes={"y₁": (3, 2)}, expect="ones(3,2)")
    assert r.passed and r.exact.tolist() == np.ones((3, 2)).tolist()


def test_dy1_dz11_is_the_unit_matrix_E11():
    # y1 = const + z: ∂y1/∂z[0,0] (z_{1,1} in the notes' 1-based indices) is E11.
    r = gradcheck.check("C + z", wrt="z", shapes={"C": (3, 2), "z": (3, 2)})
    assert r.passed and r.exact.shape == (3, 2, 3, 2)
    assert r.exact[:, :, 0, 0].tolist() == [[1, 0], [0, 0], [0, 0]]


DENSE = {"x": (3, 2), "W_0": (2, 4), "b_0": (1, 4)}


def test_dense_layer_sigma():
    r = gradcheck.check("σ(x·W_0 + b_0)", shapes=DENSE)
    assert r.passed and [g.name for g in r.gradients] == ["x", "W_0", "b_0"]
    assert r["b_0"].exact.shape == (3, 4, 1, 4)  # the bias row broadcasts over rows


def test_dense_layer_backward_claims():
    s = "σ(x·W_0 + b_0) * (1 - σ(x·W_0 + b_0))"  # σ' at the pre-activation
    r = gradcheck.check("sum(σ(x·W_0 + b_0))", shapes=DENSE,
                        expect={"W_0": f"x.T @ ({s})", "b_0": f"ones(1,3) @ ({s})"})
    assert r.passed


def test_dense_layer_with_sigma_instead_of_sigma_prime_is_caught():
    r = gradcheck.check("sum(σ(x·W_0 + b_0))", wrt="W_0", shapes=DENSE,
                        expect="x.T @ σ(x·W_0 + b_0)")
    assert not r.passed and len(r.mismatches) == 8


def test_two_layer_net_tanh_then_relu_away_from_the_kink():
    shapes = {"x": (3, 2), "W_0": (2, 3), "b_0": (1, 3), "W_1": (3, 2), "b_1": (1, 2)}
    r = gradcheck.check("relu(tanh(x·W_0 + b_0)·W_1 + b_1)", shapes=shapes)
    assert r.passed and len(r.gradients) == 5
    assert r["W_1"].numeric_error.max() < 1e-6


def test_chain_rule_through_sigma():
    r = gradcheck.check("σ(z_1·w_5)", wrt="z_1", at={"z_1": 0.5, "w_5": -1.5},
                        expect="σ(z_1·w_5)*(1 - σ(z_1·w_5))*w_5")
    assert r.passed


def test_relu_is_x_above_zero_and_zero_below():
    r = gradcheck.check("sum(relu(a))", at={"a": [[-0.5, 0.75]]})
    assert r.exact.tolist() == [[0, 1]]


def test_stacked_linear_layers_collapse_into_one():
    # y = w1(w0 x + b0) + b1 = (w1 w0) x + (w1 b0 + b1): same gradient for every variable.
    shapes = {"x": (2, 1), "w_0": (3, 2), "b_0": (3, 1), "w_1": (1, 3), "b_1": (1, 1)}
    stacked = gradcheck.check("w_1(w_0 x + b_0) + b_1", shapes=shapes)
    collapsed = gradcheck.check("(w_1 w_0) x + (w_1 b_0 + b_1)", shapes=shapes)
    assert stacked.passed and collapsed.passed
    assert stacked.reading == "w_1@(w_0@x+b_0)+b_1"
    for name in shapes:
        assert stacked[name].exact.tolist() == collapsed[name].exact.tolist()
    p = stacked.point
    assert np.allclose(stacked["x"].exact, (p["w_1"] @ p["w_0"]).T, rtol=1e-15, atol=0)


def test_gradient_descent_steps_against_the_gradient():
    # The notes write the update w ← w + η∇loss; with gradcheck's exact
    # gradient, a step along +∇loss raises the loss and one along -∇loss
    # lowers it: the update must be w ← w - η∇loss.
    at = {"x": [[1.0, 2.0], [0.5, -1.0], [2.0, 0.25]], "t": [[1.0], [0.0], [2.0]],
          "w": [[0.25], [-0.5]]}
    loss = "mean((x@w - t)**2)"
    r = gradcheck.check(loss, wrt="w", at=at)
    assert r.passed
    grad, eta = r.exact, 0.05

    def loss_at(w):
        x, t = np.array(at["x"]), np.array(at["t"])
        return float(np.mean((x @ w - t) ** 2))

    w = np.array(at["w"])
    assert loss_at(w - eta * grad) < loss_at(w) < loss_at(w + eta * grad)

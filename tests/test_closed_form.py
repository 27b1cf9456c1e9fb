"""The closed-form engine: derivations printed as people write them, and
values that agree with the elementwise SymPy engine entry by entry."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcheck
from gradcheck.errors import OptionError
from gradcheck.exact import closed_form, symbolic
from gradcheck.language.latex import latex
from gradcheck.language.parser import parse
from gradcheck.language.shapes import infer
from gradcheck.language.tree import render
from gradcheck.strategies import SMOOTH_OPS, expressions
from gradcheck.values.bounded import U

SEED = {"x": (3, 2), "y": (2, 2), "z": (3, 2), "A": (3, 2)}


def derived(text, shapes, wrt):
    d = closed_form.derive(infer(parse(text), shapes).tree, wrt)
    return d.form, render(d.expression)


@pytest.mark.parametrize("text, shapes, wrt, form, expected", [
    ("(x·y+z)·A+z", SEED, "z", "elementwise", "A+1"),  # the lecture notes' A + 1
    ("sum((x·y+z)·A+z)", SEED, "y", "gradient", "x.T@A"),
    ("trace(X.T@A@X)", {"X": (3, 2), "A": (3, 3)}, "X", "gradient", "(A+A.T)@X"),
    ("sum(tanh(P@Q))", {"P": (4, 4), "Q": (4, 4)}, "P", "gradient", "(1-tanh(P@Q)**2)@Q.T"),
    ("X@Y", {"X": (2, 3), "Y": (3, 4)}, "X", "vjp", "G@Y.T"),
    ("X@Y", {"X": (2, 3), "Y": (3, 4)}, "Y", "vjp", "X.T@G"),
    ("sum(z*z)", {"z": (3, 2)}, "z", "gradient", "2*z"),
    ("logdet(A)", {"A": (3, 3)}, "A", "gradient", "inv(A).T"),
    ("det(A)", {"A": (3, 3)}, "A", "gradient", "det(A)*inv(A).T"),
    ("sum(relu(x)+abs(x))", {"x": (3, 2)}, "x", "gradient", "step(x)+sign(x)"),
    ("sum(sigmoid(x@W+b))", {"x": (3, 2), "W": (2, 4), "b": (1, 4)}, "b", "gradient",
     "ones(1, 3)@(sigmoid(x@W+b)*(1-sigmoid(x@W+b)))"),
    ("x.T@x", {"x": (3, 2)}, "x", "vjp", "x@(G.T+G)"),
    ("G@x", {"G": (2, 3), "x": (3, 2)}, "x", "vjp", "G.T@G_"),  # the cotangent's name is free
])
def test_derivations_print_as_written_by_hand(text, shapes, wrt, form, expected):
    assert derived(text, shapes, wrt) == (form, expected)


def test_the_derivative_is_an_expression_of_the_language():
    d = closed_form.derive(infer(parse("sum(softmax(x@W)*Y)"), {
        "x": (2, 3), "W": (3, 4), "Y": (2, 4)}).tree, "W")
    text = render(d.expression)
    assert parse(text) == d.expression  # it parses back to itself
    assert infer(parse(text), {"x": (2, 3), "W": (3, 4), "Y": (2, 4)}).shape == (3, 4)


def test_latex():
    assert latex(parse("(A+A.T)@X")) == r"\left(A + A^{\top}\right) X"
    assert latex(parse("x.T@(sigmoid(z)*(1-sigmoid(z)))")) == (
        r"x^{\top} \left(\sigma\left(z\right) \odot \left(1 - \sigma\left(z\right)\right)"
        r"\right)")


def test_elementwise_by_structure():
    shapes = {"x": (2, 2), "A": (2, 2)}
    assert closed_form.is_elementwise(infer(parse("sin(x)*A+x"), shapes).tree, "x")
    assert not closed_form.is_elementwise(infer(parse("x@A"), shapes).tree, "x")
    assert not closed_form.is_elementwise(infer(parse("x.T"), shapes).tree, "x")
    assert not closed_form.is_elementwise(infer(parse("x+sum(x)"), shapes).tree, "x")


def test_literal_entries_depending_on_w_are_not_covered():
    tree = infer(parse("[[sum(x), 1]] @ x"), {"x": (2, 2)}).tree
    assert not closed_form.supports(tree, "x")
    with pytest.raises(closed_form.Unsupported):
        closed_form.derive(tree, "x")
    with pytest.raises(OptionError, match="closed-form engine"):
        gradcheck.check("[[sum(x), 1]] @ x", shapes={"x": "2x2"}, engine="closed")
    # auto falls back to SymPy for it
    assert gradcheck.check("[[sum(x), 1]] @ x", shapes={"x": "2x2"}).passed


def test_unknown_engine_is_an_option_error():
    with pytest.raises(OptionError, match="unknown engine") as info:
        gradcheck.check("sum(x)", shapes={"x": "2x2"}, engine="closd")
    assert "closed" in (info.value.hint or "")


def test_auto_engine_by_size():
    small = gradcheck.check("tanh(P@Q)", shapes={"P": "3x3", "Q": "3x3"})
    large = gradcheck.check("tanh(P@Q)", shapes={"P": "7x7", "Q": "7x7"})
    assert {g.engine for g in small.gradients} == {"symengine"}
    assert {g.engine_note for g in small.gradients} == {"agrees"}
    assert {g.engine for g in large.gradients} == {"closed form"}
    assert large.passed and {g.exactness for g in large.gradients} == {"float64"}
    assert all(g.exact_error is not None and g.exact_error.max() < 1e-14
               for g in large.gradients)


def test_rational_expressions_are_exact():
    r = gradcheck.check("sum(inv(A)@B)", shapes={"A": "8x8", "B": "8x8"}, engine="closed")
    assert r.passed and {g.exactness for g in r.gradients} == {"exact"}
    assert all(g.exact_error is None for g in r.gradients)


def _both(e, ops_seed=0):
    closed = gradcheck.check(e.text, shapes=e.shapes, engine="closed", seed=ops_seed)
    sympy_ = gradcheck.check(e.text, shapes=e.shapes, engine="sympy", seed=ops_seed)
    return closed, sympy_


RATIONAL_OPS = ("add", "sub", "mul", "matmul", "neg", "transpose", "sum", "mean", "trace")


@settings(deadline=None, max_examples=30)
@given(expressions(ops=RATIONAL_OPS, max_depth=3, max_side=3, max_variables=3))
def test_rational_closed_form_equals_sympy_exactly(e):
    closed, reference = _both(e)
    for c, s in zip(closed.gradients, reference.gradients, strict=True):
        assert c.exactness == "exact"
        assert c.elementwise <= s.elementwise  # by structure: sufficient, never wrong
        assert symbolic.entries(c.exact_values) == symbolic.entries(s.exact_values)
        assert np.array_equal(c.exact, s.exact)
        assert c.passed and s.passed


@settings(deadline=None, max_examples=30)
@given(expressions(ops=SMOOTH_OPS, max_depth=3, max_side=3, max_variables=3))
def test_closed_form_is_within_its_bound_of_sympy(e):
    closed, reference = _both(e)
    for c, s in zip(closed.gradients, reference.gradients, strict=True):
        # SymPy's floats are correctly rounded: half an ulp from the truth
        bound = (0 if c.exact_error is None else c.exact_error) + U * np.abs(s.exact)
        assert (np.abs(c.exact - s.exact) <= bound).all()
        assert c.passed and s.passed


@settings(deadline=None, max_examples=20)
@given(expressions(ops=SMOOTH_OPS, max_depth=2, max_side=3, max_variables=2),
       st.integers(0, 2**16))
def test_a_wrong_claim_is_caught_by_the_closed_form_engine(e, seed):
    right = gradcheck.check(e.text, shapes=e.shapes, engine="closed", seed=seed)
    g = right.gradients[0]
    if g.closed_form is None or g.closed_form.form == "vjp" or not np.abs(g.exact).max() > 0:
        return
    claimed = g.exact.copy() if g.exact.ndim == 2 else np.einsum(
        "ijij->ij", g.exact).copy()
    claimed.flat[int(np.argmax(np.abs(claimed)))] *= 1 + 1e-6
    wrong = gradcheck.check(e.text, shapes=e.shapes, engine="closed", seed=seed, wrt=g.name,
                            expect=claimed)
    assert not wrong.passed
    assert {m.kind for m in wrong.mismatches} == {"claim"}


def test_closed_form_text_is_the_report_of_a_check():
    r = gradcheck.check("(x·y+z)·A+z", wrt="z", at={
        "x": "ones(3,2)", "y": "0.5*ones(2,2)", "z": "0.25*ones(3,2)",
        "A": [[1, 0], [2, 1], [0, 1]]})
    cf = r["z"].closed_form
    assert cf is not None and (cf.text, cf.form, str(cf)) == ("A+1", "elementwise", "A+1")
    vjp = gradcheck.check("X@Y", shapes={"X": "2x3", "Y": "3x2"})["X"].closed_form
    assert vjp is not None and str(vjp) == "∂⟨G, f⟩/∂w = G@Y.T"


def test_exact_values_at_a_rational_point():
    r = gradcheck.check("sum(X@X)", at={"X": [[0.5, 0.25], [1, 2]]}, engine="closed")
    assert r["X"].exactness == "exact"
    # ones@X.T + X.T@ones: row sums across, column sums down
    assert symbolic.entries(r["X"].exact_values) == [sympy.Rational(v) for v in (
        "9/4", "9/2", "3", "21/4")]

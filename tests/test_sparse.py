"""Jacobians stored on their pattern (gradcheck.values.sparse): the same numbers,
the same verdicts and the same reports as dense arrays, in far less memory."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import gradcheck
from conftest import dyadic
from gradcheck.checking.points import to_value
from gradcheck.compare.comparator import compare, compare_stored
from gradcheck.exact import closed_eval, closed_form
from gradcheck.language.parser import parse
from gradcheck.language.shapes import infer
from gradcheck.numeric import engine as numeric
from gradcheck.strategies import SMOOTH_OPS, expressions
from gradcheck.values.sparse import Sparse


def _held(g):
    return {f: g.held(f) for f in ("exact", "numeric", "numeric_error", "exact_error")}


def test_a_matrix_product_keeps_only_the_entries_that_may_be_nonzero():
    at = dyadic({"X": (6, 5), "Y": (5, 7)}, 0)
    r = gradcheck.check("X@Y", at=at, engine="closed")
    g = r["X"]
    held = _held(g)
    assert isinstance(held["exact"], Sparse) and isinstance(held["numeric"], Sparse)
    assert len(held["exact"].values) == 6 * 7 * 5  # F[i,k] depends on row i of X only
    assert held["exact"].size == 6 * 7 * 6 * 5
    # Read, they are arrays: ∂F[i,k]/∂X[i,j] = Y[j,k], 0 elsewhere.
    expected = np.einsum("ia,jk->ikaj", np.eye(6), at["Y"])
    assert np.array_equal(g.exact, expected)
    assert np.abs(g.numeric - expected).max() <= 1e-15
    assert isinstance(g.exact, np.ndarray) and g.exact is g.exact  # made once, then kept
    assert r.passed and g.comparison.entries == expected.size


def _same_as_dense(text, shapes, at):
    """Check ``text`` at ``at`` with the closed-form engine: the arrays made
    from the stored entries equal the engines' dense results, and judging
    the stored entries gives the dense judgement. How many were stored."""
    r = gradcheck.check(text, at=at, engine="closed")
    tree = infer(parse(text), shapes).tree
    values = {n: to_value(v.tolist()) for n, v in at.items()}
    stored = 0
    for g in r.gradients:
        stored += isinstance(g.held("exact"), Sparse)
        exact = closed_eval.jacobian(closed_form.derive(tree, g.name), values)
        est = numeric.jacobian(tree, g.name, at)
        if g.exactness == exact.exactness:
            assert np.array_equal(g.exact, exact.value)
        else:  # a group's bound is wider: one was certified with balls, the other not
            assert {g.exactness, exact.exactness} == {"certified", "float64"}
            bound = exact.error if exact.error is not None else g.exact_error
            assert np.all(np.abs(g.exact - exact.value) <= bound)
        assert np.array_equal(g.numeric, est.value)
        dense = compare(g.exact, est.value, est.error, None, atol=r.atol, rtol=r.rtol,
                        variable=g.name, exact_error=g.exact_error)
        assert (g.comparison.max_abs_diff, g.comparison.max_rel_diff, g.comparison.entries) == \
            (dense.max_abs_diff, dense.max_rel_diff, dense.entries)
        assert g.comparison.mismatches == dense.mismatches
    return stored


@pytest.mark.parametrize("text, shapes", [
    ("X@Y", {"X": (4, 3), "Y": (3, 5)}),
    ("tanh(P@Q)", {"P": (4, 4), "Q": (4, 4)}),
    ("softmax(X@Y)", {"X": (3, 3), "Y": (3, 3)}),
    ("sigmoid(x)*2+x", {"x": (3, 4)}),
])
def test_stored_and_dense_give_the_same_arrays_and_verdict(text, shapes):
    assert _same_as_dense(text, shapes, dyadic(shapes, 0)) >= 1


@settings(deadline=None, max_examples=40)
@given(expressions(ops=SMOOTH_OPS, max_depth=3, max_side=3, max_variables=2),
       st.integers(0, 2**16))
def test_generated_expressions_stored_equal_dense(e, seed):
    event(f"stored: {_same_as_dense(e.text, e.shapes, dyadic(e.shapes, seed)) > 0}")


def test_a_claim_keeps_the_arrays_dense():
    """A claim is judged on every entry (it may be wrong off the pattern)."""
    at = dyadic({"x": (2, 3)}, 0)
    r = gradcheck.check("sigmoid(x)*2+x", at=at, engine="closed",
                        expect="2*sigmoid(x)*(1-sigmoid(x)) + 1")
    assert r.passed and isinstance(r["x"].held("exact"), np.ndarray)


def test_the_report_does_not_make_arrays():
    r = gradcheck.check("X@Y", at=dyadic({"X": (12, 12), "Y": (12, 12)}, 0), engine="closed")
    text = str(r)
    assert "PASS: exact and numeric agree on all 41472 entries" in text
    assert "Jacobian 12×12×12×12" in text
    for g in r.gradients:
        assert all(isinstance(v, Sparse) for v in _held(g).values() if v is not None)
    # The shown corner: row f[0,0] of ∂f/∂Y is X[0,0] at Y[0,0], X[0,1] at
    # Y[1,0] (not shown: columns Y[0,·] come first), 0 at Y[0,1] ... Y[0,11].
    block = text[text.index("∂f/∂Y"):]
    row = next(line for line in block.splitlines() if line.strip().startswith("f[0,0]"))
    assert row.split()[1:4] == [f"{r.point['X'][0, 0]:.6g}", "0", "0"]


def _random_stored(rng, fr, fc, wr, wc):
    m, n = fr * fc, wr * wc
    keep = rng.random((m, n)) < 0.4
    rows, cols = np.nonzero(keep)
    values = rng.standard_normal(len(rows)) * 10.0 ** rng.integers(-3, 3, len(rows))
    return Sparse((fr, fc, wr, wc), rows, cols, values)


@settings(deadline=None, max_examples=60)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4),
       st.integers(0, 2**16), st.integers(0, 6))
def test_judging_stored_entries_equals_judging_the_dense_arrays(fr, fc, wr, wc, seed, planted):
    """Generated patterns, values, bounds and planted errors: the stored
    comparison finds exactly the mismatches, and the same maxima, as the
    dense comparison of the arrays made from them."""
    rng = np.random.default_rng(seed)
    exact = _random_stored(rng, fr, fc, wr, wc)
    k = len(exact.values)
    wrong = exact.values.copy()
    hit = rng.choice(k, size=min(planted, k), replace=False) if k else np.zeros(0, int)
    wrong[hit] *= 1 + rng.choice([-1e-3, 1e-5, 2.0], size=len(hit))
    numeric_ = exact.like(wrong)
    bound = np.abs(rng.standard_normal(k)) * 1e-12
    own = np.abs(rng.standard_normal(k)) * 1e-13
    stored = compare_stored(exact, numeric_, bound, own, atol=0.0, rtol=1e-7)
    dense = compare(exact.dense(), numeric_.dense(), exact.like(bound).dense(), None,
                    atol=0.0, rtol=1e-7, exact_error=exact.like(own).dense())
    event(f"mismatches: {len(dense.mismatches)}")
    assert stored.mismatches == dense.mismatches
    assert len(stored.mismatches) == len(set(hit.tolist()))  # every planted error, no other
    assert (stored.max_abs_diff, stored.max_rel_diff, stored.entries, stored.unlisted) == \
        (dense.max_abs_diff, dense.max_rel_diff, dense.entries, dense.unlisted)


def test_a_wrong_numeric_entry_on_the_pattern_is_named():
    exact = Sparse((2, 2, 2, 2), np.array([0, 1, 3]), np.array([0, 2, 3]),
                   np.array([1.0, -2.0, 4.0]))
    bad = compare_stored(exact, exact.like(np.array([1.0, -2.0, 4.001])), np.zeros(3), None,
                         atol=1e-12, rtol=1e-7)
    assert [(m.index, m.kind, m.exact, m.numeric) for m in bad.mismatches] == [
        ((1, 1, 1, 1), "engines", 4.0, 4.001)]

"""Groups of entries differentiated together: the structure found, and the
engines' Jacobians from groups equal to those from one entry at a time."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from conftest import dyadic
from gradcheck.checking.points import to_value
from gradcheck.exact import closed_eval, closed_form
from gradcheck.language import structure
from gradcheck.language.parser import parse
from gradcheck.language.shapes import infer
from gradcheck.numeric import engine as numeric
from gradcheck.numeric.complex_step import complex_stacked
from gradcheck.numeric.groups import _complex_grouped, _confirmed
from gradcheck.numeric.probe import _amplification, _tree_function, probe_of, start
from gradcheck.strategies import SMOOTH_OPS, expressions


def typed(text, shapes):
    return infer(parse(text), shapes).tree


@pytest.mark.parametrize("text, shapes, wrt, columns, rows", [
    ("X@Y", {"X": (3, 2), "Y": (2, 4)}, "X", ("by column", 2), ("by column", 4)),
    ("X@Y", {"X": (3, 2), "Y": (2, 4)}, "Y", ("by row", 2), ("by row", 3)),
    ("tanh(P@Q)", {"P": (4, 4), "Q": (4, 4)}, "P", ("by column", 4), ("by column", 4)),
    ("sigmoid(x)*2+x", {"x": (3, 4)}, "x", ("all at once", 1), ("all at once", 1)),
    ("x*x.T", {"x": (3, 3)}, "x", ("by column", 3), ("by column", 3)),  # x[i,j] and x[j,i]
    ("softmax(X@Y)", {"X": (3, 3), "Y": (3, 3)}, "X", ("by column", 3), ("by column", 3)),
    ("X@[[y, 1], [2, y]]", {"X": (2, 2), "y": (1, 1)}, "X", ("by column", 2), ("by column", 2)),
    ("(x@ones(2, 3)).T", {"x": (4, 2)}, "x", ("by column", 2), ("by row", 3)),
])
def test_groups_found(text, shapes, wrt, columns, rows):
    g = structure.columns(typed(text, shapes), wrt)
    assert g is not None and (g.name, g.count) == columns
    r = structure.rows(g)
    assert r is not None and (r.name, r.count) == rows


@pytest.mark.parametrize("text, shapes, wrt", [
    ("sum(tanh(P@Q))", {"P": (3, 3), "Q": (3, 3)}, "P"),  # one entry of f feels every entry
    ("x.T@x", {"x": (3, 2)}, "x"),  # f[i,k] feels columns i and k of x
    ("softmax(X@Y)", {"X": (3, 3), "Y": (3, 3)}, "Y"),
    ("inv(A)@B", {"A": (3, 3), "B": (3, 2)}, "A"),
    ("x", {"x": (1, 1)}, "x"),  # nothing to group
])
def test_no_groups_where_an_entry_of_f_feels_two_entries_of_a_group(text, shapes, wrt):
    assert structure.columns(typed(text, shapes), wrt) is None


def test_a_variable_f_does_not_depend_on_has_no_groups():
    assert structure.columns(typed("x*2", {"x": (2, 2), "y": (2, 2)}), "y") is None


@settings(deadline=None, max_examples=40)
@given(expressions(ops=SMOOTH_OPS, max_depth=3, max_side=3, max_variables=2),
       st.integers(0, 2**16))
def test_structure_holds_every_dependence_and_groups_change_no_number(e, seed):
    """Where the Jacobian one entry at a time is nonzero, the structure says
    so (it is a superset); the groups give the same Jacobian within both
    bounds, in far fewer evaluations, and never fall back."""
    tree = typed(e.text, e.shapes)
    env = dyadic(e.shapes, seed)
    for name in e.shapes:
        g = structure.columns(tree, name)
        event(f"groups: {g.name if g else None}")
        if g is None:
            continue
        single = complex_stacked(probe_of(tree, env, name)[0], 1000)
        m = single.value.size // env[name].size
        nonzero = single.value.reshape(m, -1) != 0
        out, entry = np.nonzero(nonzero)
        assert (g.depends[out, g.color[entry]] == g.member[entry]).all()
        probe = probe_of(tree, env, name)[0]
        found = _complex_grouped(probe, 1000, g)
        assert found is not None and probe.calls == 1 + 2 * g.count
        assert _confirmed(probe, found)
        assert numeric.jacobian(tree, name, env).evaluations == 1 + 2 * g.count + 2
        grouped, stored = found.estimate(), found.estimate(sparse=True)
        assert (np.abs(grouped.value - single.value) <= grouped.error + single.error).all()
        # Stored on the pattern: the same values; bounds where f may be nonzero.
        assert np.array_equal(stored.value.dense(), grouped.value)
        assert np.array_equal(stored.error.values, grouped.error.reshape(m, -1)[
            stored.error.rows, stored.error.cols])


@settings(deadline=None, max_examples=40)
@given(expressions(ops=("add", "sub", "mul", "matmul", "neg", "transpose", "sum", "trace"),
                   max_depth=3, max_side=3, max_variables=2), st.integers(0, 2**16))
def test_exact_rows_by_groups_equal_rows_one_at_a_time(e, seed):
    tree = typed(e.text, e.shapes)
    values = {n: to_value(v.tolist()) for n, v in dyadic(e.shapes, seed).items()}
    for name in e.shapes:
        d = closed_form.derive(tree, name)
        found = structure.columns(tree, name)
        rows = None if found is None else structure.rows(found)
        event(f"rows: {d.form}, {rows.name if rows else None}")
        if d.form != "vjp" or rows is None:
            continue
        grouped = closed_eval.jacobian(d, values)
        single = closed_eval.jacobian(closed_form.Derivative(
            d.expression, d.form, d.cotangent, d.wrt, d.f_shape, d.w_shape), values)
        assert grouped.exactness == single.exactness == "exact"
        assert (grouped.fractions == single.fractions).all()


def test_a_structure_that_missed_a_dependence_is_caught(monkeypatch):
    """Were the structure wrong (here: told that f[i,k] of X.T@X feels one
    entry per column of X), both engines notice and go one entry at a time."""
    tree = typed("X.T@X", {"X": (3, 3)})
    right = structure.columns(typed("X@Y", {"X": (3, 3), "Y": (3, 3)}), "X")
    assert right is not None
    monkeypatch.setattr(structure, "columns", lambda tree, wrt: right)
    x = np.arange(9.0).reshape(3, 3) / 7 + np.eye(3)
    probe = start(_tree_function(tree, {"X": x}, "X"), x, tree)[0]
    wrong = _complex_grouped(probe, 1000, right)
    assert wrong is None or not _confirmed(probe, wrong)
    est = numeric.jacobian(tree, "X", {"X": x})
    assert est.evaluations == 1 + 2 * 9 + 2 * 3 + 2  # the groups, the check, then entries
    d = closed_form.derive(tree, "X")
    exact = closed_eval.jacobian(d, {"X": to_value(x.tolist())})
    assert np.allclose(exact.value, est.value, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("method", ("richardson", "central", "forward"))
@pytest.mark.parametrize("text, shapes", [
    ("tanh(P@Q)", {"P": (4, 3), "Q": (3, 5)}),
    ("relu(x@W - 0.1) * 2", {"x": (3, 3), "W": (3, 2)}),
    ("exp(x) / (1 + x*x)", {"x": (3, 4)}),
])
def test_real_stencils_by_groups_agree_with_one_entry_at_a_time(text, shapes, method):
    tree = typed(text, shapes)
    rng = np.random.default_rng(7)
    env = {n: rng.standard_normal(s) for n, s in shapes.items()}
    for name in shapes:
        grouped = numeric.jacobian(tree, name, env, method)
        single = numeric.jacobian_of(_tree_function(tree, env, name), env[name], method,
                                     tree=tree, amplification=_amplification(tree, env))
        assert (np.abs(grouped.value - single.value) <= grouped.error + single.error).all()
        assert grouped.evaluations < single.evaluations

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcheck.compare.comparator import compare
from gradcheck.strategies import matrices

TOL = {"atol": 1e-10, "rtol": 1e-7}


def test_agreement_within_the_fd_error_bound():
    exact = np.array([[1.0, 2.0]])
    numeric = exact + np.array([[1e-9, -1e-9]])
    c = compare(exact, numeric, np.full((1, 2), 2e-9), None, **TOL)
    assert c.mismatches == () and c.max_claim_error is None
    assert c.max_abs_diff == pytest.approx(1e-9, rel=1e-6)
    assert c.max_rel_diff == pytest.approx(1e-9, rel=1e-6)  # at the entry 1.0


def test_engines_disagreeing_is_reported_as_such():
    c = compare(np.array([[1.0]]), np.array([[1.1]]), np.array([[1e-9]]), None, **TOL)
    (m,) = c.mismatches
    assert m.kind == "engines" and m.error == 1.1 - 1.0


def test_nan_never_agrees():
    c = compare(np.array([[1.0]]), np.array([[np.nan]]), np.array([[0.0]]), None, **TOL)
    assert len(c.mismatches) == 1


def test_claim_is_judged_against_exact_with_the_tight_tolerance():
    exact = np.array([[2.0, 1.0]])
    numeric = exact + 1e-8  # a loose estimate...
    err = np.full((1, 2), 1e-7)
    claimed = np.array([[2.0, 1.0 + 1e-6]])  # ...does not loosen the judgement of the claim
    c = compare(exact, numeric, err, claimed, **TOL)
    assert [(m.index, m.kind) for m in c.mismatches] == [((0, 1), "claim")]


def test_without_exact_the_claim_is_judged_against_the_estimate():
    numeric = np.array([[2.0]])
    ok = compare(None, numeric, np.array([[1e-9]]), np.array([[2.0 + 5e-10]]), **TOL)
    bad = compare(None, numeric, np.array([[1e-9]]), np.array([[2.0 + 1e-4]]), **TOL)
    assert ok.mismatches == () and len(bad.mismatches) == 1


@given(exact=matrices((3, 2)), data=st.data())
def test_one_planted_error_is_reported_at_exactly_that_entry(exact, data):
    i = data.draw(st.integers(0, 2))
    j = data.draw(st.integers(0, 1))
    rel = data.draw(st.sampled_from([1e-4, -1e-4, 1e-5, 1e-6]))
    claimed = exact.copy()
    claimed[i, j] *= 1 + rel
    c = compare(exact, exact, np.zeros_like(exact), claimed, **TOL)
    assert [m.index for m in c.mismatches] == [(i, j)]


def test_the_rounding_floor_follows_each_entrys_row_and_column():
    from gradcheck.compare.comparator import SCALE, rounding_floor

    jac = np.zeros((1, 2, 1, 2))
    jac[0, 0, 0, 0], jac[0, 1, 0, 1] = 1e16, -0.25  # 1/x at x = 1e-8 and at 2
    floor = rounding_floor(jac)
    assert floor[0, 1, 0, 1] == SCALE * 0.25 and floor[0, 0, 0, 1] == SCALE * 1e16
    claimed = jac.copy()
    claimed[0, 1, 0, 1] *= 1 + 1e-6
    c = compare(jac, jac, np.zeros_like(jac), claimed, atol=0.0, rtol=1e-7)
    assert [m.index for m in c.mismatches] == [(0, 1, 0, 1)]

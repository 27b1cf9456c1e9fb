"""The complex step from imaginary parts alone: the numbers of the full
complex evaluation, entry by entry, up to rounding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck.language.parser import parse
from gradcheck.language.shapes import infer
from gradcheck.numeric import tangents
from gradcheck.numeric.complex_step import complex_stacked
from gradcheck.numeric.probe import probe_of
from gradcheck.strategies import SMOOTH_OPS, expressions
from gradcheck.values.evaluate import OutOfDomain


def _both(text, shapes, env):
    tree = infer(parse(text), shapes).tree
    for name in shapes:
        full = complex_stacked(probe_of(tree, env, name)[0], 7)
        used = []

        def local(entries, h, name=name, used=used):
            out = tangents.steps(tree, env, name, entries, h)
            used.append(out is not None)
            return out

        probe = probe_of(tree, env, name)[0]
        yield name, full, complex_stacked(probe, 7, local), used


@pytest.mark.parametrize("text, shapes", [
    ("sum(tanh(P@Q))", {"P": (3, 4), "Q": (4, 2)}),
    ("softmax(x@W)", {"x": (2, 3), "W": (3, 4)}),
    ("inv(A)@B", {"A": (3, 3), "B": (3, 2)}),
    ("[[sum(x), 1], [2, 3]] @ x.T", {"x": (3, 2)}),
    ("logdet(A.T@A+eye(3)) + norm(A) + det(A)*trace(A)", {"A": (3, 3)}),
    ("sum(sigmoid(x@W+b)**2)", {"x": (4, 3), "W": (3, 2), "b": (1, 2)}),
    ("(P@Q).T@(P@Q) + P@Q@P", {"P": (3, 3), "Q": (3, 3)}),
    ("sum(Q.T * (P@Q).T) * mean(exp(P)/(1+P*P))", {"P": (3, 3), "Q": (3, 3)}),
    ("sqrt(x)**1.5 + log(x)/x", {"x": (2, 3)}),
])
def test_imaginary_parts_alone_give_the_full_complex_step(text, shapes):
    rng = np.random.default_rng(3)
    env = {n: np.abs(rng.integers(-512, 512, size=s) / 256) + 3 * np.eye(*s)
           for n, s in shapes.items()}
    for _, full, local, used in _both(text, shapes, env):
        assert used and all(used)
        assert (np.abs(local.value - full.value) <= np.minimum(local.error, full.error)).all()
        assert (local.error <= 2 * full.error).all()
        assert local.evaluations == full.evaluations


@settings(deadline=None)
@given(expressions(ops=SMOOTH_OPS, max_depth=3, max_side=3, max_variables=2),
       st.integers(0, 2**16))
def test_on_generated_expressions(e, seed):
    rng = np.random.default_rng(seed)
    env = {n: rng.integers(-512, 512, size=s) / 256 + 3 * np.eye(*s)
           for n, s in e.shapes.items()}
    try:
        pairs = list(_both(e.text, e.shapes, env))
    except OutOfDomain:
        return  # outside a domain (log, sqrt of a negative entry): nothing to compare
    for _, full, local, used in pairs:
        assert all(used)
        assert (np.abs(local.value - full.value) <= np.minimum(local.error, full.error)).all()


def test_an_overflow_falls_back_to_the_full_evaluation():
    tree = infer(parse("exp(x*1e300)"), {"x": (1, 2)}).tree
    assert tangents.steps(tree, {"x": np.array([[1e-300, 2e-300]])}, "x", np.array([0, 1]),
                          np.array([1e300, 1e300])) is None

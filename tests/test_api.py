from __future__ import annotations

import re

import numpy as np
import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

import gradcheck
from conftest import SEED_AT
from gradcheck.strategies import expressions, points


def test_check_returns_data_and_never_raises_on_a_mismatch():
    r = gradcheck.check("sum(z * z)", at={"z": [[1.0, 2.0]]}, expect="z")
    assert not r.passed
    assert [(m.variable, m.index, m.exact, m.claimed) for m in r.mismatches] == [
        ("z", (0, 0), 2.0, 1.0), ("z", (0, 1), 4.0, 2.0)]


def test_assert_gradient_raises_an_assertion_error_with_the_report():
    with pytest.raises(gradcheck.GradientMismatch) as info:
        gradcheck.assert_gradient("sum((x·y+z)·A+z)", wrt="z", at=SEED_AT, expect="A")
    assert isinstance(info.value, AssertionError)
    assert "∂f/∂z[1,0]" in str(info.value) and not info.value.result.passed
    assert gradcheck.assert_gradient("sum((x·y+z)·A+z)", wrt="z", at=SEED_AT,
                                     expect="A + 1").passed


def test_several_variables_give_dicts_and_per_name_results():
    r = gradcheck.check("sum(x @ y)", wrt=["x", "y"], shapes={"x": (2, 3), "y": (3, 2)})
    assert set(r.exact) == {"x", "y"} and r["y"].exact.shape == (3, 2)
    with pytest.raises(KeyError):
        r["q"]


def test_expect_per_variable():
    r = gradcheck.check("sum(x @ y)", at={"x": np.ones((2, 3)), "y": np.ones((3, 2))},
                        expect={"x": "ones(2,2) @ y.T", "y": "x.T @ ones(2,2)"})
    assert r.passed and r["x"].claim_form == "gradient"


def test_expect_as_an_array_in_each_form():
    at = {"x": [[1.0, 2.0], [3.0, 4.0]]}
    full = gradcheck.jacobian("x @ x", wrt="x", at=at)
    assert gradcheck.check("x @ x", at=at, expect=full).passed
    assert gradcheck.check("x @ x", at=at, expect=full.reshape(4, 4)).passed
    bad = full.copy()
    bad[1, 0, 0, 0] += 1e-3
    r = gradcheck.check("x @ x", at=at, expect=bad)
    assert [m.index for m in r.mismatches] == [(1, 0, 0, 0)]


def test_jacobian_and_derivative():
    assert gradcheck.jacobian("sum(z * z)", at={"z": [[3.0]]}).tolist() == [[6.0]]
    d = gradcheck.derivative("trace(X.T @ A @ X)", wrt="X", shapes={"X": "2x2", "A": "2x2"})
    X = gradcheck.exact.symbolic.symbols("X", (2, 2))
    A = gradcheck.exact.symbolic.symbols("A", (2, 2))
    assert sympy.expand(d - (A + A.T) @ X) == sympy.zeros(2, 2)  # Matrix Cookbook (108)


def test_defaults_check_every_variable():
    r = gradcheck.check("(x·y+z)·A+z", at=SEED_AT)
    assert [g.name for g in r.gradients] == ["x", "y", "z", "A"] and r.passed


# call, error class, message fragment
BAD_CALLS = [
    (dict(expr="x +"), gradcheck.ParseError, "ends too early"),
    (dict(expr="x @ x", shapes={"x": (3, 2)}), gradcheck.ShapeError, "shape mismatch"),
    (dict(expr="x + q", shapes={"x": (3, 2)}), gradcheck.NameLookupError, "unknown name 'q'"),
    (dict(expr="x", shapes={"x": (2, 2)}, wrt="y"), gradcheck.OptionError, "not a variable"),
    (dict(expr="x", shapes={"x": (2, 2)}, wrt=[]), gradcheck.OptionError, "wrt is empty"),
    (dict(expr="sum(ones(2, 2))"), gradcheck.OptionError, "no variables"),
    (dict(expr="exp(x)", at={"x": [[1.0, 1e3]]}), gradcheck.DomainError,
     "exp gives inf at entry [0,1] (overflow)"),
    (dict(expr="x", shapes={"x": "2x"}), gradcheck.OptionError, "bad shape"),
    (dict(expr="x", at={"x": 1.0}, shapes={"x": (2, 2)}), gradcheck.OptionError, "both"),
    (dict(expr="x", at={"x": 1.0}, atol=-1), gradcheck.OptionError, "atol"),
    (dict(expr="x", at={"x": 1.0}, seed=-1), gradcheck.OptionError, "seed"),
    (dict(expr="log(x)", at={"x": [[1.0, -1.0]]}), gradcheck.DomainError,
     "outside the domain of 'log(x)'"),
    (dict(expr="x", at={"x": 1.0}, method="secant"), gradcheck.OptionError, "unknown method"),
    (dict(expr="inv(x)", at={"x": np.ones((2, 2))}), gradcheck.DomainError, "invertible"),
    (dict(expr="x @ y", shapes={"x": (2, 2), "y": (2, 2)}, expect="x"), gradcheck.ClaimError,
     "several variables"),
    (dict(expr="x @ y", wrt="x", shapes={"x": (2, 2), "y": (2, 2)}, expect="y"),
     gradcheck.ClaimError, "not elementwise in 'x'"),
    (dict(expr="sum(x)", shapes={"x": (2, 2)}, expect={"q": "x"}), gradcheck.ClaimError,
     "not checked"),
    (dict(expr="sum(x)", shapes={"x": (2, 2)}, expect="x +"), gradcheck.ParseError, "ends"),
]


@pytest.mark.parametrize(("call", "cls", "fragment"), BAD_CALLS,
                         ids=[f"{c['expr']}-{cls.__name__}" for c, cls, _ in BAD_CALLS])
def test_bad_input_raises_one_specific_error(call, cls, fragment):
    with pytest.raises(cls) as info:
        gradcheck.check(call.pop("expr"), **call)
    assert isinstance(info.value, gradcheck.GradcheckError)
    assert fragment in str(info.value)


# ----- properties -----

SMOOTH = expressions(max_depth=3).flatmap(lambda e: points(e).map(lambda p: (e, p)))


@given(SMOOTH)
def test_exact_and_numeric_agree_on_generated_expressions(case):
    expr, at = case
    r = gradcheck.check(expr.text, at=at)
    assert r.passed, str(r)
    for g in r.gradients:
        assert np.all(np.abs(g.exact - g.numeric) <= g.numeric_error + 1e-10)


SCALAR = expressions(max_depth=3, shape=(1, 1)).flatmap(lambda e: points(e).map(
    lambda p: (e, p)))


@given(SCALAR, st.data())
def test_a_perturbed_claim_is_always_rejected_at_that_entry(case, data):
    expr, at = case
    name = data.draw(st.sampled_from(sorted(expr.shapes)))
    truth = gradcheck.jacobian(expr.text, wrt=name, at=at)
    index = data.draw(st.tuples(*(st.integers(0, n - 1) for n in truth.shape)))
    rel = data.draw(st.sampled_from([1e-4, -1e-4, 1e-5]))
    claimed = truth.copy()
    claimed[index] += rel * max(abs(truth[index]), 1.0)
    r = gradcheck.check(expr.text, wrt=name, at=at, expect=claimed)
    assert [(m.index, m.kind) for m in r.mismatches] == [(index, "claim")]


def test_expect_as_a_callable_backward_pass():
    def backward(x, W):  # d sum(tanh(x @ W)) / dW, written by hand
        return x.T @ (1 - np.tanh(x @ W) ** 2)

    shapes = {"x": (3, 2), "W": (2, 2)}
    assert gradcheck.check("sum(tanh(x @ W))", wrt="W", shapes=shapes, expect=backward).passed
    r = gradcheck.check("sum(tanh(x @ W))", wrt="W", shapes=shapes,
                        expect=lambda x, W: x.T @ (1 - np.tanh(x @ W)))  # forgot the square
    assert not r.passed and r["W"].claim_text is None
    with pytest.raises(gradcheck.ClaimError, match="raised TypeError"):
        gradcheck.check("sum(tanh(x @ W))", wrt="W", shapes=shapes, expect=lambda x: x)


def test_a_point_on_a_kink_is_reported_not_judged():
    r = gradcheck.check("sum(relu(x) * y)", at={"x": [[0.0, 1.0]], "y": [[3.0, 2.0]]},
                        wrt="x", expect=[[0, 2]])
    (u,) = r["x"].undefined
    assert u.index == (0, 0) and (u.left, round(u.right, 12)) == (0.0, 3.0)
    assert r.passed and r.mismatches == ()  # the other entry is judged, and right
    assert "not differentiable at this point" in str(r)
    assert str(r).splitlines()[-1].endswith("1 entry at a kink not judged")


@pytest.mark.parametrize("method", ["complex", "richardson", "central", "forward", "backward"])
def test_every_method_checks_the_seed_example(method):
    r = gradcheck.check("sum((x·y+z)·A+z)", wrt="z", at=SEED_AT, expect="A + 1", method=method)
    assert r.passed and r["z"].methods == (method,)


def test_mismatches_say_which_bound_decided():
    r = gradcheck.check("sum(z * z)", at={"z": [[1e-12, 3.0]]}, expect=[[1e-9, 6.0001]])
    # The rounding floor is the entry's own (2·z rounds by about 1e-28 here), not
    # one relative to the largest entry: rtol decides at (0, 0) too.
    assert [(m.index, m.bound) for m in r.mismatches] == [((0, 0), "rtol"), ((0, 1), "rtol")]
    r = gradcheck.check("sum(z * z)", at={"z": [[1e-12, 3.0]]}, expect=[[1e-9, 6.0001]],
                        atol=1e-10)
    assert [(m.index, m.bound) for m in r.mismatches] == [((0, 0), "atol"), ((0, 1), "rtol")]


def test_a_relative_error_of_1e6_is_caught_in_small_entries_too():
    r = gradcheck.check("sum(z * z)", at={"z": [[1e-5, 3.0]]}, expect=[[2e-5 * (1 + 1e-6), 6]])
    assert [m.index for m in r.mismatches] == [(0, 0)]
    # Float noise in entries that should be 0, as a float64 backward makes it:
    # sum(softmax(x))'s gradient s·(1 - Σs) computed as s - s·Σs.
    x = np.array([[0.1, 0.2, 0.3]])
    s = np.exp(x) / np.exp(x).sum()
    noise = s - s * s.sum()
    assert np.abs(noise).max() > 0
    # Where every entry is 0 there is no scale to tell noise from a mistake:
    # never a FAIL, and no PASS either.
    assert gradcheck.check("sum(softmax(x))", at={"x": x}, expect=noise).verdict == "undecided"
    # Where the row has a scale, noise at the entries that should be 0 passes.
    y = np.array([[0.5, -0.25, 1.0]])
    p = np.exp(x) / np.exp(x).sum()
    vjp = p * (y - (p * y).sum())  # ∂ sum(softmax(x)*y) / ∂x as a float64 backward makes it
    assert gradcheck.check("sum(softmax(x)*y)", wrt="x", at={"x": x, "y": y},
                           expect=vjp).passed
    # ... but 1e-15 where 2·z is exactly 0 is no rounding of this derivative.
    assert gradcheck.check("sum(z * z)", at={"z": [[0.0, 3.0]]},
                           expect=[[1e-15, 6]]).verdict == "fail"


def test_directions_check_the_numeric_engine_on_projections():
    shapes = {"P": (4, 4), "Q": (4, 4)}
    r = gradcheck.check("tanh(P@Q)", shapes=shapes, wrt="P", directions=5)
    d = r["P"].directions
    assert r.passed and r["P"].numeric is None and r["P"].evaluations == 1 + 2 * 5
    assert d.u.shape == (5, 4, 4) and set(np.unique(d.v)) == {-1.0, 1.0}
    full = gradcheck.jacobian("tanh(P@Q)", wrt="P", at=r.point)
    np.testing.assert_allclose(d.exact, np.einsum("kij,ijab,kab->k", d.u, full, d.v))
    np.testing.assert_allclose(d.numeric, d.exact, rtol=1e-13)
    assert str(r).splitlines()[-1] == "PASS: exact and numeric agree along 5 random directions"


def test_directions_still_judge_claims_entry_by_entry():
    r = gradcheck.check("sum(x * x)", at={"x": [[2.0, 1.0]]}, directions=2, expect=[[4, 2.5]])
    assert [(m.kind, m.index) for m in r.mismatches] == [("claim", (0, 1))]


def test_directions_through_a_kink_are_not_judged():
    r = gradcheck.check("sum(relu(x))", at={"x": [[0.0, 1.0]]}, directions=3)
    assert not r["x"].directions.defined.any() and r.verdict == "undecided" and not r.passed
    assert "3 more through a kink not judged" not in str(r)
    assert str(r).splitlines()[-1].startswith("CANNOT JUDGE")


def test_one_wrong_jacobian_entry_shows_along_every_rademacher_direction():
    from gradcheck.compare.comparator import compare_directions

    rng = np.random.default_rng(0)
    J = rng.normal(size=(2, 3, 3, 2))
    wrong = J.copy()
    wrong[1, 2, 0, 1] += 1e-4
    u = rng.choice([-1.0, 1.0], size=(8, 2, 3))
    v = rng.choice([-1.0, 1.0], size=(8, 3, 2))
    proj = np.einsum("kij,ijab,kab->k", u, J, v)
    bad = np.einsum("kij,ijab,kab->k", u, wrong, v)
    scale = np.einsum("kij,ijab,kab->k", abs(u), abs(J), abs(v))
    found = compare_directions(proj, bad, np.full(8, 1e-15), scale, atol=1e-10, rtol=1e-7)
    assert [m.index for m in found] == [(k,) for k in range(8)]


@given(st.data())
def test_at_generated_kink_points_no_mismatch_and_the_kink_is_named(data):
    from gradcheck.strategies import matrices, shapes

    shape = data.draw(shapes(max_side=3))
    x = data.draw(matrices(shape))
    zeros = data.draw(st.lists(st.tuples(st.integers(0, shape[0] - 1),
                                         st.integers(0, shape[1] - 1)), min_size=1))
    for ij in zeros:
        x[ij] = 0.0
    outer = data.draw(st.sampled_from(["tanh", "sin", "exp", "sigmoid"]))
    kink = data.draw(st.sampled_from(["relu", "abs"]))
    expr = f"{outer}({kink}(x) * A + x)"
    a = data.draw(matrices(shape, positive=True))
    r = gradcheck.check(expr, at={"x": x, "A": a}, wrt="x", method=data.draw(
        st.sampled_from(["auto", "richardson", "central"])))
    undefined = r["x"].undefined
    assert r.mismatches == ()
    # No verdict only when no entry was judged (every one at a kink).
    nothing = len(undefined) == r["x"].comparison.entries
    assert r.verdict == ("undecided" if nothing else "pass")
    layout = (lambda i, j: (i, j)) if shape == (1, 1) else (lambda i, j: (i, j, i, j))
    assert {u.index for u in undefined} == {layout(i, j) for i, j in set(zeros)}
    for u in undefined:
        i, j = u.index[-2:]
        assert u.where == f"{kink}(x) at its kink in entry [{i},{j}]"
        assert u.left != u.right


def test_nan_and_inf_are_reported_with_their_entries_never_compared():
    with pytest.raises(gradcheck.DomainError, match="the exact derivative is not finite") as e:
        gradcheck.check("1 / x", at={"x": [[1e-200, 1.0]]})
    assert "∂f[0,0]/∂x[0,0]" in e.value.detail and "-inf" in e.value.detail
    with pytest.raises(gradcheck.ClaimError, match="the claimed derivative is not finite") as e:
        gradcheck.check("sum(x * x)", at={"x": [[1.0, 2.0]]}, expect=[[2.0, np.nan]])
    assert "nan at ∂f/∂x[0,1]" in e.value.detail
    with pytest.raises(gradcheck.OptionError, match="the value of 'x' is not finite") as e:
        gradcheck.check("x", at={"x": [[1.0, np.inf]]})
    assert e.value.detail == "inf at entry [0,1]"


def test_symbolic_work_has_a_time_budget():
    import time

    start = time.monotonic()
    # The pure SymPy reference is where symbolic work is slow.
    with pytest.raises(gradcheck.LimitError, match="longer than the time budget of 0.5 s") as e:
        gradcheck.check("sum(inv(W))", shapes={"W": (6, 6)}, timeout=0.5, engine="sympy")
    assert time.monotonic() - start < 5
    assert "--timeout" in e.value.hint
    with pytest.raises(gradcheck.LimitError):
        gradcheck.derivative("sum(inv(W))", wrt="W", shapes={"W": (6, 6)}, timeout=0.5)
    with pytest.raises(gradcheck.OptionError, match="timeout must be"):
        gradcheck.check("x", at={"x": 1.0}, timeout=0)
    assert gradcheck.check("sum(inv(W))", shapes={"W": (2, 2)}, timeout=30).passed


def test_huge_exact_powers_are_refused_at_once():
    with pytest.raises(gradcheck.LimitError, match="exponent too large for exact arithmetic"):
        gradcheck.check("sum(x)", at={"x": "3**30000000"})
    assert gradcheck.check("x**3", at={"x": 2.0}).passed


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"at": [("x", 1)]}, "at must be a mapping of names"),
    ({"shapes": [("x", (1, 1))]}, "shapes must be a mapping of names"),
    ({"at": {"x": [[1.0]]}, "wrt": 1}, "wrt must be a variable name or a list of names"),
    ({"at": {"x": [[1.0]]}, "wrt": b"x"}, "wrt must be a variable name or a list of names"),
    ({"at": {"x": 10**400}}, "the value of 'x' is not finite in float64"),
    ({"at": {"x": sympy.Matrix(0, 0, [])}}, "the value of 'x' has shape (0, 0)"),
    ({"at": {"x": [[True]]}}, "the value of 'x' is boolean"),
])
def test_bad_arguments_are_one_option_error(kwargs, message):
    with pytest.raises(gradcheck.OptionError, match=re.escape(message)):
        gradcheck.check("sum(x*x)", **kwargs)


def test_names_with_two_leading_underscores_are_refused():
    with pytest.raises(gradcheck.ParseError, match="unknown name '__class__'"):
        gradcheck.check("sum(__class__)", at={"__class__": [[1.0]]})
    assert gradcheck.check("sum(x*x)", at={"x": [[1.0]]}, wrt=(n for n in ["x"])).passed


def test_ragged_and_complex_values_are_one_option_error():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning before the error
        with pytest.raises(gradcheck.OptionError, match="not a real matrix"):
            gradcheck.check("sum(x*x)", at={"x": [[1, 2], [3]]})
        with pytest.raises(gradcheck.OptionError, match="is complex"):
            gradcheck.check("sum(x*x)", at={"x": np.array([[1 + 1j]])})


def test_too_many_directions_are_refused_before_any_work():
    with pytest.raises(gradcheck.OptionError, match="more than 10000"):
        gradcheck.check("sum(x*x)", shapes={"x": (2, 2)}, directions=100_000_000)


def test_a_float32_claim_is_judged_to_its_own_precision():
    x = np.array([[0.3, -1.7], [2.2, 0.9]], np.float32)
    right = gradcheck.check("sum(exp(x))", at={"x": x},
                            expect=lambda x: np.exp(x.astype(np.float32)))
    assert right.verdict == "pass"
    wrong = gradcheck.check("sum(exp(x))", at={"x": x},
                            expect=lambda x: np.exp(x.astype(np.float32)) * np.float32(1.001))
    assert wrong.verdict == "fail"

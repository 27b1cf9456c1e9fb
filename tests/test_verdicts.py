"""Never a wrong verdict (issue 16): each command the issue lists, as it is typed.

Exit codes: 0 pass, 1 fail, 2 rejected input, 3 no verdict (cannot judge).
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcheck
from gradcheck.cli import main
from gradcheck.errors import ClaimError
from gradcheck.exact import balls, symbolic


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", *args])
    return result.exit_code, result.output


# ----- false passes: a wrong claim must never pass -----

def test_ill_conditioned_inverse_does_not_swallow_a_zero_claim() -> None:
    code, out = run("sum(inv(W))", "--let", "W=ones(30,30)+eye(30)/1024",
                    "--expect", "zeros(30,30)")
    assert code == 1, out
    assert "FAIL" in out.splitlines()[-1]


@pytest.mark.parametrize("claim", ["-(-inv(W).T@ones(40,40)@inv(W).T)",
                                   "1000*(-inv(W).T@ones(40,40)@inv(W).T)",
                                   "12345*ones(40,40)"])
def test_nearly_singular_inverse_rejects_wrong_claims(claim: str) -> None:
    code, out = run("sum(inv(W))", "--let", "W=ones(40,40)+eye(40)/2**34", "--expect", claim)
    assert code == 1, out


def test_nearly_singular_inverse_passes_the_right_claim() -> None:
    code, out = run("sum(inv(W))", "--let", "W=ones(40,40)+eye(40)/2**34",
                    "--expect", "-inv(W).T@ones(40,40)@inv(W).T")
    assert code == 0, out


def test_condition_1e10_catches_a_claim_one_percent_off() -> None:
    rng = np.random.default_rng(3)
    u, _, vt = np.linalg.svd(rng.standard_normal((40, 40)))
    w = u @ np.diag(np.logspace(0, -10, 40)) @ vt
    assert 1e9 < np.linalg.cond(w) < 1e11
    at = {"W": w}
    right = -np.linalg.inv(w).T @ np.ones((40, 40)) @ np.linalg.inv(w).T
    wrong = gradcheck.check("sum(inv(W))", at=at, expect="1.01*(-inv(W).T@ones(40,40)@inv(W).T)")
    assert wrong.verdict == "fail"
    assert gradcheck.check("sum(inv(W))", at=at,
                           expect="-inv(W).T@ones(40,40)@inv(W).T").verdict == "pass"
    # Computed in float64 by the user, the claim may round by more than 1% here
    # (as far as a bound can tell): never a pass, right or wrong, and never a
    # fail for the right one.
    assert gradcheck.check("sum(inv(W))", at=at, expect=right).verdict in ("pass", "undecided")
    assert gradcheck.check("sum(inv(W))", at=at, expect=1.01 * right).verdict in (
        "fail", "undecided")
    assert gradcheck.check("sum(inv(W))", at=at, expect=2 * right).verdict == "fail"


def test_complex_claims_are_refused() -> None:
    with pytest.raises(ClaimError, match="complex"):
        gradcheck.check("sum(x*x)", at={"x": [[1.0, 2.0]]}, expect=np.array([[2 + 1j, 4]]))
    with pytest.raises(ClaimError, match="complex"):
        gradcheck.check("sum(x*x)", at={"x": [[1.0, 2.0]]},
                        expect=lambda x: (2 * x).astype(complex))


def test_nothing_judged_is_no_verdict() -> None:
    code, out = run("sum(relu(x))", "--let", "x=zeros(2,2)", "--expect", "123*ones(2,2)")
    assert code == 3, out
    assert out.splitlines()[-1].startswith("CANNOT JUDGE")
    r = gradcheck.check("sum(relu(x))", at={"x": np.zeros((2, 2))}, expect="123*ones(2,2)")
    assert r.verdict == "undecided" and r.passed is False


def test_rounding_floor_is_per_entry() -> None:
    code, out = run("sum(x*x)", "--let", "x=[[1e6, 1e-7]]", "--expect", "[[2e6, 0]]")
    assert code == 1, out
    assert gradcheck.check("sum(x*x)", at={"x": [[1e6, 1e-7]]},
                           expect=np.array([[2e6, 0.0]])).verdict == "fail"
    assert gradcheck.check("sum(x*x)", at={"x": [[1e6, 1e-7]]},
                           expect=np.array([[2e6, 2e-7]])).verdict == "pass"


# ----- false fails: a right claim, or a correct f, must never fail -----

@pytest.mark.parametrize(("expr", "at", "claim"), [
    ("sum(tanh(x))", "x=[[200]]", "4*exp(-2*x)"),
    ("sum(sigmoid(x))", "x=[[400]]", "sigmoid(x)*(1-sigmoid(x))"),
    ("sum(sigmoid(x))", "x=[[-350]]", "sigmoid(x)*(1-sigmoid(x))"),
    ("sum(sin(x)/x)", "x=[[1e-100]]", "-x/3"),
    ("sum(softmax(x))", "x=1x3", "zeros(1,3)"),
    ("sum(σ(x) + σ(-x))", "x=1x3", "zeros(1,3)"),
    ("sum(relu(x@x))", "x=zeros(50,50)", "zeros(50,50)"),
    ("sum(abs(x@x))", "x=zeros(50,50)", "zeros(50,50)"),
])
def test_right_claims_pass(expr: str, at: str, claim: str) -> None:
    code, out = run(expr, "--let", at, "--expect", claim)
    assert code == 0, out


def test_exact_values_are_right_to_the_last_digit() -> None:
    r = gradcheck.check("sum(tanh(x))", at={"x": [[200]]})
    assert r.exact[0, 0] == pytest.approx(7.660678386856023e-174, rel=1e-15)
    r = gradcheck.check("sum(sin(x)/x)", at={"x": [[1e-100]]})
    assert r.exact[0, 0] == pytest.approx(-1e-100 / 3, rel=1e-15)
    assert gradcheck.check("sum(softmax(x))", shapes={"x": (1, 3)}).exact.tolist() == [
        [0.0, 0.0, 0.0]]


@pytest.mark.parametrize(("expr", "at", "method"), [
    ("sum((exp(x)-1)/x)", "x=[[1e-8]]", "auto"),
    ("sum((1-cos(x))/x**2)", "x=[[1e-3]]", "auto"),
    ("sum(log(x))", "x=[[1e-300]]", "auto"),
    ("norm(x)", "x=[[1e-300,1e-300]]", "auto"),
    ("sum(x*x)", "x=[[1e-300,1e-300]]", "auto"),
])
def test_numeric_bounds_hold_on_a_correct_f(expr: str, at: str, method: str) -> None:
    code, out = run(expr, "--let", at, "--method", method)
    assert code == 0, out


def test_log_at_1e_300_is_estimated_with_a_relative_step() -> None:
    r = gradcheck.check("sum(log(x))", at={"x": [[1e-300]]})
    assert r.numeric[0, 0] == pytest.approx(1e300, rel=1e-10)


def test_a_nan_bound_is_no_verdict_not_a_failure() -> None:
    code, out = run("sum(exp(x))", "--let", "x=[[709.7]]", "--method", "central")
    assert code in (0, 3), out
    assert "FAIL" not in out


# ----- the certified numbers themselves -----

def test_certify_raises_precision_until_converged() -> None:
    import sympy
    x = sympy.Rational(200)
    values, errors = balls.certify([1 - sympy.tanh(x) ** 2])
    assert values[0] == pytest.approx(7.660678386856023e-174, rel=1e-15) and errors[0] == 0


def test_not_a_number_stays_nan() -> None:
    import sympy
    values, errors = symbolic.certified(sympy.Matrix([[sympy.DiracDelta(0), 1]]))
    assert np.isnan(values[0, 0]) and values[0, 1] == 1.0


# ----- properties: right claims never fail, wrong claims never pass -----

_OPS = ("add", "sub", "mul", "matmul", "neg", "transpose", "exp", "sin", "tanh", "sigmoid",
        "softplus", "sum", "softmax", "div", "log", "relu", "abs", "inv", "det")


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_generated_claims_are_judged_right(data: st.DataObject) -> None:
    from gradcheck.strategies import expressions, points

    e = data.draw(expressions(ops=_OPS, max_depth=3, max_side=3, max_variables=2))
    point = data.draw(points(e, away_from_kinks=1e-3))
    text = f"sum({e.text})"
    name = sorted(e.shapes)[0]
    try:
        truth = gradcheck.check(text, wrt=name, at=point)
    except gradcheck.GradcheckError:
        return  # refused with a reason (a domain or a limit): no verdict to judge
    assert truth.verdict != "fail", str(truth)
    t = np.asarray(truth.exact, dtype=float)
    assert gradcheck.check(text, wrt=name, at=point, expect=t).verdict != "fail"
    scale = float(np.abs(t).max())
    if scale == 0 or not np.isfinite(scale):
        return
    delta = data.draw(st.sampled_from([1e-6, 1e-4, 1e-2, 1.0]))
    wrong = t.copy()
    k = data.draw(st.integers(0, t.size - 1))
    entry = np.unravel_index(k, t.shape)
    wrong[entry] += delta * max(abs(float(t[entry])), 1e-3 * scale) * data.draw(
        st.sampled_from([1.0, -1.0]))
    if abs(float(wrong[entry] - t[entry])) <= 2e-6 * abs(float(t[entry])):
        return  # lost to rounding: not really wrong at rtol 1e-7
    assert gradcheck.check(text, wrt=name, at=point, expect=wrong).verdict != "pass"


# ----- found by bench/truth.py -----

def test_an_all_zero_gradient_does_not_pass_any_array_claim() -> None:
    assert gradcheck.check("sum(abs(x)*x)", wrt="x", at={"x": [[0.0]]},
                           expect=[[0.9]]).verdict == "fail"
    assert gradcheck.check("sum(abs(x)*x)", wrt="x", at={"x": [[0.0]]},
                           expect=[[0.0]]).verdict == "pass"
    rank_one = {"x": [[0.2849248354047724]], "a": [[-1.25], [-0.9375]], "b": [[1.0625, -0.875]]}
    assert gradcheck.check("det(a@x@b)", wrt="x", at=rank_one, expect=[[0.5]]).verdict != "pass"


def test_claims_at_a_singular_matrix() -> None:
    at = {"x": [[1, 2], [2, 4]]}
    assert gradcheck.check("det(x)", wrt="x", at=at, expect=[[4, -2], [-2, 1]]).verdict == "pass"
    assert gradcheck.check("det(x)", wrt="x", at=at, expect=[[4, -2], [-2, 2]]).verdict == "fail"
    with pytest.raises(ClaimError, match="undefined at this point"):
        gradcheck.check("det(x)", wrt="x", at=at, expect="det(x)*inv(x).T")


def test_logdet_of_an_ill_conditioned_matrix_passes_its_right_claim() -> None:
    rng = np.random.default_rng(5)
    u, _, _ = np.linalg.svd(rng.standard_normal((9, 9)))
    spd = u @ np.diag(np.logspace(0, -10.5, 9)) @ u.T  # condition about 3e10
    assert 1e10 < np.linalg.cond(spd) < 1e11
    assert gradcheck.check("logdet(W)", at={"W": spd}).verdict != "fail"
    assert gradcheck.check("logdet(W)", at={"W": spd}, expect="inv(W).T").verdict == "pass"
    assert gradcheck.check("logdet(W)", at={"W": spd}, expect="-inv(W).T").verdict == "fail"


def test_a_point_beside_a_kink_is_not_refused() -> None:
    r = gradcheck.check("sum(relu(x))", wrt="x", at={"x": [[0.0, 1e-20]]})
    assert r.verdict == "pass" and r.numeric[0, 1] == 1.0
    assert [u.index for u in r["x"].undefined] == [(0, 0)]


# ----- silent misreadings (issue 17) -----

def test_indexing_is_refused_not_read_as_a_product() -> None:
    code, out = run("z[0,0]", "--let", "z=3x2")
    assert code == 2 and "indexing such as z[0,0] is not part of the language" in out
    assert run("sum(z*[[1,2]])", "--let", "z=3x2")[0] == 0


def test_a_1d_value_says_how_it_was_read() -> None:
    r = gradcheck.check("x.T@x", at={"x": [1.0, 2.0, 3.0]})
    assert r.shapes["x"] == (1, 3) and r.rows == ("x",)
    assert "x was given 1-D: read as a 1×3 row vector" in str(r)
    assert gradcheck.check("x.T@x", at={"x": [[1.0, 2.0, 3.0]]}).rows == ()


def test_a_singular_matrix_inside_f_does_not_crash_the_certification() -> None:
    at = {"x": [[-0.5304522942363665]], "c0": [[0.5625], [-2.625]], "c1": [[0.25, -0.625]],
          "c2": [[-0.125, 0.8125]], "c3": [[-0.125], [-1.6875]]}
    f = "sum(((det((c0@x@c1))*(x.T@c2))@softmax((c3@x.T))))"  # det of a rank-1 matrix: 0
    assert gradcheck.check(f, wrt="x", at=at, expect=np.zeros((1, 1))).verdict == "pass"
    assert gradcheck.check(f, wrt="x", at=at, expect=[[0.5]]).verdict != "pass"
    assert gradcheck.check(f, wrt="x", at=at, expect="zeros(1,1)").verdict == "pass"
    assert gradcheck.check(f, wrt="x", at=at, expect="0.5*ones(1,1)").verdict == "fail"


def test_a_claim_is_judged_where_the_numeric_bound_is_not_a_number() -> None:
    code, out = run("sum(exp(x))", "--let", "x=[[709.7]]", "--method", "central",
                    "--expect", "exp(x)")
    assert code == 0 and "the numeric estimate could not confirm 1 entry" in out
    code, _ = run("sum(exp(x))", "--let", "x=[[709.7]]", "--method", "central",
                  "--expect", "exp(x)*1.001")
    assert code == 1

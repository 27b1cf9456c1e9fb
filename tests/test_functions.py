"""check_function: hand-written backward passes against finite differences
and against the exact derivative of an expression."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradcheck
from gradcheck.strategies import matrices


def dense(x, W, b):
    return 1 / (1 + np.exp(-(x @ W + b)))


def dense_backward(g, x, W, b):
    s = dense(x, W, b)
    d = g * s * (1 - s)
    return {"x": d @ W.T, "W": x.T @ d, "b": d.sum(axis=0)}


RNG = np.random.default_rng(3)
AT = {"x": RNG.normal(size=(3, 2)), "W": RNG.normal(size=(2, 2)), "b": RNG.normal(size=2)}


@pytest.mark.parametrize("expr", [None, "σ(x·W + b)"])
def test_a_correct_dense_layer_passes(expr):
    r = gradcheck.check_function(dense, dense_backward, at=AT, expr=expr)
    assert r.passed, str(r)
    assert r.inputs == {"x": (3, 2), "W": (2, 2), "b": (2,)} and r.output_shape == (3, 2)
    # One central step per entry, refined only where a comparison needs it:
    # right to about 1e-10 here, far inside rtol 1e-7.
    assert max(r.max_error.values()) < 1e-9


# name, backward with one bug, the input whose gradient is wrong
BUGS = [
    ("missing transpose", lambda g, x, W, b: {**dense_backward(g, x, W, b),
                                              "x": (g * dense(x, W, b) * (1 - dense(x, W, b)))
                                              @ W},  # d @ W.T is right
     "x"),
    ("σ for σ'", lambda g, x, W, b: {**dense_backward(g, x, W, b),
                                     "W": x.T @ (g * dense(x, W, b))}, "W"),
    ("bias not summed over rows", lambda g, x, W, b: {**dense_backward(g, x, W, b),
                                                      "b": (g * dense(x, W, b)
                                                            * (1 - dense(x, W, b)))[0]}, "b"),
]


@pytest.mark.parametrize(("name", "backward", "wrong"), BUGS, ids=[b[0] for b in BUGS])
@pytest.mark.parametrize("expr", [None, "σ(x·W + b)"])
def test_planted_bugs_are_caught_at_the_right_input(name, backward, wrong, expr):
    r = gradcheck.check_function(dense, backward, at=AT, expr=expr)
    assert not r.passed
    assert {m.variable for m in r.mismatches} == {wrong}
    assert {m.upstream for m in r.mismatches} == {0, 1, 2}
    assert f"backward is wrong for {wrong}" in str(r)


def test_forward_that_differs_from_the_expression_is_reported():
    r = gradcheck.check_function(lambda x: x * 2.0001, lambda g, x: 2 * g, at={"x": [[1.0]]},
                                 expr="2x")
    assert [(m.kind, m.index) for m in r.mismatches if m.kind == "forward"] == [("forward",
                                                                                  (0, 0))]


def test_backward_may_return_a_tuple_or_one_array():
    at = {"x": [[1.0, 2.0]], "y": [[3.0, -1.0]]}
    r = gradcheck.check_function(lambda x, y: x * y, lambda g, x, y: (g * y, g * x), at=at)
    assert r.passed
    r = gradcheck.check_function(lambda x, y: x * y, lambda g, x, y: g * y, at=at, wrt="x")
    assert r.passed and list(r.inputs) == ["x"]


def test_a_mask_fixes_the_zeros_of_a_structured_weight():
    # The notes' sparse W: w1 w2 w3 / w4 - - / - - w6, with fixed zeros.
    mask = np.array([[1, 1, 1], [1, 0, 0], [0, 0, 1]], dtype=bool)
    W = np.where(mask, np.array([[0.5, -1.0, 0.25], [2.0, 0, 0], [0, 0, 1.5]]), 0.0)
    x = np.array([[1.0, -0.5, 2.0]])

    def backward(g, x, W):  # does not bother to zero the fixed entries
        return {"x": g @ W.T, "W": x.T @ g}

    r = gradcheck.check_function(lambda x, W: x @ W, backward, at={"x": x, "W": W},
                                 mask={"W": mask})
    assert r.passed
    calls_per_free_entry = 6
    assert r.evaluations < (1 + 3 * 2 * calls_per_free_entry) + (1 + 9 * 4 * calls_per_free_entry)


def test_assert_function_raises_with_the_report():
    with pytest.raises(gradcheck.GradientMismatch) as info:
        gradcheck.assert_function(dense, BUGS[1][1], at=AT)
    assert isinstance(info.value, AssertionError) and "∂/∂W[" in str(info.value)
    assert gradcheck.assert_function(dense, dense_backward, at=AT).passed


BAD = [
    (dict(backward=lambda g, x: {"y": g}), gradcheck.ClaimError, "no gradient for 'x'"),
    (dict(backward=lambda g, x: g[:, :1]), gradcheck.ClaimError, "has shape (1, 1)"),
    (dict(backward=lambda g, x: (g, g)), gradcheck.ClaimError, "2 gradients for 1 inputs"),
    (dict(wrt="q"), gradcheck.OptionError, "'q' is not one of the inputs"),
    (dict(mask={"x": [True]}), gradcheck.OptionError, "mask of 'x' has shape"),
    (dict(upstreams=0), gradcheck.OptionError, "upstreams"),
    (dict(at={"x": [[np.nan, 1.0]]}), gradcheck.OptionError, "not finite"),
    (dict(expr="sum(x)"), gradcheck.ClaimError, "forward returns shape (1, 2)"),
]


@pytest.mark.parametrize(("kwargs", "cls", "fragment"), BAD, ids=[b[2] for b in BAD])
def test_bad_calls_raise_one_clear_error(kwargs, cls, fragment):
    call = {"at": {"x": [[1.0, 2.0]]}, "backward": lambda g, x: 2 * g * x, **kwargs}
    with pytest.raises(cls, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        gradcheck.check_function(lambda x: x * x, **call)


@given(matrices((2, 3)), matrices((3, 2)), st.sampled_from(["tanh", "sin", "exp"]))
def test_elementwise_layers_agree_with_their_expression(x, W, fn):
    f = getattr(np, fn)
    deriv = {"tanh": lambda z: 1 - np.tanh(z) ** 2, "sin": np.cos, "exp": np.exp}[fn]

    def backward(g, x, W):
        d = g * deriv(x @ W)
        return {"x": d @ W.T, "W": x.T @ d}

    r = gradcheck.check_function(lambda x, W: f(x @ W), backward, at={"x": x, "W": W},
                                 expr=f"{fn}(x @ W)")
    assert r.passed, str(r)


def test_upstream_k_does_not_depend_on_how_many_there_are():
    seen = []

    def backward(g, x):
        seen.append(g.copy())
        return 2 * g * x

    for n in (1, 3):
        gradcheck.check_function(lambda x: x * x, backward, at={"x": [[1.0, 2.0]]}, upstreams=n)
    assert (seen[0] == seen[1]).all()


def test_an_expression_without_a_checked_input_is_refused_before_running_user_code():
    def forward(x, y):
        raise AssertionError("must not run")

    with pytest.raises(gradcheck.OptionError, match="does not use the input 'y'") as info:
        gradcheck.check_function(forward, forward, at={"x": [[1.0]], "y": [[2.0]]}, expr="2x")
    assert "wrt=['x']" in info.value.hint


def test_a_kink_inside_forward_is_not_called_a_wrong_backward():
    def forward(x):
        return np.maximum(x, 0.0)

    def backward(g, x):
        return g * (x > 0)  # relu'(0) = 0: a valid choice at the kink

    r = gradcheck.check_function(forward, backward, at={"x": [[0.0, 1.5, -2.0]]})
    assert r.passed and r.kinks == (("x", (0, 0)),)
    assert "not differentiable at this point along x[0,0]" in str(r)
    wrong = gradcheck.check_function(forward, lambda g, x: g, at={"x": [[0.0, 1.5, -2.0]]})
    assert [(m.variable, m.index) for m in wrong.mismatches] == [("x", (0, 2))] * 3


# ----- issue 17: crashes and wrong verdicts on users' own code -----

def test_a_kink_in_one_input_does_not_index_another_inputs_mask():
    relu = lambda a: np.maximum(a, 0)  # noqa: E731
    at = {"x": np.array([[1.0, 0.25]]), "W": np.array([[1.0, 0.5], [0.5, 1.0]]),
          "b": np.array([-1.125, 0.5])}

    def back(u, x, W, b):
        m = (x @ W + b > 0) * u
        return {"x": m @ W.T, "W": x.T @ m, "b": m.sum(0)}

    r = gradcheck.check_function(lambda x, W, b: relu(x @ W + b), back, at=at)
    assert r.passed and ("b", (0,)) in r.kinks and ("x", (0, 0)) in r.kinks


def test_a_forward_that_is_not_deterministic_is_not_judged():
    rng = np.random.default_rng(0)
    with pytest.raises(gradcheck.FunctionError, match="not deterministic"):
        gradcheck.check_function(
            lambda x, W: np.tanh(x @ W) + 1e-6 * rng.standard_normal((1, 2)),
            lambda u, x, W: {"x": 0 * x, "W": 0 * W}, at={"x": [[1.0, 2.0]], "W": np.eye(2)})


def test_a_forward_that_overflows_is_named_not_blamed_on_backward():
    with np.errstate(over="ignore"), pytest.raises(gradcheck.FunctionError,
                                                   match="forward is not finite"):
        gradcheck.check_function(lambda x: x * x, lambda u, x: 2 * x * u, at={"x": [[1e200]]})


@pytest.mark.parametrize("rtol", [np.inf, np.nan, -1.0])
def test_check_function_validates_its_tolerances(rtol):
    with pytest.raises(gradcheck.OptionError, match="rtol must be a finite number"):
        gradcheck.check_function(lambda x: x * x, lambda u, x: 0 * x, at={"x": [[1.0]]},
                                 rtol=rtol)


def test_complex_gradients_from_backward_are_refused():
    with pytest.raises(gradcheck.ClaimError, match="complex"):
        gradcheck.check_function(lambda x: x * x, lambda u, x: (2 * x * u).astype(complex),
                                 at={"x": [[1.0, 2.0]]})


def _tanh_layer(x, W, b):
    return np.tanh(x @ W + b)


def _tanh_back(u, x, W, b, factor=1.0):
    g = u * (1 - np.tanh(x @ W + b) ** 2)
    return {"x": g @ W.T, "W": factor * (x.T @ g), "b": g.sum(0)}


def test_float32_code_is_judged_at_float32():
    rng = np.random.default_rng(0)
    at = {"x": rng.standard_normal((8, 6)).astype(np.float32),
          "W": (rng.standard_normal((6, 4)) / 2).astype(np.float32),
          "b": rng.standard_normal(4).astype(np.float32)}
    right = gradcheck.check_function(_tanh_layer, _tanh_back, at=at)
    assert right.passed and right.precision == "float32"
    assert "judged at float32 precision" in str(right)
    wrong = gradcheck.check_function(
        _tanh_layer, lambda u, x, W, b: _tanh_back(u, x, W, b, 1.001), at=at)
    assert wrong.verdict == "fail" and {m.variable for m in wrong.mismatches} == {"W"}


def test_integer_labels_pass_through_and_are_not_differentiated():
    rng = np.random.default_rng(1)
    x, W, y = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.integers(0, 4, 5)

    def softmax(x, W):
        z = x @ W
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    def loss(x, W, y):
        return -np.log(softmax(x, W)[np.arange(len(y)), y]).sum(keepdims=True)

    def back(u, x, W, y):
        p = softmax(x, W)
        p[np.arange(len(y)), y] -= 1
        return {"x": u * p @ W.T, "W": x.T @ (u * p)}

    r = gradcheck.check_function(loss, back, at={"x": x, "W": W, "y": y})
    assert r.passed and set(r.inputs) == {"x", "W"}


def test_a_layer_at_real_size_is_checked_by_groups():
    rng = np.random.default_rng(0)
    at = {"x": rng.standard_normal((16, 32)), "W": rng.standard_normal((32, 16)) / np.sqrt(32),
          "b": rng.standard_normal(16)}
    r = gradcheck.check_function(_tanh_layer, _tanh_back, at=at)
    assert r.passed
    entries = 16 * 32 + 32 * 16 + 16
    assert r.evaluations < 2 * entries  # one probe per entry, then a stencil per group
    wrong = gradcheck.check_function(
        _tanh_layer, lambda u, x, W, b: {**_tanh_back(u, x, W, b), "b": np.zeros(16)}, at=at)
    assert {m.variable for m in wrong.mismatches} == {"b"}


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"method": "bogus"}, gradcheck.OptionError, "unknown method 'bogus'"),
    ({"seed": -1}, gradcheck.OptionError, "seed must be a whole number >= 0"),
    ({"at": [("x", np.ones((2, 2)))]}, gradcheck.OptionError, "at must be a mapping"),
    ({"wrt": 1}, gradcheck.OptionError, "wrt must be an input name or a list of names"),
    ({"forward": lambda x: None}, gradcheck.FunctionError, "forward returned None"),
])
def test_bad_arguments_to_check_function_are_one_error(kwargs, error, message):
    args = {"forward": np.tanh, "backward": lambda g, x: {"x": g * (1 - np.tanh(x) ** 2)},
            "at": {"x": np.ones((2, 2))}, **kwargs}
    with pytest.raises(error, match=message):
        gradcheck.check_function(args.pop("forward"), args.pop("backward"), **args)


@pytest.mark.parametrize("distance", [1e-5, -1e-5, 1e-6])
def test_a_relu_pre_activation_just_beside_the_kink_is_no_false_alarm(distance):
    """Every central difference straddles a kink 1e-5 away alike, so their
    agreement hid it and a right backward failed; the kink now shows in the
    bound, and smaller steps find the true slope."""
    def forward(x, W, b):
        return np.maximum(x @ W + b, 0)

    def backward(g, x, W, b, wrong=False):
        m = (x @ W + b > 0) * g
        return {"x": m @ W.T, "W": x.T @ (g if wrong else m), "b": m.sum(0)}

    x = np.array([[1.0, 0.5, -0.25], [0.3, -0.7, 0.9]])
    W = np.array([[0.5, -0.25], [0.75, 0.5], [-0.5, 1.0]])
    b = np.array([distance - (x @ W)[0, 0], 0.1])
    at = {"x": x, "W": W, "b": b}
    assert gradcheck.check_function(forward, backward, at=at).verdict == "pass"
    wrong = gradcheck.check_function(forward, lambda g, **v: backward(g, **v, wrong=True), at=at)
    assert wrong.verdict == "fail"

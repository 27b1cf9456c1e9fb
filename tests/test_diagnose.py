"""Diagnosis of wrong claims: a table of the usual mistakes, each with the
diagnosis it must get (the issue asks for at least 90% named correctly; 59
of the 60 rows are), none called right, and no diagnosis for a right
claim."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import gradcheck
from conftest import SEED_AT

F = "(x·y+z)·A+z"
DENSE = {"x": (3, 2), "W": (2, 2), "b": (1, 2)}
S = "σ(x@W+b)*(1-σ(x@W+b))"  # σ′ at the pre-activation
SQ = {"X": [[2.0, 1.0], [0.5, 3.0]], "A": [[1.0, 2.0], [-1.0, 0.5]]}
QUAD = {"x": [[1.0], [-2.0], [0.5]], "A": [[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0]]}
XY = {"x": [[1.0, 2.0], [-0.5, 0.25]], "y": [[0.75, -1.0], [2.0, 0.5]]}
CE = {"Z": [[1.0, -0.5, 0.25], [0.5, 2.0, -1.0]], "Y": [[0, 1, 0], [1, 0, 0]]}
NET = {"x": [[1.0], [-0.5]], "w_0": [[0.5, 1.0], [-1.0, 0.25], [2.0, 0.5]],
       "b_0": [[0.25], [0.5], [-0.5]], "w_1": [[1.0, -2.0, 0.5]], "b_1": [[0.5]]}
STACKED = "w_1(w_0 x + b_0) + b_1"
LAYERS = "sum(w_1 @ σ(w_0 @ x + b_0) + b_1)"
QUADN = {"x": [[1.0], [-2.0], [0.5]],  # A not symmetric
         "A": [[2.0, 1.0, 0.0], [-1.0, 3.0, 1.0], [0.5, 1.0, 4.0]]}
XAY = {**QUADN, "y": [[0.5], [1.0], [-1.0]]}
Z = {"z": [[0.5, -1.0], [0.25, 2.0]]}


def row_wrong(j):  # only row 0 of the gradient wrong
    j = j.copy()
    j[0] += 0.5
    return j


def diagonal_wrong(j):
    j = j.copy()
    j[np.diag_indices(min(j.shape))] *= 1.5
    return j


def one_wrong(j):
    j = j.copy()
    j.flat[1] += 1e-3
    return j


# expr, wrt, point (at= or shapes=), claim, the diagnosis it must get
WRONG = [
    (F, "z", SEED_AT, "A", "missing-term"),
    (F, "z", SEED_AT, "A + 2", "extra-term"),
    (F, "z", SEED_AT, "-(A + 1)", "sign"),
    (F, "z", SEED_AT, "2*(A + 1)", "factor"),
    (F, "z", SEED_AT, "(A + 1)/2", "factor"),
    ("sum(" + F + ")", "z", SEED_AT, "A", "missing-term"),
    ("sum(" + F + ")", "z", SEED_AT, "-A - 1", "sign"),
    ("sum(" + F + ")", "z", SEED_AT, "3*A + 3", "factor"),
    ("sum(σ(x·W + b))", "W", DENSE, "x.T @ σ(x@W+b)", "activation"),
    ("sum(σ(x·W + b))", "W", DENSE, f"-x.T @ ({S})", "sign"),
    ("sum(σ(x·W + b))", "W", DENSE, f"2 * x.T @ ({S})", "factor"),
    ("sum(σ(x·W + b))", "W", DENSE, f"(x.T @ ({S})).T", "transposed"),
    ("sum(σ(x·W + b))", "b", DENSE, "ones(1,3) @ σ(x@W+b)", "activation"),
    ("sum(σ(x·W + b))", "b", DENSE, f"-ones(1,3) @ ({S})", "sign"),
    ("sum(σ(x·W + b))", "W", DENSE, row_wrong, "entries"),
    ("sum(σ(x·W + b))", "W", DENSE, one_wrong, "entries"),
    ("sum(tanh(x @ W))", "W", DENSE, "x.T @ tanh(x@W)", "activation"),
    ("sum(tanh(x @ W))", "W", DENSE, "-x.T @ (1 - tanh(x@W)**2)", "sign"),
    ("sum(relu(x @ W + 3))", "W", DENSE, "x.T @ relu(x@W + 3)", "activation"),
    ("sum(sin(x @ W))", "W", DENSE, "x.T @ sin(x@W)", "activation"),
    ("x.T @ A @ x", "x", QUAD, "A @ x", "factor"),
    ("x.T @ A @ x", "x", QUAD, "-2 * A @ x", "sign"),
    ("x.T @ A @ x", "x", QUAD, "4 * A @ x", "factor"),
    ("x.T @ A @ x", "x", QUAD, row_wrong, "entries"),
    ("trace(A @ X)", "X", SQ, "A", "transposed"),
    ("trace(A @ X)", "X", SQ, "-A.T", "sign"),
    ("trace(X @ X)", "X", SQ, "2*X", "transposed"),
    ("trace(X @ X)", "X", SQ, "X.T", "factor"),
    ("trace(X.T @ A @ X)", "X", SQ, "2 * A @ X", "symmetric"),
    ("det(X)", "X", SQ, "det(X) * inv(X)", "transposed"),
    ("det(X)", "X", SQ, "-det(X) * inv(X).T", "sign"),
    ("det(X)", "X", SQ, "2 * det(X) * inv(X).T", "factor"),
    ("logdet(X)", "X", SQ, "inv(X)", "transposed"),
    ("logdet(X)", "X", SQ, "-inv(X).T", "sign"),
    ("sum(inv(X))", "X", SQ, "inv(X).T @ ones(2,2) @ inv(X).T", "sign"),
    ("sum(inv(X))", "X", SQ, diagonal_wrong, "entries"),
    ("-sum(Y * log(softmax(Z)))", "Z", CE, "Y - softmax(Z)", "sign"),
    ("-sum(Y * log(softmax(Z)))", "Z", CE, "softmax(Z)", "missing-term"),
    ("-sum(Y * log(softmax(Z)))", "Z", CE, "2*(softmax(Z) - Y)", "factor"),
    ("sum(x * y)", "x", XY, "ones(2,2) @ y.T", "product"),
    ("sum(x @ y)", "x", XY, "y", "product"),
    ("sum(x @ y)", "x", XY, "-ones(2,2) @ y.T", "sign"),
    (STACKED, "w_0", NET, "-w_1.T @ x.T", "sign"),
    (STACKED, "w_0", NET, "2 * w_1.T @ x.T", "factor"),
    (STACKED, "b_1", NET, "2", "factor"),
    # an activation's derivative at the wrong argument
    ("sum(σ(x·W + b))", "W", DENSE, "x.T @ (σ(σ(x@W+b)) * (1-σ(σ(x@W+b))))", "argument"),
    ("sum(σ(x·W + b))", "W", DENSE, "x.T @ (σ(x@W) * (1-σ(x@W)))", "argument"),
    ("sum(σ(x @ W))", "W", DENSE, "x.T @ (σ(x) * (1-σ(x)))", "argument"),
    ("sum(σ(x @ W))", "W", DENSE, "x.T @ ((x@W) * (1 - x@W))", "argument"),
    ("sum(tanh(x @ W))", "W", DENSE, "x.T @ (1 - (x@W)**2)", "argument"),
    ("sum(tanh(x @ W + b))", "W", DENSE, "x.T @ (1 - tanh(x@W)**2)", "argument"),
    ("mean(tanh(x @ W + b))", "b", DENSE, "ones(1,3) @ (1 - tanh(tanh(x@W+b))**2) / 6",
     "argument"),
    ("sum(relu(x @ W + b))", "W", DENSE, "x.T @ (relu(x@W) / (x@W))", "argument"),
    ("tanh(2*z + 1)", "z", Z, "2 * (1 - tanh(2*z)**2)", "argument"),
    (LAYERS, "w_0", NET, "(w_1.T * σ(w_0@x) * (1-σ(w_0@x))) @ x.T", "argument"),
    # a matrix assumed symmetric
    ("x.T @ A @ x", "x", QUADN, "2 * A @ x", "symmetric"),
    ("x.T @ A @ x", "x", QUADN, "2 * A.T @ x", "symmetric"),
    ("x.T @ A @ x", "x", QUADN, "-(A + A.T) @ x", "sign"),
    ("trace(X @ A @ X.T)", "X", SQ, "2 * X @ A", "symmetric"),
    ("sum(x * (A @ x))", "x", QUADN, "2 * A @ x", "symmetric"),
]

RIGHT = [
    (F, "z", SEED_AT, "A + 1"),
    ("sum(σ(x·W + b))", "W", DENSE, f"x.T @ ({S})"),
    ("x.T @ A @ x", "x", QUAD, "2 * A @ x"),
    ("trace(A @ X)", "X", SQ, "A.T"),
    ("det(X)", "X", SQ, "det(X) * inv(X).T"),
    ("-sum(Y * log(softmax(Z)))", "Z", CE, "softmax(Z) - Y"),
    ("sum(x @ y)", "x", XY, "ones(2,2) @ y.T"),
    (STACKED, "w_0", NET, "w_1.T @ x.T"),
    ("sum(tanh(x @ W + b))", "W", DENSE, "x.T @ (1 - tanh(x@W+b)**2)"),
    ("sum(relu(x @ W + b))", "W", DENSE, "x.T @ (relu(x@W+b) / (x@W+b))"),
    ("tanh(2*z + 1)", "z", Z, "2 * (1 - tanh(2*z + 1)**2)"),
    (LAYERS, "w_0", NET, "(w_1.T * σ(w_0@x+b_0) * (1-σ(w_0@x+b_0))) @ x.T"),
    ("x.T @ A @ x", "x", QUADN, "(A + A.T) @ x"),
    ("trace(X.T @ A @ X)", "X", SQ, "(A + A.T) @ X"),
    ("x.T @ A @ y", "x", XAY, "A @ y"),  # x once: no symmetry to assume
]


def _check(expr, wrt, point, claim):
    where = {"shapes": point} if point is DENSE else {"at": point}
    if callable(claim):
        claim = claim(gradcheck.jacobian(expr, wrt=wrt, **where))
    return gradcheck.check(expr, wrt=wrt, expect=claim, **where)


def _diagnoses():
    return [(row, _check(*row[:4])) for row in WRONG]


def test_the_table_is_large_enough():
    assert len(WRONG) >= 60
    kinds = [row[4] for row in WRONG]
    assert kinds.count("argument") >= 8 and kinds.count("symmetric") >= 4


def _id(row):
    claim = row[3] if isinstance(row[3], str) else row[3].__name__
    return f"{row[0]}|{claim}"


@pytest.mark.parametrize("row", WRONG, ids=[_id(r) for r in WRONG])
def test_no_wrong_claim_is_called_right(row):
    r = _check(*row[:4])
    assert not r.passed and r[row[1]].diagnosis is not None


def test_at_least_90_percent_are_named_correctly():
    results = _diagnoses()
    named = [(row[4], r[row[1]].diagnosis.kind) for row, r in results]
    right = sum(want == got for want, got in named)
    misses = [(row[0], row[3], want, got) for (row, _), (want, got) in zip(results, named,
                                                                         strict=True)
              if want != got]
    assert right / len(named) >= 0.9, misses


@pytest.mark.parametrize("row", RIGHT, ids=[r[0] + "|" + r[3] for r in RIGHT])
def test_a_right_claim_gets_no_diagnosis(row):
    r = _check(*row)
    assert r.passed and r[row[1]].diagnosis is None


def test_the_diagnosis_is_in_the_report_and_the_json():
    r = gradcheck.check(F, wrt="z", at=SEED_AT, expect="A")
    assert "diagnosis: missing the term from `+ z`" in str(r)
    assert r.to_dict()["gradients"][0]["diagnosis"]["kind"] == "missing-term"


def test_the_symbolic_difference_of_a_claim_written_as_text():
    r = gradcheck.check(F, wrt="z", at=SEED_AT, expect="A")
    assert r["z"].diagnosis.difference == "1 in every entry"
    assert "exact - claimed = 1 in every entry" in str(r)
    q = gradcheck.check("x.T @ A @ x", wrt="x", at={"x": [[1.0], [-2.0]], "A": [[2, 1], [1, 3]]},
                        expect="A @ x")["x"].diagnosis
    assert q.kind == "factor" and q.difference == "[[2*x[0,0] + x[1,0]], [x[0,0] + 3*x[1,0]]]"


def test_a_diagnosis_that_runs_out_of_time_never_ends_the_check(monkeypatch):
    from gradcheck.checking import gradient

    monkeypatch.setattr(gradient, "DIAGNOSIS_TIME", 1e-4)
    r = gradcheck.check("sum(inv(W) @ x)", wrt="W", shapes={"W": (3, 3), "x": (3, 1)},
                        expect="W")
    assert not r.passed and r["W"].diagnosis.sentence.startswith("no diagnosis: looking for")


def test_the_sentences_of_a_wrong_argument_and_an_assumed_symmetry():
    r = _check("sum(σ(x·W + b))", "W", DENSE, "x.T @ (σ(σ(x@W+b)) * (1-σ(σ(x@W+b))))")
    assert r["W"].diagnosis.sentence == ("σ′ evaluated at the wrong argument: the claim is "
                                         "σ′(σ(x@W+b)), the derivative needs σ′(x@W+b)")
    r = _check("sum(tanh(x @ W))", "W", DENSE, "x.T @ (1 - (x@W)**2)")
    assert r["W"].diagnosis.sentence.startswith(
        "tanh′ written in terms of the output but given the input: the claim has "
        "1 - (x@W)**2 where 1 - tanh(x@W)**2 = tanh′(x@W) belongs")
    r = _check("x.T @ A @ x", "x", QUADN, "2 * A @ x")
    assert r["x"].diagnosis.sentence.startswith(
        "assumed A symmetric: the claim is the derivative for a symmetric A; for this A the "
        "derivative needs both A and A.T")


def test_a_relu_kink_in_the_wrong_argument_explains_nothing_by_accident():
    # x@W is 0 at [0,0]: relu′ there is taken as 1/2, never as an undefined
    # 0/0 that would make the whole candidate (and its derivative) vanish
    at = {"x": [[1.0, -1.0], [0.5, 2.0], [1.0, 1.0]], "W": [[1.0, 2.0], [1.0, 0.5]],
          "b": [[0.25, -0.5]]}
    r = gradcheck.check("sum(relu(x @ W + b))", wrt="W", at=at, expect="zeros(2,2)")
    assert r["W"].diagnosis.kind != "argument"


def test_the_later_candidates_give_way_to_the_pattern_when_time_is_short(monkeypatch):
    from gradcheck.compare import diagnose

    monkeypatch.setattr(diagnose, "LATE_TIME", 0.0)
    r = _check("sum(σ(x·W + b))", "W", DENSE, "x.T @ (σ(σ(x@W+b)) * (1-σ(σ(x@W+b))))")
    assert r["W"].diagnosis.kind == "unexplained"
    r = _check("x.T @ A @ x", "x", QUADN, "2 * A @ x")
    assert r["x"].diagnosis.kind == "unexplained"


# ----- one mistake inside a long claim (issue 19) -----

INSIDE = [
    ("sum((relu(x@W1)@W2 - y)**2)", "W1",
     {"x": (3, 3), "W1": (3, 3), "W2": (3, 2), "y": (3, 2)},
     "2*x @ (((relu(x@W1)@W2 - y) @ W2.T) * step(x@W1))", "transposed", "'2*x' (column 1)"),
    ("sum((softmax(Q@K.T/2) @ V) * G)", "V", {"Q": (3, 2), "K": (3, 2), "V": (3, 2), "G": (3, 2)},
     "softmax(Q@K.T/2) @ G", "transposed", "'softmax(Q@K.T/2)' (column 1)"),
    ("0.5*sum((tanh(x@W1 + b1)@W2 - y)**2)", "W1",
     {"x": (4, 3), "W1": (3, 5), "b1": (1, 5), "W2": (5, 2), "y": (4, 2)},
     "x.T @ ((tanh(x@W1 + b1)@W2 - y) @ W2.T)", "missing-factor", "1-tanh(x@W1+b1)**2"),
    ("a.T @ inv(X) @ b", "X", {"a": (3, 1), "X": (3, 3), "b": (3, 1)},
     "-inv(X) @ a @ b.T @ inv(X).T", "transposed", "'-inv(X)' (column 1)"),
    ("sum(sigmoid(sigmoid(x@W1)@W2))", "W1", {"x": (3, 2), "W1": (2, 3), "W2": (3, 2)},
     "x.T @ ((sigmoid(sigmoid(x@W1)@W2)*(1-sigmoid(sigmoid(x@W1)@W2))) @ W2.T * sigmoid(x@W1))",
     "activation", "σ written where σ′ belongs"),
    ("sum(x @ W * y)", "W", {"x": (2, 3), "W": (3, 2), "y": (2, 2)}, "x.T @ y + x.T",
     "extra-term", "without its term 'x.T'"),
]


@pytest.mark.parametrize(("f", "wrt", "shapes", "claim", "kind", "words"), INSIDE,
                         ids=[c[-2] + "-" + c[1] for c in INSIDE])
def test_a_mistake_inside_the_claim_is_named_and_mended(f, wrt, shapes, claim, kind, words):
    r = gradcheck.check(f, wrt=wrt, shapes=shapes, expect=claim)
    d = r[wrt].diagnosis
    assert r.verdict == "fail" and d.kind == kind and words in d.sentence, d.sentence
    assert d.corrected is not None and d.sentence.endswith(d.corrected)
    assert gradcheck.check(f, wrt=wrt, shapes=shapes, expect=d.corrected).passed


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data())
def test_a_sign_flipped_inside_a_generated_claim_is_mended(data):
    """The closed form of a generated f, with one sub-expression negated, fails;
    the diagnosis names a mistake, and a corrected claim it gives passes."""
    from gradcheck.language.parser import parse
    from gradcheck.language.tree import Call, Num, render, walk
    from gradcheck.strategies import expressions, points

    e = data.draw(expressions({"x": (2, 2), "W": (2, 2)}, shape=(1, 1), max_depth=3))
    point = data.draw(points(e))
    name = sorted(e.shapes)[0]
    right = gradcheck.check(e.text, wrt=name, at=point)
    closed = right[name].closed_form
    assume(right.passed and closed is not None and closed.form == "gradient")
    tree = parse(closed.text)
    inner = [n for n in walk(tree) if n is not tree and not isinstance(n, Num)]
    assume(inner)
    target = data.draw(st.sampled_from(inner))

    def flipped(node):
        if node is target:
            return Call("neg", (node,))
        if isinstance(node, Call):
            return Call(node.op, tuple(flipped(a) for a in node.args))
        return node

    claim = render(flipped(tree))
    r = gradcheck.check(e.text, wrt=name, at=point, expect=claim)
    assume(r.verdict == "fail")  # a negated zero changes nothing
    d = r[name].diagnosis
    assert d is not None and d.kind != "unexplained", (e.text, claim)
    if d.corrected is not None:
        assert gradcheck.check(e.text, wrt=name, at=point, expect=d.corrected).passed


def test_an_edit_right_only_by_coincidence_at_the_point_names_nothing():
    """At x = y, dropping x*x from the claim x + x*x gives x, which equals the
    derivative y there but nowhere else: the second point rules it out."""
    at = {"x": [[1.0, 2.0]], "y": [[1.0, 2.0]]}
    d = gradcheck.check("sum(x*y)", wrt="x", at=at, expect="x + x*x")["x"].diagnosis
    assert d.corrected is None and d.kind != "extra-term"
    d = gradcheck.check("sum(x*y)", wrt="x", at=at, expect="y + x*x")["x"].diagnosis
    assert d.kind == "extra-term" and d.corrected == "y"

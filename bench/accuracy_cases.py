"""The accuracy suite: one row per expression, every point given explicitly.

Groups: ``ordinary`` (smooth points away from any difficulty), ``kink``
(a relu/abs argument within 1e-7 of its kink, and one exactly on it),
``scale`` (entries near 1e6 and 1e-6 in one matrix), ``singular``
(near-singular matrices for inv, det, logdet) and ``saturated``
(sigmoid/tanh/softplus/softmax arguments of ±20..±30). Every operation of
gradcheck/language/ops.py occurs in at least one row; bench/accuracy.py checks that
and reports the coverage.

Constants in expressions are integers or powers of two, so that NumPy's
float and SymPy's exact value of a constant are the same number.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Row(NamedTuple):
    name: str
    expr: str
    at: dict[str, Any]
    wrt: str
    group: str
    note: str = ""  # what makes the point hard


POS = [[0.5, 1.25], [2.0, 0.75], [0.375, 1.5]]  # 3×2, positive
MIXED = [[0.5, -1.25], [2.0, 0.75], [-0.375, 1.5]]  # 3×2, both signs
W2 = [[0.75, -0.5], [0.25, 1.25]]  # 2×2
A2 = [[2.0, 0.5], [-0.25, 1.5]]  # det 3.125
SPD3 = [[4.0, 1.0, 0.5], [1.0, 3.0, 0.25], [0.5, 0.25, 2.0]]  # symmetric positive definite
A3 = [[2.0, -1.0, 0.5], [0.25, 3.0, 1.0], [-0.5, 0.75, 1.5]]  # det 10.40625
ROW = [[0.5, -0.25]]  # 1×2
# p ≈ 1e6 and q ≈ 1e-6 (the badly scaled example)
P6 = [[1e6, 1.25e6], [8e5, 3e6]]
Q6 = [[1e-6, 1.5e-6], [7e-7, 2.2e-6]]
MIX6 = [[1e6, 1e-6], [3e-6, 2.5e6]]  # 1e6 and 1e-6 in one matrix
# Near-singular: det = 1 - 0.9999995² ≈ 1e-6, condition number ≈ 4e6
NEAR2 = [[1.0, 0.9999995], [0.9999995, 1.0]]
# [[1,2,3],[4,5,6],[7,8,9]] is singular; A[2,2] = 9 + 1e-6 gives det ≈ -3e-6
NEAR3 = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.000001]]
SAT = [[20.0, -20.0], [25.0, -30.0]]  # saturated arguments

ROWS: list[Row] = [
    # ----- ordinary points -----
    Row("arith", "x * y - x / y + -x", {"x": MIXED, "y": POS}, "x", "ordinary"),
    Row("div-wrt-divisor", "sum(x / y)", {"x": MIXED, "y": POS}, "y", "ordinary"),
    Row("pow-const", "x ** 3 - x ** 2", {"x": MIXED}, "x", "ordinary"),
    Row("pow-base", "x ** y", {"x": POS, "y": MIXED}, "x", "ordinary"),
    Row("pow-exponent", "x ** y", {"x": POS, "y": MIXED}, "y", "ordinary"),
    Row("gram", "x.T @ x", {"x": MIXED}, "x", "ordinary"),
    Row("bilinear", "transpose(A) @ B @ A", {"A": A2, "B": W2}, "A", "ordinary"),
    Row("exp-log", "sum(exp(x) * log(y))", {"x": MIXED, "y": POS}, "y", "ordinary"),
    Row("sqrt", "sqrt(x) * y", {"x": POS, "y": MIXED}, "x", "ordinary"),
    Row("sin-cos", "sin(x) * cos(x·W)", {"x": MIXED, "W": W2}, "x", "ordinary"),
    Row("tanh-sigmoid", "tanh(x) + sigmoid(2 * x)", {"x": MIXED}, "x", "ordinary"),
    Row("softplus-mean", "mean(softplus(x @ W))", {"x": MIXED, "W": W2}, "W", "ordinary"),
    Row("relu-layer", "relu(x @ W + b)", {"x": MIXED, "W": W2, "b": ROW}, "W", "ordinary"),
    Row("abs", "abs(x - y)", {"x": MIXED, "y": [[0.25, 0.5], [1.0, 1.25], [0.75, 0.5]]}, "x",
        "ordinary"),
    Row("trace", "trace(A @ B @ A)", {"A": A2, "B": W2}, "A", "ordinary"),
    Row("norm", "norm(x - y)", {"x": MIXED, "y": POS}, "x", "ordinary"),
    Row("det", "det(A)", {"A": A3}, "A", "ordinary"),
    Row("logdet", "logdet(A)", {"A": SPD3}, "A", "ordinary"),
    Row("inv", "inv(A)", {"A": A2}, "A", "ordinary"),
    Row("inv-solve", "inv(A) @ x.T", {"A": A2, "x": MIXED}, "A", "ordinary"),
    Row("softmax", "softmax(x)", {"x": MIXED}, "x", "ordinary"),
    Row("log-softmax", "sum(y * log(softmax(x)))", {"x": MIXED, "y": POS}, "x", "ordinary"),
    Row("constructors", "sum((A - eye(2)) * ones(2, 2) + zeros(2, 2)) * det(A)", {"A": A2},
        "A", "ordinary"),
    # ----- a relu/abs argument within 1e-7 of its kink -----
    Row("relu-near-kink", "relu(x)", {"x": [[1e-7, -1e-7], [5e-8, -3e-8]]}, "x", "kink",
        "arguments ±1e-7 and below: every real step is larger, so stencils go one-sided"),
    Row("abs-near-kink", "abs(x) * y", {"x": [[1e-8, -1e-7], [2e-9, 3.0]], "y": W2}, "x",
        "kink", "arguments 1e-8, -1e-7, 2e-9"),
    Row("relu-layer-near-kink", "sum(relu(x @ W + b))",
        {"x": [[1.0, 2.0]], "W": [[0.5, -0.25], [0.25, 0.5]], "b": [[-0.99999999, -0.5]]},
        "W", "kink", "x@W + b = [1e-8, 0.25]: one argument 1e-8 above its kink"),
    Row("abs-near-kink-other", "sum(abs(x - y) * z)",
        {"x": [[1.0, 2.0]], "y": [[1.00000005, 1.5]], "z": [[3.0, -2.0]]}, "y", "kink",
        "x - y = -5e-8 in one entry"),
    Row("relu-on-kink", "sum(relu(x) * y)", {"x": [[0.0, 1.0]], "y": [[3.0, 2.0]]}, "x", "kink",
        "exactly on the kink: that entry is reported as not differentiable, not judged"),
    # ----- entries near 1e6 and 1e-6 in one matrix -----
    Row("scaled-issue-p", "sum(p * q + log(p) * sin(1000000 * q))", {"p": P6, "q": Q6}, "p",
        "scale", "p ≈ 1e6, q ≈ 1e-6 (the issue's example), wrt p: derivatives ≈ 1e-6"),
    Row("scaled-issue-q", "sum(p * q + log(p) * sin(1000000 * q))", {"p": P6, "q": Q6}, "q",
        "scale", "the same, wrt q: derivatives ≈ 1e6..1e7, period of sin 6e-6 in q"),
    Row("scaled-log", "log(x) * x", {"x": MIX6}, "x", "scale", "x = 1e6 and 1e-6 in one matrix"),
    Row("scaled-sqrt", "sum(sqrt(x) * y)", {"x": MIX6, "y": POS[:2]}, "x", "scale",
        "derivatives from 2.5e-4 to 6e2"),
    Row("scaled-norm", "norm(x)", {"x": MIX6}, "x", "scale",
        "gradient entries ≈ 1 and ≈ 1e-12 (x/norm(x))"),
    Row("scaled-logdet", "logdet(A)", {"A": [[1e6, 0.5], [0.25, 1e-6]]}, "A", "scale",
        "det 0.875; gradient inv(A)ᵀ has entries 1e-6..1e6"),
    Row("scaled-sin", "sin(x) * exp(x / 1048576)", {"x": MIX6}, "x", "scale",
        "sin at x = 1e6: a real step of 6e-6·1e6 spans a period"),
    # ----- near-singular matrices -----
    Row("inv-near-singular", "inv(A)", {"A": NEAR2}, "A", "singular",
        "det ≈ 1e-6, condition number ≈ 4e6"),
    Row("inv-near-singular-3", "inv(A)", {"A": NEAR3}, "A", "singular",
        "det ≈ -3e-6, condition number ≈ 1e8, inv(A) entries up to 4e6"),
    Row("det-near-singular", "det(A)", {"A": NEAR3}, "A", "singular",
        "det ≈ -3e-6, cofactors O(1)"),
    Row("logdet-near-singular", "logdet(A)", {"A": NEAR2}, "A", "singular",
        "det ≈ 1e-6: a step of 1e-6 in an off-diagonal entry makes it 0"),
    Row("solve-near-singular", "sum(inv(A) @ x.T)", {"A": NEAR2, "x": MIXED}, "A", "singular",
        "inv(A) has entries ≈ 1e6; the gradient ≈ 5.6e5 is what is left of products ≈ 1e12"),
    # ----- saturated sigmoid / tanh -----
    Row("sigmoid-saturated", "sigmoid(x)", {"x": SAT}, "x", "saturated",
        "derivatives 2e-9 .. 9e-14"),
    Row("tanh-saturated", "tanh(x)", {"x": SAT}, "x", "saturated",
        "derivatives 1.7e-17 .. 3.5e-26, below rounding of tanh ≈ ±1"),
    Row("sigmoid-layer-saturated", "sum(sigmoid(x @ W))",
        {"x": [[2.0, 3.0], [-4.0, -5.0]], "W": [[4.0, -2.5], [4.0, -1.75]]}, "W",
        "saturated", "x@W = [20, -10.25], [-36, 18.75]"),
    Row("tanh-scaled-saturated", "mean(tanh(16 * x) * y)",
        {"x": [[1.25, -1.5], [1.75, 1.875]], "y": W2}, "x", "saturated",
        "arguments 20, -24, 28, 30"),
    Row("softplus-saturated", "softplus(x)", {"x": SAT}, "x", "saturated",
        "derivative sigmoid(x): ≈ 1 and 9e-14"),
    Row("softmax-saturated", "softmax(x)", {"x": [[25.0, 0.0, -5.0], [-30.0, 0.0, 1.0]]}, "x",
        "saturated", "probabilities ≈ 1 and ≈ 1e-11 .. 1e-14"),
]

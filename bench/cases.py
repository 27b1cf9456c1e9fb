"""The accuracy and discrimination suite: one row per expression.

Every function of the language (gradcheck/language/ops.py) occurs in at least one
``core`` row. Points are given (``at``) or drawn from ``shapes`` by gradcheck
itself, seeded. ``stress`` rows are points chosen to be hard for finite
differences (steep or flat functions, arguments near a domain's edge); they
are reported apart from the core rows.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Case(NamedTuple):
    name: str
    expr: str
    wrt: str
    at: dict[str, Any] | None = None
    shapes: dict[str, Any] | None = None
    group: str = "core"
    note: str = ""  # why a stress point is hard


SEED_AT = {"x": [[1, 1], [1, 1], [1, 1]], "y": "0.5*ones(2,2)", "z": "0.25*ones(3,2)",
           "A": [[1, 0], [2, 1], [0, 1]]}
POS = [[0.5, 1.25], [2.0, 0.75], [0.375, 1.5]]  # 3×2, positive
MIXED = [[0.5, -1.25], [2.0, 0.75], [-0.375, 1.5]]  # 3×2, both signs
A2 = [[2.0, 0.5], [-0.25, 1.5]]  # det 3.125
DOMINANT2 = [[3.0, -0.75], [0.5, 2.5]]  # diagonally dominant, det 7.875
LAYER = {"z": (3, 2), "W": (2, 2), "b": (1, 2)}  # a dense layer z·W + b
S32 = {"x": (3, 2), "y": (3, 2)}
S22 = {"A": (2, 2), "B": (2, 2)}

CASES: list[Case] = [
    Case("seed", "(x·y+z)·A+z", "z", at=SEED_AT),
    Case("dense-sigmoid", "σ(z·W + b)", "W", shapes=LAYER),
    Case("dense-tanh", "tanh(z @ W + b)", "W", shapes=LAYER),
    Case("dense-relu", "relu(z @ W + b)", "z", shapes=LAYER),
    Case("exp", "sum(exp(x) * y)", "x", shapes=S32),
    Case("log", "log(x) * y", "x", at={"x": POS, "y": MIXED}),
    Case("sqrt-pow", "sqrt(x) + x ** 3", "x", at={"x": POS}),
    Case("abs", "abs(x - y)", "y", shapes=S32),
    Case("sin-cos", "sin(x) * cos(y)", "y", shapes=S32),
    Case("softplus-mean", "mean(softplus(x @ W))", "W", shapes={"x": (3, 2), "W": (2, 2)}),
    Case("trace", "trace(A @ transpose(B))", "A", shapes=S22),
    Case("norm", "norm(x - y)", "x", shapes=S32),
    Case("det", "det(A)", "A", at={"A": A2}),
    Case("logdet", "logdet(A)", "A", at={"A": DOMINANT2}),
    Case("inv", "inv(A)", "A", at={"A": A2}),
    Case("inv-solve", "inv(A) @ B", "A", at={"A": DOMINANT2, "B": MIXED[:2]}),
    Case("softmax", "softmax(x)", "x", shapes={"x": (3, 2)}),
    Case("log-softmax", "sum(y * log(softmax(x)))", "x", shapes=S32),
    Case("pow-exponent", "x ** y", "y", at={"x": POS, "y": MIXED}),
    Case("div", "sum(x / y)", "y", shapes=S32),
    Case("gram", "x.T @ x", "x", at={"x": MIXED}),
    Case("neg-sub", "-(x - 2 * y) ** 2 / 4", "x", shapes=S32),
    # Hard points for finite differences. The step is h = 6.06e-6·max(1, |w[k,l]|).
    Case("steep-exp", "exp(4 * x)", "x", at={"x": [[2.0, -2.0], [0.5, 2.25]]}, group="stress",
         note="derivatives from 1e-3 to 3e4 in one Jacobian"),
    Case("log-near-0", "log(x)", "x", at={"x": [[1e-3, 1e-2], [1e-5, 0.5]]}, group="stress",
         note="x = 1e-5 is within 2h of the domain's edge: the step must shrink"),
    Case("sqrt-near-0", "sqrt(x)", "x", at={"x": [[1e-4, 1e-6], [1e-2, 4.0]]}, group="stress",
         note="x = 1e-6 is below h: the step must shrink"),
    Case("sigmoid-tails", "σ(x)", "x", at={"x": [[30.0, -30.0], [12.0, 0.5]]}, group="stress",
         note="derivative 9e-14 at ±30, below the rounding noise of σ(30) ≈ 1"),
    Case("tanh-steep", "tanh(10 * x)", "x", at={"x": [[0.1, -0.25], [0.05, 0.3]]},
         group="stress", note="large higher derivatives"),
    Case("inv-ill-cond", "inv(A)", "A", at={"A": [[1.0, 0.999], [0.999, 1.0]]},
         group="stress", note="condition number 2e3"),
    Case("relu-near-kink", "relu(x)", "x", at={"x": [[1e-7, -1e-7], [1.0, -1.0]]},
         group="stress", note="±1e-7 is within h of the kink: one-sided stencils"),
    # Found while writing this suite.
    Case("sin-large", "sin(x)", "x", at={"x": [[1e6, 1e5], [1e4, 3.0]]}, group="stress",
         note="at x = 1e6, h = 6.06 rad, about a period; D(h) and D(2h) agree by chance, "
              "so the error estimate is small"),
    Case("reciprocal-near-pole", "1 / x", "x", at={"x": [[1e-6, 1e-8], [0.5, 2.0]]},
         group="stress", note="h > x: the stencil crosses the pole at 0, which the domain "
                              "check (x != 0 at each stencil point) does not see"),
    Case("norm-tiny", "norm(x)", "x", at={"x": [[1e-6, 2e-6], [-1e-6, 3e-6]]}, group="stress",
         note="h > |x|: the stencil reaches the cone point at 0, which norm does not declare "
              "as a kink"),
    Case("inv-small-pivot", "inv(A)", "A", at={"A": [[1e-6, 0.0], [0.0, 1.0]]}, group="stress",
         note="h > A[0,0]: the stencil crosses the singular matrix at A[0,0] = 0; each "
              "stencil point is well conditioned (cond < 1e12)"),
    Case("log-tiny", "log(x)", "x", at={"x": [[1e-10, 1.0], [0.5, 2.0]]}, group="stress",
         note="the step shrinks at most 3 times by 16, to 1.5e-9 > 1e-10"),
    Case("norm-huge", "norm(x)", "x", at={"x": [[1e200, 2e200], [-1e200, 3e200]]},
         group="stress", note="norm(x) = 3.9e200 is finite, but np.linalg.norm squares the "
                              "entries and overflows"),
]

"""Does gradcheck ever give a wrong verdict? Writes bench/truth.md.

Seven families of generated cases, each a scalar f = sum(...) at a point:
smooth random compositions, removable singularities at tiny points,
saturating activations, tiny and huge entries, ill-conditioned inverses,
kinks, and derivatives that are exactly zero. For each point the truth T is
``r.exact`` of a check without a claim (a ``fail`` there is a false FAIL of
a correct f: the two engines disagree). Then gradcheck judges

- right claims: the family's closed form as an expression string (where it
  has one) and T itself as an array; a ``fail`` is a **false fail**;
- wrong claims: T with one planted mistake (an entry or all entries times
  1 + δ, δ log-uniform in [1e-6, 1]; an entry's sign flipped; T transposed;
  a nonzero entry set to 0; an entry that is 0 set to δ·max|T|), kept only
  when it changes some judged entry by more than 1e-6·max(|entry|, 1e-300);
  a ``pass`` is a **false pass**.

A case is one claim judged. ``undecided`` is never wrong, only counted, with
its reason (the ``bound`` of the undecided entries, or ``kink`` when every
entry is at a kink). A GradcheckError on one of these points, all inside
the domain, is counted as *refused*; any other exception is a **crash**.
Every point is generated from numpy's default_rng with a fixed seed, so a
run is deterministic but for its times.

Run from the repository root: ``python3 bench/truth.py`` (about 10,000
cases), ``python3 bench/truth.py --quick`` (about 500), ``--seed N`` for
another base seed, ``--jobs N`` for the number of worker processes
(default: the usable cores).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import gradcheck
from gradcheck.api import RTOL
from gradcheck.compare.comparator import LEAST, RESOLUTION, SCALE
from gradcheck.language.parser import parse
from gradcheck.language.shapes import infer
from gradcheck.values.evaluate import OutOfDomain, evaluate

sys.path.insert(0, str(Path(__file__).parent))
from run import machine, message  # noqa: E402
from run import table as plain_table  # noqa: E402

HERE = Path(__file__).parent
PLANT_MIN, PLANT_MAX = 1e-6, 1.0  # range of δ in planted mistakes (log-uniform)
WRONG_BY = 1e-6  # a planted mistake must change an entry by more than this, relatively
LISTED = 50  # problems listed one by one in the report
SHOWN = 24  # points with at most this many entries are shown in full
SLOWEST = 5  # the slowest points, listed
TIMEOUT = 20.0  # seconds of symbolic work per check (gradcheck's default is 60)
MISTAKES = ("one entry", "all entries", "sign", "transpose", "zero entry")


# ----- the cases -----

@dataclass(frozen=True)
class Point:
    """One f at one point; the claims judged there are made by the worker."""

    family: str
    index: int
    expr: str
    at: dict[str, np.ndarray]
    closed: str | None = None  # the derivative as an expression, where the family has one
    engine: str = "auto"
    note: str = ""  # how the point was made, shown where the values are too many
    wrong: int = 1  # wrong claims planted at this point
    seed: tuple[int, ...] = ()  # seeds the planted mistakes
    wrt: str = "x"


def tiny_or_huge(rng: np.random.Generator, shape: tuple[int, int], lo: float, hi: float,
                 signed: bool = True, spread: bool = True) -> np.ndarray:
    """Entries 10^u: u uniform in [lo, hi] entry by entry (``spread``), or all
    within 1 of one u; random signs when ``signed``."""
    if spread:
        u = rng.uniform(lo, hi, size=shape)
    else:
        c = rng.uniform(lo, hi)
        u = np.clip(c + rng.uniform(-1, 1, size=shape), lo, hi)
    sign = rng.choice([-1.0, 1.0], size=shape) if signed else 1.0
    return np.asarray(sign * 10.0**u)


def shape(rng: np.random.Generator, rows: int = 3, cols: int = 3) -> tuple[int, int]:
    return int(rng.integers(1, rows + 1)), int(rng.integers(1, cols + 1))


def dyadic(rng: np.random.Generator, shape: tuple[int, ...], denominator: int = 16) -> np.ndarray:
    """Normal entries rounded to multiples of 1/denominator (exact sums, fast SymPy)."""
    return np.asarray(np.round(rng.normal(size=shape) * denominator) / denominator)


def finite_f(expr: str, at: dict[str, np.ndarray], limit: float = 1e6) -> bool:
    """f is defined at the point, and |f| ≤ limit."""
    try:
        typed = infer(parse(expr), {n: v.shape for n, v in at.items()})
        with np.errstate(all="ignore"):
            value = evaluate(typed.tree, at)
    except (OutOfDomain, gradcheck.GradcheckError):
        return False
    return bool(np.isfinite(value).all() and np.abs(value).max() <= limit)


class Smooth:
    """Random small trees over the smooth operations, in x (the variable
    checked) and constants c0, c1, ... of any shape; x of 1×1 to 4×4."""

    UNARY = ("sin", "cos", "tanh", "sigmoid", "softplus", "exp", "-")
    KINDS = ("unary", "log", "sqrt", "div", "pow", "+", "-", "*", "@", ".T", "softmax",
             "scalar", "inv")
    WEIGHTS = (5, 1, 1, 1, 1, 2, 1, 2, 3, 1, 1, 2, 1)

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.x_shape = shape(rng, 4, 4)
        self.at: dict[str, np.ndarray] = {"x": rng.normal(size=self.x_shape)}

    def pick(self, options: tuple[str, ...] | list[str]) -> str:
        return str(options[int(self.rng.integers(len(options)))])

    def const(self, shape: tuple[int, int]) -> str:
        name = f"c{len(self.at) - 1}"
        self.at[name] = dyadic(self.rng, shape)
        return name

    def leaf(self, shape: tuple[int, int]) -> str:
        (m, n), (p, q), c = self.x_shape, shape, self.const
        if self.rng.random() < 0.2:
            return c(shape)
        if shape == (m, n):
            return "x"
        if shape == (n, m):
            return "x.T"
        # x brought to the shape by a constant factor; on both sides only when
        # no one side will do (every entry of c@x@c is a sum over all of x)
        options: list[Callable[[], str]] = []
        if p == m:
            options.append(lambda: f"(x@{c((n, q))})")
        if q == n:
            options.append(lambda: f"({c((p, m))}@x)")
        if p == n:
            options.append(lambda: f"(x.T@{c((m, q))})")
        if q == m:
            options.append(lambda: f"({c((p, n))}@x.T)")
        if not options:
            return f"({c((p, m))}@x@{c((n, q))})"
        return options[int(self.rng.integers(len(options)))]()

    def positive(self, shape: tuple[int, int], depth: int) -> str:
        e = self.node(shape, depth)
        return self.pick([f"exp({e})", f"sigmoid({e})", f"softplus({e})", f"(1+({e})**2)",
                          f"(2+sin({e}))"])

    def node(self, shape: tuple[int, int], depth: int) -> str:
        rng, (p, q), d = self.rng, shape, depth - 1
        if depth <= 0 or rng.random() < 0.2:
            return self.leaf(shape)
        weights = np.array(self.WEIGHTS, dtype=float)
        kind = self.KINDS[int(rng.choice(len(self.KINDS), p=weights / weights.sum()))]
        k = int(rng.choice(self.x_shape)) if rng.random() < 0.6 else int(rng.integers(1, 4))
        small = int(rng.integers(1, 3))  # the size of matrices given to det, logdet, inv
        if kind == "unary":
            fn = self.pick(self.UNARY)
            return f"-({self.node(shape, d)})" if fn == "-" else f"{fn}({self.node(shape, d)})"
        if kind in ("log", "sqrt"):
            return f"{kind}({self.positive(shape, d)})"
        if kind == "div":
            return f"({self.node(shape, d)}/{self.positive(shape, d)})"
        if kind == "pow":
            if rng.random() < 0.5:
                return f"({self.node(shape, d)})**{self.pick(['2', '3'])}"
            return f"{self.positive(shape, d)}**{self.pick(['0.5', '1.5', '-1'])}"
        if kind in ("+", "-", "*"):
            return f"({self.node(shape, d)}{kind}{self.node(shape, d)})"
        if kind == "@":
            return f"({self.node((p, k), d)}@{self.node((k, q), d)})"
        if kind == ".T":
            return f"({self.node((q, p), d)}).T"
        if kind == "softmax":
            return f"softmax({self.node(shape, d)})"
        if kind == "scalar":  # a 1×1 reduction times a subtree
            reducer = self.pick(["sum", "mean", "norm", "trace", "det", "logdet"])
            if reducer == "logdet":  # of a positive definite matrix
                m = self.leaf((small, int(rng.integers(1, 3))))
                reduced = f"logdet(eye({small})+{m}@{m}.T)"
            elif reducer == "det":
                reduced = f"det({self.node((small, small), d)})"
            elif reducer == "trace":
                reduced = f"trace({self.node((k, k), d)})"
            else:
                reduced = f"{reducer}({self.node(shape_of(rng), d)})"
            return f"({reduced}*{self.node(shape, d)})"
        if p > 2:  # inv (below) only of 1×1 and 2×2
            return f"tanh({self.node(shape, d)})"
        m = self.leaf((p, int(rng.integers(1, 3))))  # inv of a positive definite matrix
        return f"(inv(eye({p})+{m}@{m}.T)@{self.node(shape, d)})"


def shape_of(rng: np.random.Generator) -> tuple[int, int]:
    return shape(rng, 3, 3)


def smooth(rng: np.random.Generator) -> Point:
    while True:
        gen = Smooth(rng)
        (m, n), r = gen.x_shape, rng.random()
        root = (m, n) if r < 0.5 else (n, m) if r < 0.7 else shape(rng, 4, 4)
        body = gen.node(root, int(rng.integers(1, 4)))
        expr = f"sum({body})"
        if re.search(r"\bx\b", expr) and finite_f(expr, gen.at):
            return Point("smooth", 0, expr, gen.at)


REMOVABLE = (  # f at tiny x, its derivative written the naive way
    ("sum((exp(x)-1)/x)", "(x*exp(x)-exp(x)+1)/x**2"),
    ("sum((1-cos(x))/x**2)", "(x*sin(x)-2*(1-cos(x)))/x**3"),
    ("sum(sin(x)/x)", "(x*cos(x)-sin(x))/x**2"),
    ("sum(log(1+x)/x)", "(x/(1+x)-log(1+x))/x**2"),
    ("sum((exp(x)-1-x)/x**2)", "((x-2)*exp(x)+x+2)/x**3"),
)


def removable(rng: np.random.Generator) -> Point:
    expr, closed = REMOVABLE[int(rng.integers(len(REMOVABLE)))]
    x = tiny_or_huge(rng, shape(rng, 2, 3), -12, -3)
    return Point("removable", 0, expr, {"x": x}, closed)


SATURATING = (
    ("sum(tanh(x))", "1-tanh(x)**2"),
    ("sum(sigmoid(x))", "sigmoid(x)*(1-sigmoid(x))"),
    ("sum(softplus(x))", "sigmoid(x)"),
    ("sum(log(sigmoid(x)))", "1-sigmoid(x)"),
    ("sum(softmax(x)*A)", "softmax(x)*(A-(softmax(x)*A)@ones({n},{n}))"),
)


def saturating(rng: np.random.Generator) -> Point:
    expr, closed = SATURATING[int(rng.integers(len(SATURATING)))]
    m, n = shape(rng)
    x = rng.choice([-1.0, 1.0], size=(m, n)) * rng.uniform(50, 700, size=(m, n))
    if rng.random() < 0.3:  # one moderate entry among the saturated ones
        x[int(rng.integers(m)), int(rng.integers(n))] = rng.normal(scale=2)
    at = {"x": x}
    if "A" in expr:
        at["A"] = dyadic(rng, (m, n), 4)
    return Point("saturating", 0, expr, at, closed.format(n=n))


def extreme(rng: np.random.Generator) -> Point:
    kind = int(rng.integers(5))
    sh, spread = shape(rng), bool(rng.random() < 0.5)
    if kind == 0:
        return Point("extreme", 0, "sum(x*x)", {"x": tiny_or_huge(rng, sh, -200, 150,
                                                                  spread=spread)}, "2*x")
    if kind == 1:
        return Point("extreme", 0, "sum(log(x))",
                     {"x": tiny_or_huge(rng, sh, -200, 200, signed=False, spread=spread)}, "1/x")
    if kind == 2:
        return Point("extreme", 0, "sum(sqrt(x))",
                     {"x": tiny_or_huge(rng, sh, -200, 200, signed=False, spread=spread)},
                     "0.5/sqrt(x)")
    x = tiny_or_huge(rng, sh, -200, 200, spread=spread)
    y = tiny_or_huge(rng, sh, -200, 200, spread=spread)
    ex, ey = np.log10(np.abs(x)), np.log10(np.abs(y))
    if kind == 3:  # |x·y| ≤ 1e300
        y = np.sign(y) * 10.0 ** np.minimum(ey, 300 - ex)
        return Point("extreme", 0, "sum(x*y)", {"x": x, "y": y}, "y")
    y = np.sign(y) * 10.0 ** np.clip(ey, ex - 300, ex + 300)  # 1e-300 ≤ |x/y| ≤ 1e300
    return Point("extreme", 0, "sum(x/y)", {"x": x, "y": y}, "1/y")


INVERSE = (
    ("sum(inv(W))", "-inv(W).T@ones({n},{n})@inv(W).T"),
    ("a.T@inv(W)@b", "-inv(W).T@a@b.T@inv(W).T"),
    ("logdet(W)", "inv(W).T"),
    ("det(W)", "det(W)*inv(W).T"),
)
SYMPY_SIZES = (2, 3)  # the SymPy engine (auto); larger W: the closed-form engine


def orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(n, n)))
    return np.asarray(q * np.sign(np.diag(r)))


def inverse(rng: np.random.Generator) -> Point:
    expr, closed = INVERSE[int(rng.integers(len(INVERSE)))]
    n = int(rng.choice(SYMPY_SIZES)) if rng.random() < 0.5 else int(rng.integers(5, 41))
    if rng.random() < 0.5:
        k = int(rng.integers(3, 41))
        if expr == "det(W)":  # keep det(W) = 2^(-k(n-1))(n + 2^-k) a normal float
            k = min(k, 900 // (n - 1))
        w = np.ones((n, n)) + np.eye(n) / 2**k
        note = f"W = ones({n},{n})+eye({n})/2**{k}"
    else:
        cond = 10 ** rng.uniform(2, 12)
        s = np.geomspace(1, 1 / cond, n)
        w = orthogonal(rng, n) @ np.diag(s) @ orthogonal(rng, n).T
        if np.linalg.slogdet(w)[0] < 0:  # logdet needs det(W) > 0
            w[0] = -w[0]
        note = f"W = U·diag(s)·Vᵀ, {n}×{n}, U and V random orthogonal, condition {cond:.1e}"
    at = {"W": w}
    if "a" in expr:
        at |= {"a": dyadic(rng, (n, 1)), "b": dyadic(rng, (n, 1))}
    engine = "auto" if n in SYMPY_SIZES else "closed"
    return Point("inverse", 0, expr, at, closed.format(n=n), engine, note, wrt="W")


KINKS = (
    ("sum(relu(x))", "step(x)"),
    ("sum(abs(x))", "sign(x)"),
    ("sum(relu(x)*y)", "step(x)*y"),
    ("sum(abs(x)*y)", "sign(x)*y"),
    ("sum(abs(x)*x)", "2*abs(x)"),
    ("sum(relu(x@A))", "step(x@A)@A.T"),
)


def kink(rng: np.random.Generator) -> Point:
    expr, closed = KINKS[int(rng.integers(len(KINKS)))]
    m, n = shape(rng)
    draw = rng.random(size=(m, n))
    near = tiny_or_huge(rng, (m, n), -300, -1)
    x = np.where(draw < 0.3, 0.0, np.where(draw < 0.7, near, dyadic(rng, (m, n))))
    at = {"x": x}
    if "y" in expr:
        at["y"] = dyadic(rng, (m, n))
    if "A" in expr:  # some rows of x@A exactly 0: x@A = rowsum(x) with A = ones
        at["A"] = np.ones((n, 1))
        x = dyadic(rng, (m, n), 8)
        rows = rng.random(size=m) < 0.5
        x[rows, -1] = -x[rows, :-1].sum(axis=1)  # exact: multiples of 1/8
        at["x"] = x
    return Point("kink", 0, expr, at, closed)


ZEROS = (
    "sum(softmax(x))",
    "sum(sigmoid(x)+sigmoid(-x))",
    "sum(x+y-x)",
    "sum(exp(x)*y/exp(x))",
    "sum(log(exp(x))-x)",
    "sum(sin(x)**2+cos(x)**2)",
    "trace(x@y)-trace(y@x)",
    "sum((x@y).T-y.T@x.T)",
    "sum(tanh(x)-(exp(2*x)-1)/(exp(2*x)+1))",
)


def zero(rng: np.random.Generator) -> Point:
    expr = ZEROS[int(rng.integers(len(ZEROS)))]
    sh = shape(rng)
    if "trace" in expr:
        sh = (sh[0], sh[0])
    at = {"x": rng.normal(scale=2, size=sh)}
    if "y" in expr:
        at["y"] = dyadic(rng, (sh[1], sh[0]) if "@" in expr else sh)
    return Point("zero", 0, expr, at, f"zeros({sh[0]},{sh[1]})")


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    make: Callable[[np.random.Generator], Point]
    cases: int  # claims judged in a full run (about)
    wrong: int  # wrong claims per point


FAMILIES = (
    Family("smooth", "random smooth compositions, x 1×1..4×4", smooth, 3000, 2),
    Family("removable", "removable singularities at |x| in 1e-12..1e-3", removable, 1350, 1),
    Family("saturating", "tanh, sigmoid, softplus, softmax at |x| in 50..700", saturating,
           1350, 1),
    Family("extreme", "entries from 1e-200 to 1e200", extreme, 1350, 1),
    Family("inverse", "inv, logdet, det of W with condition 1e2..1e13, n 2..40", inverse,
           1350, 1),
    # about half the kink points are refused (see bench/truth.md): more of them
    Family("kink", "relu and abs on and near the kink", kink, 1800, 1),
    Family("zero", "derivatives that are exactly 0", zero, 1350, 1),
)


def cases_per_point(f: Family) -> int:
    return f.wrong + (1 if f.name == "smooth" else 2)  # + T, + the closed form


def generate(seed: int, quick: bool) -> list[Point]:
    """Every point, families interleaved (so the workers share the slow ones)."""
    per_family = []
    for k, f in enumerate(FAMILIES):
        rng = np.random.default_rng([seed, k])
        target = f.cases // 20 if quick else f.cases
        count = math.ceil(target / cases_per_point(f))
        per_family.append([Point(**{**p.__dict__, "index": i, "wrong": f.wrong,
                                    "seed": (seed, k, i)})
                           for i, p in enumerate(f.make(rng) for _ in range(count))])
    out = []
    for i in range(max(map(len, per_family))):
        out += [ps[i] for ps in per_family if i < len(ps)]
    return out


# ----- judging -----

@dataclass
class Judged:
    role: str  # "truth" (no claim), "right" or "wrong"
    claim: str  # the claim, as shown in the report
    outcome: str  # pass, fail, undecided, refused or crash
    reason: str = ""  # why undecided; what failed; the exception
    within_tolerance: bool = False  # a wrong claim within gradcheck's documented tolerance
    seconds: float = 0.0


@dataclass
class PointResult:
    point: Point
    judged: list[Judged] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str = ""  # why no claims were judged


def undecided_reason(g: gradcheck.Gradient) -> str:
    bounds = sorted({u.bound for u in g.comparison.undecided})
    if bounds:
        return "+".join(bounds)
    return "kink" if g.undefined else "unlisted"


def failure(g: gradcheck.Gradient) -> str:
    parts = [f"{m.kind} mismatch at {m.index}: exact {m.exact!r}, numeric {m.numeric!r}"
             + (f", claimed {m.claimed!r}" if m.claimed is not None else "")
             + f", |diff| {m.error:.3g} > tolerance {m.tolerance:.3g} ({m.bound})"
             for m in g.mismatches[:2]]
    more = len(g.mismatches) - 2
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def crash_message(ex: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(ex.__traceback__) if "gradcheck" in f.filename]
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(ex).__name__}: {ex}{where}".replace("\n", " ")


def judge(p: Point, role: str, claim: Any, shown: str
          ) -> tuple[Judged, gradcheck.CheckResult | None]:
    t = time.perf_counter()
    try:
        r = gradcheck.check(p.expr, wrt=p.wrt, at=p.at, expect=claim, engine=p.engine,
                            timeout=TIMEOUT)
    except gradcheck.GradcheckError as ex:
        return Judged(role, shown, "refused", message(ex), seconds=time.perf_counter() - t), None
    except Exception as ex:  # a crash is a finding, not the end of the run
        return Judged(role, shown, "crash", crash_message(ex),
                      seconds=time.perf_counter() - t), None
    g = r[p.wrt]
    reason = undecided_reason(g) if r.verdict == "undecided" else \
        failure(g) if r.verdict == "fail" else ""
    return Judged(role, shown, r.verdict, reason, seconds=time.perf_counter() - t), r


def plant(truth: np.ndarray, judged: np.ndarray, rng: np.random.Generator
          ) -> tuple[np.ndarray, str, np.ndarray] | None:
    """T with one mistake that changes some judged entry by more than
    WRONG_BY relatively: the claim, what was done, and the entries changed."""
    scale = float(np.abs(truth[judged]).max(initial=0.0)) or 1.0
    delta = float(10 ** rng.uniform(math.log10(PLANT_MIN), math.log10(PLANT_MAX)))
    nonzero = np.argwhere(judged & (truth != 0))
    anywhere = np.argwhere(judged)
    for kind in rng.permutation(MISTAKES):
        claim = truth.copy()
        if kind in ("one entry", "sign", "zero entry"):
            pool = anywhere if kind == "one entry" else nonzero
            if not len(pool):
                continue
            idx = tuple(int(i) for i in pool[int(rng.integers(len(pool)))])
            if kind == "sign":
                claim[idx], what = -truth[idx], f"entry {idx} sign flipped"
            elif kind == "zero entry":
                claim[idx], what = 0.0, f"entry {idx} set to 0"
            elif truth[idx] != 0:
                claim[idx], what = truth[idx] * (1 + delta), f"entry {idx} × (1 + {delta:.2e})"
            else:
                claim[idx] = delta * scale
                what = f"entry {idx} (0 in T) set to {delta:.2e}·max|T| = {claim[idx]:.3g}"
        elif kind == "all entries":
            claim, what = truth * (1 + delta), f"all entries × (1 + {delta:.2e})"
        elif truth.ndim == 2 and truth.shape[0] == truth.shape[1]:
            claim, what = truth.T.copy(), "transposed"
        else:
            continue
        with np.errstate(all="ignore"):
            change = np.abs(claim - truth)
            changed = judged & (change > WRONG_BY * np.maximum(np.abs(truth), 1e-300))
        if changed.any() and np.isfinite(claim).all():
            return claim, what, changed
    return None


def within_tolerance(truth: np.ndarray, claim: np.ndarray, changed: np.ndarray,
                     g: gradcheck.Gradient) -> tuple[bool, str]:
    """Is every changed entry within atol + rtol·|T| + the rounding floor
    SCALE·max|T| (+ the exact value's own bound), so that gradcheck passes
    the claim by design? And the entry changed most relative to that."""
    size = np.abs(truth)
    tol = RTOL * size + SCALE * float(size.max(initial=0.0)) + RESOLUTION * size + LEAST
    if g.exact_error is not None:
        tol = tol + g.exact_error
    change = np.abs(claim - truth)
    with np.errstate(all="ignore"):
        ratio = np.where(changed, change / tol, -np.inf)
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(ratio)), ratio.shape))
    return bool((change[changed] <= tol[changed]).all()), (
        f"largest change at {idx}: T {float(truth[idx])!r}, claim {float(claim[idx])!r}, "
        f"change {change[idx]:.3g}, tolerance {tol[idx]:.3g}; max|T| {size.max():.3g}")


def run_point(p: Point) -> PointResult:
    t = time.perf_counter()
    out = PointResult(p)
    base, r = judge(p, "truth", None, "none")
    out.judged.append(base)
    if r is None:
        out.skipped = f"the check without a claim ended in {base.outcome}"
        out.seconds = time.perf_counter() - t
        return out
    g = r[p.wrt]
    truth = np.array(g.exact, dtype=np.float64)
    judged = np.ones(truth.shape, dtype=bool)
    for u in g.undefined:
        judged[u.index] = False
    if not np.isfinite(truth).all():
        out.skipped = "T is not finite"
        out.seconds = time.perf_counter() - t
        return out
    if p.closed is not None:
        out.judged.append(judge(p, "right", p.closed, f"`{p.closed}`")[0])
    out.judged.append(judge(p, "right", truth, "T (array)")[0])
    rng = np.random.default_rng(list(p.seed))
    for _ in range(p.wrong):
        planted = plant(truth, judged, rng)
        if planted is None:
            out.skipped = "no mistake could be planted"
            break
        claim, what, changed = planted
        j, r = judge(p, "wrong", claim, f"T, {what}")
        if r is not None and j.outcome == "pass":
            j.within_tolerance, j.reason = within_tolerance(truth, claim, changed, r[p.wrt])
        out.judged.append(j)
    out.seconds = time.perf_counter() - t
    return out


# ----- summaries -----

def outcome_counts(results: list[PointResult]) -> dict[str, int]:
    c: Counter[str] = Counter()
    for res in results:
        c["points"] += 1
        c["seconds_ms"] += round(1000 * res.seconds)
        for j in res.judged:
            c["checks"] += 1
            if j.role != "truth":
                c["cases"] += 1
            c[f"{j.role} {j.outcome}"] += 1
            if j.role == "wrong" and j.outcome == "pass" and j.within_tolerance:
                c["wrong pass within tolerance"] += 1
    return dict(c)


PROBLEMS = ("false FAIL", "false PASS", "engines disagree (no claim)", "crash",
            "false PASS (within the documented tolerance)")  # the order they are listed in


def problems(results: list[PointResult]) -> list[tuple[str, PointResult, Judged]]:
    """False fails, false passes, failures without a claim and crashes, in
    the order of PROBLEMS and then of the points."""
    found = []
    for res in results:
        for j in res.judged:
            if j.outcome == "crash":
                found.append(("crash", res, j))
            elif j.role == "truth" and j.outcome == "fail":
                found.append(("engines disagree (no claim)", res, j))
            elif j.role == "right" and j.outcome == "fail":
                found.append(("false FAIL", res, j))
            elif j.role == "wrong" and j.outcome == "pass":
                found.append((PROBLEMS[4] if j.within_tolerance else "false PASS", res, j))
    return sorted(found, key=lambda f: PROBLEMS.index(f[0]))  # stable: points stay in order


def grouped(found: list[tuple[str, PointResult, Judged]]
            ) -> list[tuple[str, PointResult, Judged, str]]:
    """One row per point and kind of problem and message, with its claims."""
    rows: dict[tuple[str, str, int, str], tuple[str, PointResult, Judged, list[str]]] = {}
    for k, r, j in found:
        key = (k, r.point.family, r.point.index, j.reason)
        rows.setdefault(key, (k, r, j, []))[3].append(j.claim)
    return [(k, r, j, "; ".join(claims)) for k, r, j, claims in rows.values()]


def point_text(p: Point, width: int | None = None) -> str:
    """The point's values in full (they reproduce the case), or its note
    when they are too many; cut to ``width`` characters if given."""
    if p.note and sum(v.size for v in p.at.values()) > SHOWN:
        text = p.note
    else:
        values = "; ".join(f"{n} = {json.dumps(v.tolist())}" for n, v in p.at.items())
        text = f"{p.note}: {values}" if p.note else values
    return text if width is None or len(text) <= width else text[:width - 1] + "…"


# ----- the report -----

def report(res: dict[str, Any]) -> str:
    m, results = res["machine"], res["results"]
    by_family = {f.name: [r for r in results if r.point.family == f.name] for f in FAMILIES}
    counts = {name: outcome_counts(rs) for name, rs in by_family.items()}
    total = outcome_counts(results)
    header = ["family", "points", "cases", "right: pass", "right: **FAIL**", "right: undecided",
              "wrong: fail", "wrong: **PASS**", "wrong: undecided", "no claim: **FAIL**",
              "no claim: undecided", "refused", "crashes", "time (s)"]

    def row(name: str, c: dict[str, int]) -> list[Any]:
        g = c.get
        refused = sum(v for k, v in c.items() if k.endswith(" refused"))
        crashes = sum(v for k, v in c.items() if k.endswith(" crash"))
        passed_wrong = g("wrong pass", 0)
        within = g("wrong pass within tolerance", 0)
        return [name, g("points", 0), g("cases", 0), g("right pass", 0), g("right fail", 0),
                g("right undecided", 0), g("wrong fail", 0),
                f"{passed_wrong}" + (f" ({within} within tol.)" if within else ""),
                g("wrong undecided", 0), g("truth fail", 0), g("truth undecided", 0), refused,
                crashes, f"{g('seconds_ms', 0) / 1000:.1f}"]

    rows = [row(name, counts[name]) for name in by_family] + [row("**total**", total)]
    found = problems(results)
    kinds = Counter(k for k, _, _ in found)
    listed = [[k, f"{r.point.family} #{r.point.index}", f"`{r.point.expr}`", r.point.wrt,
               point_text(r.point), claims, j.outcome, j.reason]
              for k, r, j, claims in grouped(found)[:LISTED]]
    refusals = [(r, j) for r in results for j in r.judged if j.outcome == "refused"]
    crashes = sum(k == "crash" for k, _, _ in found)
    by_message: dict[str, list[PointResult]] = {}
    for k, r, j in found:
        if k == "crash":
            by_message.setdefault(j.reason, []).append(r)
    crash_rows = [[msg, len(rs), f"`{rs[0].point.expr}` ({rs[0].point.family} "
                   f"#{rs[0].point.index})"] for msg, rs in by_message.items()]
    refused_by_msg = Counter(f"{r.point.family}: {j.reason}" for r, j in refusals)
    reasons = Counter((r.point.family, j.role, j.reason) for r in results for j in r.judged
                      if j.outcome == "undecided")
    by_claim = Counter((j.role, claim_kind(j.claim), j.outcome) for r in results
                       for j in r.judged if j.role != "truth")
    claim_rows = []
    for role, kind in sorted({(a, b) for a, b, _ in by_claim}):
        cells = [by_claim.get((role, kind, o), 0) for o in
                 ("pass", "fail", "undecided", "refused", "crash")]
        claim_rows.append([role, kind, sum(cells), *cells])
    return "\n".join([
        "# Does gradcheck ever give a wrong verdict?", "",
        f"Generated by `bench/truth.py{' --quick' if res['quick'] else ''}` "
        f"(seed {res['seed']}, {res['jobs']} worker processes) on {m['date']} in "
        f"{res['seconds']:.1f} s. Every number below is what this run measured.", "",
        "## Machine and versions", "",
        f"- CPU: {m['cpu']}; {m['cpu_count']} logical CPUs, {m['usable_cores']} usable",
        f"- OS: {m['os']}",
        f"- Python {m['python']}, NumPy {m['numpy']}, SymPy {m['sympy']}",
        f"- gradcheck {m['gradcheck']} at commit {m['commit']}"
        + (" (with uncommitted changes in gradcheck/)" if m["gradcheck_dirty"] else ""), "",
        "## What is measured", "",
        "Each point is a scalar f and a point; the truth T is `r.exact` of a check without a "
        "claim (default settings; the inverse family passes `engine='closed'` for W larger "
        f"than {max(SYMPY_SIZES)}×{max(SYMPY_SIZES)}, where the SymPy engine takes seconds to "
        "minutes or refuses). A *case* is one claim judged: the family's closed form as an "
        "expression string (all families but `smooth`), T itself as an array, and "
        "T with a planted mistake (one entry or all entries × (1 + δ), δ log-uniform in "
        f"[{PLANT_MIN:g}, {PLANT_MAX:g}]; a sign flipped; transposed; a nonzero entry set to 0; "
        "a zero entry set to δ·max|T|), kept only if it changes a judged entry by more than "
        f"{WRONG_BY:g}·max(|entry|, 1e-300). A right claim that fails is a **false FAIL**, a "
        "wrong claim that passes a **false PASS**; *undecided* is never wrong. *No claim: "
        "FAIL* is the check without a claim failing: the engines disagree on a correct f. "
        "*Refused*: a GradcheckError on a point inside the domain. *Crashes*: any other "
        f"exception. Each check has a budget of {TIMEOUT:g} s of symbolic work (a "
        "LimitError beyond it is *refused*). A false PASS *within tol.* changes every judged "
        "entry by at most rtol·|T| + 2.3e-13·max|T| (+ float64 rounding), gradcheck's "
        "documented tolerance: a "
        "pass by design. *Time*: seconds of checks, summed over the workers. "
        + ("The diagnosis of each failing claim ran (`--diagnose`)." if res["diagnose"] else
           "The diagnosis of a failing claim (which usual mistake explains it: it never "
           "changes the verdict, and may take 10 s) was skipped; `--diagnose` runs it."), "",
        "## Results by family", "",
        table(header, rows), "",
        "Families: " + "; ".join(f"`{f.name}`: {f.title}" for f in FAMILIES) + ".", "",
        f"**Totals**: {total.get('cases', 0)} cases at {total.get('points', 0)} points "
        f"({total.get('checks', 0)} checks); "
        f"{total.get('right fail', 0)} false FAIL, {total.get('wrong pass', 0)} false PASS "
        f"({total.get('wrong pass within tolerance', 0)} within the documented tolerance), "
        f"{total.get('truth fail', 0)} engine disagreements without a claim, "
        f"{sum(v for k, v in total.items() if k.endswith(' crash'))} crashes, "
        f"{sum(v for k, v in total.items() if k.endswith(' refused'))} refused.", "",
        "## By claim", "",
        table(["role", "claim", "cases", "pass", "fail", "undecided", "refused", "crash"],
              claim_rows), "",
        "## Every false pass, false fail and crash", "",
        (f"{len(found)} found" + (f" ({', '.join(f'{v} {k}' for k, v in kinds.items())})"
                                  if found else "") +
         f"; {len(grouped(found))} rows, the claims at one point that went wrong the same "
         "way in one row" + (f", the first {LISTED} listed." if len(grouped(found)) > LISTED
                             else ".")
         + " `family #i` is point i of the family: `truth.generate(seed, False)` rebuilds it "
           "(the quick run's points are the first of each family)."), "",
        *([table(["what", "point", "f", "wrt", "values", "claim", "verdict", "what happened"],
                 listed), ""] if listed else []),
        *([f"Crashes by message ({crashes} in all):", "",
           table(["message", "claims", "first f"], crash_rows), ""] if crash_rows else []),
        "## Refused points", "",
        *([table(["family: message", "times"],
                 [[k, v] for k, v in refused_by_msg.most_common(LISTED)]), "",
           "First of each message:", "",
           table(["family", "f", "point", "claim"],
                 first_refusals(refusals)), ""]
          if refusals else ["None.", ""]),
        "## Slowest points", "",
        table(["family", "f", "point", "checks", "seconds"],
              [[r.point.family, f"`{r.point.expr}`", point_text(r.point, 120), len(r.judged),
                f"{r.seconds:.1f}"]
               for r in sorted(results, key=lambda r: -r.seconds)[:SLOWEST]]), "",
        "## Why undecided", "",
        "The `bound` of the undecided entries (`claim`: the claim's own float64 error; "
        "`exact`: the exact value's, computed in float64; `fd`: the numeric estimate's; "
        "`rounding`: within the rounding of a float64 claim), or `kink` when every entry is "
        "at a kink.", "",
        *([table(["family", "claim", "reason", "times"],
                 [[f, role, reason, v] for (f, role, reason), v in sorted(reasons.items())]), ""]
          if reasons else ["No undecided verdict.", ""]),
    ])


def table(header: list[str], rows: list[list[Any]]) -> str:
    """A markdown table; a | inside a cell (max|T|) is escaped."""
    def cell(x: Any) -> str:
        return str(x).replace("|", "\\|")
    return plain_table([cell(h) for h in header], [[cell(c) for c in r] for r in rows])


def claim_kind(shown: str) -> str:
    if shown.startswith("`"):
        return "closed form (string)"
    if shown == "T (array)":
        return "T (array)"
    for kind, word in (("one entry × (1 + δ)", "×"), ("all entries", "all entries"),
                       ("sign flipped", "sign"), ("transposed", "transposed"),
                       ("zero entry set to δ·max|T|", "(0 in T)"),
                       ("nonzero entry set to 0", "set to 0")):
        if word in shown:
            return kind
    return shown


def first_refusals(refusals: list[tuple[PointResult, Judged]]) -> list[list[str]]:
    seen: set[str] = set()
    out: list[list[str]] = []
    for r, j in refusals:
        key = f"{r.point.family}: {j.reason}"
        if key not in seen and len(out) < LISTED:
            seen.add(key)
            out.append([r.point.family, f"`{r.point.expr}`", point_text(r.point), j.claim])
    return out


def summary(res: dict[str, Any]) -> str:
    total = outcome_counts(res["results"])
    crashes = sum(v for k, v in total.items() if k.endswith(" crash"))
    refused = sum(v for k, v in total.items() if k.endswith(" refused"))
    return (f"{total.get('cases', 0)} cases at {total.get('points', 0)} points in "
            f"{res['seconds']:.1f} s: {total.get('right fail', 0)} false FAIL, "
            f"{total.get('wrong pass', 0)} false PASS "
            f"({total.get('wrong pass within tolerance', 0)} within tolerance), "
            f"{total.get('truth fail', 0)} engine disagreements without a claim, "
            f"{crashes} crashes, {refused} refused; undecided: "
            f"{total.get('right undecided', 0)} right, {total.get('wrong undecided', 0)} wrong")


def record(r: PointResult) -> dict[str, Any]:
    """A point and its judged claims as JSON-ready data."""
    p = r.point
    return {"family": p.family, "index": p.index, "expr": p.expr, "wrt": p.wrt,
            "at": {n: v.tolist() for n, v in p.at.items()}, "note": p.note, "engine": p.engine,
            "closed": p.closed, "seconds": r.seconds, "skipped": r.skipped,
            "judged": [j.__dict__ for j in r.judged]}


def no_diagnosis(*args: Any, **kwargs: Any) -> None:
    return None


def start_worker(diagnose: bool) -> None:
    """Without ``--diagnose``, skip the search for the mistake behind a
    failing claim: it never changes a verdict, and takes up to 10 s a check."""
    if not diagnose:
        gradcheck.checking.gradient._diagnosis = no_diagnosis


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about 500 cases instead of 10,000")
    parser.add_argument("--seed", type=int, default=0, help="base seed of every family")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parser.add_argument("--jobs", type=int, default=usable or 1, help="worker processes")
    parser.add_argument("--out", type=Path, default=HERE / "truth.md", help="the report")
    parser.add_argument("--json", type=Path, help="also write every judged claim here")
    parser.add_argument("--diagnose", action="store_true",
                        help="also run the diagnosis of each failing claim (twice the time)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    points = generate(args.seed, args.quick)
    results: list[PointResult] = []
    with ProcessPoolExecutor(max_workers=args.jobs, initializer=start_worker,
                             initargs=(args.diagnose,)) as pool:
        for i, r in enumerate(pool.map(run_point, points, chunksize=1)):
            results.append(r)
            if (i + 1) % max(1, len(points) // 20) == 0:
                print(f"  {i + 1}/{len(points)} points, {time.perf_counter() - start:.0f} s",
                      file=sys.stderr, flush=True)
    results.sort(key=lambda r: ([f.name for f in FAMILIES].index(r.point.family),
                                r.point.index))
    res = {"machine": machine(), "results": results, "quick": args.quick, "seed": args.seed,
           "jobs": args.jobs, "diagnose": args.diagnose, "seconds": time.perf_counter() - start}
    args.out.write_text(report(res))
    if args.json:
        args.json.write_text(json.dumps([record(r) for r in results], indent=1) + "\n")
    print(summary(res))
    for kind, r, j in problems(results)[:LISTED]:
        print(f"- {kind}: {r.point.expr} wrt {r.point.wrt} at {point_text(r.point)}; "
              f"claim {j.claim}: {j.outcome}: {j.reason}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Name the mistake behind a wrong claim, from the usual list.

People who derive matrix derivatives by hand make a small set of mistakes.
Each candidate below produces the derivative that mistake would give; the
first that matches the claim at every entry (with the comparator's own
tolerance) is the diagnosis. Rewritten expressions are differentiated
exactly, like the original: an activation's derivative written as the
activation itself is the exact derivative of the expression with the
activation replaced by its antiderivative (σ by softplus, whose derivative
is σ).

Two candidates need part of f held constant, which the language cannot say:
an activation's derivative taken at the wrong argument, and a formula that
is right only for a symmetric matrix. For them the differentiation
variable w is frozen where it must not be differentiated: written as a
matrix literal of its value at the point (the value is read off the exact
gradient of ``sum(w*w)/2``). Frozen parts are constants, so the rewritten
expression is still differentiated exactly, by the same engine.

>>> import gradcheck
>>> at = {"x": [[1, 1], [1, 1], [1, 1]], "y": "0.5*ones(2,2)", "z": "0.25*ones(3,2)",
...       "A": [[1, 0], [2, 1], [0, 1]]}
>>> gradcheck.check("(x·y+z)·A+z", wrt="z", at=at, expect="A").gradients[0].diagnosis.kind
'missing-term'

Longer than most modules: it is the list of usual mistakes, one candidate each,
and the words for each; a new mistake is one more candidate here.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from gradcheck.compare.comparator import compare
from gradcheck.errors import GradcheckError
from gradcheck.language.shapes import Typed
from gradcheck.language.tree import Call, Matrix, Node, Num, Shape, Var, render, walk
from gradcheck.lazy import sympy

__all__ = ["Diagnosis", "diagnose", "difference"]

MAX_DIFFERENCE_TEXT = 300  # characters: a longer difference says nothing a reader can use
MAX_DIFFERENCE = 9  # entries of a symbolic difference shown in full
LATE_TIME = 5.0  # seconds after which the later candidates are not tried (see _Clock);
# half of the diagnosis's share of the budget (checking.gradient.DIAGNOSIS_TIME)


@dataclass(frozen=True)
class Diagnosis:
    """``kind`` is one of ``sign``, ``factor``, ``transposed``,
    ``missing-term``, ``extra-term``, ``product``, ``activation``,
    ``argument`` (an activation's derivative at the wrong argument),
    ``symmetric`` (a matrix assumed symmetric), ``entries`` (only some
    entries wrong, with their pattern) and ``unexplained``; ``sentence``
    says it to a person."""

    kind: str
    sentence: str
    difference: str | None = None  # exact − claimed, simplified, for a claim written as text
    corrected: str | None = None  # the claim with its one mistake mended, for a claim as text


# Activation -> its antiderivative, written in the language with {u} for the
# argument: differentiating the rewritten expression puts the activation
# where its derivative belongs.
ANTIDERIVATIVES = {
    "sigmoid": "softplus({u})",
    "tanh": "log((exp({u}) + exp(-({u}))) / 2)",
    "relu": "relu({u})**2 / 2",
    "sin": "-cos({u})",
    "cos": "sin({u})",
}
_PRIME = {"sigmoid": "σ", "tanh": "tanh", "relu": "relu", "sin": "sin", "cos": "cos",
          "softplus": "softplus", "exp": "exp"}

# Activations whose derivative may be taken at the wrong argument: the
# activation -> its derivative, with {v} for the argument, or None where the
# derivative is left to the engine (relu′ = Heaviside, which has no
# division-free formula in the language).
DERIVATIVES: dict[str, str | None] = {
    "sigmoid": "σ({v})*(1 - σ({v}))",
    "tanh": "1 - tanh({v})**2",
    "relu": None,
    "softplus": "σ({v})",
    "sin": "cos({v})",
    "cos": "-sin({v})",
    "exp": "exp({v})",
}
# Activation -> its derivative written in terms of its output a = g(u),
# with {a}: the forms people remember (σ′ = a(1 − a), tanh′ = 1 − a²).
OUTPUT_FORMS = {"sigmoid": "{a}*(1 - {a})", "tanh": "1 - {a}**2"}

Jacobian = Callable[[str], np.ndarray]  # expression text -> its exact Jacobian (layout)


def diagnose(typed: Typed, wrt: str, exact: np.ndarray, claimed: np.ndarray,
             jacobian: Jacobian, *, atol: float, rtol: float,
             repaired: Callable[[], Diagnosis | None] | None = None) -> Diagnosis:
    """The first mistake of the usual list that explains every entry;
    ``repaired`` (a claim written as text) looks for one edit inside the claim
    that makes it right, after the mistakes of the whole claim and before the
    costlier rewrites of f."""

    def explains(candidate: np.ndarray) -> bool:
        if candidate.shape != claimed.shape or not np.isfinite(candidate).all():
            return False
        c = compare(candidate, None, None, claimed, atol=atol, rtol=rtol)
        return not c.mismatches

    def differs(candidate: np.ndarray) -> bool:  # a mistake that changes nothing names nothing
        return bool(compare(exact, None, None, candidate, atol=atol, rtol=rtol).mismatches)

    if np.abs(exact).max(initial=0.0) > 0 and explains(-exact):
        return Diagnosis("sign", "the sign is flipped: the claim is minus the derivative")
    factor = _factor(exact, claimed)
    if factor is not None and explains(factor * exact):
        if abs(factor) < 1:
            return Diagnosis("factor", f"off by a factor of {_fraction(1 / factor)}: the "
                                       f"derivative is {_fraction(1 / factor)} times the claim")
        return Diagnosis("factor", f"off by a factor of {_fraction(factor)}: the claim is "
                                   f"{_fraction(factor)} times the derivative")
    for candidate, sentence in _transposes(exact, typed.shape, wrt):
        if differs(candidate) and explains(candidate):
            return Diagnosis("transposed", sentence)
    found = repaired() if repaired is not None else None
    if found is not None:
        return found
    clock = _Clock(jacobian, exact.shape)
    jacobian = clock.timed
    for kind, text, sentence in _rewrites(typed):
        try:
            candidate = jacobian(text)
        except GradcheckError:
            continue
        if differs(candidate) and explains(candidate):
            return Diagnosis(kind, sentence)
    frozen = _Frozen(typed, wrt, clock.late)
    found = _symmetric(typed, frozen, clock.late, explains, differs, atol=atol, rtol=rtol)
    if found is not None:
        return found
    for text, sentence in _arguments(typed, frozen):
        try:
            candidate = clock.late(text)
        except GradcheckError:
            continue
        if differs(candidate) and explains(candidate):
            return Diagnosis("argument", sentence)
    return _pattern(exact, claimed, typed.shape, wrt, atol, rtol)


class _Clock:
    """The candidates' Jacobians, timed. Each costs about one exact
    derivative; the later candidates (an activation's derivative at the
    wrong argument, a matrix assumed symmetric) are tried only while the
    diagnosis has spent less than LATE_TIME seconds, counting the slowest
    call so far as the cost of the next, so that a large problem still
    gets the pattern of its wrong entries rather than running out of the
    diagnosis's time budget. A call that is not made gives NaN, which
    explains nothing."""

    def __init__(self, jacobian: Jacobian, shape: tuple[int, ...]) -> None:
        self._jacobian, self._shape = jacobian, shape
        self._start = time.monotonic()
        self._slowest = 0.0

    def timed(self, text: str) -> np.ndarray:
        start = time.monotonic()
        try:
            return self._jacobian(text)
        finally:
            self._slowest = max(self._slowest, time.monotonic() - start)

    def late(self, text: str) -> np.ndarray:
        if time.monotonic() - self._start + self._slowest > LATE_TIME:
            return np.full(self._shape, np.nan)
        return self.timed(text)


def _factor(exact: np.ndarray, claimed: np.ndarray) -> float | None:
    big = np.abs(exact) > 1e-12 * np.abs(exact).max(initial=0.0)
    if not big.any():
        return None
    ratio = float(np.median(claimed[big] / exact[big]))
    return None if not np.isfinite(ratio) or abs(ratio - 1) < 1e-9 or ratio == 0 else ratio


def _fraction(v: float) -> str:
    q = Fraction(v).limit_denominator(64)
    return str(q) if abs(float(q) - v) <= 1e-9 * abs(v) else f"{v:.6g}"


def _transposes(exact: np.ndarray, f_shape: tuple[int, int], wrt: str
                ) -> Iterator[tuple[np.ndarray, str]]:
    if exact.ndim == 2 and exact.shape[0] == exact.shape[1]:
        yield exact.T, f"transposed: the claim is the transpose of ∂f/∂{wrt}"
    if exact.ndim == 4:
        r, c = f_shape
        k, l = exact.shape[2:]
        if (r, c) == (k, l):
            yield (exact.transpose(2, 3, 0, 1),
                   "transposed: the Jacobian is written in denominator layout, "
                   f"∂f[k,l]/∂{wrt}[i,j] where gradcheck's is ∂f[i,j]/∂{wrt}[k,l]")
        if (r, c) == (k, l) and r == c:
            diag = np.zeros_like(exact)
            for i, j in np.ndindex(r, c):
                diag[i, j, i, j] = exact[j, i, j, i]
            yield diag, "transposed: the elementwise derivative is transposed"


def _rewrites(typed: Typed) -> Iterator[tuple[str, str, str]]:
    """(kind, expression text, sentence) for each mistake that rewrites f."""
    tree = typed.tree
    whole = render(tree)
    for sign, term in _terms(tree):
        if term is tree:
            continue
        t = render(term)
        broadcast = f"({t}) + 0*({whole})"
        written = f"{'-' if sign < 0 else '+'} {t}"
        yield ("missing-term", f"({whole}) - {sign}*({broadcast})",
               f"missing the term from `{written}`: the claim lacks its derivative")
        yield ("extra-term", f"({whole}) + {sign}*({broadcast})",
               f"the term from `{written}` is counted twice")
    for node in walk(tree):
        if isinstance(node, Call) and node.op in ("mul", "matmul"):
            a, b = (render(x) for x in node.args)
            other, name = ("@", "matrix product") if node.op == "mul" else ("*",
                                                                          "elementwise product")
            text = _replace(tree, node, f"({a}) {other} ({b})")
            yield ("product", text, f"the elementwise and the matrix product are confused: "
                                    f"the claim is the derivative with `{render(node)}` read as "
                                    f"the {name} `({a}) {other} ({b})`")
        if isinstance(node, Call) and node.op in ANTIDERIVATIVES:
            u = render(node.args[0])
            text = _replace(tree, node, ANTIDERIVATIVES[node.op].format(u=u))
            prime = _PRIME[node.op]
            yield ("activation", text, f"an activation written for its derivative: the claim "
                                       f"has {prime}({u}) where {prime}′({u}) belongs")


def _terms(node: Node, sign: int = 1) -> Iterator[tuple[int, Node]]:
    """The additive terms of f, through sums, differences, negation and
    the linear reductions sum and mean."""
    if isinstance(node, Call) and node.op in ("add", "sub"):
        yield from _terms(node.args[0], sign)
        yield from _terms(node.args[1], sign if node.op == "add" else -sign)
    elif isinstance(node, Call) and node.op == "neg":
        yield from _terms(node.args[0], -sign)
    elif isinstance(node, Call) and node.op in ("sum", "mean") and isinstance(
            node.args[0], Call) and node.args[0].op in ("add", "sub", "neg"):
        # sum(a + b) = sum(a) + sum(b): the terms of the argument, each reduced
        for s, term in _terms(node.args[0], sign):
            yield s, Call(node.op, (term,))
    else:
        yield sign, node


def _replace(tree: Node, target: Node, text: str) -> str:
    """The text of ``tree`` with ``target`` replaced by ``text``."""
    return _substitute(tree, {id(target): text})


def _substitute(tree: Node, texts: dict[int, str]) -> str:
    """The text of ``tree`` with each node whose ``id`` is a key of
    ``texts`` replaced by its text (in parentheses)."""
    holes: dict[str, str] = {}

    def swap(node: Node) -> Node:
        if id(node) in texts:
            name = f"__hole_{len(holes)}__"
            holes[name] = f"({texts[id(node)]})"
            return Var(name)
        if isinstance(node, Call):
            return dataclasses.replace(node, args=tuple(swap(a) for a in node.args))
        if isinstance(node, Matrix):
            return dataclasses.replace(node, rows=tuple(tuple(swap(e) for e in row)
                                                        for row in node.rows))
        return node

    text = render(swap(tree))
    for name, replacement in holes.items():
        text = text.replace(name, replacement)
    return text


class _Frozen:
    """Texts with the differentiation variable frozen: each occurrence of
    it written as a matrix literal of its value at the point, a constant.
    None when the value cannot be had (then the candidates needing it are
    skipped)."""

    def __init__(self, typed: Typed, wrt: str, jacobian: Jacobian) -> None:
        self.typed, self.wrt, self._jacobian = typed, wrt, jacobian
        self._literal: str | None = None
        self._tried = False

    @property
    def literal(self) -> str | None:
        if not self._tried:
            self._tried = True
            r, c = self.typed.shape
            try:  # ∂/∂w sum(w*w)/2 = w, in every entry of f
                value = self._jacobian(f"sum({self.wrt}*{self.wrt})/2*ones({r},{c})")
            except GradcheckError:
                return None
            if value.ndim == 4:
                value = value[0, 0]
            if value.shape == self.typed.shapes[self.wrt] and np.isfinite(value).all():
                self._literal = "[" + ", ".join(
                    "[" + ", ".join(repr(float(v)) for v in row) + "]" for row in value) + "]"
        return self._literal

    def uses(self, node: Node) -> list[Node]:
        """The occurrences of the variable in ``node``."""
        return [n for n in walk(node) if isinstance(n, Var) and n.name == self.wrt]

    def text(self, node: Node, keep: Node | None = None,
             extra: dict[int, str] | None = None) -> str:
        """``node`` with every occurrence but ``keep`` frozen (and the
        nodes of ``extra`` replaced)."""
        assert self.literal is not None
        texts = {id(n): self.literal for n in self.uses(node) if n is not keep}
        return _substitute(node, {**texts, **(extra or {})})


def _arguments(typed: Typed, frozen: _Frozen) -> Iterator[tuple[str, str]]:
    """(expression text, sentence) for an activation's derivative taken at
    the wrong argument.

    Covered: each elementwise activation g(u) in f, g one of
    sigmoid (σ), tanh, relu, softplus, sin, cos and exp, anywhere in f (a
    dense layer under sum or mean, f = g(u) itself, a layer inside another
    layer). The claim is compared with the exact derivative where, at that
    one occurrence, g′(u) is replaced by

    - for σ and tanh, the derivative written in terms of the output but
      given the input: u(1 − u) or 1 − u² where σ(u)(1 − σ(u)) or
      1 − tanh(u)² belongs (tried first: it is the cheapest);
    - g′ at the activation's output, g′(g(u)) (σ′(σ(z)));
    - g′ at u without one of its additive terms, like the bias:
      g′(x@W) for g(x@W + b);
    - g′ at a sub-expression of u with u's shape, like the layer's input
      x in g(x@W).

    By the chain rule, g(u) contributes g′(u)·∂u/∂w. With U and V the
    texts of u and of the wrong argument v with w frozen (constants), the
    candidate replaces g(u) by g(U) + D·(u − U), D the wrong derivative
    (g′(V), or U(1 − U) and 1 − U² for the output forms): the same value
    at the point, and the derivative D·∂u/∂w, exactly (D is a constant).
    relu′ has no formula without a division (0/0 at a kink would make the
    whole expression NaN, whose derivative SymPy takes as 0), so for relu
    g(u) becomes g(U) − g(V) + g(V + (u − U)), whose derivative is
    relu′(V)·∂u/∂w (½ at a kink, as the exact engine has it).

    Not covered: a wrong argument that is none of these; several
    occurrences wrong at once; a second occurrence of the same g(u) (only
    the first is tried).
    """
    tree = typed.tree
    seen: set[tuple[str, str, str]] = set()  # (g, u, v) already tried
    for node in walk(tree):
        if not (isinstance(node, Call) and node.op in DERIVATIVES):
            continue
        if frozen.literal is None:
            return
        (u,) = node.args
        ut, uf = render(u), frozen.text(u)
        g, prime = node.op, _PRIME[node.op]
        step = f"(({ut}) - ({uf}))"  # u − U: 0 at the point, ∂u/∂w
        wrong: list[tuple[str, str]] = [(render(node), frozen.text(node))]
        terms = list(_terms(u))
        for _, term in terms:
            rest = [(s, t) for s, t in terms if t is not term]
            if rest and _broadcast([t.shape for _, t in rest]) == u.shape:
                wrong.append((_sum(rest, render), _sum(rest, frozen.text)))
        wrong += [(render(n), frozen.text(n)) for n in walk(u)[1:]
                  if n.shape == u.shape and not isinstance(n, Num)]
        if g in OUTPUT_FORMS and (g, ut, "output form") not in seen:
            seen.add((g, ut, "output form"))
            form = OUTPUT_FORMS[g]
            # g(U) + D·(u − U), D the output form at U: the derivative D·∂u/∂w
            yield (_replace(tree, node, f"{g}({uf}) + ({form.format(a=f'({uf})')})*{step}"),
                   f"{prime}′ written in terms of the output but given the input: the claim "
                   f"has {_show(form.format(a=f'({ut})'))} where "
                   f"{_show(form.format(a=render(node)))} = {prime}′({_show(ut)}) belongs")
        for vt, vf in wrong:
            if vt == ut or (g, ut, vt) in seen:
                continue
            seen.add((g, ut, vt))
            d = DERIVATIVES[g]
            text = (f"{g}({uf}) + ({d.format(v=f'({vf})')})*{step}" if d is not None
                    else f"{g}({uf}) - {g}({vf}) + {g}(({vf}) + {step})")
            yield (_replace(tree, node, text),
                   f"{prime}′ evaluated at the wrong argument: the claim is "
                   f"{prime}′({_show(vt)}), the derivative needs {prime}′({_show(ut)})")


def _sum(terms: list[tuple[int, Node]], show: Callable[[Node], str]) -> str:
    """The text of signed terms added up."""
    out = ""
    for sign, term in terms:
        t = show(term)
        if not out:
            out = f"-({t})" if sign < 0 else t
        else:
            out += f" - ({t})" if sign < 0 else f" + {t}"
    return out


def _broadcast(shapes: list[Shape | None]) -> Shape | None:
    """The shape terms broadcast to, in two dimensions."""
    known = [s for s in shapes if s is not None]
    if len(known) < len(shapes):
        return None
    return max(s[0] for s in known), max(s[1] for s in known)


def _show(text: str) -> str:
    """Text for a sentence: σ as printed in notes."""
    return re.sub(r"\bsigmoid\(", "σ(", text)


def _symmetric(typed: Typed, frozen: _Frozen, jacobian: Jacobian,
               explains: Callable[[np.ndarray], bool], differs: Callable[[np.ndarray], bool],
               *, atol: float, rtol: float) -> Diagnosis | None:
    """A formula right only for a symmetric matrix: 2·A@x for x.T@A@x.

    With w occurring k ≥ 2 times, the claim is k times the derivative
    through one occurrence (the others frozen): the occurrences were taken
    to contribute alike. That is the mistake of assuming a square matrix M
    (not w) symmetric when, with M replaced by its symmetric part
    (M + M.T)/2, the same rule gives the exact derivative: the claim's
    formula is right for every symmetric M and wrong for this one.
    """
    tree = typed.tree
    uses = frozen.uses(tree)
    squares = [m for m, (r, c) in typed.shapes.items() if m != frozen.wrt and r == c > 1]
    if len(uses) < 2 or not squares or frozen.literal is None:
        return None
    k = len(uses)

    def same(a: np.ndarray, b: np.ndarray) -> bool:
        return (a.shape == b.shape and bool(np.isfinite(b).all())
                and not compare(a, None, None, b, atol=atol, rtol=rtol).mismatches)

    for use in uses:
        try:
            one = k * jacobian(frozen.text(tree, keep=use))
        except GradcheckError:
            continue
        if not (differs(one) and explains(one)):
            continue
        for m in squares:
            sym = {id(n): f"({m} + {m}.T)/2" for n in walk(tree)
                   if isinstance(n, Var) and n.name == m}
            try:
                truth = jacobian(_substitute(tree, sym))
                rule = k * jacobian(frozen.text(tree, keep=use, extra=sym))
            except GradcheckError:
                continue
            if same(truth, rule):
                example = (f" (as in ({m} + {m}.T) where the claim has 2*{m} or 2*{m}.T)"
                           if k == 2 else "")
                return Diagnosis("symmetric", f"assumed {m} symmetric: the claim is the "
                                              f"derivative for a symmetric {m}; for this {m} "
                                              f"the derivative needs both {m} and {m}.T"
                                              f"{example}")
    return None


def _pattern(exact: np.ndarray, claimed: np.ndarray, f_shape: tuple[int, int], wrt: str,
             atol: float, rtol: float) -> Diagnosis:
    bad = [m.index for m in compare(exact, None, None, claimed, atol=atol,
                                    rtol=rtol).mismatches]
    total = exact.size
    if len(bad) == total or not bad:
        return Diagnosis("unexplained", "no mistake from the usual list (sign, factor, "
                                        "transpose, a missing or extra term, the products "
                                        "confused, an activation for its derivative or at the "
                                        "wrong argument, a matrix assumed symmetric) explains "
                                        "the difference")
    groups: dict[str, set[object]]
    if len(bad[0]) == 2:
        groups = {"row": {i for i, _ in bad}, "column": {j for _, j in bad}}
        places = {"row": f"row {{}} of ∂f/∂{wrt}", "column": f"column {{}} of ∂f/∂{wrt}"}
        diagonal = all(i == j for i, j in bad)
    else:
        groups = {"row": {(i, j) for i, j, _, _ in bad}, "column": {(k, l) for _, _, k, l in bad}}
        places = {"row": "the row of f[{0[0]},{0[1]}]",
                  "column": f"the column of {wrt}[{{0[0]}},{{0[1]}}]"}
        diagonal = all((i, j) == (k, l) for i, j, k, l in bad)
    where = ""
    for key in ("row", "column"):
        if len(groups[key]) == 1:
            where = ", all in " + places[key].format(next(iter(groups[key])))
            break
    else:
        if diagonal:
            where = ", all on the diagonal"
    entries = ", ".join(str(list(i)) for i in bad[:6]) + (" …" if len(bad) > 6 else "")
    return Diagnosis("entries", f"only {len(bad)} of {total} entries are wrong{where}: "
                                f"{entries}")


def difference(truth: sympy.MatrixBase, claimed: sympy.MatrixBase) -> str | None:
    """exact − claimed, simplified, where that is short: one value for every
    entry, or a small matrix; None for transcendental entries (simplifying
    them may take long and say little). ``claimed`` may broadcast.

    >>> z = sympy.Symbol("z")
    >>> difference(sympy.Matrix([[2 * z + 1, 3]]), sympy.Matrix([[2 * z, 2]]))
    '1 in every entry'
    """
    rows, cols = truth.shape
    diff = [truth[i, j] - claimed[i % claimed.rows, j % claimed.cols]
            for i in range(rows) for j in range(cols)]
    if any(d.has(sympy.Function) for d in diff):
        return None
    diff = [sympy.cancel(d) for d in diff]
    if all(d == diff[0] for d in diff):
        text = f"{diff[0]} in every entry"
    elif len(diff) <= MAX_DIFFERENCE:
        text = str(sympy.Matrix(rows, cols, diff).tolist())
    else:
        return None
    return text if len(text) <= MAX_DIFFERENCE_TEXT else None

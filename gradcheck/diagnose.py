"""Name the mistake behind a wrong claim, from the usual list.

People who derive matrix derivatives by hand make a small set of mistakes.
Each candidate below produces the derivative that mistake would give; the
first that matches the claim at every entry (with the comparator's own
tolerance) is the diagnosis. Rewritten expressions are differentiated
exactly, like the original: an activation's derivative written as the
activation itself is the exact derivative of the expression with the
activation replaced by its antiderivative (σ by softplus, whose derivative
is σ).

>>> import gradcheck
>>> at = {"x": [[1, 1], [1, 1], [1, 1]], "y": "0.5*ones(2,2)", "z": "0.25*ones(3,2)",
...       "A": [[1, 0], [2, 1], [0, 1]]}
>>> gradcheck.check("(x·y+z)·A+z", wrt="z", at=at, expect="A").gradients[0].diagnosis.kind
'missing-term'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy

from .compare import compare
from .errors import GradcheckError
from .shapes import Typed
from .tree import Call, Node, Var, render, walk

__all__ = ["Diagnosis", "diagnose", "difference"]

MAX_DIFFERENCE = 9  # entries of a symbolic difference shown in full


@dataclass(frozen=True)
class Diagnosis:
    """``kind`` is one of ``sign``, ``factor``, ``transposed``,
    ``missing-term``, ``extra-term``, ``product``, ``activation``,
    ``entries`` (only some entries wrong, with their pattern) and
    ``unexplained``; ``sentence`` says it to a person."""

    kind: str
    sentence: str
    difference: str | None = None  # exact − claimed, simplified, for a claim written as text


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
_PRIME = {"sigmoid": "σ", "tanh": "tanh", "relu": "relu", "sin": "sin", "cos": "cos"}

Jacobian = Callable[[str], np.ndarray]  # expression text -> its exact Jacobian (layout)


def diagnose(typed: Typed, wrt: str, exact: np.ndarray, claimed: np.ndarray,
             jacobian: Jacobian, *, atol: float, rtol: float) -> Diagnosis:
    """The first mistake of the usual list that explains every entry."""

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
    for kind, text, sentence in _rewrites(typed):
        try:
            candidate = jacobian(text)
        except GradcheckError:
            continue
        if differs(candidate) and explains(candidate):
            return Diagnosis(kind, sentence)
    return _pattern(exact, claimed, typed.shape, wrt, atol, rtol)


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
    hole = Var("__hole__")

    def swap(node: Node) -> Node:
        if node is target:
            return hole
        if isinstance(node, Call):
            return dataclasses.replace(node, args=tuple(swap(a) for a in node.args))
        return node

    return render(swap(tree)).replace("__hole__", f"({text})")


def _pattern(exact: np.ndarray, claimed: np.ndarray, f_shape: tuple[int, int], wrt: str,
             atol: float, rtol: float) -> Diagnosis:
    bad = [m.index for m in compare(exact, None, None, claimed, atol=atol,
                                    rtol=rtol).mismatches]
    total = exact.size
    if len(bad) == total or not bad:
        return Diagnosis("unexplained", "no mistake from the usual list (sign, factor, "
                                        "transpose, a missing or extra term, the products "
                                        "confused, an activation for its derivative) explains "
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
        return f"{diff[0]} in every entry"
    if len(diff) <= MAX_DIFFERENCE:
        return str(sympy.Matrix(rows, cols, diff).tolist())
    return None

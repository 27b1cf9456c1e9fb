"""Find the one edit inside a claim written as an expression that makes it right.

Real mistakes sit inside a sub-expression of a long backward formula: a
factor that should be transposed, a sign, σ written where σ′ belongs, a
derivative factor left out, a matrix product for an elementwise one, a term
too many. Each single edit of the claim's tree is tried in turn, from the
outermost sub-expression in, and the claim so edited is evaluated at the
point (NumPy, float64: cheap, so hundreds of candidates take a fraction of
a second); the first whose value the comparator accepts everywhere names
the mistake, where it is, and the corrected claim.

>>> import numpy as np
>>> from gradcheck.language.parser import parse
>>> from gradcheck.language.shapes import infer
>>> env = {"x": np.array([[1.0, 2.0], [3.0, 4.0]]), "W": np.array([[0.5, -1.0], [2.0, 1.0]])}
>>> f = infer(parse("sum(x@W)"), {"x": (2, 2), "W": (2, 2)})
>>> truth = np.ones((2, 2)) @ env["W"].T  # ∂ sum(x@W)/∂x = 1 Wᵀ
>>> fix = repair("ones(2,2) @ W", f, {"x": (2, 2), "W": (2, 2)}, env,
...              lambda v: np.allclose(v, truth))
>>> fix.sentence
"the claim is right with 'W' (column 13) transposed: ones(2, 2)@W.T"
>>> fix.corrected
'ones(2, 2)@W.T'
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

from gradcheck.errors import GradcheckError
from gradcheck.language import ops
from gradcheck.language.parser import definition, parse
from gradcheck.language.shapes import Typed, infer
from gradcheck.language.tree import Call, Matrix, Node, Num, Shape, Var, render, walk
from gradcheck.values.evaluate import OutOfDomain, evaluate

__all__ = ["MAX_CANDIDATES", "Repair", "repair"]

MAX_CANDIDATES = 2000  # edits tried at most (each a typing and an evaluation of the claim)

# Elementwise functions whose derivative a claim may write in their place, or
# lack as a factor; their derivatives come from the operator table's vjp column.
_ACTIVATIONS = ("sigmoid", "tanh", "relu", "softplus", "exp", "sin", "cos", "log")


@dataclass(frozen=True)
class Repair:
    """The edit that makes a claim right: ``kind`` (``transposed``, ``sign``,
    ``activation``, ``missing-factor``, ``product``, ``extra-term``), a
    sentence naming the sub-expression and its column, and the claim as it
    should read."""

    kind: str
    sentence: str
    corrected: str


def repair(claim: str, f: Typed, shapes: Mapping[str, Shape], env: Mapping[str, np.ndarray],
           accepts: Callable[[np.ndarray], bool],
           confirms: Callable[[Node], bool] | None = None) -> Repair | None:
    """The first single edit of ``claim`` whose value at ``env`` ``accepts``
    takes for the derivative of ``f`` (and that ``confirms``, given the edited
    claim's typed tree, holds at a second point, so that a coincidence at one
    point names nothing); None where no edit does."""
    try:
        tree = parse(claim)
    except GradcheckError:
        return None
    factors = _derivative_factors(f.tree)
    tried = 0
    for target, edited, kind, what in _edits(tree, factors):
        tried += 1
        if tried > MAX_CANDIDATES:
            return None
        whole = _substitute(tree, target, edited)
        try:
            typed = infer(whole, shapes)
            value = evaluate(typed.tree, env)
        except (GradcheckError, OutOfDomain, ArithmeticError, ValueError):
            continue
        if np.isfinite(value).all() and accepts(value) and (
                confirms is None or confirms(typed.tree)):
            corrected = render(typed.tree)
            where = f"'{render(target)}' (column {target.span[0] + 1})"
            return Repair(kind, f"the claim is right with {where} {what}: {corrected}",
                          corrected)
    return None


def _edits(tree: Node, factors: list[tuple[str, str]]
           ) -> Iterator[tuple[Node, Node, str, str]]:
    """(node, its replacement, kind, what the edit does), outermost nodes first."""
    for node in walk(tree):
        if isinstance(node, Num):
            continue
        if isinstance(node, Call) and node.op == "transpose":
            yield node, node.args[0], "transposed", "not transposed"
        else:
            yield node, Call("transpose", (node,)), "transposed", "transposed"
        if node is not tree:
            if isinstance(node, Call) and node.op == "neg":
                yield node, node.args[0], "sign", "without its minus sign"
            else:
                yield node, Call("neg", (node,)), "sign", "with its sign flipped"
        if isinstance(node, Call) and node.op in _ACTIVATIONS:
            prime = derivative_of(node)
            name = _name(node.op)
            yield (node, prime, "activation",
                   f"replaced by {render(prime)} ({name} written where {name}′ belongs)")
        if isinstance(node, Call) and node.op in ("mul", "matmul"):
            other = "matmul" if node.op == "mul" else "mul"
            name = "a matrix product" if other == "matmul" else "an elementwise product"
            yield node, Call(other, node.args), "product", f"made {name}"
        if isinstance(node, Call) and node.op in ("add", "sub"):
            a, b = node.args
            yield node, a, "extra-term", f"without its term '{render(b)}'"
            if node.op == "add":
                yield node, b, "extra-term", f"without its term '{render(a)}'"
        for text, name in factors:
            yield (node, Call("mul", (node, definition(text))), "missing-factor",
                   f"times the missing factor {text} ({name})")


def _derivative_factors(f: Node) -> list[tuple[str, str]]:
    """The derivatives of the activations f applies: factors a claim may lack."""
    out: dict[str, str] = {}
    for node in walk(f):
        if isinstance(node, Call) and node.op in _ACTIVATIONS and node.op not in ("exp", "log"):
            out.setdefault(render(derivative_of(node)), f"{_name(node.op)}′")
    return list(out.items())


def derivative_of(call: Call) -> Node:
    """f′(u) for an elementwise f(u), from the row's vjp (g's coefficient at g = 1).

    >>> from gradcheck.language.parser import parse
    >>> render(derivative_of(parse("tanh(x@W)")))
    '1-tanh(x@W)**2'
    """
    (text,) = ops.OPS[call.op].vjp or ("",)
    names = {"g": Num(Fraction(1)), "a": call.args[0], "out": call}
    return _ones_dropped(_put(definition(text), names))


def _put(node: Node, names: Mapping[str, Node]) -> Node:
    if isinstance(node, Var):
        return names.get(node.name, node)
    if isinstance(node, Call):
        return Call(node.op, tuple(_put(a, names) for a in node.args))
    return node


def _ones_dropped(node: Node) -> Node:
    """1*x as x, 1/x kept: the vjp at g = 1 read as people write a derivative."""
    if isinstance(node, Call):
        args = tuple(_ones_dropped(a) for a in node.args)
        if node.op == "mul" and isinstance(args[0], Num) and args[0].value == 1:
            return args[1]
        return Call(node.op, args)
    return node


def _name(op: str) -> str:
    row = ops.OPS[op]
    return row.aliases[0] if row.aliases and not row.aliases[0].isascii() else op


def _substitute(node: Node, target: Node, replacement: Node) -> Node:
    """The tree with ``target`` (by identity) replaced."""
    if node is target:
        return replacement
    if isinstance(node, Call):
        args = tuple(_substitute(a, target, replacement) for a in node.args)
        return node if all(a is b for a, b in zip(args, node.args, strict=True)) else \
            replace(node, args=args)
    if isinstance(node, Matrix):
        rows = tuple(tuple(_substitute(e, target, replacement) for e in row)
                     for row in node.rows)
        return replace(node, rows=rows)
    return node

"""The expression tree shared by every stage, and its printer.

Four node types: numbers, variables, matrix literals and operator calls.
Every operator (``+``, ``·``, ``.T``, ``sin``...) is a :class:`Call` naming a
row of :mod:`gradcheck.language.ops`. Source positions and shapes ride along but do
not take part in equality, so ``parse(render(t)) == t``.

>>> from gradcheck.language.parser import parse
>>> render(parse("(x·y+z)·A+z"))
'(x·y+z)·A+z'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Generic, TypeVar, Union

from gradcheck.language import ops

__all__ = ["Call", "Evaluator", "Matrix", "Node", "Num", "Shape", "Span", "Var", "distinct",
           "render",
           "tree_size", "variables", "walk"]

Shape = tuple[int, int]
Span = tuple[int, int]  # 0-based [start, end) offsets into the source text


@dataclass(frozen=True)
class Num:
    value: Fraction
    span: Span = field(default=(0, 0), compare=False, repr=False)
    shape: Shape | None = field(default=None, compare=False, repr=False)
    depth: int = field(default=1, compare=False, repr=False)


@dataclass(frozen=True)
class Var:
    name: str
    span: Span = field(default=(0, 0), compare=False, repr=False)
    shape: Shape | None = field(default=None, compare=False, repr=False)
    depth: int = field(default=1, compare=False, repr=False)


@dataclass(frozen=True)
class Matrix:
    """A literal ``[[1, 0], [2, 1]]``; each entry is a 1×1 expression."""

    rows: tuple[tuple[Node, ...], ...]
    span: Span = field(default=(0, 0), compare=False, repr=False)
    shape: Shape | None = field(default=None, compare=False, repr=False)
    depth: int = field(default=1, compare=False, repr=False)


@dataclass(frozen=True)
class Call:
    """An operator or function applied to its arguments.

    ``at`` is the offset of the operator symbol or function name, used to
    point at it in messages and in the reading of ``·``. ``origin`` is set on
    the expansion of a derived operator (``maximum(a, b)`` is typed as
    ``(a + b + abs(a - b))/2``, see :mod:`gradcheck.language.ops`): the call
    as written, which the printers show while every engine sees the expansion.
    """

    op: str
    args: tuple[Node, ...]
    span: Span = field(default=(0, 0), compare=False, repr=False)
    shape: Shape | None = field(default=None, compare=False, repr=False)
    depth: int = field(default=1, compare=False, repr=False)
    at: int = field(default=0, compare=False, repr=False)
    origin: Call | None = field(default=None, compare=False, repr=False)


Node = Union[Num, Var, Matrix, Call]  # noqa: UP007 (a runtime alias on Python 3.10)


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Matrix):
        return tuple(e for row in node.rows for e in row)
    return ()


def walk(node: Node) -> list[Node]:
    """All nodes, parents before children, without recursion."""
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(reversed(children(n)))
    return out


def distinct(node: Node) -> list[Node]:
    """Each node once, however often it is shared (a derivative is a DAG whose
    tree can be exponentially larger), without recursion."""
    out: list[Node] = []
    seen: set[int] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if id(n) not in seen:
            seen.add(id(n))
            out.append(n)
            stack.extend(children(n))
    return out


def tree_size(root: Any, kids: Callable[[Any], Sequence[Any]] = children,
              own: Callable[[Any], int] = lambda n: 1,
              memo: dict[int, tuple[Any, int]] | None = None) -> int:
    """Σ own(n) over the nodes of ``root`` counted as a tree (a shared subtree
    each time it occurs), each distinct node visited once, without
    recursion. ``kids`` gives a node's children: our trees by default, or
    any other (SymPy's ``args``). A ``memo`` kept by the caller (id → (node,
    size): the node kept so that its id stays its own) carries sizes from
    one call to the next.

    >>> from gradcheck.language.parser import parse
    >>> tree_size(parse("sin(x) + sin(x)"))
    5
    """
    memo = {} if memo is None else memo
    stack = [root]
    while stack:
        n = stack[-1]
        if id(n) in memo:
            stack.pop()
            continue
        below = kids(n)
        todo = [k for k in below if id(k) not in memo]
        if todo:
            stack.extend(todo)
            continue
        stack.pop()
        memo[id(n)] = (n, own(n) + sum(memo[id(k)][1] for k in below))
    return memo[id(root)][1]


def variables(node: Node) -> list[str]:
    """Variable names in order of first appearance.

    >>> from gradcheck.language.parser import parse
    >>> variables(parse("(x·y+z)·A+z"))
    ['x', 'y', 'z', 'A']
    """
    return list(dict.fromkeys(n.name for n in walk(node) if isinstance(n, Var)))


def _number(v: Fraction) -> str:
    """Exact decimal text for a number parsed from decimal text."""
    if v.denominator == 1:
        return str(v.numerator)
    k = 0
    while (v * 10**k).denominator != 1:
        k += 1
        if k > 400:  # not a decimal: print as a quotient
            return f"({v.numerator}/{v.denominator})"
    digits = str(abs(int(v * 10**k))).rjust(k + 1, "0")
    return ("-" if v < 0 else "") + digits[:-k] + "." + digits[-k:]


def render(node: Node) -> str:
    """Text that parses back to the same tree, with as few parentheses as possible."""
    return _render(node)[0]


def _render(node: Node) -> tuple[str, int]:
    """Text and the binding strength of its outermost operator."""
    atom = ops.PRECEDENCE_ATOM
    if isinstance(node, Num):
        return _number(node.value), atom
    if isinstance(node, Var):
        return node.name, atom
    if isinstance(node, Matrix):
        rows = ["[" + ", ".join(render(e) for e in row) + "]" for row in node.rows]
        return ("[" + ", ".join(rows) + "]" if len(rows) > 1 else rows[0]), atom
    if node.origin is not None:
        node = node.origin
    op = ops.OPS[node.op]
    if op.infix is None and op.prefix is None and op.postfix is None:
        return f"{op.name}(" + ", ".join(render(a) for a in node.args) + ")", atom
    prec = op.precedence
    if op.postfix is not None:
        (a,) = node.args
        return _wrap(a, prec) + op.postfix, prec
    if op.prefix is not None:
        (a,) = node.args
        return op.prefix + _wrap(a, prec), prec
    left, right = node.args
    assert op.infix is not None
    if op.right_assoc:  # a ** b ** c == a ** (b ** c); the exponent may be a unary
        rtext, rprec = _render(right)
        r = rtext if rprec >= ops.PRECEDENCE_UNARY else f"({rtext})"
        return _wrap(left, prec + 1) + op.infix + r, prec
    return _wrap(left, prec) + op.infix + _wrap(right, prec + 1), prec


def _wrap(node: Node, strength: int) -> str:
    text, prec = _render(node)
    return text if prec >= strength else f"({text})"


T = TypeVar("T")


class Evaluator(Generic[T]):
    """The value of each node of a tree (a DAG: shared subtrees once), by
    ``_value``, which subclasses write for their arithmetic."""

    def __init__(self) -> None:
        self.memo: dict[int, T] = {}

    def value(self, node: Node) -> T:
        key = id(node)
        if key not in self.memo:
            self.memo[key] = self._value(node)
        return self.memo[key]

    def _value(self, node: Node) -> T:
        raise NotImplementedError

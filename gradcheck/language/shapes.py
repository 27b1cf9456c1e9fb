"""Typed tree: give every node a 2-D shape and resolve the reading of ``·``.

Scalars are 1×1 and broadcast; elementwise operations follow NumPy's
broadcasting in two dimensions (a 1×n row spreads over rows, an m×1 column
over columns). ``·`` (also ``×`` and juxtaposition) reads as the matrix
product when the inner dimensions agree, otherwise as the elementwise
product when the shapes broadcast; every choice is recorded as a
:class:`Reading`.

>>> from gradcheck.language.parser import parse
>>> typed = infer(parse("(x·y+z)·A+z"), {"x": (3, 2), "y": (2, 2), "z": (3, 2), "A": (3, 2)})
>>> typed.tree.shape, typed.text
((3, 2), '(x@y+z)*A+z')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gradcheck.errors import NameLookupError, ShapeError, suggest
from gradcheck.language import ops
from gradcheck.language.parser import definition
from gradcheck.language.tree import Call, Matrix, Node, Num, Shape, Var, render
from gradcheck.limits import ENTRIES, current, hint

__all__ = ["MAX_ENTRIES", "Reading", "Typed", "broadcast", "fmt", "infer"]

MAX_ENTRIES = ENTRIES  # entries one matrix may have, by default (max_entries=)


@dataclass(frozen=True)
class Reading:
    """How one ``·`` was read: ``@`` or ``*``, at a 1-based column."""

    column: int
    symbol: str
    left: Shape
    right: Shape

    def __str__(self) -> str:
        kind = "matrix product" if self.symbol == "@" else "elementwise product"
        return (f"· at column {self.column} read as {self.symbol} ({kind} of "
                f"{fmt(self.left)} and {fmt(self.right)})")


@dataclass(frozen=True)
class Typed:
    """A tree whose every node has a shape and no ``dot`` is left."""

    tree: Node
    readings: tuple[Reading, ...]
    shapes: dict[str, Shape]  # the variables that occur, in order of appearance

    @property
    def text(self) -> str:
        """The expression as read, e.g. ``(x@y+z)*A+z``."""
        return render(self.tree)

    @property
    def shape(self) -> Shape:
        assert self.tree.shape is not None
        return self.tree.shape


def fmt(shape: Shape) -> str:
    """``(3, 2)`` -> ``3×2``."""
    return f"{shape[0]}×{shape[1]}"


def broadcast(a: Shape, b: Shape) -> Shape | None:
    """The broadcast shape of two 2-D shapes, or None if they do not broadcast."""
    out = []
    for x, y in zip(a, b, strict=False):
        if x != y and 1 not in (x, y):
            return None
        out.append(max(x, y))
    return out[0], out[1]


def infer(tree: Node, shapes: Mapping[str, Shape], *, text: str | None = None) -> Typed:
    """Type ``tree`` given the shape of each variable.

    No matrix may have more than ``current().entries`` entries
    (:mod:`gradcheck.limits`).

    Raises:
        NameLookupError: a variable has no shape.
        ShapeError: operands do not fit; the error names both and their shapes.
    """
    checker = _Checker(dict(shapes), text)
    typed = checker.visit(tree)
    return Typed(typed, tuple(sorted(checker.readings, key=lambda r: r.column)), checker.seen)


class _Checker:
    def __init__(self, shapes: dict[str, Shape], text: str | None) -> None:
        self.shapes = shapes
        self.text = text
        self.readings: list[Reading] = []
        self.seen: dict[str, Shape] = {}

    def error(self, cls: type[ShapeError] | type[NameLookupError], message: str, node: Node,
              hint: str | None = None, **kw: object) -> Exception:
        start, end = node.span
        if isinstance(node, Call) and cls is ShapeError:
            start, end = node.at, node.at + 1
        return cls(message, text=self.text, column=start + 1 if self.text else None,
                   width=end - start, hint=hint, **kw)  # type: ignore[arg-type]

    def visit(self, node: Node) -> Node:
        shape: Shape
        if isinstance(node, Num):
            return dataclasses.replace(node, shape=(1, 1))
        if isinstance(node, Var):
            if node.name not in self.shapes and node.name in ops.FUNCTIONS:
                raise self.error(NameLookupError, f"'{node.name}' is a function", node,
                                 f"call it with parentheses: {node.name}(...)")
            if node.name not in self.shapes:
                hint = suggest(node.name, [*self.shapes, *ops.FUNCTIONS]) or (
                    f"give '{node.name}' a value or a shape "
                    f"(--let {node.name}=3x2, or shapes={{'{node.name}': (3, 2)}} in Python)")
                raise self.error(NameLookupError, f"unknown name '{node.name}'", node, hint)
            shape = tuple(self.shapes[node.name])  # type: ignore[assignment]
            self.seen.setdefault(node.name, shape)
            return dataclasses.replace(node, shape=shape)
        if isinstance(node, Matrix):
            rows = tuple(tuple(self.visit(e) for e in row) for row in node.rows)
            for row in rows:
                for e in row:
                    if e.shape != (1, 1):
                        raise self.error(
                            ShapeError, "matrix literal entry is not a scalar", e,
                            "write the entries as numbers or 1×1 expressions",
                            detail=f"'{render(e)}' is {fmt(e.shape or (0, 0))}")
            return dataclasses.replace(node, rows=rows, shape=(len(rows), len(rows[0])))
        return self.call(node)

    def call(self, node: Call) -> Node:
        op = ops.OPS[node.op]
        if op.kind == "constructor":
            return self.constructor(node, op)
        if op.kind == "dot":
            self.unknown_function(node)
        args = tuple(self.visit(a) for a in node.args)
        shapes = [a.shape for a in args]
        assert all(s is not None for s in shapes)
        if op.kind == "dot":
            (lr, lc), (rr, rc) = shapes  # type: ignore[misc]
            name = "matmul" if lc == rr else "mul"
            if name == "mul" and broadcast(shapes[0], shapes[1]) is None:  # type: ignore[arg-type]
                raise self.mismatch(node, args, "· is neither a matrix product (inner "
                                    "dimensions differ) nor an elementwise product (shapes "
                                    "do not broadcast)")
            self.readings.append(Reading(node.at + 1, "@" if name == "matmul" else "*",
                                         shapes[0], shapes[1]))  # type: ignore[arg-type]
            # typed as the product it reads as, without visiting the arguments again
            node, op = dataclasses.replace(node, op=name), ops.OPS[name]
        if op.expand is not None:
            derived = self.derived(node, op, args)
            if derived is not None:
                return derived
        shape = self.rule(node, op, args)
        self.check_size(node, shape, lambda: f"'{render(node)}'")
        return dataclasses.replace(node, args=args, shape=shape)

    def derived(self, node: Call, op: ops.Op, args: tuple[Node, ...]) -> Node | None:
        """A derived operator's expansion, typed, in its place (None: the
        operator itself, as ``sum(X)`` without an axis)."""
        values, options = args[:op.arity], args[op.arity:]
        for a in options:
            if not (isinstance(a, Num) and a.value.denominator == 1):
                raise self.error(ShapeError, f"{op.name}() takes a whole number here, got "
                                 f"'{render(a)}'", a, f"{op.name}: {op.doc}")
        shapes = tuple(a.shape for a in values)
        assert all(sh is not None for sh in shapes)
        if op.kind == "binary" and broadcast(shapes[0], shapes[1]) is None:  # type: ignore[arg-type]
            raise self.mismatch(node, values, f"{op.name} works entry by entry and needs "
                                "equal shapes (or a scalar, row or column that broadcasts)")
        try:
            text = op.expand(shapes, tuple(int(a.value) for a in options))  # type: ignore
        except ValueError as e:
            raise self.error(ShapeError, f"{op.name} cannot take these shapes", node,
                             f"{op.name}: {op.doc}", detail=str(e)) from None
        if text is None:
            if options:
                raise self.error(ShapeError, f"{op.name}() takes no option here", node,
                                 f"{op.name}: {op.doc}")
            return None
        body = _substitute(definition(text), dict(zip("ab", values, strict=False)), node)
        typed = self.visit(body)
        assert isinstance(typed, Call)
        origin = dataclasses.replace(node, args=values + tuple(
            dataclasses.replace(a, shape=(1, 1)) for a in options), shape=typed.shape)
        return dataclasses.replace(typed, origin=origin)

    def unknown_function(self, node: Call) -> None:
        """``sech(a)`` with no variable ``sech``: written as a call, so most likely a
        function the language lacks (``w(x)``, a product, needs w's value)."""
        name = node.args[0]
        if isinstance(name, Var) and name.name not in self.shapes \
                and name.span[1] == node.at and node.at > 0:
            closest = suggest(name.name, list(ops.FUNCTIONS))
            raise self.error(
                NameLookupError, f"unknown name '{name.name}'", name,
                closest or f"called like a function, but the language has no function "
                f"'{name.name}' (see the language reference); if {name.name}(…) is a product, "
                f"give '{name.name}' a value or a shape")

    def check_size(self, node: Node, shape: Shape, what: Callable[[], str]) -> None:
        """``what`` names the matrix, printed only when it is too large (printing
        every node as it is typed would take time cubic in the depth)."""
        entries = current().entries
        if shape[0] * shape[1] > entries:
            raise self.error(ShapeError, f"{what()} would have {shape[0] * shape[1]} entries, "
                             f"more than {entries}", node, hint("--max-entries", "max_entries"))

    def rule(self, node: Call, op: ops.Op, args: tuple[Node, ...]) -> Shape:
        s = [a.shape for a in args]
        if op.kind == "binary":
            out = broadcast(s[0], s[1])  # type: ignore[arg-type]
            if out is None:
                raise self.mismatch(node, args, f"{op.infix} works entry by entry and needs "
                                    "equal shapes (or a scalar, row or column that broadcasts)")
            return out
        if op.kind == "matmul":
            (lr, lc), (rr, rc) = s  # type: ignore[misc]
            if lc != rr:
                raise self.mismatch(node, args, "@ needs the columns of the left operand to "
                                    "equal the rows of the right")
            return lr, rc
        (shape,) = s
        assert shape is not None
        if op.square and shape[0] != shape[1]:
            raise self.error(
                ShapeError, f"{op.name} of a non-square matrix", node,
                operands=((render(args[0]), shape),), hint=f"{op.name}: {op.doc}",
                detail=f"'{render(args[0])}' is {fmt(shape)}; {op.name} needs a square matrix")
        if op.kind == "reduce":
            return 1, 1
        if op.name == "transpose":
            return shape[1], shape[0]
        return shape  # elementwise functions, neg, inv, softmax

    def mismatch(self, node: Call, args: tuple[Node, ...], why: str) -> Exception:
        (a, b) = args
        sa, sb = a.shape, b.shape
        assert sa is not None and sb is not None
        ta, tb = render(a), render(b)
        fixes = []
        if sa[1] == sb[1] and node.op in ("matmul", "dot"):
            fixes.append(f"{_paren(ta)} @ {_paren(tb)}.T")
        if sa[0] == sb[0] and node.op in ("matmul", "dot"):
            fixes.append(f"{_paren(ta)}.T @ {_paren(tb)}")
        if node.op == "matmul" and broadcast(sa, sb) is not None:
            fixes.append(f"the elementwise {_paren(ta)} * {_paren(tb)}")
        if node.op in ("add", "sub", "mul", "div", "pow") and sa[1] == sb[0]:
            fixes.append(f"the matrix product {_paren(ta)} @ {_paren(tb)}")
        hint = ("did you mean " + " or ".join(fixes) + "?") if fixes else None
        return self.error(ShapeError, "shape mismatch", node, hint, operands=((ta, sa), (tb, sb)),
                          detail=f"'{ta}' is {fmt(sa)} and '{tb}' is {fmt(sb)}; {why}")

    def constructor(self, node: Call, op: ops.Op) -> Node:
        dims = []
        for a in node.args:
            if not (isinstance(a, Num) and a.value.denominator == 1 and 1 <= a.value <= 10_000):
                raise self.error(ShapeError, f"{op.name}() needs whole numbers from 1 to 10000 "
                                 f"as sizes, got '{render(a)}'", a, f"{op.name}: {op.doc}")
            dims.append(int(a.value))
        shape = (dims[0], dims[-1])
        self.check_size(node, shape, lambda: render(node))
        return dataclasses.replace(node, shape=shape)


def _substitute(node: Node, args: dict[str, Node], call: Call) -> Node:
    """The definition with its arguments in place, every node placed where the
    call is written (for messages)."""
    if isinstance(node, Var):
        return args[node.name]
    if isinstance(node, Call):
        return dataclasses.replace(node, args=tuple(_substitute(a, args, call)
                                                    for a in node.args),
                                   span=call.span, at=call.at)
    if isinstance(node, Matrix):
        return dataclasses.replace(node, span=call.span, rows=tuple(
            tuple(_substitute(e, args, call) for e in row) for row in node.rows))
    return dataclasses.replace(node, span=call.span)


def _paren(text: str) -> str:
    return text if text.replace("_", "").replace(".T", "").isalnum() else f"({text})"

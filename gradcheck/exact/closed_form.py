"""Closed-form matrix calculus: derivatives as expressions of the language.

Reverse mode over the typed tree, with one rule per operation (as autograd
keeps its vector-Jacobian products): the ``vjp`` column of the operator's
row, written in the language, or for the few rules that need shapes an
entry of :data:`RULES` (:func:`rule` finds it, and names the operator when
neither has one). A rule takes an operation node and the cotangent ``G``
flowing into it (an expression of the node's shape) and returns the
cotangent of each argument, again as expressions. The result does not depend on the sizes of the
matrices: ``d tr(Xᵀ A X)/dX`` is ``(A+A.T)@X`` whatever X's shape.

Three readings of the same derivation:

- for a 1×1 f, the gradient (G = 1);
- for f elementwise in w (its Jacobian is diagonal), the elementwise
  derivative (G = ones), e.g. the lecture notes' ``A + 1``;
- otherwise the vector-Jacobian product ∂⟨G, f⟩/∂w as an expression in G;
  the Jacobian's row for entry (i, j) of f is its value at G = E_ij.

Expressions are simplified as they are built (:mod:`gradcheck.exact.build`: ``G*ones`` is ``G``,
``(P@Q).T`` is ``Q.T@P.T``, ``P@R + Q@R`` is ``(P+Q)@R``), so that what is
printed is what a person would write. SymPy's own ``MatrixSymbol.diff`` is
not used (see :mod:`gradcheck.exact.symbolic`). Values come from
:mod:`gradcheck.exact.closed_eval`.

>>> from gradcheck.language.parser import parse
>>> from gradcheck.language.shapes import infer
>>> from gradcheck.language.tree import render
>>> typed = infer(parse("trace(X.T@A@X)"), {"X": (3, 2), "A": (3, 3)})
>>> render(derive(typed.tree, "X").expression)
'(A+A.T)@X'
>>> typed = infer(parse("(x·y+z)·A+z"), {"x": (3, 2), "y": (2, 2), "z": (3, 2), "A": (3, 2)})
>>> d = derive(typed.tree, "z")
>>> d.form, render(d.expression)
('elementwise', 'A+1')
>>> d = derive(infer(parse("X@Y"), {"X": (2, 3), "Y": (3, 4)}).tree, "X")
>>> d.form, render(d.expression)
('vjp', 'G@Y.T')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from gradcheck.exact.build import (
    add,
    div,
    eye,
    function,
    matmul,
    mul,
    neg,
    num,
    ones,
    power,
    shape_of,
    sub,
    sum_to,
    transpose,
    zeros,
)
from gradcheck.language import ops
from gradcheck.language.parser import definition
from gradcheck.language.tree import Call, Matrix, Node, Num, Shape, Var, variables, walk

__all__ = ["RULES", "Derivative", "MissingRule", "Rule", "Unsupported", "derive", "is_elementwise",
           "rule", "supports"]


class Unsupported(Exception):
    """The closed form does not cover this tree (internal: the elementwise
    SymPy engine is used instead)."""


@dataclass(frozen=True)
class Derivative:
    """∂f/∂w as an expression. ``form`` is ``gradient`` (f is 1×1),
    ``elementwise`` (the Jacobian is diagonal; the expression is its
    diagonal, of w's shape) or ``vjp`` (the expression is ∂⟨G, f⟩/∂w, linear
    in the variable named ``cotangent``, of f's shape)."""

    expression: Node
    form: str
    cotangent: str
    wrt: str
    f_shape: Shape
    w_shape: Shape
    of: Node | None = field(default=None, compare=False, repr=False)  # the typed tree of f


def derive(tree: Node, wrt: str) -> Derivative:
    """The derivative of a typed tree by the variable ``wrt``.

    Raises:
        Unsupported: a matrix literal whose entries depend on ``wrt``.
    """
    f_shape = shape_of(tree)
    w_shape = next(shape_of(n) for n in walk(tree) if isinstance(n, Var) and n.name == wrt)
    name = _cotangent_name(tree)
    g: Node
    if f_shape == (1, 1):
        form, g = "gradient", num(1)
    elif is_elementwise(tree, wrt):
        form, g = "elementwise", ones(f_shape)
    else:
        form, g = "vjp", Var(name, shape=f_shape)
    depends = _depends(tree, wrt)
    terms: list[Node] = []
    _backprop(tree, g, wrt, depends, terms)
    total = zeros(w_shape) if not terms else terms[0]
    for t in terms[1:]:
        total = add(total, t)
    if shape_of(total) != w_shape:  # a constant cotangent: spread it over w
        total = mul(total, ones(w_shape))
    return Derivative(total, form, name, wrt, f_shape, w_shape, tree)


def supports(tree: Node, wrt: str) -> bool:
    """Whether :func:`derive` covers this tree."""
    depends = _depends(tree, wrt)
    return not any(isinstance(n, Matrix) and id(n) in depends for n in walk(tree))


def is_elementwise(tree: Node, wrt: str) -> bool:
    """Whether f is elementwise in w by its structure: f and w have one
    shape (not 1×1) and every operation between them acts entry by entry,
    without spreading a w-dependent operand. Sufficient, not necessary
    (``x@eye(3)`` is elementwise but not by structure)."""
    f_shape = shape_of(tree)
    if f_shape == (1, 1):
        return False
    depends = _depends(tree, wrt)
    for n in walk(tree):
        if id(n) not in depends or isinstance(n, Var):
            continue
        if not isinstance(n, Call) or ops.OPS[n.op].kind not in ("elementwise", "binary"):
            return False
        if any(id(a) in depends and shape_of(a) != f_shape for a in n.args):
            return False
    return True


Rule = Callable[[Call, Node], tuple[Node | None, ...]]


def _binary(node: Call, g: Node, da: Node | None, db: Node | None) -> tuple[Node | None, ...]:
    a, b = node.args
    return (None if da is None else sum_to(da, shape_of(a)),
            None if db is None else sum_to(db, shape_of(b)))


def _pow_rule(n: Call, g: Node) -> tuple[Node | None, ...]:
    a, b = n.args
    if isinstance(b, Num):
        da = mul(mul(g, b), power(a, num(b.value - 1)))
    else:
        da = mul(mul(g, b), power(a, sub(b, num(1))))
    return _binary(n, g, da, mul(mul(g, n), function("log", a)))


def _softmax_rule(n: Call, g: Node) -> tuple[Node | None, ...]:
    cols = shape_of(n)[1]  # S ⊙ (G − rowsum(G ⊙ S))
    return (mul(n, sub(g, matmul(mul(g, n), ones((cols, 1))))),)


def _mean_rule(n: Call, g: Node) -> tuple[Node | None, ...]:
    rows, cols = shape_of(n.args[0])
    return (mul(mul(num(Fraction(1, rows * cols)), g), ones((rows, cols))),)


RULES: dict[str, Rule] = {  # the rules that need shapes; the rest are the table's vjp column
    "pow": _pow_rule,
    "sum": lambda n, g: (mul(g, ones(shape_of(n.args[0]))),),
    "mean": _mean_rule,
    "trace": lambda n, g: (mul(g, eye(shape_of(n.args[0])[0])),),
    "softmax": _softmax_rule,
}


_BUILD: dict[str, Callable[..., Node]] = {"add": add, "sub": sub, "mul": mul, "div": div,
                                          "pow": power, "neg": neg, "matmul": matmul,
                                          "transpose": transpose}


class MissingRule(LookupError):
    """An operator of the table has no closed-form rule (a contributor's error)."""


def rule(op: str) -> Rule:
    """The closed form's rule for ``op``: its ``vjp`` column, else :data:`RULES`.

    >>> from gradcheck.language.parser import parse
    >>> from gradcheck.language.shapes import infer
    >>> from gradcheck.language.tree import Var, render
    >>> t = infer(parse("tanh(x)"), {"x": (1, 2)}).tree
    >>> render(rule("tanh")(t, Var("G", shape=(1, 2)))[0])
    'G*(1-tanh(x)**2)'
    """
    if op in RULES:
        return RULES[op]
    texts = ops.OPS[op].vjp
    if texts is None:
        raise MissingRule(f"operator {op!r} has no closed-form rule: give its row a vjp "
                          "(or add it to closed_form.RULES); see docs/contributing.md")
    trees = [definition(text) if text else None for text in texts]
    binary = ops.OPS[op].kind == "binary"

    def apply(n: Call, g: Node) -> tuple[Node | None, ...]:
        names = {"g": g, "out": n, **dict(zip("ab", n.args, strict=False))}
        cots = tuple(None if t is None else _built(t, names) for t in trees)
        return _binary(n, g, *cots) if binary else cots
    return apply


def _built(node: Node, names: dict[str, Node]) -> Node:
    """A rule's text as a tree over the given nodes, through the simplifying builders."""
    if isinstance(node, Var):
        return names[node.name]
    if isinstance(node, Num):
        return num(node.value)
    assert isinstance(node, Call)
    args = [_built(a, names) for a in node.args]
    if node.op in _BUILD:
        return _BUILD[node.op](*args)
    return function(node.op, *args)


def _depends(tree: Node, wrt: str) -> set[int]:
    """ids of the nodes whose value depends on the variable ``wrt``."""
    out: set[int] = set()
    for n in reversed(walk(tree)):  # children before parents
        if isinstance(n, Var):
            hit = n.name == wrt
        elif isinstance(n, Call):
            hit = any(id(a) in out for a in n.args)
        elif isinstance(n, Matrix):
            hit = any(id(e) in out for row in n.rows for e in row)
        else:
            hit = False
        if hit:
            out.add(id(n))
    return out


def _backprop(node: Node, g: Node, wrt: str, depends: set[int], terms: list[Node]) -> None:
    if isinstance(node, Var):
        terms.append(g)
        return
    if isinstance(node, Matrix):
        raise Unsupported("a matrix literal whose entries depend on the variable")
    assert isinstance(node, Call)
    for arg, cot in zip(node.args, rule(node.op)(node, g), strict=True):
        if cot is not None and id(arg) in depends:
            _backprop(arg, cot, wrt, depends, terms)


def _cotangent_name(tree: Node) -> str:
    taken = set(variables(tree))
    name = "G"
    while name in taken:
        name += "_"
    return name

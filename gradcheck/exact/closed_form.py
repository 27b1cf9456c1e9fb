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

Expressions are simplified as they are built (``G*ones`` is ``G``,
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

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from gradcheck.language import ops
from gradcheck.language.parser import parse
from gradcheck.language.tree import Call, Matrix, Node, Num, Shape, Var, variables, walk

__all__ = ["RULES", "Derivative", "MissingRule", "Unsupported", "derive", "is_elementwise", "rule",
           "supports"]


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
    f_shape = _shape(tree)
    w_shape = next(_shape(n) for n in walk(tree) if isinstance(n, Var) and n.name == wrt)
    name = _cotangent_name(tree)
    g: Node
    if f_shape == (1, 1):
        form, g = "gradient", _num(1)
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
    if _shape(total) != w_shape:  # a constant cotangent: spread it over w
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
    f_shape = _shape(tree)
    if f_shape == (1, 1):
        return False
    depends = _depends(tree, wrt)
    for n in walk(tree):
        if id(n) not in depends or isinstance(n, Var):
            continue
        if not isinstance(n, Call) or ops.OPS[n.op].kind not in ("elementwise", "binary"):
            return False
        if any(id(a) in depends and _shape(a) != f_shape for a in n.args):
            return False
    return True


# ----- building expressions, simplified as they are built -----

def _shape(node: Node) -> Shape:
    assert node.shape is not None, "closed_form works on typed trees"
    return node.shape


def _num(v: Fraction | int) -> Num:
    return Num(Fraction(v), shape=(1, 1))


def _is(node: Node, value: int) -> bool:
    return isinstance(node, Num) and node.value == value


def _call(op: str, *args: Node, shape: Shape) -> Call:
    return Call(op, tuple(args), shape=shape)


def ones(shape: Shape) -> Node:
    return _num(1) if shape == (1, 1) else _call("ones", _num(shape[0]), _num(shape[1]),
                                                 shape=shape)


def zeros(shape: Shape) -> Node:
    return _num(0) if shape == (1, 1) else _call("zeros", _num(shape[0]), _num(shape[1]),
                                                 shape=shape)


def eye(n: int) -> Node:
    return _num(1) if n == 1 else _call("eye", _num(n), shape=(n, n))


def _is_ones(node: Node) -> bool:
    return _is(node, 1) or (isinstance(node, Call) and node.op == "ones")


def _is_eye(node: Node) -> bool:
    return _is(node, 1) or (isinstance(node, Call) and node.op == "eye")


def _broadcast(a: Node, b: Node) -> Shape:
    (r1, c1), (r2, c2) = _shape(a), _shape(b)
    return max(r1, r2), max(c1, c2)


def _scalar_one(a: Node, other: Node) -> Node:
    """ones(…) (or k*ones(…)) beside an operand that has the whole shape reads as 1 (or k)."""
    if _shape(other) != _broadcast(a, other):
        return a
    if isinstance(a, Call) and a.op == "ones":
        return _num(1)
    if isinstance(a, Call) and a.op == "mul" and isinstance(a.args[0], Num) and _is_ones(
            a.args[1]):
        return a.args[0]
    return a


def add(a: Node, b: Node) -> Node:
    shape = _broadcast(a, b)
    if isinstance(a, Num) and isinstance(b, Num):
        return _num(a.value + b.value)
    if _is(a, 0) and _shape(b) == shape:
        return b
    if _is(b, 0) and _shape(a) == shape:
        return a
    if a == b:
        return mul(_num(2), a)
    if isinstance(b, Call) and b.op == "neg":
        return sub(a, b.args[0])
    if isinstance(a, Call) and a.op == "neg":
        return sub(b, a.args[0])
    if isinstance(a, Call) and isinstance(b, Call) and a.op == b.op == "matmul":
        if a.args[1] == b.args[1]:  # P@R + Q@R = (P+Q)@R
            return matmul(add(a.args[0], b.args[0]), a.args[1])
        if a.args[0] == b.args[0]:
            return matmul(a.args[0], add(a.args[1], b.args[1]))
    return _call("add", _scalar_one(a, b), _scalar_one(b, a), shape=shape)


def sub(a: Node, b: Node) -> Node:
    shape = _broadcast(a, b)
    if isinstance(a, Num) and isinstance(b, Num):
        return _num(a.value - b.value)
    if _is(b, 0) and _shape(a) == shape:
        return a
    if _is(a, 0) and _shape(b) == shape:
        return neg(b)
    if isinstance(b, Call) and b.op == "neg":
        return add(a, b.args[0])
    return _call("sub", _scalar_one(a, b), _scalar_one(b, a), shape=shape)


def neg(a: Node) -> Node:
    if isinstance(a, Num):
        return _num(-a.value)
    if isinstance(a, Call) and a.op == "neg":
        return a.args[0]
    return _call("neg", a, shape=_shape(a))


def mul(a: Node, b: Node) -> Node:
    shape = _broadcast(a, b)
    if isinstance(b, Num) and not isinstance(a, Num):
        a, b = b, a  # numbers first: 2*x
    if isinstance(a, Num) and isinstance(b, Num):
        return _num(a.value * b.value)
    if _is_ones(a) and _shape(b) == shape:
        return b
    if _is_ones(b) and _shape(a) == shape:
        return a
    a, b = _scalar_one(a, b), _scalar_one(b, a)
    if isinstance(b, Num) and not isinstance(a, Num):
        a, b = b, a
    if isinstance(a, Num) and isinstance(b, Num):
        return _num(a.value * b.value)
    if _is(a, -1):
        return neg(b) if _shape(b) == shape else _call("mul", a, b, shape=shape)
    if isinstance(a, Call) and a.op == "neg":
        return neg(mul(a.args[0], b))
    if isinstance(b, Call) and b.op == "neg":
        return neg(mul(a, b.args[0]))
    if isinstance(a, Num) and isinstance(b, Call) and b.op == "mul" and isinstance(
            b.args[0], Num):
        return mul(_num(a.value * b.args[0].value), b.args[1])
    return _call("mul", a, b, shape=shape)


def div(a: Node, b: Node) -> Node:
    if _is(b, 1):
        return a
    if isinstance(b, Num) and b.value != 0:
        return mul(_num(1 / b.value), a)
    return _call("div", _scalar_one(a, b), b, shape=_broadcast(a, b))


def power(a: Node, b: Node) -> Node:
    if _is(b, 1):
        return a
    if _is(b, 0):
        return ones(_shape(a))
    return _call("pow", a, b, shape=_broadcast(a, b))


def matmul(a: Node, b: Node) -> Node:
    if _is_eye(a) and _shape(a)[1] == _shape(b)[0]:
        return b
    if _is_eye(b) and _shape(a)[1] == _shape(b)[0]:
        return a
    if isinstance(a, Call) and a.op == "neg":
        return neg(matmul(a.args[0], b))
    if isinstance(b, Call) and b.op == "neg":
        return neg(matmul(a, b.args[0]))
    return _call("matmul", a, b, shape=(_shape(a)[0], _shape(b)[1]))


def transpose(a: Node) -> Node:
    rows, cols = _shape(a)
    if isinstance(a, Num) or _is_eye(a):
        return a
    if isinstance(a, Call):
        if a.op == "transpose":
            return a.args[0]
        if a.op in ("ones", "zeros"):
            return ones((cols, rows)) if a.op == "ones" else zeros((cols, rows))
        if a.op == "matmul":  # (P@Q).T = Q.T@P.T
            return matmul(transpose(a.args[1]), transpose(a.args[0]))
        if a.op == "neg":
            return neg(transpose(a.args[0]))
        if a.op == "mul" and isinstance(a.args[0], Num):
            return mul(a.args[0], transpose(a.args[1]))
    return _call("transpose", a, shape=(cols, rows))


def _fn(name: str, a: Node) -> Node:
    return _call(name, a, shape=_shape(a))


def _sum_to(g: Node, shape: Shape) -> Node:
    """The cotangent of an operand that was spread (broadcast) to g's shape."""
    rows, cols = _shape(g)
    if (rows, cols) == shape:
        return g
    if shape == (1, 1):
        return _call("sum", g, shape=(1, 1))
    if shape == (1, cols):  # a row spread over rows
        return matmul(ones((1, rows)), g)
    return matmul(g, ones((cols, 1)))  # a column spread over columns


# ----- the rules: cotangents of the arguments from the cotangent g of the node -----

Rule = Callable[[Call, Node], tuple[Node | None, ...]]


def _binary(node: Call, g: Node, da: Node | None, db: Node | None) -> tuple[Node | None, ...]:
    a, b = node.args
    return (None if da is None else _sum_to(da, _shape(a)),
            None if db is None else _sum_to(db, _shape(b)))


def _pow_rule(n: Call, g: Node) -> tuple[Node | None, ...]:
    a, b = n.args
    if isinstance(b, Num):
        da = mul(mul(g, b), power(a, _num(b.value - 1)))
    else:
        da = mul(mul(g, b), power(a, sub(b, _num(1))))
    return _binary(n, g, da, mul(mul(g, n), _fn("log", a)))


def _softmax_rule(n: Call, g: Node) -> tuple[Node | None, ...]:
    cols = _shape(n)[1]  # S ⊙ (G − rowsum(G ⊙ S))
    return (mul(n, sub(g, matmul(mul(g, n), ones((cols, 1))))),)


def _mean_rule(n: Call, g: Node) -> tuple[Node | None, ...]:
    rows, cols = _shape(n.args[0])
    return (mul(mul(_num(Fraction(1, rows * cols)), g), ones((rows, cols))),)


RULES: dict[str, Rule] = {  # the rules that need shapes; the rest are the table's vjp column
    "pow": _pow_rule,
    "sum": lambda n, g: (mul(g, ones(_shape(n.args[0]))),),
    "mean": _mean_rule,
    "trace": lambda n, g: (mul(g, eye(_shape(n.args[0])[0])),),
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
    trees = [_definition(text) if text else None for text in texts]
    binary = ops.OPS[op].kind == "binary"

    def apply(n: Call, g: Node) -> tuple[Node | None, ...]:
        names = {"g": g, "out": n, **dict(zip("ab", n.args, strict=False))}
        cots = tuple(None if t is None else _built(t, names) for t in trees)
        return _binary(n, g, *cots) if binary else cots
    return apply


@functools.cache
def _definition(text: str) -> Node:
    return parse(text)


def _built(node: Node, names: dict[str, Node]) -> Node:
    """A rule's text as a tree over the given nodes, through the simplifying builders."""
    if isinstance(node, Var):
        return names[node.name]
    if isinstance(node, Num):
        return _num(node.value)
    assert isinstance(node, Call)
    args = [_built(a, names) for a in node.args]
    if node.op in _BUILD:
        return _BUILD[node.op](*args)
    return _fn(node.op, *args)



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

"""Building expressions of the language, simplified as they are built: ``G*ones`` is ``G``,
``(P@Q).T`` is ``Q.T@P.T``, ``P@R + Q@R`` is ``(P+Q)@R``, so that a closed form reads as a person
would write it.

>>> from gradcheck.language.tree import Var, render
>>> x, y = Var("x", shape=(2, 2)), Var("y", shape=(2, 2))
>>> render(mul(x, ones((2, 2)))), render(transpose(matmul(x, y)))
('x', 'y.T@x.T')
>>> render(add(matmul(x, y), matmul(y, y)))
'(x+y)@y'
"""

from __future__ import annotations

from fractions import Fraction

from gradcheck.language.tree import Call, Node, Num, Shape

__all__ = ["add", "div", "eye", "function", "matmul", "mul", "neg", "num", "ones", "power",
           "shape_of", "sub", "sum_to", "transpose", "zeros"]


def shape_of(node: Node) -> Shape:
    assert node.shape is not None, "closed_form works on typed trees"
    return node.shape


def num(v: Fraction | int) -> Num:
    return Num(Fraction(v), shape=(1, 1))


def _is(node: Node, value: int) -> bool:
    return isinstance(node, Num) and node.value == value


def _call(op: str, *args: Node, shape: Shape) -> Call:
    return Call(op, tuple(args), shape=shape)


def ones(shape: Shape) -> Node:
    return num(1) if shape == (1, 1) else _call("ones", num(shape[0]), num(shape[1]),
                                                 shape=shape)


def zeros(shape: Shape) -> Node:
    return num(0) if shape == (1, 1) else _call("zeros", num(shape[0]), num(shape[1]),
                                                 shape=shape)


def eye(n: int) -> Node:
    return num(1) if n == 1 else _call("eye", num(n), shape=(n, n))


def _is_ones(node: Node) -> bool:
    return _is(node, 1) or (isinstance(node, Call) and node.op == "ones")


def _is_eye(node: Node) -> bool:
    return _is(node, 1) or (isinstance(node, Call) and node.op == "eye")


def _broadcast(a: Node, b: Node) -> Shape:
    (r1, c1), (r2, c2) = shape_of(a), shape_of(b)
    return max(r1, r2), max(c1, c2)


def _scalar_one(a: Node, other: Node) -> Node:
    """ones(…) (or k*ones(…)) beside an operand that has the whole shape reads as 1 (or k)."""
    if shape_of(other) != _broadcast(a, other):
        return a
    if isinstance(a, Call) and a.op == "ones":
        return num(1)
    if isinstance(a, Call) and a.op == "mul" and isinstance(a.args[0], Num) and _is_ones(
            a.args[1]):
        return a.args[0]
    return a


def add(a: Node, b: Node) -> Node:
    shape = _broadcast(a, b)
    if isinstance(a, Num) and isinstance(b, Num):
        return num(a.value + b.value)
    if _is(a, 0) and shape_of(b) == shape:
        return b
    if _is(b, 0) and shape_of(a) == shape:
        return a
    if a == b:
        return mul(num(2), a)
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
        return num(a.value - b.value)
    if _is(b, 0) and shape_of(a) == shape:
        return a
    if _is(a, 0) and shape_of(b) == shape:
        return neg(b)
    if isinstance(b, Call) and b.op == "neg":
        return add(a, b.args[0])
    return _call("sub", _scalar_one(a, b), _scalar_one(b, a), shape=shape)


def neg(a: Node) -> Node:
    if isinstance(a, Num):
        return num(-a.value)
    if isinstance(a, Call) and a.op == "neg":
        return a.args[0]
    return _call("neg", a, shape=shape_of(a))


def mul(a: Node, b: Node) -> Node:
    shape = _broadcast(a, b)
    if isinstance(b, Num) and not isinstance(a, Num):
        a, b = b, a  # numbers first: 2*x
    if isinstance(a, Num) and isinstance(b, Num):
        return num(a.value * b.value)
    if _is_ones(a) and shape_of(b) == shape:
        return b
    if _is_ones(b) and shape_of(a) == shape:
        return a
    a, b = _scalar_one(a, b), _scalar_one(b, a)
    if isinstance(b, Num) and not isinstance(a, Num):
        a, b = b, a
    if isinstance(a, Num) and isinstance(b, Num):
        return num(a.value * b.value)
    if _is(a, -1):
        return neg(b) if shape_of(b) == shape else _call("mul", a, b, shape=shape)
    if isinstance(a, Call) and a.op == "neg":
        return neg(mul(a.args[0], b))
    if isinstance(b, Call) and b.op == "neg":
        return neg(mul(a, b.args[0]))
    if isinstance(a, Num) and isinstance(b, Call) and b.op == "mul" and isinstance(
            b.args[0], Num):
        return mul(num(a.value * b.args[0].value), b.args[1])
    return _call("mul", a, b, shape=shape)


def div(a: Node, b: Node) -> Node:
    if _is(b, 1):
        return a
    if isinstance(b, Num) and b.value != 0:
        return mul(num(1 / b.value), a)
    return _call("div", _scalar_one(a, b), b, shape=_broadcast(a, b))


def power(a: Node, b: Node) -> Node:
    if _is(b, 1):
        return a
    if _is(b, 0):
        return ones(shape_of(a))
    return _call("pow", a, b, shape=_broadcast(a, b))


def matmul(a: Node, b: Node) -> Node:
    if _is_eye(a) and shape_of(a)[1] == shape_of(b)[0]:
        return b
    if _is_eye(b) and shape_of(a)[1] == shape_of(b)[0]:
        return a
    if isinstance(a, Call) and a.op == "neg":
        return neg(matmul(a.args[0], b))
    if isinstance(b, Call) and b.op == "neg":
        return neg(matmul(a, b.args[0]))
    return _call("matmul", a, b, shape=(shape_of(a)[0], shape_of(b)[1]))


def transpose(a: Node) -> Node:
    rows, cols = shape_of(a)
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


def function(name: str, a: Node) -> Node:
    return _call(name, a, shape=shape_of(a))


def sum_to(g: Node, shape: Shape) -> Node:
    """The cotangent of an operand that was spread (broadcast) to g's shape."""
    rows, cols = shape_of(g)
    if (rows, cols) == shape:
        return g
    if shape == (1, 1):
        return _call("sum", g, shape=(1, 1))
    if shape == (1, cols):  # a row spread over rows
        return matmul(ones((1, rows)), g)
    return matmul(g, ones((cols, 1)))  # a column spread over columns

r"""LaTeX for expressions of the language (the closed forms in reports).

>>> from gradcheck.language.parser import parse
>>> print(latex(parse("sigmoid(x) + x.T")))
\sigma\left(x\right) + x^{\top}
"""

from __future__ import annotations

from gradcheck.language import ops
from gradcheck.language.tree import Matrix, Node, Num, Var

__all__ = ["latex"]


def latex(node: Node) -> str:
    """LaTeX for an expression: ``@`` as juxtaposition, ``*`` as ⊙, ``.T`` as ⊤.

    >>> from gradcheck.language.parser import parse
    >>> latex(parse("(A.T+A)@X"))
    '\\\\left(A^{\\\\top} + A\\\\right) X'
    >>> latex(parse("G*(1-tanh(P@Q)**2)"))
    'G \\\\odot \\\\left(1 - \\\\tanh\\\\left(P Q\\\\right)^{2}\\\\right)'
    """
    return _latex(node)[0]


def _latex(node: Node) -> tuple[str, int]:
    atom = ops.PRECEDENCE_ATOM
    if isinstance(node, Num):
        v = node.value
        text = str(v.numerator) if v.denominator == 1 else \
            rf"\frac{{{abs(v.numerator)}}}{{{v.denominator}}}"
        return ("-" + text if v < 0 and v.denominator != 1 else text), atom
    if isinstance(node, Var):
        return node.name, atom
    if isinstance(node, Matrix):
        rows = r" \\ ".join(" & ".join(latex(e) for e in row) for row in node.rows)
        return rf"\begin{{bmatrix}} {rows} \end{{bmatrix}}", atom
    if node.origin is not None:  # a derived operator, as written
        node = node.origin
    op = ops.OPS[node.op]
    args = node.args
    if node.op in ("ones", "zeros"):
        r, c = node.shape or (1, 1)
        return rf"\mathbf{{{1 if node.op == 'ones' else 0}}}_{{{r}\times {c}}}", atom
    if node.op == "eye":
        return rf"I_{{{(node.shape or (1, 1))[0]}}}", atom
    if node.op == "transpose":
        return _wrap_latex(args[0], ops.PRECEDENCE_ATOM) + r"^{\top}", ops.PRECEDENCE_POSTFIX
    if node.op == "inv":
        return _wrap_latex(args[0], ops.PRECEDENCE_ATOM) + "^{-1}", ops.PRECEDENCE_POSTFIX
    if node.op == "pow":
        return (_wrap_latex(args[0], ops.PRECEDENCE_ATOM) + "^{" + latex(args[1]) + "}",
                ops.PRECEDENCE_POW)
    if node.op == "neg":
        return "-" + _wrap_latex(args[0], ops.PRECEDENCE_UNARY), ops.PRECEDENCE_UNARY
    infix = {"add": " + ", "sub": " - ", "mul": r" \odot ", "matmul": " ", "div": r" \oslash "}
    if node.op in infix:
        if node.op == "mul" and isinstance(args[0], Num):
            infix["mul"] = " "  # 2 X rather than 2 ⊙ X
        prec = op.precedence
        return (_wrap_latex(args[0], prec) + infix[node.op] + _wrap_latex(args[1], prec + 1),
                prec)
    name = op.latex or rf"\operatorname{{{node.op}}}"
    inner = ", ".join(latex(a) for a in args)
    return rf"{name}\left({inner}\right)", atom


def _wrap_latex(node: Node, strength: int) -> str:
    text, prec = _latex(node)
    return text if prec >= strength else rf"\left({text}\right)"

"""The element-level exact engine on symengine, the SymPy project's C++ core:
the same derivation as :mod:`gradcheck.exact.symbolic` (every entry an
expression in the element symbols ``w[k,l]``, differentiated entry by entry,
values exact at a rational point) about a hundred times faster, and
converted to SymPy where SymPy is asked for (:func:`to_sympy`).

SymPy's semantics are kept where symengine has none of its own: symengine
leaves the derivatives of ``Abs``, ``Max`` (``relu`` is ``Max(0, a)``) and
``sign`` unevaluated, and has no Heaviside step, so ``step`` and ``delta``
are named functions (their values at numbers folded as they are built) and
the derivatives are written in after differentiation as SymPy gives them:
``abs`` → ``sign``, ``relu`` → ``step`` (``Heaviside``, 1/2 at 0), ``sign``
→ ``2·delta``, ``step`` → ``delta`` (``DiracDelta``: not a number at 0).
Values are certified in ball arithmetic (:mod:`gradcheck.exact.balls`), to
the last digit of a float.

>>> from gradcheck.language.parser import parse
>>> from gradcheck.language.shapes import infer
>>> typed = infer(parse("sum(relu(z) * z)"), {"z": (1, 2)})
>>> z = symbols("z", (1, 2))
>>> jac = jacobian(build(typed.tree, {"z": z}), z)
>>> values = evaluate(jac, {z[0, 0]: se.Rational(3, 2), z[0, 1]: se.Integer(-1)})
>>> certify(values)[0].tolist(), to_sympy(jac[0])
([3.0, 0.0], z[0,0]*Heaviside(z[0,0]) + Max(0, z[0,0]))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import symengine as se
from flint import arb

from gradcheck.errors import LimitError
from gradcheck.exact import balls
from gradcheck.exact.rational import fractions_of
from gradcheck.language import ops
from gradcheck.language.tree import Call, Matrix, Node, Num, Shape, Var, render, walk
from gradcheck.lazy import sympy
from gradcheck.limits import current, hint
from gradcheck.values.value import Value

__all__ = ["BUILDERS", "Lazy", "afford", "build", "certify", "entries", "evaluate",
           "is_elementwise", "jacobian", "kinked", "matrix", "symbols", "terms", "to_sympy"]

# The functions symengine does not have, by the name they are built with,
# as SymPy's.
_NAMED = {"step": lambda a: sympy.Heaviside(a), "delta": lambda a: sympy.DiracDelta(a)}


def _step(a: Any) -> Any:
    """Heaviside's step, 1/2 at 0 (SymPy's), folded where ``a`` is a number."""
    if a.is_Number:
        return se.Integer(1) if a > 0 else se.Integer(0) if a < 0 else se.Rational(1, 2)
    return se.function_symbol("step", a)


def _delta(a: Any) -> Any:
    """DiracDelta: 0 off 0, folded where ``a`` is a nonzero number."""
    if a.is_Number and a != 0:
        return se.Integer(0)
    return se.function_symbol("delta", a)


# The derivative of each function whose derivative symengine leaves
# unevaluated, as SymPy's: from its arguments, one term per argument.
_DERIVATIVES: dict[str, Callable[..., tuple[Any, ...]]] = {
    "Abs": lambda a: (se.sign(a),),
    "Max": lambda a, b: (_step(a - b), _step(b - a)),
    "sign": lambda a: (2 * _delta(a),),
    "step": lambda a: (_delta(a),),
}
_KINKED = ("abs", "relu", "sign", "step")  # the operators built with these


def _rows(m: Any) -> list[list[Any]]:
    return [[m[i, j] for j in range(m.cols)] for i in range(m.rows)]


def _softmax(m: Any) -> Any:
    e = [[se.exp(v) for v in row] for row in _rows(m)]
    return se.DenseMatrix([[v / se.add(*row) for v in row] for row in e])


def _one(x: Any) -> Any:
    return se.DenseMatrix([[x]])


def _entries(m: Any) -> list[Any]:
    return [m[i, j] for i in range(m.rows) for j in range(m.cols)]


def _inv(m: Any) -> Any:
    """The adjugate over the determinant, as SymPy's ``inv(method="ADJ")``."""
    n = m.rows
    if n == 1:
        return _one(1 / m[0, 0])
    det = _det(m)
    cof = [[(-1) ** (i + j) * _det(_minor(m, i, j)) for j in range(n)] for i in range(n)]
    return se.DenseMatrix([[cof[j][i] / det for j in range(n)] for i in range(n)])


def _minor(m: Any, i: int, j: int) -> Any:
    rows = [r for r in range(m.rows) if r != i]
    cols = [c for c in range(m.cols) if c != j]
    return se.DenseMatrix([[m[r, c] for c in cols] for r in rows])


SYMBOLIC_DET = 8  # the largest symbolic matrix whose determinant is written out


def _det(m: Any) -> Any:
    """The determinant as a polynomial in the entries, without divisions:
    symengine's own divides by pivots (Bareiss), which is 0/0 where a pivot
    of the point is 0 (an anti-diagonal matrix). Laplace expansion along the
    rows, each minor once (n·2ⁿ⁻¹ of them); numbers by exact elimination."""
    n = m.rows
    if not m.free_symbols:
        return _rational_det([[Fraction(int(e.p), int(e.q)) for e in row] for row in _rows(m)])
    if n > SYMBOLIC_DET:
        raise LimitError(f"the determinant of a symbolic {n}×{n} matrix is too large to write "
                         "out", hint=hint("--max-terms", "max_terms", "use the closed-form "
                                          "engine (--engine closed, engine='closed' in Python)"))
    rows = _rows(m)
    memo: dict[tuple[int, ...], Any] = {}

    def minor(cols: tuple[int, ...]) -> Any:  # the rows from n - len(cols) down
        if not cols:
            return se.Integer(1)
        if cols not in memo:
            r = n - len(cols)
            memo[cols] = se.add(*((-1) ** k * rows[r][c] * minor(cols[:k] + cols[k + 1:])
                                  for k, c in enumerate(cols) if rows[r][c] != 0))
        return memo[cols]

    return minor(tuple(range(n)))


def _rational_det(a: list[list[Fraction]]) -> Any:
    """The determinant of a matrix of fractions, by elimination with pivoting."""
    a = [row[:] for row in a]
    n, det = len(a), Fraction(1)
    for k in range(n):
        p = next((i for i in range(k, n) if a[i][k] != 0), None)
        if p is None:
            return se.Integer(0)
        if p != k:
            a[k], a[p] = a[p], a[k]
            det = -det
        det *= a[k][k]
        for i in range(k + 1, n):
            f = a[i][k] / a[k][k]
            if f:
                a[i] = [x - f * y for x, y in zip(a[i], a[k], strict=True)]
    return se.Rational(det.numerator, det.denominator)


# One builder per operator of the language that an engine meets (derived
# operators are expanded before): elementwise and binary rows take scalars,
# the others matrices. tests/test_ops.py checks that every row has one.
BUILDERS: dict[str, Callable[..., Any]] = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "pow": lambda a, b: a**b,
    "matmul": lambda a, b: a * b, "transpose": lambda m: m.T,
    "neg": lambda a: -a, "exp": se.exp, "log": se.log, "sqrt": se.sqrt,
    "abs": se.Abs, "sin": se.sin, "cos": se.cos, "tanh": se.tanh,
    "sigmoid": lambda a: 1 / (1 + se.exp(-a)), "relu": lambda a: se.Max(0, a),
    "softplus": lambda a: se.log(1 + se.exp(a)), "sign": se.sign, "step": _step,
    "sum": lambda m: _one(se.add(*_entries(m))),
    "mean": lambda m: _one(se.add(*_entries(m)) / (m.rows * m.cols)),
    "trace": lambda m: _one(se.add(*(m[i, i] for i in range(m.rows)))),
    "norm": lambda m: _one(se.sqrt(se.add(*(e**2 for e in _entries(m))))),
    "det": lambda m: _one(_det(m)), "logdet": lambda m: _one(se.log(_det(m))),
    "inv": _inv, "softmax": _softmax,
    "ones": lambda r, c: se.ones(r, c), "zeros": lambda r, c: se.zeros(r, c),
    "eye": lambda n: se.eye(n),
}


def symbols(name: str, shape: Shape) -> Any:
    """The matrix of element symbols ``name[i,j]``."""
    rows, cols = shape
    return se.DenseMatrix(rows, cols, [se.Symbol(f"{name}[{i},{j}]")
                                       for i in range(rows) for j in range(cols)])


def build(tree: Node, env: Mapping[str, Any], terms: int | None = None) -> Any:
    """The symengine matrix of a typed tree, with ``env`` giving each variable.

    Raises:
        LimitError: a matrix would have more than ``terms`` (by default
            ``current().terms``) terms: operations, counted as trees.
    """
    return _build(tree, env, current().terms if terms is None else terms)


def matrix(v: Value) -> Any:
    """A variable's rational value as a symengine matrix: exactly what was given
    (``1/3``), or the rationals a float array holds."""
    q = fractions_of(v)
    return se.DenseMatrix(*q.shape, [se.Rational(f.numerator, f.denominator) for f in q.flat])


def entries(m: Any) -> list[Any]:
    """A matrix's entries in row-major order."""
    return _entries(m)


def terms(exprs: Sequence[Any]) -> int:
    """The operations in expressions, counted as trees."""
    return int(se.count_ops(*exprs))


def afford(f: Any, w: Any, work: int, tree: Node) -> None:
    """Raise a LimitError if differentiating f by every entry of w is more
    work than ``work``: the operations in f's entries times w's entries."""
    terms = se.count_ops(*_entries(f))
    if terms * w.rows * w.cols > work:
        _refuse(terms * w.rows * w.cols, tree, work, True)


def is_elementwise(flat: Sequence[Any], f_shape: Shape, w_shape: Shape) -> bool:
    """Whether f is elementwise in w: same shape (not 1×1), and every
    ∂f[i,j]/∂w[k,l] with (i,j) != (k,l) identically zero."""
    if f_shape != w_shape or f_shape == (1, 1):
        return False
    n = f_shape[0] * f_shape[1]
    return all(flat[a * n + b] == 0 for a in range(n) for b in range(n) if a != b)


@dataclass(frozen=True)
class Lazy:
    """Expressions or values of the Jacobian, converted to SymPy's only when
    asked (:meth:`sympy`: a Matrix for a gradient, else a rank-4 Array, the
    layouts of :func:`gradcheck.exact.symbolic.jacobian`): SymPy takes
    longer to build ``tanh(1/4)**2`` than symengine takes for a whole check."""

    flat: tuple[Any, ...]
    shape: tuple[int, ...]

    @property
    def rational(self) -> bool:
        """Whether every entry is a rational number."""
        return all(e.is_Rational for e in self.flat)

    def sympy(self) -> Any:
        return _shaped([to_sympy(e) for e in self.flat], self.shape)


def _shaped(flat: list[Any], shape: tuple[int, ...]) -> Any:
    if len(shape) == 2:
        return sympy.ImmutableMatrix(*shape, flat)
    return sympy.ImmutableDenseNDimArray(flat, shape)


def _build(node: Node, env: Mapping[str, Any], limit: int) -> Any:
    if isinstance(node, Num):
        return _one(se.Rational(node.value.numerator, node.value.denominator))
    if isinstance(node, Var):
        return env[node.name]
    if isinstance(node, Matrix):
        return _checked(se.DenseMatrix([[_build(e, env, limit)[0, 0] for e in row]
                                        for row in node.rows]), node, limit)
    assert isinstance(node, Call)
    op = ops.OPS[node.op]
    make = BUILDERS[node.op]
    if op.kind == "constructor":
        return make(*(int(a.value) for a in node.args))  # type: ignore[union-attr]
    args = [_build(a, env, limit) for a in node.args]
    if node.op in ("inv", "det", "logdet") and args[0].free_symbols:
        # The cofactors are as large as the determinant: estimate first.
        det = se.count_ops(args[0].det())
        _refuse(det * (args[0].rows ** 2 if node.op == "inv" else 1), node, limit, True)
    if op.kind == "elementwise":
        out = args[0].applyfunc(make)
    elif op.kind == "binary":
        assert node.shape is not None
        a, b = (_spread(m, node.shape) for m in args)
        if node.op == "pow":
            _exponents(b)
        out = se.DenseMatrix(*node.shape, [make(a[i, j], b[i, j]) for i in range(node.shape[0])
                                           for j in range(node.shape[1])])
    else:
        out = make(*args)
    return _checked(out, node, limit)


def _exponents(b: Any) -> None:
    from gradcheck.exact.symbolic import MAX_EXACT_EXPONENT
    if any(e.is_Number and abs(float(e)) > MAX_EXACT_EXPONENT for e in _entries(b)):
        raise LimitError("an exponent too large for exact arithmetic",
                         detail=f"exponents beyond ±{MAX_EXACT_EXPONENT} of numbers would "
                                "build numbers with millions of digits",
                         hint="rewrite the expression with a smaller exponent")


def _spread(m: Any, shape: Shape) -> Any:
    """Broadcast a 1×1, 1×n or m×1 matrix to ``shape``."""
    if (m.rows, m.cols) == shape:
        return m
    return se.DenseMatrix(*shape, [m[i % m.rows, j % m.cols]
                                   for i in range(shape[0]) for j in range(shape[1])])


def _checked(m: Any, node: Node, limit: int) -> Any:
    _refuse(se.count_ops(*_entries(m)), node, limit)
    return m


def _refuse(terms: int, node: Node, limit: int, estimated: bool = False) -> None:
    if terms <= limit:
        return
    text = render(node)
    if len(text) > 40:
        text = text[:39] + "…"
    raise LimitError(
        f"the symbolic expression of '{text}' {'would have' if estimated else 'has'} "
        f"{terms} terms, more than {limit}",
        detail="terms are the operations in the expressions of its entries; the element-level "
               "engine writes out every entry, and inv, det and long products of symbolic "
               "matrices grow very fast with their size",
        hint=hint("--max-terms", "max_terms",
                  "check smaller matrices, use the closed-form engine (--engine closed, "
                  "engine='closed' in Python)"))


def jacobian(f: Any, w: Any, kinked: bool = True) -> list[Any]:
    """``∂f[i,j]/∂w[k,l]`` for every entry, flat in row-major (i, j, k, l)
    order; ``kinked`` False says that f has none of abs, relu, sign, step."""
    ws = _entries(w)
    if not kinked:
        return [se.diff(e, v) for e in _entries(f) for v in ws]
    return [_derivatives(se.diff(e, v)) for e in _entries(f) for v in ws]


def kinked(tree: Node) -> bool:
    """Whether a tree holds a function built by name (abs, relu, sign, step)."""
    return any(isinstance(n, Call) and n.op in _KINKED for n in walk(tree))


def _derivatives(e: Any) -> Any:
    """Write SymPy's derivatives of the kinked functions into ``e``, in place of
    symengine's unevaluated ones: ``Subs(Derivative(F(ξ), ξ), ξ, u)`` (the
    chain rule's factor already outside) and ``Derivative(F(u…), x)`` (the
    chain rule still to apply)."""
    if e.is_Number or e.is_Symbol:
        return e
    found: dict[Any, Any] = {}
    dummies = set()
    for s in e.atoms(se.Subs):
        (dummy,), (point,) = s.variables, s.point
        inner = s.expr  # Derivative(F(ξ), ξ), first order
        assert len(inner.args) == 2 and inner.args[1] == dummy
        found[s] = _DERIVATIVES[_name(inner.args[0])](point)[0]
        dummies.add(dummy)
    for d in e.atoms(se.Derivative):
        fn, var = d.args[0], d.args[1]
        if var in dummies:
            continue  # inside a Subs, written in above
        assert len(d.args) == 2
        terms = _DERIVATIVES[_name(fn)](*fn.args)
        found[d] = se.add(*(t * _derivatives(se.diff(a, var)) for t, a in zip(terms, fn.args,
                                                                             strict=True)))
    return e.xreplace(found) if found else e


def _name(fn: Any) -> str:
    kind = type(fn).__name__
    return str(fn.get_name()) if kind == "FunctionSymbol" else kind


def evaluate(exprs: Sequence[Any], at: Mapping[Any, Any]) -> list[Any]:
    """Substitute exact values: rationals stay rationals, ``exp(1/4)`` stays symbolic."""
    d = se.DictBasic(dict(at))
    return [e.xreplace(d) if not e.is_Number else e for e in exprs]


def rational(q: Fraction) -> Any:
    """A fraction as a symengine number."""
    return se.Rational(q.numerator, q.denominator)


def certify(values: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Certified floats for exact symengine numbers and a bound on each one's
    error, as :func:`gradcheck.exact.balls.certify` gives for SymPy's."""
    return balls.certify_with(values, _node, lambda e: e.is_Rational,
                              lambda e: Fraction(int(e.p), int(e.q)))


def _node(e: Any, args: list[Any]) -> Any:
    """The ball of one node from its arguments' balls."""
    kind = type(e).__name__
    if e.is_Number:
        if e.is_Rational:
            return balls.exact(Fraction(int(e.p), int(e.q)))
        raise balls.NotANumber  # nan, zoo and infinities; no floats are built
    if kind == "Exp1":
        return arb(1).exp()
    if kind == "Pi":
        return arb.pi()
    if kind == "Add":
        return balls.total(args)
    if kind == "Mul":
        return balls.product(args)
    if kind == "Pow":
        base, exponent = e.args
        if type(base).__name__ == "Exp1":
            return args[1].exp()
        if exponent.is_Integer:
            k = int(exponent)
            return args[0] ** k if k >= 0 else 1 / args[0] ** (-k)
        if exponent == se.Rational(1, 2):
            return args[0].sqrt()
        if exponent == se.Rational(-1, 2):
            return args[0].rsqrt()
        return args[0] ** args[1]
    if kind == "FunctionSymbol":
        return balls.named(e.get_name(), args[0])
    if kind == "Max":
        return balls.largest(args)
    if kind in balls.FUNCTIONS:
        return balls.FUNCTIONS[kind](*args)
    raise balls.Unsupported(f"no ball arithmetic for {kind}")


def to_sympy(e: Any) -> Any:
    """A symengine expression (or number) as SymPy's: the element symbols real,
    as :func:`gradcheck.exact.symbolic.symbols` makes them, and the kinked
    functions SymPy's own (``relu(a)`` is ``Max(0, a)``)."""
    if e.is_Rational:
        return sympy.Rational(int(e.p), int(e.q))
    out = e._sympy_()
    out = out.xreplace({s: sympy.Symbol(s.name, real=True) for s in out.free_symbols})
    undefined = sympy.core.function.AppliedUndef
    if any(isinstance(f, undefined) for f in out.atoms(sympy.Function)):
        out = out.replace(lambda x: isinstance(x, undefined) and x.func.__name__ in _NAMED,
                          lambda x: _NAMED[x.func.__name__](*x.args))
    return out

"""The operator table: one row per operator of the expression language.

The parser, both engines, the shape checker, the strategies and the docs all
read this table, so a new operator costs one row here plus one test row.
The SymPy column (``sym``) and the NumPy column (``num``) are written
independently of each other: their agreement on forward values is tested,
and it is what makes agreement of the two engines mean something.

For ``elementwise`` and ``binary`` rows, ``sym`` maps scalars to a scalar
and the engines apply it entry by entry (with broadcasting); for the other
kinds it maps whole matrices to a matrix.

The NumPy column also accepts complex arrays, for complex-step
differentiation: each function is the analytic continuation of the real
one near the real axis (relu and abs branch on the real part, norm is
``sqrt(sum(x*x))`` rather than a modulus), so ``Im f(x + ih)/h`` is the
derivative. Domains, kinks and the choice of branch look at real parts.

>>> OPS["sigmoid"].aliases
('σ',)
>>> sorted(FUNCTIONS)[:4]
['ReLU', 'abs', 'cos', 'det']

Longer than most modules: it is the table, one row per operator, and the NumPy
helpers its rows name; by design everything about an operator is here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck.lazy import sympy

__all__ = ["FUNCTIONS", "OPS", "Op", "lookup_function"]

# Binding strength, weakest first: a + b, a * b, -a, a ** b, a.T, atoms.
PRECEDENCE_ADD = 1
PRECEDENCE_MUL = 2
PRECEDENCE_UNARY = 3
PRECEDENCE_POW = 4
PRECEDENCE_POSTFIX = 5
PRECEDENCE_ATOM = 6

Mask = Callable[..., Any]  # argument arrays -> boolean array: where the op is defined
Shapes = tuple[tuple[int, int], ...]
# Argument shapes and whole-number options -> the definition in the language
# over the arguments a and b (None: the operator itself, no expansion).
Expansion = Callable[[Shapes, tuple[int, ...]], "str | None"]
# An output shape and the largest side -> argument shapes and options that give it.
Arguments = Callable[[tuple[int, int], int], list[tuple[Shapes, tuple[int, ...]]]]


@dataclass(frozen=True)
class Op:
    """One operator.

    kind: ``elementwise`` (unary, entry by entry), ``binary`` (entry by
    entry with broadcasting), ``matmul``, ``dot`` (the ambiguous product,
    resolved to ``matmul`` or ``mul`` by the shape checker), ``reduce``
    (to 1×1), ``matrix`` (whole-matrix unary) or ``constructor``
    (``ones(3, 2)``: integer arguments, a constant result).

    A *derived* operator has ``expand``: its definition in the language,
    from its arguments' shapes (and ``options``, trailing whole numbers such
    as the axis of ``sum(X, 0)``). The shape checker types the expansion in
    its place, so every engine differentiates the definition and none needs
    a rule of its own; the printers show the call as written. ``sym`` and
    ``num`` of a derived row are independent reference implementations,
    tested against the expansion. ``expand`` raises ValueError with the
    reason when the shapes do not fit, and ``arguments`` (the inverse: the
    argument shapes that give an output shape) lets the strategies generate
    it.
    """

    name: str
    kind: str
    arity: int
    sym: Callable[..., Any]
    num: Callable[..., Any]
    doc: str
    aliases: tuple[str, ...] = ()
    infix: str | None = None
    prefix: str | None = None
    postfix: str | None = None
    precedence: int = PRECEDENCE_ATOM
    right_assoc: bool = False
    square: bool = False  # the argument must be a square matrix
    domain: Mask | None = None  # NumPy arguments -> mask of where it is differentiable
    domain_text: str = ""  # what the domain is, for error messages
    kink: float | None = None  # argument value where the derivative jumps
    pole: Mask | None = None  # arguments -> a quantity that is 0 at a pole: steps must not cross
    # arguments -> how much the NumPy column may amplify rounding (a condition number)
    condition: Callable[..., float] | None = None
    complex_step: bool = True  # the NumPy column is analytic off kinks: Im f(x+ih)/h works
    options: int = 0  # trailing whole-number arguments it may take (an axis)
    expand: Expansion | None = None
    arguments: Arguments | None = None
    latex: str | None = None  # its LaTeX name, else \operatorname{name}
    smooth: bool = False  # defined and smooth everywhere: strategies generate it by default
    # The closed form's rule: each argument's cotangent in the language, from
    # the cotangent g of the result, the arguments a and b and the result out
    # ("" where it is 0). Entry-by-entry rows sum a broadcast operand's back to
    # its shape. Rules that need shapes (sum, mean, trace, softmax, pow) are
    # code in gradcheck.exact.closed_form.RULES.
    vjp: tuple[str, ...] | None = None
    also: tuple[str, ...] = ()  # other spellings the grammar accepts, for the docs

    @property
    def is_function(self) -> bool:
        """Written as ``name(args)`` rather than with a symbol."""
        return self.infix is None and self.prefix is None and self.postfix is None


def _sym(name: str) -> Callable[..., Any]:
    """SymPy's function ``name``, looked up when called (SymPy is imported at its first use)."""
    return lambda *args: getattr(sympy, name)(*args)


def _sigmoid_np(a: Any) -> Any:
    # exp of a non-positive real part on each branch: no overflow, and full
    # relative accuracy in both tails.
    e = np.exp(-_abs_np(a))
    return np.where(a.real >= 0, 1 / (1 + e), e / (1 + e))


def _softplus_np(a: Any) -> Any:
    # log(1 + exp(a)), as a + log1p(exp(-a)) for a >= 0 so that it cannot
    # overflow. One branch condition, each branch analytic, so a complex step
    # at a = 0 stays on one side.
    pos = a.real >= 0
    return np.where(pos, a + np.log1p(np.exp(np.where(pos, -a, a))), np.log1p(np.exp(a)))


def _abs_np(a: Any) -> Any:
    return np.where(a.real >= 0, a, -a)


def _relu_np(a: Any) -> Any:
    return np.where(a.real > 0, a, 0 * a)


def _norm_np(a: Any) -> Any:
    # sqrt(sum(x*x)), scaled by the largest entry so that it cannot overflow.
    m = np.max(np.abs(a.real), axis=(-2, -1), keepdims=True)
    return m * np.sqrt(np.sum((a / m) ** 2, axis=(-2, -1), keepdims=True))


def _logdet_np(a: Any) -> Any:
    sign, logabs = np.linalg.slogdet(a)
    return _whole(np.log(sign) + logabs)  # the phase of sign carries Im for complex steps


def _softmax_np(a: Any) -> Any:
    e = np.exp(a - a.real.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_sym(m: sympy.Matrix) -> sympy.Matrix:
    e = m.applyfunc(_sym("exp"))
    rows = [sympy.Add(*e.row(i)) for i in range(e.rows)]
    return sympy.Matrix(e.rows, e.cols, lambda i, j: e[i, j] / rows[i])


def _matmul_np(a: Any, b: Any) -> Any:
    # A complex step meets real matrices: two real products, half the work
    # of one complex product, and the same numbers.
    if np.iscomplexobj(a) and not np.iscomplexobj(b):
        return np.matmul(a.real, b) + 1j * np.matmul(a.imag, b)
    if np.iscomplexobj(b) and not np.iscomplexobj(a):
        return np.matmul(a, b.real) + 1j * np.matmul(a, b.imag)
    return np.matmul(a, b)


def _whole(x: Any) -> Any:
    """A value per matrix (a scalar, or one per matrix of a stack) as 1×1 matrices."""
    return np.asarray(x)[..., None, None]


def _sign_np(a: Any) -> Any:
    return np.where(a.real > 0, 1.0, np.where(a.real < 0, -1.0, 0.0)) + 0 * a


def _step_np(a: Any) -> Any:
    return np.where(a.real > 0, 1.0, np.where(a.real < 0, 0.0, 0.5)) + 0 * a


def _one(x: Any) -> sympy.Matrix:
    return sympy.Matrix([[x]])


def _is_integer(b: Any) -> Any:
    return np.equal(np.mod(b, 1), 0)


def _pow_domain(a: Any, b: Any) -> Any:
    return (a > 0) | (_is_integer(b) & ((b >= 0) | (a != 0)))


def _invertible(a: Any) -> Any:
    return _whole(np.linalg.cond(a.real) < 1e12)


def _nonzero_matrix(a: Any) -> Any:
    return _whole(np.any(a.real != 0, axis=(-2, -1)))


def _cond(a: Any) -> float:
    return float(np.max(np.linalg.cond(a.real)))


def _positive_det(a: Any) -> Any:
    sign, _ = np.linalg.slogdet(a.real)
    return _whole(sign > 0)


# ----- derived operators: definitions in the language -----

def _axis_sum(scale: bool) -> Expansion:
    """sum(X, 0) (column sums, 1×n) and sum(X, 1) (row sums, m×1), as NumPy's
    axis with keepdims; mean likewise."""
    def expand(shapes: Shapes, options: tuple[int, ...]) -> str | None:
        if not options:
            return None
        ((m, n),), (axis,) = shapes, options
        if axis not in (0, 1):
            raise ValueError(f"the axis is 0 (down the columns) or 1 (along the rows), "
                             f"not {axis}")
        body = f"ones(1, {m}) @ a" if axis == 0 else f"a @ ones({n}, 1)"
        return f"({body}) / {m if axis == 0 else n}" if scale else body
    return expand


def _axis_arguments(out: tuple[int, int], side: int) -> list[tuple[Shapes, tuple[int, ...]]]:
    r, c = out
    forms: list[tuple[Shapes, tuple[int, ...]]] = []
    if r == 1:
        forms += [(((k, c),), (0,)) for k in range(1, side + 1)]
    if c == 1:
        forms += [(((r, k),), (1,)) for k in range(1, side + 1)]
    return forms


def _diag(shapes: Shapes, options: tuple[int, ...]) -> str:
    ((m, n),) = shapes
    if n == 1:
        return f"eye({m}) * (a @ ones(1, {m}))"  # a column: the diagonal matrix
    if m == 1:
        return f"eye({n}) * (ones({n}, 1) @ a)"  # a row, likewise
    if m == n:
        return f"(a * eye({n})) @ ones({n}, 1)"  # a square matrix: its diagonal, n×1
    raise ValueError(f"diag takes a vector (n×1 or 1×n) or a square matrix, not {m}×{n}")


def _diag_arguments(out: tuple[int, int], side: int) -> list[tuple[Shapes, tuple[int, ...]]]:
    r, c = out
    if r == c:
        return [(((r, 1),), ())]
    return [(((r, r),), ())] if c == 1 and r > 1 else []


def _literal(rows: int, cols: int, one: Callable[[int, int], bool]) -> str:
    return "[" + ", ".join("[" + ", ".join("1" if one(i, j) else "0" for j in range(cols)) + "]"
                           for i in range(rows)) + "]"


def _kron(shapes: Shapes, options: tuple[int, ...]) -> str:
    """kron(A, B)[i·p + k, j·q + l] = A[i, j]·B[k, l], for A m×n and B p×q: each
    factor spread over the blocks by constant 0/1 matrices, then multiplied."""
    (m, n), (p, q) = shapes
    rows_a = _literal(m * p, m, lambda r, i: r // p == i)
    cols_a = _literal(n, n * q, lambda j, c: c // q == j)
    rows_b = _literal(m * p, p, lambda r, k: r % p == k)
    cols_b = _literal(q, n * q, lambda l, c: c % q == l)
    return f"({rows_a} @ a @ {cols_a}) * ({rows_b} @ b @ {cols_b})"


def _kron_arguments(out: tuple[int, int], side: int) -> list[tuple[Shapes, tuple[int, ...]]]:
    r, c = out
    return [(((m, n), (r // m, c // n)), ()) for m in range(1, side + 1) if r % m == 0
            for n in range(1, side + 1) if c % n == 0 and r // m <= side and c // n <= side]


def _logsumexp_np(a: Any) -> Any:
    m = np.max(a.real, axis=(-2, -1), keepdims=True)
    return m + np.log(np.sum(np.exp(a - m), axis=(-2, -1), keepdims=True))


def _log_softmax_np(a: Any) -> Any:
    m = a.real.max(axis=-1, keepdims=True)
    return a - m - np.log(np.exp(a - m).sum(axis=-1, keepdims=True))


def _kron_sym(a: sympy.Matrix, b: sympy.Matrix) -> sympy.Matrix:
    return sympy.Matrix(a.rows * b.rows, a.cols * b.cols,
                        lambda r, c: a[r // b.rows, c // b.cols] * b[r % b.rows, c % b.cols])


def _diag_sym(a: sympy.Matrix) -> sympy.Matrix:
    if a.cols == 1 or a.rows == 1:
        return sympy.diag(*a)
    return sympy.Matrix(a.rows, 1, lambda i, _: a[i, i])


def _diag_np(a: Any) -> Any:
    if a.shape[-1] == 1 or a.shape[-2] == 1:
        return np.diag(a.ravel())
    return np.diagonal(a).reshape(-1, 1)


_ROWS: list[Op] = [
    # ----- binary operators, entry by entry with broadcasting -----
    Op("add", "binary", 2, lambda a, b: a + b, np.add, "sum", infix="+",
       precedence=PRECEDENCE_ADD, smooth=True,
       vjp=("g", "g")),
    # a - b
    Op("sub", "binary", 2, lambda a, b: a - b, np.subtract, "difference", infix="-",
       precedence=PRECEDENCE_ADD, smooth=True,
       vjp=("g", "-g"), also=("a − b",)),
    Op("mul", "binary", 2, lambda a, b: a * b, np.multiply,
       "elementwise (Hadamard) product; also written ⊙", infix="*", precedence=PRECEDENCE_MUL,
       smooth=True,
       vjp=("g*b", "g*a"), also=("a ⊙ b", "a ∘ b")),
    Op("div", "binary", 2, lambda a, b: a / b, np.divide, "elementwise quotient", infix="/",
       precedence=PRECEDENCE_MUL, domain=lambda a, b: b != 0,
       domain_text="division needs a nonzero divisor", pole=lambda a, b: b,
       vjp=("g/b", "-(g*a/b**2)")),
    Op("pow", "binary", 2, lambda a, b: a**b, np.power, "elementwise power; also written ^",
       infix="**", precedence=PRECEDENCE_POW, right_assoc=True, domain=_pow_domain,
       domain_text="a ** b needs a > 0 unless b is an integer (and a != 0 when b < 0)",
       pole=lambda a, b: np.where(b < 0, a, 1.0), also=("a ^ b",)),
    # ----- products of matrices -----
    Op("matmul", "matmul", 2, lambda a, b: a * b, _matmul_np, "matrix product", infix="@",
       precedence=PRECEDENCE_MUL, smooth=True,
       vjp=("g@b.T", "a.T@g")),
    Op("dot", "dot", 2, lambda a, b: None, lambda a, b: None,
       "the product as printed in notes (· ×, or writing operands side by side): the matrix "
       "product when the inner dimensions agree, else the elementwise product",
       infix="·", precedence=PRECEDENCE_MUL, also=("a × b", "a ⋅ b", "a b")),
    # ----- unary operators -----
    Op("neg", "elementwise", 1, lambda a: -a, np.negative, "negation", prefix="-",
       precedence=PRECEDENCE_UNARY, smooth=True,
       vjp=("-g",), also=("−a",)),
    Op("transpose", "matrix", 1, lambda m: m.T, lambda a: np.swapaxes(a, -1, -2),
       "transpose; also xᵀ, transpose(x)",
       postfix=".T", precedence=PRECEDENCE_POSTFIX, smooth=True,
       vjp=("g.T",), also=("aᵀ", "transpose(a)")),
    # ----- elementwise functions -----
    Op("exp", "elementwise", 1, _sym("exp"), np.exp, "exponential", latex=r"\exp", smooth=True,
       vjp=("g*out",)),
    Op("log", "elementwise", 1, _sym("log"), np.log, "natural logarithm", aliases=("ln",),
       latex=r"\log", domain=lambda a: a > 0, domain_text="log needs a positive argument",
       vjp=("g/a",)),
    Op("sqrt", "elementwise", 1, _sym("sqrt"), np.sqrt, "square root",
       domain=lambda a: a > 0,
       domain_text="sqrt needs a positive argument (it is not differentiable at 0)",
       vjp=("g/(2*out)",)),
    Op("abs", "elementwise", 1, _sym("Abs"), _abs_np, "absolute value", kink=0.0,
       vjp=("g*sign(a)",)),
    Op("sin", "elementwise", 1, _sym("sin"), np.sin, "sine", latex=r"\sin", smooth=True,
       vjp=("g*cos(a)",)),
    Op("cos", "elementwise", 1, _sym("cos"), np.cos, "cosine", latex=r"\cos", smooth=True,
       vjp=("-(g*sin(a))",)),
    Op("tanh", "elementwise", 1, _sym("tanh"), np.tanh, "hyperbolic tangent", latex=r"\tanh",
       smooth=True,
       vjp=("g*(1 - out**2)",)),
    Op("sigmoid", "elementwise", 1, lambda a: 1 / (1 + sympy.exp(-a)), _sigmoid_np,
       "logistic sigmoid 1/(1+exp(-x))", aliases=("σ",), latex=r"\sigma", smooth=True,
       vjp=("g*(out*(1 - out))",)),
    Op("relu", "elementwise", 1, lambda a: sympy.Max(0, a), _relu_np,
       "rectified linear unit max(x, 0)", aliases=("ReLU",), kink=0.0,
       vjp=("g*step(a)",)),
    Op("softplus", "elementwise", 1, lambda a: sympy.log(1 + sympy.exp(a)), _softplus_np,
       "log(1 + exp(x))", smooth=True,
       vjp=("g*sigmoid(a)",)),
    # The derivatives of abs and relu, away from 0; at 0 the values SymPy gives.
    Op("sign", "elementwise", 1, _sym("sign"), _sign_np,
       "sign: 1 for x > 0, -1 for x < 0, 0 at 0 (the derivative of abs)", kink=0.0,
       vjp=("",)),
    Op("step", "elementwise", 1, _sym("Heaviside"), _step_np,
       "Heaviside step: 1 for x > 0, 0 for x < 0, 1/2 at 0 (the derivative of relu)",
       aliases=("heaviside",), kink=0.0,
       vjp=("",)),
    # ----- reductions to 1×1 -----
    Op("sum", "reduce", 1, lambda m: _one(sympy.Add(*m)),
       lambda a: np.sum(a, axis=(-2, -1), keepdims=True),
       "sum of all entries; sum(X, 0) sums down the columns (1×n), sum(X, 1) along the "
       "rows (m×1)", options=1, expand=_axis_sum(False), arguments=_axis_arguments, smooth=True),
    Op("mean", "reduce", 1, lambda m: _one(sympy.Add(*m) / len(m)),
       lambda a: np.mean(a, axis=(-2, -1), keepdims=True),
       "mean of all entries; mean(X, 0) and mean(X, 1) by column and by row, as for sum",
       options=1, expand=_axis_sum(True), arguments=_axis_arguments, smooth=True),
    Op("trace", "reduce", 1, lambda m: _one(m.trace()),
       lambda a: _whole(np.trace(a, axis1=-2, axis2=-1)),
       "sum of the diagonal", aliases=("tr",), square=True, latex=r"\operatorname{tr}",
       smooth=True),
    Op("norm", "reduce", 1, lambda m: _one(sympy.sqrt(sympy.Add(*[e**2 for e in m]))),
       _norm_np, "Frobenius norm",
       domain=_nonzero_matrix, domain_text="norm is not differentiable at the zero matrix",
       vjp=("g*(a/out)",)),
    Op("det", "reduce", 1, lambda m: _one(m.det(method="berkowitz")),
       lambda a: _whole(np.linalg.det(a)), "determinant", square=True, condition=_cond,
       latex=r"\det",
       vjp=("g*out*inv(a).T",)),
    Op("logdet", "reduce", 1, lambda m: _one(sympy.log(m.det(method="berkowitz"))),
       _logdet_np, "log of the determinant",
       square=True, domain=_positive_det, domain_text="logdet needs a positive determinant",
       condition=_cond,
       vjp=("g*inv(a).T",)),
    # ----- whole-matrix functions -----
    Op("inv", "matrix", 1, lambda m: m.inv(method="ADJ"), np.linalg.inv, "matrix inverse",
       square=True, domain=_invertible, domain_text="inv needs an invertible matrix",
       pole=lambda a: _whole(np.linalg.det(a)), condition=_cond,
       vjp=("-(out.T@(g@out.T))",)),
    Op("softmax", "matrix", 1, _softmax_sym, _softmax_np, "softmax of each row", smooth=True),
    # ----- derived operators (expand: definitions in the language) -----
    Op("logsumexp", "reduce", 1, lambda m: _one(sympy.log(sympy.Add(*m.applyfunc(_sym("exp"))))),
       _logsumexp_np, "log of the sum of exp of all entries (defined as log(sum(exp(a))), "
       "so entries beyond exp's range, about 709, overflow)",
       expand=lambda s, o: "log(sum(exp(a)))", smooth=True),
    Op("log_softmax", "matrix", 1, lambda m: _softmax_sym(m).applyfunc(_sym("log")),
       _log_softmax_np, "log of the softmax of each row", expand=lambda s, o: "log(softmax(a))",
       smooth=True),
    Op("maximum", "binary", 2, lambda a, b: sympy.Max(a, b), np.maximum,
       "the larger of a and b, entry by entry with broadcasting (a kink where they are equal)",
       expand=lambda s, o: "(a + b + abs(a - b)) / 2"),
    Op("minimum", "binary", 2, lambda a, b: sympy.Min(a, b), np.minimum,
       "the smaller of a and b, entry by entry with broadcasting (a kink where they are equal)",
       expand=lambda s, o: "(a + b - abs(a - b)) / 2"),
    Op("diag", "matrix", 1, _diag_sym, _diag_np,
       "diag(v): the diagonal matrix of a vector v (n×1 or 1×n); diag(X): the diagonal of a "
       "square X as an n×1 vector", expand=_diag, arguments=_diag_arguments, smooth=True),
    Op("kron", "matrix", 2, _kron_sym, lambda a, b: np.kron(a, b),
       "Kronecker product: kron(A, B) is the mp×nq block matrix of blocks A[i, j]·B",
       expand=_kron, arguments=_kron_arguments, smooth=True),
    # ----- constant constructors -----
    Op("ones", "constructor", 2, lambda r, c: sympy.ones(r, c), lambda r, c: np.ones((r, c)),
       "ones(rows, cols): the matrix of ones"),
    Op("zeros", "constructor", 2, lambda r, c: sympy.zeros(r, c),
       lambda r, c: np.zeros((r, c)), "zeros(rows, cols): the zero matrix"),
    Op("eye", "constructor", 1, lambda n: sympy.eye(n), lambda n: np.eye(n),
       "eye(n): the n×n identity"),
]

OPS: dict[str, Op] = {op.name: op for op in _ROWS}

# Names written as function calls, with their aliases: name -> op name.
FUNCTIONS: dict[str, str] = {
    **{op.name: op.name for op in _ROWS if op.is_function or op.name == "transpose"},
    **{alias: op.name for op in _ROWS for alias in op.aliases},
}


def lookup_function(name: str) -> Op | None:
    """The row for a function name or alias, or None.

    >>> lookup_function("σ").name
    'sigmoid'
    """
    key = FUNCTIONS.get(name)
    return OPS[key] if key is not None else None

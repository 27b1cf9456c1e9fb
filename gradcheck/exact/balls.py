"""Certified numbers: ball arithmetic (python-flint's ``arb``) at rising precision.

An exact value that is not a rational number (``1 - tanh(200)**2``,
``exp(-1/4)/(1 + exp(-1/4))**2``) must still be turned into a float that
is right to its last digit. A fixed number of digits is not enough: the
first would print 1e-165 for 7.66e-174. Here every value is a ball
``[mid ± rad]`` that certainly holds the true value; each is computed at
64, 128, 256, … bits until its radius is small next to its midpoint (or
below anything float64 can show near 0), and only then rounded to a float.
A value that does not converge within :data:`PRECISIONS` comes back with
its radius as an error bound, so a comparison with it can say that it
cannot judge instead of judging with a wrong number.

>>> import sympy
>>> x = sympy.Rational(200)
>>> values, errors = certify([1 - sympy.tanh(x) ** 2, sympy.exp(x) - sympy.exp(x)])
>>> f"{values[0]:.6e}", values.tolist()[1], errors.tolist()
('7.660678e-174', 0.0, [0.0, 0.0])
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from typing import Any

import numpy as np
from flint import arb, ctx, fmpq

from gradcheck.lazy import sympy

__all__ = ["CONVERGED", "FUNCTIONS", "PRECISIONS", "TINY", "NotANumber", "Unsupported", "ball",
           "certify", "certify_with", "exact", "finished", "largest", "named", "precision",
           "product",
           "sign", "step", "to_floats", "total", "walk"]

PRECISIONS = (64, 128, 256, 512, 1024, 2048, 4096, 8192)  # bits, tried in turn
CONVERGED = 2.0**-60  # a ball is converged when rad <= CONVERGED * |mid| ...
TINY = 2.0**-1100  # ... or rad is below this: it rounds to 0 (or the least subnormal)

_LOCK = threading.RLock()  # flint's precision is one global setting


class Unsupported(Exception):
    """A SymPy expression with a function this module cannot evaluate."""


@contextmanager
def precision(bits: int) -> Iterator[None]:
    """flint's working precision, set for the block and restored after."""
    with _LOCK:
        old = ctx.prec
        ctx.prec = bits
        try:
            yield
        finally:
            ctx.prec = old


def exact(q: Fraction | int) -> arb:
    """A rational number as a ball (exact for integers and dyadic rationals)."""
    q = Fraction(q)
    if q.denominator == 1:
        return arb(q.numerator)
    return arb(fmpq(q.numerator, q.denominator))


def finished(b: arb) -> bool:
    """Whether a ball is narrow enough to round to float64 without doubt."""
    if not b.is_finite():
        return False
    rad = float(b.rad())
    return rad <= TINY or rad <= CONVERGED * abs(float(b.mid()))


def to_floats(balls: Iterable[arb]) -> tuple[np.ndarray, np.ndarray]:
    """Floats and bounds on their error: 0 for a converged ball (its float is
    within float64's own rounding), else radius plus rounding; NaN for a
    ball that is not finite."""
    values, errors = [], []
    for b in balls:
        if not b.is_finite():
            values.append(np.nan)
            errors.append(np.nan)
            continue
        v = float(b.mid())
        values.append(v)
        if finished(b):
            errors.append(0.0)
        else:
            errors.append(float((b - arb(v)).abs_upper()) * (1 + 2.0**-40) + 5e-324)
    return np.array(values, dtype=np.float64), np.array(errors, dtype=np.float64)


def certify(exprs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Certified floats for exact SymPy numbers, and a bound on each one's
    error (0 where the ball converged). A value that is not a number
    (``DiracDelta(0)``, the derivative of sign or step at its jump) is NaN,
    with a NaN bound.

    Raises:
        Unsupported: an expression holds a function this module cannot
            evaluate.
    """
    return certify_with(exprs, _node, lambda e: e.is_Rational,
                        lambda e: Fraction(int(e.p), int(e.q)))


def certify_with(exprs: Sequence[Any], node: Node, is_rational: Callable[[Any], bool],
                 fraction: Callable[[Any], Fraction]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`certify` for the expressions of any library whose nodes have
    ``args``: ``node(e, balls of e's args)`` gives one node's ball,
    ``is_rational`` and ``fraction`` read rational numbers."""
    n = len(exprs)
    values = np.full(n, np.nan)
    errors = np.full(n, np.nan)
    todo = []
    for k, e in enumerate(exprs):
        if is_rational(e):
            values[k], errors[k] = _float(fraction(e)), 0.0
        else:
            todo.append(k)
    last: dict[int, arb] = {}
    for bits in PRECISIONS:
        if not todo:
            break
        memo: dict[Any, arb] = {}
        with precision(bits):
            left = []
            for k in todo:
                try:
                    b = walk(exprs[k], node, memo)
                except NotANumber:
                    continue  # NaN, as set
                last[k] = b
                if finished(b):
                    v, err = to_floats([b])
                    values[k], errors[k] = v[0], err[0]
                else:
                    left.append(k)
            todo = left
    for k in todo:  # not converged at the highest precision: say how far off it may be
        v, err = to_floats([last[k]])
        values[k], errors[k] = v[0], err[0]
    return values, errors


def _float(q: Fraction) -> float:
    """The float nearest a fraction; an infinity beyond float64's range."""
    try:
        return float(q)
    except OverflowError:
        return math.inf if q > 0 else -math.inf


class NotANumber(Exception):
    """A value that is not a number (DiracDelta(0), nan, an infinity)."""


def sign(x: arb) -> arb:
    if x > 0:
        return arb(1)
    if x < 0:
        return arb(-1)
    if x.is_zero():
        return arb(0)
    return arb(-1).union(arb(1))


def step(x: arb, at_zero: arb) -> arb:
    if x > 0:
        return arb(1)
    if x < 0:
        return arb(0)
    if x.is_zero():
        return at_zero
    return arb(0).union(arb(1))


def _delta(x: arb) -> arb:
    """DiracDelta: 0 off 0, not a number at 0 (a NaN ball: times an exact 0 it
    is 0, as SymPy's ``0*DiracDelta(0)``)."""
    if x > 0 or x < 0:
        return arb(0)
    return arb.nan()


def _pow(b: arb, e: Any, e_ball: arb) -> arb:
    if e.is_Integer:
        k = int(e)
        return b ** k if k >= 0 else 1 / b ** (-k)
    if e == sympy.Rational(1, 2):
        return b.sqrt()
    if e == sympy.Rational(-1, 2):
        return b.rsqrt()
    return b ** e_ball


def total(args: Sequence[arb]) -> arb:
    """The sum of balls."""
    out = args[0]
    for a in args[1:]:
        out = out + a
    return out


def product(args: Sequence[arb]) -> arb:
    """The product of balls; exactly 0 where a factor is exactly 0, as in SymPy
    (``0*DiracDelta(0)`` is 0)."""
    if any(a.is_zero() for a in args):
        return arb(0)
    out = args[0]
    for a in args[1:]:
        out = out * a
    return out


# Functions by their class's name, which SymPy and symengine share.
FUNCTIONS: dict[str, Callable[..., arb]] = {
    "exp": lambda x: x.exp(),
    "log": lambda x: x.log(),
    "sin": lambda x: x.sin(),
    "cos": lambda x: x.cos(),
    "tan": lambda x: x.tan(),
    "tanh": lambda x: x.tanh(),
    "sinh": lambda x: x.sinh(),
    "cosh": lambda x: x.cosh(),
    "sech": lambda x: 1 / x.cosh(),
    "Abs": lambda x: abs(x),
    "sign": sign,
}

# The functions :mod:`gradcheck.exact.elements` builds by name.
_NAMED: dict[str, Callable[[arb], arb]] = {
    "step": lambda x: step(x, exact(Fraction(1, 2))),
    "delta": lambda x: _delta(x),
}


def largest(args: Sequence[arb]) -> arb:
    """The maximum of balls."""
    out = args[0]
    for a in args[1:]:
        out = out.max(a)
    return out


def named(name: str, x: arb) -> arb:
    """The ball of a kinked function named as :mod:`gradcheck.exact.elements` builds it."""
    if name not in _NAMED:
        raise Unsupported(f"no ball arithmetic for {name}")
    return _NAMED[name](x)


Node = Callable[[Any, list[arb]], arb]


def walk(expr: Any, node: Node, memo: dict[Any, arb]) -> arb:
    """The ball of an expression whose nodes have ``args``, from ``node``
    applied bottom up; shared subexpressions once (``memo``), with a stack
    of its own, so that deep expressions do not reach Python's recursion
    limit."""
    stack = [(expr, False)]
    while stack:
        e, ready = stack.pop()
        if e in memo:
            continue
        if not ready and e.args and not e.is_Rational:
            stack.append((e, True))
            stack.extend((a, False) for a in e.args if a not in memo)
            continue
        memo[e] = node(e, [memo[a] for a in e.args] if e.args else [])
    return memo[expr]


def ball(expr: Any, memo: dict[Any, arb] | None = None) -> arb:
    """A ball holding the value of an exact SymPy number, at the current
    precision (:func:`precision`).

    >>> with precision(128):
    ...     b = ball(sympy.sqrt(2) * sympy.sqrt(2) - 2)
    >>> b.contains(0), float(b.rad()) < 1e-30
    (True, True)
    """
    return walk(expr, _node, {} if memo is None else memo)


def _node(e: Any, args: list[arb]) -> arb:
    if e.is_Rational:
        return exact(Fraction(int(e.p), int(e.q)))
    if e.is_Float:
        return exact(Fraction(sympy.Rational(e).p, sympy.Rational(e).q))
    if e is sympy.pi:
        return arb.pi()
    if e is sympy.E:
        return arb(1).exp()
    if e is sympy.nan or e is sympy.zoo or e.is_infinite:
        raise NotANumber
    if e.is_Add:
        return total(args)
    if e.is_Mul:
        return product(args)
    if e.is_Pow:
        return _pow(args[0], e.args[1], args[1])
    fn = e.func
    if fn.__name__ in FUNCTIONS and fn.__module__.startswith("sympy"):
        return FUNCTIONS[fn.__name__](*args)
    if fn is sympy.Heaviside:
        return step(args[0], args[1] if len(args) > 1 else exact(Fraction(1, 2)))
    if fn is sympy.DiracDelta:
        return _delta(args[0])
    if fn is sympy.Max or fn is sympy.Min:
        out = args[0]
        for a in args[1:]:
            out = out.max(a) if fn is sympy.Max else out.min(a)
        return out
    raise Unsupported(f"no ball arithmetic for {fn}")

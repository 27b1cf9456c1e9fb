"""The Python API: check a derivative, assert it, or get it.

>>> import gradcheck
>>> at = {"x": [[1, 1], [1, 1], [1, 1]], "y": "0.5*ones(2,2)", "z": "0.25*ones(3,2)",
...       "A": [[1, 0], [2, 1], [0, 1]]}
>>> r = gradcheck.check("(x·y+z)·A+z", wrt="z", at=at, expect="A + 1")
>>> r.passed, r.reading, r.exact.shape
(True, '(x@y+z)*A+z', (3, 2, 3, 2))
>>> gradcheck.jacobian("sum((x·y+z)·A+z)", wrt="z", at=at).tolist()
[[2.0, 1.0], [3.0, 2.0], [1.0, 2.0]]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from gradcheck import progress
from gradcheck.checking.gradient import gradient
from gradcheck.checking.points import parse_shape
from gradcheck.checking.problem import (
    Problem,
    budget_of,
    check_engine,
    check_tolerances,
    claims_by_variable,
    prepare,
    single_variable,
    variables_to_check,
)
from gradcheck.checking.result import CheckResult
from gradcheck.errors import (
    GradientMismatch,
    OptionError,
    suggest,
)
from gradcheck.exact import symbolic
from gradcheck.exact.engine import exact_at
from gradcheck.language.parser import parse
from gradcheck.language.shapes import infer
from gradcheck.limits import DEPTH, ENTRIES, LENGTH, TERMS, TIMEOUT, Limits, current
from gradcheck.numeric import engine as numeric

__all__ = ["ATOL", "RTOL", "assert_gradient", "check", "derivative", "exact_jacobians", "jacobian"]

ATOL = 0.0  # absolute tolerance; the comparator adds a rounding floor relative to max|exact|
MAX_DIRECTIONS = 10_000  # random projections one check may take (2 evaluations each)
RTOL = 1e-7  # relative tolerance: a float64 computation is far closer; 1e-6 errors are caught


def check(expr: str, *, wrt: str | Iterable[str] | None = None,
          at: Mapping[str, Any] | None = None, shapes: Mapping[str, Any] | None = None,
          expect: Any = None, atol: float = ATOL, rtol: float = RTOL, seed: int = 0,
          method: str = "auto", directions: int | None = None,
          timeout: float = TIMEOUT, engine: str = "auto", max_length: int = LENGTH,
          max_depth: int = DEPTH, max_entries: int = ENTRIES,
          max_terms: int = TERMS) -> CheckResult:
    """Check the derivative of ``expr`` with respect to ``wrt`` at a point.

    Args:
        expr: an expression of the language, e.g. ``"(x·y+z)·A+z"``.
        wrt: a variable name or a list of names; default: every variable.
        at: values by name: arrays, nested lists, numbers, or constant
            expressions such as ``"0.5*ones(2,2)"``.
        shapes: shapes by name (``(3, 2)`` or ``"3x2"``) for variables to
            draw at random (seeded by ``seed``).
        expect: the claimed derivative: an expression string, an array, or
            a callable taking the variables as keyword arguments and
            returning an array; or a dict of them by variable name.
        atol: absolute tolerance. An entry agrees when the difference is
            at most ``atol + rtol·|exact|`` plus a rounding floor of
            2.3e-13 times the largest |exact| in its row or column (plus the
            numeric error bound when the numeric estimate is involved).
        rtol: relative tolerance (see atol).
        method: how the numeric engine differentiates: ``auto`` (the
            complex step where every operation allows it, else
            ``richardson``), ``complex``, ``richardson``, ``central``,
            ``forward`` or ``backward``.
        directions: check the numeric engine on this many random
            projections uᵀJv instead of the whole Jacobian: 2 evaluations
            each with the complex step, instead of 2 per entry of w. Claims
            are still compared with the exact Jacobian entry by entry.
        timeout: seconds the exact and numeric engines may take in all before
            a LimitError; ``math.inf`` for no budget.
        engine: the exact engine: ``sympy`` (SymPy over the entries: the
            reference, slow beyond a few dozen entries), ``symengine`` (the
            same derivation on SymPy's C++ core, about a hundred times
            faster; rational points only), ``closed`` (closed-form matrix
            calculus evaluated with NumPy: exact with fractions where the
            operations are rational and it is affordable, else float64 with
            an error bound), or ``auto`` (symengine, cross-checked by the
            closed form, where its work is affordable; the closed form
            beyond, or where symengine meets a limit).
        max_length: the most characters an expression (or a claim, or a
            value written as an expression) may have.
        max_depth: the deepest nesting of an expression's tree (parentheses
            alone do not count); at most 1000.
        max_entries: the most entries any one matrix may have: a value, a
            declared shape, or a matrix in the expression.
        max_terms: the most operations the expressions of any one matrix
            that the ``sympy`` and ``symengine`` engines build may have in
            all (in SymPy, ``det`` of a symbolic 7×7 matrix has about
            89,000; ``inv`` of a symbolic 6×6 matrix about 281,000). With
            ``engine="auto"`` a limit met there falls back to the closed form.

    Returns:
        A :class:`CheckResult`; it never raises on a mismatch.

    Raises:
        GradcheckError: the input cannot be checked (a ParseError,
            ShapeError, NameLookupError, DomainError, ClaimError,
            OptionError or LimitError, each naming the problem and the fix).
    """
    # Overflow and the like become inf and NaN, which the engines and bounds
    # handle (a bound that is not a number is no verdict): no warnings escape.
    with Limits(max_length, max_depth, max_entries, max_terms).applied(), \
            np.errstate(all="ignore"):
        return _check(expr, wrt, at, shapes, expect, atol, rtol, seed, method, directions,
                      timeout, engine)


def _check(expr: str, wrt: str | Iterable[str] | None, at: Mapping[str, Any] | None,
           shapes: Mapping[str, Any] | None, expect: Any, atol: float, rtol: float, seed: int,
           method: str, directions: int | None, timeout: float, engine: str) -> CheckResult:
    check_tolerances(atol, rtol)
    if method not in numeric.METHODS:
        raise OptionError(f"unknown method {method!r}",
                          hint=suggest(str(method), numeric.METHODS)
                          or "choose from " + ", ".join(numeric.METHODS))
    if directions is not None and (not isinstance(directions, int) or isinstance(
            directions, bool) or directions < 1):
        raise OptionError(f"directions must be a whole number >= 1, got {directions!r}")
    if directions is not None and directions > MAX_DIRECTIONS:
        raise OptionError(f"{directions} directions are more than {MAX_DIRECTIONS}",
                          hint="a few dozen random projections catch a wrong derivative; "
                               "for every entry, leave directions out (2 evaluations per "
                               "entry of w)")
    check_engine(engine)
    budget = budget_of(timeout)
    problem = prepare(expr, at, shapes, seed, budget)
    names = variables_to_check(wrt, problem)
    expected = claims_by_variable(expect, names)
    grads = []
    for n in names:
        with progress.section(f"∂f/∂{n}"):
            grads.append(gradient(problem, n, expected.get(n), atol, rtol, method, directions,
                                   seed, budget, engine))
    flat = tuple(str(n) for n, v in (at or {}).items()
                 if not isinstance(v, str) and np.ndim(v) == 1 and str(n) in problem.typed.shapes)
    return CheckResult(
        expression=expr, reading=problem.typed.text, readings=problem.typed.readings,
        shapes=dict(problem.typed.shapes), output_shape=problem.typed.shape,
        point={n: problem.values[n].array for n in problem.typed.shapes},
        drawn=problem.drawn, seed=seed, gradients=tuple(grads), atol=atol, rtol=rtol,
        rows=flat)


def assert_gradient(expr: str, **kwargs: Any) -> CheckResult:
    """Like :func:`check`, but raise :class:`GradientMismatch` (an
    AssertionError whose message is the report) unless everything agrees.

    >>> assert_gradient("sum(z * z)", at={"z": [[1, 2]]}, expect="2*z").passed
    True
    """
    __tracebackhide__ = True  # pytest shows the caller and the report, not this frame
    result = check(expr, **kwargs)
    if not result.passed:
        raise GradientMismatch(result.report(), result)
    return result


def jacobian(expr: str, *, wrt: str | None = None, at: Mapping[str, Any] | None = None,
             shapes: Mapping[str, Any] | None = None, seed: int = 0,
             timeout: float = TIMEOUT, engine: str = "auto", max_length: int = LENGTH,
             max_depth: int = DEPTH, max_entries: int = ENTRIES,
             max_terms: int = TERMS) -> np.ndarray:
    """The exact Jacobian as a float array (f.shape + w.shape; w.shape for 1×1 f).

    ``wrt`` may be left out when the expression has one variable; ``engine``
    and the limits (``timeout``, ``max_length``, ``max_depth``,
    ``max_entries``, ``max_terms``) as for :func:`check`.
    """
    with Limits(max_length, max_depth, max_entries, max_terms).applied():
        check_engine(engine)
        budget = budget_of(timeout)
        problem = prepare(expr, at, shapes, seed, budget)
        name = single_variable(wrt, problem)
        with budget.section("the exact derivative"):
            out: np.ndarray = exact_at(problem.typed, problem.values, name, engine).value
            return out


def exact_jacobians(expr: str, at: Mapping[str, Any], names: list[str],
                    timeout: float = TIMEOUT) -> dict[str, np.ndarray]:
    """The exact Jacobians by each of ``names`` at one point, prepared once
    (for :func:`gradcheck.check_function` with ``expr=``), within the
    active limits."""
    with current().applied():
        budget = budget_of(timeout)
        problem = prepare(expr, at, None, 0, budget)
        with budget.section("the exact derivative"):
            return {n: exact_at(problem.typed, problem.values, n, "auto").value for n in names}


def derivative(expr: str, *, wrt: str | None = None,
               shapes: Mapping[str, Any] | None = None, timeout: float = TIMEOUT,
               max_length: int = LENGTH, max_depth: int = DEPTH, max_entries: int = ENTRIES,
               max_terms: int = TERMS) -> Any:
    """The derivative as SymPy expressions over the element symbols ``w[k,l]``.

    A Matrix (the gradient) for 1×1 f, else a rank-4 Array. The limits
    (``timeout``, ``max_length``, ``max_depth``, ``max_entries``,
    ``max_terms``) are as for :func:`check`.

    >>> derivative("x.T @ x", wrt="x", shapes={"x": (2, 1)})
    Matrix([
    [2*x[0,0]],
    [2*x[1,0]]])
    >>> derivative("x @ x.T", wrt="x", shapes={"x": (2, 1)})[0, 1, 1, 0]
    x[0,0]
    """
    with Limits(max_length, max_depth, max_entries, max_terms).applied():
        budget = budget_of(timeout)
        tree = parse(expr)
        given = {n: parse_shape(s, n) for n, s in (shapes or {}).items()}
        typed = infer(tree, given, text=expr)
        problem = Problem(expr, typed, {}, ())
        name = single_variable(wrt, problem)
        env = {n: symbolic.symbols(n, s) for n, s in typed.shapes.items()}
        with budget.section("the exact derivative"):
            return symbolic.jacobian(symbolic.build(typed.tree, env), env[name])

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

import dataclasses
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from gradcheck import progress
from gradcheck.checking import claims
from gradcheck.checking.points import Value, draw, kink_margin, parse_shape, to_value
from gradcheck.checking.result import CheckResult, ClosedForm, Directions, Gradient
from gradcheck.compare.comparator import Comparison, compare, compare_directions, compare_stored
from gradcheck.compare.diagnose import Diagnosis, diagnose, difference
from gradcheck.errors import (
    ClaimError,
    DomainError,
    GradientMismatch,
    LimitError,
    OptionError,
    suggest,
)
from gradcheck.exact import closed_eval, closed_form, symbolic
from gradcheck.language.parser import parse
from gradcheck.language.shapes import Typed, infer
from gradcheck.language.tree import render, tree_size, walk
from gradcheck.limits import DEPTH, ENTRIES, LENGTH, TERMS, TIMEOUT, Budget, Limits, current
from gradcheck.numeric import engine as numeric
from gradcheck.numeric.estimate import Estimate
from gradcheck.values.evaluate import OutOfDomain, evaluate
from gradcheck.values.layout import label
from gradcheck.values.sparse import Sparse, dense

__all__ = ["ATOL", "ENGINES", "RTOL", "assert_gradient", "check", "derivative", "jacobian"]

ATOL = 0.0  # absolute tolerance; the comparator adds a rounding floor relative to max|exact|
RTOL = 1e-7  # relative tolerance: a float64 computation is far closer; 1e-6 errors are caught
KINK_MARGIN = 1e-3  # random points keep relu/abs arguments this far from their kinks
ENGINES = ("auto", "sympy", "closed")
# engine="auto" keeps the elementwise SymPy engine (the reference) while the
# Jacobian has at most this many entries and no matrix more than SYMPY_MATRIX.
SYMPY_ENTRIES = 1024


@dataclass(frozen=True)
class _Problem:
    text: str
    typed: Typed
    values: dict[str, Value]  # every variable of the expression, and any extra given
    drawn: tuple[str, ...]


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
        timeout: seconds of symbolic work allowed (the exact engine) before
            a LimitError; ``math.inf`` for no budget.
        engine: the exact engine: ``sympy`` (SymPy over the entries: the
            reference, slow beyond a few dozen entries), ``closed``
            (closed-form matrix calculus evaluated with NumPy: exact with
            fractions where the operations are rational and it is
            affordable, else float64 with an error bound), or ``auto``
            (SymPy for Jacobians up to 1024 entries, closed form beyond).
        max_length: the most characters an expression (or a claim, or a
            value written as an expression) may have.
        max_depth: the deepest nesting of an expression's tree (parentheses
            alone do not count); at most 1000.
        max_entries: the most entries any one matrix may have: a value, a
            declared shape, or a matrix in the expression.
        max_terms: the most operations the SymPy expressions of any one
            matrix that the SymPy engine builds may have in all (``det`` of
            a symbolic 7×7 matrix has about 89,000; ``inv`` of a symbolic
            6×6 matrix about 281,000).

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
    _check_engine(engine)
    budget = _budget(timeout)
    problem = _prepare(expr, at, shapes, seed, budget)
    names = _wrt(wrt, problem)
    expected = _expected(expect, names)
    grads = []
    for n in names:
        with progress.section(f"∂f/∂{n}"):
            grads.append(_gradient(problem, n, expected.get(n), atol, rtol, method, directions,
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
        _check_engine(engine)
        budget = _budget(timeout)
        problem = _prepare(expr, at, shapes, seed, budget)
        name = _single(wrt, problem)
        with budget.section("the exact derivative"):
            out: np.ndarray = _truth(problem, name, engine).value
            return out


def exact_jacobians(expr: str, at: Mapping[str, Any], names: list[str],
                    timeout: float = TIMEOUT) -> dict[str, np.ndarray]:
    """The exact Jacobians by each of ``names`` at one point, prepared once
    (for :func:`gradcheck.check_function` with ``expr=``), within the
    active limits."""
    with current().applied():
        budget = _budget(timeout)
        problem = _prepare(expr, at, None, 0, budget)
        with budget.section("the exact derivative"):
            return {n: _truth(problem, n, "auto").value for n in names}


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
        budget = _budget(timeout)
        tree = parse(expr)
        given = {n: parse_shape(s, n) for n, s in (shapes or {}).items()}
        typed = infer(tree, given, text=expr)
        problem = _Problem(expr, typed, {}, ())
        name = _single(wrt, problem)
        env = {n: symbolic.symbols(n, s) for n, s in typed.shapes.items()}
        with budget.section("the exact derivative"):
            return symbolic.jacobian(symbolic.build(typed.tree, env), env[name])


# ----- the stages, in order -----

def _budget(timeout: float) -> Budget:
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout > 0:
        raise OptionError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    return Budget(float(timeout))


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise OptionError(f"unknown engine {engine!r}",
                          hint=suggest(str(engine), ENGINES) or "choose from "
                          + ", ".join(ENGINES))


def check_tolerances(atol: float, rtol: float) -> None:
    """Raise an OptionError unless atol and rtol are finite numbers >= 0."""
    for which, v in (("atol", atol), ("rtol", rtol)):
        if not (isinstance(v, (int, float)) and np.isfinite(v) and v >= 0):
            raise OptionError(f"{which} must be a finite number >= 0, got {v!r}")


def _prepare(expr: str, at: Mapping[str, Any] | None, shapes: Mapping[str, Any] | None,
             seed: int, budget: Budget | None = None) -> _Problem:
    tree = parse(expr)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise OptionError(f"seed must be a whole number >= 0, got {seed!r}")
    with (budget or Budget(TIMEOUT)).section("the values"):
        values = {str(n): to_value(v, str(n)) for n, v in (at or {}).items()}
    declared = {str(n): parse_shape(s, str(n)) for n, s in (shapes or {}).items()}
    for n in declared.keys() & values.keys():
        if declared[n] != values[n].shape:
            raise OptionError(f"'{n}' is given both a value of shape {values[n].shape} "
                              f"and the shape {declared[n]}", hint="give one of them")
    all_shapes = {**declared, **{n: v.shape for n, v in values.items()}}
    typed = infer(tree, all_shapes, text=expr)
    free = {n: s for n, s in declared.items() if n not in values and n in typed.shapes}
    if free:
        def problem_at(point: dict[str, Value]) -> str | None:
            env = {n: v.array for n, v in point.items()}
            try:
                evaluate(typed.tree, env)
            except OutOfDomain as e:
                return _domain_error(expr, e).format_message()
            if kink_margin(typed.tree, env) < KINK_MARGIN:
                return "relu or abs too close to its kink"
            return None

        values = draw(values, free, int(seed), problem_at)
    else:
        _check_point(expr, typed, values)
    return _Problem(expr, typed, values, tuple(free))


def _check_point(expr: str, typed: Typed, values: Mapping[str, Value]) -> None:
    try:
        evaluate(typed.tree, {n: v.array for n, v in values.items()})
    except OutOfDomain as e:
        raise _domain_error(expr, e) from None


def _domain_error(expr: str, e: OutOfDomain, prefix: str = "") -> DomainError:
    i, j = e.index
    where = "" if np.isnan(e.value) else f"; the argument is {e.value:.6g} at entry [{i},{j}]"
    return DomainError(f"{prefix}outside the domain of '{render(e.node)}'", text=expr,
                       column=e.node.at + 1, detail=e.reason + where,
                       hint="choose a point inside the domain")


def _wrt(wrt: str | Iterable[str] | None, problem: _Problem) -> list[str]:
    known = list(problem.typed.shapes)
    if not known:
        raise OptionError(f"{problem.text!r} has no variables to differentiate by",
                          hint="write the expression in named variables, e.g. sum(x * x)")
    if wrt is None:
        return known
    names = [wrt] if isinstance(wrt, str) else list(wrt)
    if not names:
        raise OptionError("wrt is empty", hint="name at least one variable, or leave wrt out")
    for n in names:
        if n not in known:
            raise OptionError(f"'{n}' is not a variable of {problem.text!r}",
                              hint=suggest(n, known) or f"the variables are {', '.join(known)}")
    return list(dict.fromkeys(names))


def _single(wrt: str | None, problem: _Problem) -> str:
    names = _wrt(wrt, problem)
    if len(names) != 1:
        raise OptionError("which variable? the expression has " + ", ".join(names),
                          hint="pass wrt= with one name")
    return names[0]


def _expected(expect: Any, names: list[str]) -> dict[str, Any]:
    if expect is None:
        return {}
    if isinstance(expect, Mapping) and not callable(expect):
        unknown = [k for k in expect if k not in names]
        if unknown:
            raise ClaimError(f"a claim for '{unknown[0]}', which is not checked",
                             hint=f"checked variables: {', '.join(names)}")
        return dict(expect)
    if len(names) != 1:
        raise ClaimError("one claimed derivative for several variables",
                         hint="check one variable (wrt=) or give a claim per variable "
                              "(expect={'z': ...}; on the CLI --expect z=...)")
    return {names[0]: expect}


@dataclass(frozen=True, eq=False)
class _Truth:
    """The exact derivative at the point, from one engine or the other."""

    value: Any  # floats, gradcheck's layout (or a Sparse, where asked for)
    error: Any  # a bound on value's error (closed form in float64), or None
    values: Any  # exact SymPy values, where available
    expressions: Any  # SymPy expressions in the entries of w (the SymPy engine)
    elementwise: bool
    engine: str  # "sympy" or "closed form"
    exactness: str  # "exact" or "float64"
    closed: closed_form.Derivative | None


def _truth(problem: _Problem, name: str, engine: str, sparse: bool = False) -> _Truth:
    tree = problem.typed.tree
    try:
        closed: closed_form.Derivative | None = closed_form.derive(tree, name)
    except closed_form.Unsupported:
        closed = None
    if engine == "closed" and closed is None:
        raise OptionError("the closed-form engine does not cover matrix literals whose "
                          f"entries depend on '{name}'", hint="use engine 'sympy' or 'auto'")
    w_size = problem.values[name].array.size
    f_rows, f_cols = problem.typed.shape
    largest = max(n.shape[0] * n.shape[1] for n in walk(tree) if n.shape is not None)
    small = f_rows * f_cols * w_size <= SYMPY_ENTRIES and largest <= symbolic.SYMPY_MATRIX
    if closed is not None and (engine == "closed" or (engine == "auto" and not small)):
        j = closed_eval.jacobian(closed, problem.values, sparse)
        values = None
        if j.fractions is not None and j.fractions.size <= SYMPY_ENTRIES:
            values = symbolic.from_fractions(dense(j.fractions))
        return _Truth(j.value, j.error, values, None, closed.form == "elementwise",
                      "closed form", j.exactness, closed)
    values, jac = _exact(problem, name)
    floats, errors = symbolic.certified(values)
    return _Truth(floats, errors if errors.any() or np.isnan(errors).any() else None, values,
                  jac,
                  symbolic.is_elementwise(jac, problem.typed.shape, problem.values[name].shape),
                  "sympy", "exact", closed)


def _exact(problem: _Problem, name: str) -> tuple[Any, Any]:
    """The Jacobian at the point (exact SymPy values) and as expressions."""
    w = symbolic.symbols(name, problem.values[name].shape)
    env: dict[str, sympy.MatrixBase] = {n: v.exact for n, v in problem.values.items()}
    env[name] = w
    jac = symbolic.jacobian(symbolic.build(problem.typed.tree, env), w)
    at = dict(zip(w, problem.values[name].exact, strict=False))
    return symbolic.evaluate(jac, at), jac


def _gradient(problem: _Problem, name: str, claim: Any, atol: float, rtol: float,
              method: str, directions: int | None, seed: int, budget: Budget,
              engine: str = "auto") -> Gradient:
    typed = problem.typed
    w_shape = problem.values[name].shape
    with budget.section(f"the exact derivative by {name}"):
        # Without a claim or projections, only the entries that may be
        # nonzero are kept, where both engines find the same ones.
        truth = _truth(problem, name, engine, sparse=claim is None and directions is None)
    exact, elementwise = truth.value, truth.elementwise
    _finite(exact, name, "the exact derivative", DomainError,
            "choose a point where the derivative is within float64's range")
    claimed = form = claim_error = None
    claim_floor: Any = None
    closed = truth.closed
    if claim is not None:
        with budget.section("the claimed derivative"):
            raw, raw_error = claims.evaluate_bounded(claim, problem.values)
        def shape(a: np.ndarray) -> tuple[np.ndarray, str]:
            return claims.layout(a, f_shape=typed.shape, w_shape=w_shape,
                                 elementwise=elementwise, name=name)

        claimed, form = shape(raw)
        _finite(claimed, name, "the claimed derivative", ClaimError,
                "a claim must be finite everywhere")
        if raw_error is not None:
            claim_error = shape(np.broadcast_to(raw_error, raw.shape))[0]
        if isinstance(claim, str):
            claim_floor = 0.0  # evaluated exactly, or within its own bound
        elif closed is not None:
            with budget.section("the rounding of the derivative in float64"):
                bound = _float64_rounding(closed, problem.values, dense(exact),
                                          truth.exactness != "float64")
            if bound is not None:  # else the floor relative to the row and column
                claim_floor = CLAIM_ROUNDING * bound
                if claim_floor.shape != claimed.shape:
                    claim_floor = shape(claim_floor)[0]
    common = dict(name=name, shape=w_shape, exact=exact, exact_values=truth.values,
                  claimed=claimed, claim_form=form, elementwise=elementwise,
                  claim_text=claim if isinstance(claim, str) else None, engine=truth.engine,
                  exactness=truth.exactness, exact_error=truth.error,
                  closed_form=_shown(closed))
    try:
        if directions is not None:
            gradient = _by_directions(problem, name, exact, claimed, atol, rtol, method,
                                      directions, seed, common, truth.error, claim_error,
                                      claim_floor)
        else:
            est = numeric.jacobian(typed.tree, name, _env(problem), method,
                                   sparse=isinstance(exact, Sparse))
            comparison = _compared(exact, est, claimed, truth.error, atol, rtol, name,
                                   claim_error, claim_floor)
            if method in ("auto", "complex") and "complex" in est.methods \
                    and any(m.kind == "engines" for m in comparison.mismatches) \
                    and problem.values[name].array.size <= SECOND_OPINION:
                # The complex step's bound does not see rounding in the real parts
                # that a division then magnifies ((exp(x)-1)/x at x = 1e-8): before
                # calling the engines in disagreement, ask real stencils, whose
                # bounds carry f's own rounding.
                again = numeric.jacobian(typed.tree, name, _env(problem), "richardson",
                                         sparse=isinstance(exact, Sparse))
                second = _compared(exact, again, claimed, truth.error, atol, rtol, name,
                                   claim_error, claim_floor)
                if len(second.mismatches) < len(comparison.mismatches):
                    est, comparison = dataclasses.replace(
                        again, evaluations=est.evaluations + again.evaluations), second
            gradient = Gradient(**common, numeric=est.value, numeric_error=est.error,
                                comparison=comparison, evaluations=est.evaluations,
                                methods=tuple(sorted(set(est.methods.flat))),
                                undefined=est.undefined)
    except OutOfDomain as e:
        raise _domain_error(problem.text, e, "finite differences step ") from None
    found = _diagnosis(problem, name, exact, claimed, gradient.comparison, atol, rtol, budget,
                       truth.expressions, claim, form, engine)
    # replace() reads every field: arrays kept sparse would be made dense
    return gradient if found is None else dataclasses.replace(gradient, diagnosis=found)


def _float64_rounding(closed: closed_form.Derivative, values: Mapping[str, Value],
                      exact: np.ndarray, certified: bool) -> np.ndarray | None:
    """What a claim computed in float64 (an array, a backward pass) may be off
    by, entry by entry: the rounding of a stable computation of the
    derivative (:func:`closed_eval.condition_bound`, where the exact values
    are exact or certified); where the truth is 0, the running bound of the
    closed form, the noise of intermediate values that is all float64 can give
    there (sum(softmax(x)): 1 - Σp is not 0). None where neither is had."""
    stable = closed_eval.condition_bound(closed, values, exact) if certified else None
    if stable is not None and not (exact == 0).any():
        return stable
    running = closed_eval.rounding_bound(closed, values)
    if stable is None or running is None:
        return running if stable is None else stable
    out: np.ndarray = np.where(exact == 0, running, stable)
    return out


def _compared(exact: Any, est: Estimate, claimed: Any, exact_error: Any,
              atol: float, rtol: float, name: str, claim_error: Any = None,
              claim_floor: Any = None) -> Comparison:
    """Judge the engines (and the claim): on the stored entries alone where
    both engines stored the same ones (:mod:`gradcheck.values.sparse`)."""
    if isinstance(exact, Sparse) and isinstance(est.value, Sparse) \
            and exact.same_pattern(est.value):
        return compare_stored(exact, est.value, est.error.values,
                              None if exact_error is None else exact_error.values,
                              atol=atol, rtol=rtol, variable=name)
    exact, exact_error = dense(exact), dense(exact_error)
    undefined = None
    if est.undefined:
        undefined = np.zeros(exact.shape, dtype=bool)
        for u in est.undefined:
            undefined[u.index] = True
    return compare(exact, dense(est.value), dense(est.error), claimed, atol=atol, rtol=rtol,
                   variable=name, skip=undefined, exact_error=exact_error,
                   claim_error=claim_error, claim_floor=claim_floor)


# A closed form with more nodes than this, counted as a tree, is not shown:
# nested softmax doubles its closed form per level as a tree (a small DAG,
# which the closed-form engine evaluates quickly), and printing 20 levels
# took minutes outside any time budget.
CLOSED_FORM_SHOWN = 20_000


def _shown(closed: closed_form.Derivative | None) -> ClosedForm | None:
    """The closed form as text and LaTeX for the report, unless too large to print."""
    if closed is None or tree_size(closed.expression) > CLOSED_FORM_SHOWN:
        return None
    return ClosedForm(render(closed.expression), closed_form.latex(closed.expression),
                      closed.form, closed.cotangent)


def _diagnosis(problem: _Problem, name: str, exact: np.ndarray, claimed: Any,
               comparison: Any, atol: float, rtol: float, budget: Budget, jac: Any = None,
               claim: Any = None, form: str | None = None, engine: str = "auto") -> Any:
    """Which usual mistake explains a wrong claim (only when there is one),
    with the simplified difference exact − claimed for a claim written as text."""
    if claimed is None or not any(m.kind == "claim" for m in comparison.mismatches):
        return None
    shapes = {n: v.shape for n, v in problem.values.items()}

    def jacobian_of(text: str) -> np.ndarray:
        typed = infer(parse(text), shapes, text=text)
        if typed.shape != problem.typed.shape:
            return np.full(exact.shape, np.nan)
        out: np.ndarray = _truth(_Problem(text, typed, problem.values, problem.drawn), name,
                                 engine).value
        return out

    # A diagnosis is extra: it gets a share of the budget, and running out
    # of it ends the diagnosis, never the check.
    own = Budget(min(budget.left, DIAGNOSIS_TIME))
    try:
        with own.section("the diagnosis"):
            found = diagnose(problem.typed, name, exact, claimed, jacobian_of, atol=atol,
                             rtol=rtol)
            if isinstance(claim, str) and jac is not None and form in ("gradient",
                                                                       "elementwise"):
                found = dataclasses.replace(found, difference=_difference(
                    problem, name, jac, claim, form))
    except LimitError:
        return Diagnosis("unexplained", f"no diagnosis: looking for one took longer than "
                                        f"{own.total:g} s")
    finally:
        budget.left -= own.total - own.left
    return found


DIAGNOSIS_TIME = 10.0  # seconds of symbolic work a diagnosis may take
# Entries of w up to which an engines' disagreement found with the complex step
# is looked at again with real stencils (a second opinion, see _gradient).
SECOND_OPINION = 4096
# A claim computed in float64 is allowed this many times the rounding a stable
# float64 computation of the derivative makes at each entry (the data's
# rounding carried by the problem's condition; where that cannot be had
# exactly, the running bound of the closed form): another order of the same
# sums, or another way of writing the same derivative, rounds differently.
CLAIM_ROUNDING = 8.0


def _difference(problem: _Problem, name: str, jac: Any, claim: str, form: str) -> str | None:
    """exact − claimed as simplified expressions in the entries of w, where
    that is short: one value for every entry, or a small matrix."""
    w_shape = problem.values[name].shape
    env: dict[str, sympy.MatrixBase] = {n: v.exact for n, v in problem.values.items()}
    env[name] = symbolic.symbols(name, w_shape)
    typed = infer(parse(claim), {n: v.shape for n, v in problem.values.items()}, text=claim)
    c = symbolic.build(typed.tree, env)
    rows, cols = w_shape
    truth = sympy.Matrix(rows, cols, lambda i, j: jac[i, j, i, j]) if form == "elementwise" \
        else sympy.Matrix(jac)
    return difference(truth, c)


def _finite(a: Any, name: str, what: str, cls: type[DomainError] | type[ClaimError],
            hint: str) -> None:
    """NaN and inf are reported with their entries, never compared."""
    values = a.values if isinstance(a, Sparse) else a
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        where = [a.index(int(k)) if isinstance(a, Sparse)
                 else tuple(int(v) for v in np.unravel_index(k, a.shape)) for k in bad[:4]]
        entries = ", ".join(label(i, name) for i in where)
        more = f" and {len(bad) - 4} more" if len(bad) > 4 else ""
        raise cls(f"{what} is not finite", detail=f"{values.flat[bad[0]]} at {entries}{more}",
                  hint=hint)


def _env(problem: _Problem) -> dict[str, np.ndarray]:
    return {n: v.array for n, v in problem.values.items()}


def _by_directions(problem: _Problem, name: str, exact: np.ndarray, claimed: Any,
                   atol: float, rtol: float, method: str, k: int, seed: int,
                   common: dict[str, Any], exact_error: np.ndarray | None,
                   claim_error: Any = None, claim_floor: Any = None) -> Gradient:
    """The numeric engine on K random projections uᵀJv (Rademacher u, v)."""
    f_shape, w_shape = problem.typed.shape, problem.values[name].shape
    rng = np.random.default_rng([seed, zlib.crc32(name.encode()), 1])
    u = rng.choice([-1.0, 1.0], size=(k, *f_shape))
    v = rng.choice([-1.0, 1.0], size=(k, *w_shape))
    full = exact.reshape(*f_shape, *w_shape)
    exact_p = np.einsum("kij,ijab,kab->k", u, full, v)
    scale = np.einsum("kij,ijab,kab->k", np.abs(u), np.abs(full), np.abs(v))
    jv, err, defined, calls = numeric.directional(problem.typed.tree, name, _env(problem), v,
                                                  method)
    numeric_p = np.einsum("kij,kij->k", u, jv)
    error = np.einsum("kij,kij->k", np.abs(u), err)
    if exact_error is not None:
        error = error + np.einsum("kij,ijab,kab->k", np.abs(u),
                                  exact_error.reshape(*f_shape, *w_shape), np.abs(v))
    dirs = Directions(u, v, exact_p, numeric_p, error, scale, defined)
    comparison = compare(dense(exact), None, None, claimed, atol=atol, rtol=rtol,
                         variable=name, exact_error=dense(exact_error),
                         claim_error=claim_error, claim_floor=claim_floor)
    bad = compare_directions(exact_p[defined], numeric_p[defined], error[defined],
                             scale[defined], atol=atol, rtol=rtol, variable=name)
    where = np.flatnonzero(defined)  # number the projections as drawn
    bad = tuple(dataclasses.replace(m, index=(int(where[m.index[0]]),)) for m in bad)
    diffs = np.abs(exact_p - numeric_p)[defined]
    comparison = dataclasses.replace(
        comparison, mismatches=bad + comparison.mismatches,
        max_abs_diff=float(diffs.max(initial=0.0)),
        max_rel_diff=float((diffs / np.maximum(scale[defined], 1e-300)).max(initial=0.0)))
    return Gradient(**common, numeric=None, numeric_error=None, comparison=comparison,
                    evaluations=calls, methods=(numeric.resolve_method(problem.typed.tree,
                                                                       method),),
                    directions=dirs)


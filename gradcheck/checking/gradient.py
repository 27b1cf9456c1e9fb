"""The derivative by one variable, judged: exact against numeric (entry by entry or on random
projections), the claim against both, and a diagnosis of a wrong claim.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import zlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from gradcheck.checking import claims
from gradcheck.checking.problem import Problem, arrays, domain_error
from gradcheck.checking.result import ClosedForm, Directions, Gradient
from gradcheck.compare.comparator import Comparison, compare, compare_directions, compare_stored
from gradcheck.compare.diagnose import Diagnosis, diagnose, difference
from gradcheck.compare.repair import repair
from gradcheck.errors import ClaimError, DomainError, GradcheckError, LimitError, OptionError
from gradcheck.exact import closed_eval, closed_form, elements, symbolic
from gradcheck.exact.engine import exact_at
from gradcheck.language.latex import latex
from gradcheck.language.parser import parse
from gradcheck.language.shapes import infer
from gradcheck.language.tree import Node, render, tree_size
from gradcheck.lazy import sympy
from gradcheck.limits import Budget
from gradcheck.numeric import engine as numeric
from gradcheck.numeric.estimate import Estimate
from gradcheck.values.evaluate import OutOfDomain, evaluate
from gradcheck.values.layout import label
from gradcheck.values.sparse import Sparse, dense
from gradcheck.values.value import Value

__all__ = ["CLAIM_ROUNDING", "CLOSED_FORM_SHOWN", "DIAGNOSIS_TIME", "SECOND_OPINION", "gradient"]


def gradient(problem: Problem, name: str, claim: Any, atol: float, rtol: float,
             method: str, directions: int | None, seed: int, budget: Budget,
             engine: str = "auto") -> Gradient:
    typed = problem.typed
    w_shape = problem.values[name].shape
    with budget.section(f"the exact derivative by {name}"):
        # Without a claim or projections, only the entries that may be
        # nonzero are kept, where both engines find the same ones.
        truth = exact_at(problem.typed, problem.values, name, engine,
                         sparse=claim is None and directions is None)
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
                  exactness=truth.exactness, exact_error=truth.error, engine_note=truth.note,
                  closed_form=_shown(closed))
    try:
        if directions is not None:
            with budget.section(f"the numeric estimate by {name}"):
                gradient = _by_directions(problem, name, exact, claimed, atol, rtol, method,
                                          directions, seed, common, truth.error, claim_error,
                                          claim_floor)
        else:
            with budget.section(f"the numeric estimate by {name}"):
                est = numeric.jacobian(typed.tree, name, arrays(problem), method,
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
                with budget.section(f"the numeric estimate by {name}"):
                    again = numeric.jacobian(typed.tree, name, arrays(problem), "richardson",
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
        raise domain_error(problem.text, e, "finite differences step ") from None
    found = _diagnosis(problem, name, exact, claimed, gradient.comparison, atol, rtol, budget,
                       truth.expressions, claim, form, engine)
    if found is None:
        return gradient
    # a copy of what the fields hold: replace() would read every field, making
    # arrays kept sparse dense and converting symengine's values to SymPy's
    out = copy.copy(gradient)
    object.__setattr__(out, "diagnosis", found)
    return out


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
    return ClosedForm(render(closed.expression), latex(closed.expression),
                      closed.form, closed.cotangent)


def _diagnosis(problem: Problem, name: str, exact: np.ndarray, claimed: Any,
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
        out: np.ndarray = exact_at(typed, problem.values, name, engine).value
        return out

    # A diagnosis is extra: it gets a share of the budget, and running out
    # of it ends the diagnosis, never the check.
    own = Budget(min(budget.left, DIAGNOSIS_TIME))
    try:
        with own.section("the diagnosis"):
            found = diagnose(problem.typed, name, exact, claimed, jacobian_of, atol=atol,
                             rtol=rtol, repaired=_repaired(problem, name, exact, claim, form,
                                                           atol, rtol))
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


def _repaired(problem: Problem, name: str, exact: np.ndarray, claim: Any, form: str | None,
              atol: float, rtol: float) -> Callable[[], Diagnosis | None] | None:
    """For a claim written as text: the search for one edit inside it that makes
    it right (:mod:`gradcheck.compare.repair`), judged as the claim is, at the
    point and at a second one (each entry moved by up to a quarter of itself,
    signs kept), so that a coincidence at the point names nothing."""
    if not isinstance(claim, str):
        return None
    rng = np.random.default_rng(0)
    moved = {n: Value(None, v.array * (1 + 0.25 * rng.uniform(-1, 1, v.array.shape)))
             for n, v in problem.values.items()}

    def agrees(value: np.ndarray, truth: np.ndarray) -> bool:
        try:
            shaped, _ = claims.layout(np.asarray(value, dtype=np.float64),
                                      f_shape=problem.typed.shape,
                                      w_shape=problem.values[name].shape,
                                      elementwise=form == "elementwise", name=name)
        except ClaimError:
            return False
        return shaped.shape == truth.shape and not compare(
            truth, None, None, shaped, atol=atol, rtol=rtol).mismatches

    @functools.cache
    def truth_there() -> np.ndarray | None:
        """The exact derivative at the second point (None where it cannot be had)."""
        try:
            try:
                found = exact_at(problem.typed, moved, name, "closed").value
            except OptionError:  # a literal the closed form does not cover
                found = exact_at(problem.typed, moved, name, "sympy").value
        except (GradcheckError, OutOfDomain, ArithmeticError):
            return None
        there: np.ndarray = dense(found)
        return there

    def confirms(tree: Node) -> bool:
        there = truth_there()
        if there is None:
            return True  # no second point to be had: the first must do
        try:
            value = evaluate(tree, {n: v.array for n, v in moved.items()})
        except (OutOfDomain, ArithmeticError, ValueError):
            return False
        return agrees(value, there)

    def search() -> Diagnosis | None:
        shapes = {n: v.shape for n, v in problem.values.items()}
        truth = dense(exact)
        fix = repair(claim, problem.typed, shapes, arrays(problem),
                     lambda value: agrees(value, truth), confirms)
        return None if fix is None else Diagnosis(fix.kind, fix.sentence,
                                                  corrected=fix.corrected)
    return search


DIAGNOSIS_TIME = 10.0  # seconds of symbolic work a diagnosis may take
# Operations in the exact derivative's expressions beyond which exact − claimed
# is not simplified: its text would be long (diagnose.MAX_DIFFERENCE_TEXT).
DIFFERENCE_TERMS = 2000
# Entries of w up to which an engines' disagreement found with the complex step
# is looked at again with real stencils (a second opinion, see gradient).
SECOND_OPINION = 4096
# A claim computed in float64 is allowed this many times the rounding a stable
# float64 computation of the derivative makes at each entry (the data's
# rounding carried by the problem's condition; where that cannot be had
# exactly, the running bound of the closed form): another order of the same
# sums, or another way of writing the same derivative, rounds differently.
CLAIM_ROUNDING = 8.0


def _difference(problem: Problem, name: str, jac: Any, claim: str, form: str) -> str | None:
    """exact − claimed as simplified expressions in the entries of w, where
    that is short: one value for every entry, or a small matrix."""
    w_shape = problem.values[name].shape
    typed = infer(parse(claim), {n: v.shape for n, v in problem.values.items()}, text=claim)
    rows, cols = w_shape
    if isinstance(jac, elements.Lazy):
        env = {n: elements.matrix(v) for n, v in problem.values.items()}
        env[name] = elements.symbols(name, w_shape)
        built = elements.build(typed.tree, env)
        claimed = elements.entries(built)
        flat = [jac.flat[(i * cols + j) * (rows * cols + 1)] for i in range(rows)
                for j in range(cols)] if form == "elementwise" else list(jac.flat)
        if elements.terms(flat) + elements.terms(claimed) > DIFFERENCE_TERMS:
            return None  # its difference is long, and simplifying it slow
        truth = sympy.Matrix(rows, cols, [elements.to_sympy(e) for e in flat])
        return difference(truth, sympy.Matrix(built.rows, built.cols,
                                              [elements.to_sympy(e) for e in claimed]))
    env_s: dict[str, sympy.MatrixBase] = {n: v.exact for n, v in problem.values.items()}
    env_s[name] = symbolic.symbols(name, w_shape)
    c = symbolic.build(typed.tree, env_s)
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


def _by_directions(problem: Problem, name: str, exact: np.ndarray, claimed: Any,
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
    jv, err, defined, calls = numeric.directional(problem.typed.tree, name, arrays(problem), v,
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

"""A problem prepared once for every check of one expression: the parsed, typed tree, the point
(given or drawn where f is defined and smooth), the variables to check and the claims, and the
options validated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck.checking.points import draw, kink_margin, parse_shape, to_value
from gradcheck.errors import (
    ClaimError,
    DomainError,
    OptionError,
    suggest,
)
from gradcheck.exact.engine import ENGINES
from gradcheck.language.parser import parse
from gradcheck.language.shapes import Typed, infer
from gradcheck.language.tree import render
from gradcheck.limits import TIMEOUT, Budget
from gradcheck.values.evaluate import OutOfDomain, evaluate
from gradcheck.values.value import Value

__all__ = ["KINK_MARGIN", "Problem", "arrays", "budget_of", "check_engine", "check_tolerances",
           "claims_by_variable", "domain_error", "prepare", "single_variable",
           "variables_to_check"]


KINK_MARGIN = 1e-3  # random points keep relu/abs arguments this far from their kinks


@dataclass(frozen=True)
class Problem:
    text: str
    typed: Typed
    values: dict[str, Value]  # every variable of the expression, and any extra given
    drawn: tuple[str, ...]


def budget_of(timeout: float) -> Budget:
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout > 0:
        raise OptionError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    return Budget(float(timeout))


def check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise OptionError(f"unknown engine {engine!r}",
                          hint=suggest(str(engine), ENGINES) or "choose from "
                          + ", ".join(ENGINES))


def check_tolerances(atol: float, rtol: float) -> None:
    """Raise an OptionError unless atol and rtol are finite numbers >= 0."""
    for which, v in (("atol", atol), ("rtol", rtol)):
        if not (isinstance(v, (int, float)) and np.isfinite(v) and v >= 0):
            raise OptionError(f"{which} must be a finite number >= 0, got {v!r}")


def prepare(expr: str, at: Mapping[str, Any] | None, shapes: Mapping[str, Any] | None,
            seed: int, budget: Budget | None = None) -> Problem:
    tree = parse(expr)
    for what, given in (("at", at), ("shapes", shapes)):
        if given is not None and not isinstance(given, Mapping):
            raise OptionError(f"{what} must be a mapping of names, got {type(given).__name__}",
                              hint=f"write {what}={{'x': ...}}")
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
                return domain_error(expr, e).format_message()
            if kink_margin(typed.tree, env) < KINK_MARGIN:
                return "relu or abs too close to its kink"
            return None

        values = draw(values, free, int(seed), problem_at)
    else:
        _check_point(expr, typed, values)
    return Problem(expr, typed, values, tuple(free))


def _check_point(expr: str, typed: Typed, values: Mapping[str, Value]) -> None:
    try:
        evaluate(typed.tree, {n: v.array for n, v in values.items()})
    except OutOfDomain as e:
        raise domain_error(expr, e) from None


def domain_error(expr: str, e: OutOfDomain, prefix: str = "") -> DomainError:
    i, j = e.index
    where = "" if np.isnan(e.value) else f"; the argument is {e.value:.6g} at entry [{i},{j}]"
    return DomainError(f"{prefix}outside the domain of '{render(e.node)}'", text=expr,
                       column=e.node.at + 1, detail=e.reason + where,
                       hint="choose a point inside the domain")


def variables_to_check(wrt: str | Iterable[str] | None, problem: Problem) -> list[str]:
    known = list(problem.typed.shapes)
    if not known:
        raise OptionError(f"{problem.text!r} has no variables to differentiate by",
                          hint="write the expression in named variables, e.g. sum(x * x)")
    if wrt is None:
        return known
    names = [wrt] if isinstance(wrt, str) else list(wrt) if isinstance(
        wrt, Iterable) and not isinstance(wrt, (bytes, Mapping)) else None
    if names is None or not all(isinstance(n, str) for n in names):
        raise OptionError(f"wrt must be a variable name or a list of names, got {wrt!r:.60}",
                          hint="write wrt='x' or wrt=['x', 'W']")
    if not names:
        raise OptionError("wrt is empty", hint="name at least one variable, or leave wrt out")
    for n in names:
        if n not in known:
            raise OptionError(f"'{n}' is not a variable of {problem.text!r}",
                              hint=suggest(n, known) or f"the variables are {', '.join(known)}")
    return list(dict.fromkeys(names))


def single_variable(wrt: str | None, problem: Problem) -> str:
    names = variables_to_check(wrt, problem)
    if len(names) != 1:
        raise OptionError("which variable? the expression has " + ", ".join(names),
                          hint="pass wrt= with one name")
    return names[0]


def claims_by_variable(expect: Any, names: list[str]) -> dict[str, Any]:
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


def arrays(problem: Problem) -> dict[str, np.ndarray]:
    return {n: v.array for n, v in problem.values.items()}

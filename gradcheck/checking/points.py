"""The point of a check: the value of every variable, exact and in float64.

Values come from the user (arrays, nested lists, numbers, or constant
expressions of the language such as ``"0.5*ones(2,2)"``) or are drawn at
random from a declared shape. Random entries are multiples of 1/1024, so
each float is exactly the rational the symbolic engine uses; draws are
seeded per variable name, so adding a variable does not change the others.

>>> p = constant("[[1, 0], [2, 1]] / 2")
>>> p.exact
Matrix([
[1/2,   0],
[  1, 1/2]])
>>> parse_shape("3x2")
(3, 2)
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from gradcheck.errors import OptionError
from gradcheck.exact import elements, symbolic
from gradcheck.language.parser import parse
from gradcheck.language.shapes import infer
from gradcheck.language.tree import Node, Shape, variables
from gradcheck.lazy import sympy
from gradcheck.limits import current, hint
from gradcheck.values.evaluate import kinks
from gradcheck.values.value import Value

__all__ = ["SHAPE", "Value", "constant", "draw", "parse_shape", "to_value"]

SHAPE = re.compile(r"^\s*(\d+)\s*[x×,]\s*(\d+)\s*$")


def parse_shape(spec: Any, name: str = "") -> Shape:
    """A shape from ``(3, 2)``, ``"3x2"``, ``"3×2"`` or ``"3,2"``."""
    if isinstance(spec, str):
        m = SHAPE.match(spec)
        dims = (int(m.group(1)), int(m.group(2))) if m else None
    elif isinstance(spec, (tuple, list)) and len(spec) == 2 and all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in spec):
        dims = (int(spec[0]), int(spec[1]))
    else:
        dims = None
    where = f" for '{name}'" if name else ""
    if dims is None:
        raise OptionError(f"bad shape {spec!r}{where}",
                          hint="write a shape as rows x columns: 3x2, or (3, 2) in Python")
    if min(dims) < 1:
        raise OptionError(f"bad shape {spec!r}{where}", hint="both sizes at least 1")
    entries = current().entries
    if dims[0] * dims[1] > entries:
        raise OptionError(f"bad shape {spec!r}{where}",
                          detail=f"{dims[0] * dims[1]} entries, more than {entries}",
                          hint=hint("--max-entries", "max_entries"))
    return dims


def constant(text: str, name: str = "") -> Value:
    """Evaluate a constant expression exactly (``ones(3,2)``, ``[[1,0],[2,1]]``, ``eye(2)/2``)."""
    tree = parse(text)
    free = variables(tree)
    if free:
        raise OptionError(
            f"the value{' of ' + repr(name) if name else ''} uses the name '{free[0]}'",
            hint="a value must be a constant expression such as 0.5*ones(2,2) or "
                 "[[1,0],[2,1]]; to declare a shape write 3x2")
    typed = infer(tree, {}, text=text)
    numbers = elements.entries(elements.build(typed.tree, {}))
    if all(e.is_Rational for e in numbers):  # as given, in fractions: no SymPy needed
        fractions = np.array([Fraction(int(e.p), int(e.q)) for e in numbers],
                             dtype=object).reshape(typed.shape)
        array = np.array([_float(q) for q in fractions.flat]).reshape(typed.shape)
        _finite(array, name)
        return Value(None, array, fractions)
    return _checked(symbolic.build(typed.tree, {}), name)


def _float(q: Fraction) -> float:
    try:
        return float(q)
    except OverflowError:
        return np.inf


def _finite(array: np.ndarray, name: str) -> None:
    if not np.isfinite(array).all():
        raise OptionError(f"the value of '{name}' is not finite",
                          hint="values must be finite real numbers")


def _checked(exact: sympy.ImmutableMatrix, name: str) -> Value:
    array = symbolic.to_float(exact)
    _finite(array, name)
    return Value(exact, array)


def to_value(value: Any, name: str = "") -> Value:
    """A :class:`Value` from an array-like (or a constant expression string).

    A 1-D array is a row vector (1×n), as NumPy broadcasts it; a number is 1×1.
    """
    if isinstance(value, Value):
        return value
    if isinstance(value, str):
        return constant(value, name)
    if type(value).__module__.startswith("sympy") and isinstance(value, sympy.MatrixBase):
        if 0 in value.shape:
            raise OptionError(f"the value of '{name}' has shape {value.shape}",
                              hint="gradcheck works with 2-D matrices of at least one entry")
        return _checked(sympy.ImmutableMatrix(value), name)
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):  # ragged nested lists
        raise OptionError(f"the value of '{name}' is not a real matrix: {value!r:.60}",
                          hint="give a number, nested lists of equal lengths or a NumPy "
                               "array of reals") from None
    if raw.dtype == bool:
        raise OptionError(f"the value of '{name}' is boolean",
                          hint="give numbers (1.0 and 0.0 for True and False)")
    if np.iscomplexobj(raw):
        raise OptionError(f"the value of '{name}' is complex", hint="values must be real")
    try:
        array = np.array(value, dtype=np.float64)
    except OverflowError:
        raise OptionError(f"the value of '{name}' is not finite in float64",
                          hint="values must be finite real numbers") from None
    except (TypeError, ValueError):
        raise OptionError(f"the value of '{name}' is not a real matrix: {value!r:.60}",
                          hint="give a number, nested lists or a NumPy array of reals") from None
    if array.ndim == 0:
        array = array.reshape(1, 1)
    elif array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.size == 0:
        raise OptionError(f"the value of '{name}' has shape {np.shape(value)}",
                          hint="gradcheck works with 2-D matrices (1-D arrays count as rows)")
    entries = current().entries
    if array.size > entries:
        raise OptionError(f"the value of '{name}' has {array.size} entries, more than {entries}",
                          hint=hint("--max-entries", "max_entries"))
    if not np.isfinite(array).all():
        i, j = (int(v) for v in np.argwhere(~np.isfinite(array))[0])
        raise OptionError(f"the value of '{name}' is not finite",
                          detail=f"{array[i, j]} at entry [{i},{j}]",
                          hint="values must be finite real numbers")
    # The exact value is the float itself, as a rational: no rounding is invented.
    return Value(None, array)


# Ways to draw a point, tried in order until the expression is defined and
# smooth there: any sign; positive (log, sqrt); positive with a dominant
# diagonal, so square matrices are invertible with positive determinant.
_SCHEMES = ("signed", "positive", "dominant")


def _draw_one(name: str, shape: Shape, seed: int, scheme: str, attempt: int) -> Value:
    rng = np.random.default_rng([seed, zlib.crc32(name.encode()), attempt])
    k = rng.integers(128, 1025, size=shape)  # |entries| in [1/8, 1], multiples of 1/1024
    if scheme == "signed":
        k = k * rng.choice([-1, 1], size=shape)
    elif scheme == "dominant" and shape[0] == shape[1]:
        k = k + 1024 * shape[0] * np.eye(shape[0], dtype=k.dtype)
    return Value(None, k / 1024.0)  # multiples of 1/1024: floats exactly


def draw(fixed: Mapping[str, Value], free: Mapping[str, Shape], seed: int,
         check: Callable[[dict[str, Value]], str | None]) -> dict[str, Value]:
    """Draw values for the ``free`` variables where ``check`` finds no problem.

    ``check`` returns None for a good point, or a reason. Raises
    OptionError when no scheme gives a good point.
    """
    reason = None
    for scheme in _SCHEMES:
        for attempt in range(8):
            point = dict(fixed)
            for name, shape in free.items():
                point[name] = _draw_one(name, shape, seed, scheme, attempt)
            reason = check(point)
            if reason is None:
                return point
    names = ", ".join(free)
    raise OptionError(
        f"could not draw a random point for {names} where the expression is defined and "
        "smooth", detail=reason, hint="give values instead of shapes")


def kink_margin(tree: Node, env: Mapping[str, np.ndarray]) -> float:
    """Smallest distance of a relu/abs argument from its kink (inf if none)."""
    return min((float(np.min(np.abs(k.offset))) for k in kinks(tree, env)), default=np.inf)

"""Judge, entry by entry, the exact, numeric and claimed derivatives.

Two questions per entry: do the engines agree (|exact - numeric| within
the tolerance plus both engines' error bounds), and does the claim agree
with the truth? The tolerance is ``atol + rtol·|exact| + floor``.

The claim is judged against the exact value, not the estimate, and the
error bounds of both (an exact value computed in float64 or not yet
converged, a claim evaluated in float64) never widen the tolerance: with
d = |claimed - exact| and u the sum of those bounds, an entry is right
when d + u <= tolerance, wrong when d - u > tolerance, and otherwise
**undecided**: the bounds are too wide to tell, and the entry is counted
as such, never as a pass. Without an exact value the claim is judged the
same way against the estimate, u including the estimate's error bound.

The floor is the rounding float64 itself makes: at least 4u·|exact| (u =
2⁻⁵³) plus the least normal float. A claim computed in float64 by the
user (an array, a callable) comes with ``claim_floor``, the rounding a
float64 evaluation of the derivative makes at each entry: a difference
within it is never a FAIL, but it counts towards a PASS only where the
truth is exactly 0 (float noise where it should be 0), up to SCALE·m, m
the largest |exact| in the entry's row or column of the Jacobian.
Elsewhere a rounding beyond the tolerance and a mistake look alike:
undecided. Without a
``claim_floor`` it is SCALE·m; for the engines' agreement the floor is
always SCALE·m.

>>> import numpy as np
>>> v = compare(np.array([[2.0, 1.0]]), np.array([[2.0, 1.0]]), np.zeros((1, 2)),
...             np.array([[2.0, 1.0001]]), atol=1e-10, rtol=1e-7)
>>> [(m.index, m.kind) for m in v.mismatches]
[((0, 1), 'claim')]

Longer than most modules: the dense and the stored (sparse) comparisons and the
three-way judging of a claim share their tolerance arithmetic, kept together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gradcheck import progress

if TYPE_CHECKING:
    from gradcheck.values.sparse import Sparse

__all__ = ["SCALE", "Comparison", "Mismatch", "bound_name", "compare", "compare_directions",
           "compare_stored", "rounding_floor"]

SCALE = 2.0**10 * float(np.finfo(np.float64).eps)  # ≈ 2.3e-13, relative to max|exact|
RESOLUTION = 4 * 2.0**-53  # float64's own rounding, relative: every tolerance allows this
LEAST = float(np.finfo(np.float64).tiny)  # ... and this much absolute (values near 0)


@dataclass(frozen=True)
class Mismatch:
    """One entry that disagrees.

    ``kind`` is ``"claim"`` (the claimed value is wrong), ``"engines"``
    (the exact and numeric derivatives disagree: a kink, a badly scaled
    point, or a bug in gradcheck) or ``"direction"`` (the same, for the
    random projection uᵀJv number ``index[0]``, with ``--directions``).
    ``error`` is the absolute difference that exceeded ``tolerance``;
    ``bound`` names the largest term of that tolerance: ``atol``, ``rtol``,
    ``scale`` (the rounding floor), ``fd`` (the numeric error bound) or
    ``exact`` (the error bound of an exact derivative computed in float64).
    """

    variable: str
    index: tuple[int, ...]
    kind: str
    exact: float | None
    numeric: float
    claimed: float | None
    error: float
    tolerance: float
    bound: str = "atol"
    upstream: int | None = None  # for check_function: which random upstream gradient
    uncertainty: float = 0.0  # the error bounds of the values compared (exact, claim, fd)


@dataclass(frozen=True)
class Comparison:
    mismatches: tuple[Mismatch, ...]
    max_abs_diff: float  # max |exact - numeric|
    max_rel_diff: float  # max |exact - numeric| / |exact| over entries with exact != 0
    max_claim_error: float | None  # max |claimed - truth|, or None without a claim
    entries: int
    unlisted: int = 0  # disagreeing entries beyond MAX_LISTED, counted but not listed
    # Entries the bounds leave undecided (listed up to MAX_LISTED; kind as
    # for mismatches; ``bound`` names the widest error bound), and their count.
    undecided: tuple[Mismatch, ...] = ()
    undecided_count: int = 0


MAX_LISTED = 10_000  # mismatches listed one by one; more are counted
CHUNK = 2**18  # entries judged at once: memory stays a few times this, whatever the size


def compare(exact: np.ndarray | None, numeric: np.ndarray | None,
            numeric_error: np.ndarray | None, claimed: np.ndarray | None, *, atol: float,
            rtol: float, variable: str = "w", skip: np.ndarray | None = None,
            exact_error: np.ndarray | None = None, claim_error: np.ndarray | None = None,
            claim_floor: np.ndarray | None = None) -> Comparison:
    """Compare arrays of one layout; see the module docstring for the rule.

    Entries where ``skip`` is true (f is not differentiable there) are not
    judged. Without ``numeric`` (the engines are compared by directions
    instead) only the claim is judged. ``exact_error`` and ``claim_error``
    bound the exact and claimed values' own errors; ``claim_floor`` is the
    claim's rounding floor entry by entry (see the module docstring). The
    arrays are judged in chunks of rows of the Jacobian, so that no
    temporary is as large as the Jacobian.
    """
    ref = exact if exact is not None else numeric
    assert ref is not None
    shape = ref.shape
    rows = shape[0] * shape[1] if ref.ndim == 4 else 1
    grid = _Grid(rows, shape)
    e, n, ne, c = (grid.view(a) for a in (exact, numeric, numeric_error, claimed))
    own, cown = (grid.view(a) for a in (exact_error, claim_error))
    scalar_floor = claim_floor is None or np.ndim(claim_floor) == 0
    cfloor = claim_floor if scalar_floor else grid.view(claim_floor)
    keep = grid.view(None if skip is None else ~skip)
    row_max, col_max = _maxima(grid.view(ref), keep)
    engines = e is not None and n is not None and ne is not None
    found: dict[tuple[int, ...], Mismatch] = {}
    unsure: dict[tuple[int, ...], Mismatch] = {}
    counted = {"engines": 0, "claim": 0}
    undecided = 0  # entries undecided and not wrong, each counted once
    max_abs = max_rel = 0.0 if engines else float("nan")
    claim_error_max = None if c is None else 0.0
    step = max(1, CHUNK // max(1, grid.cols))
    for r0 in range(0, rows, step):
        part = slice(r0, min(rows, r0 + step))
        progress.advance("compare", r0, rows)
        k = None if keep is None else keep[part]
        floor = SCALE * np.maximum(row_max[part, None], col_max[None, :])
        if engines:
            assert e is not None and n is not None and ne is not None
            diff = np.subtract(e[part], n[part])
            np.abs(diff, out=diff)
            size = np.abs(e[part])
            terms: tuple[Any, ...] = (atol, rtol * size, floor, ne[part], _at(own, part))
            # A bound that is not a number cannot separate anything: undecided.
            lost = ~np.isfinite(ne[part] + _at(own, part))
            if k is not None:
                lost &= k
            engines_bad = _beyond(diff, terms, ~lost if k is None else k & ~lost)
            bad = np.argwhere(engines_bad)
            counted["engines"] += len(bad)
            for i, j in bad[:MAX_LISTED].tolist():
                idx = grid.index(r0 + i, j)
                found[idx] = Mismatch(variable, idx, "engines", float(e[r0 + i, j]),
                                      float(n[r0 + i, j]),
                                      None if c is None else float(c[r0 + i, j]),
                                      float(diff[i, j]), *_tolerance(terms, i, j))
            for i, j in np.argwhere(lost)[:MAX_LISTED].tolist():
                idx = grid.index(r0 + i, j)
                unsure.setdefault(idx, Mismatch(
                    variable, idx, "engines", float(e[r0 + i, j]), float(n[r0 + i, j]),
                    None if c is None else float(c[r0 + i, j]), float(diff[i, j]),
                    *_tolerance(terms, i, j), uncertainty=float("nan")))
            judged, size = (diff, size) if k is None else (diff[k], size[k])
            max_abs = max(max_abs, _max(judged))
            with np.errstate(invalid="ignore"):  # in place: where |exact| is 0 it stays 0
                relative = np.divide(judged, size, out=size, where=size != 0)
            max_rel = max(max_rel, _max(relative))
        else:
            lost = engines_bad = np.zeros((0, 0), bool)
        wrong = between = np.zeros((0, 0), bool)
        if c is not None:
            truth = e if e is not None else n
            assert truth is not None
            size = np.abs(truth[part])
            cdiff = np.abs(c[part] - truth[part])
            rounded = floor if cfloor is None else cfloor if scalar_floor else cfloor[part]
            plain = atol + rtol * size + RESOLUTION * size + LEAST
            # The claim's rounding can excuse a difference (never a FAIL for
            # it), but grants a PASS only where the truth is exactly 0 (noise
            # where it should be 0), up to SCALE·m: elsewhere (and where the
            # row and column are all 0, with no scale to go by) a rounding
            # larger than the tolerance and a mistake look alike.
            granted = np.where(size == 0, np.minimum(rounded, floor), 0.0)
            terms = (atol, rtol * size, granted + RESOLUTION * size + LEAST)
            bounds = (_at(ne, part) if e is None else _at(own, part), _at(cown, part))
            spread = bounds[0] + bounds[1]
            with np.errstate(invalid="ignore"):
                wrong = cdiff - spread > plain + rounded
                right = cdiff + spread <= terms[0] + terms[1] + terms[2]
            if k is not None:
                wrong &= k
            between = ~wrong & ~right if k is None else ~wrong & ~right & k
            for i, j in np.argwhere(wrong)[:MAX_LISTED].tolist():  # replaces an engines note
                idx = grid.index(r0 + i, j)
                found[idx] = _claim_mismatch(variable, idx, e, n, c, cdiff, terms, bounds,
                                             r0, i, j, "claim")
            counted["claim"] += int(np.count_nonzero(wrong))
            for i, j in np.argwhere(between)[:MAX_LISTED].tolist():
                idx = grid.index(r0 + i, j)
                unsure[idx] = _claim_mismatch(variable, idx, e, n, c, cdiff, terms, bounds,
                                              r0, i, j, "undecided")
            claim_error_max = max(claim_error_max or 0.0,
                                  _max(cdiff if k is None else cdiff[k]))
        undecided += _count(_either(lost, between) & ~_either(engines_bad, wrong))
    listed = sorted(found)[:MAX_LISTED]
    total = max(counted.values())  # claims and engines disagreeing at one entry count once
    unsure_listed = tuple(unsure[i] for i in sorted(unsure) if i not in found)
    return Comparison(tuple(found[i] for i in listed), max_abs, max_rel, claim_error_max,
                      int(ref.size), max(0, total - len(listed)), unsure_listed[:MAX_LISTED],
                      undecided)


def _either(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a | b, where either may be an empty stand-in for a question not asked."""
    return b if a.size == 0 else a if b.size == 0 else a | b


def _count(mask: np.ndarray) -> int:
    return int(np.count_nonzero(mask))


def _claim_mismatch(variable: str, idx: tuple[int, ...], e: Any, n: Any, c: Any,
                    cdiff: np.ndarray, terms: tuple[Any, ...], bounds: tuple[Any, Any],
                    r0: int, i: int, j: int, kind: str) -> Mismatch:
    tolerance, name = _tolerance(terms, i, j)
    truth_bound, claim_bound = (float(np.broadcast_to(b, cdiff.shape)[i, j]) for b in bounds)
    if max(truth_bound, claim_bound) > tolerance or not np.isfinite(truth_bound + claim_bound):
        name = ("fd" if e is None else "exact") if not truth_bound <= claim_bound else "claim"
    elif kind == "undecided":
        name, kind = "rounding", "claim"  # within the claim's float64 rounding, not the tolerance
    return Mismatch(variable, idx, kind, None if e is None else float(e[r0 + i, j]),
                    float(n[r0 + i, j]) if n is not None else float("nan"),
                    float(c[r0 + i, j]), float(cdiff[i, j]), tolerance, name,
                    uncertainty=truth_bound + claim_bound)


def compare_stored(exact: Sparse, numeric: Sparse, numeric_error: np.ndarray,
                   exact_error: np.ndarray | None, *, atol: float, rtol: float,
                   variable: str = "w") -> Comparison:
    """:func:`compare` for an exact and a numeric Jacobian stored on one
    pattern (:mod:`gradcheck.values.sparse`), with the bounds' values on it.
    Entries outside the pattern are exactly 0 in both (each engine checked
    its own), so they agree; the rounding floor is still the largest |exact|
    in each entry's row and column.

    >>> from gradcheck.values.sparse import Sparse
    >>> e = Sparse((1, 2, 1, 2), np.array([0, 1]), np.array([0, 1]), np.array([1.0, 2.0]))
    >>> v = compare_stored(e, e.like(np.array([1.0, 2.5])), np.zeros(2), None,
    ...                    atol=1e-10, rtol=1e-7)
    >>> [(m.index, m.numeric) for m in v.mismatches]
    [((0, 1, 0, 1), 2.5)]
    """
    m, n = exact.grid
    size = np.abs(exact.values)
    row_max, col_max = np.zeros(m), np.zeros(n)
    np.fmax.at(row_max, exact.rows, size)  # fmax: NaN ignored, as in _maxima
    np.fmax.at(col_max, exact.cols, size)
    if m == 1:  # a gradient: the largest entry of all
        col_max[:] = row_max[0]
    found: list[Mismatch] = []
    unsure: list[Mismatch] = []
    count = undecided = 0
    max_abs = max_rel = 0.0
    total = len(exact.values)
    for k0 in range(0, total, CHUNK):
        part = slice(k0, min(total, k0 + CHUNK))
        progress.advance("compare", k0, total)
        rows, cols = exact.rows[part], exact.cols[part]
        e, est = exact.values[part], numeric.values[part]
        diff = np.abs(e - est)
        a = size[part]
        terms: tuple[Any, ...] = tuple(
            np.reshape(t, (1, -1)) if np.ndim(t) else t
            for t in (atol, rtol * a, SCALE * np.maximum(row_max[rows], col_max[cols]),
                      numeric_error[part], _at(exact_error, part)))
        lost = ~np.isfinite(numeric_error[part] + _at(exact_error, part))
        bad = _bad(diff[None], terms, ~lost[None])[:, 1]
        count += len(bad)
        for j in np.flatnonzero(lost)[:max(0, MAX_LISTED - len(unsure))].tolist():
            unsure.append(Mismatch(variable, exact.index(k0 + j), "engines", float(e[j]),
                                   float(est[j]), None, float(diff[j]),
                                   *_tolerance(terms, 0, j), uncertainty=float("nan")))
        undecided += int(np.count_nonzero(lost))
        for j in bad[:max(0, MAX_LISTED - len(found))].tolist():
            found.append(Mismatch(variable, exact.index(k0 + j), "engines", float(e[j]),
                                  float(est[j]), None, float(diff[j]),
                                  *_tolerance(terms, 0, j)))
        max_abs = max(max_abs, _max(diff))
        with np.errstate(invalid="ignore"):
            max_rel = max(max_rel, _max(np.divide(diff, a, out=np.zeros_like(a), where=a != 0)))
    found.sort(key=lambda mm: mm.index)
    return Comparison(tuple(found), max_abs, max_rel, None, exact.size, count - len(found),
                      tuple(unsure), undecided)


class _Grid:
    """A Jacobian as a (f entries) × (w entries) matrix; a gradient as one row."""

    def __init__(self, rows: int, shape: tuple[int, ...]) -> None:
        self.rows, self.shape = rows, shape
        self.cols = int(np.prod(shape)) // rows

    def view(self, a: np.ndarray | None) -> Any:
        if a is None:
            return None
        a = np.asarray(a)
        halves = ((a.shape[:2], a.strides[:2]), (a.shape[2:], a.strides[2:])) if a.ndim == 4 \
            else ((a.shape, a.strides),)
        if all(_merges(*h) for h in halves):
            return a.reshape(self.rows, self.cols)  # a view
        return _Rows(a, self.rows, self.cols)

    def index(self, i: int, j: int) -> tuple[int, ...]:
        return tuple(int(v) for v in np.unravel_index(i * self.cols + j, self.shape))


def _merges(shape: tuple[int, ...], strides: tuple[int, ...]) -> bool:
    """Whether these axes read as one without a copy."""
    dims = [(n, s) for n, s in zip(shape, strides, strict=True) if n != 1]
    return all(a[1] == b[0] * b[1] for a, b in zip(dims, dims[1:], strict=False))


class _Rows:
    """A (rows × cols) reading of a Jacobian that cannot be reshaped without
    a copy (a bound spread over a group: a broadcast view), copied a slice
    of rows at a time."""

    def __init__(self, a: np.ndarray, rows: int, cols: int) -> None:
        self.a = a if a.ndim == 4 else a.reshape(1, 1, *a.shape)
        self.per, self.cols = self.a.shape[1], cols  # grid rows per entry of f's first axis
        self.shape = (rows, cols)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            first, last = key.start // self.per, -(-key.stop // self.per)
            block = self.a[first:last].reshape(-1, self.cols)  # a copy of these rows only
            return block[key.start - first * self.per:key.stop - first * self.per]
        i, j = key
        return self.a[(i // self.per, i % self.per, *divmod(j, self.a.shape[3]))]


def _maxima(ref: np.ndarray | None, keep: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The largest judged |entry| of each row and each column."""
    assert ref is not None
    rows = np.zeros(ref.shape[0])
    cols = np.zeros(ref.shape[1])
    step = max(1, CHUNK // max(1, ref.shape[1]))
    for r0 in range(0, ref.shape[0], step):
        a = np.abs(ref[r0:r0 + step])
        if keep is not None:
            a[~keep[r0:r0 + step]] = 0.0
        rows[r0:r0 + step] = np.fmax.reduce(a, axis=1, initial=0.0)  # fmax: NaN ignored
        cols = np.fmax(cols, np.fmax.reduce(a, axis=0, initial=0.0))
    if len(rows) == 1:  # a gradient: the largest entry of all
        cols[:] = rows[0]
    return rows, cols


def _at(a: np.ndarray | None, part: slice) -> Any:
    return 0.0 if a is None else a[part]


def _tolerance(terms: tuple[Any, ...], i: int, j: int) -> tuple[float, str]:
    at_entry = np.array([float(np.broadcast_to(t, np.shape(terms[1]))[i, j]) for t in terms])
    return float(at_entry.sum()), bound_name(at_entry[:, None], (0,))


def rounding_floor(jac: np.ndarray) -> np.ndarray:
    """SCALE times the largest |entry| in each entry's row or column (for a
    Jacobian f.shape + w.shape); for a gradient, in the whole gradient."""
    a = np.abs(jac)
    if a.ndim != 4:
        return np.full(a.shape, SCALE * float(a.max(initial=0.0)))
    flat = a.reshape(a.shape[0] * a.shape[1], -1)
    m = np.maximum(flat.max(axis=1, keepdims=True), flat.max(axis=0, keepdims=True))
    floor: np.ndarray = SCALE * m.reshape(a.shape)
    return floor


def _beyond(diff: np.ndarray, terms: tuple[Any, ...], keep: np.ndarray | None) -> np.ndarray:
    """Whether each entry is beyond its tolerance (NaN counts as beyond)."""
    tol = terms[0] + terms[1]
    for t in terms[2:]:
        tol += t
    beyond: np.ndarray = ~(diff <= tol)
    if keep is not None:
        beyond &= keep
    return beyond


def _bad(diff: np.ndarray, terms: tuple[Any, ...], keep: np.ndarray | None) -> np.ndarray:
    """(row, column) of each entry beyond its tolerance; NaN counts as beyond."""
    return np.argwhere(_beyond(diff, terms, keep))


def compare_directions(exact: np.ndarray, numeric: np.ndarray, error: np.ndarray,
                       scale: np.ndarray, *, atol: float, rtol: float,
                       variable: str = "w") -> tuple[Mismatch, ...]:
    """Judge K projections uᵀJv, exact against numeric. ``scale`` is
    Σ|u||J||v|: the relative tolerance applies to it, since the projection
    itself may cancel to near zero."""
    terms = np.stack(np.broadcast_arrays(atol, rtol * scale, SCALE * scale, error, 0.0))
    tol = terms.sum(axis=0)
    diff = np.abs(exact - numeric)
    return tuple(Mismatch(variable, (int(k),), "direction", float(exact[k]), float(numeric[k]),
                          None, float(diff[k]), float(tol[k]), bound_name(terms, (int(k),)))
                 for k in np.flatnonzero(~(diff <= tol)))


def bound_name(terms: np.ndarray, idx: tuple[int, ...]) -> str:
    """The largest term of a tolerance (atol, rtol, scale, fd, exact stacked) at an entry."""
    at_entry = [float(t[idx]) for t in terms]
    return ("atol", "rtol", "scale", "fd", "exact")[int(np.argmax(at_entry))]


def _max(a: np.ndarray) -> float:
    return float(np.max(a)) if a.size else 0.0

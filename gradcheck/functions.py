"""Check the gradients of the user's own code: a forward and its backward.

``backward(upstream, **inputs)`` must return the gradient of
``sum(upstream * forward(**inputs))`` with respect to each input: the
vector-Jacobian product, the way backward passes are written. gradcheck
estimates the Jacobian of ``forward`` once, by finite differences, and
checks ``backward`` against it for several random upstreams; with ``expr``
it checks both against the exact derivative of an expression instead.

>>> import numpy as np
>>> def forward(x, W):
...     return np.tanh(x @ W)
>>> def backward(g, x, W):
...     d = g * (1 - np.tanh(x @ W) ** 2)
...     return {"x": d @ W.T, "W": x.T @ d}
>>> at = {"x": [[0.5, -1.0]], "W": [[1.0, 2.0], [0.25, -0.5]]}
>>> check_function(forward, backward, at=at).passed
True
>>> check_function(forward, backward, at=at, expr="tanh(x @ W)").passed
True

Longer than most modules: the orchestration of check_function and its judging of
each upstream; reading the user's inputs and outputs is in checking/user_code.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck import api
from gradcheck.checking.points import to_value
from gradcheck.checking.problem import check_tolerances
from gradcheck.checking.user_code import (
    check_expression,
    copies,
    forward_value,
    gradients_of,
    inputs_to_check,
    masks_of,
    upstream,
    user_array,
)
from gradcheck.compare.comparator import SCALE, Mismatch, bound_name, compare
from gradcheck.errors import ClaimError, GradientMismatch, OptionError, suggest
from gradcheck.exact import symbolic
from gradcheck.language.parser import parse
from gradcheck.language.shapes import infer
from gradcheck.numeric import engine as numeric
from gradcheck.numeric import user_code
from gradcheck.numeric.stencils import EPS
from gradcheck.report.formats import html_report
from gradcheck.report.text import function_text
from gradcheck.values.evaluate import Trace

__all__ = ["FunctionResult", "Judged", "assert_function", "check_function", "fd_resolution"]


@dataclass(frozen=True, eq=False)
class FunctionResult:
    """What :func:`check_function` found. ``str(result)`` is the report.

    ``reference`` is ``"finite differences"`` or the expression checked
    against; ``mismatches`` have kind ``"backward"`` (an entry of a returned
    gradient, for upstream number ``upstream``) or ``"forward"`` (an entry of
    forward's value that differs from the expression's). In a mismatch,
    ``exact`` holds the reference value (exact, or the finite-difference
    estimate) and ``claimed`` the value of the user's code.
    """

    reference: str
    inputs: dict[str, tuple[int, ...]]
    # (input, entry) where forward is not differentiable here (its one-sided
    # derivatives differ): backward is not judged there.
    kinks: tuple[tuple[str, tuple[int, ...]], ...]
    output_shape: tuple[int, ...]
    upstreams: int
    mismatches: tuple[Mismatch, ...]
    max_error: dict[str, float]  # per input: the largest |backward - reference|
    evaluations: int  # calls of forward by finite differences
    atol: float
    rtol: float
    undecided: tuple[Mismatch, ...] = ()  # entries the reference's bound cannot decide
    # The precision the user's code was judged at (its inputs' and forward's
    # lowest): "float64", "float32", ...
    precision: str = "float64"

    @property
    def verdict(self) -> str:
        """``fail`` (a mismatch beyond every bound), ``undecided`` (none, but
        the reference's error bound is too wide to tell right from wrong at
        some entry), or ``pass``."""
        return "fail" if self.mismatches else "undecided" if self.undecided else "pass"

    @property
    def passed(self) -> bool:
        """True only for a ``pass`` verdict."""
        return self.verdict == "pass"

    def report(self, format: str = "text") -> str:
        if format != "text":
            raise OptionError(f"check_function reports are text only, not {format!r}")
        return function_text(self)

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        verdict = {"pass": "PASS", "fail": "FAIL", "undecided": "CANNOT JUDGE"}[self.verdict]
        return f"<FunctionResult {verdict} against {self.reference}: " \
               f"{', '.join(self.inputs)}>"

    def _repr_html_(self) -> str:
        """The report in a notebook, the verdict coloured."""
        return html_report(self.report(), self.verdict)


def check_function(forward: Callable[..., Any], backward: Callable[..., Any], *,
                   at: Mapping[str, Any], wrt: str | Sequence[str] | None = None,
                   expr: str | None = None, mask: Mapping[str, Any] | None = None,
                   upstreams: int = 3, atol: float = api.ATOL, rtol: float = api.RTOL,
                   seed: int = 0, method: str = "auto") -> FunctionResult:
    """Check a hand-written backward pass.

    Args:
        forward: ``forward(**inputs)`` returns an array.
        backward: ``backward(upstream, **inputs)`` returns the gradient of
            ``sum(upstream * forward(**inputs))`` for each input: a dict by
            name, a sequence in the order of ``wrt``, or one array.
        at: the inputs by name (arrays of any shape, kept as they are).
        wrt: the inputs to check (default: all of ``at``).
        expr: an expression of the language equal to forward: then forward's
            values and backward's gradients are checked against the exact
            derivative instead of finite differences.
        mask: per input, a boolean array: False marks fixed entries (the
            zeros of a structured weight) that are neither perturbed nor
            compared.
        upstreams: how many random upstream gradients to try.
        method: the finite-difference method (user code is not assumed to
            accept complex numbers, so ``complex`` is the caller's choice).

    Returns:
        A :class:`FunctionResult`; it never raises on a mismatch.
    """
    # Overflow in the user's code becomes inf or NaN, which is reported (forward
    # is not finite there): no NumPy warning escapes, as from check().
    with np.errstate(all="ignore"):
        return _check_function(forward, backward, at, wrt, expr, mask, upstreams, atol, rtol,
                               seed, method)


def _check_function(forward: Callable[..., Any], backward: Callable[..., Any],
                    at: Mapping[str, Any], wrt: str | Sequence[str] | None, expr: str | None,
                    mask: Mapping[str, Any] | None, upstreams: int, atol: float, rtol: float,
                    seed: int, method: str) -> FunctionResult:
    if not isinstance(at, Mapping):
        raise OptionError(f"at must be a mapping of input names, got {type(at).__name__}",
                          hint="write at={'x': x, 'W': W}")
    if method not in numeric.METHODS:
        raise OptionError(f"unknown method {method!r}", hint=suggest(str(method), numeric.METHODS)
                          or "choose from " + ", ".join(numeric.METHODS))
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise OptionError(f"seed must be a whole number >= 0, got {seed!r}")
    given = {str(n): user_array(v, str(n)) for n, v in at.items()}
    names = inputs_to_check(wrt, given)
    masks = masks_of(mask, given)
    if not isinstance(upstreams, int) or isinstance(upstreams, bool) or upstreams < 1:
        raise OptionError(f"upstreams must be a whole number >= 1, got {upstreams!r}")
    check_tolerances(atol, rtol)
    if expr is not None:
        check_expression(expr, given, names)
    out, out_dtype = forward_value(forward, given)
    # The precision the user's code works in: the lowest of the checked
    # inputs' and of forward's value; the reference is computed in float64
    # where forward computes in it when given float64 (and the differences
    # then take float64 steps), else in forward's own precision.
    precision = max([float(np.finfo(out_dtype).eps)]
                    + [float(np.finfo(given[n].dtype).eps) for n in names
                       if given[n].dtype.kind == "f"])
    wide = {n: (a.astype(np.float64) if a.dtype.kind == "f" else a) for n, a in given.items()}
    ref_eps = EPS
    if precision > EPS:
        ref_eps = float(np.finfo(forward_value(forward, wide)[1]).eps)
    inputs = wide if expr is not None or ref_eps == EPS else given
    ups = np.array([upstream(out.shape, seed, k) for k in range(upstreams)])
    grads = [gradients_of(backward(u.astype(out_dtype), **copies(given)), names, given)
             for u in ups]
    mismatches: list[Mismatch] = []
    if expr is not None:
        reference = f"the exact derivative of {expr}"
        jac, mismatches = _exact(expr, wide, names, out, atol, rtol, precision)
        errors = {n: np.zeros_like(j) for n, j in jac.items()}
        noise = errors
        calls = 0
    else:
        reference = "finite differences"
        jac, errors, noise, calls = _numeric(forward, wide, names, masks, method, ref_eps,
                                             float(np.max(np.abs(out), initial=0.0)))
    floor = 2.0**10 * precision  # a backward's rounding, relative to the terms it sums
    verdicts = _judge_all(ups, grads, names, jac, errors, noise, masks, atol, rtol, floor,
                          ref_eps)
    if expr is None and verdicts[1]:
        # Entries the one-step bound left undecided: their columns again, tighter.
        calls += _refine(forward, wide, jac, errors, verdicts[1], ref_eps)
        verdicts = _judge_all(ups, grads, names, jac, errors, noise, masks, atol, rtol,
                              floor, ref_eps)
    found, unsure, diffs = verdicts
    mismatches += found
    kinks: list[tuple[str, tuple[int, ...]]] = []
    if expr is None:  # a kink inside forward looks like a wrong backward: tell them apart
        kinks = _kinks(forward, wide, sorted({(m.variable, m.index)
                                              for m in mismatches + unsure
                                              if m.kind == "backward"}), ref_eps)
        mismatches = [m for m in mismatches if (m.variable, m.index) not in kinks]
        unsure = [m for m in unsure if (m.variable, m.index) not in kinks]
    max_error = {}
    for n in names:
        judged = np.ones(inputs[n].shape, dtype=bool) if n not in masks else masks[n].copy()
        for name, i in kinks:
            if name == n:  # a kink's index is into its own input's shape
                judged[i] = False
        max_error[n] = max(float(np.max(d[judged], initial=0.0)) for d in diffs[n])
    return FunctionResult(reference, {n: inputs[n].shape for n in names}, tuple(kinks),
                          out.shape, upstreams, tuple(mismatches), max_error, calls, atol, rtol,
                          tuple(unsure), _precision_name(precision))


def _precision_name(eps: float) -> str:
    for dtype in (np.float64, np.float32, np.float16):
        if eps == float(np.finfo(dtype).eps):
            return np.dtype(dtype).name
    return f"eps {eps:.3g}"


def assert_function(forward: Callable[..., Any], backward: Callable[..., Any],
                    **kwargs: Any) -> FunctionResult:
    """Like :func:`check_function`, but raise :class:`GradientMismatch` (an
    AssertionError whose message is the report) unless everything agrees."""
    __tracebackhide__ = True  # pytest shows the caller and the report
    result = check_function(forward, backward, **kwargs)
    if not result.passed:
        raise GradientMismatch(result.report(), result)
    return result


def _numeric(forward: Callable[..., Any], inputs: Mapping[str, np.ndarray], names: list[str],
             masks: Mapping[str, Any], method: str, eps: float = EPS, f_largest: float = 1.0
             ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray],
                        int]:
    """The Jacobians by finite differences, their bounds, the part of each
    bound that is rounding alone (:func:`gradcheck.numeric.engine.noise_floor`, for
    f's largest entry ``f_largest``), and the evaluations spent."""
    jac, err, noise, calls = {}, {}, {}, 0
    for n in names:
        fn = _along(forward, inputs, n)
        est = numeric.jacobian_of(fn, inputs[n].astype(np.float64), method, mask=masks.get(n),
                                  eps=eps)
        noise[n] = user_code.noise_floor(est, f_largest, eps)
        jac[n], err[n], calls = est.value, est.error, calls + est.evaluations
    return jac, err, noise, calls


def _along(forward: Callable[..., Any], inputs: Mapping[str, np.ndarray], n: str
           ) -> Callable[[np.ndarray], tuple[np.ndarray, Trace]]:
    """forward as a function of input ``n`` alone (given in float64, passed
    in the input's own dtype), returning float64 values."""
    dtype = inputs[n].dtype

    def fn(w: np.ndarray) -> tuple[np.ndarray, Trace]:
        raw = forward(**{**copies(inputs), n: np.asarray(w).astype(dtype, copy=False)})
        if hasattr(raw, "detach") and hasattr(raw, "numpy"):
            raw = raw.detach().cpu().numpy()
        return np.asarray(raw, dtype=np.float64), Trace()

    return fn


def _kinks(forward: Callable[..., Any], inputs: Mapping[str, np.ndarray],
           suspects: list[tuple[str, tuple[int, ...]]], eps: float = EPS
           ) -> list[tuple[str, tuple[int, ...]]]:
    """The (input, entry) pairs along which forward's one-sided derivatives
    differ (beyond bounds for a forward that computes at precision ``eps``)."""
    found = []
    for n, i in suspects:
        if user_code.one_sided(_along(forward, inputs, n), inputs[n].astype(np.float64),
                             i, eps)[2].any():
            found.append((n, i))
    return found


def _exact(expr: str, inputs: Mapping[str, np.ndarray], names: list[str], out: np.ndarray,
           atol: float, rtol: float, precision: float = EPS
           ) -> tuple[dict[str, np.ndarray], list[Mismatch]]:
    """The exact Jacobians in the user's shapes (f's shape + w's shape), and
    the entries where forward's value differs from the expression's."""
    values = {n: to_value(a, n) for n, a in inputs.items()}
    typed = infer(parse(expr), {n: v.shape for n, v in values.items()}, text=expr)
    exact_f = symbolic.to_float(symbolic.build(typed.tree, {n: v.exact for n, v in
                                                            values.items()}))
    if exact_f.size != out.size:
        raise ClaimError(f"forward returns shape {out.shape}, the expression "
                         f"{exact_f.shape[0]}×{exact_f.shape[1]}",
                         hint="expr must compute the same values as forward")
    exact_f = exact_f.reshape(out.shape)
    # forward computed in a lower precision is right to that precision
    forward = compare(exact_f, None, None, out, atol=atol,
                      rtol=max(rtol, 2.0**6 * precision), variable="f")
    mismatches = [dataclasses.replace(m, kind="forward", numeric=float(out[m.index]))
                  for m in forward.mismatches]
    exact = api.exact_jacobians(expr, values, names)
    jac = {n: exact[n].reshape(out.shape + inputs[n].shape) for n in names}
    return jac, mismatches


Judged = tuple[list[Mismatch], list[Mismatch], dict[str, list[np.ndarray]]]


def fd_resolution(eps: float) -> float:
    """The share of a gradient's largest entry below which finite differences
    of a function computed at precision ``eps`` cannot resolve an entry
    (see _judge): 2⁻³⁰ in float64, about 1e-4 in float32 (steps ε^⅐, noise
    64ε of the largest entry of f)."""
    return float(max(2.0**-30, user_code.USER_NOISE * eps ** (6 / 7)))


def _judge_all(ups: np.ndarray, grads: list[dict[str, np.ndarray]], names: list[str],
               jac: Mapping[str, np.ndarray], errors: Mapping[str, np.ndarray],
               noise: Mapping[str, np.ndarray], masks: Mapping[str, Any], atol: float,
               rtol: float, floor: float = SCALE, eps: float = EPS) -> Judged:
    """Every upstream and input judged: mismatches, undecided entries, and
    |backward - reference| per input and upstream."""
    wrong: list[Mismatch] = []
    unsure: list[Mismatch] = []
    diffs: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for k, (u, got) in enumerate(zip(ups, grads, strict=True)):
        for n in names:
            found, between, diff = _judge(n, k, u, jac[n], errors[n], got[n], masks.get(n),
                                          atol, rtol, floor, fd_resolution(eps), noise[n])
            wrong += found
            unsure += between
            diffs[n].append(diff)
    return wrong, unsure, diffs


def _refine(forward: Callable[..., Any], inputs: Mapping[str, np.ndarray],
            jac: dict[str, np.ndarray], errors: dict[str, np.ndarray],
            unsure: list[Mismatch], eps: float = EPS) -> int:
    """Re-estimate, tighter, the Jacobian columns of the undecided entries (in
    place); the evaluations spent."""
    calls = 0
    for n in sorted({m.variable for m in unsure}):
        entries = sorted({m.index for m in unsure if m.variable == n})
        columns, spent = user_code.refine_columns(_along(forward, inputs, n),
                                                inputs[n].astype(np.float64), entries, eps)
        calls += spent
        lead: tuple[Any, ...] = (slice(None),) * (jac[n].ndim - inputs[n].ndim)
        for i, (value, error) in zip(entries, columns, strict=True):
            at: Any = (*lead, *i)
            better = error < errors[n][at]
            jac[n][at] = np.where(better, value, jac[n][at])
            errors[n][at] = np.where(better, error, errors[n][at])
    return calls


def _judge(name: str, k: int, u: np.ndarray, jac: np.ndarray, err: np.ndarray,
           got: np.ndarray, mask: Any, atol: float, rtol: float, floor: float = SCALE,
           resolution_share: float = 2.0**-30, noise: np.ndarray | None = None
           ) -> tuple[list[Mismatch], list[Mismatch], np.ndarray]:
    """The mismatches of backward's gradient for one input and upstream, the
    entries the reference's bound leaves undecided, and |backward -
    reference| entry by entry. The bound never widens the tolerance: an
    entry is wrong when |backward - reference| - bound > tolerance, right
    when |backward - reference| + bound <= tolerance."""
    axes = (tuple(range(u.ndim)), tuple(range(u.ndim)))
    ref = np.tensordot(u, jac, axes=axes)  # the vector-Jacobian product
    bound = np.tensordot(np.abs(u), err, axes=axes)
    size = np.tensordot(np.abs(u), np.abs(jac), axes=axes)  # the terms summed, for the floor
    diff = np.abs(got - ref)
    terms = np.stack(np.broadcast_arrays(atol, rtol * np.abs(ref), floor * size, bound))
    tol = terms[:3].sum(axis=0)
    judged = np.ones(ref.shape, dtype=bool) if mask is None else mask
    # A finite-difference reference resolves entries only to its bound: within
    # resolution_share of the gradient's largest entry (2⁻³⁰ for a float64
    # reference), agreement is a pass (a 0 that the estimate puts at 0 ± 1e-11).
    resolution: Any = 0.0
    noisy: Any = False
    if err.any():
        resolution = resolution_share * float(np.max(np.abs(ref), initial=0.0))
    if noise is not None and noise.any():
        # Where the bound is at most 4 times its rounding part, finite
        # differences can do little better at this precision: agreement within
        # the bound is a pass (not where truncation or a kink widened it, nor
        # where the bound is not small next to the entry itself).
        noisy = (bound <= 4 * np.tensordot(np.abs(u), noise, axes=axes)) \
            & (bound <= np.abs(ref) / 8)  # small next to the entry: a bug would show
    with np.errstate(invalid="ignore"):
        wrong = ~(diff - bound <= tol) & judged
        right = (diff + bound <= tol + resolution) | (noisy & (diff <= tol + bound))
        between = ~wrong & ~right & judged

    def listed(where: np.ndarray) -> list[Mismatch]:
        return [Mismatch(name, tuple(map(int, i)), "backward", float(ref[i]), float(ref[i]),
                         float(got[i]), float(diff[i]), float(tol[i]), bound_name(terms, i),
                         upstream=k, uncertainty=float(bound[i]))
                for i in map(tuple, np.argwhere(where))]

    return listed(wrong), listed(between), diff

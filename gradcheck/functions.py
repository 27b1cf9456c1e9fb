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
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck import api
from gradcheck.checking import claims
from gradcheck.checking.points import to_value
from gradcheck.checking.problem import check_tolerances
from gradcheck.compare.comparator import SCALE, Mismatch, bound_name, compare
from gradcheck.errors import ClaimError, FunctionError, GradientMismatch, OptionError, suggest
from gradcheck.exact import symbolic
from gradcheck.language.parser import parse
from gradcheck.language.shapes import infer
from gradcheck.language.tree import variables as names_in
from gradcheck.numeric import engine as numeric
from gradcheck.numeric import user_code
from gradcheck.numeric.stencils import EPS
from gradcheck.report.formats import html_report
from gradcheck.report.text import function_text
from gradcheck.values.evaluate import Trace

__all__ = ["FunctionResult", "assert_function", "check_function"]


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
    given = {str(n): _array(v, str(n)) for n, v in at.items()}
    names = _names(wrt, given)
    masks = _masks(mask, given)
    if not isinstance(upstreams, int) or isinstance(upstreams, bool) or upstreams < 1:
        raise OptionError(f"upstreams must be a whole number >= 1, got {upstreams!r}")
    check_tolerances(atol, rtol)
    if expr is not None:
        _check_expression(expr, given, names)
    out, out_dtype = _forward(forward, given)
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
        ref_eps = float(np.finfo(_forward(forward, wide)[1]).eps)
    inputs = wide if expr is not None or ref_eps == EPS else given
    ups = np.array([_upstream(out.shape, seed, k) for k in range(upstreams)])
    grads = [_gradients(backward(u.astype(out_dtype), **_copy(given)), names, given)
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
    result = check_function(forward, backward, **kwargs)
    if not result.passed:
        raise GradientMismatch(result.report(), result)
    return result


# ----- the steps -----

def _array(value: Any, name: str) -> np.ndarray:
    """An input as given: floating arrays keep their precision (float32 is
    checked as float32), integers and booleans pass through unchanged (labels,
    indices) and are not differentiated unless ``wrt`` names them."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        array = np.array(value)
    except (TypeError, ValueError):
        raise OptionError(f"the value of '{name}' is not a real array: {value!r:.60}") from None
    if array.dtype.kind in "iub":
        return array
    if array.dtype.kind != "f":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise OptionError(f"the value of '{name}' is not a real array: {value!r:.60}",
                              hint="give real numbers (complex inputs are not checked)"
                              ) from None
        if np.iscomplexobj(array):
            raise OptionError(f"the value of '{name}' is complex")
    if array.dtype.itemsize > 8:
        array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise OptionError(f"the value of '{name}' has entries that are not finite")
    return array


def _forward(forward: Callable[..., Any], inputs: Mapping[str, np.ndarray]
             ) -> tuple[np.ndarray, np.dtype[Any]]:
    """forward's value at the point (float64) and the precision it was
    computed in; it must be finite and the same twice (a forward that draws
    noise passes any backward, or fails a right one)."""
    raw = forward(**_copy(inputs))
    if raw is None:
        raise FunctionError("forward returned None", hint="return the output array")
    if hasattr(raw, "detach") and hasattr(raw, "numpy"):  # a torch tensor
        raw = raw.detach().cpu().numpy()
    dtype = np.asarray(raw).dtype
    dtype = dtype if dtype.kind == "f" and dtype.itemsize <= 8 else np.dtype(np.float64)
    out = claims.real_array(raw, "forward's value").reshape(np.shape(raw))
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        where = tuple(int(v) for v in np.unravel_index(bad[0], out.shape))
        raise FunctionError("forward is not finite at this point",
                            detail=f"{out.flat[bad[0]]} at entry {list(where)}"
                                   + (f" and {bad.size - 1} more" if bad.size > 1 else ""),
                            hint="choose a point where forward stays within float64's range")
    raw = forward(**_copy(inputs))
    again = claims.real_array(raw, "forward's value").reshape(np.shape(raw))
    if again.shape != out.shape or not np.array_equal(again, out):
        diff = float(np.max(np.abs(again - out))) if again.shape == out.shape else float("nan")
        raise FunctionError("forward is not deterministic: two calls at the same point differ",
                            detail=f"by up to {diff:.3g}" if np.isfinite(diff) else
                            f"shapes {out.shape} and {again.shape}",
                            hint="fix its random state (dropout, noise) or seed it inside "
                                 "forward, so that the same inputs give the same output")
    return out, dtype


def _upstream(shape: tuple[int, ...], seed: int, k: int) -> np.ndarray:
    """Upstream number k: ±j/1024 with j in [128, 1024], the same whatever the count."""
    rng = np.random.default_rng([seed, 2, k])
    up: np.ndarray = rng.integers(128, 1025, size=shape) / 1024 * rng.choice([-1.0, 1.0],
                                                                             size=shape)
    return up


def _check_expression(expr: str, inputs: Mapping[str, np.ndarray], names: list[str]) -> None:
    """Before running any user code: expr parses, and mentions every checked input."""
    used = names_in(parse(expr))
    missing = [n for n in names if n not in used]
    if missing:
        raise OptionError(f"expr {expr!r} does not use the input '{missing[0]}'",
                          hint=f"check the inputs it uses with wrt=[{', '.join(map(repr, used))}]"
                          if used else "write expr in the names of the inputs")
    unknown = [n for n in used if n not in inputs]
    if unknown:
        raise OptionError(f"expr {expr!r} uses '{unknown[0]}', which is not an input",
                          hint=suggest(unknown[0], inputs) or "give its value in at=")


def _copy(inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {n: a.copy() for n, a in inputs.items()}  # user code may write to its inputs


def _names(wrt: str | Sequence[str] | None, inputs: Mapping[str, np.ndarray]) -> list[str]:
    if wrt is None:
        names = [n for n, a in inputs.items() if a.dtype.kind == "f"]
        if not names:
            raise OptionError("no floating-point input to differentiate by",
                              hint="give at least one input as floats, or name it in wrt=")
        return names
    names = [wrt] if isinstance(wrt, str) else list(wrt) if isinstance(
        wrt, Sequence) and not isinstance(wrt, bytes) else None
    if names is None or not all(isinstance(n, str) for n in names):
        raise OptionError(f"wrt must be an input name or a list of names, got {wrt!r:.60}",
                          hint="write wrt='x' or wrt=['x', 'W']")
    for n in names:
        if n not in inputs:
            raise OptionError(f"'{n}' is not one of the inputs",
                              hint=suggest(n, inputs) or f"the inputs are {', '.join(inputs)}")
    return names


def _masks(mask: Mapping[str, Any] | None, inputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
    out = {}
    for n, m in (mask or {}).items():
        if n not in inputs:
            raise OptionError(f"a mask for '{n}', which is not an input")
        array = np.asarray(m, dtype=bool)
        if array.shape != inputs[n].shape:
            raise OptionError(f"the mask of '{n}' has shape {array.shape}, the input "
                              f"{inputs[n].shape}", hint="give one boolean per entry")
        out[n] = array
    return out


def _gradients(result: Any, names: list[str], inputs: Mapping[str, np.ndarray]
               ) -> dict[str, np.ndarray]:
    if isinstance(result, Mapping):
        missing = [n for n in names if n not in result]
        if missing:
            raise ClaimError(f"backward returned no gradient for '{missing[0]}'",
                             hint="return a dict with every checked input")
        got = {n: result[n] for n in names}
    elif len(names) == 1 and not isinstance(result, (tuple, list)):
        got = {names[0]: result}
    else:
        if len(result) != len(names):
            raise ClaimError(f"backward returned {len(result)} gradients for "
                             f"{len(names)} inputs", hint="return one per input, in order, "
                             f"or a dict by name: {', '.join(names)}")
        got = dict(zip(names, result, strict=True))
    out = {}
    for n, g in got.items():
        array = claims.real_array(g, f"backward's gradient for '{n}'")
        if np.ndim(g) < 2:
            array = array.reshape(np.shape(g))  # as given: inputs keep their shapes
        if array.shape != inputs[n].shape:
            raise ClaimError(f"backward's gradient for '{n}' has shape {array.shape}",
                             detail=f"'{n}' has shape {inputs[n].shape}",
                             hint="a gradient has the shape of its input")
        out[n] = array
    return out


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
        raw = forward(**{**_copy(inputs), n: np.asarray(w).astype(dtype, copy=False)})
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

"""Finite differences and the complex step, on the direct NumPy evaluation.

Methods: ``complex`` (Im f(x + ih)/h: no cancellation, so accurate to
rounding whatever the step), ``richardson`` (central differences at h, h/2,
h/4, extrapolated), ``central``, ``forward`` and ``backward`` (see
:mod:`gradcheck.numeric.stencils`), and ``auto``: the complex step where every
operation on the path allows it, Richardson otherwise.

Every estimate comes with an error bound entry by entry: the difference to
a companion estimate from the same evaluations plus a bound on rounding.
Steps are chosen per direction (an entry of w, or a group of entries) on
a ladder that shrinks until two estimates agree; a stencil that would
leave the domain or cross a kink (relu, abs) or a pole (a divisor, a
singular matrix) shrinks or goes one-sided. At a point *on* a kink the two
one-sided derivatives are compared, entry by entry, and entries where they
differ are reported as not differentiable.

Entries of w that no entry of f feels together are perturbed together
(:mod:`gradcheck.language.structure`); where none are, the complex step carries
only the imaginary parts that move (:mod:`gradcheck.numeric.tangents`).

This module chooses and assembles; the parts are :mod:`~gradcheck.numeric.probe`
(f at its point), :mod:`~gradcheck.numeric.complex_step`,
:mod:`~gradcheck.numeric.ladder` (real stencils and kinks),
:mod:`~gradcheck.numeric.groups` and :mod:`~gradcheck.numeric.user_code` (f given
as the user's own code).

>>> import numpy as np
>>> from gradcheck.language.parser import parse
>>> from gradcheck.language.shapes import infer
>>> typed = infer(parse("sum(z * z)"), {"z": (1, 2)})
>>> est = jacobian(typed.tree, "z", {"z": np.array([[1.0, 2.0]])})
>>> est.value.tolist(), est.methods.tolist(), est.evaluations
([[2.0, 4.0]], [['complex', 'complex']], 5)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from gradcheck import progress
from gradcheck.language import ops
from gradcheck.language.tree import Call, Node, walk
from gradcheck.numeric import tangents
from gradcheck.numeric.complex_step import complex_stacked
from gradcheck.numeric.estimate import Estimate, Function, Undefined
from gradcheck.numeric.groups import grouped
from gradcheck.numeric.ladder import Jump, column
from gradcheck.numeric.probe import Probe, chunk_bytes, probe_of, unit
from gradcheck.numeric.stencils import EPS
from gradcheck.numeric.user_code import quick, user_probe
from gradcheck.values.evaluate import Kink
from gradcheck.values.sparse import Sparse, zeros

__all__ = ["METHODS", "directional", "jacobian", "jacobian_of", "resolve_method"]

METHODS = ("auto", "complex", "richardson", "central", "forward", "backward")


def resolve_method(tree: Node, method: str) -> str:
    """The method ``auto`` stands for on this tree."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if method != "auto":
        return method
    calls = [n for n in walk(tree) if isinstance(n, Call)]
    return "complex" if all(ops.OPS[c.op].complex_step for c in calls) else "richardson"


def jacobian(tree: Node, wrt: str, env: Mapping[str, np.ndarray],
             method: str = "auto", sparse: bool = False) -> Estimate:
    """Estimate ∂f/∂wrt at the point ``env``; with ``sparse``, found by
    groups of entries of w, as its entries that may be nonzero (a
    :class:`~gradcheck.values.sparse.Sparse`, bounds likewise).

    Raises:
        OutOfDomain: the point is outside the domain, or every step tried
            leaves it.
    """
    method = resolve_method(tree, method)
    est = None
    probe, on_kink = probe_of(tree, env, wrt)
    sparse = sparse and probe.f0.size > 1
    if not on_kink:  # at a kink: one entry at a time, both sides (see at_kink)
        est = (_complex_all(probe, tree, env, wrt, sparse) if method == "complex"
               else grouped(probe, tree, wrt, method, sparse))
    if est is None:
        est = _entry_by_entry(probe, on_kink, method)
    est = _conditioned(tree, probe, est)
    if est.value.shape[:2] == (1, 1) and est.value.ndim == 4:  # a 1×1 f: the gradient
        undefined = tuple(Undefined(u.index[2:], u.left, u.right, u.where)
                          for u in est.undefined)
        est = Estimate(est.value[0, 0], est.error[0, 0], est.steps, est.methods,
                       est.evaluations, undefined)
    return est


def _conditioned(tree: Node, probe: Probe, est: Estimate) -> Estimate:
    """With inv, det or logdet in f, every entry's bound also allows a few
    eps of the largest entry times the conditioning: LU's rounding is spread
    over the whole result (normwise), so a small entry of an ill-conditioned
    inverse is off by far more than eps·κ of itself."""
    if not any(isinstance(n, Call) and ops.OPS[n.op].condition is not None
               for n in walk(tree)):
        return est
    values = est.value.values if isinstance(est.value, Sparse) else est.value
    spread = 4 * EPS * probe.amplification * float(np.max(np.abs(values), initial=0.0))
    error = est.error.like(est.error.values + spread) if isinstance(est.error, Sparse) \
        else est.error + spread
    return dataclasses.replace(est, error=error)


def _complex_all(probe: Probe, tree: Node, env: Mapping[str, np.ndarray],
                 wrt: str, sparse: bool = False) -> Estimate:
    """The complex step for every entry of w: by groups of entries where the
    structure allows (:func:`grouped`), else a stack of single entries
    carrying only what moves (:mod:`gradcheck.numeric.tangents`)."""
    est = grouped(probe, tree, wrt, "complex", sparse)
    if est is not None:
        return est
    at = {**env, wrt: probe.w0}
    chunk = max(1, chunk_bytes(probe) // (4 * 16 * tangents.footprint(tree, at, wrt)))
    return complex_stacked(probe, chunk, lambda entries, h: tangents.steps(
        tree, at, wrt, entries, h))


def jacobian_of(fn: Function, w0: np.ndarray, method: str, *, tree: Node | None = None,
                mask: np.ndarray | None = None, amplification: float = 1.0,
                eps: float = EPS) -> Estimate:
    """Estimate the Jacobian of ``fn`` at ``w0`` (any shapes): ``value[..., i]``
    is ∂f/∂w[i]. Entries where ``mask`` is False are fixed: not perturbed,
    their columns 0 with bound 0. ``tree`` names kinks in messages;
    ``amplification`` scales the rounding bounds. ``auto`` (an arbitrary
    function need not accept complex numbers) is Richardson's stencil at one
    step per entry, 6 evaluations, tried at smaller steps only for the
    entries whose bound that leaves wider than :data:`QUICK_ENOUGH` of their
    column (a kink or fast variation within the step). ``eps`` is the
    precision f computes in (float32's for a float32 function): rounding
    bounds scale with it, and steps larger by (eps/eps64)^(1/7) are tried as
    well where they agree with float64's (:func:`scaled`)."""
    probe, on_kink = user_probe(fn, w0, tree, amplification, eps)
    if method == "auto" and not on_kink:
        return quick(probe, mask)
    return _entry_by_entry(probe, on_kink, "richardson" if method == "auto" else method, mask)


def _entry_by_entry(probe: Probe, on_kink: list[Kink], method: str,
                    mask: np.ndarray | None = None) -> Estimate:
    """The Jacobian one entry of w at a time, each on its own ladder of steps
    (both sides at a kink); the evaluations spent so far with ``probe``
    count too."""
    f0, w0 = probe.f0, probe.w0
    value = zeros(f0.shape + w0.shape)
    error = zeros(value.shape)
    steps = np.zeros(w0.shape)
    methods = np.full(w0.shape, "fixed", dtype=object)
    undefined: list[Undefined] = []
    lead = (slice(None),) * f0.ndim
    for done, i in enumerate(np.ndindex(w0.shape)):
        progress.advance("numeric", done, w0.size)
        if mask is not None and not mask[i]:
            continue
        jumps: list[Jump] = []
        col = column(probe, unit(w0.shape, i), method, on_kink, jumps)
        value[(*lead, *i)], error[(*lead, *i)], steps[i], methods[i] = col
        undefined += [Undefined((*j, *i), left, right, where) for j, left, right, where in jumps]
    return Estimate(value, error, steps, methods, probe.calls, tuple(undefined))


def directional(tree: Node, wrt: str, env: Mapping[str, np.ndarray], directions: np.ndarray,
                method: str = "auto") -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Derivatives of f along directions of w (K × w's shape): J·d for each
    (K × f's shape), their error bounds, whether f is differentiable along
    each here (not on a kink whose one-sided derivatives differ), and the
    evaluations spent."""
    method = resolve_method(tree, method)
    probe, on_kink = probe_of(tree, env, wrt)
    values, errors, defined = [], [], []
    for d in np.asarray(directions, dtype=np.float64):
        jumps: list[Jump] = []
        value, error, _, _ = column(probe, d, method, on_kink, jumps)
        values.append(value)
        errors.append(error)
        defined.append(not jumps)
    return np.array(values), np.array(errors), np.array(defined), probe.calls

"""Does gradcheck catch bugs in users' own backward passes? Writes bench/user_code.md.

Six families of layers written twice, in NumPy with a hand-written backward
and in PyTorch: a dense layer x@W+b, a tanh layer tanh(x@W+b), a ReLU layer
(every pre-activation at least 1e-3 from the kink), softmax cross-entropy
-sum(y*log_softmax(x@W+b)) with one-hot labels y given as a float array, a
layer norm (z - mean(z)) / sqrt(var(z) + 1e-5) of z = x@W over each row, and
a two-layer network tanh(sigmoid(x@W0+b0)@W1+b1). Biases are 1-D, of shape
(k,). Each point (a family, its shapes and values, drawn from numpy's
default_rng with a fixed seed) is checked

- with the correct backward: a ``fail`` is a **false alarm**;
- with planted bugs, each in exactly one input's gradient (a transposed
  factor where W is square, a missing additive term, the activation in
  place of its derivative, the bias gradient summed over the wrong axis or
  with a row dropped, a factor of 2), kept only where it changes that
  gradient by more than 1e-6 of its largest entry: a ``pass`` is a
  **missed bug**; a ``fail`` that does not blame the input with the bug
  (the set of ``m.variable``) is a **wrong blame**.

Each version is checked with ``gradcheck.check_function`` (the NumPy code)
and with ``gradcheck.adapters.torch.check_torch`` (the PyTorch code: autograd
for the correct version, a custom ``torch.autograd.Function`` with the buggy
backward for a bug), in float64 and in float32 (the code computes in
float32 inside; the point's values are float32), all with gradcheck's
default tolerances. ``undecided`` is counted apart; a GradcheckError is
*refused*, any other exception a **crash**. Side by side, on the same
PyTorch functions and in the same run, ``torch.autograd.gradcheck`` with its
defaults and with ``fast_mode=True`` (float32: atol=rtol=1e-2, eps=1e-3).

Run from the repository root: ``python3 bench/user_code.py`` (about 2,500
cases), ``--quick`` (about 120), ``--seed N`` for another base seed,
``--jobs N`` worker processes (default: the usable cores; each with one
BLAS and one torch thread). ``--case FAMILY/TIER/J`` re-runs one point and
prints every check of it: the reproducer of a row of the report.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

import gradcheck

sys.path.insert(0, str(Path(__file__).parent))
from run import machine  # noqa: E402
from run import table as plain_table  # noqa: E402

HERE = Path(__file__).parent
LISTED = 50  # problems listed one by one in the report
KINK = 1e-3  # every ReLU pre-activation is at least this far from 0
MIN_VAR = 0.05  # every row of the layer norm's z varies at least this much
EPS = 1e-5  # the layer norm's epsilon
PLANTED = 1e-6  # a bug must change its gradient by more than this × its largest entry
SELF_CHECK = 1e-9  # the hand-written backward against torch.autograd, relatively
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
LOOSE = {"atol": 1e-2, "rtol": 1e-2, "eps": 1e-3}  # torch.autograd.gradcheck in float32
DTYPES = ("float64", "float32")
APIS = ("check_function", "check_torch")
Array = Any  # a NumPy array or a torch tensor


# ----- the array operations, for NumPy and for torch -----

class NumpyOps:
    """What the families use, in NumPy, computing in one float dtype."""

    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype

    def cast(self, a: Any) -> np.ndarray:
        return np.asarray(a, dtype=self.dtype)

    def sum(self, a: Array, axis: int | None = None, keep: bool = False) -> Array:
        return a.sum(axis=axis, keepdims=keep)

    def mean(self, a: Array, axis: int, keep: bool = False) -> Array:
        return a.mean(axis=axis, keepdims=keep)

    def amax(self, a: Array, axis: int, keep: bool = False) -> Array:
        return a.max(axis=axis, keepdims=keep)

    def tanh(self, a: Array) -> Array:
        return np.tanh(a)

    def exp(self, a: Array) -> Array:
        return np.exp(a)

    def log(self, a: Array) -> Array:
        return np.log(a)

    def sqrt(self, a: Array) -> Array:
        return np.sqrt(a)

    def step(self, a: Array) -> Array:
        return (a > 0).astype(a.dtype)


class TorchOps(NumpyOps):
    """The same, on torch tensors (of whatever dtype they have)."""

    def __init__(self) -> None:
        import torch

        self.torch = torch

    def cast(self, a: Any) -> Any:
        return a

    def sum(self, a: Array, axis: int | None = None, keep: bool = False) -> Array:
        return a.sum() if axis is None else a.sum(dim=axis, keepdim=keep)

    def mean(self, a: Array, axis: int, keep: bool = False) -> Array:
        return a.mean(dim=axis, keepdim=keep)

    def amax(self, a: Array, axis: int, keep: bool = False) -> Array:
        return a.amax(dim=axis, keepdim=keep)

    def tanh(self, a: Array) -> Array:
        return self.torch.tanh(a)

    def exp(self, a: Array) -> Array:
        return self.torch.exp(a)

    def log(self, a: Array) -> Array:
        return self.torch.log(a)

    def sqrt(self, a: Array) -> Array:
        return self.torch.sqrt(a)

    def step(self, a: Array) -> Array:
        return (a > 0).to(a.dtype)


def sigmoid(o: NumpyOps, a: Array) -> Array:
    return 1 / (1 + o.exp(-a))


def log_softmax(o: NumpyOps, z: Array) -> Array:
    s = z - o.amax(z, 1, True)
    return s - o.log(o.sum(o.exp(s), 1, True))


# ----- the families: forward, backward, and the bugs that fit -----

@dataclass(frozen=True)
class Bug:
    kind: str  # one of BUG_KINDS
    input: str  # the one input whose gradient is wrong
    what: str  # the line as written, for the report
    option: str = ""  # which variant of the kind (a family's own word)

    def label(self) -> str:
        return f"{self.kind} in d{self.input}"


BUG_KINDS = ("transposed factor", "missing term", "activation", "bias axis", "factor 2")


def hit(bug: Bug | None, kind: str, name: str) -> bool:
    return bug is not None and bug.kind == kind and bug.input == name


def bias_grad(o: NumpyOps, d: Array, wrong: bool) -> Array:
    """d summed over the rows, or the planted mistake: over the columns where
    d is square, else the first row dropped."""
    if not wrong:
        return o.sum(d, 0)
    return o.sum(d, 1) if d.shape[0] == d.shape[1] else o.sum(d[1:], 0)


def bias_bug(name: str, d: str, shape: tuple[int, ...]) -> Bug:
    what = (f"d{name} = {d}.sum(axis=1)" if shape[0] == shape[1] else
            f"d{name} = {d}[1:].sum(axis=0)")
    return Bug("bias axis", name, what)


def dense_forward(o: NumpyOps, v: dict[str, Array]) -> Array:
    return v["x"] @ v["W"] + v["b"]


def dense_backward(o: NumpyOps, g: Array, v: dict[str, Array], bug: Bug | None
                   ) -> dict[str, Array]:
    x, W = v["x"], v["W"]
    dx = g @ W if hit(bug, "transposed factor", "x") else g @ W.T
    return {"x": dx, "W": x.T @ g, "b": bias_grad(o, g, hit(bug, "bias axis", "b"))}


def dense_bugs(rng: np.random.Generator, s: dict[str, tuple[int, ...]]) -> list[Bug]:
    (m, n), k = s["x"], s["W"][1]
    out = []
    if n == k:
        out.append(Bug("transposed factor", "x", "dx = g @ W"))
    out.append(bias_bug("b", "g", (m, k)))
    return out


def layer_backward(act: str) -> Callable[..., dict[str, Array]]:
    """tanh or relu of x@W+b."""

    def backward(o: NumpyOps, g: Array, v: dict[str, Array], bug: Bug | None
                 ) -> dict[str, Array]:
        x, W, b = v["x"], v["W"], v["b"]

        def d(name: str) -> Array:  # the gradient at the pre-activation, for one input
            a = x @ W if hit(bug, "missing term", name) else x @ W + b
            if act == "tanh":
                t = o.tanh(a)
                return g * t if hit(bug, "activation", name) else g * (1 - t**2)
            return g * (a * o.step(a)) if hit(bug, "activation", name) else g * o.step(a)

        dx = d("x") @ (W if hit(bug, "transposed factor", "x") else W.T)
        return {"x": dx, "W": x.T @ d("W"), "b": bias_grad(o, d("b"), hit(bug, "bias axis", "b"))}

    return backward


def layer_bugs(act: str) -> Callable[[np.random.Generator, dict[str, tuple[int, ...]]],
                                     list[Bug]]:
    deriv, wrong = ("(1 - tanh(a)**2)", "tanh(a)") if act == "tanh" else ("(a > 0)", "relu(a)")

    def bugs(rng: np.random.Generator, s: dict[str, tuple[int, ...]]) -> list[Bug]:
        (m, n), k = s["x"], s["W"][1]
        out = []
        if n == k:
            out.append(Bug("transposed factor", "x", "dx = d @ W"))
        name = pick(rng, ("x", "W", "b"))
        out.append(Bug("missing term", name, f"in d{name}: a = x @ W (+ b forgotten)"))
        name = pick(rng, ("x", "W", "b"))
        out.append(Bug("activation", name, f"in d{name}: g * {wrong} for g * {deriv}"))
        out.append(bias_bug("b", "d", (m, k)))
        return out

    return bugs


def tanh_forward(o: NumpyOps, v: dict[str, Array]) -> Array:
    return o.tanh(v["x"] @ v["W"] + v["b"])


def relu_forward(o: NumpyOps, v: dict[str, Array]) -> Array:
    a = v["x"] @ v["W"] + v["b"]
    return a * o.step(a)


def xent_forward(o: NumpyOps, v: dict[str, Array]) -> Array:
    return -o.sum(v["y"] * log_softmax(o, v["x"] @ v["W"] + v["b"]))


def xent_backward(o: NumpyOps, g: Array, v: dict[str, Array], bug: Bug | None
                  ) -> dict[str, Array]:
    x, W, b, y = v["x"], v["W"], v["b"], v["y"]
    z = x @ W + b
    ls = log_softmax(o, z)
    p = o.exp(ls)
    sy = o.sum(y, 1, True)  # 1 for one-hot rows

    def d(name: str) -> Array:
        if hit(bug, "missing term", name):
            return g * p * sy
        if hit(bug, "activation", name):
            return g * (p * (1 - p) * sy - y)
        return g * (p * sy - y)

    dx = d("x") @ (W if hit(bug, "transposed factor", "x") else W.T)
    dy = -g * z if hit(bug, "missing term", "y") else -g * ls
    return {"x": dx, "W": x.T @ d("W"), "b": bias_grad(o, d("b"), hit(bug, "bias axis", "b")),
            "y": dy}


def xent_bugs(rng: np.random.Generator, s: dict[str, tuple[int, ...]]) -> list[Bug]:
    (m, n), k = s["x"], s["W"][1]
    out = []
    if n == k:
        out.append(Bug("transposed factor", "x", "dx = d @ W"))
    name = pick(rng, ("x", "W", "b", "y"))
    out.append(Bug("missing term", name, "dy = -g * z (- logsumexp(z) forgotten)" if name == "y"
                   else f"in d{name}: d = g * softmax(z) (- y forgotten)"))
    name = pick(rng, ("x", "W", "b"))
    out.append(Bug("activation", name, f"in d{name}: d = g * (p * (1 - p) - y) for g * (p - y)"))
    out.append(bias_bug("b", "d", (m, k)))
    return out


def norm_forward(o: NumpyOps, v: dict[str, Array]) -> Array:
    z = v["x"] @ v["W"]
    c = z - o.mean(z, 1, True)
    return c / o.sqrt(o.mean(c * c, 1, True) + EPS)


def norm_backward(o: NumpyOps, g: Array, v: dict[str, Array], bug: Bug | None
                  ) -> dict[str, Array]:
    x, W = v["x"], v["W"]
    z = x @ W
    c = z - o.mean(z, 1, True)
    s = o.sqrt(o.mean(c * c, 1, True) + EPS)
    zh = c / s

    def dz(name: str) -> Array:
        mean_term, var_term = o.mean(g, 1, True), zh * o.mean(g * zh, 1, True)
        if hit(bug, "missing term", name):
            return (g - (var_term if bug is not None and bug.option == "mean" else mean_term)) / s
        return (g - mean_term - var_term) / s

    dx = dz("x") @ (W if hit(bug, "transposed factor", "x") else W.T)
    return {"x": dx, "W": x.T @ dz("W")}


def norm_bugs(rng: np.random.Generator, s: dict[str, tuple[int, ...]]) -> list[Bug]:
    n, k = s["W"]
    out = []
    if n == k:
        out.append(Bug("transposed factor", "x", "dx = dz @ W"))
    name = pick(rng, ("x", "W"))
    term = pick(rng, ("mean", "var"))
    out.append(Bug("missing term", name, f"in d{name}: dz = (g - " + (
        "zh * mean(g * zh)) / s (- mean(g) forgotten)" if term == "mean" else
        "mean(g)) / s (- zh * mean(g * zh) forgotten)"), term))
    return out


def mlp_forward(o: NumpyOps, v: dict[str, Array]) -> Array:
    h = sigmoid(o, v["x"] @ v["W0"] + v["b0"])
    return o.tanh(h @ v["W1"] + v["b1"])


def mlp_backward(o: NumpyOps, g: Array, v: dict[str, Array], bug: Bug | None
                 ) -> dict[str, Array]:
    x, W0, b0, W1, b1 = v["x"], v["W0"], v["b0"], v["W1"], v["b1"]
    h = sigmoid(o, x @ W0 + b0)
    t = o.tanh(h @ W1 + b1)

    def d1(name: str) -> Array:  # at the second pre-activation
        if hit(bug, "missing term", name) and name in ("W1", "b1"):
            return g * (1 - o.tanh(h @ W1) ** 2)
        if hit(bug, "activation", name) and name in ("W1", "b1"):
            return g * t
        return g * (1 - t**2)

    def d0(name: str) -> Array:  # at the first
        hh = sigmoid(o, x @ W0) if hit(bug, "missing term", name) else h
        flip = hit(bug, "transposed factor", name) and bug is not None and bug.option == "W1"
        dh = d1(name) @ (W1 if flip else W1.T)
        return dh * hh if hit(bug, "activation", name) else dh * hh * (1 - hh)

    flip = hit(bug, "transposed factor", "x") and bug is not None and bug.option == "W0"
    return {"x": d0("x") @ (W0 if flip else W0.T), "W0": x.T @ d0("W0"),
            "b0": bias_grad(o, d0("b0"), hit(bug, "bias axis", "b0")),
            "W1": h.T @ d1("W1"), "b1": bias_grad(o, d1("b1"), hit(bug, "bias axis", "b1"))}


def mlp_bugs(rng: np.random.Generator, s: dict[str, tuple[int, ...]]) -> list[Bug]:
    (m, n), k, j = s["x"], s["W0"][1], s["W1"][1]
    out = []
    if n == k:
        out.append(Bug("transposed factor", "x", "dx = d0 @ W0", "W0"))
    elif k == j:
        name = pick(rng, ("x", "W0", "b0"))
        out.append(Bug("transposed factor", name, f"in d{name}: dh = d1 @ W1", "W1"))
    name = pick(rng, ("x", "W0", "b0", "W1", "b1"))
    out.append(Bug("missing term", name, f"in d{name}: " + (
        "tanh(h @ W1) (+ b1 forgotten)" if name in ("W1", "b1") else
        "h = sigmoid(x @ W0) (+ b0 forgotten) in h * (1 - h)")))
    name = pick(rng, ("x", "W0", "b0", "W1", "b1"))
    out.append(Bug("activation", name, f"in d{name}: " + (
        "g * tanh(a1) for g * (1 - tanh(a1)**2)" if name in ("W1", "b1") else
        "dh * h for dh * h * (1 - h) (sigmoid for sigmoid')")))
    name = pick(rng, ("b0", "b1"))
    out.append(bias_bug(name, "d0" if name == "b0" else "d1", (m, k if name == "b0" else j)))
    return out


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    inputs: tuple[str, ...]
    forward: Callable[[NumpyOps, dict[str, Array]], Array]
    backward: Callable[[NumpyOps, Array, dict[str, Array], Bug | None], dict[str, Array]]
    bugs: Callable[[np.random.Generator, dict[str, tuple[int, ...]]], list[Bug]]


FAMILIES = {f.name: f for f in (
    Family("dense", "x@W+b", ("x", "W", "b"), dense_forward, dense_backward, dense_bugs),
    Family("tanh", "tanh(x@W+b)", ("x", "W", "b"), tanh_forward, layer_backward("tanh"),
           layer_bugs("tanh")),
    Family("relu", f"relu(x@W+b), |x@W+b| ≥ {KINK:g}", ("x", "W", "b"), relu_forward,
           layer_backward("relu"), layer_bugs("relu")),
    Family("xent", "-sum(y*log_softmax(x@W+b)), y one-hot (float)", ("x", "W", "b", "y"),
           xent_forward, xent_backward, xent_bugs),
    Family("layernorm", f"(z-mean(z,1))/sqrt(var(z,1)+{EPS:g}), z=x@W", ("x", "W"),
           norm_forward, norm_backward, norm_bugs),
    Family("mlp", "tanh(sigmoid(x@W0+b0)@W1+b1)", ("x", "W0", "b0", "W1", "b1"), mlp_forward,
           mlp_backward, mlp_bugs),
)}


def backward_of(f: Family, o: NumpyOps, g: Array, v: dict[str, Array], bug: Bug | None
                ) -> dict[str, Array]:
    """The family's backward, with a planted factor of 2 applied here."""
    grads = f.backward(o, g, v, bug)
    if bug is not None and bug.kind == "factor 2":
        grads[bug.input] = 2 * grads[bug.input]
    return grads


def pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return str(options[int(rng.integers(len(options)))])


# ----- the points -----

TIERS = ("tiny", "small", "16x32", "32x64", "64x128")
TIER_TITLE = {"tiny": "tiny (dims 1–4)", "small": "small (dims 5–12)",
              "16x32": "x 16×32, W 32×16", "32x64": "x 32×64, W 64×32",
              "64x128": "x 64×128, W 128×64"}
FIXED = {"16x32": (16, 32, 16), "32x64": (32, 64, 32), "64x128": (64, 128, 64)}
DRAWN = {"tiny": (1, 4), "small": (5, 12)}
# per family and tier: points, and how many of them (the first) are also
# checked in float32 (gradcheck's float32 checks take 5-10 times as long)
PLAN = {name: {"tiny": (16, 16), "small": (5, 5), "16x32": (1, 0)} for name in FAMILIES}
PLAN["tanh"] |= {"16x32": (2, 1), "32x64": (2, 0), "64x128": (1, 0)}
PLAN["mlp"] |= {"16x32": (1, 1)}
PLAN["layernorm"] |= {"16x32": (1, 1)}
QUICK_PLAN = {name: {"tiny": (1, 1)} for name in FAMILIES}
QUICK_PLAN["tanh"] |= {"16x32": (1, 0)}


@dataclass(frozen=True)
class Point:
    family: str
    tier: str
    j: int  # the point's number in its family and tier
    seed: tuple[int, ...]  # of numpy's default_rng, which drew it
    at: dict[str, np.ndarray]
    bugs: tuple[Bug, ...] = ()
    unplanted: tuple[str, ...] = ()  # bugs that change nothing at this point
    float32: bool = True  # also checked in float32

    @property
    def key(self) -> str:
        return f"{self.family}/{self.tier}/{self.j}"

    def shapes(self) -> str:
        return ", ".join(f"{n} {'×'.join(map(str, a.shape)) if a.ndim > 1 else a.shape}"
                         for n, a in self.at.items())


def dims(rng: np.random.Generator, tier: str, family: str) -> tuple[int, int, int, int]:
    """m, n, k (x m×n, W n×k) and the MLP's width j (W1 k×j)."""
    if tier in FIXED:
        m, n, k = FIXED[tier]
        return m, n, k, k // 4
    lo, hi = DRAWN[tier]
    m, n = (int(v) for v in rng.integers(lo, hi + 1, size=2))
    k_lo = max(lo, 3) if family == "layernorm" else lo
    k = n if rng.random() < 0.4 and n >= k_lo else int(rng.integers(k_lo, hi + 1))
    if rng.random() < 0.3:  # a square d: the bias summed over axis 1 has the right shape
        m = k
    j = k if rng.random() < 0.4 else int(rng.integers(lo, hi + 1))
    return m, n, k, j


def draw(family: str, tier: str, j: int, seed: int) -> Point:
    number = list(FAMILIES).index(family)
    point_seed = (seed, number, TIERS.index(tier), j)
    rng = np.random.default_rng(list(point_seed))
    m, n, k, w = dims(rng, tier, family)
    at: dict[str, np.ndarray] = {"x": rng.normal(size=(m, n))}
    if family == "mlp":
        at |= {"W0": rng.normal(size=(n, k)) / math.sqrt(n), "b0": 0.5 * rng.normal(size=k),
               "W1": rng.normal(size=(k, w)) / math.sqrt(k), "b1": 0.5 * rng.normal(size=w)}
    else:
        at["W"] = rng.normal(size=(n, k)) / math.sqrt(n)
        if family != "layernorm":
            at["b"] = 0.5 * rng.normal(size=k)
    if family == "xent":
        at["y"] = np.eye(k)[rng.integers(k, size=m)]
    if family == "relu":
        redraw_rows(rng, at, lambda a: np.abs(a).min(axis=1) >= KINK)
    if family == "layernorm":
        redraw_rows(rng, at, lambda z: z.var(axis=1) >= MIN_VAR)
    shapes = {name: a.shape for name, a in at.items()}
    f = FAMILIES[family]
    bugs = f.bugs(rng, shapes)
    bugs.append(Bug("factor 2", (name := pick(rng, f.inputs)), f"d{name} = 2 * (d{name})"))
    return Point(family, tier, j, point_seed, at, tuple(bugs))


def redraw_rows(rng: np.random.Generator, at: dict[str, np.ndarray],
                good: Callable[[np.ndarray], np.ndarray]) -> None:
    """Draw rows of x again until every row of x@W (+ b) is good."""
    for _ in range(1000):
        a = at["x"] @ at["W"] + at.get("b", 0.0)
        bad = ~good(a)
        if not bad.any():
            return
        at["x"][bad] = rng.normal(size=(int(bad.sum()), at["x"].shape[1]))
    raise RuntimeError("no point found")  # not reached with these sizes


def vet(p: Point) -> Point:
    """Keep the bugs that change their gradient at the point (by more than
    PLANTED of its largest entry) and nothing else; check the correct
    backward against torch.autograd (a false alarm must not be ours)."""
    import torch

    f, o = FAMILIES[p.family], NumpyOps(np.float64)
    rng = np.random.default_rng([*p.seed, 99])
    out_shape = np.shape(f.forward(o, p.at))
    g = rng.uniform(0.125, 1, size=out_shape) * rng.choice([-1.0, 1.0], size=out_shape)
    right = backward_of(f, o, g, p.at, None)
    tensors = {n: torch.tensor(a, requires_grad=True) for n, a in p.at.items()}
    auto = torch.autograd.grad(f.forward(TorchOps(), tensors), list(tensors.values()),
                               grad_outputs=torch.tensor(g))
    for (n, r), a in zip(right.items(), auto, strict=True):
        if np.abs(r - a.numpy()).max() > SELF_CHECK * max(np.abs(r).max(), 1.0):
            raise AssertionError(f"{p.key}: the benchmark's own backward is wrong for {n}")
    kept, dropped = [], []
    for bug in p.bugs:
        wrong = backward_of(f, o, g, p.at, bug)
        for n in f.inputs:
            if n != bug.input and not np.array_equal(wrong[n], right[n]):
                raise AssertionError(f"{p.key}: {bug.label()} also changes d{n}")
        change = np.abs(wrong[bug.input] - right[bug.input]).max()
        if change > PLANTED * np.abs(right[bug.input]).max():
            kept.append(bug)
        else:
            dropped.append(bug.label())
    return replace(p, bugs=tuple(kept), unplanted=tuple(dropped))


def generate(seed: int, quick: bool) -> list[Point]:
    plan = QUICK_PLAN if quick else PLAN
    return [replace(vet(draw(family, tier, j, seed)), float32=j < f32)
            for family, tiers in plan.items() for tier, (count, f32) in tiers.items()
            for j in range(count)]


# ----- one check -----

@dataclass(frozen=True)
class Task:
    point: Point
    api: str  # check_function (NumPy code) or check_torch (PyTorch code)
    dtype: str
    bug: Bug | None  # None: the correct backward


def numpy_code(f: Family, dtype: str, bug: Bug | None
               ) -> tuple[Callable[..., np.ndarray], Callable[..., dict[str, np.ndarray]]]:
    o = NumpyOps(np.dtype(dtype))

    def forward(**v: np.ndarray) -> np.ndarray:
        return np.asarray(f.forward(o, {n: o.cast(a) for n, a in v.items()}))

    def backward(g: np.ndarray, **v: np.ndarray) -> dict[str, np.ndarray]:
        return backward_of(f, o, o.cast(g), {n: o.cast(a) for n, a in v.items()}, bug)

    return forward, backward


def torch_code(f: Family, dtype: str, bug: Bug | None) -> Callable[..., Any]:
    """fn(*tensors) in the order of f.inputs: autograd for the correct code,
    a custom torch.autograd.Function whose backward has the bug otherwise;
    in float32, the tensors are cast with .float() first."""
    import torch

    o = TorchOps()

    class Planted(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, *args: Any) -> Any:
            ctx.save_for_backward(*args)
            return f.forward(o, dict(zip(f.inputs, args, strict=True)))

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            grads = backward_of(f, o, g, dict(zip(f.inputs, ctx.saved_tensors, strict=True)), bug)
            return tuple(grads[n] for n in f.inputs)

    def fn(*args: Any) -> Any:
        if dtype == "float32":
            args = tuple(a.float() for a in args)
        if bug is None:
            return f.forward(o, dict(zip(f.inputs, args, strict=True)))
        return Planted.apply(*args)

    return fn


def point_values(p: Point, dtype: str) -> dict[str, np.ndarray]:
    return {n: a.astype(dtype) for n, a in p.at.items()}


def crash_message(ex: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(ex.__traceback__) if "gradcheck" in f.filename]
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(ex).__name__}: {ex}{where}".replace("\n", " ")[:400]


def num(x: Any, digits: int = 10) -> str:
    return f"{x:.{digits}g}" if isinstance(x, (int, float)) else str(x)


def entry(m: Any) -> str:
    return (f"d{m.variable}{list(m.index)} upstream {m.upstream}: reference {num(m.exact)}, "
            f"backward {num(m.claimed)}, |diff| {num(m.error, 3)}, tolerance "
            f"{num(m.tolerance, 3)} ({m.bound})")


def judge(call: Callable[[], Any]) -> dict[str, Any]:
    t = time.perf_counter()
    try:
        r = call()
    except gradcheck.GradcheckError as ex:
        return {"verdict": "refused", "message": crash_message(ex),
                "seconds": time.perf_counter() - t}
    except Exception as ex:  # a crash is a finding, not the end of the run
        return {"verdict": "crash", "message": crash_message(ex),
                "seconds": time.perf_counter() - t}
    seconds = time.perf_counter() - t
    shown = r.mismatches[:2] if r.mismatches else r.undecided[:2]
    return {"verdict": r.verdict, "seconds": seconds, "evaluations": r.evaluations,
            "blamed": sorted({m.variable for m in r.mismatches}),
            "mismatches": len(r.mismatches), "undecided": len(r.undecided),
            "undecided_inputs": sorted({m.variable for m in r.undecided}),
            "kinks": [f"{n}{list(i)}" for n, i in r.kinks],
            "max_error": {n: float(v) for n, v in r.max_error.items()},
            "first": "; ".join(entry(m) for m in shown)}


def torch_gradcheck(fn: Callable[..., Any], p: Point, dtype: str, fast: bool) -> dict[str, Any]:
    import torch

    values = point_values(p, dtype)
    tensors = tuple(torch.tensor(values[n], requires_grad=True)
                    for n in FAMILIES[p.family].inputs)
    loose = LOOSE if dtype == "float32" else {}
    t = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "not double precision" (float32)
            ok = torch.autograd.gradcheck(fn, tensors, fast_mode=fast, raise_exception=False,
                                          **loose)
    except Exception as ex:
        return {"ok": None, "message": crash_message(ex), "seconds": time.perf_counter() - t}
    return {"ok": bool(ok), "seconds": time.perf_counter() - t}


def run_task(task: Task) -> dict[str, Any]:
    from gradcheck.adapters.torch import check_torch

    p, f = task.point, FAMILIES[task.point.family]
    at = point_values(p, task.dtype)
    out: dict[str, Any] = {"key": p.key, "family": p.family, "tier": p.tier, "j": p.j,
                           "seed": list(p.seed), "shapes": p.shapes(), "api": task.api,
                           "dtype": task.dtype, "bug": task.bug.__dict__ if task.bug else None}
    if task.api == "check_function":
        forward, backward = numpy_code(f, task.dtype, task.bug)
        out["gc"] = judge(lambda: gradcheck.check_function(forward, backward, at=at))
        return out
    fn = torch_code(f, task.dtype, task.bug)

    def by_name(**v: Any) -> Any:
        return fn(*(v[n] for n in f.inputs))

    out["gc"] = judge(lambda: check_torch(by_name, at=at))
    out["torch"] = torch_gradcheck(fn, p, task.dtype, fast=False)
    out["torch_fast"] = torch_gradcheck(fn, p, task.dtype, fast=True)
    return out


def start_worker() -> None:
    """One torch thread per worker (the BLAS pools are set by the parent's
    environment), and torch warmed up."""
    import torch

    torch.set_num_threads(1)
    warm = draw("tanh", "tiny", 0, 12345)
    for api in APIS:
        run_task(Task(warm, api, "float64", None))


def tasks_of(points: list[Point]) -> list[Task]:
    """Every check, the slowest tiers first (so that the workers finish together)."""
    out = [Task(p, api, dtype, bug) for p in points for dtype in DTYPES
           if dtype == "float64" or p.float32
           for bug in (None, *p.bugs) for api in APIS]
    return sorted(out, key=lambda t: -TIERS.index(t.point.tier))


# ----- the summaries -----

def outcome(r: dict[str, Any]) -> str:
    """One word for a check: pass, false alarm, undecided, caught, missed,
    wrong blame, refused or crash."""
    v = r["gc"]["verdict"]
    if v in ("refused", "crash", "undecided"):
        return v
    if r["bug"] is None:
        return "pass" if v == "pass" else "false alarm"
    if v == "pass":
        return "missed"
    return "caught" if r["bug"]["input"] in r["gc"]["blamed"] else "wrong blame"


def also_blamed(r: dict[str, Any]) -> bool:
    """A caught bug for which other inputs are blamed too."""
    return (r["bug"] is not None and r["gc"]["verdict"] == "fail"
            and bool(set(r["gc"]["blamed"]) - {r["bug"]["input"]}))


def counts(rs: list[dict[str, Any]]) -> list[Any]:
    c = Counter(outcome(r) for r in rs)
    right = [r for r in rs if r["bug"] is None]
    times = [r["gc"]["seconds"] for r in rs]
    return [len(rs), len(right), c["false alarm"], sum(outcome(r) == "undecided" for r in right),
            len(rs) - len(right), c["caught"], c["missed"],
            sum(outcome(r) == "undecided" for r in rs if r["bug"] is not None),
            c["wrong blame"], sum(map(also_blamed, rs)), c["refused"], c["crash"],
            f"{statistics.median(times):.3f}" if times else "—"]


COUNT_HEADER = ["cases", "correct", "**false alarms**", "undecided (correct)", "bugs", "caught",
                "**missed**", "undecided (bug)", "**wrong input blamed**",
                "other inputs blamed too", "refused", "**crashes**", "median s"]


def table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(x: Any) -> str:
        return str(x).replace("|", "\\|")
    return plain_table([cell(h) for h in header], [[cell(c) for c in r] for r in rows])


def ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf


def med(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3g}" if xs else "—"


def pairs(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The check_torch checks, each with check_function's time on the same
    function (same point, dtype and bug): the side by side."""
    numpy_time = {(r["key"], r["dtype"], json.dumps(r["bug"])): r["gc"]["seconds"]
                  for r in results if r["api"] == "check_function"}
    out = []
    for r in results:
        if r["api"] == "check_torch":
            out.append({**r, "np_seconds": numpy_time[(r["key"], r["dtype"],
                                                       json.dumps(r["bug"]))]})
    return out


def timing_rows(ps: list[dict[str, Any]], label: Callable[[dict[str, Any]], str]
                ) -> list[list[Any]]:
    rows = []
    for name, correct in dict.fromkeys((label(p), p["bug"] is None) for p in ps):
        group = [p for p in ps if label(p) == name and (p["bug"] is None) == correct]
        ok = [p for p in group if "message" not in p["torch"] and "message" not in p["torch_fast"]]
        rows.append([name, "correct" if correct else "planted bug", len(group),
                     med([p["np_seconds"] for p in group]),
                     med([p["gc"]["seconds"] for p in group]),
                     med([p["torch"]["seconds"] for p in group]),
                     med([p["torch_fast"]["seconds"] for p in group]),
                     med([ratio(p["np_seconds"], p["torch"]["seconds"]) for p in ok]),
                     med([ratio(p["gc"]["seconds"], p["torch"]["seconds"]) for p in ok]),
                     med([ratio(p["np_seconds"], p["torch_fast"]["seconds"]) for p in ok]),
                     med([ratio(p["gc"]["seconds"], p["torch_fast"]["seconds"]) for p in ok])])
    return rows


TIMING_HEADER = ["size", "code", "checks", "check_function s", "check_torch s", "torch default s",
                 "torch fast s", "check_function / torch default",
                 "check_torch / torch default", "check_function / torch fast",
                 "check_torch / torch fast"]


def torch_word(t: dict[str, Any], bug: Any) -> str:
    if t["ok"] is None:
        return "error"
    if bug is None:
        return "pass" if t["ok"] else "false alarm"
    return "missed" if t["ok"] else "caught"


def verdict_rows(ps: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for dtype in DTYPES:
        for correct in (True, False):
            group = [p for p in ps if p["dtype"] == dtype and (p["bug"] is None) == correct]
            if not group:
                continue
            gc = Counter(outcome(p) for p in group)
            cells = [dtype, "correct" if correct else "planted bug", len(group)]
            if correct:
                cells.append(f"{gc['pass']} pass, {gc['false alarm']} fail, "
                             f"{gc['undecided']} undecided, {gc['refused'] + gc['crash']} "
                             "refused/crashed")
            else:
                cells.append(f"{gc['caught'] + gc['wrong blame']} fail ({gc['wrong blame']} "
                             f"wrong blame), {gc['missed']} pass, {gc['undecided']} undecided, "
                             f"{gc['refused'] + gc['crash']} refused/crashed")
            for key in ("torch", "torch_fast"):
                tc = Counter(torch_word(p[key], p["bug"]) for p in group)
                cells.append(f"{tc['pass'] + tc['missed']} pass, "
                             f"{tc['false alarm'] + tc['caught']} fail"
                             + (f", {tc['error']} errors" if tc["error"] else ""))
            rows.append(cells)
    return rows


def reproducer(r: dict[str, Any], seed: int) -> str:
    return f"`python3 bench/user_code.py --seed {seed} --case {r['key']}`"


PROBLEM_KINDS = ("false alarm", "missed", "wrong blame", "crash", "refused")


def problems(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = [r for r in results if outcome(r) in PROBLEM_KINDS]
    return sorted(found, key=lambda r: (PROBLEM_KINDS.index(outcome(r)),
                                        list(FAMILIES).index(r["family"]),
                                        TIERS.index(r["tier"]), r["j"], r["dtype"], r["api"]))


def problem_row(r: dict[str, Any], seed: int) -> list[Any]:
    bug = r["bug"]
    what = "correct backward" if bug is None else f"{bug['kind']} in d{bug['input']}: " \
        f"`{bug['what']}`"
    gc = r["gc"]
    if "message" in gc:
        found = gc["message"]
    else:
        found = (f"blamed {', '.join(gc['blamed']) or 'nothing'}; {gc['mismatches']} mismatches"
                 f", {gc['undecided']} undecided; r.kinks: {', '.join(gc['kinks']) or 'none'}; "
                 "r.max_error: " + ", ".join(f"{n} {v:.3g}" for n, v in gc["max_error"].items())
                 + (f"; {gc['first']}" if gc["first"] else ""))
    return [outcome(r), r["family"], r["api"], r["dtype"], r["shapes"], what,
            f"[{', '.join(map(str, r['seed']))}]", reproducer(r, seed), found]


def report(res: dict[str, Any]) -> str:
    m, results, seed = res["machine"], res["results"], res["seed"]
    families, points = list(FAMILIES), res["points"]
    main_rows = []
    for family in families:
        for dtype in DTYPES:
            rs = [r for r in results if r["family"] == family and r["dtype"] == dtype]
            if rs:
                main_rows.append([family, dtype, *counts(rs)])
    for dtype in DTYPES:
        main_rows.append(["**all**", dtype, *counts([r for r in results
                                                         if r["dtype"] == dtype])])
    main_rows.append(["**all**", "both", *counts(results)])
    api_rows = [[api, dtype, *counts([r for r in results if r["api"] == api
                                      and r["dtype"] == dtype])]
                for api in APIS for dtype in DTYPES]
    bug_rows = [[kind, dtype, *counts([r for r in results if r["bug"] is not None
                                       and r["bug"]["kind"] == kind and r["dtype"] == dtype])[4:]]
                for kind in BUG_KINDS for dtype in DTYPES]
    tier_rows = [[TIER_TITLE[tier], dtype, *counts(rs)] for tier in TIERS for dtype in DTYPES
                 if (rs := [r for r in results if r["tier"] == tier and r["dtype"] == dtype])]
    ps = pairs(results)
    by_size = sorted(ps, key=lambda p: (DTYPES.index(p["dtype"]), TIERS.index(p["tier"])))
    tanh = [p for p in by_size if p["family"] == "tanh"]
    found = problems(results)
    kinds = Counter(outcome(r) for r in found)
    groups = Counter((outcome(r), r["family"], r["api"], r["dtype"],
                      "correct" if r["bug"] is None else r["bug"]["kind"]) for r in found)
    unplanted = Counter(label.split(" in ")[0] for p in points for label in p.unplanted)
    messages = Counter(f"{outcome(r)}: {r['gc']['message']}" for r in found
                       if "message" in r["gc"])
    torch_errors = Counter(p[k]["message"] for p in ps for k in ("torch", "torch_fast")
                           if "message" in p[k])
    total = Counter(outcome(r) for r in results)
    undecided: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in results:
        if outcome(r) == "undecided":
            code = "correct" if r["bug"] is None else r["bug"]["kind"]
            undecided.setdefault((r["family"], r["api"], r["dtype"], code), []).append(r)
    plan = QUICK_PLAN if res["quick"] else PLAN
    plan_text = "; ".join(f"{f}: " + ", ".join(
        f"{n} {TIER_TITLE[t].split(' (')[0]}" + (f" ({f32} also in float32)" if 0 < f32 < n
                                                   else "" if f32 else " (float64 only)")
        for t, (n, f32) in tiers.items()) for f, tiers in plan.items())
    return "\n".join([
        "# gradcheck on users' own backward passes", "",
        f"Generated by `bench/user_code.py{' --quick' if res['quick'] else ''}` (seed {seed}, "
        f"{res['jobs']} worker processes) on {m['date']} in {res['seconds']:.1f} s. Every "
        "number below is what this run measured.", "",
        "## Machine and versions", "",
        f"- CPU: {m['cpu']}; {m['cpu_count']} logical CPUs, {m['usable_cores']} usable",
        f"- OS: {m['os']}",
        f"- Python {m['python']}, NumPy {m['numpy']}, PyTorch {res['torch']}",
        f"- gradcheck {m['gradcheck']} at commit {m['commit']}"
        + (f" at the end of the run, {res['commit']} at its start" if res["commit"] != m["commit"]
           else "")
        + (f"; **uncommitted changes** when the run started: {res['dirty']}" if res["dirty"]
           else "; no uncommitted changes when the run started"),
        f"- the sources gradcheck/**/*.py hashed (SHA-256, first 12 digits) {res['source'][0]} "
        f"when the run started and {res['source'][1]} when it ended"
        + (" (**they changed during the run**; each process checks with the version it "
           "imported when it started)"
           if res["source"][0] != res["source"][1] else " (unchanged)"),
        f"- each worker: one BLAS thread ({', '.join(THREAD_VARS)} = 1), "
        "`torch.set_num_threads(1)`; load average (1 min) "
        f"{res['load'][0]:.2f} at the start and {res['load'][1]:.2f} at the end (other "
        "processes on the machine share its cores and slow every check alike)", "",
        "## What is measured", "",
        f"{len(points)} points ({plan_text}); at each, the correct backward and every planted "
        "bug that changes its gradient at the point, each checked by "
        "`gradcheck.check_function` (NumPy code, hand-written backward) and by `check_torch` "
        "(PyTorch code: autograd for the correct code, a custom `torch.autograd.Function` with "
        "the buggy backward for a bug), in float64 and, at the points said, in float32. "
        "A *case* is one such check, with gradcheck's defaults (`rtol=1e-7`, "
        "`atol=0`, 3 upstreams, `method='auto'`).", "",
        "- Families: " + "; ".join(f"`{f.name}`: {f.title} (inputs {', '.join(f.inputs)})"
                                   for f in FAMILIES.values())
        + ". Values: x ~ N(0, 1), W ~ N(0, 1/n), b ~ N(0, 0.25); ReLU rows of x drawn "
        f"again until |x@W+b| ≥ {KINK:g}; layer-norm rows until var(z) ≥ {MIN_VAR:g}. "
        "Tiny and small shapes are drawn (W square with probability 0.4, x with as many rows "
        "as W has columns with probability 0.3); the MLP's W1 is k×k/4 at the fixed sizes.",
        "- Planted bugs (each changes one input's gradient; the benchmark checks that it "
        "changes nothing else, and that the correct NumPy backward agrees with "
        f"torch.autograd to {SELF_CHECK:g}): transposed factor (`dx = d @ W` where W is "
        "square; in the MLP W1 where W1 is square), missing term (the bias left out of the "
        "recomputed pre-activation; in cross-entropy the `- y` or the log-sum-exp; in the "
        "layer norm one of its two mean terms), activation (the activation for its "
        "derivative: tanh for 1-tanh², relu for the step, sigmoid for sigmoid', p(1-p) for "
        "p in softmax), bias axis (`d.sum(axis=1)` where d is square, else the first row "
        "dropped), factor 2. Planted only where it changes that gradient by more than "
        f"{PLANTED:g} of its largest entry for a random upstream: "
        + (", ".join(f"{n} {k}" for k, n in unplanted.items()) or "none")
        + " left out for changing nothing.",
        "- Outcomes: correct code — `fail` is a **false alarm**, `undecided` counted apart; "
        "planted bug — `pass` is **missed**, `fail` is *caught* when the blamed inputs "
        "(`{m.variable for m in r.mismatches}`) contain the input with the bug, else a "
        "**wrong input blamed**; *other inputs blamed too*: caught, but also blaming inputs "
        "whose gradient is right. *Refused*: a GradcheckError; **crash**: any other "
        "exception. Times are wall clock per check.", "",
        "## Results by family and dtype", "",
        table(["family", "dtype", *COUNT_HEADER], main_rows), "",
        f"**Totals**: {len(results)} cases: {total['false alarm']} false alarms, "
        f"{total['undecided']} undecided, {total['missed']} missed bugs, "
        f"{total['wrong blame']} wrong blames, {total['crash']} crashes, "
        f"{total['refused']} refused.", "",
        "By API:", "",
        table(["API", "dtype", *COUNT_HEADER], api_rows), "",
        "By size:", "",
        table(["size", "dtype", *COUNT_HEADER], tier_rows), "",
        "By kind of bug:", "",
        table(["bug", "dtype", *COUNT_HEADER[4:]], bug_rows), "",
        "## Side by side with torch.autograd.gradcheck", "",
        "The same PyTorch functions as `check_torch` (float64: default settings, and "
        "`fast_mode=True`; float32: float32 inputs, "
        + ", ".join(f"{k}={v:g}" for k, v in LOOSE.items())
        + ", default and fast mode), with `raise_exception=False`. "
        "*check_function s* is the NumPy version of the same function, point and bug.", "",
        "Verdicts:", "",
        table(["dtype", "code", "checks", "gradcheck (check_torch)", "torch default",
               "torch fast_mode"], verdict_rows(ps)), "",
        "Median time per check, and the median of the per-check ratios, by size "
        "(all families):", "",
        table(["dtype", *TIMING_HEADER],
              [[dtype, *row] for dtype in DTYPES for row in timing_rows(
                  [p for p in by_size if p["dtype"] == dtype],
                  lambda p: TIER_TITLE[p["tier"]])]), "",
        "The tanh layer alone (b of shape (W.shape[1],)):", "",
        table(["dtype", *TIMING_HEADER],
              [[dtype, *row] for dtype in DTYPES for row in timing_rows(
                  [p for p in tanh if p["dtype"] == dtype], lambda p: TIER_TITLE[p["tier"]])]),
        "",
        *(["torch.autograd.gradcheck raised (counted as *errors*): "
           + "; ".join(f"{n}× {msg}" for msg, n in torch_errors.most_common()), ""]
          if torch_errors else []),
        "## Every false alarm, missed bug, wrong blame, crash and refusal", "",
        (f"{len(found)} found" + (f" ({', '.join(f'{v} {k}' for k, v in kinds.items())})"
                                  if found else "")
         + (f", the first {LISTED} listed" if len(found) > LISTED else "")
         + ". The reproducer re-runs every check of the point (its shapes and values are drawn "
           "by `numpy.random.default_rng(seed)` in `draw`) and prints gradcheck's report of "
           "each. *r.kinks*: the entries gradcheck declared not differentiable (not judged); "
           f"every family but relu is smooth, and every ReLU pre-activation is ≥ {KINK:g} from "
           "0. *r.max_error*: gradcheck's largest |backward − reference| per input."), "",
        *([table(["what", "family", "API", "dtype", "shapes", "backward", "seed", "reproducer",
                  "what gradcheck said"],
                 [problem_row(r, seed) for r in found[:LISTED]]), "",
           "All of them, counted:", "",
           table(["what", "family", "API", "dtype", "code", "checks"],
                 [[*k, v] for k, v in sorted(groups.items())]), ""] if found else []),
        "## Undecided checks", "",
        *([table(["family", "API", "dtype", "code", "checks", "points (reproduce with --case)",
                  "first undecided entries"],
                 [[*k, len(v), ", ".join(dict.fromkeys(r["key"] for r in v)),
                   v[0]["gc"]["first"]] for k, v in undecided.items()]), ""]
          if undecided else ["None.", ""]),
        *(["Messages:", "", table(["message", "checks"],
                                  [[k, v] for k, v in messages.most_common()]), ""]
          if messages else []),
    ])


def summary(res: dict[str, Any]) -> str:
    total = Counter(outcome(r) for r in res["results"])
    return (f"{len(res['results'])} cases at {len(res['points'])} points in "
            f"{res['seconds']:.1f} s: {total['false alarm']} false alarms, {total['undecided']} "
            f"undecided, {total['missed']} missed, {total['wrong blame']} wrong blame, "
            f"{total['crash']} crashes, {total['refused']} refused")


def source_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted((HERE.parent / "gradcheck").rglob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def dirty() -> str:
    """The paths with uncommitted changes, or ''."""
    out = subprocess.run(["git", "status", "--porcelain"], cwd=HERE.parent,
                         capture_output=True, text=True).stdout
    return ", ".join(line[3:] for line in out.splitlines())


def show_case(key: str, seed: int) -> None:
    """Re-run every check of one point, and print each with gradcheck's report."""
    from gradcheck.adapters.torch import check_torch

    family, tier, j = key.split("/")
    p = vet(draw(family, tier, int(j), seed))
    f = FAMILIES[family]
    print(f"{p.key}: seed {list(p.seed)}; {p.shapes()}")
    for n, a in p.at.items():
        print(f"{n} = {json.dumps(a.tolist()) if a.size <= 64 else '(' + str(a.size) + ' values)'}")
    for t in tasks_of([p]):
        r = run_task(t)
        code = f"{t.bug.label()}: {t.bug.what}" if t.bug else "correct"
        print(f"\n== {t.api}, {t.dtype}, {code}: {outcome(r)} "
              f"({r['gc'].get('message', r['gc']['verdict'])})")
        if "torch" in r:
            print(f"   torch.autograd.gradcheck: {r['torch']}, fast_mode: {r['torch_fast']}")
        at = point_values(p, t.dtype)
        if "message" in r["gc"]:
            continue
        if t.api == "check_function":
            forward, backward = numpy_code(f, t.dtype, t.bug)
            print(gradcheck.check_function(forward, backward, at=at))
        else:
            fn = torch_code(f, t.dtype, t.bug)

            def by_name(fn: Callable[..., Any] = fn, **v: Any) -> Any:
                return fn(*(v[n] for n in f.inputs))

            print(check_torch(by_name, at=at))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about 120 cases instead of 2,500")
    parser.add_argument("--seed", type=int, default=0, help="base seed of every point")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parser.add_argument("--jobs", type=int, default=usable or 1, help="worker processes")
    parser.add_argument("--out", type=Path, default=HERE / "user_code.md", help="the report")
    parser.add_argument("--json", type=Path, help="also write every check here")
    parser.add_argument("--case", help="re-run one point, FAMILY/TIER/J, and print its checks")
    args = parser.parse_args(argv)
    if args.case:
        show_case(args.case, args.seed)
        return
    import torch

    start, source, changed = time.perf_counter(), source_hash(), dirty()
    load, commit = os.getloadavg()[0], machine()["commit"]
    points = generate(args.seed, args.quick)
    tasks = tasks_of(points)
    print(f"{len(points)} points, {len(tasks)} checks", file=sys.stderr, flush=True)
    for var in THREAD_VARS:  # read by the workers' BLAS when they start
        os.environ[var] = "1"
    results: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=args.jobs, initializer=start_worker,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        for i, r in enumerate(pool.map(run_task, tasks, chunksize=1)):
            results.append(r)
            if (i + 1) % max(1, len(tasks) // 20) == 0:
                print(f"  {i + 1}/{len(tasks)} checks, {time.perf_counter() - start:.0f} s",
                      file=sys.stderr, flush=True)
    order = {p.key: i for i, p in enumerate(points)}
    results.sort(key=lambda r: (order[r["key"]], DTYPES.index(r["dtype"]),
                                json.dumps(r["bug"]), r["api"]))
    res = {"machine": machine(), "torch": torch.__version__, "dirty": changed,
           "source": (source, source_hash()), "load": (load, os.getloadavg()[0]),
           "commit": commit,
           "results": results, "points": points, "quick": args.quick, "seed": args.seed,
           "jobs": args.jobs, "seconds": time.perf_counter() - start}
    args.out.write_text(report(res))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    print(summary(res))
    for r in problems(results)[:LISTED]:
        print("- " + " | ".join(map(str, problem_row(r, args.seed))))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

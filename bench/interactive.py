"""Interactive benchmark (issue #14, "every small check answers at once"): the
checks people do by hand, 2×2 to 16×16, each with a right and a wrong claim.
Writes bench/interactive.md.

For every problem (dense layers, two- and three-layer networks, softmax
cross-entropy, logistic and least-squares losses, quadratic and trace forms,
inv, det, logdet, norms, elementwise chains) it

- asserts the verdicts: the right claim passes (``result.passed``, CLI exit
  code 0) and the wrong claim fails (``result.verdict == "fail"``, exit
  code 1), with every engine in process and with the default one on the CLI;
- times the CLI end to end on the right claim (median of 3 subprocesses),
  ``gradcheck.check`` in process per engine (after a warm-up), and
  ``torch.autograd.gradcheck`` on the same function in float64 (median of 3,
  after a warm-up);
- measures ``python -c "import numpy"`` (median of 5) as the floor of any
  command, in the same run, and states CLI times as ratios against it.

Run from the repository root: ``python3 bench/interactive.py`` (under 10
minutes on two cores). ``--quick`` runs 6 problems with one
repetition each and prints the report instead of writing it (unless ``--out``
is given); ``--problems NAME ...`` picks problems. Each in-process
measurement runs in its own subprocess (``python3 bench/interactive.py --one
PROBLEM ENGINE``) with a wall-clock timeout. The script exits with code 1
when a verdict is not the expected one (after writing the report).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "interactive.md"

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
CLI_REPEAT = 3  # CLI runs of the right claim per problem (median)
TORCH_REPEAT = 3  # torch.autograd.gradcheck calls per problem (median)
FLOOR_REPEAT = 5  # `python -c "import numpy"` runs (median)
BUDGET = 10.0  # gradcheck's timeout= per check in process (a LimitError past it)
TIMEOUT = 60.0  # wall-clock seconds per subprocess (a measurement is "timeout" past it)
CLI_TIMEOUT = 60.0  # wall-clock seconds per CLI run
SLOW = 5.0  # an engine whose right-claim check took longer is not timed on the wrong claim
# The exact engines: read from `gradcheck check --help` (--engine [auto|sympy|...]) at the
# start of a run, these if it cannot be read. The default engine is read there too.
ENGINES = ("auto", "sympy", "closed")
DEFAULT_ENGINE = "auto"
QUICK = ("issue-dense-sigmoid", "issue-two-layer", "issue-trace-inv", "ce-softmax",
         "trace-AXB", "exp-sin")

# The targets of issue #14.
IN_PROCESS_MAX = 0.1  # s, every problem, default engine, after warm-up
IN_PROCESS_MEDIAN = 0.02  # s, median over the problems
TWO_LAYER_MAX = 0.1  # s, the two-layer net
SEED_RATIO = 2.0  # the README's first command, against the numpy floor
CLI_RATIO = 3.0  # every problem on the CLI, against the numpy floor
TWO_LAYER = "issue-two-layer"

# The warm-up before the measured calls, in every in-process measurement: two
# checks of expressions of their own (not the problem's, so that nothing the
# problem alone needs is prepared), 2×2: one with every function the problems
# use and no claim, one with a wrong claim (the diagnosis of a wrong claim).
# (A wrong claim on the first would make the sympy engine's diagnosis take 5 s.)
WARMUP = (
    ("sum(softplus(X@W) + relu(X) + tanh(X) + σ(X) + exp(sin(X))*X + sqrt(X**2+1) "
     "+ log_softmax(X) + log(softmax(X))) + logdet(X) + det(X) + trace(inv(X)@W) "
     "+ norm(X) + mean(X) + sum(X, 0)@ones(2, 1) + sum(step(X))", None),
    ("sum(σ(X@W))", "X"),
)
WARMUP_AT = {"X": "[[2, 0.5], [0.25, 1.5]]"}
WARMUP_SHAPES = {"W": "2x2"}


class Problem(NamedTuple):
    name: str
    expr: str  # gradcheck's language
    lets: tuple[tuple[str, str], ...]  # NAME, shape ("4x3", drawn at random) or value
    wrt: str
    right: str  # the derivative, derived by hand
    wrong: str  # a realistic mistake
    mistake: str  # what the wrong claim gets wrong
    torch: str  # the same function in PyTorch (torch, F = torch.nn.functional)


def lets(text: str) -> tuple[tuple[str, str], ...]:
    """``"x=4x3 W=3x5"`` as ((x, 4x3), (W, 3x5)); values contain no spaces."""
    pairs = (item.split("=", 1) for item in text.split())
    return tuple((name, value) for name, value in pairs)


ONE_HOT_4x5 = "[[1,0,0,0,0],[0,0,1,0,0],[0,0,0,0,1],[0,1,0,0,0]]"
ONE_HOT_6x3 = "[[1,0,0],[0,1,0],[0,0,1],[0,1,0],[1,0,0],[0,0,1]]"
ONE_HOT_2x16 = ("[[" + ",".join("1" if j == 3 else "0" for j in range(16)) + "],["
                + ",".join("1" if j == 11 else "0" for j in range(16)) + "]]")
SIGNS_8 = "[[1],[-1],[-1],[1],[1],[-1],[1],[-1]]"
SIGNS_16 = "[" + ",".join("[1]" if (i * 7) % 3 else "[-1]" for i in range(16)) + "]"

# σ(·) as written in claims, and its derivative
S1 = "σ(x@W+b)"
S2 = f"{S1}*(1-{S1})"
TT = "tanh(tanh(x@W1+b1)@W2+b2)"  # the two-layer net's output layer
H3 = "σ(softplus(x@W1+b1)@W2+b2)"  # the three-layer net's second hidden layer
T3 = "tanh(tanh(tanh(x@W1)@W2)@W3)"
S16 = "σ(x@W1+b1)"
O16 = f"tanh({S16}@W2+b2)"

PROBLEMS: tuple[Problem, ...] = (
    # ----- dense layers -----
    Problem("issue-dense-sigmoid", "sum(sigmoid(x@W + b))", lets("x=4x3 W=3x5 b=1x5"), "W",
            f"x.T@({S2})", f"x.T@{S1}", "σ for σ′",
            "torch.sigmoid(x@W + b).sum()"),
    Problem("dense-sigmoid-b", "sum(σ(x@W + b))", lets("x=6x4 W=4x3 b=1x3"), "b",
            f"ones(1,6)@({S2})", f"sum({S2})*ones(1,3)", "summed over every entry, not by column",
            "torch.sigmoid(x@W + b).sum()"),
    Problem("dense-sigmoid-16", "sum(σ(x@W + b))", lets("x=16x16 W=16x16 b=1x16"), "W",
            f"x.T@({S2})", f"({S2}).T@x", "missing transpose",
            "torch.sigmoid(x@W + b).sum()"),
    Problem("dense-tanh", "sum(tanh(x@W + b))", lets("x=8x4 W=4x6 b=1x6"), "W",
            "x.T@(1-tanh(x@W+b)**2)", "x.T@(1-tanh(x@W+b))**2", "(1-t)² for 1-t²",
            "torch.tanh(x@W + b).sum()"),
    Problem("dense-tanh-x", "sum(tanh(x@W))", lets("x=3x3 W=3x3"), "x",
            "(1-tanh(x@W)**2)@W.T", "(1-tanh(x@W)**2)@W", "missing transpose",
            "torch.tanh(x@W).sum()"),
    Problem("dense-relu", "sum(relu(x@W + b))", lets("x=6x4 W=4x4 b=1x4"), "W",
            "x.T@step(x@W+b)", "x.T@relu(x@W+b)", "relu for relu′",
            "torch.relu(x@W + b).sum()"),
    Problem("dense-softplus", "sum(softplus(x@W + b))", lets("x=5x3 W=3x4 b=1x4"), "b",
            "ones(1,5)@σ(x@W+b)", f"ones(1,5)@({S2})", "σ′ for σ",
            "F.softplus(x@W + b).sum()"),
    # ----- two-layer networks -----
    Problem(TWO_LAYER, "sum(tanh(tanh(x@W1+b1)@W2+b2))",
            lets("x=8x4 W1=4x6 b1=1x6 W2=6x3 b2=1x3"), "W1",
            f"x.T@(((1-{TT}**2)@W2.T)*(1-tanh(x@W1+b1)**2))", f"x.T@((1-{TT}**2)@W2.T)",
            "missing the inner tanh′",
            "torch.tanh(torch.tanh(x@W1 + b1)@W2 + b2).sum()"),
    Problem("two-layer-sigmoid-relu", "sum(relu(σ(x@W1)@W2))", lets("x=6x5 W1=5x4 W2=4x3"), "W1",
            "x.T@((step(σ(x@W1)@W2)@W2.T)*σ(x@W1)*(1-σ(x@W1)))",
            "x.T@((step(σ(x@W1)@W2)@W2.T)*σ(x@W1))", "σ for σ′",
            "torch.relu(torch.sigmoid(x@W1)@W2).sum()"),
    Problem("two-layer-16", "sum(tanh(σ(x@W1+b1)@W2+b2))",
            lets("x=16x16 W1=16x16 b1=1x16 W2=16x16 b2=1x16"), "W1",
            f"x.T@(((1-{O16}**2)@W2.T)*{S16}*(1-{S16}))",
            f"x.T@(((1-{O16}**2)@W2)*{S16}*(1-{S16}))", "missing transpose",
            "torch.tanh(torch.sigmoid(x@W1 + b1)@W2 + b2).sum()"),
    # ----- three-layer networks -----
    Problem("issue-three-layer", "sum(σ(softplus(x@W1+b1)@W2+b2)@W3)",
            lets("x=5x3 W1=3x4 b1=1x4 W2=4x3 b2=1x3 W3=3x2"), "W1",
            f"x.T@((((ones(5,2)@W3.T)*{H3}*(1-{H3}))@W2.T)*σ(x@W1+b1))",
            f"x.T@((((ones(5,2)@W3.T)*{H3}*(1-{H3}))@W2.T)*softplus(x@W1+b1))",
            "softplus for softplus′",
            "(torch.sigmoid(F.softplus(x@W1 + b1)@W2 + b2)@W3).sum()"),
    Problem("three-layer-tanh", "sum(tanh(tanh(tanh(x@W1)@W2)@W3))",
            lets("x=6x5 W1=5x8 W2=8x8 W3=8x2"), "W2",
            f"tanh(x@W1).T@(((1-{T3}**2)@W3.T)*(1-tanh(tanh(x@W1)@W2)**2))",
            f"tanh(x@W1).T@((1-{T3}**2)@W3.T)", "missing the middle tanh′",
            "torch.tanh(torch.tanh(torch.tanh(x@W1)@W2)@W3).sum()"),
    # ----- softmax cross-entropy (one-hot labels y) -----
    Problem("ce-softmax", "-sum(y*log(softmax(z)))", (("z", "4x5"), ("y", ONE_HOT_4x5)), "z",
            "softmax(z)-y", "y-softmax(z)", "wrong sign",
            "-(y*torch.log(torch.softmax(z, 1))).sum()"),
    Problem("ce-linear", "-sum(y*log(softmax(x@W)))",
            (("x", "6x4"), ("W", "4x3"), ("y", ONE_HOT_6x3)), "W",
            "x.T@(softmax(x@W)-y)", "x.T@softmax(x@W)", "missing -y",
            "-(y*torch.log(torch.softmax(x@W, 1))).sum()"),
    Problem("ce-log-softmax", "-sum(y*log_softmax(z))", (("z", "2x16"), ("y", ONE_HOT_2x16)),
            "z", "softmax(z)-y", "exp(z)/sum(exp(z))-y", "normalised over all rows",
            "-(y*torch.log_softmax(z, 1)).sum()"),
    # ----- logistic losses (labels ±1) -----
    Problem("logistic", "sum(log(1+exp(-y*(X@w))))", (("X", "8x3"), ("w", "3x1"), ("y", SIGNS_8)),
            "w", "-X.T@(y*σ(-y*(X@w)))", "X.T@(y*σ(-y*(X@w)))", "wrong sign",
            "torch.log(1 + torch.exp(-y*(X@w))).sum()"),
    Problem("logistic-mean-16", "mean(softplus(-y*(X@w)))",
            (("X", "16x8"), ("w", "8x1"), ("y", SIGNS_16)), "w",
            "-X.T@(y*σ(-y*(X@w)))/16", "-X.T@(y*σ(-y*(X@w)))", "missing 1/n of the mean",
            "F.softplus(-y*(X@w)).mean()"),
    # ----- least squares -----
    Problem("lsq", "sum((A@x-b)**2)", lets("A=5x3 x=3x1 b=5x1"), "x",
            "2*A.T@(A@x-b)", "A.T@(A@x-b)", "missing factor 2",
            "((A@x - b)**2).sum()"),
    Problem("lsq-matrix", "norm(A@X-B)**2", lets("A=4x4 X=4x4 B=4x4"), "X",
            "2*A.T@(A@X-B)", "2*A@(A@X-B)", "missing transpose",
            "torch.linalg.norm(A@X - B)**2"),
    Problem("ridge-16", "sum((X@w-y)**2) + 0.5*sum(w**2)", lets("X=16x16 w=16x1 y=16x1"), "w",
            "2*X.T@(X@w-y)+w", "2*X.T@(X@w-y)+0.5*w", "½‖w‖² differentiated to ½w",
            "((X@w - y)**2).sum() + 0.5*(w**2).sum()"),
    # ----- quadratic and trace forms -----
    Problem("quadratic", "x.T@A@x", lets("x=4x1 A=4x4"), "x",
            "(A+A.T)@x", "2*A@x", "A taken as symmetric",
            "x.T@A@x"),
    Problem("quadratic-A", "x.T@A@x", lets("x=2x1 A=2x2"), "A",
            "x@x.T", "2*x@x.T", "spurious factor 2",
            "x.T@A@x"),
    Problem("trace-AXB", "trace(A@X@B)", lets("A=6x6 X=6x6 B=6x6"), "X",
            "A.T@B.T", "B@A", "missing transpose",
            "torch.trace(A@X@B)"),
    Problem("trace-XtAX", "trace(X.T@A@X)", lets("X=8x3 A=8x8"), "X",
            "(A+A.T)@X", "2*A@X", "A taken as symmetric",
            "torch.trace(X.T@A@X)"),
    Problem("bilinear-16", "y.T@X@z", lets("y=16x1 X=16x16 z=16x1"), "X",
            "y@z.T", "z@y.T", "missing transpose",
            "y.T@X@z"),
    # ----- inv, det, logdet (points where they are defined: drawn by gradcheck) -----
    Problem("issue-trace-inv", "trace(inv(X)@A)", lets("X=4x4 A=4x4"), "X",
            "-(inv(X)@A@inv(X)).T", "-inv(X)@A@inv(X)", "missing transpose",
            "torch.trace(torch.linalg.inv(X)@A)"),
    Problem("issue-logdet", "logdet(X)", lets("X=8x8"), "X",
            "inv(X).T", "inv(X)", "missing transpose",
            "torch.logdet(X)"),
    Problem("issue-sum-inv", "sum(inv(X))", lets("X=5x5"), "X",
            "-inv(X).T@ones(5,5)@inv(X).T", "-inv(X)@ones(5,5)@inv(X)", "missing transposes",
            "torch.linalg.inv(X).sum()"),
    Problem("issue-bilinear-inv", "a.T @ inv(X) @ b", lets("a=5x1 X=5x5 b=5x1"), "X",
            "-inv(X).T@a@b.T@inv(X).T", "inv(X).T@a@b.T@inv(X).T", "wrong sign",
            "a.T@torch.linalg.inv(X)@b"),
    Problem("det", "det(X)", lets("X=3x3"), "X",
            "det(X)*inv(X).T", "det(X)*inv(X)", "missing transpose",
            "torch.linalg.det(X)"),
    Problem("det-AX", "det(A@X)", lets("A=2x2 X=2x2"), "X",
            "det(A@X)*inv(X).T", "det(A@X)*inv(A@X).T", "chain rule through A dropped",
            "torch.linalg.det(A@X)"),
    Problem("logdet-gram", "logdet(X@X.T + eye(6))", lets("X=6x6"), "X",
            "2*inv(X@X.T+eye(6))@X", "inv(X@X.T+eye(6))@X", "missing factor 2",
            "torch.logdet(X@X.T + torch.eye(6, dtype=torch.float64))"),
    # ----- Frobenius norms -----
    Problem("norm", "norm(X)", lets("X=6x4"), "X",
            "X/norm(X)", "2*X", "the gradient of ‖X‖² instead",
            "torch.linalg.norm(X)"),
    Problem("sum-squares-16", "sum(X**2)", lets("X=16x16"), "X",
            "2*X", "X", "missing factor 2",
            "(X**2).sum()"),
    # ----- elementwise chains -----
    Problem("exp-sin", "exp(sin(x))*x", lets("x=4x4"), "x",
            "exp(sin(x))*(x*cos(x)+1)", "exp(sin(x))*cos(x)*x", "product rule: a term missing",
            "torch.exp(torch.sin(x))*x"),
    Problem("tanh-sq", "tanh(x)**2", lets("x=8x8"), "x",
            "2*tanh(x)*(1-tanh(x)**2)", "2*tanh(x)", "inner derivative missing",
            "torch.tanh(x)**2"),
    Problem("sqrt", "sum(sqrt(x**2+1))", lets("x=2x2"), "x",
            "x/sqrt(x**2+1)", "1/(2*sqrt(x**2+1))", "inner derivative missing",
            "torch.sqrt(x**2 + 1).sum()"),
)
PROBLEM = {p.name: p for p in PROBLEMS}
SHAPE = re.compile(r"^\d+[x×]\d+$")


def point_args(p: Problem) -> tuple[dict[str, str], dict[str, str]]:
    """(at, shapes) for gradcheck.check: the values and the shapes drawn at random."""
    at = {n: v for n, v in p.lets if not SHAPE.match(v)}
    shapes = {n: v for n, v in p.lets if SHAPE.match(v)}
    return at, shapes


def sizes(p: Problem) -> str:
    out = []
    for n, v in p.lets:
        shape = v.replace("x", "×") if SHAPE.match(v) else "×".join(
            str(k) for k in (v.count("[") - 1 or 1, v.split("]")[0].count(",") + 1))
        out.append(f"{n} {shape}")
    return ", ".join(out)


# ----- in-process measurements, each in a subprocess of its own -----

def emit(**fields: Any) -> None:
    print("RESULT " + json.dumps(fields), flush=True)


def verdict_of(r: Any) -> str:
    return str(r.verdict)


def one_gradcheck(p: Problem, engine: str) -> None:
    """Warm up, then time gradcheck.check on the right claim, then on the wrong one."""
    import gradcheck

    at, shapes = point_args(p)
    for expr, claim in WARMUP:  # one-time initialisation (imports, parser, engine)
        try:
            gradcheck.check(expr, wrt="X", at=WARMUP_AT, shapes=WARMUP_SHAPES, expect=claim,
                            engine=engine, timeout=BUDGET)
        except Exception as ex:  # reported; the measured calls show it again
            emit(claim="warmup", status="error",
                 detail=f"{type(ex).__name__}: {ex}".strip().splitlines()[-1][:300])
    for claim in ("right", "wrong"):
        start = time.perf_counter()
        try:
            r = gradcheck.check(p.expr, wrt=p.wrt, at=at, shapes=shapes,
                                expect=getattr(p, claim), engine=engine, timeout=BUDGET)
        except gradcheck.LimitError as ex:  # the time budget, or a size limit (--max-terms)
            detail = str(ex).splitlines()[0][:300]
            emit(claim=claim, status="budget" if "time budget" in detail else "limit",
                 seconds=time.perf_counter() - start, detail=detail)
            return
        except Exception as ex:  # reported, never hidden
            emit(claim=claim, status="error", seconds=time.perf_counter() - start,
                 detail=f"{type(ex).__name__}: {ex}".strip().splitlines()[-1][:300])
            continue
        seconds = time.perf_counter() - start
        emit(claim=claim, status="ok", seconds=seconds, verdict=verdict_of(r),
             used=str(r[p.wrt].engine))
        if claim == "right" and seconds > SLOW:
            return


def one_torch(p: Problem, repeat: int) -> None:
    """torch.autograd.gradcheck of the same function by the same variable at the
    same point (read from gradcheck's result), float64; median of ``repeat``."""
    import torch
    import torch.nn.functional as F

    import gradcheck

    torch.set_num_threads(THREADS)
    at, shapes = point_args(p)
    point = gradcheck.check(p.expr, wrt=p.wrt, at=at, shapes=shapes, engine="closed").point
    env = {n: torch.tensor(v, dtype=torch.float64) for n, v in point.items()}
    code = compile(p.torch, p.name, "eval")

    def fn(w: Any) -> Any:
        return eval(code, {"torch": torch, "F": F}, {**env, p.wrt: w})

    w = env[p.wrt].clone().requires_grad_(True)
    times = []
    ok = True
    for i in range(1 + repeat):  # the first call is the warm-up
        start = time.perf_counter()
        try:
            ok &= torch.autograd.gradcheck(fn, (w,)) is True
        except RuntimeError as ex:  # torch.autograd.gradcheck.GradcheckError
            emit(claim="torch", status="error", detail=str(ex).splitlines()[0][:300])
            return
        if i:
            times.append(time.perf_counter() - start)
    emit(claim="torch", status="ok", seconds=statistics.median(times), times=times,
         verdict="pass" if ok else "fail")


# ----- the harness -----

def env() -> dict[str, str]:
    return {**os.environ, **{v: str(THREADS) for v in THREAD_VARS}}


def run(cmd: list[str], timeout: float) -> tuple[float, int | None, str, str]:
    """Wall time, exit code (None at the timeout), stdout, stderr of one subprocess."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env(), cwd=ROOT,
                              timeout=timeout)
    except subprocess.TimeoutExpired as ex:
        out = ex.stdout.decode() if isinstance(ex.stdout, bytes) else (ex.stdout or "")
        return time.perf_counter() - start, None, out, "timeout"
    return time.perf_counter() - start, proc.returncode, proc.stdout, proc.stderr


def measure(p: Problem, engine: str, repeat: int) -> dict[str, dict[str, Any]]:
    """``--one`` in a subprocess: its results by claim (right, wrong, torch)."""
    seconds, code, out, err = run([sys.executable, str(Path(__file__).resolve()), "--one",
                                   p.name, engine, "--torch-repeat", str(repeat)], TIMEOUT)
    found: dict[str, dict[str, Any]] = {}
    for line in out.splitlines():
        if line.startswith("RESULT "):
            r = json.loads(line[7:])
            found[r["claim"]] = r
    if code is None or code != 0:
        status = "timeout" if code is None else "crash"
        detail = (f"killed after {seconds:.0f} s" if code is None else
                  (err.strip().splitlines() or [f"exit code {code}"])[-1][:300])
        for claim in (("torch",) if engine == "torch" else ("right", "wrong")):
            found.setdefault(claim, {"claim": claim, "status": status, "detail": detail})
    return found


def gradcheck_cli() -> list[str]:
    return [sys.executable, "-m", "gradcheck"]


def engines() -> tuple[tuple[str, ...], str]:
    """The engines `gradcheck check --help` lists under --engine, the default first."""
    _, _, out, _ = run([*gradcheck_cli(), "check", "--help"], CLI_TIMEOUT)
    block = re.search(r"--engine\s+\[([^\]]+)\](.*?)(?=\n\s+-|\Z)", out, re.S)
    if not block:
        return ENGINES, DEFAULT_ENGINE
    names = tuple(block.group(1).split("|"))
    default = re.search(r"\[default:\s*(\w+)\]", " ".join(block.group(2).split()))
    first = default.group(1) if default and default.group(1) in names else names[0]
    return (first, *(n for n in names if n != first)), first


def cli_command(p: Problem, claim: str) -> list[str]:
    """The command a person types: the expression first (a leading minus is
    read as the expression, see docs/cli.md), every --let, --wrt, --expect."""
    cmd = [*gradcheck_cli(), "check", p.expr]
    for name, value in p.lets:
        cmd += ["--let", f"{name}={value}"]
    return cmd + ["--wrt", p.wrt, "--expect", claim]


def seed_command() -> list[str]:
    """The README's first example command (`gradcheck check ...`)."""
    text = (ROOT / "README.md").read_text()
    for line in text.splitlines():
        if line.startswith("gradcheck check "):
            words = shlex.split(line)
            return [*gradcheck_cli(), *words[1:]]
    raise SystemExit("no `gradcheck check` command in README.md")


def timed_runs(cmd: list[str], repeat: int) -> dict[str, Any]:
    """Median wall time of ``repeat`` runs; exit codes; the verdicts the reports end with
    (PASS, FAIL, CANNOT JUDGE; "traceback" for a Python traceback, which exits with 1)."""
    times, codes, verdicts, errs = [], [], [], []
    for _ in range(repeat):
        seconds, code, out, err = run(cmd, CLI_TIMEOUT)
        times.append(seconds)
        codes.append(code)
        last = (out.strip().splitlines() or [""])[-1]
        word = next((w for w in ("PASS", "FAIL", "CANNOT JUDGE") if last.startswith(w)), "?")
        verdicts.append("traceback" if "Traceback (most recent call last)" in err else word)
        if verdicts[-1] in ("?", "traceback") or code not in (0, 1):
            errs.append((err.strip().splitlines() or [last])[-1][:300])
    return {"seconds": statistics.median(times), "times": times, "codes": codes,
            "verdicts": verdicts, "detail": errs[0] if errs else ""}


def expected(r: dict[str, Any] | None, claim: str) -> bool | None:
    """True when a verdict is the expected one, False when it is not, None
    when there is none (a timeout or gradcheck's own budget)."""
    if r is None or r["status"] in ("timeout", "budget", "limit"):
        return None
    if r["status"] != "ok":
        return False
    return r["verdict"] == ("pass" if claim == "right" else "fail")


def problem_row(p: Problem, args: argparse.Namespace) -> dict[str, Any]:
    row: dict[str, Any] = {"name": p.name}
    row["cli"] = timed_runs(cli_command(p, p.right), args.cli_repeat)
    row["cli_wrong"] = timed_runs(cli_command(p, p.wrong), 1)
    for engine in args.engines:
        row[engine] = measure(p, engine, args.torch_repeat)
    row["torch"] = measure(p, "torch", args.torch_repeat).get("torch")
    bad = []
    for claim, want, word in (("right", 0, "PASS"), ("wrong", 1, "FAIL")):
        cli = row["cli" if claim == "right" else "cli_wrong"]
        if any(c != want for c in cli["codes"]) or any(v != word for v in cli["verdicts"]):
            bad.append(f"CLI {claim} claim: exit code {cli['codes']}, report {cli['verdicts']} "
                       f"(expected {want}, {word})"
                       + (f": {cli['detail']}" if cli["detail"] else ""))
        for engine in args.engines:
            r = row[engine].get(claim)
            if expected(r, claim) is False:
                what = r["verdict"] if r and r["status"] == "ok" else (
                    f"{r['status']}: {r.get('detail', '')}" if r else "no result")
                bad.append(f"{engine} {claim} claim: {what} (expected "
                           f"{'pass' if claim == 'right' else 'fail'})")
    row["bad"] = bad
    return row


def machine() -> dict[str, Any]:
    def version(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "not installed"

    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT).stdout.strip() or "?"
    dirty = subprocess.run(["git", "--no-optional-locks", "diff", "--quiet", "HEAD", "--",
                            "gradcheck"], cwd=ROOT).returncode != 0
    return {"platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(),
            "usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?",
            "python": platform.python_version(), "numpy": version("numpy"),
            "sympy": version("sympy"), "torch": version("torch"),
            "gradcheck": version("gradcheck"), "commit": commit, "dirty": dirty,
            "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "load": os.getloadavg()}


# ----- the report -----

def secs(r: dict[str, Any] | None) -> str:
    if r is None:
        return "—"
    if r["status"] == "ok":
        return f"{r['seconds']:.3f}"
    if r["status"] == "budget":
        return f"> {BUDGET:g} (budget)"
    if r["status"] == "limit":
        return "limit"
    if r["status"] == "timeout":
        return f"> {TIMEOUT:g} (timeout)"
    return f"**{r['status']}**"


def table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def code(text: str) -> str:
    return "`" + text.replace("|", "\\|") + "`"


def default_seconds(row: dict[str, Any], default: str) -> float | None:
    r = row[default].get("right")
    return r["seconds"] if r and r["status"] == "ok" else None


def met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def summary(rows: list[dict[str, Any]], floor: float, seed: dict[str, Any],
            default: str) -> list[str]:
    out = []
    mine = {row["name"]: default_seconds(row, default) for row in rows}
    done = {n: s for n, s in mine.items() if s is not None}
    missing = sorted(n for n, s in mine.items() if s is None)
    slow = sorted(((s, n) for n, s in done.items() if s > IN_PROCESS_MAX), reverse=True)
    worst = max(done.items(), key=lambda kv: kv[1]) if done else None
    text = (f"in process, default engine ({default}), after warm-up, every problem ≤ "
            f"{IN_PROCESS_MAX:g} s: "
            + (f"the slowest is {worst[0]} at {worst[1]:.3f} s" if worst else "nothing measured")
            + (f"; {len(slow)} of {len(rows)} over: "
               + ", ".join(f"{n} {s:.3f} s" for s, n in slow) if slow else "")
            + (f"; no time for {', '.join(missing)}" if missing else ""))
    out.append(f"1. {met(not slow and not missing and bool(done))} {text}.")
    if done:
        med = statistics.median(done.values())
        out.append(f"2. {met(med <= IN_PROCESS_MEDIAN and not missing)} median ≤ "
                   f"{IN_PROCESS_MEDIAN:g} s: {med:.4f} s over {len(done)} problems.")
    else:
        out.append("2. **not met** median: nothing measured.")
    if TWO_LAYER in mine:
        s = mine[TWO_LAYER]
        out.append(f"3. {met(s is not None and s <= TWO_LAYER_MAX)} the two-layer net "
                   f"({code(PROBLEM[TWO_LAYER].expr)} by W1) ≤ {TWO_LAYER_MAX:g} s: "
                   + (f"{s:.3f} s." if s is not None else "not measured."))
    else:
        out.append("3. the two-layer net: not in this run.")
    ratio = seed["seconds"] / floor
    ran = set(seed["codes"]) == {0}
    out.append(f"4. {met(ratio <= SEED_RATIO and ran)} the README's seed check end to end ≤ "
               f"{SEED_RATIO:g}× the numpy floor: {seed['seconds']:.3f} s against "
               f"{floor:.3f} s, {ratio:.2f}×"
               + ("" if ran else f" (exit codes {seed['codes']})") + ".")
    ratios = sorted(((row["cli"]["seconds"] / floor, row["name"]) for row in rows), reverse=True)
    over = [(r, n) for r, n in ratios if r > CLI_RATIO]
    out.append(f"5. {met(not over)} every problem on the CLI ≤ {CLI_RATIO:g}× the numpy floor: "
               f"from {ratios[-1][0]:.2f}× ({ratios[-1][1]}) to {ratios[0][0]:.2f}× "
               f"({ratios[0][1]}), median {statistics.median(r for r, _ in ratios):.2f}×"
               + (f"; {len(over)} of {len(ratios)} over" if over else "") + ".")
    return out


def report(rows: list[dict[str, Any]], m: dict[str, Any], floor: dict[str, Any],
           seed: dict[str, Any], args: argparse.Namespace, seconds: float) -> str:
    f = floor["seconds"]
    default, others = args.default, [e for e in args.engines if e != args.default]
    bad = [(row["name"], b) for row in rows for b in row["bad"]]
    if set(seed["codes"]) != {0} or set(seed["verdicts"]) != {"PASS"}:
        bad.append(("README seed check", f"exit codes {seed['codes']}, report "
                                         f"{seed['verdicts']} (expected 0, PASS) "
                                         f"{seed['detail']}"))
    lines = [
        "# gradcheck interactive benchmark", "",
        f"Generated by `bench/interactive.py{' --quick' if args.quick else ''}` on {m['date']} "
        f"in {seconds:.0f} s (issue #14, \"every small check answers at once\"): "
        f"{len(rows)} problems. Every number below was measured in this run.", "",
    ]
    if bad:
        lines += ["## ⚠ VERDICTS NOT AS EXPECTED", "",
                  f"**{len(bad)} verdict(s) differ from the expected one** (right claim: "
                  "pass / exit 0; wrong claim: fail / exit 1):", "",
                  *[f"- **{n}**: {b}" for n, b in bad], ""]
    lines += [
        "## Machine", "",
        f"- {m['platform']}; CPU {m['cpu']}, {m['cpu_count']} logical CPUs ({m['usable']} "
        f"usable); load average {m['load'][0]:.2f} at the start, "
        f"{os.getloadavg()[0]:.2f} at the end",
        f"- Python {m['python']}, NumPy {m['numpy']}, SymPy {m['sympy']}, PyTorch {m['torch']}",
        f"- gradcheck {m['gradcheck']} at commit {m['commit']}"
        + (" with uncommitted changes in gradcheck/" if m["dirty"] else "")
        + f"; engines (from `gradcheck check --help`): {', '.join(args.engines)}, "
          f"default {default}",
        f"- {', '.join(f'{v}={THREADS}' for v in THREAD_VARS)} in every subprocess, "
        f"`torch.set_num_threads({THREADS})`", "",
        "## Method", "",
        f"- **floor**: `python -c \"import numpy\"`, median of {floor['n']} runs: "
        f"{f:.3f} s (runs: {', '.join(f'{t:.3f}' for t in floor['times'])}).",
        "- **CLI**: `python -m gradcheck check EXPR --let NAME=... --wrt W --expect RIGHT` "
        f"(default engine), wall time of the subprocess, median of {args.cli_repeat} runs; "
        "*×floor* is that over the floor. The wrong claim is run once, for its verdict.",
        "- **in process**: `gradcheck.check(expr, wrt=, at=, shapes=, expect=, engine=E, "
        f"timeout={BUDGET:g})` in a fresh subprocess per problem and engine, timed with "
        "`perf_counter` around the call, after a warm-up of two checks of other expressions "
        "(2×2: one with every function the problems use, one with a wrong claim): imports and "
        "one-time set-up are not counted, and nothing the problem alone needs is prepared. "
        "One measured call per claim. An engine that took over "
        f"{SLOW:g} s on the right claim is not run on the wrong one; a subprocess is killed "
        f"after {TIMEOUT:g} s. *{default}* is the default engine; *{default} used* is the "
        "engine it chose (`result[w].engine`).",
        "- **torch**: `torch.autograd.gradcheck(fn, (w,))` (float64, defaults: eps 1e-6, "
        "atol 1e-5, rtol 1e-3, full Jacobian) of the same function of the same variable at the "
        f"same point (gradcheck's drawn point), median of {args.torch_repeat} calls after a "
        "warm-up call, in a subprocess of its own.",
        "- **points**: variables given as a shape are drawn by gradcheck (seed 0; entries "
        "±k/1024 in [1/8, 1]; for inv, det and logdet a draw where they are defined, see "
        "docs/conventions.md#points); one-hot and ±1 labels are given as values.",
        "- **verdicts**: the right claim must pass (`result.passed`; CLI exit code 0 and a "
        "report ending in PASS), the wrong one fail (`result.verdict == \"fail\"`; exit code "
        "1 and FAIL, not a traceback), with every engine and on the CLI. *OK* means all of "
        "them did; a timeout, a budget overrun or a size limit (*limit*, a LimitError such as "
        "the SymPy engine's --max-terms) gives no verdict and is not counted against it.", "",
        "## Results", "",
        "Seconds. *CLI*: the right claim, end to end (*×floor*: over the numpy floor); *CLI "
        f"wrong*: the wrong claim, one run. In process: the right claim; *{default} wrong*: the "
        "wrong claim with the default engine.", "",
    ]
    body = []
    for row in rows:
        p = PROBLEM[row["name"]]
        used = (row[default].get("right") or {}).get("used", "—")
        body.append([p.name, sizes(p), f"{row['cli']['seconds']:.3f}",
                     f"{row['cli']['seconds'] / f:.2f}×", f"{row['cli_wrong']['seconds']:.3f}",
                     secs(row[default].get("right")),
                     secs(row[default].get("wrong")), used,
                     *(secs(row[e].get("right")) for e in others), secs(row["torch"]),
                     "OK" if not row["bad"] else f"**WRONG** ({len(row['bad'])})"])
    lines += [table(["problem", "sizes", "CLI", "×floor", "CLI wrong", default, f"{default} wrong",
                     f"{default} used", *others, "torch", "verdicts"], body), ""]
    notes = []
    for row in rows:
        for key in args.engines:
            for claim in ("warmup", "right", "wrong"):
                r = row[key].get(claim)
                if r and r["status"] != "ok":
                    notes.append(f"- {row['name']}, {key}, {claim}: {r['status']}: "
                                 f"{r.get('detail', '')}")
        t = row["torch"]
        if t and (t["status"] != "ok" or t.get("verdict") != "pass"):
            notes.append(f"- {row['name']}, torch: {t['status']} {t.get('verdict', '')} "
                         f"{t.get('detail', '')}")
    if notes:
        lines += ["Errors, timeouts, budget overruns:", "", *notes, ""]
    lines += [f"README seed check (`gradcheck {shlex.join(seed_command()[3:])}`): "
              f"{seed['seconds']:.3f} s, {seed['seconds'] / f:.2f}× the floor (median of "
              f"{len(seed['times'])}; exit codes {seed['codes']}).", "",
              "## Summary: the targets of issue #14", "",
              *summary(rows, f, seed, default), "",
              "## Problems", "",
              table(["problem", "f", "by", "right claim", "wrong claim (mistake)", "torch"],
                    [[p.name, code(p.expr), p.wrt, code(p.right),
                      f"{code(p.wrong)} ({p.mistake})", code(p.torch)]
                     for p in args.problems]), ""]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help=f"{len(QUICK)} problems, one repetition; print the report")
    p.add_argument("--problems", nargs="+", choices=list(PROBLEM), metavar="NAME",
                   help="the problems (default: all)")
    p.add_argument("--out", type=Path, help=f"the report (default {OUT.relative_to(ROOT)}; "
                                            "stdout with --quick)")
    p.add_argument("--one", nargs=2, metavar=("PROBLEM", "ENGINE"),
                   help="internal: one in-process measurement, printed as RESULT lines")
    p.add_argument("--torch-repeat", type=int, metavar="R",
                   help=f"torch.autograd.gradcheck calls to time (default {TORCH_REPEAT}; "
                        "1 with --quick)")
    args = p.parse_args(argv)
    names = args.problems or (QUICK if args.quick else list(PROBLEM))
    args.problems = [PROBLEM[n] for n in names]
    once = 1 if args.quick else None
    args.cli_repeat = once or CLI_REPEAT
    args.torch_repeat = args.torch_repeat or once or TORCH_REPEAT
    args.floor_repeat = once or FLOOR_REPEAT
    return args


def main(argv: list[str] | None = None) -> int:
    for v in THREAD_VARS:  # before NumPy or torch is imported
        os.environ[v] = str(THREADS)
    sys.path.insert(0, str(ROOT))  # measure the working tree's gradcheck
    args = parse_args(argv)
    if args.one:
        name, engine = args.one
        if engine == "torch":
            one_torch(PROBLEM[name], args.torch_repeat)
        else:
            one_gradcheck(PROBLEM[name], engine)
        return 0
    start = time.perf_counter()
    m = machine()
    args.engines, args.default = engines()
    floor = timed_runs([sys.executable, "-c", "import numpy"], args.floor_repeat)
    floor["n"] = args.floor_repeat
    seed = timed_runs(seed_command(), args.floor_repeat)
    rows = []
    for i, p in enumerate(args.problems, 1):
        t = time.perf_counter()
        rows.append(problem_row(p, args))
        print(f"[{i}/{len(args.problems)}] {p.name}: {time.perf_counter() - t:.1f} s"
              + (f"  VERDICT NOT AS EXPECTED: {rows[-1]['bad']}" if rows[-1]["bad"] else ""),
              file=sys.stderr, flush=True)
    text = report(rows, m, floor, seed, args, time.perf_counter() - start)
    out = args.out or (None if args.quick else OUT)
    if out is None:
        print(text)
    else:
        out.write_text(text)
        print(f"wrote {out} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    bad = sum(len(row["bad"]) for row in rows)
    if bad:
        print(f"{bad} VERDICT(S) NOT AS EXPECTED: see the report", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Scaling benchmark (issue #5): time and peak memory of a full check
(exact, numeric, compare) as the matrices grow, gradcheck's engines against
torch.autograd.gradcheck, on sum(tanh(P@Q)), tanh(P@Q) and X@Y with n×n
inputs. Writes bench/scale.md.

Run from the repository root: ``python3 bench/scale.py`` (``make bench``).
``--quick`` measures n = 8, 16 only and prints the report instead of writing
it (unless ``--out`` is given). Every measurement runs in its own subprocess
(``python3 bench/scale.py --one CASE ENGINE N``), with two BLAS/torch
threads, a wall-clock timeout and a memory watchdog.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "scale.md"

# "two cores": BLAS pools and torch's intra-op pool. BENCH_THREADS=1 gives each
# measurement one core, for a machine where something else holds the other.
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
SIZES = (8, 16, 32, 64, 128)
QUICK_SIZES = (8, 16)
SEED = 5  # issue #5
TIMEOUT = 120.0  # wall-clock seconds per measurement (subprocess)
BUDGET = 60.0  # gradcheck's own time budget for symbolic work (check(timeout=...))
MEMORY_FACTOR = 3  # the target: peak memory within 3× the dense Jacobian's bytes
MEMORY_SHARE = 0.8  # a run may use at most this share of the memory available at its start
WARMUP = 2  # each process first checks the same function at this n (not measured)
POLL = 0.1  # seconds between the watchdog's looks at the child
TORCH_VERSION = "2.13.0"


class Case(NamedTuple):
    name: str
    expr: str  # gradcheck's language
    torch: str  # the same function in PyTorch, as shown in the report
    names: tuple[str, str]
    scalar: bool  # f is 1×1: the Jacobian is the gradient


CASES = (
    Case("sum-tanh", "sum(tanh(P@Q))", "torch.tanh(P @ Q).sum()", ("P", "Q"), True),
    Case("tanh", "tanh(P@Q)", "torch.tanh(P @ Q)", ("P", "Q"), False),
    Case("matmul", "X@Y", "X @ Y", ("X", "Y"), False),
)
CASE = {c.name: c for c in CASES}
ENGINES = ("auto", "closed", "sympy", "torch")
GRADCHECK_ENGINES = ("auto", "closed", "sympy")
STOPS = ("timeout", "budget", "memory")  # outcomes after which larger n are not run


def torch_function(case: str) -> Callable[[Any, Any], Any]:
    import torch

    return {"sum-tanh": lambda a, b: torch.tanh(a @ b).sum(),
            "tanh": lambda a, b: torch.tanh(a @ b),
            "matmul": lambda a, b: a @ b}[case]


def entries(case: Case, n: int) -> int:
    """Entries of the full Jacobian: f.size × (P.size + Q.size)."""
    return (1 if case.scalar else n * n) * 2 * n * n


def dense_bytes(case: Case, n: int) -> int:
    return 8 * entries(case, n)


def inputs(n: int) -> tuple[Any, Any]:
    """The point, the same for every engine: standard normal entries scaled by
    n^(-1/4), so that the entries of P@Q have standard deviation 1 at every n
    and tanh neither saturates nor turns linear."""
    import numpy as np

    rng = np.random.default_rng([SEED, n])
    scale = n ** -0.25
    return rng.standard_normal((n, n)) * scale, rng.standard_normal((n, n)) * scale


# ----- one measurement, in a subprocess of its own -----

def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def reset_peak() -> bool:
    """Reset the peak RSS (ru_maxrss) to the current RSS, so that the peak of
    the imports does not count as the check's (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def timed(run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Time (perf_counter) and peak memory (ru_maxrss above the RSS just
    before) of ``run()`` only."""
    reset = reset_peak()
    base = rss_kb()
    cpu = time.process_time()
    start = time.perf_counter()
    try:
        out = run()
    except MemoryError:
        out = {"status": "memory", "detail": "MemoryError"}
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
    return {**out, "seconds": seconds, "cpu_seconds": cpu,
            "peak_bytes": max(0, peak - base) * 1024, "base_bytes": base * 1024,
            "peak_reset": reset}


def one(case: Case, engine: str, n: int, budget: float) -> dict[str, Any]:
    a, b = inputs(n)
    if engine == "torch":
        return one_torch(case, a, b)
    return {**one_gradcheck(case, engine, a, b, budget), "eval_seconds": evaluation(case, a, b)}


def evaluation(case: Case, a: Any, b: Any) -> float:
    """Seconds of one evaluation of f in NumPy (the fastest of 5): no check
    can take less, so its growth is a floor for the check's."""
    import numpy as np  # after the thread variables are set (main)

    fn = {"sum-tanh": lambda p, q: np.tanh(p @ q).sum(), "tanh": lambda p, q: np.tanh(p @ q),
          "matmul": lambda x, y: x @ y}[case.name]
    times = []
    for _ in range(5):
        start = time.perf_counter()
        fn(a, b)
        times.append(time.perf_counter() - start)
    return min(times)


def one_gradcheck(case: Case, engine: str, a: Any, b: Any, budget: float) -> dict[str, Any]:
    import inspect

    import gradcheck
    from gradcheck.errors import LimitError

    has_engine = "engine" in inspect.signature(gradcheck.check).parameters
    if not has_engine and engine != "sympy":
        return {"status": "n/a"}
    # Without engine=, gradcheck.check is the elementwise-SymPy path.
    kwargs: dict[str, Any] = {"engine": engine} if has_engine else {}
    at = dict(zip(case.names, (a, b), strict=True))
    try:  # warm-up: one-time initialisation; an error shows in the measured check
        gradcheck.check(case.expr, at=dict(zip(case.names, inputs(WARMUP), strict=True)),
                        timeout=budget, **kwargs)
    except Exception:
        pass

    def run() -> dict[str, Any]:
        try:
            r = gradcheck.check(case.expr, at=at, timeout=budget, **kwargs)
        except LimitError as ex:
            return {"status": "budget", "detail": str(ex).splitlines()[0]}
        except MemoryError:
            raise
        except Exception as ex:  # reported, never hidden
            return {"status": "error", "detail": f"{type(ex).__name__}: {ex}".splitlines()[0]}
        if r.passed:
            return {"status": "ok"}
        return {"status": "FAILED", "detail": f"result.passed is False: {len(r.mismatches)} "
                                              "mismatching entries"}

    return {**timed(run), "engine_kw": has_engine}


def one_torch(case: Case, a: Any, b: Any) -> dict[str, Any]:
    try:
        import torch
    except ImportError:
        return {"status": "missing"}
    torch.set_num_threads(THREADS)
    fn = torch_function(case.name)
    def tensors(xs: tuple[Any, Any]) -> tuple[Any, ...]:
        return tuple(torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs)

    try:  # warm-up: one-time initialisation; a failure shows in the measured check
        torch.autograd.gradcheck(fn, tensors(inputs(WARMUP)), fast_mode=False)
    except RuntimeError:
        pass
    args = tensors((a, b))

    def run() -> dict[str, Any]:
        try:
            ok = torch.autograd.gradcheck(fn, args, fast_mode=False)
        except MemoryError:
            raise
        except RuntimeError as ex:  # torch.autograd.gradcheck.GradcheckError
            return {"status": "FAILED", "detail": str(ex).splitlines()[0]}
        return {"status": "ok"} if ok is True else {"status": "FAILED",
                                                     "detail": f"returned {ok!r}"}

    return {**timed(run), "torch": torch.__version__}


# ----- the harness -----

def meminfo() -> dict[str, int]:
    out = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, value = line.split(":", 1)
            out[key] = int(value.split()[0]) * 1024
    except (OSError, ValueError):
        pass
    return out


def child_rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure(case: Case, engine: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Run ``--one`` in a subprocess; kill it at the timeout or when its RSS
    passes MEMORY_SHARE of the memory available when it started."""
    available = meminfo().get("MemAvailable", 0)
    limit = MEMORY_SHARE * available if available else math.inf
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", case.name, engine, str(n),
           "--budget", str(args.budget)]
    env = {**os.environ, **{v: str(THREADS) for v in THREAD_VARS}}
    killed = None
    max_rss = 0
    busy = cpu_busy()
    children = children_cpu()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT, text=True)
        while proc.poll() is None:
            max_rss = max(max_rss, child_rss(proc.pid))
            if time.monotonic() - start > args.timeout:
                killed = "timeout"
            elif max_rss > limit:
                killed = "memory"
            if killed:
                proc.kill()
                proc.wait()
                break
            time.sleep(POLL)
        wall = time.monotonic() - start
        # CPU that other processes used meanwhile, in cores: the machine's
        # busy time minus this child's (and the watchdog's, which is tiny).
        others = max(0.0, cpu_busy() - busy - (children_cpu() - children)) / wall
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if killed == "timeout":
        return {"status": "timeout", "detail": f"killed after {args.timeout:g} s", "wall": wall,
                "others": others}
    if killed == "memory":
        return {"status": "memory", "wall": wall, "others": others,
                "detail": f"killed at {gb(max_rss)} RSS, over {MEMORY_SHARE:.0%} of the "
                          f"{gb(available)} available"}
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        tail = " ".join(stderr.strip().splitlines()[-1:]) or f"exit code {proc.returncode}"
        return {"status": "error", "detail": tail, "wall": wall, "others": others}
    return {**json.loads(lines[-1][len("RESULT "):]), "wall": wall, "others": others}


def cpu_busy() -> float:
    """Seconds of CPU the whole machine has been busy (all cores)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    self_ = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime + self_.ru_utime + self_.ru_stime


def best(case: Case, engine: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """The fastest of ``args.repeat`` measurements (the least disturbed by other
    work); a run that does not finish ends the repeats."""
    runs = []
    for _ in range(args.repeat):
        runs.append(measure(case, engine, n, args))
        if runs[-1]["status"] != "ok":
            return {**runs[-1], "repeats": len(runs)}
    return {**min(runs, key=lambda r: r["seconds"]), "repeats": len(runs)}


def gradcheck_has_engine() -> bool:
    code = ("import inspect, gradcheck; "
            "print('engine' in inspect.signature(gradcheck.check).parameters)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    return out.stdout.strip() == "True"


def torch_version() -> str | None:
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"],
                         capture_output=True, text=True, cwd=ROOT)
    return out.stdout.strip() if out.returncode == 0 else None


def run_all(args: argparse.Namespace, has_engine: bool, torch: str | None) -> list[dict]:
    rows = []
    for case in args.cases:
        stopped: dict[str, str] = {}  # engine -> why larger n are not run
        for n in args.sizes:
            for engine in args.engines:
                row = {"case": case.name, "engine": engine, "n": n}
                need = MEMORY_FACTOR * dense_bytes(case, n)
                available = meminfo().get("MemAvailable", 0)
                if engine in GRADCHECK_ENGINES and engine != "sympy" and not has_engine:
                    res = {"status": "n/a"}
                elif engine == "torch" and torch is None:
                    res = {"status": "missing"}
                elif engine in stopped:
                    res = {"status": "skipped", "detail": stopped[engine]}
                elif available and need > MEMORY_SHARE * available:
                    res = {"status": "no memory",
                           "detail": f"{MEMORY_FACTOR}× the dense Jacobian is {gb(need)}, more "
                                     f"than {MEMORY_SHARE:.0%} of the {gb(available)} "
                                     "available"}
                else:
                    res = best(case, engine, n, args)
                    if res["status"] in STOPS:
                        what = {"timeout": f"the {args.timeout:g} s timeout",
                                "budget": f"gradcheck's {args.budget:g} s budget",
                                "memory": "the memory limit"}[res["status"]]
                        stopped[engine] = f"n={n} already exceeded {what}"
                rows.append({**row, **res})
                print(f"{case.name:9} n={n:<4} {engine:7} {cell(rows[-1], args):40} "
                      f"{rows[-1].get('detail', '')}", file=sys.stderr, flush=True)
    return rows


# ----- the report -----

def gb(x: float) -> str:
    return f"{x / 1e9:.1f} GB"


def num(x: float) -> str:
    """Three significant digits, without an exponent up to 10^6."""
    return f"{x:.3g}" if abs(x) < 100 or not math.isfinite(x) else f"{x:.0f}"


def mb(x: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if x >= scale:
            return f"{num(x / scale)} {unit}"
    return f"{x:.0f} B"


def secs(x: float) -> str:
    return f"{num(x)} s"


BUSY = 0.25  # cores used by other processes during a measurement, from which it is marked


def cell(r: dict[str, Any] | None, args: argparse.Namespace) -> str:
    text = bare_cell(r, args)
    if r is not None and r.get("others", 0.0) >= BUSY:
        text += f" ‡{r['others']:.1f}"
    return text


def bare_cell(r: dict[str, Any] | None, args: argparse.Namespace) -> str:
    if r is None:
        return "—"
    s = r["status"]
    if s == "ok":
        cpu = f" (cpu {secs(r['cpu_seconds'])})" if "cpu_seconds" in r else ""
        return f"{secs(r['seconds'])}{cpu} · {mb(r['peak_bytes'])}"
    if s == "FAILED":
        return f"**FAILED** ({secs(r['seconds'])})"
    if s == "timeout":
        return f"> {args.timeout:g} s"
    if s == "budget":
        return f"> {args.budget:g} s (budget)"
    if s == "memory":
        return "killed: memory"
    if s == "n/a":
        return "not available"
    if s == "missing":
        return "torch missing"
    if s == "skipped":
        return f"skipped: {r['detail']}"
    if s == "no memory":
        return "skipped: no memory"
    return "error"


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine(torch: str | None) -> dict[str, Any]:
    """bench/run.py's machine description, with RAM and PyTorch added."""
    try:
        sys.path.insert(1, str(HERE))
        from run import machine as run_machine

        m = run_machine()
    except Exception as ex:  # bench/run.py is someone else's; fall back to the essentials
        import numpy
        import sympy

        m = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
             "cpu": platform.processor() or "unknown", "cpu_count": os.cpu_count(),
             "usable_cores": len(os.sched_getaffinity(0)), "os": platform.platform(),
             "python": platform.python_version(), "numpy": numpy.__version__,
             "sympy": sympy.__version__, "gradcheck": "?", "commit": "?",
             "gradcheck_dirty": False, "fallback": f"{type(ex).__name__}: {ex}"}
    mem = meminfo()
    return {**m, "ram": mem.get("MemTotal", 0), "available": mem.get("MemAvailable", 0),
            "torch": torch, "load": os.getloadavg()}


def find(rows: list[dict], case: str, engine: str, n: int) -> dict[str, Any] | None:
    for r in rows:
        if (r["case"], r["engine"], r["n"]) == (case, engine, n):
            return r
    return None


def done(r: dict[str, Any] | None) -> bool:
    return r is not None and r["status"] == "ok"


def slope(rows: list[dict], case: Case, engine: str,
          key: str = "seconds") -> tuple[float, int, int] | None:
    """log-log slope of time (``key``) against Jacobian entries between the
    largest two n at which ``engine`` finished (and passed)."""
    ok = sorted(r["n"] for r in rows if r["case"] == case.name and r["engine"] == engine
                and done(r) and key in r)
    if len(ok) < 2:
        return None
    n1, n2 = ok[-2:]
    t1, t2 = (find(rows, case.name, engine, n)[key] for n in (n1, n2))  # type: ignore
    return math.log(t2 / t1) / math.log(entries(case, n2) / entries(case, n1)), n1, n2


def why_not(r: dict[str, Any] | None, who: str, args: argparse.Namespace) -> str:
    if r is None:
        return f"{who} was not measured in this run"
    if r["status"] == "FAILED":
        return f"{who} FAILED ({r.get('detail', '')})"
    return f"{who}: {cell(r, args)}" + (f" ({r['detail']})" if r.get("detail") else "")


def verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**FAIL**"


def targets(rows: list[dict], args: argparse.Namespace, primary: str) -> list[str]:
    out = []

    def vs_torch(case: str, n: int, factor: float, label: str) -> str:
        g, t = find(rows, case, primary, n), find(rows, case, "torch", n)
        if done(g) and done(t):
            ratio = g["seconds"] / t["seconds"]  # type: ignore[index]
            return (f"{verdict(ratio <= factor)} {label}: gradcheck {secs(g['seconds'])}, "  # type: ignore[index]
                    f"torch.autograd.gradcheck {secs(t['seconds'])}, ratio {ratio:.3g} "  # type: ignore[index]
                    f"(target ≤ {factor:g}).")
        reasons = [why_not(g, "gradcheck", args)] if not done(g) else []
        reasons += [why_not(t, "torch.autograd.gradcheck", args)] if not done(t) else []
        return f"{verdict(False)} {label}: not measured: " + "; ".join(reasons) + "."

    out.append("1. " + vs_torch("matmul", 64, 0.25, "X@Y at n = 64 (4096×8192 Jacobian) in at "
                                                     "most ¼ of torch.autograd.gradcheck's time"))
    out.append("2. " + vs_torch("sum-tanh", 128, 1.0, "sum(tanh(P@Q)) at n = 128 no slower than "
                                                       "torch.autograd.gradcheck"))
    g = find(rows, "tanh", primary, 64)
    label = ("tanh(P@Q) at n = 64 (4096×4096 per variable, 4096×8192 for P and Q together) "
             "within 60 s on two cores")
    if done(g):
        out.append(f"3. {verdict(g['seconds'] <= 60)} {label}: {secs(g['seconds'])}.")  # type: ignore[index]
    else:
        out.append(f"3. {verdict(False)} {label}: {why_not(g, 'gradcheck', args)}.")

    mem = []
    mem_ok = True
    for case in args.cases:
        ok = [r for r in rows if r["case"] == case.name and r["engine"] == primary and done(r)]
        if not ok:
            mem_ok = False
            mem.append(f"`{case.expr}`: no run finished")
            continue
        r = max(ok, key=lambda r: r["n"])
        ratio = r["peak_bytes"] / dense_bytes(case, r["n"])
        mem_ok &= ratio <= MEMORY_FACTOR
        mem.append(f"`{case.expr}` at n = {r['n']} (the largest that finished): peak "
                   f"{mb(r['peak_bytes'])}, dense Jacobian {mb(dense_bytes(case, r['n']))}, "
                   f"ratio {ratio:.3g}")
    mem_ok &= bool(args.cases) and max(args.sizes) == max(SIZES)
    out.append(f"4. {verdict(mem_ok)} peak memory within {MEMORY_FACTOR}× the dense Jacobian's "
               "bytes" + ("" if max(args.sizes) == max(SIZES)
                          else f" (only n ≤ {max(args.sizes)} measured)") + ": "
               + "; ".join(mem) + ".")
    if any(c.scalar for c in args.cases):
        out.append("   For a 1×1 f the dense Jacobian is the gradient, as large as the inputs: "
                   "the result alone holds four arrays of its size (exact, numeric and their "
                   "bounds), and one evaluation of f holds P@Q and tanh of it, so no check "
                   f"stays within {MEMORY_FACTOR}× it.")

    grow = []
    grow_ok = True
    for case in args.cases:
        s = slope(rows, case, primary)
        t = slope(rows, case, "torch")
        f = slope(rows, case, primary, "eval_seconds")
        ref = (f" (torch.autograd.gradcheck: {t[0]:.2f} between n = {t[1]} and {t[2]})"
               if t else "")
        ref += (f"; one NumPy evaluation of f alone: {f[0]:.2f} (its work grows as n³ against "
                f"{'2n²' if case.scalar else '2n⁴'} Jacobian entries: "
                f"{1.5 if case.scalar else 0.75:g} in theory)" if f else "")
        if s is None:
            grow_ok = False
            grow.append(f"`{case.expr}`: fewer than two sizes finished{ref}")
            continue
        grow_ok &= s[0] <= 1.0
        grow.append(f"`{case.expr}`: exponent {s[0]:.2f} between n = {s[1]} and {s[2]}{ref}")
    out.append(f"5. {verdict(grow_ok)} time grows no faster than the Jacobian's size (fitted "
               "exponent of time in Jacobian entries ≤ 1, from the largest two n that finished): "
               + "; ".join(grow) + ".")
    if any(c.scalar for c in args.cases):
        out.append("   For a 1×1 f one evaluation takes n³ operations against 2n² Jacobian "
                   "entries, an exponent of 1.5 once n is large enough for the operations to "
                   "dominate: no check of it, nor f itself, grows with an exponent ≤ 1.")
    return out


def report(rows: list[dict], m: dict[str, Any], args: argparse.Namespace, has_engine: bool,
           seconds: float) -> str:
    primary = "auto" if has_engine else "sympy"
    load_end = os.getloadavg()[0]
    measured = [r for r in rows if "others" in r]
    busy_mean = (sum(r["others"] * r["wall"] for r in measured)
                 / max(sum(r["wall"] for r in measured), 1e-9))
    busy_marked = sum(r["others"] >= BUSY for r in measured)
    who = ("`engine=\"auto\"`" if has_engine else
           "the default `gradcheck.check` (the installed version has no `engine=` keyword, "
           "so that is the elementwise-SymPy path; the closed and auto columns are not "
           "available)")
    torch_line = (f"PyTorch {m['torch']}" if m["torch"] else
                  f"PyTorch not installed (`pip install torch=={TORCH_VERSION}`): its column "
                  "is empty")
    if m["torch"] and not m["torch"].startswith(TORCH_VERSION):
        torch_line += f" (the issue asks for {TORCH_VERSION})"
    lines = [
        "# gradcheck scaling benchmark", "",
        f"Generated by `bench/scale.py`{' --quick' if args.quick else ''} on {m['date']} in "
        f"{seconds:.0f} s (issue #5). Every number below is what this run measured.", "",
        "## Machine", "",
        f"- CPU: {m['cpu']}; {m['cpu_count']} logical CPUs, {m['usable_cores']} usable; "
        f"RAM {gb(m['ram'])} ({gb(m['available'])} available at the start)",
        f"- OS: {m['os']}",
        f"- Python {m['python']}, NumPy {m['numpy']}, SymPy {m['sympy']}, {torch_line}",
        f"- gradcheck {m['gradcheck']} at commit {m['commit']}"
        + (" (with uncommitted changes in gradcheck/)" if m["gradcheck_dirty"] else "")
        + ("" if has_engine else "; `gradcheck.check` has no `engine=` keyword yet"),
        f"- Threads: {', '.join(f'{v}={THREADS}' for v in THREAD_VARS)} and "
        f"`torch.set_num_threads({THREADS})` in every measurement",
        f"- Load average (1 min) {m['load'][0]:.2f} at the start and {load_end:.2f} at the end "
        f"of the run; other processes used on average {busy_mean:.2f} cores during the "
        f"measurements ({busy_marked} of {len(measured)} measurements marked ‡)", "",
        "## Method", "",
        "- Functions: `sum(tanh(P@Q))`, `tanh(P@Q)` and `X@Y` with n×n inputs. The point is "
        f"the same for every engine: seeded NumPy (`default_rng([{SEED}, n])`) standard normal "
        "entries times n^(−1/4), so the entries of P@Q have standard deviation about 1 at "
        "every n (tanh neither saturates nor turns linear).",
        f"- gradcheck: `gradcheck.check(expr, at={{...float64 arrays...}}, "
        f"timeout={args.budget:g}{', engine=...' if has_engine else ''})`, every variable "
        "(exact Jacobian, finite differences, comparison). *auto*, *closed*, *sympy* are "
        "its engines; *sympy* is the elementwise-SymPy path.",
        "- torch: `torch.autograd.gradcheck(fn, (P, Q), fast_mode=False)` on float64 tensors "
        "with requires_grad and the default eps, atol, rtol (the full Jacobian, like "
        "gradcheck); fn is `torch.tanh(P @ Q).sum()`, `torch.tanh(P @ Q)`, `X @ Y`.",
        "- A check that returns `passed` False (gradcheck) or does not return True (torch) is "
        "shown as **FAILED**.",
        "- Each measurement runs in its own subprocess (`bench/scale.py --one CASE ENGINE N`). "
        f"Before the measured check, the process checks the same function once at n = {WARMUP} "
        "with the same engine (not measured), so one-time initialisation (lazy imports, "
        "parser tables, torch's first call) is not counted, for either tool. "
        "Time: `time.perf_counter()` around the check call only (not imports or inputs). "
        "Peak memory: `ru_maxrss` after the check minus the process's RSS just before it "
        "(the peak is reset to the current RSS first through /proc/self/clear_refs, so "
        "the imports' peak does not count).",
        f"- Limits: {args.timeout:g} s wall clock per subprocess (shown as \"> "
        f"{args.timeout:g} s\"); gradcheck's own budget for symbolic work is "
        f"{args.budget:g} s (\"> {args.budget:g} s (budget)\", a LimitError). After a "
        "timeout, a budget overrun or a memory kill at some n, larger n are not run for that "
        f"function and engine. A run is skipped when {MEMORY_FACTOR}× the dense Jacobian "
        f"exceeds {MEMORY_SHARE:.0%} of the memory available before it, and killed when its "
        f"RSS passes {MEMORY_SHARE:.0%} of it.",
        "- *Jacobian*: f.size × (P.size + Q.size) entries (for `sum(...)`, the gradient); "
        "*dense*: those entries × 8 bytes. *time ratio*: gradcheck's time / torch's; "
        "*memory ratio*: gradcheck's peak / dense bytes (target ≤ 3). gradcheck in the ratios "
        f"and targets is {who}.", "",
        "Cells: wall time (CPU time of the process, all threads) · peak memory"
        + (f"; the fastest of {args.repeat} runs" if args.repeat > 1 else "") + ". Times are "
        "wall clock, as the targets ask. The machine is shared: *‡x* marks a measurement "
        f"during which other processes used on average x of the {m['usable_cores']} cores "
        f"(from /proc/stat; marked from {BUSY:g}). With two threads on two busy cores, "
        "torch's parallel regions wait for a descheduled thread, so marked torch times can "
        "be many times their value on a quiet machine.", "",
        "## Results", "",
    ]
    for case in args.cases:
        body = []
        notes = []
        for n in args.sizes:
            cells = {e: find(rows, case.name, e, n) for e in ENGINES}
            g, t = cells[primary], cells["torch"]
            ratio = (num(g['seconds'] / t['seconds']) if done(g) and done(t)  # type: ignore[index]
                     else "—")
            mem = (num(g['peak_bytes'] / dense_bytes(case, n)) if done(g)  # type: ignore[index]
                   else "—")
            jac = f"{1 if case.scalar else n * n}×{2 * n * n}"
            body.append([n, jac, mb(dense_bytes(case, n))]
                        + [cell(cells[e], args) for e in ENGINES] + [ratio, mem])
            for e, r in cells.items():
                if r is not None and r["status"] in ("FAILED", "error", "memory", "no memory",
                                                     "budget"):
                    notes.append(f"- n = {n}, {e}: {r['status']}: {r.get('detail', '')}")
        lines += [f"### `{case.expr}` (torch: `{case.torch}`)", "",
                  table(["n", "Jacobian", "dense", "gradcheck auto", "closed", "sympy",
                         "torch", "time ratio", "memory ratio"], body), "", *notes,
                  *([""] if notes else [])]
    lines += ["## Targets", "",
              f"gradcheck here is {who}. A target that could not be measured is a FAIL.", "",
              *targets(rows, args, primary), ""]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="n = 8, 16 only; print the report (write it only with --out)")
    p.add_argument("--sizes", type=int, nargs="+", metavar="N",
                   help=f"the sizes n (default {' '.join(map(str, SIZES))})")
    p.add_argument("--cases", nargs="+", choices=[c.name for c in CASES],
                   help="the functions (default: all)")
    p.add_argument("--engines", nargs="+", choices=ENGINES, help="the engines (default: all)")
    p.add_argument("--timeout", type=float, default=TIMEOUT,
                   help=f"wall-clock seconds per measurement (default {TIMEOUT:g})")
    p.add_argument("--budget", type=float, default=BUDGET,
                   help=f"gradcheck's timeout= for symbolic work (default {BUDGET:g})")
    p.add_argument("--repeat", type=int, default=1, metavar="R",
                   help="measure each run R times (subprocesses), keep the fastest (default 1)")
    p.add_argument("--out", type=Path, help=f"the report (default {OUT.relative_to(ROOT)}; "
                                            "stdout with --quick)")
    p.add_argument("--one", nargs=3, metavar=("CASE", "ENGINE", "N"),
                   help="internal: one measurement in this process, printed as JSON")
    args = p.parse_args(argv)
    args.sizes = tuple(args.sizes or (QUICK_SIZES if args.quick else SIZES))
    args.cases = [CASE[c] for c in args.cases] if args.cases else list(CASES)
    args.engines = tuple(e for e in ENGINES if e in (args.engines or ENGINES))
    return args


def main(argv: list[str] | None = None) -> None:
    for v in THREAD_VARS:  # before NumPy or torch is imported
        os.environ[v] = str(THREADS)
    sys.path.insert(0, str(ROOT))  # measure the working tree's gradcheck, installed or not
    args = parse_args(argv)
    if args.one:
        case, engine, n = args.one
        res = one(CASE[case], engine, int(n), args.budget)
        print("RESULT " + json.dumps(res), flush=True)
        return
    start = time.perf_counter()
    has_engine = gradcheck_has_engine()
    torch = torch_version()
    m = machine(torch)
    rows = run_all(args, has_engine, torch)
    text = report(rows, m, args, has_engine, time.perf_counter() - start)
    out = args.out or (None if args.quick else OUT)
    if out is None:
        print(text)
    else:
        out.write_text(text)
        print(f"wrote {out} in {time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Benchmark gradcheck: accuracy of the numeric engine, discrimination of
wrong claims, and speed. Writes bench/report.md and bench/results.json.

Run from the repository root: ``python3 bench/run.py`` (``make bench``).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import sympy
from sympy.core.cache import clear_cache

import gradcheck
from gradcheck.api import ATOL, RTOL
from gradcheck.checking.points import to_value
from gradcheck.compare.comparator import compare, rounding_floor
from gradcheck.exact import symbolic
from gradcheck.language.parser import parse
from gradcheck.language.shapes import infer
from gradcheck.numeric import engine as numeric

sys.path.insert(0, str(Path(__file__).parent))
from cases import CASES, SEED_AT, Case  # noqa: E402

HERE = Path(__file__).parent
TINY = float(np.finfo(np.float64).tiny)  # floor of |exact| in relative errors
PERTURBATIONS = (1e-4, 1e-6)
SWEEP_SEEDS = range(20)
SIZES = (2, 3, 4, 6)
REPEATS = 5


def planted_outcome(r: Any, exact: np.ndarray, idx: tuple[int, ...]) -> tuple[str, float]:
    """How a check with a claim planted wrong at ``idx`` came out, and the
    tolerance gradcheck gave that entry (atol + rtol·|exact| + floor)."""
    tol = r.atol + r.rtol * abs(exact[idx]) + float(rounding_floor(exact)[idx])
    reported = [(tuple(m.index), m.kind) for m in r.mismatches]
    if r.verdict == "undecided":  # never a pass: the bounds could not tell (see the report)
        unsure = {tuple(m.index) for g in r.gradients for m in g.undecided}
        return ("undecided" if idx in unsure else "undecided elsewhere"), tol
    if r.passed:
        return "missed", tol
    if reported == [(idx, "claim")]:
        return "caught", tol
    if (idx, "claim") in reported:
        return "caught, with other entries", tol
    return "wrong entry", tol


def run_check(case: Case, **kwargs: Any) -> gradcheck.CheckResult:
    return gradcheck.check(case.expr, wrt=case.wrt, at=case.at, shapes=case.shapes, **kwargs)


# ----- 1. accuracy -----

def accuracy(case: Case) -> dict[str, Any]:
    row: dict[str, Any] = {"name": case.name, "group": case.group, "expr": case.expr,
                           "wrt": case.wrt, "point": "drawn" if case.shapes else "given",
                           "point_values": case.at}
    try:
        r = run_check(case)
    except Exception as ex:  # a rejected point is a result too
        return {**row, "error": message(ex), "passed": None}
    g = r[case.wrt]
    diff = np.abs(g.numeric - g.exact)
    rel = diff / np.maximum(np.abs(g.exact), TINY)
    nonzero = g.exact != 0
    bound_rel = g.numeric_error[nonzero] / np.abs(g.exact[nonzero])
    return {
        **row, "reading": r.reading, "point_values": {n: v.tolist() for n, v in r.point.items()},
        "jacobian_shape": list(g.exact.shape), "entries": int(g.exact.size),
        "max_rel_error": float(rel.max()),
        "median_rel_error_nonzero": float(np.median(rel[nonzero])) if nonzero.any() else 0.0,
        "zero_entries_nonzero_numeric": int(np.count_nonzero(g.numeric[~nonzero])),
        "bound_misses": int(np.count_nonzero(diff > g.numeric_error)),
        "max_bound_rel": float(bound_rel.max()) if bound_rel.size else 0.0,
        "evaluations": g.evaluations, "passed": r.passed,
        "mismatches": [{"kind": m.kind, "index": list(m.index), "exact": m.exact,
                        "numeric": m.numeric, "error": m.error, "tolerance": m.tolerance}
                       for m in r.mismatches],
    }


def message(ex: Exception) -> str:
    lines = [ln.strip() for ln in str(ex).splitlines()]
    text = "; ".join(ln for ln in lines[:1] + lines[3:] if ln)  # drop the echo and caret
    return f"{type(ex).__name__}: {text}"


def sweep(case: Case) -> dict[str, Any]:
    """False alarms over many random points (cases whose point is drawn)."""
    failed = []
    for s in SWEEP_SEEDS:
        try:
            ok = run_check(case, seed=s).passed
        except Exception as ex:
            ok, s = False, f"{s} ({message(ex)})"
        if not ok:
            failed.append(s)
    return {"name": case.name, "expr": case.expr, "seeds": len(SWEEP_SEEDS), "failed": failed}


# ----- 2. discrimination -----

def discrimination(case: Case) -> list[dict[str, Any]]:
    row = {"name": case.name, "group": case.group, "entry": "none", "perturbation": 0.0}
    try:
        exact = run_check(case).exact
    except Exception as ex:
        return [{**row, "outcome": "not run", "reported": [message(ex)]}]
    control = run_check(case, expect=exact)
    rows = [{**row, "outcome": "passed" if control.passed else "FALSE ALARM",
             "reported": [f"{m.kind} {m.index}" for m in control.mismatches]}]
    mags = np.where(exact != 0, np.abs(exact), np.inf)
    picks = {"largest": np.unravel_index(np.argmax(np.abs(exact)), exact.shape),
             "smallest": np.unravel_index(np.argmin(mags), exact.shape)}
    for label, idx in picks.items():
        idx = tuple(int(i) for i in idx)
        for eps in PERTURBATIONS:
            claim = exact.copy()
            claim[idx] *= 1 + eps
            r = run_check(case, expect=claim)
            reported = [(m.index, m.kind) for m in r.mismatches]
            outcome, tol = planted_outcome(r, exact, idx)
            rows.append({**row, "entry": label, "index": list(idx), "exact": float(exact[idx]),
                         "perturbation": eps, "abs_change": abs(claim[idx] - exact[idx]),
                         "tolerance": tol,
                         "below_tolerance": bool(abs(claim[idx] - exact[idx]) <= tol),
                         "outcome": outcome, "reported": [f"{k} {i}" for i, k in reported]})
    return rows


# ----- 3. speed -----

def timed(fn: Any, cold: bool) -> float:
    times = []
    for _ in range(REPEATS):
        if cold:
            clear_cache()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def speed() -> list[dict[str, Any]]:
    jobs = [("seed (x·y+z)·A+z wrt z", "3×2", lambda: gradcheck.check(
        "(x·y+z)·A+z", wrt="z", at=SEED_AT))]
    for expr in ("sum(tanh(P@Q))", "tanh(P@Q)"):
        for n in SIZES:
            jobs.append((f"{expr} wrt P, Q", f"{n}×{n}", lambda e=expr, n=n: gradcheck.check(
                e, shapes={"P": (n, n), "Q": (n, n)})))
    jobs[0][2]()  # warm-up: imports and the parser's tables
    rows = [{"case": name, "size": size, "cold_s": timed(fn, True), "warm_s": timed(fn, False)}
            for name, size, fn in jobs]
    base = rows[0]
    for row in rows:
        row["cold_ratio"] = row["cold_s"] / base["cold_s"]
        row["warm_ratio"] = row["warm_s"] / base["warm_s"]
    return rows


def split(expr: str = "tanh(P@Q)", n: int = 4) -> dict[str, Any]:
    """Time the stages of one check wrt P through the public modules (cold cache)."""
    point = gradcheck.check(expr, wrt="P", shapes={"P": (n, n), "Q": (n, n)}).point
    values = {k: to_value(v, k) for k, v in point.items()}
    clear_cache()
    t = [time.perf_counter()]
    tree = parse(expr)
    t.append(time.perf_counter())
    typed = infer(tree, {k: v.shape for k, v in values.items()})
    t.append(time.perf_counter())
    w = symbolic.symbols("P", (n, n))
    jac = symbolic.jacobian(symbolic.build(typed.tree, {"P": w, "Q": values["Q"].exact}), w)
    t.append(time.perf_counter())
    exact = symbolic.to_float(symbolic.evaluate(jac, dict(zip(w, values["P"].exact,
                                                              strict=True))))
    t.append(time.perf_counter())
    symbolic.is_elementwise(jac, typed.shape, (n, n))
    t.append(time.perf_counter())
    est = numeric.jacobian(typed.tree, "P", {k: v.array for k, v in values.items()})
    t.append(time.perf_counter())
    compare(exact, est.value, est.error, None, atol=ATOL, rtol=RTOL)
    t.append(time.perf_counter())
    clear_cache()
    full = time.perf_counter()
    gradcheck.check(expr, wrt="P", at=point)
    full = time.perf_counter() - full
    stages = ["parse", "shapes", "symbolic: build + differentiate",
              "symbolic: evaluate at the point + to float", "symbolic: is_elementwise",
              "numeric: finite differences", "compare"]
    return {"case": f"{expr} wrt P, {n}×{n}", "full_check_s": full,
            "stages": dict(zip(stages, np.diff(t).tolist(), strict=True))}


# ----- the machine -----

def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=HERE.parent, capture_output=True, text=True)
        return out.stdout.strip()

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu, "cpu_count": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "os": platform.platform(), "python": platform.python_version(),
        "numpy": np.__version__, "sympy": sympy.__version__,
        "gradcheck": gradcheck.__version__, "commit": git("rev-parse", "--short", "HEAD"),
        "gradcheck_dirty": bool(git("status", "--porcelain", "--", "gradcheck")),
    }


# ----- the report -----

def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def e(x: float) -> str:
    return f"{x:.1e}"


def report(res: dict[str, Any]) -> str:
    m = res["machine"]
    return "\n".join([
        "# gradcheck benchmark", "",
        f"Generated by `bench/run.py` on {m['date']} in {res['seconds']:.1f} s. "
        "Every number below is what this run measured; `bench/results.json` has the raw "
        "data (not committed).", "",
        "## Machine", "",
        f"- CPU: {m['cpu']}; {m['cpu_count']} logical CPUs, {m['usable_cores']} usable",
        f"- OS: {m['os']}",
        f"- Python {m['python']}, NumPy {m['numpy']}, SymPy {m['sympy']}",
        f"- gradcheck {m['gradcheck']} at commit {m['commit']}"
        + (" (with uncommitted changes in gradcheck/)" if m["gradcheck_dirty"] else ""), "",
        *accuracy_section(res["accuracy"], res["sweep"]),
        *discrimination_section(res["discrimination"]),
        *speed_section(res["speed"], res["split"]),
        *findings_section(res),
    ])


def accuracy_section(acc: list[dict[str, Any]], sweeps: list[dict[str, Any]]) -> list[str]:
    ok = [a for a in acc if "error" not in a]
    core = [a for a in ok if a["group"] == "core"]
    rows = []
    for a in acc:
        head = [a["group"], a["name"], f"`{a['expr']}`", a["wrt"], a["point"]]
        if "error" in a:
            rows.append(head + ["—"] * 6 + [f"raised {a['error'].split(':')[0]}"])
            continue
        rows.append(head + ["×".join(map(str, a["jacobian_shape"])), e(a["max_rel_error"]),
                           e(a["median_rel_error_nonzero"]), a["bound_misses"],
                           e(a["max_bound_rel"]), a["evaluations"],
                           "yes" if a["passed"] else "**NO**"])
    alarms = [a["name"] for a in ok if not a["passed"]]
    raised = [a["name"] for a in acc if "error" in a]
    return [
        "## 1. Accuracy of the numeric engine", "",
        "Each expression is checked with the default tolerances and no claim, at the given "
        "point or at one drawn by gradcheck from `shapes=` with seed 0. Relative error "
        "is |numeric − exact| / max(|exact|, tiny) per Jacobian entry (tiny = smallest normal "
        "float); the median is over entries whose exact value is nonzero. *Bound misses*: "
        "entries where the error estimate `numeric_error` is smaller than the true error "
        "|numeric − exact|. *Bound/|exact|*: the largest estimate relative to the exact value "
        "(the slack the comparator adds). *Evals*: function evaluations by finite "
        "differences. *Passed* is `check(...).passed`; on these correct expressions a NO is "
        "a false alarm. Core rows cover every operator of gradcheck/language/ops.py; stress "
        "rows are points chosen to be hard for finite differences.", "",
        table(["group", "case", "expression", "wrt", "point", "Jacobian", "max rel err",
               "median rel err", "bound misses", "bound/\\|exact\\|", "evals", "passed"], rows),
        "",
        f"Core rows ({len(core)}): largest max relative error "
        f"{e(max(a['max_rel_error'] for a in core))}, median of the per-case medians "
        f"{e(statistics.median(a['median_rel_error_nonzero'] for a in core))}, "
        f"{sum(not a['passed'] for a in core)} false alarms, "
        f"{sum(a['bound_misses'] for a in core)} bound misses. "
        f"All rows that ran ({len(ok)}): {sum(a['entries'] for a in ok)} Jacobian entries, "
        f"{sum(a['bound_misses'] for a in ok)} bound misses, "
        f"{sum(a['zero_entries_nonzero_numeric'] for a in ok)} entries whose exact value is 0 "
        f"but whose estimate is not, {len(alarms)} false alarms"
        f"{' (' + ', '.join(alarms) + ')' if alarms else ''}; "
        f"{len(raised)} rows raised instead of answering"
        f"{' (' + ', '.join(raised) + ')' if raised else ''}. See Findings.", "",
        f"Random points (seeds 0–{max(SWEEP_SEEDS)}) for every row whose point is drawn; a "
        "failure is a false alarm:", "",
        table(["case", "expression", "seeds", "false alarms (seeds)"],
              [[s["name"], f"`{s['expr']}`", s["seeds"],
                ", ".join(map(str, s["failed"])) or "none"] for s in sweeps]), "",
    ]


def discrimination_section(disc: list[dict[str, Any]]) -> list[str]:
    controls = [d for d in disc if d["entry"] == "none" and d["outcome"] != "not run"]
    not_run = [d["name"] for d in disc if d["outcome"] == "not run"]
    bad = [d["name"] for d in controls if d["outcome"] != "passed"]
    tested = [d for d in disc if d["entry"] != "none"]
    summary = []
    for group in ("core", "stress"):
        for eps in PERTURBATIONS:
            rows = [d for d in tested if d["group"] == group and d["perturbation"] == eps]
            above = [d for d in rows if not d["below_tolerance"]]
            summary.append([group, f"{eps:g}", len(rows),
                            f"{sum(d['outcome'] == 'caught' for d in rows)}/{len(rows)}",
                            len(rows) - len(above),
                            f"{sum(d['outcome'] == 'caught' for d in above)}/{len(above)}"])
    odd = [d for d in tested if d["outcome"] != "caught"]
    out = [
        "## 2. Discrimination of wrong claims", "",
        "For each case the claim (`expect=`) is the exact Jacobian `r.exact` with one entry "
        "multiplied by 1 + ε: the entry of largest |exact|, and the nonzero entry of smallest "
        "|exact|. *Caught*: `passed` is False and exactly that entry is reported, as a claim "
        "mismatch. A change of at most atol + rtol·|exact| (1e-10 + 1e-7·|exact|) is below "
        "the tolerance by design; such claims are counted apart. The control claim, the exact "
        "Jacobian itself, must pass.", "",
        f"Controls: {len(controls) - len(bad)} of {len(controls)} passed"
        f"{' (false alarms: ' + ', '.join(bad) + ')' if bad else ''}"
        f"{'; not run (the check raised): ' + ', '.join(not_run) if not_run else ''}.", "",
        table(["group", "ε", "claims", "caught", "below tolerance",
               "caught, of those above tolerance"], summary), "",
    ]
    if odd:
        out += ["Claims not caught cleanly:", "",
                table(["case", "entry", "index", "exact", "ε", "change", "tolerance",
                       "outcome", "reported"],
                      [[d["name"], d["entry"], tuple(d["index"]), f"{d['exact']:.3g}",
                        f"{d['perturbation']:g}", e(d["abs_change"]), e(d["tolerance"]),
                        d["outcome"], "; ".join(d["reported"]) or "nothing"] for d in odd]), ""]
    return out


def speed_section(sp: list[dict[str, Any]], st: dict[str, Any]) -> list[str]:
    total = sum(st["stages"].values())
    return [
        "## 3. Speed", "",
        f"Wall time of one `gradcheck.check` call, median of {REPEATS} repeats "
        "(time.perf_counter). *Cold*: SymPy's cache cleared before each call, as for a new "
        "expression or point; *warm*: the identical call repeated. Ratios are against the "
        "seed example measured in the same run. The tanh rows draw P and Q from `shapes=` "
        "and check both (the default `wrt`).", "",
        table(["case", "size", "cold (ms)", "cold ratio", "warm (ms)", "warm ratio"],
              [[s["case"], s["size"], f"{1e3 * s['cold_s']:.1f}", f"{s['cold_ratio']:.1f}",
                f"{1e3 * s['warm_s']:.1f}", f"{s['warm_ratio']:.1f}"] for s in sp]), "",
        f"Stages of `{st['case']}` (cold cache, one run) through the public modules; the "
        f"full `check` at the same point took {1e3 * st['full_check_s']:.1f} ms.", "",
        table(["stage", "ms", "share"],
              [[k, f"{1e3 * v:.1f}", f"{100 * v / total:.0f}%"] for k, v in st["stages"].items()]
              + [["sum of stages", f"{1e3 * total:.1f}", "100%"]]), "",
    ]


def findings_section(res: dict[str, Any]) -> list[str]:
    """Every false alarm, bound miss, rejected point and missed claim, with its point."""
    notes = {c.name: f" ({c.note})" if c.note else "" for c in CASES}
    out = []
    for a in res["accuracy"]:
        where = f"`{a['expr']}` wrt {a['wrt']} at `{json.dumps(a['point_values'])}`"
        if "error" in a:
            out.append(f"- **Rejected a point inside the domain** ({a['name']}): {where} "
                       f"raised {a['error']}.{notes[a['name']]}")
        elif not a["passed"]:
            bad = "; ".join(f"{tuple(x['index'])} exact {x['exact']:.6g}, numeric "
                            f"{x['numeric']:.6g}" for x in a["mismatches"])
            count = plural(len(a["mismatches"]), "engine mismatch", "engine mismatches")
            misses = plural(a["bound_misses"], "entry", "entries")
            out.append(f"- **False alarm** ({a['name']}): {where}: `passed` is False with "
                       f"{count} ({bad}); the error estimate is below the true error in "
                       f"{misses}.{notes[a['name']]}")
        elif a["bound_misses"]:
            out.append(f"- **Error estimate too small** ({a['name']}): {where}: in "
                       f"{plural(a['bound_misses'], 'entry', 'entries')}, yet the check "
                       f"passed.{notes[a['name']]}")
    for s in res["sweep"]:
        if s["failed"]:
            out.append(f"- **False alarm at random points**: `{s['expr']}` ({s['name']}), "
                       f"seeds {', '.join(map(str, s['failed']))}.")
    alarmed = {a["name"] for a in res["accuracy"] if a.get("passed") is False}
    noisy = set()
    for d in res["discrimination"]:
        if d["entry"] == "none":
            if d["outcome"] == "FALSE ALARM" and d["name"] not in alarmed:
                out.append(f"- **Correct claim rejected** ({d['name']}): "
                           f"{'; '.join(d['reported'])}.")
        elif d["outcome"] == "caught, with other entries" and d["name"] in alarmed:
            noisy.add(d["name"])
        elif d["outcome"] != "caught" and not d["below_tolerance"]:
            out.append(f"- **Wrong claim not caught cleanly** ({d['name']}): entry "
                       f"{tuple(d['index'])} × (1 + {d['perturbation']:g}): {d['outcome']}, "
                       f"reported: {'; '.join(d['reported']) or 'nothing'}.")
    if noisy:
        out.append(f"- In {', '.join(sorted(noisy))}, every wrong claim was reported at the "
                   "right entry (claims are judged against the exact value), but next to the "
                   "false engine mismatches above, and the correct claim failed too: "
                   "`passed` is False whatever the claim.")
    below = sorted({d["name"] for d in res["discrimination"] if d.get("below_tolerance")})
    if below:
        out.append(f"- By design, not a bug: in {', '.join(below)}, some wrong claims change "
                   "an entry by less than atol + rtol·|exact| and pass.")
    return ["## Findings", "", *(out or ["None: no false alarm, bound miss, rejected point "
                                         "or missed claim in this run."]), ""]


def main() -> None:
    start = time.perf_counter()
    res: dict[str, Any] = {"machine": machine()}
    res["speed"] = speed()
    res["split"] = split()
    res["accuracy"] = [accuracy(c) for c in CASES]
    res["sweep"] = [sweep(c) for c in CASES if c.shapes]
    res["discrimination"] = [row for c in CASES for row in discrimination(c)]
    res["seconds"] = time.perf_counter() - start
    (HERE / "results.json").write_text(json.dumps(res, indent=1, default=str) + "\n")
    (HERE / "report.md").write_text(report(res))
    print(f"wrote {HERE / 'report.md'} in {res['seconds']:.1f} s")


if __name__ == "__main__":
    main()

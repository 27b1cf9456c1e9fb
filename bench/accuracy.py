"""Benchmark the accuracy of gradcheck's numeric engine, method by method,
against the exact Jacobian and against numdifftools. Writes bench/accuracy.md.

Run from the repository root: ``python3 bench/accuracy.py`` (``make bench``
runs it after bench/run.py). The suite is bench/accuracy_cases.py.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numdifftools
import numpy as np

import gradcheck
from gradcheck.api import ATOL, RTOL
from gradcheck.checking.points import to_value
from gradcheck.compare.comparator import SCALE
from gradcheck.exact import symbolic
from gradcheck.language import ops
from gradcheck.language.parser import parse
from gradcheck.language.shapes import infer
from gradcheck.language.tree import Call, walk
from gradcheck.numeric import engine as numeric
from gradcheck.values.evaluate import OutOfDomain, evaluate

sys.path.insert(0, str(Path(__file__).parent))
from accuracy_cases import ROWS, Row  # noqa: E402
from run import e, machine, message, planted_outcome, plural, table  # noqa: E402

HERE = Path(__file__).parent
METHODS = numeric.METHODS  # auto, complex, richardson, central, forward, backward
PLANT = 1e-6  # relative error planted in one entry of a claim
EPS = float(np.finfo(np.float64).eps)
MEDIAN_TARGETS = {"central": 1e-10, "richardson": 1e-12, "complex": 1e-14}
EVAL_RATIO_TARGET = 1 / 3
GROUPS = ("ordinary", "kink", "scale", "singular", "saturated")


# ----- measures -----

def relative_errors(exact: np.ndarray, approx: np.ndarray) -> np.ndarray:
    """|approx − exact| entry by entry, divided by |exact| where exact ≠ 0;
    where exact = 0, by the largest |exact| in the same column of the
    Jacobian (all entries of f differentiated by the same entry of w), and
    where that whole column is 0, by 1 (an absolute error)."""
    n_w = exact.shape[-1] * exact.shape[-2]
    cols = np.abs(exact).reshape(-1, n_w)
    scale = np.broadcast_to(cols.max(axis=0), cols.shape).reshape(exact.shape)
    denom = np.where(exact != 0, np.abs(exact), np.where(scale > 0, scale, 1.0))
    with np.errstate(invalid="ignore"):
        return np.abs(approx - exact) / denom


def judged_mask(grad: gradcheck.Gradient) -> np.ndarray:
    """Entries gradcheck judges: all but those at a kink where f is not differentiable."""
    mask = np.ones(grad.exact.shape, dtype=bool)
    for u in grad.undefined:
        mask[u.index] = False
    return mask


def accuracy(exact: np.ndarray, approx: np.ndarray, judged: np.ndarray) -> dict[str, Any]:
    rel = relative_errors(exact, approx)
    nonzero = judged & (exact != 0)
    finite = np.isfinite(rel[judged])
    return {
        "max_rel": float(rel[judged].max()) if finite.all() else float("nan"),
        "max_rel_finite": float(rel[judged][finite].max(initial=0.0)),
        "median_rel": float(np.median(rel[nonzero])) if nonzero.any() else 0.0,
        "nonzero_rel": rel[nonzero].tolist(),
        "nan_entries": int(np.count_nonzero(~np.isfinite(approx[judged]))),
    }


def worst_entry(mask: np.ndarray, score: np.ndarray) -> tuple[int, ...] | None:
    if not mask.any():
        return None
    masked = np.where(mask, score, -np.inf)
    return tuple(int(i) for i in np.unravel_index(np.nanargmax(masked), mask.shape))


# ----- one case -----

def check(row: Row, **kwargs: Any) -> gradcheck.CheckResult:
    return gradcheck.check(row.expr, wrt=row.wrt, at=row.at, **kwargs)


def run_method(row: Row, exact: np.ndarray, method: str) -> dict[str, Any]:
    """One method, with the correct claim (the exact Jacobian) and default tolerances."""
    t = time.perf_counter()
    try:
        r = check(row, expect=exact, method=method)
    except Exception as ex:  # a rejected point is a result too
        return {"method": method, "error": message(ex), "seconds": time.perf_counter() - t}
    g = r[row.wrt]
    judged = judged_mask(g)
    diff = np.abs(g.numeric - g.exact)
    violated = judged & ~(diff <= g.numeric_error)
    with np.errstate(divide="ignore", invalid="ignore"):
        over = diff / g.numeric_error
    worst = worst_entry(violated, over)
    return {
        "method": method, **accuracy(g.exact, g.numeric, judged),
        "evaluations": g.evaluations, "used": list(g.methods), "passed": r.passed,
        "undefined": len(g.undefined),
        "mismatches": [{"kind": m.kind, "index": list(m.index), "exact": m.exact,
                        "numeric": m.numeric, "error": m.error, "tolerance": m.tolerance,
                        "bound": m.bound} for m in r.mismatches],
        "violations": int(np.count_nonzero(violated)),
        "worst_violation": None if worst is None else {
            "index": list(worst), "exact": float(g.exact[worst]),
            "numeric": float(g.numeric[worst]), "error": float(diff[worst]),
            "bound": float(g.numeric_error[worst])},
        "seconds": time.perf_counter() - t,
    }


def picks(exact: np.ndarray, judged: np.ndarray) -> dict[str, tuple[int, ...]]:
    """The entry of largest |exact|, and a mid-size one: the lower median by
    |exact| of the other nonzero judged entries."""
    flat = [tuple(int(i) for i in idx) for idx in np.argwhere(judged & (exact != 0))]
    if not flat:
        return {}
    by_size = sorted(flat, key=lambda i: abs(exact[i]))  # stable: ties in index order
    largest = max(flat, key=lambda i: abs(exact[i]))
    others = [i for i in by_size if i != largest]
    out = {"largest": largest}
    if others:
        out["mid-size"] = others[(len(others) - 1) // 2]
    return out


def detection(row: Row, exact: np.ndarray, judged: np.ndarray) -> list[dict[str, Any]]:
    """Claims wrong by a relative PLANT in one entry, checked with method auto."""
    rows = []
    for label, idx in picks(exact, judged).items():
        claim = exact.copy()
        claim[idx] = exact[idx] * (1 + PLANT)
        base = {"name": row.name, "group": row.group, "entry": label, "index": list(idx),
                "exact": float(exact[idx]), "change": float(abs(claim[idx] - exact[idx]))}
        try:
            r = check(row, expect=claim)
        except Exception as ex:
            rows.append({**base, "outcome": "raised", "reported": [message(ex)],
                         "tolerance": float("nan"), "above_tolerance": True})
            continue
        reported = [(tuple(m.index), m.kind) for m in r.mismatches]
        outcome, tol = planted_outcome(r, exact, idx)
        rows.append({**base, "tolerance": tol, "above_tolerance": bool(base["change"] > tol),
                     "outcome": outcome, "reported": [f"{k} {i}" for i, k in reported]})
    return rows


def peer(row: Row, point: dict[str, np.ndarray], exact: np.ndarray,
         judged: np.ndarray) -> dict[str, Any]:
    """numdifftools.Jacobian with its defaults on the flattened wrt variable."""
    typed = infer(parse(row.expr), {n: v.shape for n, v in point.items()})
    w0 = np.asarray(point[row.wrt], dtype=np.float64)
    m, n = typed.shape[0] * typed.shape[1], w0.size
    count = {"calls": 0, "nan": 0}

    def fun(w: np.ndarray) -> np.ndarray:
        count["calls"] += 1
        try:
            return evaluate(typed.tree, {**point, row.wrt: np.reshape(w, w0.shape)}).ravel()
        except OutOfDomain:  # outside a domain or an overflow: NaN, as NumPy gives for log(-1)
            count["nan"] += 1
            return np.full(m, np.nan)

    t = time.perf_counter()
    out: dict[str, Any] = {"name": row.name}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            jac = np.asarray(numdifftools.Jacobian(fun)(w0.ravel()), dtype=np.float64)
    except Exception as ex:
        return {**out, "error": f"{type(ex).__name__}: {ex}", "evaluations": count["calls"],
                "nan_returns": count["nan"], "seconds": time.perf_counter() - t}
    seconds = time.perf_counter() - t
    if jac.size != m * n or (jac.ndim == 2 and jac.shape != (m, n)):
        return {**out, "error": f"unexpected Jacobian shape {jac.shape}, not {(m, n)}",
                "evaluations": count["calls"], "nan_returns": count["nan"], "seconds": seconds}
    return {**out, **accuracy(exact, jac.reshape(exact.shape), judged),
            "evaluations": count["calls"], "nan_returns": count["nan"], "seconds": seconds}


def f_rounding(row: Row, point: dict[str, np.ndarray]) -> float:
    """How far NumPy's f at the point is from the exact f (SymPy, correctly
    rounded), in units of ε·max|f|: the rounding the engine's error bounds
    must allow for."""
    typed = infer(parse(row.expr), {n: v.shape for n, v in point.items()})
    exact = symbolic.to_float(symbolic.build(
        typed.tree, {n: to_value(v, n).exact for n, v in point.items()}))
    approx = evaluate(typed.tree, point)
    return float(np.abs(approx - exact).max() / (EPS * np.abs(exact).max()))


def run_case(row: Row) -> dict[str, Any]:
    t = time.perf_counter()
    out: dict[str, Any] = {"name": row.name, "group": row.group, "expr": row.expr,
                           "wrt": row.wrt, "at": row.at, "note": row.note}
    try:
        exact = gradcheck.jacobian(row.expr, wrt=row.wrt, at=row.at)
        base = check(row)  # no claim: the point and the kinks, as gradcheck reads them
    except Exception as ex:
        return {**out, "error": message(ex), "methods": {}, "detection": [], "peer": None,
                "seconds": time.perf_counter() - t}
    g = base[row.wrt]
    judged = judged_mask(g)
    out["reading"] = base.reading
    out["shape"] = list(exact.shape)
    out["entries"] = int(exact.size)
    out["nonzero"] = int(np.count_nonzero(exact[judged]))
    out["undefined"] = int(np.count_nonzero(~judged))
    out["no_claim_passed"] = base.passed
    out["f_rounding"] = f_rounding(row, base.point)
    out["methods"] = {m: run_method(row, exact, m) for m in METHODS}
    out["detection"] = detection(row, exact, judged)
    out["peer"] = peer(row, base.point, exact, judged)
    out["seconds"] = time.perf_counter() - t
    return out


def coverage() -> tuple[list[str], list[str]]:
    """Operations of gradcheck/language/ops.py that occur in the suite (as written, and
    as read after the shape checker resolves ``·``), and those that do not."""
    seen: set[str] = set()
    for row in ROWS:
        tree = parse(row.expr)
        shapes = {n: np.shape(v) for n, v in row.at.items()}
        for t in (tree, infer(tree, shapes).tree):
            seen |= {node.op for node in walk(t) if isinstance(node, Call)}
    return sorted(seen & set(ops.OPS)), sorted(set(ops.OPS) - seen)


# ----- summaries -----

def ran(cases: list[dict[str, Any]], method: str) -> list[dict[str, Any]]:
    return [c["methods"][method] for c in cases
            if method in c["methods"] and "error" not in c["methods"][method]]


def method_summary(cases: list[dict[str, Any]], method: str) -> dict[str, Any]:
    rs = ran(cases, method)
    pooled = [x for r in rs for x in r["nonzero_rel"]]
    evals = [r["evaluations"] for r in rs]
    return {
        "method": method, "cases": len(rs),
        "raised": [c["name"] for c in cases if "error" in c["methods"].get(method, {})],
        "median_of_medians": statistics.median(r["median_rel"] for r in rs) if rs else np.nan,
        "pooled_median": statistics.median(pooled) if pooled else np.nan,
        "pooled_entries": len(pooled),
        "largest_max": max(r["max_rel"] for r in rs) if rs else np.nan,
        "median_max": statistics.median(r["max_rel"] for r in rs) if rs else np.nan,
        "evaluations": sum(evals), "median_evaluations": statistics.median(evals) if evals else 0,
        "false_alarms": [c["name"] for c in cases if method in c["methods"]
                         and not c["methods"][method].get("passed", True)],
        "violations": sum(r["violations"] for r in rs),
        "violation_cases": sum(1 for r in rs if r["violations"]),
    }


def peer_rows(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """gradcheck auto against numdifftools, case by case."""
    out = []
    for c in cases:
        p, a = c.get("peer"), c["methods"].get("auto")
        if p is None or a is None or "error" in a:
            continue
        row = {"name": c["name"], "group": c["group"], "gc_max": a["max_rel"],
               "gc_median": a["median_rel"], "gc_evals": a["evaluations"],
               "nd_evals": p["evaluations"], "eval_ratio": a["evaluations"] / p["evaluations"]
               if p["evaluations"] else float("nan"), "nd_nan_returns": p["nan_returns"]}
        if "error" in p:
            row.update(status="raised", note=p["error"])
        elif p["nan_entries"]:
            row.update(status="NaN", nd_max=float("nan"), nd_median=p["median_rel"],
                       note=f"NaN in {plural(p['nan_entries'], 'entry', 'entries')}")
        else:
            gc, nd = a["max_rel"], p["max_rel"]
            row.update(status="ran", nd_max=nd, nd_median=p["median_rel"],
                       at_least_as_accurate=bool(gc <= nd),
                       within_rounding=bool(gc <= nd + 4 * EPS),
                       acc_ratio=gc / nd if nd > 0 else (0.0 if gc == 0 else float("inf")),
                       note="")
        out.append(row)
    return out


def targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    cases, summ = res["cases"], {s["method"]: s for s in res["summary"]}
    out = []
    for method, limit in MEDIAN_TARGETS.items():
        s = summ[method]
        value = s["median_of_medians"]
        out.append({"target": f"median relative error of `{method}` ≤ {limit:g}",
                    "measured": f"median of per-case medians {e(value)} over {s['cases']} "
                                f"cases (overall median of {s['pooled_entries']} nonzero "
                                f"entries {e(s['pooled_median'])}; largest per-case max "
                                f"{e(s['largest_max'])})",
                    "pass": bool(value <= limit) and not s["raised"]})
    auto = summ["auto"]
    alarms = auto["false_alarms"] + auto["raised"]
    no_claim = [c["name"] for c in cases if not c.get("no_claim_passed", False)]
    out.append({"target": "zero false alarms with `auto` and default settings (correct claim)",
                "measured": f"{len(auto['false_alarms'])} false alarms, "
                            f"{len(auto['raised'])} raised, of {len(cases)} cases"
                            + (f" ({', '.join(alarms)})" if alarms else "")
                            + f"; with no claim: {len(no_claim)} failed"
                            + (f" ({', '.join(no_claim)})" if no_claim else ""),
                "pass": not alarms and not no_claim})
    det = [d for c in cases for d in c["detection"]]
    caught = sum(d["outcome"] == "caught" for d in det)
    above = [d for d in det if d["above_tolerance"]]
    caught_above = sum(d["outcome"] == "caught" for d in above)
    out.append({"target": "every 1e-6 single-entry error detected by `auto` (exactly that "
                          "entry reported)",
                "measured": f"{caught}/{len(det)} caught ({100 * caught / len(det):.1f}%); "
                            f"of the {len(above)} whose change exceeds the tolerance, "
                            f"{caught_above} caught",
                "pass": caught == len(det)})
    passed = [d for d in det if d["outcome"] == "missed" and d["above_tolerance"]]
    unsure = sum(d["outcome"].startswith("undecided") for d in det)
    out.append({"target": "no 1e-6 single-entry error beyond the tolerance passes (caught, "
                          "or no verdict)",
                "measured": f"{len(passed)} of {len(det)} passed; {unsure} undecided (the "
                            "claim, an array, may round by that much in float64 here)",
                "pass": not passed})
    pr = res["peer_rows"]
    both = [p for p in pr if p["status"] == "ran"]
    worse = [p["name"] for p in both if not p["at_least_as_accurate"]]
    out.append({"target": "max relative error of `auto` ≤ numdifftools' on every case where "
                          "both run",
                "measured": f"{len(both) - len(worse)}/{len(both)} cases"
                            + (f"; numdifftools more accurate on {', '.join(worse)}"
                               if worse else "")
                            + f"; {sum(p['within_rounding'] for p in both)}/{len(both)} within "
                              f"4ε; numdifftools did not run cleanly on "
                            + plural(len(pr) - len(both), "case", "cases"),
                "pass": not worse})
    ratios = [p["eval_ratio"] for p in pr]
    total = sum(p["gc_evals"] for p in pr) / sum(p["nd_evals"] for p in pr)
    over = [p["name"] for p in pr if not p["eval_ratio"] <= EVAL_RATIO_TARGET]
    out.append({"target": "at most a third of numdifftools' function evaluations, on every case",
                "measured": f"ratio gradcheck/numdifftools from {min(ratios):.3f} to "
                            f"{max(ratios):.3f} (median {statistics.median(ratios):.3f}; "
                            f"suite total {total:.3f})"
                            + (f"; above 1/3 on {', '.join(over)}" if over else ""),
                "pass": not over})
    return out


# ----- the report -----

def fmt_point(at: dict[str, Any]) -> str:
    return "; ".join(f"{n} = {json.dumps(v)}" for n, v in at.items())


def g(x: float) -> str:
    return "nan" if x != x else f"{x:.3g}"


def yes(b: bool) -> str:
    return "yes" if b else "**NO**"


def report(res: dict[str, Any]) -> str:
    m = res["machine"]
    return "\n".join([
        "# Accuracy of the numeric engine", "",
        f"Generated by `bench/accuracy.py` on {m['date']}; the run took "
        f"{res['seconds']:.1f} s. Every number below is what this run measured.", "",
        "## Machine and versions", "",
        f"- CPU: {m['cpu']}; {m['cpu_count']} logical CPUs, {m['usable_cores']} usable",
        f"- OS: {m['os']}",
        f"- Python {m['python']}, NumPy {m['numpy']}, SymPy {m['sympy']}, "
        f"numdifftools {res['numdifftools']}",
        f"- gradcheck {m['gradcheck']} at commit {m['commit']}"
        + (" (with uncommitted changes in gradcheck/)" if m["gradcheck_dirty"] else ""), "",
        *definitions_section(),
        *targets_section(res),
        *summary_section(res),
        *suite_section(res),
        *per_case_section(res),
        *detection_section(res),
        *peer_section(res),
        *problems_section(res),
        *runtime_section(res),
    ])


def definitions_section() -> list[str]:
    return [
        "## Definitions", "",
        "- **Exact Jacobian**: gradcheck's SymPy Jacobian at the point (the floats of the "
        "point taken as exact rationals), each entry correctly rounded to float64 "
        "(`Gradient.exact`). Layout f.shape + w.shape, or w.shape for a 1×1 f.",
        "- **Relative error** of an entry: |numeric − exact| / |exact| where exact ≠ 0. "
        "Where exact = 0, |numeric − exact| divided by the largest |exact| in the same column "
        "of the Jacobian (∂f[i,j]/∂w[k,l] over all i, j for that k, l); where that whole "
        "column is 0 (always so for a 1×1 f whose gradient entry is 0), the absolute error "
        "|numeric|.",
        "- **Per-case max**: the largest relative error over the entries of the case. "
        "**Per-case median**: the median relative error over the entries whose exact value "
        "is nonzero. Entries at a kink that gradcheck reports as not differentiable "
        "(`Gradient.undefined`; only in relu-on-kink) are left out of every measure, since "
        "gradcheck does not judge them.",
        "- **Suite median** of a method: the median of its per-case medians over the cases "
        "where it ran. **Overall median**: the median relative error over all nonzero exact "
        "entries of all those cases pooled.",
        "- **Evaluations**: `Gradient.evaluations`, the function evaluations spent by the "
        "numeric engine, including 1 at the point. For numdifftools: calls of the wrapped "
        "function, counted by the wrapper.",
        "- **Correct claim passes**: `check(expr, wrt=..., at=..., expect=exact, method=...)` "
        f"with default tolerances (atol {ATOL:g}, rtol {RTOL:g}, rounding floor "
        f"{SCALE:.2g}·max|exact|) gives `passed` True. The claim equals "
        "the exact Jacobian, so a failure can only come from an engines mismatch: a **false "
        "alarm**. A check that raises on these points (all inside the domain) is counted "
        "apart as *raised* and, for `auto`, also fails the false-alarm target.",
        "- **Bound violation**: a judged entry where the true error |numeric − exact| exceeds "
        "the engine's own bound `numeric_error`.",
        f"- **Detection**: with method `auto`, the claim is the exact Jacobian with one entry "
        f"multiplied by 1 + {PLANT:g}: the entry of largest |exact|, and a mid-size one (the "
        "lower median by |exact| of the other nonzero entries). *Caught* means `passed` is "
        "False and the mismatches are exactly that one entry, of kind `claim`. A change of "
        "at most the tolerance (atol + rtol·|exact| + rounding floor) is below gradcheck's "
        "tolerance by design; such claims "
        "are counted in the rate all the same, and shown apart.",
        "- **numdifftools**: `numdifftools.Jacobian(fun)` with its defaults, where `fun` maps "
        "the flattened wrt variable to the flattened f through "
        "gradcheck's own float64 evaluation of the parsed, typed expression, the other "
        "variables fixed at the point. Where that evaluation rejects an input "
        "(outside a domain, e.g. log of a negative number, or an overflow) `fun` returns NaN, "
        "as NumPy itself does for log(−1). Its Jacobian is compared with the same relative "
        "error; a case where it raises or returns NaN in any entry is recorded and not "
        "counted as *both run*. Accuracy: is gradcheck `auto`'s per-case max relative error "
        "≤ numdifftools'? Evaluations: the ratio gradcheck `auto` / numdifftools.", "",
    ]


def targets_section(res: dict[str, Any]) -> list[str]:
    ts = res["targets"]
    return [
        "## Targets", "",
        table(["target", "measured", "result"],
              [[t["target"], t["measured"], "PASS" if t["pass"] else "**FAIL**"] for t in ts]),
        "",
        f"{sum(t['pass'] for t in ts)} of {len(ts)} targets pass. The last two are the two "
        "halves of \"accuracy at least equal to numdifftools on every case where both run, "
        "with at most a third of its function evaluations\".", "",
    ]


def summary_section(res: dict[str, Any]) -> list[str]:
    rows = []
    for s in res["summary"]:
        rows.append([f"`{s['method']}`", s["cases"], len(s["raised"]),
                     e(s["median_of_medians"]), e(s["pooled_median"]), e(s["median_max"]),
                     e(s["largest_max"]), s["evaluations"], g(s["median_evaluations"]),
                     len(s["false_alarms"]), f"{s['violations']} in {s['violation_cases']}"])
    cases = res["cases"]
    by_group = []
    for method in METHODS:
        cells = []
        for group in GROUPS:
            rs = ran([c for c in cases if c["group"] == group], method)
            cells.append(f"{e(statistics.median(r['median_rel'] for r in rs))} / "
                         f"{e(max(r['max_rel'] for r in rs))}" if rs else "—")
        by_group.append([f"`{method}`", *cells])
    counts = {gr: sum(c["group"] == gr for c in cases) for gr in GROUPS}
    nd = [c["peer"] for c in cases if c.get("peer") and "error" not in c["peer"]
          and not c["peer"]["nan_entries"]]
    nd_pooled = [x for p in nd for x in p["nonzero_rel"]]
    return [
        "## Per-method summary", "",
        f"Over the {len(cases)} cases of the suite, each with the correct claim.", "",
        table(["method", "cases run", "raised", "suite median (of per-case medians)",
               "overall median (nonzero entries)", "median of per-case max",
               "largest per-case max", "evaluations (total)", "evaluations (median per case)",
               "false alarms", "bound violations (entries in cases)"], rows), "",
        "By group: median of per-case medians / largest per-case max relative error.", "",
        table(["method", *[f"{gr} ({counts[gr]})" for gr in GROUPS]], by_group), "",
        f"numdifftools, on the {len(nd)} cases where it returned a finite Jacobian: suite "
        f"median {e(statistics.median(p['median_rel'] for p in nd))}, overall median "
        f"{e(statistics.median(nd_pooled))}, largest per-case max "
        f"{e(max(p['max_rel'] for p in nd))}, "
        f"{sum(p['evaluations'] for p in nd)} evaluations.", "",
    ]


def suite_section(res: dict[str, Any]) -> list[str]:
    covered, missing = res["coverage"]
    rows = [[c["group"], c["name"], f"`{c['expr']}`", c["wrt"], f"`{fmt_point(c['at'])}`",
             "×".join(map(str, c.get("shape", []))) or "—", g(c.get("f_rounding", np.nan)),
             c["note"]] for c in res["cases"]]
    return [
        "## The suite", "",
        f"{len(res['cases'])} expressions (bench/accuracy_cases.py), every point given. "
        f"Operations of gradcheck/language/ops.py that occur: {len(covered)} of "
        f"{len(covered) + len(missing)} ({', '.join(covered)})"
        + (f"; missing: {', '.join(missing)}" if missing else "; none missing")
        + ". (`dot` is the product written `·`, which the shape checker reads as `@` or `*`.) "
        "*f rounding*: max |f − f_exact| / (ε·max|f_exact|), where f is "
        "`gradcheck.values.evaluate.evaluate` at the point and f_exact SymPy's value correctly "
        "rounded: how many ε of its size one evaluation of f is off, which every real "
        "stencil divides by its step.", "",
        table(["group", "case", "expression", "wrt", "point", "Jacobian", "f rounding",
               "why it is hard"], rows), "",
    ]


def per_case_section(res: dict[str, Any]) -> list[str]:
    out = ["## Per-case results", "",
           "One table per method; relative errors as defined above. *Passes* is the check "
           "with the correct claim; *viol.* counts bound violations; *used* is what the "
           "engine reports in `Gradient.methods`.", ""]
    for method in METHODS:
        rows = []
        for c in res["cases"]:
            r = c["methods"].get(method)
            head = [c["group"], c["name"]]
            if r is None or "error" in r:
                rows.append(head + ["—"] * 5 + [f"raised {r['error'] if r else c['error']}"])
                continue
            rows.append(head + [e(r["max_rel"]), e(r["median_rel"]), r["evaluations"],
                                yes(r["passed"]), r["violations"], ", ".join(r["used"])])
        out += [f"### `{method}`", "",
                table(["group", "case", "max rel err", "median rel err", "evaluations",
                       "passes", "viol.", "used"], rows), ""]
    return out


def detection_section(res: dict[str, Any]) -> list[str]:
    det = [d for c in res["cases"] for d in c["detection"]]
    rows = []
    for label in ("largest", "mid-size"):
        ds = [d for d in det if d["entry"] == label]
        above = [d for d in ds if d["above_tolerance"]]
        rows.append([label, len(ds), sum(d["outcome"] == "caught" for d in ds), len(above),
                     sum(d["outcome"] == "caught" for d in above), len(ds) - len(above)])
    caught = sum(d["outcome"] == "caught" for d in det)
    detail = [[d["name"], d["entry"], tuple(d["index"]), g(d["exact"]), e(d["change"]),
               e(d["tolerance"]), "yes" if d["above_tolerance"] else "no", d["outcome"],
               "; ".join(d["reported"]) or "nothing"] for d in det]
    return [
        "## Detection of a 1e-6 error in one entry (`auto`)", "",
        f"Detection rate: {caught}/{len(det)} planted claims caught "
        f"({100 * caught / len(det):.1f}%).", "",
        table(["entry", "claims", "caught", "change above tolerance", "caught, of those",
               "change below tolerance"], rows), "",
        "Every planted claim:", "",
        table(["case", "entry", "index", "exact", "change", "tolerance", "above tol.",
               "outcome", "reported"], detail), "",
    ]


def peer_section(res: dict[str, Any]) -> list[str]:
    pr = res["peer_rows"]
    rows = []
    for p in pr:
        if p["status"] == "ran":
            acc = [e(p["nd_max"]), e(p["nd_median"]), yes(p["at_least_as_accurate"]),
                   g(p["acc_ratio"])]
        else:
            acc = [p["status"], e(p.get("nd_median", float("nan"))), "—", "—"]
        rows.append([p["group"], p["name"], e(p["gc_max"]), e(p["gc_median"]), *acc,
                     p["gc_evals"], p["nd_evals"], f"{p['eval_ratio']:.3f}",
                     p["nd_nan_returns"], p["note"]])
    both = [p for p in pr if p["status"] == "ran"]
    finite = [p["acc_ratio"] for p in both if np.isfinite(p["acc_ratio"])]
    return [
        "## gradcheck `auto` against numdifftools", "",
        f"numdifftools ran cleanly on {len(both)} of {len(pr)} cases; gradcheck was at least "
        f"as accurate on {sum(p['at_least_as_accurate'] for p in both)} of them. Accuracy "
        f"ratio (gradcheck max / numdifftools max): median "
        f"{g(statistics.median(finite)) if finite else 'nan'}"
        + (f", largest {g(max(p['acc_ratio'] for p in both))}" if both else "")
        + ". Evaluation ratio (gradcheck / numdifftools): median "
        f"{statistics.median(p['eval_ratio'] for p in pr):.3f}, largest "
        f"{max(p['eval_ratio'] for p in pr):.3f}. *NaN inputs*: calls where `evaluate` "
        "rejected numdifftools' input (returned as NaN).", "",
        table(["group", "case", "gradcheck max", "gradcheck median", "numdifftools max",
               "numdifftools median", "gradcheck ≤ numdifftools", "accuracy ratio",
               "gradcheck evals", "numdifftools evals", "eval ratio", "NaN inputs", "note"],
              rows), "",
    ]


def problems_section(res: dict[str, Any]) -> list[str]:
    """Every false alarm, raise, bound violation, missed detection and peer win."""
    out: list[str] = []
    for c in res["cases"]:
        where = f"`{c['expr']}` wrt {c['wrt']} at `{fmt_point(c['at'])}`"
        if "error" in c:
            out.append(f"- **Case did not run** ({c['name']}): {where}: {c['error']}.")
            continue
        for method, r in c["methods"].items():
            if "error" in r:
                out.append(f"- **Raised on a point inside the domain** ({c['name']}, "
                           f"method `{method}`): {where}: {r['error']}.")
            elif not r["passed"]:
                bad = "; ".join(f"{tuple(x['index'])} exact {x['exact']:.10g}, numeric "
                                f"{x['numeric']:.10g}, |difference| {x['error']:.3g} > "
                                f"tolerance {x['tolerance']:.3g} (largest term {x['bound']})"
                                for x in r["mismatches"])
                out.append(f"- **False alarm** ({c['name']}, method `{method}`): {where}: "
                           f"the correct claim fails with "
                           f"{plural(len(r['mismatches']), 'mismatch', 'mismatches')}: {bad}; "
                           f"f at the point is off by {c['f_rounding']:.3g} ε·max|f|.")
    for c in res["cases"]:
        where = f"`{c['expr']}` wrt {c['wrt']} at `{fmt_point(c['at'])}`"
        for method, r in c["methods"].items():
            w = r.get("worst_violation")
            if w:
                out.append(f"- **Bound violation** ({c['name']}, method `{method}`): {where}: "
                           f"{plural(r['violations'], 'entry', 'entries')}; worst "
                           f"{tuple(w['index'])}: exact {w['exact']:.10g}, numeric "
                           f"{w['numeric']:.10g}, true error {w['error']:.3g} > bound "
                           f"{w['bound']:.3g} ({w['error'] / w['bound']:.3g}×)"
                           + ("" if r["passed"] else "; the check failed (above)")
                           + f"; f at the point is off by {c['f_rounding']:.3g} ε·max|f|.")
    for c in res["cases"]:
        for d in c["detection"]:
            if d["outcome"] != "caught":
                why = ("" if d["above_tolerance"] else
                       f"; the change {d['change']:.3g} is below the tolerance "
                       f"{d['tolerance']:.3g} (atol + rtol·|exact| + rounding floor), by design")
                out.append(f"- **Planted error not caught** ({d['name']}, {d['entry']} entry "
                           f"{tuple(d['index'])}, exact {d['exact']:.6g}): {d['outcome']}; "
                           f"reported: {'; '.join(d['reported']) or 'nothing'}{why}.")
    for p in res["peer_rows"]:
        if p["status"] == "ran" and not p["at_least_as_accurate"]:
            out.append(f"- **numdifftools more accurate** ({p['name']}): max relative error "
                       f"{p['nd_max']:.3g} against gradcheck auto's {p['gc_max']:.3g} "
                       f"({'within 4ε' if p['within_rounding'] else 'beyond rounding'}).")
        elif p["status"] != "ran":
            out.append(f"- **numdifftools {p['status']}** ({p['name']}): {p['note']}"
                       f"{'; ' + str(p['nd_nan_returns']) + ' inputs rejected' if p['nd_nan_returns'] else ''}.")  # noqa: E501
        if not p["eval_ratio"] <= EVAL_RATIO_TARGET:
            out.append(f"- **More than a third of numdifftools' evaluations** ({p['name']}): "
                       f"{p['gc_evals']} against {p['nd_evals']}.")
    return ["## Problems found", "", *(out or ["None."]), ""]


def runtime_section(res: dict[str, Any]) -> list[str]:
    cases = res["cases"]
    method_s = {m: sum(c["methods"][m]["seconds"] for c in cases if m in c["methods"])
                for m in METHODS}
    peer_s = sum(c["peer"]["seconds"] for c in cases if c.get("peer"))
    slow = max(cases, key=lambda c: c["seconds"])
    return [
        "## Run time", "",
        f"The whole run took {res['seconds']:.1f} s (wall clock, one process). gradcheck "
        "checks with the correct claim, by method: "
        + ", ".join(f"`{m}` {s:.1f} s" for m, s in method_s.items())
        + f"; numdifftools {peer_s:.2f} s. Slowest case: {slow['name']} "
        f"({slow['seconds']:.1f} s, including SymPy).", "",
    ]


def main() -> None:
    start = time.perf_counter()
    res: dict[str, Any] = {"machine": machine(), "numdifftools": numdifftools.__version__}
    res["cases"] = []
    for row in ROWS:
        res["cases"].append(run_case(row))
        print(f"{row.name}: {res['cases'][-1]['seconds']:.2f} s", flush=True)
    res["coverage"] = coverage()
    res["summary"] = [method_summary(res["cases"], m) for m in METHODS]
    res["peer_rows"] = peer_rows(res["cases"])
    res["targets"] = targets(res)
    res["seconds"] = time.perf_counter() - start
    (HERE / "accuracy.md").write_text(report(res))
    print(f"wrote {HERE / 'accuracy.md'} in {res['seconds']:.1f} s")
    for t in res["targets"]:
        print(f"{'PASS' if t['pass'] else 'FAIL'}: {t['target']}: {t['measured']}")


if __name__ == "__main__":
    main()

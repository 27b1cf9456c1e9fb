"""Results as text for people (JSON and LaTeX are in export.py, every format in formats.py).

The text report is plain unless asked for colour (``color=True``): then
disagreeing entries and a FAIL are red, a PASS green. :func:`wants_color`
says whether a stream should get colour (a terminal, and NO_COLOR unset).

>>> import gradcheck
>>> r = gradcheck.check("sum(z * z)", at={"z": [[1, 2]]}, expect="2*z")
>>> print(text(r).splitlines()[-1])
PASS: exact, numeric and claimed agree on all 2 entries
>>> "\\x1b[" in text(r)
False
>>> text(r, color=True).splitlines()[-1]
'\\x1b[1;32mPASS: exact, numeric and claimed agree on all 2 entries\\x1b[0m'

Longer than most modules: every line of the text report, for checks and for
check_function, is written here, so that what users read is in one place.
"""

from __future__ import annotations

import io
import re
import sys
from typing import IO, Any

import numpy as np
from rich.color import ColorSystem
from rich.console import Console
from rich.style import Style
from rich.table import Table
from rich.text import Text

from gradcheck.checking.result import CheckResult, Gradient
from gradcheck.compare.comparator import SCALE
from gradcheck.exact.elements import Lazy
from gradcheck.exact.symbolic import entries
from gradcheck.language.shapes import fmt
from gradcheck.report.labels import METHOD_NAMES, entries_of, entry_label, largest
from gradcheck.values.layout import label
from gradcheck.values.sparse import Sparse, dense

__all__ = ["function_text", "text", "wants_color"]

MAX_ROWS = 20  # disagreeing entries listed before the rest are counted
MAX_SHOWN = 12  # rows and columns of a Jacobian shown in full
BAD, GOOD, ODD = "bold red", "bold green", "yellow"  # disagreement, agreement, kink


def wants_color(file: IO[str] | None = None, *, force_terminal: bool | None = None) -> bool:
    """Whether a report written to ``file`` (default stdout) should be coloured.

    rich decides: only a terminal (or FORCE_COLOR / TTY_COMPATIBLE=1, or
    ``force_terminal``) that is not TERM=dumb, and never when the NO_COLOR
    environment variable is set to anything non-empty.
    """
    console = Console(file=file if file is not None else sys.stdout,
                      force_terminal=force_terminal)
    return console.is_terminal and not console.no_color and console.color_system is not None


def _paint(s: str, style: str, color: bool) -> str:
    """``s`` in ``style`` (after its indentation) when ``color``, else ``s`` unchanged."""
    if not color:
        return s
    body = s.lstrip(" ")
    return s[:len(s) - len(body)] + Style.parse(style).render(body,
                                                              color_system=ColorSystem.STANDARD)


# ----- text -----

def text(r: CheckResult, *, color: bool = False) -> str:
    out = [f"f = {r.expression}", f"read as {r.reading}"]
    out += [f"  {reading}" for reading in r.readings]
    shapes = ", ".join(f"{n} {fmt(s)}" for n, s in r.shapes.items())
    out.append(f"shapes: {shapes} -> f {fmt(r.output_shape)}")
    given = [n for n in r.shapes if n not in r.drawn]
    point = []
    if given:
        point.append(", ".join(given) + " given")
    if r.drawn:
        point.append(", ".join(r.drawn) + f" drawn at random (seed {r.seed})")
    out.append("point: " + "; ".join(point))
    for n in r.rows:
        rows, cols = r.shapes[n]
        column = "[" + ", ".join(f"[{v:g}]" for v in r.point[n].ravel()[:3]) + \
            (", …]" if cols > 3 else "]")
        out.append(f"  {n} was given 1-D: read as a {rows}×{cols} row vector "
                   f"(for a column, give {column})")
    for g in r.gradients:
        out.append("")
        out += _gradient_text(r, g, color)
    out.append("")
    out.append(_paint(_verdict(r), GOOD if r.passed else ODD if r.verdict == "undecided"
                      else BAD, color))
    return "\n".join(out)


def _gradient_text(r: CheckResult, g: Gradient, color: bool = False) -> list[str]:
    scalar = r.output_shape == (1, 1)
    if scalar:
        head = f"∂f/∂{g.name}: gradient, {fmt(g.shape)}"
    elif g.elementwise:
        dims = _dims(g.held("exact").shape)
        head = (f"∂f/∂{g.name}: Jacobian {dims}, diagonal (f is elementwise "
                f"in {g.name}); showing ∂f[i,j]/∂{g.name}[i,j]")
    else:
        head = (f"∂f/∂{g.name}: Jacobian {_dims(g.held('exact').shape)}; rows f[i,j], columns "
                f"{g.name}[k,l]")
    lines = [head]
    if g.closed_form is not None:
        lines.append(f"  closed form: {g.closed_form}")
    how = ", ".join(METHOD_NAMES.get(m, m) for m in g.methods)
    blocks = [(f"exact ({exactness(g)})", _view(g, g.held("exact"), exact=_rational_values(g),
                                                color=color))]
    if g.held("numeric") is not None:
        marks = {m.index: BAD for m in g.mismatches if m.kind == "engines"}
        marks.update({u.index: ODD for u in g.undefined})
        blocks.append((f"numeric ({how}, {g.evaluations} evaluations)",
                       _view(g, g.held("numeric"), marks=marks, color=color)))
    else:
        assert g.directions is not None
        bad = {m.index[0] for m in g.mismatches if m.kind == "direction"}
        blocks.append((f"numeric: {len(g.directions.exact)} random projections uᵀJv ({how}, "
                       f"{g.evaluations} evaluations)", _projections(g.directions, bad, color)))
    if g.claimed is not None:
        title = f"claimed: {g.claim_text}" if g.claim_text else "claimed"
        marks = {m.index: BAD for m in g.mismatches if m.kind == "claim"}
        blocks.append((f"{title} ({g.claim_form})",
                       _view(g, g.claimed, marks=marks, color=color)))
    for title, body in blocks:
        lines.append(f"  {title}")
        lines += ["    " + line for line in body]
    c = g.comparison
    if g.undefined:
        lines.append(_paint(f"  not differentiable at this point "
                            f"({entries_of(len(g.undefined))}, not judged):", ODD, color))
        for u in g.undefined[:MAX_ROWS]:
            lines.append(f"    {label(u.index, g.name)}: {u.where}; one-sided derivatives "
                         f"{_num(u.left)} (left) and {_num(u.right)} (right)")
        if len(g.undefined) > MAX_ROWS:
            lines.append(f"    … and {len(g.undefined) - MAX_ROWS} more")
    lines.append(f"  max |exact - numeric| {c.max_abs_diff:.2g} (relative {c.max_rel_diff:.2g})")
    if c.max_claim_error is not None:
        lines.append(f"  max |claimed - exact| {c.max_claim_error:.2g}")
    if g.held("numeric_error") is not None:
        judged: Any = True
        if g.undefined:
            judged = np.ones(g.held("numeric_error").shape, dtype=bool)
            for u in g.undefined:
                judged[u.index] = False
        bound = largest(g.held("numeric_error"), judged)
    else:
        assert g.directions is not None
        bound = float(np.max(g.directions.error[g.directions.defined], initial=0.0))
    top = largest(g.held("exact"))
    floor = SCALE * top  # the largest rounding floor (see compare.rounding_floor)
    atol = f"atol {r.atol:g} + " if r.atol else ""
    lines.append(f"  tolerance: {atol}rtol {r.rtol:g}·|exact| + rounding floor (at most "
                 f"{floor:.2g}); "
                 f"exact vs numeric also allows the numeric error bound (at most {bound:.2g})")
    if g.mismatches:
        lines += ["", *_mismatch_table(r, g, color)]
    if g.diagnosis is not None:
        lines.append(_paint(f"  diagnosis: {g.diagnosis.sentence}", ODD, color))
        if g.diagnosis.difference is not None:
            lines.append(f"  exact - claimed = {g.diagnosis.difference}")
    return lines


def _projections(d: Any, bad: set[int] | None = None, color: bool = False) -> list[str]:
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0))
    for col in ("direction", "exact", "numeric", "error bound"):
        table.add_column(col, justify="right")
    for k in range(min(len(d.exact), MAX_ROWS)):
        numeric = _num(d.numeric[k]) if d.defined[k] else "kink"
        style = BAD if bad and k in bad else None if d.defined[k] else ODD
        table.add_row(str(k), _num(d.exact[k]), numeric, f"{d.error[k]:.2g}", style=style)
    lines = _rich(table, color)
    if len(d.exact) > MAX_ROWS:
        lines.append(f"… {len(d.exact) - MAX_ROWS} more")
    return lines


def exactness(g: Gradient) -> str:
    """Which engines computed the exact derivative, and how exact it is."""
    text = _exactness(g)
    if g.engine_note == "agrees":
        return f"{text}; the closed form agrees"
    if g.engine_note == "disagrees":
        return (f"{text}; the closed form disagrees and is not shown: a defect of gradcheck, "
                "please report it")
    return text if g.engine_note is None else f"{text}; {g.engine_note}"


def _exactness(g: Gradient) -> str:
    if g.engine in ("sympy", "symengine"):
        who = "SymPy" if g.engine == "sympy" else "symengine"
        if g.held("exact_error") is None:
            return f"{who}, exact"
        return f"{who}, not converged: within {largest(g.held('exact_error')):.1e}"
    if g.exactness == "certified":
        if g.held("exact_error") is None:
            return "closed form, certified by ball arithmetic"
        return (f"closed form, ball arithmetic within "
                f"{largest(g.held('exact_error')):.1e}")
    if g.held("exact_error") is None:
        return "closed form, exact rational arithmetic"
    return f"closed form, float64 within {largest(g.held('exact_error')):.1e}"


def _view(g: Gradient, a: Any, exact: Any = None,
          marks: dict[tuple[int, ...], str] | None = None, color: bool = False) -> list[str]:
    """The array as people read it: the diagonal for elementwise Jacobians,
    a (f entries) × (w entries) table otherwise. ``marks`` styles entries
    (array indices) when ``color``."""
    if exact is not None:
        a = dense(a)
    wide = len(a.shape) == 4 and not g.elementwise and a.shape[2] * a.shape[3] > 6
    cells: Any = _cells(a, exact, digits=6 if wide else 10) if exact is not None else _Lazy(
        a, 6 if wide else 10)
    styles: dict[tuple[int, int], str] = {}
    for idx, style in (marks or {}).items():
        if len(a.shape) == 2:
            styles[(idx[0], idx[1])] = style
        elif g.elementwise:
            if idx[:2] == idx[2:]:  # off the diagonal is not shown (the table lists it)
                styles[(idx[0], idx[1])] = style
        else:
            styles[(idx[0] * a.shape[1] + idx[1], idx[2] * a.shape[3] + idx[3])] = style
    if len(a.shape) == 2:
        return _grid(cells, None, None, styles, color)
    if g.elementwise:
        r, c = g.shape
        return _grid(np.array([[cells[i, j, i, j] for j in range(c)] for i in range(r)]),
                     None, None, styles, color)
    fr, fc, wr, wc = a.shape
    flat = cells.reshape(fr * fc, wr * wc)
    rows = [f"f[{i},{j}]" for i in range(fr) for j in range(fc)]
    cols = [f"{g.name}[{k},{l}]" for k in range(wr) for l in range(wc)]
    return _grid(flat, rows, cols, styles, color)


class _Lazy:
    """Cells formatted when shown: a large Jacobian is shown in part, and
    formatting all its entries would take longer than the check. ``a`` is
    an array or a Sparse, read as ``shape``."""

    def __init__(self, a: Any, digits: int, shape: tuple[int, ...] | None = None) -> None:
        self.a, self.digits = a, digits
        self.shape = a.shape if shape is None else shape

    def __getitem__(self, idx: Any) -> str:
        flat = int(np.ravel_multi_index(idx, self.shape))
        value = self.a.at(flat) if isinstance(self.a, Sparse) else self.a[
            np.unravel_index(flat, self.a.shape)]
        return str(_cells(np.asarray(value).reshape(1), None, self.digits)[0])

    def reshape(self, *shape: int) -> _Lazy:
        return _Lazy(self.a, self.digits, shape)


def _rational_values(g: Gradient) -> Any:
    """The exact values where they are rational numbers, to show as fractions;
    else None (the floats are shown, certified)."""
    held = g.held("exact_values")
    if isinstance(held, Lazy):  # symengine's: read as they are, without SymPy
        return held if held.rational else None
    return held


def _cells(a: np.ndarray, exact: Any, digits: int = 10) -> np.ndarray:
    if exact is not None:
        flat = list(exact.flat) if isinstance(exact, Lazy) else entries(exact)
        if all(e.is_Rational and abs(e.q) < 10**6 for e in flat):
            return np.array([str(e) for e in flat], dtype=object).reshape(a.shape)
    cells: np.ndarray = np.vectorize(lambda v: _num(v, digits), otypes=[object])(a)
    return cells


def _num(v: float, digits: int = 10) -> str:
    if v == 0:
        return "0"
    return f"{v:.{digits}g}"


def _grid(cells: np.ndarray, rows: list[str] | None, cols: list[str] | None,
          styles: dict[tuple[int, int], str] | None = None, color: bool = False) -> list[str]:
    n, m = cells.shape
    keep_r = list(range(min(n, MAX_SHOWN)))
    keep_c = list(range(min(m, MAX_SHOWN)))
    table = Table(show_header=cols is not None, box=None, pad_edge=False, padding=(0, 2, 0, 0))
    if rows is not None:
        table.add_column("")
    for j in keep_c:
        table.add_column(cols[j] if cols else "", justify="right")
    if m > len(keep_c):
        table.add_column("…")
    for i in keep_r:
        row: list[str | Text] = [_cell(cells[i, j], (styles or {}).get((i, j)))
                                 for j in keep_c]
        row += ["…"] if m > len(keep_c) else []
        table.add_row(*([rows[i]] if rows else []), *row)
    lines = _rich(table, color)
    if n > len(keep_r):
        lines.append(f"… {n - len(keep_r)} more rows")
    return lines


def _cell(s: str, style: str | None) -> str | Text:
    return s if style is None else Text(s, style=style)


def _rich(renderable: Any, color: bool = False) -> list[str]:
    """Lines of a rich renderable: plain, or with ANSI colours (styles only, no highlighting)."""
    buf = io.StringIO()
    if color:
        console = Console(file=buf, width=200, color_system="standard", force_terminal=True,
                          no_color=False, highlight=False, legacy_windows=False)
    else:
        console = Console(file=buf, width=200, color_system=None, force_terminal=False)
    console.print(renderable)
    return [_rstrip(line) for line in buf.getvalue().splitlines()]


_TRAILING = re.compile(r"\s+((?:\x1b\[[0-9;]*m)*)$")


def _rstrip(line: str) -> str:
    """The line without trailing spaces, also those inside trailing colour codes."""
    while (stripped := _TRAILING.sub(r"\1", line)) != line:
        line = stripped
    return line.rstrip()


def _mismatch_table(r: CheckResult, g: Gradient, color: bool = False) -> list[str]:
    ms = g.mismatches
    kinds = {m.kind for m in ms}
    total = g.held("exact").size
    head = f"  {_of(len(ms), total)}"
    if "claim" in kinds:
        head += ": the claimed derivative is wrong there"
    lines = [_paint(head, BAD, color)]
    if "direction" in kinds:
        lines.append("  exact and numeric disagree along some random directions: a kink or a "
                     "badly scaled point nearby, or a bug in gradcheck")
    if "engines" in kinds:
        lines.append("  exact and numeric disagree at some entries: a kink or a badly scaled "
                     "point nearby, or a bug in gradcheck")
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0))
    for col in ("entry", "exact", "numeric", "claimed", "error", "tolerance", "bound"):
        table.add_column(col, justify="left" if col in ("entry", "bound") else "right")
    for m in ms[:MAX_ROWS]:
        table.add_row(entry_label(m), _opt(m.exact), _num(m.numeric), _opt(m.claimed),
                      f"{m.error:.3g}", f"{m.tolerance:.3g}", m.bound, style="red")
    lines += ["  " + line for line in _rich(table, color)]
    if len(ms) > MAX_ROWS:
        lines.append(f"  … and {len(ms) - MAX_ROWS} more")
    return lines


def _opt(v: float | None) -> str:
    return "-" if v is None else _num(v)


def _verdict(r: CheckResult) -> str:
    if r.verdict == "undecided":
        return "CANNOT JUDGE: " + "; ".join(_undecided(g) for g in r.gradients
                                            if g.verdict == "undecided")
    if not r.passed:
        names = ", ".join(f"∂f/∂{g.name}" for g in r.gradients if not g.passed)
        if any(g.directions is not None for g in r.gradients):
            return f"FAIL: {_count(len(r.mismatches), 'disagreement')} ({names})"
        total = sum(g.held("exact").size for g in r.gradients)
        return f"FAIL: {_of(len(r.mismatches), total)} ({names})"
    claimed = [g.name for g in r.gradients if g.claimed is not None]
    if len(claimed) == len(r.gradients):
        what = "exact, numeric and claimed agree"
    elif claimed:
        what = f"exact and numeric agree, and so do the claims for {', '.join(claimed)},"
    else:
        what = "exact and numeric agree"
    if any(g.directions is not None for g in r.gradients):
        return "PASS: " + _directions_verdict(r, claimed)
    unconfirmed = sum(g.comparison.undecided_count for g in r.gradients)
    if unconfirmed:  # only where every derivative has its claim judged (see verdict)
        what = ("exact and claimed agree"
                f" (the numeric estimate could not confirm {entries_of(unconfirmed)}: its error "
                "bound is not a number there)")
    total = sum(g.held("exact").size for g in r.gradients)
    skipped = sum(len(g.undefined) for g in r.gradients)
    if skipped:
        return (f"PASS: {what} on the {entries_of(total - skipped)} where f is differentiable; "
                f"{entries_of(skipped)} at a kink not judged")
    return f"PASS: {what} on {'the' if total == 1 else 'all'} {entries_of(total)}"


def _undecided(g: Gradient) -> str:
    """Why a derivative got no verdict, and what to do about it."""
    c = g.comparison
    if not c.undecided_count:
        return (f"∂f/∂{g.name}: every entry is at a kink, where f is not differentiable; "
                "choose a point off the kinks")
    widest = {m.bound for m in c.undecided}
    if widest & {"exact"}:
        why = ("the exact value's error bound (float64, ill-conditioned, or not converged) "
               "is too wide to tell right from wrong")
        fix = "use rational values (fractions) or a better-conditioned point"
    elif widest & {"claim"}:
        why = "the claim's own rounding bound is too wide to tell right from wrong"
        fix = "evaluate the claim at a better-conditioned point"
    elif widest & {"rounding"}:
        why = ("the claim is off by more than the tolerance but no more than a float64 "
               "computation of this derivative may round here (ill-conditioned)")
        fix = "give the claim as an expression (evaluated exactly), or a better-conditioned point"
    else:
        why = "the numeric error bound is not a number there (overflow, or a kink nearby)"
        fix = "choose a point away from overflow and kinks, or another --method"
    return f"∂f/∂{g.name}: {entries_of(c.undecided_count)} undecided: {why}; {fix}"


def _directions_verdict(r: CheckResult, claimed: list[str]) -> str:
    dirs = [g.directions for g in r.gradients if g.directions is not None]
    judged = sum(int(d.defined.sum()) for d in dirs)
    drawn = sum(len(d.defined) for d in dirs)
    text = f"exact and numeric agree along {_count(judged, 'random direction')}"
    if judged < drawn:
        text += f" ({_count(drawn - judged, 'more')} through a kink not judged)"
    if claimed:
        entries = sum(g.held("exact").size for g in r.gradients if g.claimed is not None)
        text += f"; the claims agree with exact on all {entries_of(entries)}"
    return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 or noun == "more" else "s")


def _of(bad: int, total: int) -> str:
    """``6 of 36 entries disagree``, ``1 of 36 entries disagrees``."""
    return f"{bad} of {entries_of(total)} disagree" + ("s" if bad == 1 else "")


def _dims(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape)


# ----- check_function -----

def function_text(r: Any) -> str:
    """The report of :func:`gradcheck.check_function`."""
    inputs = ", ".join(f"{n} {_dims(s) if len(s) != 1 else f'({s[0]},)'}"
                       for n, s in r.inputs.items())
    how = f"{r.upstreams} random upstream{'s' if r.upstreams > 1 else ''}"
    if r.evaluations:
        how += f", {r.evaluations} evaluations of forward"
    out = [f"backward checked against {r.reference} ({how})",
           f"inputs: {inputs} -> f {_dims(r.output_shape)}"]
    if r.precision != "float64":
        out.append(f"judged at {r.precision} precision: the code works in {r.precision}, so a "
                   f"backward may round by 2^10 {r.precision} eps of the terms it sums")
    for name, err in r.max_error.items():
        out.append(f"  ∂/∂{name}: max |backward - reference| {err:.2g}")
    if r.kinks:
        where = ", ".join(f"{n}[{','.join(map(str, i))}]" for n, i in r.kinks)
        out.append(f"  not differentiable at this point along {where} (forward's one-sided "
                   "derivatives differ: a kink): not judged")
    if r.mismatches:
        table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0))
        for col in ("entry", "upstream", "reference", "got", "error", "tolerance", "bound"):
            table.add_column(col, justify="left" if col in ("entry", "bound") else "right")
        for m in r.mismatches[:MAX_ROWS]:
            where = "forward " if m.kind == "forward" else "∂/∂"
            entry = f"{where}{m.variable}[{','.join(map(str, m.index))}]"
            upstream = "-" if m.upstream is None else str(m.upstream)
            table.add_row(entry, upstream, _num(m.exact), _opt(m.claimed), f"{m.error:.3g}",
                          f"{m.tolerance:.3g}", m.bound)
        out += ["", *("  " + line for line in _rich(table))]
        if len(r.mismatches) > MAX_ROWS:
            out.append(f"  … and {len(r.mismatches) - MAX_ROWS} more")
        forward = sum(m.kind == "forward" for m in r.mismatches)
        names = sorted({m.variable for m in r.mismatches if m.kind == "backward"})
        parts = [f"forward differs from the expression at {entries_of(forward)}"] if forward \
            else []
        if names:
            parts.append("backward is wrong for " + ", ".join(names))
        out += ["", "FAIL: " + "; ".join(parts)]
    elif r.undecided:
        names = sorted({m.variable for m in r.undecided})
        count = len({(m.variable, m.index) for m in r.undecided})
        out += ["", f"CANNOT JUDGE: at {entries_of(count)}"
                    f" of {', '.join(names)} the finite-difference bound is too wide to tell a "
                    "right backward from a wrong one (f varies too fast or too noisily there); "
                    "give expr= for an exact reference, or loosen rtol"]
    else:
        out += ["", f"PASS: backward agrees with {r.reference} for every input and upstream"]
    return "\n".join(out)

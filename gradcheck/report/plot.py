"""Heatmaps of a check: the exact and claimed derivatives and the per-entry errors.

One row of panels per checked variable: the exact Jacobian, the claimed one
(if a claim was given), |exact − numeric| (unless the numeric engine was
checked by random directions) and |exact − claimed| (if claimed).
A 4-index Jacobian ``J[i,j,k,l] = ∂f[i,j]/∂w[k,l]`` is drawn flattened to a
(f.size × w.size) matrix, rows f[i,j] and columns w[k,l] in row-major order;
a gradient is drawn with w's shape. Disagreeing entries are marked with a
red ×.

matplotlib is optional (``pip install 'gradcheck[plot]'``) and is imported
only when a plot is drawn. The figure is drawn on matplotlib's
non-interactive Agg canvas without pyplot: no window opens and the global
backend is left alone. For example::

    from gradcheck.report.plot import plot, panels
    fig = plot(gradcheck.check("sum(z * z)", at={"z": [[1, 2]]}, expect="2*z"), "z.png")
    [ax.get_title() for ax in panels(fig)]
    # ['∂f/∂z exact', '∂f/∂z claimed', '|exact − numeric|, max 0', '|exact − claimed|, max 0']
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gradcheck.checking.result import CheckResult, Gradient
from gradcheck.errors import OptionError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["check_path", "panels", "plot"]

HINT = "pip install 'gradcheck[plot]'"
_TICKS = 12  # entries labelled by name along an axis; beyond, matplotlib's numbers
_TITLE = 80  # characters of the expression shown in the figure's title
DRAWN = 2**20  # entries a heatmap may have: more than a figure has pixels to show them


def _matplotlib() -> tuple[Any, Any]:
    """Figure and the Agg canvas, or an OptionError naming the fix."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise OptionError("plotting needs matplotlib, which is not installed",
                          hint=HINT) from None
    return Figure, FigureCanvasAgg


def check_path(path: str | os.PathLike[str]) -> Path:
    """The path a plot will be written to, checked before any work is done:
    the directory exists, matplotlib is installed and the file name ends in
    a format matplotlib writes (``.png``, ``.svg``, ``.pdf``, ...)."""
    p = Path(path)
    where = f"cannot write the plot to {str(path)!r}"
    if p.is_dir():
        raise OptionError(f"{where}: it is a directory", hint="give a file name such as plot.png")
    parent = p.parent
    if not parent.is_dir():
        raise OptionError(f"{where}: the directory {str(parent)!r} does not exist",
                          hint="create the directory first, or choose a path in an existing one")
    _, canvas = _matplotlib()
    formats = canvas.get_supported_filetypes()
    if p.suffix.lower().lstrip(".") not in formats:
        raise OptionError(f"{where}: the file name does not end in an image format",
                          hint="end it in .png (or .svg, .pdf)")
    return p


def plot(result: CheckResult, path: str | os.PathLike[str] | None = None) -> Figure:
    """Draw the heatmaps of ``result`` and write them to ``path`` (if given).

    Returns the matplotlib Figure; :func:`panels` lists its heatmaps.
    Raises :class:`~gradcheck.errors.OptionError` if matplotlib is missing
    or the file cannot be written there.
    """
    figure_class, canvas = _matplotlib()
    target = check_path(path) if path is not None else None
    for g in result.gradients:
        size = g.held("exact").size
        if size > DRAWN:
            raise OptionError(f"∂f/∂{g.name} has {size} entries, too many to draw: a plot "
                              f"shows at most {DRAWN}, one pixel each",
                              hint="plot a smaller case; the report covers every entry")
    rows = [_panels(g) for g in result.gradients]
    ncols = max(len(r) for r in rows)
    fig: Figure = figure_class(figsize=(3.8 * ncols, 3.4 * len(rows) + 0.4), layout="constrained")
    canvas(fig)
    axes = fig.subplots(len(rows), ncols, squeeze=False)
    for g, row, axs in zip(result.gradients, rows, axes, strict=True):
        for ax, (title, data, kind, marks) in zip(axs, row, strict=False):
            _heatmap(fig, ax, g, title, data, kind, marks)
        for ax in axs[len(row):]:
            ax.remove()
    expression = result.expression if len(result.expression) <= _TITLE \
        else result.expression[:_TITLE - 1] + "…"
    fig.suptitle(f"f = {expression}: {'PASS' if result.passed else 'FAIL'}", parse_math=False)
    if target is not None:
        with warnings.catch_warnings():
            # A character of the expression the default font lacks is drawn as a box.
            warnings.filterwarnings("ignore", message="Glyph .* missing from font")
            try:
                fig.savefig(target, dpi=100)
            except OSError as e:
                raise OptionError(f"cannot write the plot to {str(path)!r}: "
                                  f"{e.strerror or e}") from None
    return fig


def panels(fig: Figure) -> list[Any]:
    """The heatmap axes of a figure from :func:`plot`, row by row (colour bars left out)."""
    return [ax for ax in fig.axes if ax.get_label() == "heatmap"]


_Panel = tuple[str, np.ndarray, str, list[tuple[int, ...]]]


def _panels(g: Gradient) -> list[_Panel]:
    claim = [m.index for m in g.mismatches if m.kind == "claim"]
    engines = [m.index for m in g.mismatches if m.kind == "engines"]
    out: list[_Panel] = [(f"∂f/∂{g.name} exact", g.exact, "value", [])]
    if g.claimed is not None:
        out.append((f"∂f/∂{g.name} claimed", g.claimed, "value", claim))
    if g.numeric is not None:
        err = np.abs(g.exact - g.numeric)
        out.append((f"|exact − numeric|, max {_max(err):.2g}", err, "error", engines))
    if g.claimed is not None:
        err = np.abs(g.exact - g.claimed)
        out.append((f"|exact − claimed|, max {_max(err):.2g}", err, "error", claim))
    return out


def _max(a: np.ndarray) -> float:
    return float(np.max(np.abs(a[np.isfinite(a)]), initial=0.0))


def _heatmap(fig: Figure, ax: Any, g: Gradient, title: str, data: np.ndarray, kind: str,
             marks: list[tuple[int, ...]]) -> None:
    ax.set_label("heatmap")
    flat = data.reshape(data.shape[0] * data.shape[1], -1) if data.ndim == 4 else data
    if kind == "value":
        scale = max(_max(g.exact), _max(g.claimed) if g.claimed is not None else 0.0) or 1.0
        image = ax.imshow(flat, cmap="RdBu_r", vmin=-scale, vmax=scale, interpolation="nearest")
    else:
        image = ax.imshow(flat, cmap="viridis", vmin=0.0, vmax=_max(flat) or 1.0,
                          interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.85)
    ax.set_title(title, parse_math=False, fontsize=10)
    if marks:
        cells = [_cell(idx, data.shape) for idx in marks]
        ax.plot([c for _, c in cells], [r for r, _ in cells], "x", color="red", markersize=6)
        ax.set_xlim(-0.5, flat.shape[1] - 0.5)
        ax.set_ylim(flat.shape[0] - 0.5, -0.5)
    name = g.name
    if data.ndim == 4:
        fr, fc, wr, wc = data.shape
        ax.set_ylabel(f"f[i,j], row-major (row i·{fc}+j of {fr * fc})", parse_math=False)
        ax.set_xlabel(f"{name}[k,l], row-major (column k·{wc}+l of {wr * wc})",
                      parse_math=False)
        rows = [f"f[{i},{j}]" for i in range(fr) for j in range(fc)]
        cols = [f"{name}[{k},{l}]" for k in range(wr) for l in range(wc)]
    else:
        ax.set_ylabel(f"row k of {name}", parse_math=False)
        ax.set_xlabel(f"column l of {name}  (entry ∂f/∂{name}[k,l])", parse_math=False)
        rows = [str(k) for k in range(data.shape[0])]
        cols = [str(l) for l in range(data.shape[1])]
    if len(rows) <= _TICKS:
        ax.set_yticks(range(len(rows)), rows, fontsize=7)
    if len(cols) <= _TICKS:
        ax.set_xticks(range(len(cols)), cols, fontsize=7, rotation=90 if data.ndim == 4 else 0)


def _cell(idx: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, int]:
    """(row, column) of an entry in the drawn (flattened) matrix."""
    if len(idx) == 2:
        return idx[0], idx[1]
    return idx[0] * shape[1] + idx[1], idx[2] * shape[3] + idx[3]

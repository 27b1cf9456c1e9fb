"""Heatmaps (gradcheck.report.plot) and ``gradcheck check --plot FILE.png``."""

from __future__ import annotations

import builtins
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradcheck
from conftest import SEED_AT, SEED_LETS
from gradcheck.cli import main
from gradcheck.errors import OptionError

F = "(x·y+z)·A+z"
PNG = b"\x89PNG\r\n\x1a\n"

needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None,
    reason="matplotlib is not installed (pip install 'gradcheck[plot]')")


def run(runner, *args):
    return runner.invoke(main, ["check", *args], catch_exceptions=False)


@pytest.fixture
def no_matplotlib(monkeypatch):
    """Importing matplotlib fails, as where the plot extra is not installed."""
    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)


def _titles(fig):
    from gradcheck.report.plot import panels

    return [ax.get_title() for ax in panels(fig)]


@needs_matplotlib
def test_plot_writes_a_png_with_a_panel_per_array(tmp_path):
    from gradcheck.report.plot import plot

    r = gradcheck.check(F, wrt="z", at=SEED_AT, expect="A")
    path = tmp_path / "z.png"
    fig = plot(r, path)
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 1000
    assert _titles(fig) == ["∂f/∂z exact", "∂f/∂z claimed", "|exact − numeric|, max 0",
                            "|exact − claimed|, max 1"]
    assert len(fig.axes) == 8  # four heatmaps, each with its colour bar
    assert fig.get_suptitle() == "f = (x·y+z)·A+z: FAIL"


@needs_matplotlib
def test_jacobians_are_drawn_flattened_with_the_values_they_have():
    from gradcheck.report.plot import panels, plot

    r = gradcheck.check(F, wrt="z", at=SEED_AT, expect="A")
    g = r["z"]
    exact, claimed, engines, wrong = panels(plot(r))
    assert np.array_equal(exact.images[0].get_array(), g.exact.reshape(6, 6))
    assert np.array_equal(claimed.images[0].get_array(), g.claimed.reshape(6, 6))
    assert np.array_equal(wrong.images[0].get_array(), np.abs(g.exact - g.claimed).reshape(6, 6))
    assert np.array_equal(engines.images[0].get_array(), np.abs(g.exact - g.numeric).reshape(6, 6))
    assert exact.get_ylabel() == "f[i,j], row-major (row i·2+j of 6)"
    assert exact.get_xlabel() == "z[k,l], row-major (column k·2+l of 6)"
    assert [t.get_text() for t in exact.get_xticklabels()][:3] == ["z[0,0]", "z[0,1]", "z[1,0]"]
    # The six wrong claimed entries are on the diagonal of the flattened Jacobian: marked ×.
    assert wrong.lines[0].get_xydata().tolist() == [[k, k] for k in range(6)]
    assert claimed.lines[0].get_xydata().tolist() == [[k, k] for k in range(6)]
    assert len(engines.lines) == 0  # exact and numeric agree: nothing marked


@needs_matplotlib
def test_several_variables_directions_and_gradients():
    from gradcheck.report.plot import panels, plot

    at = {"x": "ones(3,2)", "y": "0.5*ones(2,2)", "z": "0.25*ones(3,2)",
          "A": [[1, 0], [2, 1], [0, 1]]}
    fig = plot(gradcheck.check(F, wrt=["z", "y"], at=at, expect={"z": "A + 1"}))
    assert _titles(fig) == ["∂f/∂z exact", "∂f/∂z claimed", "|exact − numeric|, max 0",
                            "|exact − claimed|, max 0", "∂f/∂y exact", "|exact − numeric|, max 0"]
    assert len(fig.axes) == 12  # unused places in y's row are removed
    y_exact = panels(fig)[4]
    assert y_exact.images[0].get_array().shape == (6, 4)  # (f.size, y.size)
    # Random directions: no entry-by-entry numeric estimate, so no |exact - numeric| panel.
    directions = gradcheck.check("tanh(P@Q)", shapes={"P": (3, 3), "Q": (3, 3)}, directions=3)
    assert _titles(plot(directions)) == ["∂f/∂P exact", "∂f/∂Q exact"]
    # A gradient keeps w's shape.
    grad = gradcheck.check("sum(σ(x·W + b))", shapes={"x": (4, 3), "W": (3, 2), "b": (1, 2)},
                           wrt="W")
    w, err = panels(plot(grad))
    assert err.get_title().startswith("|exact − numeric|, max ")
    assert np.array_equal(w.images[0].get_array(), grad.exact)
    assert w.get_ylabel() == "row k of W"


@needs_matplotlib
def test_plot_rejects_paths_it_cannot_write(tmp_path):
    from gradcheck.report.plot import plot

    r = gradcheck.check("sum(z * z)", at={"z": [[1, 2]]})
    with pytest.raises(OptionError, match="the directory .* does not exist"):
        plot(r, tmp_path / "missing" / "z.png")
    with pytest.raises(OptionError, match="does not end in an image format"):
        plot(r, tmp_path / "z.txt")
    with pytest.raises(OptionError, match="it is a directory"):
        plot(r, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_without_matplotlib_the_api_raises_an_option_error_naming_the_fix(no_matplotlib):
    from gradcheck.report.plot import plot

    r = gradcheck.check("sum(z * z)", at={"z": [[1, 2]]})
    with pytest.raises(OptionError) as e:
        plot(r, "z.png")
    assert e.value.message == "plotting needs matplotlib, which is not installed"
    assert e.value.hint == "pip install 'gradcheck[plot]'"


def test_without_matplotlib_the_cli_exits_2_with_one_error(runner, no_matplotlib, tmp_path):
    result = run(runner, F, "--wrt", "z", *SEED_LETS, "--plot", str(tmp_path / "z.png"))
    assert result.exit_code == 2
    assert result.output.count("Error:") == 1 and "Traceback" not in result.output
    assert "Error: plotting needs matplotlib, which is not installed" in result.output
    assert "hint: pip install 'gradcheck[plot]'" in result.output
    assert "PASS" not in result.output  # it stopped before the check
    assert list(tmp_path.iterdir()) == []


@needs_matplotlib
@pytest.mark.parametrize(("expect", "code"), [("A + 1", 0), ("A", 1)])
def test_cli_plot_keeps_the_report_and_the_exit_code(runner, tmp_path, expect, code):
    path = tmp_path / "z.png"
    plain = run(runner, F, "--wrt", "z", *SEED_LETS, "--expect", expect)
    plotted = run(runner, F, "--wrt", "z", *SEED_LETS, "--expect", expect, "--plot", str(path))
    assert plain.exit_code == plotted.exit_code == code
    assert plotted.output == plain.output
    assert path.read_bytes()[:8] == PNG


@needs_matplotlib
def test_cli_plot_into_a_missing_directory_exits_2_before_the_check(runner, tmp_path):
    result = run(runner, F, "--wrt", "z", *SEED_LETS, "--plot", str(tmp_path / "no" / "z.png"))
    assert result.exit_code == 2 and result.output.count("Error:") == 1
    assert f"the directory '{tmp_path / 'no'}' does not exist" in result.output
    assert "PASS" not in result.output and "Traceback" not in result.output


@needs_matplotlib
def test_cli_plot_that_cannot_be_written_exits_2_after_the_report(runner, tmp_path,
                                                                  monkeypatch):
    from matplotlib.figure import Figure

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Figure, "savefig", refuse)
    result = run(runner, F, "--wrt", "z", *SEED_LETS, "--plot", str(tmp_path / "z.png"))
    assert result.exit_code == 2
    assert "PASS: exact and numeric agree on all 36 entries" in result.output
    assert (f"Error: cannot write the plot to '{tmp_path / 'z.png'}': Permission denied"
            in result.output)
    assert "Traceback" not in result.output


def test_matplotlib_is_imported_only_for_plot():
    code = ("import sys\n"
            "from click.testing import CliRunner\n"
            "from gradcheck.cli import main\n"
            "r = CliRunner().invoke(main, ['check', 'sum(z*z)', '--let', 'z=[[1,2]]'])\n"
            "assert r.exit_code == 0, r.output\n"
            "print(sorted(m for m, mod in sys.modules.items()\n"
            "             if m.split('.')[0] == 'matplotlib' and mod is not None))\n")
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=root, check=True)
    assert out.stdout.strip() == "[]"


@needs_matplotlib
def test_a_jacobian_too_large_to_draw_exits_2_after_the_report(runner, tmp_path):
    """∂(X@Y)/∂X for 33×33 matrices has 1185921 entries: more than a figure
    has pixels. The check and its report stand; the plot is refused."""
    path = tmp_path / "big.png"
    result = run(runner, "X@Y", "--let", "X=33x33", "--let", "Y=33x33", "--plot", str(path))
    assert result.exit_code == 2 and result.output.count("Error:") == 1
    assert "∂f/∂X has 1185921 entries, too many to draw" in result.output
    assert "PASS: exact and numeric agree on all 2371842 entries" in result.output
    assert not path.exists() and "Traceback" not in result.output

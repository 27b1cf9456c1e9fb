"""A result in each of its formats, and the one place results learn how to show themselves.

Results are plain data (:mod:`gradcheck.checking.result`) and never import
the report stage above them: importing this module (``gradcheck`` does)
gives them the renderers behind ``str(result)``, ``result.report()`` and
``result.to_dict()``.

>>> import gradcheck
>>> r = gradcheck.check("sum(z * z)", at={"z": [[1, 2]]}, expect="2*z")
>>> render(r, "json").startswith("{")
True
"""

from __future__ import annotations

import html
import json

from gradcheck.checking import result as _result
from gradcheck.checking.result import CheckResult
from gradcheck.report import export
from gradcheck.report.text import text

__all__ = ["html_report", "render"]


def render(result: CheckResult, format: str = "text", *, color: bool = False) -> str:
    """The report as ``text``, ``json`` or ``latex``; ``color`` adds ANSI colours to text."""
    if format == "text":
        return text(result, color=color)
    if format == "json":
        return json.dumps(export.as_dict(result), indent=2, ensure_ascii=False)
    if format == "latex":
        return export.latex(result)
    raise ValueError(f"unknown report format {format!r}; use text, json or latex")


_COLOURS = {"pass": "#1a7f37", "fail": "#cf222e", "undecided": "#9a6700"}


def html_report(text: str, verdict: str) -> str:
    """A text report as HTML for notebooks: preformatted, the verdict line coloured."""
    body, _, last = text.rstrip("\n").rpartition("\n")
    return (f'<pre class="gradcheck">{html.escape(body)}\n'
            f'<b style="color:{_COLOURS[verdict]}">{html.escape(last)}</b></pre>')


_result.VIEWS.render = render
_result.VIEWS.html = lambda r: html_report(text(r), r.verdict)
_result.VIEWS.as_dict = export.as_dict

"""MkDocs hook for the command-line reference: click's ``\\b`` blocks as code.

In click's help text a paragraph after a line holding only ``\\b`` is printed
as written, without rewrapping (the example command of ``gradcheck check``).
mkdocs-click drops the ``\\b`` line and passes the paragraph on as Markdown,
which joins its lines and reads the ``*`` of ``0.5*ones(2,2)`` as emphasis.
This hook makes each such paragraph a ```` ```text ```` block, as the
terminal shows it. mkdocs.yml loads this file (``hooks:``); the code in
gradcheck/ is not changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mkdocs_click._docs as click_docs


def _fence_verbatim(lines: Iterator[str]) -> Iterator[str]:
    verbatim = False
    for line in lines:
        if line.strip() == "\b":
            verbatim = True
            yield ""
            yield "```text"
        elif verbatim and not line.strip():
            verbatim = False
            yield "```"
            yield ""
        else:
            yield line
    if verbatim:
        yield "```"


def on_config(config: Any) -> Any:
    make_description = click_docs._make_description
    if not getattr(make_description, "fences_verbatim", False):
        def patched(*args: Any, **kwargs: Any) -> Iterator[str]:
            return _fence_verbatim(make_description(*args, **kwargs))
        patched.fences_verbatim = True  # type: ignore[attr-defined]
        click_docs._make_description = patched
    return config

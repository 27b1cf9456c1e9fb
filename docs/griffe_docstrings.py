"""Griffe extension for the API reference: docstrings written for doctest and
Sphinx, rendered as Markdown.

mkdocstrings renders docstrings as Markdown, and gradcheck's are written as
Python's own tools read them:

- doctest examples (``>>>`` lines, run by the test suite) stand without a
  fence, and Markdown would render them as nested quotes: each block, up
  to the next blank line, is put in a ```` ```pycon ```` fence;
- other objects are named the Sphinx way (``:class:`CheckResult```,
  ``:func:`gradcheck.check_function```), which Markdown shows as literal
  text and whose colon a ``Returns:`` section misreads as the end of a
  name: each role becomes a code span, linked to the object's entry in the
  reference when it has one (an optional autorefs link, left unlinked
  without a warning otherwise).

mkdocs.yml loads this file; the code in gradcheck/ is not changed.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|meth|attr|data|mod|exc|obj):`~?([\w.]+)`")


def _objects(obj: griffe.Object) -> Any:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:  # an import: its docstring is its target's
            yield from _objects(member)  # type: ignore[arg-type]


def _path(obj: griffe.Object, name: str) -> str:
    """The canonical path of the object a role names, as seen from obj."""
    scopes = [obj, obj.parent, obj.module] if not obj.is_module else [obj]
    for scope in scopes:
        if scope is not None and name.split(".")[0] in scope.members:
            try:
                target = scope[name]
                return str(target.final_target.path if target.is_alias else target.path)
            except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
                break
    try:
        target = obj.modules_collection[name]
        return str(target.final_target.path if target.is_alias else target.path)
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return name


def _markdown(obj: griffe.Object, text: str) -> str:
    out: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">>>"):
            indent = line[:len(line) - len(line.lstrip())]
            end = i
            while end < len(lines) and lines[end].strip():
                end += 1
            out += [f"{indent}```pycon", *lines[i:end], f"{indent}```"]
            i = end
            continue
        out.append(ROLE.sub(lambda m: (f'<autoref identifier="{_path(obj, m[1])}" optional>'
                                       f"<code>{m[1]}</code></autoref>"), line))
        i += 1
    return "\n".join(out)


class DocstringMarkdown(griffe.Extension):
    """Fence doctest examples and link Sphinx roles in every docstring of the package."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _objects(pkg):
            if obj.docstring is not None:
                obj.docstring.value = _markdown(obj, obj.docstring.value)

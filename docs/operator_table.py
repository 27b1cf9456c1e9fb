"""MkDocs hook: the operator tables of language.md, generated from the operator table.

``tables()`` writes the tables from :data:`gradcheck.language.ops.OPS`; the
hook puts them between the markers ``<!-- operators -->`` and
``<!-- /operators -->`` of language.md when the site is built, and
tests/test_docs.py checks that the committed page holds the same text, so
the page reads right on GitHub too. To refresh it after changing the table:
``python docs/operator_table.py``.
"""

from __future__ import annotations

import pathlib
import re
from typing import Any

from gradcheck.language import ops

START, END = "<!-- operators -->", "<!-- /operators -->"
PAGE = pathlib.Path(__file__).with_name("language.md")


def _written(op: ops.Op) -> str:
    if op.infix is not None:
        first = f"a {op.infix} b"
    elif op.prefix is not None:
        first = f"{op.prefix}a"
    else:
        first = f"a{op.postfix}"
    return ", ".join(f"`{s}`" for s in (first, *op.also))


def _call(op: ops.Op) -> str:
    if op.kind == "constructor":
        return f"`{op.name}(n)`" if op.arity == 1 else f"`{op.name}(rows, cols)`"
    args = ", ".join("ab"[:op.arity])
    text = f"`{op.name}({args})`"
    return text + (f", `{op.name}(a, axis)`" if op.options else "")


def _meaning(op: ops.Op) -> str:
    doc = op.doc.split(": ", 1)[1] if op.kind == "constructor" and ": " in op.doc else op.doc
    return doc.replace("|", "\\|")


def tables() -> str:
    rows = list(ops.OPS.values())
    symbols = [op for op in rows if op.infix or op.prefix or op.postfix]
    core = [op for op in rows if op not in symbols and op.expand is None or op.options]
    derived = [op for op in rows if op.expand is not None and not op.options]
    out = ["Operators (none has an alias, a kink or needs a square argument):", "",
           "| name | written | kind | domain | meaning |", "|---|---|---|---|---|"]
    out += [f"| `{op.name}` | {_written(op)} | {op.kind} | {op.domain_text} | {_meaning(op)} |"
            for op in symbols]
    out += ["", "Functions (aliases are other names for the same row):", "",
            "| name | aliases | kind | square | domain | kink | meaning |",
            "|---|---|---|---|---|---|---|"]
    for op in core:
        aliases = ", ".join(f"`{a}`" for a in op.aliases)
        kink = "" if op.kink is None else f"{op.kink:g}"
        out.append(f"| {_call(op)} | {aliases} | {op.kind} | {'yes' if op.square else ''} | "
                   f"{op.domain_text} | {kink} | {_meaning(op)} |")
    out += ["", "Derived functions, each defined in the language by its row: every engine "
            "differentiates the definition, and reports print the call as written.", "",
            "| name | kind | meaning |", "|---|---|---|"]
    out += [f"| {_call(op)} | {op.kind} | {_meaning(op)} |" for op in derived]
    return "\n".join(re.sub(r"\|  (?=\|)", "| ", line) for line in out) + "\n"


def replaced(markdown: str) -> str:
    """``markdown`` with the generated tables between the markers."""
    pattern = re.compile(re.escape(START) + r"\n.*?" + re.escape(END), re.S)
    if not pattern.search(markdown):
        raise ValueError(f"language.md has no {START} ... {END} block")
    return pattern.sub(lambda m: f"{START}\n{tables()}{END}", markdown)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if page.file.src_path == "language.md":
        return replaced(markdown)
    return markdown


if __name__ == "__main__":
    PAGE.write_text(replaced(PAGE.read_text()))

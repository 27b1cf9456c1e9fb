"""Every command example in docs/ prints what the page shows.

A page shows a command in a ```sh block, its output in the ```text block
that follows, and optionally ``Exit code: N.`` (the ```pycon examples run
as doctests through setup.cfg).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from gradcheck.cli import main

DOCS = Path(__file__).resolve().parent.parent / "docs"
EXAMPLE = re.compile(r"```sh\n(.*?)```\n\n```text\n(.*?)```\n(?:\nExit code: (\d)\.)?", re.S)
# Finite-difference residues depend on the floating-point hardware: compare their form only.
RESIDUE = re.compile(r"\d\.\de-\d\d")

CASES = [(page.name, m.group(1), m.group(2), m.group(3))
         for page in sorted(DOCS.glob("*.md")) for m in EXAMPLE.finditer(page.read_text())
         if m.group(1).startswith("gradcheck ")]


def _same(text: str) -> str:
    # Help text wraps with the terminal's width: compare words, not line breaks.
    return " ".join(RESIDUE.sub("R", text).split())


def test_the_docs_have_command_examples():
    assert len(CASES) >= 15


@pytest.mark.parametrize(("page", "command", "output", "code"), CASES,
                         ids=[f"{c[0]}-{n}" for n, c in enumerate(CASES)])
def test_command_example(runner, page, command, output, code):
    args = shlex.split(command.replace("\\\n", " "))
    assert args[0] == "gradcheck"
    result = runner.invoke(main, args[1:], prog_name="gradcheck", terminal_width=80)
    assert _same(result.output) == _same(output)
    if code is not None:
        assert result.exit_code == int(code)


def test_the_operator_tables_are_generated_from_the_operator_table():
    import importlib.util

    spec = importlib.util.spec_from_file_location("operator_table", DOCS / "operator_table.py")
    assert spec is not None and spec.loader is not None
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    page = (DOCS / "language.md").read_text()
    assert table.replaced(page) == page, "run python docs/operator_table.py"
    for name in ("sign", "step", "kron", "diag", "logsumexp", "maximum"):
        assert f"| `{name}(" in page

"""The README's first lines are true: its main command prints what it shows."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from gradcheck.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"
# Finite-difference residues depend on the floating-point hardware: compare their form only.
RESIDUE = re.compile(r"\d\.\de-\d\d")


def _blocks(text: str) -> list[str]:
    return re.findall(r"```\n(.*?)```", text, flags=re.S)


def test_first_lines_are_install_test_and_the_main_command():
    setup = _blocks(README.read_text())[0].splitlines()
    assert [line.split("#")[0].strip() for line in setup[:2]] == ["make install", "make test"]
    assert setup[2].startswith("gradcheck check ")


def test_main_command_prints_what_the_readme_shows(runner):
    blocks = _blocks(README.read_text())
    args = shlex.split(blocks[0].splitlines()[2])[1:]
    result = runner.invoke(main, args)
    assert result.exit_code == 0
    assert RESIDUE.sub("R", result.output) == RESIDUE.sub("R", blocks[1])


def test_python_example_runs():
    code = re.search(r"```python\n(.*?)```", README.read_text(), flags=re.S).group(1)
    namespace: dict[str, object] = {}
    exec(compile(code, str(README), "exec"), namespace)  # our own README, not user input
    r = namespace["r"]
    assert r.passed and r.exact.shape == (3, 2, 3, 2)

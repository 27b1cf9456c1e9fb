"""Shared fixtures and values (the Hypothesis profiles are in ../conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


# The seed notes' point: x = ones(3×2), y = 0.5·ones(2×2), z = 0.25·ones(3×2).
SEED_AT = {
    "x": np.ones((3, 2)),
    "y": 0.5 * np.ones((2, 2)),
    "z": 0.25 * np.ones((3, 2)),
    "A": [[1, 0], [2, 1], [0, 1]],
}
SEED_LETS = ["--let", "x=ones(3,2)", "--let", "y=0.5*ones(2,2)", "--let", "z=0.25*ones(3,2)",
             "--let", "A=[[1,0],[2,1],[0,1]]"]


def dyadic(shapes: dict[str, tuple[int, int]], seed: int) -> dict[str, np.ndarray]:
    """A point for each shape: entries k/256 in [-2, 2) (exact in binary and as
    fractions) plus 3 on the diagonal, so that square matrices are far from
    singular."""
    rng = np.random.default_rng(seed)
    return {n: rng.integers(-512, 512, size=s) / 256 + 3 * np.eye(*s) for n, s in shapes.items()}

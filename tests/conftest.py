"""Shared fixtures and the Hypothesis profiles.

``ci`` (the default) is derandomized and database-free, so every run tries
the same examples; ``dev`` explores more, randomly: HYPOTHESIS_PROFILE=dev.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, max_examples=40,
    suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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

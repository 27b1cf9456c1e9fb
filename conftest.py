"""Hypothesis profiles for every test and doctest in the repository.

``ci`` (the default) is derandomized and database-free, so every run tries
the same examples; ``dev`` explores more, randomly: HYPOTHESIS_PROFILE=dev.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["pytester"]  # tests/test_pytest_plugin.py runs pytest on generated files

# The docs site's build hooks are not tests (their pages' examples are).
collect_ignore_glob = ["docs/*.py"]

settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, max_examples=40,
    suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

"""Third-party modules that change global state when imported, imported once, quietly.

rich draws from Python's global random generator when ``rich.style`` is
imported; importing it here first, with the host's random state saved and
put back, means that importing gradcheck (and rendering its reports) leaves
that state as it was.

>>> import random, importlib
>>> random.seed(1); before = random.getstate()
>>> _ = importlib.reload(importlib.import_module("gradcheck.quiet_imports"))
>>> random.getstate() == before
True
"""

from __future__ import annotations

import random

_state = random.getstate()
try:
    import rich.style  # noqa: F401  (the only one that draws; the rest of rich does not)
finally:
    random.setstate(_state)

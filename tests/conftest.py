"""Shared test configuration: hypothesis profiles for the property-based (fuzz) tests.

* ``fast`` (default): few examples, derandomized (the same examples every run), so the default
  suite stays quick and reproducible.
* ``long``: many random examples; the ``@pytest.mark.slow`` fuzz tests use it (``-m slow``), and
  ``HYPOTHESIS_PROFILE=long`` applies it to every fuzz test.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.function_scoped_fixture],
               print_blob=True, database=None)
settings.register_profile("fast", max_examples=25, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=400, derandomize=False, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))

# The suite behaves the same whatever the state of numba's cache: the command line's cold-start
# policy (small runs on numpy while the compiled loop is not built) is off unless a test turns it
# on, and no test starts a background compile (tests/test_first_run.py checks both).
os.environ.setdefault("ASTROFIELD_COLD_START", "compile")
os.environ.setdefault("ASTROFIELD_BACKGROUND_COMPILE", "0")

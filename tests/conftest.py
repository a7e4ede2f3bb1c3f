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

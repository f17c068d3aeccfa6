"""Shared test configuration: hypothesis profiles for a small, shared, noisy machine."""

import os

from hypothesis import HealthCheck, settings

# The suite's expected text is English whatever the machine's LANG; tests of other locales
# choose theirs (and tests of the environment set it themselves).
os.environ["KPITREE_LANG"] = "en"

# No deadlines: timing belongs to benchmarks/, and this machine is shared.
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.register_profile(
    "deep", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=2000
)
settings.load_profile("default")

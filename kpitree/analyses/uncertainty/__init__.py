"""Uncertainty: Monte Carlo through the tree, Sobol indices by owner, and the tornado.

Leaves get distributions on the node (``kt.KPI(..., uncertainty=kt.Normal(1000, 100))``)
or per call (``distributions={"leads": kt.Uniform(900, 1200)}``, which overrides the node's;
a number there fixes the leaf, None removes its distribution). Leaves without one stay at
their value (``values=`` overrides it, as in every analysis).

- `simulate` draws every uncertain leaf and pushes the samples through the compiled tree
  (numpy, one vectorized pass): samples for every node, with mean, sd, quantiles and
  P(metric ≥ target).
- `sobol` estimates how much of the metric's variance each leaf explains, alone (first
  order) and with its interactions (total), and the same for each owner's leaves together.
- `tornado` moves one leaf at a time from its p10 to its p90 (or ±x%) with the others at
  their base values, and ranks the leaves by how far the metric swings.

**Bounds truncate.** A leaf's `bounds` cut its distribution: samples outside them are
rejected and drawn again, so a conversion with ``Normal(0.8, 0.1)`` and bounds (0, 1) never
exceeds 100% and no probability piles up at 1 (clipping would put 2.3% of the samples at
exactly 100%). The sampled distribution is the one conditioned on the bounds, so its mean
can differ from the unbounded one's; tornado quantiles are taken of the same truncated
distribution. A distribution with less than 0.1% of its probability within the bounds is
refused, since the bounds then contradict it.

**Undefined samples.** A sample whose metric is undefined (division by zero, log of a
non-positive number: the rule of `kpitree.engine.evaluate`) is NaN. It is counted
(``sim["conv"].undefined``), left out of every statistic, and the `str` of the result says
how many there were. Sobol indices leave out the base samples for which any of their
evaluations is undefined, and say so.

**Reproducibility.** ``seed=`` (an int or a `numpy.random.SeedSequence`) fixes every draw.
Each leaf draws from its own stream, spawned in tree order, so giving one more leaf a
distribution leaves the other leaves' samples unchanged. Without a seed, fresh entropy
is used and recorded on the result (`.seed`): the run can be repeated with it.

**Memory.** Before drawing anything, `simulate` and `sobol` estimate the memory their
samples need (samples × nodes × 8 bytes, every copy and the bootstrap resamples
counted) and refuse a run above `Limits.max_sample_bytes` (2 GiB by default;
``limits=kt.Limits(max_sample_bytes=...)`` raises it) with a `LimitError` naming `n`, the
estimate and the limit. Sobol's bootstrap resamples in chunks of bounded size, so the
default 200 resamples fit at any `n` that fits at all.

One module per algorithm: `sampling` (distributions, bounds, seeds and streams, shared by
the others), `simulation` (`simulate`, `Simulation`, `Samples`), `variance` (`sobol`,
`sobol_indices` and their results) and `swings` (`tornado`, `Tornado`).
"""

from kpitree.analyses.uncertainty.sampling import MIN_MASS_IN_BOUNDS
from kpitree.analyses.uncertainty.simulation import Samples, Simulation, simulate
from kpitree.analyses.uncertainty.swings import Tornado, TornadoRow, tornado
from kpitree.analyses.uncertainty.variance import (
    Sobol,
    SobolEstimate,
    SobolRow,
    sobol,
    sobol_indices,
)

__all__ = [
    "MIN_MASS_IN_BOUNDS",
    "Samples",
    "Simulation",
    "Sobol",
    "SobolEstimate",
    "SobolRow",
    "Tornado",
    "TornadoRow",
    "simulate",
    "sobol",
    "sobol_indices",
    "tornado",
]

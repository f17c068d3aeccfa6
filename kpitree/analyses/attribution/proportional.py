"""The proportional method: own effects, and the joint term split in proportion to them.

The rate/volume convention of bank filings: the change of `rate * volume` is the rate's own
effect `Δrate * volume_before`, the volume's own effect `rate_before * Δvolume`, and the joint
term `Δrate * Δvolume`, which is "allocated in proportion to the absolute amounts of the
change in each". For a product of any number of factors each factor's own effect is the
change of the product when only that factor moves, and the joint term (everything else) is
split in proportion to the sizes of the own effects. A metric that is a sum of products
(expanded through intermediate metrics, as for LMDI) is split term by term.

When every own effect of a term is 0 (each factor's partners were 0 before) and the term
still moved, its joint term is split equally between the factors that moved, which is also
what Shapley gives there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kpitree.analyses.attribution.lmdi import monomials
from kpitree.analyses.attribution.methods import Periods, exact_step

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Array = NDArray[np.float64]


def proportional(periods: Periods, metric: str, total: Array) -> dict[str, Array]:
    """Own effects plus the joint term in proportion to their sizes, every row at once."""
    tree, low, high = periods.tree, periods.low, periods.high
    rows = total.shape[0]
    parts = {leaf.name: np.zeros(rows) for leaf in tree.leaves}
    for key, coef in monomials(tree, metric, "proportional").items():
        names = [leaf for leaf, _power in key if leaf in periods.changed]
        if not names:
            continue  # a term that does not move
        start = {leaf: low[leaf] ** e for leaf, e in key}
        end = {leaf: high[leaf] ** e for leaf, e in key}
        rest = coef * np.prod([start[leaf] for leaf in start if leaf not in names], axis=0)
        own = [
            rest
            * (end[leaf] - start[leaf])
            * np.prod([start[other] for other in names if other != leaf], axis=0)
            for leaf in names
        ]
        change = rest * (
            np.prod([end[n] for n in names], axis=0) - np.prod([start[n] for n in names], axis=0)
        )
        joint = change - np.sum(own, axis=0)
        size = np.sum(np.abs(own), axis=0)
        moved = [end[leaf] != start[leaf] for leaf in names]
        count = np.maximum(np.sum(moved, axis=0), 1)
        for leaf, effect, step in zip(names, own, moved, strict=True):
            weight = np.where(
                size > 0, np.abs(effect) / np.where(size > 0, size, 1.0), step / count
            )
            parts[leaf] += effect + joint * weight
    gathered = exact_step(np.array(list(parts.values())), total)
    return dict(zip(parts, gathered, strict=True))

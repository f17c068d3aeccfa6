"""Goal seek, target cascade and levers: from a metric's target back to KPI values.

**solve** finds the value of one leaf that gives a metric its target. When the leaf
reaches the metric along a single path and appears once in each formula on the way, the
formulas are inverted one by one, walking down from the target (sums, differences,
products, quotients, powers, `log`, `exp`, `sqrt`, `abs`): exact, and as cheap as a
recomputation of that path. Otherwise a bracketed root finder (bracket expansion from the
current value, then regula falsi with the Illinois step and bisection as a safeguard)
takes a few dozen recomputations at most. Either way the answer is checked by
recomputing the tree: the metric equals the target to 1e-9 relative.

- Several solutions (`x ** 2`, `abs`): the one inside the leaf's bounds nearest to its
  current value.
- A solution outside the bounds (a conversion above 100%): `InfeasibleGoalError`, with the
  value needed in `.needed` and the bound in the message.
- No solution: `InfeasibleGoalError` saying why.
- Negligible elasticity (the metric moves by less than a millionth of a percent per 1%
  of the leaf): `InfeasibleGoalError` — the answer would be ill-conditioned, far from any
  plausible value.

**cascade** splits a metric target over several KPIs with *equal relative effort*: every
chosen KPI moves by the same percentage `s` of its current value, each in the direction
that helps (a KPI whose derivative is negative moves the other way). A KPI that reaches a
bound stays there while the others keep moving. `s` is found by the root finder, so the
metric reaches the target exactly; when every KPI is at its bound and the target is still
out of reach, `InfeasibleGoalError` says how far they get. KPIs that cannot help (a
derivative of 0, or a current value of 0, which has no relative move) keep their values.

**levers** lists the KPIs one can move within a horizon (and, optionally, that one owner
moves), ranked by the impact of a 1% move.

One module per algorithm: `inversion` (the exact walk down a path), `roots` (the bracketed
root finder), `solving` (`solve`), `cascading` (`cascade`, `Cascade`) and `ranking`
(`levers`).
"""

from kpitree.analyses.goal.cascading import Cascade, cascade
from kpitree.analyses.goal.ranking import levers
from kpitree.analyses.goal.solving import MIN_ELASTICITY, TOLERANCE, solve

__all__ = ["MIN_ELASTICITY", "TOLERANCE", "Cascade", "cascade", "levers", "solve"]

"""Attribution of a change: how much of a metric's move is each leaf's, and each owner's.

"Qualified leads fell 30: how much is marketing's leads, how much is sales' conversion?"
`attribute` splits the change of a metric between two sets of leaf values (two periods)
into one contribution per leaf, rolled up by owner, with six exact methods:

``"shapley"`` (the default)
    The exact Shapley value of each leaf over the metric's whole formula. The players are
    the leaves whose value changed; a leaf that did not change is not a player and gets
    exactly 0. When the metric is multilinear in the changing leaves (found from the
    formulas: no changing leaf multiplies itself), the Shapley value is the path integral
    of the gradient (Owen, 1972), computed exactly by Gauss–Legendre quadrature at any
    number of leaves (see `integral`). Otherwise every one of the 2^n mixes of before and
    after values is evaluated at once with the tree compiled for numpy, and the standard
    weights ``|S|! (n - |S| - 1)! / n!`` give each leaf its average marginal effect; more
    than `MAX_CHANGING` changing leaves is then refused with a `LimitError` that suggests
    ``"integral"``, ``"hierarchical"`` or ``"lmdi"``. `Attribution.details` says which.

``"lmdi"``
    LMDI-I (the logarithmic-mean Divisia index) for metrics that are products, quotients
    and sums of products of leaves (expanded through intermediate metrics, constants
    allowed): term by term, leaf ``k`` of term ``j`` gets
    ``L(V_j1, V_j0) * e_k * ln(x_k1 / x_k0)``, where ``L(a, b) = (a - b) / ln(a / b)`` is
    the logarithmic mean (computed stably as ``b * t / log1p(t)``, ``t = (a - b) / b``,
    and ``L(a, a) = a``). The multiplicative factors ``exp(contribution / L(V1, V0))``
    multiply to ``after / before``. Leaf values must keep their sign and not be zero,
    with one documented exception, the analytical limit of Ang and Liu (2007): a term
    that is zero in one period only because some of its leaves are zero there gives its
    whole change to those leaves (split by their exponents), and nothing to the others.
    A leaf that changes sign is an `EvaluationError`; a formula outside this family is
    a `FormulaError`. There is never a NaN in the result.

``"hierarchical"``
    Shapley inside each metric's own formula, with its direct children as the players
    (their own before and after values), then passed down. The rule: the target metric's
    share is its change; a metric ``M`` with share ``s_M`` and its own change ``dM``
    split over its children as ``phi_c`` (Shapley on ``M``'s formula, ``sum phi_c = dM``)
    passes ``s_M * phi_c / dM`` to child ``c`` (nothing when ``dM`` is 0, and then
    ``s_M`` is 0 too, since an unchanged metric is no player in its parents; the target
    metric passes its own split ``phi_c`` as it is, so when its children's moves cancel
    out they still show, as Shapley shows them). A child
    used by several metrics adds up what each passes. Every level therefore adds up to
    the change exactly, and the cost grows with the size of the tree, not with 2^leaves:
    a formula that is a sum is split term by term first (the Shapley value is additive),
    so a sum of 150 segments costs 150 small games; and a term that is a product of
    factors of one child each (``a * b / c ** 2 * ...``, a funnel of 40 KPIs) is split by
    the closed form of Shapley for products, exact at n² cost instead of 2^n (see
    `kpitree.analyses.attribution.hierarchical`). Only a term of any other shape with
    more than `max_changing` changing children is refused, with a `LimitError` that
    says so (the same holds for `by_node` under every method).

``"sequential"`` with ``order=[...]``
    Chain substitution (метод цепных подстановок): from the before values, the leaves
    take their after values one at a time in ``order``; each gets its step's change, so
    the interaction term goes to the leaf moved later (see `sequential`). The order must
    name every changing leaf. Averaged over all orders it is the Shapley value.

``"proportional"``
    The rate/volume convention of bank filings, for sums of products (see
    `proportional`): each factor's own effect plus the joint term split in proportion to
    the sizes of the own effects.

``"integral"``
    The integral method (интегральный метод): each leaf's change times the metric's slope
    integrated along the straight path from before to after (Aumann–Shapley), by exact
    or adaptive Gauss–Legendre quadrature (see `integral`). Equal to Shapley on
    multilinear metrics.

Exactness: the contributions sum to `.total` (``after - before``, evaluated by the tree)
up to floating-point rounding. Each method ends with one documented exact step: the
residual ``total - sum(contributions)`` (about 1e-15 of the values) is spread over the
contributions in proportion to their absolute size, so leaves with 0 keep 0 and equal
contributions stay equal; parts within 1e-12 of the size of the change are rounding noise
and read exactly 0.

`by_node` describes the tree rather than the method: for every metric with a changed
child, its own change split over its direct children by Shapley on its own formula.

Mixes of before and after values can be undefined where both ends are defined
(``a / (b - c)`` when ``b`` rises to ``c``'s old value): Shapley then raises an
`EvaluationError` naming the mix; ``"hierarchical"`` mixes values only inside one
formula at a time and often avoids it.

One module per algorithm: `methods` (names, limits, option checks and what every method
shares: the `Periods` read, the `Split` returned, the exact step), `shapley`, `lmdi`,
`hierarchical`, `sequential`, `proportional` and `integral` (the methods), `comparison`
(`attribute`, `accountability`), `frames` (`attribute_frame`), `series`
(`attribute_series` and `AttributionSeries`, over many periods) and `results`
(`Attribution`, `Accountability`).
"""

from kpitree.analyses.attribution.comparison import accountability, attribute
from kpitree.analyses.attribution.frames import attribute_frame
from kpitree.analyses.attribution.methods import EXTERNAL, MAX_CHANGING, METHODS
from kpitree.analyses.attribution.results import (
    Accountability,
    AccountRow,
    Attribution,
    OwnerAccount,
)
from kpitree.analyses.attribution.series import AttributionSeries, attribute_series

__all__ = [
    "EXTERNAL",
    "MAX_CHANGING",
    "METHODS",
    "AccountRow",
    "Accountability",
    "Attribution",
    "AttributionSeries",
    "OwnerAccount",
    "accountability",
    "attribute",
    "attribute_frame",
    "attribute_series",
]

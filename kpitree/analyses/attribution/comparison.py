"""Attribution between two sets of leaf values: `attribute` and `accountability`.

Also the running of one method over rows of before and after values, which
`attribute_frame` shares.
"""

from __future__ import annotations

import math
import types
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from kpitree.analyses.attribution.hierarchical import hierarchical, local_splits
from kpitree.analyses.attribution.integral import integral
from kpitree.analyses.attribution.lmdi import lmdi
from kpitree.analyses.attribution.methods import (
    EXTERNAL,
    MAX_CHANGING,
    Periods,
    Split,
    changed,
    check_limit_option,
    check_method,
    owners_of,
    subtree,
)
from kpitree.analyses.attribution.proportional import proportional
from kpitree.analyses.attribution.results import (
    Accountability,
    AccountRow,
    Attribution,
    NodeSplits,
    OwnerAccount,
)
from kpitree.analyses.attribution.sequential import check_order, sequential
from kpitree.analyses.attribution.shapley import shapley
from kpitree.analyses.status import status
from kpitree.backends.frames import one_row, table_kind
from kpitree.engine.evaluate import compile_tree, evaluate, evaluate_vector
from kpitree.errors import KPITreeError, LimitError
from kpitree.i18n import _
from kpitree.model.nodes import KPI

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from kpitree.model.graph import Graph

    Array = NDArray[np.float64]


def _frozen_map(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return types.MappingProxyType(dict(data))


def attribute(
    tree: Graph,
    metric: str,
    before: Any,
    after: Any,
    method: str = "shapley",
    *,
    order: Sequence[str] | None = None,
    max_changing: int = MAX_CHANGING,
) -> Attribution:
    """Split the change of `metric` between two sets of leaf values over leaves and owners.

    Args:
        tree: the tree.
        metric: the metric whose change is attributed.
        before: leaf values before: a mapping (`"80%"` is 0.8), or one row of a pandas or
            polars DataFrame, or a pandas Series (columns that are not leaves are
            ignored). Leaves not given take their node's value.
        after: leaf values after, in the same forms.
        method: `"shapley"`, `"lmdi"`, `"hierarchical"`, `"sequential"`,
            `"proportional"` or `"integral"` (see the module doc).
        order: `"sequential"` only: the leaves in the order they move (chain
            substitution); it must name every changing leaf.
        max_changing: most changing leaves exact Shapley takes (2^n evaluations).

    Returns:
        An `Attribution`; the contributions sum to `.total` (see the module doc).

    Raises:
        LimitError: Shapley over more than `max_changing` changing leaves.
        EvaluationError: the metric is undefined at either end, or (Shapley) at a mix of
            the two; or LMDI meets a leaf that changes sign.
        FormulaError: LMDI on a formula that is not a sum of products.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> tree = qualified_leads()
        >>> result = attribute(tree, "qualified_leads", {"leads": 1000, "lead_to_ql": 0.8},
        ...                    {"leads": 1100, "lead_to_ql": 0.7})
        >>> result.total, dict(result.contributions)
        (-30.0, {'leads': 75.0, 'lead_to_ql': -105.0})
        >>> dict(result.by_owner)
        {'marketing': 75.0, 'sales': -105.0}
    """
    method = check_method(method)
    limit = check_limit_option(max_changing)
    sub = subtree(tree, metric)
    chain = check_order(sub, metric, method, order)
    given_before = _period_values(tree, before, "before")
    given_after = _period_values(tree, after, "after")
    low, high = (
        _node_values(sub, given, label)
        for given, label in ((given_before, "before"), (given_after, "after"))
    )
    total = high[metric] - low[metric]
    split = split_change(sub, metric, low, high, total, method, limit, scalar=True, order=chain)
    leaves = [leaf.name for leaf in sub.leaves]
    contributions = {leaf: float(split.contributions[leaf][0]) for leaf in leaves}
    owners = owners_of(sub)
    factors = None
    if split.factors is not None:
        factors = {leaf: float(split.factors[leaf][0]) for leaf in leaves}
        if not all(math.isfinite(f) for f in factors.values()):
            factors = None
    return Attribution(
        metric=metric,
        method=method,
        before=float(low[metric][0]),
        after=float(high[metric][0]),
        total=float(total[0]),
        contributions=_frozen_map(contributions),
        by_owner=_frozen_map(_roll_up(contributions, owners)),
        by_node=NodeSplits(lambda: _node_splits(sub, low, high, limit)),
        owners=_frozen_map(owners),
        values_before=_frozen_map({leaf: float(low[leaf][0]) for leaf in leaves}),
        values_after=_frozen_map({leaf: float(high[leaf][0]) for leaf in leaves}),
        factors=None if factors is None else _frozen_map(factors),
        tree=tree,
        order=chain,
        details=_frozen_map(split.details),
    )


def accountability(
    tree: Graph,
    metric: str,
    before: Any,
    after: Any,
    *,
    method: str = "shapley",
    order: Sequence[str] | None = None,
    max_changing: int = MAX_CHANGING,
) -> Accountability:
    """Report per owner: their KPIs, each KPI's contribution and norm status in both periods.

    Marketing is judged on leads and sales on conversion: each owner's total is the sum
    of the KPIs it owns. A KPI with `influenced_by` roles is listed under those roles
    too, marked shared, and does not count in their totals. Inputs are under
    `"external"`. Arguments are those of `attribute`.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> report = accountability(qualified_leads(), "qualified_leads",
        ...                         {"leads": 1000, "lead_to_ql": 0.8},
        ...                         {"leads": 1100, "lead_to_ql": 0.7})
        >>> [(a.owner, a.total) for a in report]
        [('marketing', 75.0), ('sales', -105.0)]
        >>> [(r.name, r.shared, r.ok_after) for r in report["marketing"].rows]
        [('leads', False, None), ('lead_to_ql', True, False)]
    """
    result = attribute(tree, metric, before, after, method, order=order, max_changing=max_changing)
    checks = [status(tree, dict(values)) for values in (result.values_before, result.values_after)]
    own: dict[str, list[AccountRow]] = {}
    shared: dict[str, list[AccountRow]] = {}
    for leaf, owner in result.owners.items():
        node = tree[leaf]
        norm = getattr(node, "norm", None)
        ok = [None if norm is None else check[leaf].ok for check in checks]
        row = AccountRow(
            name=leaf,
            owner=owner,
            shared=False,
            contribution=result.contributions[leaf],
            before=result.values_before[leaf],
            after=result.values_after[leaf],
            norm=None if norm is None else str(norm),
            ok_before=ok[0],
            ok_after=ok[1],
        )
        own.setdefault(owner, []).append(row)
        if isinstance(node, KPI):
            for role in node.influenced_by:
                if role != owner:
                    shared.setdefault(role, []).append(attrs.evolve(row, shared=True))
    roles = [o for o in own if o != EXTERNAL]
    roles += [r for r in shared if r not in own]
    roles += [EXTERNAL] if EXTERNAL in own else []
    accounts = tuple(
        OwnerAccount(
            owner=role,
            total=math.fsum(r.contribution for r in own.get(role, [])),
            rows=(*own.get(role, []), *shared.get(role, [])),
        )
        for role in roles
    )
    return Accountability(result, accounts)


def _period_values(tree: Graph, given: Any, label: str) -> dict[str, float]:
    """Read one period's leaf values from a mapping, a one-row frame or a Series."""
    if given is None:
        return {}
    values = one_row(
        given,
        label,
        hint=_("pick one row, or use tree.attribute_frame(...) for a row per segment"),
        refusal=_(
            "`{label}` must be a mapping of leaf values or one row of a DataFrame, got {type}"
        ),
    )
    if table_kind(given) != "mapping":  # a row's other columns (a period, a segment)
        leaves = {leaf.name for leaf in tree.leaves}
        values = {k: v for k, v in values.items() if k in leaves}
    try:
        return tree.check_values(values)
    except KPITreeError as exc:
        raise exc.located(_("the `{label}` values").format(label=label)) from None


def _node_values(tree: Graph, given: Mapping[str, float], label: str) -> dict[str, Array]:
    """Every node's value (as a one-row array) from checked leaf values and the defaults."""
    compiled = compile_tree(tree)
    defaults = {leaf.name: leaf.value for leaf in tree.leaves}
    vector = [given.get(leaf, defaults[leaf]) for leaf in compiled.leaves]
    try:
        if any(v is None for v in vector):
            evaluate(tree, {k: v for k, v in given.items() if k in tree})  # names the missing
        results = evaluate_vector(tree, vector, undefined="raise")  # type: ignore[arg-type]  # no None left
    except KPITreeError as exc:
        raise exc.located(_("the `{label}` values").format(label=label)) from None
    # One array for every node, each node's value a one-row view of it (read-only: shared).
    rows = np.array([*vector, *results], dtype=np.float64)[:, None]
    rows.flags.writeable = False
    return dict(zip((*compiled.leaves, *compiled.metrics), rows, strict=True))


def _roll_up(contributions: Mapping[str, float], owners: Mapping[str, str]) -> dict[str, float]:
    parts: dict[str, list[float]] = {}
    for leaf, value in contributions.items():
        parts.setdefault(owners[leaf], []).append(value)
    order = sorted(parts, key=lambda o: o == EXTERNAL)  # stable: external last
    return {owner: math.fsum(parts[owner]) for owner in order}


def _node_splits(
    tree: Graph, low: dict[str, Array], high: dict[str, Array], limit: int
) -> dict[str, Mapping[str, float]]:
    """`by_node` of one comparison: each metric with a changed child split over its children."""
    with np.errstate(all="ignore"):
        periods = Periods(tree, low, high, changed(tree, low, high), limit, True)
        splits = local_splits(periods)
    return {
        node: _frozen_map({child: float(v[0]) for child, v in parts.items()})
        for node, parts in splits.items()
    }


def split_change(
    tree: Graph,
    metric: str,
    low: dict[str, Array],
    high: dict[str, Array],
    total: Array,
    method: str,
    limit: int,
    *,
    scalar: bool,
    order: Sequence[str] | None = None,
) -> Split:
    """Run one method over rows of before/after values of every node of `tree`."""
    try:
        with np.errstate(all="ignore"):
            periods = Periods(tree, low, high, changed(tree, low, high), limit, scalar)
            factors: dict[str, Array] | None = None
            details: dict[str, Any] = {}
            if method == "shapley":
                contributions, details = shapley(periods, metric, total)
            elif method == "hierarchical":
                contributions = hierarchical(periods, metric, total)
            elif method == "sequential":
                assert order is not None  # checked by `check_order`
                contributions = sequential(periods, metric, total, order)
            elif method == "proportional":
                contributions = proportional(periods, metric, total)
            elif method == "integral":
                contributions, details = integral(periods, metric, total)
            else:
                contributions, factors = lmdi(periods, metric, total)
            return Split(contributions, factors, details)
    except MemoryError:
        raise LimitError(
            _("attributing `{metric}` needs more memory than there is").format(metric=metric),
            hint=_(
                'use method="hierarchical" or "lmdi", or a smaller max_changing (default {default})'
            ).format(default=MAX_CHANGING),
            names=[metric],
        ) from None

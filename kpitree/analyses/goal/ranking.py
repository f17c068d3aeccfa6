"""`levers`: the KPIs one can move within a horizon, ranked by the impact of a 1% move."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from kpitree.analyses.calculus import Sensitivity, sensitivity
from kpitree.errors import UnknownNameError, did_you_mean
from kpitree.i18n import _
from kpitree.model.horizon import Horizon
from kpitree.model.nodes import KPI

if TYPE_CHECKING:
    from kpitree.model.graph import Graph


def levers(
    tree: Graph,
    metric: str,
    within: Any = None,
    owner: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> Sensitivity:
    """Return the KPIs movable within `within` (and owned by `owner`), ranked by impact.

    Inputs are never levers. The rows are those of `tree.sensitivity`, filtered.

    Raises:
        HorizonError: `within` is not a horizon.
        UnknownNameError: `owner` owns no KPI of the tree (with a did-you-mean).

    Examples:
        >>> from kpitree.examples import sales_revenue
        >>> [r.name for r in levers(sales_revenue(), "revenue", within="1 week")]
        ['calls_per_day', 'call_to_purchase']
    """
    horizon = None if within is None else Horizon.parse(within)
    owners = tree.owners()
    if owner is not None and owner not in owners:
        raise UnknownNameError(
            _("nobody called `{owner}` owns a KPI of this tree").format(owner=owner),
            hint=did_you_mean(str(owner), owners)
            or _("owners: {owners}").format(owners=", ".join(owners)),
            names=[str(owner)],
        )
    table_ = sensitivity(tree, metric, values)
    rows = tuple(
        r
        for r in table_
        if r.kind == KPI.kind
        and (horizon is None or tree[r.name].horizon <= horizon)  # type: ignore[attr-defined]
        and (owner is None or r.owner == owner)
    )
    return attrs.evolve(
        table_,
        rows_=rows,
        within=None if horizon is None else str(horizon),
        owner=owner,
        levers=True,
    )

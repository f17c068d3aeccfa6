"""The tornado: each leaf moved alone from low to high, ranked by how far the metric swings.

`tornado` moves every uncertain leaf below a metric between two quantiles of its
distribution (truncated to its bounds), or every leaf by ±x% around its base value, with
the other leaves at their base values.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from kpitree.analyses.attribution.methods import owner_label
from kpitree.analyses.uncertainty import sampling
from kpitree.engine.evaluate import compile_tree, evaluate, evaluate_vector
from kpitree.errors import ArgumentError
from kpitree.i18n import _
from kpitree.model.distributions import Fixed
from kpitree.model.numbers import format_number, to_number
from kpitree.model.render import render
from kpitree.model.results import RowTable, format_value, table

if TYPE_CHECKING:
    from kpitree.model.graph import Graph

__all__ = ["Tornado", "TornadoRow", "tornado"]


@attrs.frozen
class TornadoRow:
    """One leaf moved from low to high with every other leaf at its base value.

    Attributes:
        base: the leaf's base value.
        low, high: the leaf's two values (p10 and p90, or base ∓ the swing).
        at_low, at_high: the metric with the leaf at `low` and at `high` (NaN if undefined).
        swing: ``|at_high − at_low|``.
    """

    name: str
    owner: str
    base: float
    low: float
    high: float
    at_low: float
    at_high: float
    swing: float

    def to_dict(self) -> dict[str, Any]:
        """Return the row as plain data."""
        return attrs.asdict(self)


@attrs.frozen(repr=False)
class Tornado(RowTable):
    """Leaves ranked by how far the metric swings when each moves alone: a tornado chart.

    Attributes:
        metric: the metric.
        base: the metric with every leaf at its base value.
        rows_: one row per leaf, widest swing first (undefined swings last).
        method: how the low and high values were chosen (``"p10–p90"``, ``"±10%"``).
    """

    metric: str
    base: float
    rows_: tuple[TornadoRow, ...]
    method: str
    tree: Graph = attrs.field(eq=False)

    def __iter__(self) -> Iterator[TornadoRow]:
        return iter(self.rows_)

    def __len__(self) -> int:
        return len(self.rows_)

    def _row_role(self) -> str:
        return f"leaf in this tornado of `{self.metric}`"

    def plot(self, ax: Any = None) -> Any:
        """Draw the tornado: each leaf's low and high swing of the metric; return the Axes."""
        return render(self, "plot", ax=ax)

    def to_dict(self) -> dict[str, Any]:
        """Return the metric, its base value, the method and the rows."""
        return {
            "metric": self.metric,
            "base": self.base,
            "method": self.method,
            "rows": self.rows(),
        }

    def rows(self) -> list[dict[str, Any]]:
        """Return one record per leaf, widest swing first."""
        return [r.to_dict() for r in self.rows_]

    def __str__(self) -> str:
        value = format_value(self.base, self.tree, self.metric)
        title = _("tornado of {metric} (base {value}; each leaf {method}, others at base)").format(
            metric=self.metric, value=value, method=self.method
        )
        if not self.rows_:
            return title + "\n" + _("no leaf to move")

        def shown(x: float, name: str) -> str:
            return _("undefined") if math.isnan(x) else format_value(x, self.tree, name)

        body = [
            [
                r.name,
                owner_label(r.owner),
                f"{shown(r.low, r.name)} → {shown(r.high, r.name)}",
                f"{shown(r.at_low, self.metric)} → {shown(r.at_high, self.metric)}",
                shown(r.swing, self.metric),
            ]
            for r in self.rows_
        ]
        header = [_("leaf"), _("owner"), _("low → high"), self.metric, _("swing")]
        return title + "\n" + table(body, header)


def tornado(
    tree: Graph,
    metric: str,
    values: Mapping[str, Any] | None = None,
    *,
    swing: Any = None,
    distributions: Mapping[str, Any] | None = None,
    quantiles: tuple[Any, Any] = (0.1, 0.9),
) -> Tornado:
    """Move each leaf alone from low to high and rank the leaves by the metric's swing.

    Without `swing`, every uncertain leaf below `metric` moves between the `quantiles`
    (p10 and p90) of its distribution, truncated to its bounds. With ``swing=0.1`` (or
    ``"10%"``) every leaf below `metric` moves ±10% around its base value instead. The base
    value of a leaf is its value (``values=`` overrides it), or its distribution's median
    when it has no value; a leaf fixed by a number in `distributions` sits at that number.

    Args:
        tree: the tree.
        metric: the metric.
        values: leaf values overriding the nodes' defaults.
        swing: a relative move for every leaf instead of the distributions' quantiles.
        distributions: per-call distributions, as for `simulate`.
        quantiles: the low and high probabilities when moving by distributions.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> t = tornado(qualified_leads(), "qualified_leads", swing="10%")
        >>> [(r.name, round(r.at_low, 6), round(r.at_high, 6)) for r in t]
        [('leads', 720.0, 880.0), ('lead_to_ql', 720.0, 880.0)]
    """
    name = sampling.node_name(tree, metric)
    dists = sampling.leaf_distributions(tree, distributions)
    below = set(tree.depends_on(name))
    given = tree.check_values(values)
    base_values: dict[str, Any] = {}
    for leaf in tree.leaves:
        dist = dists.get(leaf.name)
        value = dist.value if isinstance(dist, Fixed) else given.get(leaf.name, leaf.value)
        if value is None and dist is not None:
            value = sampling.bounded_ppf(dist, leaf, 0.5)
        base_values[leaf.name] = value
    base_values = {k: v for k, v in base_values.items() if v is not None}
    base = evaluate(tree, base_values)  # raises on missing values or an undefined base
    compiled = compile_tree(tree)
    position = compiled.metrics.index(name) if name in compiled.metrics else None
    vector = [base[leaf] for leaf in compiled.leaves]
    if swing is not None:
        relative = to_number(swing, what="swing")
        if relative <= 0:
            raise ArgumentError(
                _("swing must be above 0, got {value}").format(value=format_number(relative)),
                hint=_('swing=0.1 (or "10%") moves every leaf 10% down and up'),
            )
        method = f"±{format_number(relative, percent=True)}"
    else:
        low_q, high_q = (to_number(q, what=_("a tornado quantile")) for q in quantiles)
        if not 0 <= low_q < high_q <= 1:
            raise ArgumentError(
                _("quantiles must be two probabilities, low below high, got {value}").format(
                    value=repr(quantiles)
                ),
                hint=_("quantiles=(0.1, 0.9) moves each leaf from its p10 to its p90"),
            )
        method = f"p{format_number(low_q * 100)}–p{format_number(high_q * 100)}"
    rows = []
    for i, leaf in enumerate(tree.leaves):
        leaf_name = leaf.name
        if leaf_name not in below:
            continue
        if swing is not None:
            low, high = vector[i] * (1 - relative), vector[i] * (1 + relative)
        elif leaf_name in dists and not isinstance(dists[leaf_name], Fixed):
            dist = dists[leaf_name]
            low, high = (
                sampling.bounded_ppf(dist, leaf, low_q),
                sampling.bounded_ppf(dist, leaf, high_q),
            )
        else:
            continue
        at = []
        for moved in (low, high):
            if position is None:  # the "metric" is this leaf itself
                at.append(moved)
                continue
            vector[i] = moved
            at.append(evaluate_vector(tree, vector, undefined="nan")[position])
        vector[i] = base[leaf_name]
        rows.append(
            TornadoRow(
                leaf_name,
                sampling.owner_of(leaf),
                base[leaf_name],
                low,
                high,
                at[0],
                at[1],
                abs(at[1] - at[0]),
            )
        )
    # Widest first; undefined swings last; ties keep tree order.
    rows.sort(key=lambda r: (math.isnan(r.swing), -r.swing if not math.isnan(r.swing) else 0))
    return Tornado(name, base[name], tuple(rows), method, tree)

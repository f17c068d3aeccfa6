"""`cascade`: a metric target split over several KPIs with equal relative effort."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from kpitree.analyses.calculus import gradient
from kpitree.analyses.goal.roots import Residual, find_root
from kpitree.analyses.goal.solving import TOLERANCE, goal_of, target_value, tolerance_scale
from kpitree.analyses.whatif import baseline
from kpitree.engine.derivatives import below_set, metric_node
from kpitree.errors import ArgumentError, EvaluationError, InfeasibleGoalError, KindError
from kpitree.i18n import _
from kpitree.model.bounds import Bounds
from kpitree.model.horizon import Horizon
from kpitree.model.nodes import KPI, Input
from kpitree.model.numbers import format_number
from kpitree.model.results import Result, Values, format_value, table

if TYPE_CHECKING:
    from kpitree.model.graph import Graph


@attrs.frozen(repr=False, eq=False)
class Cascade(Mapping[str, float], Result):
    """New values of the chosen KPIs that bring a metric to its target, with equal effort.

    As a mapping: `{KPI: new value}` for every chosen KPI, so
    `tree.evaluate({**values, **cascade})` gives the target.

    Attributes:
        metric, target: the goal.
        effort: the common relative move `s` (0.05 is 5% of each KPI's current value).
        new: the chosen KPIs' new values.
        pinned: KPIs stopped at a bound.
        idle: chosen KPIs that cannot help and keep their values (derivative 0, or a
            current value of 0, which has no relative move).
        before, after: every node's value before and after.
    """

    metric: str
    target: float
    effort: float
    new: Mapping[str, float]
    pinned: tuple[str, ...]
    idle: tuple[str, ...]
    before: Values
    after: Values
    tree: Graph

    def __getitem__(self, name: str) -> float:
        try:
            return self.new[name]
        except KeyError:
            raise self.tree._unknown(name, "KPI in this cascade") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.new)

    def __len__(self) -> int:
        return len(self.new)

    @property
    def by_owner(self) -> dict[str, dict[str, float]]:
        """`{owner: {KPI: new value}}`: the targets each owner is asked to hit."""
        out: dict[str, dict[str, float]] = {}
        for name, value in self.new.items():
            owner = self.tree[name].owner  # type: ignore[attr-defined]
            out.setdefault(owner, {})[name] = value
        return out

    def rows(self) -> list[dict[str, Any]]:
        """Return one record per chosen KPI: owner, before, after, relative change, state."""
        out = []
        for name, value in self.new.items():
            before = self.before[name]
            state = "pinned" if name in self.pinned else "idle" if name in self.idle else "moved"
            out.append(
                {
                    "name": name,
                    "owner": self.tree[name].owner,  # type: ignore[attr-defined]
                    "before": before,
                    "after": value,
                    "pct": (value - before) / abs(before) if before else None,
                    "state": state,
                }
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return the goal, the effort, the new values and the rows per KPI."""
        return {
            "metric": self.metric,
            "target": self.target,
            "before": self.before[self.metric],
            "after": self.after[self.metric],
            "effort": self.effort,
            "values": dict(self.new),
            "pinned": list(self.pinned),
            "idle": list(self.idle),
            "rows": self.rows(),
        }

    def __str__(self) -> str:
        tree, m = self.tree, self.metric
        head = _("cascade: {metric} {before} → {after}").format(
            metric=m,
            before=format_value(self.before[m], tree, m),
            after=format_value(self.after[m], tree, m),
        )
        if not self.new:
            return "\n".join([head, _("no KPI chosen")])
        effort = format_number(abs(self.effort), percent=True)
        effort = f"−{effort}" if self.effort < 0 else effort
        lines = [
            head,
            _("equal effort: {effort} of each KPI's current value, in the direction that helps")
            .format(effort=effort),
        ]  # fmt: skip
        states = {"pinned": _("pinned"), "idle": _("idle")}
        body = []
        for row in sorted(self.rows(), key=lambda r: r["owner"]):
            pct = row["pct"]
            body.append(
                [
                    row["owner"],
                    row["name"],
                    format_value(row["before"], tree, row["name"]),
                    "→",
                    format_value(row["after"], tree, row["name"]),
                    "" if pct is None else format_number(pct, percent=True),
                    states.get(row["state"], ""),
                ]
            )
        header = [_("owner"), _("KPI"), _("before"), "", _("after"), _("change"), ""]
        lines.append(table(body, header))
        return "\n".join(lines)


def _choose(tree: Graph, metric: str, among: Iterable[str] | None, within: Any) -> list[str]:
    below = below_set(tree, metric)
    if among is None:
        chosen = [k.name for k in tree.kpis if k.name in below]
    else:
        if isinstance(among, str):
            among = [among]
        chosen = []
        for name in among:
            node = tree[name]
            if isinstance(node, Input):
                raise KindError(
                    _("`{name}` is an input: nobody moves it, so it takes no target").format(
                        name=name
                    ),
                    hint=_("choose KPIs"),
                    names=[name],
                )
            if not isinstance(node, KPI):
                raise KindError(
                    _("`{name}` is a metric: a cascade moves KPIs").format(name=name),
                    names=[name],
                )
            if name not in below:
                raise ArgumentError(
                    _("`{metric}` does not depend on `{name}`").format(metric=metric, name=name),
                    names=[metric, name],
                )
            chosen.append(name)
    if within is not None:
        horizon = Horizon.parse(within)
        chosen = [k for k in chosen if tree[k].horizon <= horizon]  # type: ignore[attr-defined]
    if not chosen:
        raise InfeasibleGoalError(
            _("no KPI of `{metric}` to move").format(metric=metric)
            if within is None
            else _("no KPI of `{metric}` to move within {horizon}").format(
                metric=metric, horizon=Horizon.parse(within)
            ),
            hint=_("widen `within`, or name KPIs in `among`"),
            names=[metric],
        )
    return list(dict.fromkeys(chosen))


def cascade(
    tree: Graph,
    metric: str,
    target: object = None,
    values: Mapping[str, Any] | None = None,
    among: Iterable[str] | None = None,
    within: Any = None,
) -> Cascade:
    """Return new values of the chosen KPIs that reach `target` with equal relative effort.

    Args:
        tree: the tree.
        metric: the metric with a target.
        target: a number or a change (`"+10%"`), as for `solve`; None (the default) takes
            the metric's own `target`.
        values: leaf values overriding the nodes' defaults.
        among: the KPIs to move (names); default every KPI the metric depends on.
        within: keep only KPIs whose horizon is at most this (`"1 week"`).

    Raises:
        InfeasibleGoalError: no KPI to move, or the target is out of reach even with the
            chosen KPIs at their bounds.
        ArgumentError: no `target` given and the metric has none.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> c = cascade(qualified_leads(), "qualified_leads", 968)
        >>> round(c["leads"], 6), round(c["lead_to_ql"], 6), round(c.effort, 6)
        (1100.0, 0.88, 0.1)

        Without a target, the metric's own (`roe` has `target=0.2`):

        >>> from kpitree.examples import dupont
        >>> round(cascade(dupont(), "roe", within="1 month").target, 6)
        0.2
    """
    metric_node(tree, metric)
    goal = goal_of(tree, metric, target)
    chosen = _choose(tree, metric, among, within)
    base = baseline(tree, values)
    f0 = base.values[metric]
    t = target_value(tree, metric, goal, f0)
    aim = TOLERANCE * 1e-3 * tolerance_scale(t, f0)
    slopes = gradient(tree, metric, base.leaf_values())
    x0 = {k: base.values[k] for k in chosen}
    direction = 1.0 if t > f0 else -1.0
    moving = {k: direction * math.copysign(1.0, slopes[k]) for k in chosen if slopes[k] and x0[k]}
    idle = tuple(k for k in chosen if k not in moving)
    limits = {k: Bounds.of(tree[k]) for k in moving}

    def at(s: float) -> dict[str, float]:
        return {k: limits[k].clip(x0[k] + d * s * abs(x0[k])) for k, d in moving.items()}

    def residual(s: float) -> float | None:
        try:
            return base.recompute(at(s))[metric] - t
        except EvaluationError:
            return None

    if abs(f0 - t) <= aim or not moving:
        s = 0.0
        if abs(f0 - t) > aim:
            raise InfeasibleGoalError(
                _("none of the chosen KPIs moves `{metric}` at these values").format(metric=metric),
                hint=_("they are {names}; each has a derivative or a value of 0").format(
                    names=", ".join(chosen)
                ),
                names=[metric, *chosen],
            )
    else:
        stops = [_stop(x0[k], d, limits[k].span) for k, d in moving.items()]
        high = max(stops)
        rate = sum(abs(slopes[k] * x0[k]) for k in moving)
        found = find_root(residual, 0.0, f0 - t, abs(t - f0) / rate, 0.0, high, aim)
        if found is None:
            raise _out_of_reach(tree, metric, t, high, residual)
        s = found
    new = {**x0, **at(s)}
    after = Values({**base.values, **base.recompute(new)}, tree)
    pinned = tuple(k for k, v in new.items() if k in moving and v in limits[k].span and v != x0[k])
    before = Values(base.values, tree)
    return Cascade(metric, t, s, new, pinned, idle, before, after, tree)


def _stop(x: float, d: float, bounds: tuple[float, float]) -> float:
    """Return the effort at which a KPI moving from x in direction d reaches its bound."""
    bound = bounds[1] if d > 0 else bounds[0]
    if math.isinf(bound):
        return math.inf
    return max((bound - x) / (d * abs(x)), 0.0)


def _out_of_reach(
    tree: Graph, metric: str, t: float, high: float, residual: Residual
) -> InfeasibleGoalError:
    if math.isfinite(high):
        r = residual(high)
        shown = format_value(t, tree, metric)
        return InfeasibleGoalError(
            _("`{metric}` cannot reach {target} even with every chosen KPI at its bound").format(
                metric=metric, target=shown
            )
            if r is None
            else _(
                "`{metric}` cannot reach {target} even with every chosen KPI at its bound, "
                "reaching only {reached}"
            ).format(metric=metric, target=shown, reached=format_value(r + t, tree, metric)),
            hint=_("add KPIs (among=...), widen `within`, or lower the target"),
            names=[metric],
        )
    return InfeasibleGoalError(
        _(
            "`{metric}` cannot reach {target} by moving the chosen KPIs by a common percentage"
        ).format(metric=metric, target=format_value(t, tree, metric)),
        hint=_("choose other KPIs (among=...), or lower the target"),
        names=[metric],
    )

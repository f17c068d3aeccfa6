"""`solve`: the value of one leaf that gives a metric its target."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kpitree.analyses.goal.inversion import inversion_plan
from kpitree.analyses.goal.roots import Residual, find_root
from kpitree.analyses.whatif import Baseline, apply_change, baseline, check_bounds
from kpitree.engine.derivatives import below_set, metric_node
from kpitree.errors import (
    ArgumentError,
    BoundsError,
    EvaluationError,
    InfeasibleGoalError,
    KindError,
    KPITreeError,
)
from kpitree.i18n import _
from kpitree.model.bounds import Bounds
from kpitree.model.graph import CacheKey
from kpitree.model.nodes import Leaf
from kpitree.model.numbers import format_number
from kpitree.model.results import format_value

if TYPE_CHECKING:
    from kpitree.model.graph import Graph


MIN_ELASTICITY = 1e-8
"""Below this elasticity (|% change of the metric per 1% of the leaf|) a goal is refused."""

TOLERANCE = 1e-9
"""Solutions reach the target to this relative tolerance (of the larger of target and current)."""


def tolerance_scale(target: float, current: float) -> float:
    """Return the size the relative tolerance is taken of: the larger of target and current."""
    return max(abs(target), abs(current)) or 1.0


def target_value(tree: Graph, metric: str, target: object, current: float) -> float:
    """Return the target of `metric`: a number, or a change (`"+10%"`) applied to `current`."""
    if type(target) is float and target - target == 0.0:
        return target  # a finite float, the common case: nothing to read
    try:
        return apply_change(target, current, what=_("target of `{metric}`").format(metric=metric))
    except KPITreeError as exc:
        raise type(exc)(
            exc.reason,
            hint=_("a number ({current} now) or a change such as {examples}").format(
                current=format_number(current), examples='"+10%", "x1.2", "+200"'
            ),
            names=[metric],
        ) from None


def goal_of(tree: Graph, metric: str, target: object) -> object:
    """Return the target to reach: `target` if given, else the metric's own `target`.

    Raises:
        ArgumentError: neither is given; the message names the metric and both ways to
            give a target.
    """
    if target is not None:
        return target
    own = getattr(tree[metric], "target", None)
    if own is None:
        raise ArgumentError(
            _("`{metric}` has no target, and none was given").format(metric=metric),
            hint=_(
                "give a target ({argument} in Python, TARGET on the command line), "
                "or write {field} under `{metric}` in the model file"
            ).format(argument="`target=`", field="`target:`", metric=metric),
            names=[metric],
        )
    return own


def _leaf(tree: Graph, metric: str, vary: str) -> Leaf:
    node = tree[vary]
    if not isinstance(node, Leaf):
        raise KindError(
            _("`{vary}` is a metric: solve varies a leaf (a KPI or an input)").format(vary=vary),
            hint=_("vary one of the leaves below it: {leaves}").format(
                leaves=_leaves_below(tree, vary)
            ),
            names=[vary],
        )
    if vary not in below_set(tree, metric):
        raise ArgumentError(
            _("`{metric}` does not depend on `{vary}`: no value of it changes `{metric}`").format(
                metric=metric, vary=vary
            ),
            hint=_("vary one of {leaves}").format(leaves=_leaves_below(tree, metric)),
            names=[metric, vary],
        )
    return node


def _leaves_below(tree: Graph, name: str) -> str:
    names = [n for n in tree.depends_on(name) if isinstance(tree[n], Leaf)]
    return ", ".join(f"`{n}`" for n in names[:6]) + (", ..." if len(names) > 6 else "")


def solve(
    tree: Graph,
    metric: str,
    target: object = None,
    vary: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> float:
    """Return the value of leaf `vary` that makes `metric` equal `target`.

    Args:
        tree: the tree.
        metric: the metric to bring to its target.
        target: a number, or a change of the metric's current value in the forms of
            `tree.whatif` (`"+10%"`, `"x1.2"`, `"+200"`, `"=900"`); None (the default)
            takes the metric's own `target`.
        vary: the leaf to change (a KPI or an input); every other leaf keeps its value.
            Required: it is a keyword with a default only so that `target` can be left out.
        values: leaf values overriding the nodes' defaults.

    Raises:
        InfeasibleGoalError: the value needed lies outside the leaf's bounds (`.needed`
            holds it), no value reaches the target, or the goal is ill-conditioned.
        ValueTypeError: `vary` is a metric, or `metric` does not depend on it; a target
            that is not a finite number or a change.
        ArgumentError: no `target` given and the metric has none; no `vary` given.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> tree = qualified_leads()
        >>> solve(tree, "qualified_leads", 900, vary="leads")
        1125.0
        >>> solve(tree, "qualified_leads", 1000, vary="lead_to_ql", values={"leads": 900})
        Traceback (most recent call last):
        ...
        kpitree.errors.InfeasibleGoalError: `lead_to_ql` would need to be 111%, above ...

        A metric with a `target` of its own is solved for it when no target is given:

        >>> from kpitree.examples import dupont
        >>> round(solve(dupont(), "roe", vary="net_income"), 6)
        1600000.0
    """
    checked = tree._cache.get(_CHECKED) or tree.cached(_CHECKED, dict)
    leaf = checked.get((metric, vary)) if type(metric) is str and type(vary) is str else None
    if leaf is None:
        # The checks of the metric and the leaf; their answer for a pair is kept.
        metric_node(tree, metric)
        if vary is None:
            raise ArgumentError(
                _("solve needs the leaf to vary"),
                hint=_("vary one of {leaves}").format(leaves=_leaves_below(tree, metric)),
                names=[metric],
            )
        goal = goal_of(tree, metric, target)
        leaf = checked.setdefault((metric, vary), _leaf(tree, metric, vary))
    else:
        goal = target if target is not None else goal_of(tree, metric, target)
    base = baseline(tree, values)
    f0, x0 = base.values[metric], base.values[vary]  # type: ignore[index]
    t = target_value(tree, metric, goal, f0)
    scale = max(abs(t), abs(f0)) or 1.0  # tolerance_scale(t, f0), inline
    aim = TOLERANCE * 1e-3 * scale
    accept = TOLERANCE * scale
    if abs(f0 - t) <= aim:
        return x0
    changed = leaf.name

    def residual(x: float) -> float | None:
        try:
            return base.recompute({changed: x})[metric] - t
        except EvaluationError:
            return None

    plan = inversion_plan(tree, metric, changed, base)
    if plan is not None:
        found = _polish(plan.candidates(t, base.slots), residual, aim, accept)
        if not found:
            raise _unreachable(tree, metric, t, changed, base, exact=True)
    else:
        found = _numeric(tree, metric, t, changed, base, residual, aim)
    return _pick(tree, metric, t, leaf, found, x0, f0)


_CHECKED: CacheKey[dict[tuple[str, str], Leaf]] = CacheKey(
    "goal seek: (metric, leaf) pairs already checked, with the leaf"
)


def _polish(candidates: list[float], residual: Residual, aim: float, accept: float) -> list[float]:
    """Keep the candidates that reach the target; nudge those that miss by rounding."""
    out = []
    for x in candidates:
        r = residual(x)
        if r is not None and abs(r) > accept:
            step = abs(x) * 1e-9 or 1e-12
            found = find_root(residual, x, r, step, -math.inf, math.inf, aim)
            x, r = (x, None) if found is None else (found, 0.0)
        if r is not None:
            out.append(x)
    return out


def _numeric(
    tree: Graph,
    metric: str,
    t: float,
    vary: str,
    base: Baseline,
    residual: Residual,
    aim: float,
) -> list[float]:
    f0, x0 = base.values[metric], base.values[vary]
    h = abs(x0) * 1e-6 or 1e-6
    r1 = residual(x0 + h)
    slope = 0.0 if r1 is None else (r1 + t - f0) / h
    if slope and x0 and f0:
        _check_elasticity(tree, metric, vary, slope * x0 / f0, None)
    step = (t - f0) / slope if slope else 0.0
    low, high = Bounds.of(tree[vary]).span
    # The root finder may step outside the bounds to report what would be needed.
    found = find_root(residual, x0, f0 - t, step, -math.inf, math.inf, aim)
    if found is None and (low, high) != (-math.inf, math.inf):
        found = find_root(residual, x0, f0 - t, step, low, high, aim)
    if found is None:
        raise _unreachable(tree, metric, t, vary, base, exact=False)
    return [found]


def _check_elasticity(
    tree: Graph, metric: str, vary: str, elasticity: float, needed: float | None
) -> None:
    if abs(elasticity) < MIN_ELASTICITY:
        raise InfeasibleGoalError(
            _(
                "`{metric}` barely moves with `{vary}` (elasticity {elasticity}): "
                "the goal is ill-conditioned, and not reachable by a plausible value"
            ).format(metric=metric, vary=vary, elasticity=f"{elasticity:.2g}"),
            hint=_("vary a leaf with more influence: see {call}").format(
                call=f"tree.sensitivity({metric!r})"
            ),
            needed=needed,
            names=[metric, vary],
        )


def _unreachable(
    tree: Graph, metric: str, t: float, vary: str, base: Baseline, *, exact: bool
) -> InfeasibleGoalError:
    shown = format_value(t, tree, metric)
    why = (
        _("its formulas cannot reach that value")
        if exact
        else _("no value found within its bounds, searching outward from its current value")
    )
    return InfeasibleGoalError(
        _("no value of `{vary}` gives `{metric}` = {target}: {why}").format(
            vary=vary, metric=metric, target=shown, why=why
        ),
        hint=_("`{metric}` is {value} now; see {call} for other levers").format(
            metric=metric,
            value=format_value(base.values[metric], tree, metric),
            call=f"tree.sensitivity({metric!r})",
        ),
        names=[metric, vary],
    )


def _pick(
    tree: Graph, metric: str, t: float, leaf: Leaf, found: list[float], x0: float, f0: float
) -> float:
    if len(found) > 1:
        found = sorted(found, key=lambda x: abs(x - x0))
    inside = []
    for x in found:
        try:
            check_bounds(tree, leaf.name, x)
        except BoundsError:
            continue
        inside.append(x)
    if not inside:
        raise _outside(tree, leaf, found[0])
    x = inside[0]
    if x != x0 and x0 and f0:
        _check_elasticity(tree, metric, leaf.name, ((t - f0) / f0) / ((x - x0) / x0), x)
    return x


def _outside(tree: Graph, leaf: Leaf, needed: float) -> InfeasibleGoalError:
    low, high = Bounds.of(leaf).span
    above = needed > high
    message = (
        _("`{name}` would need to be {value}, above its upper bound {bound}")
        if above
        else _("`{name}` would need to be {value}, below its lower bound {bound}")
    )
    return InfeasibleGoalError(
        message.format(
            name=leaf.name,
            value=format_value(needed, tree, leaf.name),
            bound=format_value(high if above else low, tree, leaf.name),
        ),
        hint=_("move other leaves too (tree.cascade), or lower the target"),
        needed=needed,
        names=[leaf.name],
    )

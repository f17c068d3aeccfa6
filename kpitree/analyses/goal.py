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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from kpitree.analyses.calculus import (
    Sensitivity,
    gradient,
    sensitivity,
)
from kpitree.analyses.whatif import Baseline, apply_change, baseline, check_bounds
from kpitree.engine.derivatives import below_set, metric_node
from kpitree.engine.evaluate import interpret
from kpitree.errors import (
    ArgumentError,
    BoundsError,
    EvaluationError,
    InfeasibleGoalError,
    KindError,
    KPITreeError,
    UnknownNameError,
    did_you_mean,
)
from kpitree.language.expr import Add, Call, Div, Expr, Mul, Neg, Pow, Ref, Sub, children
from kpitree.language.table import FUNCTIONS
from kpitree.model.bounds import Bounds
from kpitree.model.graph import CacheKey, reach
from kpitree.model.horizon import Horizon
from kpitree.model.nodes import KPI, Input, Leaf, Metric
from kpitree.model.numbers import format_number
from kpitree.model.results import Result, Values, format_value, table

if TYPE_CHECKING:
    from kpitree.model.graph import Graph

__all__ = ["MIN_ELASTICITY", "TOLERANCE", "Cascade", "cascade", "levers", "solve"]

MIN_ELASTICITY = 1e-8
"""Below this elasticity (|% change of the metric per 1% of the leaf|) a goal is refused."""

TOLERANCE = 1e-9
"""Solutions reach the target to this relative tolerance (of the larger of target and current)."""

_MAX_EVALUATIONS = 60


# -- exact inversion along a path ---------------------------------------------------------------

# A step of an inversion plan: a metric, and the positions to follow inside its formula
# from the top down to the one reference to the next node on the path.
_Step = tuple[str, tuple[int, ...]]


_PLANS: CacheKey[dict[tuple[str, str], list[_Step] | None]] = CacheKey("goal-seek plans")


def _plan(tree: Graph, metric: str, vary: str) -> list[_Step] | None:
    """Return the path from `metric` down to `vary` if every formula on it is invertible."""
    cache = tree.cached(_PLANS, dict)
    key = (metric, vary)
    if key in cache:
        return cache[key]
    above = reach(vary, tree._parents)
    plan: list[_Step] | None = []
    current = metric
    while plan is not None and current != vary:
        node = tree[current]
        assert isinstance(node, Metric)
        on_path = [c for c in tree._children[current] if c in above]
        positions = _positions(node.formula, on_path[0]) if len(on_path) == 1 else None
        if positions is None:
            plan = None
        else:
            plan.append((current, positions))
            current = on_path[0]
    cache[key] = plan
    return plan


def _positions(formula: Expr, name: str) -> tuple[int, ...] | None:
    """Return the child positions leading to the one `Ref(name)`, or None if not invertible."""
    found: list[tuple[int, ...]] = []
    stack: list[tuple[Expr, tuple[int, ...]]] = [(formula, ())]
    while stack:
        node, where = stack.pop()
        if isinstance(node, Ref) and node.name == name:
            found.append(where)
        stack.extend((kid, (*where, i)) for i, kid in enumerate(children(node)))
    if len(found) != 1:
        return None
    node = formula
    for i in found[0]:
        if isinstance(node, Call) and FUNCTIONS[node.func].inverse is None:
            return None
        node = children(node)[i]
    return found[0]


def _invert(node: Expr, hole: int, target: float, env: Mapping[str, float]) -> list[float]:
    """Return the values of operand `hole` of `node` that make `node` equal `target`."""
    kids = children(node)
    others = [interpret(k, env) for i, k in enumerate(kids) if i != hole]
    current = interpret(kids[hole], env)
    t = target
    if isinstance(node, Add):
        return [t - math.fsum(others)]
    if isinstance(node, Sub):
        return [t + others[0]] if hole == 0 else [others[0] - t]
    if isinstance(node, Neg):
        return [-t]
    if isinstance(node, Mul):
        return _divide(t, math.prod(others), current)
    if isinstance(node, Div):
        return _divide(t, 1 / others[0], current) if hole == 0 else _divide(others[0], t, current)
    if isinstance(node, Pow):
        return _root(t, others[0], current) if hole == 0 else _exponent(t, others[0], current)
    assert isinstance(node, Call)
    inverse = FUNCTIONS[node.func].inverse
    assert inverse is not None  # `_path` plans no call without an inverse
    return inverse(t)


def _divide(t: float, by: float, current: float) -> list[float]:
    """Solve `x * by = t` for x (any x when both are 0: keep the current one)."""
    if by == 0:
        return [current] if t == 0 else []
    return [t / by]


def _root(t: float, c: float, current: float) -> list[float]:
    """Solve `x ** c = t` for real x."""
    if c == 0:
        return [current] if t == 1 else []
    if t == 0:
        return [0.0] if c > 0 else []
    if c.is_integer() and int(c) % 2:
        return [math.copysign(abs(t) ** (1 / c), t)]
    if t < 0:
        return []
    x = t ** (1 / c)
    return [x, -x] if c.is_integer() else [x]


def _exponent(t: float, base: float, current: float) -> list[float]:
    """Solve `base ** x = t` for x."""
    if base == 1:
        return [current] if t == 1 else []
    if base <= 0 or t <= 0:
        return []
    return [math.log(t) / math.log(base)]


def _exact(
    tree: Graph, plan: list[_Step], target: float, values: Mapping[str, float]
) -> list[float]:
    """Walk down `plan` from the target: every value of the leaf that reaches it."""
    targets = [target]
    for name, positions in plan:
        node = tree[name]
        assert isinstance(node, Metric)
        expr = node.formula
        for hole in positions:
            try:
                targets = [x for t in targets for x in _invert(expr, hole, t, values)]
            except (ArithmeticError, ValueError):
                return []
            targets = [x for x in targets if math.isfinite(x)]
            expr = children(expr)[hole]
    return targets


# -- numeric root finding -----------------------------------------------------------------------

Residual = Callable[[float], float | None]


def _find_root(
    fun: Residual, x0: float, r0: float, step: float, low: float, high: float, aim: float
) -> float | None:
    """Return x in [low, high] with |fun(x)| <= aim, searching outward from x0; or None.

    `fun` returns None where the function is undefined. The bracket grows from `x0` in
    the direction of `step` first, then both ways alternately, so the root found is the
    one nearest `x0` when roots are far apart.
    """
    budget = _MAX_EVALUATIONS
    bracket: tuple[float, float, float, float] | None = None
    ways = [(1.0 if step >= 0 else -1.0), (-1.0 if step >= 0 else 1.0)]
    last = dict.fromkeys(ways, (x0, r0))
    alive = {d: (high > x0 if d > 0 else low < x0) for d in ways}
    size = abs(step) or max(abs(x0), 1.0) * 0.1
    k = 0
    while bracket is None and any(alive.values()) and budget > 0:
        for d in ways:
            if not alive[d] or bracket is not None:
                continue
            x = min(max(x0 + d * size * _growth(k), low), high)
            r = fun(x)
            budget -= 1
            if r is None:
                alive[d] = False
                continue
            px, pr = last[d]
            if abs(r) <= aim:
                return x
            if (r > 0) != (pr > 0):
                bracket = (px, pr, x, r)
            last[d] = (x, r)
            if x in (low, high) or not math.isfinite(x):
                alive[d] = False
        k += 1
    if bracket is None:
        return None
    return _refine(fun, *bracket, aim=aim, budget=budget)


def _growth(k: int) -> float:
    # Double near the start (a Newton guess is usually close), then widen fast.
    return 2.0**k if k < 4 else 8.0 * 10.0 ** (k - 3)


def _refine(
    fun: Residual, a: float, fa: float, b: float, fb: float, *, aim: float, budget: int
) -> float | None:
    """Shrink a sign-changing bracket: regula falsi with the Illinois step, bisection guard."""
    best = (abs(fa), a) if abs(fa) < abs(fb) else (abs(fb), b)
    side = 0
    for _ in range(budget):
        c = b - fb * (b - a) / (fb - fa)
        if not (min(a, b) < c < max(a, b)) or side > 1:
            c = 0.5 * (a + b)
            side = 0
        if c in (a, b):
            break
        fc = fun(c)
        if fc is None:
            return None
        if abs(fc) < best[0]:
            best = (abs(fc), c)
        if abs(fc) <= aim:
            return c
        if (fc > 0) == (fb > 0):
            fa *= 0.5  # Illinois: the stale end pulls less
            side += 1
        else:
            a, fa = b, fb
            side = 0
        b, fb = c, fc
    return best[1] if best[0] <= aim else None


# -- solve ---------------------------------------------------------------------------------------


def _scale(target: float, current: float) -> float:
    return max(abs(target), abs(current)) or 1.0


def _target(tree: Graph, metric: str, target: object, current: float) -> float:
    try:
        return apply_change(target, current, what=f"target of `{metric}`")
    except KPITreeError as exc:
        raise type(exc)(
            exc.reason,
            hint=f"a number ({format_number(current)} now) or a change such as "
            '"+10%", "x1.2", "+200"',
            names=[metric],
        ) from None


def _leaf(tree: Graph, metric: str, vary: str) -> Leaf:
    node = tree[vary]
    if not isinstance(node, Leaf):
        raise KindError(
            f"`{vary}` is a metric: solve varies a leaf (a KPI or an input)",
            hint=f"vary one of the leaves below it: {_leaves_below(tree, vary)}",
            names=[vary],
        )
    if vary not in below_set(tree, metric):
        raise ArgumentError(
            f"`{metric}` does not depend on `{vary}`: no value of it changes `{metric}`",
            hint=f"vary one of {_leaves_below(tree, metric)}",
            names=[metric, vary],
        )
    return node


def _leaves_below(tree: Graph, name: str) -> str:
    names = [n for n in tree.depends_on(name) if isinstance(tree[n], Leaf)]
    return ", ".join(f"`{n}`" for n in names[:6]) + (", ..." if len(names) > 6 else "")


def solve(
    tree: Graph,
    metric: str,
    target: object,
    vary: str,
    values: Mapping[str, Any] | None = None,
) -> float:
    """Return the value of leaf `vary` that makes `metric` equal `target`.

    Args:
        tree: the tree.
        metric: the metric to bring to its target.
        target: a number, or a change of the metric's current value in the forms of
            `tree.whatif` (`"+10%"`, `"x1.2"`, `"+200"`, `"=900"`).
        vary: the leaf to change (a KPI or an input); every other leaf keeps its value.
        values: leaf values overriding the nodes' defaults.

    Raises:
        InfeasibleGoalError: the value needed lies outside the leaf's bounds (`.needed`
            holds it), no value reaches the target, or the goal is ill-conditioned.
        ValueTypeError: `vary` is a metric, or `metric` does not depend on it; a target
            that is not a finite number or a change.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> tree = qualified_leads()
        >>> solve(tree, "qualified_leads", 900, vary="leads")
        1125.0
        >>> solve(tree, "qualified_leads", 1000, vary="lead_to_ql", values={"leads": 900})
        Traceback (most recent call last):
        ...
        kpitree.errors.InfeasibleGoalError: `lead_to_ql` would need to be 111.111%, above ...
    """
    metric_node(tree, metric)
    leaf = _leaf(tree, metric, vary)
    base = baseline(tree, values)
    f0, x0 = base.values[metric], base.values[vary]
    t = _target(tree, metric, target, f0)
    aim = TOLERANCE * 1e-3 * _scale(t, f0)
    accept = TOLERANCE * _scale(t, f0)

    def residual(x: float) -> float | None:
        try:
            return base.recompute({vary: x})[metric] - t
        except EvaluationError:
            return None

    if abs(f0 - t) <= aim:
        return x0
    plan = _plan(tree, metric, vary)
    if plan is not None:
        found = _polish(_exact(tree, plan, t, base.values), residual, aim, accept)
        if not found:
            raise _unreachable(tree, metric, t, vary, base, exact=True)
    else:
        found = _numeric(tree, metric, t, vary, base, residual, aim)
    return _pick(tree, metric, t, leaf, found, x0, f0)


def _polish(candidates: list[float], residual: Residual, aim: float, accept: float) -> list[float]:
    """Keep the candidates that reach the target; nudge those that miss by rounding."""
    out = []
    for x in candidates:
        r = residual(x)
        if r is not None and abs(r) > accept:
            step = abs(x) * 1e-9 or 1e-12
            found = _find_root(residual, x, r, step, -math.inf, math.inf, aim)
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
    found = _find_root(residual, x0, f0 - t, step, -math.inf, math.inf, aim)
    if found is None and (low, high) != (-math.inf, math.inf):
        found = _find_root(residual, x0, f0 - t, step, low, high, aim)
    if found is None:
        raise _unreachable(tree, metric, t, vary, base, exact=False)
    return [found]


def _check_elasticity(
    tree: Graph, metric: str, vary: str, elasticity: float, needed: float | None
) -> None:
    if abs(elasticity) < MIN_ELASTICITY:
        raise InfeasibleGoalError(
            f"`{metric}` barely moves with `{vary}` (elasticity {elasticity:.2g}): "
            "the goal is ill-conditioned, and not reachable by a plausible value",
            hint=f"vary a leaf with more influence: see tree.sensitivity({metric!r})",
            needed=needed,
            names=[metric, vary],
        )


def _unreachable(
    tree: Graph, metric: str, t: float, vary: str, base: Baseline, *, exact: bool
) -> InfeasibleGoalError:
    shown = format_value(t, tree, metric)
    why = (
        "its formulas cannot reach that value"
        if exact
        else "no value found within its bounds, searching outward from its current value"
    )
    return InfeasibleGoalError(
        f"no value of `{vary}` gives `{metric}` = {shown}: {why}",
        hint=f"`{metric}` is {format_value(base.values[metric], tree, metric)} now; "
        f"see tree.sensitivity({metric!r}) for other levers",
        names=[metric, vary],
    )


def _pick(
    tree: Graph, metric: str, t: float, leaf: Leaf, found: list[float], x0: float, f0: float
) -> float:
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
    side, bound = ("above its upper", high) if needed > high else ("below its lower", low)
    return InfeasibleGoalError(
        f"`{leaf.name}` would need to be {format_value(needed, tree, leaf.name)}, "
        f"{side} bound {format_value(bound, tree, leaf.name)}",
        hint="move other leaves too (tree.cascade), or lower the target",
        needed=needed,
        names=[leaf.name],
    )


# -- cascade -------------------------------------------------------------------------------------


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
        head = (
            f"cascade: {m} {format_value(self.before[m], tree, m)} → "
            f"{format_value(self.after[m], tree, m)}"
        )
        if not self.new:
            return f"{head}\nno KPI chosen"
        sign = "-" if self.effort < 0 else ""
        lines = [head, f"equal effort: {sign}{format_number(abs(self.effort), percent=True)} of "
                 "each KPI's current value, in the direction that helps"]  # fmt: skip
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
                    "" if row["state"] == "moved" else row["state"],
                ]
            )
        lines.append(table(body, ["owner", "KPI", "before", "", "after", "change", ""]))
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
                    f"`{name}` is an input: nobody moves it, so it takes no target",
                    hint="choose KPIs",
                    names=[name],
                )
            if not isinstance(node, KPI):
                raise KindError(f"`{name}` is a metric: a cascade moves KPIs", names=[name])
            if name not in below:
                raise ArgumentError(f"`{metric}` does not depend on `{name}`", names=[metric, name])
            chosen.append(name)
    if within is not None:
        horizon = Horizon.parse(within)
        chosen = [k for k in chosen if tree[k].horizon <= horizon]  # type: ignore[attr-defined]
    if not chosen:
        raise InfeasibleGoalError(
            f"no KPI of `{metric}` to move"
            + (f" within {Horizon.parse(within)}" if within is not None else ""),
            hint="widen `within`, or name KPIs in `among`",
            names=[metric],
        )
    return list(dict.fromkeys(chosen))


def cascade(
    tree: Graph,
    metric: str,
    target: object,
    values: Mapping[str, Any] | None = None,
    among: Iterable[str] | None = None,
    within: Any = None,
) -> Cascade:
    """Return new values of the chosen KPIs that reach `target` with equal relative effort.

    Args:
        tree: the tree.
        metric: the metric with a target.
        target: a number or a change (`"+10%"`), as for `solve`.
        values: leaf values overriding the nodes' defaults.
        among: the KPIs to move (names); default every KPI the metric depends on.
        within: keep only KPIs whose horizon is at most this (`"1 week"`).

    Raises:
        InfeasibleGoalError: no KPI to move, or the target is out of reach even with the
            chosen KPIs at their bounds.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> c = cascade(qualified_leads(), "qualified_leads", 968)
        >>> round(c["leads"], 6), round(c["lead_to_ql"], 6), round(c.effort, 6)
        (1100.0, 0.88, 0.1)
    """
    metric_node(tree, metric)
    chosen = _choose(tree, metric, among, within)
    base = baseline(tree, values)
    f0 = base.values[metric]
    t = _target(tree, metric, target, f0)
    aim = TOLERANCE * 1e-3 * _scale(t, f0)
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
                f"none of the chosen KPIs moves `{metric}` at these values",
                hint=f"they are {', '.join(chosen)}; each has a derivative or a value of 0",
                names=[metric, *chosen],
            )
    else:
        stops = [_stop(x0[k], d, limits[k].span) for k, d in moving.items()]
        high = max(stops)
        rate = sum(abs(slopes[k] * x0[k]) for k in moving)
        found = _find_root(residual, 0.0, f0 - t, abs(t - f0) / rate, 0.0, high, aim)
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
        reach = "" if r is None else f", reaching only {format_value(r + t, tree, metric)}"
        return InfeasibleGoalError(
            f"`{metric}` cannot reach {format_value(t, tree, metric)} even with every chosen "
            f"KPI at its bound{reach}",
            hint="add KPIs (among=...), widen `within`, or lower the target",
            names=[metric],
        )
    return InfeasibleGoalError(
        f"`{metric}` cannot reach {format_value(t, tree, metric)} by moving the chosen KPIs "
        "by a common percentage",
        hint="choose other KPIs (among=...), or lower the target",
        names=[metric],
    )


# -- levers --------------------------------------------------------------------------------------


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
            f"nobody called `{owner}` owns a KPI of this tree",
            hint=did_you_mean(str(owner), owners) or f"owners: {', '.join(owners)}",
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

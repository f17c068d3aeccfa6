"""Exact inversion along a path: the formulas from a metric down to one leaf, undone one by one."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from kpitree.engine.evaluate import interpret
from kpitree.language.expr import Add, Call, Div, Expr, Mul, Neg, Pow, Ref, Sub, children
from kpitree.language.table import FUNCTIONS
from kpitree.model.graph import CacheKey, reach
from kpitree.model.nodes import Metric

if TYPE_CHECKING:
    from kpitree.model.graph import Graph


# A step of an inversion plan: a metric, and the positions to follow inside its formula
# from the top down to the one reference to the next node on the path.
_Step = tuple[str, tuple[int, ...]]


_PLANS: CacheKey[dict[tuple[str, str], list[_Step] | None]] = CacheKey("goal-seek plans")


def inversion_plan(tree: Graph, metric: str, vary: str) -> list[_Step] | None:
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


def invert_plan(
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

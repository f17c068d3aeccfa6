"""Exact inversion along a path: the formulas from a metric down to one leaf, undone one by one.

The plan of a (metric, leaf) pair is worked out once per tree and kept: for each operation
on the path, what it is, which operand leads down, and generated code that computes the
other operands from the starting values. A repeated goal seek then does arithmetic only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from kpitree.engine import codegen
from kpitree.engine.codegen import RUNTIME
from kpitree.language.expr import Add, Call, Div, Expr, Mul, Neg, Pow, Ref, Sub, children
from kpitree.language.table import FUNCTIONS
from kpitree.model.graph import CacheKey, reach
from kpitree.model.nodes import Metric

if TYPE_CHECKING:
    from kpitree.engine.incremental import Baseline
    from kpitree.model.graph import Graph

__all__ = ["Inversion", "inversion_plan"]


# One operation on the path: `parts(v)` gives the values of its other operands, then of the
# operand that leads down (the hole), from the slot list `v`; `undo(t, parts)` the values
# of the hole that make the operation equal `t`.
_Parts = Callable[[Sequence[float]], tuple[float, ...]]
_Undo = Callable[[float, tuple[float, ...]], list[float]]
# The whole path in one function, where each operation has one answer: `(sum of the
# operands, the leaf's value)`, the value NaN where no value reaches the target.
_Fused = Callable[[Sequence[float], float], tuple[float, float]]


class Inversion:
    """The operations from a metric down to one leaf, ready to be undone for any target."""

    __slots__ = ("fused", "steps")

    def __init__(self, steps: list[tuple[_Parts, _Undo]], fused: _Fused | None = None) -> None:
        self.steps = steps
        self.fused = fused

    def candidates(self, target: float, slots: Sequence[float]) -> list[float]:
        """Walk down from `target`: every value of the leaf that reaches it.

        `slots` are the starting values in the order of the baseline's engine. An
        operand that is undefined there (not finite, or raising) leaves no candidate.
        """
        if self.fused is not None:
            try:
                total, x = self.fused(slots, target)
            except (ArithmeticError, ValueError):
                return []
            if total - total == 0.0:  # every operand finite: the one answer, or none
                return [x] if x - x == 0.0 else []
        targets = [target]
        for parts, undo in self.steps:
            try:
                values = parts(slots)
                total = sum(values)
                if total - total != 0.0 and not all(map(math.isfinite, values)):
                    return []  # an undefined operand (not just a sum too large): no candidate
                if len(targets) == 1:
                    targets = undo(targets[0], values)
                else:
                    targets = [x for t in targets for x in undo(t, values)]
            except (ArithmeticError, ValueError):
                return []
            if len(targets) != 1:
                targets = [x for x in targets if x - x == 0.0]
                if not targets:
                    return []
            elif targets[0] - targets[0] != 0.0:
                return []
        return targets


_PLANS: CacheKey[dict[tuple[str, str], Inversion | None]] = CacheKey("goal-seek plans")


def inversion_plan(tree: Graph, metric: str, vary: str, base: Baseline) -> Inversion | None:
    """Return the inversion from `metric` down to `vary`, if every formula on the way inverts."""
    cache = tree.cached(_PLANS, dict)
    key = (metric, vary)
    try:
        return cache[key]
    except KeyError:
        pass
    above = reach(vary, tree._parents)
    path: list[tuple[str, tuple[int, ...]]] | None = []
    current = metric
    while path is not None and current != vary:
        node = tree[current]
        assert isinstance(node, Metric)
        on_path = [c for c in tree._children[current] if c in above]
        positions = _positions(node.formula, on_path[0]) if len(on_path) == 1 else None
        if positions is None:
            path = None
        else:
            path.append((current, positions))
            current = on_path[0]
    plan = None if path is None else Inversion(*_steps(tree, path, base))
    return cache.setdefault(key, plan)


def _steps(
    tree: Graph, path: list[tuple[str, tuple[int, ...]]], base: Baseline
) -> tuple[list[tuple[_Parts, _Undo]], _Fused | None]:
    """Generate, for each operation on the path, the code of its operands' values."""
    slots = {name: f"v[{i}]" for i, name in enumerate(base.engine.names)}
    found: list[tuple[type[Expr], int, list[Expr], Callable[[float], list[float]] | None]] = []
    for name, positions in path:
        node = tree[name]
        assert isinstance(node, Metric)
        expr = node.formula
        for hole in positions:
            kids = children(expr)
            inverse = FUNCTIONS[expr.func].inverse if isinstance(expr, Call) else None
            operands = [k for i, k in enumerate(kids) if i != hole] + [kids[hole]]
            found.append((type(expr), hole, operands, inverse))
            expr = kids[hole]
    lines = ["_P = ("]
    for _kind, _hole, operands, _inverse in found:
        parts = "".join(f"{codegen.python_code(k, slots)}, " for k in operands)
        lines.append(f"    lambda v: ({parts}),")
    lines.append(")")
    if all(kind in _ONE_ANSWER for kind, _hole, _operands, _inverse in found):
        lines += _fused_source(found, slots)
    runtime = {**RUNTIME, "_undiv": _undiv, "_fsum": math.fsum}
    made = codegen.define("\n".join(lines) + "\n", runtime, "goal-seek operands")
    steps = [
        (parts, _undoing(kind, hole, len(operands) - 1, inverse))
        for (kind, hole, operands, inverse), parts in zip(found, made["_P"], strict=True)
    ]
    return steps, made.get("_inv")


_ONE_ANSWER = (Add, Sub, Neg, Mul, Div)


def _fused_source(
    found: list[tuple[type[Expr], int, list[Expr], Callable[[float], list[float]] | None]],
    slots: dict[str, str],
) -> list[str]:
    """Source of `_inv(v, t)` (see `_Fused`): the operations undone as `_undoing` does."""
    lines = ["def _inv(v, t):"]
    names: list[list[str]] = []  # per operation, its operands' locals: p0, p1, ...
    for _kind, _hole, operands, _inverse in found:
        names.append([])
        for operand in operands:
            names[-1].append(f"p{sum(map(len, names))}")
            lines.append(f"    {names[-1][-1]} = {codegen.python_code(operand, slots)}")
    for (kind, hole, _operands, _inverse), locals_ in zip(found, names, strict=True):
        *others, current = locals_
        if kind is Add:
            undone = (
                f"t - {others[0]}" if len(others) == 1 else f"t - _fsum(({', '.join(others)},))"
            )
        elif kind is Sub:
            undone = f"t + {others[0]}" if hole == 0 else f"{others[0]} - t"
        elif kind is Neg:
            undone = "-t"
        elif kind is Mul:
            undone = f"_undiv(t, {' * '.join(others)}, {current})"
        else:  # Div
            undone = (
                f"_undiv(t, 1 / {others[0]}, {current})"
                if hole == 0
                else f"_undiv({others[0]}, t, {current})"
            )
        lines.append(f"    t = {undone}")
    every = [name for locals_ in names for name in locals_]
    lines.append(f"    return ({' + '.join(every) or '0.0'}), t")
    return lines


def _undiv(t: float, by: float, current: float) -> float:
    """`_divide` for one answer: x with `x * by = t`, NaN where none exists."""
    if by == 0:
        return current if t == 0 else math.nan
    return t / by


def _undoing(
    kind: type[Expr], hole: int, others: int, inverse: Callable[[float], list[float]] | None
) -> _Undo:
    """Return `undo(t, parts)` for one operation (see `_Undo`); `parts[-1]` is the hole's value.

    Where any value of the hole would do (`x * 0 = 0`), the current one is kept.
    """
    if kind is Add:
        if others == 1:
            return lambda t, p: [t - p[0]]
        return lambda t, p: [t - math.fsum(p[:-1])]
    if kind is Sub:
        return (lambda t, p: [t + p[0]]) if hole == 0 else (lambda t, p: [p[0] - t])
    if kind is Neg:
        return lambda t, p: [-t]
    if kind is Mul:
        if others == 1:
            return lambda t, p: _divide(t, p[0], p[1])
        return lambda t, p: _divide(t, math.prod(p[:-1]), p[-1])
    if kind is Div:
        if hole == 0:
            return lambda t, p: _divide(t, 1 / p[0], p[1])
        return lambda t, p: _divide(p[0], t, p[1])
    if kind is Pow:
        if hole == 0:
            return lambda t, p: _root(t, p[0], p[1])
        return lambda t, p: _exponent(t, p[0], p[1])
    assert inverse is not None  # `_positions` plans no call without an inverse
    return lambda t, p: inverse(t)


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

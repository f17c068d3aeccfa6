"""Random metric trees for tests and benchmarks.

`random_tree(n_leaves, seed=...)` builds a reproducible tree of products, quotients and
sums; `trees()` is a hypothesis strategy of small random trees (hypothesis is imported
only when it is called). Leaf values are positive and near 1, so every metric is defined
and of moderate size: derivatives, attributions and solvers can be checked without
stumbling on divisions by zero the test did not mean.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kpitree.language.expr import Expr
from kpitree.model.nodes import KPI, Input, Metric, Node
from kpitree.tree import Tree

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = ["OWNERS", "random_tree", "trees"]

OWNERS = ("marketing", "sales", "product", "finance", "operations")
HORIZONS = ("online", "15 min", "1 hour", "1 day", "1 week", "1 month", "1 quarter")


def _leaf(index: int, rng: random.Random, input_share: float) -> Node:
    value = round(rng.uniform(0.5, 2.0), 6)
    if rng.random() < input_share:
        return Input(f"u{index}", value=value)
    return KPI(
        f"k{index}",
        owner=rng.choice(OWNERS),
        horizon=rng.choice(HORIZONS),
        value=value,
        bounds=(0, None),
    )


def _combine(kind: str, group: Sequence[Node]) -> Expr:
    if kind == "product":
        return group[0] * group[1]
    if kind == "quotient":
        return group[0] / group[1]
    if kind == "sum_of_products" and len(group) >= 4:
        expr = group[0] * group[1]
        for i in range(2, len(group) - 1, 2):
            expr = expr + group[i] * group[i + 1]
        return expr + group[-1] if len(group) % 2 else expr
    expr = group[0] + group[1]
    for node in group[2:]:
        expr = expr + node
    return expr


def random_tree(n_leaves: int, *, depth: int = 5, seed: int = 0, input_share: float = 0.1) -> Tree:
    """Return a reproducible random tree with `n_leaves` leaves and about `depth` levels.

    Metrics combine products and quotients of two nodes, sums and sums of products;
    the levels above the leaves are `depth - 1` rounds of grouping, and one root sums
    what is left.

    Examples:
        >>> tree = random_tree(100, seed=1)
        >>> len(tree.leaves), len(tree.roots)
        (100, 1)
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not security
    level: list[Node] = [_leaf(i, rng, input_share) for i in range(n_leaves)]
    counter = 0
    fan = max(2, round(n_leaves ** (1 / max(depth - 1, 1))))
    for _ in range(max(depth - 2, 0)):
        if len(level) <= 1:
            break
        upper: list[Node] = []
        i = 0
        while i < len(level):
            kind = rng.choice(("product", "quotient", "sum", "sum_of_products"))
            size = 2 if kind in ("product", "quotient") else rng.randint(2, max(2, fan))
            group = level[i : i + size]
            i += size
            if len(group) == 1:
                upper.append(group[0])
                continue
            upper.append(Metric(f"m{counter}", _combine(kind, group)))
            counter += 1
        level = upper
    root = level[0] if len(level) == 1 else Metric("root", _combine("sum", level))
    if not isinstance(root, Metric):
        root = Metric("root", root * 1)
    return Tree(root)


def trees(
    *,
    max_leaves: int = 6,
    max_metrics: int = 6,
    operators: Sequence[str] = ("+", "-", "*", "/"),
    functions: Sequence[str] = (),
    inputs: bool = True,
) -> SearchStrategy[Tree]:
    """Return a hypothesis strategy of random valid trees with positive leaf values.

    Each metric applies one of `operators` (or `functions`: `min`, `max`, `abs`, `log`,
    `exp`, `sqrt`) to two earlier nodes, or to a node and a constant; some metrics
    use others, so trees have several levels and shared subtrees. With `-` or
    `log`/`sqrt`, a metric can be zero or negative and a later one undefined: tests that
    need defined values filter with `hypothesis.assume`.

    Examples:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5)
        ... @given(trees())
        ... def check(tree):
        ...     assert len(tree.evaluate(undefined="nan")) == len(tree)
        >>> check()
    """
    from hypothesis import strategies as st

    choices = [*operators, *functions]

    @st.composite
    def build(draw: Any) -> Tree:
        n_leaves = draw(st.integers(1, max_leaves))
        nodes: list[Node] = []
        for i in range(n_leaves):
            value = draw(st.floats(0.5, 4.0, allow_nan=False, allow_infinity=False))
            if inputs and draw(st.booleans()) and draw(st.booleans()):
                nodes.append(Input(f"u{i}", value=value))
            else:
                owner = draw(st.sampled_from(OWNERS))
                horizon = draw(st.sampled_from(HORIZONS))
                nodes.append(KPI(f"k{i}", owner=owner, horizon=horizon, value=value))
        n_metrics = draw(st.integers(1, max_metrics))
        for j in range(n_metrics):
            op = draw(st.sampled_from(choices))
            left = draw(st.sampled_from(nodes))
            right = draw(st.sampled_from(nodes))
            constant = draw(st.sampled_from((0.5, 2, 3)))
            use_constant = draw(st.integers(0, 4)) == 0
            other: Any = constant if use_constant else right
            expr: Any
            if op == "+":
                expr = left + other
            elif op == "-":
                expr = left - other
            elif op == "*":
                expr = left * other
            elif op == "/":
                expr = left / other
            elif op == "**":
                expr = left ** draw(st.sampled_from((2, 0.5, -1, 3)))
            elif op in ("min", "max"):
                from kpitree.language.expr import call

                expr = call(op, left, other)
            else:
                from kpitree.language.expr import call

                expr = call(op, left)
            nodes.append(Metric(f"m{j}", expr))
        return Tree(*reversed(nodes))

    return build()

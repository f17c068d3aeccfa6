"""Hierarchical attribution: Shapley inside each formula, passed down the tree.

Also the per-node splits of `by_node`, which every method reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from kpitree.analyses.attribution.methods import Periods, Split, exact_step
from kpitree.analyses.attribution.shapley import game, shapley_values
from kpitree.engine import codegen
from kpitree.language.expr import Add, Expr, Neg, Ref, Sub, refs
from kpitree.model.graph import CacheKey
from kpitree.model.nodes import Metric

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from kpitree.model.graph import Graph

    Array = NDArray[np.float64]


def _additive_terms(expr: Expr) -> list[Expr]:
    """Split a formula into terms whose sum it is (signs folded into the terms)."""
    out: list[Expr] = []
    stack: list[tuple[Expr, bool]] = [(expr, False)]
    while stack:
        node, negative = stack.pop()
        if isinstance(node, Add):
            stack.extend((t, negative) for t in reversed(node.terms))
        elif isinstance(node, Sub):
            stack.append((node.right, not negative))
            stack.append((node.left, negative))
        elif isinstance(node, Neg):
            stack.append((node.operand, not negative))
        else:
            out.append(Neg(node) if negative else node)
    return out


# A term: the children it uses, and its compiled function, or for a bare child (a term
# of a sum, by far the most common) None and the sign: its part is then its own change.
_Term = tuple[tuple[str, ...], Callable[[list[Any]], Any] | None, float]


_TERMS: CacheKey[dict[str, list[_Term]]] = CacheKey("attribution terms")


def _term_functions(tree: Graph) -> dict[str, list[_Term]]:
    """Compile every metric's additive terms for numpy, once per tree (cached).

    The source is generated from the validated formulas by `python_code`: children are
    positional slots, no user text is part of it.
    """
    return tree.cached(_TERMS, lambda: _compile_terms(tree))


def _compile_terms(tree: Graph) -> dict[str, list[_Term]]:
    lines: list[str] = []
    index: list[tuple[str, tuple[str, ...]]] = []
    bare: list[tuple[str, tuple[str, ...], float]] = []
    for metric in tree.metrics:
        for term in _additive_terms(metric.formula):
            names = tuple(r.name for r in refs(term))
            if not names:
                continue  # a constant term moves nothing
            if isinstance(term, Ref) or (isinstance(term, Neg) and isinstance(term.operand, Ref)):
                bare.append((metric.name, names, -1.0 if isinstance(term, Neg) else 1.0))
                continue
            slots = {name: f"c{j}" for j, name in enumerate(names)}
            lines.append(f"def _t{len(index)}(c):")
            lines.append(f"    {''.join(slots[n] + ', ' for n in names)}= c")
            lines.append(f"    return _fix({codegen.python_code(term, slots)})")
            index.append((metric.name, names))
    namespace = codegen.define(
        "\n".join(lines) + "\n", codegen.numpy_runtime(), "attribution terms"
    )
    out: dict[str, list[_Term]] = {m.name: [] for m in tree.metrics}
    for k, (metric_name, names) in enumerate(index):
        out[metric_name].append((names, namespace[f"_t{k}"], 1.0))
    for metric_name, names, sign in bare:
        out[metric_name].append((names, None, sign))
    return out


def _local(periods: Periods, name: str) -> dict[str, Array]:
    """Split a metric's own change over its direct children: Shapley, term by term."""
    tree, low, high = periods.tree, periods.low, periods.high
    rows = low[name].shape[0]
    parts = {child: np.zeros(rows) for child in tree._children[name]}
    for names, function, sign in _term_functions(tree)[name]:
        if periods.changed.isdisjoint(names):
            continue
        if function is None:
            parts[names[0]] += sign * (high[names[0]] - low[names[0]])
            continue
        players, values = game(periods, name, function, names)
        for player, phi in zip(players, shapley_values(values, len(players)), strict=True):
            parts[player] += phi
    change = high[name] - low[name]
    exact = exact_step(np.array(list(parts.values())), change)
    return dict(zip(parts, exact, strict=True))


def _moved_metrics(periods: Periods) -> Iterator[str]:
    """The metrics with a changed child, parents before children."""
    tree = periods.tree
    for name in reversed(tree._topo):
        if isinstance(tree[name], Metric) and not periods.changed.isdisjoint(tree._children[name]):
            yield name


def local_splits(periods: Periods) -> dict[str, dict[str, Array]]:
    """`by_node`: every metric with a changed child, its change split over its children."""
    return {name: _local(periods, name) for name in _moved_metrics(periods)}


def hierarchical(periods: Periods, metric: str, total: Array, nodes: bool) -> Split:
    """Shapley inside each formula, passed down by the rule in the module doc."""
    tree, low, high = periods.tree, periods.low, periods.high
    share: dict[str, Array] = {metric: total}
    by_node: dict[str, dict[str, Array]] = {}
    for name in _moved_metrics(periods):
        if name not in share and not nodes:
            continue  # it passes nothing down, and its own split is not asked for
        parts = _local(periods, name)
        by_node[name] = parts
        if name not in share:
            continue  # unchanged, or outside the target: no share to pass down
        change = high[name] - low[name]
        # The target passes its own split as it is, even when its changes cancel out (0).
        unchanged = 1.0 if name == metric else 0.0
        ratio = np.where(change != 0, share[name] / np.where(change != 0, change, 1.0), unchanged)
        for child, part in parts.items():
            share[child] = share[child] + ratio * part if child in share else ratio * part
    leaves = [leaf.name for leaf in tree.leaves]
    rows = total.shape[0]
    gathered = np.array([share.get(leaf, np.zeros(rows)) for leaf in leaves])
    exact = exact_step(gathered, total) if leaves else gathered
    return Split(dict(zip(leaves, exact, strict=True)), by_node)

"""Hierarchical attribution: Shapley inside each formula, passed down the tree.

Also the per-node splits of `by_node`, which every method reports. Each formula is split
term by term (the Shapley value is additive). A term that is a product of factors each
of one child (``a * b / c ** 2 * ...``, a funnel or a DuPont chain of any length) is
split by the closed form of Shapley for products, which is exact and costs n² work, not
2^n: the game ``v(S) = k · Π_{j∈S} h_j(after) · Π_{j∉S} h_j(before)`` gives

    phi_i = (h_i(after) - h_i(before)) · k · ∫₀¹ Π_{j≠i} ((1 - t) h_j(before) + t h_j(after)) dt

(the Shapley weights ``s! (n-1-s)! / n!`` are Beta integrals), a polynomial of degree
n - 1 in t that Gauss–Legendre quadrature on ceil(n / 2) nodes integrates exactly. Any
other term with more changing children than the limit is refused, saying so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from kpitree.analyses.attribution.methods import Periods, exact_step
from kpitree.analyses.attribution.shapley import game, product_shapley, shapley_values
from kpitree.engine import codegen
from kpitree.language.expr import Add, Const, Div, Expr, Mul, Neg, Ref, Sub, constant_value, refs
from kpitree.model.graph import CacheKey
from kpitree.model.nodes import Metric

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from kpitree.model.graph import Graph

    Array = NDArray[np.float64]


def additive_terms(expr: Expr) -> list[Expr]:
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


_Function = Callable[[list[Any]], Any]


class _Term(NamedTuple):
    """One additive term of a formula, compiled.

    Attributes:
        names: the children it uses.
        function: the whole term as a function of `names`' values; None for a bare
            child (by far the most common term of a sum): its part is its own change.
        sign: a bare child's sign; a product's constant coefficient.
        factors: for a product of one-child factors, one function per name (of that
            child's value alone), whose product times `sign` is the term; else empty.
    """

    names: tuple[str, ...]
    function: _Function | None
    sign: float
    factors: tuple[_Function, ...] = ()


_TERMS: CacheKey[dict[str, list[_Term]]] = CacheKey("attribution terms")


def _term_functions(tree: Graph) -> dict[str, list[_Term]]:
    """Compile every metric's additive terms for numpy, once per tree (cached).

    The source is generated from the validated formulas by `python_code`: children are
    positional slots, no user text is part of it.
    """
    return tree.cached(_TERMS, lambda: _compile_terms(tree))


def one_child_factors(term: Expr) -> tuple[float, dict[str, Expr]] | None:
    """Split a product into a constant and one factor per child, or None if it is not one.

    `a * 2 * b / c ** 2` is 2 and {a: a, b: b, c: 1 / c ** 2}; `(a + b) * c` is None
    (a factor of two children), as is a division by a constant 0 (left to the engine).
    """
    coefficient = 1.0
    groups: dict[str, list[Expr]] = {}
    stack: list[tuple[Expr, bool]] = [(term, False)]
    while stack:
        node, inverted = stack.pop()
        if isinstance(node, Neg):
            coefficient = -coefficient
            stack.append((node.operand, inverted))
        elif isinstance(node, Mul):
            stack.extend((factor, inverted) for factor in reversed(node.factors))
        elif isinstance(node, Div):
            stack.append((node.right, not inverted))
            stack.append((node.left, inverted))
        else:
            value = constant_value(node)
            if value is not None:
                if inverted and value == 0:
                    return None
                coefficient *= 1.0 / value if inverted else value
                continue
            names = {r.name for r in refs(node)}
            if len(names) != 1:
                return None
            (name,) = names
            groups.setdefault(name, []).append(Div(Const(1), node) if inverted else node)
    factors = {n: f[0] if len(f) == 1 else Mul(tuple(f)) for n, f in groups.items()}
    return coefficient, factors


def _compile_terms(tree: Graph) -> dict[str, list[_Term]]:
    lines: list[str] = []
    count = 0

    def function(expr: Expr, names: Sequence[str]) -> str:
        nonlocal count
        slots = {name: f"c{j}" for j, name in enumerate(names)}
        lines.append(f"def _t{count}(c):")
        lines.append(f"    {''.join(slots[n] + ', ' for n in names)}= c")
        lines.append(f"    return _fix({codegen.python_code(expr, slots)})")
        count += 1
        return f"_t{count - 1}"

    # (metric, names, whole term's function, sign or coefficient, factors' functions)
    index: list[tuple[str, tuple[str, ...], str | None, float, tuple[str, ...]]] = []
    bare: list[tuple[str, tuple[str, ...], str | None, float, tuple[str, ...]]] = []
    for metric in tree.metrics:
        for term in additive_terms(metric.formula):
            names = tuple(r.name for r in refs(term))
            if not names:
                continue  # a constant term moves nothing
            if isinstance(term, Ref) or (isinstance(term, Neg) and isinstance(term.operand, Ref)):
                bare.append((metric.name, names, None, -1.0 if isinstance(term, Neg) else 1.0, ()))
                continue
            whole = function(term, names)
            product = one_child_factors(term) if len(names) > 2 else None
            if product is None:
                index.append((metric.name, names, whole, 1.0, ()))
                continue
            coefficient, factors = product
            parts = tuple(function(factors[name], (name,)) for name in names)
            index.append((metric.name, names, whole, coefficient, parts))
    namespace = codegen.define(
        "\n".join(lines) + "\n", codegen.numpy_runtime(), "attribution terms"
    )
    out: dict[str, list[_Term]] = {m.name: [] for m in tree.metrics}
    for metric_name, names, source, sign, parts in [*index, *bare]:
        compiled = namespace[source] if source is not None else None
        out[metric_name].append(_Term(names, compiled, sign, tuple(namespace[p] for p in parts)))
    return out


def _local(periods: Periods, name: str) -> dict[str, Array]:
    """Split a metric's own change over its direct children: Shapley, term by term."""
    tree, low, high = periods.tree, periods.low, periods.high
    rows = low[name].shape[0]
    parts = {child: np.zeros(rows) for child in tree._children[name]}
    for names, function, sign, factors in _term_functions(tree)[name]:
        if periods.changed.isdisjoint(names):
            continue
        if function is None:
            parts[names[0]] += sign * (high[names[0]] - low[names[0]])
            continue
        if factors:
            lows = np.array([f([low[n]]) for f, n in zip(factors, names, strict=True)])
            highs = np.array([f([high[n]]) for f, n in zip(factors, names, strict=True)])
            # An undefined factor (in one row of `attribute`) is left to the game, which
            # names the mix; frame rows are NaN either way.
            if not periods.scalar or (np.isfinite(lows).all() and np.isfinite(highs).all()):
                for child, phi in zip(names, product_shapley(sign, lows, highs), strict=True):
                    parts[child] += phi
                continue
        players, values = game(periods, name, function, names, formula=True)
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


def hierarchical(periods: Periods, metric: str, total: Array) -> dict[str, Array]:
    """Shapley inside each formula, passed down by the rule in the module doc."""
    tree, low, high = periods.tree, periods.low, periods.high
    share: dict[str, Array] = {metric: total}
    for name in _moved_metrics(periods):
        if name not in share:
            continue  # unchanged, or outside the target: no share to pass down
        parts = _local(periods, name)
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
    return dict(zip(leaves, exact, strict=True))

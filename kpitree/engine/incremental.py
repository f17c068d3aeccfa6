"""Incremental evaluation: a tree evaluated once, then only what a change moves.

A `Baseline` holds every node's value at some starting leaf values. A change of some
leaves recomputes only the metrics above them, each by its own compiled line; the
one-leaf change, the most common question, runs straight-line code generated per leaf.
What-if scenarios and goal seek are built on it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kpitree.engine import codegen
from kpitree.engine.codegen import RUNTIME
from kpitree.engine.evaluate import compile_tree, evaluate
from kpitree.model.graph import CacheKey, reach
from kpitree.model.nodes import Metric

if TYPE_CHECKING:
    from kpitree.model.graph import Graph

__all__ = ["Baseline", "baseline"]


class _Engine:
    """Per tree: a compiled line per metric and, per leaf, the metrics above it in order."""

    def __init__(self, tree: Graph) -> None:
        compiled = compile_tree(tree)
        self.names = compiled.leaves + compiled.metrics  # leaves, then metrics in topo order
        self.index = {name: i for i, name in enumerate(self.names)}
        self.first_metric = len(compiled.leaves)
        slots = {name: f"v[{i}]" for i, name in enumerate(self.names)}
        lines = ["_F = ("]
        for name in compiled.metrics:
            node = tree[name]
            assert isinstance(node, Metric)
            lines.append(f"    lambda v: {codegen.python_code(node.formula, slots)},")
        lines.append(")")
        namespace = codegen.define("\n".join(lines) + "\n", RUNTIME, "metric lines")
        self.lines: tuple[Callable[[list[float]], float], ...] = namespace["_F"]
        self.tree = tree
        self.above: dict[str, tuple[int, ...]] = {}
        self.singles: dict[str, Callable[[list[float], float], tuple[float, dict[str, float]]]] = {}

    def ancestors(self, leaf: str) -> tuple[int, ...]:
        """Return the positions of the metrics above `leaf`, children before parents."""
        found = self.above.get(leaf)
        if found is None:
            above = reach(leaf, self.tree._parents) - {leaf}
            # Two threads may both work this out; the results are equal, either is kept.
            found = self.above.setdefault(leaf, tuple(sorted(self.index[n] for n in above)))
        return found

    def single(self, leaf: str) -> Callable[[list[float], float], tuple[float, dict[str, float]]]:
        """Return `f(values, x)`: the sum and the new values of `leaf` and the metrics above.

        The one-leaf what-if, the most common question, as straight-line code made once
        per leaf: the new value is an argument, the other nodes are read from the
        starting values, nothing is written, so threads can share it without a lock.
        The sum of the metrics' new values finds one that is not finite (its own
        overflow, a false alarm, only sends the change down the careful path, which
        agrees); the code raises where Python's float arithmetic does (`x / 0`).
        """
        found = self.singles.get(leaf)
        if found is None:
            order = self.ancestors(leaf)
            slots = {name: f"v[{i}]" for i, name in enumerate(self.names)}
            slots[leaf] = "x"
            lines = ["def _f(v, x):"]
            for i in order:
                name = self.names[i]
                lines.append(f"    a{i} = {codegen.python_code(self.tree[name].formula, slots)}")  # type: ignore[attr-defined]
                slots[name] = f"a{i}"
            total = " + ".join(f"a{i}" for i in order) or "0.0"
            # The names are the dictionary's keys, held by the namespace as `_k0`, `_k1`,
            # ...: no name is part of the source.
            keys = ", ".join(f"_k{j + 1}: a{i}" for j, i in enumerate(order))
            lines.append(f"    return ({total}), {{_k0: x, {keys}}}")
            runtime = {**RUNTIME, "_k0": leaf}
            runtime.update({f"_k{j + 1}": self.names[i] for j, i in enumerate(order)})
            namespace = codegen.define("\n".join(lines) + "\n", runtime, "one-leaf what-if")
            found = self.singles.setdefault(leaf, namespace["_f"])
        return found


_ENGINE: CacheKey[_Engine] = CacheKey("incremental what-if engine")


def _engine(tree: Graph) -> _Engine:
    return tree.cached(_ENGINE, lambda: _Engine(tree))


class Baseline:
    """Every node's value at some starting leaf values, and cheap recomputation from it.

    Safe to share between threads: the starting values are only ever read; a change of
    several leaves is worked out in a buffer of the calling thread's own.

    Attributes:
        values: `{node: value}` for every node, in tree order (do not modify).
    """

    def __init__(self, tree: Graph, values: dict[str, float]) -> None:
        self.tree = tree
        self.engine = _engine(tree)
        self.values = values
        self._start = [values[n] for n in self.engine.names]  # never written
        self._local = threading.local()

    @property
    def slots(self) -> list[float]:
        """Every node's starting value, in the order of `engine.names` (do not modify)."""
        return self._start

    def _work(self) -> list[float]:
        """Return this thread's copy of the starting values, to change and put back."""
        try:
            work: list[float] = self._local.work
        except AttributeError:
            work = self._local.work = list(self._start)
        return work

    def recompute(self, changes: Mapping[str, float]) -> dict[str, float]:
        """Return the new values of the changed leaves and of every node above them.

        Raises:
            EvaluationError: a metric becomes undefined (the error names it).
        """
        engine = self.engine
        if len(changes) == 1:
            ((leaf, x),) = changes.items()
            above = engine.singles.get(leaf) or engine.single(leaf)
            try:
                total, moved = above(self._start, x)
                if total - total == 0.0:
                    return moved
            except (ArithmeticError, ValueError):
                pass
            order = engine.ancestors(leaf)  # undefined somewhere: the careful path below
        else:
            order = tuple(sorted({i for n in changes for i in engine.ancestors(n)}))
        index, lines, first, work = engine.index, engine.lines, engine.first_metric, self._work()
        saved: dict[int, float] = {}
        try:
            for name, value in changes.items():
                i = index[name]
                saved[i] = work[i]
                work[i] = value
            for i in order:
                saved[i] = work[i]
                work[i] = lines[i - first](work)
            out = {engine.names[i]: work[i] for i in saved}
        except (ArithmeticError, ValueError):
            out = None
        finally:
            for i, old in saved.items():
                work[i] = old
        if out is None or not math.isfinite(sum(out.values())):
            # The one rule for undefined values: let the evaluation name the metric.
            full = evaluate(self.tree, {**self.leaf_values(), **changes})
            out = {self.engine.names[i]: full[self.engine.names[i]] for i in saved}
        return out

    def leaf_values(self) -> dict[str, float]:
        """Return the starting value of every leaf."""
        return {n: self.values[n] for n in self.engine.names[: self.engine.first_metric]}


_DEFAULT_BASELINE: CacheKey[Baseline] = CacheKey("baseline at the leaves' default values")
_LAST_BASELINE: CacheKey[dict[frozenset[tuple[str, float]], Baseline]] = CacheKey("last baseline")


def baseline(tree: Graph, values: Mapping[str, Any] | None = None) -> Baseline:
    """Return the evaluated starting point for `values` (the last one is kept per tree).

    Raises:
        MissingValueError, EvaluationError, UnknownNameError, ValueTypeError: as `evaluate`.
    """
    if values is None or (type(values) is dict and not values):
        # The tree's own defaults, the common start: kept apart from the last `values`.
        found = tree._cache.get(_DEFAULT_BASELINE)
        if found is None:
            found = tree.cached(_DEFAULT_BASELINE, lambda: Baseline(tree, dict(evaluate(tree))))
        return found
    checked = tree.check_values(values)
    key = frozenset(checked.items())
    kept = tree.cached(_LAST_BASELINE, dict)
    found = kept.get(key)
    if found is None:
        found = Baseline(tree, dict(evaluate(tree, checked)))
        kept.clear()  # only the last starting point is kept
        kept[key] = found
    return found

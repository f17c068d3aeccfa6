"""Writing SQL for big trees: `to_sql` must grow linearly with the number of nodes.

Run: .venv/bin/python benchmarks/bench_to_sql.py [--nodes 1000,8000,100000]

Trees from `kpitree.testing.random_tree` at about 1,000, 8,000 and 100,000 nodes, in two
shapes: wide (5 levels) and deep (40 levels: 40 CTEs). For each, the time of `to_sql`
and the time per node; the baseline is the time per node of the smallest tree of the
same shape, so the ratio is how much a node costs at that size compared with a small
tree. Linear assembly keeps it near 1 (the goal is ≤ 1.5: the machine is shared and
garbage collection grows with the heap). Before this was measured, 8,000 leaves took
5.8 s and 100,000 nodes did not finish: sqlglot's builders copied the whole statement
on every CTE added.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

from _timing import report

from kpitree.backends.sql import to_sql
from kpitree.testing import random_tree


def _tree_of(nodes: int, depth: int) -> tuple[object, int]:
    """A random tree of about `nodes` nodes (leaves are about half of them)."""
    tree = random_tree(max(2, nodes // 2), depth=depth, seed=1)
    return tree, len(tree)


def _median(tree: object, repeat: int) -> tuple[float, int]:
    """Median seconds of `repeat` calls, each after a full collection; and the SQL's size."""
    times = []
    chars = 0
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        chars = len(to_sql(tree, pretty=False))  # type: ignore[arg-type]
        times.append(time.perf_counter() - start)
    return statistics.median(times), chars


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", default="1000,8000,100000")
    sizes = [int(float(x)) for x in parser.parse_args().nodes.split(",")]
    rows: list[tuple[str, float, float, float]] = []
    to_sql(random_tree(20, seed=1))  # imports sqlglot and its dialects: not the tree's cost
    for shape, depth in (("wide", 5), ("deep", 40)):
        base_per_node = None
        for size in sizes:
            tree, count = _tree_of(size, depth)
            seconds, chars = _median(tree, 3 if count < 50_000 else 1)
            per_node = seconds / count
            if base_per_node is None:
                base_per_node = per_node
            print(f"{shape:>4} {count:>7,} nodes: {seconds:7.2f} s, {chars:>10,} characters")
            rows.append(
                (f"{shape}, {count:,} nodes (per node)", per_node, base_per_node, 1.5),
            )
    ok = report("to_sql: time per node against the smallest tree of the same shape", rows)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

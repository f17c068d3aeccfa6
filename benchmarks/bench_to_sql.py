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

Then the SQL itself, in DuckDB: a funnel tree (8 leaf columns, 5 metrics: products, a
difference, quotients, shared intermediates) run as CREATE TABLE AS SELECT, against the
same formulas written by hand, both measured in the same run, alternately (medians):

- hand SQL: what an analyst writes, a CTE per level and `NULLIF(x, 0)` for divisions.
  This is the baseline of the goal (≤ 1.05×): the query a user would otherwise run.
- hand SQL, same rule: the same, with kpitree's undefined rule written by hand (NULL
  unless finite, a divisor column checked for infinity), each guard around its
  expression as one would write it: what the same NULLs cost without kpitree.

At 10^3 ... 10^7 rows (`--rows`), so the ratio is shown as rows grow. Correctness is
asserted first: the same non-NULL counts and sums per metric.

Run: .venv/bin/python benchmarks/bench_to_sql.py [--nodes ...] [--rows 1e3,1e4,1e5,1e6,1e7]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable

import duckdb
import numpy as np
from _timing import alternately, fmt_seconds, report
from bench_scale import HAND_SQL, LEAVES, funnel_tree  # the same funnel and hand SQL

from kpitree.backends.sql import to_sql
from kpitree.testing import random_tree

METRICS = ("ql", "cost_per_visit", "deals", "revenue", "margin")


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


HAND_SQL_SAME_RULE = """
WITH a AS (
  SELECT *,
    CASE WHEN isfinite(leads * lead_to_ql) THEN leads * lead_to_ql END AS ql,
    CASE WHEN isfinite(spend / NULLIF(CASE WHEN isfinite(visits) THEN visits END, 0))
      THEN spend / NULLIF(CASE WHEN isfinite(visits) THEN visits END, 0) END AS cost_per_visit
  FROM kpis
), b AS (
  SELECT *, CASE WHEN isfinite(ql * ql_to_deal) THEN ql * ql_to_deal END AS deals FROM a
), c AS (
  SELECT *, CASE WHEN isfinite(deals * avg_check - refunds)
    THEN deals * avg_check - refunds END AS revenue FROM b
)
SELECT *, CASE WHEN isfinite((revenue - cost - spend) / NULLIF(revenue, 0))
  THEN (revenue - cost - spend) / NULLIF(revenue, 0) END AS margin FROM c
"""


def _leaf_table(con: duckdb.DuckDBPyConnection, rows: int) -> None:
    """Leaf columns of moderate values, a few zeros in the divisor `visits`."""
    rng = np.random.default_rng(0)
    columns = {name: rng.uniform(0.5, 2.0, rows) for name in LEAVES}
    columns["visits"][:: max(rows // 1000, 10)] = 0.0
    con.execute("DROP TABLE IF EXISTS kpis")
    con.register("frame", columns)
    con.execute("CREATE TABLE kpis AS SELECT * FROM frame")
    con.unregister("frame")


def _sql_in_duckdb(rows_list: list[int]) -> bool:
    """kpitree's SQL against hand SQL in DuckDB, CTAS, at each row count; print the tables."""
    ours = to_sql(funnel_tree(), pretty=False)
    queries = {"kpitree": ours, "hand": HAND_SQL, "same rule": HAND_SQL_SAME_RULE}
    con = duckdb.connect()
    totals = "SELECT " + ", ".join(f"count({m}), sum({m})" for m in METRICS) + " FROM out"  # noqa: S608 - fixed names

    def run(query: str) -> Callable[[], None]:
        def ctas() -> None:
            con.execute("DROP TABLE IF EXISTS out")  # one result at a time in memory
            con.execute("CREATE TABLE out AS " + query)

        return ctas

    measured: dict[int, dict[str, float]] = {}
    for rows in rows_list:
        _leaf_table(con, rows)
        got = {}
        for name, query in queries.items():
            run(query)()
            got[name] = con.execute(totals).fetchall()[0]
        for name in ("hand", "same rule"):  # NULL on the same rows, the same values
            assert got[name][::2] == got["kpitree"][::2], (name, got)
            assert np.allclose(got[name][1::2], got["kpitree"][1::2], rtol=1e-9), (name, got)
        repeat = max(11, min(101, 20_000_000 // rows))
        times = alternately(*(run(q) for q in queries.values()), repeat=repeat)
        measured[rows] = dict(zip(queries, times, strict=True))
        gc.collect()
        print(
            f"{rows:>10,} rows: "
            + ", ".join(f"{n} {fmt_seconds(t)}" for n, t in measured[rows].items())
            + f" ({repeat} rounds)"
        )
    con.close()
    ok = True
    big = [r for r in rows_list if r >= 1_000_000]
    if big:
        ok &= report(
            "DuckDB, CREATE TABLE AS: kpitree SQL vs hand SQL (8 leaves, 5 metrics)",
            [
                (f"{r:,} rows, vs hand SQL", measured[r]["kpitree"], measured[r]["hand"], 1.05)
                for r in big
            ]
            + [
                (f"{r:,} rows, vs hand SQL, same rule", t["kpitree"], t["same rule"], 0)
                for r, t in ((r, measured[r]) for r in big)
            ],
        )
    ok &= report(
        "DuckDB, CREATE TABLE AS: kpitree SQL vs hand SQL as rows grow",
        [(f"{r:,} rows", measured[r]["kpitree"], measured[r]["hand"], 0) for r in rows_list],
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", default="1000,8000,100000")
    parser.add_argument("--rows", default="1e3,1e4,1e5,1e6,1e7")
    args = parser.parse_args()
    sizes = [int(float(x)) for x in args.nodes.split(",")] if args.nodes else []
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
    ok = True
    if rows:
        ok &= report("to_sql: time per node against the smallest tree of the same shape", rows)
    if args.rows:
        ok &= _sql_in_duckdb([int(float(x)) for x in args.rows.split(",")])
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

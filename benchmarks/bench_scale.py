"""At scale: a tree over 10^6 and 10^7 rows — frames against hand-written numpy, SQL against SQL.

The tree has 8 leaf columns and 5 metrics (products, a difference, quotients, shared
intermediates), the shape of a funnel. Baselines are measured in the same run:

- NP: the same five formulas written by hand in numpy (`a * b`, `/`, no checks);
- hand SQL: the same formulas written by hand as DuckDB SQL, a CTE per level with
  `NULLIF` for divisions; both SQL queries run as CREATE TABLE AS SELECT inside DuckDB.

Goals (benchmarks.md, G6): evaluate_frame ≤ 1.3× NP; kpitree's SQL ≤ 1.1× hand SQL.
From 2^18 rows the numpy path goes block by block, in place (on two threads with two
cores); a row beside the mapping's shows the same columns evaluated whole, as before.
Memory stays near 3 GB at 10^7 rows: each backend's copy of the data is built, timed
and freed in turn. Run: `.venv/bin/python benchmarks/bench_scale.py [--rows 1e6,1e7]
[--repeat 8] [--cpu]` (more rounds on a busy machine; `--cpu`: the frames only, timed by
the process's CPU time, every thread's, which a busy machine's waiting does not add to).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _timing lives next to this script
from _timing import alternately, report

import kpitree as kt
from kpitree.backends.frames import evaluate_frame
from kpitree.backends.sql import to_sql
from kpitree.engine import codegen

LEAVES = ("leads", "lead_to_ql", "ql_to_deal", "avg_check", "refunds", "spend", "visits", "cost")


def funnel_tree() -> kt.Tree:
    """8 leaves, 5 metrics: ql, deals, revenue, cost per visit, margin."""
    k = {n: kt.KPI(n, owner="team", horizon="1 day") for n in LEAVES}
    ql = kt.Metric("ql", k["leads"] * k["lead_to_ql"])
    deals = kt.Metric("deals", ql * k["ql_to_deal"])
    revenue = kt.Metric("revenue", deals * k["avg_check"] - k["refunds"])
    cpv = kt.Metric("cost_per_visit", k["spend"] / k["visits"])
    margin = kt.Metric("margin", (revenue - k["cost"] - k["spend"]) / revenue)
    return kt.Tree(margin, cpv)


def hand_numpy(c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same formulas, written by hand."""
    with np.errstate(all="ignore"):
        ql = c["leads"] * c["lead_to_ql"]
        deals = ql * c["ql_to_deal"]
        revenue = deals * c["avg_check"] - c["refunds"]
        cost_per_visit = c["spend"] / c["visits"]
        margin = (revenue - c["cost"] - c["spend"]) / revenue
    return {
        "ql": ql,
        "deals": deals,
        "revenue": revenue,
        "cost_per_visit": cost_per_visit,
        "margin": margin,
    }


HAND_SQL = """
WITH a AS (
  SELECT *, leads * lead_to_ql AS ql, spend / NULLIF(visits, 0) AS cost_per_visit FROM kpis
), b AS (SELECT *, ql * ql_to_deal AS deals FROM a),
c AS (SELECT *, deals * avg_check - refunds AS revenue FROM b)
SELECT *, (revenue - cost - spend) / NULLIF(revenue, 0) AS margin FROM c
"""


def data(rows: int) -> dict[str, np.ndarray]:
    """Leaf columns of moderate values, a few zeros in the divisors."""
    rng = np.random.default_rng(0)
    columns = {name: rng.uniform(0.5, 2.0, rows) for name in LEAVES}
    columns["visits"][:: max(rows // 1000, 1)] = 0.0
    return columns


def check(ours: dict[str, np.ndarray], hand: dict[str, np.ndarray]) -> None:
    """The results agree (NaN where hand-written numpy has inf or NaN) before anything is timed."""
    for name, want in hand.items():
        got = np.asarray(ours[name])
        finite = np.isfinite(want)
        assert np.array_equal(np.isnan(got), ~finite), name
        assert np.allclose(got[finite], want[finite], rtol=1e-12, atol=0), name


REPEAT = [8]  # rounds of `paired` (even: each first as often); --repeat sets more
CLOCK = [time.perf_counter]  # --cpu: the process's CPU time (every thread's) instead


def paired(
    ours: Callable[[], object], base: Callable[[], object], repeat: int | None = None
) -> tuple[float, float]:
    """Return the median seconds of `ours` and `base`, run alternately (`_timing.alternately`)."""
    a, b = alternately(ours, base, repeat=REPEAT[0] if repeat is None else repeat, clock=CLOCK[0])
    return a, b


def frames(rows: int) -> list[tuple[str, float, float, float]]:
    tree = funnel_tree()
    columns = data(rows)
    check(evaluate_frame(tree, columns), hand_numpy(columns))
    cases = [
        ("evaluate_frame, mapping of numpy arrays", lambda: columns, False),
        ("evaluate_frame, pandas", lambda: pd.DataFrame(columns, copy=False), False),
        ("evaluate_frame, polars (2 threads)", lambda: pl.DataFrame(columns), False),
        ("evaluate_frame, polars lazy + collect", lambda: pl.DataFrame(columns).lazy(), True),
    ]
    out = []
    for case, make, lazy in cases:
        ours, base = paired(runner(tree, make(), lazy=lazy), lambda: hand_numpy(columns))
        out.append((case, ours, base, 1.3))
        gc.collect()  # each backend's copy of the data is freed before the next is built
        if case.endswith("numpy arrays") and rows >= codegen.BLOCKED_FROM:
            # For comparison: the compiled tree over whole columns, as before blocks.
            blocked_from, codegen.BLOCKED_FROM = codegen.BLOCKED_FROM, rows + 1
            try:
                ours, base = paired(runner(tree, make(), lazy=False), lambda: hand_numpy(columns))
            finally:
                codegen.BLOCKED_FROM = blocked_from
            out.append(("   the same over whole columns (no blocks)", ours, base, 0))
    return out


def runner(tree: kt.Tree, frame: object, *, lazy: bool) -> Callable[[], object]:
    if lazy:
        return lambda: evaluate_frame(tree, frame).collect()
    return lambda: evaluate_frame(tree, frame)


def sql(rows: int) -> list[tuple[str, float, float, float]]:
    tree = funnel_tree()
    con = duckdb.connect()
    frame = pd.DataFrame(data(rows), copy=False)
    con.register("frame", frame)
    con.execute("CREATE TABLE kpis AS SELECT * FROM frame")
    con.unregister("frame")
    del frame
    gc.collect()
    ours = to_sql(tree, pretty=False)

    def run(query: str) -> None:
        con.execute("DROP TABLE IF EXISTS out")  # one result at a time in memory
        con.execute("CREATE TABLE out AS " + query)

    totals = (
        "SELECT count(margin), sum(margin), count(cost_per_visit), sum(cost_per_visit) FROM out"
    )
    run(ours)
    a = con.execute(totals).fetchall()[0]
    run(HAND_SQL)
    b = con.execute(totals).fetchall()[0]
    assert (a[0], a[2]) == (b[0], b[2]), (a, b)  # NULL on the same rows
    assert np.allclose([a[1], a[3]], [b[1], b[3]], rtol=1e-9), (a, b)
    kpitree_sql, hand = paired(lambda: run(ours), lambda: run(HAND_SQL), repeat=8)
    con.close()
    return [("DuckDB CTAS, kpitree SQL vs hand SQL", kpitree_sql, hand, 1.1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1e6,1e7", help="comma-separated row counts")
    parser.add_argument("--repeat", type=int, default=8, help="rounds per frame comparison")
    parser.add_argument("--cpu", action="store_true", help="frames only, by CPU time")
    args = parser.parse_args()
    REPEAT[0] = args.repeat
    ok = True
    if args.cpu:  # on a busy machine: CPU time, which waiting does not add to
        CLOCK[0] = time.process_time
        for rows in (int(float(r)) for r in args.rows.split(",")):
            title = f"{rows:,} rows, CPU time of the process (every thread's)"
            ok &= report(title, frames(rows))
        return 0 if ok else 1
    for rows in (int(float(r)) for r in args.rows.split(",")):
        ok &= report(
            f"{rows:,} rows, 8 leaves, 5 metrics (baseline: hand-written numpy, run alternately)",
            frames(rows),
        )
        ok &= report(f"{rows:,} rows in DuckDB (baseline: hand-written SQL)", sql(rows))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

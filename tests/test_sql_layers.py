"""SQL: raw values in one CTE, their guards in the next — no expression written twice.

The undefined rule stays the one of every backend: checked here against numpy
(`evaluate_frame`) on random trees whose leaf columns hold infinities, NaN, zeros and
values that overflow, and on the shape of the statement itself.
"""

import math
from typing import Any

import duckdb
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlglot import exp, parse_one
from test_frames import ALL_TREES

import kpitree as kt
from kpitree.backends.frames import evaluate_frame
from kpitree.backends.sql import DIALECTS, to_sql
from kpitree.examples import EXAMPLES

INF = math.inf
#: Cells that test the rule: infinities and NaN stored in the column, zeros, overflow.
CELLS = st.one_of(
    st.sampled_from([0.0, INF, -INF, math.nan, 1e308, -1e308, 1e-300]),
    st.floats(-4, 4, allow_nan=False),
)


@st.composite
def trees_with_columns(draw: st.DrawFn) -> tuple[kt.Tree, dict[str, list[float]], list[str]]:
    """A random tree, 1-6 rows of leaf cells, and a random non-empty choice of its metrics."""
    tree = draw(ALL_TREES)
    rows = draw(st.integers(1, 6))
    columns = {leaf.name: [draw(CELLS) for _ in range(rows)] for leaf in tree.leaves}
    names = [m.name for m in tree.metrics]
    wanted = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    return tree, columns, wanted


def run_in_duckdb(sql: str, columns: dict[str, list[float]]) -> dict[str, list[float]]:
    """Run `sql` over a DOUBLE table `kpis` holding `columns` (NaN stays NaN, not NULL)."""
    con = duckdb.connect()
    con.register("frame", {k: np.array(v, dtype=float) for k, v in columns.items()})
    con.execute("CREATE TABLE kpis AS SELECT * FROM frame")
    con.unregister("frame")
    out = con.execute(sql).df()
    return {c: [float(v) for v in out[c]] for c in out.columns}


def assert_same(got: list[float], want: list[float], name: str) -> None:
    """Equal row by row (1e-12 relative), NaN (NULL) on the same rows."""
    assert len(got) == len(want), name
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if math.isnan(w):
            assert math.isnan(g), (name, i, g)
        else:
            assert g == pytest.approx(w, rel=1e-12, abs=1e-300), (name, i, g, w)


@given(trees_with_columns())
def test_duckdb_equals_numpy_with_infinities_and_overflow(case: tuple) -> None:
    """SQL in DuckDB equals evaluate_frame row by row, with and without the table's columns."""
    tree, columns, wanted = case
    want = evaluate_frame(tree, {k: np.array(v) for k, v in columns.items()}, wanted)
    for known in (None, list(columns)):
        got = run_in_duckdb(to_sql(tree, wanted, columns=known), columns)
        assert set(got) == {*columns, *wanted}  # no internal column is left in the result
        for name in wanted:
            assert_same(got[name], [float(v) for v in want[name]], name)


def repeated_in_a_guard(sql: str, dialect: str) -> list[str]:
    """The parts a CASE both tests and returns (a raw value written twice), as SQL text."""
    found = []
    for case in parse_one(sql, read=dialect).find_all(exp.Case):
        for branch in case.args["ifs"]:
            tested = {
                node
                for node in branch.this.walk()
                if not isinstance(node, exp.Column | exp.Literal | exp.Identifier | exp.DataType)
                and not (isinstance(node, exp.Cast) and isinstance(node.this, exp.Column))
            }
            found += [n.sql(dialect) for n in branch.args["true"].walk() if n in tested]
    return found


@given(ALL_TREES)
def test_no_guard_writes_its_value_twice(tree: kt.Tree) -> None:
    """In every dialect with `* EXCEPT`, a CASE tests only columns of an earlier CTE."""
    for dialect in (d for d in DIALECTS if d != "postgres"):
        assert repeated_in_a_guard(to_sql(tree, dialect=dialect), dialect) == []
    # PostgreSQL can only leave the internal columns out when the columns are known.
    columns = [leaf.name for leaf in tree.leaves]
    assert repeated_in_a_guard(to_sql(tree, dialect="postgres", columns=columns), "postgres") == []


def test_the_guard_check_sees_a_value_written_twice() -> None:
    """Without a way to leave internal columns out (PostgreSQL, no columns) guards repeat."""
    sql = to_sql(EXAMPLES["dupont"](), dialect="postgres")
    assert 'CAST("net_income" AS DOUBLE PRECISION) / NULLIF(' in "".join(
        repeated_in_a_guard(sql, "postgres")
    )


def _deep_chain(levels: int) -> kt.Tree:
    """`levels` metrics in a chain, each dividing, taking a root and a log of the one below."""
    node: Any = kt.KPI("x0", owner="x", horizon="1 day")
    for i in range(1, levels + 1):
        x = kt.KPI(f"x{i}", owner="x", horizon="1 day")
        node = kt.Metric(f"m{i}", kt.log(kt.sqrt(node / x) + node**0.5 + 1))
    return kt.Tree(node)


def test_sql_of_a_deep_chain_grows_linearly() -> None:
    """The SQL of a deep chain is linear in the tree: no level repeats the levels below."""
    sizes = {n: len(to_sql(_deep_chain(n), pretty=False)) for n in (50, 100, 400)}
    per_level = {n: size / n for n, size in sizes.items()}
    # Names get a digit longer from 100 levels on; nothing else may grow.
    assert per_level[400] < 1.1 * per_level[100] < 1.25 * per_level[50]
    assert per_level[400] < 1_500


def test_deep_chain_runs_and_equals_numpy() -> None:
    """A 60-level chain runs in DuckDB and equals evaluate_frame, an infinite leaf included."""
    tree = _deep_chain(60)
    columns = {leaf.name: [2.0, 0.5, INF] for leaf in tree.leaves}
    columns["x7"] = [2.0, 0.0, 1.0]
    want = evaluate_frame(tree, {k: np.array(v) for k, v in columns.items()})
    got = run_in_duckdb(to_sql(tree), columns)
    for metric in tree.metrics:
        assert_same(got[metric.name], [float(v) for v in want[metric.name]], metric.name)
    assert math.isnan(got["m60"][2]) and math.isnan(got["m60"][1]) and got["m60"][0] > 0


def test_a_leaf_checked_in_several_places_is_checked_once() -> None:
    """A leaf divided by in many metrics is tested for infinity in one column of the first CTE."""
    a, b = (kt.KPI(n, owner="x", horizon="1 day") for n in "ab")
    tree = kt.Tree(*(kt.Metric(f"m{i}", (a + i) / b) for i in range(5)))
    sql = to_sql(tree, pretty=False)
    assert sql.count('ISFINITE(CAST("b" AS DOUBLE))') == 1  # DuckDB's own finiteness test
    spark = to_sql(tree, dialect="spark", pretty=False)
    assert spark.count("ABS(CAST(`b` AS DOUBLE))") == 1

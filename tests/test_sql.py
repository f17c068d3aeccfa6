"""SQL: one SELECT per tree in every dialect, run in DuckDB with the same undefined rule.

Golden files: `tests/golden/sql/<example>.<dialect>.sql` hold `to_sql(example(),
dialect=...)` for each example tree. After an intended change of the generated SQL,
regenerate them and review the diff:

    KPITREE_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_sql.py -k golden
"""

import math
import os
import warnings
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_frames import (
    AGG_CELLS,
    AGG_LEAVES,
    assert_rows_equal,
    columns_of,
    every_aggregate,
    expected_rows,
    funnel,
    rollup_reference,
    tree_and_rows,
)

import kpitree as kt
from kpitree.backends.frames import aggregations
from kpitree.backends.sql import DIALECTS, evaluate_sql, metric_sql, to_sql
from kpitree.examples import EXAMPLES, qualified_leads_ru, sales_revenue

GOLDEN = Path(__file__).parent / "golden" / "sql"
UPDATE = os.environ.get("KPITREE_UPDATE_GOLDEN") == "1"


def duck(frame: pd.DataFrame, name: str = "kpis") -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB with `frame` as a table (NaN arrives as NULL)."""
    con = duckdb.connect()
    con.register("frame", frame)
    quoted = name.replace('"', '""')
    con.execute(f'CREATE TABLE "{quoted}" AS SELECT * FROM frame')  # noqa: S608 - test names
    con.unregister("frame")
    return con


# -- golden files -------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_golden_sql(example: str, dialect: str) -> None:
    """The SQL of each example tree in each dialect is the reviewed golden text."""
    sql = to_sql(EXAMPLES[example](), dialect=dialect) + "\n"
    path = GOLDEN / f"{example}.{dialect}.sql"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql, encoding="utf-8")
    assert sql == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_golden_duckdb_sql_runs_and_equals_evaluate(example: str) -> None:
    """The golden DuckDB query, run on the example's default values, equals evaluate()."""
    tree = EXAMPLES[example]()
    row = {leaf.name: leaf.value for leaf in tree.leaves}
    con = duck(pd.DataFrame([row]))
    out = con.sql((GOLDEN / f"{example}.duckdb.sql").read_text(encoding="utf-8")).df()
    values = tree.evaluate()
    for metric in tree.metrics:
        assert out[metric.name].iloc[0] == pytest.approx(values[metric.name], rel=1e-12)


# -- differential -------------------------------------------------------------------------


@given(tree_and_rows())
def test_duckdb_equals_the_reference(case: tuple) -> None:
    """SQL run in DuckDB equals the row-by-row reference; undefined rows are NULL (NaN)."""
    tree, rows = case
    con = duck(pd.DataFrame(columns_of(tree, rows)))
    out = evaluate_sql(tree, con, "kpis")
    assert_rows_equal({c: out[c].tolist() for c in out.columns}, expected_rows(tree, rows))


@given(tree_and_rows())
def test_duckdb_stored_nan_is_undefined_too(case: tuple) -> None:
    """A NaN stored in a DOUBLE column (not NULL) makes dependent metrics NULL, min/max too."""
    tree, rows = case
    con = duckdb.connect()
    names = [leaf.name for leaf in tree.leaves]
    con.execute(
        "CREATE TABLE kpis AS SELECT * FROM (VALUES "  # noqa: S608 - the test's own names
        + ", ".join(
            "(" + ", ".join(f"CAST('{r[n]!r}' AS DOUBLE)" for n in names) + ")" for r in rows
        )
        + ") AS t("
        + ", ".join(f'"{n}"' for n in names)
        + ")"
    )
    out = con.sql(to_sql(tree)).df()
    assert_rows_equal({c: out[c].tolist() for c in out.columns}, expected_rows(tree, rows))


# -- the undefined rule in SQL, one case at a time ------------------------------------------


def kpi(name: str, value: float = 1.0) -> kt.KPI:
    """A KPI with a default value."""
    return kt.KPI(name, owner="x", horizon="1 day", value=value)


@pytest.mark.parametrize(
    ("formula", "x", "y", "defined"),
    [
        (lambda x, y: x / y, 1.0, 0.0, False),
        (lambda x, y: x / y, 0.0, 2.0, True),
        (lambda x, y: kt.log(x), 0.0, 1.0, False),
        (lambda x, y: kt.log(x), -1.0, 1.0, False),
        (lambda x, y: kt.sqrt(x), -1.0, 1.0, False),
        (lambda x, y: kt.sqrt(x), 0.0, 1.0, True),
        (lambda x, y: kt.exp(x), 1000.0, 1.0, False),
        (lambda x, y: x**-1, 0.0, 1.0, False),
        (lambda x, y: x**0.5, -4.0, 1.0, False),
        (lambda x, y: x**-0.5, 0.0, 1.0, False),
        (lambda x, y: x**y, -8.0, 0.5, False),
        (lambda x, y: x**y, -2.0, 3.0, True),
        (lambda x, y: x**y, 0.0, -1.0, False),
        (lambda x, y: x * y, 1e300, 1e300, False),
        (lambda x, y: kt.min(x, 1 / y), 1.0, 0.0, False),
        (lambda x, y: kt.max(x, 1 / y), 1.0, 0.0, False),
    ],
)
def test_undefined_rows_are_null(formula: object, x: float, y: float, defined: bool) -> None:
    """Division by zero, log/sqrt/pow domain and overflow give NULL; min/max do not hide it."""
    tree = kt.Tree(kt.Metric("m", formula(kpi("x"), kpi("y"))))  # type: ignore[operator]
    values = {k: v for k, v in {"x": x, "y": y}.items() if k in tree}
    scalar = tree.evaluate(values, undefined="nan")["m"]
    assert math.isnan(scalar) != defined  # the scalar rule agrees with the table
    got = evaluate_sql(tree, duck(pd.DataFrame({"x": [x], "y": [y]})), "kpis")["m"].iloc[0]
    if defined:
        assert got == pytest.approx(scalar, rel=1e-12)
    else:
        assert math.isnan(got)


def test_integer_columns_are_not_divided_as_integers() -> None:
    """BIGINT leaf columns are cast to DOUBLE: 1 / 2 is 0.5, and big products do not overflow."""
    a, b = kpi("a"), kpi("b")
    tree = kt.Tree(kt.Metric("ratio", a / b), kt.Metric("product", a * b * b))
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE kpis AS SELECT 1::BIGINT AS a, 2::BIGINT AS b UNION ALL "
        "SELECT 4000000000, 4000000000"
    )
    out = evaluate_sql(tree, con, "kpis")
    assert out["ratio"].tolist() == [0.5, 1.0]
    assert out["product"].iloc[1] == pytest.approx(6.4e28)


def test_constant_metric_is_double() -> None:
    """A metric of constants only is a DOUBLE column, not an integer or decimal."""
    tree = kt.Tree(kt.Metric("half", kt.Metric("one", 1) / 2), kpi("a"))
    out = evaluate_sql(tree, duck(pd.DataFrame({"a": [1.0, 2.0]})), "kpis")
    assert out["half"].tolist() == [0.5, 0.5] and out["half"].dtype == np.float64


# -- identifiers, dialects, options -----------------------------------------------------------


def test_cyrillic_names_run_in_duckdb_and_are_quoted_everywhere() -> None:
    """Russian node names work end to end and are quoted identifiers in every dialect."""
    tree = qualified_leads_ru()
    out = evaluate_sql(tree, duck(pd.DataFrame({"лиды": [100.0], "конверсия_в_квал": [0.5]})))
    assert out["квал_лиды"].tolist() == [50.0]
    for dialect, quote in [("duckdb", '"'), ("spark", "`"), ("bigquery", "`"), ("postgres", '"')]:
        assert f"{quote}квал_лиды{quote}" in to_sql(tree, dialect=dialect)


@pytest.mark.parametrize(
    ("table", "column"),
    [('kp"is', 'le"ads'), ("select", "from"), ("weird; DROP TABLE x; --", "a b")],
)
def test_any_name_is_an_identifier_never_sql(table: str, column: str) -> None:
    """Quotes, keywords and SQL fragments in names stay inside quoted identifiers."""
    leaf = kt.KPI("v", owner="x", horizon="1 day")
    tree = kt.Tree(kt.Metric("m", leaf * 2))
    con = duck(pd.DataFrame({"v": [3.0], column: [1.0]}), name=table)
    out = evaluate_sql(tree, con, table)
    assert out["m"].tolist() == [6.0] and column in out.columns
    assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchall() == [(1,)]


def test_only_requested_metrics_and_star_except() -> None:
    """Intermediates are computed once, under internal names, and left out with EXCLUDE."""
    tree = sales_revenue()
    assert 'EXCLUDE ("_kpitree_m1", "_kpitree_m2", "_kpitree_v1"' in to_sql(tree, ["revenue"])
    spark = to_sql(tree, ["revenue"], dialect="spark")
    assert "EXCEPT (`_kpitree_m1`, `_kpitree_m2`, `_kpitree_v1`" in spark
    assert "`calls`" not in spark
    with pytest.raises(kt.ArgumentError, match="columns="):
        to_sql(tree, ["revenue"], dialect="postgres")
    with pytest.warns(kt.DefaultsWarning):
        sql = to_sql(
            tree, ["revenue"], dialect="postgres", columns=["managers", "day"], defaults=True
        )
    assert "EXCEPT" not in sql and '"day"' in sql and "22.0" in sql  # default as a literal


def test_each_metric_is_computed_once() -> None:
    """A metric used by several others is one column of a CTE, referenced by name."""
    a, b = kpi("a"), kpi("b")
    shared = kt.Metric("shared", a / b)
    tree = kt.Tree(kt.Metric("x", shared * 2), kt.Metric("y", shared + 1))
    sql = to_sql(tree, pretty=False)
    assert sql.count('CAST("a" AS DOUBLE) / NULLIF(') == 1  # a raw value, then its guard
    assert sql.count('AS "shared"') == 1
    # Without a way to leave the raw values out of `SELECT *`, the guard repeats it.
    assert to_sql(tree, dialect="postgres").count('CAST("a" AS DOUBLE PRECISION) / NULLIF(') == 2


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"dialect": "duckdbb"}, kt.UnknownNameError, "did you mean `duckdb`"),
        ({"metrics": ["revenu"]}, kt.UnknownNameError, "did you mean `revenue`"),
        ({"table": ""}, kt.ArgumentError, "table must be a name"),
        ({"group_by": ["managers"]}, kt.ArgumentError, "is a kpi of the tree"),
        ({"group_by": ["day"]}, kt.ValidationError, "`call_to_purchase` is a rate"),
        ({"gradient_of": "managers"}, kt.KindError, "is a leaf"),
    ],
)
def test_bad_sql_options(kwargs: dict, error: type, words: str) -> None:
    """Unknown dialects and metrics, empty tables, missing leaves and bad groups are refused."""
    with pytest.raises(error, match=words):
        to_sql(sales_revenue(), **kwargs)


def test_leaf_without_column_or_default() -> None:
    """With the table's columns known, a leaf without a column is named; defaults=True fills it.

    A leaf with neither a column nor a value is named even with defaults=True.
    """
    tree = kt.Tree(kt.Metric("m", kt.KPI("a", owner="x", horizon="1 day") * kpi("b")))
    with pytest.raises(kt.MissingValueError, match="`a`"):
        to_sql(tree, columns=["b"], defaults=True)
    with pytest.raises(kt.MissingValueError, match="`b`; its columns are `a`"):
        to_sql(tree, columns=["a"])
    with pytest.warns(kt.DefaultsWarning, match="`b` = 1.0"):
        assert "1.0" in to_sql(tree, columns=["a"], defaults=True)  # b's value, as a literal


# -- evaluate_sql -------------------------------------------------------------------------------


def test_evaluate_sql_from_a_database_file(tmp_path: Path) -> None:
    """A database path is opened read-only; the result is a pandas frame."""
    path = tmp_path / "kpis.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE kpis AS SELECT 1000 AS leads, 0.8 AS lead_to_ql")
    out = evaluate_sql(EXAMPLES["qualified_leads"](), path)
    assert isinstance(out, pd.DataFrame) and out["qualified_leads"].tolist() == [800.0]


def test_evaluate_sql_errors() -> None:
    """A missing table and a text leaf column give kpitree errors, not DuckDB's."""
    con = duckdb.connect()
    with pytest.raises(kt.UnknownNameError, match="no table `kpis`"):
        evaluate_sql(EXAMPLES["qualified_leads"](), con)
    con.execute("CREATE TABLE kpis AS SELECT 'many' AS leads, 0.8 AS lead_to_ql")
    with pytest.raises(kt.ValueTypeError, match="column `leads` holds VARCHAR"):
        evaluate_sql(EXAMPLES["qualified_leads"](), con)


def test_gradient_columns_equal_tree_gradient() -> None:
    """gradient_of adds ∂metric/∂leaf per row, equal to tree.gradient at that row's values."""
    tree = sales_revenue()
    rows = [
        {"managers": 5.0, "calls_per_day": 40.0, "call_to_purchase": 0.05},
        {"managers": 0.0, "calls_per_day": 12.0, "call_to_purchase": 0.2},
    ]
    for row in rows:  # every leaf a column: a missing one would be an error
        row.update(working_days=22.0, avg_order_value=12_000.0)
    con = duck(pd.DataFrame(rows))
    sql = to_sql(tree, ["revenue"], gradient_of="revenue", columns=list(rows[0]))
    out = con.sql(sql).df()
    for i, row in enumerate(rows):
        gradient = tree.gradient("revenue", row)
        for leaf in tree.leaves:
            got = out[f"d_revenue_d_{leaf.name}"].iloc[i]
            assert got == pytest.approx(gradient[leaf.name], rel=1e-12)


def test_metric_sql_layers() -> None:
    """metric_sql gives each metric's expression, layer by layer, for an engine's own API."""
    layers = metric_sql(sales_revenue(), ["revenue"], dialect="spark")
    # Each metric's raw value is a column of its own, guarded in the next layer.
    assert [[name for name, _ in layer] for layer in layers] == [
        ["_kpitree_v1"],
        ["calls"],
        ["_kpitree_v2"],
        ["purchases"],
        ["_kpitree_v3"],
        ["revenue"],
    ]
    assert layers[1][0][1] == (
        "CASE WHEN ABS(`_kpitree_v1`) <= 1.7976931348623157e+308 THEN `_kpitree_v1` END"
    )
    assert "`calls`" in layers[2][0][1]


# -- rollups in SQL -----------------------------------------------------------------------------


def test_sql_rollup_conversion_is_a_ratio_of_sums() -> None:
    """GROUP BY recomputes the conversion from summed leaves, equal to the frame rollup."""
    data = pd.DataFrame(
        {
            "week": [1, 1, 1, 2, 2],
            "leads": [100.0, 300, 10, 50, 0],
            "ql": [90.0, 30, 5, 40, 0],
            "show_rate": [0.5, 0.1, 0.9, 0.2, 0.7],
        }
    )
    out = evaluate_sql(funnel(), duck(data), group_by=["week"])
    assert out["conv"].iloc[0] == pytest.approx(125 / 410, rel=1e-15)
    frame = funnel().rollup(data, by="week")
    pd.testing.assert_frame_equal(out, frame, check_dtype=False, rtol=1e-12)


def test_sql_rollup_by_nothing_is_one_total_row() -> None:
    """`group_by=[]`: one row over the whole table, as the frame rollup gives, no ORDER BY."""
    data = pd.DataFrame(
        {"leads": [100.0, 300, 10], "ql": [90.0, 30, 5], "show_rate": [0.5, 0.1, 0.9]}
    )
    sql = to_sql(funnel(), group_by=[], pretty=False)
    assert "ORDER BY" not in sql
    out = evaluate_sql(funnel(), duck(data), group_by=[])
    assert len(out) == 1
    assert out["conv"].iloc[0] == pytest.approx(125 / 410, rel=1e-15)


@given(
    st.integers(1, 12).flatmap(
        lambda n: st.fixed_dictionaries(
            {
                "g": st.lists(st.sampled_from([1.0, 2.0, 3.0]), min_size=n, max_size=n),
                "day": st.permutations(list(range(n))),
                **{c: st.lists(AGG_CELLS, min_size=n, max_size=n) for c in AGG_LEAVES},
            }
        )
    )
)
def test_sql_rollup_equals_the_reference(data: dict) -> None:
    """Every aggregation in SQL (with order_by for `last`) equals the Python-loop reference."""
    tree = every_aggregate()
    order = np.argsort(data["day"], kind="stable")
    ordered = {k: [v[i] for i in order] for k, v in data.items()}
    want = rollup_reference(ordered, "g", {n: str(a) for n, a in aggregations(tree).items()})
    out = evaluate_sql(tree, duck(pd.DataFrame(data)), group_by="g", order_by="day")
    assert out["g"].tolist() == sorted(want)
    for _, row in out.iterrows():
        for name, value in want[row["g"]].items():
            if math.isnan(value):
                assert math.isnan(row[name]), name
            else:
                assert row[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


def test_last_needs_an_order_in_sql() -> None:
    """SQL rows have no order: a `last` rollup asks for order_by, and postgres lacks ARG_MAX."""
    with pytest.raises(kt.ArgumentError, match="order_by"):
        to_sql(every_aggregate(), group_by="g")
    with pytest.raises(kt.ArgumentError, match="ARG_MAX"):
        to_sql(every_aggregate(), group_by="g", order_by="day", dialect="postgres")


# -- assembly is linear ----------------------------------------------------------------------


def _chain(levels: int) -> kt.Tree:
    """A chain of `levels` metrics, each one level above the last: `levels` CTEs."""
    node: Any = kpi("x0")
    for i in range(1, levels + 1):
        node = kt.Metric(f"m{i}", node + kpi(f"x{i}"))
    return kt.Tree(node)


def test_to_sql_builds_work_proportional_to_the_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sqlglot nodes built per tree node stay constant: no statement copied per CTE."""
    from sqlglot import exp

    made = [0]
    init = exp.Expr.__init__

    def counting(self: Any, **args: Any) -> None:
        made[0] += 1
        init(self, **args)

    monkeypatch.setattr(exp.Expr, "__init__", counting)
    per_node = []
    for levels in (50, 400):
        tree = _chain(levels)
        made[0] = 0
        to_sql(tree, pretty=False)
        per_node.append(made[0] / len(tree))
    # Copying the statement for each CTE made this grow with the number of levels (8×).
    assert per_node[1] < 1.2 * per_node[0]


# -- names that differ only in case ----------------------------------------------------------


@st.composite
def case_trees(draw: Any) -> tuple[kt.Tree, list[str]]:
    """Leaves `a`, `b`, ... and metrics named like them in other cases (`A`, `Ab`, `aB`)."""
    count = draw(st.integers(1, 3))
    leaves = [kpi(n) for n in "abc"[:count]]
    spellings = ["A", "B", "C", "Ab", "aB", "AB", "ab", "x", "X"]
    names = draw(
        st.lists(
            st.sampled_from([n for n in spellings if n not in "abc"[:count]]),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    nodes: list[str] = [leaf.name for leaf in leaves]
    metrics = []
    for name in names:
        left, right = draw(st.sampled_from(nodes)), draw(st.sampled_from(nodes))
        op = draw(st.sampled_from(["+", "*", "-", "/"]))
        metrics.append(kt.Metric(name, f"{left} {op} {right} + 1"))
        nodes.append(name)
    with warnings.catch_warnings():  # the names are meant to differ only in case
        warnings.simplefilter("ignore", kt.SpellingWarning)
        tree = kt.Tree(*metrics, *leaves)
    # The result shows the leaves and the requested metrics: those must differ in case.
    taken = {leaf.name.casefold() for leaf in leaves}
    requested = []
    for name in reversed(names):
        if name.casefold() not in taken:
            requested.append(name)
            taken.add(name.casefold())
    return tree, requested


@given(case_trees(), st.lists(st.floats(-3, 3), min_size=3, max_size=3))
def test_names_differing_only_in_case_evaluate_as_in_python(
    case: tuple[kt.Tree, list[str]], values: list[float]
) -> None:
    """DuckDB folds case even when quoted; intermediate metrics never collide with columns."""
    tree, requested = case
    if not requested:
        return
    leaves = [leaf.name for leaf in tree.leaves]
    frame = pd.DataFrame({n: [v] for n, v in zip(leaves, values, strict=False)})
    out = evaluate_sql(tree, duck(frame), "kpis", requested)
    assert sorted(out.columns) == sorted([*leaves, *requested])
    expected = tree.evaluate(dict(zip(leaves, values, strict=False)), undefined="nan")
    for name in requested:
        got, want = out[name].iloc[0], expected[name]
        assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(
            want, rel=1e-12, abs=1e-12
        )


@pytest.mark.parametrize(
    ("tree", "columns", "pair"),
    [
        (lambda: kt.Tree(kt.Metric("X", "x * 2"), kpi("x")), None, "`x` and `X`"),
        (lambda: kt.Tree(kt.Metric("m", "a * 2"), kpi("a")), ["a", "M"], "`M` and `m`"),
        (
            lambda: kt.Tree(kt.Metric("Rev", "a + 1"), kt.Metric("rev", "a * 2"), kpi("a")),
            None,
            "`Rev` and `rev`",
        ),
    ],
)
def test_result_columns_differing_only_in_case_are_refused(
    tree: Any, columns: list[str] | None, pair: str
) -> None:
    """A metric beside a column (or metric) of the same name in another case is refused."""
    if columns is None:  # two node names differing only in case: the model warns already
        with pytest.warns(kt.SpellingWarning):
            built = tree()
    else:
        built = tree()
    with pytest.raises(kt.DuplicateNameError, match=pair):
        to_sql(built, columns=columns)
    with pytest.raises(kt.DuplicateNameError, match=pair):
        metric_sql(built, columns=columns)


def test_a_table_column_named_like_an_intermediate_metric_is_kept() -> None:
    """An intermediate metric's internal name leaves a column of the same name alone."""
    tree = kt.Tree(kt.Metric("total", "share * 2"), kt.Metric("share", "a / 2"), kpi("a"))
    con = duck(pd.DataFrame({"a": [4.0], "share": [99.0]}))
    out = evaluate_sql(tree, con, "kpis", ["total"])
    assert out.to_dict("records") == [{"a": 4.0, "share": 99.0, "total": 4.0}]


# -- arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        (
            {"dialect": None},
            kt.ValueTypeError,
            "dialect must be the name of a SQL dialect, got None",
        ),
        ({"dialect": ""}, kt.ValueTypeError, "dialect must be the name"),
        ({"table": "a.b.c.d"}, kt.ArgumentError, r"got 'a\.b\.c\.d' \(4 parts\)"),
        ({"table": None}, kt.ValueTypeError, "table must be text"),
    ],
)
def test_sql_arguments_are_checked(kwargs: dict[str, Any], error: type, words: str) -> None:
    """A missing dialect or a table of four parts is refused, not silently defaulted or cut."""
    with pytest.raises(error, match=words):
        to_sql(sales_revenue(), **kwargs)


def test_metric_sql_checks_its_dialect() -> None:
    """metric_sql (behind Spark) refuses a missing dialect like to_sql."""
    with pytest.raises(kt.ValueTypeError, match="dialect must be"):
        metric_sql(sales_revenue(), dialect=None)  # type: ignore[arg-type]


def test_evaluate_sql_refuses_what_is_not_a_duckdb_database(tmp_path: Path) -> None:
    """A missing file, a file of another kind, a closed connection, or another object."""
    tree = sales_revenue()
    with pytest.raises(kt.ArgumentError, match=r"there is no file at `.*nope\.duckdb`"):
        evaluate_sql(tree, tmp_path / "nope.duckdb")
    with pytest.raises(kt.ArgumentError, match="there is a folder at"):
        evaluate_sql(tree, tmp_path)
    text = tmp_path / "kpis.csv"
    text.write_text("managers,day\n1,2\n", encoding="utf-8")
    with pytest.raises(kt.ArgumentError, match="cannot be opened as a DuckDB database"):
        evaluate_sql(tree, text)
    closed = duckdb.connect()
    closed.close()
    with pytest.raises(kt.ArgumentError, match="connection cannot be used"):
        evaluate_sql(tree, closed)
    with pytest.raises(kt.ValueTypeError, match=r"must be a DuckDB connection .* got dict"):
        evaluate_sql(tree, {"managers": [1]})


def test_spark_evaluate_refuses_what_is_not_a_spark_dataframe() -> None:
    """A pandas frame given to the Spark entry point is a ValueTypeError naming its type."""
    pytest.importorskip("pyspark")
    from kpitree.spark import evaluate as spark_evaluate

    with pytest.raises(kt.ValueTypeError, match="data must be a Spark DataFrame, got DataFrame"):
        spark_evaluate(sales_revenue(), pd.DataFrame({"managers": [1.0]}))

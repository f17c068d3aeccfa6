"""Reading tables: a missing leaf column, duplicates, ragged arrays, infinities, empty frames.

Every table reader (frames, rollups, SQL, DuckDB, Spark, attribution over frames) follows
one rule: a leaf the metrics need has exactly one column, or the caller passes
`defaults=True` and is warned which leaves took their model values. Bad columns give
kpitree errors naming them, never a pandas or numpy exception.
"""

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from test_frames import ALL_TREES, assert_rows_equal, expected_rows
from test_sql import duck

import kpitree as kt
from kpitree.backends.frames import evaluate_frame, plan, rollup
from kpitree.backends.sql import evaluate_sql, metric_sql, to_sql
from kpitree.examples import qualified_leads

NAN = math.nan
INF = math.inf


def cost_tree() -> kt.Tree:
    """cost_per_lead = spend / leads and cost_per_ql = cost_per_lead / rate: divisions."""
    spend = kt.KPI("spend", owner="marketing", horizon="1 day", value=500.0, unit="RUB")
    leads = kt.KPI("leads", owner="marketing", horizon="1 day", value=100.0, unit="lead")
    rate = kt.KPI(
        "rate", owner="sales", horizon="1 day", value=0.5, unit="%", aggregate="weighted:leads"
    )
    cpl = kt.Metric("cost_per_lead", spend / leads)
    return kt.Tree(kt.Metric("cost_per_ql", cpl / rate), cpl)


def rollable() -> kt.Tree:
    """qualified_leads = leads × lead_to_ql, with the rate weighted by leads in rollups."""
    leads = kt.KPI("leads", owner="marketing", horizon="1 day", value=1000.0, unit="lead")
    rate = kt.KPI(
        "lead_to_ql", owner="sales", horizon="1 day", value=0.8, aggregate="weighted:leads"
    )
    return kt.Tree(kt.Metric("qualified_leads", leads * rate))


# -- a missing leaf column ------------------------------------------------------------------

ONLY_LEADS = {"day": [1, 2], "leads": [1000.0, 10.0]}

READERS: dict[str, Callable[..., Any]] = {
    "pandas": lambda **kw: evaluate_frame(qualified_leads(), pd.DataFrame(ONLY_LEADS), **kw),
    "polars": lambda **kw: evaluate_frame(qualified_leads(), pl.DataFrame(ONLY_LEADS), **kw),
    "lazy": lambda **kw: evaluate_frame(
        qualified_leads(), pl.DataFrame(ONLY_LEADS).lazy(), **kw
    ).collect(),
    "mapping": lambda **kw: evaluate_frame(
        qualified_leads(), {k: np.array(v) for k, v in ONLY_LEADS.items()}, **kw
    ),
    "rollup": lambda **kw: rollup(qualified_leads(), pd.DataFrame(ONLY_LEADS), by="day", **kw),
    "rollup-mapping": lambda **kw: rollup(qualified_leads(), ONLY_LEADS, by="day", **kw),
    "rollup-polars": lambda **kw: rollup(
        qualified_leads(), pl.DataFrame(ONLY_LEADS), by="day", **kw
    ),
    "duckdb": lambda **kw: evaluate_sql(qualified_leads(), duck(pd.DataFrame(ONLY_LEADS)), **kw),
    "duckdb-rollup": lambda **kw: evaluate_sql(
        qualified_leads(), duck(pd.DataFrame(ONLY_LEADS)), group_by="day", **kw
    ),
    "to_sql": lambda **kw: to_sql(qualified_leads(), columns=list(ONLY_LEADS), **kw),
    "metric_sql": lambda **kw: metric_sql(qualified_leads(), columns=list(ONLY_LEADS), **kw),
}


@pytest.mark.parametrize("reader", list(READERS))
def test_a_missing_leaf_column_is_an_error_naming_it(reader: str) -> None:
    """No reader fills a missing leaf from the model silently: the error names it and the table."""
    with pytest.raises(kt.MissingValueError) as caught:
        READERS[reader]()
    message = str(caught.value)
    assert "`lead_to_ql`" in message
    assert "`day`, `leads`" in message  # the columns there are
    assert "defaults=True" in message
    assert caught.value.names == ("lead_to_ql",)


@pytest.mark.parametrize("reader", list(READERS))
def test_defaults_true_fills_model_values_and_warns(reader: str) -> None:
    """With defaults=True the leaf takes its model value, and a DefaultsWarning names both."""
    with pytest.warns(kt.DefaultsWarning, match=r"`lead_to_ql` = 0\.8") as record:
        out = READERS[reader](defaults=True)
    assert len(record) == 1  # one warning per call, however many steps read the table
    if reader.startswith(("pandas", "polars", "lazy", "mapping", "rollup", "duckdb")):
        assert list(out["qualified_leads"]) == pytest.approx([800.0, 8.0])


def test_the_warning_points_at_the_callers_line() -> None:
    """The DefaultsWarning is attributed to the user's code, not to a kpitree module."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        qualified_leads().evaluate_frame(pd.DataFrame({"leads": [1.0]}), defaults=True)
    assert record[0].filename == __file__


def test_did_you_mean_for_a_misspelt_column() -> None:
    """A column that looks like the missing leaf is suggested."""
    frame = pd.DataFrame({"Leads": [1.0], "lead_to_q1": [0.5]})
    with pytest.raises(kt.MissingValueError) as caught:
        qualified_leads().evaluate_frame(frame)
    assert caught.value.names == ("leads", "lead_to_ql")
    assert caught.value.hint is not None
    assert "`leads`: did you mean `Leads`?" in caught.value.hint
    assert "`lead_to_ql`: did you mean `lead_to_q1`?" in caught.value.hint


def test_defaults_never_invent_a_value_the_model_lacks() -> None:
    """A leaf with neither a column nor a model value is an error, defaults=True or not."""
    tree = kt.Tree(kt.Metric("m", kt.KPI("a", owner="x", horizon="1 day") * 2))
    for defaults in (False, True):
        with pytest.raises(kt.MissingValueError, match="`a`"):
            tree.evaluate_frame(pd.DataFrame({"b": [1.0]}), defaults=defaults)


def test_a_leaf_no_requested_metric_needs_may_lack_a_column() -> None:
    """Only the leaves the requested metrics use need columns; no warning for the others."""
    tree = cost_tree()
    out = tree.evaluate_frame(pd.DataFrame({"spend": [10.0], "leads": [5.0]}), ["cost_per_lead"])
    assert out["cost_per_lead"].tolist() == [2.0]


def test_attribute_frame_refuses_a_missing_leaf_column() -> None:
    """attribute_frame reads its table by the same rule, and fills only when asked."""
    df = pd.DataFrame({"month": ["jan", "feb"], "leads": [1000.0, 1100.0]})
    for frame in (df, pl.from_pandas(df)):
        with pytest.raises(kt.MissingValueError, match=r"`lead_to_ql`.*`month`, `leads`"):
            qualified_leads().attribute_frame(
                frame, "qualified_leads", period="month", before="jan", after="feb"
            )
        with pytest.warns(kt.DefaultsWarning, match="`lead_to_ql` = 0.8"):
            out = qualified_leads().attribute_frame(
                frame, "qualified_leads", period="month", before="jan", after="feb", defaults=True
            )
        assert list(out["leads"]) == pytest.approx([80.0])
        assert list(out["lead_to_ql"]) == pytest.approx([0.0])


# -- duplicate columns ----------------------------------------------------------------------


def test_duplicate_leaf_columns_are_refused() -> None:
    """pandas allows two columns of one name; kpitree cannot tell which holds the leaf."""
    frame = pd.DataFrame([[1.0, 2.0, 0.5]], columns=["leads", "leads", "lead_to_ql"])
    with pytest.raises(kt.DuplicateNameError, match="`leads`") as caught:
        qualified_leads().evaluate_frame(frame)
    assert caught.value.names == ("leads",)
    with pytest.raises(kt.DuplicateNameError, match="`leads`"):
        qualified_leads().rollup(frame, by=[])
    with pytest.raises(kt.DuplicateNameError, match="`leads`"):
        to_sql(qualified_leads(), columns=["leads", "leads", "lead_to_ql"])


def test_duplicate_metric_columns_are_refused() -> None:
    """Two columns named like a metric: which one would be replaced is not clear."""
    frame = pd.DataFrame(
        [[1.0, 0.5, 9.0, 9.0]],
        columns=["leads", "lead_to_ql", "qualified_leads", "qualified_leads"],
    )
    with pytest.raises(kt.DuplicateNameError, match="`qualified_leads`"):
        qualified_leads().evaluate_frame(frame)


def test_duplicate_other_columns_pass_through() -> None:
    """Repeated columns kpitree does not read are the user's business and are kept."""
    frame = pd.DataFrame([[1, 2, 10.0, 0.5]], columns=["x", "x", "leads", "lead_to_ql"])
    out = qualified_leads().evaluate_frame(frame)
    assert list(out.columns) == ["x", "x", "leads", "lead_to_ql", "qualified_leads"]
    assert out["qualified_leads"].tolist() == [5.0]


def test_attribute_frame_refuses_duplicate_leaf_columns() -> None:
    """attribute_frame names the repeated leaf instead of failing inside numpy."""
    frame = pd.DataFrame(
        [["jan", 1.0, 2.0, 0.5], ["feb", 1.0, 2.0, 0.5]],
        columns=["month", "leads", "leads", "lead_to_ql"],
    )
    with pytest.raises(kt.DuplicateNameError, match="`leads`"):
        qualified_leads().attribute_frame(
            frame, "qualified_leads", period="month", before="jan", after="feb"
        )


def test_duplicate_group_and_period_columns_are_refused() -> None:
    """A repeated group, order or period column is named, not a pandas TypeError."""
    frame = pd.DataFrame([[1, 1, 10.0, 0.5]], columns=["week", "week", "leads", "lead_to_ql"])
    with pytest.raises(kt.DuplicateNameError, match="`week`"):
        rollable().rollup(frame, by="week")
    with pytest.raises(kt.DuplicateNameError, match="`week`"):
        rollable().rollup(frame.assign(day=1), by="day", order_by="week")
    with pytest.raises(kt.DuplicateNameError, match="`week`"):
        to_sql(rollable(), columns=list(frame.columns), group_by="week")
    months = pd.DataFrame(
        [["jan", "jan", 1.0, 0.5], ["feb", "feb", 2.0, 0.5]],
        columns=["month", "month", "leads", "lead_to_ql"],
    )
    with pytest.raises(kt.DuplicateNameError, match="`month`"):
        rollable().attribute_frame(
            months, "qualified_leads", period="month", before="jan", after="feb"
        )


# -- columns that are not one number per row ------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "error", "words"),
    [
        (
            {"leads": np.array([1.0, 2.0]), "lead_to_ql": np.array([0.5, 0.5, 0.5])},
            kt.ArgumentError,
            "different lengths: `leads` 2, `lead_to_ql` 3",
        ),
        (
            {"leads": np.ones((2, 2)), "lead_to_ql": np.array([0.5, 0.5])},
            kt.ValueTypeError,
            r"column `leads` has 2 dimensions \(shape \(2, 2\)\)",
        ),
        (
            {"leads": [1.0, [2.0, 3.0]], "lead_to_ql": [0.5, 0.5]},
            kt.ValueTypeError,
            "column `leads` has rows of different lengths",
        ),
        (
            {"leads": ["1", "2"], "lead_to_ql": [0.5, 0.5]},
            kt.ValueTypeError,
            "column `leads` holds (<U1|str)",  # numpy's dtype, or pandas' in a rollup
        ),
        (
            {"leads": np.array([1, "many"], dtype=object), "lead_to_ql": [0.5, 0.5]},
            kt.ValueTypeError,
            'column `leads` holds object \\(one of its values is "many"\\)',
        ),
        (
            {"leads": [True, False], "lead_to_ql": [0.5, 0.5]},
            kt.ValueTypeError,
            "column `leads` holds bool",
        ),
        (
            {"leads": np.array(["2026-01-01"], dtype="datetime64[D]"), "lead_to_ql": [0.5]},
            kt.ValueTypeError,
            "column `leads` holds datetime64",
        ),
    ],
)
def test_mapping_columns_must_be_one_number_per_row(
    columns: dict[str, Any], error: type[Exception], words: str
) -> None:
    """Ragged, 2-D, text, boolean and date columns get kpitree errors naming the column."""
    with pytest.raises(error, match=words):
        qualified_leads().evaluate_frame(columns)
    with pytest.raises(error, match=words):
        rollable().rollup(columns, by=[])


def test_pandas_object_columns() -> None:
    """An object column of numbers and missing values is read; one holding text is refused."""
    frame = pd.DataFrame(
        {"leads": pd.Series([10, None, 4.0, pd.NA], dtype=object), "lead_to_ql": [0.5] * 4}
    )
    out = qualified_leads().evaluate_frame(frame)["qualified_leads"].tolist()
    assert out[0] == 5.0 and math.isnan(out[1]) and out[2] == 2.0 and math.isnan(out[3])
    text = pd.DataFrame({"leads": pd.Series([10, "x"], dtype=object), "lead_to_ql": [0.5] * 2})
    with pytest.raises(kt.ValueTypeError, match="column `leads` holds object"):
        qualified_leads().evaluate_frame(text)


def test_a_list_with_none_is_missing_values() -> None:
    """In a mapping of lists, None is a missing value like NaN."""
    out = qualified_leads().evaluate_frame({"leads": [10, None], "lead_to_ql": [0.5, 0.5]})
    assert out["qualified_leads"][0] == 5.0 and math.isnan(out["qualified_leads"][1])


# -- infinite leaf values -------------------------------------------------------------------

INFINITE = {"spend": [100.0, INF, 100.0], "leads": [INF, 10.0, -INF], "rate": [0.5, 0.5, 0.5]}


def test_infinite_leaf_values_are_undefined_in_frames() -> None:
    """An infinite leaf gives NaN for its metrics: spend / inf is not a real 0 cost per lead."""
    tree = cost_tree()
    outs = [
        tree.evaluate_frame(pd.DataFrame(INFINITE)),
        tree.evaluate_frame({k: np.array(v) for k, v in INFINITE.items()}),
        tree.evaluate_frame(pl.DataFrame(INFINITE)),
        tree.evaluate_frame(pl.DataFrame(INFINITE).lazy()).collect(),
    ]
    for out in outs:
        for metric in ("cost_per_lead", "cost_per_ql"):
            assert all(math.isnan(v) for v in out[metric]), (metric, list(out[metric]))


def test_huge_finite_values_are_not_mistaken_for_infinities() -> None:
    """Values whose sum overflows are still finite numbers, read without a warning."""
    out = qualified_leads().evaluate_frame({"leads": [1e308, 1e308], "lead_to_ql": [0.5, 0.5]})
    assert out["qualified_leads"].tolist() == [5e307, 5e307]


def test_infinite_values_stay_in_the_users_frame() -> None:
    """Reading an infinity as undefined does not change the input column."""
    frame = pd.DataFrame(INFINITE)
    out = cost_tree().evaluate_frame(frame)
    assert frame["leads"].tolist() == [INF, 10.0, -INF]
    assert out["leads"].tolist() == [INF, 10.0, -INF]


def test_infinite_values_in_attribute_frame_give_a_nan_row() -> None:
    """attribute_frame: a segment with an infinite leaf gets NaN, not a split of infinity."""
    df = pd.DataFrame(
        {
            "month": ["jan", "feb", "jan", "feb"],
            "channel": ["ads", "ads", "seo", "seo"],
            "spend": [100.0, 200.0, 100.0, 100.0],
            "leads": [10.0, INF, 10.0, 20.0],
            "rate": [0.5, 0.5, 0.5, 0.5],
        }
    )
    out = cost_tree().attribute_frame(
        df, "cost_per_lead", period="month", before="jan", after="feb", by=["channel"]
    )
    ads, seo = out.iloc[0], out.iloc[1]
    assert math.isnan(ads["cost_per_lead_change"]) and math.isnan(ads["leads"])
    assert seo["cost_per_lead_change"] == pytest.approx(-5.0)


def test_infinite_values_in_duckdb_are_null() -> None:
    """DuckDB: a metric computed from an infinite product is NULL (NaN), as in frames."""
    con = duck(pd.DataFrame({"leads": [INF, 10.0], "lead_to_ql": [0.5, -INF]}))
    out = evaluate_sql(qualified_leads(), con)["qualified_leads"].tolist()
    assert all(math.isnan(v) for v in out)


def test_infinite_divisors_in_duckdb_are_null() -> None:
    """DuckDB: `spend / inf` is NULL like every metric of an infinite leaf, not a cost of 0."""
    out = evaluate_sql(cost_tree(), duck(pd.DataFrame(INFINITE)))
    for metric in ("cost_per_lead", "cost_per_ql"):
        assert all(math.isnan(v) for v in out[metric]), (metric, out[metric].tolist())


@pytest.mark.spark
def test_spark_infinite_divisor_is_null(spark: Any) -> None:
    """Spark: a metric dividing by an infinite leaf value is NULL, as in frames and DuckDB."""
    from kpitree.spark import evaluate

    frame = spark.createDataFrame(
        [(100.0, INF, 0.5), (100.0, 10.0, 0.5)], ["spend", "leads", "rate"]
    )
    out = [r["cost_per_lead"] for r in evaluate(cost_tree(), frame).collect()]
    assert out == [None, 10.0]


# -- empty tables ---------------------------------------------------------------------------


def test_zero_rows_give_zero_rows() -> None:
    """A table with the leaf columns and no rows gives the metric columns and no rows."""
    tree = qualified_leads()
    empty = {"leads": [], "lead_to_ql": []}
    assert list(tree.evaluate_frame(pd.DataFrame(empty))["qualified_leads"]) == []
    untyped = pd.DataFrame({"leads": pd.Series([], dtype=object), "lead_to_ql": []})
    assert list(tree.evaluate_frame(untyped)["qualified_leads"]) == []
    assert tree.evaluate_frame(pl.DataFrame(empty))["qualified_leads"].to_list() == []
    assert (
        list(tree.evaluate_frame({k: np.array(v) for k, v in empty.items()})["qualified_leads"])
        == []
    )
    assert len(rollable().rollup(pd.DataFrame({"day": [], **empty}), by="day")) == 0
    con = duck(pd.DataFrame({"leads": [1.0], "lead_to_ql": [0.5]}).iloc[:0])
    assert list(evaluate_sql(tree, con)["qualified_leads"]) == []


def test_a_frame_without_columns_is_a_missing_column_error() -> None:
    """pd.DataFrame(), pl.DataFrame() and {} name every missing leaf; defaults=True fills."""
    tree = qualified_leads()
    for data in (pd.DataFrame(), pl.DataFrame(), {}):
        with pytest.raises(kt.MissingValueError, match=r"2 leaves .*it has no columns"):
            tree.evaluate_frame(data)
    with pytest.warns(kt.DefaultsWarning):
        assert len(tree.evaluate_frame(pd.DataFrame(), defaults=True)) == 0


def test_polars_all_null_column_is_missing() -> None:
    """A polars column of nulls only (dtype Null) is missing on every row: NaN."""
    out = qualified_leads().evaluate_frame(pl.DataFrame({"leads": [None, None], "lead_to_ql": 0.5}))
    assert all(math.isnan(v) for v in out["qualified_leads"])


# -- property: any frame gives a kpitree error or the scalar result row by row --------------


def _cells(draw: st.DrawFn, dtype: str, n: int) -> list[Any]:
    if dtype == "int":
        return [draw(st.integers(-3, 3)) for _ in range(n)]
    if dtype == "text":
        return [draw(st.sampled_from(["1", "x", ""])) for _ in range(n)]
    if dtype == "bool":
        return [draw(st.booleans()) for _ in range(n)]
    return [
        draw(st.one_of(st.just(0.0), st.just(NAN), st.just(INF), st.just(-INF), st.floats(-4, 4)))
        for _ in range(n)
    ]


@st.composite
def random_tables(draw: st.DrawFn) -> tuple[kt.Tree, dict[str, list[Any]], str, bool]:
    """A random tree; some of its leaf columns (of random dtypes), extra columns; a library."""
    tree = draw(ALL_TREES)
    n = draw(st.integers(0, 5))
    columns: dict[str, list[Any]] = {}
    for leaf in tree.leaves:
        if draw(st.booleans()) or draw(st.booleans()):  # three in four leaves have a column
            dtype = draw(st.sampled_from(["float", "float", "float", "int", "text", "bool"]))
            columns[leaf.name] = _cells(draw, dtype, n)
    if draw(st.booleans()):
        columns["segment"] = [draw(st.sampled_from(["a", "b"])) for _ in range(n)]
    kind = draw(st.sampled_from(["pandas", "polars", "lazy", "mapping"]))
    return tree, columns, kind, draw(st.booleans())


def _table(columns: dict[str, list[Any]], kind: str) -> Any:
    if kind == "pandas":
        return pd.DataFrame(columns)
    if kind == "mapping":
        return {k: np.array(v) for k, v in columns.items()}
    frame = pl.DataFrame(columns, strict=False)
    return frame.lazy() if kind == "lazy" else frame


@settings(max_examples=150, deadline=None)
@given(random_tables())
def test_random_tables_give_a_kpitree_error_or_the_scalar_result(
    case: tuple[kt.Tree, dict[str, list[Any]], str, bool],
) -> None:
    """Never a raw exception: a kpitree error, or each row equals the scalar reference."""
    tree, columns, kind, defaults = case
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        try:
            out = evaluate_frame(tree, _table(columns, kind), defaults=defaults)
        except kt.KPITreeError as exc:
            event(f"kpitree error: {type(exc).__name__}")
            return
    event(f"compared, {kind}")
    # Reaching here with a leaf missing means defaults=True, and then a warning says so.
    needed = plan(tree).leaves  # only their columns are read
    missing = [leaf for leaf in needed if leaf not in columns]
    assert not missing or defaults
    assert any(issubclass(w.category, kt.DefaultsWarning) for w in record) == bool(missing)
    if kind == "lazy":
        out = out.collect()
    if kind in ("polars", "lazy"):
        out = out.to_dict(as_series=False)
    n = len(next(iter(columns.values()))) if columns else 0
    # The reference reads an infinite or missing leaf value as NaN (undefined).
    rows = [
        {
            name: NAN
            if values[i] is None or not math.isfinite(float(values[i]))
            else float(values[i])
            for name, values in columns.items()
            if name in needed
        }
        for i in range(n)
    ]
    assert_rows_equal(out, expected_rows(tree, rows))


# -- Spark ----------------------------------------------------------------------------------


@pytest.mark.spark
def test_spark_missing_leaf_column_and_defaults(spark: Any) -> None:
    """Spark reads by the same rule: an error naming the leaf, or defaults=True with a warning."""
    from kpitree.spark import evaluate

    frame = spark.createDataFrame([(1, 1000.0), (2, 10.0)], ["day", "leads"])
    with pytest.raises(kt.MissingValueError, match="`lead_to_ql`; its columns are `day`, `leads`"):
        evaluate(qualified_leads(), frame)
    with pytest.warns(kt.DefaultsWarning, match="`lead_to_ql` = 0.8"):
        out = evaluate(qualified_leads(), frame, defaults=True)
    assert [r["qualified_leads"] for r in out.collect()] == pytest.approx([800.0, 8.0])


@pytest.mark.spark
def test_spark_duplicate_leaf_columns(spark: Any) -> None:
    """Spark allows two columns of one name: kpitree names the leaf, not an AnalysisException."""
    from kpitree.spark import evaluate

    frame = spark.createDataFrame([(1.0, 2.0, 0.5)], ["leads", "x", "lead_to_ql"]).toDF(
        "leads", "leads", "lead_to_ql"
    )
    with pytest.raises(kt.DuplicateNameError, match="`leads`"):
        evaluate(qualified_leads(), frame)


@pytest.mark.spark
def test_spark_infinite_product_is_null(spark: Any) -> None:
    """Spark: a metric computed from an infinite leaf value by a product is NULL."""
    from kpitree.spark import evaluate

    frame = spark.createDataFrame([(INF, 0.5), (10.0, 0.5)], ["leads", "lead_to_ql"])
    out = [r["qualified_leads"] for r in evaluate(qualified_leads(), frame).collect()]
    assert out == [None, 5.0]

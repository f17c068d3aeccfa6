"""DataFrames: the tree over pandas, polars and arrays, row by row; rollups never average ratios."""

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_evaluate import direct

import kpitree as kt
from kpitree.backends.frames import aggregations, evaluate_frame, plan, rollup, table_kind
from kpitree.examples import sales_revenue
from kpitree.language.expr import refs
from kpitree.testing import trees

NAN = math.nan
ALL_TREES = trees(
    operators=("+", "-", "*", "/", "**"), functions=("min", "max", "abs", "log", "exp", "sqrt")
)


# -- the reference: plain Python floats (test_evaluate.direct), one row at a time ---------


def expected_rows(tree: kt.Tree, rows: Sequence[Mapping[str, float]]) -> list[dict[str, float]]:
    """Return every metric per row, computed independently of kpitree's evaluators.

    NaN where a formula divides by zero, leaves its domain or range, or depends on a
    missing (NaN) leaf.
    """
    out = []
    for row in rows:
        env = {leaf.name: row.get(leaf.name, leaf.value) for leaf in tree.leaves}
        for name in tree._topo:
            node = tree[name]
            if isinstance(node, kt.Metric):
                if any(math.isnan(env[r.name]) for r in refs(node.formula)):
                    value = NAN  # a missing input
                else:
                    try:
                        value = direct(node.formula, env)
                    except (ArithmeticError, ValueError, TypeError):  # TypeError: complex
                        value = NAN
                env[name] = value if math.isfinite(value) else NAN
        out.append({m.name: env[m.name] for m in tree.metrics})  # type: ignore[misc]
    return out


def assert_rows_equal(got: Mapping[str, Sequence[float]], want: list[dict[str, float]]) -> None:
    """Each metric column equals the reference row by row (1e-12 relative), NaN where NaN."""
    for name in want[0] if want else []:
        column = [float(v) for v in got[name]]
        assert len(column) == len(want)
        for i, (value, row) in enumerate(zip(column, want, strict=True)):
            expected = row[name]
            if math.isnan(expected):
                assert math.isnan(value), (name, i, value)
            else:
                assert value == pytest.approx(expected, rel=1e-12, abs=1e-300), (name, i)


CELLS = st.one_of(st.just(0.0), st.just(NAN), st.floats(-4, 4, allow_nan=False), st.floats(0.5, 4))


@st.composite
def tree_and_rows(draw: st.DrawFn) -> tuple[kt.Tree, list[dict[str, float]]]:
    """A random tree (all operators and functions) and 1-8 rows with zeros and NaN leaves."""
    tree = draw(ALL_TREES)
    n = draw(st.integers(1, 8))
    rows = [{leaf.name: draw(CELLS) for leaf in tree.leaves} for _ in range(n)]
    return tree, rows


def columns_of(tree: kt.Tree, rows: list[dict[str, float]]) -> dict[str, np.ndarray]:
    """The rows as one float64 array per leaf."""
    return {leaf.name: np.array([r[leaf.name] for r in rows]) for leaf in tree.leaves}


# -- differential: every frame backend equals the reference --------------------------------


@given(tree_and_rows())
def test_every_frame_backend_equals_the_reference(case: tuple) -> None:
    """pandas, polars (eager and lazy) and a mapping of arrays equal the row-by-row reference."""
    tree, rows = case
    want = expected_rows(tree, rows)
    arrays = columns_of(tree, rows)
    assert_rows_equal(evaluate_frame(tree, arrays), want)
    assert_rows_equal(evaluate_frame(tree, pd.DataFrame(arrays)), want)
    assert_rows_equal(evaluate_frame(tree, pl.DataFrame(arrays)).to_dict(as_series=False), want)
    lazy = evaluate_frame(tree, pl.DataFrame(arrays).lazy())
    assert isinstance(lazy, pl.LazyFrame)
    assert_rows_equal(lazy.collect().to_dict(as_series=False), want)


@given(ALL_TREES)
def test_defined_rows_equal_scalar_evaluate(tree: kt.Tree) -> None:
    """On the tree's default values, frames give exactly what evaluate(undefined='nan') gives."""
    scalar = tree.evaluate(undefined="nan")
    row = {leaf.name: leaf.value for leaf in tree.leaves}
    got = evaluate_frame(tree, pd.DataFrame([row]))
    for metric in tree.metrics:
        value = got[metric.name].iloc[0]
        if math.isnan(scalar[metric.name]):
            assert math.isnan(value)
        else:
            assert value == pytest.approx(scalar[metric.name], rel=1e-12, abs=1e-300)


# -- behaviour ----------------------------------------------------------------------------


def conversion_tree() -> kt.Tree:
    """leads, ql (counts) and conv = ql / leads; inverse = 1 / conv."""
    leads = kt.KPI("leads", owner="marketing", horizon="1 day", unit="lead")
    ql = kt.KPI("ql", owner="sales", horizon="1 day", unit="lead")
    conv = kt.Metric("conv", ql / leads)
    return kt.Tree(kt.Metric("inverse", 1 / conv), conv)


def test_each_kind_comes_back_as_itself() -> None:
    """pandas gives pandas, polars gives polars, lazy stays lazy, a mapping gives a dict."""
    tree = conversion_tree()
    data = {"day": np.array([1, 2]), "leads": np.array([10.0, 0.0]), "ql": np.array([5.0, 1.0])}
    assert isinstance(tree.evaluate_frame(pd.DataFrame(data)), pd.DataFrame)
    assert isinstance(tree.evaluate_frame(pl.DataFrame(data)), pl.DataFrame)
    assert isinstance(tree.evaluate_frame(pl.DataFrame(data).lazy()), pl.LazyFrame)
    out = tree.evaluate_frame(data)
    assert isinstance(out, dict)
    assert list(out) == ["day", "leads", "ql", "inverse", "conv"]
    assert out["conv"][0] == 0.5 and math.isnan(out["conv"][1])


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (pd.DataFrame({"leads": [1.0]}), "pandas"),
        (pd.Series({"leads": 1.0}), "series"),
        (pl.DataFrame({"leads": [1.0]}), "polars"),
        (pl.DataFrame({"leads": [1.0]}).lazy(), "lazy"),
        ({"leads": np.array([1.0])}, "mapping"),
        ([1.0], None),
        (np.array([1.0]), None),
    ],
)
def test_table_kind_names_the_library(data: object, kind: str | None) -> None:
    """Each table is told apart by its library (eager or lazy); other data has no kind."""
    assert table_kind(data) == kind


def test_a_series_is_not_a_table_of_leaf_columns() -> None:
    """evaluate_frame refuses a pandas Series (one row of values) with the usual message."""
    with pytest.raises(kt.ValueTypeError, match="expected a table of leaf columns, got Series"):
        evaluate_frame(sales_revenue(), pd.Series({"managers": 5.0}))


def test_input_is_not_changed_and_other_columns_are_kept() -> None:
    """evaluate_frame returns a new frame; the input keeps its columns, others pass through."""
    df = pd.DataFrame({"segment": ["a", "b"], "leads": [10, 20], "ql": [5, 5]})
    out = conversion_tree().evaluate_frame(df, ["conv"])
    assert list(df.columns) == ["segment", "leads", "ql"]
    assert list(out.columns) == ["segment", "leads", "ql", "conv"]
    assert out["conv"].tolist() == [0.5, 0.25]


def test_requested_metrics_only_and_user_columns_survive() -> None:
    """Only requested metrics are added; a user column named like an intermediate is kept."""
    data = {"leads": [10.0, 4.0], "ql": [5.0, 1.0], "conv": [-1.0, -1.0]}
    for frame in (pd.DataFrame(data), pl.DataFrame(data)):
        out = conversion_tree().evaluate_frame(frame, "inverse")
        assert list(out.columns) == ["leads", "ql", "conv", "inverse"]
        assert list(out["conv"]) == [-1.0, -1.0]
        assert list(out["inverse"]) == [2.0, 4.0]


def test_a_column_named_like_a_requested_metric_is_replaced() -> None:
    """Metrics are computed, never read: a stale metric column is overwritten in place."""
    df = pd.DataFrame({"conv": [9.0], "leads": [10.0], "ql": [5.0]})
    out = conversion_tree().evaluate_frame(df, ["conv"])
    assert list(out.columns) == ["conv", "leads", "ql"]
    assert out["conv"].tolist() == [0.5]


def test_missing_leaves_take_defaults_only_when_asked() -> None:
    """A leaf without a column is an error; defaults=True fills its model value, warning.

    A leaf no requested metric needs may lack both a column and a value.
    """
    frame = pd.DataFrame({"managers": [1, 2]})
    with pytest.raises(kt.MissingValueError, match="`calls_per_day`, `working_days`"):
        sales_revenue().evaluate_frame(frame, ["calls"])
    with pytest.warns(kt.DefaultsWarning, match="`calls_per_day` = 40.0, `working_days` = 22.0"):
        out = sales_revenue().evaluate_frame(frame, ["calls"], defaults=True)
    assert out["calls"].tolist() == [1 * 40 * 22, 2 * 40 * 22]
    lone = kt.KPI("lone", owner="x", horizon="1 day")
    tree = kt.Tree(
        kt.Metric("double", kt.KPI("a", owner="x", horizon="1 day") * 2),
        kt.Metric("other", lone * 1),
    )
    assert tree.evaluate_frame({"a": np.array([1.0, 3.0])}, ["double"])["double"].tolist() == [
        2.0,
        6.0,
    ]


def test_polars_nulls_and_nan_are_missing_values() -> None:
    """In polars a null or NaN leaf gives NaN for every metric depending on it, min/max too."""
    a = kt.KPI("a", owner="x", horizon="1 day")
    b = kt.KPI("b", owner="x", horizon="1 day")
    tree = kt.Tree(kt.Metric("low", kt.min(a, b)), kt.Metric("high", kt.max(a, 1)))
    df = pl.DataFrame({"a": [None, 2.0, NAN], "b": [1.0, None, 3.0]})
    out = tree.evaluate_frame(df)
    low, high = out["low"].to_list(), out["high"].to_list()
    assert math.isnan(low[0]) and math.isnan(low[1]) and math.isnan(low[2])
    assert math.isnan(high[0]) and high[1] == 2.0 and math.isnan(high[2])
    assert out["low"].null_count() == 0  # undefined is NaN, as in every frame


def test_lazy_frames_are_built_from_polars_expressions() -> None:
    """A LazyFrame's plan is polars expressions only: no Python function per batch."""
    lazy = pl.DataFrame({"leads": [10.0], "ql": [5.0]}).lazy()
    plan_text = conversion_tree().evaluate_frame(lazy).explain()
    assert "python" not in plan_text.lower() and "map" not in plan_text.lower()


def test_integer_and_nullable_columns() -> None:
    """Integer and nullable pandas columns are read as floats; pd.NA is a missing value."""
    df = pd.DataFrame({"leads": pd.array([4, None], dtype="Int64"), "ql": [1, 1]})
    out = conversion_tree().evaluate_frame(df, ["conv"])
    assert out["conv"].iloc[0] == 0.25 and math.isnan(out["conv"].iloc[1])


@pytest.mark.parametrize(
    ("data", "metrics", "error", "words"),
    [
        ({"leads": [1.0]}, None, kt.MissingValueError, "`ql`"),
        ({"leads": ["a"], "ql": [1.0]}, None, kt.ValueTypeError, "column `leads` holds"),
        ({"leads": [True], "ql": [1.0]}, None, kt.ValueTypeError, "must hold numbers"),
        ({"leads": [1.0], "ql": [1.0]}, ["cnv"], kt.UnknownNameError, "did you mean `conv`"),
        ({"leads": [1.0], "ql": [1.0]}, ["leads"], kt.KindError, "is a leaf"),
        ([1, 2], None, kt.ValueTypeError, "expected a table of leaf columns"),
    ],
)
def test_bad_input(data: object, metrics: object, error: type, words: str) -> None:
    """Missing leaves, text columns, unknown metrics and non-tables raise clear errors."""
    frame = pd.DataFrame(data) if isinstance(data, dict) else data
    with pytest.raises(error, match=words):
        evaluate_frame(conversion_tree(), frame, metrics)  # type: ignore[arg-type]
    if isinstance(data, dict):
        with pytest.raises(error, match=words):
            evaluate_frame(conversion_tree(), pl.DataFrame(data), metrics)  # type: ignore[arg-type]


def test_plan_layers_follow_levels() -> None:
    """A metric sits one level above the highest node it uses; intermediates are listed."""
    steps = plan(conversion_tree(), ["inverse"])
    assert steps.layers == (("conv",), ("inverse",))
    assert steps.intermediate == ("conv",)
    assert steps.leaves == ("ql", "leads")  # tree order: as conv uses them


# -- rollups ------------------------------------------------------------------------------


def funnel() -> kt.Tree:
    """leads and ql (counts, summed), a rate weighted by leads, and the conversion metric."""
    leads = kt.KPI("leads", owner="marketing", horizon="1 day", unit="lead")
    ql = kt.KPI("ql", owner="sales", horizon="1 day", unit="lead")
    rate = kt.KPI("show_rate", owner="sales", horizon="1 day", unit="%", aggregate="weighted:leads")
    conv = kt.Metric("conv", ql / leads, unit="%")
    shows = kt.Metric("shows", leads * rate, unit="lead")
    return kt.Tree(conv, shows)


WEEKS = {
    "week": [1, 1, 1, 2, 2],
    "leads": [100.0, 300.0, 10.0, 50.0, 0.0],
    "ql": [90.0, 30.0, 5.0, 40.0, 0.0],
    "show_rate": [0.5, 0.1, 0.9, 0.2, 0.7],
}


def test_rolled_up_conversion_is_a_ratio_of_sums() -> None:
    """The rolled-up conversion is Σql / Σleads per week, not the mean of the rows' conversions."""
    out = funnel().rollup(pd.DataFrame(WEEKS), by=["week"])
    week1 = out[out["week"] == 1].iloc[0]
    assert week1["conv"] == pytest.approx((90 + 30 + 5) / (100 + 300 + 10), rel=1e-15)
    assert week1["conv"] != pytest.approx((0.9 + 0.1 + 0.5) / 3, rel=1e-3)
    # a rate weighted by leads rolls up so that leads × rate = the shows of the rows
    assert week1["shows"] == pytest.approx(100 * 0.5 + 300 * 0.1 + 10 * 0.9, rel=1e-14)
    week2 = out[out["week"] == 2].iloc[0]
    assert week2["show_rate"] == pytest.approx(0.2) and week2["conv"] == pytest.approx(0.8)


def rollup_reference(
    data: Mapping[str, list[float]], key: str, ways: Mapping[str, str]
) -> dict[float, dict[str, float]]:
    """Aggregate with plain Python loops: the independent expectation for rollups."""
    groups: dict[float, list[int]] = {}
    for i, k in enumerate(data[key]):
        groups.setdefault(k, []).append(i)
    out = {}
    for k, rows in groups.items():
        agg = {}
        for name, how in ways.items():
            vals = [data[name][i] for i in rows if math.isfinite(data[name][i])]
            if how.startswith("weighted:"):
                w = how.split(":")[1]
                pairs = [
                    (data[name][i], data[w][i])
                    for i in rows
                    if math.isfinite(data[name][i]) and math.isfinite(data[w][i])
                ]
                total = sum(p[1] for p in pairs)
                agg[name] = sum(x * y for x, y in pairs) / total if pairs and total else NAN
            elif not vals:
                agg[name] = NAN
            else:
                agg[name] = {
                    "sum": sum,
                    "mean": lambda v: sum(v) / len(v),
                    "min": min,
                    "max": max,
                    "last": lambda v: v[-1],
                }[how](vals)
        out[k] = agg
    return out


def every_aggregate() -> kt.Tree:
    """One leaf per kind of aggregation, all used by one metric."""
    kinds = {"s": "sum", "a": "mean", "lo": "min", "hi": "max", "z": "last", "r": "weighted:s"}
    leaves = [kt.KPI(n, owner="x", horizon="1 day", aggregate=how) for n, how in kinds.items()]
    return kt.Tree(
        kt.Metric("total", leaves[0] + leaves[1] + leaves[2] * leaves[3] + leaves[4] + leaves[5])
    )


AGG_LEAVES = ("s", "a", "lo", "hi", "z", "r")
AGG_CELLS = st.one_of(st.just(NAN), st.just(0.0), st.floats(-10, 10, allow_nan=False))


@given(
    st.integers(1, 12).flatmap(
        lambda n: st.fixed_dictionaries(
            {
                "g": st.lists(st.sampled_from([1.0, 2.0, 3.0]), min_size=n, max_size=n),
                **{c: st.lists(AGG_CELLS, min_size=n, max_size=n) for c in AGG_LEAVES},
            }
        )
    )
)
def test_rollup_aggregates_like_the_reference_on_every_backend(data: dict) -> None:
    """Every aggregation matches Python loops, skipping missing values, on every frame kind."""
    tree = every_aggregate()
    ways = {n: str(a) for n, a in aggregations(tree).items()}
    want = rollup_reference(data, "g", ways)
    results = [
        rollup(tree, pd.DataFrame(data), ["g"]),
        rollup(tree, pl.DataFrame(data), ["g"]).to_pandas(),
        rollup(tree, pl.DataFrame(data).lazy(), ["g"]).collect().to_pandas(),
        pd.DataFrame(rollup(tree, {k: np.array(v) for k, v in data.items()}, ["g"])),
    ]
    for out in results:
        assert out["g"].tolist() == sorted(want)
        for _, row in out.iterrows():
            expected = want[row["g"]]
            for name, value in expected.items():
                if math.isnan(value):
                    assert math.isnan(row[name]), name
                else:
                    assert row[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name
            recomputed = expected_rows(tree, [expected])[0]["total"]
            assert (math.isnan(recomputed) and math.isnan(row["total"])) or row[
                "total"
            ] == pytest.approx(recomputed, rel=1e-12, abs=1e-12)


def test_rollup_to_one_total_row_and_order_by() -> None:
    """by=[] gives one total row; `last` follows order_by when it is given."""
    tree = every_aggregate()
    data = pd.DataFrame({"day": [3, 1, 2], **{c: [1.0, 2.0, 3.0] for c in AGG_LEAVES}})
    out = tree.rollup(data, by=[], order_by="day")
    assert len(out) == 1
    assert out["z"].iloc[0] == 1.0  # day 3 is the last day
    assert out["s"].iloc[0] == 6.0 and out["a"].iloc[0] == 2.0


@pytest.mark.parametrize(
    ("leaf", "error", "words"),
    [
        (kt.KPI("rate", owner="x", horizon="1 day", unit="%"), kt.UnitError, "weighted:<leaf>"),
        (kt.KPI("rate", owner="x", horizon="1 day"), kt.UnitError, "has no unit"),
        (
            kt.KPI("rate", owner="x", horizon="1 day", unit="purchase/call"),
            kt.UnitError,
            "is a rate",
        ),
        (
            kt.KPI("rate", owner="x", horizon="1 day", aggregate="weighted:lead"),
            kt.UnknownNameError,
            "did you mean `leads`",
        ),
    ],
)
def test_rates_need_a_declared_aggregation(leaf: kt.KPI, error: type, words: str) -> None:
    """A rate or a unitless leaf without `aggregate` is refused, saying to declare a weight."""
    leads = kt.KPI("leads", owner="x", horizon="1 day", unit="lead")
    tree = kt.Tree(kt.Metric("m", leads * leaf))
    with pytest.raises(error, match=words):
        tree.rollup(pd.DataFrame({"g": [1], "leads": [1.0], "rate": [0.5]}), by="g")


@pytest.mark.parametrize(
    ("by", "error", "words"),
    [
        (["segmnt"], kt.UnknownNameError, "did you mean `segment`"),
        (["leads"], kt.ArgumentError, "is a kpi of the tree"),
        ([1], kt.ArgumentError, "column names"),
    ],
)
def test_bad_group_columns(by: list, error: type, words: str) -> None:
    """Grouping by an unknown column, a leaf, or a non-name is refused clearly."""
    data = pd.DataFrame({"segment": ["a"], "leads": [1.0], "ql": [1.0], "show_rate": [0.5]})
    with pytest.raises(error, match=words):
        funnel().rollup(data, by=by)


def test_missing_weight_column_is_named() -> None:
    """A weighted leaf whose weight has no column cannot be rolled up: the weight is named."""
    tree = kt.Tree(
        kt.Metric("m", kt.KPI("r", owner="x", horizon="1 day", aggregate="weighted:w") * 2),
        kt.Metric("w_total", kt.KPI("w", owner="x", horizon="1 day", value=1, unit="lead") * 1),
    )
    with pytest.raises(kt.MissingValueError, match="weight `w`"):
        tree.rollup(pd.DataFrame({"g": [1], "r": [0.5]}), by="g", metrics=["m"])


def test_a_power_of_a_constant_metric_is_undefined_not_a_crash() -> None:
    """`z ** -1` with `z = 0` is undefined over columns, as it is for one row."""
    x = kt.Input("x", value=2)
    zero = kt.Metric("z", kt.parse_formula("0"))
    tree = kt.Tree(zero, kt.Metric("m", kt.parse_formula("z ** -1 + x")), x)
    assert math.isnan(tree.evaluate(undefined="nan")["m"])
    out = tree.evaluate_frame({"x": np.array([1.0, 2.0])})
    assert np.isnan(out["m"]).all() and (out["z"] == 0).all()

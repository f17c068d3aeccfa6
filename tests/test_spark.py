"""Spark: the tree applied by Spark SQL in local mode equals evaluate_frame on the same data.

One local Spark session (`spark` in conftest.py) serves every Spark test, since starting
one takes seconds. Deselect with `-m "not spark"`; skipped when pyspark or Java is missing.
"""

import math
import shutil
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_frames import (
    AGG_CELLS,
    AGG_LEAVES,
    WEEKS,
    every_aggregate,
    funnel,
    rollup_reference,
    tree_and_rows,
)
from test_undefined import FORMULAS, ROWS, _reference, _same, _tree

import kpitree as kt
from kpitree.backends.frames import aggregations, evaluate_frame
from kpitree.examples import qualified_leads_ru, sales_revenue

pyspark = pytest.importorskip("pyspark")

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java"),
    # pyspark warns that it has not caught up with pandas 3; kpitree does not use that path.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]


def spark_frame(spark: Any, columns: dict[str, Any]) -> Any:
    """A Spark DataFrame of DOUBLE columns; NaN becomes NULL, as it would in a warehouse."""
    from pyspark.sql.types import DoubleType, StructField, StructType

    names = list(columns)
    rows = [
        tuple(None if math.isnan(v) else float(v) for v in values)
        for values in zip(*(columns[n] for n in names), strict=True)
    ]
    schema = StructType([StructField(n, DoubleType()) for n in names])
    return spark.createDataFrame(rows, schema)


def collected(frame: Any) -> dict[str, list[float]]:
    """A Spark DataFrame's columns as lists, NULL as NaN."""
    rows = frame.collect()
    return {
        name: [math.nan if r[name] is None else float(r[name]) for r in rows]
        for name in frame.columns
    }


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree_and_rows())
def test_spark_equals_evaluate_frame(spark: Any, case: tuple) -> None:
    """On random trees and rows with zeros and missing values, Spark equals evaluate_frame."""
    from kpitree.spark import evaluate

    tree, rows = case
    columns = {leaf.name: np.array([r[leaf.name] for r in rows]) for leaf in tree.leaves}
    want = evaluate_frame(tree, columns)
    got = collected(evaluate(tree, spark_frame(spark, columns)))
    for metric in tree.metrics:
        for value, expected in zip(got[metric.name], want[metric.name], strict=True):
            if math.isnan(expected):
                assert math.isnan(value), metric.name
            else:
                assert value == pytest.approx(expected, rel=1e-12, abs=1e-300), metric.name


def test_spark_requested_metrics_defaults_and_cyrillic(spark: Any) -> None:
    """Only requested metrics are added, missing leaves take defaults when asked, Russian works."""
    from kpitree.spark import evaluate

    frame = spark_frame(spark, {"managers": [1.0, 0.0], "calls": [-1.0, -1.0]})
    with pytest.warns(kt.DefaultsWarning, match="`calls_per_day` = 40.0"):
        out = evaluate(sales_revenue(), frame, ["revenue"], defaults=True)
    assert out.columns == ["managers", "calls", "revenue"]
    got = collected(out)
    assert got["calls"] == [-1.0, -1.0]  # the user's column, not the intermediate metric
    assert got["revenue"] == [1 * 40 * 22 * 0.05 * 12000, 0.0]
    with pytest.warns(kt.DefaultsWarning):
        ru = evaluate(qualified_leads_ru(), spark_frame(spark, {"лиды": [10.0]}), defaults=True)
    assert collected(ru)["квал_лиды"] == pytest.approx([8.0])


def test_spark_refuses_text_leaf_columns(spark: Any) -> None:
    """A leaf column of strings is refused before Spark runs anything."""
    from kpitree.spark import evaluate

    frame = spark.createDataFrame(pd.DataFrame({"leads": ["many"], "lead_to_ql": [0.8]}))
    with pytest.raises(kt.ValueTypeError, match="column `leads` holds string"):
        evaluate(kt.examples.qualified_leads(), frame)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(FORMULAS, FORMULAS, ROWS)
def test_spark_follows_the_undefined_rule_on_nested_formulas(
    spark: Any, first: Any, second: Any, rows: list[dict[str, float]]
) -> None:
    """Nested random formulas (tests/test_undefined.py): Spark gives the rule's value or NULL."""
    from kpitree.spark import evaluate

    tree = _tree(first, second)
    assume(tree is not None and bool(tree.leaves))
    assert tree is not None
    leaves = [leaf.name for leaf in tree.leaves]
    rows = [{k: row[k] for k in leaves} for row in rows]
    want = [_reference(tree, row) for row in rows]
    columns = {"row_": [float(i) for i in range(len(rows))]}
    columns.update({n: [row[n] for row in rows] for n in leaves})
    got = evaluate(tree, spark_frame(spark, columns)).orderBy("row_").collect()
    for i, record in enumerate(got):
        for name in ("m", "n"):
            assert _same(record[name], want[i][name]), (name, tree[name], rows[i], record[name])


# -- rollups in Spark ---------------------------------------------------------------------------


def test_spark_rollup_is_a_ratio_of_sums_like_pandas(spark: Any) -> None:
    """The Spark rollup gives the pandas rollup's numbers: conversion = Σql / Σleads per week."""
    from kpitree.spark import rollup

    data = pd.DataFrame(WEEKS)
    frame = spark_frame(spark, {k: [float(v) for v in vs] for k, vs in WEEKS.items()})
    got = collected(rollup(funnel(), frame, by="week"))
    want = funnel().rollup(data, by="week")
    assert got["week"] == [1.0, 2.0]
    assert got["conv"][0] == pytest.approx(125 / 410, rel=1e-15)
    for name in want.columns:
        assert got[name] == pytest.approx(want[name].tolist(), rel=1e-12, nan_ok=True), name
    total = collected(rollup(funnel(), frame, by=[], metrics="conv"))
    assert list(total) == ["ql", "leads", "conv"]
    assert total["conv"] == pytest.approx([165 / 460], rel=1e-15)


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.integers(1, 10).flatmap(
        lambda n: st.fixed_dictionaries(
            {
                "g": st.lists(st.sampled_from([1.0, 2.0, 3.0]), min_size=n, max_size=n),
                "day": st.permutations([float(i) for i in range(n)]),
                **{c: st.lists(AGG_CELLS, min_size=n, max_size=n) for c in AGG_LEAVES},
            }
        )
    )
)
def test_spark_rollup_equals_the_reference(spark: Any, data: dict) -> None:
    """Every declared aggregation (sum, mean, min, max, last, weighted) equals the reference."""
    from kpitree.spark import rollup

    tree = every_aggregate()
    order = np.argsort(data["day"], kind="stable")
    ordered = {k: [v[i] for i in order] for k, v in data.items()}
    want = rollup_reference(ordered, "g", {n: str(a) for n, a in aggregations(tree).items()})
    got = rollup(tree, spark_frame(spark, data), by="g", order_by="day").collect()
    assert [r["g"] for r in got] == sorted(want)
    for record in got:
        for name, value in want[record["g"]].items():
            if math.isnan(value):
                assert record[name] is None, name
            else:
                assert record[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


def test_spark_rollup_refuses_what_it_cannot_do(spark: Any) -> None:
    """Not a Spark frame, a text leaf, a missing group column, `last` without an order."""
    from kpitree.spark import rollup

    with pytest.raises(kt.ValueTypeError, match="must be a Spark DataFrame"):
        rollup(funnel(), pd.DataFrame(WEEKS), by="week")
    text = spark.createDataFrame([("w1", "many", 1.0, 0.5)], ["week", "leads", "ql", "show_rate"])
    with pytest.raises(kt.ValueTypeError, match="column `leads` holds string"):
        rollup(funnel(), text, by="week")
    frame = spark_frame(spark, {k: [float(v) for v in vs] for k, vs in WEEKS.items()})
    with pytest.raises(kt.UnknownNameError, match="month"):
        rollup(funnel(), frame, by="month")
    numbers = spark_frame(spark, {"g": [1.0], "day": [0.0], **{c: [1.0] for c in AGG_LEAVES}})
    with pytest.raises(kt.ArgumentError, match="order_by"):
        rollup(every_aggregate(), numbers, by="g")
    assert not [t for t in spark.catalog.listTables() if t.name.startswith("_kpitree_view")]

"""Spark: the tree applied by Spark SQL in local mode equals evaluate_frame on the same data.

One local Spark session serves the whole module (starting one takes seconds). Deselect
with `-m "not spark"`; skipped when pyspark or Java is missing.
"""

import math
import shutil
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from test_frames import tree_and_rows

import kpitree as kt
from kpitree.backends.frames import evaluate_frame
from kpitree.examples import qualified_leads_ru, sales_revenue

pyspark = pytest.importorskip("pyspark")

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java"),
    # pyspark warns that it has not caught up with pandas 3; kpitree does not use that path.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One small local Spark session for every test in this module."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("kpitree-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


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

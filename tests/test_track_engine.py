"""track in DuckDB (and in Spark, tests marked `spark`) equals track on pandas on the same rows."""

import math
import shutil
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_track import two_regions

import kpitree as kt
from kpitree.examples import daily_year, qualified_leads, qualified_leads_ru


def metric_norm_tree() -> kt.Tree:
    """Norms on a leaf (a range), on a metric (a ratio, may be undefined) and an upper limit."""
    leads = kt.KPI("leads", owner="marketing", horizon="1 day", unit="lead", norm="10..90")
    ql = kt.KPI("ql", owner="sales", horizon="1 day", unit="lead", norm="<= 900")
    conv = kt.Metric("conv", ql / leads, unit="%", norm=">= 0.8")
    return kt.Tree(conv)


def same(pandas_track: Any, engine_track: Any, *, text: bool = True) -> None:
    """Breaches, streaks, the text and the plain data of two tracks are identical."""
    assert engine_track.to_dict() == pandas_track.to_dict()
    if text:
        assert str(engine_track) == str(pandas_track)
    for name in ("breaches", "streaks"):
        want = getattr(pandas_track, name)
        got = getattr(engine_track, name)
        assert list(got.columns) == list(want.columns)
        assert len(got) == len(want)
        for column in want.columns:
            left, right = want[column].tolist(), got[column].tolist()
            for a, b in zip(left, right, strict=True):
                if isinstance(a, float) and math.isnan(a):
                    assert isinstance(b, float) and math.isnan(b), column
                else:
                    assert a == b, (name, column, a, b)


def random_rows(segments: int, periods: int, seed: int) -> pd.DataFrame:
    """Weekly rows per segment, shuffled; some rates missing, some leads infinite."""
    rng = np.random.default_rng(seed)
    rows = segments * periods
    rate = rng.uniform(0.6, 1.0, rows)
    rate[rng.random(rows) < 0.1] = np.nan
    leads = rng.integers(0, 100, rows).astype(float)
    leads[rng.random(rows) < 0.05] = np.inf
    return pd.DataFrame(
        {
            "date": np.tile(np.arange(periods), segments) * 7,
            "segment": np.repeat([f"s{i}" for i in range(segments)], periods),
            "leads": leads,
            "lead_to_ql": rate,
            "response_minutes": rng.uniform(0, 30, rows),
        }
    ).sample(frac=1.0, random_state=seed)


@settings(max_examples=40, deadline=None)
@given(segments=st.integers(1, 4), periods=st.integers(0, 9), seed=st.integers(0, 2**16))
def test_duckdb_equals_pandas_on_random_segments(segments: int, periods: int, seed: int) -> None:
    """Random segments, undefined and infinite values: DuckDB's track is pandas' track."""
    data = random_rows(segments, periods, seed)
    tree = qualified_leads()
    same(tree.track(data, by="segment"), tree.track(data, by="segment", engine="duckdb"))
    ratio = metric_norm_tree()
    with_ql = data.assign(ql=np.round(data["leads"].to_numpy() * data["lead_to_ql"].to_numpy()))
    same(ratio.track(with_ql, by="segment"), ratio.track(with_ql, by="segment", engine="duckdb"))


def test_duckdb_equals_pandas_on_the_daily_year() -> None:
    """The bundled year (dates, four standards, three bad weeks): same breaches and streaks."""
    year = daily_year()
    tree = qualified_leads()
    want = tree.track(year)
    got = tree.track(year, engine="duckdb")
    same(want, got)
    assert len(got.breaches) > 0
    assert got.per_period["rows"].sum() == len(year)
    assert got.per_period["below"].sum() == len(want.breaches)


def test_polars_two_segment_columns_and_russian_names() -> None:
    """Polars input, text periods, two segment columns and Cyrillic names, in DuckDB."""
    data = two_regions().assign(team=["a"] * 5 + ["b"] * 5)
    tree = qualified_leads()
    frame = pl.from_pandas(data)
    same(
        tree.track(frame, by=["region", "team"]),
        tree.track(frame, by=["region", "team"], engine="duckdb"),
    )
    ru = pd.DataFrame(
        {"дата": ["2026-10-01", "2026-10-02"], "лиды": [100, 100], "конверсия_в_квал": [0.7, 0.9]}
    )
    tree_ru = qualified_leads_ru()
    same(tree_ru.track(ru, period="дата"), tree_ru.track(ru, period="дата", engine="duckdb"))


def test_empty_segments_and_polars_dates() -> None:
    """A segment that is NULL is one segment, as on pandas; polars dates, eager or lazy."""
    tree = qualified_leads()
    data = pd.DataFrame(
        {
            "date": [1, 2, 3] * 2,
            "seg": ["a"] * 3 + [None] * 3,
            "leads": [1.0] * 6,
            "lead_to_ql": [0.7, 0.9, 0.7, 0.7, 0.7, 0.9],
        }
    )
    same(tree.track(data, by="seg"), tree.track(data, by="seg", engine="duckdb"))
    dates = pl.DataFrame(
        {
            "date": pl.date_range(pl.date(2026, 1, 1), pl.date(2026, 1, 4), eager=True),
            "leads": [1.0] * 4,
            "lead_to_ql": [0.7, 0.9, 0.7, 0.7],
        }
    )
    same(tree.track(dates), tree.track(dates.lazy(), engine="duckdb"))


def test_what_comes_back_is_only_the_rows_below_norm() -> None:
    """Rows that meet every norm stay in the engine; what needs them says so."""
    t = qualified_leads().track(two_regions(), by="region", engine="duckdb")
    below = {(r["date"], r["region"]) for r in t.breaches.to_dict("records")}
    last = {("2026-10-05", "north"), ("2026-10-05", "south")}
    assert len(t.checks[0].values) == len(below | last) == 5
    assert t.per_period["rows"].tolist() == [2] * 5
    assert t.periods == two_regions()["date"].unique().tolist()
    for call in (t.to_frame, lambda: t.status, lambda: t.series("leads")):
        with pytest.raises(kt.ArgumentError, match="only the rows below a norm came back"):
            call()


def test_the_period_checks_run_in_the_engine() -> None:
    """Duplicates, gaps, empty periods and mixed types are refused in the engine path too."""
    tree = qualified_leads()
    data = two_regions()
    data.loc[7, "date"] = "2026-10-02"
    with pytest.raises(kt.ArgumentError, match="date=2026-10-02, region=south in 2 rows"):
        tree.track(data, by="region", engine="duckdb")
    with pytest.raises(kt.MissingValueError) as caught:
        tree.track(two_regions().drop(index=[2, 3]), by="region", engine="duckdb")
    assert "2 periods are missing in column `date`" in str(caught.value)
    assert "2026-10-03 (region=north), 2026-10-04 (region=north)" in str(caught.value)
    labels = pd.DataFrame(
        {
            "q": ["Q1", "Q2", "Q3", "Q1", "Q3"],
            "r": list("nnnss"),
            "leads": [1] * 5,
            "lead_to_ql": [0.9] * 5,
        }
    )
    with pytest.raises(kt.MissingValueError, match=r"Q2 \(r=s\)"):
        tree.track(labels, period="q", by="r", engine="duckdb")
    months = pd.DataFrame(
        {"date": ["2026-01", "2026-02", "2026-04"], "leads": [1] * 3, "lead_to_ql": [0.9] * 3}
    )
    with pytest.raises(kt.MissingValueError, match="a period is missing in column `date`: 2026-03"):
        tree.track(months, engine="duckdb")
    empty = pd.DataFrame({"date": [1, None, 3], "leads": [1] * 3, "lead_to_ql": [0.9] * 3})
    with pytest.raises(kt.MissingValueError, match="`date` is empty in a row"):
        tree.track(empty, engine="duckdb")
    mixed = pd.DataFrame({"date": [1, "2026-10-02", 3], "leads": [1] * 3, "lead_to_ql": [0.9] * 3})
    with pytest.raises(kt.ValueTypeError, match="mixes types"):
        tree.track(mixed, engine="duckdb")


def test_engine_arguments_are_checked() -> None:
    """An unknown engine, a plan, a text leaf, a Spark engine for pandas rows: clear errors."""
    tree = qualified_leads()
    data = two_regions()
    with pytest.raises(kt.UnknownNameError, match="did you mean `duckdb`"):
        tree.track(data, engine="duck")
    with pytest.raises(kt.ArgumentError, match="a plan is compared"):
        tree.track(data, by="region", engine="duckdb", plan=data[["date", "leads"]])
    with pytest.raises(kt.ValueTypeError, match="engine='spark' tracks a Spark DataFrame"):
        tree.track(data, engine="spark")
    with pytest.raises(kt.ValueTypeError, match="column `leads` holds"):
        tree.track(data.assign(leads="many"), by="region", engine="duckdb")
    with pytest.raises(kt.UnknownNameError, match="no column `week`"):
        tree.track(data, period="week", engine="duckdb")


# -- Spark ----------------------------------------------------------------------------------


def spark_rows(spark: Any, data: pd.DataFrame) -> Any:
    """A Spark DataFrame of the rows: numbers as DOUBLE (NaN as NULL), the rest as text."""
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    numbers = [c for c in data.columns if pd.api.types.is_numeric_dtype(data[c])]
    schema = StructType(
        [StructField(c, DoubleType() if c in numbers else StringType()) for c in data.columns]
    )
    rows = [
        tuple(
            (None if math.isnan(v) else float(v)) if c in numbers else str(v)
            for c, v in zip(data.columns, record, strict=True)
        )
        for record in data.itertuples(index=False)
    ]
    return spark.createDataFrame(rows, schema)


@pytest.mark.spark
@pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java")
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_spark_equals_pandas_on_the_daily_year(spark: Any) -> None:
    """The year in Spark (tracked there by default), dates as timestamps or text: as pandas."""
    pytest.importorskip("pyspark")
    year = daily_year()
    tree = qualified_leads()
    stamps = tree.track(spark.createDataFrame(year))  # periods as Spark TIMESTAMPs
    assert stamps.engine == "spark"
    same(tree.track(year), stamps)
    year = year.assign(date=year["date"].dt.strftime("%Y-%m-%d"))
    same(tree.track(year), tree.track(spark_rows(spark, year)))
    assert not [t for t in spark.catalog.listTables() if t.name.startswith("_kpitree")]


@pytest.mark.spark
@pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java")
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(segments=st.integers(1, 3), periods=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_spark_equals_pandas_on_random_segments(
    spark: Any, segments: int, periods: int, seed: int
) -> None:
    """Random segments and undefined values: Spark's track is pandas' track."""
    data = random_rows(segments, periods, seed)
    tree = qualified_leads()
    same(tree.track(data, by="segment"), tree.track(spark_rows(spark, data), by="segment"))


@pytest.mark.spark
@pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java")
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_spark_period_checks(spark: Any) -> None:
    """Duplicates and gaps are refused in Spark as in DuckDB."""
    tree = qualified_leads()
    data = two_regions()
    data.loc[7, "date"] = "2026-10-02"
    with pytest.raises(kt.ArgumentError, match="date=2026-10-02, region=south in 2 rows"):
        tree.track(spark_rows(spark, data), by="region")
    with pytest.raises(kt.MissingValueError, match="2026-10-03 \\(region=north\\)"):
        tree.track(spark_rows(spark, two_regions().drop(index=[2, 3])), by="region")
    with pytest.raises(kt.ValueTypeError, match="engine='duckdb' tracks a pandas"):
        tree.track(spark_rows(spark, data), engine="duckdb")

"""Attribution over many periods: `tree.attribute_series`, its checks and its displays."""

from __future__ import annotations

import json
import math
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import kpitree as kt
from kpitree.analyses.attribution import METHODS, AttributionSeries, attribute_frame
from kpitree.display.html import attribution_series_html
from kpitree.display.plots import plot_attribution_series
from kpitree.examples import qualified_leads
from kpitree.testing import trees

matplotlib.use("Agg")

MONTHS = ["2024-01", "2024-02", "2024-03", "2024-04"]


def _months(rows: int = 4, *, seed: int = 0) -> pd.DataFrame:
    """Monthly leads and conversion of the seed tree, one row per month."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "month": [str(p) for p in pd.period_range("2024-01", periods=rows, freq="M")],
            "leads": rng.integers(800, 1200, rows).astype(float),
            "lead_to_ql": rng.uniform(0.6, 0.9, rows),
        }
    )


def _channels(rows: int = 4, channels: int = 3, *, seed: int = 0) -> pd.DataFrame:
    """Monthly leads and conversion per channel (a segment column)."""
    rng = np.random.default_rng(seed)
    months = [str(p) for p in pd.period_range("2024-01", periods=rows, freq="M")]
    return pd.DataFrame(
        {
            "month": np.repeat(months, channels),
            "channel": np.tile([f"c{i}" for i in range(channels)], rows),
            "leads": rng.integers(100, 900, rows * channels).astype(float),
            "lead_to_ql": rng.uniform(0.5, 0.95, rows * channels),
        }
    )


def _scale(series: AttributionSeries) -> float:
    return max(abs(v) for v in series.values)


def _close(total: float, parts: Any, scale: float) -> bool:
    """The safety rule: sums agree to 1e-9 of the largest value of the series."""
    return abs(math.fsum(parts) - total) <= 1e-9 * max(scale, 1e-300)


# -- worked example and agreement with attribute ---------------------------------------------


def test_worked_example_by_step_and_owner() -> None:
    """800 → 770 → 825: marketing +75 then 0; sales −105 then +55; total +25 = 825 − 800."""
    df = pd.DataFrame(
        {"month": MONTHS[:3], "leads": [1000, 1100, 1100], "lead_to_ql": [0.8, 0.7, 0.75]}
    )
    series = qualified_leads().attribute_series("qualified_leads", df)
    assert series.steps == (("2024-01", "2024-02"), ("2024-02", "2024-03"))
    assert series.values == pytest.approx((800, 770, 825))
    assert series.changes == pytest.approx((-30, 55))
    assert [dict(s) for s in series.by_owner] == [
        pytest.approx({"marketing": 75, "sales": -105}),
        pytest.approx({"marketing": 0, "sales": 55}),
    ]
    assert dict(series.total_by_owner) == pytest.approx({"marketing": 75, "sales": -50})
    assert series.total == pytest.approx(25)
    assert len(series) == 2


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_each_step_equals_attribute_on_its_two_periods(method: str, library: str) -> None:
    """Step t is exactly tree.attribute(rows t−1, t) under every method, pandas and polars."""
    df = _months(6, seed=3)
    data = df if library == "pandas" else pl.from_pandas(df)
    tree = qualified_leads()
    order = ["leads", "lead_to_ql"] if method == "sequential" else None
    series = tree.attribute_series("qualified_leads", data, method=method, order=order)
    assert series.method == method
    for i, (before, after) in enumerate(series.steps):
        low, high = (df.set_index("month").loc[p].to_dict() for p in (before, after))
        one = tree.attribute("qualified_leads", low, high, method=method, order=order)
        assert series.changes[i] == pytest.approx(one.total, rel=1e-12)
        for leaf, value in one.contributions.items():
            assert series.contributions[i][leaf] == pytest.approx(value, rel=1e-9, abs=1e-9)
        assert dict(series.by_owner[i]) == pytest.approx(dict(one.by_owner), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("method", ["shapley", "lmdi", "hierarchical"])
def test_segments_are_attributed_per_segment_and_summed(method: str) -> None:
    """With by=, a step is the sum of attribute_frame's rows for the same two periods."""
    df = _channels(5, 4, seed=2)
    tree = qualified_leads()
    series = tree.attribute_series("qualified_leads", df, by="channel", method=method)
    assert series.segments == 4
    assert series.by == ("channel",)
    for i, (before, after) in enumerate(series.steps):
        frame = attribute_frame(
            tree, df, "qualified_leads", period="month", before=before, after=after,
            by=["channel"], method=method,
        )  # fmt: skip
        assert series.changes[i] == pytest.approx(frame["qualified_leads_change"].sum())
        for leaf in ("leads", "lead_to_ql"):
            assert series.contributions[i][leaf] == pytest.approx(frame[leaf].sum(), rel=1e-12)
    per_period = df.assign(ql=df["leads"] * df["lead_to_ql"]).groupby("month")["ql"].sum()
    assert series.values == pytest.approx(tuple(per_period.sort_index()))


def test_rows_in_any_order_give_the_same_series() -> None:
    """Periods are sorted and segments matched by key: shuffled rows change nothing."""
    df = _channels(6, 3, seed=5)
    tree = qualified_leads()
    expected = tree.attribute_series("qualified_leads", df, by=["channel"])
    shuffled = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    assert tree.attribute_series("qualified_leads", shuffled, by=["channel"]) == expected
    assert tree.attribute_series("qualified_leads", pl.from_pandas(shuffled), by="channel") == (
        expected
    )


def test_several_segment_columns() -> None:
    """Two segment columns name a segment together."""
    df = _channels(3, 4, seed=1)
    df["region"] = np.tile(["n", "n", "s", "s"], 3)
    df["channel"] = np.tile(["a", "b", "a", "b"], 3)
    series = qualified_leads().attribute_series("qualified_leads", df, by=["channel", "region"])
    assert series.segments == 4
    assert _close(series.total, [sum(s.values()) for s in series.contributions], _scale(series))


def test_period_kinds_sort_as_their_type() -> None:
    """Dates, numbers, pandas periods and ordered categoricals give the calendar order."""
    df = _months(4, seed=4)
    tree = qualified_leads()
    expected = tree.attribute_series("qualified_leads", df)
    forms = [
        pd.to_datetime(df["month"]),
        pd.PeriodIndex(df["month"], freq="M"),
        pd.Categorical(["jan", "feb", "mar", "apr"], ["jan", "feb", "mar", "apr"], ordered=True),
        [2021, 2022, 2023, 2024],
    ]
    for form in forms:
        other = tree.attribute_series("qualified_leads", df.assign(month=form)[::-1])
        assert other.changes == expected.changes
        assert other.by_owner == expected.by_owner
    dates = pl.from_pandas(df).with_columns(pl.col("month").str.to_date("%Y-%m"))
    assert tree.attribute_series("qualified_leads", dates).changes == expected.changes


def test_sequential_takes_its_order_in_every_step() -> None:
    """method="sequential" moves the leaves in order= at every step; order= alone is refused."""
    df = _months(4, seed=6)
    tree = qualified_leads()
    order = ["lead_to_ql", "leads"]
    one = tree.attribute_series("qualified_leads", df, method="sequential", order=order)
    assert one.order == ("lead_to_ql", "leads")
    for i, (before, after) in enumerate(one.steps):
        low, high = (df.set_index("month").loc[p] for p in (before, after))
        # The conversion moves first, at the old leads; then the leads, at the new conversion.
        expected = (high["lead_to_ql"] - low["lead_to_ql"]) * low["leads"]
        assert one.contributions[i]["lead_to_ql"] == pytest.approx(expected, rel=1e-12)
    with pytest.raises(kt.ArgumentError, match='order= is the order of method="sequential"'):
        tree.attribute_series("qualified_leads", df, order=["leads", "lead_to_ql"])


# -- the property: the steps add up to the whole change --------------------------------------


@st.composite
def series_data(draw: Any, tree: kt.Tree, segments: int) -> pd.DataFrame:
    """A random series of 2–6 periods (and segments) of positive leaf values."""
    periods = draw(st.integers(2, 6))
    rows = periods * segments
    columns: dict[str, Any] = {
        "period": np.repeat(np.arange(periods), segments),
        "segment": np.tile(np.arange(segments), periods),
    }
    for leaf in tree.leaves:
        columns[leaf.name] = draw(
            st.lists(st.floats(0.5, 4.0, allow_nan=False), min_size=rows, max_size=rows)
        )
    return pd.DataFrame(columns)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_steps_sum_to_last_minus_first(data: Any) -> None:
    """For random trees and series, under every method, all steps sum to last − first."""
    tree = data.draw(trees())
    metric = tree.roots[0].name
    segments = data.draw(st.integers(1, 3))
    frame = data.draw(series_data(tree, segments))
    method = data.draw(st.sampled_from(METHODS))
    leaves = [leaf.name for leaf in tree.subtree(metric).leaves]
    order = leaves if method == "sequential" else None
    by = "segment" if segments > 1 else None
    try:
        series = tree.attribute_series(metric, frame, "period", by=by, method=method, order=order)
    except (kt.EvaluationError, kt.FormulaError):
        assume(False)  # undefined values or a formula outside LMDI's or proportional's family
        raise
    scale = _scale(series)
    everything = [v for step in series.contributions for v in step.values()]
    assert _close(series.last - series.first, everything, scale)
    assert _close(series.total, series.total_by_owner.values(), scale)
    for change, step in zip(series.changes, series.contributions, strict=True):
        assert _close(change, step.values(), scale)


# -- bad input -------------------------------------------------------------------------------


def _bad(damage: Any) -> pd.DataFrame:
    return damage(_channels(4, 2))


BAD = [
    (
        lambda df: pd.concat([df, df.iloc[[3]]]),
        kt.MissingValueError,
        r"channel='c1' at `month` = 2024-02 has 2 rows \(index 3, 3\)",
    ),
    (
        lambda df: df[df["month"] == "2024-01"],
        kt.ArgumentError,
        r"`month` has one period \(2024-01\)",
    ),
    (
        lambda df: df.assign(month=[1, 1, "b", "b", 2, 2, 3, 3]),
        kt.ArgumentError,
        r"mixes kinds of values: number \(1\), text \('b'\)",
    ),
    (
        lambda df: df.assign(month=[int, int, str, str, float, float, bytes, bytes]),
        kt.ArgumentError,
        "cannot be sorted",
    ),
    (
        lambda df: df[df["month"] != "2024-02"],
        kt.MissingValueError,
        "monthly from 2024-01 to 2024-04 but 1 period is missing: 2024-02",
    ),
    (lambda df: df.drop(columns="leads"), kt.MissingValueError, "`leads`"),
    (
        lambda df: df.iloc[1:],
        kt.MissingValueError,
        "segment channel='c0' has no row for `month` = 2024-01",
    ),
    (
        lambda df: df.assign(month=df["month"].where(df.index != 5)),
        kt.MissingValueError,
        r"`month` is empty in 1 row \(index 5\)",
    ),
    (
        lambda df: df.assign(month=np.repeat(["jan", "feb", "mar", "apr"], 2)),
        kt.ArgumentError,
        "month names",
    ),
    (
        lambda df: df.assign(leads=df["leads"].where(df.index != 2)),
        kt.MissingValueError,
        "`leads` has no number at `month` = 2024-02, channel='c0'",
    ),
    (lambda df: df.assign(leads="many"), kt.ValueTypeError, "must hold numbers"),
    (lambda df: df.rename(columns={"month": "period"}), kt.UnknownNameError, "no column `month`"),
]


@pytest.mark.parametrize(("damage", "error", "words"), BAD)
def test_bad_input_is_named(damage: Any, error: type[Exception], words: str) -> None:
    """Duplicates, one period, mixed or unsortable periods, gaps, missing columns are named."""
    with pytest.raises(error, match=words):
        qualified_leads().attribute_series("qualified_leads", _bad(damage), by="channel")


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda df: pl.concat([df, df[3:4]]), r"has 2 rows \(rows 3, 8\)"),
        (lambda df: df.filter(pl.col("month") != "2024-03"), "1 period is missing: 2024-03"),
        (lambda df: df[1:], "segment channel='c0' has no row"),
        (lambda df: df.with_columns(pl.lit(None).alias("month")), "is empty in 8 rows"),
    ],
)
def test_bad_polars_input_is_named(damage: Any, words: str) -> None:
    """The same checks hold for polars frames, which name rows by number."""
    with pytest.raises(kt.KPITreeError, match=words):
        qualified_leads().attribute_series(
            "qualified_leads", damage(pl.from_pandas(_channels(4, 2))), by="channel"
        )


@pytest.mark.parametrize(
    ("dates", "words"),
    [
        (
            ["2024-01-01", "2024-01-02", "2024-01-05"],
            "daily .* 2 periods are missing: 2024-01-03, 2024-01-04",
        ),
        (["2024-01-01", "2024-01-15", "2024-01-22"], "weekly .* missing: 2024-01-08"),
        (["2024-01-31", "2024-02-29", "2024-04-30"], "monthly .* missing: 2024-03-31"),
        (["2024-01-01", "2024-04-01", "2024-10-01"], "quarterly .* missing: 2024-07-01"),
        (["2021-01-01", "2022-01-01", "2024-01-01"], "yearly .* missing: 2023-01-01"),
    ],
)
def test_gaps_in_dates_are_named_never_filled(dates: list[str], words: str) -> None:
    """A regular series of dates with periods missing inside the span names them."""
    df = pd.DataFrame({"day": pd.to_datetime(dates), "leads": [1.0, 2.0, 3.0], "lead_to_ql": 0.8})
    for data in (df, pl.from_pandas(df), df.assign(day=[d.date() for d in df["day"]])):
        with pytest.raises(kt.MissingValueError, match=words):
            qualified_leads().attribute_series("qualified_leads", data, "day")


def test_gaps_of_pandas_periods_and_numbers() -> None:
    """pandas periods are checked at their own frequency; numbered periods are consecutive."""
    df = _months(3).assign(month=pd.PeriodIndex(["2024Q1", "2024Q2", "2024Q4"], freq="Q"))
    with pytest.raises(kt.MissingValueError, match=r"quarterly .* missing: 2024Q3"):
        qualified_leads().attribute_series("qualified_leads", df)
    numbered = qualified_leads().attribute_series("qualified_leads", df.assign(month=[1, 2, 4]))
    assert numbered.steps == ((1, 2), (2, 4))


def test_undefined_period_is_named() -> None:
    """A period where the metric is undefined is an error naming it, not a NaN step."""
    a = kt.KPI("a", owner="x", horizon="1 day")
    b = kt.KPI("b", owner="y", horizon="1 day")
    tree = kt.Tree(kt.Metric("m", a / b))
    df = pd.DataFrame({"p": [1, 2, 3], "a": [1.0, 2.0, 3.0], "b": [1.0, 0.0, 2.0]})
    with pytest.raises(kt.EvaluationError, match="`m` is undefined at `p` = 2"):
        tree.attribute_series("m", df, "p")


def test_undefined_mix_names_the_step() -> None:
    """Shapley meeting an undefined mix of two periods names the step and the leaf."""
    a = kt.KPI("a", owner="x", horizon="1 day")
    b = kt.KPI("b", owner="y", horizon="1 day")
    c = kt.KPI("c", owner="y", horizon="1 day")
    tree = kt.Tree(kt.Metric("m", a / (b - c)))
    df = pd.DataFrame({"p": [1, 2], "a": [1.0, 2.0], "b": [3.0, 2.0], "c": [2.0, 1.0]})
    with pytest.raises(kt.EvaluationError, match="mix of the values of 1 and 2"):
        tree.attribute_series("m", df, "p")


def test_time_zones_keep_their_calendar_days() -> None:
    """Dates with a time zone are days of that zone: shown as dates and checked for gaps."""
    days = pd.to_datetime(["2024-03-30", "2024-03-31", "2024-04-02"]).tz_localize("Europe/Berlin")
    df = pd.DataFrame({"day": days, "leads": [1.0, 2.0, 3.0], "lead_to_ql": 0.8})
    with pytest.raises(kt.MissingValueError, match=r"daily .* missing: 2024-04-01"):
        qualified_leads().attribute_series("qualified_leads", df, "day")
    series = qualified_leads().attribute_series("qualified_leads", df.iloc[:2], "day")
    assert series.step_label(0) == "2024-03-30 → 2024-03-31"


def test_the_period_cannot_be_a_segment() -> None:
    """by= naming the period column is refused, naming it."""
    with pytest.raises(kt.ArgumentError, match="`month` is the period column"):
        qualified_leads().attribute_series("qualified_leads", _months(3), by=["month"])


def test_a_leaf_or_a_lazy_frame_is_refused() -> None:
    """A leaf has nothing to attribute; a LazyFrame or a dict is not an eager frame."""
    df = _months(3)
    with pytest.raises(kt.KindError, match="`leads` is a leaf"):
        qualified_leads().attribute_series("leads", df)
    for data in (pl.from_pandas(df).lazy(), df.to_dict()):
        with pytest.raises(kt.ValueTypeError, match="must be a pandas or polars DataFrame"):
            qualified_leads().attribute_series("qualified_leads", data)


# -- results and displays --------------------------------------------------------------------


def _example() -> AttributionSeries:
    df = pd.DataFrame(
        {"month": MONTHS[:3], "leads": [1000, 1100, 1100], "lead_to_ql": [0.8, 0.7, 0.75]}
    )
    return qualified_leads().attribute_series("qualified_leads", df)


def test_text_table_in_both_locales() -> None:
    """str shows a row per step, the change and each owner's part, then the total."""
    text = _example().to_text(width=100)
    assert text.splitlines()[0] == (
        "qualified_leads over 2 steps, 2024-01 → 2024-03: 800 lead → 825 lead, "
        "change +25 lead — Shapley"
    )
    assert "2024-01 → 2024-02         770 lead  −30 lead   +75 lead  −105 lead" in text
    assert text.splitlines()[-1] == "by owner over the span: marketing +75 lead, sales −50 lead"
    ru = _example().to_text(locale="ru", width=100)
    assert "шаг" in ru
    assert "−105 lead" in ru
    assert "2 шага" in ru


def test_to_dict_is_json_and_dates_are_iso() -> None:
    """to_dict() is plain data; periods that are dates become ISO text."""
    df = _months(3).assign(month=pd.to_datetime(MONTHS[:3]))
    data = qualified_leads().attribute_series("qualified_leads", df).to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["periods"] == ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert data["steps"][0]["from"] == "2024-01-01"
    assert set(data["steps"][0]) == {"from", "to", "change", "contributions", "by_owner"}
    assert math.isclose(data["total"], sum(s["change"] for s in data["steps"]))


def test_to_frame_is_wide_one_row_per_step() -> None:
    """to_frame(): from, to, the metric's move, a column per leaf and per owner."""
    frame = _example().to_frame()
    assert list(frame.columns) == [
        "from", "to", "qualified_leads_before", "qualified_leads_after",
        "qualified_leads_change", "leads", "lead_to_ql", "owner_marketing", "owner_sales",
    ]  # fmt: skip
    assert frame["qualified_leads_change"].tolist() == pytest.approx([-30, 55])
    assert frame["owner_sales"].tolist() == pytest.approx([-105, 55])


def test_html_shows_steps_coloured_by_direction() -> None:
    """The notebook view: a row per step and the total, changes coloured by direction."""
    series = _example()
    page = series._repr_html_()
    assert page == attribution_series_html(series)
    assert "2024-02 → 2024-03" in page
    assert '<span style="color: #cf222e; font-weight: 600">−105 lead</span>' in page
    assert '<span style="color: #1a7f37; font-weight: 600">+25 lead</span>' in page


def test_html_escapes_model_text() -> None:
    """Owners and period labels from the data are escaped in HTML, never markup."""
    leads = kt.KPI("leads", owner="<b>mkt</b>", horizon="1 day")
    rate = kt.KPI("rate", owner="sales", horizon="1 day")
    tree = kt.Tree(kt.Metric("ql", leads * rate))
    df = pd.DataFrame({"p": ["<i>1</i>", "<i>2</i>"], "leads": [1.0, 2.0], "rate": [0.5, 0.6]})
    page = tree.attribute_series("ql", df, "p")._repr_html_()
    assert "<b>mkt</b>" not in page
    assert "&lt;b&gt;mkt&lt;/b&gt;" in page
    assert "&lt;i&gt;1&lt;/i&gt; → &lt;i&gt;2&lt;/i&gt;" in page


def test_bridge_by_step_owner_and_leaf() -> None:
    """The bridge: first value, a bar per step (or owner, or leaf), last value."""
    series = _example()
    ax = series.plot()
    assert [round(float(b.get_height())) for b in ax.patches] == [800, -30, 55, 825]
    ends = [round(float(b.get_y() + b.get_height())) for b in ax.patches]
    assert ends == [800, 770, 825, 825]
    owners = plot_attribution_series(series, by="owner")
    assert [t.get_text() for t in owners.get_xticklabels()] == [
        "2024-01", "marketing", "sales", "2024-03",
    ]  # fmt: skip
    leaves = plot_attribution_series(series, by="leaf")
    assert len(leaves.patches) == 4
    with pytest.raises(kt.ArgumentError, match='use by="step"'):
        series.plot(by="team")
    matplotlib.pyplot.close("all")


def test_many_steps_in_one_call() -> None:
    """36 monthly steps of daily-grained data: one result, the total telescopes."""
    df = _months(37, seed=9).assign(month=lambda d: pd.PeriodIndex(d["month"], freq="M"))
    series = qualified_leads().attribute_series("qualified_leads", df)
    assert len(series) == 36
    assert series.steps[-1] == (pd.Period("2026-12", "M"), pd.Period("2027-01", "M"))
    assert _close(series.total, series.total_contributions.values(), _scale(series))
    assert series.to_dict()["periods"][0] == "2024-01"


def test_tree_method_is_the_function() -> None:
    """tree.attribute_series is the analysis function, bound to the tree."""
    from kpitree.analyses.attribution import attribute_series

    assert kt.Tree.attribute_series is attribute_series

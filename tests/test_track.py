"""Daily tracking: every node per period and segment, breaches, streaks, plan against fact."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kpitree as kt
from kpitree.apps.cli import main
from kpitree.examples import qualified_leads, qualified_leads_ru

ROOT = Path(__file__).resolve().parent.parent
QL = str(ROOT / "examples" / "qualified_leads.yaml")


def days(n: int = 5, start: str = "2026-10-01") -> list[str]:
    """`n` consecutive ISO dates from `start`."""
    return [d.strftime("%Y-%m-%d") for d in pd.date_range(start, periods=n, freq="D")]


def two_regions() -> pd.DataFrame:
    """Five days of two regions: north slips below 80% on days 3-5, south on day 2 only."""
    return pd.DataFrame(
        {
            "date": days() * 2,
            "region": ["north"] * 5 + ["south"] * 5,
            "leads": [1000, 1000, 1000, 1000, 1000, 400, 400, 400, 400, 400],
            "lead_to_ql": [0.82, 0.8, 0.79, 0.75, 0.7, 0.9, 0.6, 0.85, 0.85, 0.85],
            "response_minutes": [10, 12, 20, 25, 14, 5, 5, 5, 5, 5],
        }
    )


# -- values, status, breaches, streaks ---------------------------------------------------------


def test_values_per_period_and_segment_match_evaluate() -> None:
    """Every node of every row equals `evaluate` on that row's leaves."""
    tree = qualified_leads()
    frame = tree.track(two_regions(), by="region").to_frame()
    assert list(frame.columns) == ["date", "region", *tree.names]
    for row in frame.itertuples(index=False):
        expected = tree.evaluate({"leads": row.leads, "lead_to_ql": row.lead_to_ql})
        assert row.qualified_leads == pytest.approx(expected["qualified_leads"])


def test_rows_are_sorted_by_segment_then_period() -> None:
    """Rows given in any order come back by segment, then period."""
    data = two_regions().sample(frac=1.0, random_state=3)
    frame = qualified_leads().track(data, by="region").to_frame()
    assert frame["region"].tolist() == ["north"] * 5 + ["south"] * 5
    assert frame["date"].tolist() == days() * 2


def test_breaches_by_hand() -> None:
    """Breaches are the rows below norm, for the KPI and for its measured standard."""
    t = qualified_leads().track(two_regions(), by="region")
    b = t.breaches
    got = list(zip(b["date"], b["region"], b["node"], b["standard"], strict=True))
    assert got == [
        ("2026-10-02", "south", "lead_to_ql", None),
        ("2026-10-03", "north", "lead_to_ql", None),
        ("2026-10-03", "north", "lead_to_ql", "response_minutes"),
        ("2026-10-04", "north", "lead_to_ql", None),
        ("2026-10-04", "north", "lead_to_ql", "response_minutes"),
        ("2026-10-05", "north", "lead_to_ql", None),
    ]
    assert b["owner"].unique().tolist() == ["sales"]
    assert b["gap"].tolist() == pytest.approx([0.2, 0.01, -5, 0.05, -10, 0.1])
    assert b["norm"].tolist()[:3] == [">= 80%", ">= 80%", "<= 15"]


def test_exactly_at_the_norm_is_not_a_breach() -> None:
    """80% against a norm of at least 80% is met (meeting it exactly counts)."""
    t = qualified_leads().track(two_regions(), by="region")
    north = t.status[(t.status["region"] == "north") & t.status["standard"].isna()]
    assert north["ok"].tolist() == [True, True, False, False, False]


def test_streaks_by_hand() -> None:
    """Runs of consecutive periods below norm, with start, end, length and ongoing."""
    s = qualified_leads().track(two_regions(), by="region").streaks
    got = [
        (r.region, r.standard, r.start, r.end, r.length, bool(r.ongoing))
        for r in s.itertuples(index=False)
    ]
    assert got == [
        ("north", None, "2026-10-03", "2026-10-05", 3, True),
        ("south", None, "2026-10-02", "2026-10-02", 1, False),
        ("north", "response_minutes", "2026-10-03", "2026-10-04", 2, False),
    ]


def test_unknown_values_are_not_breaches_and_end_a_streak() -> None:
    """A missing value is unknown: no breach, `ok` missing, and the run before it ends."""
    data = pd.DataFrame(
        {"date": days(4), "leads": [10.0] * 4, "lead_to_ql": [0.7, np.nan, 0.7, 0.7]}
    )
    t = qualified_leads().track(data)
    assert t.breaches["date"].tolist() == ["2026-10-01", "2026-10-03", "2026-10-04"]
    assert t.status["ok"].isna().tolist() == [False, True, False, False]
    assert t.streaks["length"].tolist() == [1, 2]
    assert t.to_frame()["qualified_leads"].isna().tolist() == [False, True, False, False]


def test_metric_norms_and_upper_limits_are_checked() -> None:
    """A metric with a norm is checked per row too; an at-most norm breaches above it."""
    cost = kt.KPI("spend", owner="marketing", horizon="1 day")
    leads = kt.KPI("leads", owner="marketing", horizon="1 day")
    cpl = kt.Metric("cost_per_lead", cost / leads, norm="<= 50")
    t = kt.Tree(cpl).track(
        pd.DataFrame({"date": [1, 2, 3], "spend": [100, 600, 90], "leads": [4, 10, 0]})
    )
    assert t.breaches[["date", "node", "value", "gap"]].values.tolist() == [
        [2, "cost_per_lead", 60.0, -10.0]
    ]
    # 90 / 0 is undefined: unknown, not a breach
    assert t.status["ok"].isna().tolist() == [False, False, True]


def test_standard_column_named_with_its_kpi() -> None:
    """A measurement column may be named `<kpi>.<standard>`, as status reads it."""
    data = pd.DataFrame(
        {
            "date": days(2),
            "leads": [1, 1],
            "lead_to_ql": [0.9, 0.9],
            "lead_to_ql.missed_chats": [0, 2],
        }
    )
    t = qualified_leads().track(data)
    assert t.breaches["standard"].tolist() == ["missed_chats"]
    assert [c.label for c in t.checks] == ["lead_to_ql", "lead_to_ql.missed_chats"]


def test_polars_gives_the_same_as_pandas() -> None:
    """A polars frame, eager or lazy, tracks to the same values, breaches and streaks."""
    tree = qualified_leads()
    data = two_regions()
    want = tree.track(data, by="region")
    for frame in (pl.from_pandas(data), pl.from_pandas(data).lazy()):
        got = tree.track(frame, by="region")
        pd.testing.assert_frame_equal(got.to_frame(), want.to_frame(), check_dtype=False)
        pd.testing.assert_frame_equal(got.breaches, want.breaches, check_dtype=False)
        pd.testing.assert_frame_equal(got.streaks, want.streaks, check_dtype=False)


def test_polars_dates_and_several_segment_columns() -> None:
    """Dates of polars' Date type and two segment columns."""
    data = pl.DataFrame(
        {
            "day": pl.date_range(pl.date(2026, 1, 1), pl.date(2026, 1, 3), eager=True).append(
                pl.date_range(pl.date(2026, 1, 1), pl.date(2026, 1, 3), eager=True)
            ),
            "region": ["n"] * 6,
            "channel": ["ads"] * 3 + ["mail"] * 3,
            "leads": [1.0] * 6,
            "lead_to_ql": [0.9, 0.7, 0.7, 0.9, 0.9, 0.7],
        }
    )
    t = qualified_leads().track(data, period="day", by=["region", "channel"])
    assert t.segments == 2
    s = t.streaks
    assert s["channel"].tolist() == ["ads", "mail"]
    assert s["length"].tolist() == [2, 1]
    assert s["ongoing"].tolist() == [True, True]
    assert str(s["start"].iloc[0])[:10] == "2026-01-02"


# -- plan against fact -------------------------------------------------------------------------


def test_vs_plan_by_hand() -> None:
    """Fact, plan, variance and variance % per planned node, period and segment."""
    plan = pd.DataFrame(
        {
            "date": ["2026-10-01", "2026-10-02"] * 2,
            "region": ["north", "north", "south", "south"],
            "qualified_leads": [800, 850, 400, 0],
        }
    )
    v = qualified_leads().track(two_regions(), by="region", plan=plan).vs_plan
    assert v.columns.tolist() == [
        "date",
        "region",
        "node",
        "fact",
        "plan",
        "variance",
        "variance_pct",
    ]
    assert v["fact"].tolist() == pytest.approx([820, 360, 800, 240])
    assert v["variance"].tolist() == pytest.approx([20, -40, -50, 240])
    assert v["variance_pct"].tolist()[:3] == pytest.approx([0.025, -0.1, -50 / 850])
    assert np.isnan(v["variance_pct"].iloc[3])  # against a plan of 0


def test_plan_without_segments_applies_to_each_and_future_periods_have_no_fact() -> None:
    """A plan without the segment column is each segment's; a period without data: fact NaN."""
    plan = pd.DataFrame({"date": ["2026-10-05", "2026-10-06"], "lead_to_ql": ["80%", 0.8]})
    with pytest.raises(kt.ValueTypeError, match="`lead_to_ql`"):
        qualified_leads().track(two_regions(), by="region", plan=plan)
    plan["lead_to_ql"] = [0.8, 0.8]
    v = qualified_leads().track(two_regions(), by="region", plan=plan).vs_plan
    assert v[["date", "region"]].values.tolist()[:2] == [
        ["2026-10-05", "north"],
        ["2026-10-05", "south"],
    ]
    assert v["variance"].tolist()[:2] == pytest.approx([-0.1, 0.05])
    assert np.isnan(v["fact"].iloc[-1])


def test_plan_naming_unknown_nodes_names_every_one() -> None:
    """A plan column that is not a node is refused, every one named, with a did-you-mean."""
    plan = pd.DataFrame({"date": ["2026-10-01"], "qualifed_leads": [1], "visits": [2]})
    with pytest.raises(kt.UnknownNameError) as caught:
        qualified_leads().track(two_regions(), by="region", plan=plan)
    text = str(caught.value)
    assert "2 columns that are not nodes" in text
    assert "`qualifed_leads`, `visits`" in text
    assert "did you mean `qualified_leads`" in text
    assert caught.value.names == ("qualifed_leads", "visits")


def test_vs_plan_without_a_plan_says_how() -> None:
    """Asking for the plan comparison of a track without a plan is an error with a hint."""
    with pytest.raises(kt.ArgumentError, match="plan="):
        _ = qualified_leads().track(two_regions(), by="region").vs_plan


# -- bad input ---------------------------------------------------------------------------------


def test_duplicate_keys_name_the_rows() -> None:
    """Two rows for one period and segment: the key and both rows are named."""
    data = two_regions()
    data.loc[7, "date"] = "2026-10-02"  # south's 3rd becomes a second 2nd ... and a gap
    with pytest.raises(kt.ArgumentError) as caught:
        qualified_leads().track(data, by="region")
    assert "date=2026-10-02, region=south in rows 6, 7" in str(caught.value)
    assert caught.value.names == ("date", "region")


def test_gaps_are_reported_never_filled() -> None:
    """A missing day inside a segment's span is an error naming the day and segment."""
    data = two_regions().drop(index=[2, 3])
    with pytest.raises(kt.MissingValueError) as caught:
        qualified_leads().track(data, by="region")
    text = str(caught.value)
    assert "2 periods are missing in column `date`" in text
    assert "2026-10-03 (region=north), 2026-10-04 (region=north)" in text


@pytest.mark.parametrize(
    ("periods", "missing"),
    [
        (["2026-01", "2026-02", "2026-04"], "2026-03"),  # months as YYYY-MM
        (["2026-01-01", "2026-02-01", "2026-04-01"], "2026-03"),  # month starts
        (["2026-01-05", "2026-01-12", "2026-01-26"], "2026-01-19"),  # weeks
        ([2024, 2025, 2027], "2026"),  # whole numbers
        (["a", "b", "c"], None),  # labels: one segment, no calendar to miss
    ],
)
def test_gaps_in_regular_series(periods: list[object], missing: str | None) -> None:
    """Monthly, weekly and numbered series have a calendar; a missing step is named."""
    data = pd.DataFrame({"date": periods, "leads": [1] * 3, "lead_to_ql": [0.9] * 3})
    if missing is None:
        assert len(qualified_leads().track(data).to_frame()) == 3
        return
    with pytest.raises(
        kt.MissingValueError, match=f"a period is missing in column `date`: {missing}"
    ):
        qualified_leads().track(data)


def test_labels_missing_in_one_segment_are_gaps() -> None:
    """Labels other segments have, missing inside one segment's span, are gaps too."""
    data = pd.DataFrame(
        {
            "date": ["Q1", "Q2", "Q3", "Q1", "Q3"],
            "region": ["n", "n", "n", "s", "s"],
            "leads": [1] * 5,
            "lead_to_ql": [0.9] * 5,
        }
    )
    with pytest.raises(kt.MissingValueError, match=r"Q2 \(region=s\)"):
        qualified_leads().track(data, by="region")


@pytest.mark.parametrize(
    ("periods", "error", "words"),
    [
        (
            [1, "2026-10-02", 3],
            kt.ValueTypeError,
            'mixes types: 1 (int, row 0), "2026-10-02" (str, row 1)',
        ),
        ([{"a": 1}, {"b": 2}, {"c": 3}], kt.ValueTypeError, "cannot be put in order"),
        ([1, None, 3], kt.MissingValueError, "empty in a row: 1"),
        (["2026-10-01", "2026-13-01", "2026-10-03"], kt.ValueTypeError, 'not a date: "2026-13-01"'),
    ],
)
def test_bad_periods(periods: list[object], error: type[Exception], words: str) -> None:
    """Mixed, unsortable, empty or impossible periods: each a clear error naming the column."""
    data = pd.DataFrame({"date": periods, "leads": [1] * 3, "lead_to_ql": [0.9] * 3})
    with pytest.raises(error) as caught:
        qualified_leads().track(data)
    assert words in str(caught.value)
    assert "`date`" in str(caught.value)


def test_missing_columns_are_named() -> None:
    """No period column, no segment column, no leaf column: each named with a hint."""
    data = two_regions()
    with pytest.raises(kt.UnknownNameError, match="did you mean `date`"):
        qualified_leads().track(data, period="dat")
    with pytest.raises(kt.UnknownNameError, match="no column `regio`"):
        qualified_leads().track(data, by="regio")
    with pytest.raises(kt.MissingValueError, match="`leads`"):
        qualified_leads().track(data.drop(columns="leads"), by="region")
    with pytest.raises(kt.ArgumentError, match="is a kpi of the tree"):
        qualified_leads().track(data, by="leads")


def test_a_mapping_is_refused() -> None:
    """A mapping of arrays has no rows to key: a frame is asked for."""
    with pytest.raises(kt.ValueTypeError, match="DataFrame"):
        qualified_leads().track({"date": [1], "leads": [1], "lead_to_ql": [1]})


# -- text and html -----------------------------------------------------------------------------


def test_text_says_who_is_below_norm_and_since_when() -> None:
    """The text names the last period's breaches with owner and the start of their run."""
    text = str(qualified_leads().track(two_regions(), by="region"))
    lines = text.splitlines()
    assert lines[0] == "5 periods: 2026-10-01 to 2026-10-05 · 2 segments (region)"
    assert lines[1] == "at 2026-10-05: 1 below norm"
    assert "lead_to_ql" in lines[3] and "north" in lines[3]
    assert "70%" in lines[3] and "≥ 80%" in lines[3] and "sales" in lines[3]
    assert "since 2026-10-03" in lines[3] and "3 periods" in lines[3]
    assert lines[-1].startswith("over the span: 6 breaches; longest run: lead_to_ql (north)")


def test_text_when_all_is_well() -> None:
    """No breach at the last period says so."""
    data = pd.DataFrame({"date": days(2), "leads": [1, 1], "lead_to_ql": [0.7, 0.9]})
    text = str(qualified_leads().track(data))
    assert "at 2026-10-02: all norms met" in text
    assert "1 breach;" in text


def test_russian_text() -> None:
    """Under ru the words are Russian and numbers are written the Russian way."""
    data = pd.DataFrame(
        {
            "дата": days(3),
            "лиды": [1000, 1200, 1500],
            "конверсия_в_квал": [0.85, 0.75, 0.705],
        }
    )
    text = qualified_leads_ru().track(data, period="дата").to_text(locale="ru")
    assert "3 периода: 2026-10-01 — 2026-10-03" in text
    assert "на 2026-10-03: 1 ниже нормы" in text
    assert "70,5\N{NO-BREAK SPACE}%" in text
    assert "с 2026-10-02" in text and "2 периода" in text
    assert "продажи" in text


def test_html_view() -> None:
    """The notebook view is a table of the last period's breaches, escaped."""
    page = qualified_leads().track(two_regions(), by="region")._repr_html_()
    assert page is not None
    assert "lead_to_ql" in page and "since 2026-10-03" in page and "north" in page
    assert "<script" not in page


def test_to_dict_is_json_ready() -> None:
    """to_dict has the span, the last period's breaches, all breaches and streaks."""
    d = qualified_leads().track(two_regions(), by="region").to_dict()
    text = json.dumps(d, allow_nan=False)
    assert d["last"] == "2026-10-05" and d["periods"] == 5 and d["segments"] == 2
    assert d["below_norm_at_last"][0]["since"] == "2026-10-03"
    assert len(d["breaches"]) == 6 and len(d["streaks"]) == 3
    assert "NaN" not in text


# -- plot --------------------------------------------------------------------------------------


def test_plot_marks_breaches_and_the_norm_band() -> None:
    """The trend has a line per segment, the breaches as markers, and the norm as a band."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = qualified_leads().track(two_regions(), by="region")
    ax = t.plot("lead_to_ql")
    try:
        lines = [line for line in ax.get_lines() if line.get_label() in ("north", "south")]
        assert len(lines) == 2
        marked = [c for c in ax.collections if c.get_label() == "below norm"]
        assert len(marked) == 1 and len(marked[0].get_offsets()) == 4
        (band,) = [p for p in ax.patches if p.get_label() == "norm ≥ 80%"]
        assert band.get_y() == pytest.approx(0.8)  # shaded from the threshold up
        one = t.plot("lead_to_ql.response_minutes", segment="north")
        assert [x.get_label() for x in one.get_lines() if x.get_label()[0] != "_"] == ["north"]
        with pytest.raises(kt.UnknownNameError, match="did you mean"):
            t.plot("lead_to_qll")
    finally:
        plt.close("all")


# -- command line ------------------------------------------------------------------------------


def test_cli_track_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`kpitree track FILE DATA` prints the view; --json the data; --by names segments."""
    path = tmp_path / "days.csv"
    two_regions().to_csv(path, index=False)
    assert main(["track", QL, str(path), "--by", "region"]) == 0
    out = capsys.readouterr().out
    assert "at 2026-10-05: 1 below norm" in out
    assert main(["track", QL, str(path), "--by", "region", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["below_norm_at_last"][0]["region"] == "north"


def test_cli_track_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A gap in the data file exits 2 with the message naming the missing day."""
    path = tmp_path / "days.csv"
    two_regions().drop(index=[2]).to_csv(path, index=False)
    assert main(["track", QL, str(path), "--by", "region"]) == 2
    err = capsys.readouterr().err
    assert "2026-10-03 (region=north)" in err


def test_unknown_at_the_last_period_is_said() -> None:
    """The last period's unknown values are counted, not read as met norms."""
    data = pd.DataFrame({"date": [1, 2], "leads": [1.0, 1.0], "lead_to_ql": [0.9, np.nan]})
    text = str(qualified_leads().track(data))
    assert "at 2: all norms met; 1 value unknown" in text


def test_a_tree_without_norms_and_an_empty_table() -> None:
    """No norm: values only, and the text says so; no rows: an empty track."""
    a = kt.KPI("a", owner="x", horizon="1 day")
    tree = kt.Tree(kt.Metric("m", a * 2))
    t = tree.track(pd.DataFrame({"date": [1, 2], "a": [1.0, 2.0]}))
    assert t.to_frame()["m"].tolist() == [2.0, 4.0]
    assert t.breaches.empty and t.streaks.empty
    assert "no KPI or metric of this tree has a norm" in str(t)
    empty = tree.track(pd.DataFrame({"date": pd.Series([], dtype=object), "a": []}))
    assert str(empty) == "no rows to track"
    assert empty.to_dict()["last"] is None


def test_cli_reads_parquet_and_a_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """DATA may be Parquet; --plan adds vs_plan to the JSON."""
    pytest.importorskip("pyarrow")
    data = tmp_path / "days.parquet"
    two_regions().to_parquet(data)
    plan = tmp_path / "plan.csv"
    plan.write_text("date,qualified_leads\n2026-10-05,700\n", encoding="utf-8")
    argv = ["track", QL, str(data), "--by", "region", "--plan", str(plan), "--json"]
    assert main(argv) == 0
    got = json.loads(capsys.readouterr().out)
    assert [(r["region"], r["fact"], r["plan"]) for r in got["vs_plan"]] == [
        ("north", 700.0, 700.0),
        ("south", 340.0, 700.0),
    ]


def test_cli_reads_a_russian_spreadsheet_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under ru a CSV with `;` and decimal commas reads as written."""
    path = tmp_path / "дни.csv"
    path.write_text(
        "дата;лиды;конверсия_в_квал\n2026-10-01;1 000;0,85\n2026-10-02;1 200;0,75\n",
        encoding="utf-8",
    )
    model = str(ROOT / "examples" / "qualified_leads_ru.yaml")
    assert main(["--lang", "ru", "track", model, str(path), "--period", "дата"]) == 0
    out = capsys.readouterr().out
    assert "на 2026-10-02: 1 ниже нормы" in out
    assert "75\N{NO-BREAK SPACE}%" in out


def test_a_data_file_of_another_kind_is_refused(tmp_path: Path) -> None:
    """A data file that is neither CSV nor Parquet names its suffix."""
    from kpitree.io.tables import read_table

    path = tmp_path / "days.xlsx"
    path.write_bytes(b"")
    with pytest.raises(kt.ValidationError, match=r"CSV or Parquet, got `\.xlsx`"):
        read_table(path)


def test_plan_segments_of_another_type_are_refused() -> None:
    """A plan's segment column of numbers against text in the data names the column."""
    data = two_regions().assign(region=[1] * 5 + [2] * 5)
    plan = pd.DataFrame({"date": ["2026-10-01"], "region": ["1"], "leads": [1000.0]})
    with pytest.raises(kt.ValueTypeError, match="the plan's column `region` holds"):
        qualified_leads().track(data, by="region", plan=plan)
    plan["region"] = [1]
    v = qualified_leads().track(data, by="region", plan=plan).vs_plan
    assert v[["region", "fact", "plan"]].values.tolist() == [[1, 1000.0, 1000.0]]


def test_plan_in_the_text_and_html_puts_the_furthest_below_first() -> None:
    """The view lists the plan's last period with facts, furthest below plan first."""
    plan = pd.DataFrame(
        {"date": ["2026-10-05", "2026-10-05"], "region": ["north", "south"], "leads": [900, 800]}
    )
    t = qualified_leads().track(two_regions(), by="region", plan=plan)
    text = str(t)
    rows = text.splitlines()[-3:]
    assert rows[0].split()[:4] == ["plan", "at", "2026-10-05", "segment"]
    assert "south" in rows[1] and "−50%" in rows[1]
    assert "north" in rows[2] and "+11.1%" in rows[2]
    page = t._repr_html_()
    assert page is not None and page.index("south") < page.index("+11.1%")


@settings(max_examples=40, deadline=None)
@given(
    segments=st.integers(1, 4),
    periods=st.integers(1, 8),
    seed=st.integers(0, 2**16),
)
def test_track_agrees_with_evaluate_frame_and_a_hand_filter(
    segments: int, periods: int, seed: int
) -> None:
    """Differential: values = evaluate_frame; breaches = a pandas filter; runs cover them."""
    rng = np.random.default_rng(seed)
    rows = segments * periods
    rate = rng.uniform(0.6, 1.0, rows)
    rate[rng.random(rows) < 0.1] = np.nan
    data = pd.DataFrame(
        {
            "date": np.tile(np.arange(periods), segments),
            "segment": np.repeat([f"s{i}" for i in range(segments)], periods),
            "leads": rng.integers(0, 100, rows).astype(float),
            "lead_to_ql": rate,
            "response_minutes": rng.uniform(0, 30, rows),
        }
    ).sample(frac=1.0, random_state=seed)
    tree = qualified_leads()
    t = tree.track(data, by="segment")
    want = tree.evaluate_frame(data).sort_values(["segment", "date"]).reset_index(drop=True)
    got = t.to_frame()
    np.testing.assert_allclose(got["qualified_leads"], want["qualified_leads"])
    low = want[want["lead_to_ql"] < 0.8]
    slow = want[want["response_minutes"] > 15]
    b = t.breaches
    assert len(b[b["standard"].isna()]) == len(low)
    assert len(b[b["standard"] == "response_minutes"]) == len(slow)
    s = t.streaks
    for standard, count in ((None, len(low)), ("response_minutes", len(slow))):
        mine = s[s["standard"].isna()] if standard is None else s[s["standard"] == standard]
        assert int(mine["length"].sum()) == count
    assert (s["ongoing"] == (s["end"] == periods - 1)).all()


def test_empty_segment_values_are_a_segment_of_their_own() -> None:
    """A row without a segment value is tracked as a segment of its own, said as such."""
    data = pd.DataFrame(
        {
            "date": [1, 2, 1, 2],
            "region": ["n", "n", None, None],
            "leads": [1.0] * 4,
            "lead_to_ql": [0.9, 0.9, 0.7, 0.7],
        }
    )
    t = qualified_leads().track(data, by="region")
    assert t.segments == 2
    assert t.streaks["length"].tolist() == [2]
    assert "2 periods" in str(t)
    assert "(no value)" in str(t) and "nan" not in str(t)
    assert "(нет значения)" in t.to_text(locale="ru")
    assert "(no value)" in t._repr_html_()

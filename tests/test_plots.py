"""Charts: rendered with Agg to PNG, checked by what was drawn (bars, heights, labels)."""

import io
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kpitree as kt
from kpitree.display.plots import (
    compact_number,
    plot_attribution,
    plot_scenario,
    plot_sensitivity,
    plot_simulation,
)
from kpitree.display.style import VERDICT_COLOURS, owner_colours
from kpitree.examples import qualified_leads, qualified_leads_ru, saas_mrr, sales_revenue
from kpitree.testing import trees

matplotlib = pytest.importorskip("matplotlib", reason="charts need the `plot` extra")
matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402 - after choosing the backend
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    """Close every figure a test made (pyplot warns past 20 open figures)."""
    yield
    plt.close("all")


def png(ax: object) -> bytes:
    """Render the Axes' figure to PNG (glyph warnings are errors under the test config)."""
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png")  # type: ignore[attr-defined]
    data = buffer.getvalue()
    assert data.startswith(b"\x89PNG")
    return data


def assert_no_overlap(ax: object) -> None:
    """Draw the figure and check that no two visible texts of it overlap (by their extents)."""
    from matplotlib.text import Text

    figure = ax.figure  # type: ignore[attr-defined]
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    texts = [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    for i, (text, a) in enumerate(boxes):
        for other, b in boxes[i + 1 :]:
            width = min(a.x1, b.x1) - max(a.x0, b.x0)
            height = min(a.y1, b.y1) - max(a.y0, b.y0)
            assert width <= 0.5 or height <= 0.5, f"{text!r} overlaps {other!r}"


def hex_of(patch: object) -> str:
    """Return a bar's face colour as #rrggbb."""
    return str(mcolors.to_hex(patch.get_facecolor()))  # type: ignore[attr-defined]


def test_sensitivity_bars() -> None:
    """One bar per leaf, its length the +1% impact, in its owner's colour, names on the axis."""
    tree = sales_revenue()
    s = tree.sensitivity("revenue", {"managers": 6})
    ax = plot_sensitivity(s)
    png(ax)
    rows = list(s)
    assert len(ax.patches) == len(rows)
    assert [p.get_width() for p in ax.patches] == pytest.approx([r.impact_1pct for r in rows])
    assert [t.get_text() for t in ax.get_yticklabels()] == [r.name for r in rows]
    colours = owner_colours(tree)
    assert [hex_of(p) for p in ax.patches] == [colours[r.owner] for r in rows]
    assert "revenue" in ax.get_title() and "(RUB)" in ax.get_xlabel()
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {r.owner for r in rows}


def test_sensitivity_tornado_is_exact() -> None:
    """Each tornado bar spans the metric with its leaf at −10% and +10%, computed exactly."""
    ax = plot_sensitivity(qualified_leads().sensitivity("qualified_leads"), kind="tornado")
    png(ax)
    # qualified_leads = 1,000 × 80%: either leaf at ±10% gives 720 and 880.
    spans = [v for p in ax.patches for v in (p.get_x(), p.get_width())]
    assert spans == pytest.approx([720, 160, 720, 160])
    assert "±10%" in ax.get_title()


def test_tornado_of_a_nonlinear_leaf() -> None:
    """For a quotient the tornado is not symmetric: it is evaluated, not extrapolated."""
    a = kt.KPI("a", owner="x", horizon="1 day", value=10)
    b = kt.KPI("b", owner="y", horizon="1 day", value=4)
    ax = plot_sensitivity(kt.Tree(kt.Metric("m", a / b)).sensitivity("m"), kind="tornado")
    spans = {t.get_text(): p for t, p in zip(ax.get_yticklabels(), ax.patches, strict=True)}
    # m = a / b = 2.5; b at 3.6 and 4.4 gives 2.7778 and 2.2727.
    assert spans["b"].get_x() == pytest.approx(10 / 4.4)
    assert spans["b"].get_width() == pytest.approx(10 / 3.6 - 10 / 4.4)


@pytest.mark.parametrize(
    ("kind", "swing", "words"),
    [("pie", 0.1, "unknown sensitivity chart"), ("tornado", 1.5, "swing must be between")],
)
def test_sensitivity_bad_options(kind: str, swing: float, words: str) -> None:
    """An unknown chart kind or an impossible swing is a kpitree error naming it."""
    with pytest.raises(kt.ArgumentError, match=words):
        plot_sensitivity(qualified_leads().sensitivity("qualified_leads"), kind=kind, swing=swing)


def test_attribution_waterfall() -> None:
    """Before, each moved leaf floating on the running total (owner under its name), after."""
    tree = qualified_leads_ru()
    a = tree.attribute("квал_лиды", {}, {"лиды": 1100, "конверсия_в_квал": 0.7})
    ax = plot_attribution(a)
    png(ax)  # Cyrillic labels render without missing-glyph warnings
    bars = ax.patches
    contributions = list(a.contributions.values())
    assert len(bars) == 2 + len(contributions)
    assert [b.get_height() for b in bars] == pytest.approx([800, *contributions, 770])
    assert [b.get_y() for b in bars] == pytest.approx([0, 800, 800 + contributions[0], 0])
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["before", "лиды\nмаркетинг", "конверсия_в_квал\nпродажи", "after"]
    assert [t.get_text() for t in ax.texts] == ["800 лид", "+75 лид", "−105 лид", "770 лид"]
    # квал_лиды has a norm ≥: more leads is a better move, a lower conversion a worse one.
    assert [hex_of(b) for b in bars[1:3]] == [VERDICT_COLOURS["better"], VERDICT_COLOURS["worse"]]
    assert "(лид)" in ax.get_ylabel()
    assert_no_overlap(ax)


@given(trees(max_leaves=6, operators=("+", "*", "/")))  # positive, so always defined
@settings(max_examples=15)
def test_waterfall_ends_where_the_metric_ends(tree: kt.Tree) -> None:
    """The last floating bar of any attribution's waterfall tops out at the value after."""
    metric = tree.roots[0].name
    after = {leaf.name: leaf.value * 1.3 for leaf in tree.leaves if leaf.value is not None}
    a = tree.attribute(metric, {}, after)
    ax = plot_attribution(a)
    floating = ax.patches[1:-1]
    top = floating[-1].get_y() + floating[-1].get_height() if floating else a.before
    assert top == pytest.approx(a.after, rel=1e-9, abs=1e-9)
    plt.close("all")


def test_scenario_bars_by_verdict() -> None:
    """Each moved node's bar is its % change, green when better and red when worse."""
    tree = saas_mrr()
    sc = tree.whatif({"churn_rate": "4%"})
    ax = plot_scenario(sc)
    png(ax)
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert names == sc.moved()
    assert [p.get_width() for p in ax.patches] == pytest.approx([sc.pct[n] * 100 for n in names])
    churn = ax.patches[names.index("churn_rate")]
    assert churn.get_width() == pytest.approx(100 / 3)  # 3% → 4% is a third more
    assert hex_of(churn) == VERDICT_COLOURS["worse"]
    # mrr has no norm: higher is better, so its drop is red too (it was grey).
    assert sc.after["mrr"] < sc.before["mrr"]
    assert hex_of(ax.patches[names.index("mrr")]) == VERDICT_COLOURS["worse"]


def test_simulation_histogram_with_target() -> None:
    """The histogram counts every finite draw; the target line and its chance are shown."""
    samples = [700.0, 780.0, 800.0, 820.0, 900.0, 950.0, float("nan")]
    sim = SimpleNamespace(metric="qualified_leads", tree=qualified_leads(), samples=samples)
    ax = plot_simulation(sim, target=900, bins=5)
    png(ax)
    assert sum(p.get_height() for p in ax.patches) == 6
    assert [line.get_xdata()[0] for line in ax.get_lines()] == pytest.approx([825, 900])
    # 2 of the 6 defined draws reach 900; the undefined one does not count.
    assert ax.get_title() == "qualified_leads: 7 draws, P(≥ 900 lead) = 33.3%"


def test_simulation_in_percent_and_metric_target() -> None:
    """A percent node is drawn in %; a metric's own target is the default line."""
    tree = kt.Tree(
        kt.Metric("m", kt.KPI("r", owner="x", horizon="1 day", value=0.5, unit="%") * 1,
                  unit="%", target=0.6)
    )  # fmt: skip
    sim = SimpleNamespace(metric="m", tree=tree, samples={"m": [0.5, 0.7], "r": [0.5, 0.7]})
    ax = plot_simulation(sim)
    assert [line.get_xdata()[0] for line in ax.get_lines()] == pytest.approx([60, 60])
    assert ax.get_xlabel() == "m (%)"


def test_simulation_needs_samples() -> None:
    """A result without samples cannot be drawn, and the error says what to draw."""
    with pytest.raises(kt.ValueTypeError, match=r"tree\.simulate"):
        plot_simulation(SimpleNamespace(metric="qualified_leads", tree=qualified_leads()))


def test_draws_on_a_given_axes() -> None:
    """Given an Axes, a chart draws there and returns it."""
    _, ax = plt.subplots()
    assert plot_scenario(qualified_leads().whatif({"leads": 900}), ax) is ax


def test_real_simulation_histogram() -> None:
    """A `Simulation` from the tree draws its metric's samples; another node by name."""
    pytest.importorskip("numpy")
    from kpitree.model.distributions import Uniform

    sim = qualified_leads().simulate(n=2_000, seed=3, distributions={"leads": Uniform(900, 1100)})
    ax = plot_simulation(sim, target=800)
    assert sum(p.get_height() for p in ax.patches) == 2_000
    assert ax.get_title().startswith("qualified_leads: 2,000 draws, P(≥ 800 lead) = ")
    leads = plot_simulation(sim, metric="leads")
    assert leads.get_xlabel() == "leads (lead)"
    assert min(p.get_x() for p in leads.patches) >= 900


def test_uncertainty_tornado_matches_the_sensitivity_tornado() -> None:
    """The tornado of ±10% moves draws the same spans from either analysis."""
    pytest.importorskip("numpy")
    from kpitree.analyses.uncertainty import tornado
    from kpitree.display.plots import plot_tornado

    tree = sales_revenue()
    t = tornado(tree, "revenue", swing="10%")
    ax = plot_tornado(t)
    png(ax)
    rows = list(t.rows_)
    assert [p.get_x() for p in ax.patches] == pytest.approx(
        [min(r.at_low, r.at_high) for r in rows]
    )
    assert [p.get_width() for p in ax.patches] == pytest.approx([r.swing for r in rows])
    by_name = {r.name: r for r in rows}
    s_ax = plot_sensitivity(tree.sensitivity("revenue"), kind="tornado")
    for label, patch in zip(s_ax.get_yticklabels(), s_ax.patches, strict=True):
        assert patch.get_width() == pytest.approx(by_name[label.get_text()].swing)


# -- charts a lead puts in a deck -------------------------------------------------------------


def revenue_bridge() -> Any:
    """A month of revenue: 2.64M RUB moved by a few hundred thousand either way."""
    after = {"managers": 6, "calls_per_day": 36, "working_days": 21, "call_to_purchase": 0.052}
    return sales_revenue().attribute("revenue", {}, after)


def fake_bridge(moves: list[float], before: float) -> SimpleNamespace:
    """An attribution of `revenue` with the given moves, one leaf each, three owners."""
    names = [f"lever_{i}{'_with_a_longer_name' * (i % 3 == 0)}" for i in range(len(moves))]
    owners = {n: ("sales", "marketing", "external")[i % 3] for i, n in enumerate(names)}
    by_owner: dict[str, float] = {}
    for name, move in zip(names, moves, strict=True):
        by_owner[owners[name]] = by_owner.get(owners[name], 0.0) + move
    return SimpleNamespace(
        tree=sales_revenue(),
        metric="revenue",
        method="shapley",
        before=before,
        after=before + sum(moves),
        total=sum(moves),
        contributions=dict(zip(names, moves, strict=True)),
        owners=owners,
        by_owner=by_owner,
    )


def test_bridge_axis_spans_the_data() -> None:
    """Large totals, small moves: the axis starts a little below the lowest running total."""
    a = revenue_bridge()
    ax = plot_attribution(a)
    levels = [a.before, a.after]
    running = a.before
    for move in a.contributions.values():
        running += move
        levels.append(running)
    low, high = ax.get_ylim()
    assert 0 < low < min(levels) and high > max(levels)
    assert min(levels) - low < 0.2 * (max(levels) - min(levels))  # a little, not to zero
    assert high - max(levels) < 0.35 * (max(levels) - min(levels))
    assert_no_overlap(ax)


def test_bridge_from_zero_when_zero_is_near() -> None:
    """When the moves are as large as the totals, the axis starts at zero."""
    ax = plot_attribution(fake_bridge([900.0, -300.0, 400.0, 100.0, 200.0], before=100.0))
    assert ax.get_ylim()[0] == 0


def test_bridge_colours_by_direction() -> None:
    """Revenue has no norm, so higher is better: its drops are red, its rises green."""
    a = revenue_bridge()
    ax = plot_attribution(a)
    moves = [v for v in a.contributions.values() if v]
    expected = [VERDICT_COLOURS["better" if v > 0 else "worse"] for v in moves]
    assert [hex_of(b) for b in ax.patches[1:-1]] == expected
    assert "worse" in {"better" if v > 0 else "worse" for v in moves}  # both kinds drawn


def test_bridge_colours_of_lower_is_better() -> None:
    """For a metric whose norm is `<=`, a rise is the bad move: red."""
    cost = kt.KPI("cost", owner="ops", horizon="1 month", value=100)
    extra = kt.KPI("extra", owner="ops", horizon="1 month", value=10)
    tree = kt.Tree(kt.Metric("spend", cost + extra, norm="<= 150"))
    assert tree.direction("spend") == "lower"
    ax = plot_attribution(tree.attribute("spend", {}, {"cost": 120, "extra": 5}))
    assert [hex_of(b) for b in ax.patches[1:-1]] == [
        VERDICT_COLOURS["worse"],
        VERDICT_COLOURS["better"],
    ]


def test_bridge_by_owner() -> None:
    """`by="owner"` draws a bar per owner, their leaves summed, inputs as external factors."""
    a = revenue_bridge()
    ax = plot_attribution(a, by="owner")
    moved = {o: v for o, v in a.by_owner.items() if v}
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["before", *moved, "after"]
    assert [b.get_height() for b in ax.patches[1:-1]] == pytest.approx(list(moved.values()))
    with kt.locale("ru"):
        ru = plot_attribution(a, by="owner")
    assert [t.get_text() for t in ru.get_xticklabels()] == [
        "до",
        *(("внешние факторы" if o == "external" else o) for o in moved),
        "после",
    ]
    assert_no_overlap(ru)
    by_method = a.plot(by="owner")  # the result's own plot takes the grouping too
    assert [t.get_text() for t in by_method.get_xticklabels()] == ticks


def test_bridge_unknown_grouping() -> None:
    """An unknown `by` is an ArgumentError saying what would be right."""
    with pytest.raises(kt.ArgumentError, match="unknown grouping") as caught:
        plot_attribution(revenue_bridge(), by="team")
    assert "by=" in str(caught.value)


def test_bridge_labels_are_compact_in_both_locales() -> None:
    """Bar labels are short (`+510K RUB`, `+510 тыс. RUB`), the title in the locale."""
    a = revenue_bridge()
    en = plot_attribution(a)
    assert en.texts[1].get_text() == "+500K RUB"
    assert en.get_title().startswith("revenue: 2,640,000 RUB → ") and "change" in en.get_title()
    with kt.locale("ru"):
        ru = plot_attribution(a)
    assert ru.texts[1].get_text() == "+500\xa0тыс. RUB"
    assert "изменение" in ru.get_title() and "2\xa0640\xa0000 RUB" in ru.get_title()
    low, high = ru.get_ylim()
    ticks = [t.get_text() for t in ru.get_yticklabels() if low <= t.get_position()[1] <= high]
    assert ticks and all("млн" in t for t in ticks), ticks
    assert_no_overlap(ru)


def test_bridge_grows_with_its_bars() -> None:
    """A new figure is wider for more bars."""
    few = plot_attribution(fake_bridge([1e5, -2e5, 3e5, -1e5, 2e5], before=3e6))
    many = plot_attribution(fake_bridge([1e5, -2e5, 3e5, -1e5, 2e5] * 4, before=3e6))
    assert many.figure.get_figwidth() > few.figure.get_figwidth()


def test_bridge_on_a_small_axes_never_overlaps() -> None:
    """On a small Axes it cannot grow: labels turn upright, or as a last resort are left out."""
    _, ax = plt.subplots(figsize=(6, 4.5), layout="constrained")
    plot_attribution(fake_bridge([123_456.0, -654_321.0] * 12, before=2_500_000), ax)
    assert ax.figure.get_figwidth() == 6  # not the chart's to resize
    assert_no_overlap(ax)


moves = st.lists(
    st.floats(1e3, 9e6).flatmap(lambda size: st.sampled_from([size, -size])),
    min_size=5,
    max_size=30,
)


@given(
    moves, st.floats(1e6, 1e9), st.sampled_from(["leaf", "owner"]), st.sampled_from(kt.i18n.LOCALES)
)
@settings(max_examples=8, deadline=None)
def test_bridge_texts_never_overlap(
    moves: list[float], before: float, by: str, language: str
) -> None:
    """Any bridge of 5–30 mixed moves of large size: no two texts drawn overlap."""
    with kt.locale(language):
        ax = plot_attribution(fake_bridge(moves, before), by=by)
        assert_no_overlap(ax)
    plt.close("all")


@pytest.mark.parametrize(("language", "million"), [("en", "M"), ("ru", "млн")])
def test_tornado_ticks_are_readable(language: str, million: str) -> None:
    """The tornado of revenue ticks at a few round values, compact, none colliding."""
    pytest.importorskip("numpy")
    from kpitree.analyses.uncertainty import tornado
    from kpitree.display.plots import plot_tornado

    with kt.locale(language):
        ax = plot_tornado(tornado(sales_revenue(), "revenue", swing="10%"))
        ax.figure.canvas.draw()
        low, high = ax.get_xlim()
        shown = [t for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high]
        ticks = [t.get_text() for t in shown]
        assert 3 <= len(ticks) <= 7 and len(set(ticks)) == len(ticks)
        assert all(million in t for t in ticks)
        assert_no_overlap(ax)
        title = ax.get_title()
    assert ("swing of each leaf" in title) == (language == "en")
    assert ("размах по каждому входу" in title) == (language == "ru")


def test_sensitivity_tornado_ticks_do_not_collide() -> None:
    """The sensitivity tornado of a large metric, on a narrow Axes, thins its ticks."""
    _, ax = plt.subplots(figsize=(3.5, 3), layout="constrained")
    plot_sensitivity(sales_revenue().sensitivity("revenue"), ax, kind="tornado")
    assert_no_overlap(ax)


def test_every_chart_speaks_russian() -> None:
    """Titles, axis labels and legends are Russian under ru, numbers in its format."""
    tree = qualified_leads_ru()
    with kt.locale("ru"):
        s = plot_sensitivity(tree.sensitivity("квал_лиды"))
        assert s.get_title() == "Чувствительность квал_лиды = 800 лидов"
        assert s.get_xlabel().startswith("изменение квал_лиды при росте входа на 1\xa0%")
        assert s.get_legend().get_title().get_text() == "ответственный"
        t = plot_sensitivity(tree.sensitivity("квал_лиды"), kind="tornado")
        assert "в отдельности на ±10\xa0%" in t.get_title().replace("\n", " ")
        sc = plot_scenario(tree.whatif({"лиды": 900}))
        assert sc.get_title().startswith("Сценарий: ") and sc.get_xlabel() == "изменение, %"
        sim = SimpleNamespace(
            metric="квал_лиды", tree=tree, samples=[760.0, 800.0, 840.0, 900.0, 950.0]
        )
        h = plot_simulation(sim, target=900, bins=4)
        assert h.get_title() == "квал_лиды: 5 прогонов, P(≥ 900 лидов) = 40\xa0%"
        assert h.get_ylabel() == "число прогонов"
        legend = [x.get_text() for x in h.get_legend().get_texts()]
        assert legend == ["среднее 850 лидов", "цель 900 лидов"]
        for ax in (s, t, sc, h):
            png(ax)
            assert_no_overlap(ax)
    with kt.locale("ru"):
        one = SimpleNamespace(metric="квал_лиды", tree=tree, samples=[800.0])
        assert plot_simulation(one, bins=1).get_title() == "квал_лиды: 1 прогон"


def test_compact_numbers() -> None:
    """Compact numbers in both locales, exact below a thousand, with a true minus."""
    assert [compact_number(x) for x in (494_766, 1_234, 2_500_000, 999, 0.8, -30)] == [
        "495K",
        "1.23K",
        "2.5M",
        "999",
        "0.8",
        "−30",
    ]
    with kt.locale("ru"):
        assert compact_number(494_766, sign=True) == "+495\xa0тыс."
        assert compact_number(-30) == "−30"
        assert compact_number(1060.66, digits=6) == "1,06066\xa0тыс."

"""Charts: rendered with Agg to PNG, checked by what was drawn (bars, heights, labels)."""

import io
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from hypothesis import given, settings

import kpitree as kt
from kpitree.display.plots import (
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
    """Before, each moved leaf floating on the running total in its owner's colour, after."""
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
    assert labels == ["before", "лиды", "конверсия_в_квал", "after"]
    colours = owner_colours(tree)
    assert hex_of(bars[1]) == colours["маркетинг"] and hex_of(bars[2]) == colours["продажи"]
    assert "(лид)" in ax.get_ylabel()


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
    assert hex_of(ax.patches[names.index("mrr")]) == VERDICT_COLOURS["neutral"]


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

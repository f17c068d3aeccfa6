"""Which way a node is better (`direction`), and every colouring of good and bad moves by it.

A node gives its direction, or its norm implies it (`>=` higher, `<=` lower), or it is
higher; a range norm says neither. Every display asks `Graph.direction`: a cost rising is
red and falling green in charts, HTML, diagrams and the explorer.
"""

from __future__ import annotations

import pytest

import kpitree as kt
from kpitree.display.style import VERDICT_COLOURS
from kpitree.io.model import dumps, loads, to_dict

COST_TREE = """\
kpis:
  cost: {owner: ops, horizon: 1 month, value: 900, direction: lower}
  extra: {owner: ops, horizon: 1 month, value: 300}
metrics:
  spend: {formula: cost + extra, direction: lower}
"""


def cost_tree() -> kt.Tree:
    """`spend = cost + extra`, both spend and cost lower-is-better, without any norm."""
    return kt.loads(COST_TREE, "yaml")


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (kt.KPI("a", owner="o", horizon="1 day"), "higher"),
        (kt.KPI("a", owner="o", horizon="1 day", norm=">= 80%"), "higher"),
        (kt.KPI("a", owner="o", horizon="1 day", norm="<= 15"), "lower"),
        (kt.KPI("a", owner="o", horizon="1 day", norm="5..15"), None),
        (kt.KPI("a", owner="o", horizon="1 day", norm="5..15", direction="lower"), "lower"),
        (kt.KPI("a", owner="o", horizon="1 day", direction="lower"), "lower"),
        (kt.KPI("a", owner="o", horizon="1 day", norm="<= 15", direction="lower"), "lower"),
        (kt.Input("a"), "higher"),
        (kt.Input("a", direction="lower"), "lower"),
    ],
)
def test_effective_direction_of_a_leaf(node: kt.KPI | kt.Input, expected: str | None) -> None:
    """Given, else from the norm, else higher; a range norm has none unless given."""
    tree = kt.Tree(kt.Metric("m", node * 2))
    assert tree.direction("a") == expected


def test_effective_direction_of_a_metric() -> None:
    """A metric without norm or direction is higher-is-better; with them, as for KPIs."""
    tree = cost_tree()
    assert (tree.direction("spend"), tree.direction("cost"), tree.direction("extra")) == (
        "lower",
        "lower",
        "higher",
    )
    ranged = kt.Tree(kt.Metric("m", tree["cost"] * 2, norm="1..2"))
    assert ranged.direction("m") is None


@pytest.mark.parametrize("fmt", ["yaml", "toml", "json"])
def test_direction_round_trips_and_is_written_only_when_given(fmt: str) -> None:
    """`direction` reads back in every format; a node without it is written without it."""
    tree = cost_tree()
    back = loads(dumps(tree, fmt), fmt)
    assert back == tree
    assert [back[n].direction for n in ("spend", "cost", "extra")] == ["lower", "lower", None]
    data = to_dict(tree)
    assert data["kpis"]["cost"]["direction"] == "lower"
    assert "direction" not in data["kpis"]["extra"]
    assert data["metrics"]["spend"]["direction"] == "lower"


def test_an_unknown_direction_names_both_words_with_did_you_mean() -> None:
    """`direction="lowr"` is refused naming `higher` and `lower`, suggesting `lower`."""
    with pytest.raises(kt.ArgumentError) as info:
        kt.KPI("cost", owner="ops", horizon="1 day", direction="lowr")
    assert str(info.value) == (
        "KPI `cost`: direction 'lowr' is neither `higher` nor `lower`\nhint: did you mean `lower`?"
    )
    with pytest.raises(kt.ValueTypeError, match="direction 1 is neither `higher` nor `lower`"):
        kt.Metric("m", "a", direction=1)  # type: ignore[arg-type]


def test_a_direction_against_the_norm_names_both() -> None:
    """`direction="lower"` with `norm=">= 80%"` is refused naming the direction and the norm."""
    with pytest.raises(kt.ArgumentError) as info:
        kt.KPI("rate", owner="sales", horizon="1 day", norm=">= 80%", direction="lower")
    assert str(info.value).startswith(
        "KPI `rate`: direction `lower` contradicts the norm `>= 80%`\nhint: a `>=` norm"
    )
    with pytest.raises(kt.ArgumentError, match="direction `higher` contradicts the norm `<= 15`"):
        kt.Metric("m", "a", norm="<= 15", direction="higher")


def test_direction_problems_in_a_model_file_are_located() -> None:
    """A bad word is located at its field; a contradiction at the node, with the others."""
    text = (
        "kpis:\n"
        "  cost: {owner: ops, horizon: 1 day, direction: Lower}\n"
        "  rate: {owner: ops, horizon: 1 day, direction: lower, norm: '>= 80%'}\n"
        "metrics:\n"
        "  m: {formula: cost + rate, direction: up}\n"
    )
    with pytest.raises(kt.ValidationError) as info:
        loads(text, "yaml", source="m.yaml")
    lines = str(info.value).splitlines()
    assert lines[1] == (
        "  - m.yaml:2 @ $.kpis.cost.direction: direction 'Lower' is neither `higher` nor `lower`"
    )
    assert lines[3] == (
        "  - m.yaml:3 @ $.kpis.rate: direction `lower` contradicts the norm `>= 80%`"
    )
    assert lines[5].startswith("  - m.yaml:5 @ $.metrics.m.direction: direction 'up' is neither")


def test_direction_errors_in_russian() -> None:
    """The direction errors read in Russian under the ru locale, the two words kept."""
    with kt.locale("ru"), pytest.raises(kt.ArgumentError) as info:
        kt.KPI("rate", owner="sales", horizon="1 day", norm=">= 80%", direction="lower")
    assert "`lower`" in str(info.value) and "`>= 80%`" in str(info.value)
    assert "contradicts" not in str(info.value)


# -- every colouring asks the same rule: a cost rising is bad (red), falling good (green) ----

MOVES = pytest.mark.parametrize(
    ("cost", "judged"),
    [(1200, "worse"), (600, "better")],
    ids=["cost rises", "cost falls"],
)


@MOVES
def test_chart_bars_of_a_lower_is_better_cost(cost: float, judged: str) -> None:
    """Scenario and bridge bars of a `direction: lower` cost are red when it rises."""
    pytest.importorskip("matplotlib", reason="charts need the `plot` extra")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt

    from kpitree.display.plots import plot_attribution, plot_scenario

    tree = cost_tree()
    ax = plot_scenario(tree.whatif({"cost": cost}))
    bars = [mcolors.to_hex(bar.get_facecolor()) for bar in ax.patches]
    assert bars == [VERDICT_COLOURS[judged]] * 2  # spend and cost, both lower-is-better
    ax = plot_attribution(tree.attribute("spend", {}, {"cost": cost}))
    moved = [mcolors.to_hex(bar.get_facecolor()) for bar in ax.patches[1:-1]]
    assert moved == [VERDICT_COLOURS[judged]]
    plt.close("all")


@MOVES
def test_html_colours_of_a_lower_is_better_cost(cost: float, judged: str) -> None:
    """In the scenario and attribution HTML a rising cost is red, a falling one green."""
    from kpitree.display.html import attribution_html, scenario_html

    tree = cost_tree()
    change = f"{'+' if cost > 900 else '−'}300"
    page = scenario_html(tree.whatif({"cost": cost}))
    assert page.count(f'<span style="color: {VERDICT_COLOURS[judged]}; font-weight: 600">') == 4
    assert f'{VERDICT_COLOURS[judged]}; font-weight: 600">{change}</span>' in page
    page = attribution_html(tree.attribute("spend", {}, {"cost": cost}))
    assert f'<span style="color: {VERDICT_COLOURS[judged]}' in page
    other = VERDICT_COLOURS["better" if judged == "worse" else "worse"]
    assert f'<span style="color: {other}' not in page


@MOVES
def test_explorer_verdict_of_a_lower_is_better_cost(cost: float, judged: str) -> None:
    """The explorer's evaluate and compare judge a rising cost `worse`, a falling one `better`."""
    from kpitree.apps.server import Explorer

    tree = cost_tree()
    answer = Explorer(tree).evaluate({"values": {"cost": cost}})
    verdicts = {row["name"]: row["verdict"] for row in answer["nodes"]}
    assert verdicts == {"spend": judged, "cost": judged, "extra": "neutral"}


def test_explorer_verdict_without_a_norm_is_higher_is_better_for_kpis_too() -> None:
    """A KPI without norm or direction falling is `worse` (before: neutral, metrics only)."""
    from kpitree.apps.server import Explorer
    from kpitree.examples import qualified_leads

    answer = Explorer(qualified_leads()).evaluate({"values": {"leads": 900}})
    assert {row["name"]: row["verdict"] for row in answer["nodes"]}["leads"] == "worse"


@MOVES
def test_diagram_marks_of_a_lower_is_better_cost(cost: float, judged: str) -> None:
    """Mermaid and DOT write `worse` (red) for a rising cost, `better` (green) for a falling one."""
    from kpitree.display.diagrams import to_dot, to_mermaid

    tree = cost_tree()
    scenario = tree.whatif({"cost": cost})
    mermaid = to_mermaid(tree, scenario=scenario)
    assert mermaid.count(f" · {judged}") == 2
    dot = to_dot(tree, scenario=scenario)
    assert dot.count(f'<font color="{VERDICT_COLOURS[judged]}">') == 2
    with kt.locale("ru"):
        words = {"better": "лучше", "worse": "хуже"}
        assert to_mermaid(tree, scenario=scenario).count(f" · {words[judged]}") == 2


def test_a_range_norm_without_direction_is_grey_everywhere() -> None:
    """A range norm says neither way: its moves are neutral unless a direction is given."""
    from kpitree.display.style import verdict

    leaf = kt.KPI("share", owner="ops", horizon="1 day", value=0.5, norm="40%..60%")
    tree = kt.Tree(kt.Metric("m", leaf * 2))
    assert verdict(tree, "share", 0.1) == verdict(tree, "share", -0.1) == "neutral"
    given = kt.Tree(kt.Metric("m", leaf.replace(direction="lower") * 2))
    assert (verdict(given, "share", 0.1), verdict(given, "share", -0.1)) == ("worse", "better")

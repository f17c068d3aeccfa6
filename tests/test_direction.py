"""Which way a node is better (`direction`), and every colouring of good and bad moves by it.

A node gives its direction, or its norm implies it (`>=` higher, `<=` lower), or it is
higher; a range norm says neither. Every display asks `Graph.direction`: a cost rising is
red and falling green in charts, HTML, diagrams and the explorer.
"""

from __future__ import annotations

import pytest

import kpitree as kt
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
    return loads(COST_TREE, "yaml")


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
        "KPI `cost`: direction 'lowr' is neither `higher` nor `lower`\n"
        "hint: did you mean `lower`?"
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

"""Chain substitution (`method="sequential"`): textbook tables, properties, frames, errors."""

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import kpitree as kt
from kpitree.examples import qualified_leads
from kpitree.testing import trees

SEED_BEFORE = {"leads": 1000, "lead_to_ql": 0.8}
SEED_AFTER = {"leads": 1100, "lead_to_ql": 0.7}


def test_textbook_two_factors_each_order() -> None:
    """Quantity first: ΔA·B0 then A1·ΔB; rate first: A0·ΔB then ΔA·B1 (the joint term moves)."""
    tree = qualified_leads()
    first = tree.attribute(
        "qualified_leads", SEED_BEFORE, SEED_AFTER, "sequential", order=["leads", "lead_to_ql"]
    )
    assert dict(first.contributions) == {"leads": 100 * 0.8, "lead_to_ql": 1100 * -0.1}
    second = tree.attribute(
        "qualified_leads", SEED_BEFORE, SEED_AFTER, "sequential", order=["lead_to_ql", "leads"]
    )
    expected = {"leads": 100 * 0.7, "lead_to_ql": 1000 * -0.1}
    assert dict(second.contributions) == pytest.approx(expected)
    assert first.order == ("leads", "lead_to_ql") and first.method == "sequential"


def _price_volume_mix() -> kt.Tree:
    """Revenue of two products = total units × mix share × price, per product."""
    units = kt.KPI("units", owner="sales", horizon="1 month")
    share_a = kt.KPI("share_a", owner="marketing", horizon="1 month")
    price_a = kt.KPI("price_a", owner="pricing", horizon="1 month")
    price_b = kt.KPI("price_b", owner="pricing", horizon="1 month")
    return kt.Tree(
        kt.Metric("revenue", units * share_a * price_a + units * (1 - share_a) * price_b)
    )


def test_price_volume_mix_textbook() -> None:
    """Volume at the old mix and prices, then mix at the old prices, then price: the FP&A table.

    Budget 1,000 units, 60% A at 10, 40% B at 5 (revenue 8,000); actual 1,200 units, 50% A at
    11, 50% B at 6 (revenue 10,200). Volume: 200 × (0.6·10 + 0.4·5) = 1,600. Mix: 1,200 ×
    (−0.1·10 + 0.1·5) = −600. Price: 1,200 × (0.5·1 + 0.5·1) = 1,200. Total 2,200.
    """
    before = {"units": 1000, "share_a": 0.6, "price_a": 10, "price_b": 5}
    after = {"units": 1200, "share_a": 0.5, "price_a": 11, "price_b": 6}
    order = ["units", "share_a", "price_a", "price_b"]
    result = _price_volume_mix().attribute("revenue", before, after, "sequential", order=order)
    assert result.total == pytest.approx(2200)
    parts = result.contributions
    assert parts["units"] == pytest.approx(1600)
    assert parts["share_a"] == pytest.approx(-600)
    assert parts["price_a"] + parts["price_b"] == pytest.approx(1200)
    assert parts["price_a"] == pytest.approx(600) and parts["price_b"] == pytest.approx(600)


def test_acca_sales_mix_and_quantity_variance() -> None:
    """ACCA: quantity variance at the standard mix, then the mix variance, at standard margins.

    Standard: 100 units, 70% X (margin 20), 30% Y (margin 10): profit 1,700. Actual at
    standard margins: 120 units, 60% X: 120 × (0.6·20 + 0.4·10) = 1,920. Quantity variance
    20 × (0.7·20 + 0.3·10) = 340; mix variance 120 × (−0.1·20 + 0.1·10) = −120.
    """
    units = kt.KPI("units", owner="sales", horizon="1 month")
    share_x = kt.KPI("share_x", owner="sales", horizon="1 month")
    profit = kt.Metric("profit", units * share_x * 20 + units * (1 - share_x) * 10)
    tree = kt.Tree(profit)
    result = tree.attribute(
        "profit",
        {"units": 100, "share_x": 0.7},
        {"units": 120, "share_x": 0.6},
        "sequential",
        order=["units", "share_x"],
    )
    assert result.contributions["units"] == pytest.approx(340)
    assert result.contributions["share_x"] == pytest.approx(-120)


def test_rate_volume_table_gives_the_joint_term_to_rate() -> None:
    """A bank's rate/volume table: volume at the old rate, rate at the new volume (joint → rate).

    Balance 1,000 → 1,200, rate 5% → 6%: interest 50 → 72. Volume 200 × 5% = 10; rate
    1,200 × 1% = 12 (own 10 plus the joint 2).
    """
    balance = kt.KPI("balance", owner="treasury", horizon="1 month")
    rate = kt.KPI("rate", owner="alm", horizon="1 month")
    tree = kt.Tree(kt.Metric("interest", balance * rate))
    result = tree.attribute(
        "interest",
        {"balance": 1000, "rate": 0.05},
        {"balance": 1200, "rate": 0.06},
        "sequential",
        order=["balance", "rate"],
    )
    assert result.contributions["balance"] == pytest.approx(10)
    assert result.contributions["rate"] == pytest.approx(12)


@st.composite
def _changes(draw: Any, tree: kt.Tree) -> dict[str, float]:
    return {
        leaf.name: draw(st.floats(0.5, 4.0, allow_nan=False))
        for leaf in tree.leaves
        if draw(st.booleans())
    }


def _defined(tree: kt.Tree, after: dict[str, float]) -> None:
    try:
        tree.evaluate()
        tree.evaluate(after)
    except kt.EvaluationError:
        assume(False)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_sums_to_the_change_in_any_order(data: Any) -> None:
    """Every order's steps add up to the change exactly (to 1e-9 of the values)."""
    tree = data.draw(trees())
    metric = tree.roots[0].name
    after = data.draw(_changes(tree))
    _defined(tree, after)
    names = [leaf.name for leaf in tree.subtree(metric).leaves]
    order = data.draw(st.permutations(names))
    try:
        result = tree.attribute(metric, {}, after, "sequential", order=order)
    except kt.EvaluationError:
        assume(False)  # undefined in the middle of the chain: said, not guessed
    scale = max(abs(result.before), abs(result.after), 1.0)
    assert abs(math.fsum(result.contributions.values()) - result.total) <= 1e-9 * scale
    for leaf, value in result.contributions.items():
        if after.get(leaf, tree[leaf].value) == tree[leaf].value:
            assert value == 0.0


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_the_average_over_all_orders_is_shapley(data: Any) -> None:
    """Chain substitution averaged over every order of the leaves is the Shapley value."""
    tree = data.draw(trees(max_leaves=4))
    metric = tree.roots[0].name
    after = data.draw(_changes(tree))
    _defined(tree, after)
    names = [leaf.name for leaf in tree.subtree(metric).leaves]
    try:
        shapley = tree.attribute(metric, {}, after)
        runs = [
            tree.attribute(metric, {}, after, "sequential", order=order).contributions
            for order in itertools.permutations(names)
        ]
    except kt.EvaluationError:
        assume(False)
    scale = max(abs(shapley.before), abs(shapley.after), 1.0)
    for leaf in names:
        mean = math.fsum(run[leaf] for run in runs) / len(runs)
        assert mean == pytest.approx(shapley.contributions[leaf], abs=1e-9 * scale)


def test_per_segment_equals_one_at_a_time() -> None:
    """`attribute_frame(method="sequential")` gives each segment what `attribute` gives it."""
    rng = np.random.default_rng(7)
    rows = []
    for month in ("jan", "feb"):
        for channel in range(20):
            rows.append(
                {
                    "month": month,
                    "channel": channel,
                    "leads": float(rng.integers(100, 2000)),
                    "lead_to_ql": float(rng.uniform(0.5, 0.95)),
                }
            )
    frame = pd.DataFrame(rows)
    tree = qualified_leads()
    order = ["lead_to_ql", "leads"]
    out = tree.attribute_frame(
        frame, "qualified_leads", period="month", before="jan", after="feb",
        by=["channel"], method="sequential", order=order,
    )  # fmt: skip
    for channel, part in frame.groupby("channel"):
        low, high = (part[part.month == m].iloc[0] for m in ("jan", "feb"))
        one = tree.attribute("qualified_leads", low, high, "sequential", order=order)
        row = out[out.channel == channel].iloc[0]
        for leaf in ("leads", "lead_to_ql"):
            assert row[leaf] == pytest.approx(one.contributions[leaf], rel=1e-12, abs=1e-9)


@pytest.mark.parametrize(
    ("order", "error", "message"),
    [
        (None, kt.ArgumentError, r'method="sequential" needs order=\[\.\.\.\]'),
        ("leads", kt.ArgumentError, r'method="sequential" needs order=\[\.\.\.\]'),
        (["leads"], kt.ArgumentError, r"order= leaves out `lead_to_ql`, which changed"),
        (["leads", "lead"], kt.UnknownNameError, r"(?s)`lead`, which is not a leaf.*`leads`\?"),
        (["leads", "leads", "lead_to_ql"], kt.ArgumentError, r"names `leads` more than once"),
    ],
)
def test_bad_orders_are_refused(order: Any, error: type, message: str) -> None:
    """A missing, partial, unknown or repeated order is an error saying what would be right."""
    with pytest.raises(error, match=message):
        qualified_leads().attribute(
            "qualified_leads", SEED_BEFORE, SEED_AFTER, "sequential", order=order
        )


def test_unchanged_leaves_may_be_left_out_and_order_needs_sequential() -> None:
    """Only changing leaves must be named; order= with another method is refused."""
    tree = qualified_leads()
    result = tree.attribute(
        "qualified_leads", SEED_BEFORE, {"leads": 1100}, "sequential", order=["leads"]
    )
    assert dict(result.contributions) == {"leads": 80.0, "lead_to_ql": 0.0}
    with pytest.raises(kt.ArgumentError, match=r'order= is the order of method="sequential"'):
        tree.attribute("qualified_leads", SEED_BEFORE, SEED_AFTER, order=["leads"])


def test_undefined_in_the_middle_of_the_chain_is_named() -> None:
    """A step where the metric has no value is an error naming the step, not a NaN share."""
    a, b, c = (kt.Input(n, value=v) for n, v in (("a", 1.0), ("b", 2.0), ("c", 1.0)))
    tree = kt.Tree(kt.Metric("m", a / (b - c)))
    with pytest.raises(kt.EvaluationError, match=r"undefined in the chain once `c`"):
        tree.attribute("m", {}, {"b": 3.0, "c": 2.0}, "sequential", order=["c", "b"])


def test_text_and_json_name_the_order_in_both_locales() -> None:
    """The headline names the method and the chain; `to_dict` keeps the order."""
    tree = qualified_leads()
    result = tree.attribute(
        "qualified_leads", SEED_BEFORE, SEED_AFTER, "sequential", order=["leads", "lead_to_ql"]
    )
    assert "chain substitution: leads → lead_to_ql" in result.headline()
    assert result.to_dict()["order"] == ["leads", "lead_to_ql"]
    with kt.locale("ru"):
        assert "цепные подстановки: leads → lead_to_ql" in result.headline()


def test_the_limit_says_sizes_in_words() -> None:
    """Refusing Shapley over many leaves writes 2^n as a power of ten, not 300 digits."""
    leaves = [kt.Input(f"x{i}", value=1.0) for i in range(1000)]
    squares = [leaf * leaf for leaf in leaves]  # not multilinear: no shortcut to Shapley
    tree = kt.Tree(kt.Metric("m", kt.Metric("s", sum(squares[1:], squares[0])) * 1))
    with pytest.raises(kt.LimitError) as info:
        tree.attribute("m", {}, {leaf.name: 2.0 for leaf in leaves})
    assert "about 10^301" in str(info.value)
    assert len(str(info.value)) < 600

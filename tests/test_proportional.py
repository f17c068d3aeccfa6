"""The proportional method: own effects plus the joint term in proportion (bank rate/volume)."""

import math
from typing import Any

import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import kpitree as kt
from kpitree.i18n import locale


def _interest() -> kt.Tree:
    balance = kt.KPI("balance", owner="treasury", horizon="1 month")
    rate = kt.KPI("rate", owner="alm", horizon="1 month")
    return kt.Tree(kt.Metric("interest", balance * rate))


def test_rate_volume_table_splits_the_joint_term_in_proportion() -> None:
    """Balance 1,000 → 1,200, rate 5% → 6%: own effects 10 (volume) and 10 (rate), joint 2.

    The filings' rule: "allocated in proportion to the absolute amounts of the change in
    each": 10 / 20 of the joint term to each, so 11 and 11.
    """
    result = _interest().attribute(
        "interest", {"balance": 1000, "rate": 0.05}, {"balance": 1200, "rate": 0.06}, "proportional"
    )
    assert result.contributions["balance"] == pytest.approx(11)
    assert result.contributions["rate"] == pytest.approx(11)
    assert result.method == "proportional"


def test_unequal_own_effects_and_offsetting_moves() -> None:
    """Balance up 1,000 → 1,500, rate down 4% → 3%: own +20 and −10, joint −5 split 2:1.

    |own| are 20 and 10, so the volume takes 2/3 of −5 and the rate 1/3: 16.67 and −11.67.
    """
    result = _interest().attribute(
        "interest", {"balance": 1000, "rate": 0.04}, {"balance": 1500, "rate": 0.03}, "proportional"
    )
    assert result.total == pytest.approx(5)
    assert result.contributions["balance"] == pytest.approx(20 - 5 * 2 / 3)
    assert result.contributions["rate"] == pytest.approx(-10 - 5 / 3)


def test_a_sum_of_products_is_split_term_by_term() -> None:
    """Two products sharing no leaf: each term's joint part stays with its own leaves."""
    a, b, c, d = (kt.KPI(n, owner="o", horizon="1 day") for n in "abcd")
    tree = kt.Tree(kt.Metric("m", a * b + c / d))
    before = {"a": 2, "b": 3, "c": 8, "d": 4}
    after = {"a": 3, "b": 5, "c": 8, "d": 2}
    result = tree.attribute("m", before, after, "proportional")
    # a*b: own a = 1*3 = 3, own b = 2*2 = 4, joint 1*2 = 2 → a 3 + 2*3/7, b 4 + 2*4/7.
    assert result.contributions["a"] == pytest.approx(3 + 2 * 3 / 7)
    assert result.contributions["b"] == pytest.approx(4 + 2 * 4 / 7)
    # c/d: only d moves: its own effect is the whole change 8/2 - 8/4 = 2.
    assert result.contributions["d"] == pytest.approx(2)
    assert result.contributions["c"] == 0.0


def test_no_own_effect_splits_the_joint_term_equally() -> None:
    """Both factors from 0: no own effects, the whole change is joint: half each (= Shapley)."""
    result = _interest().attribute(
        "interest", {"balance": 0, "rate": 0}, {"balance": 100, "rate": 0.05}, "proportional"
    )
    shapley = _interest().attribute(
        "interest", {"balance": 0, "rate": 0}, {"balance": 100, "rate": 0.05}
    )
    assert dict(result.contributions) == pytest.approx(dict(shapley.contributions))
    assert result.contributions["balance"] == pytest.approx(2.5)


@st.composite
def _products(draw: Any) -> tuple[kt.Tree, dict[str, float], dict[str, float]]:
    names = [f"k{i}" for i in range(draw(st.integers(2, 6)))]
    leaves = {n: kt.KPI(n, owner="o", horizon="1 day") for n in names}
    terms = draw(
        st.lists(st.lists(st.sampled_from(names), min_size=1, max_size=3), min_size=1, max_size=3)
    )
    expr: Any = 0
    for term in terms:
        product: Any = 1
        for name in term:
            product = product * leaves[name] if draw(st.booleans()) else product / leaves[name]
        expr = expr + product
    value = st.floats(-5, 5, allow_nan=False).filter(lambda v: abs(v) > 0.01)
    tree = kt.Tree(kt.Metric("m", expr))
    used = [leaf.name for leaf in tree.leaves]  # a leaf no term drew is not in the tree
    before = {n: draw(value) for n in used}
    after = {n: draw(value) if draw(st.booleans()) else before[n] for n in used}
    return tree, before, after


@settings(max_examples=80, deadline=None)
@given(_products())
def test_sums_to_the_change_on_random_sums_of_products(case: Any) -> None:
    """Every split adds up to the change; a leaf that did not move gets exactly 0."""
    tree, before, after = case
    try:
        result = tree.attribute("m", before, after, "proportional")
    except kt.EvaluationError:
        assume(False)
    scale = max(abs(result.before), abs(result.after), 1.0)
    assert abs(math.fsum(result.contributions.values()) - result.total) <= 1e-9 * scale
    for leaf, value in result.contributions.items():
        if before.get(leaf) == after.get(leaf):
            assert value == 0.0


def test_per_segment_equals_one_at_a_time() -> None:
    """`attribute_frame` gives each segment what `attribute` gives it."""
    data = pd.DataFrame(
        {
            "month": ["jan", "feb", "jan", "feb"],
            "desk": ["retail", "retail", "corp", "corp"],
            "balance": [1000, 1200, 500, 400],
            "rate": [0.05, 0.06, 0.03, 0.035],
        }
    )
    tree = _interest()
    out = tree.attribute_frame(
        data,
        "interest",
        period="month",
        before="jan",
        after="feb",
        by="desk",
        method="proportional",
    )
    for _, row in out.iterrows():
        rows = data[data.desk == row["desk"]]
        one = tree.attribute(
            "interest",
            rows.iloc[[0]][["balance", "rate"]],
            rows.iloc[[1]][["balance", "rate"]],
            "proportional",
        )
        assert row["balance"] == pytest.approx(one.contributions["balance"])
        assert row["rate"] == pytest.approx(one.contributions["rate"])


def test_outside_products_is_refused_by_name_in_both_locales() -> None:
    """A division by a sum is outside the family: a `FormulaError` naming the node."""
    a, b = kt.KPI("a", owner="o", horizon="1 day"), kt.KPI("b", owner="o", horizon="1 day")
    tree = kt.Tree(kt.Metric("m", a / (a + b)))
    with pytest.raises(kt.FormulaError, match="proportional method takes products") as info:
        tree.attribute("m", {"a": 1, "b": 1}, {"a": 2, "b": 1}, "proportional")
    assert "divides by a sum" in str(info.value)
    with locale("ru"), pytest.raises(kt.FormulaError, match="пропорциональный метод"):
        tree.attribute("m", {"a": 1, "b": 1}, {"a": 2, "b": 1}, "proportional")


def test_headline_names_the_method_in_russian() -> None:
    """The headline names the method in the active locale."""
    with locale("ru"):
        text = str(
            _interest().attribute(
                "interest",
                {"balance": 1000, "rate": 0.05},
                {"balance": 1200, "rate": 0.06},
                "proportional",
            )
        )
    assert "пропорциональный" in text.splitlines()[0]

"""Attribution of a change: exact methods, owners, accountability, periods from data."""

import itertools
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import kpitree as kt
from kpitree.analyses.attribution import accountability, attribute_frame
from kpitree.examples import qualified_leads, saas_mrr, sales_revenue
from kpitree.testing import random_tree, trees

BEFORE = {"leads": 1000, "lead_to_ql": 0.8}
AFTER = {"leads": 1100, "lead_to_ql": 0.7}


def _close(total: float, parts: Any, scale: float) -> bool:
    """The safety rule: sums agree to 1e-9 of the larger end value."""
    return abs(math.fsum(parts) - total) <= 1e-9 * max(scale, 1e-300)


def _log_mean(a: float, b: float) -> float:
    """The textbook logarithmic mean, written independently of the module."""
    return a if a == b else (a - b) / (math.log(a) - math.log(b))


@st.composite
def changes(draw: Any, tree: kt.Tree) -> dict[str, float]:
    """New values for a random subset of the leaves (positive, like the tree's own)."""
    out = {}
    for leaf in tree.leaves:
        if draw(st.booleans()):
            out[leaf.name] = draw(st.floats(0.5, 4.0, allow_nan=False))
    return out


def _attribute_or_skip(tree: kt.Tree, metric: str, after: dict[str, float], method: str) -> Any:
    try:
        # Both periods: the checks evaluate the whole tree, where another root may be
        # undefined at the base values even when `metric` is not.
        tree.evaluate()
        tree.evaluate(after)
        return tree.attribute(metric, {}, after, method=method)
    except kt.EvaluationError:
        assume(False)  # an undefined mix (x / (a - b)) has no attribution to check


def naive_shapley(tree: kt.Tree, metric: str, after: dict[str, float]) -> dict[str, float]:
    """Shapley by its definition: the average marginal effect over every order of players."""
    base = {leaf.name: leaf.value for leaf in tree.leaves}
    players = [n for n, v in after.items() if v != base[n]]
    out = dict.fromkeys(players, 0.0)
    orders = list(itertools.permutations(players))
    for order in orders:
        values = dict(base)
        previous = tree.evaluate(values)[metric]
        for player in order:
            values[player] = after[player]
            current = tree.evaluate(values)[metric]
            out[player] += (current - previous) / len(orders)
            previous = current
    return out


# -- worked examples -------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["shapley", "hierarchical"])
def test_worked_example_qualified_leads(method: str) -> None:
    """QLs 1000×0.8 → 1100×0.7: leads +75, conversion −105, total −30 (Shapley's halves)."""
    result = qualified_leads().attribute("qualified_leads", BEFORE, AFTER, method=method)
    leads = (100 * 0.8 + 100 * 0.7) / 2
    conversion = (-0.1 * 1000 - 0.1 * 1100) / 2
    assert result.total == pytest.approx(-30)
    assert result.contributions["leads"] == pytest.approx(leads, rel=1e-12)
    assert result.contributions["lead_to_ql"] == pytest.approx(conversion, rel=1e-12)
    assert dict(result.by_owner) == pytest.approx({"marketing": 75, "sales": -105})
    assert result.method == method


def test_worked_example_lmdi() -> None:
    """LMDI-I on the same change: L(770, 800)·ln(ratio) per factor; factors are the ratios."""
    result = qualified_leads().attribute("qualified_leads", BEFORE, AFTER, method="lmdi")
    weight = _log_mean(770, 800)
    assert result.contributions["leads"] == pytest.approx(weight * math.log(1.1), rel=1e-12)
    assert result.contributions["lead_to_ql"] == pytest.approx(
        weight * math.log(0.7 / 0.8), rel=1e-12
    )
    assert dict(result.factors) == pytest.approx({"leads": 1.1, "lead_to_ql": 0.875})
    assert _close(result.total, result.contributions.values(), 800)


def test_price_times_quantity_shapley_is_bennet() -> None:
    """For Σ price × quantity, Shapley gives Bennet: Δp·mean(q) to price, Δq·mean(p) to q."""
    rng = np.random.default_rng(7)
    p0, p1, q0, q1 = rng.uniform(1, 10, (4, 3))
    prices = [kt.KPI(f"p{i}", owner="pricing", horizon="1 month", value=p0[i]) for i in range(3)]
    volumes = [kt.KPI(f"q{i}", owner="sales", horizon="1 month", value=q0[i]) for i in range(3)]
    revenue = kt.Metric(
        "revenue", sum((p * q for p, q in zip(prices, volumes, strict=True)), start=0)
    )
    after = {f"p{i}": p1[i] for i in range(3)} | {f"q{i}": q1[i] for i in range(3)}
    result = kt.Tree(revenue).attribute("revenue", {}, after)
    for i in range(3):
        bennet_p = (p1[i] - p0[i]) * (q0[i] + q1[i]) / 2
        bennet_q = (q1[i] - q0[i]) * (p0[i] + p1[i]) / 2
        assert result.contributions[f"p{i}"] == pytest.approx(bennet_p, rel=1e-10)
        assert result.contributions[f"q{i}"] == pytest.approx(bennet_q, rel=1e-10)


def test_lmdi_two_level_activity_structure_intensity() -> None:
    """Energy E = Σ Q·S_i·I_i: LMDI-I effects are Σ_i L(E_i1, E_i0)·ln(x1/x0) (Ang 2004)."""
    q = kt.Input("activity", value=100.0)
    shares = [
        kt.KPI(f"s{i}", owner="planning", horizon="1 quarter", value=v)
        for i, v in enumerate((0.5, 0.3, 0.2))
    ]
    intensity = [
        kt.KPI(f"e{i}", owner="operations", horizon="1 month", value=v)
        for i, v in enumerate((2.0, 1.0, 4.0))
    ]
    sectors = [
        kt.Metric(f"energy{i}", q * s * e)
        for i, (s, e) in enumerate(zip(shares, intensity, strict=True))
    ]
    tree = kt.Tree(kt.Metric("energy", sectors[0] + sectors[1] + sectors[2]))
    after = {"activity": 120.0, "s0": 0.4, "s1": 0.35, "s2": 0.25, "e0": 1.8, "e1": 1.1}
    result = tree.attribute("energy", {}, after, method="lmdi")
    x0 = {"activity": 100.0, "s0": 0.5, "s1": 0.3, "s2": 0.2, "e0": 2.0, "e1": 1.0, "e2": 4.0}
    x1 = x0 | after
    sector_values = [
        (x0["activity"] * x0[f"s{i}"] * x0[f"e{i}"], x1["activity"] * x1[f"s{i}"] * x1[f"e{i}"])
        for i in range(3)
    ]
    weights = [_log_mean(v1, v0) for v0, v1 in sector_values]
    activity = sum(w * math.log(x1["activity"] / x0["activity"]) for w in weights)
    assert result.contributions["activity"] == pytest.approx(activity, rel=1e-12)
    for i in range(3):
        for leaf in (f"s{i}", f"e{i}"):
            expected = weights[i] * math.log(x1[leaf] / x0[leaf])
            assert result.contributions[leaf] == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert result.by_owner["external"] == pytest.approx(activity, rel=1e-12)
    assert math.prod(result.factors.values()) == pytest.approx(result.after / result.before)


# -- properties over random trees ------------------------------------------------------------


@settings(max_examples=60)
@given(st.data())
def test_shapley_is_efficient_and_unchanged_leaves_get_zero(data: Any) -> None:
    """Shapley contributions sum to the change; a leaf that did not change gets exactly 0."""
    tree = data.draw(trees())
    metric = tree.roots[0].name
    after = data.draw(changes(tree))
    result = _attribute_or_skip(tree, metric, after, "shapley")
    scale = max(abs(result.before), abs(result.after))
    assert _close(result.total, result.contributions.values(), scale)
    for leaf, value in result.contributions.items():
        if after.get(leaf, tree[leaf].value) == tree[leaf].value:
            assert value == 0.0
    assert _close(result.total, result.by_owner.values(), scale)


@settings(max_examples=40)
@given(st.data())
def test_shapley_agrees_with_permutation_definition(data: Any) -> None:
    """The vectorized Shapley equals the average marginal effect over all player orders."""
    tree = data.draw(trees(max_leaves=5))
    metric = tree.roots[0].name
    after = data.draw(changes(tree))
    result = _attribute_or_skip(tree, metric, after, "shapley")
    expected = naive_shapley(tree, metric, after)
    scale = max(abs(result.before), abs(result.after), 1.0)
    for leaf, value in expected.items():
        assert result.contributions.get(leaf, 0.0) == pytest.approx(value, abs=1e-9 * scale)


@settings(max_examples=40)
@given(st.data())
def test_one_changing_leaf_gets_the_whole_change(data: Any) -> None:
    """When only one leaf changes, under every method it gets the whole change."""
    tree = data.draw(trees())
    metric = tree.roots[0].name
    leaf = data.draw(st.sampled_from([n.name for n in tree.leaves]))
    value = data.draw(st.floats(0.5, 4.0))
    for method in ("shapley", "hierarchical"):
        result = _attribute_or_skip(tree, metric, {leaf: value}, method)
        if leaf in result.contributions:
            assert result.contributions[leaf] == pytest.approx(result.total, rel=1e-12, abs=1e-12)
        assert all(v == 0.0 for k, v in result.contributions.items() if k != leaf)


SYMMETRIC = [
    "a * b * c",
    "a + b + c",
    "a * b + b * c + a * c",
    "(a + b) * c / (a * b)",
    "min(a, b) + max(a, b) * c",
]


@pytest.mark.parametrize("formula", SYMMETRIC)
@settings(max_examples=25)
@given(st.floats(0.5, 4.0), st.floats(0.5, 4.0), st.floats(0.5, 4.0), st.floats(0.5, 4.0))
def test_symmetric_leaves_get_equal_shares(
    formula: str, x0: float, x1: float, c0: float, c1: float
) -> None:
    """Leaves that play the same role and move alike get equal Shapley contributions."""
    leaves = [kt.KPI(n, owner="o", horizon="1 day", value=x0) for n in "ab"]
    c = kt.KPI("c", owner="o", horizon="1 day", value=c0)
    tree = kt.Tree(kt.Metric("m", formula), *leaves, c)
    for method in ("shapley", "hierarchical"):
        result = tree.attribute("m", {}, {"a": x1, "b": x1, "c": c1}, method=method)
        scale = max(abs(result.before), abs(result.after), 1.0)
        assert result.contributions["a"] == pytest.approx(
            result.contributions["b"], abs=1e-12 * scale
        )


def test_dummy_leaf_that_changes_without_effect_gets_zero() -> None:
    """A leaf whose every marginal effect is 0 (below a max's floor) gets exactly 0."""
    a = kt.KPI("a", owner="x", horizon="1 day", value=1.0)
    b = kt.KPI("b", owner="y", horizon="1 day", value=1.0)
    tree = kt.Tree(kt.Metric("m", a + kt.max(b, 10)))
    result = tree.attribute("m", {}, {"a": 3.0, "b": 2.0})
    assert result.contributions == {"a": 2.0, "b": 0.0}


@st.composite
def flat_trees(draw: Any) -> kt.Tree:
    """One metric whose formula is a random expression of 2–5 leaves (one level)."""
    count = draw(st.integers(2, 5))
    leaves = [
        kt.KPI(f"k{i}", owner="o", horizon="1 day", value=draw(st.floats(0.5, 4.0)))
        for i in range(count)
    ]
    expr: Any = leaves[0]
    for leaf in leaves[1:]:
        op = draw(st.sampled_from("+*/"))
        other = draw(st.sampled_from(leaves))
        term = leaf * other if draw(st.booleans()) else leaf
        expr = expr + term if op == "+" else expr * term if op == "*" else expr / term
    return kt.Tree(kt.Metric("m", expr), *leaves)


@settings(max_examples=50)
@given(st.data())
def test_hierarchical_equals_shapley_on_one_level(data: Any) -> None:
    """With one level, Shapley inside the formula is Shapley over the leaves."""
    tree = data.draw(flat_trees())
    after = data.draw(changes(tree))
    shapley = _attribute_or_skip(tree, "m", after, "shapley")
    hierarchical = _attribute_or_skip(tree, "m", after, "hierarchical")
    scale = max(abs(shapley.before), abs(shapley.after), 1.0)
    for leaf, value in shapley.contributions.items():
        assert hierarchical.contributions[leaf] == pytest.approx(value, abs=1e-10 * scale)


def _leaves_under(tree: kt.Tree, name: str) -> list[str]:
    node = tree[name]
    if not isinstance(node, kt.Metric):
        return [name]
    return [leaf for child in tree.children(name) for leaf in _leaves_under(tree, child.name)]


@settings(max_examples=30)
@given(st.integers(0, 10_000), st.integers(4, 40), st.data())
def test_hierarchical_totals_agree_at_every_level(seed: int, size: int, data: Any) -> None:
    """Each metric's own split sums to its change; its leaves sum to the share passed down."""
    tree = random_tree(size, seed=seed)
    root = tree.roots[0].name
    after = data.draw(changes(tree))
    result = _attribute_or_skip(tree, root, after, "hierarchical")
    low, high = tree.evaluate(), tree.evaluate(after)
    scale = max(abs(result.before), abs(result.after), 1.0)
    assert _close(result.total, result.contributions.values(), scale)
    share = {root: result.total}
    for name in tree.names:  # parents first; random trees share no node
        node = tree[name]
        if not isinstance(node, kt.Metric) or name not in result.by_node:
            continue
        change = high[name] - low[name]
        parts = result.by_node[name]
        assert _close(change, parts.values(), max(abs(high[name]), abs(low[name]), 1.0))
        for child, part in parts.items():
            share[child] = share[name] * part / change if change else 0.0
            under = [result.contributions[leaf] for leaf in _leaves_under(tree, child)]
            assert math.fsum(under) == pytest.approx(share[child], abs=1e-9 * scale)


@pytest.mark.parametrize("operators", [("*", "/"), ("+", "*")])
@settings(max_examples=50)
@given(data=st.data())
def test_lmdi_on_products_quotients_and_sums_of_products(
    operators: tuple[str, ...], data: Any
) -> None:
    """LMDI sums to the change, its factors multiply to after / before, and no NaN."""
    tree = data.draw(trees(operators=operators))
    metric = tree.roots[0].name
    after = data.draw(changes(tree))
    result = _attribute_or_skip(tree, metric, after, "lmdi")
    scale = max(abs(result.before), abs(result.after))
    assert _close(result.total, result.contributions.values(), scale)
    assert math.prod(result.factors.values()) == pytest.approx(result.after / result.before)
    json.dumps(result.to_dict(), allow_nan=False)


def test_lmdi_zero_value_takes_the_analytical_limit() -> None:
    """A term that starts at zero gives its whole value to the leaf that was zero."""
    a, b, c, d = (
        kt.KPI(n, owner="o", horizon="1 day", value=v)
        for n, v in (("a", 2.0), ("b", 3.0), ("c", 0.0), ("d", 5.0))
    )
    tree = kt.Tree(kt.Metric("m", a * b + c * d))
    result = tree.attribute("m", {}, {"a": 2.5, "c": 4.0, "d": 6.0}, method="lmdi")
    first = _log_mean(7.5, 6.0) * math.log(2.5 / 2.0)
    assert result.contributions["a"] == pytest.approx(first, rel=1e-12)
    assert result.contributions["c"] == pytest.approx(24.0, rel=1e-12)
    assert result.contributions["d"] == 0.0
    assert result.total == pytest.approx(2.5 * 3 + 4 * 6 - 2 * 3)
    json.dumps(result.to_dict(), allow_nan=False)


def test_hierarchical_cost_does_not_grow_with_2_to_the_leaves() -> None:
    """A sum of 200 changing segments is attributed by hierarchical (200 small games)."""
    segments = [kt.KPI(f"s{i}", owner="sales", horizon="1 day", value=1.0) for i in range(200)]
    rate = kt.KPI("rate", owner="marketing", horizon="1 day", value=2.0)
    tree = kt.Tree(kt.Metric("m", sum((s * rate for s in segments), start=0)))
    after = {f"s{i}": 1.0 + i / 100 for i in range(200)} | {"rate": 3.0}
    result = tree.attribute("m", {}, after, method="hierarchical")
    for i in (0, 57, 199):
        assert result.contributions[f"s{i}"] == pytest.approx((i / 100) * 2.5)
    assert _close(result.total, result.contributions.values(), result.after)


# -- errors ----------------------------------------------------------------------------------


def _undefined_mix_tree() -> kt.Tree:
    a = kt.KPI("a", owner="x", horizon="1 day", value=6.0)
    b = kt.KPI("b", owner="x", horizon="1 day", value=3.0)
    c = kt.KPI("c", owner="y", horizon="1 day", value=1.0)
    gap = kt.Metric("gap", b - c)
    return kt.Tree(kt.Metric("m", a / gap))


BAD = [
    ({"method": "shapely"}, kt.ArgumentError, "did you mean `shapley`"),
    ({"metric": "leads"}, kt.KindError, "is a leaf"),
    ({"metric": "qls"}, kt.UnknownNameError, "no node `qls`"),
    ({"before": {"lead": 1}}, kt.UnknownNameError, "did you mean `leads`"),
    ({"after": {"qualified_leads": 1}}, kt.KindError, "is a metric"),
    ({"after": {"leads": "many"}}, kt.ValueTypeError, "finite number"),
    ({"after": {"leads": float("nan")}}, kt.ValueTypeError, "not finite"),
    ({"before": pd.DataFrame({"leads": [1, 2]})}, kt.ValueTypeError, "one row"),
    ({"before": [1, 2]}, kt.ValueTypeError, "mapping of leaf values"),
    ({"max_changing": 0}, kt.ArgumentError, "positive whole number"),
    ({"max_changing": 1}, kt.LimitError, 'method="hierarchical"'),
    ({"after": {"lead_to_ql": -0.1}, "method": "lmdi"}, kt.EvaluationError, "changes sign"),
]


@pytest.mark.parametrize(("change", "error", "words"), BAD)
def test_bad_inputs_are_refused(change: dict[str, Any], error: type, words: str) -> None:
    """Bad arguments raise a kpitree error that names the problem and hints at a fix."""
    args: dict[str, Any] = {"metric": "qualified_leads", "before": BEFORE, "after": AFTER}
    args |= change
    with pytest.raises(error, match=words):
        qualified_leads().attribute(**args)


LMDI_REFUSED = [
    ("a / (b + c)", "divides by a sum"),
    ("log(a) * b", "uses log()"),
    ("a ** b", "variable exponent"),
    ("(a + b) ** 0.5", "raises a sum to a power"),
]


@pytest.mark.parametrize(("formula", "words"), LMDI_REFUSED)
def test_lmdi_refuses_formulas_outside_its_family(formula: str, words: str) -> None:
    """LMDI on a formula that is not a sum of products is a FormulaError naming the node."""
    leaves = [kt.KPI(n, owner="o", horizon="1 day", value=2.0) for n in "abc"]
    tree = kt.Tree(kt.Metric("m", formula), *leaves)
    with pytest.raises(kt.FormulaError, match=words):
        tree.attribute("m", {}, {"a": 3.0}, method="lmdi")


def test_too_many_changing_leaves_suggests_hierarchical() -> None:
    """Shapley over more changing leaves than the limit is refused; hierarchical works."""
    tree = random_tree(30, seed=3)
    after = {leaf.name: float(leaf.value) * 1.1 for leaf in tree.leaves}  # type: ignore[arg-type]
    with pytest.raises(kt.LimitError, match="over 30 changing leaves") as info:
        tree.attribute("root", {}, after)
    assert "hierarchical" in str(info.value)
    result = tree.attribute("root", {}, after, method="hierarchical")
    assert _close(result.total, result.contributions.values(), abs(result.after))


def test_undefined_mix_is_named_and_hierarchical_avoids_it() -> None:
    """a / (b - c) undefined at a mix of periods: Shapley says so; hierarchical works."""
    tree = _undefined_mix_tree()
    after = {"b": 4.0, "c": 3.0}  # b - c: 2 before, 1 after, 0 at (b before, c after)
    with pytest.raises(kt.EvaluationError, match="undefined when `c`"):
        tree.attribute("m", {}, after)
    result = tree.attribute("m", {}, after, method="hierarchical")
    assert result.total == pytest.approx(3.0)
    # m gets +3 from gap (−1): ratio −3; gap splits as b +1, c −2.
    assert result.contributions["b"] == pytest.approx(-3.0)
    assert result.contributions["c"] == pytest.approx(6.0)


def test_undefined_end_names_the_period() -> None:
    """A metric undefined at one end is an EvaluationError located in that period."""
    tree = _undefined_mix_tree()
    with pytest.raises(kt.EvaluationError, match="`after` values"):
        tree.attribute("m", {}, {"c": 3.0})


# -- results ---------------------------------------------------------------------------------


def test_text_waterfall_dict_and_rows() -> None:
    """str is a waterfall with owners and shares; to_dict is JSON-ready; rows per leaf."""
    result = qualified_leads().attribute("qualified_leads", BEFORE, AFTER)
    text = str(result)
    for words in (
        "800 lead → 770 lead",
        "start",
        "+75 lead",
        "−105 lead",
        "marketing",
        "share of gross change",
        "effects offset: gross change 180 lead",
        "end",
        "by owner",
    ):
        assert words in text
    # Shares are of the gross change (75 + 105), not of the net −30 (−250% and +350%).
    assert result.share("leads") == pytest.approx(75 / 180)
    assert result.share("lead_to_ql") == pytest.approx(-105 / 180)
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["contributions"] == pytest.approx({"leads": 75, "lead_to_ql": -105})
    frame = result.to_frame()
    assert list(frame["leaf"]) == ["leads", "lead_to_ql"]
    assert frame["contribution"].sum() == pytest.approx(-30)


def test_no_change_has_no_shares_and_no_nan() -> None:
    """Equal periods give zero contributions, shares None, and JSON without NaN."""
    result = qualified_leads().attribute("qualified_leads", BEFORE, BEFORE, method="lmdi")
    assert result.total == 0 and set(result.contributions.values()) == {0.0}
    assert result.share("leads") is None
    json.dumps(result.to_dict(), allow_nan=False)


def test_series_and_one_row_frames_are_periods() -> None:
    """A pandas Series, a one-row pandas or polars frame give the same as a mapping."""
    expected = qualified_leads().attribute("qualified_leads", BEFORE, AFTER)
    forms = [
        (pd.Series({**BEFORE, "month": "jan"}), pd.Series(AFTER)),
        (pd.DataFrame([BEFORE]), pd.DataFrame([AFTER])),
        (pl.DataFrame([BEFORE]), pl.DataFrame([AFTER])),
    ]
    for before, after in forms:
        result = qualified_leads().attribute("qualified_leads", before, after)
        assert dict(result.contributions) == pytest.approx(dict(expected.contributions))


def test_by_node_splits_each_metric_over_its_children() -> None:
    """by_node gives each changed metric's own change split over its direct children."""
    tree = sales_revenue()
    result = tree.attribute("revenue", {}, {"managers": 6, "call_to_purchase": 0.06})
    values, after = tree.evaluate(), tree.evaluate({"managers": 6, "call_to_purchase": 0.06})
    assert set(result.by_node) == {"revenue", "purchases", "calls"}
    for name, parts in result.by_node.items():
        assert set(parts) == {c.name for c in tree.children(name)}
        assert math.fsum(parts.values()) == pytest.approx(after[name] - values[name])


def test_methods_differ_where_the_docs_say() -> None:
    """Compensating changes under a sum: Shapley splits them, hierarchical gives 0 to both."""
    tree = saas_mrr()
    after = {"churn_rate": 0.05, "new_customers": 50}  # retained −10, new +10: base unchanged
    shapley = tree.attribute("mrr", {}, after)
    hierarchical = tree.attribute("mrr", {}, after, method="hierarchical")
    assert shapley.total == hierarchical.total == 0
    assert shapley.contributions["new_customers"] > 0 > shapley.contributions["churn_rate"]
    assert hierarchical.contributions["new_customers"] == 0.0


# -- accountability --------------------------------------------------------------------------


def test_accountability_per_owner_with_shared_kpis() -> None:
    """Owners get their KPIs' contributions and norm status; shared KPIs are not counted."""
    report = qualified_leads().accountability("qualified_leads", BEFORE, AFTER)
    assert [a.owner for a in report] == ["marketing", "sales"]
    marketing, sales = report["marketing"], report["sales"]
    assert marketing.total == pytest.approx(75) and sales.total == pytest.approx(-105)
    shared = [r for r in marketing.rows if r.shared]
    assert [r.name for r in shared] == ["lead_to_ql"]
    conversion = sales.rows[0]
    assert (conversion.ok_before, conversion.ok_after) == (True, False)
    assert sum(a.total for a in report) == pytest.approx(report.total)
    text = str(report)
    assert "lead_to_ql (shared)" in text and "(lead_to_ql: sales)" in text
    assert "norm ≥ 80%" in text
    json.dumps(report.to_dict(), allow_nan=False)
    assert len(report.to_frame()) == 3
    assert report.row("sales") is sales
    with pytest.raises(kt.UnknownNameError, match="did you mean `sales`"):
        report["sale"]


def test_accountability_lists_inputs_as_external() -> None:
    """Inputs appear under "external"; every owner's total adds up to the change."""
    report = accountability(sales_revenue(), "revenue", {}, {"working_days": 20, "managers": 6})
    assert report["external"].rows[0].name == "working_days"
    assert math.fsum(a.total for a in report) == pytest.approx(report.total)


# -- periods from data -----------------------------------------------------------------------


MONTHS: dict[str, Any] = {"period": "month", "before": "jan", "after": "feb", "by": ["channel"]}


def _segments(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    channel = np.repeat(np.arange(rows), 2).astype(str)
    return pd.DataFrame(
        {
            "month": np.tile(["jan", "feb"], rows),
            "channel": channel,
            "leads": rng.integers(100, 2000, 2 * rows),
            "lead_to_ql": rng.uniform(0.5, 0.95, 2 * rows),
        }
    )


@pytest.mark.parametrize("method", ["shapley", "lmdi", "hierarchical"])
@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_frame_per_segment_equals_scalar_attribution(method: str, library: str) -> None:
    """Each segment's row equals tree.attribute on that segment's two rows."""
    df = _segments(6, seed=1)
    data = df if library == "pandas" else pl.from_pandas(df)
    tree = qualified_leads()
    out = attribute_frame(tree, data, "qualified_leads", **MONTHS, method=method)
    out = out if library == "pandas" else out.to_pandas()
    for _, row in out.iterrows():
        rows = df[df["channel"] == row["channel"]].set_index("month")
        expected = tree.attribute(
            "qualified_leads",
            rows.loc["jan", ["leads", "lead_to_ql"]].to_dict(),
            rows.loc["feb", ["leads", "lead_to_ql"]].to_dict(),
            method=method,
        )
        assert row["qualified_leads_change"] == pytest.approx(expected.total)
        for leaf in ("leads", "lead_to_ql"):
            assert row[leaf] == pytest.approx(expected.contributions[leaf], rel=1e-12)
        assert row["owner_sales"] == pytest.approx(expected.by_owner["sales"], rel=1e-12)


FRAME_BAD = [
    (lambda df: df[df["channel"] != "3"].iloc[:-1], "has no row for `month` = 'feb'"),
    (lambda df: pd.concat([df, df.iloc[:1]]), "2 or more rows"),
    (lambda df: df.rename(columns={"month": "period"}), "no column `month`"),
    (lambda df: df.assign(leads="many"), "must hold numbers"),
]


@pytest.mark.parametrize(("damage", "words"), FRAME_BAD)
def test_frame_problems_are_named(damage: Any, words: str) -> None:
    """Missing or repeated segments, unknown columns and text columns are refused."""
    df = damage(_segments(4))
    for data in (df, pl.from_pandas(df)):
        with pytest.raises(kt.KPITreeError, match=words):
            attribute_frame(qualified_leads(), data, "qualified_leads", **MONTHS)


@pytest.mark.parametrize("data", [pl.from_pandas(_segments(4)).lazy(), _segments(4).to_dict()])
def test_frame_attribution_needs_an_eager_frame(data: Any) -> None:
    """A LazyFrame or a plain mapping is refused with what to give instead."""
    with pytest.raises(kt.ValueTypeError, match="must be a pandas or polars DataFrame"):
        attribute_frame(qualified_leads(), data, "qualified_leads", **MONTHS)


def test_frame_undefined_segment_is_nan() -> None:
    """A segment whose metric is undefined gets NaN; the others are attributed."""
    a = kt.KPI("a", owner="x", horizon="1 day")
    b = kt.KPI("b", owner="y", horizon="1 day")
    tree = kt.Tree(kt.Metric("m", a / b))
    df = pd.DataFrame(
        {
            "p": [1, 2, 1, 2],
            "s": ["u", "u", "v", "v"],
            "a": [1.0, 2.0, 1.0, 2.0],
            "b": [1.0, 2.0, 1.0, 0.0],
        }
    )
    out = attribute_frame(tree, df, "m", period="p", before=1, after=2, by="s")
    assert out["m_change"].tolist()[0] == 0.0
    assert np.isnan(out["a"].tolist()[1])


def test_hierarchical_shows_moves_that_cancel_in_the_target() -> None:
    """When two leaves' moves cancel in the target, hierarchical still shows them, as Shapley."""
    leaves = [kt.KPI(f"k{i}", owner="o", horizon="1 day", value=1.5) for i in range(3)]
    tree = kt.Tree(kt.Metric("m", leaves[0] / leaves[1] / leaves[2]))
    after = {"k0": 0.75, "k1": 0.75}
    shapley = tree.attribute("m", {}, after)
    hierarchical = tree.attribute("m", {}, after, method="hierarchical")
    assert shapley.total == 0.0
    assert shapley.contributions["k0"] < 0 < shapley.contributions["k1"]
    for leaf, value in shapley.contributions.items():
        assert hierarchical.contributions[leaf] == pytest.approx(value, abs=1e-12)


# -- products of many KPIs: exact without 2^n ------------------------------------------------


def _product_of(count: int) -> tuple[kt.Tree, dict[str, float]]:
    """A flat product of `count` KPIs (a long funnel), every one of them moving."""
    rng = np.random.default_rng(count)
    leaves = [
        kt.KPI(f"k{i}", owner=f"o{i % 3}", horizon="1 month", value=float(v))
        for i, v in enumerate(rng.uniform(0.9, 1.1, count))
    ]
    formula = leaves[0]
    for leaf in leaves[1:]:
        formula = formula * leaf
    after = {
        leaf.name: float(v) for leaf, v in zip(leaves, rng.uniform(0.9, 1.1, count), strict=True)
    }
    return kt.Tree(kt.Metric("m", formula)), after


@pytest.mark.parametrize("method", ["lmdi", "hierarchical"])
def test_a_product_of_40_kpis_is_not_bound_by_the_shapley_limit(method: str) -> None:
    """LMDI and hierarchical split a flat product of 40 KPIs; the parts sum to the change."""
    tree, after = _product_of(40)
    result = tree.attribute("m", {}, after, method=method)
    assert len(result.contributions) == 40
    assert _close(result.total, result.contributions.values(), abs(result.before))
    assert all(v != 0 for v in result.contributions.values())
    assert _close(result.total, result.by_node["m"].values(), abs(result.before))


def test_exact_shapley_of_a_product_of_40_kpis_equals_the_closed_form() -> None:
    """A flat product is multilinear: exact Shapley at any size, as the product closed form."""
    tree, after = _product_of(40)
    result = tree.attribute("m", {}, after)
    assert result.details == {"computation": "quadrature", "points": 20}
    closed = tree.attribute("m", {}, after, method="hierarchical")  # Shapley for products
    for leaf, value in closed.contributions.items():
        assert result.contributions[leaf] == pytest.approx(value, rel=1e-9, abs=1e-12)


def test_exact_shapley_of_40_squares_is_refused_pointing_to_the_methods_that_work() -> None:
    """Only exact Shapley is bound by max_changing; its hint names the methods that work."""
    tree, after = _product_of(40)
    formula = tree.leaves[0] ** 2
    for leaf in tree.leaves[1:]:
        formula = formula * leaf**2  # squares: not multilinear any more
    squares = kt.Tree(kt.Metric("m", formula))
    with pytest.raises(kt.LimitError, match="over 40 changing leaves") as info:
        squares.attribute("m", {}, after)
    assert 'method="lmdi"' in str(info.value)
    assert 'method="integral"' in str(info.value)
    squares.attribute("m", {}, after, method="hierarchical")  # which does work


@settings(max_examples=30, deadline=None)
@given(
    st.integers(3, 9),
    st.lists(st.sampled_from(["*", "/", "**2", "*2.5*"]), min_size=9, max_size=9),
    st.integers(0, 2**32 - 1),
)
def test_products_split_by_the_closed_form_equal_exact_shapley(
    count: int, ops: list[str], seed: int
) -> None:
    """A product of one-child factors (powers, quotients, constants) gets exact Shapley."""
    rng = np.random.default_rng(seed)
    names = [f"k{i}" for i in range(count)]
    formula = names[0]
    for name, op in zip(names[1:], ops, strict=False):
        formula = f"{formula} * {name} ** 2" if op == "**2" else f"{formula} {op} {name}"
    leaves = [
        kt.KPI(n, owner="o", horizon="1 day", value=float(v))
        for n, v in zip(names, rng.uniform(0.5, 2.0, count), strict=True)
    ]
    tree = kt.Tree(kt.Metric("m", formula), *leaves)
    after = {n: float(v) for n, v in zip(names, rng.uniform(0.5, 2.0, count), strict=True)}
    exact = tree.attribute("m", {}, after, method="shapley")
    closed = tree.attribute("m", {}, after, method="hierarchical")
    scale = max(abs(exact.before), abs(exact.after))
    for name in names:
        assert closed.contributions[name] == pytest.approx(
            exact.contributions[name], abs=1e-9 * scale
        )


def test_a_large_term_that_is_no_product_says_so_without_recommending_itself() -> None:
    """A term mixing many children (not a product of one-child factors) names the real limit."""
    leaves = [kt.KPI(f"k{i}", owner="o", horizon="1 day", value=1.0) for i in range(6)]
    tree = kt.Tree(kt.Metric("m", "(k0 + k1 + k2) * (k3 + k4 + k5)"), *leaves)
    after = {f"k{i}": 2.0 for i in range(6)}
    with pytest.raises(kt.LimitError, match="splitting the formula of `m`") as info:
        tree.attribute("m", {}, after, method="hierarchical", max_changing=4)
    assert 'method="hierarchical"' not in str(info.value)
    assert "intermediate metrics" in str(info.value)


def test_product_rows_of_a_frame_use_the_closed_form_too() -> None:
    """attribute_frame splits a 30-KPI product per segment, each summing to its change."""
    tree, after = _product_of(30)
    before = {leaf.name: leaf.value for leaf in tree.leaves}
    rows = [
        {"month": "jan", "seg": "a", **before},
        {"month": "feb", "seg": "a", **after},
        {"month": "jan", "seg": "b", **before},
        {"month": "feb", "seg": "b", **{k: v * 1.01 for k, v in after.items()}},
    ]
    out = attribute_frame(
        tree,
        pd.DataFrame(rows),
        "m",
        period="month",
        before="jan",
        after="feb",
        by=["seg"],
        method="hierarchical",
    )
    parts = out[[f"k{i}" for i in range(30)]].sum(axis=1)
    np.testing.assert_allclose(parts, out["m_change"], rtol=1e-9)

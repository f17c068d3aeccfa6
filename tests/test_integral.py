"""The integral method, and exact Shapley at any size on multilinear metrics."""

import itertools
import math
from typing import Any

import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_sequential import _changes, _defined  # the same random changes and checks

import kpitree as kt
from kpitree.analyses.attribution.integral import path_shape
from kpitree.i18n import locale
from kpitree.testing import trees


def _kpis(names: str) -> list[kt.KPI]:
    return [kt.KPI(n, owner=f"owner_{n}", horizon="1 day") for n in names]


def test_two_factors_is_own_effects_plus_half_the_joint_term() -> None:
    """`y = a * b`: Δa·b0 + ΔaΔb/2 and a0·Δb + ΔaΔb/2, the textbook integral method."""
    a, b = _kpis("ab")
    tree = kt.Tree(kt.Metric("y", a * b))
    result = tree.attribute("y", {"a": 1000, "b": 0.8}, {"a": 1100, "b": 0.7}, "integral")
    assert result.contributions["a"] == pytest.approx(100 * 0.8 - 10 / 2)
    assert result.contributions["b"] == pytest.approx(1000 * -0.1 - 10 / 2)
    assert result.details == {"computation": "quadrature", "points": 1}


def test_three_factors_textbook_formula() -> None:
    """`y = a·b·c`: ΔY_a = ½Δa(b0c1 + b1c0) + ⅓ΔaΔbΔc (Sheremet's textbook)."""
    a, b, c = _kpis("abc")
    tree = kt.Tree(kt.Metric("y", a * b * c))
    low = {"a": 120, "b": 0.3, "c": 50}
    high = {"a": 150, "b": 0.25, "c": 56}
    result = tree.attribute("y", low, high, "integral")
    d = {k: high[k] - low[k] for k in low}
    expected_a = d["a"] * (low["b"] * high["c"] + high["b"] * low["c"]) / 2
    expected_a += d["a"] * d["b"] * d["c"] / 3
    assert result.contributions["a"] == pytest.approx(expected_a)
    assert math.fsum(result.contributions.values()) == pytest.approx(result.total)


def test_a_ratio_follows_the_logarithm_rule() -> None:
    """`y = a / b`: ΔY_a = Δa/Δb · ln(b1/b0), ΔY_b the rest (the textbook closed form)."""
    a, b = _kpis("ab")
    tree = kt.Tree(kt.Metric("y", a / b))
    result = tree.attribute("y", {"a": 500, "b": 20}, {"a": 620, "b": 31}, "integral")
    expected = 120 / 11 * math.log(31 / 20)
    assert result.contributions["a"] == pytest.approx(expected, rel=1e-12)
    assert result.contributions["b"] == pytest.approx(result.total - expected, rel=1e-12)
    assert result.details["computation"] == "adaptive quadrature"


def test_a_kink_on_the_way_is_integrated_piece_by_piece() -> None:
    """`max(a, b) * c` from (1, 2, 1) to (3, 1, 2): `a` overtakes `b` a third of the way."""
    tree = kt.loads(
        "kpis:\n"
        "  a: {owner: o, horizon: 1 day, value: 1}\n"
        "  b: {owner: o, horizon: 1 day, value: 2}\n"
        "  c: {owner: o, horizon: 1 day, value: 1}\n"
        "metrics:\n"
        "  y: max(a, b) * c\n",
        "yaml",
    )
    result = tree.attribute("y", {}, {"a": 3, "b": 1, "c": 2}, "integral")
    # a: 2 ∫_{1/3}^1 (1 + t) dt; b: −∫_0^{1/3} (1 + t) dt; c the rest of 6 − 2.
    assert result.contributions["a"] == pytest.approx(2 * (1.5 - 1 / 3 - 1 / 18), rel=1e-10)
    assert result.contributions["b"] == pytest.approx(-(1 / 3 + 1 / 18), rel=1e-10)
    assert math.fsum(result.contributions.values()) == pytest.approx(4.0, rel=1e-12)


def _pole_tree() -> kt.Tree:
    return kt.loads(
        "kpis:\n"
        "  a: {owner: o, horizon: 1 day, value: 1}\n"
        "  b: {owner: o, horizon: 1 day, value: 2}\n"
        "  c: {owner: o, horizon: 1 day, value: 1}\n"
        "metrics:\n"
        "  y: c / (a - b)\n"
        "  z: sqrt(a * b)\n",
        "yaml",
    )


def test_a_division_by_zero_on_the_way_is_refused_where_it_is() -> None:
    """`a - b` goes from −1 to 2: zero a third of the way, where the slopes blow up."""
    with pytest.raises(kt.EvaluationError, match=r"does not settle near 33\.3% of the way"):
        _pole_tree().attribute("y", {}, {"a": 3, "b": 1}, "integral")
    with locale("ru"), pytest.raises(kt.EvaluationError, match="33,3"):
        _pole_tree().attribute("y", {}, {"a": 3, "b": 1}, "integral")


def test_undefined_at_a_point_of_the_path_is_refused() -> None:
    """`sqrt(a * b)`, a: 1 → −1, b: 1 → −2: `a * b` is negative from 1/3 to 1/2 of the way."""
    with pytest.raises(kt.EvaluationError, match=r"undefined .* of the way"):
        _pole_tree().attribute("z", {"a": 1, "b": 1}, {"a": -1, "b": -2}, "integral")


def _brute_shapley(tree: kt.Tree, metric: str, after: dict[str, float]) -> dict[str, float]:
    """Shapley by its definition, over subsets, with `tree.evaluate` (an independent reference)."""
    base = {leaf.name: leaf.value for leaf in tree.leaves}
    players = [n for n, v in after.items() if v != base[n]]
    n = len(players)

    def value(subset: tuple[str, ...]) -> float:
        return tree.evaluate({**base, **{p: after[p] for p in subset}})[metric]

    phi = dict.fromkeys(players, 0.0)
    for player in players:
        others = [p for p in players if p != player]
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for subset in itertools.combinations(others, size):
                phi[player] += weight * (value((*subset, player)) - value(subset))
    return phi


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_integral_sums_to_the_change(data: Any) -> None:
    """On random trees of + − × ÷ the integral adds up to the change, or says it cannot."""
    tree = data.draw(trees())
    metric = tree.roots[0].name
    after = data.draw(_changes(tree))
    _defined(tree, after)
    try:
        result = tree.attribute(metric, {}, after, "integral")
    except kt.EvaluationError as exc:
        said = "of the way" in str(exc)  # a pole or an undefined point on the path, said
        assume(not said)
        raise
    scale = max(abs(result.before), abs(result.after), 1.0)
    assert abs(math.fsum(result.contributions.values()) - result.total) <= 1e-9 * scale
    for leaf, value in result.contributions.items():
        if after.get(leaf, tree[leaf].value) == tree[leaf].value:
            assert value == 0.0


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_on_multilinear_trees_integral_and_fast_shapley_equal_enumeration(data: Any) -> None:
    """Where the metric is multilinear in the changing leaves, all three agree."""
    tree = data.draw(trees(max_leaves=7, max_metrics=7, operators=("+", "-", "*")))
    metric = tree.roots[0].name
    after = data.draw(_changes(tree))
    moving = frozenset(after) & {leaf.name for leaf in tree.subtree(metric).leaves}
    moving = frozenset(n for n in moving if after[n] != tree[n].value)
    assume(path_shape(tree.subtree(metric), metric, moving).multilinear)
    _defined(tree, after)
    reference = _brute_shapley(tree.subtree(metric), metric, {n: after[n] for n in moving})
    shapley = tree.attribute(metric, {}, after)
    integral = tree.attribute(metric, {}, after, "integral")
    scale = max(abs(shapley.before), abs(shapley.after), 1.0)
    for leaf, expected in reference.items():
        assert shapley.contributions[leaf] == pytest.approx(expected, abs=1e-9 * scale)
        assert integral.contributions[leaf] == pytest.approx(expected, abs=1e-9 * scale)


def test_multilinear_is_found_from_the_formulas() -> None:
    """Products of distinct moving leaves are multilinear; a square or a ratio is not."""
    a, b, c = _kpis("abc")
    shape = path_shape(kt.Tree(kt.Metric("y", a * b + c * (a - 1))), "y", frozenset("abc"))
    assert shape.multilinear and shape.degree == 2
    squared = path_shape(kt.Tree(kt.Metric("y", a * (a + b))), "y", frozenset("ab"))
    assert not squared.multilinear and squared.degree == 2
    still = path_shape(kt.Tree(kt.Metric("y", a * (a + b))), "y", frozenset("b"))
    assert still.multilinear  # `a` does not move: a constant along the path
    ratio = path_shape(kt.Tree(kt.Metric("y", a / b)), "y", frozenset("ab"))
    assert ratio.degree is None and not ratio.multilinear
    assert path_shape(kt.Tree(kt.Metric("y", a / b)), "y", frozenset("a")).multilinear


def _pairs(count: int) -> kt.Tree:
    """A sum of `count` products of two leaves each: multilinear with 2 × count leaves."""
    leads = [
        kt.KPI(f"leads_{i}", owner="marketing", horizon="1 day", value=1.0) for i in range(count)
    ]
    rates = [kt.KPI(f"rate_{i}", owner="sales", horizon="1 day", value=1.0) for i in range(count)]
    terms = [
        kt.Metric(f"ql_{i}", lead * rate)
        for i, (lead, rate) in enumerate(zip(leads, rates, strict=True))
    ]
    total: Any = terms[0]
    for term in terms[1:]:
        total = total + term
    return kt.Tree(kt.Metric("qualified_leads", total))


def test_exact_shapley_on_a_thousand_changing_leaves() -> None:
    """500 channels × (leads, rate), all moving: far past enumeration, exact by quadrature."""
    tree = _pairs(500)
    before = {}
    after = {}
    for i in range(500):
        before[f"leads_{i}"], after[f"leads_{i}"] = 100 + i, 110 + 2 * i
        before[f"rate_{i}"], after[f"rate_{i}"] = 0.5, 0.4 + i / 5000
    result = tree.attribute("qualified_leads", before, after)
    assert result.details == {"computation": "quadrature", "points": 1}
    for i in (0, 17, 499):
        dl = after[f"leads_{i}"] - before[f"leads_{i}"]
        dr = after[f"rate_{i}"] - before[f"rate_{i}"]
        own = dl * before[f"rate_{i}"]
        assert result.contributions[f"leads_{i}"] == pytest.approx(own + dl * dr / 2, rel=1e-12)
    assert math.fsum(result.contributions.values()) == pytest.approx(result.total, rel=1e-12)
    assert result.by_owner["marketing"] + result.by_owner["sales"] == pytest.approx(result.total)


def test_beyond_enumeration_a_non_multilinear_metric_is_refused_with_alternatives() -> None:
    """60 moving leaves with squares: enumeration refuses and names the integral method."""
    leaves = [kt.KPI(f"k{i}", owner="o", horizon="1 day", value=1.0) for i in range(60)]
    total: Any = leaves[0] / leaves[1]
    for leaf in leaves[2:]:
        total = total + leaf * leaf
    tree = kt.Tree(kt.Metric("y", total))
    after = {leaf.name: 2.0 for leaf in leaves}
    with pytest.raises(kt.LimitError, match="about 10") as info:
        tree.attribute("y", {}, after)
    assert 'method="integral"' in str(info.value)
    assert math.isclose(
        math.fsum(tree.attribute("y", {}, after, "integral").contributions.values()),
        tree.evaluate(after)["y"] - tree.evaluate()["y"],
        rel_tol=1e-9,
    )


def test_per_segment_integral_equals_one_at_a_time() -> None:
    """`attribute_frame` gives each segment what `attribute` gives it, for both methods."""
    a, b = _kpis("ab")
    tree = kt.Tree(kt.Metric("y", a / b))
    data = pd.DataFrame(
        {
            "month": ["jan", "feb"] * 3,
            "channel": ["ads", "ads", "seo", "seo", "mail", "mail"],
            "a": [500, 620, 100, 90, 40, 40],
            "b": [20, 31, 5, 4, 8, 10],
        }
    )
    for method in ("integral", "shapley"):
        out = tree.attribute_frame(
            data, "y", period="month", before="jan", after="feb", by="channel", method=method
        )
        for _, row in out.iterrows():
            rows = data[data.channel == row["channel"]]
            one = tree.attribute("y", rows.iloc[[0]], rows.iloc[[1]], method)
            assert row["a"] == pytest.approx(one.contributions["a"], rel=1e-10, abs=1e-12)
            assert row["b"] == pytest.approx(one.contributions["b"], rel=1e-10, abs=1e-12)


def test_text_and_json_say_how_it_was_computed() -> None:
    """`details` in JSON; a line in the text for Shapley by quadrature; Russian labels."""
    result = _pairs(3).attribute(
        "qualified_leads", {}, {f"leads_{i}": 2.0 for i in range(3)} | {"rate_0": 3.0}
    )
    assert result.to_dict()["details"] == {"computation": "quadrature", "points": 1}
    assert "multilinear" in str(result)
    with locale("ru"):
        assert "полилинейн" in str(result)
        assert "интегральный" in str(
            _pairs(1).attribute("qualified_leads", {}, {"leads_0": 2.0}, "integral")
        )


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_one_row_point_by_point_equals_the_array_passes(data: Any) -> None:
    """One row's slopes by scalar passes equal the array passes', or the array passes decide."""
    from kpitree.analyses.attribution import integral

    tree = data.draw(trees(functions=("min", "max", "abs", "log", "exp", "sqrt")))
    metric = tree.roots[0].name
    after = data.draw(_changes(tree))
    _defined(tree, after)

    def run() -> Any:
        try:
            return dict(tree.attribute(metric, {}, after, "integral").contributions)
        except kt.KPITreeError as exc:
            return type(exc), str(exc)

    scalar = run()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(integral, "_POINT_BY_POINT", 0)  # every point through the arrays
        arrays = run()
    if isinstance(arrays, tuple):
        assert scalar == arrays
        return
    assert isinstance(scalar, dict), scalar
    scale = max(1.0, *(abs(v) for v in arrays.values()))
    for leaf, value in arrays.items():
        assert scalar[leaf] == pytest.approx(value, rel=1e-9, abs=1e-12 * scale), leaf

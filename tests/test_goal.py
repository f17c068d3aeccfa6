import json
import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import kpitree as kt
from kpitree.analyses.goal import cascade, levers, solve
from kpitree.examples import qualified_leads, saas_mrr, sales_revenue
from kpitree.testing import random_tree, trees


def _kpi(name, value, **kw):
    kw.setdefault("owner", "sales")
    kw.setdefault("horizon", "1 day")
    return kt.KPI(name, value=value, **kw)


def _leaves_below(tree, metric):
    below, stack = set(), [metric]
    while stack:
        for child in tree.children(stack.pop()):
            below.add(child.name)
            stack.append(child.name)
    return {leaf.name for leaf in tree.leaves if leaf.name in below}


def _hits(value, target, current):
    return abs(value - target) <= 1e-9 * max(abs(target), abs(current))


# -- solve ---------------------------------------------------------------------------------------


def test_the_qualified_leads_story():
    """900 QLs at 80% needs 1125 leads; +10% QLs needs +10% leads."""
    tree = qualified_leads()
    assert solve(tree, "qualified_leads", 900, vary="leads") == pytest.approx(1125, rel=1e-15)
    assert solve(tree, "qualified_leads", "+10%", vary="leads") == pytest.approx(1100, rel=1e-15)
    assert solve(tree, "qualified_leads", 900, "lead_to_ql") == pytest.approx(0.9, rel=1e-15)


def test_a_needed_value_beyond_a_bound_is_infeasible_with_the_value_needed():
    """1000 QLs from 900 leads needs a conversion above 100%: the error says so and keeps it."""
    with pytest.raises(kt.InfeasibleGoalError, match=r"111%, above its upper bound 100%") as e:
        solve(qualified_leads(), "qualified_leads", 1000, vary="lead_to_ql", values={"leads": 900})
    assert e.value.needed == pytest.approx(1000 / 900)


@given(trees(max_leaves=5, max_metrics=6), st.floats(0.5, 2.0), st.data())
def test_solve_then_evaluate_hits_the_target(tree, factor, data):
    """Whatever the path (exact or numeric), a returned value reaches the target to 1e-9."""
    try:
        current = tree.evaluate()
    except kt.EvaluationError:
        assume(False)
    metric = tree.roots[0].name
    leaf = data.draw(st.sampled_from(sorted(_leaves_below(tree, metric))))
    target = current[metric] * factor
    try:
        x = solve(tree, metric, target, vary=leaf)
    except kt.InfeasibleGoalError:
        assume(False)
    assert _hits(tree.evaluate({leaf: x})[metric], target, current[metric])


@given(st.lists(st.floats(0.1, 100.0), min_size=2, max_size=6), st.floats(0.01, 100.0))
def test_solve_inverts_products_and_quotients_exactly(values, factor):
    """Along a path of products and quotients there is always a solution, found exactly."""
    leaves = [_kpi(f"k{i}", v) for i, v in enumerate(values)]
    expr = leaves[0] / leaves[1]
    for leaf in leaves[2:]:
        expr = kt.Metric(f"m{leaf.name}", expr * leaf)
    tree = kt.Tree(kt.Metric("top", expr * 1))
    current = tree.evaluate()["top"]
    for leaf in leaves:
        x = solve(tree, "top", current * factor, vary=leaf.name)
        assert _hits(tree.evaluate({leaf.name: x})["top"], current * factor, current)


@pytest.mark.parametrize(
    ("text", "target", "vary", "expected"),
    [
        ("(a - 5) ** 2", 4, "a", 3.0),  # roots 3 and 7: nearest to a = 2
        ("(a - 5) ** 2", 16, "a", 1.0),  # roots 1 and 9
        ("abs(a - 3)", 4, "a", -1.0),  # roots -1 and 7: nearest to 2
        ("a ** 3 + b", 30, "a", 3.0),
        ("sqrt(a) * b", 9, "a", 9.0),
        ("log(a) + b", 4, "a", math.e),
        ("exp(a) * b", 3 * math.e**2, "a", 2.0),
        ("b ** a", 81, "a", 4.0),
        ("a - b", 10, "b", -8.0),
        ("b / a", 1.5, "a", 2.0),
        ("min(a, b) * 2 + a", 7, "a", 7 / 3),  # numeric: min is not inverted
        ("max(a, 1) + max(a, b)", 11, "a", 5.5),  # numeric: a appears twice
    ],
)
def test_solve_per_operator_and_nearest_root(text, target, vary, expected):
    """Closed forms per operator; several roots give the one nearest the current value."""
    tree = kt.Tree(kt.Metric("m", text), _kpi("a", 2.0), _kpi("b", 3.0))
    x = solve(tree, "m", target, vary=vary)
    assert x == pytest.approx(expected, rel=1e-9)
    assert _hits(tree.evaluate({vary: x})["m"], target, tree.evaluate()["m"])


def test_a_root_outside_bounds_gives_way_to_one_inside():
    """With the nearest root outside the bounds, the one inside is chosen."""
    a = _kpi("a", 4.5, bounds=(4, None))
    tree = kt.Tree(kt.Metric("m", (a - 5) ** 2))
    assert solve(tree, "m", 4, vary="a", values={"a": 4.5}) == pytest.approx(7.0)


@pytest.mark.parametrize(
    ("text", "target", "words"),
    [
        ("sqrt(a) + 1", 0, "cannot reach"),
        ("exp(a)", -1, "cannot reach"),
        ("a * b", 5, "cannot reach"),  # b = 0: no a helps
        ("min(a, 3)", 4, "no value found"),
        ("1e6 + a * 1e-9", 1e6 + 1, "ill-conditioned"),
    ],
)
def test_unreachable_and_ill_conditioned_goals(text, target, words):
    """No solution, or one that needs an absurd move, is an InfeasibleGoalError saying why."""
    tree = kt.Tree(kt.Metric("m", text), _kpi("a", 2.0), _kpi("b", 0.0))
    with pytest.raises(kt.InfeasibleGoalError, match=words):
        solve(tree, "m", target, vary="a")


@pytest.mark.parametrize(
    ("args", "error", "words"),
    [
        (("qualified_leads", 900, "qualified_leads"), kt.KindError, "solve varies a leaf"),
        (("qualified_leads", 900, "lead"), kt.UnknownNameError, "did you mean `leads`"),
        (("qualified_lead", 900, "leads"), kt.UnknownNameError, "did you mean"),
        (("leads", 900, "leads"), kt.KindError, "not a metric"),
        (("qualified_leads", math.nan, "leads"), kt.ValueTypeError, "not finite"),
        (("qualified_leads", math.inf, "leads"), kt.ValueTypeError, "not finite"),
        (("qualified_leads", "+10 %%", "leads"), kt.ArgumentError, "cannot read"),
        (("qualified_leads", "lots", "leads"), kt.ArgumentError, "cannot read"),
    ],
)
def test_bad_goals_are_named(args, error, words):
    """Metrics as `vary`, unknown names and unreadable targets raise one clear error."""
    with pytest.raises(error, match=words):
        solve(qualified_leads(), *args)


def test_vary_must_be_a_leaf_the_metric_depends_on():
    """A leaf outside the metric's formulas is refused, listing the leaves that would do."""
    with pytest.raises(kt.ArgumentError, match="does not depend on `avg_order_value`"):
        solve(sales_revenue(), "calls", 5000, vary="avg_order_value")


def test_solve_on_a_big_tree_uses_the_path():
    """On a 2,000-leaf tree a one-path leaf is solved exactly and re-evaluation agrees."""
    tree = random_tree(2000, seed=8)
    root = tree.roots[0].name
    current = tree.evaluate()[root]
    for leaf in tree.leaves[:20]:
        try:
            x = solve(tree, root, "+1%", vary=leaf.name)
        except kt.InfeasibleGoalError:
            continue
        assert _hits(tree.evaluate({leaf.name: x})[root], current * 1.01, current)


@pytest.mark.parametrize(
    ("text", "target", "vary", "expected"),
    [
        ("a / b", 2, "a", 6.0),
        ("a - b", 10, "a", 13.0),
        ("-a + 10", 4, "a", 6.0),
        ("a + b + 1", 10, "a", 6.0),
        ("a * b * 2", 24, "a", 4.0),
        ("(a + b) * (b - 1)", 20, "a", 7.0),
    ],
)
def test_solve_undoes_each_operation_with_the_other_operands_at_their_values(
    text, target, vary, expected
):
    """Quotients, differences, negations, sums and products of several terms are undone."""
    tree = kt.Tree(kt.Metric("m", text), _kpi("a", 2.0), _kpi("b", 3.0))
    assert solve(tree, "m", target, vary=vary) == pytest.approx(expected, rel=1e-12)


def test_a_repeated_solve_still_checks_its_target_and_starts_from_its_values():
    """Once a metric and leaf are solved, a bad target or bound is refused all the same."""
    tree = qualified_leads()
    assert solve(tree, "qualified_leads", 900, vary="leads") == pytest.approx(1125.0)
    assert solve(
        tree, "qualified_leads", 900, vary="leads", values={"lead_to_ql": 0.5}
    ) == pytest.approx(1800.0)
    with pytest.raises(kt.ValueTypeError, match="not finite"):
        solve(tree, "qualified_leads", math.nan, vary="leads")
    with pytest.raises(kt.ArgumentError, match="cannot read"):
        solve(tree, "qualified_leads", "lots", vary="leads")
    with pytest.raises(kt.InfeasibleGoalError, match="below its lower bound"):
        solve(tree, "qualified_leads", -5.0, vary="leads")
    with pytest.raises(kt.InfeasibleGoalError, match="above its upper bound"):
        solve(tree, "qualified_leads", 1000, vary="lead_to_ql", values={"leads": 900})
    assert solve(tree, "qualified_leads", 900, vary="leads") == pytest.approx(1125.0)


@pytest.mark.parametrize(
    ("text", "b"),
    [
        ("a / b + b", 3.0),
        ("b / a - 1", 3.0),
        ("-(a * b * 2) + b + 1", 3.0),
        ("(a - b) * b", 0.0),  # any a gives 0: the current value is kept
        ("b - a / b", 4.0),
    ],
)
def test_the_path_in_one_function_agrees_with_the_step_by_step_walk(text, b):
    """Sums, differences and quotients undone in one generated function, as step by step."""
    from kpitree.analyses.goal.inversion import inversion_plan
    from kpitree.engine.incremental import baseline

    tree = kt.Tree(kt.Metric("m", text), _kpi("a", 2.0), _kpi("b", b))
    base = baseline(tree)
    plan = inversion_plan(tree, "m", "a", base)
    assert plan is not None and plan.fused is not None
    for target in (0.0, 1.5, -7.0, 1e300, base.values["m"]):
        fused = plan.candidates(target, base.slots)
        steps = type(plan)(plan.steps).candidates(target, base.slots)
        assert fused == pytest.approx(steps, rel=1e-15)


# -- cascade -------------------------------------------------------------------------------------


def test_cascade_splits_equal_relative_effort():
    """968 QLs from 800 = 1.1 × 1.1: both KPIs move +10%."""
    c = cascade(qualified_leads(), "qualified_leads", 968)
    assert c["leads"] == pytest.approx(1100) and c["lead_to_ql"] == pytest.approx(0.88)
    assert c.effort == pytest.approx(0.1)
    assert c.by_owner == {
        "marketing": {"leads": c["leads"]},
        "sales": {"lead_to_ql": c["lead_to_ql"]},
    }


def test_cascade_pins_a_kpi_at_its_bound_and_the_rest_carry_the_load():
    """Conversion stops at 100%; leads move the rest of the way."""
    c = cascade(qualified_leads(), "qualified_leads", 2000)
    assert c["lead_to_ql"] == 1.0 and c.pinned == ("lead_to_ql",)
    assert c["leads"] == pytest.approx(2000)
    assert c.after["qualified_leads"] == pytest.approx(2000, rel=1e-12)


def test_cascade_moves_kpis_with_negative_derivative_the_other_way():
    """To raise MRR, churn falls by the same percentage as the others rise."""
    c = cascade(saas_mrr(), "mrr", "+5%", among=["churn_rate", "arpa"])
    tree = saas_mrr()
    assert c["churn_rate"] < tree["churn_rate"].value and c["arpa"] > tree["arpa"].value
    down = 1 - c["churn_rate"] / tree["churn_rate"].value
    up = c["arpa"] / tree["arpa"].value - 1
    assert down == pytest.approx(up, rel=1e-12)


@given(trees(max_leaves=5, max_metrics=6, inputs=True), st.floats(0.7, 1.5), st.data())
def test_cascade_then_evaluate_hits_the_target_moving_only_chosen_kpis(tree, factor, data):
    """Re-evaluation reaches the target to 1e-9; leaves not chosen keep their values."""
    try:
        current = tree.evaluate()
    except kt.EvaluationError:
        assume(False)
    metric = tree.roots[0].name
    below = _leaves_below(tree, metric)
    kpis = [k.name for k in tree.kpis if k.name in below]
    assume(kpis)
    among = data.draw(st.lists(st.sampled_from(kpis), min_size=1, unique=True))
    target = current[metric] * factor
    try:
        c = cascade(tree, metric, target, among=among)
    except (kt.InfeasibleGoalError, kt.ValueTypeError):
        assume(False)
    assert set(c) == set(among)
    after = tree.evaluate(dict(c))
    assert _hits(after[metric], target, current[metric])
    for leaf in tree.leaves:
        if leaf.name not in among:
            assert after[leaf.name] == current[leaf.name]
    moved = [k for k in among if k not in c.pinned and k not in c.idle]
    for k in moved:
        assert abs(c[k] / current[k] - 1) == pytest.approx(c.effort, rel=1e-9, abs=1e-12)


def test_cascade_within_a_horizon_keeps_slow_kpis():
    """within="1 week" moves only KPIs movable within a week; managers stay."""
    c = cascade(sales_revenue(), "revenue", "+10%", within="1 week")
    assert set(c) == {"calls_per_day", "call_to_purchase"}
    assert c.after["managers"] == 5


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"target": 900, "among": ["working_days"]}, kt.KindError, "input"),
        ({"target": 900, "among": ["calls"]}, kt.KindError, "metric"),
        ({"target": 900, "among": ["manager"]}, kt.UnknownNameError, "did you mean"),
        ({"target": 900, "within": "15 min"}, kt.InfeasibleGoalError, "no KPI"),
        ({"target": 900, "within": "1 dya"}, kt.HorizonError, "did you mean"),
        ({"target": "lots"}, kt.ArgumentError, "cannot read"),
    ],
)
def test_cascade_bad_input_and_infeasible_targets(kwargs, error, words):
    """Inputs and metrics are not levers; an unreachable target says how far the KPIs get."""
    target = kwargs.pop("target")
    with pytest.raises(error, match=words):
        cascade(sales_revenue(), "revenue", target, **kwargs)


def test_cascade_infeasible_when_the_metric_is_capped():
    """No common percentage reaches a target above a cap in the formula."""
    leads = _kpi("leads", 1000, owner="marketing")
    tree = kt.Tree(kt.Metric("ql", kt.min(leads * 0.8, 1000)))
    with pytest.raises(kt.InfeasibleGoalError, match="cannot reach 2,000"):
        cascade(tree, "ql", 2000)


def test_cascade_infeasible_when_every_kpi_is_bounded():
    """With both KPIs capped, a target above leads × 100% cannot be reached."""
    leads = _kpi("leads", 1000, bounds=(0, 1500), owner="marketing")
    rate = _kpi("rate", 0.8, bounds=(0, 1))
    tree = kt.Tree(kt.Metric("ql", leads * rate))
    with pytest.raises(kt.InfeasibleGoalError, match="reaching only 1,500"):
        cascade(tree, "ql", 2000)


def test_cascade_output_is_json_ready_and_readable():
    """to_dict() serialises as strict JSON; str lists owners, old → new and the effort."""
    c = cascade(qualified_leads(), "qualified_leads", 2000)
    json.dumps(c.to_dict(), allow_nan=False)
    text = str(c)
    assert text.startswith("cascade: qualified_leads 800 lead → 2,000 lead")
    assert "marketing" in text and "pinned" in text


# -- levers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("within", "owner", "expected"),
    [
        (None, None, ["avg_order_value", "managers", "calls_per_day", "call_to_purchase"]),
        ("1 day", None, ["calls_per_day"]),
        ("1 week", "sales", ["calls_per_day", "call_to_purchase"]),
        ("1 month", "marketing", ["avg_order_value"]),
        ("online", None, []),
    ],
)
def test_levers_filter_by_horizon_and_owner(within, owner, expected):
    """Only KPIs (never inputs) within the horizon and of the owner, in order of impact."""
    result = levers(sales_revenue(), "revenue", within=within, owner=owner)
    assert sorted(r.name for r in result) == sorted(expected)
    impacts = [abs(r.impact_1pct) for r in result]
    assert impacts == sorted(impacts, reverse=True)
    assert str(result).startswith("levers of revenue")


def test_levers_unknown_owner_suggests_one():
    """An owner with no KPI is an error with a did-you-mean."""
    with pytest.raises(kt.UnknownNameError, match="did you mean `sales`"):
        levers(sales_revenue(), "revenue", owner="sale")

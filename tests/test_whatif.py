import json
import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import kpitree as kt
from kpitree.analyses.whatif import apply_change, compare, whatif
from kpitree.examples import qualified_leads, saas_mrr, sales_revenue
from kpitree.testing import random_tree, trees


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (1200, 1200.0),
        (1200.5, 1200.5),
        ("1200", 1200.0),
        ("=1200", 1200.0),
        ("= 1 200", 1200.0),
        ("80%", 0.8),
        ("=80%", 0.8),
        ("+10%", 1100.0),
        ("-5%", 950.0),
        ("−5%", 950.0),  # typographic minus
        ("+ 10 %", 1100.0),
        ("x1.2", 1200.0),
        ("*1.2", 1200.0),
        ("×1.2", 1200.0),
        ("x120%", 1200.0),
        ("+200", 1200.0),
        ("-200", 800.0),
        ("+1e3", 2000.0),
        (-5, -5.0),  # a number is a new value, even a negative one
    ],
)
def test_change_forms(change, expected):
    """Each documented change form gives the new value of a leaf that is 1000 now."""
    assert apply_change(change, 1000.0, what="`leads`") == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        ("+10 %%", kt.ArgumentError, "cannot read the change '\\+10 %%'"),
        ("+-5", kt.ArgumentError, "cannot read"),
        ("x", kt.ArgumentError, "cannot read"),
        ("", kt.ArgumentError, "cannot read"),
        ("ten", kt.ArgumentError, "cannot read"),
        ("+10,5%", kt.ArgumentError, "cannot read"),
        ("__import__('os')", kt.ArgumentError, "cannot read"),
        (float("nan"), kt.ValueTypeError, "not finite"),
        (True, kt.ValueTypeError, "bool"),
        (None, kt.ValueTypeError, "expected a finite number"),
        ("x1e308", kt.ArgumentError, "float range"),
    ],
)
def test_bad_changes_are_refused_with_the_forms(change, error, words):
    """Unreadable changes raise an error naming the leaf (and, for text, listing the forms)."""
    with pytest.raises(error, match=words) as info:
        apply_change(change, 1e300 if change == "x1e308" else 1000.0, what="`leads`")
    assert "`leads`" in str(info.value)
    if isinstance(change, str) and "cannot read" in words:
        assert '"+10%"' in str(info.value) and '"x1.2"' in str(info.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("+2pp", 0.82),
        ("+2 pp", 0.82),
        ("+2 PP", 0.82),
        ("+2p.p.", 0.82),
        ("+2 п.п.", 0.82),
        ("+2 п. п.", 0.82),
        ("-3 пп", 0.77),
        ("−3pp", 0.77),
        ("+0.5pp", 0.805),
        ("+10%", 0.88),  # relative, not points: the two never mean the same
    ],
)
def test_percentage_points_add_to_a_rate(change, expected):
    """`+2pp` (or `+2 п.п.`) of a rate of 80% gives 82%; `+10%` of it stays relative, 88%."""
    assert apply_change(change, 0.8, what="`rate`", percent=True) == pytest.approx(
        expected, rel=1e-12
    )


@pytest.mark.parametrize(
    ("change", "percent", "words"),
    [
        ("2pp", True, "can only be added or subtracted"),
        ("=2pp", True, "can only be added or subtracted"),
        ("+2pp", False, "apply to a `%` quantity only"),
        ("x2pp", True, "can only be added or subtracted"),
    ],
)
def test_percentage_points_are_refused_where_they_mean_nothing(change, percent, words):
    """Points are a change of a `%` quantity: as a value, or on leads, they are refused."""
    with pytest.raises(kt.ArgumentError, match=words):
        apply_change(change, 0.8, what="`rate`", percent=percent)


def test_a_whatif_moves_a_percent_kpi_by_points():
    """In a what-if, `+2pp` on lead→QL 80% gives 82%, and `+2pp` on leads is refused."""
    tree = qualified_leads()
    rate = next(k.name for k in tree.kpis if tree.unit(k.name) and tree.unit(k.name).percent)
    before = tree.evaluate()[rate]
    assert tree.whatif({rate: "+2pp"}).after[rate] == pytest.approx(before + 0.02)
    volume = next(k.name for k in tree.kpis if not tree.unit(k.name).percent)
    with pytest.raises(kt.ArgumentError, match="`%` quantity only"):
        tree.whatif({volume: "+2pp"})


def test_relative_change_of_a_leaf_without_value_is_a_missing_value():
    """A relative change needs the current value; without one the error says so."""
    with pytest.raises(kt.MissingValueError, match="no value"):
        apply_change("+10%", None, what="`leads`")


def test_the_qualified_leads_story():
    """+10% leads gives +10% qualified leads, 800 → 880, and leaves the conversion alone."""
    s = whatif(qualified_leads(), {"leads": "+10%"})
    assert s.after["qualified_leads"] == pytest.approx(880.0)
    assert s.delta["qualified_leads"] == pytest.approx(80.0)
    assert s.pct["qualified_leads"] == pytest.approx(0.1)
    assert s.delta["lead_to_ql"] == 0.0 and s.pct["lead_to_ql"] == 0.0
    assert (
        set(s.before) == set(s.after) == set(s.delta) == set(s.pct) == set(qualified_leads().names)
    )


@given(trees(max_leaves=6, max_metrics=6), st.data())
def test_incremental_scenario_equals_a_full_evaluation(tree, data):
    """`after` (recomputing only ancestors) equals evaluating the tree with the new values."""
    try:
        tree.evaluate()
    except kt.EvaluationError:
        assume(False)
    leaves = [leaf.name for leaf in tree.leaves]
    picked = data.draw(st.lists(st.sampled_from(leaves), min_size=1, max_size=3, unique=True))
    factors = data.draw(st.lists(st.floats(0.5, 2.0), min_size=len(picked), max_size=len(picked)))
    changes = {n: f"x{f!r}" for n, f in zip(picked, factors, strict=True)}
    new = {n: tree[n].value * f for n, f in zip(picked, factors, strict=True)}
    try:
        full = tree.evaluate(new)
    except kt.EvaluationError:
        with pytest.raises(kt.EvaluationError):
            whatif(tree, changes)
        return
    s = whatif(tree, changes)
    assert dict(s.after) == dict(full)
    assert all(s.delta[n] == full[n] - s.before[n] for n in tree.names)


@given(trees(max_leaves=6, max_metrics=6))
def test_a_whatif_with_no_change_has_zero_deltas(tree):
    """Setting every leaf to its own value changes nothing: all deltas and pcts are 0."""
    try:
        tree.evaluate()
    except kt.EvaluationError:
        assume(False)
    s = whatif(tree, {leaf.name: "+0%" for leaf in tree.leaves})
    assert all(d == 0.0 for d in s.delta.values())
    assert all(p == 0.0 for p in s.pct.values())
    assert s.moved() == []


def test_one_leaf_recomputes_only_its_ancestors():
    """On a big tree a one-leaf scenario touches only that leaf and the metrics above it."""
    tree = random_tree(2000, seed=5)
    leaf = tree.leaves[7].name
    s = whatif(tree, {leaf: "+10%"})
    above, stack = set(), [leaf]
    while stack:
        for parent in tree.parents(stack.pop()):
            above.add(parent.name)
            stack.append(parent.name)
    assert set(s.changed) == above | {leaf}
    root = tree.roots[0].name
    assert s.after[root] == pytest.approx(tree.evaluate({leaf: tree[leaf].value * 1.1})[root])


@pytest.mark.parametrize(
    ("before", "after", "pct"),
    [
        (0.0, 0.0, 0.0),
        (0.0, 5.0, None),  # no relative change exists from 0
        (100.0, 150.0, 0.5),
        (-100.0, -150.0, -0.5),  # relative to |before|: a bigger loss is negative
        (-100.0, -50.0, 0.5),
    ],
)
def test_pct_rules(before, after, pct):
    """pct is (after - before) / |before|; 0 from 0 to 0; None from 0 to anything else."""
    a = kt.KPI("a", owner="x", horizon="1 day", value=before)
    tree = kt.Tree(kt.Metric("m", a * 1), a)
    s = whatif(tree, {"a": after})
    assert s.pct["a"] == pct and s.pct["m"] == pct


@pytest.mark.parametrize(
    ("changes", "error", "words"),
    [
        ({"qualified_leads": 900}, kt.KindError, "tree.solve"),
        ({"lead": "+10%"}, kt.UnknownNameError, "did you mean `leads`"),
        ({"lead_to_ql": "120%"}, kt.BoundsError, "outside its bounds"),
        ({"leads": "-200%"}, kt.BoundsError, "outside its bounds"),
        ({"leads": "+10 %%", "lead_to_ql": "x2"}, kt.ValidationError, "2 problems"),
        (["leads"], kt.ValueTypeError, "mapping"),
    ],
)
def test_bad_scenarios_are_refused_whole(changes, error, words):
    """Metrics, unknown names, out-of-bounds values: one error listing every problem."""
    with pytest.raises(error, match=words):
        whatif(qualified_leads(), changes)


def test_undefined_after_the_change_names_the_metric():
    """A change that makes a metric undefined raises the evaluation's error for it."""
    a = kt.KPI("a", owner="x", horizon="1 day", value=2.0)
    b = kt.KPI("b", owner="x", horizon="1 day", value=4.0)
    tree = kt.Tree(kt.Metric("ratio", b / a))
    with pytest.raises(kt.EvaluationError, match="`ratio`"):
        whatif(tree, {"a": 0})


def test_values_set_the_starting_point():
    """`values` overrides the defaults before the change is applied."""
    s = whatif(qualified_leads(), {"leads": "+10%"}, {"leads": 2000})
    assert s.before["leads"] == 2000.0 and s.after["leads"] == pytest.approx(2200.0)


def test_str_lists_biggest_relative_change_first():
    """The text shows old → new per moved node, biggest relative change first."""
    s = whatif(saas_mrr(), {"arpa": "x1.1", "churn_rate": "-1%"}, name="plan")
    text = str(s)
    assert text.splitlines()[0] == "scenario: plan"
    order = [line.split()[0] for line in text.splitlines()[2:-1]]
    sizes = [abs(s.pct[n]) for n in order]
    assert sizes == sorted(sizes, reverse=True)
    assert "→" in text and text.endswith("\n3 other nodes unchanged")


def test_to_dict_is_json_ready():
    """to_dict() holds plain data and serialises as strict JSON (None where pct is undefined)."""
    s = whatif(qualified_leads(), {"leads": "+10%"}, {"lead_to_ql": 0})
    data = s.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["changes"] == {"leads": "+10%"}
    ql = next(r for r in data["nodes"] if r["name"] == "qualified_leads")
    assert ql["pct"] == 0.0
    assert json.loads(json.dumps(s.after.to_dict())) == dict(s.after)


def test_mappings_name_unknown_nodes():
    """Reading a node the tree does not have raises UnknownNameError with a hint."""
    s = whatif(qualified_leads(), {"leads": 1})
    with pytest.raises(kt.UnknownNameError, match="did you mean"):
        s.after["qualified_lead"]


def test_compare_puts_scenarios_side_by_side():
    """compare shows current values and each scenario's values, changed leaves first."""
    tree = sales_revenue()
    more = tree.whatif({"managers": "+1"}, name="one more manager")
    better = tree.whatif({"call_to_purchase": "6%"}, name="better conversion")
    c = compare(more, better)
    assert c.names == ("one more manager", "better conversion")
    rows = {r["name"]: r for r in c.rows()}
    assert [r["name"] for r in c.rows()][:2] == ["managers", "call_to_purchase"]
    assert rows["revenue"]["one more manager"] == pytest.approx(2_640_000 * 6 / 5)
    assert rows["revenue"]["better conversion"] == pytest.approx(2_640_000 * 6 / 5)
    assert c["better conversion"] is better
    json.dumps(c.to_dict(), allow_nan=False)
    assert "one more manager" in str(c).splitlines()[0]


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda t: compare(), kt.ArgumentError, "at least one"),
        (lambda t: compare(t.whatif({"leads": 1}), names=["a", "b"]), kt.ArgumentError, "2 name"),
        (
            lambda t: compare(t.whatif({"leads": 1}), t.whatif({"leads": 1}, {"leads": 5})),
            kt.ArgumentError,
            "same",
        ),
        (lambda t: compare(t), kt.ValueTypeError, "scenarios from tree.whatif"),
    ],
)
def test_compare_refuses_mismatched_input(make, error, words):
    """compare needs scenarios of one tree and starting point, and one name per scenario."""
    with pytest.raises(error, match=words):
        make(qualified_leads())


def test_nan_free_numbers_for_a_tree_with_zero_before():
    """A node that moves away from 0 is listed first in str as "new"."""
    a = kt.KPI("a", owner="x", horizon="1 day", value=0.0)
    b = kt.KPI("b", owner="x", horizon="1 day", value=10.0)
    tree = kt.Tree(kt.Metric("m", a + b), a)
    s = whatif(tree, {"a": 5, "b": "+1%"})
    lines = str(s).splitlines()
    assert lines[2].split()[0] == "a" and lines[2].split()[-1] == "new"
    assert not any(isinstance(v, float) and math.isnan(v) for v in s.pct.values())


def test_a_change_read_once_still_follows_the_locale_and_the_quantity():
    """Text read before is read again where the decimal sign or the kind of quantity differs."""
    from kpitree import i18n

    with i18n.locale("ru"):
        assert apply_change("+0,5", 1.0, what="`leads`") == 1.5
    with pytest.raises(kt.ArgumentError, match="cannot read"):
        apply_change("+0,5", 1.0, what="`leads`")
    with i18n.locale("ru"):
        assert apply_change("+0,5", 1.0, what="`leads`") == 1.5
    assert apply_change("+2pp", 0.8, what="`rate`", percent=True) == pytest.approx(0.82)
    with pytest.raises(kt.ArgumentError, match="`%` quantity only"):
        apply_change("+2pp", 0.8, what="`leads`", percent=False)


def test_unreadable_text_is_refused_every_time():
    """A change that cannot be read raises on every call, naming the quantity each time."""
    for what in ("`leads`", "`rate`"):
        with pytest.raises(kt.ArgumentError, match=what):
            apply_change("+ten%", 1.0, what=what)


def test_new_values_are_checked_on_every_whatif():
    """Bounds, NaN and metrics are refused on each call, also once the leaf is known."""
    tree = qualified_leads()
    assert tree.whatif({"lead_to_ql": 0.9}).after["qualified_leads"] == pytest.approx(900.0)
    with pytest.raises(kt.BoundsError, match="`lead_to_ql`"):
        tree.whatif({"lead_to_ql": 1.5})
    with pytest.raises(kt.BoundsError, match="`lead_to_ql`"):
        tree.whatif({"lead_to_ql": "x2"})
    with pytest.raises(kt.ValueTypeError, match="`leads`"):
        tree.whatif({"leads": float("nan")})
    with pytest.raises(kt.KindError, match=r"tree\.solve"):
        tree.whatif({"qualified_leads": 1.0})
    assert tree.whatif({"lead_to_ql": 1.0}).after["lead_to_ql"] == 1.0  # the bound itself


def test_a_scenario_is_the_one_its_class_makes():
    """What `whatif` makes equals `Scenario(...)` with the same fields, and stays frozen."""
    import attrs

    from kpitree.analyses.whatif import Scenario

    s = qualified_leads().whatif({"leads": "+10%"}, name="more")
    same = Scenario(s.tree, s.changes, s.requested, s.base, s.changed, s.name)
    assert s == same and s.name == "more" and s.requested == {"leads": "+10%"}
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        s.name = "other"  # type: ignore[misc]


def test_default_start_is_shared_and_given_values_are_not_mixed_in():
    """Without values every scenario starts from the defaults; with values, from those."""
    tree = qualified_leads()
    assert tree.whatif({"leads": 1.0}).base is tree.whatif({"leads": 2.0}, {}).base
    moved = tree.whatif({"lead_to_ql": 0.5}, {"leads": 2000})
    assert moved.after["qualified_leads"] == 1000.0
    assert tree.whatif({"lead_to_ql": 0.5}).after["qualified_leads"] == 500.0


def test_an_overflow_above_the_changed_leaf_names_the_metric():
    """A new value that sends a metric past the float range is an error naming it."""
    a = kt.KPI("a", owner="x", horizon="1 day", value=2.0)
    tree = kt.Tree(kt.Metric("top", "big + 1"), kt.Metric("big", a * 1e300))
    with pytest.raises(kt.EvaluationError, match="`big`"):
        tree.whatif({"a": 1e10})
    assert tree.whatif({"a": 3.0}).after["top"] == pytest.approx(3e300)

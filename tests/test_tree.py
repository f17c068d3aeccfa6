"""Nodes and the Tree: construction, validation messages, lookups, units."""

import pytest

import kpitree as kt
from kpitree.examples import EXAMPLES, qualified_leads, sales_revenue


def kpi(name: str, **kw: object) -> kt.KPI:
    """Make a KPI with an owner and a horizon unless given."""
    kw.setdefault("owner", "sales")
    kw.setdefault("horizon", "1 day")
    return kt.KPI(name, **kw)  # type: ignore[arg-type]


def test_seed_example_values() -> None:
    """1000 leads at 80% give 800 qualified leads; the revenue tree multiplies out."""
    assert qualified_leads().evaluate()["qualified_leads"] == 800.0
    values = sales_revenue().evaluate()
    assert values["revenue"] == 5 * 40 * 22 * 0.05 * 12_000


def test_accessors_and_order() -> None:
    """Lookups, kinds and structure follow the tree, roots first."""
    tree = sales_revenue()
    assert tree.names[0] == "revenue"
    assert [m.name for m in tree.metrics] == ["revenue", "purchases", "calls"]
    assert [k.name for k in tree.inputs] == ["working_days"]
    assert {leaf.name for leaf in tree.leaves} == {
        "managers", "calls_per_day", "working_days", "call_to_purchase", "avg_order_value"
    }  # fmt: skip
    assert [n.name for n in tree.children("calls")] == ["managers", "calls_per_day", "working_days"]
    assert [n.name for n in tree.parents("calls")] == ["purchases"]
    assert [r.name for r in tree.roots] == ["revenue"]
    assert "calls" in tree and "nope" not in tree
    assert len(tree) == 8


def test_unknown_name_has_hint() -> None:
    """Looking up a misspelt name suggests the right one."""
    with pytest.raises(kt.UnknownNameError, match="did you mean `lead_to_ql`"):
        qualified_leads()["lead_to_q1"]


def test_owners() -> None:
    """owners() maps each owner to their KPIs; inputs are nobody's."""
    assert sales_revenue().owners() == {
        "head_of_sales": ("managers",),
        "sales": ("calls_per_day", "call_to_purchase"),
        "marketing": ("avg_order_value",),
    }


def test_metric_stays_a_node() -> None:
    """A metric used in another formula stays a node: the tree keeps its levels."""
    tree = sales_revenue()
    assert str(tree.formula("purchases")) == "call_to_purchase*calls"
    expanded = tree.formula("revenue", expand=True)
    assert {s.name for s in expanded.free_symbols} == {
        "managers", "calls_per_day", "working_days", "call_to_purchase", "avg_order_value"
    }  # fmt: skip


def test_text_formulas_resolve_names() -> None:
    """Formula text names nodes given to the Tree; a Python-built and a text tree are equal."""
    leads = kpi("leads", value=1000)
    rate = kpi("lead_to_ql", value=0.8)
    from_text = kt.Tree(kt.Metric("ql", "leads * lead_to_ql"), leads, rate)
    from_python = kt.Tree(kt.Metric("ql", leads * rate))
    assert from_text == from_python
    assert from_text.evaluate()["ql"] == 800


def test_with_values_keeps_original() -> None:
    """with_values gives a new tree and leaves the original unchanged."""
    tree = qualified_leads()
    changed = tree.with_values({"leads": 1200})
    assert changed.evaluate()["qualified_leads"] == 960
    assert tree.evaluate()["qualified_leads"] == 800
    assert changed["leads"].value == 1200
    assert changed != tree


def test_nodes_are_immutable_values() -> None:
    """Nodes are frozen, compare by value, and replace() gives a checked copy."""
    a = kpi("leads", value=1000)
    assert a == kpi("leads", value=1000)
    assert hash(a) == hash(kpi("leads", value=1000))
    with pytest.raises(AttributeError):
        a.value = 5  # type: ignore[misc]
    assert a.replace(value=5).value == 5
    with pytest.raises(kt.HorizonError):
        a.replace(horizon="soonish")


def test_node_fields_are_parsed() -> None:
    """Horizon, norm, unit and standards texts become values; "80%" reads as 0.8."""
    rate = kpi("rate", value="80%", unit="%", norm=">= 80%", horizon="неделя",
               standards={"response_minutes": "<= 15"}, influenced_by="marketing")  # fmt: skip
    assert rate.value == 0.8
    assert rate.horizon == kt.Horizon.parse("1 week")
    assert rate.norm == kt.AtLeast(0.8)
    assert str(rate.unit) == "%"
    assert rate.standards[0].name == "response_minutes"
    assert rate.standards[0].norm == kt.AtMost(15)
    assert rate.influenced_by == ("marketing",)


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda: kt.KPI("leads", horizon="1 day"), kt.ArgumentError, "has no owner"),
        (lambda: kt.KPI("leads", owner="m"), kt.ArgumentError, "has no horizon"),
        (lambda: kt.KPI("leads"), kt.ValidationError, "2 problems"),
        (lambda: kpi("leads", horizon="2 weeks-ish"), kt.HorizonError, "KPI `leads`"),
        (lambda: kpi("leads", norm="> 5"), kt.NormError, ">="),
        (lambda: kpi("leads", unit="lead//day"), kt.UnitError, "lead//day"),
        (lambda: kpi("leads", value="lots"), kt.ValueTypeError, "value of `leads`"),
        (lambda: kpi("leads", value=True), kt.ValueTypeError, "value of `leads`"),
        (lambda: kpi("leads", value=float("nan")), kt.ValueTypeError, "value of `leads`"),
        (lambda: kpi("rate", value=1.2, bounds=(0, 1)), kt.BoundsError, "outside the bounds"),
        (lambda: kpi("rate", bounds=(1, 0)), kt.ArgumentError, "low above high"),
        (lambda: kpi("rate", bounds=5), kt.ValueTypeError, "pair"),
        (lambda: kpi("rate", owner=""), kt.ValueTypeError, "non-empty"),
        (lambda: kpi("rate", aggregate="median"), kt.ArgumentError, "weighted:"),
        (lambda: kpi("2rate"), kt.FormulaError, "cannot be a node name"),
        (lambda: kt.Input("min"), kt.FormulaError, "function of the formula language"),
        (lambda: kt.Metric("m", "a +"), kt.FormulaError, "metric `m`"),
        (lambda: kt.Metric("m", "a", norm="~5"), kt.NormError, "metric `m`"),
        (lambda: kt.Metric("m", kpi("a") * "80%"), kt.ValueTypeError, "text"),
        (lambda: kt.Metric("m", kpi("a") * True), kt.ValueTypeError, "not a number"),
    ],
)
def test_node_validation(make: object, error: type[Exception], words: str) -> None:
    """Each bad node raises the named error, naming the node and what is expected."""
    with pytest.raises(error) as info:
        make()  # type: ignore[operator]
    assert words in str(info.value)


def test_tree_reports_every_problem_at_once() -> None:
    """Undefined names, a cycle-free clash and unit errors are all listed in one error."""
    leads = kpi("leads", value=1000, unit="lead")
    other_leads = kpi("leads", value=5, unit="lead")
    rate = kpi("rate", value=0.8, unit="%")
    bad = kt.Metric("bad", leads + rate)
    typo = kt.Metric("typo", "leads * lead_to_q1")
    clash = kt.Metric("clash", other_leads * 2)
    with pytest.raises(kt.ValidationError) as info:
        kt.Tree(bad, typo, clash)
    text = str(info.value)
    assert "2 problems" in text  # units are checked once names and structure are sound
    assert (
        "two different nodes are named `leads`: a kpi with value 1,000 (in the formula of "
        "metric `bad`) and a kpi with value 5 (in the formula of metric `clash`)" in text
    )
    assert "uses `lead_to_q1`, which no node defines" in text
    assert "^^^^^^^^^^" in text


def test_unit_errors_listed() -> None:
    """Adding a count to a percentage, and a declared unit that disagrees, are both reported."""
    leads = kpi("leads", value=1000, unit="lead")
    rate = kpi("rate", value=0.8, unit="%")
    with pytest.raises(kt.ValidationError) as info:
        kt.Tree(kt.Metric("bad", leads + rate), kt.Metric("ql", leads * rate, unit="RUB"))
    text = str(info.value)
    assert "cannot add `lead` and `%`" in text
    assert "metric `ql` is declared in `RUB` but its formula gives `lead`" in text


def test_units_are_derived() -> None:
    """A metric's unit follows from its formula: call/day * day is call."""
    calls_per_day = kpi("calls_per_day", value=40, unit="call/day")
    days = kt.Input("days", value=22, unit="day")
    tree = kt.Tree(kt.Metric("calls", calls_per_day * days))
    assert str(tree.unit("calls")) == "call"
    assert str(sales_revenue().unit("revenue")) == "RUB"


def test_leaves_without_units_are_not_checked() -> None:
    """A leaf without a unit makes everything above it unchecked, not an error."""
    leads = kpi("leads", value=1000, unit="lead")
    raw = kpi("raw", value=3)
    tree = kt.Tree(kt.Metric("m", leads + raw))
    assert tree.unit("m") is None


def test_cycle_is_reported_with_its_path() -> None:
    """Metrics that use each other are a cycle error naming the loop."""
    a = kt.Metric("a", "b + 1")
    b = kt.Metric("b", "c * 2")
    c = kt.Metric("c", "a / 3")
    with pytest.raises(kt.CycleError) as info:
        kt.Tree(a, b, c)
    assert "a → b → c → a" in str(info.value)
    assert set(info.value.names) == {"a", "b", "c"}


def test_deep_chain_has_no_recursion_limit() -> None:
    """A chain of 5,000 metrics is collected, ordered and evaluated without recursion."""
    node: kt.Node = kpi("x", value=1.0)
    for i in range(5000):
        node = kt.Metric(f"m{i}", node + 1)
    tree = kt.Tree(node)
    assert tree.evaluate()["m4999"] == 5001.0
    assert str(tree)  # rendering is iterative too


def test_tree_needs_nodes() -> None:
    """A Tree of nothing, or of something that is not a node, is refused."""
    with pytest.raises(kt.ArgumentError, match="at least one node"):
        kt.Tree()
    with pytest.raises(kt.ValueTypeError):
        kt.Tree("leads")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_render_and_evaluate(name: str) -> None:
    """Every bundled example validates, evaluates and renders."""
    tree = EXAMPLES[name]()
    values = tree.evaluate()
    assert set(values) == set(tree.names)
    assert str(tree).splitlines()[0].startswith(tree.roots[0].name)
    assert repr(tree).startswith("<Tree roots=")


@pytest.mark.parametrize(
    ("bounds", "value", "inside", "clipped", "text"),
    [
        ((0, 1), 0.5, True, 0.5, "[0, 1]"),
        ((0, 1), 1.0, True, 1.0, "[0, 1]"),
        ((0, 1), 1.2, False, 1.0, "[0, 1]"),
        ((0, None), -3.0, False, 0.0, "[0, ∞]"),
        ((None, 10), 11.0, False, 10.0, "[−∞, 10]"),
        ((None, None), 1e300, True, 1e300, "[−∞, ∞]"),
    ],
)
def test_bounds_contain_clip_and_format(
    bounds: tuple[float | None, float | None],
    value: float,
    inside: bool,
    clipped: float,
    text: str,
) -> None:
    """Bounds say whether a value is inside, clip it to the nearest end, and read as text."""
    leaf = kpi("x", bounds=bounds)
    assert leaf.bounds is not None
    assert leaf.bounds.contains(value) is inside
    assert leaf.bounds.clip(value) == clipped
    assert leaf.bounds.format() == text


def test_bounds_stay_a_pair_and_open_without_any() -> None:
    """Bounds equal the pair given and unpack like it; a node without any is open both ways."""
    from kpitree.model.bounds import Bounds

    leaf = kpi("x", bounds=(0, None))
    assert leaf.bounds is not None
    low, high = leaf.bounds
    assert (low, high) == leaf.bounds == (0.0, None)
    assert Bounds.of(leaf).span == (0.0, float("inf"))
    assert Bounds.of(kpi("y")) == Bounds.of(kt.Metric("m", "1")) == (None, None)
    assert Bounds.of(kpi("y")).span == (float("-inf"), float("inf"))


def test_value_outside_an_open_bound_names_both_ends() -> None:
    """A value above a bound open below reads `[−∞, high]`, never an ∞ on the low side."""
    with pytest.raises(kt.BoundsError, match=r"value 2 is outside the bounds \[−∞, 1\]"):
        kpi("x", value=2, bounds=(None, 1))


def test_reach_follows_children_or_parents() -> None:
    """Down the children a node reaches what it is computed from; up the parents, its users."""
    from kpitree.model.graph import reach

    tree = sales_revenue()
    assert reach("revenue", tree._children) == {"revenue", *tree.depends_on("revenue")}
    assert reach("managers", tree._parents) == {"managers", "calls", "purchases", "revenue"}
    assert reach("working_days", {"working_days": ()}) == {"working_days"}

"""Values do what they say, and constructors raise only kpitree errors.

Result mappings follow the Mapping protocol; nodes, standards and limits keep what they are
given or refuse it.
"""

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kpitree as kt
from kpitree import examples
from kpitree.io.model import dumps, loads
from kpitree.testing import trees

# -- the Mapping protocol -------------------------------------------------------------------


def _mappings() -> dict[str, Callable[[], Mapping[str, Any]]]:
    """Every result of the example tree that is a mapping, by how it is made."""
    tree = examples.qualified_leads()
    scenario = tree.whatif({"leads": "+10%"})
    return {
        "evaluate": lambda: tree.evaluate(),
        "gradient": lambda: tree.gradient("qualified_leads"),
        "elasticities": lambda: tree.elasticities("qualified_leads"),
        "before": lambda: scenario.before,
        "after": lambda: scenario.after,
        "delta": lambda: scenario.delta,
        "pct": lambda: scenario.pct,
        "cascade": lambda: tree.cascade("qualified_leads", 900),
        "simulate": lambda: tree.simulate(
            "qualified_leads", n=64, seed=1, distributions={"leads": kt.Normal(1000, 50)}
        ),
        "compare": lambda: kt.compare(
            tree.whatif({"leads": 1100}), tree.whatif({"leads": 900}), names=["more", "less"]
        ),
    }


MAPPINGS = _mappings()
KEYS = st.one_of(
    st.sampled_from(["leads", "lead_to_ql", "qualified_leads", "more", "less", "lead"]),
    st.text(max_size=8),
    st.integers(),
    st.none(),
)


@pytest.mark.parametrize("make", MAPPINGS.values(), ids=MAPPINGS.keys())
def test_result_is_a_mapping(make: Callable[[], Mapping[str, Any]]) -> None:
    """Every mapping-like result is a `collections.abc.Mapping`."""
    assert isinstance(make(), Mapping)


@pytest.mark.parametrize("make", MAPPINGS.values(), ids=MAPPINGS.keys())
@settings(max_examples=40)
@given(key=KEYS)
def test_mapping_laws_hold(make: Callable[[], Mapping[str, Any]], key: object) -> None:
    """`in`, `get`, `[]`, keys/values/items, len and == agree with the dict of the result."""
    result = make()
    plain = dict(result.items())
    assert list(result) == list(plain) == list(result.keys())
    assert len(result) == len(plain)
    assert list(result.values()) == [result[k] for k in result]
    assert (key in result) == (isinstance(key, str) and key in plain)
    if key in result:
        assert result.get(key) == result[key]  # type: ignore[arg-type, index]
    else:
        assert result.get(key, "default") == "default"  # type: ignore[arg-type]
        with pytest.raises(kt.UnknownNameError):
            result[key]  # type: ignore[index]
    assert result == plain


def test_unknown_name_error_is_a_key_error() -> None:
    """`UnknownNameError` is a `KeyError`, which `Mapping.get` and `in` rely on."""
    assert issubclass(kt.UnknownNameError, KeyError)
    assert issubclass(kt.UnknownNameError, LookupError)
    values = examples.qualified_leads().evaluate()
    with pytest.raises(kt.UnknownNameError, match="did you mean `leads`"):
        values["lead"]
    assert str(kt.UnknownNameError("no `x`")) == "no `x`"  # not KeyError's repr()


@pytest.mark.parametrize("make", ["sensitivity", "levers", "tornado", "status"])
def test_row_tables_answer_in_and_get_by_name(make: str) -> None:
    """`name in table` and `table.get(name)` look rows up by name, as `table[name]` does."""
    tree = examples.qualified_leads()
    table = {
        "sensitivity": lambda: tree.sensitivity("qualified_leads"),
        "levers": lambda: tree.levers("qualified_leads"),
        "tornado": lambda: tree.tornado("qualified_leads", swing="10%"),
        "status": lambda: tree.status({"lead_to_ql": 0.7}),
    }[make]()
    name = next(iter(table)).name
    assert name in table
    assert table.get(name) is table[name]
    assert "no_such_leaf" not in table
    assert table.get("no_such_leaf") is None
    with pytest.raises(kt.UnknownNameError):
        table["no_such_leaf"]


@settings(max_examples=25)
@given(trees())
def test_values_of_random_trees_are_mappings(tree: kt.Tree) -> None:
    """For random trees, evaluate() and gradient() agree with their dicts under every method."""
    values = tree.evaluate(undefined="nan")
    assert {k: values.get(k) for k in tree.names} == dict(values)
    assert all(name in values for name in tree.names)
    assert "not_a_node_name" not in values
    root = tree.roots[0].name
    try:
        gradient = tree.gradient(root)
    except kt.EvaluationError:
        return
    assert dict(gradient.items()) == gradient
    assert [leaf.name for leaf in tree.leaves] == list(gradient)


# -- Metric.replace -------------------------------------------------------------------------


def test_metric_replace_formula_keeps_the_new_formula_text() -> None:
    """A metric's new formula is what `replace` keeps and `dumps` writes, not the old text."""
    tree = loads(dumps(examples.qualified_leads()))  # its metric keeps the formula's text
    assert tree["qualified_leads"].text == "leads * lead_to_ql"
    metric = tree["qualified_leads"].replace(formula=tree["leads"] * 2)
    assert metric.text is None
    rebuilt = kt.Tree(metric, tree["leads"], tree["lead_to_ql"])
    text = dumps(rebuilt, "yaml")
    assert "lead_to_ql" not in text.split("metrics:")[1]
    assert loads(text)["qualified_leads"].formula == metric.formula


def test_metric_replace_formula_text_keeps_that_text() -> None:
    """Replacing a formula by text keeps the new text."""
    metric = kt.Metric("m", "a + b").replace(formula="a * b")
    assert metric.text == "a * b"


def test_replace_refuses_a_field_the_node_has_not() -> None:
    """`replace` with an unknown field raises ArgumentError with a did-you-mean."""
    leads = examples.qualified_leads()["leads"]
    with pytest.raises(kt.ArgumentError, match="did you mean `value`"):
        leads.replace(valeu=1)
    with pytest.raises(kt.ArgumentError, match="no field `owner`"):
        kt.Input("x").replace(owner="sales")


def test_replace_checks_like_a_new_node() -> None:
    """`replace` runs the constructor's checks (a bad value is refused)."""
    with pytest.raises(kt.ValueTypeError):
        examples.qualified_leads()["leads"].replace(value="many")


# -- standards ------------------------------------------------------------------------------


def test_standard_checks_its_name_like_a_node_name() -> None:
    """A standard named like a formula function (`min`) is refused when made."""
    with pytest.raises(kt.FormulaError, match="`min` cannot be a standard's name"):
        kt.Standard(name="min", norm="<= 15")


def test_standard_reports_every_problem_at_once() -> None:
    """A standard with several bad fields reports them all in one ValidationError."""
    with pytest.raises(kt.ValidationError) as info:
        kt.Standard(5, name="2x", norm="> 3")  # type: ignore[arg-type]
    assert len(info.value.problems) == 3


def test_standard_parses_its_norm() -> None:
    """A standard's norm given as text is parsed, and its text defaults to `name norm`."""
    standard = kt.Standard(name="response_minutes", norm="<= 15")
    assert standard.norm == kt.AtMost(15)
    assert standard.text == "response_minutes <= 15"


@pytest.mark.parametrize(
    "fields", [{"text": "call back", "norm": "<= 15"}, {"text": "call back", "name": "minutes"}]
)
def test_standard_needs_both_name_and_norm(fields: dict[str, Any]) -> None:
    """A norm without a name (lost on dump) or a name without a norm is refused."""
    with pytest.raises(kt.ArgumentError, match="needs a"):
        kt.Standard(**fields)


def test_standards_of_a_kpi_keep_their_norm_through_a_file() -> None:
    """A KPI's measurable standard with its own text keeps name, norm and text in every format."""
    standard = kt.Standard("answer within a quarter hour", "response_minutes", "<= 15")
    tree = kt.Tree(
        kt.Metric("m", "a * 2"),
        kt.KPI("a", owner="sales", horizon="1 day", value=1, standards=["be kind", standard]),
    )
    for fmt in ("yaml", "json", "toml"):
        assert loads(dumps(tree, fmt), fmt)["a"].standards == ("be kind", standard) or (
            loads(dumps(tree, fmt), fmt)["a"].standards == (kt.Standard("be kind"), standard)
        )


def test_two_standards_of_one_name_are_refused() -> None:
    """Two measurable standards of one KPI under one name are refused: status could not tell."""
    with pytest.raises(kt.DuplicateNameError, match="two standards are named `r`"):
        kt.KPI(
            "a",
            owner="sales",
            horizon="1 day",
            standards=[kt.Standard(name="r", norm="<= 1"), kt.Standard(name="r", norm="<= 2")],
        )


# -- status ---------------------------------------------------------------------------------


def test_status_checks_a_measurable_standard_of_a_kpi_without_a_norm() -> None:
    """A KPI with no norm but a measurable standard is checked by status, not ignored."""
    tree = kt.Tree(
        kt.Metric("m", "a * 2"),
        kt.KPI("a", owner="sales", horizon="1 day", value=1, standards={"resp": "<= 15"}),
    )
    failing = tree.status({"resp": 20})
    assert not failing.ok
    assert failing.by_owner == {"sales": ("a",)}
    row = failing["a"]
    assert row.norm is None and row.ok is None and row.gap is None
    assert row.standards[0].ok is False
    assert tree.status({"resp": 10}).ok
    assert "✗    resp     20  ≤ 15  sales            −5" in str(failing)
    assert failing.to_dict()["rows"][0]["norm"] is None


def test_status_leaves_out_kpis_with_only_plain_standards() -> None:
    """A KPI without a norm whose standards are only text has nothing to check."""
    tree = kt.Tree(
        kt.Metric("m", "a * 2"),
        kt.KPI("a", owner="sales", horizon="1 day", value=1, standards=["be quick"]),
    )
    assert len(tree.status()) == 0


# -- arguments that were not checked --------------------------------------------------------


@pytest.mark.parametrize("field", ["influenced_by", "standards"])
def test_kpi_refuses_a_number_where_a_list_goes(field: str) -> None:
    """`KPI(influenced_by=5)` and `KPI(standards=5)` raise ValueTypeError, not a raw TypeError."""
    with pytest.raises(kt.ValueTypeError, match=field):
        kt.KPI("a", owner="sales", horizon="1 day", **{field: 5})


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"max_depth": -1}, kt.ArgumentError),
        ({"max_depth": 0}, kt.ArgumentError),
        ({"max_file_bytes": True}, kt.ValueTypeError),
        ({"max_formula_chars": 2.5}, kt.ValueTypeError),
        ({"max_name_chars": "200"}, kt.ValueTypeError),
        ({"max_exponent": float("inf")}, kt.ArgumentError),
        ({"max_exponent": -1.0}, kt.ArgumentError),
        ({"max_depth": -1, "max_exponent": "x"}, kt.ValidationError),
    ],
)
def test_limits_refuse_values_that_are_not_limits(
    fields: dict[str, Any], error: type[Exception]
) -> None:
    """`kt.Limits` refuses negative, zero, boolean and non-integer limits with kpitree errors."""
    with pytest.raises(error, match="Limits `max_"):
        kt.Limits(**fields)


def test_limits_take_valid_values() -> None:
    """Whole numbers ≥ 1, and any finite exponent ≥ 0 (an int too), are limits."""
    assert kt.Limits(max_depth=1, max_exponent=0).max_exponent == 0
    assert kt.Limits(max_exponent=10**400).max_exponent == 10**400


# -- every error is a kpitree error: constructors with junk -----------------------------------

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["min", "1 day", ">= 0.8", "80%", "lead", "sum", "", " "]),
    st.lists(st.one_of(st.integers(), st.text(max_size=5), st.none()), max_size=3),
    st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
    st.tuples(st.integers(), st.integers()),
    st.builds(object),
)


def _call(make: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Call `make`; any exception must be a kpitree error."""
    with contextlib.suppress(kt.KPITreeError):
        make(*args, **kwargs)


KPI_FIELDS = (
    "owner",
    "horizon",
    "value",
    "unit",
    "bounds",
    "norm",
    "influenced_by",
    "standards",
    "description",
    "aggregate",
    "uncertainty",
)


@given(name=JUNK, fields=st.dictionaries(st.sampled_from(KPI_FIELDS), JUNK, max_size=4))
def test_kpi_and_input_raise_only_kpitree_errors(name: Any, fields: dict[str, Any]) -> None:
    """KPI and Input with junk in any field raise a KPITreeError or nothing."""
    _call(kt.KPI, name, **{"owner": "sales", "horizon": "1 day", **fields})
    inputs = {k: v for k, v in fields.items() if k in ("value", "unit", "bounds", "description")}
    _call(kt.Input, name, **inputs)


@given(
    name=JUNK,
    formula=JUNK,
    fields=st.dictionaries(
        st.sampled_from(["unit", "target", "norm", "description"]), JUNK, max_size=3
    ),
)
def test_metric_raises_only_kpitree_errors(name: Any, formula: Any, fields: dict[str, Any]) -> None:
    """Metric with junk in any field raises a KPITreeError or nothing."""
    _call(kt.Metric, name, formula, **fields)


@given(text=JUNK, name=JUNK, norm=JUNK)
def test_standard_raises_only_kpitree_errors(text: Any, name: Any, norm: Any) -> None:
    """Standard with junk raises a KPITreeError or nothing."""
    _call(kt.Standard, text, name, norm)


@given(fields=st.dictionaries(st.sampled_from([f.name for f in kt.Limits.__attrs_attrs__]), JUNK))
def test_limits_raise_only_kpitree_errors(fields: dict[str, Any]) -> None:
    """Limits with junk raise a KPITreeError or nothing."""
    _call(kt.Limits, **fields)


@given(value=JUNK, other=JUNK)
def test_norms_raise_only_kpitree_errors(value: Any, other: Any) -> None:
    """Norm constructors and parse_norm with junk raise a KPITreeError or nothing."""
    _call(kt.AtLeast, value)
    _call(kt.AtMost, value)
    _call(kt.Between, value, other)
    _call(kt.parse_norm, value)


@given(
    change=st.dictionaries(st.sampled_from(["value", "unit", "owner", "bogus"]), JUNK, max_size=2)
)
def test_replace_raises_only_kpitree_errors(change: dict[str, Any]) -> None:
    """`replace` with junk raises a KPITreeError or nothing."""
    _call(examples.qualified_leads()["leads"].replace, **change)

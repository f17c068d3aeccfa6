"""One name, one node: clashes refused, look-alike spellings warned, name lengths bounded."""

from __future__ import annotations

import math
import warnings

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import kpitree as kt
from kpitree.language.table import FORMULA_FUNCTIONS
from kpitree.model.spelling import skeleton
from kpitree.testing import trees


def kpi(name: str, owner: str = "sales", value: float = 1.0) -> kt.KPI:
    """Make a KPI with the fields that do not matter here filled in."""
    return kt.KPI(name, owner=owner, horizon="1 day", value=value)


# -- two different nodes under one name ------------------------------------------------------


def test_two_kpis_in_one_formula_are_refused_naming_both_owners() -> None:
    """`KPI("a", owner="x") * KPI("a", owner="y")` is refused, not evaluated as `a * a`."""
    formula = kpi("a", owner="x") * kpi("a", owner="y")
    with pytest.raises(kt.DuplicateNameError) as info:
        kt.Tree(kt.Metric("m", formula))
    assert str(info.value).startswith(
        'two different nodes are named `a`: a kpi with owner "x" (in the formula of metric '
        '`m`) and a kpi with owner "y" (in the formula of metric `m`)'
    )
    assert info.value.names == ("a",)


def test_two_metrics_given_to_the_tree_are_refused_naming_both_formulas() -> None:
    """Two metrics `m` with different formulas passed to `Tree` name both formulas."""
    a = kpi("a")
    with pytest.raises(kt.DuplicateNameError) as info:
        kt.Tree(kt.Metric("m", a + 1), kt.Metric("m", a + 2))
    assert (
        'a metric with formula "a + 1" (given to the Tree) and a metric with formula "a + 2" '
        "(given to the Tree)" in str(info.value)
    )


def test_two_nested_metrics_in_one_formula_are_refused() -> None:
    """Two different metrics `m` inside one formula are refused, not merged into the first."""
    a = kpi("a")
    top = kt.Metric("top", kt.Metric("m", a + 1) * kt.Metric("m", a + 2))
    with pytest.raises(kt.DuplicateNameError, match="named `m`"):
        kt.Tree(top)


def test_equal_metrics_over_different_nodes_are_refused() -> None:
    """Metrics equal by formula text but over different nodes `a` are a clash on `a`."""
    first = kt.Metric("m", kpi("a", owner="x") * 2)
    second = kt.Metric("m", kpi("a", owner="y") * 2)
    assert first == second  # formulas compare by the names they use
    with pytest.raises(kt.DuplicateNameError, match='named `a`: a kpi with owner "x"'):
        kt.Tree(kt.Metric("top", first + second))


def test_kind_clash_names_both_kinds() -> None:
    """A KPI and an input under one name say which is which."""
    with pytest.raises(kt.DuplicateNameError) as info:
        kt.Tree(kt.Metric("m", kpi("a") + kt.Input("a", value=1)))
    message = str(info.value)
    assert 'named `a`: a kpi with owner "sales", horizon "1 day" (in the formula of' in message
    assert 'and an input with owner "external", horizon none (in the formula of' in message


def test_reused_and_equal_nodes_are_one_node() -> None:
    """A diamond over one node object, or over equal copies, is accepted and evaluates once."""
    a = kpi("a", value=2)
    left = kt.Metric("left", a * 3)
    right = kt.Metric("right", kpi("a", value=2) + 1)  # an equal copy of `a`
    tree = kt.Tree(kt.Metric("top", left + right + a), left, kpi("a", value=2))
    assert tree.names == ("top", "left", "a", "right")
    assert tree.evaluate()["top"] == 2 * 3 + (2 + 1) + 2


# -- look-alike spellings --------------------------------------------------------------------


def spelling_warnings(make: object) -> list[str]:
    """Return the messages of the spelling warnings `make()` gives."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make()  # type: ignore[operator]
    return [str(w.message) for w in caught if issubclass(w.category, kt.SpellingWarning)]


def test_latin_and_cyrillic_names_warn_with_code_points() -> None:
    """`a` and Cyrillic `а` in one tree give one warning naming both and the Cyrillic letter."""
    found = spelling_warnings(lambda: kt.Tree(kt.Metric("m", kpi("a") + kpi("а"))))
    assert found == [
        "node names `a` and `а` look alike but are different spellings (`a` (U+0061 LATIN "
        "SMALL LETTER A) vs `а` (U+0430 CYRILLIC SMALL LETTER A)); if they are meant to be "
        "one, write them the same way"
    ]


def test_mixed_script_name_warns() -> None:
    """A name with some Cyrillic letters (`lеаds`) warns beside the Latin `leads`."""
    found = spelling_warnings(lambda: kt.Tree(kt.Metric("m", kpi("lеаds") + kpi("leads"))))
    assert len(found) == 1
    assert "U+0435 CYRILLIC SMALL LETTER IE" in found[0]
    assert "U+0430 CYRILLIC SMALL LETTER A" in found[0]


def test_owners_differing_in_case_warn() -> None:
    """Owners `Продажи` and `продажи` are two roles; the tree says so once."""
    tree = lambda: kt.Tree(kt.Metric("m", kpi("a", owner="Продажи") + kpi("b", owner="продажи")))  # noqa: E731
    found = spelling_warnings(tree)
    assert found == [
        "owners `Продажи` and `продажи` look alike but are different spellings (they differ "
        "only in case); if they are meant to be one, write them the same way"
    ]


def test_names_differing_in_case_warn_but_are_two_nodes() -> None:
    """`Leads` and `leads` are two nodes (a warning, not an error)."""
    make = lambda: kt.Tree(kt.Metric("m", kpi("Leads", value=1) + kpi("leads", value=2)))  # noqa: E731
    assert len(spelling_warnings(make)) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kt.SpellingWarning)
        assert make().evaluate()["m"] == 3


def test_spelling_warning_once_per_construction() -> None:
    """Evaluating, taking a subtree or comparing does not warn again."""
    with pytest.warns(kt.SpellingWarning):
        tree = kt.Tree(kt.Metric("top", kt.Metric("m", kpi("a") + kpi("а")) * 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tree.evaluate()
        tree.subtree("m").evaluate()
        tree.whatif({"a": 3})


def test_model_file_with_look_alike_names_warns() -> None:
    """A model file holding `a` and `а` warns when it is loaded."""
    data = {
        "kpis": {
            "a": {"owner": "sales", "horizon": "1 day", "value": 1},
            "а": {"owner": "sales", "horizon": "1 day", "value": 2},
        },
        "metrics": {"m": "a + а"},
    }
    assert len(spelling_warnings(lambda: kt.Tree.from_dict(data))) == 1


def test_distinct_names_do_not_warn() -> None:
    """Names that only share letters, or Cyrillic names without a Latin twin, do not warn."""
    make = lambda: kt.Tree(kt.Metric("m", kpi("leads") + kpi("lead") + kpi("лиды")))  # noqa: E731
    assert spelling_warnings(make) == []


# -- name length -----------------------------------------------------------------------------

HUGE = "x" * 1_000_000


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: kt.parse_formula(HUGE[:100_000]), id="formula identifier"),
        pytest.param(lambda: kt.parse_formula(f"a + {HUGE[: 100_000 - 4]}"), id="later identifier"),
        pytest.param(lambda: kpi(HUGE), id="KPI"),
        pytest.param(lambda: kt.Input(HUGE), id="Input"),
        pytest.param(lambda: kt.Metric(HUGE, 1), id="Metric"),
        pytest.param(lambda: kt.Metric("m", f"{HUGE[:99_000]} * 2"), id="Metric text"),
        pytest.param(
            lambda: kt.Tree.from_dict({"kpis": {HUGE: {"owner": "a", "horizon": "1 day"}}}),
            id="model file key",
        ),
        pytest.param(
            lambda: kt.Tree.from_dict({"metrics": {"m": f"{HUGE[:99_000]} + 1"}}),
            id="model file formula",
        ),
    ],
)
def test_long_names_are_refused_with_a_short_message(make: object) -> None:
    """A name over `Limits.max_name_chars` is a `LimitError` that shows a prefix and the length."""
    with pytest.raises(kt.KPITreeError) as info:
        make()  # type: ignore[operator]
    error = info.value
    limit = error if isinstance(error, kt.LimitError) else error.problems[0]  # type: ignore[attr-defined]
    assert isinstance(limit, kt.LimitError)
    assert "over the limit of 200 characters" in str(error)
    assert "characters)" in str(error)  # the length is shown
    assert len(str(error)) < 1000


def test_name_limit_follows_the_limits_given() -> None:
    """`parse_formula(limits=...)` applies that `max_name_chars`, at the name's position."""
    limits = kt.Limits(max_name_chars=5)
    assert kt.parse_formula("a + bcdef", limits=limits) is not None
    with pytest.raises(kt.LimitError) as info:
        kt.parse_formula("a + bcdefg", limits=limits)
    assert info.value.span == (4, 10)
    assert "over the limit of 5 characters" in str(info.value)


def test_names_at_the_limit_are_accepted() -> None:
    """A name of exactly `max_name_chars` characters is a name."""
    name = "n" * kt.Limits().max_name_chars
    assert kt.Tree(kt.Metric("m", kpi(name) * 2)).names == ("m", name)


def test_unknown_huge_name_gives_a_short_message() -> None:
    """Looking up a megabyte name says so briefly instead of echoing it."""
    tree = kt.Tree(kt.Metric("m", kpi("a") * 2))
    with pytest.raises(kt.UnknownNameError) as info:
        tree[HUGE]
    assert len(str(info.value)) < 200
    with pytest.raises(kt.KPITreeError) as info:
        tree.evaluate({HUGE: 1})
    assert len(str(info.value)) < 300


def test_long_formula_line_is_cut_around_the_caret() -> None:
    """A mistake at the end of a long formula shows a window of the line, not all of it."""
    text = " + ".join(f"a{i}" for i in range(10_000)) + " + )"
    with pytest.raises(kt.FormulaError) as info:
        kt.parse_formula(text)
    shown, carets = str(info.value).splitlines()[1:3]
    assert len(shown) < 120
    assert shown.endswith("+ )")
    assert carets.index("^") == shown.index(")")


def test_unbounded_field_values_are_cut_in_messages() -> None:
    """A huge wrong-typed field value is quoted cut short."""
    with pytest.raises(kt.KPITreeError) as info:
        kt.KPI("a", owner=[HUGE], horizon="1 day")  # type: ignore[arg-type]
    assert len(str(info.value)) < 300


# -- properties ------------------------------------------------------------------------------


def different(node: kt.KPI | kt.Input | kt.Metric) -> kt.KPI | kt.Input | kt.Metric:
    """Return a node under the same name that is not equal to `node`."""
    if isinstance(node, kt.Metric):
        return kt.Metric(node.name, node.formula + 1)
    return node.replace(value=(node.value or 0) + 1)


def same(a: dict[str, float], b: dict[str, float]) -> bool:
    """Tell whether two evaluations agree, NaN equal to NaN."""
    return a.keys() == b.keys() and all(
        (math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a
    )


@settings(max_examples=60, deadline=None)
@given(tree=trees(), data=st.data())
def test_two_different_nodes_under_one_name_are_always_refused(
    tree: kt.Tree, data: st.DataObject
) -> None:
    """Wherever a second, different node under a taken name appears, the tree is refused."""
    original = data.draw(st.sampled_from(tree.names))
    clash = different(tree[original])  # type: ignore[arg-type]
    nested = data.draw(st.booleans())
    extra = kt.Metric("extra", clash * 2) if nested else clash
    args = [*tree.roots, extra] if data.draw(st.booleans()) else [extra, *tree.roots]
    with pytest.raises(kt.DuplicateNameError) as info:
        kt.Tree(*args)
    assert info.value.names == (original,)
    message = str(info.value)
    assert message.count("a kpi") + message.count("an input") + message.count("a metric") == 2


@settings(max_examples=60, deadline=None)
@given(tree=trees(), data=st.data())
def test_reused_or_equal_nodes_are_accepted_and_evaluate_as_before(
    tree: kt.Tree, data: st.DataObject
) -> None:
    """Passing nodes again, or equal copies of them, changes nothing."""
    picked = data.draw(st.lists(st.sampled_from(tree.names), max_size=4))
    copies = [tree[n].replace() for n in picked]  # equal, not the same objects
    again = kt.Tree(*tree.roots, *copies, *(tree[n] for n in picked))
    assert again.names == tree.names
    assert same(
        dict(again.evaluate(undefined="nan").items()), dict(tree.evaluate(undefined="nan").items())
    )


LOOK_ALIKE = {"a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у", "k": "к"}


@settings(max_examples=80, deadline=None)
@given(
    latin=st.text(alphabet="acdeopxyk", min_size=1, max_size=8).filter(
        lambda s: any(ch in LOOK_ALIKE for ch in s)
    ),
    data=st.data(),
)
def test_look_alike_pairs_warn(latin: str, data: st.DataObject) -> None:
    """Swapping any non-empty set of letters for their Cyrillic twins gives one warning."""
    assume(latin not in FORMULA_FUNCTIONS)
    where = [i for i, ch in enumerate(latin) if ch in LOOK_ALIKE]
    swapped = data.draw(st.sets(st.sampled_from(where), min_size=1))
    cyrillic = "".join(LOOK_ALIKE[ch] if i in swapped else ch for i, ch in enumerate(latin))
    found = spelling_warnings(lambda: kt.Tree(kt.Metric("m", kpi(latin) + kpi(cyrillic))))
    assert len(found) == 1
    assert f"`{latin}` and `{cyrillic}`" in found[0]
    assert "CYRILLIC" in found[0]


@settings(max_examples=80, deadline=None)
@given(
    first=st.text(alphabet="abcdeopxyzлидыж", min_size=1, max_size=6),
    second=st.text(alphabet="abcdeopxyzлидыж", min_size=1, max_size=6),
)
def test_other_pairs_do_not_warn(first: str, second: str) -> None:
    """Names whose skeletons differ give no warning."""
    assume(skeleton(first) != skeleton(second))
    assume(first not in FORMULA_FUNCTIONS and second not in FORMULA_FUNCTIONS)
    found = spelling_warnings(lambda: kt.Tree(kt.Metric("m", kpi(first) + kpi(second))))
    assert found == []

"""Errors and warnings of the formula language and the model in Russian, English unchanged."""

import warnings
from collections.abc import Callable
from typing import Any

import pytest
from conftest import assert_russian
from hypothesis import given
from hypothesis import strategies as st

import kpitree as kt
from kpitree.language.expr import call, check_name
from kpitree.language.parser import parse_formula
from kpitree.language.table import FUNCTIONS
from kpitree.model.distributions import distribution_from_dict
from kpitree.model.norm import parse_norm
from kpitree.model.results import Values
from kpitree.model.units import Unit, add, function


def _kpi(name: str, **fields: Any) -> kt.KPI:
    return kt.KPI(name, **{"owner": "sales", "horizon": "1 day", **fields})


# One error per module (and the phrases built for others), with its English message as
# the code wrote it before the messages were translated: str(error), hint included.
CASES: dict[str, tuple[Callable[[], object], str]] = {
    "expr.check_name": (
        lambda: check_name("2x"),
        "`2x` cannot be a node name: use letters, digits and `_`, not starting with a digit\n"
        "hint: try `_2x`",
    ),
    "expr.call": (
        lambda: call("sqrt", 1, 2),
        "`sqrt` takes exactly 1 argument(s), got 2",
    ),
    "expr.as_expr": (
        lambda: kt.KPI("a", owner="x", horizon="1 day") + "80%",  # type: ignore[operator]
        "text '80%' cannot be part of a formula built in Python\n"
        'hint: write numbers as numbers (0.8, not "80%"), or give the whole formula as text: '
        'kt.Metric("ql", "leads * 80%")',
    ),
    "limits.Limits": (
        lambda: kt.Limits(max_depth=0),
        "Limits `max_depth` must be at least 1 and finite, got 0\n"
        "hint: the default is max_depth=100",
    ),
    "limits.check_name_length": (
        lambda: check_name("x" * 201),
        "a node name `xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...` (201 characters) "
        "is over the limit of 200 characters\n"
        "hint: use a shorter name, or raise Limits.max_name_chars",
    ),
    "parser.end": (
        lambda: parse_formula("leads *"),
        "expected a number, a name or `(`, got the end of the formula\n  leads *\n         ^\n"
        "hint: a formula combines names and numbers with + - * / ** and "
        "min, max, abs, log, exp, sqrt",
    ),
    "parser.mistake": (
        lambda: parse_formula("ql = leads"),
        "unexpected character '='\n  ql = leads\n     ^\n"
        "hint: a formula is a right-hand side only: write `leads * rate`, not `ql = leads * rate`",
    ),
    "parser.arity": (
        lambda: parse_formula("min(a)"),
        "`min` takes at least 2 argument(s), got 1\n  min(a)\n  ^^^",
    ),
    "parser.depth": (
        lambda: parse_formula("((a))", limits=kt.Limits(max_depth=1)),
        "the formula nests deeper than 1 levels\n  ((a))\n    ^^\n"
        "hint: split it into intermediate metrics, or raise Limits.max_depth",
    ),
    "units.parse": (
        lambda: Unit.parse("lead//day"),
        "cannot read unit `lead//day`: expected a unit name after `/`, got `/`\n"
        "  lead//day\n       ^\n"
        'hint: expected a unit like "lead", "RUB", "call/day", "%"',
    ),
    "units.add": (
        lambda: add(Unit.parse("lead"), Unit(percent=True)),
        "cannot add `lead` and `%`: both sides of + must be in the same unit\n"
        "hint: to take a share of `lead`, multiply it by the rate instead",
    ),
    "units.function": (
        lambda: function("log", [Unit.parse("RUB")]),
        "cannot take log of `RUB`: the argument of log must be a plain number or % (no unit)\n"
        "hint: divide `RUB` by a quantity in the same unit first, to get a ratio",
    ),
    "horizon.parse": (
        lambda: kt.Horizon.parse("5"),
        'cannot read horizon "5": expected a duration like "15 min", "1 hour", "1 day", '
        '"2 days", "1 week", "1 month", "1 quarter", "online" (or Russian: "1 день", '
        '"неделя", "онлайн")\nhint: add a unit: "5 days", "5 min"',
    ),
    "norm.mistake": (
        lambda: parse_norm("> 0.8"),
        'cannot read norm "> 0.8": expected a norm like ">= 0.8", ">= 80%", "<= 15" or '
        '"0.7..0.9"\nhint: a norm is a threshold to hold, and meeting it exactly counts: '
        "write >= instead of >",
    ),
    "norm.direction": (
        lambda: parse_norm("0.8"),
        'cannot read norm "0.8": a norm needs a direction, expected a norm like ">= 0.8", '
        '">= 80%", "<= 15" or "0.7..0.9"\n'
        "hint: write >= 0.8 if higher is better, <= 0.8 if lower is better",
    ),
    "nodes.missing": (
        lambda: kt.KPI("leads", horizon="1 day"),
        "KPI `leads` has no owner: every KPI needs the role accountable for it, "
        'e.g. owner="marketing"\nhint: a leaf that nobody on the team controls is a kt.Input',
    ),
    "nodes.bounds": (
        lambda: _kpi("rate", bounds=(1, 0.5)),
        "KPI `rate`: bounds (1, 0.5) have low above high",
    ),
    "nodes.standard": (
        lambda: kt.Standard(norm="<= 15"),
        "standard: a standard with a norm needs a name\n"
        'hint: a measurable standard has both: kt.Standard(name="response_minutes", '
        'norm="<= 15"); a plain one is only text',
    ),
    "graph.undefined": (
        lambda: kt.Tree(kt.Metric("m", "a + b"), _kpi("a")),
        "metric `m` uses `b`, which no node defines\n  a + b\n      ^\n"
        "hint: add a KPI, Input or Metric named `b` to the tree",
    ),
    "graph.metric_value": (
        lambda: kt.Tree(kt.Metric("m", _kpi("a") * 2)).check_values({"m": 1}),
        "`m` is a metric, computed from its formula; it cannot be set\n"
        "hint: to find the leaf value that gives m a target, use "
        "tree.solve('m', target, vary=...)",
    ),
    "graph.units": (
        lambda: kt.Tree(kt.Metric("m", _kpi("a", unit="lead") * 2, unit="RUB")),
        "metric `m` = a * 2: metric `m` is declared in `RUB` but its formula gives `lead`\n"
        'hint: declare unit="lead", or check the formula',
    ),
    "distributions.normal": (
        lambda: kt.Normal(1, -1),
        "Normal: `sd` must be above 0, got -1\n"
        "hint: for a value known exactly, use kt.Fixed(value)",
    ),
    "distributions.from_dict": (
        lambda: distribution_from_dict({"normal": {"mean": 1}}),
        "a normal distribution's parameters: missing sd\nhint: write {normal: {mean, sd}}",
    ),
    "graph.unknown": (
        lambda: kt.Tree(kt.Metric("m", _kpi("leads", value=2) * 2)).evaluate()["lead"],
        "the tree has no node `lead`\nhint: did you mean `leads`?",
    ),
    "results.values": (
        lambda: Values({"leads": 2.0})["nope"],
        "there is no value for `nope`",
    ),
}


def _error(make: Callable[[], object]) -> kt.KPITreeError:
    with pytest.raises(kt.KPITreeError) as info:
        make()
    return info.value


@pytest.mark.parametrize(("make", "english"), CASES.values(), ids=CASES.keys())
def test_english_message_is_unchanged(make: Callable[[], object], english: str) -> None:
    """Under `en` every message reads word for word as it did before translation."""
    assert str(_error(make)) == english


@pytest.mark.parametrize(("make", "english"), CASES.values(), ids=CASES.keys())
def test_message_is_russian(make: Callable[[], object], english: str) -> None:
    """Under `ru` the reason and the hint are Russian, with every placeholder filled."""
    with kt.locale("ru"):
        error = _error(make)
    text = str(error)
    assert english.splitlines()[0] not in text
    assert_russian(error.reason)
    if error.hint is not None:
        assert_russian(error.hint)
    assert_russian(text)


def test_russian_messages_read_naturally() -> None:
    """A few messages word for word: plural forms, names kept, numbers as Russian writes them."""
    with kt.locale("ru"):
        assert str(_error(lambda: call("sqrt", 1, 2))) == (
            "`sqrt` принимает ровно 1 аргумент, получено 2"
        )
        assert _error(lambda: parse_formula("min(a)")).reason == (
            "`min` принимает не меньше 2 аргументов, получено 1"
        )
        assert _error(lambda: _kpi("rate", bounds=(1, 0.5))).reason == (
            "у границ (1; 0,5) нижняя больше верхней"
        )
        assert str(_error(lambda: kt.KPI("leads", horizon="1 day"))) == (
            "у КПЭ `leads` нет ответственного: для каждого КПЭ нужна роль, которая за него "
            'отвечает, например owner="marketing"\n'
            "подсказка: вход, который никто в команде не контролирует, — это kt.Input"
        )
        assert _error(lambda: check_name("x" * 201)).reason.endswith(
            "(201 символ) длиннее предела в 200 символов"
        )


@pytest.mark.parametrize(
    ("locale", "log", "sqrt"),
    [
        ("en", "log of −1, which is not positive", "square root of a negative number (−4)"),
        (
            "ru",
            "логарифм неположительного числа −1",
            "квадратный корень из отрицательного числа (−4)",
        ),
    ],
    ids=["en", "ru"],
)
def test_function_table_says_why_in_the_locale(locale: str, log: str, sqrt: str) -> None:
    """The table's reasons why a function is undefined are worded where they are asked for."""
    explain_log, explain_sqrt = FUNCTIONS["log"].undefined, FUNCTIONS["sqrt"].undefined
    assert explain_log is not None and explain_sqrt is not None
    with kt.locale(locale):
        assert (explain_log("−1"), explain_sqrt("−4")) == (log, sqrt)


def test_locations_of_node_problems_are_russian() -> None:
    """The `KPI `name`:` in front of a field's problem is in the active locale too."""
    with kt.locale("ru"):
        error = _error(lambda: _kpi("rate", value=2, bounds=(0, 1)))
    assert str(error) == "КПЭ `rate`: значение 2 вне границ [0, 1]"


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "en",
            "node names `a` and `а` look alike but are different spellings "
            "(`a` (U+0061 LATIN SMALL LETTER A) vs `а` (U+0430 CYRILLIC SMALL LETTER A)); "
            "if they are meant to be one, write them the same way",
        ),
        (
            "ru",
            "имена узлов `a` и `а` выглядят одинаково, но написаны по-разному "
            "(`a` (U+0061 LATIN SMALL LETTER A) ≠ `а` (U+0430 CYRILLIC SMALL LETTER A)); "
            "если имеется в виду одно и то же, напишите их одинаково",
        ),
    ],
    ids=["en", "ru"],
)
def test_spelling_warning_in_each_locale(locale: str, expected: str) -> None:
    """The look-alike spelling warning is worded in the active locale."""
    with kt.locale(locale), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kt.Tree(kt.Metric("m", _kpi("a") + _kpi("а")))
    assert [str(w.message) for w in caught if issubclass(w.category, kt.SpellingWarning)] == [
        expected
    ]


@given(st.text(alphabet="ab1+*/()=,.%^ ", max_size=12))
def test_formula_errors_differ_only_in_words(text: str) -> None:
    """Any formula is accepted or refused alike in both locales, at the same place."""
    outcomes = []
    for locale in ("en", "ru"):
        with kt.locale(locale):
            try:
                outcomes.append(("ok", repr(parse_formula(text))))
            except kt.KPITreeError as error:
                outcomes.append((type(error).__name__, repr(error.span)))
    assert outcomes[0] == outcomes[1]

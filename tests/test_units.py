from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kpitree as kt
from kpitree.errors import UnitError
from kpitree.model.units import (
    DIMENSIONLESS,
    PERCENT,
    Unit,
    add,
    divide,
    format_quantity,
    function,
    multiply,
    power,
    spelling_hint,
)

U = Unit.parse

PARSE_CASES = [
    ("lead", "lead"),
    ("  lead  ", "lead"),
    ("RUB", "RUB"),
    ("rub", "rub"),
    ("руб", "руб"),
    ("лид", "лид"),
    ("шт", "шт"),
    ("leads", "leads"),
    ("call/day", "call/day"),
    ("call / day", "call/day"),
    ("call per day", "call/day"),
    ("calls per day", "calls/day"),
    ("RUB/lead", "RUB/lead"),
    ("RUB per lead", "RUB/lead"),
    ("1/day", "1/day"),
    ("day^-1", "1/day"),
    ("day**-1", "1/day"),
    ("day⁻¹", "1/day"),
    ("m^2", "m^2"),
    ("m**2", "m^2"),
    ("m ^ 2", "m^2"),
    ("m²", "m^2"),
    ("m³", "m^3"),
    ("m*m", "m^2"),
    ("m·m·m", "m^3"),
    ("m^0.5", "m^(1/2)"),
    ("m^(1/2)", "m^(1/2)"),
    ("m^(-1/3)", "1/m^(1/3)"),
    ("lead*day/month", "day*lead/month"),
    ("a/b/c", "a/b/c"),
    ("a/b*c", "a*c/b"),
    ("RUB/call/day", "RUB/call/day"),
    ("call/day*day", "call"),
    ("lead/lead", "1"),
    ("m^0", "1"),
    ("1", "1"),
    ("%", "%"),
    (" % ", "%"),
    ("lead*%", "lead"),
    ("%/day", "1/day"),
    ("$", "$"),
    ("$/lead", "$/lead"),
    ("€/шт", "€/шт"),
    ("₽ per лид", "₽/лид"),
    ("£*¥", "£*¥"),
    ("unit_2", "unit_2"),
    ("percent", "percent"),
    ("person", "person"),
]


@pytest.mark.parametrize(("text", "canonical"), PARSE_CASES)
def test_parse_gives_canonical_text(text: str, canonical: str) -> None:
    """Unit text parses to the expected canonical text, which parses back to an equal unit.

    `str` is the text as written (spaces collapsed), which parses back to an equal unit too.
    """
    unit = U(text)
    assert unit.canonical == canonical
    assert U(unit.canonical) == unit
    assert str(unit) == " ".join(text.split())
    assert U(str(unit)) == unit


BAD_CASES = [
    ("lead//day", ["`lead//day`", "after `/`", "^"]),
    ("lead^x", ["`lead^x`", "number after `^`", "got `x`"]),
    ("lead**", ["number after `**`", "the end of the text"]),
    ("^2", ["`^2`", "expected a unit name, got `^`"]),
    ("lead)", ["parentheses are not supported"]),
    ("(lead)", ["parentheses are not supported"]),
    ("", ["empty", "1"]),
    ("   ", ["empty"]),
    ("lead/", ["after `/`", "the end of the text"]),
    ("*lead", ["expected a unit name, got `*`"]),
    ("per day", ["got `per`"]),
    ("call per", ["after `per`", "the end of the text"]),
    ("sales call", ["expected `*`, `/` or `per` between units, got `call`"]),
    ("1000 lead", ["`1000` is a number, not a unit"]),
    ("m^(1/0)", ["divide by zero"]),
    ("lead" * 30, ["120 characters", "limit is 100"]),
]


@pytest.mark.parametrize(("text", "words"), BAD_CASES)
def test_bad_text_raises_with_message(text: str, words: list[str]) -> None:
    """Bad unit text raises UnitError that names the text, the problem and what is expected."""
    with pytest.raises(UnitError) as info:
        U(text)
    message = str(info.value)
    for word in words:
        assert word in message
    assert 'a unit like "lead", "RUB", "call/day", "%"' in message or "empty" in message


def test_bad_text_puts_caret_under_offending_piece() -> None:
    """The caret line points at the second slash of `lead//day`."""
    with pytest.raises(UnitError) as info:
        U("lead//day")
    assert info.value.span == (5, 6)
    assert "  lead//day\n       ^" in str(info.value)


def test_non_text_is_refused() -> None:
    """A number given as a unit raises UnitError, not a crash."""
    with pytest.raises(UnitError, match="must be text"):
        U(5)  # type: ignore[arg-type]


def test_parse_passes_a_unit_through() -> None:
    """Unit.parse returns a Unit argument unchanged."""
    unit = U("call/day")
    assert U(unit) is unit


def test_names_are_case_sensitive_and_plurals_distinct() -> None:
    """`RUB` is not `rub` and `leads` is not `lead`."""
    assert U("RUB") != U("rub")
    assert U("leads") != U("lead")


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (U("call/day") * U("day"), U("call")),
        (U("RUB/lead") * U("lead"), U("RUB")),
        (U("m^2") ** Fraction(1, 2), U("m")),
        (U("m^2") ** 0.5, U("m")),
        (U("m^3") ** (1 / 3), U("m")),
        (U("lead") / U("day") / U("manager"), U("lead/day/manager")),
        (U("lead") ** -1, U("1/lead")),
        (U("lead") ** 0, DIMENSIONLESS),
        (U("lead") * PERCENT, U("lead")),
        (U("lead") / U("lead"), DIMENSIONLESS),
        (PERCENT * PERCENT, DIMENSIONLESS),
        (PERCENT**1, DIMENSIONLESS),
    ],
)
def test_algebra(left: Unit, right: Unit) -> None:
    """Products, quotients and powers give the expected unit."""
    assert left == right


def test_percent_is_dimensionless_but_not_equal_to_one() -> None:
    """`%` has the dimension of a plain number yet stays a different value."""
    assert U("%") == PERCENT
    assert PERCENT.is_dimensionless
    assert PERCENT != DIMENSIONLESS
    assert PERCENT.same_dimension(DIMENSIONLESS)
    assert hash(U("%")) == hash(PERCENT)
    assert str(DIMENSIONLESS) == "1"
    assert U(str(DIMENSIONLESS)) == DIMENSIONLESS


def test_quotient_of_same_unit_is_not_percent() -> None:
    """`lead/lead` is a plain number, not a percent."""
    assert (U("lead") / U("lead")).percent is False


def test_percent_needs_a_dimensionless_unit() -> None:
    """A unit with base units cannot be flagged as percent."""
    with pytest.raises(UnitError, match="only a dimensionless unit can be a percent"):
        Unit({"lead": 1}, percent=True)


def test_constructor_checks_names() -> None:
    """A name the parser could not read back is refused at construction."""
    with pytest.raises(UnitError, match="not a unit name"):
        Unit({"lead lead": 1})


def test_units_are_hashable_values() -> None:
    """Equal units hash equally and work as dict keys."""
    assert {U("call/day"): 1}[U("call per day")] == 1
    assert repr(U("call/day")) == "Unit('call/day')"


def test_unsimple_float_exponent_is_refused() -> None:
    """An exponent like 0.1234567 is not a simple fraction."""
    with pytest.raises(UnitError, match="simple fraction"):
        U("m") ** 0.1234567


# Derivation rules.


def test_add_same_unit() -> None:
    """Adding two quantities in one unit keeps it; percent only if both are percent."""
    assert add(U("lead"), U("lead")) == U("lead")
    assert add(PERCENT, PERCENT) == PERCENT
    assert add(PERCENT, DIMENSIONLESS) == DIMENSIONLESS
    assert add(DIMENSIONLESS, PERCENT, op="-") == DIMENSIONLESS


@pytest.mark.parametrize(
    ("first", "second", "op", "words"),
    [
        (
            "lead",
            "%",
            "+",
            ["cannot add `lead` and `%`", "both sides of + must be in the same unit"],
        ),
        ("lead", "%", "+", ["hint: to take a share of `lead`, multiply"]),
        ("lead", "call", "-", ["cannot subtract `call` from `lead`", "both sides of -"]),
        ("lead", "1", "<", ["cannot combine `lead` and `1` (a plain number) with <"]),
        ("lead", "leads", "+", ['differ only by a trailing "s"']),
        ("RUB", "rub", "+", ["`RUB` and `rub` differ only in upper/lower case"]),
    ],
)
def test_add_mismatch_message(first: str, second: str, op: str, words: list[str]) -> None:
    """Adding different units raises UnitError naming both units in backticks."""
    with pytest.raises(UnitError) as info:
        add(U(first), U(second), op=op)
    for word in words:
        assert word in str(info.value)


def test_multiply_and_divide() -> None:
    """The multiply and divide rules follow the algebra and drop the percent flag."""
    assert multiply(U("lead"), PERCENT) == U("lead")
    assert divide(U("RUB"), U("lead")) == U("RUB/lead")
    assert divide(U("lead"), U("lead")) == DIMENSIONLESS


def test_power_rules() -> None:
    """Constant exponents scale exponents; non-constant ones need a dimensionless base."""
    assert power(U("m^2"), Fraction(1, 2)) == U("m")
    assert power(U("lead"), 2) == U("lead^2")
    assert power(PERCENT, None) == DIMENSIONLESS
    assert power(DIMENSIONLESS, None, exponent_unit=PERCENT) == DIMENSIONLESS


def test_power_errors() -> None:
    """A unit base with a changing exponent, or an exponent with a unit, is refused."""
    with pytest.raises(UnitError, match="cannot raise `lead` to a power that changes"):
        power(U("lead"), None)
    with pytest.raises(UnitError, match="to a power in `day`"):
        power(DIMENSIONLESS, None, exponent_unit=U("day"))


@pytest.mark.parametrize(
    ("name", "args", "result"),
    [
        ("min", ["lead", "lead"], "lead"),
        ("max", ["%", "%", "%"], "%"),
        ("max", ["%", "1"], "1"),
        ("min", ["call/day"], "call/day"),
        ("abs", ["RUB"], "RUB"),
        ("abs", ["%"], "%"),
        ("sqrt", ["m^2"], "m"),
        ("sqrt", ["lead"], "lead^(1/2)"),
        ("log", ["%"], "1"),
        ("exp", ["lead/lead"], "1"),
    ],
)
def test_function_rules(name: str, args: list[str], result: str) -> None:
    """Each function gives the expected unit."""
    assert function(name, [U(a) for a in args]) == U(result)


@pytest.mark.parametrize(
    ("name", "args", "words"),
    [
        ("min", ["lead", "RUB"], ["cannot take min of `lead` and `RUB`", "same unit"]),
        ("max", ["lead", "leads"], ['trailing "s"']),
        ("min", [], ["at least one argument"]),
        ("abs", ["lead", "lead"], ["abs takes one argument, got 2"]),
        ("log", ["RUB"], ["cannot take log of `RUB`", "plain number or %"]),
        ("exp", ["lead"], ["cannot take exp of `lead`"]),
        ("sqr", ["lead"], ["no unit rule for function `sqr`", "did you mean `sqrt`?"]),
    ],
)
def test_function_errors(name: str, args: list[str], words: list[str]) -> None:
    """Functions refuse units they cannot take, with words an analyst understands."""
    with pytest.raises(UnitError) as info:
        function(name, [U(a) for a in args])
    for word in words:
        assert word in str(info.value)


def test_spelling_hint_none_for_unrelated_units() -> None:
    """No hint is given for units that are simply different."""
    assert spelling_hint(U("lead"), U("call")) is None
    assert spelling_hint(U("lead"), U("lead")) is None


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (1000, U("lead"), "1,000 lead"),
        (0.8, PERCENT, "80%"),
        (12.0, U("call/day"), "12 call/day"),
        (1234567.891, U("RUB"), "1,234,568 RUB"),
        (2.5, None, "2.5"),
        (0.8, DIMENSIONLESS, "0.8"),
    ],
)
def test_format_quantity(value: float, unit: Unit | None, text: str) -> None:
    """Values are shown with their unit; percent as a percentage; plain numbers alone."""
    assert format_quantity(value, unit) == text


# Properties.

_FIRST = "abcxyzABCXYZабвгдёжАБВЯлид"
_REST = _FIRST + "0123456789_"
names = st.one_of(
    st.builds(
        lambda first, rest: first + rest,
        st.sampled_from(_FIRST),
        st.text(alphabet=_REST, max_size=6),
    ).filter(lambda name: name != "per"),
    st.sampled_from("$€₽£¥"),
)
exponents = st.builds(
    Fraction, st.integers(min_value=-4, max_value=4), st.integers(min_value=1, max_value=3)
)
units = st.one_of(
    st.builds(Unit, st.dictionaries(names, exponents, max_size=4)),
    st.just(PERCENT),
)


@given(units)
def test_parse_of_str_is_identity(unit: Unit) -> None:
    """Any unit's canonical text parses back to an equal unit."""
    assert Unit.parse(str(unit)) == unit


@given(units, units)
def test_multiplication_commutes(u: Unit, v: Unit) -> None:
    """Multiplication commutes: u * v == v * u."""
    assert u * v == v * u


@given(units, units, units)
def test_multiplication_associates(u: Unit, v: Unit, w: Unit) -> None:
    """Multiplication associates: (u * v) * w == u * (v * w)."""
    assert (u * v) * w == u * (v * w)


@given(units, units)
def test_division_undoes_multiplication(u: Unit, v: Unit) -> None:
    """(u * v) / v has u's dimension, and equals u unless u is a percent."""
    back = (u * v) / v
    assert back.same_dimension(u)
    assert back == Unit(u.factors)


@given(units, exponents.filter(lambda e: e != 0))
def test_power_inverts(u: Unit, e: Fraction) -> None:
    """(u ** e) ** (1/e) has u's dimension."""
    assert ((u**e) ** (1 / e)).same_dimension(u)


def test_per_inside_a_name_is_not_an_operator() -> None:
    """`percent` and `person` are names; `per` alone is the operator."""
    assert U("lead per person") == U("lead/person")
    assert U("person per day") == U("person/day")
    assert U("call per day²") == U("call/day^2")


# -- plural forms and units as written ---------------------------------------------------------

LEADS = {"one": "лид", "few": "лида", "many": "лидов"}


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1, "1 лид"),
        (2, "2 лида"),
        (4, "4 лида"),
        (5, "5 лидов"),
        (11, "11 лидов"),
        (21, "21 лид"),
        (22, "22 лида"),
        (800, "800 лидов"),
        (1.5, "1,5 лида"),  # a fraction: CLDR "other", written with the few form
        (0, "0 лидов"),
    ],
)
def test_plural_forms_agree_with_the_number_under_ru(value: float, shown: str) -> None:
    """`{one: лид, few: лида, many: лидов}` gives 1 лид, 2 лида, 800 лидов, 21 лид, 1,5 лида."""
    import kpitree as kt

    with kt.locale("ru"):
        assert format_quantity(value, U(LEADS)) == shown


@pytest.mark.parametrize(
    ("value", "shown"), [(1, "1 лид"), (3, "3 лида"), (800, "800 лидов"), (1.5, "1.5 лида")]
)
def test_russian_forms_under_en_follow_russian_rules(value: float, shown: str) -> None:
    """Under `en` the Russian forms still agree by Russian rules; only the digits are English."""
    assert format_quantity(value, U(LEADS)) == shown


def test_english_forms_and_the_other_category() -> None:
    """`{one: lead, other: leads}` gives 1 lead and 2 leads, in either locale."""
    import kpitree as kt

    leads = U({"one": "lead", "other": "leads"})
    assert [format_quantity(n, leads) for n in (1, 2, 1.5)] == ["1 lead", "2 leads", "1.5 leads"]
    with kt.locale("ru"):
        assert [format_quantity(n, leads) for n in (1, 2, 5)] == ["1 lead", "2 leads", "5 leads"]


def test_the_form_follows_the_number_as_shown() -> None:
    """A change prints its form for the size shown: −1 лид, +2 лида, +5 лидов."""
    import kpitree as kt
    from kpitree.model.units import format_change

    with kt.locale("ru"):
        assert [format_change(x, U(LEADS)) for x in (-1, 2, 5)] == [
            "\u22121 лид",
            "+2 лида",
            "+5 лидов",
        ]


def test_a_plural_unit_is_named_by_its_one_form_and_equals_the_plain_unit() -> None:
    """The `one` form names the unit: `str` is `лид` and it equals `Unit.parse("лид")`."""
    unit = U(LEADS)
    assert str(unit) == "лид" and unit == U("лид") and hash(unit) == hash(U("лид"))
    assert unit.forms == (("one", "лид"), ("few", "лида"), ("many", "лидов"))
    assert str(U({"other": "leads", "few": "x"})) == "leads"
    assert str(U({"many": "лидов"})) == "лидов"


def test_compound_plural_units_inflect_as_a_whole() -> None:
    """`{one: лид/день, few: лида/день, many: лидов/день}` gives `5 лидов/день`."""
    import kpitree as kt

    unit = U({"one": "лид/день", "few": "лида/день", "many": "лидов/день"})
    assert unit == U("лид/день")
    with kt.locale("ru"):
        assert format_quantity(5, unit) == "5 лидов/день"


def test_division_keeps_the_forms_of_the_numerator() -> None:
    """`лиды / дни` is `лид/день` with forms `лидов/день`; `лиды * %` keeps the forms."""
    import kpitree as kt

    per_day = U(LEADS) / U("день")
    assert per_day == U("лид/день") and str(per_day) == "лид/день"
    with kt.locale("ru"):
        assert format_quantity(400, per_day) == "400 лидов/день"
        assert format_quantity(2, U(LEADS) * PERCENT) == "2 лида"
        assert format_quantity(2, PERCENT * U(LEADS)) == "2 лида"
    assert (U(LEADS) * U("день")).forms == ()  # a product of two named units: no forms
    assert (U("руб") / U(LEADS)).forms == ()  # the number counts roubles, not leads


@pytest.mark.parametrize(
    ("forms", "words"),
    [
        ({}, "at least one form"),
        ({"one": "лид", "several": "лидов"}, "`several` is not a plural category"),
        ({"one": "лид", "mnay": "лидов"}, "did you mean `many`?"),
        ({"one": "лид", "many": 5}, "must be text"),
        ({"one": "%"}, "plural forms are for named units"),
        ({"one": "лид/день", "many": "лидов"}, "different kinds of unit"),
        ({"one": "лид//день"}, "cannot read unit"),
    ],
)
def test_bad_plural_forms_are_refused(forms: dict[str, object], words: str) -> None:
    """Unknown categories, non-text, unitless or mismatched forms raise UnitError."""
    with pytest.raises(UnitError) as info:
        U(forms)  # type: ignore[arg-type]
    assert words in str(info.value)


@given(
    st.lists(st.sampled_from(["звонок", "менеджер", "день", "лид", "руб"]), min_size=1, max_size=4),
    st.data(),
)
def test_a_unit_prints_as_written_and_compares_by_meaning(
    names: list[str], data: st.DataObject
) -> None:
    """Any order of the same factors prints as written and equals every other order."""
    text = "/".join(names)
    shuffled = data.draw(st.permutations(names[1:]))
    other = "/".join([names[0], *shuffled])
    assert str(U(text)) == text
    assert U(text) == U(other) and U(text).canonical == U(other).canonical


def test_a_plural_form_used_as_a_unit_gets_a_hint() -> None:
    """`лидов` against `{one: лид, many: лидов}` hints that units are named by `one`."""
    hint = spelling_hint(U("лидов"), U(LEADS))
    assert hint is not None and "`лидов` is a plural form of `лид`" in hint
    assert spelling_hint(U(LEADS), U("лид")) is None


@given(st.floats(), st.sampled_from(["en", "ru"]))
def test_plural_units_show_every_float(value: float, name: str) -> None:
    """A unit with plural forms writes any float, NaN and infinities included, never raising."""
    leads = Unit.parse({"one": "лид", "few": "лида", "many": "лидов"})
    with kt.locale(name):
        text = format_quantity(value, leads)
    assert text.split(" ")[-1] in {"лид", "лида", "лидов"}

"""Units of measure: reading unit text, unit algebra, and the rules formulas follow.

A `Unit` is a product of named base units raised to rational powers (`call/day` is
``call^1 * day^-1``), plus a display flag for percent. Names are whatever the user wrote
(`lead`, `RUB`, `лид`, `$`), compared exactly: `leads` is not `lead` and `rub` is not `RUB`;
error messages hint when two names differ only by a trailing ``s`` or by case.

Unit text grammar (`Unit.parse`):

=================  =========================================================================
text               meaning
=================  =========================================================================
``lead``           a name: a letter, then letters, digits or ``_``; or one of ``$ € ₽ £ ¥``
``%``              a fraction shown as a percentage; dimensionless
``1``              a plain number (dimensionless), as in ``1/day``
``a*b``, ``a·b``   product
``a/b``, ``a per b``  quotient; read left to right like arithmetic: ``a/b/c`` = a/(b*c),
                   ``a/b*c`` = (a/b)*c
``a^2``, ``a**2``  power; also ``a^-1``, ``a^0.5``, ``a^(1/2)``, ``a²``, ``a³``, ``a⁻¹``
=================  =========================================================================

Parentheses are refused except around a rational exponent (``m^(1/2)``). The empty text is
refused: leave the unit out (``None``) for "not declared", or write ``1`` for a plain number.

`str(unit)` is the text as the user wrote it (``звонок/менеджер/день`` stays in that order,
extra spaces collapsed), and parses back to an equal unit: equality compares meaning, so
``call/manager/day == call/day/manager``. A unit made by algebra has no written text and
prints in the canonical form, `Unit.canonical`: names sorted, numerator joined by ``*``,
each denominator factor after its own ``/`` (``day*lead/month``, ``RUB/call/day``), ``1``
for dimensionless, ``%`` for percent.

Plural forms: a unit may be given as a mapping of CLDR plural categories (``zero``,
``one``, ``two``, ``few``, ``many``, ``other``) to unit text,
``{"one": "лид", "few": "лида", "many": "лидов"}``, so that quantities agree with their
number: ``1 лид``, ``2 лида``, ``800 лидов``, ``21 лид``, ``1,5 лида``. The ``one`` form (else
``other``, else the first given) names the unit: it is what is compared and what `str`
gives. `Unit.form` picks the form for a number as it is shown (``1 060,66`` is a fraction,
``1 061`` a whole number), by the plural rules of the active locale. Forms written for
another language's rules (Russian forms shown under English) are chosen by the rules of the
shipped locale that has all their categories; a category the forms lack falls back to a
near one (a fraction, ``other``, to ``few``: ``1,5 лида``). Compound units inflect as a whole
(``{one: лид/день, few: лида/день, many: лидов/день}``); dividing a unit with forms by a
unit without (``лиды / дни``) keeps the forms with the divisor after each (``лидов/день``),
and multiplying by a plain number or ``%`` keeps them; other products have no forms.

The functions `add`, `multiply`, `divide`, `power` and `function` are the rules a formula
checker applies node by node; each returns the result unit or raises `UnitError` naming both
units in backticks.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction

import attrs

from kpitree import i18n
from kpitree.errors import UnitError, did_you_mean
from kpitree.i18n import N_, _
from kpitree.language.table import FUNCTIONS
from kpitree.model.numbers import format_number

__all__ = [
    "DIMENSIONLESS",
    "MAX_UNIT_TEXT",
    "PERCENT",
    "PLURAL_CATEGORIES",
    "Unit",
    "add",
    "divide",
    "format_quantity",
    "function",
    "multiply",
    "power",
    "spelling_hint",
]

MAX_UNIT_TEXT = 100
"""Longest unit text `Unit.parse` reads; longer text is refused before parsing."""

_EXPECTED = N_('expected a unit like "lead", "RUB", "call/day", "%"')  # translated where shown
# Letters, then letters, digits or "_"; superscript digits are exponents, not part of a name.
_NAME_CHAR = r"[^\W¹²³⁰⁴⁵⁶⁷⁸⁹]"
_NAME = re.compile(rf"[^\W\d_]{_NAME_CHAR}*")
_CONTINUES_NAME = re.compile(_NAME_CHAR)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_EXPONENT_NUMBER = re.compile(r"[+\-−]?\d+(?:\.\d+)?")
_EXPONENT_RATIO = re.compile(r"\(\s*([+\-−]?\d+)\s*(?:/\s*(\d+)\s*)?\)")
_SUPERSCRIPT = re.compile(r"⁻?[⁰¹²³⁴⁵⁶⁷⁸⁹]+")
_SUPERSCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_TIMES = ("*", "·", "⋅", "×")
_MAX_DENOMINATOR = 1000

Factors = tuple[tuple[str, Fraction], ...]
Exponent = Fraction | int | float
Forms = tuple[tuple[str, str], ...]

PLURAL_CATEGORIES = ("zero", "one", "two", "few", "many", "other")
"""CLDR's plural categories, the keys of a unit's plural forms."""

# A category the forms lack → the nearest ones, first to last. Russian writes a fraction
# (CLDR "other") with the genitive singular, which is the "few" form: 1,5 лида.
_FALLBACK = {
    "other": ("few", "many", "one"),
    "few": ("other", "many", "one"),
    "many": ("other", "few", "one"),
    "one": ("other", "few", "many"),
    "zero": ("many", "other", "few", "one"),
    "two": ("few", "other", "many", "one"),
}


def _is_name(name: str) -> bool:
    if _NAME.fullmatch(name):
        return name != "per"
    return len(name) == 1 and unicodedata.category(name) == "Sc"


def _as_exponent(value: object) -> Fraction:
    """Turn an exponent into a Fraction; floats must be simple fractions such as 0.5 or 1/3."""
    if isinstance(value, bool) or not isinstance(value, Fraction | int | float):
        raise UnitError(_("an exponent must be a number, got {value}").format(value=repr(value)))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnitError(
                _("an exponent must be a finite number, got {value}").format(value=repr(value))
            )
        ratio = Fraction(value).limit_denominator(_MAX_DENOMINATOR)
        if abs(float(ratio) - value) > 1e-12:
            raise UnitError(
                _("cannot use exponent {value} on a unit: it must be a simple fraction").format(
                    value=repr(value)
                ),
                hint=_("use a whole number or a fraction such as 1/2"),
            )
        return ratio
    return Fraction(value)


def _canonical(
    factors: Mapping[str, Exponent] | Iterable[tuple[str, Exponent]],
) -> Factors:
    """Merge repeated names, drop zero exponents, and sort by name."""
    pairs = factors.items() if isinstance(factors, Mapping) else factors
    merged: dict[str, Fraction] = {}
    for name, exponent in pairs:
        if not isinstance(name, str) or not _is_name(name):
            raise UnitError(
                _("`{name}` is not a unit name: {expected}").format(
                    name=name, expected=_(_EXPECTED)
                )
            )
        merged[name] = merged.get(name, Fraction(0)) + _as_exponent(exponent)
    return tuple(sorted((n, e) for n, e in merged.items() if e != 0))


def _percent_only_without_dimension(instance: Unit, attribute: object, value: bool) -> None:
    if value and instance.factors:
        raise UnitError(
            _("only a dimensionless unit can be a percent, not `{unit}`").format(
                unit=Unit(instance.factors)
            )
        )


@attrs.frozen(repr=False, cache_hash=True)
class Unit:
    """A unit of measure: base-unit names with rational exponents, and a percent flag.

    Equality and hashing are structural. ``percent`` only changes how a dimensionless value
    is shown (0.8 as 80%), so `%` and `1` are different values that have the same dimension.

    Attributes:
        factors: sorted ``(name, exponent)`` pairs, no zero exponents; a mapping or any
            iterable of pairs is accepted and made canonical.
        percent: the value is a fraction shown as a percentage; only when dimensionless.

    Examples:
        >>> Unit({"call": 1, "day": -1})
        Unit('call/day')
        >>> Unit.parse("call/day") * Unit.parse("day")
        Unit('call')
        >>> Unit.parse("RUB per lead") == Unit.parse("RUB/lead")
        True
    """

    factors: Factors = attrs.field(default=(), converter=_canonical)
    percent: bool = attrs.field(default=False, validator=_percent_only_without_dimension)
    text: str | None = attrs.field(default=None, eq=False, kw_only=True)
    """The text as written (`parse` sets it), or None for the canonical text."""
    forms: Forms = attrs.field(default=(), eq=False, kw_only=True)
    """Plural forms, ``(category, text)`` pairs in the order given; empty for a plain unit."""

    @classmethod
    def parse(cls, text: str | Unit | Mapping[str, str]) -> Unit:
        """Read unit text such as ``"lead"``, ``"call/day"``, ``"RUB per lead"`` or ``"%"``.

        A `Unit` is returned as it is; a mapping gives plural forms (module docstring).
        See the module docstring for the grammar.

        Args:
            text: the unit text, a mapping of plural categories to unit text, or a Unit.

        Returns:
            The unit.

        Raises:
            UnitError: the text is not a unit; the message points at the offending piece.

        Examples:
            >>> Unit.parse("calls per day"), Unit.parse("calls per day").canonical
            (Unit('calls per day'), 'calls/day')
            >>> Unit.parse("звонок/менеджер/день") == Unit.parse("звонок/день/менеджер")
            True
            >>> Unit.parse({"one": "лид", "few": "лида", "many": "лидов"})
            Unit('лид')
            >>> Unit.parse("%").is_dimensionless
            True
            >>> Unit.parse("lead//day")
            Traceback (most recent call last):
            ...
            kpitree.errors.UnitError: cannot read unit `lead//day`: expected a unit name after...
              lead//day
                   ^
            hint: expected a unit like "lead", "RUB", "call/day", "%"
        """
        if isinstance(text, Unit):
            return text
        if isinstance(text, Mapping):
            return _plural(text)
        if not isinstance(text, str):
            raise UnitError(
                _("a unit must be text, got {type} {value}: {expected}").format(
                    type=type(text).__name__, value=repr(text), expected=_(_EXPECTED)
                )
            )
        if len(text) > MAX_UNIT_TEXT:
            raise UnitError(
                _(
                    "cannot read unit `{start}...`: it is {length} characters long, "
                    "the limit is {limit}"
                ).format(start=text[:40], length=len(text), limit=MAX_UNIT_TEXT),
                hint=_(_EXPECTED),
            )
        if not text.strip():
            raise UnitError(
                _("cannot read unit: the text is empty"),
                hint=_('leave the unit out if it is not known, or write "1" for a plain number'),
            )
        read = _Reader(text).read()
        return Unit(read.factors, percent=read.percent, text=" ".join(text.split()))

    @property
    def canonical(self) -> str:
        """The canonical text: names sorted, each denominator after its own ``/``.

        Examples:
            >>> Unit.parse("звонок/менеджер/день").canonical
            'звонок/день/менеджер'
        """
        if self.percent:
            return "%"
        top = [_factor_text(n, e) for n, e in self.factors if e > 0]
        bottom = [_factor_text(n, -e) for n, e in self.factors if e < 0]
        return "*".join(top or ["1"]) + "".join(f"/{b}" for b in bottom)

    def form(self, count: float | Decimal) -> str:
        """The unit's text for a quantity of `count`, as it is shown, in the active locale.

        Pass the number as shown (a `Decimal` of the shown digits: ``Decimal("1.5")``), since
        plural rules tell ``1`` from ``1.0``. A unit without forms is its text.

        Examples:
            >>> leads = Unit.parse({"one": "лид", "few": "лида", "many": "лидов"})
            >>> [leads.form(n) for n in (1, 2, 5, 21, Decimal("1.5"))]
            ['лид', 'лида', 'лидов', 'лид', 'лида']
            >>> Unit.parse("lead").form(800)
            'lead'
        """
        if not self.forms:
            return str(self)
        forms = dict(self.forms)
        number = -count if count < 0 else count
        category = i18n.babel_locale().plural_form(number)
        if category in forms:
            return forms[category]
        # The forms follow another language's rules: take the shipped locale that has all
        # their categories, the one with the fewest first (English's one/other before ru's).
        fitting = []
        for name in i18n.LOCALES:
            tags = i18n.babel_locale(name).plural_form.tags | {"other"}
            if set(forms) <= tags:
                fitting.append((len(tags), name))
        for _size, name in sorted(fitting):
            category = i18n.babel_locale(name).plural_form(number)
            if category in forms:
                return forms[category]
        near = next((c for c in _FALLBACK[category] if c in forms), None)
        return forms[near] if near else str(self)

    @property
    def is_dimensionless(self) -> bool:
        """Whether this is a plain number or a percent (no base units).

        Examples:
            >>> Unit.parse("lead/lead").is_dimensionless
            True
        """
        return not self.factors

    def same_dimension(self, other: Unit) -> bool:
        """Whether both units measure the same thing, ignoring the percent display flag.

        Examples:
            >>> PERCENT.same_dimension(DIMENSIONLESS), PERCENT == DIMENSIONLESS
            (True, False)
        """
        return self.factors == other.factors

    def __mul__(self, other: object) -> Unit:
        if not isinstance(other, Unit):
            return NotImplemented
        # A count times a rate or a plain number is the same count, written as it was.
        if other.is_dimensionless and self.factors:
            return Unit(self.factors, text=self.text, forms=self.forms)
        if self.is_dimensionless and other.factors:
            return Unit(other.factors, text=other.text, forms=other.forms)
        return Unit(self.factors + other.factors)

    def __truediv__(self, other: object) -> Unit:
        if not isinstance(other, Unit):
            return NotImplemented
        factors = self.factors + tuple((n, -e) for n, e in other.factors)
        if other.is_dimensionless and self.factors:
            return Unit(self.factors, text=self.text, forms=self.forms)
        if self.forms and other.factors and all(e > 0 for _, e in other.factors):
            # The number agrees with the numerator: 800 лидов/день, 2 лида/день.
            after = "".join(f"/{_factor_text(n, e)}" for n, e in other.factors)
            return Unit(
                factors,
                text=f"{self}{after}",
                forms=tuple((category, f"{form}{after}") for category, form in self.forms),
            )
        return Unit(factors)

    def __pow__(self, exponent: Exponent) -> Unit:
        power = _as_exponent(exponent)
        if power == 1 and not self.percent:
            return self
        return Unit((n, e * power) for n, e in self.factors)

    def __str__(self) -> str:
        return self.canonical if self.text is None else self.text

    def __repr__(self) -> str:
        return f"Unit({str(self)!r})"


_PLURAL_EXAMPLE = '{"one": "лид", "few": "лида", "many": "лидов"}'


def _plural(given: Mapping[str, str]) -> Unit:
    """A unit from its plural forms; the `one` form (else `other`, else the first) names it."""
    if not given:
        raise UnitError(
            _("a unit with plural forms needs at least one form"),
            hint=_("e.g. {example}").format(example=_PLURAL_EXAMPLE),
        )
    forms: list[tuple[str, str]] = []
    units: dict[str, Unit] = {}
    for category, text in given.items():
        if category not in PLURAL_CATEGORIES:
            raise UnitError(
                _("`{category}` is not a plural category; the categories are {categories}").format(
                    category=category, categories=", ".join(PLURAL_CATEGORIES)
                ),
                hint=did_you_mean(str(category), PLURAL_CATEGORIES)
                or _("e.g. {example}").format(example=_PLURAL_EXAMPLE),
            )
        if not isinstance(text, str):
            raise UnitError(
                _("the `{category}` form of a unit must be text, got {value}").format(
                    category=category, value=repr(text)
                )
            )
        unit = Unit.parse(text)
        if unit.is_dimensionless:
            raise UnitError(
                _(
                    "the `{category}` form `{unit}` has no unit name: plural forms are for named "
                    "units, such as `лид`"
                ).format(category=category, unit=unit),
                hint=_("write a plain number or % as text: {example}").format(example="unit: '%'"),
            )
        units[category] = unit
        forms.append((category, str(unit)))
    naming = next((c for c in ("one", "other") if c in units), forms[0][0])
    named = units[naming]
    for category, unit in units.items():
        if _shape(unit) != _shape(named):
            raise UnitError(
                _(
                    "the plural forms `{named}` ({naming}) and `{unit}` ({category}) are "
                    "different kinds of unit"
                ).format(named=named, naming=naming, unit=unit, category=category),
                hint=_("every form is the same unit, inflected: lead/day, leads/day"),
            )
    return Unit(named.factors, text=str(named), forms=tuple(forms))


def _shape(unit: Unit) -> list[Fraction]:
    return sorted(e for _, e in unit.factors)


def _shown_number(shown: str, value: float) -> float | Decimal:
    """The number a reader sees in `shown` (`format_number`'s text), for plural rules."""
    from babel.numbers import NumberFormatError, parse_decimal

    if not math.isfinite(value):
        return 0  # NaN and infinities take the form of zero, the many: "NaN лидов"
    digits = shown.lstrip("+-\u2212")
    try:
        return parse_decimal(digits, locale=i18n.babel_locale())
    except (NumberFormatError, ValueError):
        return abs(value)  # an exponent form (1e+20): the value itself


def _factor_text(name: str, exponent: Fraction) -> str:
    if exponent == 1:
        return name
    if exponent.denominator == 1:
        return f"{name}^{exponent.numerator}"
    return f"{name}^({exponent.numerator}/{exponent.denominator})"


DIMENSIONLESS = Unit()
"""A plain number; written ``1``."""

PERCENT = Unit(percent=True)
"""A fraction shown as a percentage; written ``%``."""


class _Reader:
    """Reads unit text left to right; one instance per call of `Unit.parse`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str, start: int, end: int | None = None) -> UnitError:
        stop = start + 1 if end is None else end
        return UnitError(
            _("cannot read unit `{unit}`: {reason}").format(unit=self.text, reason=what),
            source=self.text,
            span=(start, stop),
            hint=_(_EXPECTED),
        )

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def got(self, start: int) -> str:
        if start >= len(self.text):
            return _("the end of the text")
        word = _NAME.match(self.text, start)
        return f"`{word.group() if word else self.text[start]}`"

    def read(self) -> Unit:
        factors: list[tuple[str, Fraction]] = []
        sign = 1
        after = None  # the operator just read, for messages
        self.skip_spaces()
        while True:
            name, exponent = self.factor(after)
            if name is not None:
                factors.append((name, sign * exponent))
            self.skip_spaces()
            if self.pos == len(self.text):
                break
            start = self.pos
            char = self.text[start]
            if self.text.startswith("per", start) and not _continues_name(self.text, start + 3):
                sign, after, self.pos = -1, "per", start + 3
            elif char == "/":
                sign, after, self.pos = -1, "/", start + 1
            elif char in _TIMES:
                sign, after, self.pos = 1, char, start + 1
            elif char in "()":
                raise self.parenthesis(start)
            else:
                word = _NAME.match(self.text, start)
                raise self.fail(
                    _("expected `*`, `/` or `per` between units, got {token}").format(
                        token=self.got(start)
                    ),
                    start,
                    word.end() if word else None,
                )
            self.skip_spaces()
        percent = self.text.strip() == "%"
        return Unit(factors, percent=percent)

    def parenthesis(self, start: int) -> UnitError:
        return self.fail(
            _(
                "parentheses are not supported in units; "
                "division reads left to right, so write `a/b/c` for a/(b*c)"
            ),
            start,
        )

    def factor(self, after: str | None) -> tuple[str | None, Fraction]:
        """Read one name, `1` or `%`, with its exponent; name None means dimensionless."""
        start = self.pos
        text = self.text
        if start == len(text):
            raise self.fail(self.no_name(after, _("the end of the text")), start)
        char = text[start]
        name: str | None
        if char == "%":
            name, self.pos = None, start + 1
        elif char in "()":
            raise self.parenthesis(start)
        elif number := _NUMBER.match(text, start):
            if number.group() != "1":
                raise self.fail(
                    _(
                        "`{number}` is a number, not a unit: only `1` is allowed, as in "
                        "`1/day`; put the number into the value"
                    ).format(number=number.group()),
                    start,
                    number.end(),
                )
            name, self.pos = None, number.end()
        elif unicodedata.category(char) == "Sc":
            name, self.pos = char, start + 1
        elif (match := _NAME.match(text, start)) and match.group() != "per":
            name, self.pos = match.group(), match.end()
        else:
            got = "`per`" if text.startswith("per", start) else self.got(start)
            raise self.fail(self.no_name(after, got), start)
        return name, self.exponent()

    def no_name(self, after: str | None, got: str) -> str:
        """Say that a unit name was expected (after the operator `after`) but `got` came."""
        if after:
            return _("expected a unit name after `{operator}`, got {token}").format(
                operator=after, token=got
            )
        return _("expected a unit name, got {token}").format(token=got)

    def exponent(self) -> Fraction:
        text = self.text
        start = self.pos
        if superscript := _SUPERSCRIPT.match(text, start):
            self.pos = superscript.end()
            return Fraction(int(superscript.group().translate(_SUPERSCRIPT_DIGITS)))
        self.skip_spaces()
        op_start = self.pos
        if text.startswith("**", op_start):
            self.pos += 2
        elif text.startswith("^", op_start):
            self.pos += 1
        else:
            self.pos = start
            return Fraction(1)
        self.skip_spaces()
        at = self.pos
        if ratio := _EXPONENT_RATIO.match(text, at):
            self.pos = ratio.end()
            if ratio.group(2) is not None and int(ratio.group(2)) == 0:
                raise self.fail(_("an exponent cannot divide by zero"), at, ratio.end())
            return Fraction(int(ratio.group(1).replace("−", "-")), int(ratio.group(2) or 1))
        if number := _EXPONENT_NUMBER.match(text, at):
            self.pos = number.end()
            exponent = Fraction(number.group().replace("−", "-"))
            if exponent.denominator > _MAX_DENOMINATOR:
                raise self.fail(_("the exponent is too fine a fraction"), at, number.end())
            return exponent
        raise self.fail(
            _("expected a number after `{operator}` such as 2, -1 or (1/2), got {token}").format(
                operator=text[op_start:at].strip(), token=self.got(at)
            ),
            at,
        )


def _continues_name(text: str, index: int) -> bool:
    return _CONTINUES_NAME.match(text, index) is not None


def _show(unit: Unit) -> str:
    """A unit for a message: `lead`, `%`, or `1` (a plain number)."""
    if unit == DIMENSIONLESS:
        return _("`1` (a plain number)")
    return f"`{unit}`"


def spelling_hint(first: Unit, second: Unit) -> str | None:
    """A hint when two units differ only because a name is spelt two ways, else None.

    Useful wherever a unit mismatch is reported (a declared unit against a derived one).

    Examples:
        >>> spelling_hint(Unit.parse("lead"), Unit.parse("leads"))
        '`lead` and `leads` differ only by a trailing "s": units are compared as written, ...'
        >>> spelling_hint(Unit.parse("RUB"), Unit.parse("rub/day")) is None
        False
        >>> spelling_hint(Unit.parse("lead"), Unit.parse("call")) is None
        True
    """
    mine = {n for n, _ in first.factors} - {n for n, _ in second.factors}
    theirs = {n for n, _ in second.factors} - {n for n, _ in first.factors}
    for unit, other in ((first, second), (second, first)):
        if other != unit and str(other) in dict(unit.forms).values():
            return _(
                "`{other}` is a plural form of `{unit}`: a unit is named by its `one` form, "
                "so write `{unit}` (or the same plural forms) in both places"
            ).format(other=other, unit=unit)
    for a in sorted(mine):
        for b in sorted(theirs):
            if a + "s" == b or b + "s" == a:
                return _(
                    '`{a}` and `{b}` differ only by a trailing "s": units are compared as '
                    "written, so use one spelling everywhere"
                ).format(a=a, b=b)
            if a.casefold() == b.casefold():
                return _(
                    "`{a}` and `{b}` differ only in upper/lower case: units are compared as "
                    "written, so use one spelling everywhere"
                ).format(a=a, b=b)
    return None


def _mismatch_hint(first: Unit, second: Unit) -> str | None:
    spelling = spelling_hint(first, second)
    if spelling:
        return spelling
    if first.is_dimensionless != second.is_dimensionless:
        counted = second if first.is_dimensionless else first
        return _("to take a share of `{unit}`, multiply it by the rate instead").format(
            unit=counted
        )
    return None


def add(first: Unit, second: Unit, *, op: str = "+") -> Unit:
    """The unit of ``first + second`` (or ``-``, or a comparison given as `op`).

    Both sides must have the same dimension. The result is percent only if both are.

    Args:
        first: the left side's unit.
        second: the right side's unit.
        op: the operator, for the message: ``"+"``, ``"-"``, or any other text.

    Returns:
        The unit of the result.

    Raises:
        UnitError: the sides are in different units.

    Examples:
        >>> add(PERCENT, PERCENT), add(PERCENT, DIMENSIONLESS)
        (Unit('%'), Unit('1'))
        >>> add(Unit.parse("lead"), PERCENT)
        Traceback (most recent call last):
        ...
        kpitree.errors.UnitError: cannot add `lead` and `%`: both sides of + must be in the same...
        hint: to take a share of `lead`, multiply it by the rate instead
    """
    if not first.same_dimension(second):
        a, b = _show(first), _show(second)
        if op == "+":
            what = _("cannot add {a} and {b}: both sides of + must be in the same unit")
        elif op == "-":
            what = _("cannot subtract {b} from {a}: both sides of - must be in the same unit")
        else:
            what = _("cannot combine {a} and {b} with {op}: both sides must be in the same unit")
        raise UnitError(what.format(a=a, b=b, op=op), hint=_mismatch_hint(first, second))
    return Unit(first.factors, percent=first.percent and second.percent)


def multiply(first: Unit, second: Unit) -> Unit:
    """The unit of ``first * second``; the percent flag is dropped.

    Examples:
        >>> multiply(Unit.parse("lead"), PERCENT)
        Unit('lead')
    """
    return first * second


def divide(first: Unit, second: Unit) -> Unit:
    """The unit of ``first / second``; the percent flag is dropped.

    Examples:
        >>> divide(Unit.parse("RUB"), Unit.parse("lead"))
        Unit('RUB/lead')
        >>> divide(Unit.parse("lead"), Unit.parse("lead"))
        Unit('1')
    """
    return first / second


def power(base: Unit, exponent: Exponent | None, *, exponent_unit: Unit = DIMENSIONLESS) -> Unit:
    """The unit of ``base ** exponent``.

    Args:
        base: the base's unit.
        exponent: the exponent when it is a constant number; None when it depends on other
            nodes, which is allowed only for a dimensionless base.
        exponent_unit: the exponent's unit; it must be dimensionless.

    Returns:
        The unit of the result; the percent flag is dropped.

    Raises:
        UnitError: the exponent has a unit, or a base with a unit has a non-constant exponent.

    Examples:
        >>> power(Unit.parse("m^2"), Fraction(1, 2))
        Unit('m')
        >>> power(PERCENT, None)
        Unit('1')
        >>> power(Unit.parse("lead"), None)
        Traceback (most recent call last):
        ...
        kpitree.errors.UnitError: cannot raise `lead` to a power that changes: only a plain...
        hint: divide `lead` by a quantity in the same unit first, to get a ratio
    """
    if not exponent_unit.is_dimensionless:
        raise UnitError(
            _(
                "cannot raise {base} to a power in `{unit}`: "
                "an exponent must be a plain number or %"
            ).format(base=_show(base), unit=exponent_unit)
        )
    if exponent is None:
        if not base.is_dimensionless:
            raise UnitError(
                _(
                    "cannot raise `{base}` to a power that changes: only a plain number or % can be"
                ).format(base=base),
                hint=_ratio_hint(base),
            )
        return DIMENSIONLESS
    return base**exponent


def function(name: str, units: Sequence[Unit]) -> Unit:
    """The unit of ``name(*args)``, by the function's unit rule in `kpitree.language.table`.

    ``"same"`` (``min``/``max``) needs arguments in one unit (percent kept only if all are
    percent); ``"keep"`` (``abs``) keeps the unit; ``"root"`` (``sqrt``) halves the
    exponents; ``"plain"`` (``log``/``exp``) needs a plain number or % and gives a plain number.

    Args:
        name: the function's name.
        units: the arguments' units, in order.

    Returns:
        The unit of the result.

    Raises:
        UnitError: an unknown function, a wrong number of arguments, or units it cannot take.

    Examples:
        >>> function("max", [PERCENT, PERCENT])
        Unit('%')
        >>> function("sqrt", [Unit.parse("m^2")])
        Unit('m')
        >>> function("log", [Unit.parse("RUB")])
        Traceback (most recent call last):
        ...
        kpitree.errors.UnitError: cannot take log of `RUB`: the argument of log must be a plain...
        hint: divide `RUB` by a quantity in the same unit first, to get a ratio
    """
    if name not in FUNCTIONS:
        raise UnitError(
            _("no unit rule for function `{name}`; known: {functions}").format(
                name=name, functions=", ".join(FUNCTIONS)
            ),
            hint=did_you_mean(name, FUNCTIONS),
        )
    rule = FUNCTIONS[name].unit
    if rule == "same":
        if not units:
            raise UnitError(_("{name} needs at least one argument").format(name=name))
        result = units[0]
        for unit in units[1:]:
            if not result.same_dimension(unit):
                raise UnitError(
                    _(
                        "cannot take {name} of {first} and {second}: "
                        "all arguments of {name} must be in the same unit"
                    ).format(name=name, first=_show(result), second=_show(unit)),
                    hint=_mismatch_hint(result, unit),
                )
            result = add(result, unit)
        return result
    if len(units) != 1:
        raise UnitError(
            _("{name} takes one argument, got {count}").format(name=name, count=len(units))
        )
    (unit,) = units
    if rule == "keep":
        return unit
    if rule == "root":
        return unit ** Fraction(1, 2)
    if not unit.is_dimensionless:
        raise UnitError(
            _(
                "cannot take {name} of `{unit}`: the argument of {name} must be a plain number "
                "or % (no unit)"
            ).format(name=name, unit=unit),
            hint=_ratio_hint(unit),
        )
    return DIMENSIONLESS


def _ratio_hint(unit: Unit) -> str:
    return _("divide `{unit}` by a quantity in the same unit first, to get a ratio").format(
        unit=unit
    )


def format_change(change: float, unit: Unit | None) -> str:
    r"""Show a change with its sign and unit: ``+80 lead``, ``−5``; a `%` one in points.

    A change of a percentage is written in percentage points (``+2 pp``, ``+2 п.п.`` under
    ``ru``), never as a bare ``+2%`` that reads as a relative change.

    Examples:
        >>> format_change(80, Unit.parse("lead")), format_change(-5, None)
        ('+80 lead', '−5')
        >>> format_change(0.02, PERCENT), format_change(-0.125, PERCENT)
        ('+2 pp', '−12.5 pp')
        >>> from kpitree.i18n import locale
        >>> with locale("ru"):
        ...     format_change(0.02, PERCENT), format_change(-1500, Unit.parse("руб"))
        ('+2 п.п.', '−1\xa0500 руб')
    """
    sign = "+" if change > 0 else "\u2212" if change < 0 else ""
    size = abs(change)
    if unit is not None and unit.percent:
        return sign + _("{points} pp").format(points=format_number(size * 100))
    return sign + format_quantity(size, unit)


def format_quantity(value: float, unit: Unit | None) -> str:
    """Show a value with its unit: ``1,000 lead``, ``80%``, ``12 call/day``.

    A dimensionless unit, or None, gives the plain number.

    Examples:
        >>> format_quantity(1000, Unit.parse("lead"))
        '1,000 lead'
        >>> format_quantity(0.8, PERCENT)
        '80%'
        >>> format_quantity(12.0, Unit.parse("call/day")), format_quantity(2.5, None)
        ('12 call/day', '2.5')
        >>> leads = Unit.parse({"one": "лид", "few": "лида", "many": "лидов"})
        >>> [format_quantity(n, leads) for n in (1, 2, 800, 21)]
        ['1 лид', '2 лида', '800 лидов', '21 лид']
    """
    if unit is None or unit.is_dimensionless:
        return format_number(value, percent=unit is not None and unit.percent)
    shown = format_number(value)
    written = unit.form(_shown_number(shown, value)) if unit.forms else str(unit)
    return f"{shown} {written}"

"""Turning user-given values into floats, and floats into text people read.

`to_number` is the one place a value from a user or a file becomes a float: a finite
number, a percentage such as ``"80%"``, or a number written as text (YAML 1.1 reads
``1e3`` as a string). It never evaluates text, and refuses bools, NaN and infinities.
`format_number` is the one way numbers are shown in text output.
"""

from __future__ import annotations

import decimal
import math
import numbers
import re

from kpitree import i18n
from kpitree.errors import ValueTypeError, quoted

__all__ = ["EXACT", "MAX_NUMBER_TEXT", "SIGNIFICANT", "decimal_sign", "format_number", "to_number"]

MAX_NUMBER_TEXT = 100
"""Longest text `to_number` reads; anything longer is refused before parsing."""

_EXPECTED = 'a finite number such as 1200, 0.8 or "80%"'

# Spaces people put between groups of thousands: plain, no-break, narrow no-break, thin.
_SPACES = " \u00a0\u202f\u2009"
_NUMBER = re.compile(
    rf"""
    (?P<sign>[+-]?)
    (?P<mantissa>
        (?: \d{{1,3}}(?:[{_SPACES}]\d{{3}})+   # 1 000 000: spaces between groups of three
          | \d+(?:_\d+)*                     # 1000 or 1_000, as Python writes it
        )
        (?:\.\d*)?
      | \.\d+
    )
    (?P<exponent>[eE][+-]?\d+)?
    (?:[{_SPACES}]?(?P<percent>%))?
    """,
    re.VERBOSE,
)
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+\s*%?")
_NOT_FINITE = {"nan", "inf", "infinity", ".inf", ".nan"}  # .inf/.nan: YAML's spellings
_MINUS_SIGNS = {
    "\u2212": "-",
    "\u2013": "-",
}  # typographic minus and en dash, as Excel and Word write


def to_number(value: object, *, what: str) -> float:
    """Convert a user-given value to a finite float, or raise `ValueTypeError`.

    Accepts ints, floats and other real-number types (numpy scalars, `Decimal`, `Fraction`)
    and text: ``"1200"``, ``"-5"``, ``"1e3"``, ``"1_000"``, ``"1 000"`` (spaces between
    groups of three digits), ``"80%"`` (read as 0.8), ``"12.5 %"``. Refuses bools, NaN,
    infinities, complex numbers, bytes, and — under a locale whose decimal sign is the dot,
    such as the default ``"en"`` — a decimal comma (``"0,8"``: the hint says to write
    ``0.8``), since ``"1,000"`` would be a thousand to some readers and one to others. Under
    ``"ru"`` the comma is the decimal sign: ``"0,8"`` is 0.8 and ``"1 000,5"`` is 1000.5.

    Args:
        value: the value as the user or the file gave it.
        what: a noun phrase naming the value in error messages, e.g. ``"value of `leads`"``.

    Returns:
        The value as a finite float.

    Raises:
        ValueTypeError: the value is not a finite number or text of one.

    Examples:
        >>> to_number("80%", what="value of `rate`")
        0.8
        >>> to_number("1 000", what="value of `leads`")
        1000.0
        >>> to_number("0,8", what="value of `rate`")
        Traceback (most recent call last):
        ...
        kpitree.errors.ValueTypeError: value of `rate`: ... got '0,8' (a decimal comma)
        hint: write 0.8
        >>> with i18n.locale("ru"):
        ...     to_number("0,8", what="value of `rate`"), to_number("1 000,5", what="x")
        (0.8, 1000.5)
    """
    # The common cases first, fast: a finite float, an int that a float holds exactly.
    kind = type(value)
    if kind is float:
        if value - value == 0.0:  # type: ignore[operator]
            return value  # type: ignore[return-value]
    elif kind is int and -(2**53) <= value <= 2**53:  # type: ignore[operator]
        return float(value)  # type: ignore[arg-type]
    if isinstance(value, str):
        return _parse_text(value, what=what)
    if isinstance(value, bool) or _is_numpy_bool(value):
        raise _error(what, value, note="a bool")
    if isinstance(value, bytes | bytearray | complex) or (
        isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real)
    ):
        raise _error(what, value)
    if isinstance(value, numbers.Real) or hasattr(value, "__float__"):
        try:
            number = float(value)
        except OverflowError:
            raise _error(what, value, note="beyond the float range") from None
        except (TypeError, ValueError, ArithmeticError):
            raise _error(what, value) from None
        if not math.isfinite(number):
            raise _error(what, value, note="not finite")
        return number
    raise _error(what, value)


def _is_numpy_bool(value: object) -> bool:
    dtype = getattr(value, "dtype", None)
    return getattr(dtype, "kind", None) == "b"


_PARSED: dict[tuple[str, str], float] = {}
"""Texts read before, with the decimal sign they were read under: a what-if or a goal
typed as "+10%" in a loop reads its number once. Bounded; only successful reads."""

_MAX_PARSED = 4096


def _parse_text(text: str, *, what: str) -> float:
    key = (text, decimal_sign() if "," in text else ".")
    found = _PARSED.get(key)
    if found is not None:
        return found
    number = _read_text(text, what=what)
    if len(_PARSED) < _MAX_PARSED:
        _PARSED[key] = number
    return number


def _read_text(text: str, *, what: str) -> float:
    if len(text) > MAX_NUMBER_TEXT:
        raise _error(what, text, note=f"longer than {MAX_NUMBER_TEXT} characters")
    cleaned = text.strip()
    for typographic, ascii_minus in _MINUS_SIGNS.items():
        cleaned = cleaned.replace(typographic, ascii_minus)  # −5 and 1e−5, as printed
    if "," in cleaned and "." not in cleaned and decimal_sign() == ",":
        cleaned = cleaned.replace(",", ".")  # 0,8 and 1 000,5 as the locale writes them
    match = _NUMBER.fullmatch(cleaned)
    if match is None:
        if _DECIMAL_COMMA.fullmatch(cleaned):
            fixed = cleaned.replace(",", ".")
            hint = f"write {fixed}"
            if re.fullmatch(r"[+-]?\d{1,3},\d{3}", cleaned):
                hint += f", or {cleaned.replace(',', '')} if the comma separates thousands"
            raise _error(what, text, note="a decimal comma", hint=hint)
        if cleaned.lower().lstrip("+-") in _NOT_FINITE:
            raise _error(what, text, note="not finite")
        raise _error(what, text)
    digits = match["sign"] + re.sub(rf"[_{_SPACES}]", "", match["mantissa"])
    digits += match["exponent"] or ""
    if match["percent"]:
        # Exact decimal arithmetic, so "0.7%" is 0.007 and not 0.006999999999999999.
        with decimal.localcontext() as context:
            context.Emax = decimal.MAX_EMAX
            context.Emin = decimal.MIN_EMIN
            context.prec = 60
            context.traps[decimal.Overflow] = False
            number = float(decimal.Decimal(digits).scaleb(-2))
    else:
        number = float(digits)
    if not math.isfinite(number):
        raise _error(what, text, note="beyond the float range")
    return number


def decimal_sign() -> str:
    """Return the decimal sign of the active locale (CLDR): `.` in English, `,` in Russian."""
    # English, the default, needs no lookup.
    active = i18n.current()
    return "." if active == "en" else i18n.babel_locale(active).number_symbols["latn"]["decimal"]


def _error(
    what: str, got: object, *, note: str | None = None, hint: str | None = None
) -> ValueTypeError:
    shown = quoted(got, text_as_repr=True)
    detail = f" ({note})" if note else ""
    return ValueTypeError(f"{what}: expected {_EXPECTED}, got {shown}{detail}", hint=hint)


SIGNIFICANT = 3
"""Significant digits of a computed value that text output shows (``1.89``, ``0.0533``)."""

EXACT = 6
"""A value written with at most this many significant digits (``0.8``, ``1234.5``) is shown
exactly: it is most likely a value someone typed, and rounding it would misquote them."""


def format_number(x: float, *, percent: bool = False, signed: bool = False) -> str:
    r"""Format a number for people, with digits that fit its magnitude.

    One policy for every surface: a whole number, or a value whose decimal form (to 12
    significant digits) has at most `EXACT` of them, is shown exactly; any other value is rounded to
    `SIGNIFICANT` significant digits, but never inside its whole part (``1,061`` for
    1060.66017, not ``1,060``; ``1.89`` for 1.886667; ``0.0533`` for 0.05330021), keeping
    the zeros it rounds to (``80.0%`` for 0.8002931, so it does not read as exactly 80%).
    Numbers from 1e15 up, or below 1e-6 (except zero), are written with an exponent. With
    ``percent=True`` the number is a fraction shown as a percentage, and the policy applies
    to the percentage (``6.07%`` for 0.060660172).

    Args:
        x: the number.
        percent: show ``x`` (a fraction such as 0.8) as a percentage (``80%``).
        signed: write ``+`` before a positive number, however small (``+0.0286%``), as
            changes are shown; a negative one always has its minus.

    Returns:
        The text.

    Examples:
        >>> format_number(1000), format_number(800.0), format_number(1234567)
        ('1,000', '800', '1,234,567')
        >>> format_number(0.8, percent=True), format_number(0.81234, percent=True)
        ('80%', '81.234%')
        >>> format_number(1060.660172), format_number(1234567.891), format_number(2 / 3)
        ('1,061', '1,234,568', '0.667')
        >>> format_number(0.060660172, percent=True), format_number(0.8002931, percent=True)
        ('6.07%', '80.0%')
        >>> format_number(0.1 + 0.2), format_number(1200.5 * 0.8)
        ('0.3', '960.4')
        >>> format_number(0.05, percent=True, signed=True), format_number(-2, signed=True)
        ('+5%', '−2')
        >>> format_number(0.00123), format_number(-1500), format_number(-0.0)
        ('0.00123', '−1,500', '0')
        >>> format_number(1e15), format_number(-1 / 3 * 1e-7)
        ('1e+15', '−3.33e-08')
        >>> format_number(float("nan")), format_number(float("-inf"))
        ('NaN', '−inf')

        Under another locale its CLDR symbols write the same digits:

        >>> with i18n.locale("ru"):
        ...     format_number(-1234567.891), format_number(0.81234, percent=True)
        ('−1\xa0234\xa0568', '81,234\xa0%')
    """
    value = float(x)
    text = _format(value, percent)
    return "+" + text if signed and value > 0 else text


def _format(value: float, percent: bool) -> str:
    suffix = "%" if percent else ""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return ("inf" if value > 0 else "\u2212inf") + suffix
    digits = _digits(value, percent=percent) if value else decimal.Decimal(0)
    if not math.isfinite(digits):  # a percentage of a huge fraction overflows only as text
        return ("inf" if value > 0 else "\u2212inf") + suffix
    magnitude = abs(digits)
    exponent = magnitude >= 1e15 or 0 < magnitude < decimal.Decimal("1e-6")
    if i18n.current() != "en":
        return _localised(digits, percent=percent, exponent=exponent)
    # A true minus sign in every locale: a hyphen reads as a dash in prose, and changes
    # (format_change) write it too, so a table never mixes the two.
    if exponent:
        return _signed(_exponent(digits)) + suffix
    return _signed(f"{digits:,f}") + suffix


def _signed(text: str) -> str:
    return "\u2212" + text[1:] if text.startswith("-") else text


def _digits(value: float, *, percent: bool) -> decimal.Decimal:
    if not percent and value.is_integer() and abs(value) < 1e15:
        return decimal.Decimal(int(value))  # a count: every digit, 123,456,789,012,345
    # The digits the user typed, without the noise of arithmetic on them: 1200.5 * 0.8 is
    # 960.4000000000001, and a difference (820.0000000000001 - 800) loses a few more digits
    # to cancellation, so 12 of a float's 15 reliable digits are taken as the value.
    exact = decimal.Decimal(f"{value:.12g}")
    if percent:
        exact = exact.scaleb(2)
    exact = exact.normalize()
    if exact == exact.to_integral_value() or len(exact.as_tuple().digits) <= EXACT:
        return exact
    places = max(0, SIGNIFICANT - (exact.adjusted() + 1))  # whole digits are never rounded
    # Zeros kept: 80.0% is a rounded 80.0293%, where 80% would claim to be exact.
    return exact.quantize(decimal.Decimal(1).scaleb(-places), decimal.ROUND_HALF_UP)


def _exponent(digits: decimal.Decimal) -> str:
    # 1e+15 and 3.33e-08, as Python writes floats, from the digits already chosen.
    count = len(digits.as_tuple().digits)
    significant = min(count, EXACT if count <= EXACT else SIGNIFICANT)
    return f"{float(digits):.{significant}g}"


def _localised(digits: decimal.Decimal, *, percent: bool, exponent: bool) -> str:
    # The digits are decided; the locale's CLDR symbols and pattern write them (1 060,66 and
    # 80 % under "ru"), with a true minus sign, since a hyphen reads as a dash in prose.
    from babel.numbers import format_decimal

    where = i18n.babel_locale()
    symbols = where.number_symbols["latn"]
    if exponent:
        text = _signed(_exponent(digits).replace(".", symbols["decimal"]))
    else:
        text = format_decimal(digits, locale=where, decimal_quantization=False)
        text = text.replace(symbols["minusSign"], "\u2212")
    if percent:
        pattern = where.percent_formats[None].pattern  # "#,##0 %": the sign and its spacing
        text = pattern.replace("#,##0", text, 1)
    return text

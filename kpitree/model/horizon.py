"""Influence horizons: how fast a KPI's owner can move it.

A `Horizon` is a duration in seconds (0 means online, real time) read from text in
English or Russian: ``"15 min"``, ``"1 day"``, ``"one day"``, ``"2 дня"``, ``"неделя"``,
``"онлайн"``, ``"полдня"``. Horizons compare by duration only, so
``"1 day" == "one day" == "1 день"``; each keeps its text as written (``str`` gives
``"1 день"`` back, and so does a model file written from it), `canonical` the English form.

The accepted words are the tables below (`UNIT_SECONDS`, `NUMBER_WORDS`, `PHRASES`), so
the docs can list them. The rules:

- text is case-insensitive, extra whitespace is ignored, ``ё`` reads as ``е``;
- a number and a unit word (``"2 days"``, ``"2days"``, ``"2d"``, ``"1д"``), or a unit word
  alone (``"day"`` is one day), or a whole phrase from `PHRASES` (``"daily"``, ``"online"``);
  an abbreviation may end in a dot (``"2 нед."``, ``"3 мес."``, ``"2 hrs."``);
- half a unit: ``"пол"`` and the unit (``"полдня"``, ``"пол часа"``, ``"полгода"``), or
  ``"half a day"``, ``"half an hour"``;
- the number is a whole or decimal number (``"1.5 hours"``; a decimal comma is accepted here,
  ``"0,5 часа"``, since a horizon has no thousands) or a number word (``"one"``, ``"a"``,
  ``"два"``); it must be positive: zero is written ``"online"``;
- a misspelt word gets a did-you-mean with a whole word (``"пол дя"`` → ``полдня``);
- grammatical agreement is not checked (``"5 день"`` is five days);
- a minute is 60 s, a day 86 400 s, a week 7 days, a month 30 days, a quarter 90 days,
  a year 365 days; durations are kept to the microsecond.
"""

from __future__ import annotations

import math
import re
from types import MappingProxyType
from typing import Final

import attrs

from kpitree.errors import HorizonError, did_you_mean, quoted
from kpitree.i18n import N_, _

__all__ = ["MAX_HORIZON_TEXT", "NUMBER_WORDS", "ONLINE", "PHRASES", "UNIT_SECONDS", "Horizon"]

_SECOND: Final = 1
_MINUTE: Final = 60
_HOUR: Final = 3600
_DAY: Final = 86_400
_WEEK: Final = 7 * _DAY
_MONTH: Final = 30 * _DAY
_QUARTER: Final = 90 * _DAY
_YEAR: Final = 365 * _DAY

_UNIT_WORDS: dict[int, tuple[str, ...]] = {
    _SECOND: (
        "s", "sec", "secs", "second", "seconds",
        "с", "сек", "секунда", "секунды", "секунд", "секунду",
    ),
    _MINUTE: (
        "min", "mins", "minute", "minutes",
        "мин", "минута", "минуты", "минут", "минуту",
    ),
    _HOUR: (
        "h", "hr", "hrs", "hour", "hours",
        "ч", "час", "часа", "часов",
    ),
    _DAY: (
        "d", "day", "days",
        "д", "дн", "день", "дня", "дней", "сутки", "суток", "сут",
    ),
    _WEEK: (
        "w", "wk", "wks", "week", "weeks",
        "нед", "неделя", "недели", "недель", "неделю",
    ),
    _MONTH: (
        "mo", "mos", "month", "months",
        "мес", "месяц", "месяца", "месяцев",
    ),
    _QUARTER: (
        "q", "qtr", "qtrs", "quarter", "quarters",
        "кв", "квартал", "квартала", "кварталов",
    ),
    _YEAR: (
        "y", "yr", "yrs", "year", "years",
        "г", "год", "года", "лет",
    ),
}  # fmt: skip

UNIT_SECONDS: Final = MappingProxyType(
    {word: seconds for seconds, words in _UNIT_WORDS.items() for word in words}
)
"""Unit words (English and Russian, lower case) → seconds in one unit."""

NUMBER_WORDS: Final = MappingProxyType(
    {
        "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
        "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
        "один": 1, "одна": 1, "одну": 1, "одни": 1, "два": 2, "две": 2, "двое": 2,
        "три": 3, "трое": 3, "четыре": 4, "пять": 5, "шесть": 6, "семь": 7, "восемь": 8,
        "девять": 9, "десять": 10,
    }
)  # fmt: skip
"""Number words → numbers: English one to twelve, ``a``/``an``, Russian один to десять."""

PHRASES: Final = MappingProxyType(
    {
        "online": 0, "real-time": 0, "realtime": 0, "real time": 0, "instant": 0,
        "онлайн": 0, "в реальном времени": 0, "реальное время": 0,
        "half an hour": 30 * _MINUTE, "полчаса": 30 * _MINUTE,
        "hourly": _HOUR, "daily": _DAY, "weekly": _WEEK, "monthly": _MONTH,
        "quarterly": _QUARTER, "yearly": _YEAR, "annually": _YEAR,
        "ежечасно": _HOUR, "ежедневно": _DAY, "еженедельно": _WEEK, "ежемесячно": _MONTH,
        "ежеквартально": _QUARTER, "ежегодно": _YEAR,
    }
)  # fmt: skip
"""Whole texts that are a horizon by themselves → seconds (0 is online)."""

MAX_HORIZON_TEXT: Final = 100
"""Longest horizon text read; anything longer is refused before parsing."""

_EXPECTED: Final = N_(  # translated where shown
    'expected a duration like "15 min", "1 hour", "1 day", "2 days", "1 week", "1 month", '
    '"1 quarter", "online" (or Russian: "1 день", "неделя", "онлайн")'
)

# Canonical text: the largest unit that divides the duration, largest first.
_CANONICAL: Final = (
    (_YEAR, "year", "years"),
    (_QUARTER, "quarter", "quarters"),
    (_MONTH, "month", "months"),
    (_WEEK, "week", "weeks"),
    (_DAY, "day", "days"),
    (_HOUR, "hour", "hours"),
    (_MINUTE, "min", "min"),
    (_SECOND, "sec", "sec"),
)

_NUMBER_UNIT = re.compile(
    r"(?:(?P<number>[+-]?(?:\d+(?:[.,]\d+)?|[.,]\d+)(?:e[+-]?\d+)?)\s*|(?P<word>[^\W\d_]+)\s+)?"
    r"(?P<unit>[^\W\d_]+)\.?"  # an abbreviation may end in a dot: "2 нед."
)

_BARE_NUMBER = re.compile(r"[+-]?[\d.,]+")
# Half a unit: "полдня", "пол часа", "пол-года"; "half a day", "half an hour".
_HALF = re.compile(r"(?:пол[\s-]?|half\s+(?:an?\s+)?)(?P<unit>[^\W\d_]+)")
# Whole half-unit words, for a did-you-mean: a misspelt "пол дя" is "пол дня", never "дня"
# alone, which would be a fragment of what was meant.
_HALF_WORDS: Final = (
    "полминуты", "полчаса", "полдня", "полсуток", "полнедели", "полмесяца", "полквартала",
    "полгода", "half a minute", "half an hour", "half a day", "half a week", "half a month",
    "half a quarter", "half a year",
)  # fmt: skip
_AMBIGUOUS: Final = {  # hints, translated where shown
    "m": N_('"m" could be minutes or months: write "min" or "month"'),
    "м": N_('"м" could be minutes or months: write "мин" or "мес"'),
}


def _seconds(value: float) -> float:
    if isinstance(value, str | bool) or not isinstance(value, int | float):
        raise HorizonError(
            _("a horizon is a number of seconds, got {value}").format(value=quoted(value)),
            hint=_("use Horizon.parse() to read text such as '1 day'"),
        )
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise HorizonError(
            _("a horizon is a duration of zero or more seconds, got {value}").format(
                value=repr(value)
            )
        )
    return round(seconds, 6)


def _canonical(seconds: float) -> str:
    if seconds == 0:
        return "online"
    if seconds.is_integer():
        whole = int(seconds)
        for unit, one, many in _CANONICAL:
            if whole % unit == 0:
                count = whole // unit
                return f"{count} {one if count == 1 else many}"
    return f"{seconds!r} sec"


@attrs.frozen(order=True, repr=False)
class Horizon:
    """How fast a KPI's owner can move it: a duration, 0 for online (real time).

    Equality, hashing and ordering use `seconds` only; `text` is what `str` gives and
    `parse` reads back: the text as written when parsed, else the canonical English form.

    Attributes:
        seconds: the duration in seconds (0 is online), rounded to the microsecond.
        text: the text as written (``"1 месяц"``), or the canonical text (``"1 month"``)
            derived from `seconds` if not given.

    Examples:
        >>> Horizon.parse("1 день") == Horizon.parse("one day")
        True
        >>> Horizon.parse("2 дня") < Horizon.parse("1 week")
        True
        >>> str(Horizon(1800)), str(Horizon.parse("1 месяц")), Horizon.parse("1 месяц").canonical
        ('30 min', '1 месяц', '1 month')
    """

    seconds: float = attrs.field(converter=_seconds)
    text: str = attrs.field(eq=False, order=False)

    @text.default
    def _text_default(self) -> str:
        return _canonical(self.seconds)

    @classmethod
    def parse(cls, value: str | Horizon) -> Horizon:
        """Read a horizon from text in English or Russian; a `Horizon` passes through.

        Args:
            value: text such as ``"15 min"``, ``"2 days"``, ``"неделя"``, ``"online"``.

        Returns:
            The horizon, with its canonical text.

        Raises:
            HorizonError: the text is not one of the accepted forms, or not positive.

        Examples:
            >>> Horizon.parse("2  Days")
            Horizon('2 Days')
            >>> Horizon.parse("полдня").canonical, Horizon.parse("2 нед.").canonical
            ('12 hours', '2 weeks')
            >>> Horizon.parse("1 dya")
            Traceback (most recent call last):
            ...
            kpitree.errors.HorizonError: cannot read horizon "1 dya": expected a duration like ...
            hint: did you mean `day`?
        """
        if isinstance(value, Horizon):
            return value
        if not isinstance(value, str):
            raise HorizonError(
                _("a horizon must be text, got {value}: {expected}").format(
                    value=quoted(value), expected=_(_EXPECTED)
                )
            )
        if len(value) > MAX_HORIZON_TEXT:
            raise HorizonError(
                _("cannot read horizon {value}: longer than {limit} characters").format(
                    value=quoted(value), limit=MAX_HORIZON_TEXT
                )
            )
        written = " ".join(value.split())
        return cls(_parse_seconds(value, written.lower().replace("ё", "е")), written)

    @property
    def canonical(self) -> str:
        """The canonical English text: the largest unit that divides it (``"2 weeks"``)."""
        return _canonical(self.seconds)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Horizon({self.text!r})"


def _parse_seconds(value: str, text: str) -> float:
    """Seconds of horizon `text` (lower case, single spaces); `value` as given, for errors."""
    if text in PHRASES:
        return PHRASES[text]
    half = _HALF.fullmatch(text)
    if half:
        if half["unit"].rstrip(".") in UNIT_SECONDS:
            return UNIT_SECONDS[half["unit"].rstrip(".")] / 2
        # Compare the whole word: the unit alone would suggest a fragment ("дня").
        joined = re.sub(r"^пол[\s-]", "пол", text)
        suggestion = did_you_mean(joined, [*_HALF_WORDS, *PHRASES])
        if suggestion:
            raise _bad(value, hint=suggestion)
    match = _NUMBER_UNIT.fullmatch(text)
    if match is None:
        if _BARE_NUMBER.fullmatch(text):
            raise _bad(
                value, hint=_('add a unit: "{number} days", "{number} min"').format(number=text)
            )
        raise _bad(value, hint=did_you_mean(text, PHRASES) if text else None)
    unit = match["unit"]
    if unit in _AMBIGUOUS:
        raise _bad(value, hint=_(_AMBIGUOUS[unit]))
    if unit not in UNIT_SECONDS:
        bare = match["number"] is None and match["word"] is None
        candidates = [*UNIT_SECONDS, *PHRASES] if bare else UNIT_SECONDS
        raise _bad(value, hint=did_you_mean(unit, candidates))
    number = _number(match["number"], match["word"], value)
    if number <= 0:
        raise HorizonError(
            _("cannot read horizon {value}: the duration must be positive").format(
                value=quoted(value)
            ),
            hint=_('write "online" for real time'),
        )
    seconds = number * UNIT_SECONDS[unit]
    if not math.isfinite(seconds):
        raise HorizonError(
            _("cannot read horizon {value}: the duration is too long").format(value=quoted(value))
        )
    return seconds


def _number(digits: str | None, word: str | None, original: str) -> float:
    if digits is not None:
        return float(digits.replace(",", "."))
    if word is None:
        return 1.0
    if word in NUMBER_WORDS:
        return float(NUMBER_WORDS[word])
    raise _bad(original, hint=did_you_mean(word, NUMBER_WORDS))


def _bad(value: str, *, hint: str | None) -> HorizonError:
    return HorizonError(
        _("cannot read horizon {value}: {expected}").format(
            value=quoted(value), expected=_(_EXPECTED)
        ),
        hint=hint,
    )


ONLINE: Final = Horizon(0, "online")
"""The horizon of a KPI its owner moves in real time."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpitree.errors import HorizonError, KPITreeError
from kpitree.model.horizon import NUMBER_WORDS, ONLINE, PHRASES, UNIT_SECONDS, Horizon

MIN = 60
HOUR = 3600
DAY = 86_400
WEEK = 7 * DAY
MONTH = 30 * DAY
QUARTER = 90 * DAY
YEAR = 365 * DAY


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        # English
        ("15 min", 15 * MIN),
        ("15 mins", 15 * MIN),
        ("15 minutes", 15 * MIN),
        ("1 minute", MIN),
        ("15min", 15 * MIN),
        ("30 sec", 30),
        ("1 hour", HOUR),
        ("2 hours", 2 * HOUR),
        ("1 h", HOUR),
        ("1 hr", HOUR),
        ("1.5 hours", 90 * MIN),
        ("1 day", DAY),
        ("2 days", 2 * DAY),
        ("1d", DAY),
        ("day", DAY),
        ("1 week", WEEK),
        ("2 weeks", 2 * WEEK),
        ("1 month", MONTH),
        ("3 months", 3 * MONTH),
        ("1 quarter", QUARTER),
        ("1 year", YEAR),
        ("one day", DAY),
        ("twelve months", 12 * MONTH),
        ("a week", WEEK),
        ("an hour", HOUR),
        ("half an hour", 30 * MIN),
        ("daily", DAY),
        ("weekly", WEEK),
        ("monthly", MONTH),
        ("quarterly", QUARTER),
        ("real-time", 0),
        ("realtime", 0),
        ("real time", 0),
        ("online", 0),
        ("instant", 0),
        # case and whitespace
        ("  2   DAYS ", 2 * DAY),
        ("One Day", DAY),
        ("Real  Time", 0),
        # Russian
        ("1 день", DAY),
        ("2 дня", 2 * DAY),
        ("5 дней", 5 * DAY),
        ("сутки", DAY),
        ("двое суток", 2 * DAY),
        ("1 неделя", WEEK),
        ("2 недели", 2 * WEEK),
        ("неделя", WEEK),
        ("одну неделю", WEEK),
        ("15 минут", 15 * MIN),
        ("1 минута", MIN),
        ("2 минуты", 2 * MIN),
        ("мин", MIN),
        ("1 час", HOUR),
        ("2 часа", 2 * HOUR),
        ("5 часов", 5 * HOUR),
        ("0,5 часа", 30 * MIN),
        ("полчаса", 30 * MIN),
        ("месяц", MONTH),
        ("2 месяца", 2 * MONTH),
        ("6 месяцев", 6 * MONTH),
        ("квартал", QUARTER),
        ("год", YEAR),
        ("онлайн", 0),
        ("в реальном времени", 0),
        ("реальное время", 0),
        ("ежедневно", DAY),
        ("еженедельно", WEEK),
        ("ежемесячно", MONTH),
        ("один день", DAY),
        ("одна неделя", WEEK),
        ("два дня", 2 * DAY),
        ("две недели", 2 * WEEK),
        ("три месяца", 3 * MONTH),
        ("четыре часа", 4 * HOUR),
        ("пять минут", 5 * MIN),
        ("десять дней", 10 * DAY),
        ("ЕЖЕДНЕВНО", DAY),
        ("ёжедневно", DAY),
    ],
)
def test_accepted_forms(text: str, seconds: float) -> None:
    """Every accepted English and Russian form parses to the expected duration."""
    assert Horizon.parse(text).seconds == seconds


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("online", "online"),
        ("15 минут", "15 min"),
        ("1 минута", "1 min"),
        ("an hour", "1 hour"),
        ("2 часа", "2 hours"),
        ("сутки", "1 day"),
        ("2 дня", "2 days"),
        ("7 days", "1 week"),
        ("30 days", "1 month"),
        ("ежеквартально", "1 quarter"),
        ("365 days", "1 year"),
        ("2 years", "2 years"),
        ("1.5 hours", "90 min"),
        ("90 sec", "90 sec"),
        ("0.5 sec", "0.5 sec"),
    ],
)
def test_canonical_text(text: str, canonical: str) -> None:
    """`canonical` is the English form with the largest unit that divides the duration."""
    horizon = Horizon.parse(text)
    assert horizon.canonical == canonical
    assert str(Horizon(horizon.seconds)) == canonical


@pytest.mark.parametrize(
    "text", ["1 месяц", "онлайн", "2 Days", "15 минут", "полдня", "ежедневно", "2 нед."]
)
def test_a_horizon_keeps_its_text_as_written(text: str) -> None:
    """`1 месяц` prints as `1 месяц`, not `1 month`; equality still compares durations."""
    horizon = Horizon.parse(text)
    assert str(horizon) == text
    assert repr(horizon) == f"Horizon({text!r})"
    assert Horizon.parse(str(horizon)) == horizon == Horizon(horizon.seconds)


def test_extra_spaces_are_not_part_of_the_text() -> None:
    """Whitespace is collapsed in the kept text: `"  1   день "` is written `1 день`."""
    assert str(Horizon.parse("  1   день ")) == "1 день"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("полдня", DAY / 2),
        ("пол дня", DAY / 2),
        ("пол-дня", DAY / 2),
        ("полчаса", 30 * MIN),
        ("пол часа", 30 * MIN),
        ("полгода", YEAR / 2),
        ("полнедели", WEEK / 2),
        ("полмесяца", MONTH / 2),
        ("half a day", DAY / 2),
        ("half an hour", 30 * MIN),
        ("1д", DAY),
        ("3 д", 3 * DAY),
        ("2 нед.", 2 * WEEK),
        ("3 мес.", 3 * MONTH),
        ("2 ч.", 2 * HOUR),
        ("1 дн.", DAY),
        ("5 мин.", 5 * MIN),
        ("1 г.", YEAR),
        ("2 hrs.", 2 * HOUR),
        ("1 сут.", DAY),
        ("ежедневно", DAY),
        ("еженедельно", WEEK),
        ("ежемесячно", MONTH),
        ("полсуток", DAY / 2),
        ("полдн", DAY / 2),
    ],
)
def test_common_russian_and_abbreviated_forms(text: str, seconds: float) -> None:
    """Half units (`полдня`), one-letter units (`1д`) and abbreviations with a dot read."""
    assert Horizon.parse(text).seconds == seconds


@pytest.mark.parametrize("text", ["пол", "полдняя", "half", "2 нед..", "пол 2 дня"])
def test_near_misses_of_the_new_forms_are_refused(text: str) -> None:
    """What only resembles a half unit or an abbreviation is still a HorizonError."""
    with pytest.raises(HorizonError):
        Horizon.parse(text)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("1 dya", ['"1 dya"', 'expected a duration like "15 min"', "did you mean `day`?"]),
        ("2 weks", ["did you mean `weeks`?"]),
        ("dayly", ["did you mean `daily`?"]),
        ("onlien", ["did you mean `online`?"]),
        ("1 недля", ["did you mean `неделя`?"]),
        ("tow days", ["did you mean `two`?"]),
        ("1 m", ["minutes or months"]),
        ("15", ['add a unit: "15 days"']),
        ("0 days", ["must be positive", 'write "online"']),
        ("-1 day", ["must be positive"]),
        ("", ["expected a duration like"]),
        ("   ", ["expected a duration like"]),
        ("soon", ['"soon"', 'or Russian: "1 день", "неделя", "онлайн"']),
        ("1 day 2 hours", ["expected a duration like"]),
        ("1e400 days", ["too long"]),
        ("x" * 101, ["longer than 100 characters"]),
    ],
)
def test_refused_text(text: str, words: list[str]) -> None:
    """Bad horizon text raises HorizonError quoting the text, listing the forms and hinting."""
    with pytest.raises(HorizonError) as info:
        Horizon.parse(text)
    for word in words:
        assert word in str(info.value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, KPITreeError)


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("пол дя", "полдня"),
        ("полдяя", "полдня"),
        ("полнеде", "полнедели"),
        ("полгда", "полгода"),
        ("полмесца", "полмесяца"),
        ("half a dya", "half a day"),
    ],
)
def test_a_misspelt_half_unit_suggests_the_whole_word(text: str, suggestion: str) -> None:
    """`пол дя` suggests `полдня`, never the fragment `дня` or an unrelated `полчаса`."""
    with pytest.raises(HorizonError) as info:
        Horizon.parse(text)
    assert info.value.hint == f"did you mean `{suggestion}`?"


@pytest.mark.parametrize("value", [5, 86400.0, None, b"1 day"])
def test_non_text_refused(value: object) -> None:
    """A horizon given as something other than text or a Horizon is a HorizonError."""
    with pytest.raises(HorizonError, match="must be text"):
        Horizon.parse(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("seconds", [-1.0, math.nan, math.inf])
def test_bad_seconds_refused(seconds: float) -> None:
    """A horizon built from negative or non-finite seconds is a HorizonError."""
    with pytest.raises(HorizonError, match="zero or more seconds"):
        Horizon(seconds)


@pytest.mark.parametrize("value", ["1 day", True, None])
def test_constructor_wants_seconds(value: object) -> None:
    """Horizon() takes a number of seconds; text points to Horizon.parse."""
    with pytest.raises(HorizonError, match="number of seconds"):
        Horizon(value)  # type: ignore[arg-type]


def test_equality_ignores_the_spelling() -> None:
    """Horizons are equal and hash alike when their durations are, whatever the text."""
    forms = ["1 day", "one day", "1 день", "сутки", "daily", "24 hours", "1d"]
    horizons = [Horizon.parse(text) for text in forms]
    assert all(h == horizons[0] for h in horizons)
    assert len(set(horizons)) == 1
    assert Horizon(DAY, "whatever") == Horizon(DAY)


def test_ordering() -> None:
    """Horizons order by duration with all four comparisons."""
    day, week = Horizon.parse("1 day"), Horizon.parse("1 week")
    assert day < week
    assert day <= week
    assert week > day
    assert week >= day
    assert day <= Horizon.parse("один день") <= day
    assert not day < day
    ordered = ["online", "15 min", "1 hour", "1 day", "1 week", "1 month", "1 quarter", "1 year"]
    shuffled = [Horizon.parse(text) for text in reversed(ordered)]
    assert [str(h) for h in sorted(shuffled)] == ordered


def test_parse_passes_a_horizon_through() -> None:
    """Horizon.parse returns a Horizon it is given unchanged."""
    horizon = Horizon.parse("1 week")
    assert Horizon.parse(horizon) is horizon


def test_online_constant() -> None:
    """ONLINE is the zero horizon, equal to every online spelling and shorter than any other."""
    assert ONLINE.seconds == 0
    assert str(ONLINE) == "online"
    assert all(Horizon.parse(text) == ONLINE for text, s in PHRASES.items() if s == 0)
    assert Horizon.parse("1 sec") > ONLINE


def test_tables_are_consistent() -> None:
    """Unit, number and phrase tables hold lower-case keys and positive values (phrases: >= 0)."""
    for table in (UNIT_SECONDS, NUMBER_WORDS, PHRASES):
        assert all(key == key.lower() for key in table)
    assert all(v > 0 for v in UNIT_SECONDS.values())
    assert all(v > 0 for v in NUMBER_WORDS.values())
    assert all(v >= 0 for v in PHRASES.values())


def test_horizon_is_immutable() -> None:
    """A Horizon cannot be changed after construction."""
    horizon = Horizon.parse("1 day")
    with pytest.raises(AttributeError):
        horizon.seconds = 0  # type: ignore[misc]


@given(st.sampled_from(sorted(UNIT_SECONDS)), st.integers(min_value=1, max_value=10_000))
def test_every_unit_word_with_any_count(unit: str, count: int) -> None:
    """'N unit' is N times the unit's seconds, with or without the space."""
    expected = count * UNIT_SECONDS[unit]
    assert Horizon.parse(f"{count} {unit}").seconds == expected
    assert Horizon.parse(f"{count}{unit}").seconds == expected


@given(st.integers(min_value=0, max_value=10**12))
def test_str_reads_back_whole_seconds(seconds: int) -> None:
    """Horizon.parse(str(h)) == h for whole numbers of seconds."""
    horizon = Horizon(seconds)
    assert Horizon.parse(str(horizon)) == horizon


@given(st.floats(min_value=0, max_value=1e12, allow_nan=False))
def test_str_reads_back_any_seconds(seconds: float) -> None:
    """Horizon.parse(str(h)) == h for any duration, fractions of a second included."""
    horizon = Horizon(seconds)
    assert Horizon.parse(str(horizon)) == horizon


@given(st.text(max_size=30))
def test_arbitrary_text_gives_a_horizon_or_horizon_error(text: str) -> None:
    """Any text parses to a Horizon or raises HorizonError, never anything else."""
    try:
        horizon = Horizon.parse(text)
    except HorizonError:
        return
    assert horizon.seconds >= 0

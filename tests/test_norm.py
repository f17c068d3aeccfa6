import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpitree.errors import KPITreeError, NormError, ValueTypeError
from kpitree.model.norm import AtLeast, AtMost, Between, Norm, parse_norm
from kpitree.model.numbers import format_number


def percent(x: float) -> str:
    """Format a fraction as a percentage."""
    return format_number(x, percent=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (">= 0.8", AtLeast(0.8)),
        (">=0.8", AtLeast(0.8)),
        ("≥ 0.8", AtLeast(0.8)),
        ("≥0.8", AtLeast(0.8)),
        (">= 80%", AtLeast(0.8)),
        ("  >=   80 %  ", AtLeast(0.8)),
        (">= -5", AtLeast(-5)),
        (">= 1e3", AtLeast(1000)),
        (">= 1 000", AtLeast(1000)),
        ("at least 3", AtLeast(3)),
        ("не менее 80%", AtLeast(0.8)),
        ("Не меньше 10", AtLeast(10)),
        ("<= 15", AtMost(15)),
        ("≤15", AtMost(15)),
        ("<= 0", AtMost(0)),
        ("at most 15", AtMost(15)),
        ("не более 15", AtMost(15)),
        ("не больше 15", AtMost(15)),
        ("0.7..0.9", Between(0.7, 0.9)),
        ("70%..90%", Between(0.7, 0.9)),
        ("0.7 .. 0.9", Between(0.7, 0.9)),
        ("-5..-1", Between(-5, -1)),
        ("1..1", Between(1, 1)),
    ],
)
def test_accepted_forms(text: str, expected: Norm) -> None:
    """Every accepted norm text parses to the expected norm."""
    assert parse_norm(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("=> 0.8", ['"=> 0.8"', 'expected a norm like ">= 0.8"', "write >= instead of =>"]),
        ("=< 15", ["write <= instead of =<"]),
        ("> 0.8", ["meeting it exactly counts", "write >= instead of >"]),
        ("<15", ["write <= instead of <"]),
        ("= 3", ["a norm is a threshold"]),
        ("== 3", ["a norm is a threshold"]),
        ("0.8", ["needs a direction", "write >= 0.8 if higher is better"]),
        ("80%", ["needs a direction", "<= 80% if lower is better"]),
        (">= abc", ['">= abc"', "norm threshold", "'abc'", '"<= 15" or "0.7..0.9"']),
        (">= 0,8", ["a decimal comma", "write 0.8"]),
        (">=", ["norm threshold", "''"]),
        (">= nan", ["not finite"]),
        ("0.9..0.7", ["from low to high", "write 0.7..0.9"]),
        ("1..2..3", ["high end of the norm"]),
        ("..1", ["low end of the norm"]),
        ("", ['expected a norm like ">= 0.8"']),
        ("good", ['"good"', 'expected a norm like ">= 0.8"']),
        ("0.7-0.9", ["expected a norm like"]),
        ("x" * 101, ["longer than 100 characters"]),
    ],
)
def test_refused_text(text: str, words: list[str]) -> None:
    """Bad norm text raises NormError quoting the text, listing the forms, with a hint."""
    with pytest.raises(NormError) as info:
        parse_norm(text)
    for word in words:
        assert word in str(info.value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, KPITreeError)


@pytest.mark.parametrize("value", [0.8, None, b">= 1"])
def test_non_text_refused(value: object) -> None:
    """A norm given as something other than text or a Norm is a NormError."""
    with pytest.raises(NormError, match="must be text"):
        parse_norm(value)  # type: ignore[arg-type]


def test_parse_passes_a_norm_through() -> None:
    """parse_norm returns a Norm it is given unchanged."""
    norm = AtMost(15)
    assert parse_norm(norm) is norm


def test_norm_base_is_abstract() -> None:
    """The Norm base class cannot be instantiated."""
    with pytest.raises(TypeError):
        Norm()  # type: ignore[abstract]


def test_thresholds_are_converted() -> None:
    """Thresholds go through to_number: percentages and text are read, bad values refused."""
    assert AtLeast("80%").threshold == 0.8
    assert AtMost("1e3").threshold == 1000
    assert Between("70%", 0.9) == Between(0.7, 0.9)
    with pytest.raises(ValueTypeError, match="norm threshold"):
        AtLeast(True)
    with pytest.raises(ValueTypeError, match="not finite"):
        AtMost(math.inf)
    with pytest.raises(NormError, match="from low to high"):
        Between(2, 1)


@pytest.mark.parametrize(
    ("norm", "value", "ok", "gap"),
    [
        (AtLeast(0.8), 0.8, True, 0.0),
        (AtLeast(0.8), 0.9, True, 0.0),
        (AtLeast(0.8), 0.5, False, 0.8 - 0.5),
        (AtLeast(0.8), math.inf, True, 0.0),
        (AtMost(15), 15, True, 0.0),
        (AtMost(15), 10, True, 0.0),
        (AtMost(15), 20, False, -5.0),
        (Between(0.7, 0.9), 0.7, True, 0.0),
        (Between(0.7, 0.9), 0.9, True, 0.0),
        (Between(0.7, 0.9), 0.8, True, 0.0),
        (Between(0.7, 0.9), 0.5, False, 0.7 - 0.5),
        (Between(0.7, 0.9), 1.0, False, 0.9 - 1.0),
    ],
)
def test_ok_and_gap(norm: Norm, value: float, ok: bool, gap: float) -> None:
    """ok() counts the threshold as met; gap() is positive to go up, negative to go down."""
    assert norm.ok(value) is ok
    assert norm.gap(value) == gap


@pytest.mark.parametrize("norm", [AtLeast(0.8), AtMost(15), Between(0.7, 0.9)])
def test_nan_never_meets_a_norm(norm: Norm) -> None:
    """A NaN value is not ok and has a NaN gap."""
    assert norm.ok(math.nan) is False
    assert math.isnan(norm.gap(math.nan))


@pytest.mark.parametrize(
    ("norm", "sense", "plain", "as_percent", "text"),
    [
        (AtLeast(0.8), 1, "≥ 0.8", "≥ 80%", ">= 0.8"),
        (AtMost(15), -1, "≤ 15", "≤ 1,500%", "<= 15"),
        (AtLeast(1500), 1, "≥ 1,500", "≥ 150,000%", ">= 1500"),
        (Between(0.7, 0.9), 0, "0.7..0.9", "70%..90%", "0.7..0.9"),
        (AtMost(1e16), -1, "≤ 1e+16", "≤ 1e+18%", "<= 1e+16"),
    ],
)
def test_sense_format_and_str(
    norm: Norm, sense: int, plain: str, as_percent: str, text: str
) -> None:
    """The sense is the better direction; format() is for people; str() is parseable."""
    assert norm.sense == sense
    assert norm.format() == plain
    assert norm.format(percent) == as_percent
    assert str(norm) == text


finite = st.floats(allow_nan=False, allow_infinity=False)
norms = st.one_of(
    st.builds(AtLeast, finite),
    st.builds(AtMost, finite),
    st.tuples(finite, finite).map(lambda pair: Between(min(pair), max(pair))),
)


@given(norms)
def test_str_reads_back(norm: Norm) -> None:
    """parse_norm(str(n)) == n for every norm."""
    assert parse_norm(str(norm)) == norm


@given(norms, finite)
def test_gap_moves_the_value_to_the_norm(norm: Norm, value: float) -> None:
    """Moving a value by its gap meets the norm (up to rounding), and a met norm has gap 0."""
    gap = norm.gap(value)
    if norm.ok(value):
        assert gap == 0
    elif math.isfinite(gap):
        if norm.sense == 1:
            assert gap > 0
        if norm.sense == -1:
            assert gap < 0
        moved = value + gap
        tolerance = 1e-9 * max(abs(value), abs(moved), 1.0)
        assert norm.ok(moved) or abs(norm.gap(moved)) <= tolerance


@given(st.text(max_size=30))
def test_arbitrary_text_gives_a_norm_or_norm_error(text: str) -> None:
    """Any text parses to a Norm or raises NormError, never anything else."""
    try:
        norm = parse_norm(text)
    except NormError:
        return
    assert isinstance(norm, Norm)


@pytest.mark.parametrize(
    "text", [">= 80%", "≥0.8", "не менее 80 %", "70%..90%", "<= 15", "at most 1 000"]
)
def test_a_norm_keeps_its_text_as_written(text: str) -> None:
    """`>= 80%` prints (and dumps) as `>= 80%`, not `>= 0.8`; equality compares meaning."""
    norm = parse_norm(text)
    assert str(norm) == text
    assert parse_norm(str(norm)) == norm
    assert hash(parse_norm(text)) == hash(norm)


def test_written_and_canonical_norms_are_equal() -> None:
    """`>= 80%` equals `>= 0.8` and `AtLeast(0.8)`, which prints in its canonical form."""
    assert parse_norm(">= 80%") == parse_norm(">= 0.8") == AtLeast(0.8)
    assert str(AtLeast(0.8)) == ">= 0.8"
    assert str(parse_norm("  >=   80% ")) == ">= 80%"

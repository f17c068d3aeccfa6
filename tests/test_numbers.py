import decimal
import fractions
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kpitree as kt
from kpitree.errors import KPITreeError, ValueTypeError
from kpitree.model.numbers import format_number, to_number

np = pytest.importorskip("numpy")

WHAT = "value of `leads`"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1200, 1200.0),
        (-3, -3.0),
        (0.8, 0.8),
        (0, 0.0),
        ("1200", 1200.0),
        ("  42  ", 42.0),
        ("-5", -5.0),
        ("+5", 5.0),
        ("\u22125", -5.0),  # typographic minus
        ("0.8", 0.8),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("1E-2", 0.01),
        ("2.5e+3", 2500.0),
        ("1_000", 1000.0),
        ("1_000_000.5", 1000000.5),
        ("1 000", 1000.0),
        ("1 000 000", 1000000.0),
        ("1\u00a0000", 1000.0),  # no-break space
        ("1\u202f000", 1000.0),  # narrow no-break space
        ("80%", 0.8),
        ("12.5%", 0.125),
        ("80 %", 0.8),
        ("0.7%", 0.007),
        ("-5%", -0.05),
        ("1e-999999999", 0.0),
        (decimal.Decimal("1.5"), 1.5),
        (fractions.Fraction(1, 4), 0.25),
    ],
)
def test_accepted_values(value: object, expected: float) -> None:
    """Every accepted number, text and percentage converts to the expected float."""
    assert to_number(value, what=WHAT) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.float64(0.5), 0.5),
        (np.float32(0.5), 0.5),
        (np.int64(7), 7.0),
        (np.array(2.5)[()], 2.5),
    ],
)
def test_numpy_scalars(value: object, expected: float) -> None:
    """Numpy real scalars convert like Python numbers."""
    assert to_number(value, what=WHAT) == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (True, ["value of `leads`", "a bool", "True"]),
        (False, ["a bool"]),
        (np.bool_(True), ["a bool"]),
        (math.nan, ["not finite", "nan"]),
        (math.inf, ["not finite", "inf"]),
        (-math.inf, ["not finite"]),
        (np.float64("nan"), ["not finite"]),
        (decimal.Decimal("NaN"), ["not finite"]),
        (decimal.Decimal("sNaN"), ["expected a finite number"]),
        (10**400, ["beyond the float range"]),
        (1j, ["expected a finite number", "1j"]),
        (np.complex128(1), ["expected a finite number"]),
        (b"1", ["expected a finite number", "b'1'"]),
        (None, ["expected a finite number", "None"]),
        ([1], ["expected a finite number"]),
        ("abc", ["value of `leads`", 'such as 1200, 0.8 or "80%"', "'abc'"]),
        ("", ["expected a finite number", "''"]),
        ("nan", ["not finite"]),
        ("-inf", ["not finite"]),
        ("Infinity", ["not finite"]),
        (".inf", ["not finite"]),
        ("1e400", ["beyond the float range"]),
        ("1e999999999%", ["beyond the float range"]),
        ("0,8", ["a decimal comma", "write 0.8"]),
        ("12,5%", ["a decimal comma", "write 12.5%"]),
        ("1,000", ["a decimal comma", "write 1.000", "or 1000 if the comma separates thousands"]),
        ("1 00", ["expected a finite number"]),
        ("1__000", ["expected a finite number"]),
        ("10 %%", ["expected a finite number"]),
        ("1+1", ["expected a finite number"]),
        ("__import__('os')", ["expected a finite number"]),
        ("0x10", ["expected a finite number"]),
        ("1" * 101, ["longer than 100 characters", "..."]),
    ],
)
def test_refused_values(value: object, words: list[str]) -> None:
    """Bools, non-finite numbers, non-numbers and malformed text raise ValueTypeError saying why."""
    with pytest.raises(ValueTypeError) as info:
        to_number(value, what=WHAT)
    message = str(info.value)
    for word in words:
        assert word in message
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, KPITreeError)


def test_huge_int_that_cannot_be_printed() -> None:
    """An int too long to print is refused without a second error from repr()."""
    with pytest.raises(ValueTypeError, match="beyond the float range"):
        to_number(10**5000, what=WHAT)


def test_long_value_is_truncated_in_message() -> None:
    """The value shown in the message is cut short when it is long."""
    with pytest.raises(ValueTypeError) as info:
        to_number("x" * 99, what=WHAT)
    assert "x" * 70 not in str(info.value)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_text_of_any_finite_float_reads_back(x: float) -> None:
    """to_number(str(x)) is x for every finite float."""
    assert to_number(str(x), what=WHAT) == x


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_text_with_thousands_separators_reads_back(n: int) -> None:
    """Integers written with comma-free separators (spaces, underscores) read back exactly."""
    assert to_number(f"{n:_}", what=WHAT) == n
    assert to_number(f"{n:,}".replace(",", " "), what=WHAT) == n


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_percent_is_hundredth(n: int) -> None:
    """Text N% equals N/100, rounded once."""
    assert to_number(f"{n}%", what=WHAT) == n / 100


@pytest.mark.parametrize(
    ("x", "percent", "expected"),
    [
        (1000, False, "1,000"),
        (800.0, False, "800"),
        (0.8, True, "80%"),
        (0.81234, True, "81.234%"),
        (1234567.891, False, "1,234,568"),
        (0.00123, False, "0.00123"),
        (-1500, False, "\u22121,500"),
        (1e15, False, "1e+15"),
        (999999999999999.9, False, "1e+15"),
        (123456789012345.0, False, "123,456,789,012,345"),
        (1e-7, False, "1e-07"),
        (0.000001, False, "0.000001"),
        (0, False, "0"),
        (-0.0, False, "0"),
        (0, True, "0%"),
        (0.1 + 0.2, False, "0.3"),
        (1200.5 * 0.8, False, "960.4"),  # the noise of arithmetic is not a digit
        (2 / 3, False, "0.667"),
        (1060.660172, False, "1,061"),
        (0.82 * 1000 - 800, False, "20"),
        (2.5, False, "2.5"),
        (-0.05, True, "\u22125%"),
        (math.nan, False, "NaN"),
        (math.nan, True, "NaN"),
        (math.inf, False, "inf"),
        (-math.inf, False, "\u2212inf"),
        (math.inf, True, "inf%"),
        (1e308, True, "inf%"),
    ],
)
def test_format_number(x: float, percent: bool, expected: str) -> None:
    """Numbers: exact when short or whole, else 3 significant digits; comma thousands."""
    assert format_number(x, percent=percent) == expected


@given(st.floats(), st.booleans())
def test_format_number_never_raises(x: float, percent: bool) -> None:
    """format_number gives non-empty text for every float, NaN and infinities included."""
    assert format_number(x, percent=percent)


@given(st.floats(min_value=-1e14, max_value=1e14).filter(lambda v: v == 0 or abs(v) >= 1e-5))
def test_format_number_is_close(x: float) -> None:
    """The text read back is within half a unit of its 3rd significant digit or its ones."""
    back = to_number(format_number(x).replace(",", ""), what="formatted")
    assert abs(back - x) <= max(5e-3 * abs(x), 0.5) + 1e-9 * abs(x)
    if abs(x) >= 100:  # never rounded inside the whole part
        assert abs(back - x) <= 0.5 + 1e-9 * abs(x)


@given(
    st.one_of(
        st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1).map(float),
        st.decimals(min_value=-999, max_value=999, places=3).map(float),
        st.floats(min_value=-1e14, max_value=1e14).map(lambda v: float(f"{v:.6g}")),
    ),
    st.sampled_from(["en", "ru"]),
)
def test_format_number_is_exact_where_the_value_is_short(x: float, name: str) -> None:
    """Whole numbers and values of at most six significant digits print exactly."""
    with kt.locale(name):
        text = format_number(x)
        back = to_number(text.replace(",", "") if name == "en" else text, what="formatted")
    if x == 0 or abs(x) >= 1e-6:
        assert back == x


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0,8", 0.8),
        ("-0,5", -0.5),
        ("\u22120,5", -0.5),
        ("1 000", 1000.0),
        ("1\u00a0000,25", 1000.25),
        ("1\u202f234\u202f567,8", 1234567.8),
        ("12,5%", 0.125),
        ("12,5 %", 0.125),
        ("1,000", 1.0),  # a decimal comma, as Russians read it
        ("0.8", 0.8),  # the dot still reads, as files from other systems write it
    ],
)
def test_russian_numbers_read_with_the_decimal_comma(text: str, expected: float) -> None:
    """Under `ru` the comma is the decimal sign and spaces group thousands."""
    with kt.locale("ru"):
        assert to_number(text, what=WHAT) == expected


@pytest.mark.parametrize("text", ["1,000.5", "1.000,5", "1,2,3", "1 00,5"])
def test_russian_numbers_mixing_signs_are_refused(text: str) -> None:
    """A text with both signs, or groups not of three, is not a number under `ru` either."""
    with kt.locale("ru"), pytest.raises(ValueTypeError, match="expected a finite number"):
        to_number(text, what=WHAT)


@given(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300),
    st.booleans(),
)
def test_russian_numbers_read_back_as_printed(value: float, percent: bool) -> None:
    """What kpitree prints under `ru` (1 060,66; −5; 80 %) reads back under `ru` as printed."""
    with kt.locale("ru"):
        text = format_number(value, percent=percent)
        assert "-" not in text.split("e")[0]  # a true minus, never a hyphen
        assert "." not in text
        back = to_number(text, what=WHAT)
    with kt.locale("en"):  # the same digits, grouped with commas, which read back as `_`
        english = to_number(format_number(value, percent=percent).replace(",", "_"), what=WHAT)
    assert back == english


def test_signed_numbers_carry_their_sign() -> None:
    """`signed=True` writes `+` on a rise however small, and the true minus on a fall."""
    assert format_number(0.000286, percent=True, signed=True) == "+0.0286%"
    assert format_number(-0.05, percent=True, signed=True) == "\u22125%"
    assert format_number(0, percent=True, signed=True) == "0%"
    with kt.locale("ru"):
        assert format_number(0.125, percent=True, signed=True) == "+12,5\u00a0%"
        assert format_number(0, percent=True) == "0\u00a0%"

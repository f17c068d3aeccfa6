"""Norms: the threshold of a KPI or metric that keeps the economics working.

A norm is held, so meeting it exactly counts as met: ``">= 0.8"`` (`AtLeast`, higher is
better), ``"<= 15"`` (`AtMost`, lower is better), ``"0.7..0.9"`` (`Between`, a range).
Strict ``>`` and ``<`` are refused with a hint. Thresholds are read with `to_number`, so
``">= 80%"`` is ``AtLeast(0.8)``. ``str(norm)`` gives text that `parse_norm` reads back to
an equal norm: the text as written when the norm was read from text (``">= 80%"`` stays
``">= 80%"``, so a model file is written back as its author wrote it), else the exact
canonical form (``">= 0.8"``). Equality compares meaning only: ``">= 80%"`` equals
``">= 0.8"``. ``norm.format(...)`` gives text for people (``≥ 80%``).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable
from typing import ClassVar, Final

import attrs

from kpitree.errors import NormError, ValueTypeError, quoted
from kpitree.i18n import N_, _
from kpitree.model.numbers import format_number, to_number

__all__ = ["MAX_NORM_TEXT", "AtLeast", "AtMost", "Between", "Norm", "parse_norm"]

MAX_NORM_TEXT: Final = 100
"""Longest norm text read; anything longer is refused before parsing."""

_EXPECTED: Final = N_('expected a norm like ">= 0.8", ">= 80%", "<= 15" or "0.7..0.9"')


class Norm(abc.ABC):
    """A threshold a value should hold; use `AtLeast`, `AtMost` or `Between`.

    Attributes:
        sense: +1 when higher is better, -1 when lower is better, 0 for a range.
    """

    __slots__ = ()
    sense: ClassVar[int]

    @abc.abstractmethod
    def ok(self, value: float) -> bool:
        """Return whether `value` meets the norm (NaN never does)."""

    @abc.abstractmethod
    def gap(self, value: float) -> float:
        """Return how far `value` must move to meet the norm.

        Positive means it must go up, negative that it must go down, 0 that the norm is met;
        NaN for a NaN value.
        """

    @abc.abstractmethod
    def format(self, fmt: Callable[[float], str] = format_number) -> str:
        """Return the norm as text for people, numbers written by `fmt`."""

    @abc.abstractmethod
    def __str__(self) -> str:
        """Return the norm as text that `parse_norm` reads back to an equal norm."""


def _exact(x: float) -> str:
    # repr() round-trips a float exactly; whole numbers lose their ".0".
    text = repr(x)
    return text[:-2] if text.endswith(".0") else text


def _written() -> str | None:
    """The field of the text a norm was read from: kept for writing back, not its meaning."""
    return attrs.field(default=None, eq=False, repr=False, kw_only=True)  # type: ignore[no-any-return]


def _threshold(value: object) -> float:
    return to_number(value, what=_("norm threshold"))


def _low(value: object) -> float:
    return to_number(value, what=_("low end of the norm"))


def _high(value: object) -> float:
    return to_number(value, what=_("high end of the norm"))


@attrs.frozen
class AtLeast(Norm):
    """The value should be `threshold` or more (higher is better).

    Examples:
        >>> norm = AtLeast("80%")
        >>> norm.ok(0.8), norm.gap(0.75) > 0
        (True, True)
        >>> norm.format(lambda x: format_number(x, percent=True)), str(norm)
        ('≥ 80%', '>= 0.8')
    """

    threshold: float = attrs.field(converter=_threshold)
    text: str | None = _written()
    sense: ClassVar[int] = 1

    def ok(self, value: float) -> bool:
        """Return whether `value` is at least the threshold (NaN never is)."""
        return value >= self.threshold

    def gap(self, value: float) -> float:
        """Return how much `value` must rise to reach the threshold (0 if it does)."""
        if math.isnan(value):
            return math.nan
        return max(0.0, self.threshold - value)

    def format(self, fmt: Callable[[float], str] = format_number) -> str:
        """Return ``≥ threshold`` with the threshold written by `fmt`."""
        return f"≥ {fmt(self.threshold)}"

    def __str__(self) -> str:
        return self.text or f">= {_exact(self.threshold)}"


@attrs.frozen
class AtMost(Norm):
    """The value should be `threshold` or less (lower is better).

    Examples:
        >>> norm = AtMost(15)
        >>> norm.ok(15), norm.gap(20)
        (True, -5.0)
        >>> norm.format(), str(norm)
        ('≤ 15', '<= 15')
    """

    threshold: float = attrs.field(converter=_threshold)
    text: str | None = _written()
    sense: ClassVar[int] = -1

    def ok(self, value: float) -> bool:
        """Return whether `value` is at most the threshold (NaN never is)."""
        return value <= self.threshold

    def gap(self, value: float) -> float:
        """Return how much `value` must fall to reach the threshold, as a negative number."""
        if math.isnan(value):
            return math.nan
        return min(0.0, self.threshold - value)

    def format(self, fmt: Callable[[float], str] = format_number) -> str:
        """Return ``≤ threshold`` with the threshold written by `fmt`."""
        return f"≤ {fmt(self.threshold)}"

    def __str__(self) -> str:
        return self.text or f"<= {_exact(self.threshold)}"


@attrs.frozen
class Between(Norm):
    """The value should lie in ``[low, high]``, both ends included.

    Raises:
        NormError: `low` is greater than `high`.

    Examples:
        >>> norm = Between("70%", "90%")
        >>> norm.ok(0.95), round(norm.gap(0.95), 2)
        (False, -0.05)
        >>> norm.format(lambda x: format_number(x, percent=True)), str(norm)
        ('70%..90%', '0.7..0.9')
    """

    low: float = attrs.field(converter=_low)
    high: float = attrs.field(converter=_high)
    text: str | None = _written()
    sense: ClassVar[int] = 0

    def __attrs_post_init__(self) -> None:
        if self.low > self.high:
            raise NormError(
                _("a norm range goes from low to high, got {low}..{high}").format(
                    low=_exact(self.low), high=_exact(self.high)
                ),
                hint=_("write {high}..{low}").format(low=_exact(self.low), high=_exact(self.high)),
            )

    def ok(self, value: float) -> bool:
        """Return whether `value` lies within the range, ends included (NaN never does)."""
        return self.low <= value <= self.high

    def gap(self, value: float) -> float:
        """Return the move to the nearer end of the range: up if below, down if above."""
        if math.isnan(value):
            return math.nan
        if value < self.low:
            return self.low - value
        if value > self.high:
            return self.high - value
        return 0.0

    def format(self, fmt: Callable[[float], str] = format_number) -> str:
        """Return ``low..high`` with both ends written by `fmt`."""
        return f"{fmt(self.low)}..{fmt(self.high)}"

    def __str__(self) -> str:
        return self.text or f"{_exact(self.low)}..{_exact(self.high)}"


# Prefixes that start a one-sided norm, and the kind of norm each starts.
_PREFIXES: Final[tuple[tuple[str, type[AtLeast] | type[AtMost]], ...]] = (
    (">=", AtLeast),
    ("≥", AtLeast),
    ("at least", AtLeast),
    ("не менее", AtLeast),
    ("не меньше", AtLeast),
    ("<=", AtMost),
    ("≤", AtMost),
    ("at most", AtMost),
    ("не более", AtMost),
    ("не больше", AtMost),
)
# Operators people write by mistake → the hint for each.
_MISTAKES: Final = (  # hints, translated where shown
    ("=>", N_("write >= instead of =>")),
    ("=<", N_("write <= instead of =<")),
    ("==", N_("a norm is a threshold: write >= or <=, or a range such as 0.7..0.9")),
    ("=", N_("a norm is a threshold: write >= or <=, or a range such as 0.7..0.9")),
    (
        ">",
        N_("a norm is a threshold to hold, and meeting it exactly counts: write >= instead of >"),
    ),
    (
        "<",
        N_("a norm is a threshold to hold, and meeting it exactly counts: write <= instead of <"),
    ),
)


def parse_norm(value: str | Norm) -> Norm:
    """Read a norm from text; a `Norm` passes through.

    Accepted: ``">= 0.8"``, ``"≥0.8"``, ``">= 80%"``, ``"<= 15"``, ``"≤ 15"``,
    ``"0.7..0.9"``, ``"70%..90%"``, and the words ``at least``, ``at most``,
    ``не менее``/``не меньше``, ``не более``/``не больше`` in place of ``>=``/``<=``.

    Args:
        value: the norm text, or a norm.

    Returns:
        The norm.

    Raises:
        NormError: the text is not a norm; the message quotes it and lists the forms.

    Examples:
        >>> parse_norm(">= 80%"), str(parse_norm(">=  80%"))
        (AtLeast(threshold=0.8), '>= 80%')
        >>> parse_norm("0.7 .. 0.9")
        Between(low=0.7, high=0.9)
        >>> parse_norm("> 0.8")
        Traceback (most recent call last):
        ...
        kpitree.errors.NormError: cannot read norm "> 0.8": expected a norm like ...
        hint: a norm is a threshold to hold, and meeting it exactly counts: write >= instead of >
    """
    if isinstance(value, Norm):
        return value
    if not isinstance(value, str):
        raise NormError(
            _("a norm must be text, got {value}: {expected}").format(
                value=quoted(value), expected=_(_EXPECTED)
            )
        )
    if len(value) > MAX_NORM_TEXT:
        raise NormError(
            _("cannot read norm {value}: longer than {limit} characters").format(
                value=quoted(value), limit=MAX_NORM_TEXT
            )
        )
    unread = _("cannot read norm {value}: {expected}").format(
        value=quoted(value), expected=_(_EXPECTED)
    )
    text = " ".join(value.split())
    lowered = text.lower()
    try:
        for prefix, kind in _PREFIXES:
            if lowered.startswith(prefix):
                return kind(text[len(prefix) :].strip(), text=text)
        if ".." in text:
            low, high = text.split("..", 1)
            return Between(low.strip(), high.strip(), text=text)
    except ValueTypeError as error:
        raise NormError(
            _("cannot read norm {value}: {reason}; {expected}").format(
                value=quoted(value), reason=error.reason, expected=_(_EXPECTED)
            ),
            hint=error.hint,
        ) from None
    except NormError as error:
        raise NormError(
            _("cannot read norm {value}: {reason}").format(
                value=quoted(value), reason=error.reason
            ),
            hint=error.hint,
        ) from None
    for mistake, hint in _MISTAKES:
        if lowered.startswith(mistake):
            raise NormError(unread, hint=_(hint))
    try:
        to_number(text, what=_("norm"))
    except ValueTypeError:
        raise NormError(unread) from None
    raise NormError(
        _("cannot read norm {value}: a norm needs a direction, {expected}").format(
            value=quoted(value), expected=_(_EXPECTED)
        ),
        hint=_("write >= {number} if higher is better, <= {number} if lower is better").format(
            number=text
        ),
    )

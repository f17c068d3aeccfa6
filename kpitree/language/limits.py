"""Safety limits on formulas and model files.

Defaults are generous (a sum of a few thousand segments passes); each limit that trips
raises its own `LimitError` naming the limit and how to raise it.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from kpitree import i18n
from kpitree.errors import (
    ArgumentError,
    KPITreeError,
    LimitError,
    ValueTypeError,
    quoted,
    quoted_name,
    raise_all,
)
from kpitree.i18n import N_, _, ngettext

__all__ = ["DEFAULT_LIMITS", "Limits", "check_name_length", "shown"]


@attrs.frozen
class Limits:
    """Bounds that keep hostile or broken input from hanging or exhausting memory.

    Attributes:
        max_formula_chars: longest formula text accepted.
        max_formula_nodes: most operators, names and numbers in one formula.
        max_depth: deepest nesting of one formula (chains of `+` and `*` count once).
        max_exponent: largest constant exponent, in absolute value (`x ** 10000` is refused).
        max_name_chars: longest node name.
        max_file_bytes: largest model file.
        max_sample_bytes: most memory one uncertainty analysis (`simulate`, `sobol`) may
            hold in samples, estimated before anything is drawn (bootstrap included).

    Examples:
        >>> Limits().max_depth
        100
        >>> Limits(max_depth=20).max_depth
        20
    """

    max_formula_chars: int = 100_000
    max_formula_nodes: int = 100_000
    max_depth: int = 100
    max_exponent: float = 1024.0
    max_name_chars: int = 200
    max_file_bytes: int = 20_000_000
    max_sample_bytes: int = 2 * 1024**3

    def __attrs_post_init__(self) -> None:
        # A limit of -1 or "100" would not fail here but far away, or never trip at all.
        problems: list[KPITreeError] = []
        for field in attrs.fields(Limits):
            problem = _check_limit(field.name, getattr(self, field.name), field.default)
            if problem is not None:
                problems.append(problem)
        raise_all(problems)


def _check_limit(name: str, value: Any, default: Any) -> KPITreeError | None:
    """Return the problem with one limit's value, or None.

    Counts are whole numbers of at least 1; `max_exponent` is a number of at least 0.
    """
    exponent = isinstance(default, float)
    kinds = (int, float) if exponent else (int,)
    default_hint = _("the default is {setting}").format(setting=f"{name}={default!r}")
    if isinstance(value, bool) or not isinstance(value, kinds):
        return ValueTypeError(
            (
                _("Limits `{name}` must be a number, got {value}")
                if exponent
                else _("Limits `{name}` must be a whole number, got {value}")
            ).format(name=name, value=quoted(value)),
            hint=default_hint,
        )
    low = 0 if exponent else 1
    finite = not isinstance(value, float) or math.isfinite(value)  # ints are finite
    if not (finite and value >= low):
        return ArgumentError(
            _("Limits `{name}` must be at least {low} and finite, got {value}").format(
                name=name, low=low, value=quoted(value)
            ),
            hint=default_hint,
        )
    return None


DEFAULT_LIMITS = Limits()


def check_name_length(
    name: str, limits: Limits = DEFAULT_LIMITS, *, what: str = N_("a node name")
) -> None:
    """Raise `LimitError` when `name` is longer than `limits.max_name_chars`.

    The message shows a short prefix and the length, never the whole name: a megabyte of
    name must not become a megabyte of message.

    Examples:
        >>> check_name_length("leads")
        >>> check_name_length("x" * 500)
        Traceback (most recent call last):
        ...
        kpitree.errors.LimitError: a node name `xxx...` (500 characters) is over the limit of 200...
        hint: ...
    """
    if len(name) > limits.max_name_chars:
        raise LimitError(
            ngettext(
                "{what} {name} is over the limit of {limit} characters",
                "{what} {name} is over the limit of {limit} characters",
                limits.max_name_chars,
            ).format(what=_(what), name=quoted_name(name), limit=shown(limits.max_name_chars)),
            hint=_("use a shorter name, or raise {limit}").format(limit="Limits.max_name_chars"),
        )


def shown(number: float, *, grouped: bool = True) -> str:
    """`number` (a limit) as the active locale writes it: `100,000`, or `100 000` in Russian.

    Limits sit below the model's number formatting; they are exact whole numbers or short
    values (`1024`), so the locale's grouping and decimal sign are all they need.

    Examples:
        >>> shown(100_000), shown(1024.0, grouped=False)
        ('100,000', '1024')
    """
    from babel.numbers import format_decimal  # only when a message shows a limit

    return format_decimal(number, locale=i18n.babel_locale(), group_separator=grouped)

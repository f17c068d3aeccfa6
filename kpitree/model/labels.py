"""How a period or a segment value is written for people: one rule for every surface.

Tables, charts and errors of tracks and attribution series name periods and segments by
these labels, and a user picks a segment by the label too (``segment="2026-03"``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kpitree.i18n import _
from kpitree.model.numbers import format_number

__all__ = ["period_label"]


def period_label(value: Any) -> str:
    """Return a period or segment value as shown.

    Days as ISO dates (with the time when there is one), text as it is, whole numbers
    ungrouped (a year is ``2026``, not ``2,026``), other numbers as `format_number` writes
    them, and an empty value (None, NaN, NaT: a NULL key kept as a segment of its own) as
    ``(no value)``.

    Examples:
        >>> import datetime as dt, numpy as np, pandas as pd
        >>> period_label(pd.Timestamp("2026-10-01")), period_label(dt.date(2024, 3, 1))
        ('2026-10-01', '2024-03-01')
        >>> period_label(np.datetime64("2026-10-01T08:30")), period_label("Q1")
        ('2026-10-01 08:30', 'Q1')
        >>> period_label(2026.0), period_label(np.int64(2024)), period_label(2.5)
        ('2026', '2024', '2.5')
        >>> period_label(None), period_label(float("nan")), period_label(pd.NaT)
        ('(no value)', '(no value)', '(no value)')
    """
    if isinstance(value, str):
        return value
    if value is None or _empty(value):
        return _("(no value)")
    if type(value).__name__ in ("bool", "bool_"):
        return str(bool(value))
    if hasattr(value, "dtype") and str(value.dtype).startswith("datetime64"):
        value = value.astype("datetime64[us]").item()  # numpy's day or moment, as datetime
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):  # a day (in its own time zone, if it has one)
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="minutes" if not value.second else "seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "__index__"):  # int, numpy integers
        return str(int(value))
    if hasattr(value, "__float__"):
        number = float(value)
        whole = number.is_integer() and abs(number) < 1e15  # beyond, format_number's exponent
        return str(int(number)) if whole else format_number(number)
    return str(value)


def _empty(value: Any) -> bool:
    """None's kin: NaN, NaT, pandas' NA (each unequal to itself, or NA when compared)."""
    try:
        return bool(value != value)
    except TypeError:  # pandas.NA: its comparison is NA, whose truth is refused
        return True

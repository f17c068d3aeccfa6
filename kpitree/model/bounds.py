"""A leaf's bounds: the closed interval its value stays in, either side possibly open."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

from kpitree.model.numbers import format_number

__all__ = ["Bounds"]


class Bounds(NamedTuple):
    """The closed interval `[low, high]` a leaf's value stays in; None for an open side.

    A tuple, so that `low, high = leaf.bounds` and `leaf.bounds == (0, 1)` keep reading
    as they do for the pair a leaf is given.

    Examples:
        >>> rate = Bounds(0.0, 1.0)
        >>> rate.contains(1.2), rate.clip(1.2), rate.format()
        (False, 1.0, '[0, 1]')
        >>> Bounds(0.0, None).span, Bounds(0.0, None).format()
        ((0.0, inf), '[0, ∞]')
    """

    low: float | None = None
    high: float | None = None

    @classmethod
    def of(cls, node: object) -> Bounds:
        """Return a node's bounds; open on both sides when it has none (a metric has none).

        Examples:
            >>> import kpitree as kt
            >>> Bounds.of(kt.KPI("leads", owner="marketing", horizon="1 day", bounds=(0, None)))
            Bounds(low=0.0, high=None)
            >>> Bounds.of(kt.Input("market_size"))
            Bounds(low=None, high=None)
        """
        bounds = getattr(node, "bounds", None)
        return cls() if bounds is None else cls(*bounds)

    @property
    def span(self) -> tuple[float, float]:
        """`(low, high)` as numbers, ±inf for an open side: the range a search may cover."""
        low = -math.inf if self.low is None else self.low
        return (low, math.inf if self.high is None else self.high)

    def contains(self, value: float) -> bool:
        """Return whether `value` lies within the bounds, the ends included."""
        low, high = self.span
        return not (value < low or value > high)

    def clip(self, value: float) -> float:
        """Return `value` moved to the nearest end when it lies outside the bounds."""
        low, high = self.span
        return min(max(value, low), high)

    def format(self, fmt: Callable[[float], str] = format_number) -> str:
        """Return `[low, high]` for people, the ends written by `fmt`, open sides as ∞."""
        low = "−∞" if self.low is None else fmt(self.low)
        return f"[{low}, {'∞' if self.high is None else fmt(self.high)}]"

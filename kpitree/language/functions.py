"""The formula language's functions for formulas built in Python: `kt.min(a, b)`, `kt.log(x)`."""

from __future__ import annotations

from kpitree.language.expr import Expr, Operand, call

__all__ = ["abs", "exp", "log", "max", "min", "sqrt"]


def min(*args: Operand) -> Expr:  # noqa: A001 - kt.min is the formula language's min
    """Return the formula `min(a, b, ...)` (two or more arguments).

    Examples:
        >>> import kpitree as kt
        >>> str(kt.min(kt.Input("capacity", value=50), 40))
        'min(capacity, 40)'
    """
    return call("min", *args)


def max(*args: Operand) -> Expr:  # noqa: A001 - kt.max is the formula language's max
    """Return the formula `max(a, b, ...)` (two or more arguments)."""
    return call("max", *args)


def abs(x: Operand) -> Expr:  # noqa: A001 - kt.abs is the formula language's abs
    """Return the formula `abs(x)`."""
    return call("abs", x)


def log(x: Operand) -> Expr:
    """Return the formula `log(x)`, the natural logarithm (undefined for x <= 0)."""
    return call("log", x)


def exp(x: Operand) -> Expr:
    """Return the formula `exp(x)`."""
    return call("exp", x)


def sqrt(x: Operand) -> Expr:
    """Return the formula `sqrt(x)` (undefined for x < 0)."""
    return call("sqrt", x)

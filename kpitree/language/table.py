"""The function table: every function formulas can call, each described once.

An entry says all that every part of kpitree needs to know about one function: how many
arguments it takes, how to compute it with floats and with numpy, what it is in sympy,
SQL and polars, where it is defined, what it does to units, its derivative, its inverse,
and how to say why it is undefined. Each backend reads its column of this table and has
no list of functions of its own, so a function is added by adding one entry here (a test
checks that every backend covers every entry).

The table imports nothing from the rest of kpitree but its words (`kpitree.i18n`):
backends hand their own library to an entry (`entry.numpy(numpy)`, `entry.sympy(sympy)`),
and derivative rules are written against the small algebra the engine passes in
(`Algebra`).

Examples:
    >>> FUNCTIONS["log"].arity, FUNCTIONS["min"].arity
    ((1, 1), (2, None))
    >>> FUNCTIONS["sqrt"].python(9.0), FUNCTIONS["abs"].inverse(2.0)
    (3.0, [2.0, -2.0])
    >>> [f for f in FUNCTIONS if FUNCTIONS[f].in_formulas]
    ['min', 'max', 'abs', 'log', 'exp', 'sqrt']
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol

import attrs

from kpitree.i18n import _

__all__ = ["EXP_MAX", "FORMULA_FUNCTIONS", "FUNCTIONS", "Algebra", "Domain", "Function"]

#: The largest x whose exp(x) is a finite float.
EXP_MAX = math.log(sys.float_info.max)

UnitRule = Literal["same", "keep", "root", "plain"]


class Algebra(Protocol):
    """The expression algebra a derivative rule is written in (the engine provides it)."""

    zero: Any
    half: Any

    def times(self, left: Any, right: Any) -> Any:
        """Return `left * right`, simplified where a factor is 0 or 1."""

    def over(self, left: Any, right: Any) -> Any:
        """Return `left / right`, simplified where possible."""

    def minus(self, left: Any, right: Any) -> Any:
        """Return `left - right`."""

    def sign(self, x: Any) -> Any:
        """Return `sign(x)`: −1, 0 or 1."""

    def step(self, difference: Any) -> Any:
        """Return `(1 + sign(difference)) / 2`: 1 above 0, ½ at a tie, 0 below."""

    def call(self, name: str, args: Sequence[Any]) -> Any:
        """Return the call `name(*args)`."""


@attrs.frozen
class Domain:
    """Where a one-argument function is defined: `x <op> bound` (log: `x > 0`)."""

    op: Literal[">", ">=", "<="]
    bound: float

    def holds(self, x: float) -> bool:
        """Return whether `x` is inside the domain.

        Examples:
            >>> Domain(">", 0.0).holds(0.0), Domain(">=", 0.0).holds(0.0)
            (False, True)
        """
        if self.op == ">":
            return x > self.bound
        return x >= self.bound if self.op == ">=" else x <= self.bound


Adjoints = Callable[[Algebra, Sequence[Any], Any, Any], list[tuple[Any, Any]]]


@attrs.frozen
class Function:
    """One function of the formula language and what each part of kpitree makes of it.

    Attributes:
        name: the name formulas use.
        arity: the least and the most arguments (None: any number from the least).
        python: the function on Python floats; raises `ValueError`/`OverflowError` where
            it is undefined.
        numpy: given the numpy module, the function on arrays (NaN where undefined).
        sympy: given the sympy module, the sympy function.
        sql: the sqlglot expression class that computes it (`"Ln"`, `"Least"`).
        polars: given polars and the argument expressions, the polars expression.
        domain: where a one-argument function is defined; the backends that do not fail
            by themselves outside it (SQL) test it. None: defined for every number.
        unit: what it does to units: `"same"` (all arguments in one unit, which the result
            has), `"keep"` (the argument's), `"root"` (half the exponents), `"plain"` (a
            plain number in, a plain number out).
        adjoints: the derivative rule of reverse mode: given the algebra, the arguments,
            the adjoint of the call and the call itself, `(argument, its adjoint)` pairs.
        inverse: the arguments that give a value (goal seek along a path); None when the
            function is not inverted (min and max pick an argument).
        undefined: why a value is undefined, given the argument as text; None when the
            only way is an overflow.
        makes_inf: finite arguments can give an infinite value (log(0) = −inf), so the
            array path must check its result.
        absorbs: an undefined (infinite) argument can give a finite value (`exp(-inf)`
            is 0, `min(inf, 1)` is 1), so every backend checks the arguments first: the
            undefined rule says that nothing computed from an undefined value is defined.
        in_formulas: False for the one function only derivatives use (`sign`).
    """

    name: str
    arity: tuple[int, int | None]
    python: Callable[..., float]
    numpy: Callable[[Any], Callable[..., Any]]
    sympy: Callable[[Any], Any]
    sql: str
    polars: Callable[[Any, list[Any]], Any]
    domain: Domain | None
    unit: UnitRule
    adjoints: Adjoints
    inverse: Callable[[float], list[float]] | None
    undefined: Callable[[str], str] | None = None
    makes_inf: bool = False
    absorbs: bool = False
    in_formulas: bool = True

    @property
    def variadic(self) -> bool:
        """Whether it takes any number of arguments (min, max)."""
        return self.arity[1] is None


def _nan_aware(pick: Callable[..., float]) -> Callable[..., float]:
    def choose(*args: float) -> float:
        # Python's min/max drop a NaN or keep it depending on argument order.
        if any(a != a for a in args):
            return math.nan
        return pick(args)

    return choose


def _reduce(pick: Any) -> Callable[..., Any]:
    return lambda *args: functools.reduce(pick, args)  # np.minimum propagates NaN


def _polars_pick(pl: Any, args: list[Any], pick: Any) -> Any:
    # min_horizontal skips nulls and may skip NaN: undefined in, undefined out.
    defined = pl.all_horizontal([a.is_not_nan() for a in args])
    return pl.when(defined).then(pick(args)).otherwise(pl.lit(math.nan))


def _pick_adjoints(name: str) -> Adjoints:
    def rule(d: Algebra, args: Sequence[Any], adj: Any, value: Any) -> list[tuple[Any, Any]]:
        # Folded left: min(x, y, z) = min(min(x, y), z). For min(x, y), x carries the
        # adjoint when y - x > 0; for max(x, y) when x - y > 0; a tie splits it.
        left = args[0] if len(args) == 2 else d.call(name, args[:-1])
        right = args[-1]
        first, second = (right, left) if name == "min" else (left, right)
        return [
            (left, d.times(adj, d.step(d.minus(first, second)))),
            (right, d.times(adj, d.step(d.minus(second, first)))),
        ]

    return rule


def _picker(name: str, pick: Callable[..., float], numpy: str, sympy: str, sql: str) -> Function:
    """Return the entry of `min` or `max`: one argument picked, NaN in is NaN out."""
    return Function(
        name,
        (2, None),
        python=_nan_aware(pick),
        numpy=lambda np: _reduce(getattr(np, numpy)),
        sympy=lambda sp: getattr(sp, sympy),
        sql=sql,
        polars=lambda pl, args: _polars_pick(pl, args, getattr(pl, f"{name}_horizontal")),
        domain=None,
        unit="same",
        adjoints=_pick_adjoints(name),
        inverse=None,
        absorbs=True,
    )


def _sign(x: float) -> float:
    return math.copysign(1.0, x) if x else 0.0


def _abs_inverse(t: float) -> list[float]:
    return [t, -t] if t > 0 else [0.0] if t == 0 else []


#: Every function, by name, in the order the docs list them.
FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        _picker("min", min, "minimum", "Min", "Least"),
        _picker("max", max, "maximum", "Max", "Greatest"),
        Function(
            "abs",
            (1, 1),
            python=abs,
            numpy=lambda np: np.abs,
            sympy=lambda sp: sp.Abs,
            sql="Abs",
            polars=lambda pl, args: args[0].abs(),
            domain=None,
            unit="keep",
            adjoints=lambda d, args, adj, value: [(args[0], d.times(adj, d.sign(args[0])))],
            inverse=_abs_inverse,
        ),
        Function(
            "log",
            (1, 1),
            python=math.log,
            numpy=lambda np: np.log,
            sympy=lambda sp: sp.log,
            sql="Ln",
            polars=lambda pl, args: args[0].log(),
            domain=Domain(">", 0.0),
            unit="plain",
            adjoints=lambda d, args, adj, value: [(args[0], d.over(adj, args[0]))],
            inverse=lambda t: [math.exp(t)] if t < 709 else [],
            undefined=lambda x: _("log of {x}, which is not positive").format(x=x),
            makes_inf=True,
        ),
        Function(
            "exp",
            (1, 1),
            python=math.exp,
            numpy=lambda np: np.exp,
            sympy=lambda sp: sp.exp,
            sql="Exp",
            polars=lambda pl, args: args[0].exp(),
            domain=Domain("<=", EXP_MAX),
            unit="plain",
            adjoints=lambda d, args, adj, value: [(args[0], d.times(adj, value))],
            inverse=lambda t: [math.log(t)] if t > 0 else [],
            absorbs=True,
        ),
        Function(
            "sqrt",
            (1, 1),
            python=math.sqrt,
            numpy=lambda np: np.sqrt,
            sympy=lambda sp: sp.sqrt,
            sql="Sqrt",
            polars=lambda pl, args: args[0].sqrt(),
            domain=Domain(">=", 0.0),
            unit="root",
            adjoints=lambda d, args, adj, value: [(args[0], d.over(d.times(adj, d.half), value))],
            inverse=lambda t: [t * t] if t >= 0 else [],
            undefined=lambda x: _("square root of a negative number ({x})").format(x=x),
        ),
        # The kinks of abs, min and max in derivative expressions; not in formulas.
        Function(
            "sign",
            (1, 1),
            python=_sign,
            numpy=lambda np: np.sign,
            sympy=lambda sp: sp.sign,
            sql="Sign",
            polars=lambda pl, args: args[0].sign(),
            domain=None,
            unit="plain",
            adjoints=lambda d, args, adj, value: [(args[0], d.zero)],
            inverse=None,
            absorbs=True,
            in_formulas=False,
        ),
    )
}

#: The functions formulas may call, by name: `{name: (least, most arguments)}`.
FORMULA_FUNCTIONS: dict[str, tuple[int, int | None]] = {
    name: f.arity for name, f in FUNCTIONS.items() if f.in_formulas
}

"""Formula expressions: small immutable nodes built by operators on nodes and numbers.

`leads * rate` builds `Mul((Ref("leads"), Ref("rate")))`. Chains of `+` and `*` are kept
flat, so a sum of a thousand segments is one node with a thousand terms, not a thousand
levels. A `Ref` stands for a node of the tree by name; when built from Python it also
carries the node itself so a `Tree` can collect it, but two refs are equal when their
names are: a metric's identity is its own formula, its children are identified by name.

Expressions know nothing of sympy, arrays or SQL; those are derived from them on demand.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any, Union

import attrs

from kpitree.errors import (
    ArgumentError,
    FormulaError,
    LimitError,
    ValueTypeError,
    did_you_mean,
    quoted,
)
from kpitree.i18n import N_, _, ngettext
from kpitree.language.limits import DEFAULT_LIMITS, Limits, check_name_length, shown
from kpitree.language.table import FORMULA_FUNCTIONS, FUNCTIONS

__all__ = [
    "Add",
    "Arithmetic",
    "Call",
    "Const",
    "Div",
    "Expr",
    "Mul",
    "Neg",
    "Pow",
    "Ref",
    "Sub",
    "arity_reason",
    "as_expr",
    "check_formula",
    "check_name",
    "constant_value",
    "depth_error",
    "format_expr",
    "refs",
    "walk",
]


# Tree nodes (KPI, Input, Metric) are `Arithmetic` too: this layer knows them only as that.
Operand = Union["Expr", "Arithmetic", int, float]


class Arithmetic:
    """Operators that build expressions; shared by expressions and tree nodes.

    `==` keeps its meaning (structural equality); only arithmetic is overloaded.
    """

    __slots__ = ()

    def _as_expr(self) -> Expr:
        raise NotImplementedError

    def __add__(self, other: Operand) -> Expr:
        return add(self._as_expr(), as_expr(other))

    def __radd__(self, other: Operand) -> Expr:
        return add(as_expr(other), self._as_expr())

    def __sub__(self, other: Operand) -> Expr:
        return Sub(self._as_expr(), as_expr(other))

    def __rsub__(self, other: Operand) -> Expr:
        return Sub(as_expr(other), self._as_expr())

    def __mul__(self, other: Operand) -> Expr:
        return mul(self._as_expr(), as_expr(other))

    def __rmul__(self, other: Operand) -> Expr:
        return mul(as_expr(other), self._as_expr())

    def __truediv__(self, other: Operand) -> Expr:
        return Div(self._as_expr(), as_expr(other))

    def __rtruediv__(self, other: Operand) -> Expr:
        return Div(as_expr(other), self._as_expr())

    def __pow__(self, other: Operand) -> Expr:
        return Pow(self._as_expr(), as_expr(other))

    def __rpow__(self, other: Operand) -> Expr:
        return Pow(as_expr(other), self._as_expr())

    def __neg__(self) -> Expr:
        return negate(self._as_expr())

    def __pos__(self) -> Expr:
        return self._as_expr()

    def __abs__(self) -> Expr:
        return Call("abs", (self._as_expr(),))


class Expr(Arithmetic):
    """Base of formula expressions."""

    __slots__ = ()

    def _as_expr(self) -> Expr:
        return self

    def __str__(self) -> str:
        return format_expr(self)

    def __repr__(self) -> str:
        # Positional and compact: Mul(Ref('leads'), Const(0.8)); Ref's node and span are
        # not part of its value and not shown.
        fields = attrs.fields(type(self))  # type: ignore[arg-type]
        values = [getattr(self, f.name) for f in fields if f.eq]
        if len(values) == 1 and isinstance(values[0], tuple):
            return f"{type(self).__name__}{values[0]!r}"
        return f"{type(self).__name__}({', '.join(map(repr, values))})"

    def __bool__(self) -> bool:
        # `if a < b` on formulas is a mistake: formulas are not conditions.
        raise TypeError("a formula has no truth value; compare evaluated numbers instead")


@attrs.frozen(repr=False)
class Const(Expr):
    """A number in a formula (finite; int or float as written)."""

    value: int | float


@attrs.frozen(repr=False)
class Ref(Expr):
    """A reference to a node by name.

    Attributes:
        name: the node's name.
        node: the node itself when the formula was built in Python (not part of equality).
        span: `(start, end)` in the formula text when it was parsed (not part of equality).
    """

    name: str
    node: Arithmetic | None = attrs.field(default=None, eq=False)
    span: tuple[int, int] | None = attrs.field(default=None, eq=False)


@attrs.frozen(repr=False)
class Add(Expr):
    """A sum of two or more terms."""

    terms: tuple[Expr, ...]


@attrs.frozen(repr=False)
class Mul(Expr):
    """A product of two or more factors."""

    factors: tuple[Expr, ...]


@attrs.frozen(repr=False)
class Sub(Expr):
    """`left - right`."""

    left: Expr
    right: Expr


@attrs.frozen(repr=False)
class Div(Expr):
    """`left / right`."""

    left: Expr
    right: Expr


@attrs.frozen(repr=False)
class Pow(Expr):
    """`base ** exponent`."""

    base: Expr
    exponent: Expr


@attrs.frozen(repr=False)
class Neg(Expr):
    """`-operand`."""

    operand: Expr


@attrs.frozen(repr=False)
class Call(Expr):
    """A function of the language (see `kpitree.language.table`) applied to arguments."""

    func: str
    args: tuple[Expr, ...]


# One lookup per node instead of a chain of isinstance checks: walks are the hot path of
# validation.
_CHILDREN: dict[type, Callable[[Any], tuple[Expr, ...]]] = {
    Const: lambda e: (),
    Ref: lambda e: (),
    Add: lambda e: e.terms,
    Mul: lambda e: e.factors,
    Sub: lambda e: (e.left, e.right),
    Div: lambda e: (e.left, e.right),
    Pow: lambda e: (e.base, e.exponent),
    Neg: lambda e: (e.operand,),
    Call: lambda e: e.args,
}


def children(expr: Expr) -> tuple[Expr, ...]:
    """Return the direct sub-expressions of `expr`, left to right."""
    return _CHILDREN[type(expr)](expr)


def walk(expr: Expr) -> Iterator[Expr]:
    """Yield `expr` and every sub-expression, parents before children, without recursion."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


def refs(expr: Expr) -> tuple[Ref, ...]:
    """Return the references in `expr`, first occurrence of each name, left to right.

    Examples:
        >>> from kpitree.language.parser import parse_formula
        >>> [r.name for r in refs(parse_formula("a * b + a / c"))]
        ['a', 'b', 'c']
    """
    seen: dict[str, Ref] = {}
    for node in walk(expr):
        if isinstance(node, Ref) and node.name not in seen:
            seen[node.name] = node
    return tuple(seen.values())


def as_expr(value: object) -> Expr:
    """Turn a node, an expression or a number into an expression; refuse anything else."""
    if isinstance(value, Arithmetic):
        return value._as_expr()
    if isinstance(value, bool):
        raise ValueTypeError(
            _("`{value}` is not a number; a formula takes numbers, nodes and kt functions").format(
                value=value
            )
        )
    if isinstance(value, int):
        return Const(value)
    if isinstance(value, float) or _is_real_scalar(value):
        number = float(value)  # type: ignore[arg-type]
        if not math.isfinite(number):
            raise ArgumentError(
                _("a formula constant must be finite, got {number}").format(number=repr(number))
            )
        return Const(number)
    if isinstance(value, str):
        raise ValueTypeError(
            _("text {text} cannot be part of a formula built in Python").format(
                text=repr(value[:40])
            ),
            hint=_(
                'write numbers as numbers (0.8, not "80%"), or give the whole formula as text: '
                "{example}"
            ).format(example='kt.Metric("ql", "leads * 80%")'),
        )
    raise ValueTypeError(
        _("a {type} cannot be part of a formula").format(type=type(value).__name__),
        hint=_(
            "formulas combine KPIs, inputs, metrics and numbers with + - * / ** and kt functions"
        ),
    )


def _is_real_scalar(value: object) -> bool:
    # numpy scalars and the like: real numbers that are neither str nor complex.
    return hasattr(value, "__float__") and not isinstance(value, str | bytes | complex)


def add(left: Expr, right: Expr) -> Expr:
    """Return `left + right`, extending a sum on either side instead of nesting it."""
    terms = left.terms if isinstance(left, Add) else (left,)
    more = right.terms if isinstance(right, Add) else (right,)
    return Add(terms + more)


def mul(left: Expr, right: Expr) -> Expr:
    """Return `left * right`, extending a product on either side instead of nesting it."""
    factors = left.factors if isinstance(left, Mul) else (left,)
    more = right.factors if isinstance(right, Mul) else (right,)
    return Mul(factors + more)


def negate(expr: Expr) -> Expr:
    """Return `-expr`, folding the sign into a constant (`-2` is `Const(-2)`)."""
    if isinstance(expr, Const):
        return Const(-expr.value)
    return Neg(expr)


def call(func: str, *args: Operand) -> Expr:
    """Apply a function of the formula language, checking its name and argument count."""
    if func not in FORMULA_FUNCTIONS:
        hint = did_you_mean(func, FORMULA_FUNCTIONS)
        raise FormulaError(
            _(
                "`{func}` is not a function of the formula language; the functions are {functions}"
            ).format(func=func, functions=", ".join(FORMULA_FUNCTIONS)),
            hint=hint,
        )
    low, high = FORMULA_FUNCTIONS[func]
    if len(args) < low or (high is not None and len(args) > high):
        raise FormulaError(arity_reason(func, low, high, len(args)))
    return Call(func, tuple(as_expr(a) for a in args))


def arity_reason(func: str, low: int, high: int | None, got: int) -> str:
    """Say that `func` takes `low` (to `high`) arguments, not `got`: for calls built and parsed."""
    if low == high:
        text = ngettext(
            "`{func}` takes exactly {low} argument(s), got {got}",
            "`{func}` takes exactly {low} argument(s), got {got}",
            low,
        )
    else:
        text = ngettext(
            "`{func}` takes at least {low} argument(s), got {got}",
            "`{func}` takes at least {low} argument(s), got {got}",
            low,
        )
    return text.format(func=func, low=low, got=got)


def check_name(
    name: object, *, what: str = N_("a node name"), limits: Limits = DEFAULT_LIMITS
) -> str:
    """Return `name` if it can name a node, else raise `FormulaError` saying why.

    A name is a Unicode identifier (`лиды` is fine), not a function of the formula
    language, and unchanged by NFKC normalisation: Python folds full-width `ｌｅａｄｓ` into
    `leads`, so two names that look different could be one; kpitree refuses the first.

    Examples:
        >>> check_name("выручка")
        'выручка'
        >>> check_name("2x")
        Traceback (most recent call last):
        ...
        kpitree.errors.FormulaError: `2x` cannot be a node name: ...
    """
    # A model names each node several times (its key, its uses in formulas); a name found
    # valid under these limits stays valid, and only a refusal needs `what` in a message.
    if type(name) is str and (name, limits.max_name_chars) in _VALID_NAMES:
        return name
    what = _(what)  # an N_-marked phrase (or one already translated, which stays as it is)
    if not isinstance(name, str):
        raise ValueTypeError(
            _("{what} must be text, got {type} {value}").format(
                what=what, type=type(name).__name__, value=quoted(name)
            )
        )
    check_name_length(name, limits, what=what)  # before any message quotes the name
    if not name.isidentifier():
        raise FormulaError(
            _(
                "`{name}` cannot be {what}: use letters, digits and `_`, not starting with a digit"
            ).format(name=name, what=what),
            hint=_("try `{name}`").format(name=_identifier_like(name)),
            names=[name],
        )
    normal = unicodedata.normalize("NFKC", name)
    if normal != name:
        raise FormulaError(
            _(
                "`{name}` cannot be {what}: it has compatibility characters that read as `{normal}`"
            ).format(name=name, what=what, normal=normal),
            hint=_("write `{normal}`").format(normal=normal),
            names=[name],
        )
    if name in FORMULA_FUNCTIONS:
        raise FormulaError(
            _("`{name}` cannot be {what}: it is a function of the formula language").format(
                name=name, what=what
            ),
            hint=_("try `{name}`").format(name=f"{name}_value"),
            names=[name],
        )
    if len(_VALID_NAMES) >= _MAX_VALID_NAMES:  # a long-lived process reading many models
        _VALID_NAMES.clear()
    _VALID_NAMES.add((name, limits.max_name_chars))
    return name


_VALID_NAMES: set[tuple[str, int]] = set()
_MAX_VALID_NAMES = 1 << 18


def _identifier_like(text: str) -> str:
    cleaned = "".join(ch if (ch.isalnum() or ch == "_") else "_" for ch in text.strip())
    cleaned = cleaned or "name"
    return f"_{cleaned}" if cleaned[0].isdigit() else cleaned


# Precedence levels for printing; larger binds tighter.
_SUM, _PRODUCT, _UNARY, _POWER, _ATOM = 1, 2, 3, 4, 5


def _precedence(expr: Expr) -> int:
    if isinstance(expr, Add | Sub):
        return _SUM
    if isinstance(expr, Mul | Div):
        return _PRODUCT
    if isinstance(expr, Neg):
        return _UNARY
    if isinstance(expr, Const) and (expr.value < 0 or _const_text(expr.value)[0] == "-"):
        return _UNARY
    if isinstance(expr, Pow):
        return _POWER
    return _ATOM


def _const_text(value: int | float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def format_expr(expr: Expr) -> str:
    """Return formula text that `parse_formula` reads back to an equal expression.

    Parentheses appear only where precedence or associativity needs them.

    Examples:
        >>> from kpitree.language.parser import parse_formula
        >>> format_expr(parse_formula("(a + b) * c - (d - e) / f ** -2"))
        '(a + b) * c - (d - e) / f ** -2'
    """

    def wrap(sub: Expr, minimum: int) -> str:
        text = fmt(sub)
        return f"({text})" if _precedence(sub) < minimum else text

    def fmt(e: Expr) -> str:
        if isinstance(e, Const):
            return _const_text(e.value)
        if isinstance(e, Ref):
            return e.name
        if isinstance(e, Add):
            first, *rest = e.terms
            return " + ".join([wrap(first, _SUM), *(wrap(t, _SUM + 1) for t in rest)])
        if isinstance(e, Sub):
            return f"{wrap(e.left, _SUM)} - {wrap(e.right, _SUM + 1)}"
        if isinstance(e, Mul):
            first, *rest = e.factors
            return " * ".join([wrap(first, _PRODUCT), *(wrap(f, _PRODUCT + 1) for f in rest)])
        if isinstance(e, Div):
            return f"{wrap(e.left, _PRODUCT)} / {wrap(e.right, _PRODUCT + 1)}"
        if isinstance(e, Neg):
            return f"-{wrap(e.operand, _UNARY + 1)}"
        if isinstance(e, Pow):
            return f"{wrap(e.base, _ATOM)} ** {wrap(e.exponent, _UNARY)}"
        if isinstance(e, Call):
            return f"{e.func}({', '.join(fmt(a) for a in e.args)})"
        raise TypeError(f"not a formula expression: {e!r}")

    return fmt(expr)


def constant_value(expr: Expr) -> float | None:
    """Return the float value of an expression with no references, or None if it has some.

    Float arithmetic is bounded, so this is safe on hostile input: `10 ** 10 ** 10`
    overflows at once instead of building a ten-billion-digit integer.

    Raises:
        OverflowError, ValueError, ZeroDivisionError: the constant has no finite value.
    """
    if any(isinstance(node, Ref) for node in walk(expr)):
        return None
    return _float_value(expr)


def _float_value(e: Expr) -> float:
    """Compute an expression that has no references with floats (depth is bounded)."""
    if isinstance(e, Const):
        return float(e.value)
    args = [_float_value(c) for c in children(e)]
    if isinstance(e, Add):
        result = math.fsum(args)
    elif isinstance(e, Mul):
        result = math.prod(args)
    elif isinstance(e, Sub):
        result = args[0] - args[1]
    elif isinstance(e, Div):
        result = args[0] / args[1]
    elif isinstance(e, Pow):
        result = math.pow(args[0], args[1])
    elif isinstance(e, Neg):
        result = -args[0]
    elif isinstance(e, Call):
        result = float(FUNCTIONS[e.func].python(*args))
    else:  # pragma: no cover - every expression type is handled above
        raise TypeError(repr(e))
    if not math.isfinite(result):
        raise OverflowError(_("constant out of the float range"))  # shown as the cause
    return result


def check_formula(expr: Expr, limits: Limits = DEFAULT_LIMITS, *, where: str | None = None) -> None:
    """Refuse a formula beyond the safety limits or with a constant that has no finite value.

    Checks the number of nodes, the nesting depth (flat sums and products count once),
    that every constant part is a finite float, and that constant exponents stay within
    `limits.max_exponent` — so nothing downstream (sympy included) is asked to build a
    number with billions of digits. One pass down and one up; no recursion but over
    constant parts, whose depth the first pass has bounded.

    Raises:
        LimitError: a limit is exceeded.
        FormulaError: a constant part overflows or divides by zero.
    """
    order: list[Expr] = []
    stack: list[tuple[Expr, int]] = [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        order.append(node)
        if len(order) > limits.max_formula_nodes:
            raise LimitError(
                ngettext(
                    "the formula has more than {count} parts",
                    "the formula has more than {count} parts",
                    limits.max_formula_nodes,
                ).format(count=shown(limits.max_formula_nodes)),
                where=where,
                hint=_("split it into intermediate metrics, or raise {limit}").format(
                    limit="Limits.max_formula_nodes"
                ),
            )
        if depth > limits.max_depth:
            raise depth_error(limits.max_depth, where=where)
        stack.extend((child, depth + 1) for child in children(node))
    # Children before parents: which parts hold a reference.
    has_ref: dict[int, bool] = {}
    for node in reversed(order):
        has_ref[id(node)] = isinstance(node, Ref) or any(has_ref[id(c)] for c in children(node))
    for node in order:
        if isinstance(node, Pow) and not has_ref[id(node.exponent)]:
            try:
                exponent = _float_value(node.exponent)
            except (OverflowError, ValueError, ZeroDivisionError):
                exponent = math.inf
            if abs(exponent) > limits.max_exponent:
                raise LimitError(
                    _("the exponent `{exponent}` is larger than {limit}").format(
                        exponent=format_expr(node.exponent),
                        limit=shown(limits.max_exponent, grouped=False),
                    ),
                    where=where,
                    hint=_(
                        "business formulas use small exponents; raise {limit} if this one is meant"
                    ).format(limit="Limits.max_exponent"),
                )
    # Every largest part without references must have a finite value.
    parts = [expr]
    while parts:
        node = parts.pop()
        if has_ref[id(node)]:
            parts.extend(children(node))
            continue
        try:
            _float_value(node)
        except (OverflowError, ValueError, ZeroDivisionError) as exc:
            raise FormulaError(
                _("a constant part of the formula has no finite value ({cause})").format(cause=exc),
                where=where,
                hint=_("numbers must stay within ±1.8e308, and constants cannot divide by zero"),
            ) from None


def depth_error(limit: int, *, where: str | None = None, **kwargs: Any) -> LimitError:
    """The error for a formula nested deeper than `limit`: for formulas built and parsed."""
    return LimitError(
        ngettext(
            "the formula nests deeper than {limit} levels",
            "the formula nests deeper than {limit} levels",
            limit,
        ).format(limit=limit),
        where=where,
        hint=_("split it into intermediate metrics, or raise {limit}").format(
            limit="Limits.max_depth"
        ),
        **kwargs,
    )

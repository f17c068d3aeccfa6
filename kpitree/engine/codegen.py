r"""Generated code: the one place where formulas become Python source and `exec` runs.

Every fast path of kpitree (evaluation, the incremental what-if, the reverse-mode
gradient, attribution's terms) is straight-line Python generated from a validated tree
and compiled here, by `define`. The invariant that makes this safe:

    Generated source is made only of slots named here from positions (`x0`, `m3`,
    `v[2]`, ...), float literals written by `repr`, operators, parentheses, and the
    runtime's own names (`_min`, `_log`, `_pow`, `_fix`) taken from the function table.
    No name, text or number from a user or a file reaches it: formulas arrive as
    validated expression nodes, and `python_code` replaces every name by its slot.

`define` checks the invariant before compiling: every identifier in the source must be
a slot (a lowercase letter and digits), a name with one leading `_`, or one of the few
keywords generated code uses; anything else (a node's name pasted by mistake) raises.

Examples:
    >>> from kpitree.language.parser import parse_formula
    >>> python_code(parse_formula("leads * rate / 2"), {"leads": "x0", "rate": "x1"})
    '((x0 * x1) / (2.0))'
    >>> define("def _f(x0):\n    return _sqrt(x0)\n", RUNTIME, "example")["_f"](9.0)
    3.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from kpitree.language.expr import Add, Call, Const, Div, Expr, Mul, Neg, Pow, Ref, Sub
from kpitree.language.table import FUNCTIONS

__all__ = ["RUNTIME", "define", "numpy_runtime", "python_code"]


def _defined(x: float) -> float:
    """Return `x` if it is a finite number; raise (the careful path explains why) if not."""
    if x - x == 0.0:  # False for ±inf and NaN
        return x
    raise OverflowError("an undefined part")


def _pow(base: float, exponent: float) -> float:
    # math.pow(nan, 0) and math.pow(1, nan) are 1.0: undefined in, undefined out instead.
    return math.pow(_defined(base), _defined(exponent))


#: The functions generated code calls, for Python floats, by backend-neutral name.
RUNTIME: dict[str, Any] = {
    **{f"_{name}": function.python for name, function in FUNCTIONS.items()},
    "_pow": _pow,
    "_fix": _defined,
}


def numpy_runtime() -> dict[str, Any]:
    """Return the functions generated code calls, for numpy arrays (undefined → NaN)."""
    import numpy as np

    def fix(values: Any) -> Any:
        # One cheap reduction finds the common case (all finite); only then mask.
        values = np.asarray(values, dtype=np.float64)
        if np.isfinite(np.add.reduce(values, axis=None)):
            return values
        return np.where(np.isinf(values), np.nan, values)

    def power(base: Any, exponent: Any) -> Any:
        # np.power(nan, 0) and np.power(1, nan) are 1.0: undefined in, undefined out.
        defined = np.isfinite(base) & np.isfinite(exponent)
        return np.where(defined, np.power(base, exponent), np.nan)

    def guarded(fast: Callable[..., Any], careful: Callable[..., Any]) -> Callable[..., Any]:
        def run(x: Any) -> Any:
            try:
                with np.errstate(over="raise", divide="ignore", invalid="ignore", under="ignore"):
                    return fast(x)
            except FloatingPointError:  # an overflow: check every metric this time
                with np.errstate(all="ignore"):
                    return careful(x)

        return run

    return {
        **{f"_{name}": function.numpy(np) for name, function in FUNCTIONS.items()},
        "_pow": power,
        "_fix": fix,
        "_guarded": guarded,
    }


def python_code(expr: Expr, slots: Mapping[str, str]) -> str:
    """Return Python source for `expr`, each name replaced by its slot (`x0`, `m3`).

    Functions become `_min`, `_log`, ... looked up in the runtime namespace of the
    backend; no text from the formula other than these fixed tokens reaches the source.

    The undefined rule (see `kpitree.engine.evaluate`) needs a check only where an
    undefined part could vanish into a finite value: a divisor (`1 / inf` is 0), the
    base of a power with an exponent ≤ 0, the arguments of `min`, `max` and `exp` (the
    table's `absorbs`), and every power with a computed exponent (`1 ** nan` is 1). There
    a part that is computed (not a slot nor a constant) goes through `_fix`, which
    raises for floats and gives NaN for arrays; everywhere else NaN and ±inf carry on by
    themselves to the metric, whose value is checked.

    Examples:
        >>> from kpitree.language.parser import parse_formula
        >>> python_code(parse_formula("1 / (x / 0)"), {"x": "x0"})
        '((1.0) / _fix((x0 / (0.0))))'
    """
    if isinstance(expr, Const):
        return f"({float(expr.value)!r})"
    if isinstance(expr, Ref):
        return slots[expr.name]
    if isinstance(expr, Add):
        return "(" + " + ".join(python_code(t, slots) for t in expr.terms) + ")"
    if isinstance(expr, Mul):
        return "(" + " * ".join(python_code(f, slots) for f in expr.factors) + ")"
    if isinstance(expr, Sub):
        return f"({python_code(expr.left, slots)} - {python_code(expr.right, slots)})"
    if isinstance(expr, Div):
        return f"({python_code(expr.left, slots)} / {_checked(expr.right, slots)})"
    if isinstance(expr, Neg):
        return f"(-{python_code(expr.operand, slots)})"
    if isinstance(expr, Pow):
        exponent = expr.exponent
        if isinstance(exponent, Const) and float(exponent.value).is_integer() and exponent.value:
            # float ** int is never complex; overflow and 0 ** -n raise; inf ** -n is 0.
            base = (
                python_code(expr.base, slots) if exponent.value > 0 else _checked(expr.base, slots)
            )
            return f"({base} ** {int(exponent.value)})"
        return f"_pow({python_code(expr.base, slots)}, {python_code(exponent, slots)})"
    if isinstance(expr, Call):
        code = _checked if FUNCTIONS[expr.func].absorbs else python_code
        return f"_{expr.func}({', '.join(code(a, slots) for a in expr.args)})"
    raise TypeError(repr(expr))  # pragma: no cover


def _checked(expr: Expr, slots: Mapping[str, str]) -> str:
    """Source for `expr` where an undefined value must not vanish (see `python_code`)."""
    code = python_code(expr, slots)
    return code if isinstance(expr, Const | Ref) else f"_fix({code})"


# An identifier that is neither a slot (`x0`, `v`), a runtime name with one leading `_`, nor
# a keyword generated code uses. The `e` of a float literal (`1e-05`) follows a digit, so
# the look-behind passes it over.
_FOREIGN = re.compile(r"(?<!\w)(?!(?:[a-z]\d*|_[A-Za-z]\w*|def|return|lambda)(?!\w))[^\W\d]\w*")


def check_source(source: str) -> None:
    r"""Raise `ValueError` if `source` has an identifier generated code never writes.

    Examples:
        >>> check_source("def _f(x0):\n    return _log(x0) * 1e-05\n")
        >>> check_source("def _f(x0):\n    return leads\n")
        Traceback (most recent call last):
        ...
        ValueError: generated code may not contain the identifier `leads`
    """
    found = _FOREIGN.search(source)
    if found is not None:
        raise ValueError(f"generated code may not contain the identifier `{found.group()}`")


def define(source: str, runtime: Mapping[str, Any], what: str) -> dict[str, Any]:
    """Check and run generated `source` in a namespace made from `runtime`; return it.

    Args:
        source: Python source made by kpitree's generators (see the module doc).
        runtime: the functions the source calls (`RUNTIME` or `numpy_runtime()`, with
            additions of the caller's own, whose names start with `_`).
        what: what the code is, for tracebacks (`"compiled tree, numpy"`).
    """
    check_source(source)
    namespace = dict(runtime)
    code = compile(source, f"<kpitree {what}>", "exec")
    exec(code, namespace)  # noqa: S102  # safe: the invariant above, checked just now
    return namespace

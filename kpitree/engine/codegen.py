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
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

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

    def fix_in_place(values: Any) -> None:
        # `fix` for a buffer of generated code's own: the same values, no new array.
        if not np.isfinite(np.add.reduce(values, axis=None)):
            np.copyto(values, np.nan, where=np.isinf(values))

    def guarded(
        fast: Callable[..., Any],
        careful: Callable[..., Any],
        rows: Callable[[bool], Rows] | None = None,
    ) -> Callable[..., Any]:
        # `rows(finite)` makes the in-place functions for long columns, on the first call.
        made: dict[bool, Rows] = {}

        def run(x: Any, finite: bool = True, blocks: bool = False) -> Any:
            # finite=False: the leaf arrays may hold ±inf, undefined like NaN (frames);
            # blocks=True: columns may be long, to go through block by block (see below).
            length = None if rows is None or not blocks else _long_columns(np, x)
            if length is not None:
                assert rows is not None
                if finite not in made:
                    made[finite] = rows(finite)
                return _blocked(np, made[finite], x, length)
            if not finite:
                x = [_finite_leaf(np, v) for v in x]
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
        "_fixin": fix_in_place,
        "_guarded": guarded,
        "_copyto": np.copyto,
        "_add": np.add,
        "_subtract": np.subtract,
        "_multiply": np.multiply,
        "_divide": np.divide,
        "_negative": np.negative,
    }


# -- long array evaluations: in place, block by block ---------------------------------------

#: Rows per block of a long evaluation: few enough that a block's columns stay in the
#: CPU's cache between the steps of the formulas, many enough that the Python between
#: the steps costs little.
BLOCK_ROWS = 1 << 16

#: Rows from which an evaluation goes block by block (and, with two cores, on two threads).
BLOCKED_FROM = 1 << 18


@attrs.frozen
class Rows:
    """A tree compiled for long columns: metrics written in place into given buffers.

    Attributes:
        fast, careful: `function(leaves, metrics, temporaries)` for one block: leaf
            values in, metric buffers filled; `fast` checks for ±inf only the metrics
            whose formulas can make it, `careful` every metric (after an overflow).
        metrics: how many metrics (buffers) the functions fill.
        temporaries: how many scratch buffers of a block's length the functions use.
        guarded: for leaves that may hold ±inf, the leaves (indices) whose columns
            must be checked, block by block (see `numpy_rows`); else empty.
    """

    fast: Callable[..., None]
    careful: Callable[..., None]
    metrics: int
    temporaries: int
    guarded: tuple[int, ...] = ()


def numpy_rows(
    leaves: Sequence[str],
    metrics: Sequence[str],
    formulas: Sequence[Expr],
    fix: Callable[[Expr], bool],
    *,
    finite: bool = True,
) -> tuple[str, int, tuple[int, ...]]:
    r"""Return source writing each metric in place into its buffer, and the scratch buffers used.

    The same operations in the same order as `python_code`'s expression, as numpy
    ufuncs writing into their last argument: a metric is built in its own output buffer,
    a second operand in a scratch buffer (`t0`, `t1`, ...), so a long evaluation
    allocates nothing per step.
    A power or a function call is computed as `python_code` writes it and copied in.
    `fix(formula)` says which metrics get the ±inf → NaN check. Slots are named as in
    the compiled tree's source: `x0`, ... for `leaves`, `m0`, ... for `metrics`.

    `finite=False` is for leaves that may hold ±inf, undefined like NaN, without a pass
    over every leaf column to find out: ±inf carries on through `+ - *`, a numerator,
    a positive power, `abs`, `log`, `sqrt` as ±inf or NaN, so a metric that uses a leaf
    there gets the metric's check, which makes the row NaN as a NaN leaf would. Only
    where a leaf itself could vanish (a divisor, `min`, `max`, `exp`: `_checked`'s
    places) must its column be checked: the third value returned lists those leaves
    (indices into `leaves`); with `finite=True` it is empty.

    Examples:
        >>> from kpitree.language.expr import Div, Ref, Sub
        >>> x, y = Ref("x"), Ref("y")
        >>> f = Div(Sub(x, y), Sub(y, x))
        >>> source, temporaries, _ = numpy_rows(["x", "y"], ["r"], [f], lambda f: True)
        >>> print(source)
        def _rows(x, m, t):
            x0, x1, = x
            m0, = m
            t0, = t
            _subtract(x0, x1, m0)
            _subtract(x1, x0, t0)
            _fixin(t0)
            _divide(m0, t0, m0)
            _fixin(m0)
        <BLANKLINE>
    """
    slots = {name: f"x{i}" for i, name in enumerate(leaves)}
    slots.update({name: f"m{i}" for i, name in enumerate(metrics)})
    lines = ["def _rows(x, m, t):"]
    if leaves:
        lines.append(f"    {', '.join(f'x{i}' for i in range(len(leaves)))}, = x")
    if metrics:
        lines.append(f"    {', '.join(f'm{i}' for i in range(len(metrics)))}, = m")
    body: list[str] = []
    used = [0]

    def value(expr: Expr, target: str | None, depth: int) -> str:
        """Code for `expr`'s value: a slot or literal as is, else computed into `target`.

        A target of None is the scratch buffer of this depth.
        """
        if isinstance(expr, Const | Ref):
            return python_code(expr, slots)
        if target is None:
            used[0] = max(used[0], depth)
            target = f"t{depth - 1}"
        emit(expr, target, depth)
        return target

    def checked(expr: Expr, depth: int) -> str:
        code = value(expr, None, depth)
        if not isinstance(expr, Const | Ref):
            body.append(f"    _fixin({code})")
        return code

    def emit(expr: Expr, target: str, depth: int) -> None:
        if isinstance(expr, Add | Mul):
            ufunc = "_add" if isinstance(expr, Add) else "_multiply"
            parts = expr.terms if isinstance(expr, Add) else expr.factors
            left = value(parts[0], target, depth)
            for part in parts[1:]:
                right = value(part, None, depth + 1)
                body.append(f"    {ufunc}({left}, {right}, {target})")
                left = target
        elif isinstance(expr, Sub):
            left = value(expr.left, target, depth)
            right = value(expr.right, None, depth + 1)
            body.append(f"    _subtract({left}, {right}, {target})")
        elif isinstance(expr, Div):
            left = value(expr.left, target, depth)
            right = checked(expr.right, depth + 1)
            body.append(f"    _divide({left}, {right}, {target})")
        elif isinstance(expr, Neg):
            body.append(f"    _negative({value(expr.operand, target, depth)}, {target})")
        else:  # a constant, a slot, a power, a call: as an expression, copied in
            body.append(f"    _copyto({target}, {python_code(expr, slots)})")

    index = {name: i for i, name in enumerate(leaves)}
    guarded: set[int] = set()
    for i, formula in enumerate(formulas):
        emit(formula, f"m{i}", 0)
        carried = False
        if not finite:
            plain, vanishing = _leaf_places(formula, index)
            guarded |= vanishing
            carried = bool(plain)
        if fix(formula) or carried:
            body.append(f"    _fixin(m{i})")
    if used[0]:
        lines.append(f"    {', '.join(f't{i}' for i in range(used[0]))}, = t")
    return "\n".join([*lines, *body]) + "\n", used[0], tuple(sorted(guarded))


def _leaf_places(expr: Expr, leaves: Mapping[str, int]) -> tuple[set[int], set[int]]:
    """The leaves `expr` uses where ±inf reaches its value, and where it could vanish.

    A part `python_code` checks (`_checked`) that is computed gets its own check, so
    ±inf from the leaves inside it reaches no further (it may still vanish deeper in);
    a checked part that is a leaf is a place where ±inf could vanish (`1 / inf` is 0).
    `_pow` makes any undefined part NaN itself.
    """
    plain: set[int] = set()
    vanishing: set[int] = set()

    def visit(part: Expr, checked: bool, covered: bool) -> None:
        if isinstance(part, Ref):
            if part.name in leaves and checked:
                vanishing.add(leaves[part.name])
            elif part.name in leaves and not covered:
                plain.add(leaves[part.name])
            return
        if isinstance(part, Const):
            return
        inner = covered or checked  # a computed checked part: its check covers it
        if isinstance(part, Add | Mul):
            for term in part.terms if isinstance(part, Add) else part.factors:
                visit(term, False, inner)
        elif isinstance(part, Sub):
            visit(part.left, False, inner)
            visit(part.right, False, inner)
        elif isinstance(part, Div):
            visit(part.left, False, inner)
            visit(part.right, True, inner)
        elif isinstance(part, Neg):
            visit(part.operand, False, inner)
        elif isinstance(part, Pow):
            exponent = part.exponent
            if (
                isinstance(exponent, Const)
                and float(exponent.value).is_integer()
                and exponent.value
            ):
                visit(part.base, exponent.value < 0, inner)
            else:  # `_pow`: NaN unless both parts are finite
                visit(part.base, False, True)
                visit(exponent, False, True)
        elif isinstance(part, Call):
            absorbs = FUNCTIONS[part.func].absorbs
            for arg in part.args:
                visit(arg, absorbs, inner)

    visit(expr, False, False)
    return plain, vanishing


def _long_columns(np: Any, x: Sequence[Any]) -> int | None:
    """The rows of a long evaluation of 1-D float64 columns (and scalars); None otherwise."""
    rows = None
    for value in x:
        if not isinstance(value, np.ndarray | np.float64):
            return None
        if value.ndim == 0:
            continue
        if (
            value.ndim != 1
            or value.dtype != np.float64
            or len(value) < BLOCKED_FROM
            or (rows is not None and len(value) != rows)
        ):
            return None  # short columns (the first one tells) go in one piece
        rows = len(value)
    return rows


def _finite_leaf(np: Any, values: Any) -> Any:
    """A leaf's values with ±inf as NaN (undefined), without copying in the common case."""
    with np.errstate(all="ignore"):
        if np.ndim(values) == 0 or math.isfinite(np.add.reduce(values, axis=None)):
            return values if np.ndim(values) or math.isfinite(values) else np.float64(math.nan)
    infinite = np.isinf(values)  # a NaN, an infinity, or a sum that overflowed
    return np.where(infinite, np.nan, values) if infinite.any() else values


def _threads() -> int:
    """Threads for a long evaluation: two where this process may use two cores."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return 2 if cores >= 2 else 1


_POOL: list[Any] = []


def _pool() -> Any:
    """The one worker thread long evaluations share (made on first use)."""
    if not _POOL:
        from concurrent.futures import ThreadPoolExecutor

        _POOL.append(ThreadPoolExecutor(1, thread_name_prefix="kpitree-rows"))
    return _POOL[0]


_QUIET = {"over": "raise", "divide": "ignore", "invalid": "ignore", "under": "ignore"}


def _blocked(np: Any, rows: Rows, x: Sequence[Any], length: int) -> tuple[Any, ...]:
    """Evaluate long columns block by block, in place: the numbers of the whole evaluation.

    Rows are independent, so each block gives its rows exactly as the whole evaluation
    does; an overflow in any block makes every block run the careful function, as an
    overflow anywhere makes the whole evaluation do. Every metric gets a column, a
    metric of constants too. numpy releases the GIL inside its loops, so with two cores
    a worker thread takes blocks too: each thread takes the next block left, so a thread
    that runs slowly (a core just woken from idle can run several times slower for a
    while) takes fewer blocks instead of holding up the result.
    """
    import queue

    out = [np.empty(length) for _ in range(rows.metrics)]
    starts = range(0, length, BLOCK_ROWS)

    def fill(
        function: Callable[..., None], blocks: queue.SimpleQueue[int], errors: Mapping[str, str]
    ) -> bool:
        scratch = [np.empty(BLOCK_ROWS) for _ in range(rows.temporaries)]
        with np.errstate(**errors):
            while True:
                try:
                    start = blocks.get_nowait()
                except queue.Empty:
                    return True
                stop = min(start + BLOCK_ROWS, length)
                leaves = [v[start:stop] if v.ndim else v for v in x]
                if rows.guarded:
                    with np.errstate(all="ignore"):
                        for i in rows.guarded:
                            leaves[i] = _finite_leaf(np, leaves[i])
                temps = (
                    scratch if stop - start == BLOCK_ROWS else [t[: stop - start] for t in scratch]
                )
                try:
                    function(leaves, [o[start:stop] for o in out], temps)
                except FloatingPointError:
                    return False

    def run(function: Callable[..., None], errors: Mapping[str, str]) -> bool:
        blocks: queue.SimpleQueue[int] = queue.SimpleQueue()
        for start in starts:
            blocks.put(start)
        if _threads() < 2 or len(starts) < 2:
            return fill(function, blocks, errors)
        other = _pool().submit(fill, function, blocks, errors)
        mine = fill(function, blocks, errors)
        return bool(other.result()) and mine

    if not run(rows.fast, _QUIET):  # an overflow somewhere: check every metric, everywhere
        run(rows.careful, {"all": "ignore"})
    return tuple(out)


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

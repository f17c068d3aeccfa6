"""Evaluation: the tree compiled once into a Python function, node by node.

The one rule for undefined values, shared by every backend:

    A metric is *undefined* when its formula divides by zero, takes the log of a number
    that is not positive or the square root of a negative one, raises a negative number
    to a fractional power, or its value leaves the float range. Everything computed from
    an undefined value is undefined too (also through `min` and `max`). `evaluate`
    raises `EvaluationError` naming the first undefined metric and its formula;
    `evaluate(..., undefined="nan")`, DataFrames and arrays give NaN; SQL gives NULL.

Leaf values must be finite numbers: NaN or infinity given as a value is an error, not an
undefined result. Evaluation goes node by node through the tree's own formulas — never
through a simplified composite, where sympy would cancel `ql / leads` and hide a
division by zero.

The compiled function is generated Python source built from the validated tree: leaves
and metrics are positional slots (`x0`, `m3`), constants are float literals, and no text
from a user or a file is part of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, get_args

import attrs

from kpitree.engine import codegen
from kpitree.engine.codegen import RUNTIME
from kpitree.errors import ArgumentError, EvaluationError, MissingValueError
from kpitree.i18n import _, ngettext
from kpitree.language.expr import (
    Add,
    Call,
    Const,
    Div,
    Expr,
    Mul,
    Neg,
    Pow,
    Ref,
    Sub,
    children,
    constant_value,
    format_expr,
    walk,
)
from kpitree.language.table import FUNCTIONS
from kpitree.model.graph import CacheKey
from kpitree.model.nodes import Metric
from kpitree.model.numbers import format_number
from kpitree.model.results import Values

if TYPE_CHECKING:
    from kpitree.model.graph import Graph

__all__ = [
    "Compiled",
    "UndefinedValue",
    "compile_tree",
    "evaluate",
    "evaluate_arrays",
    "evaluate_vector",
    "interpret",
    "known_values",
    "leaf_vector",
    "missing_values_error",
]

_COMPILED: dict[str, CacheKey[Compiled]] = {
    b: CacheKey(f"compiled for {b}") for b in ("python", "numpy")
}
_DEFAULTS: CacheKey[list[Any]] = CacheKey("leaf defaults in compiled order")
_POSITIONS: CacheKey[dict[str, int]] = CacheKey("node positions: leaves, then metrics")
_UNSET: CacheKey[list[str]] = CacheKey("leaves without a default value")

Undefined = Literal["raise", "nan"]

_STAR_LEAVES = 128
"""From this many leaves on, the compiled Python function takes them as parameters
(unpacking into locals past the first 256 costs an extra instruction per store)."""


Backend = Literal["python", "numpy"]


@attrs.frozen
class Compiled:
    """A tree compiled to one function, for Python floats or for numpy arrays.

    Attributes:
        leaves: leaf names, in the order the function takes their values.
        metrics: metric names, children before parents: the order of the results.
        function: `function(leaf_values) -> metric_values`. With Python floats an
            undefined value raises or is not finite (`evaluate_vector` checks); with
            numpy undefined values are already NaN.
        source: the generated source, for reading and debugging.
        backend: `"python"` or `"numpy"`.
    """

    leaves: tuple[str, ...]
    metrics: tuple[str, ...]
    function: Callable[[Sequence[Any]], tuple[Any, ...]] = attrs.field(repr=False)
    source: str = attrs.field(repr=False)
    backend: Backend = "python"
    index: dict[str, int] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "index", {name: i for i, name in enumerate(self.leaves)})

    def __call__(self, leaf_values: Sequence[Any]) -> tuple[Any, ...]:
        """Return the metric values for leaf values given in `leaves` order."""
        return self.function(leaf_values)


def compile_tree(tree: Graph, backend: Backend = "python") -> Compiled:
    """Compile `tree` into one function, once per tree and backend (cached).

    The numpy backend takes arrays (or scalars) and gives arrays, with every undefined
    value NaN, so that `1 / (x / 0)` is NaN, as SQL's NULL would be, and not 0. Only
    metrics whose own formula can turn finite numbers into ±inf (a division, a power,
    a log) pay for a check that turns ±inf into NaN; an overflow anywhere else is caught
    by numpy's floating-point flags, and then the whole evaluation is repeated with the
    check on every metric.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> c = compile_tree(qualified_leads())
        >>> c.leaves, c.metrics, c([1000.0, 0.8])
        (('leads', 'lead_to_ql'), ('qualified_leads',), (800.0,))
    """
    return tree.cached(_COMPILED[backend], lambda: _compile_tree(tree, backend))


def _compile_tree(tree: Graph, backend: Backend) -> Compiled:
    leaves = tuple(leaf.name for leaf in tree.leaves)
    metrics = tuple(n for n in tree._topo if isinstance(tree[n], Metric))
    formulas = [tree[n].formula for n in metrics]  # type: ignore[attr-defined]
    if backend == "python":
        star = len(leaves) >= _STAR_LEAVES
        source = _source(leaves, metrics, formulas, fix=lambda formula: False, star=star)
        function = codegen.define(source, RUNTIME, f"compiled tree, {backend}")["_tree"]
    else:
        runtime = codegen.numpy_runtime()
        source = _source(leaves, metrics, formulas, fix=_numpy_fix)
        fast = codegen.define(source, runtime, f"compiled tree, {backend}")["_tree"]
        careful_source = _source(leaves, metrics, formulas, fix=lambda f: True)
        careful = codegen.define(careful_source, runtime, f"compiled tree, {backend}")["_tree"]
        function = runtime["_guarded"](
            fast, careful, lambda finite: _in_place(leaves, metrics, formulas, runtime, finite)
        )
    return Compiled(leaves, metrics, function, source, backend)


def _in_place(
    leaves: Sequence[str],
    metrics: Sequence[str],
    formulas: Sequence[Expr],
    runtime: Any,
    finite: bool,
) -> codegen.Rows:
    """The tree for long columns: the same formulas written in place, block by block."""
    rows = [
        codegen.numpy_rows(leaves, metrics, formulas, fix, finite=finite)
        for fix in (_can_make_inf, lambda f: True)
    ]
    fast, careful = (
        codegen.define(code, runtime, "compiled tree, numpy, in place")["_rows"]
        for code, _temps, _guarded in rows
    )
    temporaries = max(t for _code, t, _guarded in rows)
    return codegen.Rows(fast, careful, len(metrics), temporaries, rows[0][2])


def _source(
    leaves: Sequence[str],
    metrics: Sequence[str],
    formulas: Sequence[Expr],
    fix: Callable[[Expr], bool],
    *,
    star: bool = False,
) -> str:
    slots = {name: f"x{i}" for i, name in enumerate(leaves)}
    slots.update({name: f"m{i}" for i, name in enumerate(metrics)})
    if star:
        # The leaves as parameters: the call copies them into the frame in C, where
        # unpacking the vector would store each one by one (1,000 stores at 1,000 leaves).
        lines = ["def _tree(x):", "    return _body(*x)", ""]
        lines.append(f"def _body({', '.join(slots[n] for n in leaves)}):")
    else:
        lines = ["def _tree(x):"]
        if leaves:
            lines.append(f"    {', '.join(slots[n] for n in leaves)}, = x")
    for name, formula in zip(metrics, formulas, strict=True):
        body = codegen.python_code(formula, slots)
        lines.append(f"    {slots[name]} = {f'_fix({body})' if fix(formula) else body}")
    lines.append(f"    return ({''.join(slots[n] + ', ' for n in metrics)})")
    return "\n".join(lines) + "\n"


def _numpy_fix(formula: Expr) -> bool:
    """Whether the numpy source makes the metric a numpy value it checks for infinity.

    Besides what can make an infinity, a constant metric: as a Python float, a power of it
    such as `0.0 ** -1` would raise, where over numpy it is inf and then undefined.
    """
    return _can_make_inf(formula) or constant_value(formula) is not None


def _can_make_inf(formula: Expr) -> bool:
    """Whether finite inputs can give ±inf without an overflow: x / 0, 0 ** -1, log(0)."""
    return any(
        isinstance(node, Div | Pow) or (isinstance(node, Call) and FUNCTIONS[node.func].makes_inf)
        for node in walk(formula)
    )


def evaluate_arrays(tree: Graph, columns: Mapping[str, Any]) -> dict[str, Any]:
    """Evaluate every metric over arrays of leaf values, vectorized (numpy).

    Args:
        tree: the tree.
        columns: an array (or a scalar, broadcast) for each leaf; a leaf missing here
            takes its node's default value.

    Returns:
        `{metric name: float64 array}`; undefined values are NaN (see the module doc).

    Examples:
        >>> import numpy as np
        >>> from kpitree.examples import qualified_leads
        >>> out = evaluate_arrays(qualified_leads(), {"leads": np.array([1000.0, 0.0])})
        >>> out["qualified_leads"].tolist()
        [800.0, 0.0]
    """
    import numpy as np

    compiled = compile_tree(tree, "numpy")
    defaults = tree.leaf_values({k: v for k, v in columns.items() if np.ndim(v) == 0})
    missing = [n for n in compiled.leaves if n not in columns and defaults[n] is None]
    if missing:
        raise missing_values_error(missing)
    for name in columns:
        tree.check_values({name: 0.0})  # names must be leaves; arrays are not checked per row
    # Scalars become numpy scalars too: a Python float would raise on division by zero.
    vector: list[Any] = [
        np.asarray(columns[n] if n in columns else defaults[n], dtype=np.float64)
        for n in compiled.leaves
    ]
    with np.errstate(all="ignore"):
        # Long columns go block by block, in place (`kpitree.engine.codegen`).
        results = compiled.function(vector, True, True)  # type: ignore[call-arg]
    shape = np.broadcast_shapes(*(np.shape(v) for v in vector)) if vector else ()
    return {
        name: np.broadcast_to(np.asarray(value, dtype=np.float64), shape)
        for name, value in zip(compiled.metrics, results, strict=True)
    }


class _Evaluator:
    """What every evaluation of one tree shares, worked out once (cached per tree).

    The default leaf vector (shared: copied before any change), the leaves left without
    a value, and the positions of every node in the slot list of `Values`.
    """

    __slots__ = ("compiled", "defaults", "function", "index", "order", "positions", "unset")

    def __init__(self, tree: Graph) -> None:
        compiled = self.compiled = compile_tree(tree)
        self.function = compiled.function
        self.index = compiled.index
        self.defaults = _defaults(tree, compiled)
        self.unset = tree.cached(
            _UNSET,
            lambda: [n for n, v in zip(compiled.leaves, self.defaults, strict=True) if v is None],
        )
        # The leaf vector and the results in one list, read through positions shared by
        # every evaluation of the tree: no mapping is built per call.
        self.positions = tree.cached(
            _POSITIONS,
            lambda: {n: i for i, n in enumerate((*compiled.leaves, *compiled.metrics))},
        )
        self.order = tree.names

    def vector(self, tree: Graph, values: Mapping[str, Any] | None) -> list[Any]:
        """The leaf vector with `values` in place of the defaults, each value checked.

        Only the given values are checked: a finite float for a leaf is put in place at
        once; anything else (text, an int, a wrong name, NaN) goes through
        `tree.check_values`, which converts it or raises naming every problem.
        """
        if not values:
            vector = self.defaults
            unset = self.unset
        else:
            vector = list(self.defaults)
            index = self.index
            rest: dict[Any, Any] | None = None
            if type(values) is dict:
                for name, value in values.items():
                    i = index.get(name) if type(name) is str else None
                    if i is not None and type(value) is float and value - value == 0.0:
                        vector[i] = value
                    else:
                        if rest is None:
                            rest = {}
                        rest[name] = value
            else:
                rest = values  # type: ignore[assignment]
            if rest is not None:
                for name, value in tree.check_values(rest).items():
                    vector[index[name]] = value
            unset = self.unset
            if unset:
                unset = [n for n in unset if vector[index[n]] is None]
        if unset:
            raise missing_values_error(unset)
        return vector


_EVALUATOR: CacheKey[_Evaluator] = CacheKey("evaluation plan: compiled function, defaults")


def _evaluator(tree: Graph) -> _Evaluator:
    try:
        return tree._cache[_EVALUATOR]  # type: ignore[no-any-return]
    except KeyError:
        return tree.cached(_EVALUATOR, lambda: _Evaluator(tree))


def evaluate(
    tree: Graph, values: Mapping[str, Any] | None = None, *, undefined: Undefined = "raise"
) -> Values:
    """Return the value of every node of `tree` (see the module doc for undefined values).

    Args:
        tree: the tree.
        values: leaf values overriding the nodes' defaults (`"80%"` is 0.8).
        undefined: `"raise"` (an `EvaluationError` naming the metric) or `"nan"`.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> tree = qualified_leads()
        >>> evaluate(tree, {"leads": 1200})["qualified_leads"]
        960.0
    """
    if undefined != "raise":
        _check_mode(undefined)
    plan = tree._cache.get(_EVALUATOR) or _evaluator(tree)
    if values:
        vector = plan.vector(tree, values)
    elif plan.unset:
        raise missing_values_error(plan.unset)
    else:
        vector = plan.defaults
    try:
        results = plan.function(vector)
        # One C-level sum finds any inf or NaN (a false alarm on overflow of the sum
        # itself only sends the values through the careful path, which agrees).
        defined = math.isfinite(sum(results))
    except (ArithmeticError, ValueError):
        defined = False
    if not defined:
        results = _diagnose(tree, plan.compiled, vector, undefined)
    return Values.of_slots(plan.positions, [*vector, *results], tree, order=plan.order)


def leaf_vector(tree: Graph, values: Mapping[str, Any] | None = None) -> Sequence[float]:
    """Every leaf's value in `compile_tree(tree).leaves` order: defaults, then `values`.

    Without `values` the tree's own cached vector is returned: never change it.

    Raises:
        MissingValueError: naming every leaf left without a value.
        UnknownNameError, ValueTypeError, ...: a value `check_values` refuses.
    """
    return _evaluator(tree).vector(tree, values)


def _check_mode(undefined: object) -> None:
    """Refuse an `undefined=` mode other than the accepted ones (`"NaN"` is not `"nan"`)."""
    if undefined in ("raise", "nan"):  # the common case, before `get_args`
        return
    accepted = get_args(Undefined)
    if undefined not in accepted:
        raise ArgumentError(
            _("`undefined` must be one of {accepted}, not {given}").format(
                accepted=", ".join(repr(a) for a in accepted), given=repr(undefined)
            ),
            where="evaluate(..., undefined=...)",
            hint=_("use {option} to get NaN for undefined metrics").format(
                option=f"undefined={accepted[1]!r}"
            ),
        )


def _defaults(tree: Graph, compiled: Compiled) -> list[Any]:
    """Return (and cache) the leaves' default values in compiled order, None where unset."""
    return tree.cached(_DEFAULTS, lambda: [tree[n].value for n in compiled.leaves])  # type: ignore[attr-defined]


def evaluate_vector(
    tree: Graph, vector: Sequence[float], *, undefined: Undefined = "raise"
) -> tuple[float, ...]:
    """Return the metric values (in `compile_tree(tree).metrics` order) for a leaf vector.

    The fast path runs the compiled function; only when it fails or a value is not
    finite does a node-by-node pass find which metric is undefined and why.
    """
    return _run(tree, compile_tree(tree), vector, undefined)


def _run(
    tree: Graph, compiled: Compiled, vector: Sequence[float], undefined: Undefined
) -> tuple[float, ...]:
    try:
        results = compiled.function(vector)
        # One C-level sum finds any inf or NaN (a false alarm on overflow of the sum
        # itself only sends the values through the careful path, which agrees).
        if math.isfinite(sum(results)):
            return results
    except (ArithmeticError, ValueError):
        pass
    return _diagnose(tree, compiled, vector, undefined)


def known_values(tree: Graph, values: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Return every node's value where it can be known, NaN where it cannot.

    Leaves without a value and undefined metrics are NaN: for displays and status
    checks, which must not fail.
    """
    leaf_values = tree.leaf_values(values)
    compiled = compile_tree(tree)
    vector = [math.nan if (v := leaf_values[n]) is None else v for n in compiled.leaves]
    results = evaluate_vector(tree, vector, undefined="nan")
    found: dict[str, float] = dict(zip(compiled.leaves, vector, strict=True))
    found.update(zip(compiled.metrics, results, strict=True))
    return found


class UndefinedValue(ArithmeticError):
    """Raised by `interpret` for an undefined value; `reason` says which operation."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _diagnose(
    tree: Graph, compiled: Compiled, vector: Sequence[float], undefined: Undefined
) -> tuple[float, ...]:
    env: dict[str, float] = dict(zip(compiled.leaves, vector, strict=True))
    out: list[float] = []
    for name in compiled.metrics:
        metric = tree[name]
        assert isinstance(metric, Metric)
        try:
            value = interpret(metric.formula, env)
        except UndefinedValue as exc:
            if undefined == "nan":
                value = math.nan
            else:
                raise _undefined_error(tree, metric, env, exc.reason) from None
        env[name] = value
        out.append(value)
    return tuple(out)


def _undefined_error(
    tree: Graph, metric: Metric, env: Mapping[str, float], reason: str
) -> Exception:
    inputs = ", ".join(
        f"{c.name} = {format_number(env[c.name])}" for c in tree.children(metric.name)
    )
    return EvaluationError(
        _("`{name}` is undefined: {reason}").format(name=metric.name, reason=reason),
        where=_("metric `{name}` = {formula}").format(
            name=metric.name, formula=format_expr(metric.formula)
        ),
        hint=_("with {inputs}; {call} gives NaN instead").format(
            inputs=inputs, call="evaluate(..., undefined='nan')"
        ),
        names=[metric.name],
    )


def interpret(expr: Expr, env: Mapping[str, float]) -> float:
    """Evaluate one formula with floats, naming the operation that makes it undefined.

    The careful path: slower than compiled code, used to explain an undefined value and
    where a single formula must be evaluated on its own.

    Raises:
        UndefinedValue: with the reason (caught by the callers in this package).
    """
    if isinstance(expr, Const):
        return float(expr.value)
    if isinstance(expr, Ref):
        value = env[expr.name]
        if value != value:
            raise UndefinedValue(_("`{name}` is undefined").format(name=expr.name))
        return value
    args = [interpret(a, env) for a in children(expr)]
    try:
        result = _apply(expr, args)
    except ZeroDivisionError:
        raise UndefinedValue(
            _("division by zero in `{formula}`").format(formula=format_expr(expr))
        ) from None
    except (ValueError, OverflowError) as exc:
        raise UndefinedValue(_domain_reason(expr, args, exc)) from None
    if not math.isfinite(result):
        raise UndefinedValue(_overflows(expr))
    return result


def _apply(expr: Expr, args: list[float]) -> float:
    if isinstance(expr, Add):
        return sum(args)
    if isinstance(expr, Mul):
        return math.prod(args)
    if isinstance(expr, Sub):
        return args[0] - args[1]
    if isinstance(expr, Div):
        return args[0] / args[1]
    if isinstance(expr, Neg):
        return -args[0]
    if isinstance(expr, Pow):
        if args[0] == 0 and args[1] < 0:
            raise ZeroDivisionError
        return math.pow(args[0], args[1])
    assert isinstance(expr, Call)
    return float(FUNCTIONS[expr.func].python(*args))


def _domain_reason(expr: Expr, args: list[float], exc: Exception) -> str:
    explain = FUNCTIONS[expr.func].undefined if isinstance(expr, Call) else None
    if explain is not None:
        return explain(format_number(args[0]))
    if isinstance(expr, Pow) and args[0] < 0:
        return _("a negative number ({base}) to the fractional power {power}").format(
            base=format_number(args[0]), power=format_number(args[1])
        )
    if isinstance(exc, OverflowError):
        return _overflows(expr)
    return _("`{formula}` has no real value").format(formula=format_expr(expr))


def _overflows(expr: Expr) -> str:
    return _("`{formula}` overflows the float range").format(formula=format_expr(expr))


def missing_values_error(names: list[str]) -> MissingValueError:
    """Return the one error for leaves without a value, naming every one of them."""
    listed = ", ".join(f"`{n}`" for n in names)
    return MissingValueError(
        ngettext(
            "leaf has no value: {listed}", "{n} leaves have no value: {listed}", len(names)
        ).format(n=len(names), listed=listed),
        hint=_("give a value on the node (value=...) or in the call: {call}").format(
            call=f"evaluate({{{names[0]!r}: ...}})"
        ),
        names=names,
    )

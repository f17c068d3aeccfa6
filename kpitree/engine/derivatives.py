"""Reverse-mode derivatives of a tree: as kpitree expressions and as generated code.

One algorithm does all of it: **reverse-mode differentiation over the tree's own
structure**. The adjoint of the metric is 1; each metric, visited parents before children,
passes its adjoint down to the nodes its formula uses, multiplied by the derivative of the
formula with respect to each of them; a node used by several metrics adds up what it gets.
So the gradient over every leaf costs a few evaluations of the tree, not one per leaf, and
no formula is ever expanded.

The same derivatives are available three ways:

- `gradient_exprs` gives them as kpitree expressions that refer to intermediate metrics
  by name (`Ref("qualified_leads")`), so shared subtrees are not repeated;
- `gradient` and `elasticities` run them as generated Python code (one function that
  takes the forward values and computes every adjoint);
- `partial` turns one of them into sympy, with the metrics expanded down to leaves.

The rules per operator, for a formula node with adjoint `a`:

| node | what each operand receives |
|---|---|
| `x + y + …` | `a` |
| `x - y` | `a`, `-a` |
| `x * y * …` | `a` times the product of the other factors |
| `x / y` | `a / y`, `-a * (x / y) / y` |
| `x ** c` (constant `c`) | `a * c * x ** (c - 1)` |
| `x ** y` | `a * y * x ** (y - 1)`, `a * x ** y * log(x)` |
| `-x` | `-a` |
| `log(x)`, `exp(x)`, `sqrt(x)` | `a / x`, `a * exp(x)`, `a * 0.5 / sqrt(x)` |
| `abs(x)` | `a * sign(x)` — 0 at `x = 0` |
| `min(x, y)` | `a * (1 + sign(y - x)) / 2`, `a * (1 + sign(x - y)) / 2` |
| `max(x, y)` | `a * (1 + sign(x - y)) / 2`, `a * (1 + sign(y - x)) / 2` |

`abs`, `min` and `max` have kinks; there the rules above give the slope a central finite
difference gives for that one function: `sign(0) = 0` for `abs`, and a tie of `min`/`max`
splits the adjoint half and half. `min`/`max` of more than two arguments are folded left
(`min(x, y, z) = min(min(x, y), z)`). `sign` is the one function in derivative expressions
that formulas do not have: `Call("sign", (x,))`, SQL's `SIGN(x)`.

Composed, those half-and-half choices can be wrong: `max(k0, min(k0, k1))` is `k0` itself,
yet at `k0 = k1` the chain of halves gives ∂/∂k0 = 0.75. So `gradient_at` (numbers, not
expressions) takes another way when the reverse pass meets a tie (a `sign` of exactly 0):
for each leaf, forward mode computes the two one-sided slopes of the whole metric, which
compose exactly through piecewise-smooth functions (the slope along +e or −e of
`max(u, v)` at `u == v` is the larger of the slopes of `u` and `v`, of `min` the smaller,
of `abs(u)` at `u == 0` the absolute value of `u`'s). The partial is their mean: where the
metric is differentiable along the leaf both sides agree and that is the true partial; at
a real kink it is the slope of a central difference, between the two sides (a subgradient
where the metric is convex or concave there). Points without a tie keep the one reverse
pass. `gradient_exprs` (SQL's gradient columns, `partial`) keeps the chain of halves,
exact away from ties.

A derivative that is undefined at the given values (`sqrt` at 0, `log` of a base that is
not positive for a variable exponent) raises `EvaluationError`, as an undefined metric does.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kpitree.engine import codegen
from kpitree.engine.codegen import RUNTIME
from kpitree.engine.evaluate import (
    Backend,
    compile_tree,
    evaluate_vector,
    leaf_vector,
)
from kpitree.errors import EvaluationError, KindError
from kpitree.i18n import _
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
    constant_value,
    mul,
)
from kpitree.language.table import FUNCTIONS, Function
from kpitree.model.graph import CacheKey
from kpitree.model.nodes import KPI, Metric

if TYPE_CHECKING:
    from kpitree.model.graph import Graph

__all__ = [
    "below_set",
    "forward_pass",
    "gradient_arrays",
    "gradient_at",
    "gradient_exprs",
    "gradient_points",
    "metric_node",
]

_BELOW: CacheKey[dict[str, frozenset[str]]] = CacheKey("depends_on as a set")
_GRADIENT_FUNCTIONS: CacheKey[dict[tuple[str, str], Any]] = CacheKey("compiled reverse passes")

_ZERO = Const(0)
_ONE = Const(1)
_HALF = Const(0.5)


# -- building derivative expressions without obvious waste ------------------------------------


def _is_const(expr: Expr, value: float) -> bool:
    return isinstance(expr, Const) and expr.value == value


def _times(left: Expr, right: Expr) -> Expr:
    if _is_const(left, 0) or _is_const(right, 0):
        return _ZERO
    if _is_const(left, 1):
        return right
    if _is_const(right, 1):
        return left
    if isinstance(left, Const) and isinstance(right, Const):
        return Const(left.value * right.value)
    return mul(left, right)


def _over(left: Expr, right: Expr) -> Expr:
    if _is_const(left, 0):
        return _ZERO
    if _is_const(right, 1):
        return left
    return Div(left, right)


def _minus(expr: Expr) -> Expr:
    if isinstance(expr, Const):
        return Const(-expr.value)
    if isinstance(expr, Neg):
        return expr.operand
    return Neg(expr)


def _plus(left: Expr | None, right: Expr) -> Expr:
    if left is None or _is_const(left, 0):
        return right
    if _is_const(right, 0):
        return left
    terms = left.terms if isinstance(left, Add) else (left,)
    return Add((*terms, right))


def _sign(expr: Expr) -> Expr:
    return Call("sign", (expr,))


def _step(difference: Expr) -> Expr:
    """`(1 + sign(d)) / 2`: 1 when d > 0, 0 when d < 0, one half at a tie."""
    return _times(_HALF, Add((_ONE, _sign(difference))))


# -- reverse mode inside one formula, then over the tree ---------------------------------------


def _formula_adjoints(formula: Expr, seed: Expr, itself: Expr) -> Iterator[tuple[str, Expr]]:
    """Yield `(name, contribution)` for every reference in `formula`, given its adjoint `seed`.

    `itself` stands for the formula's own value (a `Ref` to the metric), so that the
    derivative of `exp(x)` or of `x / y` refers to the value already computed.
    """
    stack: list[tuple[Expr, Expr]] = [(formula, seed)]
    while stack:
        node, adj = stack.pop()
        if _is_const(adj, 0) or isinstance(node, Const):
            continue
        value = itself if node is formula else node
        if isinstance(node, Ref):
            yield node.name, adj
        elif isinstance(node, Add):
            stack.extend((term, adj) for term in node.terms)
        elif isinstance(node, Sub):
            stack += [(node.left, adj), (node.right, _minus(adj))]
        elif isinstance(node, Neg):
            stack.append((node.operand, _minus(adj)))
        elif isinstance(node, Mul):
            factors = node.factors
            for i, factor in enumerate(factors):
                others: Expr = _ONE
                for j, other in enumerate(factors):
                    if j != i:
                        others = _times(others, other)
                stack.append((factor, _times(adj, others)))
        elif isinstance(node, Div):
            stack.append((node.left, _over(adj, node.right)))
            stack.append((node.right, _minus(_over(_times(adj, value), node.right))))
        elif isinstance(node, Pow):
            stack += _power_adjoints(node, adj, value)
        elif isinstance(node, Call):
            stack += _call_adjoints(node, adj, value)
        else:  # pragma: no cover - every expression type is handled above
            raise TypeError(repr(node))


def _power_adjoints(node: Pow, adj: Expr, value: Expr) -> list[tuple[Expr, Expr]]:
    base, exponent = node.base, node.exponent
    out: list[tuple[Expr, Expr]] = []
    constant = constant_value(exponent)
    if constant is not None:
        if constant != 0:
            c: int | float = int(constant) if constant.is_integer() else constant
            lower = c - 1
            power = _ONE if lower == 0 else base if lower == 1 else Pow(base, Const(lower))
            out.append((base, _times(adj, _times(Const(c), power))))
        return out
    if constant_value(base) is None:
        out.append((base, _times(adj, _times(exponent, Pow(base, Sub(exponent, _ONE))))))
    out.append((exponent, _times(adj, _times(value, Call("log", (base,))))))
    return out


class _Algebra:
    """Derivative expressions for the function table's rules (`kpitree.language.table`)."""

    zero = _ZERO
    half = _HALF
    times = staticmethod(_times)
    over = staticmethod(_over)
    sign = staticmethod(_sign)
    step = staticmethod(_step)

    @staticmethod
    def minus(left: Expr, right: Expr) -> Expr:
        return Sub(left, right)

    @staticmethod
    def call(name: str, args: Sequence[Expr]) -> Expr:
        return Call(name, tuple(args))


def _call_adjoints(node: Call, adj: Expr, value: Expr) -> list[tuple[Expr, Expr]]:
    return FUNCTIONS[node.func].adjoints(_Algebra, node.args, adj, value)


def below_set(tree: Graph, metric: str) -> frozenset[str]:
    """Return `tree.depends_on(metric)` as a set, for membership tests (cached)."""
    cache = tree.cached(_BELOW, dict)
    found = cache.get(metric)
    if found is None:
        found = cache[metric] = frozenset(tree.depends_on(metric))
    return found


def metric_node(tree: Graph, name: str) -> Metric:
    """Return the metric `name`, or raise naming it when it is a leaf."""
    node = tree[name]
    if not isinstance(node, Metric):
        message = (
            _("`{name}` is a KPI, not a metric: derivatives are taken of metrics")
            if isinstance(node, KPI)
            else _("`{name}` is a input, not a metric: derivatives are taken of metrics")
        )
        raise KindError(
            message.format(name=name),
            hint=_("pick a metric: {metrics}").format(
                metrics=", ".join(m.name for m in tree.metrics[:5])
            ),
            names=[name],
        )
    return node


def gradient_exprs(tree: Graph, metric: str) -> dict[str, Expr]:
    """Return ∂metric/∂leaf for every leaf as kpitree expressions (reverse mode).

    Each expression uses leaves and intermediate metrics by name (`Ref`), so it reads
    with the forward values at hand: a SQL query computes the metrics first, then these.
    Leaves the metric does not depend on get `Const(0)`. Besides the formula language,
    derivative expressions use one function, `Call("sign", (x,))` (−1, 0 or 1), for the
    kinks of `abs`, `min` and `max` (see the module doc). A node used by several metrics
    gets a sum, one term per path; the terms share Python objects, so memory stays linear.

    Examples:
        >>> from kpitree.examples import sales_revenue
        >>> d = gradient_exprs(sales_revenue(), "revenue")
        >>> str(d["avg_order_value"]), str(d["call_to_purchase"])
        ('purchases', 'avg_order_value * calls')
        >>> str(d["managers"])
        'avg_order_value * call_to_purchase * calls_per_day * working_days'
    """
    metric_node(tree, metric)
    adjoint: dict[str, Expr] = {metric: _ONE}
    for name in tree.depends_on(metric):
        node = tree[name]
        seed = adjoint.get(name)
        if seed is None or not isinstance(node, Metric):
            continue
        for child, contribution in _formula_adjoints(node.formula, seed, Ref(name)):
            adjoint[child] = _plus(adjoint.get(child), contribution)
    return {leaf.name: adjoint.get(leaf.name, _ZERO) for leaf in tree.leaves}


def _gradient_function(tree: Graph, metric: str, backend: Backend = "python") -> Any:
    """Compile the reverse pass for `metric`: `f(leaf_vector, metric_vector) -> gradient`.

    The `"numpy"` backend takes arrays (any shape, one element per point) and gives the
    gradient at every point at once, undefined parts NaN; its `sign(0)` is 0, the chain of
    halves, where the `"python"` one turns a tie into one-sided slopes (`gradient_at`).
    """
    cache = tree.cached(_GRADIENT_FUNCTIONS, dict)
    found = cache.get((metric, backend))
    if found is not None:
        return found
    compiled = compile_tree(tree)
    slots = {name: f"x{i}" for i, name in enumerate(compiled.leaves)}
    slots.update({name: f"m{i}" for i, name in enumerate(compiled.metrics)})
    # An adjoint is named by a key no node can have (names are identifiers).
    adjoints: dict[str, str] = {}
    lines = ["def _gradient(x, m):"]
    if compiled.leaves:
        lines.append(f"    {', '.join(slots[n] for n in compiled.leaves)}, = x")
    lines.append(f"    {', '.join(slots[n] for n in compiled.metrics)}, = m")
    adjoints[metric] = "g0"
    slots["\0" + metric] = "g0"
    lines.append("    g0 = 1.0")
    for name in tree.depends_on(metric):
        node = tree[name]
        if name not in adjoints or not isinstance(node, Metric):
            continue
        seed = Ref("\0" + name)
        for child, contribution in _formula_adjoints(node.formula, seed, Ref(name)):
            code = codegen.python_code(contribution, slots)
            if child in adjoints:
                # Not `+=`: over numpy arrays of different shapes the sum must widen.
                lines.append(f"    {adjoints[child]} = {adjoints[child]} + {code}")
            else:
                adjoints[child] = slots["\0" + child] = f"g{len(adjoints)}"
                lines.append(f"    {adjoints[child]} = {code}")
    outputs = [adjoints.get(n, "0.0") for n in compiled.leaves]
    lines.append(f"    return ({''.join(o + ', ' for o in outputs)})")
    if backend == "python":
        # `sign(0)` in the reverse pass is a tie of min/max or abs at 0: see `_one_sided_gradient`.
        runtime = {**RUNTIME, "_sign": _sign_or_tie}
    else:
        runtime = codegen.numpy_runtime()
    found = codegen.define("\n".join(lines) + "\n", runtime, f"gradient, {backend}")["_gradient"]
    cache[(metric, backend)] = found
    return found


def gradient_arrays(
    tree: Graph, metric: str, leaf_values: Sequence[Any]
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Return the metric values and ∂metric/∂leaf at many points at once, as numpy arrays.

    `leaf_values` are arrays of one shape in `compile_tree(tree).leaves` order; both results
    are in compiled order (metrics, then leaves), undefined parts NaN. Away from the kinks
    of `abs`, `min` and `max` this is `gradient_at` at every point.
    """
    forward = compile_tree(tree, "numpy")(leaf_values)
    return forward, _gradient_function(tree, metric, "numpy")(leaf_values, forward)


def gradient_points(
    tree: Graph, metric: str, vectors: Sequence[Sequence[float]]
) -> tuple[list[float], list[Sequence[float]]] | None:
    """The metric and ∂metric/∂leaf at a few points, a scalar pass each; None if not all defined.

    `vectors` are leaf vectors in compiled order. At a handful of points the scalar passes
    cost a fraction of `gradient_arrays` over arrays that short (numpy pays per operation,
    not per point). Any point that is undefined, overflows or meets a kink gives None: the
    array passes then say what and where, with their own rules for those points.
    """
    forward_of = compile_tree(tree)
    reverse = _gradient_function(tree, metric)
    at = forward_of.metrics.index(metric)
    values: list[float] = []
    slopes: list[Sequence[float]] = []
    try:
        for vector in vectors:
            forward = forward_of(vector)
            gradient = reverse(vector, forward)
            if not (math.isfinite(sum(forward)) and math.isfinite(sum(gradient))):
                return None
            values.append(forward[at])
            slopes.append(gradient)
    except (_Tie, ArithmeticError, ValueError):
        return None
    return values, slopes


def forward_pass(
    tree: Graph, values: Mapping[str, Any] | None
) -> tuple[list[float], tuple[float, ...]]:
    """Return the leaf vector and metric values; raise the evaluation's errors."""
    vector = list(leaf_vector(tree, values))  # floats, checked; a copy of the shared one
    return vector, evaluate_vector(tree, vector)


def gradient_at(tree: Graph, metric: str, vector: list[float], forward: tuple[float, ...]) -> Any:
    """Return ∂metric/∂leaf at the leaf `vector`, given the forward pass's metric values."""
    function = _gradient_function(tree, metric)
    try:
        try:
            result = function(vector, forward)
        except _Tie:
            result = _one_sided_gradient(tree, metric, vector, forward)
        if math.isfinite(sum(result)):
            return result
    except (ArithmeticError, ValueError):
        pass
    raise EvaluationError(
        _("the derivative of `{metric}` is undefined at these values").format(metric=metric),
        hint=_(
            "a formula on the way has a kink or a vertical slope here (sqrt or a "
            "fractional power at 0, log of a base that is not positive); move a leaf slightly"
        ),
        names=[metric],
    )


# -- at a tie: one-sided slopes by forward mode ------------------------------------------------


class _Tie(Exception):  # a signal inside this module, never raised to users
    """The reverse pass met a kink exactly (`sign(0)`): its chain of halves may be wrong."""


def _sign_or_tie(x: float) -> float:
    """`sign` for the reverse pass: −1 or 1, or `_Tie` at 0 (a kink of abs, min or max)."""
    if x:
        return math.copysign(1.0, x)
    raise _Tie


class _Numbers:
    """The function table's derivative algebra on floats, for forward mode's smooth calls."""

    zero = 0.0
    half = 0.5

    @staticmethod
    def times(left: float, right: float) -> float:
        return left * right

    @staticmethod
    def over(left: float, right: float) -> float:
        return left / right

    @staticmethod
    def minus(left: float, right: float) -> float:
        return left - right

    @staticmethod
    def sign(x: float) -> float:
        return FUNCTIONS["sign"].python(x)

    @staticmethod
    def step(difference: float) -> float:
        return 0.5 * (1.0 + FUNCTIONS["sign"].python(difference))

    @staticmethod
    def call(name: str, args: Sequence[float]) -> float:
        return FUNCTIONS[name].python(*args)


#: The functions with kinks, whose one-sided slopes `_kink_slope` gives.
_KINKS = frozenset({"min", "max", "abs"})


def _kink_slope(function: Function, parts: list[tuple[float, float]]) -> tuple[float, float]:
    """`(value, slope along the direction)` of min, max or abs, exact at a tie too."""
    if function.name == "abs":
        ((u, du),) = parts
        return abs(u), abs(du) if u == 0 else du if u > 0 else -du
    pick = max if function.name == "max" else min
    value, slope = parts[0]
    for v, dv in parts[1:]:  # folded left, as the reverse rule
        if v == value:  # a tie: along the direction, the side whose slope wins stays picked
            slope = pick(slope, dv)
        elif pick(v, value) == v:
            value, slope = v, dv
    return value, slope


def _directional(
    node: Expr, values: Mapping[str, float], slopes: Mapping[str, float]
) -> tuple[float, float]:
    """Return `(value, slope)` of `node` along one direction, given its references' slopes.

    The slope is the one-sided directional derivative, which the chain rule carries exactly
    through piecewise-smooth functions; values are computed as the generated code does, so a
    tie here is the tie the reverse pass met.
    """
    if isinstance(node, Const):
        return float(node.value), 0.0
    if isinstance(node, Ref):
        return values[node.name], slopes.get(node.name, 0.0)
    if isinstance(node, Add):
        parts = [_directional(t, values, slopes) for t in node.terms]
        return sum(v for v, _ in parts), sum(d for _, d in parts)
    if isinstance(node, Sub | Div):
        (a, da), (b, db) = (_directional(x, values, slopes) for x in (node.left, node.right))
        if isinstance(node, Sub):
            return a - b, da - db
        value = a / b
        return value, da / b - value * db / b
    if isinstance(node, Neg):
        a, da = _directional(node.operand, values, slopes)
        return -a, -da
    if isinstance(node, Mul):
        parts = [_directional(f, values, slopes) for f in node.factors]
        slope = sum(
            d * math.prod(v for j, (v, _) in enumerate(parts) if j != i)
            for i, (_, d) in enumerate(parts)
        )
        return math.prod(v for v, _ in parts), slope
    if isinstance(node, Pow):
        return _power_slope(node, values, slopes)
    if isinstance(node, Call):
        function = FUNCTIONS[node.func]
        parts = [_directional(a, values, slopes) for a in node.args]
        if node.func in _KINKS:
            return _kink_slope(function, parts)
        # A smooth function of one argument: the table's reverse rule is its derivative.
        ((x, dx),) = parts
        value = function.python(x)
        ((_, local),) = function.adjoints(_Numbers, [x], 1.0, value)
        return value, local * dx
    raise TypeError(repr(node))  # pragma: no cover - every expression type is handled above


def _power_slope(
    node: Pow, values: Mapping[str, float], slopes: Mapping[str, float]
) -> tuple[float, float]:
    """`(value, slope)` of a power, computed as `python_code` and `_power_adjoints` do."""
    power = RUNTIME["_pow"]
    b, db = _directional(node.base, values, slopes)
    constant = constant_value(node.exponent)
    if constant is not None:
        if constant == 0:
            return 1.0, 0.0
        c: int | float = int(constant) if constant.is_integer() else constant
        lower = c - 1
        local = 1.0 if lower == 0 else b**lower if isinstance(lower, int) else power(b, lower)
        return (b**c if isinstance(c, int) else power(b, c)), c * local * db
    y, dy = _directional(node.exponent, values, slopes)
    value = power(b, y)
    slope = value * math.log(b) * dy
    if constant_value(node.base) is None:
        slope += y * power(b, y - 1) * db
    return value, slope


def _one_sided_gradient(
    tree: Graph, metric: str, vector: list[float], forward: tuple[float, ...]
) -> list[float]:
    """∂metric/∂leaf at a tie: per leaf, the mean of the metric's slopes along +e and −e.

    Both slopes come from forward mode (`_directional`) and are exact, so the mean is the
    true partial wherever the metric is differentiable along the leaf, however the ties
    nest; at a real kink it is the slope of a central difference, between the two sides.
    Two passes per leaf: the price of a tie, paid only when the reverse pass meets one.
    """
    compiled = compile_tree(tree)
    values = dict(zip(compiled.leaves, vector, strict=True))
    values.update(zip(compiled.metrics, forward, strict=True))
    formulas = [
        (name, node.formula)
        for name in reversed(tree.depends_on(metric))
        if isinstance(node := tree[name], Metric)
    ]
    below = below_set(tree, metric)
    result = []
    for leaf in compiled.leaves:
        if leaf not in below:
            result.append(0.0)
            continue
        along = []
        for direction in (1.0, -1.0):
            slopes = {leaf: direction}
            for name, formula in formulas:
                if leaf in below_set(tree, name):
                    slopes[name] = _directional(formula, values, slopes)[1]
            along.append(slopes[metric])
        right, minus_left = along  # the slope along −e is minus the left slope
        result.append((right - minus_left) / 2)
    return result

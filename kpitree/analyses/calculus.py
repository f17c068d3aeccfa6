"""Calculus on a tree: partial derivatives, gradients, elasticities and sensitivity.

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

`abs`, `min` and `max` have kinks; there the derivative is the *subgradient* that a
central finite difference gives: `sign(0) = 0` for `abs`, and a tie of `min`/`max` splits
the adjoint half and half. `min`/`max` of more than two arguments are folded left
(`min(x, y, z) = min(min(x, y), z)`). `sign` is the one function in derivative expressions
that formulas do not have: `Call("sign", (x,))`, SQL's `SIGN(x)`.

A derivative that is undefined at the given values (`sqrt` at 0, `log` of a base that is
not positive for a variable exponent) raises `EvaluationError`, as an undefined metric does.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from kpitree.analyses.evaluate import (
    RUNTIME,  # the runtime of compiled trees: the derivative code calls the same functions
    compile_tree,
    evaluate,
    evaluate_vector,
    python_code,
)
from kpitree.analyses.results import RowTable, Values, format_value, table
from kpitree.core.expr import (
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
    mul,
    walk,
)
from kpitree.core.nodes import KPI, Input, Leaf, Metric
from kpitree.core.numbers import format_number
from kpitree.errors import EvaluationError, ValueTypeError

if TYPE_CHECKING:
    import sympy

    from kpitree.core.tree import Tree

__all__ = [
    "LeafNumbers",
    "Sensitivity",
    "SensitivityRow",
    "elasticities",
    "gradient",
    "gradient_exprs",
    "partial",
    "sensitivity",
]

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


def _call_adjoints(node: Call, adj: Expr, value: Expr) -> list[tuple[Expr, Expr]]:
    args = node.args
    if node.func in ("min", "max"):
        left: Expr = args[0] if len(args) == 2 else Call(node.func, args[:-1])
        right = args[-1]
        first, second = (right, left) if node.func == "min" else (left, right)
        # min(x, y): x carries the adjoint when y - x > 0; max(x, y): when x - y > 0.
        return [
            (left, _times(adj, _step(Sub(first, second)))),
            (right, _times(adj, _step(Sub(second, first)))),
        ]
    (arg,) = args
    if node.func == "abs":
        return [(arg, _times(adj, _sign(arg)))]
    if node.func == "log":
        return [(arg, _over(adj, arg))]
    if node.func == "exp":
        return [(arg, _times(adj, value))]
    if node.func == "sqrt":
        return [(arg, _over(_times(adj, _HALF), value))]
    raise TypeError(f"no derivative rule for `{node.func}`")  # pragma: no cover


def _below_set(tree: Tree, metric: str) -> frozenset[str]:
    """Return `tree.depends_on(metric)` as a set, for membership tests (cached)."""
    cache: dict[str, frozenset[str]] = tree._cache.setdefault("calculus_below_set", {})
    found = cache.get(metric)
    if found is None:
        found = cache[metric] = frozenset(tree.depends_on(metric))
    return found


def _metric(tree: Tree, name: str) -> Metric:
    node = tree[name]
    if not isinstance(node, Metric):
        raise ValueTypeError(
            f"`{name}` is a {'KPI' if isinstance(node, KPI) else 'input'}, not a metric: "
            "derivatives are taken of metrics",
            hint=f"pick a metric: {', '.join(m.name for m in tree.metrics[:5])}",
            names=[name],
        )
    return node


def gradient_exprs(tree: Tree, metric: str) -> dict[str, Expr]:
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
    _metric(tree, metric)
    adjoint: dict[str, Expr] = {metric: _ONE}
    for name in tree.depends_on(metric):
        node = tree[name]
        seed = adjoint.get(name)
        if seed is None or not isinstance(node, Metric):
            continue
        for child, contribution in _formula_adjoints(node.formula, seed, Ref(name)):
            adjoint[child] = _plus(adjoint.get(child), contribution)
    return {leaf.name: adjoint.get(leaf.name, _ZERO) for leaf in tree.leaves}


def _gradient_function(tree: Tree, metric: str) -> Any:
    """Compile the reverse pass for `metric`: `f(leaf_vector, metric_vector) -> gradient`."""
    cache: dict[str, Any] = tree._cache.setdefault("calculus_gradient", {})
    found = cache.get(metric)
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
            code = python_code(contribution, slots)
            if child in adjoints:
                lines.append(f"    {adjoints[child]} += {code}")
            else:
                adjoints[child] = slots["\0" + child] = f"g{len(adjoints)}"
                lines.append(f"    {adjoints[child]} = {code}")
    outputs = [adjoints.get(n, "0.0") for n in compiled.leaves]
    lines.append(f"    return ({''.join(o + ', ' for o in outputs)})")
    source = "\n".join(lines) + "\n"
    namespace: dict[str, Any] = {**RUNTIME, "_sign": _sign_of}
    program = compile(source, f"<kpitree gradient of {metric}>", "exec")
    exec(program, namespace)  # noqa: S102  # safe: generated from validated nodes, no user text
    found = namespace["_gradient"]
    cache[metric] = found
    return found


def _sign_of(x: float) -> float:
    return math.copysign(1.0, x) if x else 0.0


def _forward(tree: Tree, values: Mapping[str, Any] | None) -> tuple[list[float], tuple[float, ...]]:
    """Return the leaf vector and metric values; raise the evaluation's errors."""
    compiled = compile_tree(tree)
    leaf_values = tree.leaf_values(values)
    if any(v is None for v in leaf_values.values()):
        evaluate(tree, values)  # raises MissingValueError naming every leaf without a value
    vector = [float(leaf_values[n]) for n in compiled.leaves]  # type: ignore[arg-type]
    return vector, evaluate_vector(tree, vector)


def _gradient_at(tree: Tree, metric: str, vector: list[float], forward: tuple[float, ...]) -> Any:
    function = _gradient_function(tree, metric)
    try:
        result = function(vector, forward)
        if math.isfinite(sum(result)):
            return result
    except (ArithmeticError, ValueError):
        pass
    raise EvaluationError(
        f"the derivative of `{metric}` is undefined at these values",
        hint="a formula on the way has a kink or a vertical slope here (sqrt or a "
        "fractional power at 0, log of a base that is not positive); move a leaf slightly",
        names=[metric],
    )


class LeafNumbers(Values):
    """A number per leaf (a derivative, an elasticity), read-only, in tree order.

    Unlike node values these carry no unit of the leaf, so `str` shows plain numbers.
    """

    __slots__ = ()

    def __str__(self) -> str:
        width = max((len(n) for n in self), default=0)
        return "\n".join(f"{name.ljust(width)}  {format_number(v)}" for name, v in self.items())


def gradient(tree: Tree, metric: str, values: Mapping[str, Any] | None = None) -> LeafNumbers:
    """Return ∂metric/∂leaf for every leaf at the given values, in one reverse pass.

    Leaves the metric does not depend on get 0.0.

    Raises:
        MissingValueError: leaves without a value.
        EvaluationError: the metric or its derivative is undefined at these values.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> dict(gradient(qualified_leads(), "qualified_leads"))
        {'leads': 0.8, 'lead_to_ql': 1000.0}
    """
    _metric(tree, metric)
    vector, forward = _forward(tree, values)
    result = _gradient_at(tree, metric, vector, forward)
    return LeafNumbers(dict(zip(compile_tree(tree).leaves, result, strict=True)), tree)


def _value_of(tree: Tree, name: str, vector: list[float], forward: tuple[float, ...]) -> float:
    compiled = compile_tree(tree)
    if isinstance(tree[name], Leaf):
        return vector[compiled.leaves.index(name)]
    return forward[compiled.metrics.index(name)]


def elasticities(tree: Tree, metric: str, values: Mapping[str, Any] | None = None) -> LeafNumbers:
    """Return the % change of `metric` per 1% change of each leaf: ∂m/∂x · x / m.

    Raises:
        EvaluationError: the metric is 0 at these values (no relative change exists),
            or it or its derivative is undefined.

    Examples:
        >>> from kpitree.examples import sales_revenue
        >>> e = elasticities(sales_revenue(), "revenue")
        >>> len(e), {round(v, 12) for v in e.values()}
        (5, {1.0})
    """
    _metric(tree, metric)
    vector, forward = _forward(tree, values)
    result = _gradient_at(tree, metric, vector, forward)
    level = _value_of(tree, metric, vector, forward)
    if level == 0:
        raise EvaluationError(
            f"elasticities of `{metric}` are undefined: `{metric}` is 0 at these values",
            hint="use tree.gradient for absolute changes",
            names=[metric],
        )
    leaves = compile_tree(tree).leaves
    return LeafNumbers(
        {n: d * x / level for n, d, x in zip(leaves, result, vector, strict=True)}, tree
    )


# -- partial derivatives in sympy ----------------------------------------------------------------


def partial(tree: Tree, metric: str, wrt: str) -> sympy.Expr:
    """Return ∂metric/∂wrt as a sympy expression in leaf symbols.

    The derivative comes from `gradient_exprs`, with every metric it refers to replaced
    by its formula down to leaves; nothing is simplified.

    Examples:
        >>> from kpitree.examples import saas_mrr
        >>> partial(saas_mrr(), "mrr", "churn_rate")
        -arpa*customers*(expansion_rate + 1)
    """
    import sympy

    from kpitree.analyses.symbolic import formula, symbol, to_sympy

    _metric(tree, metric)
    if not isinstance(tree[wrt], Leaf):
        raise ValueTypeError(
            f"`{wrt}` is a metric: partial derivatives are taken with respect to leaves",
            hint=f"pick a leaf of `{metric}`, e.g. one of "
            f"{', '.join(n.name for n in tree.children(wrt)[:3])}",
            names=[wrt],
        )
    derivative = gradient_exprs(tree, metric)[wrt]
    # `sign` is not in the formula language: stand-in symbols, swapped for sympy.sign after.
    signs: dict[Expr, str] = {}
    for node in walk(derivative):
        if isinstance(node, Call) and node.func == "sign":
            signs.setdefault(node.args[0], f"sign#{len(signs)}")
    expr = to_sympy(_replace_signs(derivative, signs))
    names = {str(s) for s in expr.free_symbols}
    replacements: dict[Any, Any] = {
        symbol(n): formula(tree, n, expand=True)
        for n in names
        if n in tree and isinstance(tree[n], Metric)
    }
    for arg, placeholder in signs.items():
        inner = to_sympy(_replace_signs(arg, signs))
        replacements[symbol(placeholder)] = sympy.sign(inner)
    # Signs may nest; substitute until no stand-in is left (at most one round per level).
    for _ in range(len(signs) + 1):
        expr = expr.xreplace(replacements)
        if not any(str(s).startswith("sign#") for s in expr.free_symbols):
            break
    return expr.xreplace(replacements)


def _replace_signs(expr: Expr, signs: Mapping[Expr, str]) -> Expr:
    """Replace each `sign(x)` call in `expr` by its stand-in reference (bottom-up)."""
    if not signs:
        return expr
    done: dict[int, Expr] = {}
    for node in reversed(list(walk(expr))):  # children before parents
        if isinstance(node, Call) and node.func == "sign":
            done[id(node)] = Ref(signs[node.args[0]])
            continue
        kids = [done.get(id(k), k) for k in children(node)]
        done[id(node)] = _rebuild(node, kids)
    return done[id(expr)]


def _rebuild(node: Expr, kids: list[Expr]) -> Expr:
    if isinstance(node, Add):
        return Add(tuple(kids))
    if isinstance(node, Mul):
        return Mul(tuple(kids))
    if isinstance(node, Sub | Div | Pow):
        return type(node)(kids[0], kids[1])
    if isinstance(node, Neg):
        return Neg(kids[0])
    if isinstance(node, Call):
        return Call(node.func, tuple(kids))
    return node


# -- sensitivity ---------------------------------------------------------------------------------


@attrs.frozen
class SensitivityRow:
    """One leaf: its value, the derivative and elasticity of the metric, a +1% move's impact.

    Attributes:
        owner: the KPI's owner, or `"external"` for an input.
        horizon: the KPI's influence horizon as text, None for an input.
        elasticity: None when the metric is 0 (no relative change exists).
        impact_1pct: the metric's change when this leaf moves +1%, to first order
            (derivative × 1% of the value).
    """

    name: str
    kind: str
    owner: str
    horizon: str | None
    value: float
    derivative: float
    elasticity: float | None
    impact_1pct: float

    @property
    def external(self) -> bool:
        """True for an input: part of the formula, but nobody's lever."""
        return self.kind == Input.kind

    def to_dict(self) -> dict[str, Any]:
        """Return the row as plain data."""
        return {**attrs.asdict(self), "external": self.external}


@attrs.frozen(repr=False)
class Sensitivity(RowTable):
    """Leaves ranked by the absolute impact of a +1% move on a metric.

    Attributes:
        metric: the metric.
        value: its value at the point of analysis.
        rows_: the leaves it depends on, biggest absolute impact first.
        within: for levers, the horizon the KPIs were filtered by (text), else None.
        owner: for levers, the owner the KPIs were filtered by, else None.
        levers: True for the result of `tree.levers` (KPIs only, filtered).
    """

    metric: str
    value: float
    rows_: tuple[SensitivityRow, ...]
    tree: Tree = attrs.field(eq=False)
    within: str | None = None
    owner: str | None = None
    levers: bool = False

    def _row_role(self) -> str:
        return f"leaf in this table of `{self.metric}`"

    @property
    def by_owner(self) -> dict[str, float]:
        """`{owner: total impact of a +1% move of all their leaves}`, biggest first.

        Inputs count under `"external"`. To first order the impacts add up.
        """
        totals: dict[str, float] = {}
        for row in self.rows_:
            totals[row.owner] = totals.get(row.owner, 0.0) + row.impact_1pct
        return dict(sorted(totals.items(), key=lambda item: -abs(item[1])))

    def _repr_html_(self) -> str:
        from kpitree.adapters.html import sensitivity_html

        return sensitivity_html(self)

    def plot(self, ax: Any = None, **options: Any) -> Any:
        """Draw the impacts as bars or a tornado (matplotlib); return the Axes."""
        from kpitree.adapters.plots import plot_sensitivity

        return plot_sensitivity(self, ax, **options)

    def to_dict(self) -> dict[str, Any]:
        """Return the metric, its value, the rows and the totals per owner."""
        return {
            "metric": self.metric,
            "value": self.value,
            "within": self.within,
            "owner": self.owner,
            "levers": self.levers,
            "rows": [r.to_dict() for r in self.rows_],
            "by_owner": self.by_owner,
        }

    def rows(self) -> list[dict[str, Any]]:
        """Return one record per leaf."""
        return [r.to_dict() for r in self.rows_]

    def __str__(self) -> str:
        title = f"sensitivity of {self.metric} = {format_value(self.value, self.tree, self.metric)}"
        if self.levers:
            where = [f"within {self.within}"] if self.within else []
            where += [f"owned by {self.owner}"] if self.owner else []
            title = f"levers of {self.metric}" + (f" ({', '.join(where)})" if where else "")
        if not self.rows_:
            return f"{title}\nno leaf to move"
        body = [
            [
                r.name,
                r.owner,
                r.horizon or "—",
                format_value(r.value, self.tree, r.name),
                format_number(r.derivative),
                "—" if r.elasticity is None else format_number(r.elasticity),
                format_value(r.impact_1pct, self.tree, self.metric),
            ]
            for r in self.rows_
        ]
        header = ["name", "owner", "horizon", "value", "∂/∂x", "elasticity", "+1% →"]
        owners = ", ".join(
            f"{owner} {'+' if total >= 0 else ''}{format_value(total, self.tree, self.metric)}"
            for owner, total in self.by_owner.items()
        )
        return f"{title}\n{table(body, header)}\nby owner (+1% each): {owners}"


def sensitivity(tree: Tree, metric: str, values: Mapping[str, Any] | None = None) -> Sensitivity:
    """Rank the leaves of `metric` by the absolute impact of a +1% move.

    Every leaf the metric depends on is a row (inputs too, under the owner `"external"`).
    The impact is first-order: derivative × 1% of the leaf's value; elasticities are
    None when the metric is 0.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> s = sensitivity(qualified_leads(), "qualified_leads", {"lead_to_ql": 0.5})
        >>> [(r.name, r.impact_1pct) for r in s], s.by_owner
        ([('leads', 5.0), ('lead_to_ql', 5.0)], {'marketing': 5.0, 'sales': 5.0})
    """
    _metric(tree, metric)
    vector, forward = _forward(tree, values)
    result = _gradient_at(tree, metric, vector, forward)
    level = _value_of(tree, metric, vector, forward)
    below = _below_set(tree, metric)
    # A leaf whose effects cancel (revenue in ROE = net income / equity) gets a derivative
    # of rounding noise: within 1e-12 of the largest impact, it reads exactly 0.
    scale = max((abs(d * v) for d, v in zip(result, vector, strict=True)), default=0.0)
    rows = []
    for leaf, raw, value in zip(tree.leaves, result, vector, strict=True):
        if leaf.name not in below:
            continue
        derivative = 0.0 if value and abs(raw * value) <= 1e-12 * scale else raw
        rows.append(
            SensitivityRow(
                name=leaf.name,
                kind=leaf.kind,
                owner=leaf.owner if isinstance(leaf, KPI | Input) else "external",
                horizon=str(leaf.horizon) if isinstance(leaf, KPI) else None,
                value=value,
                derivative=derivative,
                elasticity=derivative * value / level if level else None,
                impact_1pct=derivative * value / 100,
            )
        )
    rows.sort(key=lambda r: -abs(r.impact_1pct))  # stable: ties keep tree order
    return Sensitivity(metric, level, tuple(rows), tree)

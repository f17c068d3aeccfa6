"""Calculus on a tree: partial derivatives, gradients, elasticities and sensitivity.

The derivatives come from one reverse-mode algorithm in `kpitree.engine.derivatives`
(its docstring has the rules per operator); this module turns them into results:
`gradient` and `elasticities` at given values, `partial` as sympy, and `sensitivity`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from kpitree.engine.derivatives import (
    below_set,
    forward_pass,
    gradient_at,
    gradient_exprs,
    metric_node,
)
from kpitree.engine.evaluate import (
    compile_tree,
)
from kpitree.errors import EvaluationError, KindError
from kpitree.i18n import _
from kpitree.language.expr import (
    Add,
    Call,
    Div,
    Expr,
    Mul,
    Neg,
    Pow,
    Ref,
    Sub,
    children,
    walk,
)
from kpitree.model.graph import CacheKey
from kpitree.model.nodes import KPI, Input, Leaf, Metric
from kpitree.model.numbers import format_number
from kpitree.model.render import render
from kpitree.model.results import (
    RowTable,
    Values,
    format_delta,
    format_value,
    table,
    text_width,
)

if TYPE_CHECKING:
    import sympy

    from kpitree.model.graph import Graph

__all__ = [
    "LeafNumbers",
    "Sensitivity",
    "SensitivityRow",
    "elasticities",
    "gradient",
    "partial",
    "sensitivity",
]


class LeafNumbers(Values):
    """A number per leaf (a derivative, an elasticity), read-only, in tree order.

    Unlike node values these carry no unit of the leaf, so `str` shows plain numbers.
    """

    __slots__ = ()

    def __str__(self) -> str:
        width = max((len(n) for n in self), default=0)
        return "\n".join(f"{name.ljust(width)}  {format_number(v)}" for name, v in self.items())

    @classmethod
    def of_leaves(cls, tree: Graph, numbers: Any) -> LeafNumbers:
        """One number per leaf in compiled order, read through the tree's shared positions."""
        positions = tree.cached(
            _LEAF_POSITIONS, lambda: {name: i for i, name in enumerate(compile_tree(tree).leaves)}
        )
        return cls.of_slots(positions, list(numbers), tree)


_LEAF_POSITIONS: CacheKey[dict[str, int]] = CacheKey("leaf positions in compiled order")


def gradient(tree: Graph, metric: str, values: Mapping[str, Any] | None = None) -> LeafNumbers:
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
    metric_node(tree, metric)
    vector, forward = forward_pass(tree, values)
    result = gradient_at(tree, metric, vector, forward)
    return LeafNumbers.of_leaves(tree, result)


def _value_of(tree: Graph, name: str, vector: list[float], forward: tuple[float, ...]) -> float:
    compiled = compile_tree(tree)
    if isinstance(tree[name], Leaf):
        return vector[compiled.leaves.index(name)]
    return forward[compiled.metrics.index(name)]


def elasticities(tree: Graph, metric: str, values: Mapping[str, Any] | None = None) -> LeafNumbers:
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
    metric_node(tree, metric)
    vector, forward = forward_pass(tree, values)
    result = gradient_at(tree, metric, vector, forward)
    level = _value_of(tree, metric, vector, forward)
    if level == 0:
        raise EvaluationError(
            _("elasticities of `{metric}` are undefined: `{metric}` is 0 at these values").format(
                metric=metric
            ),
            hint=_("use tree.gradient for absolute changes"),
            names=[metric],
        )
    return LeafNumbers.of_leaves(tree, [d * x / level for d, x in zip(result, vector, strict=True)])


# -- partial derivatives in sympy ----------------------------------------------------------------


def partial(tree: Graph, metric: str, wrt: str) -> sympy.Expr:
    """Return ∂metric/∂wrt as a sympy expression in leaf symbols.

    The derivative comes from `gradient_exprs`, with every metric it refers to replaced
    by its formula down to leaves; nothing is simplified.

    Examples:
        >>> from kpitree.examples import saas_mrr
        >>> partial(saas_mrr(), "mrr", "churn_rate")
        -arpa*customers*(expansion_rate + 1)
    """
    import sympy

    from kpitree.backends.symbolic import formula, symbol, to_sympy

    metric_node(tree, metric)
    if not isinstance(tree[wrt], Leaf):
        raise KindError(
            _("`{name}` is a metric: partial derivatives are taken with respect to leaves").format(
                name=wrt
            ),
            hint=_("pick a leaf of `{metric}`, e.g. one of {leaves}").format(
                metric=metric, leaves=", ".join(n.name for n in tree.children(wrt)[:3])
            ),
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
    for _round in range(len(signs) + 1):
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
    tree: Graph = attrs.field(eq=False)
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

    def plot(self, ax: Any = None, **options: Any) -> Any:
        """Draw the impacts as bars or a tornado (matplotlib); return the Axes."""
        return render(self, "plot", ax=ax, **options)

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
        value = format_value(self.value, self.tree, self.metric)
        title = _("sensitivity of {metric} = {value}").format(metric=self.metric, value=value)
        if self.levers:
            where = [_("within {horizon}").format(horizon=self.within)] if self.within else []
            where += [_("owned by {owner}").format(owner=self.owner)] if self.owner else []
            title = (
                _("levers of {metric} ({where})").format(metric=self.metric, where=", ".join(where))
                if where
                else _("levers of {metric}").format(metric=self.metric)
            )
        if not self.rows_:
            return "\n".join([title, _("no leaf to move")])
        body = [
            [
                r.name,
                _("external") if r.external else r.owner,
                r.horizon or "—",
                format_value(r.value, self.tree, r.name),
                format_number(r.derivative),
                "—" if r.elasticity is None else format_number(r.elasticity),
                format_value(r.impact_1pct, self.tree, self.metric),
            ]
            for r in self.rows_
        ]
        header = [_("name"), _("owner"), _("horizon"), _("value"), "∂/∂x", _("elasticity")]
        header.append(_("+1% →"))
        external = _("external")
        owners = [
            f"{external if owner == 'external' else owner} "
            f"{format_delta(total, self.tree, self.metric)}"
            for owner, total in self.by_owner.items()
        ]
        footer = _("by owner (+1% each): {owners}").format(owners=", ".join(owners))
        footer = _wrap_list(footer, owners, text_width())
        return f"{title}\n{table(body, header)}\n{footer}"


def _wrap_list(line: str, items: list[str], width: int) -> str:
    """Break a line that ends in a list of `items` between them, to fit `width` columns.

    An item (`sales +1,020 RUB`) is never split; later lines are indented by two.
    """
    if len(line) <= width or not items:
        return line
    lines = [line[: len(line) - len(", ".join(items))] + items[0]]
    for item in items[1:]:
        if len(lines[-1]) + 2 + len(item) <= width:
            lines[-1] += f", {item}"
        else:
            lines[-1] += ","
            lines.append(f"  {item}")
    return "\n".join(lines)


def sensitivity(tree: Graph, metric: str, values: Mapping[str, Any] | None = None) -> Sensitivity:
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
    metric_node(tree, metric)
    vector, forward = forward_pass(tree, values)
    result = gradient_at(tree, metric, vector, forward)
    level = _value_of(tree, metric, vector, forward)
    below = below_set(tree, metric)
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

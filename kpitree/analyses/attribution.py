"""Attribution of a change: how much of a metric's move is each leaf's, and each owner's.

"Qualified leads fell 30: how much is marketing's leads, how much is sales' conversion?"
`attribute` splits the change of a metric between two sets of leaf values (two periods)
into one contribution per leaf, rolled up by owner, with three exact methods:

``"shapley"`` (the default)
    The exact Shapley value of each leaf over the metric's whole formula. The players are
    the leaves whose value changed; every one of the 2^n mixes of before and after values
    is evaluated at once with the tree compiled for numpy, and the standard weights
    ``|S|! (n - |S| - 1)! / n!`` give each leaf its average marginal effect. A leaf that
    did not change is not a player and gets exactly 0. More than `MAX_CHANGING` changing
    leaves is refused with a `LimitError` that suggests ``"hierarchical"``.

``"lmdi"``
    LMDI-I (the logarithmic-mean Divisia index) for metrics that are products, quotients
    and sums of products of leaves (expanded through intermediate metrics, constants
    allowed): term by term, leaf ``k`` of term ``j`` gets
    ``L(V_j1, V_j0) * e_k * ln(x_k1 / x_k0)``, where ``L(a, b) = (a - b) / ln(a / b)`` is
    the logarithmic mean (computed stably as ``b * t / log1p(t)``, ``t = (a - b) / b``,
    and ``L(a, a) = a``). The multiplicative factors ``exp(contribution / L(V1, V0))``
    multiply to ``after / before``. Leaf values must keep their sign and not be zero,
    with one documented exception, the analytical limit of Ang and Liu (2007): a term
    that is zero in one period only because some of its leaves are zero there gives its
    whole change to those leaves (split by their exponents), and nothing to the others.
    A leaf that changes sign is an `EvaluationError`; a formula outside this family is
    a `FormulaError`. There is never a NaN in the result.

``"hierarchical"``
    Shapley inside each metric's own formula, with its direct children as the players
    (their own before and after values), then passed down. The rule: the target metric's
    share is its change; a metric ``M`` with share ``s_M`` and its own change ``dM``
    split over its children as ``phi_c`` (Shapley on ``M``'s formula, ``sum phi_c = dM``)
    passes ``s_M * phi_c / dM`` to child ``c`` (nothing when ``dM`` is 0, and then
    ``s_M`` is 0 too, since an unchanged metric is no player in its parents; the target
    metric passes its own split ``phi_c`` as it is, so when its children's moves cancel
    out they still show, as Shapley shows them). A child
    used by several metrics adds up what each passes. Every level therefore adds up to
    the change exactly, and the cost grows with the size of the tree, not with 2^leaves:
    a formula that is a sum is split term by term first (the Shapley value is additive),
    so a sum of 150 segments costs 150 small games.

Exactness: the contributions sum to `.total` (``after - before``, evaluated by the tree)
up to floating-point rounding. Each method ends with one documented exact step: the
residual ``total - sum(contributions)`` (about 1e-15 of the values) is spread over the
contributions in proportion to their absolute size, so leaves with 0 keep 0 and equal
contributions stay equal; parts within 1e-12 of the size of the change are rounding noise
and read exactly 0.

`by_node` describes the tree rather than the method: for every metric with a changed
child, its own change split over its direct children by Shapley on its own formula.

Mixes of before and after values can be undefined where both ends are defined
(``a / (b - c)`` when ``b`` rises to ``c``'s old value): Shapley then raises an
`EvaluationError` naming the mix; ``"hierarchical"`` mixes values only inside one
formula at a time and often avoids it.
"""

from __future__ import annotations

import functools
import math
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from kpitree.analyses.status import status
from kpitree.backends.frames import table_kind
from kpitree.engine import codegen
from kpitree.engine.evaluate import (
    compile_tree,
    evaluate,
    evaluate_arrays,
    evaluate_vector,
)
from kpitree.errors import (
    ArgumentError,
    EvaluationError,
    FormulaError,
    KindError,
    KPITreeError,
    LimitError,
    MissingValueError,
    UnknownNameError,
    ValueTypeError,
    did_you_mean,
)
from kpitree.language.expr import Add, Call, Const, Div, Expr, Mul, Neg, Pow, Ref, Sub, refs
from kpitree.model.graph import CacheKey
from kpitree.model.nodes import KPI, Metric
from kpitree.model.numbers import format_number
from kpitree.model.render import render
from kpitree.model.results import Result, RowTable, format_norm, format_value, norm_mark, table
from kpitree.model.units import format_quantity

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from kpitree.model.graph import Graph

    Array = NDArray[np.float64]

__all__ = [
    "EXTERNAL",
    "MAX_CHANGING",
    "METHODS",
    "AccountRow",
    "Accountability",
    "Attribution",
    "OwnerAccount",
    "accountability",
    "attribute",
    "attribute_frame",
]

METHODS = ("shapley", "lmdi", "hierarchical")
"""The attribution methods, the default first."""

MAX_CHANGING = 22
"""Most changing leaves exact Shapley takes by default: 2^22 evaluations, about 0.1 GB."""

EXTERNAL = "external"
"""The owner label of inputs: leaves nobody on the team controls."""

_MAX_TERMS = 10_000  # LMDI: most terms of a metric expanded into a sum of products
_BLOCK = 1 << 14  # coalitions x rows per pass: columns that stay in the cache


# -- results ---------------------------------------------------------------------------------


def _frozen_map(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return types.MappingProxyType(dict(data))


@attrs.frozen(repr=False)
class Attribution(Result):
    """The change of a metric split over its leaves, their owners and its nodes.

    Attributes:
        metric: the metric whose change is attributed.
        method: `"shapley"`, `"lmdi"` or `"hierarchical"`.
        before: the metric's value before.
        after: the metric's value after.
        total: `after - before`; the contributions sum to it (see the module doc).
        contributions: `{leaf: contribution}` for every leaf under the metric, tree order.
        by_owner: `{owner: sum of their leaves' contributions}`; inputs under `"external"`.
        by_node: `{metric: {child: part}}`: each metric's own change split over its
            direct children (Shapley on its own formula), for metrics with a changed child.
        owners: `{leaf: owner}` (`"external"` for inputs).
        values_before: the leaf values before.
        values_after: the leaf values after.
        factors: LMDI only: `{leaf: factor}`, whose product is `after / before`; None for
            other methods, or when the metric is zero or changes sign (no ratio exists).
        tree: the tree (for units in `str`).
    """

    metric: str
    method: str
    before: float
    after: float
    total: float
    contributions: Mapping[str, float]
    by_owner: Mapping[str, float]
    by_node: Mapping[str, Mapping[str, float]]
    owners: Mapping[str, str]
    values_before: Mapping[str, float]
    values_after: Mapping[str, float]
    factors: Mapping[str, float] | None
    tree: Graph = attrs.field(eq=False)

    def share(self, leaf: str) -> float | None:
        """Return a leaf's contribution as a fraction of the change (None if no change)."""
        value = self.contributions[leaf]
        return value / self.total if self.total else None

    def __repr__(self) -> str:
        return (
            f"Attribution(metric={self.metric!r}, method={self.method!r}, "
            f"before={self.before!r}, after={self.after!r}, total={self.total!r})"
        )

    def _quantity(self, value: float, signed: bool = False) -> str:
        text = format_quantity(abs(value) if signed else value, self.tree.unit(self.metric))
        if not signed:
            return text
        return ("+" if value > 0 else "−" if value < 0 else "") + text

    def __str__(self) -> str:
        head = (
            f"{self.metric}: {self._quantity(self.before)} → {self._quantity(self.after)}, "
            f"change {self._quantity(self.total, signed=True)}"
        )
        if self.before:
            head += f" ({_signed_percent(self.total / abs(self.before))})"
        head += f" — {self.method}"
        body = [["start", "", self._quantity(self.before), "", ""]]
        quiet = 0
        for leaf, value in self.contributions.items():
            if value == 0:
                quiet += 1
                continue
            share = self.share(leaf)
            factor = "" if self.factors is None else f"×{format_number(self.factors[leaf])}"
            body.append(
                [
                    leaf,
                    self.owners[leaf],
                    self._quantity(value, signed=True),
                    "—" if share is None else _signed_percent(share),
                    factor,
                ]
            )
        body.append(["end", "", self._quantity(self.after), "", ""])
        header = ["", "owner", "contribution", "share", "factor" if self.factors else ""]
        lines = [head, table(body, header)]
        if quiet:
            lines.append(f"({quiet} unchanged leaves contribute 0)")
        owners = ", ".join(
            f"{o} {self._quantity(v, signed=True)}" for o, v in self.by_owner.items()
        )
        lines.append(f"by owner: {owners}")
        return "\n".join(lines)

    def plot(self, ax: Any = None) -> Any:
        """Draw the waterfall from before to after, bars coloured by owner; return the Axes."""
        return render(self, "plot", ax=ax)

    def to_dict(self) -> dict[str, Any]:
        """Return the attribution as plain data (JSON-ready: no NaN, shares None at no change)."""
        return {
            "metric": self.metric,
            "method": self.method,
            "before": self.before,
            "after": self.after,
            "total": self.total,
            "contributions": dict(self.contributions),
            "shares": {leaf: self.share(leaf) for leaf in self.contributions},
            "by_owner": dict(self.by_owner),
            "by_node": {k: dict(v) for k, v in self.by_node.items()},
            "owners": dict(self.owners),
            "values_before": dict(self.values_before),
            "values_after": dict(self.values_after),
            "factors": None if self.factors is None else dict(self.factors),
        }

    def rows(self) -> list[dict[str, Any]]:
        """Return one record per leaf: owner, values, contribution, share (and factor)."""
        out = []
        for leaf, value in self.contributions.items():
            record: dict[str, Any] = {
                "leaf": leaf,
                "owner": self.owners[leaf],
                "before": self.values_before[leaf],
                "after": self.values_after[leaf],
                "contribution": value,
                "share": self.share(leaf),
            }
            if self.factors is not None:
                record["factor"] = self.factors[leaf]
            out.append(record)
        return out


@attrs.frozen
class AccountRow:
    """One KPI (or input) in an owner's account.

    Attributes:
        name: the leaf.
        owner: the leaf's owner (`"external"` for an input).
        shared: True when listed under a role that only influences it (`influenced_by`);
            its contribution then does not count in that role's total.
        contribution: the leaf's contribution to the change.
        before: the leaf's value before; `after` likewise.
        norm: the KPI's norm as text, or None.
        ok_before: whether the norm was met before (None: no norm); `ok_after` likewise.
    """

    name: str
    owner: str
    shared: bool
    contribution: float
    before: float
    after: float
    norm: str | None
    ok_before: bool | None
    ok_after: bool | None

    def to_dict(self) -> dict[str, Any]:
        """Return the row as plain data."""
        return attrs.asdict(self)


@attrs.frozen
class OwnerAccount:
    """What one role is accountable for: its KPIs, and the sum of their contributions.

    Attributes:
        owner: the role (`"external"` for inputs).
        total: the sum of the contributions of the KPIs it owns (shared ones excluded).
        rows: its own KPIs first, then the KPIs it shares (influences), tree order.
    """

    owner: str
    total: float
    rows: tuple[AccountRow, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the account as plain data."""
        return {"owner": self.owner, "total": self.total, "rows": [r.to_dict() for r in self.rows]}


@attrs.frozen(repr=False)
class Accountability(RowTable):
    """Per owner: their KPIs, each KPI's contribution and norm status in both periods.

    The owners' totals (with `"external"`) add up to the change: a KPI counts once, in
    its owner's total, even when other roles list it as shared. `report[owner]` is
    that owner's account.
    """

    _row_key = "owner"
    attribution: Attribution
    accounts: tuple[OwnerAccount, ...]

    @property
    def total(self) -> float:
        """The change of the metric (`after - before`)."""
        return self.attribution.total

    def _no_row(self, name: object) -> UnknownNameError:
        return UnknownNameError(
            f"no KPI under `{self.attribution.metric}` is owned or influenced by `{name}`",
            hint=did_you_mean(str(name), [a.owner for a in self.accounts]),
            names=[str(name)],
        )

    def __iter__(self) -> Iterator[OwnerAccount]:
        return iter(self.accounts)

    def __len__(self) -> int:
        return len(self.accounts)

    def __repr__(self) -> str:
        owners = ", ".join(a.owner for a in self.accounts)
        return f"Accountability(metric={self.attribution.metric!r}, owners=[{owners}])"

    def __str__(self) -> str:
        result = self.attribution
        tree = result.tree
        lines = [str(result).split("\n", 1)[0]]
        body = []
        for account in self.accounts:
            body.append([account.owner, result._quantity(account.total, signed=True), "", "", ""])
            for row in account.rows:
                body.append(
                    [
                        f"  {row.name} (shared)" if row.shared else f"  {row.name}",
                        result._quantity(row.contribution, signed=True),
                        _with_mark(format_value(row.before, tree, row.name), row.ok_before),
                        _with_mark(format_value(row.after, tree, row.name), row.ok_after),
                        _norm_text(tree, row.name),
                    ]
                )
        lines.append(table(body, ["owner / KPI", "contribution", "before", "after", ""]))
        shared = {r.name: r.owner for a in self.accounts for r in a.rows if r.shared}
        if shared:
            owned = ", ".join(f"{name}: {owner}" for name, owner in shared.items())
            lines.append(f"(shared): influenced here, owned elsewhere ({owned}); not in the total")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain data: the attribution and the accounts."""
        return {
            "metric": self.attribution.metric,
            "method": self.attribution.method,
            "total": self.total,
            "accounts": [a.to_dict() for a in self.accounts],
        }

    def rows(self) -> list[dict[str, Any]]:
        """Return one record per (owner, KPI), shared ones marked."""
        return [{"account": a.owner, **r.to_dict()} for a in self.accounts for r in a.rows]


def _norm_text(tree: Graph, name: str) -> str:
    norm = getattr(tree[name], "norm", None)
    if norm is None:
        return ""
    return "norm " + format_norm(norm, tree.unit(name))


def _with_mark(text: str, ok: bool | None) -> str:
    return text if ok is None else f"{text} {norm_mark(ok)}"


def _signed_percent(fraction: float) -> str:
    sign = "+" if fraction > 0 else "−" if fraction < 0 else ""
    return sign + format_number(abs(fraction), percent=True)


# -- the public functions --------------------------------------------------------------------


def attribute(
    tree: Graph,
    metric: str,
    before: Any,
    after: Any,
    method: str = "shapley",
    *,
    max_changing: int = MAX_CHANGING,
) -> Attribution:
    """Split the change of `metric` between two sets of leaf values over leaves and owners.

    Args:
        tree: the tree.
        metric: the metric whose change is attributed.
        before: leaf values before: a mapping (`"80%"` is 0.8), or one row of a pandas or
            polars DataFrame, or a pandas Series (columns that are not leaves are
            ignored). Leaves not given take their node's value.
        after: leaf values after, in the same forms.
        method: `"shapley"`, `"lmdi"` or `"hierarchical"` (see the module doc).
        max_changing: most changing leaves exact Shapley takes (2^n evaluations).

    Returns:
        An `Attribution`; the contributions sum to `.total` (see the module doc).

    Raises:
        LimitError: Shapley over more than `max_changing` changing leaves.
        EvaluationError: the metric is undefined at either end, or (Shapley) at a mix of
            the two; or LMDI meets a leaf that changes sign.
        FormulaError: LMDI on a formula that is not a sum of products.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> tree = qualified_leads()
        >>> result = attribute(tree, "qualified_leads", {"leads": 1000, "lead_to_ql": 0.8},
        ...                    {"leads": 1100, "lead_to_ql": 0.7})
        >>> result.total, dict(result.contributions)
        (-30.0, {'leads': 75.0, 'lead_to_ql': -105.0})
        >>> dict(result.by_owner)
        {'marketing': 75.0, 'sales': -105.0}
    """
    method = _check_method(method)
    limit = _check_limit_option(max_changing)
    sub = _subtree(tree, metric)
    given_before = _period_values(tree, before, "before")
    given_after = _period_values(tree, after, "after")
    low, high = (
        _node_values(sub, given, label)
        for given, label in ((given_before, "before"), (given_after, "after"))
    )
    total = high[metric] - low[metric]
    split = _split(sub, metric, low, high, total, method, limit, nodes=True, scalar=True)
    leaves = [leaf.name for leaf in sub.leaves]
    contributions = {leaf: float(split.contributions[leaf][0]) for leaf in leaves}
    owners = _owners(sub)
    factors = None
    if split.factors is not None:
        factors = {leaf: float(split.factors[leaf][0]) for leaf in leaves}
        if not all(math.isfinite(f) for f in factors.values()):
            factors = None
    return Attribution(
        metric=metric,
        method=method,
        before=float(low[metric][0]),
        after=float(high[metric][0]),
        total=float(total[0]),
        contributions=_frozen_map(contributions),
        by_owner=_frozen_map(_roll_up(contributions, owners)),
        by_node=_frozen_map(
            {
                node: _frozen_map({c: float(v[0]) for c, v in parts.items()})
                for node, parts in split.by_node.items()
            }
        ),
        owners=_frozen_map(owners),
        values_before=_frozen_map({leaf: float(low[leaf][0]) for leaf in leaves}),
        values_after=_frozen_map({leaf: float(high[leaf][0]) for leaf in leaves}),
        factors=None if factors is None else _frozen_map(factors),
        tree=tree,
    )


def accountability(
    tree: Graph,
    metric: str,
    before: Any,
    after: Any,
    *,
    method: str = "shapley",
    max_changing: int = MAX_CHANGING,
) -> Accountability:
    """Report per owner: their KPIs, each KPI's contribution and norm status in both periods.

    Marketing is judged on leads and sales on conversion: each owner's total is the sum
    of the KPIs it owns. A KPI with `influenced_by` roles is listed under those roles
    too, marked shared, and does not count in their totals. Inputs are under
    `"external"`. Arguments are those of `attribute`.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> report = accountability(qualified_leads(), "qualified_leads",
        ...                         {"leads": 1000, "lead_to_ql": 0.8},
        ...                         {"leads": 1100, "lead_to_ql": 0.7})
        >>> [(a.owner, a.total) for a in report]
        [('marketing', 75.0), ('sales', -105.0)]
        >>> [(r.name, r.shared, r.ok_after) for r in report["marketing"].rows]
        [('leads', False, None), ('lead_to_ql', True, False)]
    """
    result = attribute(tree, metric, before, after, method, max_changing=max_changing)
    checks = [status(tree, dict(values)) for values in (result.values_before, result.values_after)]
    own: dict[str, list[AccountRow]] = {}
    shared: dict[str, list[AccountRow]] = {}
    for leaf, owner in result.owners.items():
        node = tree[leaf]
        norm = getattr(node, "norm", None)
        ok = [None if norm is None else check[leaf].ok for check in checks]
        row = AccountRow(
            name=leaf,
            owner=owner,
            shared=False,
            contribution=result.contributions[leaf],
            before=result.values_before[leaf],
            after=result.values_after[leaf],
            norm=None if norm is None else str(norm),
            ok_before=ok[0],
            ok_after=ok[1],
        )
        own.setdefault(owner, []).append(row)
        if isinstance(node, KPI):
            for role in node.influenced_by:
                if role != owner:
                    shared.setdefault(role, []).append(attrs.evolve(row, shared=True))
    roles = [o for o in own if o != EXTERNAL]
    roles += [r for r in shared if r not in own]
    roles += [EXTERNAL] if EXTERNAL in own else []
    accounts = tuple(
        OwnerAccount(
            owner=role,
            total=math.fsum(r.contribution for r in own.get(role, [])),
            rows=(*own.get(role, []), *shared.get(role, [])),
        )
        for role in roles
    )
    return Accountability(result, accounts)


def attribute_frame(
    tree: Graph,
    data: Any,
    metric: str,
    *,
    period: str,
    before: Any,
    after: Any,
    by: Sequence[str] = (),
    method: str = "shapley",
    max_changing: int = MAX_CHANGING,
) -> Any:
    """Attribute the change of `metric` per segment, for a table of periods × segments.

    Args:
        tree: the tree.
        data: a pandas or polars DataFrame with a `period` column, the `by` columns and
            a column per leaf (a leaf without a column takes its node's value).
        metric: the metric whose change is attributed.
        period: the name of the period column.
        before: the period label (a value of that column) to start from.
        after: the period label to end at.
        by: the columns naming a segment; each segment needs one row in each period.
        method: `"shapley"`, `"lmdi"` or `"hierarchical"`, as in `attribute`.
        max_changing: as in `attribute`; counts leaves changing in any segment.

    Returns:
        A frame of the same library, one row per segment: the `by` columns,
        `<metric>_before`, `<metric>_after`, `<metric>_change`, one column per leaf
        (its contribution) and one `owner_<owner>` column per owner (LMDI factors are
        not included). A segment where the metric is undefined (division by zero...)
        gets NaN, as frames do.

    Raises:
        MissingValueError: a segment without a row in one of the two periods, or two
            rows of one segment in one period.

    Examples:
        >>> import pandas as pd
        >>> from kpitree.examples import qualified_leads
        >>> df = pd.DataFrame({"month": ["jan", "feb", "jan", "feb"],
        ...                    "channel": ["ads", "ads", "seo", "seo"],
        ...                    "leads": [1000, 1100, 500, 500],
        ...                    "lead_to_ql": [0.8, 0.7, 0.9, 0.95]})
        >>> out = attribute_frame(qualified_leads(), df, "qualified_leads",
        ...                       period="month", before="jan", after="feb", by=["channel"])
        >>> out[["channel", "qualified_leads_change", "leads", "lead_to_ql"]].round(6)
          channel  qualified_leads_change  leads  lead_to_ql
        0     ads                   -30.0   75.0      -105.0
        1     seo                    25.0    0.0        25.0
    """
    method = _check_method(method)
    limit = _check_limit_option(max_changing)
    sub = _subtree(tree, metric)
    by = [by] if isinstance(by, str) else list(by)
    leaves = [leaf.name for leaf in sub.leaves]
    library = _library(data)
    keys, low_leaves, high_leaves = (_align_pandas if library == "pandas" else _align_polars)(
        data, period, before, after, by, leaves
    )
    rows = len(next(iter([*low_leaves.values(), *keys.values()]), [0.0]))
    low = _all_values(sub, low_leaves, rows)
    high = _all_values(sub, high_leaves, rows)
    total = high[metric] - low[metric]
    with np.errstate(all="ignore"):
        split = _split(sub, metric, low, high, total, method, limit, nodes=False, scalar=False)
    owners = _owners(sub)
    columns: dict[str, Any] = dict(keys)
    columns[f"{metric}_before"] = low[metric]
    columns[f"{metric}_after"] = high[metric]
    columns[f"{metric}_change"] = total
    undefined = np.isnan(total)  # one rule for the whole row: NaN, not a partial split
    for leaf in leaves:
        columns[leaf] = np.where(undefined, np.nan, split.contributions[leaf])
    for owner in dict.fromkeys(owners.values()):
        parts = [columns[leaf] for leaf in leaves if owners[leaf] == owner]
        columns[f"owner_{owner}"] = np.sum(parts, axis=0)
    clash = len(columns) != len(keys) + 3 + len(leaves) + len(set(owners.values()))
    if clash:
        raise ArgumentError(
            f"the result columns of `{metric}` would repeat a name: the `by` columns, "
            f"leaf names and owner columns must differ",
            hint="rename the segment columns",
        )
    if library == "pandas":
        import pandas

        return pandas.DataFrame(columns)
    import polars

    return polars.DataFrame(columns)


# -- inputs ----------------------------------------------------------------------------------


def _check_method(method: Any) -> str:
    if method in METHODS:
        return str(method)
    raise ArgumentError(
        f"attribution method {method!r} is not one of {', '.join(METHODS)}",
        hint=did_you_mean(str(method), METHODS) or 'method="shapley" is exact and the default',
    )


def _check_limit_option(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ArgumentError(
            f"max_changing must be a positive whole number, got {value!r}",
            hint=f"the default is {MAX_CHANGING}",
        )
    return value


def _subtree(tree: Graph, metric: str) -> Graph:
    """Return the tree of `metric` and everything under it (cached per tree and metric)."""
    node = tree[metric]
    if not isinstance(node, Metric):
        raise KindError(
            f"`{metric}` is a leaf: its change is all its own, there is nothing to attribute",
            hint="attribute a metric: one of " + ", ".join(f"`{m.name}`" for m in tree.metrics[:5]),
            names=[metric],
        )
    return tree.subtree(metric)


def _library(data: Any) -> str:
    kind = table_kind(data)
    if kind in ("pandas", "polars"):
        return kind
    raise ValueTypeError(
        f"data must be a pandas or polars DataFrame, got {type(data).__name__}",
        hint="for two sets of values, use tree.attribute(metric, before, after)",
    )


def _period_values(tree: Graph, given: Any, label: str) -> dict[str, float]:
    """Read one period's leaf values from a mapping, a one-row frame or a Series."""
    if given is None:
        return {}
    kind = table_kind(given)
    if kind == "mapping":
        values = dict(given)
    else:
        height = len(given) if kind == "pandas" else given.height if kind == "polars" else None
        if kind == "series":
            row = given.to_dict()
        elif height == 1:
            row = given.iloc[0].to_dict() if kind == "pandas" else given.row(0, named=True)
        elif height is not None:
            raise ValueTypeError(
                f"`{label}` must be one row of values, got a frame of {height} rows",
                hint="pick one row, or use tree.attribute_frame(...) for a row per segment",
            )
        else:
            raise ValueTypeError(
                f"`{label}` must be a mapping of leaf values or one row of a DataFrame, "
                f"got {type(given).__name__}"
            )
        leaves = {leaf.name for leaf in tree.leaves}
        values = {k: v for k, v in row.items() if k in leaves}
    try:
        return tree.check_values(values)
    except KPITreeError as exc:
        raise exc.located(f"the `{label}` values") from None


def _node_values(tree: Graph, given: Mapping[str, float], label: str) -> dict[str, Array]:
    """Every node's value (as a one-row array) from checked leaf values and the defaults."""
    compiled = compile_tree(tree)
    defaults = {leaf.name: leaf.value for leaf in tree.leaves}
    vector = [given.get(leaf, defaults[leaf]) for leaf in compiled.leaves]
    try:
        if any(v is None for v in vector):
            evaluate(tree, {k: v for k, v in given.items() if k in tree})  # names the missing
        results = evaluate_vector(tree, vector, undefined="raise")  # type: ignore[arg-type]  # no None left
    except KPITreeError as exc:
        raise exc.located(f"the `{label}` values") from None
    out = {name: np.array([value]) for name, value in zip(compiled.leaves, vector, strict=True)}
    out.update((name, np.array([v])) for name, v in zip(compiled.metrics, results, strict=True))
    return out


def _owners(tree: Graph) -> dict[str, str]:
    return {leaf.name: leaf.owner if isinstance(leaf, KPI) else EXTERNAL for leaf in tree.leaves}


def _roll_up(contributions: Mapping[str, float], owners: Mapping[str, str]) -> dict[str, float]:
    parts: dict[str, list[float]] = {}
    for leaf, value in contributions.items():
        parts.setdefault(owners[leaf], []).append(value)
    order = sorted(parts, key=lambda o: o == EXTERNAL)  # stable: external last
    return {owner: math.fsum(parts[owner]) for owner in order}


def _all_values(tree: Graph, leaves: Mapping[str, Array], rows: int) -> dict[str, Array]:
    """Every node's values over rows: the leaves given (or their defaults) and the metrics."""
    given = {name: np.broadcast_to(column, (rows,)) for name, column in leaves.items()}
    out = dict(evaluate_arrays(tree, given))  # a leaf without column or value: an error here
    for leaf in tree.leaves:
        value = given.get(leaf.name, leaf.value)
        out[leaf.name] = np.broadcast_to(np.asarray(value, dtype=np.float64), (rows,))
    return {name: np.broadcast_to(values, (rows,)) for name, values in out.items()}


def _align_pandas(
    data: Any, period: str, before: Any, after: Any, by: list[str], leaves: list[str]
) -> tuple[dict[str, Any], dict[str, Array], dict[str, Array]]:
    """Pair each segment's row in `before` with its row in `after` (pandas)."""
    names = [str(c) for c in data.columns]
    _check_columns(names, [period, *by], leaves)
    present = [leaf for leaf in leaves if leaf in names]
    parts = [
        data.loc[(data[period] == label).to_numpy(), [*by, *present]] for label in (before, after)
    ]
    _check_periods([len(p) for p in parts], period, (before, after), by)
    marker = "\x00period"
    if by:
        for part, label in zip(parts, (before, after), strict=True):
            repeated = part.duplicated(by).to_numpy()
            if repeated.any():
                raise _repeated(part.loc[repeated, by].iloc[0].tolist(), by, period, label)
        tagged = [p.assign(**{marker: i}) for i, p in enumerate(parts)]
        merged = tagged[0].merge(
            tagged[1], on=by, how="outer", suffixes=("", "\x00after"), sort=False
        )
        for i, label in enumerate((before, after)):
            column = marker if i == 0 else marker + "\x00after"
            gone = merged[column].isna().to_numpy()
            if gone.any():
                raise _absent(merged.loc[gone, by].iloc[0].tolist(), by, period, label)
        keys = {b: merged[b].to_numpy() for b in by}
        low = {leaf: _numeric(merged[leaf].to_numpy(), leaf) for leaf in present}
        high = {leaf: _numeric(merged[leaf + "\x00after"].to_numpy(), leaf) for leaf in present}
        return keys, low, high
    low, high = ({leaf: _numeric(p[leaf].to_numpy(), leaf) for leaf in present} for p in parts)
    return {}, low, high


def _align_polars(
    data: Any, period: str, before: Any, after: Any, by: list[str], leaves: list[str]
) -> tuple[dict[str, Any], dict[str, Array], dict[str, Array]]:
    """Pair each segment's row in `before` with its row in `after` (polars)."""
    import polars as pl

    names = list(data.columns)
    _check_columns(names, [period, *by], leaves)
    present = [leaf for leaf in leaves if leaf in names]
    parts = [
        data.filter(pl.col(period) == label).select([*by, *present]) for label in (before, after)
    ]
    _check_periods([p.height for p in parts], period, (before, after), by)
    if by:
        for part, label in zip(parts, (before, after), strict=True):
            repeated = part.select(by).is_duplicated()
            if repeated.any():
                raise _repeated(list(part.filter(repeated).row(0)[: len(by)]), by, period, label)
        marker = "\x00period"
        tagged = [p.with_columns(pl.lit(i).alias(marker)) for i, p in enumerate(parts)]
        merged = tagged[0].join(
            tagged[1], on=by, how="full", suffix="\x00after", coalesce=True, maintain_order="left"
        )
        for i, label in enumerate((before, after)):
            column = marker if i == 0 else marker + "\x00after"
            gone = merged[column].is_null()
            if gone.any():
                raise _absent(list(merged.filter(gone).select(by).row(0)), by, period, label)
        keys = {b: merged[b] for b in by}
        low = {leaf: _numeric(merged[leaf].to_numpy(), leaf) for leaf in present}
        high = {leaf: _numeric(merged[leaf + "\x00after"].to_numpy(), leaf) for leaf in present}
        return keys, low, high
    low, high = ({leaf: _numeric(p[leaf].to_numpy(), leaf) for leaf in present} for p in parts)
    return {}, low, high


def _check_columns(names: list[str], needed: list[str], leaves: list[str]) -> None:
    for name in needed:
        if name not in names:
            raise UnknownNameError(
                f"the data has no column `{name}`",
                hint=did_you_mean(name, names),
                names=[name],
            )
        if name in leaves:
            raise KindError(
                f"`{name}` is a leaf of the tree; it cannot also name the period or a segment",
                names=[name],
            )


def _check_periods(heights: list[int], period: str, labels: tuple[Any, Any], by: list[str]) -> None:
    for height, label in zip(heights, labels, strict=True):
        if height == 0:
            raise MissingValueError(
                f"no row has `{period}` equal to {label!r}",
                hint="before= and after= take values of the period column",
                names=[period],
            )
        if not by and height > 1:
            raise _repeated([], by, period, label, rows=height)


def _repeated(
    key: list[Any], by: list[str], period: str, label: Any, rows: int = 2
) -> MissingValueError:
    segment = ", ".join(f"{b}={k!r}" for b, k in zip(by, key, strict=True)) or "the table"
    return MissingValueError(
        f"{segment} has {rows} or more rows for `{period}` = {label!r}; each segment needs one",
        hint="name every segment column in by=[...], or aggregate first with tree.rollup(...)",
        names=[period, *by],
    )


def _absent(key: list[Any], by: list[str], period: str, label: Any) -> MissingValueError:
    segment = ", ".join(f"{b}={k!r}" for b, k in zip(by, key, strict=True))
    return MissingValueError(
        f"segment {segment} has no row for `{period}` = {label!r}",
        hint="add a row with its leaf values (zeros for a new segment), or filter it out",
        names=[period, *by],
    )


def _numeric(values: Any, leaf: str) -> Array:
    if values.dtype.kind not in "iuf":
        raise ValueTypeError(
            f"column `{leaf}` must hold numbers, got {values.dtype}",
            hint="convert it first (percentages as fractions: 0.8 for 80%)",
            names=[leaf],
        )
    return np.asarray(values, dtype=np.float64)


# -- the methods -----------------------------------------------------------------------------


@attrs.frozen
class _Split:
    contributions: dict[str, Array]
    by_node: dict[str, dict[str, Array]]
    factors: dict[str, Array] | None = None


@attrs.frozen
class _Periods:
    """Every node's values over rows in both periods, and what the methods share.

    Attributes:
        tree: the tree of the attributed metric.
        low: `{node: values before}`, one array of rows each; `high`: after.
        changed: the nodes whose value differs in some row.
        limit: most players one exact Shapley game takes.
        scalar: one row from `attribute` (errors name the mix), not frame rows (NaN).
    """

    tree: Graph
    low: dict[str, Array]
    high: dict[str, Array]
    changed: frozenset[str]
    limit: int
    scalar: bool


def _split(
    tree: Graph,
    metric: str,
    low: dict[str, Array],
    high: dict[str, Array],
    total: Array,
    method: str,
    limit: int,
    *,
    nodes: bool,
    scalar: bool,
) -> _Split:
    """Run one method over rows of before/after values of every node of `tree`."""
    try:
        with np.errstate(all="ignore"):
            periods = _Periods(tree, low, high, _changed(tree, low, high), limit, scalar)
            if method == "hierarchical":
                return _hierarchical(periods, metric, total, nodes)
            by_node = _local_splits(periods) if nodes else {}
            if method == "shapley":
                return _Split(_shapley(periods, metric, total), by_node)
            contributions, factors = _lmdi(periods, metric, total)
            return _Split(contributions, by_node, factors)
    except MemoryError:
        raise LimitError(
            f"attributing `{metric}` needs more memory than there is",
            hint=f'use method="hierarchical", or a smaller max_changing (default {MAX_CHANGING})',
            names=[metric],
        ) from None


def _changed(tree: Graph, low: Mapping[str, Array], high: Mapping[str, Array]) -> frozenset[str]:
    """The nodes whose value differs between the periods in some row.

    NaN != NaN: a node unknown in some row counts as changed, and that row becomes NaN.
    """
    names = tree.names
    if low[names[0]].shape[0] == 1:  # one comparison for the whole tree
        moved = np.stack([low[n] for n in names]) != np.stack([high[n] for n in names])
        return frozenset(n for n, m in zip(names, moved[:, 0], strict=True) if m)
    return frozenset(n for n in names if np.any(low[n] != high[n]))


def _too_many(where: str, count: int, limit: int) -> LimitError:
    return LimitError(
        f"exact Shapley attribution of `{where}` over {count} changing leaves would "
        f"evaluate 2^{count} = {2**count:,} mixes of before and after values; the limit is "
        f"{limit}",
        hint='use method="hierarchical" (its cost grows with the tree, not with 2^leaves), '
        "or raise max_changing=...",
        names=[where],
    )


def _shapley(periods: _Periods, metric: str, total: Array) -> dict[str, Array]:
    """Exact Shapley values of the changing leaves, all 2^n coalitions evaluated at once."""
    compiled = compile_tree(periods.tree, "numpy")
    target = compiled.metrics.index(metric)
    players, values = _game(
        periods, metric, lambda vector: compiled(vector)[target], compiled.leaves
    )
    phi = _exact(_shapley_values(values, len(players)), total)
    rows = total.shape[0]
    out = {leaf: np.zeros(rows) for leaf in compiled.leaves}
    out.update(zip(players, phi, strict=True))
    return out


def _game(
    periods: _Periods, where: str, function: Callable[[list[Any]], Any], names: Sequence[str]
) -> tuple[list[str], Array]:
    """Return the changed `names` (the players) and `function`'s value at every coalition.

    Raises:
        LimitError: more players than the limit.
        EvaluationError: (one row only) the function is undefined at some coalition.
    """
    players = [n for n in names if n in periods.changed]
    if len(players) > periods.limit:
        raise _too_many(where, len(players), periods.limit)
    values = _coalitions(function, names, players, periods.low, periods.high)
    if periods.scalar and np.isnan(values).any():
        raise _undefined_mix(periods, where, players, values)
    return players, values


def _coalitions(
    function: Callable[[list[Any]], Any],
    names: Sequence[str],
    players: Sequence[str],
    low: Mapping[str, Array],
    high: Mapping[str, Array],
) -> Array:
    """Evaluate `function` at every coalition: row `S` takes `high` for the players in `S`.

    Coalition `S` is a bit mask over `players`; arguments are in `names` order. Blocks of
    coalitions × rows keep one pass small enough for the cache. Within a block the low
    bits vary (those columns are the same for every block, made once) and the high bits
    are constant: such a player is passed as one row of values, not a column.
    """
    count = 1 << len(players)
    rows = next(iter(low.values())).shape[0]
    width = max(1, min(rows, _BLOCK))
    step = min(count, 1 << max(0, (_BLOCK // width).bit_length() - 1))
    inner = step.bit_length() - 1  # players 0 .. inner-1 vary inside a block
    pattern = np.arange(step)[:, None]
    bit = {name: i for i, name in enumerate(players)}
    values = np.empty((count, rows))
    for r0 in range(0, rows, width):
        r1 = min(rows, r0 + width)
        lows, highs = low, high
        if width < rows:
            lows = {name: low[name][r0:r1] for name in names}
            highs = {name: high[name][r0:r1] for name in names}
        varying = {
            name: np.where(((pattern >> i) & 1).astype(bool), highs[name], lows[name])
            for name, i in bit.items()
            if i < inner
        }
        for start in range(0, count, step):
            vector = [
                varying[name]
                if name in varying
                else (highs if name in bit and (start >> bit[name]) & 1 else lows)[name]
                for name in names
            ]
            values[start : start + step, r0:r1] = function(vector)
    return values


@functools.lru_cache(maxsize=4)
def _sizes(n: int) -> NDArray[np.uint8]:
    """The number of players in each coalition (bit mask) of `n` players."""
    sizes = np.zeros(1 << n, dtype=np.uint8)
    for i in range(n):
        sizes.reshape(-1, 2, 1 << i)[:, 1, :] += 1
    sizes.flags.writeable = False
    return sizes


def _shapley_values(values: Array, n: int) -> Array:
    """Shapley values from the game's value at every coalition (rows: bit masks).

    `phi_i = sum over S with i of w(|S| - 1) v(S) - sum over S without i of w(|S|) v(S)`,
    with `w(s) = s! (n - s - 1)! / n! = 1 / (n * C(n - 1, s))`: two weighted copies of
    the values, then two strided sums per player. The values are first shifted by
    `v(empty)` (Shapley values ignore a constant), so the sums are of changes, not of
    levels, and lose little to rounding.
    """
    rows = values.shape[1]
    if n == 0:
        return np.zeros((0, rows))
    if n == 1:
        return values[1:] - values[:1]
    if n == 2:
        v0, v1, v2, v3 = values
        return np.array([((v1 - v0) + (v3 - v2)) / 2, ((v2 - v0) + (v3 - v1)) / 2])
    weight = [1.0 / (n * math.comb(n - 1, s)) for s in range(n)]
    sizes = _sizes(n)
    shifted = values - values[0]
    without = shifted * np.array([*weight, 0.0])[sizes][:, None]
    shifted *= np.array([0.0, *weight])[sizes][:, None]  # now: with
    phi = np.empty((n, rows))
    for i in range(n):
        step = 1 << i
        inside = shifted.reshape(-1, 2, step, rows)[:, 1].sum(axis=(0, 1))
        outside = without.reshape(-1, 2, step, rows)[:, 0].sum(axis=(0, 1))
        phi[i] = inside - outside
    return phi


def _exact(phi: Array, total: Array) -> Array:
    """Spread the rounding residual `total - sum(phi)` over `phi` by absolute size.

    The documented exact step: zeros stay zero and equal parts stay equal. Parts that
    are only rounding noise (within 1e-12 of the size of the change) become exactly 0
    first, so a leaf whose effects cancel reads 0, not 7e-16.
    """
    if phi.shape[0] == 0:
        return phi
    size = np.maximum(np.abs(phi).sum(axis=0), np.abs(total))
    phi = np.where(np.abs(phi) <= 1e-12 * size, 0.0, phi)
    residual = total - phi.sum(axis=0)
    scale = np.abs(phi).sum(axis=0)
    adjust = np.where(scale > 0, residual / np.where(scale > 0, scale, 1.0), 0.0)
    exact: Array = phi + np.abs(phi) * adjust
    return exact


def _undefined_mix(
    periods: _Periods, metric: str, players: Sequence[str], values: Array
) -> EvaluationError:
    tree, low, high = periods.tree, periods.low, periods.high
    mask = int(np.flatnonzero(np.isnan(values[:, 0]))[0])
    moved = [p for i, p in enumerate(players) if (mask >> i) & 1]
    reason = ""
    if all(not isinstance(tree[p], Metric) for p in players):
        # Find which metric is undefined, and why, by evaluating that mix node by node.
        mix = {
            leaf.name: float((high if leaf.name in moved else low)[leaf.name][0])
            for leaf in tree.leaves
        }
        try:
            evaluate(tree, mix)
        except EvaluationError as exc:
            reason = f": {exc.reason}"
    after = ", ".join(f"`{p}`" for p in moved) or "no leaf"
    return EvaluationError(
        f"`{metric}` is undefined when {after} take(s) the after value and the other "
        f"changing leaves the before value{reason}; exact Shapley needs every such mix",
        hint='method="hierarchical" mixes values only inside one formula at a time',
        names=[metric, *players],
    )


# -- per-node games (by_node, hierarchical) -------------------------------------------------


def _additive_terms(expr: Expr) -> list[Expr]:
    """Split a formula into terms whose sum it is (signs folded into the terms)."""
    out: list[Expr] = []
    stack: list[tuple[Expr, bool]] = [(expr, False)]
    while stack:
        node, negative = stack.pop()
        if isinstance(node, Add):
            stack.extend((t, negative) for t in reversed(node.terms))
        elif isinstance(node, Sub):
            stack.append((node.right, not negative))
            stack.append((node.left, negative))
        elif isinstance(node, Neg):
            stack.append((node.operand, not negative))
        else:
            out.append(Neg(node) if negative else node)
    return out


# A term: the children it uses, and its compiled function, or for a bare child (a term
# of a sum, by far the most common) None and the sign: its part is then its own change.
_Term = tuple[tuple[str, ...], Callable[[list[Any]], Any] | None, float]


_TERMS: CacheKey[dict[str, list[_Term]]] = CacheKey("attribution terms")


def _term_functions(tree: Graph) -> dict[str, list[_Term]]:
    """Compile every metric's additive terms for numpy, once per tree (cached).

    The source is generated from the validated formulas by `python_code`: children are
    positional slots, no user text is part of it.
    """
    return tree.cached(_TERMS, lambda: _compile_terms(tree))


def _compile_terms(tree: Graph) -> dict[str, list[_Term]]:
    lines: list[str] = []
    index: list[tuple[str, tuple[str, ...]]] = []
    bare: list[tuple[str, tuple[str, ...], float]] = []
    for metric in tree.metrics:
        for term in _additive_terms(metric.formula):
            names = tuple(r.name for r in refs(term))
            if not names:
                continue  # a constant term moves nothing
            if isinstance(term, Ref) or (isinstance(term, Neg) and isinstance(term.operand, Ref)):
                bare.append((metric.name, names, -1.0 if isinstance(term, Neg) else 1.0))
                continue
            slots = {name: f"c{j}" for j, name in enumerate(names)}
            lines.append(f"def _t{len(index)}(c):")
            lines.append(f"    {''.join(slots[n] + ', ' for n in names)}= c")
            lines.append(f"    return _fix({codegen.python_code(term, slots)})")
            index.append((metric.name, names))
    namespace = codegen.define(
        "\n".join(lines) + "\n", codegen.numpy_runtime(), "attribution terms"
    )
    out: dict[str, list[_Term]] = {m.name: [] for m in tree.metrics}
    for k, (metric_name, names) in enumerate(index):
        out[metric_name].append((names, namespace[f"_t{k}"], 1.0))
    for metric_name, names, sign in bare:
        out[metric_name].append((names, None, sign))
    return out


def _local(periods: _Periods, name: str) -> dict[str, Array]:
    """Split a metric's own change over its direct children: Shapley, term by term."""
    tree, low, high = periods.tree, periods.low, periods.high
    rows = low[name].shape[0]
    parts = {child: np.zeros(rows) for child in tree._children[name]}
    for names, function, sign in _term_functions(tree)[name]:
        if periods.changed.isdisjoint(names):
            continue
        if function is None:
            parts[names[0]] += sign * (high[names[0]] - low[names[0]])
            continue
        players, values = _game(periods, name, function, names)
        for player, phi in zip(players, _shapley_values(values, len(players)), strict=True):
            parts[player] += phi
    change = high[name] - low[name]
    exact = _exact(np.array(list(parts.values())), change)
    return dict(zip(parts, exact, strict=True))


def _moved_metrics(periods: _Periods) -> Iterator[str]:
    """The metrics with a changed child, parents before children."""
    tree = periods.tree
    for name in reversed(tree._topo):
        if isinstance(tree[name], Metric) and not periods.changed.isdisjoint(tree._children[name]):
            yield name


def _local_splits(periods: _Periods) -> dict[str, dict[str, Array]]:
    """`by_node`: every metric with a changed child, its change split over its children."""
    return {name: _local(periods, name) for name in _moved_metrics(periods)}


def _hierarchical(periods: _Periods, metric: str, total: Array, nodes: bool) -> _Split:
    """Shapley inside each formula, passed down by the rule in the module doc."""
    tree, low, high = periods.tree, periods.low, periods.high
    share: dict[str, Array] = {metric: total}
    by_node: dict[str, dict[str, Array]] = {}
    for name in _moved_metrics(periods):
        if name not in share and not nodes:
            continue  # it passes nothing down, and its own split is not asked for
        parts = _local(periods, name)
        by_node[name] = parts
        if name not in share:
            continue  # unchanged, or outside the target: no share to pass down
        change = high[name] - low[name]
        # The target passes its own split as it is, even when its changes cancel out (0).
        unchanged = 1.0 if name == metric else 0.0
        ratio = np.where(change != 0, share[name] / np.where(change != 0, change, 1.0), unchanged)
        for child, part in parts.items():
            share[child] = share[child] + ratio * part if child in share else ratio * part
    leaves = [leaf.name for leaf in tree.leaves]
    rows = total.shape[0]
    gathered = np.array([share.get(leaf, np.zeros(rows)) for leaf in leaves])
    exact = _exact(gathered, total) if leaves else gathered
    return _Split(dict(zip(leaves, exact, strict=True)), by_node)


# -- LMDI ------------------------------------------------------------------------------------

_Poly = dict[tuple[tuple[str, float], ...], float]  # monomial (leaf, exponent)s -> coefficient


def _lmdi_formula_error(metric: str, node: str, why: str) -> FormulaError:
    return FormulaError(
        f"LMDI takes products, quotients and sums of products; `{node}` {why}",
        where=f"attributing `{metric}`",
        hint='use method="shapley" or method="hierarchical", which take any formula',
        names=[metric, node],
    )


def _monomials(tree: Graph, metric: str) -> _Poly:
    """Expand `metric` through intermediate metrics into a sum of leaf monomials."""
    memo: dict[str, _Poly] = {}
    for name in tree._topo:  # children first: each formula sees its children expanded
        node = tree[name]
        if isinstance(node, Metric):
            memo[name] = _expand(node.formula, memo, metric, name)
        else:
            memo[name] = {((name, 1.0),): 1.0}
    return memo[metric]


def _expand(expr: Expr, memo: Mapping[str, _Poly], metric: str, node: str) -> _Poly:
    if isinstance(expr, Const):
        return {(): float(expr.value)} if expr.value else {}
    if isinstance(expr, Ref):
        return memo[expr.name]
    if isinstance(expr, Add):
        out: _Poly = {}
        for term in expr.terms:
            out = _plus(out, _expand(term, memo, metric, node))
        return out
    if isinstance(expr, Sub):
        right = _expand(expr.right, memo, metric, node)
        return _plus(_expand(expr.left, memo, metric, node), {k: -c for k, c in right.items()})
    if isinstance(expr, Neg):
        return {k: -c for k, c in _expand(expr.operand, memo, metric, node).items()}
    if isinstance(expr, Mul):
        out = {(): 1.0}
        for factor in expr.factors:
            out = _times(out, _expand(factor, memo, metric, node), metric, node)
        return out
    if isinstance(expr, Div):
        right = _expand(expr.right, memo, metric, node)
        if len(right) != 1:
            raise _lmdi_formula_error(metric, node, "divides by a sum")
        ((key, coef),) = right.items()
        inverse = {tuple((leaf, -e) for leaf, e in key): 1.0 / coef}
        return _times(_expand(expr.left, memo, metric, node), inverse, metric, node)
    if isinstance(expr, Pow) and isinstance(expr.exponent, Const):
        power = float(expr.exponent.value)
        base = _expand(expr.base, memo, metric, node)
        if len(base) == 1:
            ((key, coef),) = base.items()
            if coef < 0 and not power.is_integer():
                raise _lmdi_formula_error(metric, node, "takes a fractional power of a negative")
            return {_key({leaf: e * power for leaf, e in key}): coef**power}
        if power.is_integer() and 0 < power <= 8:
            out = {(): 1.0}
            for _ in range(int(power)):
                out = _times(out, base, metric, node)
            return out
        raise _lmdi_formula_error(metric, node, "raises a sum to a power")
    what = f"uses {expr.func}()" if isinstance(expr, Call) else "has a variable exponent"
    raise _lmdi_formula_error(metric, node, what)


def _key(powers: Mapping[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted((leaf, e) for leaf, e in powers.items() if e != 0))


def _plus(left: _Poly, right: _Poly) -> _Poly:
    out = dict(left)
    for key, coef in right.items():
        out[key] = out.get(key, 0.0) + coef
    return {k: c for k, c in out.items() if c != 0}


def _times(left: _Poly, right: _Poly, metric: str, node: str) -> _Poly:
    if len(left) * len(right) > _MAX_TERMS:
        raise LimitError(
            f"`{metric}` expands into more than {_MAX_TERMS:,} products of leaves at `{node}`, "
            "too many for LMDI",
            hint='use method="hierarchical"',
            names=[metric, node],
        )
    out: _Poly = {}
    for key_l, coef_l in left.items():
        for key_r, coef_r in right.items():
            powers = dict(key_l)
            for leaf, e in key_r:
                powers[leaf] = powers.get(leaf, 0.0) + e
            key = _key(powers)
            out[key] = out.get(key, 0.0) + coef_l * coef_r
    return {k: c for k, c in out.items() if c != 0}


def _log_mean(a: Array, b: Array) -> Array:
    """The logarithmic mean `(a - b) / ln(a / b)` of same-signed values, stably.

    Written as `b * t / log1p(t)` with `t = (a - b) / b`, so equal or nearly equal
    values lose no precision; `L(a, a) = a`.
    """
    t = (a - b) / b
    safe = np.where(t == 0, 1.0, t)
    return np.where(t == 0, b, b * safe / np.log1p(safe))


def _lmdi(
    periods: _Periods, metric: str, total: Array
) -> tuple[dict[str, Array], dict[str, Array]]:
    """LMDI-I contributions and factors (see the module doc for the zero-value limit)."""
    tree, low, high = periods.tree, periods.low, periods.high
    poly = _monomials(tree, metric)
    leaves = [leaf.name for leaf in tree.leaves]
    rows = total.shape[0]
    for leaf in dict.fromkeys(name for key in poly for name, _ in key):
        flips = (low[leaf] * high[leaf]) < 0
        if flips.any():
            where = "" if periods.scalar else f" in {int(flips.sum())} segment(s)"
            raise EvaluationError(
                f"`{leaf}` changes sign{where} (from {format_number(low[leaf][flips][0])} to "
                f"{format_number(high[leaf][flips][0])}): LMDI takes logarithms of "
                "after/before ratios, which need the same sign",
                where=f"attributing `{metric}`",
                hint='use method="shapley" or method="hierarchical"',
                names=[metric, leaf],
            )
    parts = {leaf: np.zeros(rows) for leaf in leaves}
    for key, coef in poly.items():
        if not key:
            continue  # a constant term does not change
        v0 = coef * np.prod([low[leaf] ** e for leaf, e in key], axis=0)
        v1 = coef * np.prod([high[leaf] ** e for leaf, e in key], axis=0)
        regular = (v0 != 0) & (v1 != 0)
        weight = np.where(regular, _log_mean(v1, np.where(regular, v0, 1.0)), 0.0)
        zeros = [np.where(v0 == 0, low[leaf] == 0, high[leaf] == 0) * e for leaf, e in key]
        zero_weight = np.sum(zeros, axis=0)
        # A term zero in one period only; underflow to 0 without a zero leaf is rounding,
        # left to the exact step.
        limit = ((v0 == 0) ^ (v1 == 0)) & (zero_weight > 0)
        for (leaf, e), zero in zip(key, zeros, strict=True):
            ok = regular & (low[leaf] != 0)
            ratio = np.where(ok, high[leaf] / np.where(ok, low[leaf], 1.0), 1.0)
            parts[leaf] += weight * e * np.log(ratio)
            if limit.any():
                # Ang & Liu (2007): the term's whole change goes to its zero leaves.
                spread = (v1 - v0) * zero / np.where(limit, zero_weight, 1.0)
                parts[leaf] += np.where(limit, spread, 0.0)
    gathered = _exact(np.array([parts[leaf] for leaf in leaves]), total)
    contributions = dict(zip(leaves, gathered, strict=True))
    before, after = low[metric], high[metric]
    defined = (before * after) > 0
    scale = _log_mean(np.where(defined, after, 1.0), np.where(defined, before, 1.0))
    factors = {
        leaf: np.where(defined, np.exp(value / scale), np.nan)
        for leaf, value in contributions.items()
    }
    return contributions, factors

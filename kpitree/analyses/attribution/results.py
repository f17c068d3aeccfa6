"""The results of attribution: `Attribution`, and `Accountability` with its accounts and rows."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from kpitree.analyses.attribution.methods import method_label, owner_label
from kpitree.errors import UnknownNameError, did_you_mean
from kpitree.i18n import _, ngettext
from kpitree.model.numbers import format_number
from kpitree.model.render import render
from kpitree.model.results import (
    Result,
    RowTable,
    format_delta,
    format_norm,
    format_value,
    norm_mark,
    table,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from kpitree.model.graph import Graph

    Array = NDArray[np.float64]


class NodeSplits(Mapping[str, Mapping[str, float]]):
    """`Attribution.by_node`, split when first read.

    Each metric's own formula is split over its direct children on demand: on a large tree
    that costs more than the attribution itself, and most callers never read it. An error
    of the split (a term with more changing children than `max_changing`) is raised then.
    """

    def __init__(self, compute: Callable[[], Mapping[str, Mapping[str, float]]]) -> None:
        self._compute: Callable[[], Mapping[str, Mapping[str, float]]] | None = compute
        self._splits: Mapping[str, Mapping[str, float]] = {}

    def _read(self) -> Mapping[str, Mapping[str, float]]:
        if self._compute is not None:
            self._splits, self._compute = self._compute(), None
        return self._splits

    def __getitem__(self, node: str) -> Mapping[str, float]:
        return self._read()[node]

    def __iter__(self) -> Iterator[str]:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())

    def __repr__(self) -> str:
        return repr(dict(self._read()))


@attrs.frozen(repr=False)
class Attribution(Result):
    """The change of a metric split over its leaves, their owners and its nodes.

    Attributes:
        metric: the metric whose change is attributed.
        method: one of `METHODS`: `"shapley"`, `"lmdi"`, `"hierarchical"`,
            `"sequential"`, `"proportional"` or `"integral"`.
        before: the metric's value before.
        after: the metric's value after.
        total: `after - before`; the contributions sum to it (see the module doc).
        contributions: `{leaf: contribution}` for every leaf under the metric, tree order.
        by_owner: `{owner: sum of their leaves' contributions}`; inputs under `"external"`.
        by_node: `{metric: {child: part}}`: each metric's own change split over its
            direct children (Shapley on its own formula), for metrics with a changed child;
            computed when first read (see `NodeSplits`).
        owners: `{leaf: owner}` (`"external"` for inputs).
        values_before: the leaf values before.
        values_after: the leaf values after.
        factors: LMDI only: `{leaf: factor}`, whose product is `after / before`; None for
            other methods, or when the metric is zero or changes sign (no ratio exists).
        tree: the tree (for units in `str`).
        order: `"sequential"` only: the leaves in the order they moved; None otherwise.
        details: how the contributions were computed, where a method has a choice:
            `{"computation": "enumeration", "coalitions": 2^n}` for Shapley over every
            mix, `{"computation": "quadrature", "points": k}` for Shapley on a metric
            multilinear in the changing leaves and for the integral method on a
            polynomial path (both exact), `{"computation": "adaptive quadrature",
            "points": k}` for the integral method elsewhere; empty for other methods.
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
    order: tuple[str, ...] | None = None
    details: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def gross(self) -> float:
        """The sum of the contributions' sizes: the change there would be if none offset."""
        return float(sum(abs(v) for v in self.contributions.values()))

    def share(self, leaf: str) -> float | None:
        """Return a leaf's contribution as a fraction of `gross` (None if nothing moved).

        Shares are of the gross change, so they stay readable when effects offset: their
        sizes add up to 100%, and the sign says whether the leaf pushed the metric up or
        down. A share of the net change would blow up (+350% and −250% of a −30 change).
        """
        gross = self.gross
        return self.contributions[leaf] / gross if gross else None

    def __repr__(self) -> str:
        return (
            f"Attribution(metric={self.metric!r}, method={self.method!r}, "
            f"before={self.before!r}, after={self.after!r}, total={self.total!r})"
        )

    def _value(self, value: float) -> str:
        return format_value(value, self.tree, self.metric)

    def _change(self, change: float) -> str:
        # One sign policy for every change: format_change's (true minus; points for a `%`).
        return format_delta(change, self.tree, self.metric)

    def headline(self) -> str:
        """The first line of `str`: the metric's move and the method."""
        if self.before:
            relative = format_number(self.total / abs(self.before), percent=True, signed=True)
            text = _("{metric}: {before} → {after}, change {change} ({relative}) — {method}")
        else:
            relative = ""
            text = _("{metric}: {before} → {after}, change {change} — {method}")
        return text.format(
            metric=self.metric,
            before=self._value(self.before),
            after=self._value(self.after),
            change=self._change(self.total),
            relative=relative,
            method=method_label(self.method)
            if self.order is None
            else _("{method}: {order}").format(
                method=method_label(self.method), order=" → ".join(self.order)
            ),
        )

    def __str__(self) -> str:
        body = [[_("start"), "", self._value(self.before), "", ""]]
        quiet = 0
        for leaf, value in self.contributions.items():
            if value == 0:
                quiet += 1
                continue
            share = self.share(leaf)
            factor = "" if self.factors is None else "×" + format_number(self.factors[leaf])
            body.append(
                [
                    leaf,
                    owner_label(self.owners[leaf]),
                    self._change(value),
                    "—" if share is None else format_number(share, percent=True, signed=True),
                    factor,
                ]
            )
        body.append([_("end"), "", self._value(self.after), "", ""])
        header = [
            "",
            _("owner"),
            _("contribution"),
            _("share of gross change"),
            _("factor") if self.factors else "",
        ]
        lines = [self.headline(), table(body, header)]
        if quiet:
            lines.append(
                ngettext(
                    "({count} unchanged leaf contributes 0)",
                    "({count} unchanged leaves contribute 0)",
                    quiet,
                ).format(count=quiet)
            )
        if not math.isclose(self.gross, abs(self.total), rel_tol=1e-9, abs_tol=1e-12):
            lines.append(
                _(
                    "effects offset: gross change {gross} (sum of the contributions' sizes), "
                    "net {net}"
                ).format(gross=self._value(self.gross), net=self._change(self.total))
            )
        if self.method == "shapley" and self.details.get("computation") == "quadrature":
            points = self.details["points"]
            lines.append(
                ngettext(
                    "exact Shapley values as the path integral of the gradient at {points} "
                    "point: the metric is multilinear in the changing leaves",
                    "exact Shapley values as the path integral of the gradient at {points} "
                    "points: the metric is multilinear in the changing leaves",
                    points,
                ).format(points=format_number(points))
            )
        lines.append(_("by owner: {owners}").format(owners=self._owner_list()))
        return "\n".join(lines)

    def _owner_list(self) -> str:
        # An owner whose leaves did not move (often `external`) is not news: left out.
        moved = [(o, v) for o, v in self.by_owner.items() if v != 0]
        if not moved:
            return _("no change")
        return ", ".join(f"{owner_label(o)} {self._change(v)}" for o, v in moved)

    def plot(self, ax: Any = None, *, by: str = "leaf") -> Any:
        """Draw the bridge from before to after, a bar per leaf or per owner (`by="owner"`).

        Bars are green when they move the metric the better way, red when the worse way
        (`tree.direction`); returns the Axes. See `kpitree.display.plots.plot_attribution`.
        """
        return render(self, "plot", ax=ax, by=by)

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
            "order": None if self.order is None else list(self.order),
            "details": dict(self.details),
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
            _("no KPI under `{metric}` is owned or influenced by `{name}`").format(
                metric=self.attribution.metric, name=name
            ),
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
        lines = [result.headline()]
        body = []
        for account in self.accounts:
            body.append([owner_label(account.owner), result._change(account.total), "", "", ""])
            for row in account.rows:
                body.append(
                    [
                        "  "
                        + (_("{name} (shared)").format(name=row.name) if row.shared else row.name),
                        result._change(row.contribution),
                        _with_mark(format_value(row.before, tree, row.name), row.ok_before),
                        _with_mark(format_value(row.after, tree, row.name), row.ok_after),
                        _norm_text(tree, row.name),
                    ]
                )
        header = [_("owner / KPI"), _("contribution"), _("before"), _("after"), ""]
        lines.append(table(body, header))
        shared = {r.name: r.owner for a in self.accounts for r in a.rows if r.shared}
        if shared:
            owned = ", ".join(f"{name}: {owner_label(owner)}" for name, owner in shared.items())
            lines.append(
                _("(shared): influenced here, owned elsewhere ({owned}); not in the total").format(
                    owned=owned
                )
            )
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
    return _("norm {norm}").format(norm=format_norm(norm, tree.unit(name)))


def _with_mark(text: str, ok: bool | None) -> str:
    return text if ok is None else f"{text} {norm_mark(ok)}"

"""What the attribution methods share.

Their names and limits, the checks of the options, the tree and owners of a metric, the
`Periods` they read, the `Split` they return and the exact step that closes each method.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from kpitree.errors import ArgumentError, KindError, MissingValueError, did_you_mean
from kpitree.i18n import N_, _
from kpitree.model.nodes import KPI, Metric

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from kpitree.model.graph import Graph

    Array = NDArray[np.float64]


METHODS = ("shapley", "lmdi", "hierarchical", "sequential", "proportional", "integral")
"""The attribution methods, the default first."""

MAX_CHANGING = 22
"""Most changing leaves exact Shapley takes by default: 2^22 evaluations, about 0.1 GB."""


EXTERNAL = N_("external")
"""The owner label of inputs: leaves nobody on the team controls."""


_METHOD_LABELS = {
    "shapley": N_("Shapley"),
    "lmdi": N_("LMDI"),
    "hierarchical": N_("hierarchical Shapley"),
    "sequential": N_("chain substitution"),
    "proportional": N_("proportional"),
    "integral": N_("integral method"),
}


def method_label(method: str) -> str:
    """A method as shown in text, in the active locale (`method` itself stays the key)."""
    label = _METHOD_LABELS.get(method)
    return method if label is None else _(label)


def owner_label(owner: str) -> str:
    """An owner as shown: a role as the model writes it, `EXTERNAL` in the active locale.

    `EXTERNAL` is kpitree's word (a key in `by_owner` and `to_dict()`, which stay as they
    are); every other owner is model text, never translated.

    Examples:
        >>> from kpitree.i18n import locale
        >>> with locale("ru"):
        ...     owner_label("external"), owner_label("marketing")
        ('внешние факторы', 'marketing')
    """
    return _(EXTERNAL) if owner == EXTERNAL else owner


def check_method(method: Any) -> str:
    """Return `method` if it is one of `METHODS`, else raise `ArgumentError`."""
    if method in METHODS:
        return str(method)
    raise ArgumentError(
        _("attribution method {method} is not one of {methods}").format(
            method=repr(method), methods=", ".join(METHODS)
        ),
        hint=did_you_mean(str(method), METHODS) or _('method="shapley" is exact and the default'),
    )


def check_limit_option(value: Any) -> int:
    """Return `max_changing` if it is a positive whole number, else raise `ArgumentError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ArgumentError(
            _("max_changing must be a positive whole number, got {value}").format(
                value=repr(value)
            ),
            hint=_("the default is {default}").format(default=MAX_CHANGING),
        )
    return value


def subtree(tree: Graph, metric: str) -> Graph:
    """Return the tree of `metric` and everything under it (cached per tree and metric)."""
    node = tree[metric]
    if not isinstance(node, Metric):
        raise KindError(
            _(
                "`{metric}` is a leaf: its change is all its own, there is nothing to attribute"
            ).format(metric=metric),
            hint=_("attribute a metric: one of {metrics}").format(
                metrics=", ".join(f"`{m.name}`" for m in tree.metrics[:5])
            ),
            names=[metric],
        )
    return tree.subtree(metric)


def owners_of(tree: Graph) -> dict[str, str]:
    """Return `{leaf: owner}`, inputs owned by `EXTERNAL`."""
    return {leaf.name: leaf.owner if isinstance(leaf, KPI) else EXTERNAL for leaf in tree.leaves}


@attrs.frozen
class Split:
    """What a method returns: contributions per leaf, LMDI factors, how it was computed.

    `details`: how the contributions were computed, when a method has a choice (see
    `Attribution.details`).
    """

    contributions: dict[str, Array]
    factors: dict[str, Array] | None = None
    details: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Periods:
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


def changed(tree: Graph, low: Mapping[str, Array], high: Mapping[str, Array]) -> frozenset[str]:
    """The nodes whose value differs between the periods in some row.

    NaN != NaN: a node unknown in some row counts as changed, and that row becomes NaN.
    """
    names = tree.names
    if low[names[0]].shape[0] == 1:  # one comparison for the whole tree
        moved = np.stack([low[n] for n in names]) != np.stack([high[n] for n in names])
        return frozenset(n for n, m in zip(names, moved[:, 0], strict=True) if m)
    return frozenset(n for n in names if np.any(low[n] != high[n]))


def exact_step(phi: Array, total: Array) -> Array:
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


def no_rows(period: str, label: Any) -> MissingValueError:
    """No row of the data has `period` = `label` (`attribute_frame`, in numpy or an engine)."""
    return MissingValueError(
        _("no row has `{period}` equal to {label}").format(period=period, label=repr(label)),
        hint=_("before= and after= take values of the period column"),
        names=[period],
    )


def repeated_rows(
    key: Sequence[Any], by: Sequence[str], period: str, label: Any, rows: int = 2
) -> MissingValueError:
    """A segment (`key` of the `by` columns) with several rows in one period."""
    segment = ", ".join(f"{b}={k!r}" for b, k in zip(by, key, strict=True)) or _("the table")
    return MissingValueError(
        _(
            "{segment} has {rows} or more rows for `{period}` = {label}; each segment needs one"
        ).format(segment=segment, rows=rows, period=period, label=repr(label)),
        hint=_("name every segment column in by=[...], or aggregate first with tree.rollup(...)"),
        names=[period, *by],
    )


def absent_segment(
    key: Sequence[Any], by: Sequence[str], period: str, label: Any
) -> MissingValueError:
    """A segment (`key` of the `by` columns) with no row in one period."""
    segment = ", ".join(f"{b}={k!r}" for b, k in zip(by, key, strict=True))
    return MissingValueError(
        _("segment {segment} has no row for `{period}` = {label}").format(
            segment=segment, period=period, label=repr(label)
        ),
        hint=_("add a row with its leaf values (zeros for a new segment), or filter it out"),
        names=[period, *by],
    )

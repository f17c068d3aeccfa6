"""Chain substitution (метод цепных подстановок): the leaves move one at a time, in order.

Starting from the before values, the first leaf of `order` takes its after value, then the
second, and so on; each leaf gets the change of the metric at its step. This is how Russian
economic analysis is taught, how FP&A teams run price-volume-mix (volume, then mix, then
price) and how a bank's rate/volume table gives the joint term to the factor moved last.
The result depends on the order, which is the point: it reproduces a published table. The
steps telescope to the whole change; Shapley is the average over all orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from kpitree.analyses.attribution.methods import Periods, exact_step
from kpitree.engine.evaluate import compile_tree
from kpitree.errors import ArgumentError, EvaluationError, UnknownNameError, did_you_mean
from kpitree.i18n import _

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from kpitree.model.graph import Graph

    Array = NDArray[np.float64]


def check_order(tree: Graph, metric: str, method: str, order: Any) -> tuple[str, ...] | None:
    """Return `order` as leaf names if the method takes one; refuse it anywhere else.

    Only the names are checked here; that every changing leaf is in it is known once the
    values are (`sequential`).
    """
    if method != "sequential":
        if order is not None:
            raise ArgumentError(
                _('order= is the order of method="sequential", not of method="{method}"').format(
                    method=method
                ),
                hint=_('pass method="sequential" with it, or leave order= out'),
            )
        return None
    leaves = [leaf.name for leaf in tree.leaves]
    example = "order=[{names}]".format(names=", ".join(repr(n) for n in leaves[:3]))
    if order is None or isinstance(order, str) or not isinstance(order, Sequence):
        raise ArgumentError(
            _(
                'method="sequential" needs order=[...]: '
                "the leaves of `{metric}` in the order they move"
            ).format(metric=metric),
            hint=_("e.g. {example}").format(example=example),
        )
    names = list(order)
    unknown = [n for n in names if n not in leaves]
    if unknown:
        first = unknown[0]
        raise UnknownNameError(
            _("order= names `{name}`, which is not a leaf under `{metric}`").format(
                name=first, metric=metric
            ),
            hint=did_you_mean(str(first), leaves)
            or _("the leaves are {names}").format(names=", ".join(leaves)),
            names=[str(first)],
        )
    repeated = sorted({n for n in names if names.count(n) > 1}, key=names.index)
    if repeated:
        raise ArgumentError(
            _("order= names `{name}` more than once; each leaf moves once").format(
                name=repeated[0]
            ),
            hint=_("name each leaf once, in the order the chain moves them"),
            names=[repeated[0]],
        )
    return tuple(names)


def chain(order: Sequence[str], changing: Sequence[str]) -> list[str]:
    """The changing leaves in `order`; refuse an order that leaves one of them out."""
    missing = [leaf for leaf in changing if leaf not in order]
    if missing:
        raise ArgumentError(
            _("order= leaves out {names}, which changed; every changing leaf must move").format(
                names=", ".join(f"`{n}`" for n in missing)
            ),
            hint=_("add them where they belong in the chain: e.g. order=[{names}]").format(
                names=", ".join(repr(n) for n in [*order, *missing])
            ),
            names=missing,
        )
    return [leaf for leaf in order if leaf in changing]


def sequential(
    periods: Periods, metric: str, total: Array, order: Sequence[str]
) -> dict[str, Array]:
    """Each changing leaf's step in `order`, every row at once (one pass per step)."""
    compiled = compile_tree(periods.tree, "numpy")
    target = compiled.metrics.index(metric)
    leaves = compiled.leaves
    moving = chain(order, [leaf for leaf in leaves if leaf in periods.changed])
    current = {leaf: periods.low[leaf] for leaf in leaves}
    previous = periods.low[metric]
    steps = []
    for leaf in moving:
        current[leaf] = periods.high[leaf]
        value = np.asarray(compiled([current[n] for n in leaves])[target], dtype=float)
        value = np.broadcast_to(value, previous.shape)
        if periods.scalar and np.isnan(value).any():
            raise EvaluationError(
                _(
                    "`{metric}` is undefined in the chain once `{leaf}` takes its after value "
                    "(the leaves before it in order= moved, the ones after it not yet)"
                ).format(metric=metric, leaf=leaf),
                hint=_('choose another order, or method="shapley"'),
                names=[metric, leaf],
            )
        steps.append(value - previous)
        previous = value
    rows = total.shape[0]
    out = {leaf: np.zeros(rows) for leaf in leaves}
    if steps:
        out.update(zip(moving, exact_step(np.stack(steps), total), strict=True))
    return out

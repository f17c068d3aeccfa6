"""Status against norms: which KPIs and metrics are below their norm, and whose they are."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kpitree.analyses.evaluate import known_values
from kpitree.analyses.results import StandardCheck, Status, StatusRow
from kpitree.core.nodes import KPI, Standard
from kpitree.core.numbers import to_number
from kpitree.errors import UnknownNameError, did_you_mean

if TYPE_CHECKING:
    from kpitree.core.tree import Tree

__all__ = ["status"]


def status(tree: Tree, values: Mapping[str, Any] | None = None) -> Status:
    """Check every node that has a norm, and every measurable standard of a KPI.

    `values` holds leaf values and, for measurable standards, their measurements under
    the standard's name (`"response_minutes"`) or `"<kpi>.<standard>"`. A leaf without a
    value, or a metric that is undefined, has `ok=None`: unknown, not failing.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> s = qualified_leads().status({"lead_to_ql": 0.75, "response_minutes": 12})
        >>> s.ok, [r.name for r in s.failing], s.by_owner
        (False, ['lead_to_ql'], {'sales': ('lead_to_ql',)})
    """
    leaf_values, measured = _split(tree, values or {})
    found = known_values(tree, leaf_values)
    rows = []
    for node in tree:
        norm = getattr(node, "norm", None)
        if norm is None:
            continue
        value = found[node.name]
        unknown = math.isnan(value)
        checks: tuple[StandardCheck, ...] = ()
        if isinstance(node, KPI):
            checks = tuple(_check(node, s, measured) for s in node.standards)
        rows.append(
            StatusRow(
                name=node.name,
                kind=node.kind,
                owner=getattr(node, "owner", None),
                horizon=str(node.horizon) if isinstance(node, KPI) else None,
                value=None if unknown else value,
                norm=norm,
                ok=None if unknown else norm.ok(value),
                gap=None if unknown else norm.gap(value),
                standards=checks,
            )
        )
    return Status(tuple(rows), tree)


def _split(tree: Tree, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, float]]:
    """Separate leaf values from measurements of standards."""
    standards = {
        key: s
        for kpi in tree.kpis
        for s in kpi.standards
        if s.name is not None
        for key in (s.name, f"{kpi.name}.{s.name}")
    }
    leaves: dict[str, Any] = {}
    measured: dict[str, float] = {}
    for key, value in values.items():
        if key in tree:
            leaves[key] = value
        elif key in standards:
            measured[key] = to_number(value, what=f"measurement of standard `{key}`")
        else:
            raise UnknownNameError(
                f"`{key}` is neither a leaf of the tree nor a measurable standard",
                hint=did_you_mean(key, [*tree.names, *standards]),
                names=[key],
            )
    return leaves, measured


def _check(kpi: KPI, standard: Standard, measured: Mapping[str, float]) -> StandardCheck:
    if standard.name is None or standard.norm is None:
        return StandardCheck(standard.text, None, None, None, None)
    value = measured.get(f"{kpi.name}.{standard.name}", measured.get(standard.name))
    ok = None if value is None else standard.norm.ok(value)
    return StandardCheck(standard.text, standard.name, standard.norm, value, ok)

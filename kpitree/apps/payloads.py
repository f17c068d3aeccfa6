"""The JSON data of the analyses, as `kpitree ... --json` prints it and the MCP tools return it.

One place builds it, so that the command line and the MCP server (`kpitree.apps.mcp`)
answer the same question with the same data: results become their `to_dict()`, mappings
and sequences are walked, NaN and infinities become `null` (JSON has neither).

Examples:
    >>> from kpitree.examples import qualified_leads
    >>> tree = qualified_leads()
    >>> plain(tree.evaluate({"leads": 1200}))
    {'qualified_leads': 960.0, 'leads': 1200.0, 'lead_to_ql': 0.8}
    >>> solve_payload(tree, "qualified_leads", 900, "leads")
    {'metric': 'qualified_leads', 'target': 900, 'vary': 'leads', 'value': 1125.0}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kpitree.tree import Tree

__all__ = ["plain", "show_payload", "solve_payload"]


def plain(value: Any) -> Any:
    """Turn results into JSON data: `to_dict()`, mappings, sequences; NaN and inf as null.

    Examples:
        >>> plain({"a": float("nan"), "b": (1, 2.5)})
        {'a': None, 'b': [1, 2.5]}
    """
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def show_payload(tree: Tree, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The tree as data and every node's value (an undefined metric's as `null`)."""
    payload: dict[str, Any] = plain(
        {"tree": tree.to_dict(), "values": tree.evaluate(values, undefined="nan")}
    )
    return payload


def solve_payload(
    tree: Tree,
    metric: str,
    target: float | None,
    vary: str,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The value of leaf `vary` that makes `metric` reach `target`, with the question.

    Without a target, the metric's own `target` is the goal, and the payload says which.

    Examples:
        >>> from kpitree.examples import dupont
        >>> solve_payload(dupont(), "roe", None, "net_income")
        {'metric': 'roe', 'target': 0.2, 'vary': 'net_income', 'value': 1600000.0}
    """
    value = tree.solve(metric, target, vary, values)
    goal = target if target is not None else tree[metric].target  # type: ignore[attr-defined]
    return {"metric": metric, "target": goal, "vary": vary, "value": value}

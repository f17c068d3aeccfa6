"""The sympy view of a tree: formulas as sympy expressions, built on demand.

This is the one module that imports sympy. Expressions are built from kpitree's own nodes
(never from text), each node a `sympy.Symbol(name)`; expanded forms substitute children
bottom-up with `xreplace`, never `subs`, and nothing is simplified implicitly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy

from kpitree.language.expr import Add, Call, Const, Div, Expr, Mul, Neg, Pow, Ref, Sub
from kpitree.language.table import FUNCTIONS
from kpitree.model.graph import CacheKey
from kpitree.model.nodes import Metric

if TYPE_CHECKING:
    from kpitree.model.graph import Graph

__all__ = ["formula", "symbol", "to_sympy"]

_EXPANDED: CacheKey[dict[str, sympy.Expr]] = CacheKey("formulas expanded to leaves, as sympy")


def symbol(name: str) -> sympy.Symbol:
    """Return the sympy symbol for a node name."""
    return sympy.Symbol(name)


def to_sympy(expr: Expr) -> sympy.Expr:
    """Convert a formula expression into sympy, node names becoming symbols.

    Examples:
        >>> from kpitree.language.parser import parse_formula
        >>> to_sympy(parse_formula("leads * lead_to_ql / 2"))
        lead_to_ql*leads/2
    """
    if isinstance(expr, Const):
        value = expr.value
        return sympy.Integer(value) if isinstance(value, int) else sympy.Float(value)
    if isinstance(expr, Ref):
        return symbol(expr.name)
    if isinstance(expr, Add):
        return sympy.Add(*(to_sympy(t) for t in expr.terms))
    if isinstance(expr, Mul):
        return sympy.Mul(*(to_sympy(f) for f in expr.factors))
    if isinstance(expr, Sub):
        return to_sympy(expr.left) - to_sympy(expr.right)
    if isinstance(expr, Div):
        return to_sympy(expr.left) / to_sympy(expr.right)
    if isinstance(expr, Pow):
        return sympy.Pow(to_sympy(expr.base), to_sympy(expr.exponent))
    if isinstance(expr, Neg):
        return -to_sympy(expr.operand)
    if isinstance(expr, Call):
        return FUNCTIONS[expr.func].sympy(sympy)(*(to_sympy(a) for a in expr.args))
    raise TypeError(repr(expr))  # pragma: no cover


def formula(tree: Graph, name: str, *, expand: bool = False) -> sympy.Expr:
    """Return node `name` as sympy: its own formula, or (expand=True) in leaves only.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> tree = qualified_leads()
        >>> formula(tree, "qualified_leads")
        lead_to_ql*leads
        >>> formula(tree, "leads")
        leads
    """
    node = tree[name]
    if not isinstance(node, Metric):
        return symbol(name)
    if not expand:
        return to_sympy(node.formula)
    expanded = tree.cached(_EXPANDED, dict)
    if name not in expanded:
        for metric in tree._topo:
            if metric in expanded or not isinstance(tree[metric], Metric):
                continue
            own = to_sympy(tree[metric].formula)  # type: ignore[attr-defined]
            replacements = {
                symbol(c.name): expanded[c.name]
                for c in tree.children(metric)
                if c.name in expanded
            }
            expanded[metric] = own.xreplace(replacements) if replacements else own
    return expanded[name]

"""LMDI-I attribution: the logarithmic-mean Divisia index over a sum of leaf products."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from kpitree.analyses.attribution.methods import Periods, exact_step, method_label
from kpitree.errors import EvaluationError, FormulaError, LimitError
from kpitree.i18n import _
from kpitree.language.expr import Add, Call, Const, Div, Expr, Mul, Neg, Pow, Ref, Sub
from kpitree.model.nodes import Metric
from kpitree.model.numbers import format_number

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from kpitree.model.graph import Graph

    Array = NDArray[np.float64]


_MAX_TERMS = 10_000  # most terms of a metric expanded into a sum of products


_Poly = dict[tuple[tuple[str, float], ...], float]  # monomial (leaf, exponent)s -> coefficient
_Where = tuple[str, str]  # (method, metric): what a refusal names


def _formula_error(method: str, metric: str, node: str, why: str) -> FormulaError:
    message = (
        _("LMDI takes products, quotients and sums of products; `{node}` {why}")
        if method == "lmdi"
        else _(
            "the proportional method takes products, quotients and sums of products; `{node}` {why}"
        )
    )
    return FormulaError(
        message.format(node=node, why=why),
        where=_("attributing `{metric}`").format(metric=metric),
        hint=_('use method="shapley" or method="hierarchical", which take any formula'),
        names=[metric, node],
    )


def monomials(tree: Graph, metric: str, method: str = "lmdi") -> _Poly:
    """Expand `metric` through intermediate metrics into a sum of leaf monomials.

    `method` (`"lmdi"` or `"proportional"`, the methods defined on this family) is the one
    a `FormulaError` names when a formula is outside it.
    """
    memo: dict[str, _Poly] = {}
    for name in tree._topo:  # children first: each formula sees its children expanded
        node = tree[name]
        if isinstance(node, Metric):
            memo[name] = _expand(node.formula, memo, (method, metric), name)
        else:
            memo[name] = {((name, 1.0),): 1.0}
    return memo[metric]


def _expand(expr: Expr, memo: Mapping[str, _Poly], where: _Where, node: str) -> _Poly:
    if isinstance(expr, Const):
        return {(): float(expr.value)} if expr.value else {}
    if isinstance(expr, Ref):
        return memo[expr.name]
    if isinstance(expr, Add):
        out: _Poly = {}
        for term in expr.terms:
            out = _plus(out, _expand(term, memo, where, node))
        return out
    if isinstance(expr, Sub):
        right = _expand(expr.right, memo, where, node)
        return _plus(_expand(expr.left, memo, where, node), {k: -c for k, c in right.items()})
    if isinstance(expr, Neg):
        return {k: -c for k, c in _expand(expr.operand, memo, where, node).items()}
    if isinstance(expr, Mul):
        out = {(): 1.0}
        for factor in expr.factors:
            out = _times(out, _expand(factor, memo, where, node), where, node)
        return out
    if isinstance(expr, Div):
        right = _expand(expr.right, memo, where, node)
        if len(right) != 1:
            raise _formula_error(*where, node, _("divides by a sum"))
        ((key, coef),) = right.items()
        inverse = {tuple((leaf, -e) for leaf, e in key): 1.0 / coef}
        return _times(_expand(expr.left, memo, where, node), inverse, where, node)
    if isinstance(expr, Pow) and isinstance(expr.exponent, Const):
        power = float(expr.exponent.value)
        base = _expand(expr.base, memo, where, node)
        if len(base) == 1:
            ((key, coef),) = base.items()
            if coef < 0 and not power.is_integer():
                raise _formula_error(*where, node, _("takes a fractional power of a negative"))
            return {_key({leaf: e * power for leaf, e in key}): coef**power}
        if power.is_integer() and 0 < power <= 8:
            out = {(): 1.0}
            for _step in range(int(power)):
                out = _times(out, base, where, node)
            return out
        raise _formula_error(*where, node, _("raises a sum to a power"))
    what = (
        _("uses {function}()").format(function=expr.func)
        if isinstance(expr, Call)
        else _("has a variable exponent")
    )
    raise _formula_error(*where, node, what)


def _key(powers: Mapping[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted((leaf, e) for leaf, e in powers.items() if e != 0))


def _plus(left: _Poly, right: _Poly) -> _Poly:
    out = dict(left)
    for key, coef in right.items():
        out[key] = out.get(key, 0.0) + coef
    return {k: c for k, c in out.items() if c != 0}


def _times(left: _Poly, right: _Poly, where: _Where, node: str) -> _Poly:
    if len(left) * len(right) > _MAX_TERMS:
        method, metric = where
        raise LimitError(
            _(
                "`{metric}` expands into more than {limit} products of leaves at `{node}`, "
                "too many for {method}"
            ).format(
                metric=metric,
                limit=format_number(_MAX_TERMS),
                node=node,
                method=method_label(method),
            ),
            hint=_('use method="hierarchical"'),
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


def sign_change(
    metric: str, leaf: str, before: float, after: float, segments: int, *, scalar: bool
) -> EvaluationError:
    """LMDI's refusal of a leaf that changes sign (in `segments` rows of a frame)."""
    numbers = {
        "leaf": leaf,
        "before": format_number(before),
        "after": format_number(after),
        "segments": format_number(segments),
    }
    message = (
        _(
            "`{leaf}` changes sign (from {before} to {after}): LMDI takes logarithms "
            "of after/before ratios, which need the same sign"
        )
        if scalar
        else _(
            "`{leaf}` changes sign in {segments} segment(s) (from {before} to {after}): "
            "LMDI takes logarithms of after/before ratios, which need the same sign"
        )
    )
    return EvaluationError(
        message.format(**numbers),
        where=_("attributing `{metric}`").format(metric=metric),
        hint=_('use method="shapley" or method="hierarchical"'),
        names=[metric, leaf],
    )


def lmdi(periods: Periods, metric: str, total: Array) -> tuple[dict[str, Array], dict[str, Array]]:
    """LMDI-I contributions and factors (see the module doc for the zero-value limit)."""
    tree, low, high = periods.tree, periods.low, periods.high
    poly = monomials(tree, metric)
    leaves = [leaf.name for leaf in tree.leaves]
    rows = total.shape[0]
    for leaf in dict.fromkeys(name for key in poly for name, _power in key):
        flips = (low[leaf] * high[leaf]) < 0
        if flips.any():
            raise sign_change(
                metric,
                leaf,
                low[leaf][flips][0],
                high[leaf][flips][0],
                int(flips.sum()),
                scalar=periods.scalar,
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
    gathered = exact_step(np.array([parts[leaf] for leaf in leaves]), total)
    contributions = dict(zip(leaves, gathered, strict=True))
    before, after = low[metric], high[metric]
    defined = (before * after) > 0
    scale = _log_mean(np.where(defined, after, 1.0), np.where(defined, before, 1.0))
    factors = {
        leaf: np.where(defined, np.exp(value / scale), np.nan)
        for leaf, value in contributions.items()
    }
    return contributions, factors

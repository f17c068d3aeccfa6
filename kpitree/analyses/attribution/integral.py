"""The integral method (интегральный метод): the path integral of the gradient.

Leaf `i` gets `Δx_i * ∫₀¹ ∂f/∂x_i(before + t * (after - before)) dt`, the Aumann–Shapley
value: the change of each leaf weighted by the metric's slope along the straight line from
the before values to the after values. The contributions add up to the change because their
sum is the integral of `df/dt` along that line. For `revenue = leads * conversion * check`
it is the integral method of Russian textbooks: each factor's own effect plus an equal
share of every joint term.

The gradient comes from kpitree's reverse pass, at many points of the path and every row
at once (`gradient_arrays`). The quadrature:

- When the metric is a polynomial along the path (sums, products, whole powers, divisions
  by what does not move) of degree `d`, Gauss–Legendre with `ceil(d / 2)` points is exact:
  the slopes are polynomials of degree `d - 1`.
- Otherwise (a ratio of changing leaves, a log, a kink of `min`/`max`/`abs`) the path is
  cut into panels, each estimated with 8 Gauss–Legendre points and halved where its halves
  disagree, until every panel is within 1e-13 of the size of the metric; the sum is then
  checked against the change to 1e-9 relative before the documented exact step.

Where the metric or its slope is undefined along the way (a division by zero between the
two periods) the method raises an `EvaluationError` that says where on the path; a pole
between two quadrature points shows as an integral that does not settle, refused the same
way.

The same quadrature gives exact Shapley values when the metric is multilinear in the
changing leaves (no changing leaf multiplies itself: every product and sum of products of
distinct leaves, the usual KPI tree): then the Shapley value is the Aumann–Shapley value
(Owen, 1972), and `path_shape` finds this from the formulas alone.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from kpitree.analyses.attribution.methods import Periods, exact_step
from kpitree.engine.derivatives import gradient_arrays, gradient_points
from kpitree.engine.evaluate import compile_tree
from kpitree.errors import EvaluationError, KPITreeError, LimitError
from kpitree.i18n import _
from kpitree.language.expr import Add, Call, Const, Div, Expr, Mul, Neg, Pow, Ref, Sub
from kpitree.model.graph import CacheKey
from kpitree.model.nodes import Metric
from kpitree.model.numbers import format_number

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from kpitree.model.graph import Graph

    Array = NDArray[np.float64]


PANEL_POINTS = 8  # Gauss–Legendre points per panel of the adaptive quadrature
_PANEL_TOLERANCE = 1e-13  # a panel is done when its halves agree to this, of the metric's size
_SUM_TOLERANCE = 1e-9  # the contributions must sum to the change to this, relative
_MAX_DEPTH = 60  # halvings of one panel: 2^-60 of the path is below float resolution
_MAX_PANELS = 512  # panels refined at once before the integral is refused


@attrs.frozen
class Shape:
    """How the metric moves along the straight path from before to after.

    Attributes:
        degree: its degree as a polynomial in the path's `t`, None when it is not one.
        multilinear: no changing leaf is multiplied by itself: Shapley = Aumann–Shapley.
    """

    degree: int | None
    multilinear: bool


@attrs.frozen
class _Part:
    degree: int | None
    leaves: frozenset[str]
    multilinear: bool


_STILL = _Part(0, frozenset(), True)
_SHAPES: CacheKey[dict[tuple[str, frozenset[str]], Shape]] = CacheKey("shapes along paths")


def path_shape(tree: Graph, metric: str, moving: frozenset[str]) -> Shape:
    """Find the shape of `metric` along the path from the formulas, for `moving` leaves.

    Cached per tree, metric and moving leaves: a dashboard attributing the same tree again
    and again pays for the walk once.
    """
    cache = tree.cached(_SHAPES, dict)
    found = cache.get((metric, moving))
    if found is None:
        memo: dict[str, _Part] = {}
        for name in tree._topo:  # children first
            node = tree[name]
            if isinstance(node, Metric):
                memo[name] = _part(node.formula, memo)
            else:
                memo[name] = _Part(1, frozenset({name}), True) if name in moving else _STILL
        part = memo[metric]
        found = cache[(metric, moving)] = Shape(
            part.degree, part.multilinear and part.degree is not None
        )
    return found


def _part(expr: Expr, memo: Mapping[str, _Part]) -> _Part:
    if isinstance(expr, Const):
        return _STILL
    if isinstance(expr, Ref):
        return memo[expr.name]
    if isinstance(expr, Neg):
        return _part(expr.operand, memo)
    if isinstance(expr, Add | Sub):
        parts = [
            _part(e, memo)
            for e in (expr.terms if isinstance(expr, Add) else (expr.left, expr.right))
        ]
        degrees = [p.degree for p in parts]
        return _Part(
            None if None in degrees else max(d for d in degrees if d is not None),
            frozenset().union(*(p.leaves for p in parts)),
            all(p.multilinear for p in parts),
        )
    if isinstance(expr, Mul):
        parts = [_part(e, memo) for e in expr.factors]
        leaves = frozenset().union(*(p.leaves for p in parts))
        degrees = [p.degree for p in parts]
        disjoint = sum(len(p.leaves) for p in parts) == len(leaves)
        return _Part(
            None if None in degrees else sum(d for d in degrees if d is not None),
            leaves,
            disjoint and all(p.multilinear for p in parts),
        )
    if isinstance(expr, Div):
        operands = [expr.left, expr.right]
    elif isinstance(expr, Pow):
        operands = [expr.base, expr.exponent]
    else:
        assert isinstance(expr, Call)
        operands = list(expr.args)
    parts = [_part(e, memo) for e in operands]
    if all(p.degree == 0 for p in parts):
        return _STILL  # nothing under it moves
    leaves = frozenset().union(*(p.leaves for p in parts))
    if isinstance(expr, Div) and parts[1].degree == 0:
        return parts[0]  # division by what does not move
    if isinstance(expr, Pow) and isinstance(expr.exponent, Const):
        power = float(expr.exponent.value)
        degree = parts[0].degree
        if power.is_integer() and power >= 0 and degree is not None:
            return _Part(int(power) * degree, leaves, power <= 1 and parts[0].multilinear)
    return _Part(None, leaves, False)


@functools.lru_cache(maxsize=64)
def gauss_legendre(points: int) -> tuple[Array, Array]:
    """Gauss–Legendre nodes and weights on [0, 1]: exact for degree `2 * points - 1`.

    Cached, read-only: the same few sizes serve every formula and every call.
    """
    nodes, weights = np.polynomial.legendre.leggauss(points)
    nodes, weights = (nodes + 1.0) / 2.0, weights / 2.0
    nodes.flags.writeable = weights.flags.writeable = False
    return nodes, weights


def points_for(degree: int) -> int:
    """Gauss–Legendre points that integrate the slopes of a degree-`degree` path exactly."""
    return max(1, math.ceil(degree / 2))


def integral(
    periods: Periods, metric: str, total: Array
) -> tuple[dict[str, Array], dict[str, Any]]:
    """The Aumann–Shapley values of the changing leaves, and how they were computed."""
    leaves = compile_tree(periods.tree).leaves
    moving = [leaf for leaf in leaves if leaf in periods.changed]
    shape = path_shape(periods.tree, metric, frozenset(moving))
    if shape.degree is not None:
        points = points_for(shape.degree)
        phi = path_integral(periods, metric, moving, points)
        details: dict[str, Any] = {"computation": "quadrature", "points": points}
    else:
        phi, panels = _adaptive(periods, metric, moving, total)
        details = {"computation": "adaptive quadrature", "points": panels * PANEL_POINTS}
    return finish(periods, moving, phi, total, metric), details


def path_integral(periods: Periods, metric: str, moving: list[str], points: int) -> Array:
    """`Δx_i ∫ ∂f/∂x_i dt` for the `moving` leaves by Gauss–Legendre at `points` points."""
    nodes, weights = gauss_legendre(points)
    summed: Array = _pointwise(periods, metric, moving, nodes, weights).sum(axis=1)
    return summed


def _adaptive(periods: Periods, metric: str, moving: list[str], total: Array) -> tuple[Array, int]:
    """Panels halved where their two estimates disagree; return the integral and panels."""
    nodes, weights = gauss_legendre(PANEL_POINTS)
    low, high = periods.low[metric], periods.high[metric]
    size = np.maximum(np.maximum(np.abs(low), np.abs(high)), np.abs(total))
    tolerance = _PANEL_TOLERANCE * np.where(np.isfinite(size), size, 0.0)
    done = np.zeros((len(moving), low.shape[0]))
    pending = [(0.0, 1.0, _pointwise(periods, metric, moving, nodes, weights).sum(axis=1))]
    accepted = 0
    for _depth in range(_MAX_DEPTH):
        if not pending:
            return done, accepted
        if len(pending) > _MAX_PANELS:
            break
        halves = [(a, (a + b) / 2, b) for a, b, _estimate in pending]
        # One evaluation for every half of every pending panel: 2 * 8 points each.
        starts = np.array([[a, m] for a, m, _b in halves]).ravel()
        widths = np.array([[m - a, b - m] for a, m, b in halves]).ravel()
        points = (starts[:, None] + widths[:, None] * nodes).ravel()
        scaled = (widths[:, None] * weights).ravel()
        values = _pointwise(periods, metric, moving, points, scaled)
        values = values.reshape(len(moving), len(halves) * 2, PANEL_POINTS, -1).sum(axis=2)
        refined = []
        for p, ((a, m, b), (_a, _b, estimate)) in enumerate(zip(halves, pending, strict=True)):
            left, right = values[:, 2 * p], values[:, 2 * p + 1]
            gap = np.abs(left + right - estimate).max(axis=0, initial=0.0)
            if np.all((gap <= tolerance) | ~np.isfinite(gap)):
                done += left + right
                accepted += 2
            else:
                refined += [(a, m, left), (m, b, right)]
        pending = refined
    worst = max(pending, key=lambda panel: float(np.nanmax(np.abs(panel[2]), initial=0.0)))
    raise no_convergence(metric, (worst[0] + worst[1]) / 2, not periods.scalar)


def _pointwise(
    periods: Periods, metric: str, moving: list[str], points: Array, weights: Array
) -> Array:
    """Each leaf's weighted slope at every point, unsummed: (leaves, points, rows)."""
    tree, low, high = periods.tree, periods.low, periods.high
    rows = low[metric].shape[0]
    if not moving:
        return np.zeros((0, len(points), rows))
    compiled = compile_tree(tree)
    at = points[:, None]
    # (1 - t) * before + t * after: exact at both ends, and where both values are equal.
    # One array operation for every moving leaf at once; the others keep their values.
    starts = np.array([low[leaf] for leaf in moving])[:, None, :]
    ends = np.array([high[leaf] for leaf in moving])[:, None, :]
    moved = starts * (1.0 - at) + ends * at
    if periods.scalar and len(points) <= _POINT_BY_POINT:
        few = _point_by_point(periods, metric, moving, moved, weights, ends - starts)
        if few is not None:
            return few
    along = dict(zip(moving, moved, strict=True))
    vector = [along.get(leaf, low[leaf]) for leaf in compiled.leaves]
    forward, slopes = gradient_arrays(tree, metric, vector)
    index = compiled.index
    picked = [slopes[index[leaf]] for leaf in moving]
    shape = (len(moving), len(points), rows)
    try:  # the usual case: every slope an array of (points, rows), stacked in one call
        stacked = np.array(picked, dtype=np.float64)
    except ValueError:  # shapes differ: some slopes constant (scalars) or of fewer rows
        stacked = None
    if stacked is None or stacked.shape != shape:
        stacked = np.stack(np.broadcast_arrays(*picked, np.empty(shape[1:]))[:-1])
    out: Array = stacked * weights[None, :, None] * (ends - starts)
    if periods.scalar:
        value = np.broadcast_to(forward[compiled.metrics.index(metric)], (len(points), 1))[:, 0]
        bad = ~np.isfinite(value) | ~np.isfinite(out[:, :, 0]).all(axis=0)
        if bad.any():
            raise _undefined_on_path(metric, float(points[int(np.flatnonzero(bad)[0])]))
    return out


_POINT_BY_POINT = 16
"""Points up to which one row's slopes are taken a scalar pass at a time (`gradient_points`)."""


def _point_by_point(
    periods: Periods, metric: str, moving: list[str], moved: Array, weights: Array, steps: Array
) -> Array | None:
    """`_pointwise` for one row at a few points, by scalar passes; None where undefined."""
    compiled = compile_tree(periods.tree)
    index = compiled.index
    leaves = np.array([periods.low[leaf][0] for leaf in compiled.leaves])
    places = [index[leaf] for leaf in moving]
    grid = np.repeat(leaves[None, :], moved.shape[1], axis=0)  # (points, leaves)
    grid[:, places] = moved[:, :, 0].T
    found = gradient_points(periods.tree, metric, grid.tolist())
    if found is None:
        return None
    slopes = np.array(found[1])[:, places].T  # (moving, points)
    out: Array = (slopes * weights[None, :])[:, :, None] * steps
    return out


def finish(
    periods: Periods,
    moving: list[str],
    phi: Array,
    total: Array,
    metric: str,
) -> dict[str, Array]:
    """Check the sum against the change, take the exact step, give every leaf its part."""
    with np.errstate(invalid="ignore"):
        levels = np.maximum(np.abs(periods.low[metric]), np.abs(periods.high[metric]))
        size = np.maximum(np.maximum(np.abs(phi).sum(axis=0), np.abs(total)), levels)
        off = np.abs(phi.sum(axis=0) - total) > _SUM_TOLERANCE * size
    if off.any():
        raise no_convergence(metric, None, not periods.scalar)
    still = np.zeros(total.shape[0])
    still.flags.writeable = False  # shared by every leaf that does not move
    out = dict.fromkeys(compile_tree(periods.tree).leaves, still)
    out.update(zip(moving, exact_step(phi, total), strict=True))
    return out


def _undefined_on_path(metric: str, t: float) -> EvaluationError:
    return EvaluationError(
        _(
            "`{metric}` or its slope is undefined {share} of the way from the before values "
            "to the after values (every leaf moved that share of its change): the integral "
            "method needs the metric defined all along the straight path"
        ).format(metric=metric, share=format_number(t, percent=True)),
        hint=_(
            'a division by zero on the way: use method="shapley" or method="hierarchical", '
            "which only mix before and after values"
        ),
        names=[metric],
    )


def no_convergence(metric: str, near: float | None, segments: bool) -> KPITreeError:
    """The integral did not settle: a pole between quadrature points, or (segments) kinks."""
    if segments:
        return LimitError(
            _(
                "the integral of the slopes of `{metric}` along the path does not settle in "
                "some segments: the metric is undefined somewhere between their before and "
                "after values (a division by zero on the way), or its kinks (min, max, abs) "
                "lie at too many different places"
            ).format(metric=metric),
            hint=_('use method="shapley" or method="hierarchical" for these segments'),
            names=[metric],
        )
    where = (
        _("near {share} of the way").format(share=format_number(near, percent=True))
        if near is not None
        else _("somewhere on the way")
    )
    return EvaluationError(
        _(
            "the integral of the slopes of `{metric}` along the straight path from before to "
            "after does not settle {where}: the metric is undefined between the two (a "
            "division by zero along the path)"
        ).format(metric=metric, where=where),
        hint=_(
            'use method="shapley" or method="hierarchical", which only mix before and after values'
        ),
        names=[metric],
    )

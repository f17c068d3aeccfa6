"""Exact Shapley attribution: every coalition of the changing leaves evaluated at once."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from kpitree.analyses.attribution.integral import (
    finish,
    gauss_legendre,
    path_integral,
    path_shape,
    points_for,
)
from kpitree.analyses.attribution.lmdi import monomials
from kpitree.analyses.attribution.methods import Periods, exact_step
from kpitree.engine.evaluate import compile_tree, evaluate
from kpitree.errors import EvaluationError, KPITreeError, LimitError
from kpitree.i18n import _
from kpitree.model.nodes import Metric
from kpitree.model.numbers import format_number

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Array = NDArray[np.float64]


_BLOCK = 1 << 14  # coalitions x rows per pass: columns that stay in the cache


def _mixes(count: int) -> str:
    """2^count written out while it reads at a glance, then as a power of ten in words."""
    if count <= 40:
        return format_number(2**count)
    return _("about 10^{power}").format(power=format_number(int(count * math.log10(2))))


def too_many(where: str, count: int, limit: int, *, formula: bool) -> LimitError:
    """The refusal of exact Shapley over `count` players (`formula`: inside one formula)."""
    if formula:
        # Inside one formula (method="hierarchical", and `by_node` under every method):
        # recommending "hierarchical" here would send the user back to this very error.
        return LimitError(
            _(
                "splitting the formula of `{where}` over its direct children needs exact "
                "Shapley over one term with {count} changing children: 2^{count} = "
                "{mixes} mixes of before and after values; the limit is {limit}"
            ).format(where=where, count=count, mixes=_mixes(count), limit=limit),
            hint=_(
                "sums and products of one-child factors are split without that cost: "
                "write the term through intermediate metrics, or raise max_changing=..."
            ),
            names=[where],
        )
    return LimitError(
        _(
            "exact Shapley attribution of `{where}` over {count} changing leaves would "
            "evaluate 2^{count} = {mixes} mixes of before and after values; the limit is "
            "{limit}"
        ).format(where=where, count=count, mixes=_mixes(count), limit=limit),
        hint=_(
            'use method="integral" (the path integral of the gradient: Shapley\'s value '
            'wherever the metric is multilinear), method="hierarchical" or method="lmdi" '
            "(their cost grows with the tree, not with 2^leaves), or raise max_changing=..."
        ),
        names=[where],
    )


def shapley(periods: Periods, metric: str, total: Array) -> tuple[dict[str, Array], dict[str, Any]]:
    """Exact Shapley values of the changing leaves, and how they were computed.

    On a metric multilinear in the changing leaves (`path_shape`) the Shapley value is the
    path integral of the gradient, exact by Gauss–Legendre at a few points, at any number
    of leaves; that is used wherever it costs fewer passes than the 2^n coalitions. Other
    metrics evaluate all 2^n coalitions at once, up to the limit.
    """
    compiled = compile_tree(periods.tree, "numpy")
    moving = [leaf for leaf in compiled.leaves if leaf in periods.changed]
    shape = path_shape(periods.tree, metric, frozenset(moving))
    if shape.multilinear and shape.degree is not None:
        points = points_for(shape.degree)
        # A pass of the gradient costs about three of the tree: below that, enumerate.
        if 1 << len(moving) > 4 * points:
            terms = None if periods.scalar else _few_monomials(periods, metric)
            if terms is not None:
                # Segments: Shapley is additive over the terms, each a product game with
                # its closed form (prefix and suffix products), cheaper than reverse passes.
                phi = _product_terms(periods, moving, terms)
            else:
                phi = path_integral(periods, metric, moving, points)
            contributions = finish(periods, moving, phi, total, metric)
            return contributions, {"computation": "quadrature", "points": points}
    target = compiled.metrics.index(metric)
    players, values = game(
        periods, metric, lambda vector: compiled(vector)[target], compiled.leaves
    )
    phi = exact_step(shapley_values(values, len(players)), total)
    rows = total.shape[0]
    out = {leaf: np.zeros(rows) for leaf in compiled.leaves}
    out.update(zip(players, phi, strict=True))
    return out, {"computation": "enumeration", "coalitions": 1 << len(players)}


_ROWS = 4096  # rows per pass of the product formula: (children x nodes x rows) stays small


def product_shapley(coefficient: float, low: Array, high: Array) -> Array:
    """Exact Shapley values of the game `coefficient × Π_j (high_j if j in S else low_j)`.

    `low` and `high` are (children, rows) factor values; the result is (children, rows).
    The module doc gives the formula: a Gauss–Legendre rule exact for its degree, the
    product over the other children from prefix and suffix products (no division, so a
    factor that is 0 is no trouble).
    """
    n, rows = low.shape
    t, w = gauss_legendre(points_for(n))
    out = np.empty((n, rows))
    for r0 in range(0, rows, _ROWS):
        r1 = min(rows, r0 + _ROWS)
        lo, hi = low[:, None, r0:r1], high[:, None, r0:r1]
        mixed = lo * (1 - t)[None, :, None] + hi * t[None, :, None]  # (n, nodes, rows)
        # Running products factor by factor: each step one contiguous (nodes, rows) block
        # (np.cumprod along the first axis walks memory with a stride, several times slower).
        others = np.empty_like(mixed)
        running = np.ones_like(mixed[0])
        for i in range(n):
            others[i] = running
            running = running * mixed[i]
        running = np.ones_like(mixed[0])
        for i in range(n - 1, -1, -1):
            others[i] *= running
            running = running * mixed[i]
        out[:, r0:r1] = (high[:, r0:r1] - low[:, r0:r1]) * np.einsum("q,nqr->nr", w, others)
    result: Array = coefficient * out
    return result


_MAX_PRODUCT_TERMS = 64  # segments: most terms split by the product formula, one by one


def _few_monomials(periods: Periods, metric: str) -> Any:
    """The metric as a few products of leaf powers, or None (too many, or not a polynomial)."""
    try:
        terms = monomials(periods.tree, metric)
    except KPITreeError:
        return None
    return terms if len(terms) <= _MAX_PRODUCT_TERMS else None


def _product_terms(periods: Periods, moving: Sequence[str], terms: Any) -> Array:
    """Shapley of the moving leaves as the sum of each term's product-game values."""
    low, high = periods.low, periods.high
    index = {leaf: i for i, leaf in enumerate(moving)}
    phi = np.zeros((len(moving), low[moving[0]].shape[0]))
    for key, coefficient in terms.items():
        names = [leaf for leaf, _e in key]
        if not any(leaf in index for leaf in names):
            continue  # a term that does not move
        lows = np.array([low[leaf] ** e for leaf, e in key])
        highs = np.array([high[leaf] ** e for leaf, e in key])
        for leaf, part in zip(names, product_shapley(coefficient, lows, highs), strict=True):
            if leaf in index:
                phi[index[leaf]] += part
    return phi


def game(
    periods: Periods,
    where: str,
    function: Callable[[list[Any]], Any],
    names: Sequence[str],
    *,
    formula: bool = False,
) -> tuple[list[str], Array]:
    """Return the changed `names` (the players) and `function`'s value at every coalition.

    `formula`: the game is one term of `where`'s own formula (hierarchical, `by_node`),
    not the whole tree below it; only the limit's message differs.

    Raises:
        LimitError: more players than the limit.
        EvaluationError: (one row only) the function is undefined at some coalition.
    """
    players = [n for n in names if n in periods.changed]
    if len(players) > periods.limit:
        raise too_many(where, len(players), periods.limit, formula=formula)
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


def shapley_values(values: Array, n: int) -> Array:
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


def _undefined_mix(
    periods: Periods, metric: str, players: Sequence[str], values: Array
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
    # Two sentences, not "no leaf" in a slot: Russian words the empty case differently.
    message = (
        _(
            "`{metric}` is undefined when {after} take(s) the after value and the other "
            "changing leaves the before value{reason}; exact Shapley needs every such mix"
        )
        if moved
        else _(
            "`{metric}` is undefined when no leaf take(s) the after value and the other "
            "changing leaves the before value{reason}; exact Shapley needs every such mix"
        )
    )
    return EvaluationError(
        message.format(metric=metric, after=", ".join(f"`{p}`" for p in moved), reason=reason),
        hint=_('method="hierarchical" mixes values only inside one formula at a time'),
        names=[metric, *players],
    )

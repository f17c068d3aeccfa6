"""Numeric root finding: bracket expansion, then regula falsi (Illinois) with bisection."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


_MAX_EVALUATIONS = 60


Residual = Callable[[float], float | None]


def find_root(
    fun: Residual, x0: float, r0: float, step: float, low: float, high: float, aim: float
) -> float | None:
    """Return x in [low, high] with |fun(x)| <= aim, searching outward from x0; or None.

    `fun` returns None where the function is undefined. The bracket grows from `x0` in
    the direction of `step` first, then both ways alternately, so the root found is the
    one nearest `x0` when roots are far apart.
    """
    budget = _MAX_EVALUATIONS
    bracket: tuple[float, float, float, float] | None = None
    ways = [(1.0 if step >= 0 else -1.0), (-1.0 if step >= 0 else 1.0)]
    last = dict.fromkeys(ways, (x0, r0))
    alive = {d: (high > x0 if d > 0 else low < x0) for d in ways}
    size = abs(step) or max(abs(x0), 1.0) * 0.1
    k = 0
    while bracket is None and any(alive.values()) and budget > 0:
        for d in ways:
            if not alive[d] or bracket is not None:
                continue
            x = min(max(x0 + d * size * _growth(k), low), high)
            r = fun(x)
            budget -= 1
            if r is None:
                alive[d] = False
                continue
            px, pr = last[d]
            if abs(r) <= aim:
                return x
            if (r > 0) != (pr > 0):
                bracket = (px, pr, x, r)
            last[d] = (x, r)
            if x in (low, high) or not math.isfinite(x):
                alive[d] = False
        k += 1
    if bracket is None:
        return None
    return _refine(fun, *bracket, aim=aim, budget=budget)


def _growth(k: int) -> float:
    # Double near the start (a Newton guess is usually close), then widen fast.
    return 2.0**k if k < 4 else 8.0 * 10.0 ** (k - 3)


def _refine(
    fun: Residual, a: float, fa: float, b: float, fb: float, *, aim: float, budget: int
) -> float | None:
    """Shrink a sign-changing bracket: regula falsi with the Illinois step, bisection guard."""
    best = (abs(fa), a) if abs(fa) < abs(fb) else (abs(fb), b)
    side = 0
    for _ in range(budget):
        c = b - fb * (b - a) / (fb - fa)
        if not (min(a, b) < c < max(a, b)) or side > 1:
            c = 0.5 * (a + b)
            side = 0
        if c in (a, b):
            break
        fc = fun(c)
        if fc is None:
            return None
        if abs(fc) < best[0]:
            best = (abs(fc), c)
        if abs(fc) <= aim:
            return c
        if (fc > 0) == (fb > 0):
            fa *= 0.5  # Illinois: the stale end pulls less
            side += 1
        else:
            a, fa = b, fb
            side = 0
        b, fb = c, fc
    return best[1] if best[0] <= aim else None

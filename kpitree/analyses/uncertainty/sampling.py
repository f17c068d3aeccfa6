"""Drawing samples: leaves' distributions truncated to their bounds, one stream per leaf.

What `simulate`, `sobol` and `tornado` share: checking their arguments (counts, the size
limit, the seed), finding each leaf's distribution (the node's, or the call's), and
drawing from it within the leaf's bounds. The package's docstring
(`kpitree.analyses.uncertainty`) explains the rules: bounds truncate, each leaf draws
from its own stream. Memory is estimated before anything is drawn (`check_memory`,
against `Limits.max_sample_bytes`): a run too large is refused, not begun.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kpitree.errors import ArgumentError, KindError, KPITreeError, LimitError, ValueTypeError
from kpitree.i18n import N_, _, babel_locale
from kpitree.language.limits import Limits
from kpitree.model.bounds import Bounds
from kpitree.model.distributions import Distribution, Fixed, as_distribution
from kpitree.model.nodes import KPI, Input, Leaf, raise_all
from kpitree.model.numbers import format_number

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from kpitree.model.graph import Graph

    Array = NDArray[np.float64]

__all__ = [
    "MIN_MASS_IN_BOUNDS",
    "bounded_ppf",
    "check_limits",
    "check_memory",
    "draw",
    "leaf_distributions",
    "leaf_streams",
    "node_name",
    "owner_of",
    "seed_entropy",
    "seed_sequence",
    "whole_number",
]

MIN_MASS_IN_BOUNDS = 1e-3
"""Least probability a distribution must put within its leaf's bounds to be sampled."""


# -- checking the arguments --------------------------------------------------------------------


def whole_number(value: Any, what: str, *, least: int) -> int:
    """Return `value` as an int of at least `least`, or raise naming `what`."""
    # numpy integers are Integral too; bools are refused like everywhere else.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueTypeError(
            _("{what} must be a whole number, got {value}").format(
                what=what, value=f"{value!r:.60}"
            )
        )
    number = int(value)
    if number < least:
        raise ArgumentError(
            _("{what} must be at least {least}, got {number}").format(
                what=what, least=least, number=number
            )
        )
    return number


def check_limits(limits: Any) -> Limits:
    """Return `limits` if it is a `Limits`, else raise `ValueTypeError`."""
    if not isinstance(limits, Limits):
        raise ValueTypeError(
            _("limits must be a kpitree Limits, got {type}").format(type=type(limits).__name__),
            hint="limits=kt.Limits(max_sample_bytes=4 * 1024**3)",
        )
    return limits


def _size(count: int) -> str:
    """`count` bytes in the largest binary unit that keeps it at least 1 (`2.0 GiB`)."""
    from babel.numbers import format_decimal

    units = ((N_("{size} TiB"), 1024**4), (N_("{size} GiB"), 1024**3), (N_("{size} MiB"), 1024**2))
    for unit, scale in (*units, (N_("{size} KiB"), 1024)):
        if count >= scale:
            # One decimal, grouped, in the locale's digits ("2.0 GiB", "2,0 ГиБ").
            size = format_decimal(count / scale, format="#,##0.0", locale=babel_locale())
            return _(unit).format(size=size)
    return _("{size} bytes").format(size=format_number(count))


def check_memory(
    what: str, n: int, per_sample: int, limits: Limits, *, hint: str, fixed: int = 0
) -> None:
    """Refuse an analysis whose arrays would exceed `limits.max_sample_bytes`.

    `per_sample` is how many float64 numbers the analysis holds per sample at its peak
    (every copy counted), `fixed` how many more it holds whatever `n` (bootstrap results).
    It is called before anything is drawn, so a run that cannot fit fails at once with
    this error instead of a `MemoryError` minutes later.
    """
    need = (n * per_sample + fixed) * 8
    if need > limits.max_sample_bytes:
        raise LimitError(
            _(
                "{what} with n={n} would need about {need} of memory, more than the "
                "limit of {limit} (Limits.max_sample_bytes)"
            ).format(
                what=what,
                n=format_number(n),
                need=_size(need),
                limit=_size(limits.max_sample_bytes),
            ),
            hint=_("{hint}; or raise the limit: limits=kt.Limits(max_sample_bytes=...)").format(
                hint=hint
            ),
        )


def node_name(tree: Graph, metric: str | None) -> str:
    """Return the node an analysis is of: `metric`, checked, or the tree's first root."""
    if metric is None:
        return tree.roots[0].name
    tree[metric]  # an unknown name raises with a did-you-mean
    return metric


def seed_sequence(seed: Any) -> np.random.SeedSequence:
    """Return the seed sequence of a run: `seed`'s, or fresh entropy without one."""
    import numpy as np

    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise ValueTypeError(
            _("seed must be a whole number ≥ 0 or a numpy SeedSequence, got {seed}").format(
                seed=f"{seed!r:.60}"
            ),
            hint=_("seed=42 makes the run reproducible"),
        )
    return np.random.SeedSequence(int(seed))


def seed_entropy(sequence: np.random.SeedSequence) -> int | None:
    """Return the entropy that repeats a run (the `seed` of its result)."""
    entropy = sequence.entropy
    return entropy if isinstance(entropy, int) else None


def leaf_streams(tree: Graph, sequence: np.random.SeedSequence) -> dict[str, np.random.Generator]:
    """Return one generator per leaf, in tree order: leaves' draws do not depend on each other."""
    import numpy as np

    children = sequence.spawn(len(tree.leaves))
    return {
        leaf.name: np.random.default_rng(child)
        for leaf, child in zip(tree.leaves, children, strict=True)
    }


def leaf_distributions(tree: Graph, overrides: Mapping[str, Any] | None) -> dict[str, Distribution]:
    """Return every leaf's distribution: the node's, overridden per call; None drops it."""
    problems: list[KPITreeError] = []
    found: dict[str, Distribution | None] = {}
    for leaf in tree.leaves:
        try:
            found[leaf.name] = as_distribution(leaf.uncertainty)
        except KPITreeError as exc:
            problems.append(exc.located(f"{leaf.kind} `{leaf.name}` uncertainty"))
    if overrides is not None:
        if not isinstance(overrides, Mapping):
            raise ValueTypeError(
                _(
                    "distributions must be a mapping of leaf names to distributions, got {type}"
                ).format(type=type(overrides).__name__)
            )
        for name, given in overrides.items():
            node = tree[name] if isinstance(name, str) and name in tree else None
            if not isinstance(node, Leaf):
                if node is None:
                    problems.append(tree._unknown(name, "leaf"))
                else:
                    problems.append(
                        KindError(
                            _(
                                "`{name}` is a metric: its uncertainty follows from its formula"
                            ).format(name=name),
                            hint=_("give distributions to the leaves it is computed from"),
                            names=[name],
                        )
                    )
                continue
            try:
                found[name] = as_distribution(given)
            except KPITreeError as exc:
                problems.append(exc.located(f"distributions[{name!r}]"))
    raise_all(problems)
    return {name: dist for name, dist in found.items() if dist is not None}


def _mass(dist: Distribution, leaf: Leaf) -> float:
    """Return the probability `dist` puts within the leaf's bounds, refusing too little."""
    low, high = Bounds.of(leaf).span
    if isinstance(dist, Fixed):
        mass = 1.0 if low <= dist.value <= high else 0.0
    elif low == -math.inf and high == math.inf:
        return 1.0
    else:
        mass = dist.cdf(high) - (dist.cdf(low) if low > -math.inf else 0.0)
    if mass < MIN_MASS_IN_BOUNDS:
        shown = f"[{format_number(low)}, {format_number(high)}]"
        raise ArgumentError(
            _(
                "{distribution} puts {mass} of its probability within the bounds {bounds} "
                "of `{name}`"
            ).format(
                distribution=dist,
                mass=format_number(mass, percent=True),
                bounds=shown,
                name=leaf.name,
            ),
            hint=_(
                "samples outside the bounds are drawn again; give a distribution that "
                "fits the bounds"
            ),
            names=[leaf.name],
        )
    return mass


def draw(dist: Distribution, leaf: Leaf, rng: np.random.Generator, n: int) -> Array:
    """Draw `n` samples of `dist` within the leaf's bounds (rejecting those outside)."""
    import numpy as np

    low, high = Bounds.of(leaf).span
    support_low, support_high = dist.support
    if low <= support_low and support_high <= high:
        return dist.sample(rng, n)  # nothing to reject: skip the comparisons
    mass = _mass(dist, leaf)
    out = dist.sample(rng, n)
    inside = (out >= low) & (out <= high)
    if inside.all():
        return out
    kept = [out[inside]]
    have = len(kept[0])
    while have < n:
        # Enough for the rest at the expected acceptance, in chunks that bound memory.
        more = dist.sample(rng, min(int((n - have) / mass * 1.1) + 16, 4_000_000))
        more = more[(more >= low) & (more <= high)]
        kept.append(more)
        have += len(more)
    return np.concatenate(kept)[:n]


def bounded_ppf(dist: Distribution, leaf: Leaf, q: float) -> float:
    """Return the `q` quantile of `dist` truncated to the leaf's bounds."""
    low, high = Bounds.of(leaf).span
    if isinstance(dist, Fixed) or (low == -math.inf and high == math.inf):
        return dist.ppf(q)
    _mass(dist, leaf)
    below = dist.cdf(low) if low > -math.inf else 0.0
    above = dist.cdf(high) if high < math.inf else 1.0
    return Bounds.of(leaf).clip(dist.ppf(below + q * (above - below)))


def owner_of(leaf: Leaf) -> str:
    """Return the leaf's owner; an input is `"external"`."""
    return leaf.owner if isinstance(leaf, KPI | Input) else "external"


# -- statistics of samples ----------------------------------------------------------------------

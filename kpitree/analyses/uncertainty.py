"""Uncertainty: Monte Carlo through the tree, Sobol indices by owner, and the tornado.

Leaves get distributions on the node (``kt.KPI(..., uncertainty=kt.Normal(1000, 100))``)
or per call (``distributions={"leads": kt.Uniform(900, 1200)}``, which overrides the node's;
a number there fixes the leaf, None removes its distribution). Leaves without one stay at
their value (``values=`` overrides it, as in every analysis).

- `simulate` draws every uncertain leaf and pushes the samples through the compiled tree
  (numpy, one vectorized pass): samples for every node, with mean, sd, quantiles and
  P(metric ≥ target).
- `sobol` estimates how much of the metric's variance each leaf explains, alone (first
  order) and with its interactions (total), and the same for each owner's leaves together.
- `tornado` moves one leaf at a time from its p10 to its p90 (or ±x%) with the others at
  their base values, and ranks the leaves by how far the metric swings.

**Bounds truncate.** A leaf's `bounds` cut its distribution: samples outside them are
rejected and drawn again, so a conversion with ``Normal(0.8, 0.1)`` and bounds (0, 1) never
exceeds 100% and no probability piles up at 1 (clipping would put 2.3% of the samples at
exactly 100%). The sampled distribution is the one conditioned on the bounds, so its mean
can differ from the unbounded one's; tornado quantiles are taken of the same truncated
distribution. A distribution with less than 0.1% of its probability within the bounds is
refused, since the bounds then contradict it.

**Undefined samples.** A sample whose metric is undefined (division by zero, log of a
non-positive number: the rule of `kpitree.engine.evaluate`) is NaN. It is counted
(``sim["conv"].undefined``), left out of every statistic, and the `str` of the result says
how many there were. Sobol indices leave out the base samples for which any of their
evaluations is undefined, and say so.

**Reproducibility.** ``seed=`` (an int or a `numpy.random.SeedSequence`) fixes every draw.
Each leaf draws from its own stream, spawned in tree order, so giving one more leaf a
distribution leaves the other leaves' samples unchanged. Without a seed, fresh entropy
is used and recorded on the result (`.seed`): the run can be repeated with it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from kpitree.engine.evaluate import (
    compile_tree,
    evaluate,
    evaluate_arrays,
    evaluate_vector,
    missing_values_error,
)
from kpitree.errors import (
    EvaluationError,
    KPITreeError,
    LimitError,
    MissingValueError,
    ValueTypeError,
)
from kpitree.model.distributions import Distribution, Fixed, as_distribution
from kpitree.model.nodes import KPI, Input, Leaf, raise_all
from kpitree.model.numbers import format_number, to_number
from kpitree.model.render import render
from kpitree.model.results import Result, format_value, table

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from kpitree.model.graph import Graph

    Array = NDArray[np.float64]

__all__ = [
    "MAX_SAMPLE_VALUES",
    "MIN_MASS_IN_BOUNDS",
    "Samples",
    "Simulation",
    "Sobol",
    "SobolEstimate",
    "SobolRow",
    "Tornado",
    "TornadoRow",
    "simulate",
    "sobol",
    "sobol_indices",
    "tornado",
]

MAX_SAMPLE_VALUES = 200_000_000
"""Most numbers one analysis holds at once (samples × nodes): 1.6 GB of float64."""

MIN_MASS_IN_BOUNDS = 1e-3
"""Least probability a distribution must put within its leaf's bounds to be sampled."""

_PERCENTILES = (0.05, 0.5, 0.95)


# -- checking the arguments --------------------------------------------------------------------


def _count(value: Any, what: str, *, least: int) -> int:
    # numpy integers are Integral too; bools are refused like everywhere else.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueTypeError(f"{what} must be a whole number, got {value!r:.60}")
    number = int(value)
    if number < least:
        raise ValueTypeError(f"{what} must be at least {least}, got {number}")
    return number


def _limit(count: int, what: str, hint: str) -> None:
    if count > MAX_SAMPLE_VALUES:
        raise LimitError(
            f"{what} would hold {count:,} numbers, more than the limit of "
            f"{MAX_SAMPLE_VALUES:,} (kpitree.analyses.uncertainty.MAX_SAMPLE_VALUES)",
            hint=hint,
        )


def _node(tree: Graph, metric: str | None) -> str:
    if metric is None:
        return tree.roots[0].name
    tree[metric]  # an unknown name raises with a did-you-mean
    return metric


def _seed_sequence(seed: Any) -> np.random.SeedSequence:
    import numpy as np

    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise ValueTypeError(
            f"seed must be a whole number ≥ 0 or a numpy SeedSequence, got {seed!r:.60}",
            hint="seed=42 makes the run reproducible",
        )
    return np.random.SeedSequence(int(seed))


def _entropy(sequence: np.random.SeedSequence) -> int | None:
    entropy = sequence.entropy
    return entropy if isinstance(entropy, int) else None


def _streams(tree: Graph, sequence: np.random.SeedSequence) -> dict[str, np.random.Generator]:
    """One generator per leaf, in tree order, so leaves' draws do not depend on each other."""
    import numpy as np

    children = sequence.spawn(len(tree.leaves))
    return {
        leaf.name: np.random.default_rng(child)
        for leaf, child in zip(tree.leaves, children, strict=True)
    }


def _distributions(tree: Graph, overrides: Mapping[str, Any] | None) -> dict[str, Distribution]:
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
                "distributions must be a mapping of leaf names to distributions, "
                f"got {type(overrides).__name__}"
            )
        for name, given in overrides.items():
            node = tree[name] if isinstance(name, str) and name in tree else None
            if not isinstance(node, Leaf):
                if node is None:
                    problems.append(tree._unknown(name, "leaf"))
                else:
                    problems.append(
                        ValueTypeError(
                            f"`{name}` is a metric: its uncertainty follows from its formula",
                            hint="give distributions to the leaves it is computed from",
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


def _bounds(leaf: Leaf) -> tuple[float, float]:
    low, high = leaf.bounds if leaf.bounds is not None else (None, None)
    return (-math.inf if low is None else low, math.inf if high is None else high)


def _mass(dist: Distribution, leaf: Leaf) -> float:
    """Return the probability `dist` puts within the leaf's bounds, refusing too little."""
    low, high = _bounds(leaf)
    if isinstance(dist, Fixed):
        mass = 1.0 if low <= dist.value <= high else 0.0
    elif low == -math.inf and high == math.inf:
        return 1.0
    else:
        mass = dist.cdf(high) - (dist.cdf(low) if low > -math.inf else 0.0)
    if mass < MIN_MASS_IN_BOUNDS:
        shown = f"[{format_number(low)}, {format_number(high)}]"
        raise ValueTypeError(
            f"{dist} puts {format_number(mass, percent=True)} of its probability within the "
            f"bounds {shown} of `{leaf.name}`",
            hint="samples outside the bounds are drawn again; give a distribution that "
            "fits the bounds",
            names=[leaf.name],
        )
    return mass


def _draw(dist: Distribution, leaf: Leaf, rng: np.random.Generator, n: int) -> Array:
    """Draw `n` samples of `dist` within the leaf's bounds (rejecting those outside)."""
    import numpy as np

    low, high = _bounds(leaf)
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


def _bounded_ppf(dist: Distribution, leaf: Leaf, q: float) -> float:
    """Return the `q` quantile of `dist` truncated to the leaf's bounds."""
    low, high = _bounds(leaf)
    if isinstance(dist, Fixed) or (low == -math.inf and high == math.inf):
        return dist.ppf(q)
    _mass(dist, leaf)
    below = dist.cdf(low) if low > -math.inf else 0.0
    above = dist.cdf(high) if high < math.inf else 1.0
    return min(high, max(low, dist.ppf(below + q * (above - below))))


def _owner(leaf: Leaf) -> str:
    return leaf.owner if isinstance(leaf, KPI | Input) else "external"


# -- statistics of samples ----------------------------------------------------------------------


@attrs.frozen(eq=False, repr=False)
class Samples(Result):
    """Monte Carlo samples of one node, and their statistics.

    Statistics leave out undefined samples (NaN); `undefined` counts them.

    Attributes:
        name: the node.
        values: every sample (a read-only numpy array), NaN where undefined.
        distribution: the leaf's distribution, or None for a metric or a fixed leaf.
    """

    name: str
    values: Array
    tree: Graph
    distribution: Distribution | None = None

    @property
    def n(self) -> int:
        """How many samples were drawn."""
        return int(self.values.shape[0])

    @property
    def defined(self) -> Array:
        """The samples that are not undefined."""
        import numpy as np

        return self.values[~np.isnan(self.values)]

    @property
    def undefined(self) -> int:
        """How many samples are undefined (NaN)."""
        import numpy as np

        return int(np.count_nonzero(np.isnan(self.values)))

    @property
    def mean(self) -> float:
        """The mean of the defined samples."""
        defined = self.defined
        return float(defined.mean()) if defined.size else math.nan

    @property
    def sd(self) -> float:
        """The sample standard deviation (n − 1 in the denominator)."""
        defined = self.defined
        return float(defined.std(ddof=1)) if defined.size > 1 else math.nan

    def quantile(self, q: Any) -> float:
        """Return the `q` quantile of the defined samples (`q` in [0, 1], ``"95%"`` works).

        Examples:
            >>> from kpitree.model.distributions import Uniform
            >>> from kpitree.examples import qualified_leads
            >>> sim = qualified_leads().simulate(
            ...     n=1000, seed=1, distributions={"leads": Uniform(900, 1100)})
            >>> 890 < sim["leads"].quantile("50%") < 1110
            True
        """
        import numpy as np

        p = to_number(q, what="a quantile's probability")
        if not 0 <= p <= 1:
            raise ValueTypeError(
                f"a quantile's probability must be between 0 and 1, got {format_number(p)}",
                hint="write 0.05 or '5%' for the 5th percentile",
            )
        defined = self.defined
        return float(np.quantile(defined, p)) if defined.size else math.nan

    def prob(self, target: Any) -> float:
        """Return the share of defined samples at or above `target`: P(value ≥ target)."""
        import numpy as np

        level = to_number(target, what=f"target of `{self.name}`")
        defined = self.defined
        return (
            float(np.count_nonzero(defined >= level) / defined.size) if defined.size else math.nan
        )

    def percentiles(self) -> tuple[float, float, float]:
        """Return (p5, p50, p95) of the defined samples."""
        import numpy as np

        defined = self.defined
        if not defined.size:
            return (math.nan, math.nan, math.nan)
        p5, p50, p95 = np.quantile(defined, _PERCENTILES)
        return (float(p5), float(p50), float(p95))

    def plot(self, ax: Any = None, **options: Any) -> Any:
        """Draw the histogram of the samples, with an optional target line; return the Axes."""
        return render(self, "plot", ax=ax, **options)

    def to_dict(self) -> dict[str, Any]:
        """Return the node's statistics as plain data."""
        p5, p50, p95 = self.percentiles()
        node = self.tree[self.name]
        return {
            "name": self.name,
            "kind": node.kind,
            "owner": _owner(node) if isinstance(node, Leaf) else None,
            "distribution": None if self.distribution is None else str(self.distribution),
            "n": self.n,
            "undefined": self.undefined,
            "mean": self.mean,
            "sd": self.sd,
            "p5": p5,
            "p50": p50,
            "p95": p95,
        }

    def rows(self) -> list[dict[str, Any]]:
        """Return one record: the statistics."""
        return [self.to_dict()]

    def _cells(self) -> list[str]:
        p5, p50, p95 = self.percentiles()
        shown = [format_value(v, self.tree, self.name) for v in (self.mean, self.sd, p5, p50, p95)]
        dist = "—" if self.distribution is None else str(self.distribution)
        return [self.name, dist, *shown]

    def __str__(self) -> str:
        name, _, mean, sd, p5, p50, p95 = self._cells()
        text = f"{name}: mean {mean}, sd {sd}, p5 {p5}, p50 {p50}, p95 {p95}"
        return text + _undefined_note(self.undefined, self.n)


def _undefined_note(undefined: int, n: int) -> str:
    if not undefined:
        return ""
    return (
        f"\nnote: {format_number(undefined)} of {format_number(n)} samples are undefined "
        "(division by zero or a similar rule) and left out of the statistics"
    )


@attrs.frozen(eq=False, repr=False)
class Simulation(Result):
    """Monte Carlo samples of every node; statistics of the chosen metric.

    `sim.mean`, `sim.sd`, `sim.quantile(q)`, `sim.prob(target)` are those of `metric`;
    `sim[name]` gives any node's `Samples`.

    Attributes:
        metric: the node the statistics on the result itself describe.
        n: samples per node.
        seed: the entropy of the run's seed sequence: ``simulate(..., seed=sim.seed)``
            repeats it.
        arrays: every node's samples (read-only numpy arrays), in tree order.
        distributions: the distribution of each uncertain leaf.
    """

    metric: str
    n: int
    seed: int | None
    arrays: Mapping[str, Array]
    distributions: Mapping[str, Distribution]
    tree: Graph

    def __getitem__(self, name: str) -> Samples:
        if name not in self.arrays:
            raise self.tree._unknown(name)
        return Samples(name, self.arrays[name], self.tree, self.distributions.get(name))

    def __iter__(self) -> Iterator[str]:
        return iter(self.arrays)

    def __len__(self) -> int:
        return len(self.arrays)

    @property
    def samples(self) -> Samples:
        """The chosen metric's samples."""
        return self[self.metric]

    @property
    def mean(self) -> float:
        """The metric's mean."""
        return self.samples.mean

    @property
    def sd(self) -> float:
        """The metric's standard deviation."""
        return self.samples.sd

    @property
    def undefined(self) -> int:
        """How many of the metric's samples are undefined (NaN)."""
        return self.samples.undefined

    def quantile(self, q: Any) -> float:
        """Return the metric's `q` quantile (``0.05``, ``"95%"``)."""
        return self.samples.quantile(q)

    def prob(self, target: Any) -> float:
        """Return P(metric ≥ target), among the defined samples.

        Examples:
            >>> from kpitree.model.distributions import Uniform
            >>> from kpitree.examples import qualified_leads
            >>> sim = qualified_leads().simulate(
            ...     n=10_000, seed=1, distributions={"leads": Uniform(900, 1100)})
            >>> round(sim.prob(800), 1)  # 800 QLs need 1,000 leads at 80%: half the range
            0.5
        """
        return self.samples.prob(target)

    def plot(self, ax: Any = None, **options: Any) -> Any:
        """Draw the histogram of the samples, with an optional target line; return the Axes."""
        return render(self, "plot", ax=ax, **options)

    def to_dict(self) -> dict[str, Any]:
        """Return the run (metric, n, seed) and every node's statistics."""
        return {
            "metric": self.metric,
            "n": self.n,
            "seed": self.seed,
            "nodes": self.rows(),
        }

    def rows(self) -> list[dict[str, Any]]:
        """Return one record of statistics per node, in tree order."""
        return [self[name].to_dict() for name in self.arrays]

    def __str__(self) -> str:
        head = self.samples
        lines = [f"simulation of {self.metric}: {format_number(self.n)} samples, seed {self.seed}"]
        node = self.tree[self.metric]
        target = getattr(node, "target", None)
        if target is not None:
            chance = format_number(round(head.prob(target), 4), percent=True)
            shown = format_value(target, self.tree, self.metric)
            lines.append(f"P({self.metric} ≥ {shown}) = {chance}")
        body = [head._cells()]
        body += [self[name]._cells() for name in self.distributions if name != self.metric]
        lines.append(table(body, ["node", "distribution", "mean", "sd", "p5", "p50", "p95"]))
        if not self.distributions:
            lines.append("note: no leaf has a distribution; every sample is the same")
        return "\n".join(lines) + _undefined_note(head.undefined, self.n)


def simulate(
    tree: Graph,
    metric: str | None = None,
    n: int = 100_000,
    seed: Any = None,
    *,
    distributions: Mapping[str, Any] | None = None,
    values: Mapping[str, Any] | None = None,
) -> Simulation:
    """Draw `n` samples of every uncertain leaf and compute every node for each, vectorized.

    Args:
        tree: the tree.
        metric: the node whose statistics the result shows (default: the first root).
        n: samples per node.
        seed: an int or a numpy `SeedSequence` for a reproducible run.
        distributions: per-call distributions by leaf name, overriding the nodes'
            (`kt.Normal(...)`, a model-file mapping, a number to fix the leaf, None to drop).
        values: values of the leaves that stay fixed, overriding the nodes' defaults.

    Raises:
        MissingValueError: a leaf with neither a value nor a distribution.
        ValueTypeError: a bad distribution, `n` or `seed`; a distribution that puts
            (almost) no probability within its leaf's bounds.
        LimitError: ``n`` × nodes above `MAX_SAMPLE_VALUES`.

    Examples:
        >>> from kpitree.model.distributions import Uniform
        >>> from kpitree.examples import qualified_leads
        >>> sim = simulate(qualified_leads(), n=20_000, seed=7, distributions={
        ...     "leads": Uniform(900, 1200), "lead_to_ql": Uniform(0.75, 0.85)})
        >>> round(sim.mean, -1)  # 1,050 leads × 80%
        840.0
        >>> abs(sim.prob(800) - 0.662) < 0.01  # 1 - E[800 / rate - 900] / 300, exactly
        True
    """
    import numpy as np

    name = _node(tree, metric)
    n = _count(n, "n (the number of samples)", least=1)
    _limit(n * len(tree), f"{format_number(n)} samples of {len(tree)} nodes", "use a smaller n")
    dists = _distributions(tree, distributions)
    sequence = _seed_sequence(seed)
    streams = _streams(tree, sequence)
    columns: dict[str, Any] = {}
    for leaf in tree.leaves:
        dist = dists.get(leaf.name)
        if dist is not None:
            columns[leaf.name] = _draw(dist, leaf, streams[leaf.name], n)
    fixed = tree.check_values(values)
    columns.update({k: v for k, v in fixed.items() if k not in columns})
    metrics = evaluate_arrays(tree, columns)
    leaf_values = tree.leaf_values(fixed)
    arrays: dict[str, Array] = {}
    for node in tree.names:
        if node in metrics:
            array = metrics[node]
        elif node in dists:
            array = columns[node]
        else:
            array = np.broadcast_to(np.float64(leaf_values[node] or 0.0), (n,))  # never None here
        if array.flags.writeable:
            array.flags.writeable = False
        arrays[node] = array
    return Simulation(name, n, _entropy(sequence), arrays, dists, tree)


# -- Sobol indices ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class SobolEstimate:
    """Sobol indices estimated from paired samples (`sobol_indices`), one per column set.

    Attributes:
        first_order, total: one estimate per set of columns, in the order given.
        first_order_low, first_order_high, total_low, total_high: the bootstrap
            confidence interval of each (NaN without bootstrap).
        mean, variance: of the output over the base samples.
        n: base samples used (rows where every evaluation is defined).
        undefined: base samples left out because some evaluation was NaN.
    """

    first_order: Array
    total: Array
    first_order_low: Array
    first_order_high: Array
    total_low: Array
    total_high: Array
    mean: float
    variance: float
    n: int
    undefined: int


def _indices(means: Array, count: int) -> tuple[Array, Array, Array, Array]:
    """Turn means of the estimator's columns into (first order, total, mean, variance).

    `means[..., :4]` are the means of f(A), f(B), f(A)², f(B)²; then, per set of columns,
    six means: f(B)·d₁, d₁, f(A)·d₂, d₂, d₁², d₂², where d₁ = f(A_B) − f(A) and
    d₂ = f(B_A) − f(B).
    """
    f0 = (means[..., 0] + means[..., 1]) / 2
    variance = (means[..., 2] + means[..., 3]) / 2 - f0**2
    per_set = means[..., 4:].reshape(*means.shape[:-1], count, 6)
    scale = variance[..., None]
    # Saltelli (2010) from both sides, centred on f0 (which lowers the estimator's variance).
    first = (
        per_set[..., 0]
        - f0[..., None] * per_set[..., 1]
        + per_set[..., 2]
        - f0[..., None] * per_set[..., 3]
    ) / (2 * scale)
    # Jansen (1999) from both sides.
    total = (per_set[..., 4] + per_set[..., 5]) / (4 * scale)
    return first, total, f0, variance


def sobol_indices(
    func: Callable[[Array], Any],
    a: Any,
    b: Any,
    *,
    sets: Sequence[Sequence[int]] | None = None,
    bootstrap: int = 200,
    confidence: float = 0.95,
    seed: Any = None,
) -> SobolEstimate:
    """Estimate first-order and total Sobol indices of `func` from two sample matrices.

    The estimator behind `sobol`, for any vectorized function of an ``(n, k)`` matrix of
    independent inputs. `a` and `b` are independent ``(n, k)`` samples; for each set of
    columns ``u`` the design adds ``A_B`` (A with the columns of ``u`` from B) and ``B_A``
    (B with them from A) — Saltelli's scheme taken from both sides, ``n (2 + 2 m)``
    evaluations for ``m`` sets. The first-order index of ``u`` (the variance of
    E[Y | X_u] over Var Y, a *closed* index: everything ``u``'s columns explain together)
    uses Saltelli et al. (2010), centred; the total index (everything involving any column
    of ``u``) uses Jansen (1999). Each is averaged over the two sides, which halves its
    variance. Confidence intervals are percentile intervals over `bootstrap` resamples of
    the base rows (0 to skip them).

    Args:
        func: maps an ``(n, k)`` matrix to ``n`` outputs (NaN where undefined).
        a: a sample of the inputs, ``(n, k)``.
        b: another sample, independent of `a`, of the same shape.
        sets: column sets to estimate (default: each column alone).
        bootstrap: resamples for the confidence intervals.
        confidence: the intervals' coverage.
        seed: for the bootstrap resamples.

    Examples:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> a, b = rng.uniform(size=(4096, 2)), rng.uniform(size=(4096, 2))
        >>> est = sobol_indices(lambda x: x[:, 0] + 2 * x[:, 1], a, b, bootstrap=0)
        >>> np.round(est.first_order, 1), np.round(est.total, 1)  # 1/5 and 4/5
        (array([0.2, 0.8]), array([0.2, 0.8]))
    """
    import numpy as np

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueTypeError(
            f"a and b must be two matrices of one shape (n, k), got {a.shape} and {b.shape}"
        )
    n, k = a.shape
    column_sets = [tuple(s) for s in sets] if sets is not None else [(j,) for j in range(k)]
    bootstrap = _count(bootstrap, "bootstrap", least=0)
    level = to_number(confidence, what="confidence")
    if not 0 < level < 1:
        raise ValueTypeError(f"confidence must be between 0 and 1, got {format_number(level)}")
    _limit(n * (4 + 6 * len(column_sets)), "the Sobol estimator", "use a smaller n")

    def run(matrix: Array) -> Array:
        return np.broadcast_to(np.asarray(func(matrix), dtype=np.float64), (n,))

    f_a, f_b = run(a), run(b)
    pairs = []
    for cols in column_sets:
        ab = a.copy()
        ab[:, cols] = b[:, cols]
        ba = b.copy()
        ba[:, cols] = a[:, cols]
        pairs.append((run(ab) - f_a, run(ba) - f_b))
    ok = np.isfinite(f_a) & np.isfinite(f_b)
    for d1, d2 in pairs:
        ok &= np.isfinite(d1) & np.isfinite(d2)
    used = int(np.count_nonzero(ok))
    if used < 2:
        raise EvaluationError(
            f"the output is undefined for {n - used:,} of {n:,} base samples: no indices",
            hint="check the distributions against the formulas (division by zero?)",
        )
    # The indices do not change when a constant is added to the output; taking the mean
    # out first keeps f(B)·d and f(A)² from cancelling digits when the mean dwarfs the sd.
    shift = float((f_a[ok].mean() + f_b[ok].mean()) / 2)
    f_a, f_b = f_a - shift, f_b - shift
    columns = [f_a, f_b, f_a * f_a, f_b * f_b]
    for d1, d2 in pairs:
        columns += [f_b * d1, d1, f_a * d2, d2, d1 * d1, d2 * d2]
    data = np.column_stack(columns)[ok]
    first, total, f0, variance = _indices(data.mean(axis=0), len(column_sets))
    nan = np.full(len(column_sets), math.nan)
    lows_highs = [nan, nan, nan, nan]
    if bootstrap:
        rng = np.random.default_rng(_seed_sequence(seed))
        picks = rng.integers(0, used, size=(bootstrap, used))
        offsets = (np.arange(bootstrap) * used)[:, None]
        weights = np.bincount((picks + offsets).ravel(), minlength=bootstrap * used)
        means = weights.reshape(bootstrap, used).astype(np.float64) @ data / used
        boot_first, boot_total, _, _ = _indices(means, len(column_sets))
        tail = (1 - level) / 2 * 100
        lows_highs = [
            *np.percentile(boot_first, [tail, 100 - tail], axis=0),
            *np.percentile(boot_total, [tail, 100 - tail], axis=0),
        ]
    return SobolEstimate(
        first,
        total,
        lows_highs[0],
        lows_highs[1],
        lows_highs[2],
        lows_highs[3],
        float(f0) + shift,
        float(variance),
        used,
        n - used,
    )


@attrs.frozen
class SobolRow:
    """The Sobol indices of one leaf, or of one owner's leaves together.

    Attributes:
        name: the leaf, or the owner.
        owner: the leaf's owner (`"external"` for an input); the owner itself on an owner row.
        leaves: the leaves the indices are of.
        first_order: the share of the metric's variance these leaves explain by
            themselves (without interactions with other leaves).
        total: the share that involves them at all: the variance left if they were known.
        first_order_ci, total_ci: confidence intervals (NaN without bootstrap).
    """

    name: str
    owner: str
    leaves: tuple[str, ...]
    first_order: float
    total: float
    first_order_ci: tuple[float, float]
    total_ci: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        """Return the row as plain data."""
        return {
            "name": self.name,
            "owner": self.owner,
            "leaves": list(self.leaves),
            "first_order": self.first_order,
            "first_order_low": self.first_order_ci[0],
            "first_order_high": self.first_order_ci[1],
            "total": self.total,
            "total_low": self.total_ci[0],
            "total_high": self.total_ci[1],
        }


@attrs.frozen(repr=False)
class Sobol(Result):
    """Sobol indices of a metric per uncertain leaf, and per owner.

    `.by_owner` holds *closed-group* indices: the first-order index of an owner is the
    share of the variance that their leaves explain together (their interactions with
    each other included), the total index the share that involves any of their leaves. This
    is measured, not summed: summing the leaves' indices would count interactions twice
    (totals) or leave them out (first order).

    Attributes:
        metric: the metric.
        n: base samples (the tree was evaluated ``n × (2 + 2 × sets)`` times).
        seed: the entropy of the seed sequence; ``sobol(..., seed=s.seed)`` repeats the run.
        leaves_: one row per uncertain leaf, largest total index first.
        owners_: one row per owner, largest total index first.
        mean, variance: of the metric over the base samples.
        confidence: the intervals' coverage.
        undefined: base samples left out because the metric was undefined.
    """

    metric: str
    n: int
    seed: int | None
    leaves_: tuple[SobolRow, ...]
    owners_: tuple[SobolRow, ...]
    mean: float
    variance: float
    confidence: float
    undefined: int
    tree: Graph = attrs.field(eq=False)

    def __iter__(self) -> Iterator[SobolRow]:
        return iter(self.leaves_)

    def __len__(self) -> int:
        return len(self.leaves_)

    def __getitem__(self, name: str) -> SobolRow:
        for row in self.leaves_:
            if row.name == name:
                return row
        raise self.tree._unknown(name, f"uncertain leaf of `{self.metric}`")

    @property
    def first_order(self) -> dict[str, float]:
        """`{leaf: first-order index}`, largest total index first."""
        return {r.name: r.first_order for r in self.leaves_}

    @property
    def total(self) -> dict[str, float]:
        """`{leaf: total index}`, largest first."""
        return {r.name: r.total for r in self.leaves_}

    @property
    def by_owner(self) -> dict[str, SobolRow]:
        """`{owner: closed-group indices of their leaves}`, largest total first."""
        return {r.name: r for r in self.owners_}

    @property
    def interactions(self) -> float:
        """The share of the variance due to interactions: 1 − Σ first-order indices."""
        return 1 - sum(r.first_order for r in self.leaves_)

    def to_dict(self) -> dict[str, Any]:
        """Return the run, the leaf rows and the owner rows as plain data."""
        return {
            "metric": self.metric,
            "n": self.n,
            "seed": self.seed,
            "mean": self.mean,
            "variance": self.variance,
            "confidence": self.confidence,
            "undefined": self.undefined,
            "leaves": [r.to_dict() for r in self.leaves_],
            "by_owner": [r.to_dict() for r in self.owners_],
        }

    def rows(self) -> list[dict[str, Any]]:
        """Return one record per leaf, then one per owner (`level` says which)."""
        return [{"level": "leaf", **r.to_dict()} for r in self.leaves_] + [
            {"level": "owner", **r.to_dict()} for r in self.owners_
        ]

    def __str__(self) -> str:
        sd = format_value(math.sqrt(max(self.variance, 0.0)), self.tree, self.metric)
        level = format_number(self.confidence, percent=True)
        lines = [
            f"Sobol indices of {self.metric} (mean "
            f"{format_value(self.mean, self.tree, self.metric)}, sd {sd}; "
            f"{format_number(self.n)} base samples, {level} intervals)"
        ]
        header = ["leaf", "owner", "first order", "total"]
        lines.append(table([_sobol_cells(r, r.owner) for r in self.leaves_], header))
        lines.append("by owner (each owner's leaves together):")
        owner_rows = [_sobol_cells(r, ", ".join(r.leaves)) for r in self.owners_]
        lines.append(table(owner_rows, ["owner", "leaves", "first order", "total"]))
        lines.append(
            "1 − sum of first-order indices (the share of interactions, up to sampling "
            f"error): {format_number(round(self.interactions, 3))}"
        )
        if self.undefined:
            lines.append(
                f"note: {format_number(self.undefined)} base samples left out: "
                f"{self.metric} was undefined for them"
            )
        return "\n".join(lines)


def _sobol_cells(row: SobolRow, second: str) -> list[str]:
    def shown(value: float, ci: tuple[float, float]) -> str:
        text = format_number(round(value, 3))
        if math.isnan(ci[0]):
            return text
        return f"{text} [{format_number(round(ci[0], 3))}, {format_number(round(ci[1], 3))}]"

    return [
        row.name,
        second,
        shown(row.first_order, row.first_order_ci),
        shown(row.total, row.total_ci),
    ]


def sobol(
    tree: Graph,
    metric: str,
    n: int = 2**14,
    seed: Any = None,
    *,
    distributions: Mapping[str, Any] | None = None,
    values: Mapping[str, Any] | None = None,
    bootstrap: int = 200,
    confidence: float = 0.95,
) -> Sobol:
    """Estimate how much of `metric`'s variance each uncertain leaf, and each owner, explains.

    The uncertain leaves below `metric` are the inputs of `sobol_indices` (Saltelli's design
    from both sides, Saltelli 2010 first-order and Jansen total estimators, bootstrap
    intervals); other leaves stay at their values. Owners with several uncertain leaves get
    closed-group indices from extra evaluations; for an owner with one leaf they are that
    leaf's. The tree is evaluated ``n × (2 + 2 × (leaves + such owners))`` times, vectorized.

    Args:
        tree: the tree.
        metric: the metric.
        n: base samples.
        seed: an int or a numpy `SeedSequence` for a reproducible run.
        distributions: per-call distributions, as for `simulate`.
        values: values of the leaves that stay fixed.
        bootstrap: resamples for the confidence intervals (0 for none).
        confidence: the intervals' coverage.

    Raises:
        MissingValueError: no leaf below `metric` has a distribution.

    Examples:
        >>> from kpitree.model.distributions import Uniform
        >>> from kpitree.examples import qualified_leads
        >>> s = sobol(qualified_leads(), "qualified_leads", n=4096, seed=1, distributions={
        ...     "leads": Uniform(900, 1100), "lead_to_ql": Uniform(0.7, 0.9)})
        >>> {k: round(v, 1) for k, v in s.first_order.items()}  # exactly 0.609 and 0.389
        {'lead_to_ql': 0.6, 'leads': 0.4}
        >>> round(s.by_owner["sales"].total, 1)
        0.6
    """
    import numpy as np

    name = _node(tree, metric)
    n = _count(n, "n (the number of base samples)", least=2)
    dists = _distributions(tree, distributions)
    below = set(tree.depends_on(name))
    factors = [
        leaf
        for leaf in tree.leaves
        if leaf.name in below and leaf.name in dists and not isinstance(dists[leaf.name], Fixed)
    ]
    if not factors:
        raise MissingValueError(
            f"no leaf that `{name}` is computed from has a distribution",
            hint="give leaves a distribution: KPI(..., uncertainty=kt.Normal(1000, 100)) or "
            "sobol(..., distributions={'leads': kt.Uniform(900, 1200)})",
            names=[name],
        )
    owners: dict[str, list[int]] = {}
    for j, leaf in enumerate(factors):
        owners.setdefault(_owner(leaf), []).append(j)
    groups = {owner: cols for owner, cols in owners.items() if len(cols) > 1}
    sets = [(j,) for j in range(len(factors))] + [tuple(c) for c in groups.values()]
    fixed = tree.check_values(values)
    constants: dict[str, Any] = {}
    factor_names = {leaf.name for leaf in factors}
    for leaf in tree.leaves:
        if leaf.name in below and leaf.name not in factor_names:
            dist = dists.get(leaf.name)
            constants[leaf.name] = (
                dist.mean if dist is not None else fixed.get(leaf.name, leaf.value)
            )
    missing = [k for k, v in constants.items() if v is None]
    if missing:
        raise missing_values_error(missing)
    sequence = _seed_sequence(seed)
    streams = _streams(tree, sequence)
    samples = np.column_stack(
        [_draw(dists[leaf.name], leaf, streams[leaf.name], 2 * n) for leaf in factors]
    )
    subtree = tree.subtree(name)

    def func(matrix: Array) -> Array:
        columns: dict[str, Any] = dict(constants)
        columns.update({leaf.name: matrix[:, j] for j, leaf in enumerate(factors)})
        out: Array = evaluate_arrays(subtree, columns)[name]
        return out

    (bootstrap_seed,) = sequence.spawn(1)
    estimate = sobol_indices(
        func,
        samples[:n],
        samples[n:],
        sets=sets,
        bootstrap=bootstrap,
        confidence=confidence,
        seed=bootstrap_seed,
    )

    def row(index: int, label: str, owner: str, cols: Sequence[int]) -> SobolRow:
        return SobolRow(
            label,
            owner,
            tuple(factors[c].name for c in cols),
            float(estimate.first_order[index]),
            float(estimate.total[index]),
            (float(estimate.first_order_low[index]), float(estimate.first_order_high[index])),
            (float(estimate.total_low[index]), float(estimate.total_high[index])),
        )

    leaf_rows = [row(j, leaf.name, _owner(leaf), (j,)) for j, leaf in enumerate(factors)]
    owner_rows = []
    group_index = {owner: len(factors) + i for i, owner in enumerate(groups)}
    for owner, cols in owners.items():
        index = group_index.get(owner, cols[0])
        owner_rows.append(row(index, owner, owner, cols))
    return Sobol(
        name,
        n,
        _entropy(sequence),
        tuple(sorted(leaf_rows, key=lambda r: -r.total)),
        tuple(sorted(owner_rows, key=lambda r: -r.total)),
        estimate.mean,
        estimate.variance,
        to_number(confidence, what="confidence"),
        estimate.undefined,
        tree,
    )


# -- tornado ---------------------------------------------------------------------------------------


@attrs.frozen
class TornadoRow:
    """One leaf moved from low to high with every other leaf at its base value.

    Attributes:
        base: the leaf's base value.
        low, high: the leaf's two values (p10 and p90, or base ∓ the swing).
        at_low, at_high: the metric with the leaf at `low` and at `high` (NaN if undefined).
        swing: ``|at_high − at_low|``.
    """

    name: str
    owner: str
    base: float
    low: float
    high: float
    at_low: float
    at_high: float
    swing: float

    def to_dict(self) -> dict[str, Any]:
        """Return the row as plain data."""
        return attrs.asdict(self)


@attrs.frozen(repr=False)
class Tornado(Result):
    """Leaves ranked by how far the metric swings when each moves alone: a tornado chart.

    Attributes:
        metric: the metric.
        base: the metric with every leaf at its base value.
        rows_: one row per leaf, widest swing first (undefined swings last).
        method: how the low and high values were chosen (``"p10–p90"``, ``"±10%"``).
    """

    metric: str
    base: float
    rows_: tuple[TornadoRow, ...]
    method: str
    tree: Graph = attrs.field(eq=False)

    def __iter__(self) -> Iterator[TornadoRow]:
        return iter(self.rows_)

    def __len__(self) -> int:
        return len(self.rows_)

    def __getitem__(self, name: str) -> TornadoRow:
        for row in self.rows_:
            if row.name == name:
                return row
        raise self.tree._unknown(name, f"leaf in this tornado of `{self.metric}`")

    def plot(self, ax: Any = None) -> Any:
        """Draw the tornado: each leaf's low and high swing of the metric; return the Axes."""
        return render(self, "plot", ax=ax)

    def to_dict(self) -> dict[str, Any]:
        """Return the metric, its base value, the method and the rows."""
        return {
            "metric": self.metric,
            "base": self.base,
            "method": self.method,
            "rows": self.rows(),
        }

    def rows(self) -> list[dict[str, Any]]:
        """Return one record per leaf, widest swing first."""
        return [r.to_dict() for r in self.rows_]

    def __str__(self) -> str:
        value = format_value(self.base, self.tree, self.metric)
        title = f"tornado of {self.metric} (base {value}; each leaf {self.method}, others at base)"
        if not self.rows_:
            return f"{title}\nno leaf to move"

        def shown(x: float, name: str) -> str:
            return "undefined" if math.isnan(x) else format_value(x, self.tree, name)

        body = [
            [
                r.name,
                r.owner,
                f"{shown(r.low, r.name)} → {shown(r.high, r.name)}",
                f"{shown(r.at_low, self.metric)} → {shown(r.at_high, self.metric)}",
                shown(r.swing, self.metric),
            ]
            for r in self.rows_
        ]
        return f"{title}\n{table(body, ['leaf', 'owner', 'low → high', self.metric, 'swing'])}"


def tornado(
    tree: Graph,
    metric: str,
    values: Mapping[str, Any] | None = None,
    *,
    swing: Any = None,
    distributions: Mapping[str, Any] | None = None,
    quantiles: tuple[Any, Any] = (0.1, 0.9),
) -> Tornado:
    """Move each leaf alone from low to high and rank the leaves by the metric's swing.

    Without `swing`, every uncertain leaf below `metric` moves between the `quantiles`
    (p10 and p90) of its distribution, truncated to its bounds. With ``swing=0.1`` (or
    ``"10%"``) every leaf below `metric` moves ±10% around its base value instead. The base
    value of a leaf is its value (``values=`` overrides it), or its distribution's median
    when it has no value; a leaf fixed by a number in `distributions` sits at that number.

    Args:
        tree: the tree.
        metric: the metric.
        values: leaf values overriding the nodes' defaults.
        swing: a relative move for every leaf instead of the distributions' quantiles.
        distributions: per-call distributions, as for `simulate`.
        quantiles: the low and high probabilities when moving by distributions.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> t = tornado(qualified_leads(), "qualified_leads", swing="10%")
        >>> [(r.name, round(r.at_low, 6), round(r.at_high, 6)) for r in t]
        [('leads', 720.0, 880.0), ('lead_to_ql', 720.0, 880.0)]
    """
    name = _node(tree, metric)
    dists = _distributions(tree, distributions)
    below = set(tree.depends_on(name))
    given = tree.check_values(values)
    base_values: dict[str, Any] = {}
    for leaf in tree.leaves:
        dist = dists.get(leaf.name)
        value = dist.value if isinstance(dist, Fixed) else given.get(leaf.name, leaf.value)
        if value is None and dist is not None:
            value = _bounded_ppf(dist, leaf, 0.5)
        base_values[leaf.name] = value
    base_values = {k: v for k, v in base_values.items() if v is not None}
    base = evaluate(tree, base_values)  # raises on missing values or an undefined base
    compiled = compile_tree(tree)
    position = compiled.metrics.index(name) if name in compiled.metrics else None
    vector = [base[leaf] for leaf in compiled.leaves]
    if swing is not None:
        relative = to_number(swing, what="swing")
        if relative <= 0:
            raise ValueTypeError(
                f"swing must be above 0, got {format_number(relative)}",
                hint='swing=0.1 (or "10%") moves every leaf 10% down and up',
            )
        method = f"±{format_number(relative, percent=True)}"
    else:
        low_q, high_q = (to_number(q, what="a tornado quantile") for q in quantiles)
        if not 0 <= low_q < high_q <= 1:
            raise ValueTypeError(
                f"quantiles must be two probabilities, low below high, got {quantiles!r}",
                hint="quantiles=(0.1, 0.9) moves each leaf from its p10 to its p90",
            )
        method = f"p{format_number(low_q * 100)}–p{format_number(high_q * 100)}"
    rows = []
    for i, leaf in enumerate(tree.leaves):
        leaf_name = leaf.name
        if leaf_name not in below:
            continue
        if swing is not None:
            low, high = vector[i] * (1 - relative), vector[i] * (1 + relative)
        elif leaf_name in dists and not isinstance(dists[leaf_name], Fixed):
            dist = dists[leaf_name]
            low, high = _bounded_ppf(dist, leaf, low_q), _bounded_ppf(dist, leaf, high_q)
        else:
            continue
        at = []
        for moved in (low, high):
            if position is None:  # the "metric" is this leaf itself
                at.append(moved)
                continue
            vector[i] = moved
            at.append(evaluate_vector(tree, vector, undefined="nan")[position])
        vector[i] = base[leaf_name]
        rows.append(
            TornadoRow(
                leaf_name,
                _owner(leaf),
                base[leaf_name],
                low,
                high,
                at[0],
                at[1],
                abs(at[1] - at[0]),
            )
        )
    # Widest first; undefined swings last; ties keep tree order.
    rows.sort(key=lambda r: (math.isnan(r.swing), -r.swing if not math.isnan(r.swing) else 0))
    return Tornado(name, base[name], tuple(rows), method, tree)

"""Sobol indices: how much of a metric's variance each uncertain leaf, and each owner, explains.

`sobol_indices` is the estimator for any vectorized function of independent inputs
(Saltelli's design from both sides, Saltelli 2010 first-order and Jansen 1999 total
estimators, bootstrap intervals); `sobol` applies it to the uncertain leaves below a
metric, with closed-group indices for each owner's leaves together.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from kpitree.analyses.attribution.methods import owner_label
from kpitree.analyses.uncertainty import sampling
from kpitree.engine.evaluate import compile_tree, missing_values_error
from kpitree.errors import ArgumentError, EvaluationError, MissingValueError
from kpitree.i18n import _, ngettext
from kpitree.language.limits import DEFAULT_LIMITS, Limits
from kpitree.model.distributions import Fixed
from kpitree.model.numbers import format_number, to_number
from kpitree.model.results import RowTable, format_value, table

if TYPE_CHECKING:
    import numpy as np

    from kpitree.analyses.uncertainty.sampling import Array
    from kpitree.model.graph import Graph

__all__ = ["Sobol", "SobolEstimate", "SobolRow", "sobol", "sobol_indices"]

_BOOTSTRAP_CHUNK = 1 << 22
"""Most resampled row indices drawn at once: a bootstrap holds about 100 MB, whatever n."""

_COUNT_CHUNK = 1 << 18
"""Row indices counted at once: the counts (2 MB) stay in the CPU's cache."""


def _check_memory(
    n: int, k: int, sets: int, bootstrap: int, evaluation: int, limits: Limits, *, drawn: bool
) -> None:
    """Refuse a Sobol run whose arrays (estimated, every copy counted) exceed the limit.

    Per base sample: the drawn A and B (`2k`, when `sobol` draws them), one mixed copy
    of each (`2k`), f(A) and f(B), one evaluation (`evaluation` arrays), the two
    differences per set, and the estimator's `2 + 3 × sets` columns twice (the matrix and
    its defined rows). The bootstrap adds its chunk of row indices (three copies) and its
    results, `bootstrap × (2 + 5 × sets)` numbers.
    """
    per_sample = (4 * k if drawn else 2 * k) + 2 + evaluation + 2 * sets + 2 * (2 + 3 * sets)
    fixed = (3 * _BOOTSTRAP_CHUNK + bootstrap * (2 + 5 * sets)) if bootstrap else 0
    sampling.check_memory(
        _("Sobol indices of {leaves} leaves ({sets} sets, {bootstrap} bootstrap resamples)").format(
            leaves=k, sets=sets, bootstrap=format_number(bootstrap)
        ),
        n,
        per_sample,
        limits,
        hint=_("use a smaller n, or fewer bootstrap resamples (bootstrap=...)"),
        fixed=fixed,
    )


def _bootstrap_means(data: Array, bootstrap: int, seed: np.random.SeedSequence) -> Array:
    """Means of `data`'s columns over `bootstrap` resamples of its rows, in bounded chunks.

    A resample is drawn as row indices and counted into weights per row, so the means of
    all resamples are one matrix product: weights (resamples × rows) @ data. Drawing all
    resamples at once would hold `bootstrap × rows` integers three times (5 GB at the
    default 200 resamples of 2^20 rows), so the weights are made for a chunk of resamples
    at a time (about 32 MB), and within it counted a few resamples at a time, where the
    counts stay in the CPU's cache. The draws are the same numbers whatever the chunks.
    """
    import numpy as np

    used = data.shape[0]
    rng = np.random.default_rng(seed)
    step = max(1, _BOOTSTRAP_CHUNK // used)
    small = max(1, _COUNT_CHUNK // used)
    offsets = (np.arange(min(small, bootstrap)) * used)[:, None]
    means = np.empty((bootstrap, data.shape[1]))
    weights = np.empty((min(step, bootstrap), used))
    for start in range(0, bootstrap, step):
        count = min(step, bootstrap - start)
        for first in range(0, count, small):
            some = min(small, count - first)
            picks = rng.integers(0, used, size=(some, used))
            picks += offsets[:some]
            counted = np.bincount(picks.ravel(), minlength=some * used)
            weights[first : first + some] = counted.reshape(some, used)
        np.matmul(weights[:count], data, out=means[start : start + count])
    means /= used
    return means


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

    Both sides of the design are summed in each column, so that one column's mean serves
    both estimates: `means[..., :2]` are the means of f(A) + f(B) and f(A)² + f(B)²; then,
    per set of columns, three means: f(B)·d₁ + f(A)·d₂, d₁ + d₂ and d₁² + d₂², where
    d₁ = f(A_B) − f(A) and d₂ = f(B_A) − f(B).
    """
    f0 = means[..., 0] / 2
    variance = means[..., 1] / 2 - f0**2
    per_set = means[..., 2:].reshape(*means.shape[:-1], count, 3)
    scale = variance[..., None]
    # Saltelli (2010) from both sides, centred on f0 (which lowers the estimator's variance).
    first = (per_set[..., 0] - f0[..., None] * per_set[..., 1]) / (2 * scale)
    # Jansen (1999) from both sides.
    total = per_set[..., 2] / (4 * scale)
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
    limits: Limits = DEFAULT_LIMITS,
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
        limits: `Limits.max_sample_bytes` bounds the estimator's memory.

    Raises:
        LimitError: the estimator's arrays (every copy and the bootstrap counted) would
            need more than `Limits.max_sample_bytes`.

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
        raise ArgumentError(
            _("a and b must be two matrices of one shape (n, k), got {a} and {b}").format(
                a=a.shape, b=b.shape
            )
        )
    n, k = a.shape
    column_sets = [tuple(s) for s in sets] if sets is not None else [(j,) for j in range(k)]
    bootstrap = sampling.whole_number(bootstrap, "bootstrap", least=0)
    level = to_number(confidence, what="confidence")
    if not 0 < level < 1:
        raise ArgumentError(
            _("confidence must be between 0 and 1, got {value}").format(value=format_number(level))
        )
    limits = sampling.check_limits(limits)
    _check_memory(n, k, len(column_sets), bootstrap, 1, limits, drawn=False)

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
    return _estimate(f_a, f_b, pairs, bootstrap, level, seed)


def _estimate(
    f_a: Array,
    f_b: Array,
    pairs: Sequence[tuple[Array, Array]],
    bootstrap: int,
    level: float,
    seed: Any,
) -> SobolEstimate:
    """The indices from f(A), f(B) and, per set, f(A_B) − f(A) and f(B_A) − f(B)."""
    import numpy as np

    n = len(f_a)
    ok = np.isfinite(f_a) & np.isfinite(f_b)
    for d1, d2 in pairs:
        ok &= np.isfinite(d1) & np.isfinite(d2)
    used = int(np.count_nonzero(ok))
    if used < 2:
        raise EvaluationError(
            _("the output is undefined for {undefined} of {n} base samples: no indices").format(
                undefined=format_number(n - used), n=format_number(n)
            ),
            hint=_("check the distributions against the formulas (division by zero?)"),
        )
    # The indices do not change when a constant is added to the output; taking the mean
    # out first keeps f(B)·d and f(A)² from cancelling digits when the mean dwarfs the sd.
    shift = float((f_a[ok].mean() + f_b[ok].mean()) / 2)
    f_a, f_b = f_a - shift, f_b - shift
    # Column by column into one matrix (column-major: each column is contiguous, and the
    # bootstrap's matrix product reads it as it is); `_indices` says what the columns are.
    data = np.empty((n, 2 + 3 * len(pairs)), order="F")
    np.add(f_a, f_b, out=data[:, 0])
    np.add(f_a * f_a, np.square(f_b, out=data[:, 1]), out=data[:, 1])
    for j, (d1, d2) in enumerate(pairs):
        at = 2 + 3 * j
        np.add(f_b * d1, np.multiply(f_a, d2, out=data[:, at]), out=data[:, at])
        np.add(d1, d2, out=data[:, at + 1])
        np.add(d1 * d1, np.square(d2, out=data[:, at + 2]), out=data[:, at + 2])
    if used < n:  # rows of every column: a copy only when some are left out
        data = data[ok]
    first, total, f0, variance = _indices(data.mean(axis=0), len(pairs))
    nan = np.full(len(pairs), math.nan)
    lows_highs = [nan, nan, nan, nan]
    if bootstrap:
        means = _bootstrap_means(data, bootstrap, sampling.seed_sequence(seed))
        boot_first, boot_total, _low, _high = _indices(means, len(pairs))
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
class Sobol(RowTable):
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

    def _row_role(self) -> str:
        return f"uncertain leaf of `{self.metric}`"

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
            ngettext(
                "Sobol indices of {metric} (mean {mean}, sd {sd}; {n} base sample, "
                "{level} intervals)",
                "Sobol indices of {metric} (mean {mean}, sd {sd}; {n} base samples, "
                "{level} intervals)",
                self.n,
            ).format(
                metric=self.metric,
                mean=format_value(self.mean, self.tree, self.metric),
                sd=sd,
                n=format_number(self.n),
                level=level,
            )
        ]
        header = [_("leaf"), _("owner"), _("first order"), _("total")]
        rows = [_sobol_cells(r, owner_label(r.owner)) for r in self.leaves_]
        lines.append(table(rows, header))
        lines.append(_("by owner (each owner's leaves together):"))
        owner_rows = [
            _sobol_cells(r, ", ".join(r.leaves), owner_label(r.name)) for r in self.owners_
        ]
        header = [_("owner"), _("leaves"), _("first order"), _("total")]
        lines.append(table(owner_rows, header))
        lines.append(
            _(
                "1 − sum of first-order indices (the share of interactions, up to sampling "
                "error): {share}"
            ).format(share=format_number(round(self.interactions, 3)))
        )
        if self.undefined:
            lines.append(
                ngettext(
                    "note: {count} base sample left out: {metric} was undefined for it",
                    "note: {count} base samples left out: {metric} was undefined for them",
                    self.undefined,
                ).format(count=format_number(self.undefined), metric=self.metric)
            )
        return "\n".join(lines)


def _sobol_cells(row: SobolRow, second: str, first: str | None = None) -> list[str]:
    def shown(value: float, ci: tuple[float, float]) -> str:
        text = format_number(round(value, 3))
        if math.isnan(ci[0]):
            return text
        return f"{text} [{format_number(round(ci[0], 3))}, {format_number(round(ci[1], 3))}]"

    return [
        row.name if first is None else first,
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
    limits: Limits = DEFAULT_LIMITS,
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
        limits: `Limits.max_sample_bytes` bounds the memory of the samples and the
            estimator, checked before anything is drawn.

    Raises:
        MissingValueError: no leaf below `metric` has a distribution.
        LimitError: the run would need more memory than `Limits.max_sample_bytes`.

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

    name = sampling.node_name(tree, metric)
    n = sampling.whole_number(n, _("n (the number of base samples)"), least=2)
    dists = sampling.leaf_distributions(tree, distributions)
    below = set(tree.depends_on(name))
    factors = [
        leaf
        for leaf in tree.leaves
        if leaf.name in below and leaf.name in dists and not isinstance(dists[leaf.name], Fixed)
    ]
    if not factors:
        raise MissingValueError(
            _("no leaf that `{name}` is computed from has a distribution").format(name=name),
            hint=_("give leaves a distribution: {example} or {other}").format(
                example="KPI(..., uncertainty=kt.Normal(1000, 100))",
                other="sobol(..., distributions={'leads': kt.Uniform(900, 1200)})",
            ),
            names=[name],
        )
    owners: dict[str, list[int]] = {}
    for j, leaf in enumerate(factors):
        owners.setdefault(sampling.owner_of(leaf), []).append(j)
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
    subtree = tree.subtree(name)
    bootstrap = sampling.whole_number(bootstrap, "bootstrap", least=0)
    _check_memory(
        n,
        len(factors),
        len(sets),
        bootstrap,
        len(subtree),
        sampling.check_limits(limits),
        drawn=True,
    )
    level = to_number(confidence, what="confidence")
    if not 0 < level < 1:
        raise ArgumentError(
            _("confidence must be between 0 and 1, got {value}").format(value=format_number(level))
        )
    sequence = sampling.seed_sequence(seed)
    streams = sampling.leaf_streams(tree, sequence)
    drawn = [sampling.draw(dists[leaf.name], leaf, streams[leaf.name], 2 * n) for leaf in factors]
    # The design's matrices A and B column by column: the first n draws of each leaf, the
    # last n. A mixed matrix is a list of these columns, nothing copied.
    a_columns = [column[:n] for column in drawn]
    b_columns = [column[n:] for column in drawn]
    compiled = compile_tree(subtree, "numpy")
    at = compiled.metrics.index(name)
    factor_index = {leaf.name: j for j, leaf in enumerate(factors)}
    fixed_vector = {leaf: np.asarray(value, dtype=np.float64) for leaf, value in constants.items()}

    def evaluate(columns: Sequence[Array]) -> Array:
        vector = [
            columns[factor_index[leaf]] if leaf in factor_index else fixed_vector[leaf]
            for leaf in compiled.leaves
        ]
        with np.errstate(all="ignore"):
            out = compiled(vector)[at]
        return np.broadcast_to(np.asarray(out, dtype=np.float64), (n,))

    f_a, f_b = evaluate(a_columns), evaluate(b_columns)
    pairs = []
    for chosen in sets:
        ab = [b_columns[j] if j in chosen else a_columns[j] for j in range(len(factors))]
        ba = [a_columns[j] if j in chosen else b_columns[j] for j in range(len(factors))]
        pairs.append((evaluate(ab) - f_a, evaluate(ba) - f_b))
    (bootstrap_seed,) = sequence.spawn(1)
    estimate = _estimate(f_a, f_b, pairs, bootstrap, level, bootstrap_seed)

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

    leaf_rows = [row(j, leaf.name, sampling.owner_of(leaf), (j,)) for j, leaf in enumerate(factors)]
    owner_rows = []
    group_index = {owner: len(factors) + i for i, owner in enumerate(groups)}
    for owner, cols in owners.items():
        index = group_index.get(owner, cols[0])
        owner_rows.append(row(index, owner, owner, cols))
    return Sobol(
        name,
        n,
        sampling.seed_entropy(sequence),
        tuple(sorted(leaf_rows, key=lambda r: -r.total)),
        tuple(sorted(owner_rows, key=lambda r: -r.total)),
        estimate.mean,
        estimate.variance,
        to_number(confidence, what="confidence"),
        estimate.undefined,
        tree,
    )

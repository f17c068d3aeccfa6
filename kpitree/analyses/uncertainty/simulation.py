"""Monte Carlo: samples of every node from samples of the uncertain leaves, and their statistics.

`simulate` draws every uncertain leaf (`kpitree.analyses.uncertainty.sampling`) and pushes
the samples through the compiled tree in one vectorized pass; `Simulation` holds every
node's samples, and `Samples` one node's, with mean, sd, quantiles and P(value ≥ target).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from kpitree.analyses.uncertainty import sampling
from kpitree.engine.evaluate import evaluate_arrays
from kpitree.errors import ArgumentError
from kpitree.i18n import _, ngettext
from kpitree.language.limits import DEFAULT_LIMITS, Limits
from kpitree.model.distributions import Distribution
from kpitree.model.nodes import Leaf
from kpitree.model.numbers import format_number, to_number
from kpitree.model.render import render
from kpitree.model.results import Result, format_value, table

if TYPE_CHECKING:
    from kpitree.analyses.uncertainty.sampling import Array
    from kpitree.model.graph import Graph

__all__ = ["Samples", "Simulation", "simulate"]

_PERCENTILES = (0.05, 0.5, 0.95)


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

    def __eq__(self, other: object) -> bool:
        # `sim[name]` makes a new Samples each time; two are equal when their samples are,
        # so that a Simulation equals the dict of its items, as a Mapping should.
        if not isinstance(other, Samples):
            return NotImplemented
        import numpy as np

        return (
            self.name == other.name
            and self.distribution == other.distribution
            and bool(np.array_equal(self.values, other.values, equal_nan=True))
        )

    __hash__ = None  # type: ignore[assignment]  # equal by value, and mutable arrays inside

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

        p = to_number(q, what=_("a quantile's probability"))
        if not 0 <= p <= 1:
            raise ArgumentError(
                _("a quantile's probability must be between 0 and 1, got {value}").format(
                    value=format_number(p)
                ),
                hint=_("write 0.05 or '5%' for the 5th percentile"),
            )
        defined = self.defined
        return float(np.quantile(defined, p)) if defined.size else math.nan

    def prob(self, target: Any) -> float:
        """Return the share of defined samples at or above `target`: P(value ≥ target)."""
        import numpy as np

        level = to_number(target, what=_("target of `{metric}`").format(metric=self.name))
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
            "owner": sampling.owner_of(node) if isinstance(node, Leaf) else None,
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
        name, _distribution, mean, sd, p5, p50, p95 = self._cells()
        text = _("{name}: mean {mean}, sd {sd}, p5 {p5}, p50 {p50}, p95 {p95}").format(
            name=name, mean=mean, sd=sd, p5=p5, p50=p50, p95=p95
        )
        return text + _undefined_note(self.undefined, self.n)


def _undefined_note(undefined: int, n: int) -> str:
    if not undefined:
        return ""
    return "\n" + ngettext(
        "note: {undefined} of {n} sample is undefined (division by zero or a similar rule) "
        "and left out of the statistics",
        "note: {undefined} of {n} samples are undefined (division by zero or a similar rule) "
        "and left out of the statistics",
        n,
    ).format(undefined=format_number(undefined), n=format_number(n))


@attrs.frozen(eq=False, repr=False)
class Simulation(Mapping[str, "Samples"], Result):
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
        if not isinstance(name, str) or name not in self.arrays:
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
        lines = [
            ngettext(
                "simulation of {metric}: {n} sample, seed {seed}",
                "simulation of {metric}: {n} samples, seed {seed}",
                self.n,
            ).format(metric=self.metric, n=format_number(self.n), seed=self.seed)
        ]
        node = self.tree[self.metric]
        target = getattr(node, "target", None)
        if target is not None:
            chance = format_number(round(head.prob(target), 4), percent=True)
            shown = format_value(target, self.tree, self.metric)
            lines.append(f"P({self.metric} ≥ {shown}) = {chance}")
        body = [head._cells()]
        body += [self[name]._cells() for name in self.distributions if name != self.metric]
        header = [_("node"), _("distribution"), _("mean"), _("sd"), "p5", "p50", "p95"]
        lines.append(table(body, header))
        if not self.distributions:
            lines.append(_("note: no leaf has a distribution; every sample is the same"))
        return "\n".join(lines) + _undefined_note(head.undefined, self.n)


def simulate(
    tree: Graph,
    metric: str | None = None,
    n: int = 100_000,
    seed: Any = None,
    *,
    distributions: Mapping[str, Any] | None = None,
    values: Mapping[str, Any] | None = None,
    limits: Limits = DEFAULT_LIMITS,
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
        limits: `Limits.max_sample_bytes` bounds the memory of the samples.

    Raises:
        MissingValueError: a leaf with neither a value nor a distribution.
        ValueTypeError: a bad distribution, `n` or `seed`; a distribution that puts
            (almost) no probability within its leaf's bounds.
        LimitError: the samples (``n`` × nodes × 8 bytes, and the evaluation's working
            copies) would need more than `Limits.max_sample_bytes`.

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

    name = sampling.node_name(tree, metric)
    n = sampling.whole_number(n, _("n (the number of samples)"), least=1)
    # Every node's samples are kept, plus about two arrays of the evaluation's temporaries.
    sampling.check_memory(
        _("simulating {count} nodes").format(count=len(tree)),
        n,
        len(tree) + 2,
        sampling.check_limits(limits),
        hint=_("use a smaller n"),
    )
    dists = sampling.leaf_distributions(tree, distributions)
    sequence = sampling.seed_sequence(seed)
    streams = sampling.leaf_streams(tree, sequence)
    columns: dict[str, Any] = {}
    for leaf in tree.leaves:
        dist = dists.get(leaf.name)
        if dist is not None:
            columns[leaf.name] = sampling.draw(dist, leaf, streams[leaf.name], n)
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
    return Simulation(name, n, sampling.seed_entropy(sequence), arrays, dists, tree)

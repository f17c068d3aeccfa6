"""Distributions: checked parameters, exact moments and quantiles, the model-file form."""

import math
import statistics
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpitree.errors import ArgumentError, KPITreeError, ValidationError, ValueTypeError
from kpitree.model.distributions import (
    PERT,
    Beta,
    Distribution,
    Fixed,
    LogNormal,
    Normal,
    Triangular,
    Uniform,
    as_distribution,
    distribution_from_dict,
)

np = pytest.importorskip("numpy")

Z = statistics.NormalDist()

# (distribution, its mean, its variance): moments worked out by hand from the textbook
# formulas, not from the code.
MOMENTS = [
    (Normal(1000, 100), 1000.0, 100.0**2),
    (LogNormal(1000, 300), 1000.0, 300.0**2),
    (Uniform(900, 1200), 1050.0, 300.0**2 / 12),
    # (a² + b² + c² − ab − ac − bc) / 18 with a, c, b = 900, 1000, 1200: 70,000 / 18
    (Triangular(900, 1000, 1200), 3100 / 3, 70_000 / 18),
    # αβ / ((α+β)² (α+β+1)) = 16 / (100 · 11)
    (Beta(8, 2), 0.8, 16 / 1100),
    # α = 1 + 4·100/300 = 7/3, β = 1 + 4·200/300 = 11/3; var = 300² αβ / (36 · 7)
    (PERT(900, 1000, 1200), 6100 / 6, 300**2 * (7 / 3) * (11 / 3) / (36 * 7)),
    (Fixed(5), 5.0, 0.0),
]


@pytest.mark.parametrize(("dist", "mean", "variance"), MOMENTS, ids=str)
def test_exact_moments(dist: Distribution, mean: float, variance: float) -> None:
    """Each distribution's mean and variance are the textbook closed forms."""
    assert dist.mean == pytest.approx(mean, rel=1e-12)
    assert dist.variance == pytest.approx(variance, rel=1e-12, abs=1e-300)
    assert dist.sd == pytest.approx(math.sqrt(variance), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize(("dist", "mean", "variance"), MOMENTS, ids=str)
def test_sample_moments(dist: Distribution, mean: float, variance: float) -> None:
    """200,000 draws have the closed-form mean (within 5 standard errors) and variance."""
    n = 200_000
    draws = dist.sample(np.random.default_rng(12), n)
    assert draws.shape == (n,)
    assert abs(draws.mean() - mean) <= 5 * math.sqrt(variance / n) + 1e-12
    assert draws.var() == pytest.approx(variance, rel=0.03, abs=1e-12)


# (distribution, q, the q quantile by a closed form)
QUANTILES = [
    (Normal(1000, 100), 0.975, 1000 + 100 * 1.959963984540054),
    (Normal(0, 1), 0.5, 0.0),
    (LogNormal(1000, 300), 0.5, 1000 / math.sqrt(1 + 0.3**2)),  # the median: mean / √(1+cv²)
    (Uniform(900, 1200), 0.1, 930.0),
    (Triangular(900, 1000, 1200), 1 / 3, 1000.0),  # the mode sits at F = (c−a)/(b−a)
    (Triangular(0, 0, 1), 0.75, 1 - math.sqrt(0.25)),
    (Triangular(0, 1, 1), 0.25, math.sqrt(0.25)),
    (Beta(1, 1), 0.3, 0.3),
    (Beta(2, 1), 0.49, 0.7),  # cdf x²
    (Beta(1, 2), 0.75, 0.5),  # cdf 1 − (1−x)²
    (Beta(3, 1), 0.125, 0.5),  # cdf x³
    (Beta(0.5, 0.5), 0.25, math.sin(math.pi * 0.25 / 2) ** 2),  # arcsine law
    (PERT(0, 0.5, 1), 0.5, 0.5),  # symmetric
    (PERT(10, 10, 20), 0.25, 10 + 10 * (1 - 0.75 ** (1 / 5))),  # α = 1, β = 5: cdf 1 − (1−x)⁵
    (Fixed(3), 0.9, 3.0),
]


@pytest.mark.parametrize(("dist", "q", "expected"), QUANTILES, ids=str)
def test_quantiles_match_closed_forms(dist: Distribution, q: float, expected: float) -> None:
    """ppf agrees with closed-form quantiles to near machine precision."""
    assert dist.ppf(q) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    ("dist", "x", "expected"),
    [
        (Beta(8, 2), 0.8, 9 * 0.8**8 * 0.2 + 0.8**9),  # P(Binomial(9, 0.8) ≥ 8)
        (Beta(2, 5), 0.3, 1 - sum(math.comb(6, k) * 0.3**k * 0.7 ** (6 - k) for k in range(2))),
        (Normal(1000, 100), 1100, Z.cdf(1)),
        (Triangular(900, 1000, 1200), 1000, 1 / 3),
        (Uniform(0, 4), 1, 0.25),
        (LogNormal(1000, 300), 1000 / math.sqrt(1.09), 0.5),
        (Fixed(2), 1.999, 0.0),
        (Fixed(2), 2, 1.0),
    ],
    ids=str,
)
def test_cdf_matches_closed_forms(dist: Distribution, x: float, expected: float) -> None:
    """cdf agrees with closed forms (the Beta cdf with binomial tail sums)."""
    assert dist.cdf(x) == pytest.approx(expected, rel=1e-10, abs=1e-14)


def continuous() -> st.SearchStrategy[Distribution]:
    """Random continuous distributions over their valid parameters.

    Locations stay within 10⁴ widths of the spread, so that float spacing at the location
    is far below the spread (a width of 0.002 at 8192 has no 9 exact digits to give).
    """
    num = st.floats(-100, 100, allow_nan=False)
    pos = st.floats(1e-2, 1e3, allow_nan=False)
    shapes = st.floats(0.3, 50, allow_nan=False)

    def three(cls: Callable[..., Distribution]) -> st.SearchStrategy[Distribution]:
        return st.tuples(num, st.floats(0.01, 1), pos).map(
            lambda t: cls(t[0], t[0] + t[1] * t[2], t[0] + t[2])
        )

    return st.one_of(
        st.builds(Normal, num, pos),
        st.builds(LogNormal, pos, pos),
        st.tuples(num, pos).map(lambda t: Uniform(t[0], t[0] + t[1])),
        three(Triangular),
        three(PERT),
        st.builds(Beta, shapes, shapes),
    )


@given(continuous(), st.floats(0.001, 0.999))
def test_cdf_inverts_ppf(dist: Distribution, q: float) -> None:
    """cdf(ppf(q)) is q for every continuous distribution and probability."""
    assert dist.cdf(dist.ppf(q)) == pytest.approx(q, abs=1e-9)


@given(continuous())
def test_ppf_is_increasing_and_within_support(dist: Distribution) -> None:
    """Quantiles increase with q and stay within the support."""
    qs = [0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999]
    values = [dist.ppf(q) for q in qs]
    assert values == sorted(values)
    low, high = dist.support
    assert low <= values[0] and values[-1] <= high


@given(continuous())
def test_samples_follow_the_quantiles(dist: Distribution) -> None:
    """About 10% of draws fall at or below ppf(0.1), and 90% at or below ppf(0.9)."""
    draws = dist.sample(np.random.default_rng(3), 20_000)
    for q in (0.1, 0.9):
        share = np.mean(draws <= dist.ppf(q))
        assert abs(share - q) < 5 * math.sqrt(q * (1 - q) / 20_000)


@given(st.one_of(continuous(), st.builds(Fixed, st.floats(-1e6, 1e6))))
def test_dict_round_trip(dist: Distribution) -> None:
    """distribution_from_dict(d.to_dict()) gives back an equal distribution."""
    assert distribution_from_dict(dist.to_dict()) == dist
    assert type(dist).from_dict(dist.to_dict()) == dist


@pytest.mark.parametrize(
    ("dist", "text", "data"),
    [
        (Normal(1000, 100), "Normal(1000, 100)", {"normal": {"mean": 1000, "sd": 100}}),
        (LogNormal(1000, 300), "LogNormal(1000, 300)", {"lognormal": {"mean": 1000, "sd": 300}}),
        (Uniform("75%", "85%"), "Uniform(0.75, 0.85)", {"uniform": {"lo": 0.75, "hi": 0.85}}),
        (
            Triangular(900, 1000, 1200),
            "Triangular(900, 1000, 1200)",
            {"triangular": {"lo": 900, "mode": 1000, "hi": 1200}},
        ),
        (
            PERT(900, 1000, 1200),
            "PERT(900, 1000, 1200)",
            {"pert": {"lo": 900, "mode": 1000, "hi": 1200}},
        ),
        (
            PERT(900, 1000, 1200, shape=6),
            "PERT(900, 1000, 1200, shape=6)",
            {"pert": {"lo": 900, "mode": 1000, "hi": 1200, "shape": 6}},
        ),
        (Beta(8, 2), "Beta(8, 2)", {"beta": {"alpha": 8, "beta": 2}}),
        (Fixed(0.8), "Fixed(0.8)", {"fixed": {"value": 0.8}}),
    ],
    ids=str,
)
def test_text_and_model_file_form(dist: Distribution, text: str, data: dict[str, Any]) -> None:
    """str is the constructor call; to_dict is the model-file form."""
    assert str(dist) == text
    assert dist.to_dict() == data
    assert repr(dist).startswith(type(dist).__name__ + "(")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"dist": "normal", "mean": 1000, "sd": 100}, Normal(1000, 100)),
        ({"Normal": {"mean": "1 000", "sd": "100"}}, Normal(1000, 100)),
        ({"uniform": {"lo": "75%", "hi": "85%"}}, Uniform(0.75, 0.85)),
        ({"lognormal": {"median": 1000, "factor": 2}}, LogNormal.from_median(1000, 2)),
        ({"beta": {"mean": 0.8, "sd": 0.05}}, Beta.from_mean(0.8, 0.05)),
        ({"fixed": {"value": 3}}, Fixed(3)),
    ],
    ids=str,
)
def test_from_dict_forms(data: dict[str, Any], expected: Distribution) -> None:
    """The nested and flat forms, text numbers and alternative parameters are read."""
    assert distribution_from_dict(data) == expected


def test_alternative_constructors() -> None:
    """Beta.from_mean and LogNormal.from_median give the asked mean, sd, median and spread."""
    beta = Beta.from_mean(0.8, 0.05)
    assert beta.mean == pytest.approx(0.8, rel=1e-12) and beta.sd == pytest.approx(0.05)
    log = LogNormal.from_median(1000, 1.5)
    assert log.median == pytest.approx(1000, rel=1e-12)
    assert log.sigma == pytest.approx(math.log(1.5), rel=1e-12)
    # One sigma of the log either side: ×/÷ 1.5 holds 68.27% of the probability.
    assert log.cdf(1500) - log.cdf(1000 / 1.5) == pytest.approx(Z.cdf(1) - Z.cdf(-1))


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda: Normal(1000, 0), ArgumentError, "Normal: `sd` must be above 0, got 0"),
        (lambda: Normal(1000, -5), ArgumentError, "use kt.Fixed(value)"),
        (lambda: Normal("a lot", 5), ValueTypeError, "Normal: `mean`: expected a finite number"),
        (lambda: Normal(math.nan, 5), ValueTypeError, "not finite"),
        (lambda: Normal(True, 5), ValueTypeError, "a bool"),
        (lambda: Normal("x", -1), ValidationError, "2 problems found"),
        (lambda: LogNormal(-1, 5), ArgumentError, "`mean` must be above 0"),
        (lambda: LogNormal.from_median(1000, 0.5), ArgumentError, "`factor` must be above 1"),
        (lambda: Uniform(5, 5), ArgumentError, "`lo` must be below `hi`, got lo=5, hi=5"),
        (lambda: Uniform(6, 5), ArgumentError, "`lo` must be below `hi`"),
        (lambda: Triangular(0, 2, 1), ArgumentError, "`mode` must lie within [lo, hi] = [0, 1]"),
        (lambda: PERT(0, -1, 1), ArgumentError, "`mode` must lie within"),
        (lambda: PERT(0, 0.5, 1, shape=0), ArgumentError, "`shape` must be above 0"),
        (lambda: Beta(0, 2), ArgumentError, "Beta: `alpha` must be above 0"),
        (lambda: Beta.from_mean(1.2, 0.1), ArgumentError, "strictly between 0 and 1"),
        (lambda: Beta.from_mean(0.8, 0.5), ArgumentError, "`sd` must be below sqrt(mean"),
        (lambda: Fixed("0,8"), ValueTypeError, "a decimal comma"),
        (lambda: Normal(0, 1).ppf(1.5), ArgumentError, "between 0 and 1, got 1.5"),
        (lambda: Normal(0, 1).ppf("often"), ValueTypeError, "a quantile's probability"),
    ],
)
def test_bad_parameters(make: Callable[[], Any], error: type[Exception], words: str) -> None:
    """Invalid parameters raise a kpitree error saying which parameter and why."""
    with pytest.raises(error) as info:
        make()
    assert words in str(info.value)
    assert isinstance(info.value, KPITreeError)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"gaussian": {"mean": 1, "sd": 1}}, "did you mean `normal`?"),
        ({"normla": {"mean": 1, "sd": 1}}, "did you mean `normal`?"),
        ({"normal": {"mean": 1}}, "missing sd"),
        ({"normal": {"mean": 1, "sd": 1, "skew": 2}}, "unknown skew"),
        ({"uniform": {"min": 1, "max": 2}}, "{uniform: {lo, hi}}"),
        ({"pert": {"lo": 1, "hi": 2}}, "{pert: {lo, mode, hi, [shape]}}"),
        ({"beta": {"mean": 0.5}}, "{beta: {alpha, beta}} or {beta: {mean, sd}}"),
        ({"normal": 5}, "must be a mapping"),  # the one type error: see below
        ({"normal": {"mean": 1, "sd": 1}, "uniform": {"lo": 0, "hi": 1}}, "one kind"),
        ({"dist": 3, "mean": 1}, "unknown distribution 3"),
        ({"normal": {"mean": 1, "sd": 0}}, "`sd` must be above 0"),
    ],
    ids=str,
)
def test_bad_model_file_forms(data: dict[str, Any], words: str) -> None:
    """Model-file forms that name no distribution, or bad parameters, are refused with a hint."""
    error = ValueTypeError if data == {"normal": 5} else ArgumentError
    with pytest.raises(error) as info:
        distribution_from_dict(data)
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Normal(1, 2), Normal(1, 2)),
        (1000, Fixed(1000)),
        ("80%", Fixed(0.8)),
        (np.float64(2.5), Fixed(2.5)),
        ({"uniform": {"lo": 1, "hi": 2}}, Uniform(1, 2)),
        (None, None),
    ],
    ids=str,
)
def test_as_distribution(value: Any, expected: Distribution | None) -> None:
    """Distributions, numbers, mappings and None are what a user may give as uncertainty."""
    assert as_distribution(value) == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ((900, 1200), "uncertainty must be a distribution, got tuple"),
        (True, "a bool"),
        ([1], "list"),
    ],
    ids=str,
)
def test_as_distribution_refuses(value: Any, words: str) -> None:
    """Pairs, bools and lists are refused: a pair could mean several distributions."""
    with pytest.raises(ValueTypeError) as info:
        as_distribution(value)
    assert words in str(info.value)


def test_values_are_hashable_and_equal_by_parameters() -> None:
    """Distributions are immutable values: equal by kind and parameters, usable in sets."""
    assert Normal(1, 2) == Normal("1", "2")
    assert Normal(1, 2) != LogNormal(1, 2)
    assert len({Normal(1, 2), Normal(1.0, 2.0), Uniform(0, 1)}) == 2
    with pytest.raises(AttributeError):
        Normal(1, 2).sd = 3  # type: ignore[misc]


def test_no_numpy_at_import() -> None:
    """Importing the distributions module does not import numpy."""
    code = "import sys, kpitree.model.distributions; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

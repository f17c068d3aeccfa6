"""Distributions for uncertain leaves: what a KPI or input may turn out to be.

A distribution is an immutable value with checked parameters. Each one can draw samples
(`sample(rng, n)`, numpy imported only there), give quantiles (`ppf(q)`) and cumulative
probabilities (`cdf(x)`) in closed form or by a safeguarded numerical inverse (no scipy),
and its `mean`, `variance` and `sd` exactly.

=========================  ===============================================================
distribution               meaning
=========================  ===============================================================
``Normal(mean, sd)``       symmetric spread around a mean; ``sd > 0``
``LogNormal(mean, sd)``    positive and right-skewed; `mean` and `sd` of the value itself
                           (not of its log); ``LogNormal.from_median(median, factor)``
                           gives it by its median and a multiplicative spread
``Uniform(lo, hi)``        every value in ``[lo, hi]`` equally likely
``Triangular(lo, mode,     a low, a most likely and a high value, straight lines between
hi)``
``PERT(lo, mode, hi)``     a smooth three-point estimate (a scaled Beta) with mean
                           ``(lo + 4 mode + hi) / 6``; `shape` (default 4) sets how
                           strongly it peaks at the mode
``Beta(alpha, beta)``      a rate in ``[0, 1]``; ``Beta.from_mean(mean, sd)`` for analysts
``Fixed(value)``           no uncertainty: always `value`
=========================  ===============================================================

The model-file form (`to_dict`, `distribution_from_dict`) is one key naming the kind,
mapping to the parameters: ``{"normal": {"mean": 1000, "sd": 100}}``. The flat form
``{"dist": "normal", "mean": 1000, "sd": 100}`` is read too, and so are the alternative
parameters ``{"lognormal": {"median": 1000, "factor": 1.5}}`` and
``{"beta": {"mean": 0.8, "sd": 0.05}}``. Numbers may be text (``"80%"``), as everywhere.
`as_distribution` turns whatever a user gave for ``uncertainty=`` into a distribution.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from kpitree.errors import (
    ArgumentError,
    KPITreeError,
    ValidationError,
    ValueTypeError,
    did_you_mean,
)
from kpitree.i18n import _
from kpitree.model.numbers import to_number

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "PERT",
    "Beta",
    "Distribution",
    "Fixed",
    "LogNormal",
    "Normal",
    "Triangular",
    "Uniform",
    "as_distribution",
    "distribution_from_dict",
]


def _short(x: float) -> str:
    """Write a parameter the way it would be typed: ``1000``, ``0.8``, ``1e+20``."""
    return format(x, ".15g")


class Distribution:
    """Base of the distributions: sampling, quantiles, moments and the model-file form."""

    __slots__ = ()
    kind: ClassVar[str]
    """The name in model files: ``"normal"``, ``"pert"``, ..."""

    def sample(self, rng: np.random.Generator, n: int) -> NDArray[np.float64]:
        """Return `n` independent draws, using the numpy generator `rng`."""
        raise NotImplementedError

    def cdf(self, x: float) -> float:
        """Return P(X ≤ x)."""
        raise NotImplementedError

    def _ppf(self, q: float) -> float:
        raise NotImplementedError

    def ppf(self, q: float) -> float:
        """Return the `q` quantile: the value X stays at or below with probability `q`.

        `q` is a probability in [0, 1] (``"10%"`` reads as 0.1); ``ppf(0)`` and ``ppf(1)``
        are the ends of the support, infinite for an unbounded distribution.

        Examples:
            >>> Uniform(900, 1200).ppf(0.1)
            930.0
            >>> round(Normal(1000, 100).ppf("90%"), 3)
            1128.155
        """
        p = to_number(q, what=_("a quantile's probability"))
        if not 0 <= p <= 1:
            raise ArgumentError(
                _("a quantile's probability must be between 0 and 1, got {value}").format(
                    value=_short(p)
                ),
                hint=_("write 0.1 or '10%' for the 10th percentile"),
            )
        return self._ppf(p)

    @property
    def mean(self) -> float:
        """The expected value."""
        raise NotImplementedError

    @property
    def variance(self) -> float:
        """The variance."""
        raise NotImplementedError

    @property
    def sd(self) -> float:
        """The standard deviation."""
        return math.sqrt(self.variance)

    @property
    def median(self) -> float:
        """The 50% quantile."""
        return self._ppf(0.5)

    @property
    def support(self) -> tuple[float, float]:
        """The smallest and largest possible values (infinite when unbounded)."""
        return (self._ppf(0.0), self._ppf(1.0))

    def _params(self) -> dict[str, float]:
        return attrs.asdict(self)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, dict[str, float]]:
        """Return the model-file form, ``{kind: {parameter: value}}``.

        Examples:
            >>> Normal(1000, 100).to_dict()
            {'normal': {'mean': 1000.0, 'sd': 100.0}}
        """
        return {self.kind: self._params()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Distribution:
        """Read the model-file form; the same as `distribution_from_dict`."""
        return distribution_from_dict(data)

    def __str__(self) -> str:
        args = ", ".join(_short(v) for v in self._params().values())
        return f"{type(self).__name__}({args})"

    def __repr__(self) -> str:
        fields = attrs.asdict(self)  # type: ignore[arg-type]
        return f"{type(self).__name__}({', '.join(f'{k}={_short(v)}' for k, v in fields.items())})"


# -- checking parameters ----------------------------------------------------------------------


class _Checker:
    """Converts a distribution's parameters, collecting every problem to raise them at once."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[KPITreeError] = []

    def number(self, value: Any, param: str) -> float:
        try:
            return to_number(value, what=f"{self.name}: `{param}`")
        except KPITreeError as exc:
            self.problems.append(exc)
            return math.nan

    def require(self, ok: bool, reason: str, hint: str) -> None:
        # A NaN stands for a parameter already reported; its comparisons are False.
        if not ok:
            self.problems.append(ArgumentError(f"{self.name}: {reason}", hint=hint))

    def done(self) -> None:
        if len(self.problems) == 1:
            raise self.problems[0]
        if self.problems:
            raise ValidationError(self.problems)


def _positive(check: _Checker, value: float, param: str, hint: str) -> None:
    if value == value:
        check.require(
            value > 0,
            _("`{param}` must be above 0, got {value}").format(param=param, value=_short(value)),
            hint,
        )


def _ordered(check: _Checker, lo: float, hi: float, mode: float | None = None) -> None:
    if lo == lo and hi == hi:
        check.require(
            lo < hi,
            _("`lo` must be below `hi`, got {values}").format(
                values=f"lo={_short(lo)}, hi={_short(hi)}"
            ),
            _("for a value known exactly, use kt.Fixed(value)"),
        )
        if mode is not None and mode == mode and lo < hi:
            check.require(
                lo <= mode <= hi,
                _("`mode` must lie within [lo, hi] = [{lo}, {hi}], got {mode}").format(
                    lo=_short(lo), hi=_short(hi), mode=_short(mode)
                ),
                _("mode is the most likely value, between the low and the high one"),
            )


# -- the standard normal, shared by Normal and LogNormal ------------------------------------


@functools.cache
def _standard() -> Any:
    """The standard normal (statistics is imported on first use: it pulls in `random`)."""
    import statistics

    return statistics.NormalDist()


def _z(q: float) -> float:
    if q <= 0:
        return -math.inf
    if q >= 1:
        return math.inf
    return float(_standard().inv_cdf(q))


def _phi(x: float) -> float:
    return float(_standard().cdf(x))


# -- the regularized incomplete beta function and its inverse (Beta, PERT) ------------------


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _beta_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz), x < (a+1)/(a+b+2)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-16:
            break
    return h


def _beta_cdf(a: float, b: float, x: float) -> float:
    """Return I_x(a, b), the cdf of Beta(a, b) at x."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = a * math.log(x) + b * math.log1p(-x) - _log_beta(a, b)
    # The fraction converges fast only below the mean; above it use I_x(a,b) = 1 - I_1-x(b,a).
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def _beta_ppf(a: float, b: float, q: float) -> float:
    """Invert I_x(a, b) = q by Newton steps kept inside a shrinking bisection bracket."""
    if q <= 0:
        return 0.0
    if q >= 1:
        return 1.0
    low, high = 0.0, 1.0
    x = a / (a + b)
    log_b = _log_beta(a, b)
    for _step in range(200):
        error = _beta_cdf(a, b, x) - q
        if error == 0:
            return x
        if error > 0:
            high = x
        else:
            low = x
        density = math.exp((a - 1) * math.log(x) + (b - 1) * math.log1p(-x) - log_b)
        step = error / density if density > 0 and math.isfinite(density) else math.inf
        candidate = x - step
        if not low < candidate < high:
            candidate = (low + high) / 2
        if abs(candidate - x) <= 1e-15 * max(x, 1e-300) or high - low <= 1e-300:
            return candidate
        x = candidate
    return x


# -- the distributions -------------------------------------------------------------------------


@attrs.frozen(init=False, repr=False)
class Normal(Distribution):
    """A normal distribution with a mean and a standard deviation.

    Examples:
        >>> d = Normal(1000, 100)
        >>> str(d), d.mean, d.sd
        ('Normal(1000, 100)', 1000.0, 100.0)
    """

    kind: ClassVar[str] = "normal"
    mean: float
    sd: float

    def __init__(self, mean: Any, sd: Any) -> None:
        check = _Checker("Normal")
        m, s = check.number(mean, "mean"), check.number(sd, "sd")
        _positive(check, s, "sd", _("for a value known exactly, use kt.Fixed(value)"))
        check.done()
        self.__attrs_init__(m, s)

    @property
    def variance(self) -> float:
        """The variance, ``sd ** 2``."""
        return self.sd**2

    def sample(self, rng: np.random.Generator, n: int) -> NDArray[np.float64]:
        """Return `n` independent draws."""
        return rng.normal(self.mean, self.sd, n)

    def cdf(self, x: float) -> float:
        """Return P(X ≤ x)."""
        return _phi((x - self.mean) / self.sd)

    def _ppf(self, q: float) -> float:
        return self.mean + self.sd * _z(q)


@attrs.frozen(init=False, repr=False)
class LogNormal(Distribution):
    """A log-normal distribution, given by the mean and sd of the value itself (both > 0).

    `mu` and `sigma` are the mean and sd of its natural log. `LogNormal.from_median`
    gives it by its median and a multiplicative spread instead.

    Examples:
        >>> d = LogNormal(1000, 300)
        >>> str(d), d.mean, round(d.median, 2)
        ('LogNormal(1000, 300)', 1000.0, 957.83)
    """

    kind: ClassVar[str] = "lognormal"
    mean: float
    sd: float

    def __init__(self, mean: Any, sd: Any) -> None:
        check = _Checker("LogNormal")
        m, s = check.number(mean, "mean"), check.number(sd, "sd")
        _positive(check, m, "mean", _("a log-normal value is positive; for any sign use kt.Normal"))
        _positive(check, s, "sd", _("for a value known exactly, use kt.Fixed(value)"))
        check.done()
        self.__attrs_init__(m, s)

    @classmethod
    def from_median(cls, median: Any, factor: Any) -> LogNormal:
        """Return the log-normal with this median and multiplicative spread `factor` (> 1).

        The value lies within ×/÷ `factor` of the median with probability 68% (one sigma
        of the log).

        Examples:
            >>> d = LogNormal.from_median(1000, 2)
            >>> round(d.median, 6), round(d.ppf(0.8413447460685429) / d.median, 6)
            (1000.0, 2.0)
        """
        check = _Checker("LogNormal")
        med, f = check.number(median, "median"), check.number(factor, "factor")
        _positive(check, med, "median", _("a log-normal value is positive"))
        if f == f:
            check.require(
                f > 1,
                _("`factor` must be above 1, got {value}").format(value=_short(f)),
                _("factor 1.5 means the value is within ×/÷ 1.5 of the median 68% of the time"),
            )
        check.done()
        sigma2 = math.log(f) ** 2
        mean = med * math.exp(sigma2 / 2)
        return cls(mean, mean * math.sqrt(math.expm1(sigma2)))

    @property
    def sigma(self) -> float:
        """The sd of the log of the value."""
        return math.sqrt(math.log1p((self.sd / self.mean) ** 2))

    @property
    def mu(self) -> float:
        """The mean of the log of the value."""
        return math.log(self.mean) - self.sigma**2 / 2

    @property
    def variance(self) -> float:
        """The variance, ``sd ** 2``."""
        return self.sd**2

    def sample(self, rng: np.random.Generator, n: int) -> NDArray[np.float64]:
        """Return `n` independent draws."""
        return rng.lognormal(self.mu, self.sigma, n)

    def cdf(self, x: float) -> float:
        """Return P(X ≤ x)."""
        if x <= 0:
            return 0.0
        return _phi((math.log(x) - self.mu) / self.sigma)

    def _ppf(self, q: float) -> float:
        if q <= 0:
            return 0.0
        if q >= 1:
            return math.inf
        return math.exp(self.mu + self.sigma * _z(q))


@attrs.frozen(init=False, repr=False)
class Uniform(Distribution):
    """Every value between `lo` and `hi` equally likely.

    Examples:
        >>> d = Uniform("75%", "85%")
        >>> str(d), round(d.mean, 6)
        ('Uniform(0.75, 0.85)', 0.8)
    """

    kind: ClassVar[str] = "uniform"
    lo: float
    hi: float

    def __init__(self, lo: Any, hi: Any) -> None:
        check = _Checker("Uniform")
        low, high = check.number(lo, "lo"), check.number(hi, "hi")
        _ordered(check, low, high)
        check.done()
        self.__attrs_init__(low, high)

    @property
    def mean(self) -> float:
        """The midpoint."""
        return (self.lo + self.hi) / 2

    @property
    def variance(self) -> float:
        """``(hi - lo) ** 2 / 12``."""
        return (self.hi - self.lo) ** 2 / 12

    def sample(self, rng: np.random.Generator, n: int) -> NDArray[np.float64]:
        """Return `n` independent draws."""
        return rng.uniform(self.lo, self.hi, n)

    def cdf(self, x: float) -> float:
        """Return P(X ≤ x)."""
        return min(1.0, max(0.0, (x - self.lo) / (self.hi - self.lo)))

    def _ppf(self, q: float) -> float:
        return self.lo + q * (self.hi - self.lo)


@attrs.frozen(init=False, repr=False)
class Triangular(Distribution):
    """A low, a most likely and a high value, with straight lines between them.

    Examples:
        >>> d = Triangular(900, 1000, 1200)
        >>> str(d), round(d.mean, 6)
        ('Triangular(900, 1000, 1200)', 1033.333333)
    """

    kind: ClassVar[str] = "triangular"
    lo: float
    mode: float
    hi: float

    def __init__(self, lo: Any, mode: Any, hi: Any) -> None:
        check = _Checker("Triangular")
        low, most, high = (check.number(v, p) for v, p in ((lo, "lo"), (mode, "mode"), (hi, "hi")))
        _ordered(check, low, high, most)
        check.done()
        self.__attrs_init__(low, most, high)

    @property
    def mean(self) -> float:
        """``(lo + mode + hi) / 3``."""
        return (self.lo + self.mode + self.hi) / 3

    @property
    def variance(self) -> float:
        """The variance of the triangle."""
        a, c, b = self.lo, self.mode, self.hi
        return (a * a + b * b + c * c - a * b - a * c - b * c) / 18

    def sample(self, rng: np.random.Generator, n: int) -> NDArray[np.float64]:
        """Return `n` independent draws."""
        return rng.triangular(self.lo, self.mode, self.hi, n)

    def cdf(self, x: float) -> float:
        """Return P(X ≤ x)."""
        a, c, b = self.lo, self.mode, self.hi
        if x <= a:
            return 0.0
        if x >= b:
            return 1.0
        if x < c:
            return (x - a) ** 2 / ((b - a) * (c - a))
        return 1.0 - (b - x) ** 2 / ((b - a) * (b - c))

    def _ppf(self, q: float) -> float:
        a, c, b = self.lo, self.mode, self.hi
        if q < (c - a) / (b - a):
            return a + math.sqrt(q * (b - a) * (c - a))
        return b - math.sqrt((1 - q) * (b - a) * (b - c))


@attrs.frozen(init=False, repr=False)
class Beta(Distribution):
    """A Beta distribution on [0, 1], for rates; `Beta.from_mean` takes a mean and an sd.

    Examples:
        >>> d = Beta(8, 2)
        >>> str(d), d.mean, round(d.cdf(0.8), 6)
        ('Beta(8, 2)', 0.8, 0.436208)
        >>> Beta(2, 2).ppf(0.5)
        0.5
    """

    kind: ClassVar[str] = "beta"
    alpha: float
    beta: float

    def __init__(self, alpha: Any, beta: Any) -> None:
        check = _Checker("Beta")
        a, b = check.number(alpha, "alpha"), check.number(beta, "beta")
        for value, param in ((a, "alpha"), (b, "beta")):
            _positive(check, value, param, _("Beta.from_mean(mean, sd) takes a mean and an sd"))
        check.done()
        self.__attrs_init__(a, b)

    @classmethod
    def from_mean(cls, mean: Any, sd: Any) -> Beta:
        """Return the Beta distribution with this mean (in (0, 1)) and sd.

        Examples:
            >>> d = Beta.from_mean("80%", 0.05)
            >>> round(d.mean, 12), round(d.sd, 12)
            (0.8, 0.05)
        """
        check = _Checker("Beta")
        m, s = check.number(mean, "mean"), check.number(sd, "sd")
        if m == m:
            check.require(
                0 < m < 1,
                _("`mean` must lie strictly between 0 and 1, got {value}").format(value=_short(m)),
                _("a rate"),
            )
        _positive(check, s, "sd", _("for a value known exactly, use kt.Fixed(value)"))
        if 0 < m < 1 and s > 0:
            limit = math.sqrt(m * (1 - m))
            check.require(
                s < limit,
                _("`sd` must be below sqrt(mean * (1 - mean)) = {limit}, got {value}").format(
                    limit=_short(limit), value=_short(s)
                ),
                _("no distribution on [0, 1] with this mean spreads that wide"),
            )
        check.done()
        size = m * (1 - m) / s**2 - 1
        return cls(m * size, (1 - m) * size)

    @property
    def mean(self) -> float:
        """``alpha / (alpha + beta)``."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def variance(self) -> float:
        """The variance of the Beta distribution."""
        a, b = self.alpha, self.beta
        return a * b / ((a + b) ** 2 * (a + b + 1))

    def sample(self, rng: np.random.Generator, n: int) -> NDArray[np.float64]:
        """Return `n` independent draws."""
        return rng.beta(self.alpha, self.beta, n)

    def cdf(self, x: float) -> float:
        """Return P(X ≤ x)."""
        return _beta_cdf(self.alpha, self.beta, x)

    def _ppf(self, q: float) -> float:
        return _beta_ppf(self.alpha, self.beta, q)


@attrs.frozen(init=False, repr=False)
class PERT(Distribution):
    """A three-point estimate: a Beta scaled to [lo, hi], peaking at `mode`.

    Its mean is ``(lo + shape * mode + hi) / (shape + 2)``, ``(lo + 4 mode + hi) / 6`` with
    the usual shape 4; a larger shape concentrates it around the mode.

    Examples:
        >>> d = PERT(900, 1000, 1200)
        >>> str(d), round(d.mean, 6)
        ('PERT(900, 1000, 1200)', 1016.666667)
    """

    kind: ClassVar[str] = "pert"
    lo: float
    mode: float
    hi: float
    shape: float = 4.0

    def __init__(self, lo: Any, mode: Any, hi: Any, shape: Any = 4.0) -> None:
        check = _Checker("PERT")
        low, most, high = (check.number(v, p) for v, p in ((lo, "lo"), (mode, "mode"), (hi, "hi")))
        lam = check.number(shape, "shape")
        _ordered(check, low, high, most)
        _positive(check, lam, "shape", _("the usual PERT has shape 4"))
        check.done()
        self.__attrs_init__(low, most, high, lam)

    @property
    def alpha(self) -> float:
        """The first shape parameter of the underlying Beta."""
        return 1 + self.shape * (self.mode - self.lo) / (self.hi - self.lo)

    @property
    def beta(self) -> float:
        """The second shape parameter of the underlying Beta."""
        return 1 + self.shape * (self.hi - self.mode) / (self.hi - self.lo)

    @property
    def mean(self) -> float:
        """``(lo + shape * mode + hi) / (shape + 2)``."""
        return (self.lo + self.shape * self.mode + self.hi) / (self.shape + 2)

    @property
    def variance(self) -> float:
        """The variance of the scaled Beta."""
        a, b = self.alpha, self.beta
        return (self.hi - self.lo) ** 2 * a * b / ((a + b) ** 2 * (a + b + 1))

    def sample(self, rng: np.random.Generator, n: int) -> NDArray[np.float64]:
        """Return `n` independent draws."""
        return self.lo + (self.hi - self.lo) * rng.beta(self.alpha, self.beta, n)

    def cdf(self, x: float) -> float:
        """Return P(X ≤ x)."""
        return _beta_cdf(self.alpha, self.beta, (x - self.lo) / (self.hi - self.lo))

    def _ppf(self, q: float) -> float:
        return self.lo + (self.hi - self.lo) * _beta_ppf(self.alpha, self.beta, q)

    def _params(self) -> dict[str, float]:
        params = attrs.asdict(self)
        if self.shape == 4:
            del params["shape"]  # the usual PERT: keep model files short
        return params

    def __str__(self) -> str:
        args = ", ".join(_short(v) for v in (self.lo, self.mode, self.hi))
        shape = "" if self.shape == 4 else f", shape={_short(self.shape)}"
        return f"PERT({args}{shape})"


@attrs.frozen(init=False, repr=False)
class Fixed(Distribution):
    """No uncertainty: the value is always `value`.

    Examples:
        >>> d = Fixed("80%")
        >>> str(d), d.mean, d.sd, d.ppf(0.1)
        ('Fixed(0.8)', 0.8, 0.0, 0.8)
    """

    kind: ClassVar[str] = "fixed"
    value: float

    def __init__(self, value: Any) -> None:
        check = _Checker("Fixed")
        v = check.number(value, "value")
        check.done()
        self.__attrs_init__(v)

    @property
    def mean(self) -> float:
        """The value."""
        return self.value

    @property
    def variance(self) -> float:
        """Zero."""
        return 0.0

    def sample(self, rng: np.random.Generator, n: int) -> NDArray[np.float64]:
        """Return `n` copies of the value."""
        import numpy as np

        return np.full(n, self.value)

    def cdf(self, x: float) -> float:
        """Return 1 from the value on, 0 below it."""
        return 1.0 if x >= self.value else 0.0

    def _ppf(self, q: float) -> float:
        return self.value


# -- the model-file form -----------------------------------------------------------------------

_KINDS: dict[str, type[Distribution]] = {
    cls.kind: cls for cls in (Normal, LogNormal, Uniform, Triangular, PERT, Beta, Fixed)
}

# Other names people use for the kinds: suggested in the hint, never accepted silently.
_ALIASES = {
    "gaussian": "normal",
    "log_normal": "lognormal",
    "log-normal": "lognormal",
    "triangle": "triangular",
    "constant": "fixed",
    "betapert": "pert",
}

# Other parameter sets a model file may use, by kind: (parameter names, constructor).
_ALTERNATIVES: dict[str, tuple[tuple[str, ...], Callable[..., Distribution]]] = {
    "lognormal": (("median", "factor"), LogNormal.from_median),
    "beta": (("mean", "sd"), Beta.from_mean),
}


def _signature(cls: type[Distribution]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return (required, optional) parameter names of a distribution class."""
    fields = attrs.fields(cls)  # type: ignore[arg-type]  # every subclass is an attrs class
    required = tuple(f.name for f in fields if f.default is attrs.NOTHING)
    optional = tuple(f.name for f in fields if f.default is not attrs.NOTHING)
    return required, optional


def _forms(kind: str) -> str:
    required, optional = _signature(_KINDS[kind])
    forms = [", ".join([*required, *(f"[{o}]" for o in optional)])]
    if kind in _ALTERNATIVES:
        forms.append(", ".join(_ALTERNATIVES[kind][0]))
    return _(" or ").join(f"{{{kind}: {{{f}}}}}" for f in forms)


def distribution_from_dict(data: Mapping[str, Any]) -> Distribution:
    """Build a distribution from its model-file form.

    Accepts ``{kind: {parameters}}`` (what `Distribution.to_dict` writes) and the flat
    ``{"dist": kind, **parameters}``. Kinds: ``normal`` (mean, sd), ``lognormal`` (mean, sd;
    or median, factor), ``uniform`` (lo, hi), ``triangular`` (lo, mode, hi), ``pert`` (lo,
    mode, hi, optional shape), ``beta`` (alpha, beta; or mean, sd), ``fixed`` (value).

    Raises:
        ArgumentError: an unknown kind (with a did-you-mean), missing or unknown
            parameters, or parameter values that are not valid.

    Examples:
        >>> distribution_from_dict({"normal": {"mean": 1000, "sd": 100}})
        Normal(mean=1000, sd=100)
        >>> distribution_from_dict({"dist": "uniform", "lo": "75%", "hi": "85%"})
        Uniform(lo=0.75, hi=0.85)
        >>> distribution_from_dict({"gaussian": {"mean": 1, "sd": 1}})
        Traceback (most recent call last):
        ...
        kpitree.errors.ArgumentError: unknown distribution 'gaussian'; kinds are normal, ...
    """
    if not isinstance(data, Mapping):
        raise ValueTypeError(
            _("a distribution must be a mapping, got {type}").format(type=type(data).__name__),
            hint=_("e.g. {example}").format(example='{"normal": {"mean": 1000, "sd": 100}}'),
        )
    if "dist" in data:
        kind = data["dist"]
        params: Any = {k: v for k, v in data.items() if k != "dist"}
    elif len(data) == 1:
        kind, params = next(iter(data.items()))
    else:
        raise ArgumentError(
            _("a distribution is one kind with its parameters, got the keys {keys}").format(
                keys=sorted(map(str, data))
            ),
            hint=_("e.g. {example} or {other}").format(
                example='{"normal": {"mean": 1000, "sd": 100}}',
                other='{"dist": "normal", "mean": 1000, "sd": 100}',
            ),
        )
    if not isinstance(kind, str) or kind.strip().lower() not in _KINDS:
        raise ArgumentError(
            _("unknown distribution {kind}; kinds are {kinds}").format(
                kind=repr(kind), kinds=", ".join(_KINDS)
            ),
            hint=(
                _("did you mean `{name}`?").format(name=_ALIASES[str(kind).lower()])
                if str(kind).lower() in _ALIASES
                else did_you_mean(str(kind).lower(), _KINDS)
            ),
        )
    kind = kind.strip().lower()
    if not isinstance(params, Mapping):
        raise ValueTypeError(
            _("the parameters of a {kind} distribution must be a mapping, got {value}").format(
                kind=kind, value=repr(params)
            ),
            hint=_("write {forms}").format(forms=_forms(kind)),
        )
    given = {str(k) for k in params}
    cls = _KINDS[kind]
    required, optional = _signature(cls)
    build: Callable[..., Distribution] = cls
    alternative = _ALTERNATIVES.get(kind)
    if alternative is not None and given == set(alternative[0]):
        required, optional, build = alternative[0], (), alternative[1]
    missing = [p for p in required if p not in given]
    unknown = sorted(given - set(required) - set(optional))
    if missing or unknown:
        parts = [_("missing {names}").format(names=", ".join(missing))] if missing else []
        parts += [_("unknown {names}").format(names=", ".join(unknown))] if unknown else []
        raise ArgumentError(
            _("a {kind} distribution's parameters: {problems}").format(
                kind=kind, problems="; ".join(parts)
            ),
            hint=_("write {forms}").format(forms=_forms(kind)),
        )
    return build(**{str(k): v for k, v in params.items()})


def as_distribution(value: Any) -> Distribution | None:
    """Return the distribution a user means by `value` (for ``uncertainty=``), or None.

    A `Distribution` is kept; a number (or number text such as ``"80%"``) is `Fixed`; a
    mapping is read by `distribution_from_dict`; None means no uncertainty.

    Raises:
        ValueTypeError: anything else, or a mapping that is not a valid distribution.

    Examples:
        >>> as_distribution(1000)
        Fixed(value=1000)
        >>> as_distribution({"pert": {"lo": 900, "mode": 1000, "hi": 1200}})
        PERT(lo=900, mode=1000, hi=1200, shape=4)
        >>> as_distribution(None) is None
        True
    """
    if value is None or isinstance(value, Distribution):
        return value
    if isinstance(value, Mapping):
        return distribution_from_dict(value)
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return Fixed(value)
    if hasattr(value, "__float__") and not hasattr(value, "__len__"):
        return Fixed(value)  # numpy scalars, Decimal, Fraction: to_number checks them
    raise ValueTypeError(
        _("uncertainty must be a distribution, got {type} {value}").format(
            type=type(value).__name__, value=f"{value!r:.60}"
        ),
        hint=_("e.g. {examples}, or a mapping {mapping}").format(
            examples="kt.Normal(1000, 100), kt.Uniform(900, 1200), kt.PERT(900, 1000, 1200)",
            mapping="{'normal': {'mean': 1000, 'sd': 100}}",
        ),
    )

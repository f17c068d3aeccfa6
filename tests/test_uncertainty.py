"""Uncertainty: Monte Carlo through the tree, Sobol indices (per leaf and owner), tornado."""

import inspect
import json
import math
import statistics
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import kpitree as kt
from kpitree.analyses.uncertainty import (
    Simulation,
    simulate,
    sobol,
    sobol_indices,
    tornado,
)
from kpitree.examples import qualified_leads, saas_mrr
from kpitree.model.distributions import (
    PERT,
    Beta,
    Fixed,
    LogNormal,
    Normal,
    Triangular,
    Uniform,
)
from kpitree.testing import trees

np = pytest.importorskip("numpy")

Z = statistics.NormalDist()
DEFAULT_N = inspect.signature(sobol).parameters["n"].default


def leaf(name: str, owner: str = "marketing", **fields: Any) -> kt.KPI:
    """A KPI with the required fields filled in."""
    return kt.KPI(name, owner=owner, horizon="1 day", **fields)


# -- the product of independent uniforms: closed forms -------------------------------------


def product_tree() -> tuple[kt.Tree, dict[str, Uniform]]:
    """y = x1 * x2 with x1 ~ U(900, 1200) (marketing), x2 ~ U(0.7, 0.9) (sales)."""
    x1 = leaf("x1", value=1000, uncertainty=Uniform(900, 1200))
    x2 = leaf("x2", owner="sales", value=0.8, uncertainty=Uniform(0.7, 0.9))
    return kt.Tree(kt.Metric("y", x1 * x2)), {"x1": Uniform(900, 1200), "x2": Uniform(0.7, 0.9)}


def product_moments() -> dict[str, float]:
    """Mean, variance and Sobol indices of x1 * x2 from the uniforms' own moments."""
    m1, v1 = 1050.0, 300.0**2 / 12
    m2, v2 = 0.8, 0.2**2 / 12
    variance = (v1 + m1**2) * (v2 + m2**2) - (m1 * m2) ** 2  # E[x1²] E[x2²] − E[y]²
    # Var E[y|x1] = m2² v1, Var E[y|x2] = m1² v2, the interaction's share is v1 v2.
    return {
        "mean": m1 * m2,
        "variance": variance,
        "S1": m2**2 * v1 / variance,
        "S2": m1**2 * v2 / variance,
        "T1": (m2**2 * v1 + v1 * v2) / variance,
        "T2": (m1**2 * v2 + v1 * v2) / variance,
    }


def test_product_of_uniforms_moments() -> None:
    """The simulated mean and sd of x1 * x2 match the closed forms within 5 standard errors."""
    tree, _ = product_tree()
    exact = product_moments()
    n = 200_000
    sim = tree.simulate("y", n=n, seed=11)
    assert abs(sim.mean - exact["mean"]) < 5 * math.sqrt(exact["variance"] / n)
    assert sim.sd == pytest.approx(math.sqrt(exact["variance"]), rel=0.01)
    assert sim.n == n and sim.undefined == 0


def test_product_of_uniforms_probability() -> None:
    """P(x1 * x2 ≥ 800) matches its closed form: 1 − E[800 / x2 − 900] / 300."""
    tree, _ = product_tree()
    # For x2 = r, P(x1 ≥ 800 / r) = (1200 − 800 / r) / 300 (800 / r stays in [900, 1200]);
    # averaging over r ~ U(0.7, 0.9): E[1 / r] = ln(0.9 / 0.7) / 0.2.
    exact = (1200 - 800 * math.log(0.9 / 0.7) / 0.2) / 300
    n = 200_000
    assert abs(tree.simulate(n=n, seed=5).prob(800) - exact) < 5 * math.sqrt(0.25 / n)


def test_product_of_uniforms_sobol() -> None:
    """First-order and total indices of x1 * x2 match the closed forms within 0.02."""
    tree, _ = product_tree()
    exact = product_moments()
    s = tree.sobol("y", seed=3)
    assert s.first_order["x1"] == pytest.approx(exact["S1"], abs=0.02)
    assert s.first_order["x2"] == pytest.approx(exact["S2"], abs=0.02)
    assert s.total["x1"] == pytest.approx(exact["T1"], abs=0.02)
    assert s.total["x2"] == pytest.approx(exact["T2"], abs=0.02)
    assert s.interactions == pytest.approx(1 - exact["S1"] - exact["S2"], abs=0.02)
    assert s.variance == pytest.approx(exact["variance"], rel=0.03)
    # One leaf per owner: the owner's indices are the leaf's.
    assert s.by_owner["marketing"].first_order == s.first_order["x1"]
    assert s.by_owner["sales"].total == s.total["x2"]


# -- Ishigami on the estimator's core ---------------------------------------------------------


def ishigami(x: Any) -> Any:
    """sin x1 + 7 sin² x2 + 0.1 x3⁴ sin x1 (a = 7, b = 0.1)."""
    return np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_ishigami_indices_within_002() -> None:
    """Ishigami's indices (S1 .314 .442 0; ST .558 .442 .244) within 0.02 at the default n."""
    # Analytic values (Ishigami & Homma 1990; Sobol' & Levitan 1999) for a = 7, b = 0.1.
    a, b = 7.0, 0.1
    v1 = 0.5 * (1 + b * math.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * math.pi**8 * (1 / 18 - 1 / 50)
    variance = v1 + v2 + v13
    first = [v1 / variance, v2 / variance, 0.0]
    total = [(v1 + v13) / variance, v2 / variance, v13 / variance]
    assert [round(x, 3) for x in first] == [0.314, 0.442, 0.0]
    assert [round(x, 3) for x in total] == [0.558, 0.442, 0.244]
    rng = np.random.default_rng(2024)
    base_a = rng.uniform(-math.pi, math.pi, (DEFAULT_N, 3))
    base_b = rng.uniform(-math.pi, math.pi, (DEFAULT_N, 3))
    est = sobol_indices(ishigami, base_a, base_b, seed=1)
    np.testing.assert_allclose(est.first_order, first, atol=0.02)
    np.testing.assert_allclose(est.total, total, atol=0.02)
    assert est.variance == pytest.approx(variance, rel=0.03)
    # The intervals hold their estimates and are narrow at this n.
    assert np.all(est.first_order_low <= est.first_order)
    assert np.all(est.first_order <= est.first_order_high)
    assert np.all(est.total_high - est.total_low < 0.06)


def test_closed_group_index_of_all_inputs_is_one() -> None:
    """For the set of all inputs both estimators reduce to one expression, close to 1."""
    rng = np.random.default_rng(0)
    base_a = rng.uniform(-math.pi, math.pi, (4096, 3))
    base_b = rng.uniform(-math.pi, math.pi, (4096, 3))
    est = sobol_indices(ishigami, base_a, base_b, sets=[(0, 1, 2)], bootstrap=0)
    # A_B = B and B_A = A: both become mean((f(A) − f(B))²) / 2V, whose expectation is 1.
    assert est.first_order[0] == pytest.approx(est.total[0], rel=1e-12)
    assert est.total[0] == pytest.approx(1.0, abs=0.05)
    assert math.isnan(est.first_order_low[0])


@settings(max_examples=30)
@given(st.floats(-100, 100).filter(lambda a: abs(a) > 1e-3), st.floats(-1e9, 1e9))
def test_indices_do_not_change_with_units_of_the_output(scale: float, shift: float) -> None:
    """Indices of a·f + b equal those of f: the estimators are centred and scale-free."""
    rng = np.random.default_rng(1)
    base_a = rng.uniform(-math.pi, math.pi, (256, 3))
    base_b = rng.uniform(-math.pi, math.pi, (256, 3))
    plain = sobol_indices(ishigami, base_a, base_b, bootstrap=0)
    moved = sobol_indices(lambda x: scale * ishigami(x) + shift, base_a, base_b, bootstrap=0)
    # a·f + b in float64 keeps f only to about eps·|b|/(|a|·σ_f): with b = 5e8 and a = 0.05
    # that is 1e-6 of f's spread, which no centring can restore. Allow that much, and no more.
    lost = 16 * np.finfo(float).eps * abs(shift) / (abs(scale) * np.std(ishigami(base_a)))
    np.testing.assert_allclose(moved.first_order, plain.first_order, rtol=1e-6, atol=1e-9 + lost)
    np.testing.assert_allclose(moved.total, plain.total, rtol=1e-6, atol=1e-9 + lost)


# -- trees whose indices are known -----------------------------------------------------------


@settings(max_examples=15)
@given(
    st.lists(st.floats(0.1, 10), min_size=2, max_size=4),
    st.lists(st.floats(0.1, 5), min_size=4, max_size=4),
)
def test_linear_tree_indices(coefs: list[float], sds: list[float]) -> None:
    """For y = Σ aᵢ xᵢ with independent xᵢ, Sᵢ = STᵢ = aᵢ² σᵢ² / Σ aⱼ² σⱼ² (within 0.04)."""
    xs = [leaf(f"x{i}", value=0.0) for i in range(len(coefs))]
    expr: Any = coefs[0] * xs[0]
    for c, x in zip(coefs[1:], xs[1:], strict=True):
        expr = expr + c * x
    tree = kt.Tree(kt.Metric("y", expr))
    dists = {f"x{i}": Normal(0, sds[i]) for i in range(len(coefs))}
    s = sobol(tree, "y", seed=0, distributions=dists, bootstrap=0)
    shares = [(c * sd) ** 2 for c, sd in zip(coefs, sds, strict=False)]
    for i, share in enumerate(shares):
        expected = share / sum(shares)
        assert s.first_order[f"x{i}"] == pytest.approx(expected, abs=0.04)
        assert s.total[f"x{i}"] == pytest.approx(expected, abs=0.04)
    # One owner holds every leaf: the closed index of all inputs, 1 up to sampling error.
    assert s.by_owner["marketing"].first_order == pytest.approx(1.0, abs=0.04)


G_A = (0.0, 1.0, 4.5, 9.0)
G_OWNERS = ("marketing", "sales", "marketing", "sales")


def g_function_tree() -> kt.Tree:
    """The Sobol G-function Π (|4xᵢ − 2| + aᵢ) / (1 + aᵢ) as a tree, xᵢ ~ U(0, 1)."""
    expr: Any = 1
    for i, (a, owner) in enumerate(zip(G_A, G_OWNERS, strict=True)):
        x = leaf(f"x{i}", owner=owner, value=0.5, uncertainty=Uniform(0, 1))
        expr = expr * ((kt.abs(4 * x - 2) + a) / (1 + a))
    return kt.Tree(kt.Metric("g", expr))


def g_partial_variances() -> list[float]:
    """Vᵢ = 1 / (3 (1 + aᵢ)²): the variance of each factor (its mean is 1)."""
    return [1 / (3 * (1 + a) ** 2) for a in G_A]


def test_g_function_leaf_indices() -> None:
    """G-function indices: Sᵢ = Vᵢ / V, STᵢ = Vᵢ Π_{j≠i} (1 + Vⱼ) / V, within 0.02."""
    parts = g_partial_variances()
    variance = math.prod(1 + v for v in parts) - 1
    s = g_function_tree().sobol("g", seed=8)
    for i, v in enumerate(parts):
        others = math.prod(1 + w for j, w in enumerate(parts) if j != i)
        assert s.first_order[f"x{i}"] == pytest.approx(v / variance, abs=0.02)
        assert s.total[f"x{i}"] == pytest.approx(v * others / variance, abs=0.02)
    assert s.mean == pytest.approx(1.0, abs=0.02)


def test_g_function_owner_indices_are_closed_groups() -> None:
    """By owner: S_G = (Π_{i∈G}(1+Vᵢ) − 1) / V and T_G = 1 − (Π_{i∉G}(1+Vᵢ) − 1) / V."""
    parts = g_partial_variances()
    variance = math.prod(1 + v for v in parts) - 1
    s = g_function_tree().sobol("g", seed=9)
    for owner in ("marketing", "sales"):
        inside = [v for v, o in zip(parts, G_OWNERS, strict=True) if o == owner]
        outside = [v for v, o in zip(parts, G_OWNERS, strict=True) if o != owner]
        row = s.by_owner[owner]
        assert row.leaves == tuple(f"x{i}" for i, o in enumerate(G_OWNERS) if o == owner)
        assert row.first_order == pytest.approx(
            (math.prod(1 + v for v in inside) - 1) / variance, abs=0.02
        )
        assert row.total == pytest.approx(
            1 - (math.prod(1 + v for v in outside) - 1) / variance, abs=0.02
        )
    # The closed first-order index exceeds the sum of the leaves' (it holds their interaction).
    marketing = s.by_owner["marketing"]
    assert marketing.first_order > s.first_order["x0"] + s.first_order["x2"]


def test_inputs_are_reported_under_external() -> None:
    """An uncertain input is its own row, owned by "external"."""
    tree = kt.Tree(kt.Metric("y", leaf("x", value=1) * kt.Input("market", value=2)))
    s = tree.sobol("y", n=1024, seed=1, distributions={"x": Uniform(0, 1), "market": Uniform(1, 3)})
    assert s["market"].owner == "external"
    assert set(s.by_owner) == {"marketing", "external"}


# -- simulate: what it samples -----------------------------------------------------------------


@given(trees(operators=("+", "-", "*", "/"), functions=("min", "max", "abs")))
def test_degenerate_distributions_equal_plain_evaluation(tree: kt.Tree) -> None:
    """With every leaf Fixed at its value, every node's samples equal evaluate()."""
    fixed = {leaf.name: Fixed(leaf.value) for leaf in tree.leaves}
    sim = tree.simulate(n=3, seed=0, distributions=fixed)
    plain = tree.evaluate(undefined="nan")
    for name in tree.names:
        samples = sim[name].values
        if math.isnan(plain[name]):
            assert np.isnan(samples).all() and sim[name].undefined == 3
        else:
            np.testing.assert_allclose(samples, plain[name], rtol=1e-12, atol=1e-300)
            assert sim[name].sd <= 1e-12 * max(1.0, abs(plain[name]))


@given(trees(operators=("+", "-", "*", "/"), functions=("log", "sqrt")), st.integers(0, 2**32))
def test_samples_are_the_tree_evaluated_row_by_row(tree: kt.Tree, seed: int) -> None:
    """Every sampled row of every metric equals evaluate() at that row's leaf values."""
    dists = {leaf.name: Uniform(leaf.value * 0.5, leaf.value * 1.5) for leaf in tree.leaves}
    sim = tree.simulate(n=4, seed=seed, distributions=dists)
    for row in range(4):
        values = {leaf.name: float(sim[leaf.name].values[row]) for leaf in tree.leaves}
        plain = tree.evaluate(values, undefined="nan")
        for metric in tree.metrics:
            got = sim[metric.name].values[row]
            if math.isnan(plain[metric.name]):
                assert math.isnan(got)
            else:
                assert got == pytest.approx(plain[metric.name], rel=1e-12, abs=1e-300)


def test_seeded_runs_repeat() -> None:
    """A seed fixes every draw; another seed changes them; sim.seed repeats an unseeded run."""
    tree, _ = product_tree()
    first, again = tree.simulate(n=1000, seed=42), tree.simulate(n=1000, seed=42)
    for name in tree.names:
        assert np.array_equal(first[name].values, again[name].values)
    assert not np.array_equal(first["y"].values, tree.simulate(n=1000, seed=43)["y"].values)
    unseeded = tree.simulate(n=1000)
    assert np.array_equal(
        unseeded["y"].values, tree.simulate(n=1000, seed=unseeded.seed)["y"].values
    )
    s1, s2 = tree.sobol("y", n=512, seed=7), tree.sobol("y", n=512, seed=7)
    assert s1.to_dict() == s2.to_dict()


def test_each_leaf_draws_from_its_own_stream() -> None:
    """Giving one more leaf a distribution leaves the other leaves' samples unchanged."""
    tree, _ = product_tree()
    both = tree.simulate(n=500, seed=1)
    one = tree.simulate(n=500, seed=1, distributions={"x2": None})
    assert np.array_equal(both["x1"].values, one["x1"].values)
    assert np.all(one["x2"].values == 0.8)


def test_per_call_distributions_and_values() -> None:
    """distributions= overrides the node's; a number fixes a leaf; values= sets fixed leaves."""
    tree, _ = product_tree()
    sim = tree.simulate(n=2000, seed=1, distributions={"x1": 1000, "x2": Uniform(0.5, 0.6)})
    assert np.all(sim["x1"].values == 1000)
    assert sim["x2"].values.min() >= 0.5 and sim["x2"].values.max() <= 0.6
    assert str(sim.distributions["x1"]) == "Fixed(1000)"
    fixed = tree.simulate(n=10, seed=1, distributions={"x2": None}, values={"x2": "50%"})
    assert np.all(fixed["x2"].values == 0.5)
    from_dict = tree.simulate(n=10, seed=1, distributions={"x1": {"uniform": {"lo": 1, "hi": 2}}})
    assert from_dict["x1"].values.max() <= 2


def test_uncertainty_given_as_a_mapping_on_the_node() -> None:
    """A node's uncertainty may be a model-file mapping or a number; both are read."""
    x = leaf("x", value=1, uncertainty={"normal": {"mean": 10, "sd": 1}})
    c = leaf("c", value=1, uncertainty=3)
    sim = kt.Tree(kt.Metric("y", x * c)).simulate(n=10_000, seed=0)
    assert sim.mean == pytest.approx(30, abs=0.2)
    assert np.all(sim["c"].values == 3)


def test_bounds_truncate_by_rejection() -> None:
    """Bounds reject samples outside them: no mass piles at a bound; mean is the truncated one."""
    rate = leaf("rate", value=0.8, bounds=(0, 1), uncertainty=Normal(0.8, 0.1))
    tree = kt.Tree(kt.Metric("y", 100 * rate))
    n = 200_000
    draws = tree.simulate(n=n, seed=4)["rate"].values
    assert draws.min() >= 0 and draws.max() <= 1
    assert np.count_nonzero(draws == 1.0) == 0
    # Truncated normal on (−∞ after −8σ, 2σ]: mean = μ − σ φ(2) / Φ(2) (Φ(−8) is negligible).
    expected = 0.8 - 0.1 * Z.pdf(2) / (Z.cdf(2) - Z.cdf(-8))
    assert abs(draws.mean() - expected) < 5 * 0.1 / math.sqrt(n)


@settings(max_examples=30)
@given(st.floats(-3, 3), st.floats(0.05, 2), st.floats(-4, 4), st.floats(0.01, 4))
def test_bounded_samples_fill_n_within_bounds(
    mean: float, sd: float, low: float, width: float
) -> None:
    """Whatever the overlap, a bounded leaf gets exactly n samples, all within its bounds."""
    dist = Normal(mean, sd)
    assume(dist.cdf(low + width) - dist.cdf(low) >= 2e-3)
    x = leaf("x", value=low, bounds=(low, low + width), uncertainty=dist)
    draws = kt.Tree(kt.Metric("y", 2 * x)).simulate(n=2000, seed=0)["x"].values
    assert draws.shape == (2000,)
    assert draws.min() >= low and draws.max() <= low + width


def test_narrow_bounds_give_the_truncated_distribution() -> None:
    """Normal(0, 1) within [2, 3]: the mean is (φ(2) − φ(3)) / (Φ(3) − Φ(2)), about 2.32."""
    x = leaf("x", value=2.5, bounds=(2, 3), uncertainty=Normal(0, 1))
    draws = kt.Tree(kt.Metric("y", 2 * x)).simulate(n=50_000, seed=0)["x"].values
    expected = (Z.pdf(2) - Z.pdf(3)) / (Z.cdf(3) - Z.cdf(2))
    assert abs(draws.mean() - expected) < 5 * 0.3 / math.sqrt(50_000)


def test_bounds_too_narrow_for_the_distribution() -> None:
    """A distribution with (almost) no probability within the bounds is refused by name."""
    rate = leaf("rate", value=0.8, bounds=(0, 1), uncertainty=Normal(5, 0.1))
    with pytest.raises(kt.ArgumentError) as info:
        kt.Tree(kt.Metric("y", 2 * rate)).simulate(n=10, seed=0)
    assert "within the bounds [0, 1] of `rate`" in str(info.value)


def test_undefined_samples_are_counted_and_left_out() -> None:
    """log of a non-positive sample is NaN: counted, excluded from statistics, noted in str."""
    x = leaf("x", value=1, uncertainty=Uniform(-1, 1))
    tree = kt.Tree(kt.Metric("y", kt.log(x)))
    sim = tree.simulate(n=10_000, seed=3)
    negative = int(np.count_nonzero(sim["x"].values <= 0))
    assert sim.undefined == negative > 0
    defined = sim["y"].values[sim["x"].values > 0]
    assert sim.mean == pytest.approx(float(np.log(sim["x"].values[sim["x"].values > 0]).mean()))
    assert sim.prob(-1) == pytest.approx(np.mean(defined >= -1))
    assert f"note: {negative:,} of 10,000 samples are undefined" in str(sim)
    s = tree.sobol("y", n=512, seed=1, bootstrap=0)
    assert 0 < s.undefined < 512 and "base samples left out" in str(s)


def test_statistics_of_samples() -> None:
    """Quantiles, prob and sd are those of the sample array (numpy's definitions)."""
    tree, _ = product_tree()
    sim = tree.simulate(n=5000, seed=2)
    y = sim["y"].values
    assert sim.quantile(0.05) == pytest.approx(np.quantile(y, 0.05))
    assert sim.quantile("95%") == pytest.approx(np.quantile(y, 0.95))
    assert sim.sd == pytest.approx(np.std(y, ddof=1))
    assert sim.prob(800) == np.mean(y >= 800)
    assert sim["y"].percentiles() == pytest.approx(tuple(np.quantile(y, [0.05, 0.5, 0.95])))


def test_simulation_result_forms() -> None:
    """str shows p5/p50/p95 and the target's chance; to_dict is JSON; rows and frame per node."""
    leads = leaf("leads", value=1000, unit="lead", uncertainty=Uniform(900, 1200))
    rate = leaf("conv", owner="sales", value=0.8, unit="%", uncertainty=Uniform(0.75, 0.85))
    tree = kt.Tree(kt.Metric("ql", leads * rate, unit="lead", target=800))
    sim = tree.simulate(n=1000, seed=1)
    text = sim.to_text(width=120)  # wide enough for each distribution on one line
    assert text.startswith("simulation of ql: 1,000 samples, seed 1")
    assert "P(ql ≥ 800 lead) = " in text
    for word in ("p5", "p50", "p95", "Uniform(900, 1200)", "lead"):
        assert word in text
    data = json.loads(json.dumps(sim.to_dict()))
    assert data["metric"] == "ql" and data["n"] == 1000 and data["seed"] == 1
    assert [r["name"] for r in sim.rows()] == ["ql", "leads", "conv"]
    assert sim.rows()[1]["owner"] == "marketing"
    frame = sim.to_frame()
    assert list(frame["name"]) == ["ql", "leads", "conv"]
    assert "ql: mean" in str(sim["ql"])
    with pytest.raises(ValueError, match="read-only"):
        sim["leads"].values[0] = 1.0


def test_default_metric_is_the_first_root() -> None:
    """Without a metric, the statistics are the first root's."""
    sim = qualified_leads().simulate(n=10, seed=0, distributions={"leads": Uniform(1, 2)})
    assert isinstance(sim, Simulation) and sim.metric == "qualified_leads"


# -- tornado -------------------------------------------------------------------------------------


@given(trees(operators=("+", "*", "/")), st.sampled_from([0.05, 0.1, 0.3]))
def test_tornado_swing_moves_one_leaf_at_a_time(tree: kt.Tree, swing: float) -> None:
    """Each row's metric values are evaluate() with only that leaf moved ±swing; ranked."""
    metric = tree.roots[0].name
    assume(metric in {m.name for m in tree.metrics})
    t = tree.tornado(metric, swing=swing)
    base = {leaf.name: leaf.value for leaf in tree.leaves}
    for row in t:
        low = tree.evaluate({**base, row.name: base[row.name] * (1 - swing)}, undefined="nan")
        high = tree.evaluate({**base, row.name: base[row.name] * (1 + swing)}, undefined="nan")
        assert row.at_low == pytest.approx(low[metric], rel=1e-12, nan_ok=True)
        assert row.at_high == pytest.approx(high[metric], rel=1e-12, nan_ok=True)
    swings = [r.swing for r in t if not math.isnan(r.swing)]
    assert swings == sorted(swings, reverse=True)


def test_tornado_uses_truncated_p10_p90() -> None:
    """Without swing, a leaf moves between the p10 and p90 of its distribution within bounds."""
    leads = leaf("leads", value=1000, uncertainty=Uniform(900, 1200))
    rate = leaf("conv", owner="sales", value=0.8, bounds=(0, 1), uncertainty=Normal(0.8, 0.1))
    fixed = leaf("days", value=20, uncertainty=Fixed(20))
    t = kt.Tree(kt.Metric("ql", leads * rate * fixed)).tornado("ql")
    assert [r.name for r in t] == ["conv", "leads"]  # a fixed leaf does not swing
    assert (t["leads"].low, t["leads"].high) == pytest.approx((930, 1170))
    below, inside = Z.cdf(-8), Z.cdf(2) - Z.cdf(-8)  # the N(0.8, 0.1) mass below 0 and in [0, 1]
    p90 = 0.8 + 0.1 * Z.inv_cdf(below + 0.9 * inside)
    assert t["conv"].high == pytest.approx(p90, rel=1e-9)
    assert t["conv"].at_high == pytest.approx(1000 * p90 * 20, rel=1e-9)
    assert t.base == 16_000 and t.method == "p10–p90"
    assert "tornado of ql (base 16,000; each leaf p10–p90, others at base)" in str(t)
    assert json.loads(json.dumps(t.to_dict()))["rows"][0]["name"] == "conv"


def test_tornado_base_of_a_leaf_without_value_is_its_median() -> None:
    """A leaf with a distribution and no value sits at its median in the base case."""
    x = leaf("x", uncertainty=LogNormal.from_median(100, 2))
    t = kt.Tree(kt.Metric("y", 2 * x)).tornado("y")
    assert t["x"].base == pytest.approx(100, rel=1e-12)
    assert t.base == pytest.approx(200, rel=1e-12)


def test_tornado_leaf_fixed_per_call_sits_at_its_number() -> None:
    """A number in distributions= is the leaf's base value in the tornado, and it does not swing."""
    t = qualified_leads().tornado(
        "qualified_leads", distributions={"leads": 1200, "lead_to_ql": Uniform(0.7, 0.9)}
    )
    assert [r.name for r in t] == ["lead_to_ql"]
    assert t.base == pytest.approx(960) and t["lead_to_ql"].base == 0.8
    assert (t["lead_to_ql"].at_low, t["lead_to_ql"].at_high) == pytest.approx(
        (1200 * 0.72, 1200 * 0.88)
    )


# -- errors ------------------------------------------------------------------------------------


MRR_DISTS = {
    "new_customers": PERT(20, 40, 70),
    "churn_rate": Beta.from_mean(0.03, 0.01),
    "expansion_rate": Triangular(0, 0.02, 0.05),
    "arpa": LogNormal(2500, 300),
}


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda t: simulate(t, "mrrr"), kt.UnknownNameError, "did you mean `mrr`?"),
        (
            lambda t: simulate(t, n=0),
            kt.ArgumentError,
            "n (the number of samples) must be at least 1, got 0",
        ),
        (lambda t: simulate(t, n=1.5), kt.ValueTypeError, "must be a whole number, got 1.5"),
        (lambda t: simulate(t, n=True), kt.ValueTypeError, "must be a whole number"),
        (lambda t: simulate(t, seed=-1), kt.ValueTypeError, "seed must be a whole number ≥ 0"),
        (lambda t: simulate(t, seed="x"), kt.ValueTypeError, "seed must be"),
        (lambda t: simulate(t, n=10**9), kt.LimitError, "n=1,000,000,000 would need about"),
        (
            lambda t: simulate(t, distributions={"arpu": Normal(1, 1)}),
            kt.UnknownNameError,
            "did you mean `arpa`?",
        ),
        (
            lambda t: simulate(t, distributions={"mrr": Normal(1, 1)}),
            kt.KindError,
            "`mrr` is a metric: its uncertainty follows from its formula",
        ),
        (
            lambda t: simulate(t, distributions={"arpa": {"normal": {"mean": 1}}}),
            kt.ArgumentError,
            "distributions['arpa']: a normal distribution's parameters: missing sd",
        ),
        (lambda t: simulate(t, distributions=[1]), kt.ValueTypeError, "must be a mapping"),
        (lambda t: simulate(t, values={"arpa": "lots"}), kt.ValueTypeError, "value of `arpa`"),
        (
            lambda t: sobol(t, "mrr"),
            kt.MissingValueError,
            "no leaf that `mrr` is computed from has a distribution",
        ),
        (lambda t: sobol(t, "mrr", n=1), kt.ArgumentError, "at least 2"),
        (
            lambda t: sobol(t, "mrr", n=64, distributions=MRR_DISTS, confidence=1.5),
            kt.ArgumentError,
            "confidence must be between 0 and 1",
        ),
        (
            lambda t: sobol(t, "mrr", n=64, distributions=MRR_DISTS, bootstrap=-1),
            kt.ArgumentError,
            "bootstrap must be at least 0",
        ),
        (lambda t: tornado(t, "mrr", swing=0), kt.ArgumentError, "swing must be above 0"),
        (lambda t: tornado(t, "mrr", swing="a bit"), kt.ValueTypeError, "swing"),
        (
            lambda t: tornado(t, "mrr", quantiles=(0.9, 0.1)),
            kt.ArgumentError,
            "quantiles must be two probabilities, low below high",
        ),
    ],
)
def test_bad_arguments(call: Callable[[kt.Tree], Any], error: type[Exception], words: str) -> None:
    """Bad arguments raise kpitree errors that name the problem."""
    with pytest.raises(error) as info:
        call(saas_mrr())
    assert words in str(info.value)
    assert isinstance(info.value, kt.KPITreeError)


def test_leaf_without_value_or_distribution() -> None:
    """A leaf with neither a value nor a distribution is named by every analysis."""
    x = leaf("x", uncertainty=Uniform(0, 1))
    empty = leaf("empty")
    tree = kt.Tree(kt.Metric("y", x * empty))
    for run in (
        lambda: tree.simulate(n=10, seed=0),
        lambda: tree.sobol("y", n=16, seed=0),
        lambda: tree.tornado("y"),
    ):
        with pytest.raises(kt.MissingValueError, match="`empty`"):
            run()


def test_sobol_result_forms() -> None:
    """Sobol's str lists leaves, owners and interactions; to_dict is JSON; rows per level."""
    tree, _ = product_tree()
    s = tree.sobol("y", n=1024, seed=0)
    text = str(s)
    assert text.startswith("Sobol indices of y (mean ")
    assert "1,024 base samples, 95% intervals" in text
    assert (
        "by owner (each owner's leaves together):" in text and "the share of interactions" in text
    )
    data = json.loads(json.dumps(s.to_dict()))
    assert {r["name"] for r in data["leaves"]} == {"x1", "x2"}
    assert [r["level"] for r in s.rows()] == ["leaf", "leaf", "owner", "owner"]
    low, high = s["x1"].first_order_ci
    assert low <= s["x1"].first_order <= high
    with pytest.raises(kt.UnknownNameError):
        s["x3"]


def test_examples_run_on_the_saas_tree() -> None:
    """Every distribution kind runs through all three analyses on a real example."""
    tree = saas_mrr()
    sim = tree.simulate("mrr", n=20_000, seed=1, distributions=MRR_DISTS)
    assert sim.undefined == 0 and sim.quantile(0.05) < sim.mean < sim.quantile(0.95)
    s = tree.sobol("mrr", n=2048, seed=1, distributions=MRR_DISTS, bootstrap=50)
    assert max(s.total, key=s.total.__getitem__) == "arpa"
    assert s.by_owner["customer_success"].leaves == ("churn_rate", "expansion_rate")
    t = tree.tornado("mrr", distributions=MRR_DISTS)
    assert t.rows_[0].name == "arpa"


# -- memory estimated before anything is drawn ----------------------------------------------


_LEADS = {"leads": Uniform(900, 1100), "lead_to_ql": Uniform(0.7, 0.9)}


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: simulate(qualified_leads(), n=10**9, distributions=_LEADS), "n=1,000,000,000"),
        (lambda: sobol(qualified_leads(), "qualified_leads", n=10**9, distributions=_LEADS), "n="),
        (
            lambda: sobol(
                qualified_leads(), "qualified_leads", n=64, distributions=_LEADS, bootstrap=10**9
            ),
            "1,000,000,000 bootstrap resamples",
        ),
        (
            lambda: sobol_indices(
                lambda x: x[:, 0], [[0.0], [1.0]], [[1.0], [0.0]], bootstrap=10**9
            ),
            "bootstrap resamples",
        ),
    ],
)
def test_too_large_runs_are_refused_before_drawing(call: Callable[[], Any], words: str) -> None:
    """Runs whose samples or bootstrap cannot fit raise LimitError at once, not MemoryError."""
    with pytest.raises(kt.LimitError) as info:
        call()
    text = str(info.value)
    assert words in text
    assert "would need about" in text
    assert "limit of 2.0 GiB (Limits.max_sample_bytes)" in text
    assert "fewer bootstrap resamples" in text or "smaller n" in text


def test_the_memory_limit_is_one_field_of_limits() -> None:
    """`Limits.max_sample_bytes` bounds simulate and sobol; raising it lets the run through."""
    small = kt.Limits(max_sample_bytes=100_000)
    with pytest.raises(kt.LimitError, match=r"limit of 97\.7 KiB"):
        simulate(qualified_leads(), n=10_000, distributions=_LEADS, limits=small)
    with pytest.raises(kt.LimitError, match=r"limit of 97\.7 KiB"):
        sobol(qualified_leads(), "qualified_leads", n=4096, distributions=_LEADS, limits=small)
    big = kt.Limits(max_sample_bytes=10**9)
    assert simulate(qualified_leads(), n=10_000, distributions=_LEADS, limits=big).n == 10_000
    with pytest.raises(kt.ValueTypeError, match="limits must be a kpitree Limits"):
        simulate(qualified_leads(), n=10, distributions=_LEADS, limits={"max": 1})


@pytest.mark.parametrize(
    ("bootstrap", "error"),
    [
        (True, kt.ValueTypeError),
        (1.5, kt.ValueTypeError),
        ("200", kt.ValueTypeError),
        (-1, kt.ArgumentError),
    ],
)
def test_sobol_bootstrap_must_be_a_whole_number(bootstrap: Any, error: type) -> None:
    """`bootstrap` is a whole number ≥ 0 (0 skips the intervals), never a bool."""
    with pytest.raises(error, match="bootstrap"):
        sobol(qualified_leads(), "qualified_leads", n=64, distributions=_LEADS, bootstrap=bootstrap)


def test_bootstrap_resamples_in_bounded_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bootstrap's memory does not grow with resamples × rows; chunks give the same means."""
    import tracemalloc

    import numpy as np

    from kpitree.analyses.uncertainty import variance

    data = np.random.default_rng(0).normal(size=(20_000, 10))
    whole = variance._bootstrap_means(data, 200, np.random.SeedSequence(5))
    monkeypatch.setattr(variance, "_BOOTSTRAP_CHUNK", 1 << 16)
    tracemalloc.start()
    try:
        chunked = variance._bootstrap_means(data, 200, np.random.SeedSequence(5))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # All at once: 200 × 20,000 indices held three times, 96 MB; in chunks about 2 MB.
    assert peak < 5_000_000
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("rows", "resamples"), [(5, 7), (777, 40), (70_001, 9)])
def test_bootstrap_means_are_the_resamples_means(rows: int, resamples: int) -> None:
    """Counted weights @ data are the means of the rows each resample draws, whatever chunks."""
    from kpitree.analyses.uncertainty import variance

    data = np.random.default_rng(rows).normal(size=(rows, 3))
    seed = np.random.SeedSequence(11)
    means = variance._bootstrap_means(data, resamples, seed)
    picks = np.random.default_rng(seed).integers(0, rows, size=(resamples, rows))
    assert np.allclose(means, data[picks].mean(axis=1), rtol=1e-12, atol=1e-15)
    with pytest.MonkeyPatch.context() as patch:  # counted in other chunks: the same bits
        patch.setattr(variance, "_COUNT_CHUNK", 2 * rows)
        assert np.array_equal(variance._bootstrap_means(data, resamples, seed), means)


def test_sobol_is_its_estimator_on_its_draws() -> None:
    """`sobol` on column lists gives what `sobol_indices` gives on the same matrices."""
    from kpitree.analyses.uncertainty import sampling
    from kpitree.engine.evaluate import evaluate_arrays

    tree = qualified_leads()
    dists = {"leads": Uniform(900, 1100), "lead_to_ql": Normal(0.8, 0.05)}
    s = tree.sobol("qualified_leads", n=3000, seed=5, distributions=dists, bootstrap=30)
    sequence = sampling.seed_sequence(5)
    streams = sampling.leaf_streams(tree, sequence)
    factors = list(tree.leaves)
    drawn = np.column_stack(
        [sampling.draw(dists[x.name], x, streams[x.name], 6000) for x in factors]
    )
    (boot,) = sequence.spawn(1)

    def func(matrix: Any) -> Any:
        columns = {x.name: matrix[:, j] for j, x in enumerate(factors)}
        return evaluate_arrays(tree, columns)["qualified_leads"]

    est = sobol_indices(func, drawn[:3000], drawn[3000:], bootstrap=30, seed=boot)
    for j, leaf in enumerate(factors):
        row = next(r for r in s.leaves_ if r.name == leaf.name)
        assert (row.first_order, row.total) == (est.first_order[j], est.total[j])
        assert row.first_order_ci == (est.first_order_low[j], est.first_order_high[j])

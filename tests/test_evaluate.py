"""Evaluation: compiled, node by node, with one rule for undefined values."""

import math
from collections.abc import Mapping

import numpy as np
import pytest
import sympy
from hypothesis import assume, given
from hypothesis import strategies as st

import kpitree as kt
from kpitree.engine.evaluate import compile_tree, evaluate_arrays
from kpitree.examples import qualified_leads
from kpitree.language.expr import Add, Call, Const, Div, Expr, Mul, Neg, Pow, Ref, Sub
from kpitree.testing import trees

FUNCS = {"min": min, "max": max, "abs": abs, "log": math.log, "exp": math.exp, "sqrt": math.sqrt}


def direct(expr: Expr, env: Mapping[str, float]) -> float:
    """Compute a formula with plain Python floats: the reference the tests compare against."""
    if isinstance(expr, Const):
        return float(expr.value)
    if isinstance(expr, Ref):
        return env[expr.name]
    if isinstance(expr, Add):
        return sum(direct(t, env) for t in expr.terms)
    if isinstance(expr, Mul):
        return math.prod(direct(f, env) for f in expr.factors)
    if isinstance(expr, Sub):
        return direct(expr.left, env) - direct(expr.right, env)
    if isinstance(expr, Div):
        return direct(expr.left, env) / direct(expr.right, env)
    if isinstance(expr, Pow):
        return float(direct(expr.base, env) ** direct(expr.exponent, env))
    if isinstance(expr, Neg):
        return -direct(expr.operand, env)
    assert isinstance(expr, Call)
    return float(FUNCS[expr.func](*(direct(a, env) for a in expr.args)))


def reference(tree: kt.Tree) -> dict[str, float] | None:
    """Evaluate every node directly in topological order; None when some value is undefined."""
    env = {leaf.name: float(leaf.value) for leaf in tree.leaves}  # type: ignore[arg-type]
    for name in tree._topo:
        node = tree[name]
        if isinstance(node, kt.Metric):
            try:
                value = direct(node.formula, env)
            except (ArithmeticError, ValueError, TypeError):
                return None
            if not math.isfinite(value):
                return None
            env[name] = value
    return env


@given(
    trees(
        functions=("min", "max", "abs", "log", "exp", "sqrt"), operators=("+", "-", "*", "/", "**")
    )
)
def test_evaluate_equals_direct_computation(tree: kt.Tree) -> None:
    """On random trees, evaluate() equals a direct float computation of the same formulas."""
    expected = reference(tree)
    if expected is None:
        with pytest.raises(kt.EvaluationError):
            tree.evaluate()
        return
    got = tree.evaluate()
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-300)


@given(trees(max_leaves=4, max_metrics=4))
def test_expanded_formula_equals_evaluate(tree: kt.Tree) -> None:
    """formula(expand=True), evaluated numerically by sympy, equals evaluate()."""
    expected = reference(tree)
    assume(expected is not None)
    values = tree.evaluate()
    leaves = {sympy.Symbol(leaf.name): sympy.Float(leaf.value) for leaf in tree.leaves}
    for metric in tree.metrics:
        expanded = tree.formula(metric.name, expand=True)
        number = complex(expanded.xreplace(leaves).evalf())
        assert number.real == pytest.approx(values[metric.name], rel=1e-9, abs=1e-12)


@given(trees(operators=("+", "-", "*", "/"), functions=("min", "max", "log", "sqrt")))
def test_numpy_backend_equals_python(tree: kt.Tree) -> None:
    """The numpy backend gives the same values, and NaN exactly where evaluate() raises."""
    arrays = evaluate_arrays(tree, {})
    scalar = tree.evaluate(undefined="nan")
    for metric in tree.metrics:
        got, want = float(arrays[metric.name]), scalar[metric.name]
        if math.isnan(want):
            assert math.isnan(got)
        else:
            assert got == pytest.approx(want, rel=1e-12, abs=1e-300)


def test_arrays_broadcast_and_undefined_rows() -> None:
    """Arrays evaluate row by row; division by zero makes that row NaN, and its parents too."""
    leads = kt.KPI("leads", owner="m", horizon="1 day", value=10)
    ql = kt.KPI("ql", owner="s", horizon="1 day", value=8)
    conv = kt.Metric("conv", ql / leads)
    inverse = kt.Metric("inverse", 1 / conv)
    tree = kt.Tree(inverse)
    out = evaluate_arrays(
        tree, {"leads": np.array([10.0, 0.0, 5.0]), "ql": np.array([8.0, 3.0, 0.0])}
    )
    assert out["conv"][0] == 0.8 and math.isnan(out["conv"][1]) and out["conv"][2] == 0.0
    assert math.isnan(out["inverse"][1]) and math.isnan(out["inverse"][2])


def test_division_by_zero_names_the_metric() -> None:
    """Dividing by zero raises an EvaluationError naming the metric, formula and inputs."""
    leads = kt.KPI("leads", owner="m", horizon="1 day", value=0)
    ql = kt.KPI("ql", owner="s", horizon="1 day", value=0)
    tree = kt.Tree(kt.Metric("conv", ql / leads))
    with pytest.raises(kt.EvaluationError) as info:
        tree.evaluate()
    text = str(info.value)
    assert "`conv` is undefined: division by zero in `ql / leads`" in text
    assert "metric `conv` = ql / leads" in text
    assert "leads = 0" in text
    assert isinstance(info.value, ArithmeticError)


def test_no_hidden_division_by_zero() -> None:
    """conv = ql / leads with ql = leads * rate is undefined at leads = 0, not rate."""
    leads = kt.KPI("leads", owner="m", horizon="1 day", value=0)
    rate = kt.KPI("rate", owner="s", horizon="1 day", value=0.2)
    ql = kt.Metric("ql", leads * rate)
    tree = kt.Tree(kt.Metric("conv", ql / leads))
    with pytest.raises(kt.EvaluationError, match="division by zero"):
        tree.evaluate()
    assert math.isnan(tree.evaluate(undefined="nan")["conv"])


@pytest.mark.parametrize(
    ("formula", "value", "words"),
    [
        ("log(x)", 0.0, "log of 0, which is not positive"),
        ("log(x - 2)", 1.0, "log of \u22121"),
        ("sqrt(x)", -4.0, "square root of a negative number (\u22124)"),
        ("x ** 0.5", -4.0, "fractional power"),
        ("x ** -1", 0.0, "division by zero"),
        ("exp(x)", 1000.0, "overflows the float range"),
        ("x * 1e308 * 10", 1.0, "overflows the float range"),
        ("1 / x", 0.0, "division by zero"),
    ],
)
def test_undefined_values(formula: str, value: float, words: str) -> None:
    """Each kind of undefined value raises with a reason, and is NaN in "nan" mode."""
    x = kt.Input("x", value=value)
    tree = kt.Tree(kt.Metric("m", formula), x)
    with pytest.raises(kt.EvaluationError) as info:
        tree.evaluate()
    assert words in str(info.value)
    assert math.isnan(tree.evaluate(undefined="nan")["m"])
    assert math.isnan(float(evaluate_arrays(tree, {})["m"]))


def test_undefined_propagates_through_min() -> None:
    """An undefined value makes min/max undefined too, whatever the argument order."""
    x = kt.Input("x", value=0.0)
    tree = kt.Tree(kt.Metric("a", "min(1 / x, 5)"), kt.Metric("b", "max(5, log(x))"), x)
    values = tree.evaluate(undefined="nan")
    assert math.isnan(values["a"]) and math.isnan(values["b"])


def test_missing_values_are_all_named() -> None:
    """Leaves without a value raise one error naming all of them."""
    a = kt.KPI("a", owner="m", horizon="1 day")
    b = kt.Input("b")
    c = kt.Input("c", value=1)
    tree = kt.Tree(kt.Metric("m", a * b + c))
    with pytest.raises(kt.MissingValueError) as info:
        tree.evaluate()
    assert "2 leaves have no value: `a`, `b`" in str(info.value)
    assert tree.evaluate({"a": 2, "b": "50%"})["m"] == 2.0


@pytest.mark.parametrize(
    ("values", "error", "words"),
    [
        ({"leadz": 1}, kt.UnknownNameError, "did you mean `leads`"),
        ({"qualified_leads": 900}, kt.KindError, "tree.solve"),
        ({"leads": "many"}, kt.ValueTypeError, "value of `leads`"),
        ({"leads": float("inf")}, kt.ValueTypeError, "value of `leads`"),
        ({"leads": False}, kt.ValueTypeError, "value of `leads`"),
        ([("leads", 1)], kt.ValueTypeError, "mapping"),
    ],
)
def test_bad_values(values: object, error: type[Exception], words: str) -> None:
    """Values for unknown names, metrics, or that are not finite numbers are refused."""
    with pytest.raises(error) as info:
        qualified_leads().evaluate(values)  # type: ignore[arg-type]
    assert words in str(info.value)


def test_compiled_once_and_has_no_user_text() -> None:
    """The compiled function is cached, and its source holds slots, not node names."""
    tree = qualified_leads()
    first = compile_tree(tree)
    assert compile_tree(tree) is first
    assert "leads" not in first.source and "x0" in first.source


@given(st.lists(st.floats(0.1, 10), min_size=2, max_size=2))
def test_values_override_defaults(pair: list[float]) -> None:
    """Values given to evaluate override the defaults, for any finite numbers."""
    leads, rate = pair
    got = qualified_leads().evaluate({"leads": leads, "lead_to_ql": rate})
    assert got["qualified_leads"] == leads * rate


def test_overflow_in_a_product_is_undefined_in_arrays() -> None:
    """An overflow in a metric without division is NaN in that row, and so are its parents."""
    x = kt.Input("x", value=1.0)
    tree = kt.Tree(kt.Metric("big", "x * 1e300 * 1e10"), kt.Metric("inverse", "1 / big"), x)
    out = evaluate_arrays(tree, {"x": np.array([1.0, 1e-300, np.nan])})
    assert np.isnan(out["big"][[0, 2]]).all()
    assert np.isnan(out["inverse"][[0, 2]]).all()
    assert out["big"][1] == pytest.approx(1e10)
    assert out["inverse"][1] == pytest.approx(1e-10)


def test_checked_values_mixed_with_plain_floats_report_every_problem() -> None:
    """Finite floats go in at once; every other value is still checked, all problems at once."""
    tree = qualified_leads()
    with pytest.raises(kt.KPITreeError) as info:
        tree.evaluate({"leads": 1200.0, "leadz": 1.0, "lead_to_ql": float("nan")})
    text = str(info.value)
    assert "did you mean `leads`" in text and "value of `lead_to_ql`" in text
    got = tree.evaluate({"leads": 1200.0, "lead_to_ql": "50%"})
    assert got["qualified_leads"] == 600.0 and got["lead_to_ql"] == 0.5


def test_values_in_any_mapping_and_defaults_left_unchanged() -> None:
    """A mapping that is not a dict is read the same; the tree's defaults never change."""
    from types import MappingProxyType

    tree = qualified_leads()
    assert tree.evaluate(MappingProxyType({"leads": 1500}))["qualified_leads"] == 1200.0
    with pytest.raises(kt.KindError):
        tree.evaluate(MappingProxyType({"qualified_leads": 1.0}))
    assert tree.evaluate({"leads": 10.0})["leads"] == 10.0
    assert tree.evaluate()["leads"] == 1000.0 and tree.evaluate({})["leads"] == 1000.0


def test_a_leaf_without_default_can_be_given_or_is_named() -> None:
    """A leaf without a default takes the value given; left out, the error names it."""
    a = kt.KPI("a", owner="m", horizon="1 day")
    tree = kt.Tree(kt.Metric("m", a * 2))
    assert tree.evaluate({"a": 3.0})["m"] == 6.0
    with pytest.raises(kt.MissingValueError, match="`a`"):
        tree.evaluate({})


@pytest.mark.parametrize("leaves", [6, 300])
def test_compiled_tree_equals_direct_computation_small_and_large(leaves: int) -> None:
    """Small trees unpack the leaf vector, large ones take it as parameters: same values."""
    from kpitree.testing import random_tree

    tree = random_tree(leaves, seed=3)
    expected = reference(tree)
    assert expected is not None
    compiled = compile_tree(tree)
    assert ("_body(*x)" in compiled.source) == (leaves >= 128)
    got = tree.evaluate()
    assert dict(got) == pytest.approx(expected, rel=1e-12)
    vector = [expected[n] for n in compiled.leaves]
    assert compiled(vector) == tuple(got[n] for n in compiled.metrics)


def test_division_by_zero_found_in_a_large_tree() -> None:
    """In a tree compiled with its leaves as parameters, an undefined metric is still named."""
    from kpitree.testing import random_tree

    tree = random_tree(300, seed=3)
    leaves = {leaf.name for leaf in tree.leaves}
    divisor = next(
        m
        for m in tree.metrics
        if isinstance(m.formula, Div)
        and isinstance(m.formula.right, Ref)
        and m.formula.right.name in leaves
    )
    leaf = divisor.formula.right.name  # type: ignore[attr-defined]
    with pytest.raises(kt.EvaluationError, match=f"`{divisor.name}` is undefined"):
        tree.evaluate({leaf: 0.0})
    assert math.isnan(tree.evaluate({leaf: 0.0}, undefined="nan")[divisor.name])

import json
import math

import pytest
import sympy
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import kpitree as kt
from kpitree.analyses.calculus import (
    elasticities,
    gradient,
    partial,
    sensitivity,
)
from kpitree.backends.symbolic import formula
from kpitree.engine import derivatives
from kpitree.engine.derivatives import gradient_exprs
from kpitree.examples import dupont, qualified_leads, saas_mrr, sales_revenue
from kpitree.model.nodes import Metric
from kpitree.testing import random_tree, trees


def _kpi(name, value, **kw):
    return kt.KPI(name, owner=kw.pop("owner", "sales"), horizon="1 day", value=value, **kw)


def _top(tree):
    return tree.roots[0].name


def _central(tree, metric, leaf, base, h):
    up = tree.evaluate({leaf: base[leaf] + h})[metric]
    down = tree.evaluate({leaf: base[leaf] - h})[metric]
    return (up - down) / (2 * h)


def _fd_or_skip(tree, metric, leaf, base):
    """A central difference, with examples near a kink or pole (unstable estimate) skipped."""
    x = base[leaf]
    h = 1e-5 * max(abs(x), 1.0)
    try:
        coarse = _central(tree, metric, leaf, base, h)
        fine = _central(tree, metric, leaf, base, h / 4)
    except kt.EvaluationError:
        assume(False)
    scale = abs(base[metric]) / max(abs(x), 1.0) + abs(fine)
    assume(abs(coarse - fine) <= 1e-4 * scale + 1e-9)
    return fine, scale


@given(trees(max_leaves=5, max_metrics=6))
def test_gradient_matches_central_differences(tree):
    """The reverse-mode gradient agrees with central finite differences on random trees."""
    try:
        base = tree.evaluate()
    except kt.EvaluationError:
        assume(False)
    assume(all(abs(v) < 1e6 for v in base.values()))
    metric = _top(tree)
    g = gradient(tree, metric)
    for leaf in tree.leaves:
        fd, scale = _fd_or_skip(tree, metric, leaf.name, base)
        assert abs(g[leaf.name] - fd) <= 1e-5 * scale + 1e-9


@given(
    trees(
        max_leaves=4,
        max_metrics=5,
        operators=("+", "*", "/", "**"),
        functions=("log", "exp", "sqrt", "min", "max", "abs"),
    )
)
def test_gradient_with_functions_matches_central_differences(tree):
    """Smooth points agree with central differences; at a kink, a slope between the sides.

    Powers, log, exp and sqrt are smooth where defined; at a kink of min/max/abs the
    gradient is the mean of the left and right slopes (see `test_gradient_at_ties_*`).
    """
    try:
        base = tree.evaluate()
        metric = _top(tree)
        g = gradient(tree, metric)
    except kt.EvaluationError:
        assume(False)
    assume(all(abs(v) < 1e6 for v in base.values()))
    for leaf in tree.leaves:
        fd, scale = _fd_or_skip(tree, metric, leaf.name, base)
        tolerance = 1e-5 * scale + 1e-9
        left, right = _one_sided(tree, metric, leaf.name, base)
        if abs(left - right) > 1e-3 * scale + 1e-9:  # a kink
            low, high = sorted((left, right))
            assert low - tolerance <= g[leaf.name] <= high + tolerance
        else:
            assert abs(g[leaf.name] - fd) <= tolerance


def _one_sided(tree, metric, leaf, base):
    """The slopes just left and right of the leaf's value."""
    h = 1e-6 * max(abs(base[leaf]), 1.0)
    try:
        right = (tree.evaluate({leaf: base[leaf] + h})[metric] - base[metric]) / h
        left = (base[metric] - tree.evaluate({leaf: base[leaf] - h})[metric]) / h
    except kt.EvaluationError:
        assume(False)
    return left, right


@given(
    trees(max_leaves=3, max_metrics=6, operators=("+", "-", "*"), functions=("min", "max", "abs")),
    st.sampled_from((0.0, 1.0, 2.0)),
)
def test_gradient_at_ties_is_the_mean_of_the_one_sided_slopes(tree, level):
    """With every leaf at one value, min/max/abs meet ties, nested ones too.

    Where the metric is differentiable along a leaf the gradient is its partial, however
    the ties nest (a chain of half-and-half choices gave 0.75 for max(k0, min(k0, k1)));
    at a real kink it is the mean of the two one-sided slopes (a central difference).
    The metric is piecewise polynomial here, so small steps measure the slopes exactly.
    """
    values = {leaf.name: level for leaf in tree.leaves}
    metric = _top(tree)
    g = gradient(tree, metric, values)

    def at(leaf, step):
        return tree.evaluate({**values, leaf: level + step})[metric]

    for leaf in tree.leaves:
        sides = [
            ((at(leaf.name, 0) - at(leaf.name, -h)) / h, (at(leaf.name, h) - at(leaf.name, 0)) / h)
            for h in (1e-4, 1e-5)
        ]
        scale = 1 + max(abs(s) for pair in sides for s in pair)
        # A piece boundary within a step (not at the point itself) makes the estimate vary.
        assume(all(math.isclose(a, b, abs_tol=1e-6 * scale) for a, b in zip(*sides, strict=True)))
        left, right = sides[1]
        assert g[leaf.name] == pytest.approx((left + right) / 2, abs=1e-6 * scale)


@pytest.mark.parametrize(
    ("formulas", "values", "expected"),
    [
        # smooth through nested ties: the true partials
        ((("m1", "max(a, m0)"), ("m0", "min(a, b)")), {"a": 1.0, "b": 1.0}, (1.0, 0.0)),
        ((("m", "min(a, max(a, b))"),), {"a": 2.0, "b": 2.0}, (1.0, 0.0)),
        ((("m", "min(abs(a), a) + 0 * b"),), {"a": 0.0, "b": 1.0}, (1.0, 0.0)),
        ((("m1", "min(m0, a - b)"), ("m0", "abs(a - b)")), {"a": 3.0, "b": 3.0}, (1.0, -1.0)),
        # real kinks: the mean of the one-sided slopes, as a central difference gives
        ((("m", "max(max(a, b), a)"),), {"a": 1.0, "b": 1.0}, (0.5, 0.5)),
        ((("m", "max(min(a, b), min(b, a))"),), {"a": 1.0, "b": 1.0}, (0.5, 0.5)),
        ((("m", "min(a, b, a)"),), {"a": 1.0, "b": 1.0}, (0.5, 0.5)),
        ((("m", "abs(abs(a) - a) + b"),), {"a": 0.0, "b": 1.0}, (-1.0, 1.0)),
        ((("m1", "abs(m0 - a)"), ("m0", "max(a, b)")), {"a": 1.0, "b": 1.0}, (-0.5, 0.5)),
    ],
)
def test_gradient_at_nested_ties(formulas, values, expected):
    """Regression: ties of min/max/abs that nest no longer compound half-and-half splits."""
    tree = kt.Tree(*(kt.Metric(n, f) for n, f in formulas), _kpi("a", 1.0), _kpi("b", 1.0))
    top = formulas[0][0]
    g = tree.gradient(top, values)
    assert (g["a"], g["b"]) == pytest.approx(expected, abs=1e-12)
    rows = {r.name: r.derivative for r in tree.sensitivity(top, values)}
    assert (rows["a"], rows["b"]) == pytest.approx(expected, abs=1e-12)


def test_gradient_without_ties_takes_one_reverse_pass(monkeypatch):
    """The per-leaf forward passes run only when the reverse pass meets a tie."""
    calls = []
    one_sided = derivatives._one_sided_gradient
    monkeypatch.setattr(
        derivatives, "_one_sided_gradient", lambda *a: calls.append(a) or one_sided(*a)
    )
    tree = kt.Tree(kt.Metric("m", "max(a, b) + a * abs(b)"), _kpi("a", 1.0), _kpi("b", 1.0))
    assert dict(tree.gradient("m", {"a": 3.0, "b": -1.0})) == {"a": 2.0, "b": -3.0}
    assert calls == []
    assert dict(tree.gradient("m", {"a": 1.0, "b": 1.0})) == {"a": 1.5, "b": 1.5}
    assert len(calls) == 1


@settings(max_examples=30)
@given(trees(max_leaves=3, max_metrics=4, operators=("+", "-", "*", "/", "**")))
def test_partial_equals_sympy_diff_of_the_expanded_formula(tree):
    """`partial` has the value of sympy's own `diff` of the fully expanded formula."""
    try:
        base = tree.evaluate()
    except kt.EvaluationError:
        assume(False)
    metric = _top(tree)
    point = {sympy.Symbol(leaf.name): sympy.Float(base[leaf.name]) for leaf in tree.leaves}
    expanded = formula(tree, metric, expand=True)
    for leaf in tree.leaves:
        ours = complex(partial(tree, metric, leaf.name).xreplace(point).evalf())
        theirs = complex(sympy.diff(expanded, sympy.Symbol(leaf.name)).xreplace(point).evalf())
        assume(math.isfinite(abs(theirs)))
        assert abs(ours - theirs) <= 1e-9 * (1 + abs(theirs))


@given(trees(max_leaves=4, max_metrics=5))
def test_gradient_exprs_evaluate_to_the_numeric_gradient(tree):
    """The derivative expressions, evaluated as formulas of the tree, give `gradient`."""
    try:
        numeric = gradient(tree, _top(tree))
    except kt.EvaluationError:
        assume(False)
    exprs = gradient_exprs(tree, _top(tree))
    assert set(exprs) == {leaf.name for leaf in tree.leaves}
    for leaf, expr in exprs.items():
        extended = kt.Tree(Metric("derivative", expr), *tree)
        try:
            value = extended.evaluate()["derivative"]
        except kt.EvaluationError:
            continue  # e.g. 0 * (1 / 0) along a branch the adjoint code skips
        assert value == pytest.approx(numeric[leaf], rel=1e-12, abs=1e-12)


@given(st.lists(st.floats(0.01, 1e4), min_size=1, max_size=8))
def test_elasticities_of_a_pure_product_are_all_one(values):
    """Every leaf of a product has elasticity 1: 1% of any factor is 1% of the product."""
    leaves = [_kpi(f"k{i}", v) for i, v in enumerate(values)]
    product = leaves[0] * 1
    for leaf in leaves[1:]:
        product = product * leaf
    tree = kt.Tree(kt.Metric("p", product), *leaves)
    assert all(e == pytest.approx(1.0, rel=1e-12) for e in elasticities(tree, "p").values())


def test_gradient_covers_every_leaf_with_zero_for_unrelated_ones():
    """Leaves a metric does not depend on are in the gradient with 0.0."""
    tree = sales_revenue()
    g = gradient(tree, "calls")
    assert set(g) == {leaf.name for leaf in tree.leaves}
    assert g["avg_order_value"] == 0.0 and g["call_to_purchase"] == 0.0
    assert g["managers"] == 40 * 22


def test_gradient_costs_a_few_evaluations_not_one_per_leaf():
    """The reverse pass is one generated function, compiled once per metric and kept."""
    tree = random_tree(300, seed=4)
    root = _top(tree)
    gradient(tree, root)
    functions = tree.cached(derivatives._GRADIENT_FUNCTIONS, dict)
    cached = functions[(root, "python")]
    gradient(tree, root, {tree.leaves[0].name: 1.5})
    assert functions[(root, "python")] is cached


@pytest.mark.parametrize(
    ("make", "metric", "wrt", "expected"),
    [
        (qualified_leads, "qualified_leads", "leads", "lead_to_ql"),
        (qualified_leads, "qualified_leads", "lead_to_ql", "leads"),
        (sales_revenue, "revenue", "managers",
         "call_to_purchase*calls_per_day*working_days*avg_order_value"),
        (saas_mrr, "mrr", "new_customers", "arpa*(expansion_rate + 1)"),
        (dupont, "roe", "assets", "0"),
        (dupont, "roe", "net_income", "1/equity"),
    ],
)  # fmt: skip
def test_partial_derivatives_of_the_examples(make, metric, wrt, expected):
    """Partials of the bundled trees are the textbook ones (up to sympy's simplification)."""
    got = partial(make(), metric, wrt)
    want = sympy.Add(*[]) if expected == "0" else _sympy_of(expected)
    assert sympy.simplify(got - want) == 0


def _sympy_of(text):
    # Build the expected expression from kpitree's own parser: no text reaches sympy.
    from kpitree.backends.symbolic import to_sympy
    from kpitree.language.parser import parse_formula

    return to_sympy(parse_formula(text.replace("*", " * ")))


@pytest.mark.parametrize(
    ("text", "values", "wrt", "expected"),
    [
        ("abs(a - b)", {"a": 2.0, "b": 2.0}, "a", 0.0),  # sign(0) = 0
        ("abs(a - b)", {"a": 3.0, "b": 2.0}, "a", 1.0),
        ("min(a, b)", {"a": 2.0, "b": 2.0}, "a", 0.5),  # a tie splits half and half
        ("min(a, b)", {"a": 1.0, "b": 2.0}, "a", 1.0),
        ("max(a, b)", {"a": 1.0, "b": 2.0}, "a", 0.0),
        ("max(a, b, 5)", {"a": 6.0, "b": 2.0}, "a", 1.0),
        ("a ** b", {"a": 2.0, "b": 3.0}, "b", 8 * math.log(2)),
        ("sqrt(a) * b", {"a": 4.0, "b": 3.0}, "a", 0.75),
        ("exp(a) / b", {"a": 0.0, "b": 2.0}, "b", -0.25),
        ("log(a * b)", {"a": 2.0, "b": 5.0}, "a", 0.5),
    ],
)
def test_derivative_rules_per_operator(text, values, wrt, expected):
    """Each operator's rule, with the documented subgradients at kinks."""
    a, b = _kpi("a", 1.0), _kpi("b", 1.0)
    tree = kt.Tree(kt.Metric("m", text), a, b)
    assert gradient(tree, "m", values)[wrt] == pytest.approx(expected, rel=1e-12)


def test_partial_uses_sympy_sign_for_kinks():
    """A kink's subgradient appears in `partial` as sympy's sign function."""
    tree = kt.Tree(kt.Metric("m", "abs(a - 3)"), _kpi("a", 1.0))
    assert partial(tree, "m", "a") == sympy.sign(sympy.Symbol("a") - 3)


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda t: gradient(t, "leads"), kt.KindError, "not a metric"),
        (lambda t: gradient(t, "qualified_lead"), kt.UnknownNameError, "did you mean"),
        (lambda t: partial(t, "qualified_leads", "qualified_leads"), kt.KindError, "leaves"),
        (lambda t: partial(t, "qualified_leads", "lead"), kt.UnknownNameError, "`leads`"),
        (lambda t: gradient(t, "qualified_leads", {"leads": "many"}), kt.ValueTypeError, "leads"),
        (lambda t: elasticities(t, "qualified_leads", {"leads": 0}), kt.EvaluationError, "is 0"),
        (lambda t: sensitivity(t, "qualified_leads", {"lead": 1}), kt.UnknownNameError, "leads"),
    ],
)
def test_bad_calls_raise_named_errors(call, error, words):
    """Bad metrics, leaves and values raise kpitree errors that say what is wrong."""
    with pytest.raises(error, match=words):
        call(qualified_leads())


def test_missing_leaf_value_is_named():
    """A leaf without a value is named, as evaluation names it."""
    tree = kt.Tree(kt.Metric("m", _kpi("a", None) * _kpi("b", 2.0)))
    with pytest.raises(kt.MissingValueError, match="`a`"):
        gradient(tree, "m")


def test_undefined_derivative_is_an_evaluation_error():
    """sqrt at 0 has a defined value but no finite derivative: an error naming the metric."""
    tree = kt.Tree(kt.Metric("m", kt.sqrt(_kpi("a", 0.0))))
    assert tree.evaluate()["m"] == 0.0
    with pytest.raises(kt.EvaluationError, match="derivative of `m`"):
        gradient(tree, "m")


def test_sensitivity_ranks_by_absolute_impact_and_totals_by_owner():
    """Rows come biggest |impact of +1%| first; by_owner adds each owner's impacts."""
    s = sensitivity(saas_mrr(), "mrr")
    impacts = [abs(r.impact_1pct) for r in s]
    assert impacts == sorted(impacts, reverse=True)
    for r in s:
        assert r.impact_1pct == pytest.approx(r.derivative * r.value / 100)
        assert r.elasticity == pytest.approx(r.derivative * r.value / s.value)
    owners = {}
    for r in s:
        owners[r.owner] = owners.get(r.owner, 0.0) + r.impact_1pct
    assert s.by_owner == pytest.approx(owners)


def test_sensitivity_marks_inputs_external():
    """An input is a row under the owner "external", with no horizon."""
    row = sensitivity(sales_revenue(), "revenue")["working_days"]
    assert (row.owner, row.horizon, row.external) == ("external", None, True)
    assert sensitivity(sales_revenue(), "revenue")["managers"].external is False


def test_sensitivity_elasticity_is_none_when_the_metric_is_zero():
    """With the metric at 0 there is no relative change: elasticity None, derivative given."""
    s = sensitivity(qualified_leads(), "qualified_leads", {"lead_to_ql": 0})
    assert s["leads"].elasticity is None and s["lead_to_ql"].elasticity is None
    assert (s["lead_to_ql"].derivative, s["lead_to_ql"].impact_1pct) == (1000.0, 0.0)


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("lead", "did you mean `leads`?"),  # the closest row
        ("qualified_leads", None),  # a node of the tree, but not a row: no hint to itself
        (["zzz"], None),  # not even a name (nor hashable)
    ],
)
def test_a_row_is_looked_up_by_name_with_a_hint(name: object, hint: str | None) -> None:
    """`table[name]` and `table.row(name)` give the row; a name with no row names the closest."""
    s = sensitivity(qualified_leads(), "qualified_leads")
    assert s["leads"] is s.row("leads") is next(r for r in s if r.name == "leads")
    with pytest.raises(kt.UnknownNameError, match="the tree has no leaf in this table") as info:
        s.row(name)  # type: ignore[arg-type]
    assert info.value.hint == hint


def test_sensitivity_output_is_json_ready_and_readable():
    """to_dict() serialises as strict JSON; str shows a table and the owners' totals."""
    s = sensitivity(saas_mrr(), "mrr", {"customers": 0, "new_customers": 0})
    json.dumps(s.to_dict(), allow_nan=False)
    text = str(s)
    assert text.splitlines()[0].startswith("sensitivity of mrr")
    assert "by owner" in text and "external" in text
    assert [r["name"] for r in s.rows()] == [r.name for r in s]


def test_cancelling_leaf_reads_exactly_zero() -> None:
    """In ROE = net income / equity, revenue cancels out: its derivative reads 0, not 1e-24."""
    from kpitree.examples import dupont

    sensitivity = dupont().sensitivity("roe")
    assert (sensitivity["revenue"].derivative, sensitivity["assets"].derivative) == (0.0, 0.0)
    assert sensitivity["net_income"].elasticity == pytest.approx(1.0)


def test_gradient_over_arrays_matches_the_scalar_pass_at_every_point():
    """`gradient_arrays` at many points is `gradient_at` at each; inputs stay as given.

    Leaves may come in different shapes (a leaf that moves along a path has a value per
    point, one that stays has one per row): in `ab + ac` the adjoint of `a` starts
    with `b`'s shape (from `ab`) and must widen to `c`'s (from `ac`), which an in-place
    update cannot do.
    """
    import numpy as np

    from kpitree.engine.derivatives import forward_pass, gradient_arrays, gradient_at

    a, b, c = (kt.Input(name, value=1.0) for name in "abc")
    tree = kt.Tree(kt.Metric("m", kt.Metric("ab", a * b) + kt.Metric("ac", a * c)))
    wide = np.array([[3.0, 1.0, 0.5], [4.0, 2.0, 1.0]])
    narrow = np.array([2.0, 5.0, 7.0])
    for b_column, c_column in ((narrow, wide), (wide, narrow)):  # either may come first
        columns = [np.array([[1.0, 2.0, 3.0], [1.5, 2.5, 3.5]]), b_column, c_column]
        kept = [column.copy() for column in columns]
        _forward, slopes = gradient_arrays(tree, "m", columns)
        for column, copy in zip(columns, kept, strict=True):
            assert np.array_equal(column, copy)
        for point in range(2):
            for row in range(3):
                at = [float(np.broadcast_to(col, (2, 3))[point, row]) for col in columns]
                vector, forward = forward_pass(tree, dict(zip("abc", at, strict=True)))
                expected = gradient_at(tree, "m", vector, forward)
                got = [float(np.broadcast_to(s, (2, 3))[point, row]) for s in slopes]
                assert got == list(expected)

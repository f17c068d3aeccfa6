"""The function table: every backend covers every function, and they agree."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
import sympy

import kpitree as kt
from kpitree.backends.sql import evaluate_sql, to_sql
from kpitree.backends.symbolic import to_sympy
from kpitree.engine.codegen import RUNTIME, numpy_runtime
from kpitree.language import functions as builders
from kpitree.language.expr import Call, Ref
from kpitree.language.parser import parse_formula
from kpitree.language.table import FORMULA_FUNCTIONS, FUNCTIONS
from kpitree.model import units
from kpitree.model.numbers import format_number

FORMULA = [name for name, f in FUNCTIONS.items() if f.in_formulas]
# Points inside and outside each function's domain, and ones that overflow.
POINTS = [-4.0, -0.5, 0.0, 0.25, 2.0, 9.0, 710.0]


def _tree(name: str) -> kt.Tree:
    x = kt.KPI("x", owner="o", horizon="1 day", value=1.0)
    y = kt.KPI("y", owner="o", horizon="1 day", value=1.0)
    args = (x, y) if FUNCTIONS[name].variadic else (x,)
    return kt.Tree(kt.Metric("m", Call(name, tuple(Ref(a.name, a) for a in args))))


def _values(tree: kt.Tree, x: float) -> dict[str, float]:
    return {"x": x, "y": 1.0} if "y" in tree else {"x": x}


def _scalar(tree: kt.Tree, x: float) -> float:
    return tree.evaluate(_values(tree, x), undefined="nan")["m"]


def _same(got: float, want: float) -> bool:
    if math.isnan(want):
        return got is None or math.isnan(got)
    return got == pytest.approx(want, rel=1e-12, abs=1e-300)


def test_formula_functions_are_the_table_entries_formulas_may_call() -> None:
    """The parser's and the builders' functions are exactly the table's formula entries."""
    assert list(FORMULA_FUNCTIONS) == FORMULA
    for name in FORMULA:
        low, _ = FUNCTIONS[name].arity
        text = f"{name}({', '.join(['a'] * low)})"
        assert parse_formula(text) == Call(name, (Ref("a"),) * low)
        assert getattr(builders, name) is getattr(kt, name)
    with pytest.raises(kt.FormulaError, match="not a function"):
        parse_formula("sign(a)")


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_every_runtime_has_every_function(name: str) -> None:
    """Generated code finds `_name` for Python floats and for numpy arrays."""
    assert f"_{name}" in RUNTIME
    assert f"_{name}" in numpy_runtime()


@pytest.mark.parametrize("name", FORMULA)
def test_floats_numpy_and_sympy_agree_inside_the_domain(name: str) -> None:
    """Each function gives one value on floats, numpy arrays and in sympy."""
    function = FUNCTIONS[name]
    xs = [x for x in POINTS if function.domain is None or function.domain.holds(x)]
    xs = [x for x in xs if abs(x) < 700]
    args = [(x, 1.0) if function.variadic else (x,) for x in xs]
    array = function.numpy(np)(*(np.array(column) for column in zip(*args, strict=True)))
    for i, a in enumerate(args):
        want = function.python(*a)
        assert array[i] == pytest.approx(want, rel=1e-12)
        symbols = sympy.symbols(f"a:{len(a)}")
        expr = to_sympy(Call(name, tuple(Ref(str(s)) for s in symbols)))
        got = float(expr.subs(dict(zip(symbols, a, strict=True))))
        assert got == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("name", FORMULA)
def test_every_backend_gives_the_scalar_values_and_undefined_rows(name: str) -> None:
    """Scalar, numpy, pandas, polars and DuckDB agree row by row, NaN/NULL included."""
    tree = _tree(name)
    want = [_scalar(tree, x) for x in POINTS]
    frame = pd.DataFrame({n: [_values(tree, x)[n] for x in POINTS] for n in _values(tree, 0.0)})
    arrays = tree.evaluate_frame({n: frame[n].to_numpy() for n in frame})["m"]
    pandas = tree.evaluate_frame(frame)["m"].tolist()
    polars = tree.evaluate_frame(pl.from_pandas(frame))["m"].to_list()
    con = duckdb.connect()
    con.register("kpis", frame)
    sql = evaluate_sql(tree, con, "kpis")["m"].tolist()
    for i, expected in enumerate(want):
        for got in (arrays[i], pandas[i], polars[i], sql[i]):
            assert _same(got, expected), (name, POINTS[i], got, expected)


@pytest.mark.parametrize("name", FORMULA)
def test_every_function_has_a_unit_rule(name: str) -> None:
    """`units.function` follows the table's rule for each function."""
    function = FUNCTIONS[name]
    area = units.Unit.parse("m^2")
    args = [area] * (2 if function.variadic else 1)
    if function.unit == "plain":
        with pytest.raises(kt.UnitError, match="plain number"):
            units.function(name, args)
        assert units.function(name, [units.Unit.parse("%")]).is_dimensionless
    else:
        expected = units.Unit.parse("m") if function.unit == "root" else area
        assert units.function(name, args) == expected


@pytest.mark.parametrize("name", FORMULA)
def test_derivative_rule_matches_a_finite_difference(name: str) -> None:
    """The table's derivative rule, run by reverse mode, is the slope of the function."""
    tree = _tree(name)
    for x in (0.25, 2.0, -0.5):
        domain = FUNCTIONS[name].domain
        if domain is not None and not domain.holds(x):
            continue
        h = 1e-6
        slope = (_scalar(tree, x + h) - _scalar(tree, x - h)) / (2 * h)
        assert tree.gradient("m", _values(tree, x))["x"] == pytest.approx(slope, rel=1e-6)


@pytest.mark.parametrize("name", [n for n in FORMULA if FUNCTIONS[n].inverse is not None])
def test_inverse_gives_back_the_value(name: str) -> None:
    """Every value the inverse gives maps back to the target, and goal seek uses it."""
    function = FUNCTIONS[name]
    for t in (0.5, 2.0, 3.0):
        solutions = function.inverse(t)  # type: ignore[misc]
        assert solutions
        for x in solutions:
            assert function.python(x) == pytest.approx(t, rel=1e-12)
    tree = _tree(name)
    x = tree.solve("m", 2.0, vary="x")
    assert _scalar(tree, x) == pytest.approx(2.0, rel=1e-9)


@pytest.mark.parametrize("name", [n for n in FORMULA if FUNCTIONS[n].undefined is not None])
def test_undefined_reason_is_the_tables(name: str) -> None:
    """Outside the domain, evaluation gives the function's own reason."""
    function = FUNCTIONS[name]
    assert function.undefined is not None and function.domain is not None
    outside = function.domain.bound - 1.0
    with pytest.raises(kt.EvaluationError) as error:
        _tree(name).evaluate({"x": outside})
    assert function.undefined(format_number(outside)) in str(error.value)


def test_sign_only_in_derivatives_runs_in_sql() -> None:
    """`sign`, the kink of abs in derivatives, lowers to SQL like every other entry."""
    tree = kt.Tree(kt.Metric("m", kt.abs(kt.KPI("x", owner="o", horizon="1 day"))))
    frame = pd.DataFrame({"x": [-2.0, 0.0, 3.0]})
    con = duckdb.connect()
    con.register("kpis", frame)
    out = con.sql(to_sql(tree, ["m"], gradient_of="m", columns=["x"])).df()
    assert out["d_m_d_x"].tolist() == [-1.0, 0.0, 1.0]

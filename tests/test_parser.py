"""The formula language: text to expressions and back."""

import contextlib

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import kpitree as kt
from kpitree.language.expr import (
    Add,
    Call,
    Const,
    Div,
    Expr,
    Mul,
    Neg,
    Pow,
    Ref,
    Sub,
    check_formula,
    check_name,
    format_expr,
)
from kpitree.language.parser import parse_formula

a, b, c = Ref("a"), Ref("b"), Ref("c")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a", a),
        ("12", Const(12)),
        ("0.8", Const(0.8)),
        (".5", Const(0.5)),
        ("1e6", Const(1e6)),
        ("1_000", Const(1000)),
        ("80%", Const(0.8)),
        ("80 %", Const(0.8)),
        ("a + b + c", Add((a, b, c))),
        ("a + (b + c)", Add((a, b, c))),
        ("a - b - c", Sub(Sub(a, b), c)),
        ("a - (b - c)", Sub(a, Sub(b, c))),
        ("a * b / c", Div(Mul((a, b)), c)),
        ("a / b * c", Mul((Div(a, b), c))),
        ("a + b * c", Add((a, Mul((b, c))))),
        ("(a + b) * c", Mul((Add((a, b)), c))),
        ("-a", Neg(a)),
        ("-2", Const(-2)),
        ("--a", Neg(Neg(a))),
        ("-a ** 2", Neg(Pow(a, Const(2)))),
        ("a ** -1", Pow(a, Const(-1))),
        ("a ** b ** c", Pow(a, Pow(b, c))),
        ("(a ** b) ** c", Pow(Pow(a, b), c)),
        ("a ^ 2", Pow(a, Const(2))),
        ("a × b", Mul((a, b))),
        ("a − b", Sub(a, b)),
        ("min(a, b, c)", Call("min", (a, b, c))),
        (
            "log(a) + exp(b) + sqrt(c)",
            Add((Call("log", (a,)), Call("exp", (b,)), Call("sqrt", (c,)))),
        ),
        ("abs(a - b)", Call("abs", (Sub(a, b),))),
        ("лиды * конверсия", Mul((Ref("лиды"), Ref("конверсия")))),
        (
            "E * I * N * S * Q * beta * gamma * pi * lambda",
            Mul(tuple(Ref(n) for n in ("E", "I", "N", "S", "Q", "beta", "gamma", "pi", "lambda"))),
        ),
        ("+a", a),
        ("2 * a", Mul((Const(2), a))),
    ],
)
def test_parse_valid(text: str, expected: Expr) -> None:
    """Each accepted form parses to the expected expression tree."""
    assert parse_formula(text) == expected


@pytest.mark.parametrize(
    ("text", "error", "words"),
    [
        ("", kt.FormulaError, "empty"),
        ("leads *", kt.FormulaError, "end of the formula"),
        ("leads * * rate", kt.FormulaError, "expected a number, a name"),
        ("(leads", kt.FormulaError, "to close the `(`"),
        ("leads)", kt.FormulaError, "after a complete formula"),
        ("leads rate", kt.FormulaError, "after a complete formula"),
        ("ql = leads * rate", kt.FormulaError, "right-hand side"),
        ("leads > 5", kt.FormulaError, "comparisons are not formulas"),
        ("leads % 3", kt.FormulaError, "only follows a number"),
        ("os.system", kt.FormulaError, "no attributes"),
        ("__import__('os').system('x')", kt.FormulaError, "no text in formulas"),
        ("().__class__.__base__", kt.FormulaError, "no attributes"),
        ("a[0]", kt.FormulaError, "no indexing"),
        ("foo(a)", kt.FormulaError, "not a function"),
        ("ln(a)", kt.FormulaError, "not a function"),
        ("Max(a, b)", kt.FormulaError, "did you mean `max`"),
        ("log", kt.FormulaError, "is a function"),
        ("log(a, b)", kt.FormulaError, "exactly 1"),
        ("min(a)", kt.FormulaError, "at least 2"),
        ("ｌｅａｄｓ * 2", kt.FormulaError, "compatibility characters"),
        ("10 ** 10 ** 10", kt.LimitError, "exponent"),
        ("9 ** 9 ** 9", kt.LimitError, "exponent"),
        ("2 ** 2 ** 2 ** 2 ** 2 ** 2", kt.LimitError, "exponent"),
        ("a ** 5000", kt.LimitError, "exponent"),
        ("1e400", kt.FormulaError, "float range"),
        ("1e300 * 1e300", kt.FormulaError, "no finite value"),
        ("1 / 0", kt.FormulaError, "no finite value"),
        ("(" * 500 + "a" + ")" * 500, kt.LimitError, "nests deeper"),
        ("-" * 500 + "a", kt.LimitError, "nests deeper"),
        ("a + " * 60_000 + "a", kt.LimitError, "characters long"),
        ("1" * 200, kt.LimitError, "more than 100 characters"),
        ("a;b", kt.FormulaError, "unexpected character"),
        ("lambda x: x", kt.FormulaError, "unexpected character ':'"),
    ],
)
def test_parse_invalid(text: str, error: type[Exception], words: str) -> None:
    """Bad formula text raises the named kpitree error, with words that say why."""
    with pytest.raises(error) as info:
        parse_formula(text)
    assert words in str(info.value)


def test_error_has_caret_under_token() -> None:
    """A formula error shows the formula with a caret under the offending token."""
    with pytest.raises(kt.FormulaError) as info:
        parse_formula("leads * foo(rate)")
    lines = str(info.value).splitlines()
    assert lines[1] == "  leads * foo(rate)"
    assert lines[2] == "          ^^^"


def test_error_located_in_metric() -> None:
    """A formula error inside a metric names the metric."""
    with pytest.raises(kt.FormulaError) as info:
        kt.Metric("ql", "leads *")
    assert str(info.value).startswith("metric `ql`: ")


@pytest.mark.parametrize(
    "text",
    [
        "(a + b) * c - (d - e) / f ** -2",
        "a - (b - c)",
        "a + (b - c)",
        "-(a * b)",
        "-(-a)",
        "(-2) ** a",
        "a * -2",
        "-2 * a",
        "a / (b * c)",
        "a / (b / c)",
        "a ** (b * c)",
        "(a ** b) ** c",
        "a ** b ** c",
        "min(a, max(b, 2), abs(-c))",
        "1e+16 * a",
        "0.1 + a",
    ],
)
def test_format_round_trip(text: str) -> None:
    """Printing a parsed formula gives text that parses back to the same expression."""
    expr = parse_formula(text)
    assert parse_formula(format_expr(expr)) == expr


names = st.sampled_from(["a", "b", "лиды", "x_1"])
constants = st.one_of(
    st.integers(-1000, 1000), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
).map(Const)


def _exprs() -> st.SearchStrategy[Expr]:
    leaves = st.one_of(names.map(Ref), constants)

    def extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        pairs = st.tuples(children, children)
        return st.one_of(
            pairs.map(lambda p: p[0] + p[1]),
            pairs.map(lambda p: p[0] - p[1]),
            pairs.map(lambda p: p[0] * p[1]),
            pairs.map(lambda p: p[0] / p[1]),
            st.tuples(children, st.integers(-3, 3).map(Const)).map(lambda p: Pow(*p)),
            children.map(lambda e: -e),
            pairs.map(lambda p: kt.min(*p)),
            children.map(kt.log),
        )

    return st.recursive(leaves, extend, max_leaves=12)


@given(_exprs())
def test_parse_of_print_is_identity(expr: Expr) -> None:
    """For random expressions built with Python operators, parse(print(e)) == e."""
    try:
        check_formula(expr)
    except kt.KPITreeError:
        assume(False)  # a constant part with no finite value is refused either way
    assert parse_formula(format_expr(expr)) == expr


@given(st.text(max_size=60))
def test_parser_never_raises_anything_but_kpitree_errors(text: str) -> None:
    """Arbitrary text either parses or raises a KPITreeError, never another exception."""
    with contextlib.suppress(kt.KPITreeError):
        parse_formula(text)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("2x", "cannot be a node name"),
        ("lead-to-ql", "cannot be a node name"),
        ("log", "function of the formula language"),
        ("ｌｅａｄｓ", "compatibility characters"),
        ("", "cannot be a node name"),
    ],
)
def test_bad_names(name: str, words: str) -> None:
    """Names that are not identifiers, function names or NFKC-changing text are refused."""
    with pytest.raises(kt.FormulaError, match=words):
        check_name(name)


@pytest.mark.parametrize("name", ["leads", "лиды", "выручка_2026", "E", "lambda", "pi", "_x"])
def test_good_names(name: str) -> None:
    """Unicode identifiers, including ones sympy treats specially, are valid names."""
    assert check_name(name) == name


@pytest.mark.parametrize(
    ("text", "written", "hint"),
    [
        ("leads * 0,8", "`0,8`", "write 0.8"),
        ("0,8 * leads", "`0,8`", "write 0.8"),
        ("leads * 12,5%", "`12,5%`", "write 12.5%"),
        ("sqrt(0,25)", "`0,25`", "write 0.25"),
        ("log(1,5) + 1", "`1,5`", "write 1.5"),
    ],
)
def test_a_decimal_comma_in_a_formula_is_named(text: str, written: str, hint: str) -> None:
    """`leads * 0,8` says it has a decimal comma and hints the dot, not "unexpected `,`"."""
    with pytest.raises(kt.FormulaError) as info:
        parse_formula(text)
    assert f"{written} has a decimal comma" in str(info.value)
    assert info.value.hint == hint


def test_the_decimal_comma_error_is_in_russian_under_ru() -> None:
    """Under `ru` the message and hint are Russian; the number stays as written."""
    with kt.locale("ru"), pytest.raises(kt.FormulaError) as info:
        parse_formula("лиды * 0,8")
    assert "`0,8`" in info.value.reason and "запят" in info.value.reason
    assert info.value.hint is not None and "0.8" in info.value.hint


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ("min(a, 0.8)", (a, Const(0.8))),
        ("max(a,1)", (a, Const(1))),
        ("min(a,0,8)", (a, Const(0), Const(8))),  # commas that can separate arguments do
    ],
)
def test_commas_between_arguments_stay_valid(text: str, args: tuple[Expr, ...]) -> None:
    """A comma a call can read as a separator is one, digits on both sides or not."""
    call = parse_formula(text)
    assert isinstance(call, Call) and call.args == args


def test_a_spaced_comma_is_not_taken_for_a_decimal_one() -> None:
    """`0, 8` outside a call is a stray separator, reported as such."""
    with pytest.raises(kt.FormulaError, match="unexpected `,`"):
        parse_formula("leads * 0, 8")

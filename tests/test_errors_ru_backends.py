"""Errors of the engine and the backends (frames, SQL, Spark) speak the active locale.

Each case triggers one error (or warning) at a raise site of those modules. Under ``ru``
the message is Russian with every placeholder filled; under ``en`` it is the English
kpitree has always written, word for word.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable

import numpy as np
import pytest
from conftest import UNTRANSLATED, assert_russian

import kpitree as kt
from kpitree.analyses.calculus import gradient
from kpitree.backends.frames import check_keys, evaluate_frame, leaf_values, rollup
from kpitree.backends.sql import evaluate_sql, to_sql
from kpitree.engine.derivatives import gradient_at
from kpitree.examples import dupont, qualified_leads


def _spark(data: object) -> object:
    from kpitree.spark import evaluate

    return evaluate(qualified_leads(), data)


def _no_rate_aggregation() -> object:
    rate = kt.Input("rate", value=0.5)
    tree = kt.Tree(kt.Metric("ql", kt.Input("leads", value=10, unit="lead") * rate))
    return rollup(tree, {"day": [1], "leads": [1.0], "rate": [0.5]}, by="day")


# (id, the call, its English message as kpitree wrote it before it spoke Russian)
CASES: list[tuple[str, Callable[[], object], str]] = [
    (
        "derivatives: a leaf is not a metric",
        lambda: gradient(qualified_leads(), "leads"),
        "`leads` is a KPI, not a metric: derivatives are taken of metrics\n"
        "hint: pick a metric: qualified_leads",
    ),
    (
        "derivatives: undefined at a kink",
        lambda: gradient_at(
            kt.Tree(kt.Metric("root", kt.Input("x", value=0.0) ** 0.5)), "root", [0.0], (0.0,)
        ),
        "the derivative of `root` is undefined at these values\n"
        "hint: a formula on the way has a kink or a vertical slope here (sqrt or a "
        "fractional power at 0, log of a base that is not positive); move a leaf slightly",
    ),
    (
        "evaluate: leaves without a value",
        lambda: kt.Tree(kt.Metric("m", kt.Input("a") * kt.Input("b"))).evaluate(),
        "2 leaves have no value: `a`, `b`\n"
        "hint: give a value on the node (value=...) or in the call: evaluate({'a': ...})",
    ),
    (
        "evaluate: division by zero",
        lambda: dupont().evaluate({"revenue": 0}),
        "metric `net_margin` = net_income / revenue: `net_margin` is undefined: "
        "division by zero in `net_income / revenue`\n"
        "hint: with net_income = 1,200,000, revenue = 0; "
        "evaluate(..., undefined='nan') gives NaN instead",
    ),
    (
        "evaluate: an unknown undefined= mode",
        lambda: qualified_leads().evaluate(undefined="NaN"),  # type: ignore[arg-type]
        "evaluate(..., undefined=...): `undefined` must be one of 'raise', 'nan', not 'NaN'\n"
        "hint: use undefined='nan' to get NaN for undefined metrics",
    ),
    (
        "frames: a leaf without a column",
        lambda: evaluate_frame(
            qualified_leads(), {"Leads": np.array([1.0]), "lead_to_ql": np.array([0.8])}
        ),
        "leaf has no column in the data: `leads`; its columns are `Leads`, `lead_to_ql`\n"
        "hint: `leads`: did you mean `Leads`?; add the column, or pass defaults=True to "
        "use the leaves' model values (a warning names them)",
    ),
    (
        "frames: a column that is not numbers",
        lambda: leaf_values(np.array(["a", "b"]), "leads"),
        "column `leads` holds <U1, but `leads` is a leaf: its column must hold numbers\n"
        "hint: convert the column to numbers (floats or integers) first",
    ),
    (
        "frames: a 2-D column",
        lambda: leaf_values(np.zeros((2, 2)), "leads"),
        "column `leads` has 2 dimensions (shape (2, 2)), but a leaf column holds one "
        "number per row\nhint: give `leads` as a 1-D array or list of numbers",
    ),
    (
        "frames: a group key that is a node",
        lambda: check_keys(qualified_leads(), "lead_to_ql", None, None),
        "`lead_to_ql` is a kpi of the tree; rows are grouped and ordered by other "
        "columns (a date, a segment)",
    ),
    (
        "frames: a rate without an aggregation",
        _no_rate_aggregation,
        "leaf `rate` has no unit and no declared aggregation: kpitree will not guess how "
        'it combines across rows\nhint: declare aggregate="weighted:<leaf>" on `rate` with '
        'the leaf it is a rate of (e.g. "weighted:leads"), "sum" for a count or money, '
        'or "mean"/"last" if that is meant',
    ),
    (
        "sql: not a connection",
        lambda: evaluate_sql(qualified_leads(), 42),  # type: ignore[arg-type]
        "con_or_path must be a DuckDB connection or the path of a DuckDB database file, "
        "got int\nhint: evaluate_sql(tree, duckdb.connect('kpis.duckdb')) or "
        "evaluate_sql(tree, 'kpis.duckdb'); for another engine, run to_sql(...) there",
    ),
    (
        "sql: an unknown dialect",
        lambda: to_sql(qualified_leads(), dialect="duckbd"),
        "`duckbd` is not a SQL dialect sqlglot knows\nhint: did you mean `duckdb`?",
    ),
    (
        "sql: a table name of four parts",
        lambda: to_sql(qualified_leads(), table="a.b.c.d"),
        "table must be a name like `kpis`, `schema.kpis` or `catalog.schema.kpis`, "
        "got 'a.b.c.d' (4 parts)\n"
        "hint: each part is quoted as given; a table whose name has a dot needs a view",
    ),
    (
        "spark: not a DataFrame",
        lambda: _spark([1, 2]),
        "data must be a Spark DataFrame, got list\nhint: spark.createDataFrame(pandas_frame) "
        "makes one; for pandas or polars frames use tree.evaluate_frame(...)",
    ),
]
IDS = [case[0] for case in CASES]


def _raised(call: Callable[[], object]) -> str:
    with pytest.raises(kt.KPITreeError) as caught:
        call()
    return str(caught.value)


def _is_russian(message: str, english: str) -> None:
    assert_russian(message)
    prose = UNTRANSLATED.sub("", message)
    # No run of three English words is left over (names and code are stripped above).
    english_prose = UNTRANSLATED.sub("", english)
    for words in re.findall(r"[a-z]+(?: [a-z]+){2,}", english_prose):
        assert words not in prose, (words, message)


@pytest.mark.parametrize(("call", "english"), [c[1:] for c in CASES], ids=IDS)
def test_the_error_is_russian_under_ru(call: Callable[[], object], english: str) -> None:
    """Under ru the message is Russian, its placeholders filled, no English prose left."""
    with kt.locale("ru"):
        message = _raised(call)
    _is_russian(message, english)


@pytest.mark.parametrize(("call", "english"), [c[1:] for c in CASES], ids=IDS)
def test_the_error_is_the_same_english_under_en(call: Callable[[], object], english: str) -> None:
    """Under en the message is the English kpitree wrote before, word for word."""
    with kt.locale("en"):
        assert _raised(call) == english


def test_a_russian_error_reads_naturally() -> None:
    """The whole Russian text of one error: the count agrees with its noun (2 входа)."""
    with kt.locale("ru"):
        message = _raised(lambda: kt.Tree(kt.Metric("m", kt.Input("a") * kt.Input("b"))).evaluate())
    assert message == (
        "2 входа без значения: `a`, `b`\n"
        "подсказка: задайте значение в узле (value=...) или в вызове: evaluate({'a': ...})"
    )


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "en",
            "leaf has no column in the data and took the model's value (defaults=True): "
            "`leads` = 1000.0",
        ),
        (
            "ru",
            "1 вход без столбца в данных, взято значение из модели (defaults=True): "
            "`leads` = 1000.0",
        ),
    ],
    ids=["en", "ru"],
)
def test_the_defaults_warning_speaks_the_locale(locale: str, expected: str) -> None:
    """The `DefaultsWarning` of a leaf filled from the model is worded in the locale."""
    with kt.locale(locale), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluate_frame(qualified_leads(), {"lead_to_ql": np.array([0.8])}, defaults=True)
    assert [str(w.message) for w in caught if issubclass(w.category, kt.DefaultsWarning)] == [
        expected
    ]

"""Long columns go block by block, in place, on two threads: the numbers of one piece."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_undefined import FORMULAS, LEAVES, SPECIAL, _tree

import kpitree as kt
from kpitree.engine import codegen
from kpitree.engine.evaluate import compile_tree, evaluate_arrays
from kpitree.language.expr import Expr

#: Leaf values: the rule's special numbers, infinities and NaN (a frame's leaves may hold them).
VALUES = st.sampled_from([*SPECIAL, np.inf, -np.inf, np.nan]) | st.floats(-1e6, 1e6)


def _bits(values: Any, rows: int) -> Any:
    """A metric column as its 64-bit patterns (-0.0 is not 0.0), a single value spread.

    Every NaN is one pattern: numpy's loops written in place may pass on the other
    operand's NaN (its sign bit differs), and NaN is "undefined" whichever it is.
    """
    column = np.broadcast_to(np.asarray(values, dtype=np.float64), (rows,))
    return np.where(np.isnan(column), np.nan, column).view(np.int64)


def _both(
    monkeypatch: pytest.MonkeyPatch, evaluate: Any, *, threads: int, block: int
) -> tuple[Any, Any]:
    """`evaluate()` in one piece, then block by block (blocks of `block` rows)."""
    with monkeypatch.context() as m:
        m.setattr(codegen, "BLOCKED_FROM", 1 << 62)
        whole = evaluate()
    with monkeypatch.context() as m:
        m.setattr(codegen, "BLOCKED_FROM", 1)
        m.setattr(codegen, "BLOCK_ROWS", block)
        m.setattr(codegen, "_threads", lambda: threads)
        blocked = evaluate()
    return whole, blocked


def _same_bits(tree: kt.Tree, whole: Any, blocked: Any, rows: int) -> None:
    for metric in tree.metrics:
        a, b = _bits(whole[metric.name], rows), _bits(blocked[metric.name], rows)
        assert np.array_equal(a, b), (metric.name, str(metric.formula), whole, blocked)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    FORMULAS,
    FORMULAS,
    st.lists(st.tuples(VALUES, VALUES, VALUES), min_size=1, max_size=40),
    st.sampled_from([1, 2]),
    st.integers(1, 7),
)
def test_blocks_give_the_bits_of_one_piece(
    first: Expr, second: Expr, rows: list[tuple[float, float, float]], threads: int, block: int
) -> None:
    """Every operator and function, every special value, overflows in some blocks only."""
    tree = _tree(first, second)
    assume(tree is not None and len(tree.leaves) > 0)
    assert tree is not None
    columns = np.array(rows, dtype=np.float64).T
    data = {name: columns[LEAVES.index(name)].copy() for name in (x.name for x in tree.leaves)}
    before = {name: values.copy() for name, values in data.items()}
    with pytest.MonkeyPatch.context() as patch:
        whole, blocked = _both(
            patch, lambda: tree.evaluate_frame(data), threads=threads, block=block
        )
        _same_bits(tree, whole, blocked, len(rows))
        arrays = _both(patch, lambda: evaluate_arrays(tree, data), threads=threads, block=block)
        _same_bits(tree, *arrays, len(rows))
    for name, values in data.items():  # the caller's columns are never written to
        assert np.array_equal(values, before[name], equal_nan=True), name


def test_an_infinite_leaf_is_undefined_in_its_block_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """`x / inf` is NaN, not 0, and the rows of other blocks keep their numbers."""
    x = kt.KPI("x", owner="o", horizon="1 day")
    y = kt.KPI("y", owner="o", horizon="1 day")
    tree = kt.Tree(kt.Metric("q", x / y), kt.Metric("p", x * y))
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0], "y": [2.0, np.inf, 4.0, -np.inf, 1.0]})
    whole, blocked = _both(monkeypatch, lambda: tree.evaluate_frame(frame), threads=2, block=2)
    for out in (whole, blocked):
        assert out["q"].tolist()[::2] == [0.5, 0.75, 5.0]
        assert out["q"].isna().tolist() == [False, True, False, True, False]
        assert out["p"].isna().tolist() == [False, True, False, True, False]
    assert frame["y"].tolist()[1] == np.inf  # the frame itself keeps its values


def test_an_overflow_in_one_block_checks_every_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """An overflow (1e200²) makes the careful pass run everywhere, as in one piece."""
    x = kt.KPI("x", owner="o", horizon="1 day")
    big = kt.Metric("big", x * x)
    tree = kt.Tree(kt.Metric("back", 1 / big), big)
    data = {"x": np.array([1.0, 2.0, 1e200, 4.0, 0.5, 8.0])}
    whole, blocked = _both(monkeypatch, lambda: tree.evaluate_frame(data), threads=2, block=2)
    _same_bits(tree, whole, blocked, 6)
    assert np.isnan(blocked["big"][2]) and np.isnan(blocked["back"][2])
    assert blocked["back"][[0, 1, 3]].tolist() == [1.0, 0.25, 1 / 16]


def test_a_metric_of_constants_gets_a_column(monkeypatch: pytest.MonkeyPatch) -> None:
    """A metric of a leaf filled from the model and constants: one value on every row."""
    x = kt.KPI("x", owner="o", horizon="1 day")
    rate = kt.KPI("rate", owner="o", horizon="1 day", value=0.5)
    tree = kt.Tree(kt.Metric("half", rate * 2 + 1), kt.Metric("y", x * rate))
    data = {"x": np.arange(5.0)}
    with pytest.warns(kt.DefaultsWarning):
        whole, blocked = _both(
            monkeypatch, lambda: tree.evaluate_frame(data, defaults=True), threads=1, block=2
        )
    assert np.broadcast_to(whole["half"], (5,)).tolist() == [2.0] * 5
    assert blocked["half"].tolist() == [2.0] * 5
    assert blocked["y"].tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]


def test_the_in_place_source_is_made_of_slots_only() -> None:
    """The in-place functions pass the generated-code check, names never pasted in."""
    from kpitree.examples import sales_revenue

    tree = sales_revenue()
    compiled = compile_tree(tree, "numpy")
    formulas = [tree[n].formula for n in compiled.metrics]  # type: ignore[attr-defined]
    source, _temporaries, _guarded = codegen.numpy_rows(
        compiled.leaves, compiled.metrics, formulas, lambda f: True
    )
    codegen.check_source(source)
    assert not any(name in source for name in compiled.leaves + compiled.metrics)

"""A tree over tables: pandas and polars DataFrames, mappings of numpy arrays, and rollups.

`evaluate_frame` adds a column per metric to a table whose columns are leaves, computed
vectorized: pandas frames, mappings of arrays and polars DataFrames whose leaf columns
are integers or floats go through the tree compiled once to numpy code
(`compile_tree(tree, "numpy")`); polars LazyFrames, and DataFrames with leaf columns of
other types, through polars expressions built from the formulas, one `with_columns` per
level of the tree, so a `LazyFrame` stays lazy.

The rule for undefined values is the one of `kpitree.engine.evaluate`: a division by
zero, a log or square root out of its domain, an overflow give NaN on that row, and so
does every metric computed from it (through `min` and `max` too). A missing leaf value
(NaN, or null in polars) is missing for every metric that depends on it: NaN again, and
so is an infinite leaf value — it is not a number kpitree computes with, and passing it on
would turn `x / inf` into a realistic-looking 0.

Every table is read by one rule (`check_leaf_columns`, which SQL, Spark and attribution
use too): a leaf the metrics need must have exactly one column. A missing column is an
error naming it and the columns there are, unless the caller passes `defaults=True`; then
the leaf takes its model value and a `DefaultsWarning` names it.

`rollup` aggregates the leaves per group, each by its declared `aggregate`, and then
recomputes the metrics from the aggregated leaves: a ratio of sums, never a mean of
ratios. `kpitree.backends.sql` compiles the same plan to SQL.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from kpitree.engine.evaluate import compile_tree
from kpitree.errors import (
    ArgumentError,
    DefaultsWarning,
    DuplicateNameError,
    KindError,
    KPITreeError,
    MissingValueError,
    UnitError,
    UnknownNameError,
    ValueTypeError,
    did_you_mean,
    quoted,
    warn,
)
from kpitree.i18n import N_, _, ngettext
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
    constant_value,
)
from kpitree.language.table import FUNCTIONS
from kpitree.model.graph import CacheKey
from kpitree.model.nodes import Leaf, Metric, raise_all
from kpitree.model.numbers import format_number

if TYPE_CHECKING:
    from kpitree.model.graph import Graph

__all__ = ["Aggregation", "Plan", "aggregations", "evaluate_frame", "plan", "rollup"]

AGGREGATES = ("sum", "mean", "last", "min", "max", "weighted")


@attrs.frozen
class Plan:
    """What to compute for a set of requested metrics, level by level.

    Attributes:
        metrics: the requested metrics, in the order their columns are added.
        layers: every metric the requested ones need, grouped by level: a metric's
            level is one more than the highest level among its children (leaves are 0),
            so each layer uses only leaves and earlier layers.
        leaves: the leaves those metrics use, in tree order.
    """

    metrics: tuple[str, ...]
    layers: tuple[tuple[str, ...], ...]
    leaves: tuple[str, ...]

    @property
    def intermediate(self) -> tuple[str, ...]:
        """The metrics computed on the way but not requested."""
        wanted = set(self.metrics)
        return tuple(n for layer in self.layers for n in layer if n not in wanted)


_PLANS: CacheKey[dict[tuple[str, ...] | None, Plan]] = CacheKey("frame plans by metrics asked")
_MAX_PLANS = 64  # distinct sets of metrics kept per tree; beyond, the cache starts afresh


def plan(tree: Graph, metrics: Iterable[str] | str | None = None) -> Plan:
    """Check the requested metric names and find what computing them takes (kept per tree).

    Args:
        tree: the tree.
        metrics: metric names (one name may be given as a string); None means every
            metric, in tree order.

    Raises:
        UnknownNameError: a name the tree does not have (with a did-you-mean).
        ValueTypeError: a leaf given as a metric.

    Examples:
        >>> from kpitree.examples import sales_revenue
        >>> p = plan(sales_revenue(), ["revenue"])
        >>> p.layers, p.intermediate
        ((('calls',), ('purchases',), ('revenue',)), ('calls', 'purchases'))
    """
    key = None if metrics is None else (metrics,) if isinstance(metrics, str) else tuple(metrics)
    if key is not None and not all(isinstance(name, str) for name in key):
        return _plan(tree, key)  # refused there, naming what is not a metric's name
    plans = tree.cached(_PLANS, dict)
    found = plans.get(key)
    if found is None:
        found = _plan(tree, key)  # raises for unknown names: nothing is kept for them
        if len(plans) >= _MAX_PLANS:
            plans.clear()
        plans[key] = found
    return found


def _plan(tree: Graph, names: tuple[Any, ...] | None) -> Plan:
    if names is None:
        wanted = tuple(m.name for m in tree.metrics)
    else:
        problems: list[KPITreeError] = []
        for name in names:
            if not isinstance(name, str) or name not in tree:
                problems.append(tree._unknown(name, "metric"))
            elif not isinstance(tree[name], Metric):
                problems.append(
                    KindError(
                        _("`{name}` is a leaf, not a metric: its values come from the data").format(
                            name=name
                        ),
                        hint=_("name the metrics to compute: {metrics}").format(
                            metrics=", ".join(m.name for m in tree.metrics[:5])
                        ),
                        names=[name],
                    )
                )
        raise_all(problems)
        wanted = tuple(dict.fromkeys(names))
    needed: set[str] = set()
    stack = list(wanted)
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(c.name for c in tree.children(name))
    level: dict[str, int] = {}
    for name in tree._topo:
        if name in needed:
            # A leaf is level 0; a metric (even a constant one) is above all it uses.
            is_metric = isinstance(tree[name], Metric)
            below = [level[k] for k in tree._children[name]] if is_metric else []
            level[name] = 1 + max(below, default=0) if is_metric else 0
    # One pass over the tree, not one per level: a chain of n metrics has n levels.
    by_level: dict[int, list[str]] = {}
    for name in tree._topo:
        if level.get(name, 0) > 0:
            by_level.setdefault(level[name], []).append(name)
    layers = tuple(tuple(by_level[k]) for k in sorted(by_level))
    leaves = tuple(leaf.name for leaf in tree.leaves if leaf.name in needed)
    return Plan(wanted, tuple(layer for layer in layers if layer), leaves)


# -- evaluate_frame -----------------------------------------------------------------------


def evaluate_frame(
    tree: Graph,
    data: Any,
    metrics: Iterable[str] | str | None = None,
    *,
    defaults: bool = False,
) -> Any:
    """Return `data` with a column per metric, computed row by row, vectorized.

    Args:
        tree: the tree.
        data: a pandas DataFrame, a polars DataFrame or LazyFrame, or a mapping of
            numpy arrays (or sequences) of one length, whose columns include the
            leaves. Other columns (dates, segments) are kept.
        metrics: the metrics to add as columns; None adds every metric. Metrics that
            the requested ones use are computed too but not added.
        defaults: let a leaf without a column take its model value, with a
            `DefaultsWarning` naming it; without it a missing leaf column is an error.

    Returns:
        The same kind of table (a new one; `data` is not changed), with the metric
        columns after the existing ones; a column already named like a metric is
        replaced. Undefined values are NaN (see the module doc).

    Raises:
        MissingValueError: a leaf the metrics need has no column (and, with
            `defaults=True`, no model value either).
        DuplicateNameError: two columns named like one leaf or metric.
        ValueTypeError: a leaf column that does not hold numbers, one that is not one
            number per row (2-D, ragged), or `data` of another kind.
        ArgumentError: leaf columns of different lengths.
        UnknownNameError: a requested metric the tree does not have.

    Examples:
        >>> import pandas as pd
        >>> from kpitree.examples import qualified_leads
        >>> df = pd.DataFrame({"day": [1, 2, 3], "leads": [1000, 0, 50],
        ...                    "lead_to_ql": [0.8, 0.9, 0.5]})
        >>> qualified_leads().evaluate_frame(df)
           day  leads  lead_to_ql  qualified_leads
        0    1   1000         0.8            800.0
        1    2      0         0.9              0.0
        2    3     50         0.5             25.0
    """
    kind = frame_kind(data)
    steps = plan(tree, metrics)
    filled = check_leaf_columns(tree, steps.leaves, _columns(data, kind), defaults=defaults)
    return _evaluate_checked(tree, data, kind, steps, filled)


def _evaluate_checked(
    tree: Graph, data: Any, kind: str, steps: Plan, filled: Mapping[str, float]
) -> Any:
    """`evaluate_frame` once the columns are checked: `filled` are the leaves without one."""
    import numpy as np

    present = [name for name in steps.leaves if name not in filled]
    if kind == "lazy" or (kind == "polars" and not _numeric_columns(data, present)):
        return _evaluate_polars(tree, data, steps, lazy=kind == "lazy")
    # ±inf is made NaN (undefined) inside the evaluation, where the rows pass anyway.
    arrays = {name: _leaf_array(data, name, kind, finite=False) for name in present}
    rows = check_rows({name: arrays[name] for name in present}) if kind == "mapping" else None
    results = _evaluate_arrays(tree, arrays, filled)
    added = {name: results[name] for name in steps.metrics}
    if kind == "mapping" and rows is None:
        # No leaf column: the metrics still get one value per row of the other columns.
        rows = next((len(v) for v in data.values() if np.ndim(v) == 1), None)
        if rows is not None:
            added = {name: np.full(rows, value) for name, value in added.items()}
    if kind == "pandas":
        return _with_columns(data, added)
    if kind == "polars":
        import polars

        shape = (data.height,)
        return data.with_columns(
            polars.Series(name, np.broadcast_to(values, shape)) for name, values in added.items()
        )
    out = dict(data)
    out.update(added)
    return out


def _numeric_columns(frame: Any, names: Sequence[str]) -> bool:
    """Whether a polars frame's leaf columns are all integers or floats.

    Those are read as numpy arrays (a float column without nulls without copying, a null as
    NaN) and evaluated like any other arrays: block by block, on both cores. Any other type
    goes through polars expressions, which refuse it or read it as polars does.
    """
    schema = frame.schema
    return all(schema[n].is_float() or schema[n].is_integer() for n in names)


def _with_columns(frame: Any, added: Mapping[str, Any]) -> Any:
    """Return a pandas frame with columns added or replaced in place, sharing the others."""
    import pandas

    if not frame.columns.is_unique:
        return frame.assign(**added)
    # Building the frame from its columns costs far less than `assign`, which copies.
    columns = {name: frame[name] for name in frame.columns}
    for name, values in added.items():
        columns[name] = pandas.Series(values, index=frame.index, copy=False)
    return pandas.DataFrame(columns, index=frame.index, copy=False)


def table_kind(data: Any) -> str | None:
    """Return which library's table `data` is; None for anything else.

    The kinds: `"pandas"` (a DataFrame), `"series"` (a pandas Series), `"polars"` (a
    DataFrame), `"lazy"` (a polars LazyFrame) and `"mapping"` (of columns, or of values).
    pandas and polars are looked up only if already imported: data of their types
    cannot exist otherwise.

    Examples:
        >>> import pandas as pd
        >>> table_kind(pd.DataFrame({"leads": [1]})), table_kind(pd.Series({"leads": 1}))
        ('pandas', 'series')
        >>> table_kind({"leads": [1]}), table_kind([1])
        ('mapping', None)
    """
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(data, pandas.DataFrame):
        return "pandas"
    if pandas is not None and isinstance(data, pandas.Series):
        return "series"
    polars = sys.modules.get("polars")
    if polars is not None and isinstance(data, polars.DataFrame):
        return "polars"
    if polars is not None and isinstance(data, polars.LazyFrame):
        return "lazy"
    if isinstance(data, Mapping):
        return "mapping"
    return None


def one_row(given: Any, label: str, *, hint: str, refusal: str) -> dict[Any, Any]:
    """Values from a mapping, a pandas Series, or the one row of a pandas or polars frame.

    Raises:
        ValueTypeError: a frame of another height (`hint` says what to pass instead), or
            anything else: `refusal`, the caller's message, given `{label}` (the
            argument) and `{type}` (what was given).
    """
    kind = table_kind(given)
    if kind == "mapping":
        return dict(given)
    if kind == "series":
        return dict(given.to_dict())
    height = len(given) if kind == "pandas" else given.height if kind == "polars" else None
    if height == 1:
        return dict(given.iloc[0].to_dict() if kind == "pandas" else given.row(0, named=True))
    if height is not None:
        raise ValueTypeError(
            ngettext(
                "`{label}` must be one row of values, got a frame of {rows} row",
                "`{label}` must be one row of values, got a frame of {rows} rows",
                height,
            ).format(label=label, rows=format_number(height)),
            hint=hint,
        )
    raise ValueTypeError(refusal.format(label=label, type=type(given).__name__))


def frame_kind(data: Any) -> str:
    """Return `"pandas"`, `"polars"`, `"lazy"` (a polars LazyFrame) or `"mapping"`.

    Raises:
        ValueTypeError: anything else (a pandas Series too: it is one row, not a table).
    """
    kind = table_kind(data)
    if kind is not None and kind != "series":
        return kind
    raise ValueTypeError(
        _("expected a table of leaf columns, got {type}").format(type=type(data).__name__),
        hint=_(
            "give a pandas DataFrame, a polars DataFrame or LazyFrame, "
            "or a mapping of column names to numpy arrays"
        ),
    )


def _columns(data: Any, kind: str) -> list[Any]:
    """Return the column names of a table of the kind `frame_kind` gives."""
    if kind == "lazy":
        return list(data.collect_schema().names())
    return list(data.columns) if kind in ("pandas", "polars") else list(data)


def check_leaf_columns(
    tree: Graph, leaves: Sequence[str], columns: Sequence[Any], *, defaults: bool = False
) -> dict[str, float]:
    """Check that each leaf has exactly one column; return the model values used instead.

    The one rule for every table kpitree reads — frames, rollups, SQL, Spark and
    attribution over frames: a model value standing in for a missing column gives
    realistic numbers from nothing, so a missing leaf column is an error naming it and
    the columns the table has. With `defaults=True` the leaf takes its model value and a
    `DefaultsWarning` names every leaf filled and the value it took.

    Args:
        tree: the tree.
        leaves: the leaves the computation needs.
        columns: the table's column names.
        defaults: fill leaves without a column from their model values.

    Returns:
        `{leaf: model value}` for the leaves filled (empty when every leaf has a column).

    Raises:
        DuplicateNameError: two columns named like one node of the tree.
        MissingValueError: leaves without a column (every one named, with the columns
            present and a did-you-mean); with `defaults=True`, those without a value.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> tree = qualified_leads()
        >>> check_leaf_columns(tree, ["leads", "lead_to_ql"], ["day", "Leads", "lead_to_ql"])
        Traceback (most recent call last):
        ...
        kpitree.errors.MissingValueError: leaf has no column in the data: `leads`; its columns ...
        hint: `leads`: did you mean `Leads`?; add the column, or pass defaults=True to use ...
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     check_leaf_columns(tree, ["leads"], ["day"], defaults=True)
        {'leads': 1000.0}
        >>> print(caught[0].message)
        leaf has no column in the data and took the model's value (defaults=True): `leads` = 1000.0
    """
    names = [str(c) for c in columns]
    check_unique(names, [n for n in names if n in tree])
    present = set(names)
    missing = [n for n in leaves if n not in present]
    if not missing:
        return {}
    listed = ", ".join(f"`{n}`" for n in missing)
    if not defaults:
        shown = ", ".join(f"`{n}`" for n in names[:20]) + (", ..." if len(names) > 20 else "")
        there = (
            _("its columns are {columns}").format(columns=shown)
            if names
            else _("it has no columns")
        )
        guesses = [
            f"`{n}`: {guess}" for n in missing if (guess := did_you_mean(n, names)) is not None
        ]
        add = ngettext(
            "add the column, or pass defaults=True to use the leaves' model values "
            "(a warning names them)",
            "add the columns, or pass defaults=True to use the leaves' model values "
            "(a warning names them)",
            len(missing),
        )
        raise MissingValueError(
            ngettext(
                "leaf has no column in the data: {listed}; {there}",
                "{n} leaves have no column in the data: {listed}; {there}",
                len(missing),
            ).format(n=len(missing), listed=listed, there=there),
            hint="; ".join([*guesses, add]),
            names=missing,
        )
    unset = [n for n in missing if _default(tree, n) is None]
    if unset:
        raise MissingValueError(
            ngettext(
                "leaf has no column in the data and no model value: {listed}",
                "{n} leaves have no column in the data and no model value: {listed}",
                len(unset),
            ).format(n=len(unset), listed=", ".join(f"`{n}`" for n in unset)),
            hint=_("add a column `{name}`, or give the leaf a value (value=...)").format(
                name=unset[0]
            ),
            names=unset,
        )
    filled = {n: v for n in missing if (v := _default(tree, n)) is not None}
    warn(
        DefaultsWarning(
            ngettext(
                "leaf has no column in the data and took the model's value "
                "(defaults=True): {values}",
                "{n} leaves have no column in the data and took the model's value "
                "(defaults=True): {values}",
                len(missing),
            ).format(
                n=len(missing),
                values=", ".join(f"`{n}` = {quoted(v)}" for n, v in filled.items()),
            )
        )
    )
    return filled


def check_unique(columns: Sequence[str], read: Iterable[str]) -> None:
    """Refuse a table where a column kpitree reads or writes (`read`) appears twice.

    pandas and Spark allow repeated column names; which copy holds the values is then
    anyone's guess, so kpitree names the column instead of picking one.
    """
    wanted = set(read)
    repeated = [n for n, k in Counter(columns).items() if k > 1 and n in wanted]
    if repeated:
        raise DuplicateNameError(
            _(
                "the data has repeated columns named {names}: "
                "kpitree cannot tell which one holds the values"
            ).format(names=", ".join(f"`{n}`" for n in repeated)),
            hint=_("drop or rename the copies (pandas: {code})").format(
                code="df.loc[:, ~df.columns.duplicated()]"
            ),
            names=repeated,
        )


def _default(tree: Graph, leaf: str) -> float | None:
    node = tree[leaf]
    assert isinstance(node, Leaf)
    return node.value


def not_numbers(name: str, dtype: object) -> ValueTypeError:
    """The error for a leaf column that does not hold numbers."""
    return ValueTypeError(
        _(
            "column `{name}` holds {dtype}, but `{name}` is a leaf: its column must hold numbers"
        ).format(name=name, dtype=dtype),
        hint=_("convert the column to numbers (floats or integers) first"),
        names=[name],
    )


def _leaf_array(data: Any, name: str, kind: str, *, finite: bool = True) -> Any:
    """Return a leaf column as float64 numpy values (NaN where missing), without copying.

    With `finite=False` an infinite value is left as it is, for the evaluation to make it
    NaN (`_evaluate_arrays`); a single value given for every row is checked either way.
    """
    import numpy as np

    values = data.get_column(name).to_numpy() if kind == "polars" else data[name]
    if kind == "mapping" and _is_scalar(values):
        from kpitree.model.numbers import to_number

        return np.float64(to_number(values, what=_("value of `{name}`").format(name=name)))
    return leaf_values(values, name, finite=finite)


def _is_scalar(values: Any) -> bool:
    """Whether a mapping's value is one value for every row (not a column)."""
    import numpy as np

    try:
        return bool(np.ndim(values) == 0)
    except ValueError:  # a ragged sequence: a column, refused as one
        return False


def leaf_values(values: Any, name: str, *, finite: bool = True) -> Any:
    """Return one leaf's column as a 1-D float64 numpy array, NaN where there is no number.

    A missing value (NaN, None, pandas NA) and an infinite one are both NaN: an infinite
    leaf value is undefined, like a division by zero, so every metric that uses it is
    NaN on that row instead of a finite number computed from infinity (`x / inf` = 0).
    An object column is read when every value in it is a number or missing.

    Args:
        values: a pandas Series, a numpy array or a sequence.
        name: the leaf, for messages.
        finite: make ±inf NaN; False leaves that to the caller (one pass fewer).

    Raises:
        ValueTypeError: values that are not numbers (text, booleans, dates, objects) or
            not one number per row (2-D, ragged).

    Examples:
        >>> leaf_values([1, float("inf"), None, 2.5], "leads").tolist()
        [1.0, nan, nan, 2.5]
    """
    import numpy as np

    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(values, pandas.Series):
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        if values.dtype == object:
            array = _object_numbers(values.to_numpy(), name, values.dtype)
        elif not is_numeric_dtype(values.dtype) or is_bool_dtype(values.dtype):
            raise not_numbers(name, values.dtype)
        elif values.dtype == np.float64:
            array = values.to_numpy()
        else:
            array = values.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        try:
            array = np.asarray(values)
        except (ValueError, TypeError):  # numpy refuses rows of different lengths
            raise _not_one_per_row(name, _ragged()) from None
        if array.ndim != 1:
            raise _not_one_per_row(name, _dimensions(array.shape))
        if array.dtype.kind == "O":
            array = _object_numbers(array, name, array.dtype)
        elif array.dtype.kind not in "iuf":
            raise not_numbers(name, array.dtype)
        array = array.astype(np.float64, copy=False)
    if not finite:
        return array
    with np.errstate(all="ignore"):
        if math.isfinite(array.sum()):  # one pass, no allocation: the common case
            return array
    infinite = np.isinf(array)  # a NaN, an infinity, or a sum that overflowed
    return np.where(infinite, np.nan, array) if infinite.any() else array


def _object_numbers(array: Any, name: str, dtype: object) -> Any:
    """Read an object column of numbers and missing values (None, NaN, pandas NA) as float64."""
    import numbers

    import numpy as np

    def read(v: object) -> float:
        if isinstance(v, bool | np.bool_):
            raise not_numbers(name, _one_value(dtype, str(v)))
        if isinstance(v, numbers.Real):
            return float(v)
        if v is None or type(v).__name__ == "NAType":  # pandas.NA, without importing pandas
            return math.nan
        raise not_numbers(name, _one_value(dtype, quoted(v)))

    return np.fromiter((read(v) for v in array), dtype=np.float64, count=len(array))


def _one_value(dtype: object, value: str) -> str:
    return _("{dtype} (one of its values is {value})").format(dtype=dtype, value=value)


def _ragged() -> str:
    return _("rows of different lengths")


def _dimensions(shape: tuple[int, ...]) -> str:
    return _("{n} dimensions (shape {shape})").format(n=len(shape), shape=shape)


def _not_one_per_row(name: str, got: str) -> ValueTypeError:
    return ValueTypeError(
        _("column `{name}` has {got}, but a leaf column holds one number per row").format(
            name=name, got=got
        ),
        hint=_("give `{name}` as a 1-D array or list of numbers").format(name=name),
        names=[name],
    )


def check_rows(columns: Mapping[str, Any]) -> int | None:
    """Return the number of rows of a mapping's 1-D columns; refuse columns of other lengths.

    Scalars (a value for every row) are left out. None when there is no 1-D column.
    """
    import numpy as np

    lengths: dict[str, int] = {}
    for name, values in columns.items():
        try:
            shape = np.shape(values)
        except ValueError:
            raise _not_one_per_row(str(name), _ragged()) from None
        if len(shape) > 1:
            raise _not_one_per_row(str(name), _dimensions(shape))
        if shape:
            lengths[str(name)] = shape[0]
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"`{n}` {k}" for n, k in lengths.items())
        raise ArgumentError(
            _("the columns have different lengths: {listed}").format(listed=listed),
            hint=_("a table's columns have one value per row: give them the same length"),
            names=list(lengths),
        )
    return next(iter(lengths.values()), None)


def _evaluate_arrays(
    tree: Graph, arrays: Mapping[str, Any], filled: Mapping[str, float]
) -> dict[str, Any]:
    """Run the compiled numpy tree on the leaf columns and the `filled` model values.

    The columns may hold ±inf (see `_leaf_array`): the compiled function makes it NaN.
    """
    import numpy as np

    compiled = compile_tree(tree, "numpy")
    vector: list[Any] = []
    for name in compiled.leaves:
        if name in arrays:
            vector.append(arrays[name])
        else:
            # A leaf no requested metric needs is NaN: its metrics are not returned.
            vector.append(np.float64(filled.get(name, math.nan)))
    with np.errstate(all="ignore"):
        results = compiled.function(vector, False, True)  # type: ignore[call-arg]
    shape = np.broadcast_shapes(*(np.shape(v) for v in vector)) if vector else ()
    out: dict[str, Any] = {}
    for name, value in zip(compiled.metrics, results, strict=True):
        if np.shape(value) != shape:  # a metric of constants and defaults only
            value = np.broadcast_to(value, shape)
        out[name] = value[()] if shape == () else value
    return out


# -- polars -------------------------------------------------------------------------------


def _evaluate_polars(tree: Graph, data: Any, steps: Plan, *, lazy: bool) -> Any:
    import polars as pl

    schema = data.collect_schema() if lazy else data.schema
    columns = list(schema.names())
    for name in steps.leaves:
        if name in columns:
            dtype = schema[name]
            if not dtype.is_numeric() and dtype != pl.Null:  # Null: no values at all
                raise not_numbers(name, dtype)
    frame = data if lazy else data.lazy()
    # A column named like an intermediate metric is the user's: set it aside meanwhile.
    aside = {n: free_name(n, columns) for n in steps.intermediate if n in columns}
    if aside:
        frame = frame.rename(aside)
    for layer in steps.layers:
        frame = frame.with_columns(
            _polars_metric(tree, name, columns).alias(name) for name in layer
        )
    if steps.intermediate:
        frame = frame.drop(steps.intermediate)
    if aside:
        frame = frame.rename({v: k for k, v in aside.items()})
    frame = frame.select([*columns, *(m for m in steps.metrics if m not in columns)])
    return frame if lazy else frame.collect()


def free_name(name: str, taken: Sequence[str]) -> str:
    """Return a column name like `name` that is not among `taken`."""
    candidate = f"__kpitree_{name}"
    while candidate in taken:
        candidate = f"_{candidate}"
    return candidate


def _polars_metric(tree: Graph, name: str, columns: Sequence[str]) -> Any:
    metric = tree[name]
    assert isinstance(metric, Metric)
    # The undefined rule: whatever is not a finite number becomes NaN.
    return _defined(polars_expr(tree, metric.formula, columns))


def polars_expr(tree: Graph, expr: Expr, columns: Sequence[str]) -> Any:
    """Return a polars expression for a formula; metrics are columns of earlier layers.

    Examples:
        >>> import polars as pl
        >>> from kpitree.examples import qualified_leads
        >>> tree = qualified_leads()
        >>> e = polars_expr(tree, tree["qualified_leads"].formula, ["leads"])
        >>> pl.DataFrame({"leads": [10.0]}).select(e).item()
        8.0
    """
    import polars as pl

    if isinstance(expr, Const):
        return pl.lit(float(expr.value), dtype=pl.Float64)
    if isinstance(expr, Ref):
        node = tree[expr.name]
        if isinstance(node, Metric):
            return pl.col(expr.name)
        if expr.name in columns:
            # An infinite leaf value is undefined, like a missing one (see the module doc).
            column = pl.col(expr.name).cast(pl.Float64)
            return pl.when(column.is_finite()).then(column)
        assert isinstance(node, Leaf)
        assert node.value is not None  # filled with defaults=True, see check_leaf_columns
        return pl.lit(float(node.value), dtype=pl.Float64)
    if isinstance(expr, Add | Mul):
        parts = [polars_expr(tree, e, columns) for e in _operands(expr)]
        result = parts[0]
        for part in parts[1:]:
            result = result + part if isinstance(expr, Add) else result * part
        return result
    if isinstance(expr, Sub):
        return polars_expr(tree, expr.left, columns) - polars_expr(tree, expr.right, columns)
    if isinstance(expr, Div):
        return polars_expr(tree, expr.left, columns) / _checked(tree, expr.right, columns)
    if isinstance(expr, Neg):
        return -polars_expr(tree, expr.operand, columns)
    if isinstance(expr, Pow):
        exponent = constant_value(expr.exponent)
        if exponent is not None and exponent > 0:  # inf ** 2 and nan ** 2 stay undefined
            return polars_expr(tree, expr.base, columns).pow(exponent)
        # 1 ** nan, nan ** 0 and inf ** -1 are finite: both parts must be defined.
        base = polars_expr(tree, expr.base, columns)
        power = polars_expr(tree, expr.exponent, columns)
        defined = base.is_finite() & power.is_finite()
        return pl.when(defined).then(base.pow(power)).otherwise(pl.lit(math.nan))
    assert isinstance(expr, Call)
    function = FUNCTIONS[expr.func]
    part = _checked if function.absorbs else polars_expr
    return function.polars(pl, [part(tree, a, columns) for a in expr.args])


def _defined(value: Any) -> Any:
    """`value` where it is a finite number, NaN where it is undefined (NaN, ±inf, null)."""
    import polars as pl

    return pl.when(value.is_finite()).then(value).otherwise(pl.lit(math.nan))


def _checked(tree: Graph, expr: Expr, columns: Sequence[str]) -> Any:
    """A part where an undefined value could vanish (see `kpitree.engine.codegen`)."""
    value = polars_expr(tree, expr, columns)
    return value if isinstance(expr, Const | Ref) else _defined(value)


def _operands(expr: Add | Mul) -> tuple[Expr, ...]:
    return expr.terms if isinstance(expr, Add) else expr.factors


# -- rollups ------------------------------------------------------------------------------


@attrs.frozen
class Aggregation:
    """How one leaf combines across the rows of a group.

    Attributes:
        how: `"sum"`, `"mean"`, `"last"`, `"min"`, `"max"` or `"weighted"`.
        weight: for `"weighted"`, the leaf this one is a rate of; else None.
    """

    how: str
    weight: str | None = None

    def __str__(self) -> str:
        return f"weighted:{self.weight}" if self.weight else self.how


def aggregations(tree: Graph, leaves: Iterable[str] | None = None) -> dict[str, Aggregation]:
    """Return how each leaf aggregates: declared, or the default its unit implies.

    Counts and money (a unit without a denominator: `lead`, `RUB`) sum. A rate (`%`,
    a plain number, or a unit with a denominator such as `purchase/call`) has no safe
    default: averaging a ratio over rows is wrong, so it must say what it is a rate of.

    Raises:
        UnitError: a leaf without a declared aggregation whose unit gives no default
            (every such leaf is named; the hint says to declare `weighted:<leaf>`).
        UnknownNameError: a weight that is not a leaf of the tree.

    Examples:
        >>> import kpitree as kt
        >>> leads = kt.KPI("leads", owner="m", horizon="1 day", unit="lead")
        >>> rate = kt.KPI("lead_to_ql", owner="s", horizon="1 day", unit="%",
        ...               aggregate="weighted:leads")
        >>> tree = kt.Tree(kt.Metric("ql", leads * rate))
        >>> {name: str(a) for name, a in aggregations(tree).items()}
        {'leads': 'sum', 'lead_to_ql': 'weighted:leads'}
    """
    names = [leaf.name for leaf in tree.leaves] if leaves is None else list(leaves)
    problems: list[KPITreeError] = []
    out: dict[str, Aggregation] = {}
    for name in names:
        leaf = tree[name]
        assert isinstance(leaf, Leaf)
        declared = leaf.aggregate
        if declared is not None:
            how, _colon, weight = declared.partition(":")
            if weight and (weight not in tree or not isinstance(tree[weight], Leaf)):
                problems.append(
                    UnknownNameError(
                        _(
                            "leaf `{name}` is weighted by `{weight}`, "
                            "which is not a leaf of the tree"
                        ).format(name=name, weight=weight),
                        hint=did_you_mean(weight, [x.name for x in tree.leaves])
                        or _("a rate is weighted by the leaf it is a rate of"),
                        names=[name, weight],
                    )
                )
                continue
            out[name] = Aggregation(how, weight or None)
            continue
        unit = tree.unit(name)
        if (
            unit is not None
            and not unit.is_dimensionless
            and all(e > 0 for _base, e in unit.factors)
        ):
            out[name] = Aggregation("sum")
            continue
        message = (
            _(
                "leaf `{name}` has no unit and no declared aggregation: kpitree will not "
                "guess how it combines across rows"
            )
            if unit is None
            else _(
                "leaf `{name}` is a rate (unit `{unit}`) and no declared aggregation: "
                "kpitree will not guess how it combines across rows"
            )
        )
        problems.append(
            UnitError(
                message.format(name=name, unit=unit),
                hint=_(
                    'declare aggregate="weighted:<leaf>" on `{name}` with the leaf it is a '
                    'rate of (e.g. "weighted:leads"), "sum" for a count or money, '
                    'or "mean"/"last" if that is meant'
                ).format(name=name),
                names=[name],
            )
        )
    raise_all(problems)
    return out


def rollup(
    tree: Graph,
    data: Any,
    by: Iterable[str] | str,
    metrics: Iterable[str] | str | None = None,
    *,
    order_by: str | None = None,
    defaults: bool = False,
) -> Any:
    """Aggregate the leaves per group by their declared aggregation, then recompute metrics.

    Each leaf combines by its `aggregate` (see `aggregations`): `sum`, `mean`, `min`,
    `max`, `last` (the last row of the group, in `order_by` order or the data's), or
    `weighted:<leaf>` — Σ(rate·weight) / Σweight. Metrics are then computed from the
    aggregated leaves, so a conversion rolls up to Σql / Σleads, never to the mean of
    the rows' conversions. A leaf value that is NaN, null or infinite is left out of its
    aggregate; a group where a leaf has no value (or a zero total weight) gets NaN.

    Args:
        tree: the tree.
        data: a pandas or polars DataFrame, a polars LazyFrame, or a mapping of arrays.
        by: the columns to group by (one name may be a string); `[]` gives one total row.
        metrics: the metrics to compute; None means all.
        order_by: a column that orders rows for `last` (sorted stably before grouping).
        defaults: let a leaf without a column take its model value (with a
            `DefaultsWarning`), as in `evaluate_frame`; otherwise that is an error.

    Returns:
        The same kind of table: the `by` columns, the aggregated leaves that are in
        `data`, and the metrics; one row per group, sorted by the group keys.

    Examples:
        >>> import pandas as pd
        >>> import kpitree as kt
        >>> leads = kt.KPI("leads", owner="marketing", horizon="1 day", unit="lead")
        >>> rate = kt.KPI("lead_to_ql", owner="sales", horizon="1 day", unit="%",
        ...               aggregate="weighted:leads")
        >>> tree = kt.Tree(kt.Metric("ql", leads * rate, unit="lead"))
        >>> days = pd.DataFrame({"week": [1, 1, 2], "leads": [100, 300, 50],
        ...                      "lead_to_ql": [0.9, 0.5, 0.8]})
        >>> tree.rollup(days, by="week")
           week  leads  lead_to_ql     ql
        0     1  400.0         0.6  240.0
        1     2   50.0         0.8   40.0
    """
    kind = frame_kind(data)
    steps = plan(tree, metrics)
    columns = _columns(data, kind)
    keys = check_keys(tree, by, order_by, columns)
    filled = check_leaf_columns(tree, steps.leaves, columns, defaults=defaults)
    present = [n for n in steps.leaves if n not in filled]
    ways = aggregations(tree, present)
    weights = [w for a in ways.values() if (w := a.weight) is not None and w not in columns]
    if weights:
        raise MissingValueError(
            _("the weight `{name}` has no column in the data").format(name=weights[0]),
            hint=_("a weighted rollup needs the weight per row: add a column `{name}`").format(
                name=weights[0]
            ),
            names=weights,
        )
    if kind == "mapping":
        import pandas

        wanted = [*keys, *present, *(a.weight for a in ways.values() if a.weight), *_opt(order_by)]
        picked = {k: data[k] for k in dict.fromkeys(wanted)}
        rows = check_rows(picked)
        frame = pandas.DataFrame(picked, index=None if rows is not None else [0])
        out = _evaluate_checked(
            tree, _rollup_pandas(frame, keys, ways, order_by), "pandas", steps, filled
        )
        return {name: out[name].to_numpy() for name in out.columns}
    if kind == "pandas":
        aggregated = _rollup_pandas(data, keys, ways, order_by)
    else:
        aggregated = _rollup_polars(data, keys, ways, order_by, lazy=kind == "lazy")
    return _evaluate_checked(tree, aggregated, kind, steps, filled)


def _opt(name: str | None) -> list[str]:
    return [] if name is None else [name]


# By node kind: the kind is a word of the message, worded whole for each.
_KEY_IS_NODE = {
    "kpi": N_(
        "`{key}` is a kpi of the tree; rows are grouped and ordered "
        "by other columns (a date, a segment)"
    ),
    "input": N_(
        "`{key}` is a input of the tree; rows are grouped and ordered "
        "by other columns (a date, a segment)"
    ),
    "metric": N_(
        "`{key}` is a metric of the tree; rows are grouped and ordered "
        "by other columns (a date, a segment)"
    ),
}


def check_keys(
    tree: Graph, by: Iterable[str] | str, order_by: str | None, columns: Sequence[Any] | None
) -> list[str]:
    """Return the group columns as a list; refuse nodes of the tree and unknown columns."""
    keys = [by] if isinstance(by, str) else list(by)
    if columns is not None:
        named = [k for k in [*keys, *_opt(order_by)] if isinstance(k, str)]
        check_unique([str(c) for c in columns], named)
    for key in [*keys, *([] if order_by is None else [order_by])]:
        if not isinstance(key, str) or not key:
            raise ArgumentError(
                _("rows are grouped and ordered by column names, got {key}").format(key=repr(key))
            )
        if key in tree:
            raise ArgumentError(_(_KEY_IS_NODE[tree[key].kind]).format(key=key), names=[key])
        if columns is not None and key not in columns:
            raise UnknownNameError(
                _("the data has no column `{key}`").format(key=key),
                hint=did_you_mean(key, [str(c) for c in columns]),
                names=[key],
            )
    return list(dict.fromkeys(keys))


def _rollup_pandas(
    data: Any, keys: list[str], ways: Mapping[str, Aggregation], order_by: str | None
) -> Any:
    import numpy as np
    import pandas

    if order_by is not None:
        data = data.sort_values(order_by, kind="stable")
    index = data.index
    values: dict[str, Any] = {}
    for name in {*ways, *(w.weight for w in ways.values() if w.weight)}:
        array = _leaf_array(data, name, "pandas")
        # NaN, missing and infinite values are all "no value", which aggregates skip.
        values[name] = pandas.Series(np.where(np.isfinite(array), array, np.nan), index=index)
    work = pandas.DataFrame(index=index)
    for i, (name, way) in enumerate(ways.items()):
        if way.weight is None:
            work[f"x{i}"] = values[name]
        else:
            work[f"x{i}"] = values[name] * values[way.weight]
            work[f"w{i}"] = values[way.weight].where(values[name].notna())
    group_keys = [data[k] for k in keys] if keys else [pandas.Series(0, index=index)]
    groups = work.groupby(group_keys, dropna=False, sort=True)
    out: dict[str, Any] = {}
    for i, (name, way) in enumerate(ways.items()):
        column = groups[f"x{i}"]
        if way.how in ("sum", "weighted"):
            total = column.sum(min_count=1)
            if way.how == "weighted":
                weight = groups[f"w{i}"].sum(min_count=1)
                total = total / weight.where(weight != 0)
            out[name] = total
        else:
            out[name] = getattr(column, way.how)()
    result = pandas.DataFrame(out, index=groups.size().index)
    return result.reset_index(drop=not keys)


def _rollup_polars(
    data: Any,
    keys: list[str],
    ways: Mapping[str, Aggregation],
    order_by: str | None,
    *,
    lazy: bool,
) -> Any:
    import polars as pl

    frame = data if lazy else data.lazy()
    if order_by is not None:
        frame = frame.sort(order_by, maintain_order=True, nulls_last=True)

    def value(name: str) -> Any:
        # NaN, null and infinity are all "no value": null, which aggregates skip.
        column = pl.col(name).cast(pl.Float64)
        return pl.when(column.is_finite()).then(column)

    def total(x: Any) -> Any:
        # polars sums an all-null group to 0; kpitree says "no value".
        return pl.when(x.count() > 0).then(x.sum())

    exprs = []
    for name, way in ways.items():
        x = value(name)
        if way.how == "weighted":
            assert way.weight is not None
            w = value(way.weight)
            weight = total(pl.when(x.is_not_null()).then(w))
            expr = total(x * w) / pl.when(weight != 0).then(weight)
        elif way.how == "sum":
            expr = total(x)
        elif way.how == "last":
            expr = x.drop_nulls().last()
        else:
            expr = getattr(x, way.how)()
        exprs.append(expr.fill_null(math.nan).alias(name))
    if keys:
        out = frame.group_by(keys).agg(exprs).sort(keys, nulls_last=True)
    else:
        out = frame.select(exprs)
    return out if lazy else out.collect()

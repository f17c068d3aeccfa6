"""Attribution per segment: `attribute_frame` over a pandas or polars table.

Each segment's row in the period before is paired with its row in the period after,
and the method runs over all segments at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from kpitree.analyses.attribution.comparison import split_change
from kpitree.analyses.attribution.engines import check_engine, engine_frame
from kpitree.analyses.attribution.methods import (
    MAX_CHANGING,
    absent_segment,
    check_limit_option,
    check_method,
    no_rows,
    owners_of,
    repeated_rows,
    subtree,
)
from kpitree.analyses.attribution.sequential import check_order
from kpitree.backends.frames import check_leaf_columns, check_unique, leaf_values, table_kind
from kpitree.engine.evaluate import evaluate_arrays
from kpitree.errors import (
    ArgumentError,
    KindError,
    UnknownNameError,
    ValueTypeError,
    did_you_mean,
)
from kpitree.i18n import _

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from kpitree.model.graph import Graph

    Array = NDArray[np.float64]


def attribute_frame(
    tree: Graph,
    data: Any,
    metric: str,
    *,
    period: str,
    before: Any,
    after: Any,
    by: Sequence[str] = (),
    method: str = "shapley",
    order: Sequence[str] | None = None,
    max_changing: int = MAX_CHANGING,
    defaults: bool = False,
    engine: str | None = None,
) -> Any:
    """Attribute the change of `metric` per segment, for a table of periods × segments.

    Args:
        tree: the tree.
        data: a pandas or polars DataFrame with a `period` column, the `by` columns and
            a column per leaf of `metric`. An infinite leaf value is undefined: that
            segment's row is NaN.
        metric: the metric whose change is attributed.
        period: the name of the period column.
        before: the period label (a value of that column) to start from.
        after: the period label to end at.
        by: the columns naming a segment; each segment needs one row in each period.
        method: any of `METHODS` (`"shapley"`, `"lmdi"`, `"hierarchical"`,
            `"sequential"`, `"proportional"`, `"integral"`), as in
            `attribute`.
        order: `"sequential"` only: the leaves in the order they move.
        max_changing: as in `attribute`; counts leaves changing in any segment.
        defaults: let a leaf without a column take its model value in both periods
            (with a `DefaultsWarning`); otherwise a missing leaf column is an error.
        engine: `"duckdb"` or `"spark"` to attribute inside that engine (see
            `kpitree.analyses.attribution.engines`): `data` is then a pandas or polars
            frame (DuckDB) or a Spark DataFrame, any method, and the result a pandas
            or Spark frame with the same columns, ordered by the `by` columns.

    Returns:
        A frame of the same library, one row per segment: the `by` columns,
        `<metric>_before`, `<metric>_after`, `<metric>_change`, one column per leaf
        (its contribution) and one `owner_<owner>` column per owner (LMDI factors are
        not included). A segment where the metric is undefined (division by zero...)
        gets NaN, as frames do.

    Raises:
        MissingValueError: a segment without a row in one of the two periods, two
            rows of one segment in one period, or a leaf without a column.

    Examples:
        >>> import pandas as pd
        >>> from kpitree.examples import qualified_leads
        >>> df = pd.DataFrame({"month": ["jan", "feb", "jan", "feb"],
        ...                    "channel": ["ads", "ads", "seo", "seo"],
        ...                    "leads": [1000, 1100, 500, 500],
        ...                    "lead_to_ql": [0.8, 0.7, 0.9, 0.95]})
        >>> out = attribute_frame(qualified_leads(), df, "qualified_leads",
        ...                       period="month", before="jan", after="feb", by=["channel"])
        >>> out[["channel", "qualified_leads_change", "leads", "lead_to_ql"]].round(6)
          channel  qualified_leads_change  leads  lead_to_ql
        0     ads                   -30.0   75.0      -105.0
        1     seo                    25.0    0.0        25.0
    """
    method = check_method(method)
    limit = check_limit_option(max_changing)
    sub = subtree(tree, metric)
    chain = check_order(sub, metric, method, order)
    by = [by] if isinstance(by, str) else list(by)
    if check_engine(engine) is not None:
        assert engine is not None
        return engine_frame(
            sub,
            data,
            metric,
            period=period,
            before=before,
            after=after,
            by=by,
            method=method,
            order=chain,
            limit=limit,
            engine=engine,
        )
    leaves = [leaf.name for leaf in sub.leaves]
    library = _library(data)
    filled = check_leaf_columns(sub, leaves, list(data.columns), defaults=defaults)
    keys, low_leaves, high_leaves = (_align_pandas if library == "pandas" else _align_polars)(
        data, period, before, after, by, leaves
    )
    rows = len(next(iter([*low_leaves.values(), *keys.values()]), [0.0]))
    low = _all_values(sub, {**filled, **low_leaves}, rows)
    high = _all_values(sub, {**filled, **high_leaves}, rows)
    total = high[metric] - low[metric]
    with np.errstate(all="ignore"):
        split = split_change(
            sub, metric, low, high, total, method, limit, scalar=False, order=chain
        )
    owners = owners_of(sub)
    columns: dict[str, Any] = dict(keys)
    columns[f"{metric}_before"] = low[metric]
    columns[f"{metric}_after"] = high[metric]
    columns[f"{metric}_change"] = total
    undefined = np.isnan(total)  # one rule for the whole row: NaN, not a partial split
    for leaf in leaves:
        columns[leaf] = np.where(undefined, np.nan, split.contributions[leaf])
    for owner in dict.fromkeys(owners.values()):
        parts = [columns[leaf] for leaf in leaves if owners[leaf] == owner]
        columns[f"owner_{owner}"] = np.sum(parts, axis=0)
    clash = len(columns) != len(keys) + 3 + len(leaves) + len(set(owners.values()))
    if clash:
        raise ArgumentError(
            _(
                "the result columns of `{metric}` would repeat a name: the `by` columns, "
                "leaf names and owner columns must differ"
            ).format(metric=metric),
            hint=_("rename the segment columns"),
        )
    if library == "pandas":
        import pandas

        return pandas.DataFrame(columns)
    import polars

    return polars.DataFrame(columns)


def _library(data: Any) -> str:
    kind = table_kind(data)
    if kind in ("pandas", "polars"):
        return kind
    raise ValueTypeError(
        _("data must be a pandas or polars DataFrame, got {type}").format(type=type(data).__name__),
        hint=_("for two sets of values, use tree.attribute(metric, before, after)"),
    )


def _all_values(tree: Graph, leaves: Mapping[str, Any], rows: int) -> dict[str, Array]:
    """Every node's values over rows, from every leaf's column (or filled model value)."""
    given = {name: np.broadcast_to(column, (rows,)) for name, column in leaves.items()}
    out = dict(evaluate_arrays(tree, given))
    out.update(given)
    return {name: np.broadcast_to(values, (rows,)) for name, values in out.items()}


def _align_pandas(
    data: Any, period: str, before: Any, after: Any, by: list[str], leaves: list[str]
) -> tuple[dict[str, Any], dict[str, Array], dict[str, Array]]:
    """Pair each segment's row in `before` with its row in `after` (pandas)."""
    names = [str(c) for c in data.columns]
    _check_columns(names, [period, *by], leaves)
    present = [leaf for leaf in leaves if leaf in names]
    parts = [
        data.loc[(data[period] == label).to_numpy(), [*by, *present]] for label in (before, after)
    ]
    _check_periods([len(p) for p in parts], period, (before, after), by)
    marker = "\x00period"
    if by:
        for part, label in zip(parts, (before, after), strict=True):
            repeated = part.duplicated(by).to_numpy()
            if repeated.any():
                raise repeated_rows(part.loc[repeated, by].iloc[0].tolist(), by, period, label)
        tagged = [p.assign(**{marker: i}) for i, p in enumerate(parts)]
        merged = tagged[0].merge(
            tagged[1], on=by, how="outer", suffixes=("", "\x00after"), sort=False
        )
        for i, label in enumerate((before, after)):
            column = marker if i == 0 else marker + "\x00after"
            gone = merged[column].isna().to_numpy()
            if gone.any():
                raise absent_segment(merged.loc[gone, by].iloc[0].tolist(), by, period, label)
        keys = {b: merged[b].to_numpy() for b in by}
        low = {leaf: _numeric(merged[leaf].to_numpy(), leaf) for leaf in present}
        high = {leaf: _numeric(merged[leaf + "\x00after"].to_numpy(), leaf) for leaf in present}
        return keys, low, high
    low, high = ({leaf: _numeric(p[leaf].to_numpy(), leaf) for leaf in present} for p in parts)
    return {}, low, high


def _align_polars(
    data: Any, period: str, before: Any, after: Any, by: list[str], leaves: list[str]
) -> tuple[dict[str, Any], dict[str, Array], dict[str, Array]]:
    """Pair each segment's row in `before` with its row in `after` (polars)."""
    import polars as pl

    names = list(data.columns)
    _check_columns(names, [period, *by], leaves)
    present = [leaf for leaf in leaves if leaf in names]
    parts = [
        data.filter(pl.col(period) == label).select([*by, *present]) for label in (before, after)
    ]
    _check_periods([p.height for p in parts], period, (before, after), by)
    if by:
        for part, label in zip(parts, (before, after), strict=True):
            repeated = part.select(by).is_duplicated()
            if repeated.any():
                raise repeated_rows(
                    list(part.filter(repeated).row(0)[: len(by)]), by, period, label
                )
        marker = "\x00period"
        tagged = [p.with_columns(pl.lit(i).alias(marker)) for i, p in enumerate(parts)]
        merged = tagged[0].join(
            tagged[1], on=by, how="full", suffix="\x00after", coalesce=True, maintain_order="left"
        )
        for i, label in enumerate((before, after)):
            column = marker if i == 0 else marker + "\x00after"
            gone = merged[column].is_null()
            if gone.any():
                raise absent_segment(list(merged.filter(gone).select(by).row(0)), by, period, label)
        keys = {b: merged[b] for b in by}
        low = {leaf: _numeric(merged[leaf].to_numpy(), leaf) for leaf in present}
        high = {leaf: _numeric(merged[leaf + "\x00after"].to_numpy(), leaf) for leaf in present}
        return keys, low, high
    low, high = ({leaf: _numeric(p[leaf].to_numpy(), leaf) for leaf in present} for p in parts)
    return {}, low, high


def _check_columns(names: list[str], needed: list[str], leaves: list[str]) -> None:
    check_unique([str(n) for n in names], needed)
    for name in needed:
        if name not in names:
            raise UnknownNameError(
                _("the data has no column `{name}`").format(name=name),
                hint=did_you_mean(name, names),
                names=[name],
            )
        if name in leaves:
            raise KindError(
                _(
                    "`{name}` is a leaf of the tree; it cannot also name the period or a segment"
                ).format(name=name),
                names=[name],
            )


def _check_periods(heights: list[int], period: str, labels: tuple[Any, Any], by: list[str]) -> None:
    for height, label in zip(heights, labels, strict=True):
        if height == 0:
            raise no_rows(period, label)
        if not by and height > 1:
            raise repeated_rows([], by, period, label, rows=height)


def _numeric(values: Any, leaf: str) -> Array:
    # The frames' reading rule: numbers only, and NaN for a missing or infinite value.
    out: Array = leaf_values(values, leaf)
    return out

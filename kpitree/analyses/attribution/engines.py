"""Attribution per segment inside DuckDB or Spark: `attribute_frame(..., engine=...)`.

The data stays in the engine: kpitree checks the periods' rows there (one query), decides
the mixes of before and after values the method needs, and sends one SELECT that pairs
each segment's rows, evaluates the tree (and its gradient) at every mix and takes the
weighted sums (`kpitree.backends.sql.attribution_sql`). Every method runs this way:

- ``"shapley"``: on a metric multilinear in the moving leaves, the path integral of the
  gradient at `ceil(d / 2)` Gauss–Legendre points (a closed form per row, exact); on
  another metric, the 2^n coalitions of the moving leaves and the Shapley weights.
- ``"sequential"``: the n + 1 steps of the chain, each leaf's step the difference of two.
- ``"integral"``: the same quadrature as Shapley's, on any metric that is a polynomial
  along the path (exact). On another metric, Gauss–Legendre on equal panels of a variable
  that crowds the points near both periods, beside half as many panels: a row settles when
  the two agree and its parts sum to its change to 1e-9 of its size. The rows that do not
  are attributed again with four times the panels, over only those rows, in up to four
  rounds (kept in temporary tables); a row that never settles is refused with numpy's
  error, naming the segment. No row that failed the check is returned.
- ``"lmdi"`` and ``"proportional"``: the metric expanded into a sum of products of leaf
  powers (`kpitree.analyses.attribution.lmdi.monomials`), each term split by the method's
  formula from the segment's two rows, with numpy's conventions for zeros; LMDI refuses a
  leaf that changes sign first, with numpy's error (one query counts those segments).
- ``"hierarchical"``: every node's two values per segment, each moving metric's formula
  split over its children by Shapley term by term (a game over the term's moving
  children, or the closed form of a product), the exact step per metric, and the shares
  passed down from the target.

The numbers are those of `attribute_frame` on the same rows, to rounding (the engine's sums
run in another order); the result is a pandas DataFrame for DuckDB and a Spark DataFrame
for Spark, with the same columns.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from kpitree.analyses.attribution.hierarchical import additive_terms, one_child_factors
from kpitree.analyses.attribution.integral import (
    PANEL_POINTS,
    gauss_legendre,
    no_convergence,
    path_shape,
    points_for,
)
from kpitree.analyses.attribution.lmdi import monomials, sign_change
from kpitree.analyses.attribution.methods import (
    absent_segment,
    no_rows,
    owners_of,
    repeated_rows,
)
from kpitree.analyses.attribution.sequential import chain
from kpitree.analyses.attribution.shapley import too_many
from kpitree.backends.frames import check_leaf_columns, table_kind
from kpitree.backends.sql import (
    Hierarchy,
    LocalTerm,
    Mixes,
    Terms,
    attribution_sql,
    checks_sql,
    settled_sql,
    sign_changes_sql,
)
from kpitree.errors import ArgumentError, MissingValueError, ValueTypeError, did_you_mean, require
from kpitree.i18n import _
from kpitree.language.expr import Neg, Ref, refs
from kpitree.model.nodes import Metric

if TYPE_CHECKING:
    from kpitree.model.graph import Graph

__all__ = ["ENGINES", "check_engine", "engine_frame"]

ENGINES = ("duckdb", "spark")
"""The engines `attribute_frame(engine=...)` runs in."""


def check_engine(engine: Any) -> str | None:
    """Return `engine` (None: numpy) if it is one of `ENGINES`; every method runs in each."""
    if engine is None:
        return None
    if engine not in ENGINES:
        raise ArgumentError(
            _("engine {engine} is not one of {engines}").format(
                engine=repr(engine), engines=", ".join(ENGINES)
            ),
            hint=did_you_mean(str(engine), ENGINES) or _("leave engine= out to attribute in numpy"),
        )
    return str(engine)


def engine_frame(
    tree: Graph,
    data: Any,
    metric: str,
    *,
    period: str,
    before: Any,
    after: Any,
    by: Sequence[str],
    method: str,
    order: Sequence[str] | None,
    limit: int,
    engine: str,
) -> Any:
    """Attribute `metric` per segment in `engine`; `tree` is the metric's subtree."""
    run, columns, table, keep, close = _connect(data, engine)
    try:
        leaves = [leaf.name for leaf in tree.leaves]
        check_leaf_columns(tree, leaves, columns)
        for name in [period, *by]:
            if name not in columns:
                raise MissingValueError(
                    _("the data has no column `{name}`").format(name=name),
                    hint=did_you_mean(name, columns),
                    names=[name],
                )
        where = {"table": table, "period": period, "before": before, "after": after, "by": by}
        checks = checks_sql(tree, leaves, dialect=engine, **where)
        counts = run(checks["counts"])[0]
        _check_rows(counts, run, checks, period, before, after, by)
        moving = tuple(leaf for i, leaf in enumerate(leaves) if counts[f"moves{i}"])
        owners = owners_of(tree)
        if method in ("lmdi", "proportional"):
            poly = monomials(tree, metric, method)  # FormulaError, LimitError: as in numpy
            if method == "lmdi":
                _check_signs(tree, metric, poly, moving, run, where, engine)
            terms = Terms(method, tuple(poly.items()))
            ends = _ends(moving, [], [], slopes=False)
            sql = attribution_sql(
                tree, metric, ends, owners=owners, dialect=engine, terms=terms, **where
            )
            return run(sql, frame=True)
        if method == "hierarchical":
            hierarchy = _hierarchy(tree, metric, moving, limit)
            ends = _ends(moving, [], [], slopes=False)
            sql = attribution_sql(
                tree, metric, ends, owners=owners, dialect=engine, hierarchy=hierarchy, **where
            )
            return run(sql, frame=True)
        mixes = _mixes(tree, metric, moving, method, order, limit)
        if mixes is None:
            return _refined(tree, metric, moving, run, keep, owners, where, engine)
        sql = attribution_sql(tree, metric, mixes, owners=owners, dialect=engine, **where)
        # Spark analyses the query here: the view may go once `run` returns the DataFrame.
        return run(sql, frame=True)
    finally:
        close()


def _hierarchy(tree: Graph, metric: str, moving: tuple[str, ...], limit: int) -> Hierarchy:
    """Each metric with a moving child, parents first, with its formula's terms.

    The terms of `kpitree.analyses.attribution.hierarchical`: a bare child, a product of
    one-child factors of more than two children (the closed form), or a game over the
    term's moving children (refused beyond `limit`, as numpy refuses it).
    """
    changed = set(moving)
    for name in tree._topo:  # children first
        if isinstance(tree[name], Metric) and not changed.isdisjoint(tree._children[name]):
            changed.add(name)
    metrics = []
    for name in reversed(tree._topo):
        node = tree[name]
        if not isinstance(node, Metric) or changed.isdisjoint(tree._children[name]):
            continue
        terms = []
        for term in additive_terms(node.formula):
            names = tuple(r.name for r in refs(term))
            if not names:
                continue
            players = tuple(n for n in names if n in changed)
            if isinstance(term, Ref) or (isinstance(term, Neg) and isinstance(term.operand, Ref)):
                sign = -1.0 if isinstance(term, Neg) else 1.0
                terms.append(LocalTerm(names, None, sign, players))
                continue
            product = one_child_factors(term) if len(names) > 2 else None
            if product is not None:
                coefficient, factors = product
                nodes, weights = gauss_legendre(points_for(len(names)))
                pairs = tuple(zip(map(float, nodes), map(float, weights), strict=True))
                terms.append(
                    LocalTerm(
                        names,
                        term,
                        coefficient,
                        players,
                        tuple(factors[n] for n in names),
                        pairs,
                    )
                )
                continue
            if len(players) > limit:
                raise too_many(name, len(players), limit, formula=True)
            terms.append(LocalTerm(names, term, 1.0, players))
        metrics.append((name, tuple(tree._children[name]), tuple(terms)))
    return Hierarchy(tuple(metrics))


def _check_signs(
    tree: Graph,
    metric: str,
    poly: Mapping[Any, float],
    moving: tuple[str, ...],
    run: Any,
    where: dict[str, Any],
    engine: str,
) -> None:
    """LMDI's refusal of a leaf that changes sign, for the same rows and words as numpy."""
    used = list(dict.fromkeys(name for key in poly for name, _power in key))
    checked = [leaf for leaf in used if leaf in moving]  # a still leaf keeps its sign
    if not checked:
        return
    leaves = [leaf.name for leaf in tree.leaves]
    queries = sign_changes_sql(leaves, checked, dialect=engine, **where)
    counts = run(queries["counts"])[0]
    for j, leaf in enumerate(checked):
        if counts[f"flips{j}"]:
            row = run(queries[f"example{j}"])[0]
            raise sign_change(
                metric, leaf, row["before"], row["after"], int(counts[f"flips{j}"]), scalar=False
            )


_ROUNDS = (2, 8, 32, 128)  # panels of the coarse quadrature per round (the fine one: twice)


def _refined(
    tree: Graph,
    metric: str,
    moving: tuple[str, ...],
    run: Any,
    keep: Any,
    owners: Mapping[str, str],
    where: dict[str, Any],
    engine: str,
) -> Any:
    """The integral of a metric that is no polynomial along the path, by rounds of panels.

    Each round evaluates Gauss–Legendre on `2p` panels beside `p` panels, over the rows
    the round before did not settle (the first round: every row); a row settles when the
    two agree and its parts sum to its change (see `attribution_sql`). A row that does not
    settle in the last round is refused, as numpy refuses it.
    """
    by = where["by"]
    flag = f"_kpitree_settled_{uuid.uuid4().hex[:12]}"
    tables: list[str] = []
    only: str | None = None
    columns = [
        *by,
        *(f"{metric}_{end}" for end in ("before", "after", "change")),
        *(leaf.name for leaf in tree.leaves),
        *(f"owner_{owner}" for owner in dict.fromkeys(owners.values())),
    ]
    for panels in _ROUNDS:
        mixes = _panels(moving, panels)
        sql = attribution_sql(
            tree, metric, mixes, owners=owners, dialect=engine, only=only, flag=flag, **where
        )
        tables.append(keep(sql))
        queries = settled_sql(tables, columns, by, flag, engine)
        if not run(queries["count"])[0]["n"]:
            return run(queries["result"], frame=True)
        if not by:
            only = None  # one segment: the next round runs it again
        else:
            only = keep(queries["keys"])
    row = run(queries["keys"])[0] if by else {}
    segment = ", ".join(f"{b}={row[b]!r}" for b in by) or _("the table")
    error = no_convergence(metric, None, segments=True)
    error.where = _("attributing `{metric}`, segment {segment}").format(
        metric=metric, segment=segment
    )
    raise error


def _graded(s: float) -> tuple[float, float]:
    """The path's `t` at `s` and `dt/ds`, for `t = 6s⁵ - 15s⁴ + 10s³` (points crowd both ends).

    A metric bends hardest where a leaf it divides by is smallest, most often at one of
    the periods; near an end `t ≈ 10s³`, so a bend of width `ε` in `t` is about `ε^(1/3)`
    wide in `s`, where the panels are equal.
    """
    return 6 * s**5 - 15 * s**4 + 10 * s**3, 30 * s**2 * (1 - s) ** 2


def _panels(moving: tuple[str, ...], panels: int) -> Mixes:
    """Gauss–Legendre on `2 * panels` equal panels, and on `panels` as the coarse check."""
    nodes, weights = gauss_legendre(PANEL_POINTS)
    n = len(moving)
    fractions: list[tuple[float, ...]] = []
    fine: list[tuple[float, ...]] = []
    coarse: list[float] = []
    for count, is_fine in ((2 * panels, True), (panels, False)):
        width = 1.0 / count
        for p in range(count):
            for node, w in zip(nodes, weights, strict=True):
                t, slope = _graded(float(p * width + width * node))
                weight = float(width * w) * slope
                fractions.append((t,) * n)
                fine.append((weight if is_fine else 0.0,) * n)
                coarse.append(0.0 if is_fine else weight)
    mixes = _ends(moving, fractions, fine, slopes=True)
    extra = len(mixes.fractions) - len(fractions)
    return attrs.evolve(mixes, coarse=(*coarse, *([0.0] * extra)))


def _connect(data: Any, engine: str) -> tuple[Any, list[str], str, Any, Any]:
    """Run SQL on `data` in `engine`: the runner, the columns, the table's name and more.

    The two more: a keeper (a query's rows in a temporary table, whose name it returns)
    and a closer.
    """
    if engine == "duckdb":
        require("duckdb", extra="sql", feature="attribution in DuckDB")
        import duckdb

        if table_kind(data) not in ("pandas", "polars"):
            raise ValueTypeError(
                _('engine="duckdb" takes a pandas or polars DataFrame, got {type}').format(
                    type=type(data).__name__
                ),
                hint=_("for a table already in DuckDB, read it with {call} first").format(
                    call="con.table(name).df()"
                ),
            )
        table = f"_kpitree_data_{uuid.uuid4().hex[:12]}"
        con = duckdb.connect()
        con.register(table, data)

        def run_duckdb(sql: str, frame: bool = False) -> Any:
            result = con.execute(sql)
            if frame:
                return result.df()
            names = [d[0] for d in result.description]
            return [dict(zip(names, row, strict=True)) for row in result.fetchall()]

        def keep_duckdb(sql: str) -> str:
            name = f"_kpitree_round_{uuid.uuid4().hex[:12]}"
            con.execute(f'CREATE TEMP TABLE "{name}" AS {sql}')
            return name

        return run_duckdb, [str(c) for c in data.columns], table, keep_duckdb, con.close
    require("pyspark", extra="spark", feature="attribution in Spark")
    from kpitree.backends.spark import check_frame, temporary_view

    check_frame(data, "tree.attribute_frame(...)")
    view = temporary_view(data)
    session = data.sparkSession

    def run_spark(sql: str, frame: bool = False) -> Any:
        result = session.sql(sql)
        return result if frame else [row.asDict() for row in result.collect()]

    kept: list[str] = []

    def keep_spark(sql: str) -> str:
        name = f"_kpitree_round_{uuid.uuid4().hex[:12]}"
        session.sql(sql).createOrReplaceTempView(name)
        session.catalog.cacheTable(name)
        kept.append(name)
        return name

    def close_spark() -> None:
        for name in kept:
            session.catalog.uncacheTable(name)
            session.catalog.dropTempView(name)
        session.catalog.dropTempView(view)

    return run_spark, list(data.columns), view, keep_spark, close_spark


def _check_rows(
    counts: dict[str, Any],
    run: Any,
    checks: dict[str, str],
    period: str,
    before: Any,
    after: Any,
    by: Sequence[str],
) -> None:
    """The errors `attribute_frame` gives in numpy, for the same rows."""
    for label, rows in ((before, counts["before_rows"]), (after, counts["after_rows"])):
        if not rows:
            raise no_rows(period, label)
    if counts["repeated"]:
        row = run(checks["repeated"])[0]
        raise repeated_rows([row[b] for b in by], by, period, row[period])
    for label, name in ((before, "missing_before"), (after, "missing_after")):
        if counts[name]:
            row = run(checks[name])[0]
            raise absent_segment([row[b] for b in by], by, period, label)


def _mixes(
    tree: Graph,
    metric: str,
    moving: tuple[str, ...],
    method: str,
    order: Sequence[str] | None,
    limit: int,
) -> Mixes | None:
    """The mixes of before and after values `method` needs, with their weights.

    None for the integral of a metric that is no polynomial along the path, which runs
    by rounds of panels (`_refined`).
    """
    n = len(moving)
    if method == "sequential":
        assert order is not None  # checked by `check_order`
        moved = chain(order, moving)
        steps = range(n + 1)
        fractions = [tuple(float(leaf in moved[:k]) for leaf in moving) for k in steps]
        weights = [
            tuple(
                (1.0 if k and moved[k - 1] == leaf else 0.0)
                - (1.0 if k < n and moved[k] == leaf else 0.0)
                for leaf in moving
            )
            for k in steps
        ]
        return _ends(moving, fractions, weights, slopes=False)
    shape = path_shape(tree, metric, frozenset(moving))
    if shape.degree is not None and (shape.multilinear or method == "integral"):
        nodes, quadrature = gauss_legendre(points_for(shape.degree))
        fractions = [tuple([float(t)] * n) for t in nodes]
        weights = [tuple([float(w)] * n) for w in quadrature]
        return _ends(moving, fractions, weights, slopes=True)
    if method == "integral":
        return None  # panels, refined where they do not settle: `_refined`
    if n > limit:
        raise too_many(metric, n, limit, formula=False)
    masks = range(1 << n)
    weight = [1.0 / (n * math.comb(n - 1, s)) for s in range(n)]
    fractions = [tuple(float((mask >> i) & 1) for i in range(n)) for mask in masks]
    weights = []
    for mask in masks:
        size = bin(mask).count("1")
        weights.append(
            tuple(
                weight[size - 1] if (mask >> i) & 1 else -weight[size] if size < n else 0.0
                for i in range(n)
            )
        )
    return _ends(moving, fractions, weights, slopes=False)


def _ends(
    moving: tuple[str, ...],
    fractions: Sequence[tuple[float, ...]],
    weights: Sequence[tuple[float, ...]],
    *,
    slopes: bool,
) -> Mixes:
    """Add the all-before and all-after mixes the metric's two values are read from."""
    n = len(moving)
    rest = [tuple(f) for f in fractions]
    before, after = (0.0,) * n, (1.0,) * n
    table = {f: i for i, f in enumerate(rest)}
    rows = list(rest)
    parts = [tuple(w) for w in weights]
    for end in (before, after):
        if end not in table:
            table[end] = len(rows)
            rows.append(end)
            parts.append((0.0,) * n)
    marks = [[0.0] * len(rows) for _ in range(2)]
    marks[0][table[before]] = 1.0
    marks[1][table[after]] = 1.0
    return Mixes(
        leaves=moving,
        fractions=tuple(rows),
        weights=tuple(parts),
        before=tuple(marks[0]),
        after=tuple(marks[1]),
        slopes=slopes,
    )

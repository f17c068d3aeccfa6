"""The Tree: a validated container of nodes, and the front door to every analysis.

`Tree(*nodes)` collects every node reachable from the nodes given, resolves names used in
formula text, and checks the whole: names bound twice, names never defined, cycles,
units. Every problem is reported at once. Analyses live in `kpitree.analyses`; the
methods here are one-line delegations so that a REPL user finds them all with tab.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from kpitree.core import units as _units
from kpitree.core.expr import (
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
    format_expr,
    refs,
)
from kpitree.core.nodes import KPI, Input, Leaf, Metric, Node, raise_all
from kpitree.core.numbers import to_number
from kpitree.core.units import Unit
from kpitree.errors import (
    CycleError,
    KPITreeError,
    UnitError,
    UnknownNameError,
    ValueTypeError,
    did_you_mean,
)

if TYPE_CHECKING:
    import sympy

    from kpitree.analyses.results import Status, Values

__all__ = ["Tree"]


class Tree:
    """A metric tree: metrics over KPIs and inputs, validated as a whole.

    Args:
        *nodes: the roots (usually the top metrics); every node they reach is collected.
            Give leaves or other metrics too when formulas are text that names them, or
            to fix the order. A `Tree` may be given to merge its nodes.

    Raises:
        ValidationError: several problems, each listed; or the single problem found
            (`CycleError`, `UnknownNameError`, `UnitError`, ...).

    Examples:
        >>> import kpitree as kt
        >>> leads = kt.KPI("leads", owner="marketing", horizon="1 day", value=1000)
        >>> rate = kt.KPI("lead_to_ql", owner="sales", horizon="1 day", value=0.8)
        >>> tree = kt.Tree(kt.Metric("qualified_leads", leads * rate))
        >>> tree.evaluate()["qualified_leads"]
        800.0
        >>> [k.name for k in tree.kpis], tree.owners()
        (['leads', 'lead_to_ql'], {'marketing': ('leads',), 'sales': ('lead_to_ql',)})
    """

    __slots__ = ("_cache", "_children", "_nodes", "_order", "_parents", "_roots", "_topo", "_units")

    _nodes: dict[str, Node]
    _order: tuple[str, ...]
    _topo: tuple[str, ...]
    _roots: tuple[str, ...]
    _children: dict[str, tuple[str, ...]]
    _parents: dict[str, tuple[str, ...]]
    _units: dict[str, Unit | None]
    _cache: dict[str, Any]

    def __init__(self, *nodes: Node | Tree | Iterable[Node]) -> None:
        given = list(_flatten(nodes))
        if not given:
            raise ValueTypeError("a Tree needs at least one node", hint="kt.Tree(top_metric)")
        problems: list[KPITreeError] = []
        by_name = _collect(given, problems)
        children = {name: _child_names(node) for name, node in by_name.items()}
        problems += _undefined(by_name, children)
        if not problems:
            problems += _cycles(children)
        if problems:
            raise_all(problems)
        first_seen = [n.name for n in given]
        self._setup(by_name, children, first_seen)
        unit_problems = _check_units(self)
        if unit_problems:
            raise_all(unit_problems)

    @classmethod
    def _build(cls, nodes: dict[str, Node], like: Tree) -> Tree:
        """Make a tree of the same shape as `like` with some nodes replaced (no re-checks)."""
        tree = object.__new__(cls)
        tree._nodes = nodes
        for slot in ("_order", "_topo", "_roots", "_children", "_parents", "_units"):
            setattr(tree, slot, getattr(like, slot))
        tree._cache = {}
        return tree

    def _setup(
        self, by_name: dict[str, Node], children: dict[str, tuple[str, ...]], first: list[str]
    ) -> None:
        parents: dict[str, list[str]] = {name: [] for name in by_name}
        for name, kids in children.items():
            for kid in kids:
                parents[kid].append(name)
        roots = [n for n in dict.fromkeys(first) if not parents[n]]
        roots += [n for n in by_name if not parents[n] and n not in roots]
        order, topo = _orders(roots, children)
        self._nodes = {name: by_name[name] for name in order}
        self._order = tuple(order)
        self._topo = tuple(topo)
        self._roots = tuple(roots)
        self._children = children
        self._parents = {name: tuple(ps) for name, ps in parents.items()}
        self._units = {}
        self._cache = {}

    # -- lookups ---------------------------------------------------------------------------

    def __getitem__(self, name: str) -> Node:
        try:
            return self._nodes[name]
        except (KeyError, TypeError):
            raise self._unknown(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._nodes

    def __iter__(self) -> Iterator[Node]:
        """Iterate over the nodes, roots first, each before the nodes it uses."""
        return iter(self._nodes.values())

    def __len__(self) -> int:
        return len(self._nodes)

    def _unknown(self, name: object, role: str = "node") -> UnknownNameError:
        return UnknownNameError(
            f"the tree has no {role} `{name}`",
            hint=did_you_mean(str(name), self._nodes),
            names=[str(name)],
        )

    @property
    def names(self) -> tuple[str, ...]:
        """Every node's name, roots first, each before the nodes it uses."""
        return self._order

    @property
    def kpis(self) -> tuple[KPI, ...]:
        """The KPIs, in tree order."""
        return tuple(n for n in self._nodes.values() if isinstance(n, KPI))

    @property
    def inputs(self) -> tuple[Input, ...]:
        """The inputs (leaves nobody on the team controls), in tree order."""
        return tuple(n for n in self._nodes.values() if isinstance(n, Input))

    @property
    def leaves(self) -> tuple[Leaf, ...]:
        """KPIs and inputs, in tree order."""
        return tuple(n for n in self._nodes.values() if isinstance(n, Leaf))

    @property
    def metrics(self) -> tuple[Metric, ...]:
        """The derived nodes, in tree order."""
        return tuple(n for n in self._nodes.values() if isinstance(n, Metric))

    @property
    def roots(self) -> tuple[Node, ...]:
        """The nodes no other node uses: usually the top metrics."""
        return tuple(self._nodes[n] for n in self._roots)

    def children(self, name: str) -> tuple[Node, ...]:
        """Return the nodes `name`'s formula uses directly, in formula order."""
        self[name]
        return tuple(self._nodes[c] for c in self._children[name])

    def parents(self, name: str) -> tuple[Node, ...]:
        """Return the metrics whose formulas use `name` directly."""
        self[name]
        return tuple(self._nodes[p] for p in self._parents[name])

    def depends_on(self, name: str) -> tuple[str, ...]:
        """Return `name` and every node it depends on, parents before children (cached).

        Examples:
            >>> from kpitree.examples import sales_revenue
            >>> sales_revenue().depends_on("purchases")
            ('purchases', 'call_to_purchase', 'calls', 'working_days', 'calls_per_day', 'managers')
        """
        self[name]
        cache: dict[str, tuple[str, ...]] = self._cache.setdefault("depends_on", {})
        found = cache.get(name)
        if found is None:
            seen = {name}
            stack = [name]
            while stack:
                for child in self._children[stack.pop()]:
                    if child not in seen:
                        seen.add(child)
                        stack.append(child)
            found = cache[name] = tuple(n for n in reversed(self._topo) if n in seen)
        return found

    def unit(self, name: str) -> Unit | None:
        """Return the unit of a node: declared, or derived from its formula (None if unknown)."""
        self[name]
        return self._units.get(name)

    def owners(self) -> dict[str, tuple[str, ...]]:
        """Return `{owner: (KPI names...)}`, owners in order of their first KPI."""
        out: dict[str, list[str]] = {}
        for kpi in self.kpis:
            out.setdefault(kpi.owner, []).append(kpi.name)
        return {owner: tuple(names) for owner, names in out.items()}

    def leaf_values(self, values: Mapping[str, Any] | None = None) -> dict[str, float | None]:
        """Return every leaf's value: the node's default, overridden by `values`.

        Raises:
            UnknownNameError: a name in `values` that is not a leaf (with a did-you-mean).
            ValueTypeError: a value that is not a finite number.
        """
        out: dict[str, float | None] = {leaf.name: leaf.value for leaf in self.leaves}
        for name, value in self.check_values(values).items():
            out[name] = value
        return out

    def check_values(self, values: Mapping[str, Any] | None) -> dict[str, float]:
        """Check a mapping of leaf values, converting each to float (`"80%"` is 0.8)."""
        if values is None:
            return {}
        if not isinstance(values, Mapping):
            raise ValueTypeError(
                f"values must be a mapping of leaf names to numbers, got {type(values).__name__}"
            )
        problems: list[KPITreeError] = []
        out: dict[str, float] = {}
        for name, value in values.items():
            node = self._nodes.get(name)
            if node is None:
                problems.append(self._unknown(name, "leaf"))
            elif isinstance(node, Metric):
                problems.append(
                    ValueTypeError(
                        f"`{name}` is a metric, computed from its formula; it cannot be set",
                        hint=f"to find the leaf value that gives {name} a target, use "
                        f"tree.solve({name!r}, target, vary=...)",
                        names=[name],
                    )
                )
            elif type(value) is float and value - value == 0.0:
                out[name] = value  # a finite float, the common case: no message to prepare
            else:
                try:
                    out[name] = to_number(value, what=f"value of `{name}`")
                except KPITreeError as exc:
                    problems.append(exc)
        raise_all(problems)
        return out

    def with_values(self, values: Mapping[str, Any]) -> Tree:
        """Return a tree whose leaves default to the given values.

        Examples:
            >>> from kpitree.examples import qualified_leads
            >>> qualified_leads().with_values({"leads": 1200}).evaluate()["qualified_leads"]
            960.0
        """
        nodes = dict(self._nodes)
        for name, value in self.check_values(values).items():
            nodes[name] = nodes[name].replace(value=value)
        return Tree._build(nodes, self)

    # -- views and analyses ------------------------------------------------------------------

    def formula(self, name: str, *, expand: bool = False) -> sympy.Expr:
        """Return a node's formula as a sympy expression, each node a `sympy.Symbol`.

        Args:
            name: the node.
            expand: substitute intermediate metrics down to leaves (no algebraic expansion).
        """
        from kpitree.analyses.symbolic import formula

        return formula(self, name, expand=expand)

    def evaluate(
        self, values: Mapping[str, Any] | None = None, *, undefined: str = "raise"
    ) -> Values:
        """Return the value of every node, computed node by node from the leaves.

        Args:
            values: leaf values overriding the nodes' defaults.
            undefined: `"raise"`, or `"nan"` to give NaN for undefined metrics (and
                everything computed from them) instead of raising.

        Raises:
            MissingValueError: leaves without a value (all of them are named).
            EvaluationError: a metric is undefined (division by zero, log of a non-positive
                number, overflow); the error names it and its formula.
        """
        from kpitree.analyses.evaluate import evaluate

        return evaluate(self, values, undefined=undefined)  # type: ignore[arg-type]

    def status(self, values: Mapping[str, Any] | None = None) -> Status:
        """Return every KPI and metric with a norm: value, norm, ok, owner; and standards."""
        from kpitree.analyses.status import status

        return status(self, values)

    # -- calculus and what-if (kpitree.analyses.calculus, .whatif, .goal) ------------------------

    def partial(self, metric: str, wrt: str) -> sympy.Expr:
        """Return ∂metric/∂wrt as a sympy expression in leaf symbols."""
        from kpitree.analyses.calculus import partial

        return partial(self, metric, wrt)

    def gradient(self, metric: str, values: Mapping[str, Any] | None = None) -> Values:
        """Return ∂metric/∂leaf for every leaf, at the given values (one reverse pass)."""
        from kpitree.analyses.calculus import gradient

        return gradient(self, metric, values)

    def elasticities(self, metric: str, values: Mapping[str, Any] | None = None) -> Values:
        """Return the % change of `metric` per 1% change of each leaf."""
        from kpitree.analyses.calculus import elasticities

        return elasticities(self, metric, values)

    def sensitivity(self, metric: str, values: Mapping[str, Any] | None = None) -> Any:
        """Return leaves ranked by the impact of a 1% move on `metric`, with `.by_owner`."""
        from kpitree.analyses.calculus import sensitivity

        return sensitivity(self, metric, values)

    def whatif(
        self,
        changes: Mapping[str, Any],
        values: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
    ) -> Any:
        """Return a `Scenario`: every node before and after `changes` (`"+10%"`, `1200`, ...)."""
        from kpitree.analyses.whatif import whatif

        return whatif(self, changes, values, name=name)

    def solve(
        self, metric: str, target: Any, vary: str, values: Mapping[str, Any] | None = None
    ) -> float:
        """Return the value of leaf `vary` that makes `metric` equal `target`."""
        from kpitree.analyses.goal import solve

        return solve(self, metric, target, vary, values)

    def cascade(
        self,
        metric: str,
        target: Any,
        values: Mapping[str, Any] | None = None,
        among: Iterable[str] | None = None,
        within: Any = None,
    ) -> Any:
        """Return new KPI values that reach `target` exactly, with equal relative effort."""
        from kpitree.analyses.goal import cascade

        return cascade(self, metric, target, values, among=among, within=within)

    def levers(
        self,
        metric: str,
        within: Any = None,
        owner: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> Any:
        """Return the KPIs movable within the horizon (and owned by `owner`), by impact."""
        from kpitree.analyses.goal import levers

        return levers(self, metric, within=within, owner=owner, values=values)

    # -- attribution (kpitree.analyses.attribution) ----------------------------------------------

    def attribute(
        self,
        metric: str,
        before: Any,
        after: Any,
        method: str = "shapley",
        *,
        max_changing: int = 22,
    ) -> Any:
        """Split the change of `metric` from `before` to `after` over leaves and owners."""
        from kpitree.analyses.attribution import attribute

        return attribute(self, metric, before, after, method=method, max_changing=max_changing)

    def accountability(
        self,
        metric: str,
        before: Any,
        after: Any,
        *,
        method: str = "shapley",
        max_changing: int = 22,
    ) -> Any:
        """Return per owner: their KPIs, contributions and norm status in both periods."""
        from kpitree.analyses.attribution import accountability

        return accountability(self, metric, before, after, method=method, max_changing=max_changing)

    def attribute_frame(
        self,
        data: Any,
        metric: str,
        *,
        period: str,
        before: Any,
        after: Any,
        by: Iterable[str] = (),
        method: str = "shapley",
        max_changing: int = 22,
    ) -> Any:
        """Attribute the change of `metric` per segment of a table of periods × segments."""
        from kpitree.analyses.attribution import attribute_frame

        return attribute_frame(
            self,
            data,
            metric,
            period=period,
            before=before,
            after=after,
            by=tuple(by),
            method=method,
            max_changing=max_changing,
        )

    # -- uncertainty (kpitree.analyses.uncertainty) ----------------------------------------------

    def simulate(
        self,
        metric: str | None = None,
        n: int = 100_000,
        seed: Any = None,
        *,
        distributions: Mapping[str, Any] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> Any:
        """Return Monte Carlo samples of every node from the leaves' distributions."""
        from kpitree.analyses.uncertainty import simulate

        return simulate(self, metric, n=n, seed=seed, distributions=distributions, values=values)

    def sobol(
        self,
        metric: str,
        n: int = 2**14,
        seed: Any = None,
        *,
        distributions: Mapping[str, Any] | None = None,
        values: Mapping[str, Any] | None = None,
        bootstrap: int = 200,
        confidence: float = 0.95,
    ) -> Any:
        """Return first-order and total Sobol indices per leaf, and `.by_owner`."""
        from kpitree.analyses.uncertainty import sobol

        return sobol(
            self,
            metric,
            n=n,
            seed=seed,
            distributions=distributions,
            values=values,
            bootstrap=bootstrap,
            confidence=confidence,
        )

    def tornado(
        self,
        metric: str,
        values: Mapping[str, Any] | None = None,
        *,
        swing: Any = None,
        distributions: Mapping[str, Any] | None = None,
        quantiles: tuple[Any, Any] = (0.1, 0.9),
    ) -> Any:
        """Return leaves ranked by the metric's swing as each moves alone (p10–p90 or ±x%)."""
        from kpitree.analyses.uncertainty import tornado

        return tornado(
            self, metric, values, swing=swing, distributions=distributions, quantiles=quantiles
        )

    # -- data and SQL (kpitree.adapters.frames, .sql) ---------------------------------------------

    def evaluate_frame(self, data: Any, metrics: Iterable[str] | None = None) -> Any:
        """Return `data` (pandas, polars or a mapping of arrays) with a column per metric."""
        from kpitree.adapters.frames import evaluate_frame

        return evaluate_frame(self, data, metrics)

    def rollup(
        self,
        data: Any,
        by: Iterable[str] | str,
        metrics: Iterable[str] | None = None,
        *,
        order_by: str | None = None,
    ) -> Any:
        """Aggregate leaves per group by their declared aggregation, then recompute metrics."""
        from kpitree.adapters.frames import rollup

        return rollup(self, data, by, metrics, order_by=order_by)

    def to_sql(
        self,
        metrics: Iterable[str] | None = None,
        table: str = "kpis",
        dialect: str = "duckdb",
        *,
        gradient_of: str | None = None,
        group_by: Iterable[str] | str | None = None,
        order_by: str | None = None,
        columns: Iterable[str] | None = None,
        pretty: bool = True,
    ) -> str:
        """Return a SELECT computing the metrics from a table of leaf columns."""
        from kpitree.adapters.sql import to_sql

        return to_sql(
            self,
            metrics,
            table=table,
            dialect=dialect,
            gradient_of=gradient_of,
            group_by=group_by,
            order_by=order_by,
            columns=columns,
            pretty=pretty,
        )

    def evaluate_sql(
        self,
        con_or_path: Any,
        table: str = "kpis",
        metrics: Iterable[str] | None = None,
        *,
        group_by: Iterable[str] | str | None = None,
        order_by: str | None = None,
    ) -> Any:
        """Run the tree's SQL in DuckDB on a table of leaf columns; return a pandas DataFrame."""
        from kpitree.adapters.sql import evaluate_sql

        return evaluate_sql(self, con_or_path, table, metrics, group_by=group_by, order_by=order_by)

    # -- model files (kpitree.adapters.model) ----------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tree:
        """Build a tree from the model-file schema (kpis, inputs, metrics)."""
        from kpitree.adapters.model import from_dict

        return from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """Return the tree in the model-file schema; `Tree.from_dict` reads it back."""
        from kpitree.adapters.model import to_dict

        return to_dict(self)

    def dumps(self, format: str = "yaml") -> str:  # noqa: A002 - the model-file format name
        """Return the tree as model-file text (`yaml`, `toml` or `json`)."""
        from kpitree.adapters.model import dumps

        return dumps(self, format=format)

    def dump(self, path: Any) -> Any:
        """Write the tree to a model file; the format follows the file's extension."""
        from kpitree.adapters.model import dump

        return dump(self, path)

    # -- pictures (kpitree.adapters.diagrams, .html) ---------------------------------------------

    def to_mermaid(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        scenario: Any = None,
        direction: str = "TD",
    ) -> str:
        """Return a Mermaid flowchart of the tree; `scenario` draws each node's change on it."""
        from kpitree.adapters.diagrams import to_mermaid

        return to_mermaid(self, values, scenario=scenario, direction=direction)

    def to_dot(self, values: Mapping[str, Any] | None = None, *, scenario: Any = None) -> str:
        """Return a Graphviz DOT digraph of the tree; `scenario` draws each node's change on it."""
        from kpitree.adapters.diagrams import to_dot

        return to_dot(self, values, scenario=scenario)

    def latex(self, name: str | None = None, *, expand: bool = False) -> str:
        """Return LaTeX for a metric's formula (`name = ...`), or for every metric."""
        from kpitree.adapters.html import latex

        return latex(self, name, expand=expand)

    def _repr_html_(self) -> str:
        from kpitree.adapters.html import tree_html

        return tree_html(self)

    def _repr_latex_(self) -> str | None:
        from kpitree.adapters.html import tree_latex

        return tree_latex(self)

    def _repr_markdown_(self) -> str:
        from kpitree.adapters.html import tree_markdown

        return tree_markdown(self)

    # -- value semantics and display -----------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tree):
            return NotImplemented
        return self._nodes == other._nodes and self._roots == other._roots

    def __hash__(self) -> int:
        return hash((self._roots, frozenset(self._nodes.items())))

    def __repr__(self) -> str:
        roots = ", ".join(self._roots)
        return f"<Tree roots=[{roots}] {len(self.metrics)} metrics, {len(self.leaves)} leaves>"

    def __str__(self) -> str:
        from kpitree.adapters.text import render_tree

        return render_tree(self)


def _flatten(nodes: Iterable[Any]) -> Iterator[Node]:
    for item in nodes:
        if isinstance(item, Node):
            yield item
        elif isinstance(item, Tree):
            yield from item
        elif isinstance(item, Iterable) and not isinstance(item, str | bytes):
            yield from _flatten(item)
        else:
            raise ValueTypeError(
                f"a Tree is made of KPI, Input and Metric nodes, got {type(item).__name__}"
            )


def _child_names(node: Node) -> tuple[str, ...]:
    if isinstance(node, Metric):
        return tuple(r.name for r in refs(node.formula))
    return ()


def _collect(given: list[Node], problems: list[KPITreeError]) -> dict[str, Node]:
    """Gather every node reachable from `given` by name, noting names bound twice."""
    by_name: dict[str, Node] = {}
    clashes: set[str] = set()
    stack = list(reversed(given))
    while stack:
        node = stack.pop()
        known = by_name.get(node.name)
        if known is not None:
            if known is not node and known != node and node.name not in clashes:
                clashes.add(node.name)
                problems.append(_clash(known, node))
            continue
        by_name[node.name] = node
        if isinstance(node, Metric):
            stack.extend(r.node for r in reversed(refs(node.formula)) if r.node is not None)
    return by_name


def _clash(first: Node, second: Node) -> KPITreeError:
    fields = [
        f
        for f in ("kind", "formula", "owner", "horizon", "value", "unit", "norm", "bounds")
        if getattr(first, f, None) != getattr(second, f, None)
    ]
    differ = ", ".join(fields) or "other fields"
    return ValueTypeError(
        f"two different nodes are named `{first.name}` (they differ in {differ})",
        hint="give each node its own name, or use one node object in both places",
        names=[first.name],
    )


def _undefined(
    by_name: dict[str, Node], children: dict[str, tuple[str, ...]]
) -> list[KPITreeError]:
    problems: list[KPITreeError] = []
    for name, kids in children.items():
        missing = [k for k in kids if k not in by_name]
        if not missing:
            continue
        metric = by_name[name]
        assert isinstance(metric, Metric)
        for ref in refs(metric.formula):
            if ref.name not in missing:
                continue
            source = metric.text if ref.span is not None else None
            problems.append(
                UnknownNameError(
                    f"metric `{name}` uses `{ref.name}`, which no node defines",
                    hint=did_you_mean(ref.name, by_name)
                    or f"add a KPI, Input or Metric named `{ref.name}` to the tree",
                    names=[name, ref.name],
                    source=source,
                    span=ref.span if source is not None else None,
                )
            )
    return problems


def _cycles(children: dict[str, tuple[str, ...]]) -> list[KPITreeError]:
    """Find the loops in the graph, one error per loop, without recursion."""
    problems: list[KPITreeError] = []
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    for start in children:
        if state.get(start):
            continue
        path: list[str] = []
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(children[start]))]
        state[start] = 1
        path.append(start)
        while stack:
            name, kids = stack[-1]
            kid = next(kids, None)
            if kid is None:
                stack.pop()
                path.pop()
                state[name] = 2
            elif state.get(kid) == 1:
                loop = [*path[path.index(kid) :], kid]
                problems.append(
                    CycleError(
                        f"metrics depend on each other in a loop: {' → '.join(loop)}",
                        hint="a metric cannot be computed from itself; break the loop by "
                        "making one of them a KPI or an Input",
                        names=loop[:-1],
                    )
                )
            elif not state.get(kid):
                state[kid] = 1
                path.append(kid)
                stack.append((kid, iter(children[kid])))
    return problems


def _orders(roots: list[str], children: dict[str, tuple[str, ...]]) -> tuple[list[str], list[str]]:
    """Return (pre-order from the roots, post-order = children before parents)."""
    pre: list[str] = []
    post: list[str] = []
    seen: set[str] = set()
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        pre.append(root)
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(children[root]))]
        while stack:
            name, kids = stack[-1]
            kid = next(kids, None)
            if kid is None:
                stack.pop()
                post.append(name)
            elif kid not in seen:
                seen.add(kid)
                pre.append(kid)
                stack.append((kid, iter(children[kid])))
    return pre, post


# -- units ---------------------------------------------------------------------------------

_NUMBER = "number"  # a constant takes the unit of whatever it is combined with


def _check_units(tree: Tree) -> list[KPITreeError]:
    """Derive each metric's unit from its formula; note clashes. Fills `tree._units`."""
    problems: list[KPITreeError] = []
    found: dict[str, Unit | None] = {}
    for name in tree._topo:
        node = tree._nodes[name]
        if not isinstance(node, Metric):
            found[name] = node.unit
            continue
        where = f"metric `{name}` = {format_expr(node.formula)}"
        try:
            derived = _derive(node.formula, found)
        except UnitError as exc:
            problems.append(exc.located(where))
            found[name] = node.unit
            continue
        declared = node.unit
        if isinstance(derived, Unit) and declared and not derived.same_dimension(declared):
            hint = _units.spelling_hint(declared, derived) or (
                f'declare unit="{derived}", or check the formula'
            )
            problems.append(
                UnitError(
                    f"metric `{name}` is declared in `{declared}` but its formula gives "
                    f"`{derived}`",
                    where=where,
                    hint=hint,
                    names=[name],
                )
            )
        found[name] = node.unit or (derived if isinstance(derived, Unit) else None)
    tree._units = found
    return problems


def _derive(expr: Expr, found: Mapping[str, Unit | None]) -> Unit | str | None:
    """Return the unit of `expr`: a Unit, `_NUMBER` for constants, or None when unknown."""
    if isinstance(expr, Const):
        return _NUMBER
    if isinstance(expr, Ref):
        return found.get(expr.name)
    if isinstance(expr, Pow):
        base = _derive(expr.base, found)
        if base is None or base == _NUMBER:
            return base
        assert isinstance(base, Unit)
        exponent = _exponent(expr.exponent)
        return _units.power(base, exponent)
    if isinstance(expr, Neg):
        return _derive(expr.operand, found)
    if isinstance(expr, Add | Sub | Mul | Div | Call):
        parts = [
            _derive(e, found)
            for e in (
                expr.terms
                if isinstance(expr, Add)
                else expr.factors
                if isinstance(expr, Mul)
                else expr.args
                if isinstance(expr, Call)
                else (expr.left, expr.right)
            )
        ]
        if any(p is None for p in parts):
            return None
        known = [p for p in parts if isinstance(p, Unit)]
        if isinstance(expr, Add | Sub):
            op = "+" if isinstance(expr, Add) else "-"
            return _fold(known, lambda a, b: _units.add(a, b, op=op))
        if isinstance(expr, Mul):
            return _fold(known, _units.multiply)
        if isinstance(expr, Div):
            left, right = parts
            left_unit = left if isinstance(left, Unit) else _units.DIMENSIONLESS
            if isinstance(right, Unit):
                return _units.divide(left_unit, right)
            return left
        assert isinstance(expr, Call)
        if not known:
            return _NUMBER
        return _units.function(expr.func, known)
    raise TypeError(repr(expr))  # pragma: no cover


def _fold(known: list[Unit], op: Any) -> Unit | str:
    if not known:
        return _NUMBER
    result = known[0]
    for unit in known[1:]:
        result = op(result, unit)
    return result


def _exponent(expr: Expr) -> Fraction | None:
    try:
        value = constant_value(expr)
    except (ArithmeticError, ValueError):
        return None
    if value is None or not math.isfinite(value):
        return None
    return Fraction(value).limit_denominator(1000)

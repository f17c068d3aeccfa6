"""The validated graph: every node of a tree, its edges, orders and units.

`Graph(*nodes)` collects every node reachable from the nodes given, resolves names used in
formula text, and checks the whole: names bound twice, names never defined, cycles,
units. Every problem is reported at once. Every layer above works on a `Graph`; the
public `kpitree.Tree` (in `kpitree.tree`) is a `Graph` with the analyses as methods.

A graph is immutable, so what is derived from it (compiled code, plans, subtrees) is
kept in its cache under a typed `CacheKey`, the one way layers above store such things.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from fractions import Fraction
from typing import Any, Generic, Self, TypeVar

import attrs

from kpitree import i18n
from kpitree.errors import (
    ArgumentError,
    CycleError,
    DuplicateNameError,
    KindError,
    KPITreeError,
    UnitError,
    UnknownNameError,
    ValueTypeError,
    did_you_mean,
    quoted,
    quoted_name,
)
from kpitree.i18n import N_, _
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
    children,
    constant_value,
    format_expr,
    refs,
)
from kpitree.model import units as _units
from kpitree.model.nodes import (
    KPI,
    Direction,
    Input,
    Leaf,
    Metric,
    Node,
    implied_direction,
    raise_all,
)
from kpitree.model.numbers import format_number, to_number
from kpitree.model.render import Shown, render
from kpitree.model.spelling import warn_spellings as _warn_spellings
from kpitree.model.units import Unit

__all__ = ["CacheKey", "Graph", "reach"]

T = TypeVar("T")


@attrs.frozen(eq=False)
class CacheKey(Generic[T]):
    """A typed key for things derived from a graph: `graph.cached(KEY, build)` gives a `T`.

    Keys compare by identity, so two modules can never collide on a name; `what` is only
    for reading. Declare one key per derived thing, next to the code that builds it.
    """

    what: str


_KPIS: CacheKey[tuple[KPI, ...]] = CacheKey("the KPIs in tree order")
_INPUTS: CacheKey[tuple[Input, ...]] = CacheKey("the inputs in tree order")
_LEAVES: CacheKey[tuple[Leaf, ...]] = CacheKey("the leaves in tree order")
_METRICS: CacheKey[tuple[Metric, ...]] = CacheKey("the metrics in tree order")


class Graph(Shown):
    """A metric tree's nodes and how they connect, validated as a whole.

    The container the layers below `kpitree.Tree` work on; a `Tree` is a Graph with the
    analyses as methods, and its docstring gives the arguments and the errors.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> graph = Graph(*qualified_leads().roots)
        >>> graph.names, [p.name for p in graph.parents("leads")]
        (('qualified_leads', 'leads', 'lead_to_ql'), ['qualified_leads'])
    """

    __slots__ = (
        "_cache",
        "_children",
        "_description",
        "_locale",
        "_nodes",
        "_order",
        "_parents",
        "_roots",
        "_topo",
        "_units",
    )

    _nodes: dict[str, Node]
    _order: tuple[str, ...]
    _topo: tuple[str, ...]
    _roots: tuple[str, ...]
    _children: dict[str, tuple[str, ...]]
    _parents: dict[str, tuple[str, ...]]
    _units: dict[str, Unit | None]
    _cache: dict[CacheKey[Any], Any]
    _description: str | None
    _locale: str | None

    def __init__(
        self,
        *nodes: Node | Graph | Iterable[Node],
        description: str | None = None,
        locale: str | None = None,
    ) -> None:
        self._description, self._locale = _about(description, locale)
        self._check_and_setup(list(_flatten(nodes)))
        kpis = self.kpis
        _warn_spellings(self._order, [r for k in kpis for r in (k.owner, *k.influenced_by)])

    def _check_and_setup(self, given: list[Node]) -> None:
        if not given:
            raise ArgumentError(_("a Tree needs at least one node"), hint="kt.Tree(top_metric)")
        problems: list[KPITreeError] = []
        by_name, children = _collect(given, problems)
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
    def _build(cls, nodes: dict[str, Node], like: Graph) -> Self:
        """Make a graph of the same shape as `like` with some nodes replaced (no re-checks)."""
        tree = object.__new__(cls)
        tree._nodes = nodes
        for slot in (
            *("_order", "_topo", "_roots", "_children", "_parents", "_units"),
            *("_description", "_locale"),
        ):
            setattr(tree, slot, getattr(like, slot))
        tree._cache = {}
        return tree

    @classmethod
    def _adopt(cls, graph: Graph) -> Self:
        """Return `graph` as an instance of `cls` (the `Tree` facade), without re-checks."""
        return cls._build(graph._nodes, graph)

    def _setup(
        self, by_name: dict[str, Node], children: dict[str, tuple[str, ...]], first: list[str]
    ) -> None:
        parents: dict[str, list[str]] = {name: [] for name in by_name}
        for name, kids in children.items():
            for kid in kids:
                parents[kid].append(name)
        # Given roots first, in the order given, then the others (a dict keeps both orders
        # without a search of the list for each name).
        ordered = dict.fromkeys(n for n in first if not parents[n])
        ordered.update(dict.fromkeys(n for n in by_name if not parents[n]))
        roots = list(ordered)
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

    def _unknown(self, name: object, role: str = N_("node")) -> UnknownNameError:
        # `role` is an N_-marked noun phrase ("leaf", "metric"), translated here.
        return UnknownNameError(
            _("the tree has no {role} {name}").format(role=_(role), name=quoted_name(name)),
            hint=did_you_mean(str(name), self._nodes),
            names=[str(name)],
        )

    @property
    def description(self) -> str | None:
        """The tree's description as written (a model file's top-level `description`), or None.

        Like the locale it is about the tree, not part of it: equality ignores both.
        """
        return self._description

    @property
    def locale(self) -> str | None:
        """The locale the model is written for (`locale: ru` in a model file), or None.

        Examples:
            >>> from kpitree.examples import qualified_leads
            >>> Graph(*qualified_leads().roots, locale="ru_RU").locale
            'ru'
        """
        return self._locale

    @property
    def names(self) -> tuple[str, ...]:
        """Every node's name, roots first, each before the nodes it uses."""
        return self._order

    @property
    def kpis(self) -> tuple[KPI, ...]:
        """The KPIs, in tree order."""
        return self.cached(
            _KPIS, lambda: tuple(n for n in self._nodes.values() if isinstance(n, KPI))
        )

    @property
    def inputs(self) -> tuple[Input, ...]:
        """The inputs (leaves nobody on the team controls), in tree order."""
        return self.cached(
            _INPUTS, lambda: tuple(n for n in self._nodes.values() if isinstance(n, Input))
        )

    @property
    def leaves(self) -> tuple[Leaf, ...]:
        """KPIs and inputs, in tree order."""
        # Cached: read on every evaluation with new values, every gradient, every attribution.
        return self.cached(
            _LEAVES, lambda: tuple(n for n in self._nodes.values() if isinstance(n, Leaf))
        )

    @property
    def metrics(self) -> tuple[Metric, ...]:
        """The derived nodes, in tree order."""
        return self.cached(
            _METRICS, lambda: tuple(n for n in self._nodes.values() if isinstance(n, Metric))
        )

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
        cache = self.cached(_DEPENDS_ON, dict)
        found = cache.get(name)
        if found is None:
            seen = reach(name, self._children)
            found = cache[name] = tuple(n for n in reversed(self._topo) if n in seen)
        return found

    def unit(self, name: str) -> Unit | None:
        """Return the unit of a node: declared, or derived from its formula (None if unknown)."""
        self[name]
        return self._units.get(name)

    def direction(self, name: str) -> Direction | None:
        """Return which way node `name` is better: `"higher"`, `"lower"`, or None.

        The node's own `direction` if given; else its norm's (`>=` higher, `<=` lower); else
        higher, so that a drop of revenue is bad news. A range norm says neither way (both
        can leave it): None unless the node gives one. Every colouring of a good or bad move
        (text, HTML, charts, diagrams, the explorer) asks this.

        Examples:
            >>> from kpitree.examples import saas_mrr
            >>> tree = saas_mrr()
            >>> tree.direction("churn_rate"), tree.direction("mrr")
            ('lower', 'higher')
        """
        node = self[name]
        given: Direction | None = getattr(node, "direction", None)
        if given is not None:
            return given
        norm = getattr(node, "norm", None)
        return "higher" if norm is None else implied_direction(norm)

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
                _("values must be a mapping of leaf names to numbers, got {type}").format(
                    type=type(values).__name__
                )
            )
        problems: list[KPITreeError] = []
        out: dict[str, float] = {}
        for name, value in values.items():
            node = self._nodes.get(name)
            if node is None:
                problems.append(self._unknown(name, N_("leaf")))
            elif isinstance(node, Metric):
                problems.append(
                    KindError(
                        _(
                            "`{name}` is a metric, computed from its formula; it cannot be set"
                        ).format(name=name),
                        hint=_(
                            "to find the leaf value that gives {name} a target, use {call}"
                        ).format(name=name, call=f"tree.solve({name!r}, target, vary=...)"),
                        names=[name],
                    )
                )
            elif type(value) is float and value - value == 0.0:
                out[name] = value  # a finite float, the common case: no message to prepare
            else:
                try:
                    out[name] = to_number(value, what=_("value of {name}").format(name=f"`{name}`"))
                except KPITreeError as exc:
                    problems.append(exc)
        raise_all(problems)
        return out

    def with_values(self, values: Mapping[str, Any]) -> Self:
        """Return a tree whose leaves default to the given values.

        Examples:
            >>> from kpitree.examples import qualified_leads
            >>> qualified_leads().with_values({"leads": 1200}).evaluate()["qualified_leads"]
            960.0
        """
        nodes = dict(self._nodes)
        for name, value in self.check_values(values).items():
            nodes[name] = nodes[name].replace(value=value)
        return self._build(nodes, self)

    def subtree(self, metric: str) -> Self:
        """Return the graph of `metric` and everything it depends on (cached).

        Examples:
            >>> from kpitree.examples import sales_revenue
            >>> sales_revenue().subtree("purchases").names
            ('purchases', 'calls', 'managers', 'calls_per_day', 'working_days', 'call_to_purchase')
        """
        cache = self.cached(_SUBTREES, dict)
        found = cache.get(metric)
        if found is None:
            names = self.depends_on(metric)
            whole = len(names) == len(self._nodes)
            if whole:
                found = self
            else:
                # Checked again (units differ for a part), but not warned again: the spellings
                # of a part were already reported for the whole.
                found = object.__new__(type(self))
                found._description, found._locale = None, self._locale
                found._check_and_setup([self._nodes[n] for n in names])
            cache[metric] = found
        return found

    def cached(self, key: CacheKey[T], build: Callable[[], T]) -> T:
        """Return what `key` names for this graph, built by `build()` on first use.

        Safe from several threads without a lock: two threads may both build on a first
        use, but `dict.setdefault` is atomic, so one result is kept and both callers get
        that one (a cache that is filled in later, like a dict per name, is never lost).
        What is cached depends only on the graph, so either build is right.
        """
        try:
            return self._cache[key]
        except KeyError:
            return self._cache.setdefault(key, build())

    # -- value semantics and display -----------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Graph):
            return NotImplemented
        return self._nodes == other._nodes and self._roots == other._roots

    def __hash__(self) -> int:
        return hash((self._roots, frozenset(self._nodes.items())))

    def __repr__(self) -> str:
        roots = ", ".join(self._roots)
        return f"<Tree roots=[{roots}] {len(self.metrics)} metrics, {len(self.leaves)} leaves>"

    def __str__(self) -> str:
        return str(render(self, "text"))


def _about(description: object, locale: object) -> tuple[str | None, str | None]:
    """Check a tree's description and locale; the locale as `kpitree.i18n.parse` names it."""
    if description is not None and not isinstance(description, str):
        raise ValueTypeError(
            _("a tree's description must be text, got {value}").format(value=quoted(description)),
            hint=_("e.g. {example}").format(example='description="Qualified leads, by owner"'),
        )
    return description, None if locale is None else i18n.parse(locale)


_DEPENDS_ON: CacheKey[dict[str, tuple[str, ...]]] = CacheKey("depends_on")
_SUBTREES: CacheKey[dict[str, Any]] = CacheKey("subtrees")


def _flatten(nodes: Iterable[Any]) -> Iterator[Node]:
    for item in nodes:
        if isinstance(item, Node):
            yield item
        elif isinstance(item, Graph):
            yield from item
        elif isinstance(item, Iterable) and not isinstance(item, str | bytes):
            yield from _flatten(item)
        else:
            raise ValueTypeError(
                _("a Tree is made of KPI, Input and Metric nodes, got {type}").format(
                    type=type(item).__name__
                )
            )


def reach(start: str, edges: Mapping[str, Iterable[str]]) -> set[str]:
    """Return `start` and every name reached from it along `edges`, without recursion.

    With a tree's children as the edges that is everything a node is computed from;
    with its parents, everything computed from it.

    Examples:
        >>> sorted(reach("leads", {"leads": ["ql"], "ql": ["revenue"], "revenue": []}))
        ['leads', 'ql', 'revenue']
    """
    seen = {start}
    stack = [start]
    while stack:
        for name in edges[stack.pop()]:
            if name not in seen:
                seen.add(name)
                stack.append(name)
    return seen


def _collect(
    given: list[Node], problems: list[KPITreeError]
) -> tuple[dict[str, Node], dict[str, tuple[str, ...]]]:
    """Gather every node reachable from `given` by name, noting names bound twice.

    Every reference of every formula is followed, not only the first one of each name:
    `KPI("a", owner="x") * KPI("a", owner="y")` holds two different nodes named `a`. One
    node object reached twice (a diamond), or two equal copies, is one node. Returns the
    nodes by name, and the names each one's formula uses (first use of each, in formula
    order), found in the same walk.
    """
    by_name: dict[str, Node] = {}
    uses: dict[str, tuple[str, ...]] = {}
    origin: dict[str, str | None] = {}  # the metric whose formula held a node; None: given
    walked: set[int] = set()  # ids of node objects whose formulas were followed
    clashes: set[str] = set()
    stack: list[tuple[Node, str | None]] = [(node, None) for node in reversed(given)]
    while stack:
        node, where = stack.pop()
        name = node.name
        known = by_name.get(name)
        if known is None:
            by_name[name] = known = node
            origin[name] = where
        elif known is not node and known != node:
            if name not in clashes:
                clashes.add(name)
                problems.append(_clash(known, _origin(origin[name]), node, _origin(where)))
            continue
        # An equal copy is walked too: metrics compare formulas by name, so its nodes may
        # differ from the first copy's.
        if isinstance(node, Metric) and id(node) not in walked:
            walked.add(id(node))
            found = _refs_in_order(node.formula)
            if known is node:
                uses[name] = tuple(dict.fromkeys([r.name for r in found]))
            kids = [r.node for r in found if isinstance(r.node, Node)]
            stack.extend((kid, name) for kid in reversed(kids))
    return by_name, {name: uses.get(name, ()) for name in by_name}


def _refs_in_order(formula: Expr) -> list[Ref]:
    """Every `Ref` of a formula, left to right: `walk` without a generator, for speed."""
    found: list[Ref] = []
    stack = [formula]
    while stack:
        expr = stack.pop()
        if isinstance(expr, Ref):
            found.append(expr)
        elif not isinstance(expr, Const):
            stack.extend(reversed(children(expr)))
    return found


def _origin(metric: str | None) -> str:
    if metric is None:
        return _("given to the Tree")
    return _("in the formula of metric `{name}`").format(name=metric)


_CLASH_FIELDS = ("kind", "formula", "owner", "horizon", "value", "unit", "norm", "bounds")
_A_KIND = {"kpi": N_("a kpi"), "input": N_("an input"), "metric": N_("a metric")}


def _clash(first: Node, first_where: str, second: Node, second_where: str) -> KPITreeError:
    fields = [f for f in _CLASH_FIELDS if getattr(first, f, None) != getattr(second, f, None)]
    fields = fields or ["description"]  # no shown field differs: what is left is text

    def shown(node: Node) -> str:
        parts = [f"{f} {_field_text(node, f)}" for f in fields if f != "kind"]
        kind = _(_A_KIND[node.kind])
        if not parts:
            return kind
        return _("{kind} with {fields}").format(kind=kind, fields=", ".join(parts))

    return DuplicateNameError(
        _(
            "two different nodes are named `{name}`: {first} ({first_where}) "
            "and {second} ({second_where})"
        ).format(
            name=first.name,
            first=shown(first),
            first_where=first_where,
            second=shown(second),
            second_where=second_where,
        ),
        hint=_("give each node its own name, or use one node object in both places"),
        names=[first.name],
    )


def _field_text(node: Node, field: str) -> str:
    value = getattr(node, field, None)
    if value is None:
        return _("none")
    if isinstance(value, float):
        return format_number(value)
    return quoted(format_expr(value) if field == "formula" else str(value))


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
                    _("metric `{name}` uses `{ref}`, which no node defines").format(
                        name=name, ref=ref.name
                    ),
                    hint=did_you_mean(ref.name, by_name)
                    or _("add a KPI, Input or Metric named `{ref}` to the tree").format(
                        ref=ref.name
                    ),
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
                        _("metrics depend on each other in a loop: {loop}").format(
                            loop=" → ".join(loop)
                        ),
                        hint=_(
                            "a metric cannot be computed from itself; break the loop by "
                            "making one of them a KPI or an Input"
                        ),
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


def _check_units(tree: Graph) -> list[KPITreeError]:
    """Derive each metric's unit from its formula; note clashes. Fills `tree._units`."""
    problems: list[KPITreeError] = []
    found: dict[str, Unit | None] = {}
    for name in tree._topo:
        node = tree._nodes[name]
        if not isinstance(node, Metric):
            found[name] = node.unit
            continue
        try:
            derived = _derive(node.formula, found)
        except UnitError as exc:
            problems.append(exc.located(_unit_where(node)))
            found[name] = node.unit
            continue
        declared = node.unit
        if isinstance(derived, Unit) and declared and not derived.same_dimension(declared):
            hint = _units.spelling_hint(declared, derived) or _(
                "declare {setting}, or check the formula"
            ).format(setting=f'unit="{derived}"')
            problems.append(
                UnitError(
                    _(
                        "metric `{name}` is declared in `{declared}` "
                        "but its formula gives `{derived}`"
                    ).format(name=name, declared=declared, derived=derived),
                    where=_unit_where(node),
                    hint=hint,
                    names=[name],
                )
            )
        found[name] = node.unit or (derived if isinstance(derived, Unit) else None)
    tree._units = found
    return problems


def _unit_where(metric: Metric) -> str:
    # Worded only for a problem: formatting every formula of a large tree costs more
    # than deriving its units.
    return _("metric `{name}` = {formula}").format(
        name=metric.name, formula=format_expr(metric.formula)
    )


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

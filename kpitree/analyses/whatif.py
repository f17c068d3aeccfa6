"""What-if scenarios: change some leaves, see every node before and after.

A change is given per leaf, as a number (the new value) or as text:

| form | meaning | `leads` = 1000 becomes |
|---|---|---|
| `1200`, `"1200"`, `"=1200"` | set the value | 1200 |
| `"80%"`, `"=80%"` | set the value to a fraction | 0.8 |
| `"+10%"`, `"-5%"` | move by a percentage of the current value | 1100, 950 |
| `"+2pp"`, `"-3 п.п."` | move a `%` quantity by percentage points | 80% becomes 82%, 77% |
| `"x1.2"`, `"*1.2"`, `"×1.2"` | multiply | 1200 |
| `"+200"`, `"-200"` | add or subtract | 1200, 800 |

`"+10%"` of a rate of 80% is relative, 88%; percentage points (`pp`, `p.p.`, `п.п.`,
`пп`) add to it, `"+2pp"` giving 82%, and apply to `%` quantities only.
Text with a leading sign is a *change*; a number, or text without a sign, is a *new
value* (so `-5` as a number sets −5, while `"-5"` subtracts 5). A metric cannot be
changed: it follows from its formula (`tree.solve` finds the leaf value that gives a
metric its target). A new value outside a leaf's declared bounds is refused.

Scenarios are cheap: the tree is evaluated once per set of starting values (and kept),
then only the changed leaves' ancestors are recomputed, one compiled line per metric.
`before`, `after`, `delta` and `pct` read from that on access, so a scenario on a tree
of ten thousand leaves costs a few microseconds, whatever part of it is read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from kpitree.engine.incremental import Baseline, baseline
from kpitree.errors import (
    ArgumentError,
    BoundsError,
    KindError,
    KPITreeError,
    MissingValueError,
    UnknownNameError,
    ValueTypeError,
    did_you_mean,
)
from kpitree.i18n import _, ngettext
from kpitree.model.bounds import Bounds
from kpitree.model.graph import CacheKey
from kpitree.model.nodes import Leaf, raise_all
from kpitree.model.numbers import decimal_sign, format_number, to_number
from kpitree.model.render import render
from kpitree.model.results import Result, format_delta, format_value, table

if TYPE_CHECKING:
    from kpitree.model.graph import Graph

__all__ = [
    "CHANGE_FORMS",
    "Baseline",
    "Comparison",
    "NodeMap",
    "Scenario",
    "apply_change",
    "baseline",
    "check_bounds",
    "compare",
    "whatif",
]

CHANGE_FORMS = '1200, "=1200", "80%", "+10%", "-5%", "+2pp", "x1.2", "*1.2", "+200", "-200"'
"""The forms a change (or a relative target) can take, as listed in error messages."""

_CHANGE = re.compile(r"(?P<op>[-+=x×*−]?)\s*(?P<rest>.*)", re.DOTALL)
# Percentage points, as English (pp, p.p.) and Russian (п.п., пп) write them.
_POINTS = re.compile(r"(?P<number>.*?)\s*(?:pp|p\.\s?p\.|п\.\s?п\.|пп)", re.IGNORECASE)


def apply_change(
    change: object, current: float | None, *, what: str, percent: bool | None = None
) -> float:
    """Return the value that `change` gives a quantity whose value is `current`.

    Args:
        change: a number (the new value) or text in one of `CHANGE_FORMS`.
        current: the value before the change; needed by relative forms only.
        what: names the quantity in error messages (`` "`leads`" ``).
        percent: whether the quantity is a `%` one (percentage points apply to those
            only); None when unknown.

    Raises:
        ArgumentError: the change is not one of the forms, or the result is not finite.
        ValueTypeError: a number that is not finite.
        MissingValueError: a relative change of a quantity that has no value.

    Examples:
        >>> [apply_change(c, 1000.0, what="`leads`") for c in (1200, "+10%", "x1.5", "-200")]
        [1200.0, 1100.0, 1500.0, 800.0]
        >>> apply_change("80%", 0.7, what="`rate`")
        0.8
        >>> [round(apply_change(c, 0.8, what="`rate`"), 12) for c in ("+10%", "+2pp", "-3 п.п.")]
        [0.88, 0.82, 0.77]
        >>> apply_change("+10 %%", 1000.0, what="`leads`")
        Traceback (most recent call last):
        ...
        kpitree.errors.ArgumentError: `leads`: cannot read the change '+10 %%' ...
    """
    if not isinstance(change, str):
        return to_number(change, what=what)
    # Text typed once and applied in a loop ("+10%" per scenario) is read once; the key
    # holds what the reading depends on: the kind of quantity and the decimal sign.
    key = (change, percent, decimal_sign() if "," in change else ".")
    read = _READ.get(key)
    if read is None:
        read = _read_change(change, what=what, percent=percent)
        if len(_READ) < _MAX_READ:
            _READ[key] = read
    op, number = read
    if op == "=":
        return number
    if current is None:
        raise MissingValueError(
            _("{what} has no value to apply the change {change} to").format(
                what=what, change=repr(change)
            ),
            hint=_("give its value in values=..., or set a new value (=1200)"),
        )
    if op == "*":
        result = current * number
    elif op == "%":
        result = current * (1 + number)
    else:
        result = current + number
    if not math.isfinite(result):
        raise ArgumentError(
            _("{what}: the change {change} leaves the float range").format(
                what=what, change=repr(change)
            )
        )
    return result


_READ: dict[tuple[str, bool | None, str], tuple[str, float]] = {}
"""Changes read before: `(op, number)`, op `=` (set), `*`, `%` (relative) or `+` (add, the
number signed). Bounded; only successful reads."""

_MAX_READ = 4096


def _read_change(change: str, *, what: str, percent: bool | None) -> tuple[str, float]:
    """Read a change given as text into `(op, number)` (see `_READ`), or raise."""
    match = _CHANGE.fullmatch(change.strip())
    assert match is not None  # the pattern matches any text
    op, rest = match["op"], match["rest"].strip()
    if op == "x" and rest[:1].isalpha():  # "xyz" is not a multiplication
        op, rest = "", change.strip()
    if not rest or rest[0] in "+-−=x×*":
        raise _bad_change(change, what)
    points = _POINTS.fullmatch(rest)
    if points:
        if op not in ("+", "-", "−"):
            raise ArgumentError(
                _("{what}: percentage points {change} can only be added or subtracted").format(
                    what=what, change=repr(change)
                ),
                hint=_("write +{number}pp to add them, or the value as a percentage").format(
                    number=points["number"]
                ),
            )
        if percent is False:
            raise ArgumentError(
                _("{what}: percentage points {change} apply to a `%` quantity only").format(
                    what=what, change=repr(change)
                ),
                hint=_('change it by a percentage ("+10%") or by an amount ("+200")'),
            )
        rest = points["number"] + "%"  # a point is one percent of the whole, added
    try:
        number = to_number(rest, what=what)
    except ValueTypeError:
        raise _bad_change(change, what) from None
    if op in ("", "="):
        return "=", number
    if op in ("x", "×", "*"):
        return "*", number
    sign = 1.0 if op == "+" else -1.0
    relative = rest.endswith("%") and not points
    return ("%" if relative else "+"), sign * number


def _bad_change(change: str, what: str) -> ArgumentError:
    shown = change if len(change) <= 40 else change[:37] + "..."
    return ArgumentError(
        _("{what}: cannot read the change {change}").format(what=what, change=repr(shown)),
        hint=_("write a number or one of {forms}").format(forms=CHANGE_FORMS),
    )


# -- the incremental engine ----------------------------------------------------------------------


# -- scenarios -----------------------------------------------------------------------------------


class NodeMap(Mapping[str, Any], Result):
    """A read-only mapping over every node of a tree, each value computed on access.

    `before`, `after`, `delta` and `pct` of a `Scenario` are NodeMaps: reading one
    node costs a dictionary lookup or two, whatever the size of the tree.
    """

    __slots__ = ("_get", "_percent", "_tree")

    def __init__(self, tree: Graph, get: Callable[[str], Any], *, percent: bool = False) -> None:
        self._tree = tree
        self._get = get
        self._percent = percent

    def __getitem__(self, name: str) -> Any:
        # An unhashable key names no node; UnknownNameError is the KeyError `in` expects.
        if not isinstance(name, str) or name not in self._tree._nodes:
            raise self._tree._unknown(name)
        return self._get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._tree.names)

    def __len__(self) -> int:
        return len(self._tree)

    def __repr__(self) -> str:
        return f"NodeMap({self.to_dict()!r})"

    def _text(self, name: str) -> str:
        value = self._get(name)
        if self._percent:
            return "—" if value is None else format_number(value, percent=True)
        return format_value(value, self._tree, name)

    def __str__(self) -> str:
        width = max((len(n) for n in self._tree.names), default=0)
        return "\n".join(f"{n.ljust(width)}  {self._text(n)}" for n in self._tree.names)

    def to_dict(self) -> dict[str, Any]:
        """Return `{name: value}` (None where a value does not exist)."""
        return {n: self._get(n) for n in self._tree.names}

    def rows(self) -> list[dict[str, Any]]:
        """Return one record per node: name, kind and value."""
        return [
            {"name": n, "kind": self._tree[n].kind, "value": v} for n, v in self.to_dict().items()
        ]


def _relative(before: float, after: float) -> float | None:
    delta = after - before
    if before == 0:
        return 0.0 if delta == 0 else None
    return delta / abs(before)


@attrs.frozen(repr=False)
class Scenario(Result):
    """Every node of a tree before and after some leaves change.

    Attributes:
        changes: the new value of each changed leaf.
        requested: each change as it was given (`"+10%"`, `1200`), for display.
        name: the scenario's name, if it has one (shown by `compare`).
        before, after: values of every node (`NodeMap`s).
        delta: `after - before` per node.
        pct: the relative change `(after - before) / |before|` per node, as a fraction
            (0.1 is +10%); 0.0 when both are 0, None when only `before` is 0 (no
            relative change exists). Dividing by `|before|` keeps the sign of the
            change: a loss that grows from −100 to −150 is −50%.
    """

    tree: Graph = attrs.field(eq=False)
    changes: Mapping[str, float]
    requested: Mapping[str, Any]
    base: Baseline = attrs.field(eq=False)
    changed: Mapping[str, float]
    name: str | None = None

    def _after(self, name: str) -> float:
        value = self.changed.get(name)
        return self.base.values[name] if value is None else value

    @property
    def before(self) -> NodeMap:
        """Every node's value before the change."""
        return NodeMap(self.tree, self.base.values.__getitem__)

    @property
    def after(self) -> NodeMap:
        """Every node's value after the change."""
        return NodeMap(self.tree, self._after)

    @property
    def delta(self) -> NodeMap:
        """`after - before` for every node."""
        return NodeMap(self.tree, lambda n: self._after(n) - self.base.values[n])

    @property
    def pct(self) -> NodeMap:
        """The relative change of every node (see the class doc for zero `before`)."""
        return NodeMap(
            self.tree, lambda n: _relative(self.base.values[n], self._after(n)), percent=True
        )

    def moved(self) -> list[str]:
        """Return the nodes whose value changed, biggest relative change first.

        A change from 0 (no relative size) counts as the biggest.
        """
        moved = [n for n, v in self.changed.items() if v != self.base.values[n]]
        position = {n: i for i, n in enumerate(moved)}

        def size(name: str) -> tuple[float, int]:
            pct = _relative(self.base.values[name], self._after(name))
            return (-math.inf if pct is None else -abs(pct), position[name])

        return sorted(moved, key=size)

    def label(self) -> str:
        """Return the scenario's name, or its changes written out (`leads +10%`)."""
        if self.name:
            return self.name
        return ", ".join(f"{n} {_shown(c)}" for n, c in self.requested.items()) or _("no change")

    def plot(self, ax: Any = None) -> Any:
        """Draw the changed nodes' relative changes as bars (matplotlib); return the Axes."""
        return render(self, "plot", ax=ax)

    def to_dict(self) -> dict[str, Any]:
        """Return the changes and, per node, before, after, delta and pct."""
        return {
            "name": self.name,
            "changes": {n: _plain(c) for n, c in self.requested.items()},
            "new_values": dict(self.changes),
            "nodes": self.rows(),
        }

    def rows(self) -> list[dict[str, Any]]:
        """Return one record per node: name, kind, before, after, delta, pct."""
        out = []
        for n in self.tree.names:
            before, after = self.base.values[n], self._after(n)
            out.append(
                {
                    "name": n,
                    "kind": self.tree[n].kind,
                    "before": before,
                    "after": after,
                    "delta": after - before,
                    "pct": _relative(before, after),
                }
            )
        return out

    def __str__(self) -> str:
        moved = self.moved()
        title = _("scenario: {label}").format(label=self.label())
        if not moved:
            return "\n".join([title, _("no node changes")])
        body = []
        for n in moved:
            before, after = self.base.values[n], self._after(n)
            pct = _relative(before, after)
            body.append(
                [
                    n,
                    format_value(before, self.tree, n),
                    "→",
                    format_value(after, self.tree, n),
                    format_delta(after - before, self.tree, n),
                    _("new") if pct is None else format_number(pct, percent=True, signed=True),
                ]
            )
        text = table(body, [_("node"), _("before"), "", _("after"), _("change"), "%"])
        rest = len(self.tree) - len(moved)
        if not rest:
            return f"{title}\n{text}"
        unchanged = ngettext("{n} other node unchanged", "{n} other nodes unchanged", rest)
        return f"{title}\n{text}\n{unchanged.format(n=rest)}"


def _fields_setter() -> Callable[..., Scenario]:
    """Return a maker of `Scenario`s that sets its slots directly.

    The same object `Scenario(...)` makes, without the frozen class's checked `__init__`:
    a scenario is made on every what-if, and its fields are already checked here.
    """
    slots = [Scenario.__dict__[field.name].__set__ for field in attrs.fields(Scenario)]
    tree_, changes_, requested_, base_, changed_, name_ = slots
    new = object.__new__

    def make(
        tree: Graph,
        changes: Mapping[str, float],
        requested: Mapping[str, Any],
        base: Baseline,
        changed: Mapping[str, float],
        name: str | None,
    ) -> Scenario:
        made: Scenario = new(Scenario)
        tree_(made, tree)
        changes_(made, changes)
        requested_(made, requested)
        base_(made, base)
        changed_(made, changed)
        name_(made, name)
        return made

    return make


_scenario = _fields_setter()


def _shown(change: Any) -> str:
    if isinstance(change, str):
        return change.strip()
    return f"= {format_number(float(change))}"


def _plain(change: Any) -> Any:
    return change if isinstance(change, str) else float(change)


def whatif(
    tree: Graph,
    changes: Mapping[str, Any],
    values: Mapping[str, Any] | None = None,
    *,
    name: str | None = None,
) -> Scenario:
    """Return the scenario where some leaves change: every node before and after.

    Args:
        tree: the tree.
        changes: `{leaf: change}`, each change a number or text (see the module doc).
        values: the starting leaf values, overriding the nodes' defaults.
        name: a name for the scenario, shown when scenarios are compared.

    Raises:
        UnknownNameError: a name that is not a node (with a did-you-mean).
        ValueTypeError: a metric in `changes`, a change that cannot be read, or a new
            value outside the leaf's bounds. Every problem is reported at once and
            nothing is applied.
        MissingValueError, EvaluationError: as `evaluate`, before or after the change.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> s = whatif(qualified_leads(), {"leads": "+10%"})
        >>> s.before["qualified_leads"], s.after["qualified_leads"], s.pct["qualified_leads"]
        (800.0, 880.0, 0.1)
        >>> print(s)
        scenario: leads +10%
        node             before      after       change     %
        leads            1,000 lead  →  1,100 lead  +100 lead  +10%
        qualified_leads    800 lead  →    880 lead   +80 lead  +10%
        1 other node unchanged
    """
    if type(changes) is not dict and not isinstance(changes, Mapping):
        raise ValueTypeError(
            _("changes must be a mapping of leaf names to changes, got {type}").format(
                type=type(changes).__name__
            ),
            hint=_("e.g. {example}").format(example='{"leads": "+10%"}'),
        )
    base = baseline(tree, values)
    problems: list[KPITreeError] = []
    new: dict[str, float] = {}
    for leaf, change in changes.items():
        try:
            new[leaf] = _new_value(tree, leaf, change, base)
        except KPITreeError as exc:
            problems.append(exc)
    if problems:
        raise_all(problems)
    changed = base.recompute(new) if new else {}
    return _scenario(tree, new, dict(changes), base, changed, name)


_LEAVES: CacheKey[dict[str, tuple[bool | None, float, float]]] = CacheKey(
    "per leaf: whether it is a % quantity, and its bounds as numbers"
)


_SPANS: CacheKey[dict[str, tuple[float, float]]] = CacheKey("per node: its bounds as numbers")


def _leaf_facts(tree: Graph, name: object) -> tuple[bool | None, float, float]:
    """Return whether leaf `name` is a `%` quantity and its bounds; raise if not a leaf."""
    facts = tree.cached(_LEAVES, dict)
    found = facts.get(name) if isinstance(name, str) else None
    if found is None:
        node = tree._nodes.get(name) if isinstance(name, str) else None
        if node is None:
            raise tree._unknown(name, "leaf")
        if not isinstance(node, Leaf):
            raise KindError(
                _(
                    "`{name}` is a metric, computed from its formula; a what-if changes leaves"
                ).format(name=name),
                hint=_("to find the leaf value that gives {name} a value, use {call}").format(
                    name=name, call=f"tree.solve({name!r}, target, vary=...)"
                ),
                names=[str(name)],
            )
        unit = tree.unit(node.name)
        found = facts.setdefault(
            node.name, (None if unit is None else unit.percent, *Bounds.of(node).span)
        )
    return found


def _new_value(tree: Graph, name: str, change: Any, base: Baseline) -> float:
    percent, low, high = _leaf_facts(tree, name)
    if type(change) is float and change - change == 0.0:
        value = change  # a finite float, the common case: nothing to read
    else:
        value = apply_change(change, base.values[name], what=f"`{name}`", percent=percent)
    if not low <= value <= high:
        check_bounds(tree, name, value)
    return value


def check_bounds(tree: Graph, name: str, value: float) -> None:
    """Refuse a value outside the declared bounds of leaf `name`.

    Raises:
        ValueTypeError: naming the leaf, the value and the bounds.
    """
    spans = tree.cached(_SPANS, dict)
    span = spans.get(name) if isinstance(name, str) else None
    if span is None:
        span = spans.setdefault(name, Bounds.of(tree[name]).span)
    if span[0] <= value <= span[1]:
        return
    bounds = Bounds.of(tree[name])
    if not bounds.contains(value):
        raise BoundsError(
            _("`{name}` would be {value}, outside its bounds {bounds}").format(
                name=name,
                value=format_value(value, tree, name),
                bounds=bounds.format(lambda x: format_value(x, tree, name)),
            ),
            hint=_("bounds are declared on the leaf: change them there if they are wrong"),
            names=[name],
        )


# -- several scenarios side by side --------------------------------------------------------------


@attrs.frozen(repr=False, eq=False)  # a Mapping: equal to the dict of its scenarios
class Comparison(Mapping[str, "Scenario"], Result):
    """Scenarios side by side, from the same starting values (Excel's Scenario Manager).

    A mapping `{scenario name: Scenario}`, in the order given.

    Attributes:
        names: the scenarios' names, in the order given.
        scenarios: the scenarios.
    """

    names: tuple[str, ...]
    scenarios: tuple[Scenario, ...]

    def __getitem__(self, name: str) -> Scenario:
        for label, scenario in zip(self.names, self.scenarios, strict=True):
            if label == name:
                return scenario
        raise UnknownNameError(
            _("there is no scenario `{name}` in this comparison").format(name=name),
            hint=did_you_mean(str(name), self.names),
            names=[str(name)],
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.scenarios)

    def nodes(self) -> list[str]:
        """Return the changed leaves, then the other nodes any scenario moves, in tree order."""
        tree = self.scenarios[0].tree
        leaves = {n for s in self.scenarios for n in s.changes}
        moved = {n for s in self.scenarios for n in s.moved()}
        return [n for n in tree.names if n in leaves] + [
            n for n in tree.names if n in moved and n not in leaves
        ]

    def to_dict(self) -> dict[str, Any]:
        """Return the scenario names and one record per node (before, then each after)."""
        return {"scenarios": list(self.names), "nodes": self.rows()}

    def rows(self) -> list[dict[str, Any]]:
        """Return one record per node: name, before, and the value in each scenario."""
        first = self.scenarios[0]
        out = []
        for n in self.nodes():
            record: dict[str, Any] = {"name": n, "before": first.base.values[n]}
            for label, s in zip(self.names, self.scenarios, strict=True):
                record[label] = s.after[n]
            out.append(record)
        return out

    def __str__(self) -> str:
        tree = self.scenarios[0].tree
        body = []
        for record in self.rows():
            n = record["name"]
            cells = [n, format_value(record["before"], tree, n)]
            for s in self.scenarios:
                after, pct = s.after[n], s.pct[n]
                change = "" if pct == 0 else _("new") if pct is None else (
                    format_number(pct, percent=True, signed=True)
                )  # fmt: skip
                shown = format_value(after, tree, n)
                cells.append(f"{shown} ({change})" if change else shown)
            body.append(cells)
        return table(body, [_("node"), _("current"), *self.names])


def compare(*scenarios: Scenario, names: list[str] | tuple[str, ...] | None = None) -> Comparison:
    """Put scenarios of one tree side by side: current values, then each scenario's.

    Args:
        *scenarios: scenarios from `tree.whatif`, all from the same starting values.
        names: a name per scenario; else each scenario's own name, or its changes.

    Raises:
        ValueTypeError: no scenario, names that do not match, or scenarios of different
            trees or starting values.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> tree = qualified_leads()
        >>> more = tree.whatif({"leads": "+10%"})
        >>> better = tree.whatif({"lead_to_ql": "90%"})
        >>> print(compare(more, better, names=["more leads", "better conversion"]))
        node             current     more leads           better conversion
        leads            1,000 lead  1,100 lead (+10%)    1,000 lead
        lead_to_ql       80%         80%                  90% (+12.5%)
        qualified_leads  800 lead    880 lead (+10%)      900 lead (+12.5%)
    """
    if not scenarios:
        raise ArgumentError(_("compare needs at least one scenario"), hint="compare(s1, s2)")
    for s in scenarios:
        if not isinstance(s, Scenario):
            raise ValueTypeError(
                _("compare takes scenarios from tree.whatif, got {type}").format(
                    type=type(s).__name__
                )
            )
    if names is None:
        labels = tuple(s.label() for s in scenarios)
    else:
        labels = tuple(str(n) for n in names)
        if len(labels) != len(scenarios):
            raise ArgumentError(
                _("{names} name(s) given for {scenarios} scenario(s)").format(
                    names=len(labels), scenarios=len(scenarios)
                )
            )
    first = scenarios[0]
    for s in scenarios[1:]:
        same_tree = s.tree is first.tree or s.tree == first.tree
        if not same_tree or s.base.leaf_values() != first.base.leaf_values():
            raise ArgumentError(
                _("scenarios compared side by side must start from the same tree and values"),
                hint=_("make each with tree.whatif(changes, values) on one tree and one `values`"),
            )
    return Comparison(labels, tuple(scenarios))

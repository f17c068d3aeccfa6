"""The nodes of a metric tree: KPIs (levers with owners), inputs (nobody's lever), metrics.

Nodes are immutable values with structural equality. Each checks its own fields when it
is made and reports every problem of that node at once; a `Tree` then checks how the
nodes fit together.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Final, Literal

import attrs

from kpitree.errors import (
    ArgumentError,
    BoundsError,
    DuplicateNameError,
    KPITreeError,
    ValidationError,
    ValueTypeError,
    did_you_mean,
    quoted,
    raise_all,
)
from kpitree.i18n import N_, _
from kpitree.language.expr import Arithmetic, Expr, Ref, as_expr, check_formula, check_name
from kpitree.language.limits import DEFAULT_LIMITS
from kpitree.language.parser import parse_formula
from kpitree.model.bounds import Bounds
from kpitree.model.distributions import Distribution, as_distribution
from kpitree.model.horizon import Horizon
from kpitree.model.norm import Norm, parse_norm
from kpitree.model.numbers import format_number, to_number
from kpitree.model.units import Unit

__all__ = [
    "DIRECTIONS",
    "KPI",
    "Direction",
    "Input",
    "Leaf",
    "Metric",
    "Node",
    "Standard",
    "implied_direction",
    "node_location",
    "raise_all",
]

Direction = Literal["higher", "lower"]
"""Which way a node's value is better: `"higher"` (revenue) or `"lower"` (cost)."""

DIRECTIONS: Final[tuple[Direction, ...]] = ("higher", "lower")

# Where a node's problems are, by its kind: without a name, and with one.
_WHERE = {
    "KPI": (N_("KPI"), N_("KPI `{name}`")),
    "input": (N_("input"), N_("input `{name}`")),
    "metric": (N_("metric"), N_("metric `{name}`")),
    "standard": (N_("standard"), N_("standard `{name}`")),
}


def node_location(kind: str, name: object) -> str:
    """The location of a `kind` node's problems, in the active locale: ``KPI `leads```."""
    bare, named = _WHERE[kind]
    return _(named).format(name=name) if isinstance(name, str) else _(bare)


_AGGREGATE = re.compile(r"sum|mean|last|min|max|weighted:(?P<weight>\w+)")


@attrs.frozen(init=False)
class Standard:
    """An operational practice that holds a KPI at its norm.

    A plain standard is text ("answer every inbound request within 15 minutes"). A
    measurable one has a `name` and a `norm` (`response_minutes <= 15`), and `tree.status`
    checks it against the value given under that name. Its text defaults to
    `"<name> <norm>"`. Like nodes, a standard checks its fields when it is made and reports
    every problem at once.

    Examples:
        >>> import kpitree as kt
        >>> kt.Standard(name="response_minutes", norm="<= 15").text
        'response_minutes <= 15'
        >>> kt.Standard("call back", norm="<= 15")
        Traceback (most recent call last):
        ...
        kpitree.errors.ArgumentError: standard: a standard with a norm needs a name
        hint: ...
    """

    text: str
    name: str | None = None
    norm: Norm | None = None

    def __init__(
        self, text: str | None = None, name: str | None = None, norm: str | Norm | None = None
    ) -> None:
        problems: list[KPITreeError] = []
        where = ("standard", name)
        checked = _collect(
            problems,
            ("standard", None),
            lambda v: check_name(v, what=N_("a standard's name")),
            name,
            optional=True,
        )
        parsed = _collect(problems, where, _norm, norm, optional=True)
        if (name is None) != (norm is None):
            # status looks a measurement up by the name and checks it against the norm;
            # one without the other would be dropped silently on dump.
            problems.append(
                ArgumentError(
                    _("a standard with a norm needs a name")
                    if name is None
                    else _("a standard with a name needs a norm"),
                    where=node_location(*where),
                    hint=_(
                        "a measurable standard has both: {example}; a plain one is only text"
                    ).format(example='kt.Standard(name="response_minutes", norm="<= 15")'),
                )
            )
        if text is None and checked is not None and parsed is not None:
            text = f"{checked} {parsed}"
        if text is None:
            if name is None and norm is None:
                problems.append(
                    ValueTypeError(
                        _("a standard needs its text"),
                        where=node_location(*where),
                        hint='kt.Standard("answer within 15 minutes")',
                    )
                )
        else:
            _collect(problems, where, lambda v: _text(v, N_("a standard's text")), text)
        raise_all(problems)
        assert text is not None  # else a problem was raised above
        self.__attrs_init__(text, checked, parsed)

    def __str__(self) -> str:
        return self.text


class Node(Arithmetic):
    """Base of KPI, Input and Metric: a named value in the tree."""

    __slots__ = ()
    kind: ClassVar[str]
    name: str
    unit: Unit | None
    description: str

    def _as_expr(self) -> Expr:
        return Ref(self.name, self)

    def replace(self, **changes: Any) -> Any:
        """Return a copy with some fields changed, checked like a new node.

        Examples:
            >>> import kpitree as kt
            >>> kt.KPI("leads", owner="marketing", horizon="1 day", value=1000).replace(
            ...     value=1200).value
            1200.0
        """
        unknown = [key for key in changes if key not in _parameters(type(self).__init__)]
        if unknown:
            fields = _parameters(type(self).__init__)
            raise ArgumentError(
                _("{kind} `{name}` has no field `{field}` to replace").format(
                    kind=type(self).__name__, name=self.name, field=unknown[0]
                ),
                hint=did_you_mean(unknown[0], fields)
                or _("the fields are: {fields}").format(fields=", ".join(fields)),
            )
        return attrs.evolve(self, **self._stale(changes))  # type: ignore[misc]

    def _stale(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Return `changes` with what they make stale reset (a metric's formula text)."""
        return changes


@functools.cache
def _parameters(init: Callable[..., None]) -> tuple[str, ...]:
    """The keywords a node's constructor takes, which are the fields `replace` can change."""
    return tuple(inspect.signature(init).parameters)[1:]  # after `self`


Where = tuple[str, object]
"""A node's problems' location, as `node_location`'s arguments: worded only when needed."""


def _collect(
    problems: list[KPITreeError], where: Where, convert: Any, value: Any, *, optional: bool = False
) -> Any:
    """Run `convert(value)`; on a kpitree error note it (located at `where`) and return None.

    With `optional`, None stays None without calling `convert`.
    """
    if optional and value is None:
        return None
    try:
        return convert(value)
    except KPITreeError as exc:
        problems.append(exc.located(node_location(*where)))
        return None


def _memo(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Cache a parser of immutable values for text input: trees repeat "1 day", ">= 0.8"."""
    cached = functools.lru_cache(maxsize=4096)(parse)
    return lambda value: cached(value) if isinstance(value, str) else parse(value)


_horizon = _memo(Horizon.parse)
_norm = _memo(parse_norm)
_unit = _memo(Unit.parse)


def _bounds(value: Any, what: str) -> Bounds | None:
    if value is None:
        return None
    if type(value) not in (tuple, list) and (
        isinstance(value, str) or not isinstance(value, Iterable)
    ):
        raise ValueTypeError(
            _("bounds must be a pair (low, high), got {value}").format(value=quoted(value)),
            hint=_("use None for an open side: {example}").format(example="bounds=(0, None)"),
        )
    pair = tuple(value)
    if len(pair) != 2:
        raise ValueTypeError(
            _("bounds must be a pair (low, high), got {count} item(s)").format(count=len(pair))
        )
    low, high = (_bound(v, what) for v in pair)
    if low is not None and high is not None and low > high:
        raise ArgumentError(
            _("bounds ({low}, {high}) have low above high").format(
                low=format_number(low), high=format_number(high)
            )
        )
    return Bounds(low, high)


def _bound(value: Any, what: str) -> float | None:
    if value is None:
        return None
    quick = _plain_number(value)
    if quick is not None:
        return quick
    return to_number(value, what=_("a bound of {name}").format(name=what))


def _standards(value: Any) -> tuple[Standard, ...]:
    if isinstance(value, str):
        value = (value,)
    problems: list[KPITreeError] = []
    out: list[Standard] = []

    def make(**fields: Any) -> None:
        try:
            out.append(Standard(**fields))
        except ValidationError as exc:
            problems.extend(exc.problems)
        except KPITreeError as exc:
            problems.append(exc)

    if isinstance(value, Mapping):
        for key, norm in value.items():
            make(name=key, norm=norm)
    elif isinstance(value, Iterable):
        for item in value:
            if isinstance(item, Standard):
                out.append(item)
            elif isinstance(item, str):
                make(text=item)
            else:
                problems.append(
                    ValueTypeError(
                        _("a standard must be text or a kt.Standard, got {value}").format(
                            value=quoted(item)
                        ),
                        hint=_("e.g. {example}").format(
                            example='standards=["call back within 15 minutes"]'
                        ),
                    )
                )
    else:
        raise ValueTypeError(
            _(
                "standards must be text, a list of standards or a mapping of names to norms, "
                "got {value}"
            ).format(value=quoted(value)),
            hint=_("e.g. {example}").format(example='standards={"response_minutes": "<= 15"}'),
        )
    seen: set[str] = set()
    for standard in out:
        if standard.name is not None and standard.name in seen:
            problems.append(
                DuplicateNameError(
                    _("two standards are named `{name}`").format(name=standard.name),
                    hint=_("status looks a measurement up by its name; rename one of them"),
                    names=[standard.name],
                )
            )
        seen.add(standard.name or "")
        seen.discard("")
    raise_all(problems)
    return tuple(out)


def _role(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueTypeError(
            _("a role must be non-empty text, got {value}").format(value=quoted(value)),
            hint=_("e.g. {example}").format(example='"marketing", "sales"'),
        )
    return value.strip()


def _roles(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (_role(value),)
    if not isinstance(value, Iterable) or isinstance(value, Mapping):
        raise ValueTypeError(
            _("influenced_by must be a role or a list of roles, got {value}").format(
                value=quoted(value)
            ),
            hint=_("e.g. {example}").format(example='influenced_by=["sales", "product"]'),
        )
    return tuple(_role(item) for item in value)


def _aggregate(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _AGGREGATE.fullmatch(value.strip()):
        raise ArgumentError(
            _("aggregate {value} is not one of the forms").format(
                value=quoted(value, text_as_repr=True)
            ),
            hint=_(
                'use "sum", "mean", "last", "min", "max" or "weighted:<leaf>" '
                '(a rate weighted by what it is a rate of, e.g. "weighted:leads")'
            ),
        )
    return value.strip()


def _text(value: Any, what: str) -> str:
    """`value` if it is text; `what` is an `N_`-marked phrase, worded only for the error."""
    if not isinstance(value, str):
        raise ValueTypeError(
            _("{what} must be text, got {value}").format(what=_(what), value=quoted(value))
        )
    return value


def _direction(value: Any) -> Direction:
    if isinstance(value, str) and value.strip() in DIRECTIONS:
        return value.strip()  # type: ignore[return-value]
    hint = (did_you_mean(value, DIRECTIONS) if isinstance(value, str) else None) or _(
        'use "higher" (more is better, as for revenue) or "lower" (less is better, as for cost)'
    )
    # Text that is not one of the two words is a wrong value; anything else a wrong type.
    error = ArgumentError if isinstance(value, str) else ValueTypeError
    raise error(
        _("direction {value} is neither `higher` nor `lower`").format(
            value=quoted(value, text_as_repr=True)
        ),
        hint=hint,
    )


def implied_direction(norm: Norm) -> Direction | None:
    """Return the direction a norm implies: `>=` higher, `<=` lower, None for a range.

    Examples:
        >>> from kpitree.model.norm import parse_norm
        >>> [implied_direction(parse_norm(n)) for n in (">= 80%", "<= 15", "5..15")]
        ['higher', 'lower', None]
    """
    return "higher" if norm.sense > 0 else "lower" if norm.sense < 0 else None


def _agreeing(direction: Direction | None, norm: Norm | None, where: Where) -> KPITreeError | None:
    """Return the problem of a direction the norm contradicts (`lower` with `>= 80%`), if any.

    A range norm says neither way, so any direction agrees with it.
    """
    implied = None if norm is None else implied_direction(norm)
    if direction is None or implied is None or implied == direction:
        return None
    return ArgumentError(
        _("direction `{direction}` contradicts the norm `{norm}`").format(
            direction=direction, norm=norm
        ),
        where=node_location(*where),
        hint=_(
            "a `>=` norm means higher is better and a `<=` norm lower is better: "
            "drop `direction` (the norm implies it) or correct the norm"
        ),
    )


def _plain_number(value: Any) -> float | None:
    """The fast cases of `to_number` (a finite float, an int a float holds), else None."""
    kind = type(value)
    if kind is float:
        return value if value - value == 0.0 else None
    if kind is int and -(2**53) <= value <= 2**53:
        return float(value)
    return None


def _empty(value: Any) -> bool:
    """Whether a field is an empty tuple or list, which its check turns into `()`."""
    return type(value) in (tuple, list) and not value


class _Unsure(Exception):
    """A leaf's fields need the careful check, which reports every problem at once."""


def _leaf_fields(kind: str, name: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Check and convert the fields every leaf has; report all problems at once.

    Sound fields are converted in one quick pass (a large model file makes tens of
    thousands of leaves); at the first doubt the careful pass checks them all again and
    collects every problem.
    """
    try:
        return _sound_leaf_fields(kind, name, fields)
    except (KPITreeError, _Unsure):
        return _checked_leaf_fields(kind, name, fields)


def _sound_leaf_fields(kind: str, name: str, fields: dict[str, Any]) -> dict[str, Any]:
    """`_checked_leaf_fields` for fields without a problem; raises at the first one."""
    name = check_name(name)
    value = fields["value"]
    if value is not None:
        value = _plain_number(value)
        if value is None:
            raise _Unsure
    bounds = fields["bounds"]
    if bounds is not None:
        bounds = _bounds(bounds, f"`{name}`")
        if value is not None and bounds is not None and not bounds.contains(value):
            raise _Unsure
    description = fields["description"]
    if type(description) is not str:
        raise _Unsure
    unit, aggregate, uncertainty = fields["unit"], fields["aggregate"], fields["uncertainty"]
    direction = fields["direction"]
    out = {
        "name": name,
        "value": value,
        "unit": None if unit is None else _unit(unit),
        "bounds": bounds,
        "description": description,
        "aggregate": None if aggregate is None else _aggregate(aggregate),
        "uncertainty": None if uncertainty is None else as_distribution(uncertainty),
        "direction": None if direction is None else _direction(direction),
    }
    if kind == "KPI":
        owner, horizon, norm = fields["owner"], fields["horizon"], fields["norm"]
        roles, standards = fields["influenced_by"], fields["standards"]
        if owner is None or horizon is None:
            raise _Unsure
        out["owner"] = _role(owner)
        out["horizon"] = _horizon(horizon)
        out["norm"] = None if norm is None else _norm(norm)
        out["influenced_by"] = () if _empty(roles) else _roles(roles)
        out["standards"] = () if _empty(standards) else _standards(standards)
        if _agreeing(out["direction"], out["norm"], (kind, name)) is not None:
            raise _Unsure
    return out


def _checked_leaf_fields(kind: str, name: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Check and convert the fields every leaf has, collecting every problem."""
    problems: list[KPITreeError] = []
    where = (kind, name)
    name = _collect(problems, (kind, None), check_name, name)
    what = f"`{name}`"
    out = {
        "name": name,
        "value": _collect(
            problems,
            where,
            lambda v: to_number(v, what=_("value of {name}").format(name=what)),
            fields["value"],
            optional=True,
        ),
        "unit": _collect(problems, where, _unit, fields["unit"], optional=True),
        "bounds": _collect(problems, where, lambda v: _bounds(v, what), fields["bounds"]),
        "description": _collect(
            problems, where, lambda v: _text(v, N_("description")), fields["description"]
        ),
        "aggregate": _collect(problems, where, _aggregate, fields["aggregate"]),
        "uncertainty": _collect(
            problems, where, as_distribution, fields["uncertainty"], optional=True
        ),
        "direction": _collect(problems, where, _direction, fields["direction"], optional=True),
    }
    value, bounds = out["value"], out["bounds"]
    if value is not None and bounds is not None and not bounds.contains(value):
        shown = bounds.format(format_number)
        problems.append(
            BoundsError(
                _("value {value} is outside the bounds {bounds}").format(
                    value=format_number(value), bounds=shown
                ),
                where=node_location(*where),
                names=[name],
            )
        )
    if kind == "KPI":
        for field in ("owner", "horizon"):
            if fields[field] is None:
                problems.append(_missing(name, field))
        out["owner"] = _collect(problems, where, _role, fields["owner"], optional=True)
        out["horizon"] = _collect(problems, where, _horizon, fields["horizon"], optional=True)
        out["norm"] = _collect(problems, where, _norm, fields["norm"], optional=True)
        out["influenced_by"] = _collect(problems, where, _roles, fields["influenced_by"])
        out["standards"] = _collect(problems, where, _standards, fields["standards"])
        contradiction = _agreeing(out["direction"], out["norm"], where)
        if contradiction is not None:
            problems.append(contradiction)
    raise_all(problems)
    return out


def _missing(name: str, field: str) -> KPITreeError:
    reason = {
        "owner": N_(
            "KPI `{name}` has no owner: every KPI needs the role accountable for it, "
            'e.g. owner="marketing"'
        ),
        "horizon": N_(
            "KPI `{name}` has no horizon: every KPI needs how fast the owner can move it, "
            'e.g. horizon="1 day"'
        ),
    }[field]
    return ArgumentError(
        _(reason).format(name=name),
        hint=_("a leaf that nobody on the team controls is a kt.Input"),
        names=[name],
    )


@attrs.frozen(init=False)
class Leaf(Node):
    """Base of KPI and Input: a node with no formula, whose value is given."""

    name: str
    value: float | None = None
    unit: Unit | None = None
    bounds: Bounds | None = None
    description: str = ""
    aggregate: str | None = None
    uncertainty: Distribution | None = None
    direction: Direction | None = None


@attrs.frozen(init=False)
class KPI(Leaf):
    """A leaf an owner moves directly, within the influence horizon.

    Args:
        name: a Unicode identifier (`leads`, `лиды`).
        owner: the role accountable for the KPI (`"marketing"`).
        horizon: how fast the owner can move it (`"1 day"`, `"онлайн"`, a `Horizon`).
        value: the current (default) value; `"80%"` reads as 0.8.
        unit: `"lead"`, `"RUB"`, `"call/day"`, `"%"` (stored as a fraction, shown as %), or
            plural forms `{"one": "лид", "few": "лида", "many": "лидов"}` (`kt.Unit`).
        bounds: `(low, high)`, None for an open side; goal seek stays inside them.
        norm: the threshold that keeps the economics working: `">= 0.8"`, `kt.AtLeast(0.8)`.
        influenced_by: roles with a secondary, indirect effect on the KPI.
        standards: practices that hold the norm: text, or `{name: norm}` to measure them.
        description: free text.
        aggregate: how the KPI combines across rows: `"sum"`, `"mean"`, `"last"`,
            `"weighted:<leaf>"`; None picks a default from the unit.
        uncertainty: a distribution for simulation.
        direction: which way is better, `"higher"` or `"lower"`; None takes it from the
            norm (higher without one). A direction the norm contradicts is refused.

    Examples:
        >>> import kpitree as kt
        >>> rate = kt.KPI("lead_to_ql", owner="sales", horizon="1 день", value="80%",
        ...               unit="%", norm=">= 80%")
        >>> rate.value, str(rate.horizon), str(rate.norm)
        (0.8, '1 день', '>= 80%')
    """

    kind: ClassVar[str] = "kpi"
    owner: str = ""
    horizon: Horizon = attrs.field(default=None)
    norm: Norm | None = None
    influenced_by: tuple[str, ...] = ()
    standards: tuple[Standard, ...] = ()

    def __init__(
        self,
        name: str,
        *,
        owner: str | None = None,
        horizon: str | Horizon | None = None,
        value: Any = None,
        unit: str | Mapping[str, str] | Unit | None = None,
        bounds: Iterable[Any] | None = None,
        norm: str | Norm | None = None,
        influenced_by: Iterable[str] = (),
        standards: Iterable[str | Standard] | Mapping[str, str | Norm] = (),
        description: str = "",
        aggregate: str | None = None,
        uncertainty: Any = None,
        direction: str | None = None,
    ) -> None:
        fields = _leaf_fields("KPI", name, locals())
        self.__attrs_init__(**fields)


@attrs.frozen(init=False)
class Input(Leaf):
    """A leaf nobody on the team controls: market size, seasonality, a price set elsewhere.

    It takes part in formulas but is nobody's lever; attribution reports it under the
    owner label `"external"`. `direction="lower"` says less of it is better (a price paid);
    without it higher is better.

    Examples:
        >>> import kpitree as kt
        >>> kt.Input("market_size", value=2e6).value
        2000000.0
    """

    kind: ClassVar[str] = "input"

    def __init__(
        self,
        name: str,
        *,
        value: Any = None,
        unit: str | Mapping[str, str] | Unit | None = None,
        bounds: Iterable[Any] | None = None,
        description: str = "",
        aggregate: str | None = None,
        uncertainty: Any = None,
        direction: str | None = None,
    ) -> None:
        fields = _leaf_fields("input", name, locals())
        self.__attrs_init__(**fields)

    @property
    def owner(self) -> str:
        """The owner label inputs are reported under."""
        return "external"


@attrs.frozen(init=False)
class Metric(Node):
    """A derived node: a formula of other nodes and numbers.

    Args:
        name: a Unicode identifier.
        formula: an expression built with operators (`leads * rate`), a node, a number,
            or formula text (`"leads * lead_to_ql"`) whose names the `Tree` resolves.
        unit: the declared unit; checked against the unit derived from the formula.
        target: a goal value for the metric.
        norm: a threshold, as for KPIs.
        direction: which way is better, as for KPIs (`"lower"` for a cost).
        description: free text.

    Examples:
        >>> import kpitree as kt
        >>> leads = kt.KPI("leads", owner="marketing", horizon="1 day", value=1000)
        >>> rate = kt.KPI("lead_to_ql", owner="sales", horizon="1 day", value=0.8)
        >>> str(kt.Metric("qualified_leads", leads * rate).formula)
        'leads * lead_to_ql'
    """

    kind: ClassVar[str] = "metric"
    name: str
    formula: Expr
    unit: Unit | None = None
    target: float | None = None
    norm: Norm | None = None
    description: str = ""
    text: str | None = attrs.field(default=None, eq=False, repr=False)
    direction: Direction | None = None

    def __init__(
        self,
        name: str,
        formula: Expr | Node | str | float,
        *,
        unit: str | Mapping[str, str] | Unit | None = None,
        target: Any = None,
        norm: str | Norm | None = None,
        description: str = "",
        text: str | None = None,
        direction: str | None = None,
    ) -> None:
        problems: list[KPITreeError] = []
        where = ("metric", name)
        checked = _collect(problems, ("metric", None), check_name, name)
        if isinstance(formula, str):
            text = formula
            expr = _collect(problems, where, parse_formula, formula)
        else:
            expr = _collect(problems, where, as_expr, formula)
            if expr is not None:
                _collect(problems, where, lambda e: check_formula(e, DEFAULT_LIMITS), expr)
        fields = {
            "name": checked,
            "formula": expr,
            "unit": _collect(problems, where, _unit, unit, optional=True),
            "target": _collect(
                problems,
                where,
                lambda v: to_number(v, what=_("target of {name}").format(name=f"`{name}`")),
                target,
                optional=True,
            ),
            "norm": _collect(problems, where, _norm, norm, optional=True),
            "description": _collect(
                problems, where, lambda v: _text(v, N_("description")), description
            ),
            "text": text,
            "direction": _collect(problems, where, _direction, direction, optional=True),
        }
        contradiction = _agreeing(fields["direction"], fields["norm"], where)
        if contradiction is not None:
            problems.append(contradiction)
        raise_all(problems)
        self.__attrs_init__(**fields)

    def _stale(self, changes: dict[str, Any]) -> dict[str, Any]:
        # The kept text is the formula as written; a new formula brings its own (or none).
        if "formula" in changes and "text" not in changes:
            return {**changes, "text": None}
        return changes

    def __repr__(self) -> str:
        return f"Metric({self.name!r}, {str(self.formula)!r})"

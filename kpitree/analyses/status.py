"""Status against norms and targets: what is below its norm or target, and whose it is.

A norm is a threshold that keeps the economics working (a KPI or metric below it is a
breach); a metric's `target` is a goal. Both are checked, and kept apart in every output:
"below norm" and "below target". A target is reached when the value is at least the target,
or at most it for a node whose direction is `"lower"` (the node's `direction`, else its
norm's; higher when neither says). A value within 1e-9 (relative) of the target reaches
it, so what `solve` and `cascade` give counts as reached.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from kpitree.engine.evaluate import known_values
from kpitree.errors import UnknownNameError, did_you_mean
from kpitree.i18n import _, ngettext
from kpitree.model.nodes import KPI, Direction, Standard
from kpitree.model.norm import Norm
from kpitree.model.numbers import format_number, to_number
from kpitree.model.results import (
    RowTable,
    format_norm,
    format_value,
    norm_mark,
    norm_ok,
    shorten,
    table,
)
from kpitree.model.units import format_change, format_quantity

if TYPE_CHECKING:
    from kpitree.model.graph import Graph

__all__ = ["StandardCheck", "Status", "StatusRow", "split_measurements", "status"]


def status(tree: Graph, values: Mapping[str, Any] | None = None) -> Status:
    """Check every node that has a norm or a target, and every measurable standard of a KPI.

    A KPI with measurable standards but no norm of its own has a row too: its `norm` and
    `ok` are None, and its standards are checked. A metric with a `target` has a row
    with `target_ok` (None when its value is unknown) and `owners`, the owners of the
    KPIs it depends on: whom to ask when it is below target.

    `values` holds leaf values and, for measurable standards, their measurements under
    the standard's name (`"response_minutes"`) or `"<kpi>.<standard>"`. A leaf without a
    value, or a metric that is undefined, has `ok=None`: unknown, not failing.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> s = qualified_leads().status({"lead_to_ql": 0.75, "response_minutes": 12})
        >>> s.ok, [r.name for r in s.failing], s.by_owner
        (False, ['lead_to_ql'], {'sales': ('lead_to_ql',)})

        A metric below its target (`roe` is 15%, its target 20%) is not ok:

        >>> from kpitree.examples import dupont
        >>> s = dupont().status()
        >>> s.ok, [r.name for r in s.below_target], s["roe"].owners
        (False, ['roe'], ('operations', 'sales', 'finance'))
    """
    leaf_values, measured = split_measurements(tree, values or {})
    found = known_values(tree, leaf_values)
    rows = []
    for node in tree:
        norm = getattr(node, "norm", None)
        checks: tuple[StandardCheck, ...] = ()
        if isinstance(node, KPI):
            checks = tuple(_check(node, s, measured) for s in node.standards)
        # A measurable standard has a norm of its own: it is checked even when its KPI has none.
        target = getattr(node, "target", None)
        if norm is None and target is None and not any(s.norm is not None for s in checks):
            continue
        value = found[node.name]
        unknown = math.isnan(value)
        aims: dict[str, Any] = {}
        if target is not None:
            direction = target_direction(tree, node.name)
            aims = {
                "target": target,
                "direction": direction,
                "target_ok": None if unknown else target_met(value, target, direction),
                "target_gap": None if unknown else target_gap(value, target, direction),
                "owners": owner_chain(tree, node.name),
            }
        rows.append(
            StatusRow(
                name=node.name,
                kind=node.kind,
                owner=getattr(node, "owner", None),
                horizon=str(node.horizon) if isinstance(node, KPI) else None,
                value=None if unknown else value,
                norm=norm,
                ok=norm_ok(node, value),
                gap=None if unknown or norm is None else norm.gap(value),
                standards=checks,
                **aims,
            )
        )
    return Status(tuple(rows), tree)


def target_direction(tree: Graph, name: str) -> Direction:
    """Return which way node `name` reaches its target: its direction, higher by default.

    Examples:
        >>> from kpitree.examples import dupont
        >>> target_direction(dupont(), "roe")
        'higher'
    """
    return tree.direction(name) or "higher"


def target_met(value: float, target: float, direction: Direction) -> bool:
    """Return whether `value` reaches `target` (within 1e-9 relative) in `direction`.

    Examples:
        >>> target_met(0.15, 0.2, "higher"), target_met(0.15, 0.2, "lower")
        (False, True)
    """
    if math.isclose(value, target, rel_tol=TARGET_TOLERANCE):
        return True
    return value > target if direction == "higher" else value < target


def target_gap(value: float, target: float, direction: Direction) -> float:
    """Return how far `value` must move to reach `target` (+ up, − down; 0 when reached).

    Examples:
        >>> round(target_gap(0.15, 0.2, "higher"), 6), target_gap(0.25, 0.2, "higher")
        (0.05, 0.0)
    """
    return 0.0 if target_met(value, target, direction) else target - value


TARGET_TOLERANCE = 1e-9
"""A value this close to its target (relative) reaches it: goal seek's own tolerance."""


def owner_chain(tree: Graph, name: str) -> tuple[str, ...]:
    """Return the owners of the KPIs node `name` depends on, in tree order, each once.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> owner_chain(qualified_leads(), "qualified_leads")
        ('marketing', 'sales')
    """
    below = set(tree.depends_on(name))
    return tuple(dict.fromkeys(k.owner for k in tree.kpis if k.name in below))


def split_measurements(
    tree: Graph, values: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, float]]:
    """Separate leaf values from measurements of standards."""
    standards = {
        key: s
        for kpi in tree.kpis
        for s in kpi.standards
        if s.name is not None
        for key in (s.name, f"{kpi.name}.{s.name}")
    }
    leaves: dict[str, Any] = {}
    measured: dict[str, float] = {}
    for key, value in values.items():
        if key in tree:
            leaves[key] = value
        elif key in standards:
            measured[key] = to_number(
                value, what=_("measurement of standard `{name}`").format(name=key)
            )
        else:
            raise UnknownNameError(
                _("`{name}` is neither a leaf of the tree nor a measurable standard").format(
                    name=key
                ),
                hint=did_you_mean(key, [*tree.names, *standards]),
                names=[key],
            )
    return leaves, measured


def _check(kpi: KPI, standard: Standard, measured: Mapping[str, float]) -> StandardCheck:
    if standard.name is None or standard.norm is None:
        return StandardCheck(standard.text, None, None, None, None)
    value = measured.get(f"{kpi.name}.{standard.name}", measured.get(standard.name))
    ok = None if value is None else standard.norm.ok(value)
    return StandardCheck(standard.text, standard.name, standard.norm, value, ok)


@attrs.frozen
class StandardCheck:
    """A KPI's standard: text, and for a measurable one its norm, value and verdict."""

    text: str
    name: str | None
    norm: Norm | None
    value: float | None
    ok: bool | None

    def to_dict(self) -> dict[str, Any]:
        """Return the check as plain data."""
        return {
            "standard": self.text,
            "name": self.name,
            "norm": str(self.norm) if self.norm else None,
            "value": self.value,
            "ok": self.ok,
        }


@attrs.frozen
class StatusRow:
    """One node with a norm, a target or a measurable standard: its value against them.

    Attributes:
        norm: the node's norm; None for a KPI that has only measurable standards.
        ok: True when the norm is met, False when not, None when the value is unknown
            (or the node has no norm). The target does not count here: see `target_ok`.
        gap: how far the value must move to meet the norm (+ up, − down; 0 when met).
        target: the metric's target; None without one.
        direction: which way the target is reached (`"higher"` or `"lower"`).
        target_ok: True when the target is reached, False when the value is short of it,
            None when the value is unknown (or there is no target).
        target_gap: how far the value must move to reach the target (0 when reached).
        owners: for a row with a target, the owners of the KPIs below the node.
    """

    name: str
    kind: str
    owner: str | None
    horizon: str | None
    value: float | None
    norm: Norm | None
    ok: bool | None
    gap: float | None
    standards: tuple[StandardCheck, ...] = ()
    target: float | None = None
    direction: Direction | None = None
    target_ok: bool | None = None
    target_gap: float | None = None
    owners: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the row as plain data."""
        return {
            "name": self.name,
            "kind": self.kind,
            "owner": self.owner,
            "horizon": self.horizon,
            "value": self.value,
            "norm": None if self.norm is None else str(self.norm),
            "ok": self.ok,
            "gap": self.gap,
            "standards": [s.to_dict() for s in self.standards],
            "target": self.target,
            "direction": self.direction,
            "target_ok": self.target_ok,
            "target_gap": self.target_gap,
            "owners": list(self.owners),
        }

    @property
    def breached(self) -> bool:
        """True when the norm, a measured standard or the target is not met."""
        return (
            self.ok is False
            or self.target_ok is False
            or any(s.ok is False for s in self.standards)
        )


@attrs.frozen(repr=False)
class Status(RowTable):
    """Every KPI and metric with a norm, a target or a measurable standard, checked.

    Attributes:
        rows_: the checks, in tree order.
    """

    rows_: tuple[StatusRow, ...]
    tree: Graph = attrs.field(eq=False)

    def _row_role(self) -> str:
        return _("node with a norm or a target")

    @property
    def ok(self) -> bool:
        """True when every norm, measured standard and target is met (unknowns do not count)."""
        return not self.failing

    @property
    def failing(self) -> tuple[StatusRow, ...]:
        """Rows whose norm or target is not met, or with a measured standard not met."""
        return tuple(r for r in self.rows_ if r.breached)

    @property
    def below_target(self) -> tuple[StatusRow, ...]:
        """Rows whose value is short of their target (each with its `owners`)."""
        return tuple(r for r in self.rows_ if r.target_ok is False)

    @property
    def by_owner(self) -> dict[str, tuple[str, ...]]:
        """`{owner: (names of failing nodes...)}` — who has something below norm.

        A metric has no owner of its own: it is listed under `—` (its `owners` say whose
        KPIs it depends on).
        """
        out: dict[str, list[str]] = {}
        for row in self.failing:
            out.setdefault(row.owner or "—", []).append(row.name)
        return {owner: tuple(names) for owner, names in out.items()}

    def to_dict(self) -> dict[str, Any]:
        """Return `{"ok": bool, "rows": [...], "below_target": [names...]}`."""
        return {
            "ok": self.ok,
            "rows": [r.to_dict() for r in self.rows_],
            "below_target": [r.name for r in self.below_target],
        }

    def rows(self) -> list[dict[str, Any]]:
        """Return one record per node and per measured standard."""
        out = []
        for r in self.rows_:
            record = {**r.to_dict(), "standards": len(r.standards), "standard": None}
            out.append({**record, "owners": ", ".join(r.owners)})
            for s in r.standards:
                if s.name is not None:
                    check: dict[str, Any] = {"name": r.name, "kind": "standard"}
                    check.update(owner=r.owner, standard=s.name, value=s.value)
                    check.update(norm=str(s.norm), ok=s.ok)
                    out.append(check)
        return out

    def __str__(self) -> str:
        if not self.rows_:
            return _("no KPI or metric of this tree has a norm or a target")
        body = []
        for r in self.rows_:
            unit = self.tree.unit(r.name)
            body.append(
                [
                    norm_mark(r.ok) if r.norm is not None else "·",
                    r.name,
                    format_value(r.value, self.tree, r.name),
                    format_norm(r.norm, unit),
                    r.owner or "—",
                    _to_meet(r.gap, unit),
                ]
            )
            # Each standard is a row of its own under its KPI: the KPI's owner keeps it,
            # the rule goes in the norm column. Text is cut to fit; to_dict() has it whole.
            for c in r.standards:
                measured = c.norm is not None and c.value is not None
                body.append(
                    [
                        norm_mark(c.ok) if c.norm is not None else "·",
                        f"  {shorten(_standard_label(c), _STANDARD_WIDTH)}",
                        "—" if c.value is None else format_number(c.value),
                        format_norm(c.norm, None) if c.norm is not None else "",
                        r.owner or "—",
                        _to_meet(c.norm.gap(c.value), None) if measured else "",  # type: ignore[union-attr, arg-type]
                    ]
                )
            # The target is a row of its own too, marked as a target, never as a norm: the
            # owners column holds whose KPIs move it.
            if r.target is not None:
                body.append(
                    [
                        norm_mark(r.target_ok),
                        f"  {_('target')}",
                        "",
                        format_target(r.target, r.direction, unit),
                        shorten(", ".join(r.owners) or "—", _OWNERS_WIDTH),
                        _to_meet(r.target_gap, unit),
                    ]
                )
        header = ["", _("name"), _("value"), _("norm"), _("owner"), self.gap_header()]
        return f"{table(body, header, cut=(1,))}\n{self.verdict()}"

    def gap_header(self) -> str:
        """Name the column of what it takes: "to meet norm", or "… / target" with targets."""
        if any(r.target is not None for r in self.rows_):
            return _("to meet norm / target")
        return _("to meet norm")

    def verdict(self) -> str:
        """Count every failure: nodes below their norm, standards not met, targets missed.

        Examples:
            >>> from kpitree.examples import dupont
            >>> dupont().status({"net_income": 5e5}).verdict()
            '1 below norm, 1 below target'
        """
        below = sum(r.ok is False for r in self.rows_)
        unmet = sum(c.ok is False for r in self.rows_ for c in r.standards)
        short = len(self.below_target)
        parts = []
        if below:
            parts.append(ngettext("{n} below norm", "{n} below norm", below).format(n=below))
        if unmet:
            parts.append(
                ngettext("{n} standard not met", "{n} standards not met", unmet).format(n=unmet)
            )
        if short:
            parts.append(ngettext("{n} below target", "{n} below target", short).format(n=short))
        if parts:
            return ", ".join(parts)
        if any(r.target is not None for r in self.rows_):
            return _("all norms met, targets reached")
        return _("all norms met")


_STANDARD_WIDTH = 60  # a standard is a line of a table, not a paragraph
_OWNERS_WIDTH = 40  # an owner chain is a cell, not a list of everyone


def format_target(target: float, direction: Direction | None, unit: Any) -> str:
    """Return a target for people with its way (`target ≥ 20%`, `target ≤ 15 min`).

    Examples:
        >>> from kpitree.model.units import PERCENT
        >>> format_target(0.2, "higher", PERCENT)
        'target ≥ 20%'
    """
    sign = "≤" if direction == "lower" else "≥"
    return _("target {sign} {value}").format(sign=sign, value=format_quantity(target, unit))


def _standard_label(check: StandardCheck) -> str:
    """A measurable standard by its name (its rule has a column); other text as written."""
    if check.name is not None and check.text == f"{check.name} {check.norm}":
        return check.name
    return check.text


def _to_meet(gap: float | None, unit: Any) -> str:
    """What it takes to meet a norm, signed: `+12 pp` for a `%` KPI, `−5` for an upper limit."""
    if not gap or math.isnan(gap):
        return ""
    return format_change(gap, unit)

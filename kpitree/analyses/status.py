"""Status against norms: which KPIs and metrics are below their norm, and whose they are."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from kpitree.engine.evaluate import known_values
from kpitree.errors import UnknownNameError, did_you_mean
from kpitree.i18n import _, ngettext
from kpitree.model.nodes import KPI, Standard
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
from kpitree.model.units import format_change

if TYPE_CHECKING:
    from kpitree.model.graph import Graph

__all__ = ["StandardCheck", "Status", "StatusRow", "split_measurements", "status"]


def status(tree: Graph, values: Mapping[str, Any] | None = None) -> Status:
    """Check every node that has a norm, and every measurable standard of a KPI.

    A KPI with measurable standards but no norm of its own has a row too: its `norm` and
    `ok` are None, and its standards are checked.

    `values` holds leaf values and, for measurable standards, their measurements under
    the standard's name (`"response_minutes"`) or `"<kpi>.<standard>"`. A leaf without a
    value, or a metric that is undefined, has `ok=None`: unknown, not failing.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> s = qualified_leads().status({"lead_to_ql": 0.75, "response_minutes": 12})
        >>> s.ok, [r.name for r in s.failing], s.by_owner
        (False, ['lead_to_ql'], {'sales': ('lead_to_ql',)})
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
        if norm is None and not any(s.norm is not None for s in checks):
            continue
        value = found[node.name]
        unknown = math.isnan(value)
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
            )
        )
    return Status(tuple(rows), tree)


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
    """One node with a norm or a measurable standard: its value against them, and whose it is.

    Attributes:
        norm: the node's norm; None for a KPI that has only measurable standards.
        ok: True when the norm is met, False when not, None when the value is unknown
            (or the node has no norm).
        gap: how far the value must move to meet the norm (+ up, − down; 0 when met).
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
        }


@attrs.frozen(repr=False)
class Status(RowTable):
    """Every KPI and metric with a norm or a measurable standard, checked.

    Attributes:
        rows_: the checks, in tree order.
    """

    rows_: tuple[StatusRow, ...]
    tree: Graph = attrs.field(eq=False)

    def _row_role(self) -> str:
        return "node with a norm"

    @property
    def ok(self) -> bool:
        """True when every norm and measured standard is met (unknown values do not count)."""
        return all(r.ok is not False for r in self.rows_) and all(
            s.ok is not False for r in self.rows_ for s in r.standards
        )

    @property
    def failing(self) -> tuple[StatusRow, ...]:
        """Rows whose norm is not met, or with a measured standard not met."""
        return tuple(
            r for r in self.rows_ if r.ok is False or any(s.ok is False for s in r.standards)
        )

    @property
    def by_owner(self) -> dict[str, tuple[str, ...]]:
        """`{owner: (names of failing KPIs...)}` — who has something below norm."""
        out: dict[str, list[str]] = {}
        for row in self.failing:
            out.setdefault(row.owner or "—", []).append(row.name)
        return {owner: tuple(names) for owner, names in out.items()}

    def to_dict(self) -> dict[str, Any]:
        """Return `{"ok": bool, "rows": [...]}`."""
        return {"ok": self.ok, "rows": [r.to_dict() for r in self.rows_]}

    def rows(self) -> list[dict[str, Any]]:
        """Return one record per node and per measured standard."""
        out = []
        for r in self.rows_:
            out.append({**r.to_dict(), "standards": len(r.standards), "standard": None})
            for s in r.standards:
                if s.name is not None:
                    record: dict[str, Any] = {"name": r.name, "kind": "standard"}
                    record.update(owner=r.owner, standard=s.name, value=s.value)
                    record.update(norm=str(s.norm), ok=s.ok)
                    out.append(record)
        return out

    def __str__(self) -> str:
        if not self.rows_:
            return _("no KPI or metric of this tree has a norm")
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
        header = ["", _("name"), _("value"), _("norm"), _("owner"), _("to meet norm")]
        return f"{table(body, header, cut=(1,))}\n{self._verdict()}"

    def _verdict(self) -> str:
        """Count every failure: nodes below their norm, and standards not met."""
        below = sum(r.ok is False for r in self.rows_)
        unmet = sum(c.ok is False for r in self.rows_ for c in r.standards)
        parts = []
        if below:
            parts.append(ngettext("{n} below norm", "{n} below norm", below).format(n=below))
        if unmet:
            parts.append(
                ngettext("{n} standard not met", "{n} standards not met", unmet).format(n=unmet)
            )
        if len(parts) == 2:
            return _("{below}, {standards}").format(below=parts[0], standards=parts[1])
        return parts[0] if parts else _("all norms met")


_STANDARD_WIDTH = 60  # a standard is a line of a table, not a paragraph


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

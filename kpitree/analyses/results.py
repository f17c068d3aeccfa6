"""Result objects: immutable, readable as text, convertible to dicts and DataFrames."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from kpitree.core.norm import Norm
from kpitree.core.numbers import format_number
from kpitree.core.units import format_quantity

if TYPE_CHECKING:
    import pandas

    from kpitree.core.tree import Tree

__all__ = ["Result", "RowTable", "StandardCheck", "Status", "StatusRow", "Values", "format_value"]


def format_value(value: float | None, tree: Tree | None, name: str) -> str:
    """Format a node's value with its unit (`1,000 lead`, `80%`); `—` when unknown."""
    if value is None:
        return "—"
    unit = tree.unit(name) if tree is not None and name in tree else None
    return format_quantity(value, unit)


def table(rows: list[list[str]], header: list[str], align: str | None = None) -> str:
    """Render rows as a plain text table with aligned columns.

    Args:
        rows: the cells, as text.
        header: the column titles.
        align: one letter per column, `l` or `r`; by default a column is right-aligned
            when every non-empty cell in it is a number (`1,200`, `-5%`, `+3 lead`).
    """
    cells = [header, *rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    if align is None:
        align = "".join(
            "r"
            if i and all(_numeric(r[i]) for r in rows if r[i]) and any(r[i] for r in rows)
            else "l"
            for i in range(len(header))
        )

    def line(row: list[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if align[i] == "r" else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])


def _numeric(cell: str) -> bool:
    number = cell.split(" ", 1)[0].lstrip("+-−").rstrip("%").replace(",", "")
    return number.replace(".", "", 1).replace("e+", "", 1).replace("e-", "", 1).isdigit() or (
        number in ("inf", "NaN", "—")
    )


class Result:
    """Base of analysis results: `to_dict()`, `to_frame()` (pandas) and a readable `str`."""

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain dicts, lists, strings and numbers (JSON-ready)."""
        raise NotImplementedError

    def rows(self) -> list[dict[str, Any]]:
        """Return the result as a list of flat records, one per row of its table."""
        raise NotImplementedError

    def to_frame(self) -> pandas.DataFrame:
        """Return `rows()` as a pandas DataFrame (pandas is imported only here)."""
        import pandas

        return pandas.DataFrame(self.rows())


class RowTable(Result):
    """A result made of named rows: iterate over them, count them, look one up by name."""

    rows_: tuple[Any, ...]
    tree: Tree

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows_)

    def __len__(self) -> int:
        return len(self.rows_)

    def __getitem__(self, name: str) -> Any:
        for row in self.rows_:
            if row.name == name:
                return row
        raise self.tree._unknown(name, self._row_role())

    def _row_role(self) -> str:
        """Say what a row is, for the error about a name with no row."""
        return "row named"


class Values(Mapping[str, float], Result):
    """The value of every node, read-only, in tree order.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> values = qualified_leads().evaluate()
        >>> values["qualified_leads"], len(values)
        (800.0, 3)
        >>> print(values)
        qualified_leads  800 lead
        leads            1,000 lead
        lead_to_ql       80%
    """

    __slots__ = ("_data", "_order", "_tree")

    def __init__(
        self,
        data: Mapping[str, float],
        tree: Tree | None = None,
        *,
        order: Sequence[str] | None = None,
    ) -> None:
        self._data = dict(data)
        self._tree = tree
        # Iteration order, when it differs from the order `data` was built in.
        self._order = order

    def __getitem__(self, name: str) -> float:
        try:
            return self._data[name]
        except KeyError:
            if self._tree is not None:
                raise self._tree._unknown(name) from None
            raise

    def __iter__(self) -> Iterator[str]:
        return iter(self._data if self._order is None else self._order)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Values({self.to_dict()!r})"

    def __str__(self) -> str:
        width = max((len(n) for n in self._data), default=0)
        return "\n".join(
            f"{name.ljust(width)}  {format_value(self._data[name], self._tree, name)}"
            for name in self
        )

    def _repr_html_(self) -> str:
        from kpitree.adapters.html import values_html

        return values_html(self)

    def to_dict(self) -> dict[str, Any]:
        """Return `{name: value}`, in order."""
        return {name: self._data[name] for name in self}

    def rows(self) -> list[dict[str, Any]]:
        """Return one record per node: name, kind, value, unit."""
        tree = self._tree
        out = []
        for name in self:
            value = self._data[name]
            unit = tree.unit(name) if tree is not None else None
            kind = tree[name].kind if tree is not None else None
            out.append(
                {"name": name, "kind": kind, "value": value, "unit": str(unit) if unit else None}
            )
        return out


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
    """One node with a norm: its value against the norm, and whose it is.

    Attributes:
        ok: True when the norm is met, False when not, None when the value is unknown.
        gap: how far the value must move to meet the norm (+ up, − down; 0 when met).
    """

    name: str
    kind: str
    owner: str | None
    horizon: str | None
    value: float | None
    norm: Norm
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
            "norm": str(self.norm),
            "ok": self.ok,
            "gap": self.gap,
            "standards": [s.to_dict() for s in self.standards],
        }


@attrs.frozen(repr=False)
class Status(RowTable):
    """Every KPI and metric with a norm, checked; failing ones first in `str`.

    Attributes:
        rows_: the checks, in tree order.
    """

    rows_: tuple[StatusRow, ...]
    tree: Tree = attrs.field(eq=False)

    def _row_role(self) -> str:
        return "node with a norm"

    def _repr_html_(self) -> str:
        from kpitree.adapters.html import status_html

        return status_html(self)

    def _repr_markdown_(self) -> str:
        from kpitree.adapters.html import status_markdown

        return status_markdown(self)

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
            return "no KPI or metric of this tree has a norm"
        body = []
        for r in self.rows_:
            unit = self.tree.unit(r.name)
            body.append(
                [
                    _mark(r.ok),
                    r.name,
                    format_value(r.value, self.tree, r.name),
                    r.norm.format(lambda x, u=unit: format_quantity(x, u)),  # type: ignore[misc]
                    r.owner or "—",
                    _gap(r, unit),
                ]
            )
            for s in r.standards:
                value = "—" if s.value is None else format_number(s.value)
                # Long standards are cut, so that the table fits 80 columns; to_dict has them.
                text = s.text if len(s.text) <= 40 else s.text[:39] + "…"
                body.append([_mark(s.ok) if s.norm else "·", f"  {text}", value, "", "", ""])
        text = table(body, ["", "name", "value", "norm", "owner", "to meet norm"])
        failing = len(self.failing)
        verdict = "all norms met" if failing == 0 else f"{failing} below norm"
        return f"{text}\n{verdict}"


def _mark(ok: bool | None) -> str:
    return {True: "✓", False: "✗", None: "?"}[ok]


def _gap(row: StatusRow, unit: Any) -> str:
    if not row.gap:
        return ""
    sign = "+" if row.gap > 0 else "−"
    return sign + format_quantity(abs(row.gap), unit)

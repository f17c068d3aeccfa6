"""Result objects: immutable, readable as text, convertible to dicts and DataFrames."""

from __future__ import annotations

import functools
import math
import shutil
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar, Self

from kpitree.errors import ArgumentError, UnknownNameError, did_you_mean, quoted, quoted_name
from kpitree.i18n import _
from kpitree.i18n import locale as speaking
from kpitree.model.escape import terminal
from kpitree.model.render import Shown
from kpitree.model.units import Unit, format_change, format_quantity

if TYPE_CHECKING:
    import pandas

    from kpitree.model.graph import Graph
    from kpitree.model.norm import Norm

__all__ = [
    "Result",
    "RowTable",
    "Values",
    "format_norm",
    "format_value",
    "norm_mark",
    "norm_ok",
    "shorten",
    "table",
    "text_width",
    "text_width_of",
]

DEFAULT_WIDTH = 80
"""The width of text when nothing says otherwise (no `width=`, no `COLUMNS`, no terminal)."""

_width: ContextVar[int | None] = ContextVar("kpitree_text_width", default=None)


def text_width(width: int | None = None) -> int:
    """Return the columns text may take: `width`, else the drawing's, else the terminal's.

    The terminal's is `COLUMNS`, else the size of the terminal, else 80 (in a pipe).

    Raises:
        ArgumentError: `width` is not a whole number of at least 20 columns.

    Examples:
        >>> text_width(120)
        120
        >>> with text_width_of(100):
        ...     text_width()
        100
    """
    if width is None:
        width = _width.get()
    if width is None:
        return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns or DEFAULT_WIDTH
    if isinstance(width, bool) or not isinstance(width, int) or width < _MIN_WIDTH:
        raise ArgumentError(
            _("width {width} is not a number of columns").format(width=quoted(width)),
            hint=_("give a whole number of at least {least}").format(least=_MIN_WIDTH),
        )
    return width


_MIN_WIDTH = 20  # narrower than that, no table of kpitree reads at all


@contextmanager
def text_width_of(width: int | None) -> Iterator[None]:
    """Draw text `width` columns wide inside the block (this thread or task only).

    None keeps the width of the drawing around the block (or the terminal's).
    """
    if width is None:
        yield
        return
    token = _width.set(text_width(width))
    try:
        yield
    finally:
        _width.reset(token)


def shorten(text: str, width: int) -> str:
    """Cut `text` to `width` characters at a word boundary, ending it with `…`.

    A single word longer than `width` is the one thing cut inside a word.

    Examples:
        >>> shorten("answer every inbound request within 15 minutes", 24)
        'answer every inbound…'
        >>> shorten("short", 24), shorten("extraordinarily", 8)
        ('short', 'extraor…')
    """
    if len(text) <= width:
        return text
    body = text.lstrip(" ")
    indent = text[: len(text) - len(body)]  # an indent (a row under another) stays
    room = max(1, width - len(indent))
    cut = textwrap.shorten(body, room, placeholder="…")
    if cut == "…":  # the first word alone is too long
        cut = body[: room - 1] + "…"
    return indent + cut


def format_value(value: float | None, tree: Graph | None, name: str | None) -> str:
    """Format a node's value with its unit (`1,000 lead`, `80%`); `—` when unknown."""
    if value is None:
        return "—"
    unit = tree.unit(name) if tree is not None and name is not None and name in tree else None
    return format_quantity(value, unit)


def format_delta(change: float, tree: Graph | None, name: str | None) -> str:
    """Format a change of a node with its sign and unit (`+80 lead`, `+2 pp`); `?` if NaN."""
    if math.isnan(change):
        return "?"
    unit = tree.unit(name) if tree is not None and name is not None and name in tree else None
    return format_change(change, unit)


def format_norm(norm: Norm | None, unit: Unit | None) -> str:
    """Return a norm for people, its thresholds written in `unit` (`≥ 80%`, `≤ 15 min`).

    No norm is `—`.

    Examples:
        >>> from kpitree.model.norm import AtLeast
        >>> from kpitree.model.units import PERCENT
        >>> format_norm(AtLeast(0.8), PERCENT), format_norm(AtLeast(1200), None)
        ('≥ 80%', '≥ 1,200')
    """
    if norm is None:
        return "—"
    return norm.format(lambda x: format_quantity(x, unit))


def norm_ok(node: object, value: float) -> bool | None:
    """Return whether a node's value meets its norm; None without a norm or a value (NaN).

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> tree = qualified_leads()
        >>> norm_ok(tree["lead_to_ql"], 0.75), norm_ok(tree["lead_to_ql"], float("nan"))
        (False, None)
        >>> norm_ok(tree["leads"], 1000.0) is None
        True
    """
    norm = getattr(node, "norm", None)
    return None if norm is None or math.isnan(value) else bool(norm.ok(value))


def norm_mark(ok: bool | None) -> str:
    """Return the mark of a norm: `✓` met, `✗` not met, `?` unknown.

    Examples:
        >>> norm_mark(True), norm_mark(False), norm_mark(None)
        ('✓', '✗', '?')
    """
    return "?" if ok is None else "✓" if ok else "✗"


def table(
    rows: list[list[str]],
    header: list[str],
    align: str | None = None,
    *,
    width: int | None = None,
    cut: Sequence[int] = (),
) -> str:
    """Render rows as a plain text table with aligned columns, at most `width` wide.

    A table wider than `width` (see `text_width`) narrows its widest text column (then
    the next, while it is still too wide), wrapping its cells at word boundaries; then
    headers wider than their column wrap. Words are never broken: a table that cannot fit
    without breaking them is drawn at its full width, unwrapped (its `cut` columns cut).

    Args:
        rows: the cells, as text.
        header: the column titles.
        align: one letter per column, `l` or `r`; by default a column is right-aligned
            when every non-empty cell in it is a number (`1,200`, `-5%`, `+3 lead`).
        width: the columns the table may take.
        cut: columns whose cells are cut with `…` (at a word boundary) instead of wrapped.

    Examples:
        >>> print(table([["leads", "answer every inbound request", "1,000"]],
        ...             ["name", "standard", "value"], width=30))
        name   standard         value
        leads  answer every     1,000
               inbound request
        >>> print(table([["leads", "answer every inbound request", "1,000"]],
        ...             ["name", "standard", "value"], width=30, cut=[1]))
        name   standard         value
        leads  answer every…    1,000
    """
    # Cells hold owners, units and standards from model files: each is one line of
    # printable text, so an escape sequence or a newline in one cannot act on the terminal.
    header = [terminal(cell) for cell in header]
    rows = [[terminal(cell) for cell in row] for row in rows]
    if align is None:
        align = "".join(
            "r"
            if i and all(_numeric(r[i]) for r in rows if r[i]) and any(r[i] for r in rows)
            else "l"
            for i in range(len(header))
        )
    columns = range(len(header))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in columns]
    excess = sum(widths) + 2 * (len(widths) - 1) - text_width(width)
    narrowed: set[int] = set()  # columns whose cells wrap (or are cut), and the header
    for i in sorted((i for i in columns if align[i] == "l"), key=lambda i: -widths[i]):
        if excess <= 0:
            break
        least = max(_longest_word([header[i], *(r[i] for r in rows)]), _NARROWEST)
        excess, widths[i] = _narrow(excess, widths[i], least)
        narrowed.add(i)
    # Still too wide: headers wider than their column's cells wrap, most room first.
    header_least = [max(_longest_word([header[i]]), *(len(r[i]) for r in rows), 0) for i in columns]
    for i in sorted(columns, key=lambda i: header_least[i] - widths[i]):
        if excess <= 0:
            break
        excess, widths[i] = _narrow(excess, widths[i], header_least[i])
        narrowed.add(i)
    if excess > 0:
        # It cannot fit without breaking words: wrapping would only blur it, but text cut
        # short still saves what it can.
        for i in narrowed - set(cut):
            widths[i] = max(len(r[i]) for r in [header, *rows])
        narrowed &= set(cut)

    def cell(text: str, i: int, heading: bool) -> list[str]:
        if i not in narrowed or len(text) <= widths[i]:
            return [text]
        if i in cut and not heading:
            return [shorten(text, widths[i])]
        return _wrap(text, widths[i])

    out = []
    for k, row in enumerate([header, *rows]):
        parts = [cell(text, i, k == 0) for i, text in enumerate(row)]
        for n in range(max(len(p) for p in parts)):
            line = [
                (p[n] if n < len(p) else "").rjust(widths[i])
                if align[i] == "r"
                else (p[n] if n < len(p) else "").ljust(widths[i])
                for i, p in enumerate(parts)
            ]
            out.append("  ".join(line).rstrip())
    return "\n".join(out)


def _narrow(excess: int, width: int, least: int) -> tuple[int, int]:
    """Take what a column can give of `excess` columns: its new width, what is left over."""
    new = max(min(least, width), width - excess)
    return excess - (width - new), new


def _longest_word(cells: list[str]) -> int:
    """The longest word of the cells, an indent counted with the word it starts."""
    longest = 0
    for text in cells:
        body = text.lstrip(" ")
        words = body.split() or [""]
        longest = max(longest, len(text) - len(body) + len(words[0]), *map(len, words))
    return longest


def _wrap(text: str, width: int) -> list[str]:
    """Wrap a cell at word boundaries, each line keeping the cell's indent."""
    body = text.lstrip(" ")
    indent = text[: len(text) - len(body)]
    return textwrap.wrap(
        body, width, initial_indent=indent, subsequent_indent=indent, break_long_words=False
    ) or [""]


_NARROWEST = 12  # a wrapped column narrower than this reads as a list of syllables


def _numeric(cell: str) -> bool:
    # English `1,060.66`, `-5%`; Russian `1 060,66`, `−5 %` (a no-break space groups).
    number = cell.replace("\xa0%", "%").replace("\u202f%", "%").split(" ", 1)[0]
    number = number.lstrip("+-−").rstrip("%").replace("\xa0", "").replace("\u202f", "")
    number = number.replace(",", "")
    return number.replace(".", "", 1).replace("e+", "", 1).replace("e-", "", 1).isdigit() or (
        number in ("inf", "NaN", "—")
    )


class Result(Shown):
    """Base of analysis results: `to_dict()`, `to_frame()` (pandas) and a readable `str`.

    A subclass's `str` is printed in terminals and notebooks, and it quotes model text
    (owners, names, descriptions): whatever it writes, its output is passed through
    `kpitree.model.escape.terminal` here, in one place, so an owner holding an escape
    sequence or a BiDi override cannot act on the terminal.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("__str__")
        if own is not None and not getattr(own, "_terminal_safe", False):
            cls.__str__ = _terminal_safe(own)  # type: ignore[method-assign]

    def __repr__(self) -> str:
        # At the prompt (`>>> tree.status()`) a result reads as its text, as a DataFrame
        # does; results with a repr of their own (dataclasses, mappings) keep it.
        return self.to_text()

    def to_text(self, *, locale: str | None = None, width: int | None = None) -> str:
        """Return the result as text in `locale` (the active one by default), `width` wide.

        `str(result)` is `result.to_text()`: the active locale, the terminal's width.

        Raises:
            ArgumentError: `locale` is not a locale kpitree ships, or `width` no width.

        Examples:
            >>> from kpitree.examples import qualified_leads
            >>> print(qualified_leads().evaluate().to_text(locale="ru"))
            qualified_leads  800 lead
            leads            1\N{NO-BREAK SPACE}000 lead
            lead_to_ql       80\N{NO-BREAK SPACE}%
        """
        with (
            nullcontext() if locale is None else speaking(locale),
            text_width_of(width),
        ):
            return str(self)

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


def _terminal_safe(method: Any) -> Any:
    @functools.wraps(method)
    def safe(self: Any) -> str:
        return terminal(method(self), newlines=True)

    safe._terminal_safe = True  # type: ignore[attr-defined]
    return safe


class RowTable(Result):
    """A result made of named rows: iterate over them, count them, look one up by name.

    The rows are `rows_` (or what `__iter__` yields, where a subclass keeps them
    elsewhere); `_row_key` is the field that names a row.
    """

    rows_: tuple[Any, ...]
    _row_key: ClassVar[str] = "name"

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows_)

    def __len__(self) -> int:
        return len(self.rows_)

    def __getitem__(self, name: str) -> Any:
        return self.row(name)

    def __contains__(self, item: object) -> bool:
        """Whether a row has the name `item` (or `item` is one of the rows)."""
        if isinstance(item, str):
            return item in self._rows_by_name
        return any(item == row for row in self)

    def get(self, name: str, default: Any = None) -> Any:
        """Return the row named `name`, or `default` when no row has that name."""
        return self._rows_by_name.get(name, default) if isinstance(name, str) else default

    def row(self, name: str) -> Any:
        """Return the row named `name` (`table[name]` reads the same).

        Raises:
            UnknownNameError: no row has that name; the hint names the closest row.

        Examples:
            >>> from kpitree.examples import qualified_leads
            >>> table = qualified_leads().sensitivity("qualified_leads")
            >>> table.row("leads").owner
            'marketing'
            >>> table.row("lead")
            Traceback (most recent call last):
            ...
            kpitree.errors.UnknownNameError: the tree has no leaf in this table of ...
            hint: did you mean `leads`?
        """
        try:
            return self._rows_by_name[name]
        except (KeyError, TypeError):
            raise self._no_row(name) from None

    @functools.cached_property
    def _rows_by_name(self) -> dict[str, Any]:
        """`{name: row}`, built on the first lookup (the first row of a name wins)."""
        index: dict[str, Any] = {}
        for row in self:
            index.setdefault(getattr(row, self._row_key), row)
        return index

    def _no_row(self, name: object) -> UnknownNameError:
        """Return the error about a name with no row."""
        return UnknownNameError(
            _("the tree has no {role} {name}").format(
                role=self._row_role(), name=quoted_name(name)
            ),
            hint=did_you_mean(str(name), self._rows_by_name),
            names=[str(name)],
        )

    def _row_role(self) -> str:
        """Say what a row is, for the error about a name with no row (in the active locale)."""
        return _("row named")


_new = object.__new__


class Values(Mapping[str, float], Result):
    """The value of every node, read-only, in tree order.

    A `Mapping`: `in`, `get`, `keys`, `items`, and `==` with a dict all work; `[]` with a
    name that has no value raises `UnknownNameError` (a `KeyError`).

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

    __slots__ = ("_order", "_positions", "_slots", "_tree")

    def __init__(
        self,
        data: Mapping[str, float],
        tree: Graph | None = None,
        *,
        order: Sequence[str] | None = None,
    ) -> None:
        self._positions: Mapping[str, int] = {name: i for i, name in enumerate(data)}
        self._slots: Sequence[float] = list(data.values())
        self._tree = tree
        # Iteration order, when it differs from the order `data` was built in.
        self._order = order

    @classmethod
    def of_slots(
        cls,
        positions: Mapping[str, int],
        slots: Sequence[float],
        tree: Graph | None = None,
        *,
        order: Sequence[str] | None = None,
    ) -> Self:
        """Values read from `slots` at `positions` (shared, never changed): no copy made."""
        values = _new(cls)
        values._positions = positions
        values._slots = slots
        values._tree = tree
        values._order = order
        return values

    def __getitem__(self, name: str) -> float:
        try:
            return self._slots[self._positions[name]]
        except (KeyError, TypeError):  # TypeError: an unhashable key, which names nothing
            if self._tree is not None:
                raise self._tree._unknown(name) from None
            raise UnknownNameError(
                _("there is no value for `{name}`").format(name=name),
                hint=did_you_mean(str(name), self._positions),
                names=[str(name)],
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._positions if self._order is None else self._order)

    def __len__(self) -> int:
        return len(self._positions)

    def __contains__(self, name: object) -> bool:
        try:
            return name in self._positions
        except TypeError:
            return False

    def __repr__(self) -> str:
        return f"Values({self.to_dict()!r})"

    def __str__(self) -> str:
        width = max((len(n) for n in self._positions), default=0)
        return "\n".join(
            f"{name.ljust(width)}  {format_value(self[name], self._tree, name)}" for name in self
        )

    def to_dict(self) -> dict[str, Any]:
        """Return `{name: value}`, in order."""
        return {name: self[name] for name in self}

    def rows(self) -> list[dict[str, Any]]:
        """Return one record per node: name, kind, value, unit."""
        tree = self._tree
        out = []
        for name in self:
            value = self[name]
            unit = tree.unit(name) if tree is not None else None
            kind = tree[name].kind if tree is not None else None
            out.append(
                {"name": name, "kind": kind, "value": value, "unit": str(unit) if unit else None}
            )
        return out

"""Values files: leaf values for a period or a scenario, as YAML, JSON or CSV.

Three shapes (docs/model-files.md has examples):

- a mapping ``name: value`` (YAML or JSON): one set of values;
- a mapping of periods to such mappings (YAML or JSON): ``2026-10: {leads: 1000}``;
- CSV with a header row and a row per period, the first column holding the period's label:
  ``period,leads,lead_to_ql`` then ``2026-10,1000,80%``. An empty cell means no value.

A period is chosen with `period=`, or on the command line as ``FILE:PERIOD``
(``values.csv:2026-10``). A file with one period needs no choice. Values are read with
`to_number` (``80%``, ``1e3``, ``1 000``); names are checked by the tree that uses them.

A CSV from a spreadsheet set to Russian (Excel's export) has ``;`` between fields and
decimal commas: ``период;лиды;конверсия`` then ``2026-10;1 000;0,8``. The delimiter is
sniffed from the header line; under ``ru`` such a file reads as written, and under a
locale with a decimal dot a decimal comma is refused with a hint to read it under ``ru``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kpitree.errors import (
    DuplicateNameError,
    KPITreeError,
    LimitError,
    UnknownNameError,
    ValidationError,
    ValueTypeError,
    did_you_mean,
)
from kpitree.i18n import N_, _, ngettext
from kpitree.io.documents import Document, read_document, read_text
from kpitree.language.limits import DEFAULT_LIMITS, Limits
from kpitree.model.numbers import format_number, to_number

__all__ = ["load_values", "loads_values", "periods", "split_spec"]

_CSV = ".csv"
# A number written with a decimal comma (`0,8`, `1 000,5`, `12,5 %`), as Russian Excel does.
_DECIMAL_COMMA = re.compile(r"[+\-−]?\d[\d \u00a0\u202f]*,\d+\s*%?")
_RUSSIAN_CSV_HINT = N_(
    "the file has `;` between fields and decimal commas, as a spreadsheet set to Russian "
    "writes it: read it under the Russian locale (`--lang ru`, `locale: ru` in the model "
    'file, or `with kt.locale("ru"):`)'
)


def split_spec(spec: str) -> tuple[Path, str | None]:
    """Split a command-line values argument `FILE` or `FILE:PERIOD` into path and period.

    An existing file wins, so a path that contains `:` still works; otherwise the text
    after the last `:` is the period.

    Examples:
        >>> split_spec("examples/values/qualified_leads.csv:2026-10")
        (PosixPath('examples/values/qualified_leads.csv'), '2026-10')
        >>> split_spec("examples/values/october.yaml")
        (PosixPath('examples/values/october.yaml'), None)
    """
    path = Path(spec)
    if path.exists() or ":" not in spec:
        return path, None
    head, _, period = spec.rpartition(":")
    return Path(head), period or None


def load_values(
    path: str | Path, period: str | None = None, *, limits: Limits = DEFAULT_LIMITS
) -> dict[str, float]:
    """Read leaf values from a values file, for one period when the file has several.

    Args:
        path: a `.yaml`, `.yml`, `.json` or `.csv` file.
        period: the period (a CSV row's label, or a top-level key of a YAML/JSON file of
            periods); needed only when the file has more than one.
        limits: `max_file_bytes` applies.

    Returns:
        `{name: value}` with every value a finite float.

    Raises:
        ValidationError: every problem of the file, each located (`file:line @ $.name`).
        UnknownNameError: no such period (with a did-you-mean), or the period is not given
            and the file has several.
        OSError: the file cannot be read.

    Examples:
        >>> load_values("examples/values/qualified_leads.csv", "2026-10")
        {'leads': 1000.0, 'lead_to_ql': 0.8}
        >>> load_values("examples/values/october.yaml")["lead_to_ql"]
        0.75
    """
    if Path(path).suffix.lower() == _CSV:
        text = _read_csv_text(path, limits)
        return loads_values(text, "csv", period, source=str(path))
    text, name = read_text(path, limits)
    return loads_values(text, name, period, source=str(path), limits=limits)


def _read_csv_text(path: str | Path, limits: Limits) -> str:
    with open(path, "rb") as file:
        raw = file.read(limits.max_file_bytes + 1)
    if len(raw) > limits.max_file_bytes:
        limit = limits.max_file_bytes
        problem: KPITreeError = LimitError(
            _("the file is over the limit of {limit} bytes").format(limit=format_number(limit))
        )
        raise ValidationError([problem.located(str(path))])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = ValueTypeError(
            _("the file is not UTF-8 text (byte {byte})").format(byte=exc.start)
        )
        raise ValidationError([problem.located(str(path))]) from None


def loads_values(
    text: str,
    format: str = "yaml",  # noqa: A002 - the file format name
    period: str | None = None,
    *,
    source: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> dict[str, float]:
    r"""Read leaf values from values-file text (`yaml`, `json` or `csv`).

    Examples:
        >>> loads_values("leads: 1200\nlead_to_ql: 80%\n")
        {'leads': 1200.0, 'lead_to_ql': 0.8}
        >>> loads_values("period,leads\n2026-09,900\n2026-10,1000\n", "csv", "2026-09")
        {'leads': 900.0}
    """
    if format == "csv":
        table = _csv_table(text, source)
        if _delimiter(text) == ";":
            return _choose(table, period, source, comma_hint=_RUSSIAN_CSV_HINT)
    else:
        doc = read_document(text, format, source=source, limits=limits)
        if doc.problems:
            raise ValidationError(doc.problems)
        table = _mapping_table(doc)
    return _choose(table, period, source)


# A table: period label (None for a file of one set of values) → (values, document, path).
_Row = tuple[Mapping[str, Any], Document, tuple[str, ...]]


def _mapping_table(doc: Document) -> dict[str | None, _Row]:
    data = doc.data
    if not isinstance(data, Mapping) or not data:
        got = _("nothing") if not data else type(data).__name__
        problem = ValueTypeError(
            _("a values file is a mapping of names to values, got {got}").format(got=got),
            hint=_("write one `name: value` per line, e.g. `leads: 1200`"),
        )
        raise ValidationError([problem.located(doc.where(()))])
    if all(isinstance(v, Mapping) for v in data.values()):
        return {str(period): (values, doc, (str(period),)) for period, values in data.items()}
    return {None: (data, doc, ())}


def _delimiter(text: str) -> str:
    """The CSV's field delimiter, sniffed from its header line: `;` or `,`."""
    sample = text.split("\n", 1)[0]
    # Spreadsheets set to a decimal comma separate fields with `;`.
    return ";" if sample.count(";") > sample.count(",") else ","


def _csv_table(text: str, source: str | None) -> dict[str | None, _Row]:
    delimiter = _delimiter(text)
    file = source or "<text>"
    # newline="" leaves line endings to the csv module, which knows `\r` and quoted breaks.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        problem = ValueTypeError(
            _("cannot read the CSV: {reason}").format(reason=exc),
            hint=_("save the file as CSV again"),
        )
        raise ValidationError([problem.located(f"{file}:{reader.line_num}")]) from None
    if len(rows) < 2 or len(rows[0]) < 2:
        problem = ValueTypeError(
            _("a values CSV has a header row and a row per period"),
            hint=_("e.g. `period,leads,lead_to_ql` then `2026-10,1000,80%`"),
        )
        raise ValidationError([problem.located(file)])
    header = [cell.strip() for cell in rows[0]]
    # YAML and JSON refuse a key given twice; a CSV column or period given twice is refused
    # as well, rather than the last one silently winning.
    problems: list[KPITreeError] = []
    columns: dict[str, int] = {}
    for column, name in enumerate(header[1:], start=2):
        if name and name in columns:
            problems.append(
                DuplicateNameError(
                    _("the column `{name}` is given twice (columns {first} and {second})").format(
                        name=name, first=columns[name], second=column
                    ),
                    hint=_("each leaf has one column; remove or rename one of them"),
                    names=[name],
                ).located(f"{file}:1")
            )
        columns.setdefault(name, column)
    table: dict[str | None, _Row] = {}
    first_line: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        label = row[0].strip()
        if label in first_line:
            problems.append(
                DuplicateNameError(
                    _("the period `{label}` is given twice (first at line {line})").format(
                        label=label, line=first_line[label]
                    ),
                    hint=_("each period has one row; remove or rename one of them"),
                    names=[label],
                ).located(f"{file}:{number}")
            )
            continue
        first_line[label] = number
        doc = Document(source=source, found_lines={(label,): number})
        values = {
            name: cell
            for name, cell in zip(header[1:], row[1:], strict=False)
            if name and cell.strip()
        }
        table[label] = (values, doc, (label,))
    if problems:
        raise ValidationError(problems)
    return table


def _choose(
    table: dict[str | None, _Row],
    period: str | None,
    source: str | None,
    *,
    comma_hint: str | None = None,
) -> dict[str, float]:
    file = source or "<text>"
    labels = [p for p in table if p is not None]
    if period is None:
        if len(table) != 1:
            shown = ", ".join(labels[:10]) + (", ..." if len(labels) > 10 else "")
            raise UnknownNameError(
                ngettext(
                    "`{file}` has {count} period; choose one",
                    "`{file}` has {count} periods; choose one",
                    len(labels),
                ).format(file=file, count=len(labels)),
                hint=_("write FILE:PERIOD, e.g. `{example}` (periods: {periods})").format(
                    example=f"{file}:{labels[-1]}", periods=shown
                ),
            )
        values, doc, path = next(iter(table.values()))
    elif period in table:
        values, doc, path = table[period]
    else:
        raise UnknownNameError(
            _("`{file}` has no period `{period}`").format(file=file, period=period),
            hint=did_you_mean(period, labels)
            or _("the periods are: {periods}").format(periods=", ".join(labels[:10])),
            names=[period],
        )
    return _numbers(values, doc, path, comma_hint)


def _numbers(
    values: Mapping[str, Any],
    doc: Document,
    path: tuple[str, ...],
    comma_hint: str | None = None,
) -> dict[str, float]:
    """Read each value with `to_number`; `comma_hint` replaces the hint of a decimal comma."""
    out: dict[str, float] = {}
    for name, value in values.items():
        here = (*path, name)
        try:
            out[str(name)] = to_number(value, what=_("value of `{name}`").format(name=name))
        except KPITreeError as exc:
            if comma_hint and isinstance(value, str) and _DECIMAL_COMMA.fullmatch(value.strip()):
                exc = ValueTypeError(exc.reason, hint=_(comma_hint))
            doc.add(exc, here)
    if doc.problems:
        raise ValidationError(doc.problems)
    return out


def periods(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """Return the periods of a values file, in file order (empty for one set of values).

    Examples:
        >>> periods("examples/values/qualified_leads.csv")
        ['2026-09', '2026-10']
    """
    if Path(path).suffix.lower() == _CSV:
        table = _csv_table(_read_csv_text(path, limits), str(path))
    else:
        text, name = read_text(path, limits)
        doc = read_document(text, name, source=str(path), limits=limits)
        if doc.problems:
            raise ValidationError(doc.problems)
        table = _mapping_table(doc)
    return [p for p in table if p is not None]

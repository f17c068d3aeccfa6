"""Data files: a table of rows (CSV or Parquet) read into a pandas DataFrame.

For commands that take a table of many rows (`kpitree track FILE DATA`), not one set of
values. A CSV is read as values files are (`kpitree.io.values`): UTF-8, the size limit,
the delimiter sniffed from the header line, and under ``ru`` a spreadsheet's `;` and
decimal commas. Key columns (periods, segments) stay text as written; a number column
written with `%` or spaces (`80%`, `1 000`) is read with `to_number`. Parquet keeps the
file's own types (it needs pyarrow, the `data` extra).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from kpitree.errors import ValidationError, ValueTypeError, require
from kpitree.i18n import _, current
from kpitree.io.values import _delimiter, _read_csv_text
from kpitree.language.limits import DEFAULT_LIMITS, Limits
from kpitree.model.numbers import to_number

if TYPE_CHECKING:
    import pandas

__all__ = ["read_table"]

_SUFFIXES = (".csv", ".parquet", ".pq")


def read_table(
    path: str | Path, *, text: Iterable[str] = (), limits: Limits = DEFAULT_LIMITS
) -> pandas.DataFrame:
    """Read a CSV or Parquet file into a pandas DataFrame.

    Args:
        path: a `.csv` or `.parquet` file.
        text: columns kept as text (periods, segments): `2026-10` stays `"2026-10"`.
        limits: `max_file_bytes` applies to a CSV.

    Raises:
        ValidationError: a file that cannot be read, located.
        MissingDependencyError: Parquet without pyarrow.
        OSError: the file cannot be opened.

    Examples:
        >>> frame = read_table("examples/values/qualified_leads.csv", text=["period"])
        >>> frame.columns.tolist(), frame["lead_to_ql"].tolist()
        (['period', 'leads', 'lead_to_ql'], [0.82, 0.8])
    """
    import pandas

    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        require("pyarrow", extra="data", feature=_("reading Parquet files"))
        return pandas.read_parquet(path)
    if suffix != ".csv":
        problem = ValueTypeError(
            _("a data file is CSV or Parquet, got `{suffix}`").format(suffix=suffix or path),
            hint=_("save the table as {formats}").format(formats=", ".join(_SUFFIXES)),
        )
        raise ValidationError([problem.located(str(path))])
    content = _read_csv_text(path, limits)
    delimiter = _delimiter(content)
    decimal = "," if delimiter == ";" and current() == "ru" else "."
    keep = list(text)
    try:
        frame = pandas.read_csv(
            io.StringIO(content),
            sep=delimiter,
            decimal=decimal,
            dtype=dict.fromkeys(keep, str),
            skipinitialspace=True,
        )
    except (ValueError, pandas.errors.ParserError) as exc:
        problem = ValueTypeError(
            _("cannot read the CSV: {reason}").format(reason=str(exc).strip()),
            hint=_("save the file as CSV again"),
        )
        raise ValidationError([problem.located(str(path))]) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    for column in frame.columns:
        if column in keep or pandas.api.types.is_numeric_dtype(frame[column].dtype):
            continue
        frame[column] = _numbers(frame[column], column)
    return frame


def _numbers(column: pandas.Series, name: str) -> pandas.Series:
    """A text column of numbers as written by people (`80%`, `1 000`) as floats; else as is."""
    import math

    import pandas

    from kpitree.errors import KPITreeError

    out = []
    for cell in column.tolist():
        if cell is None or (isinstance(cell, float) and math.isnan(cell)):
            out.append(math.nan)
            continue
        try:
            out.append(to_number(cell, what=name))
        except KPITreeError:
            return column  # not numbers: left as text, refused by whoever needs numbers
    return pandas.Series(out, index=column.index, dtype="float64")

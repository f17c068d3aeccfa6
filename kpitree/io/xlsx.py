"""Excel workbooks: a tree written with live formulas over named cells, and read back.

`to_xlsx` writes a "KPIs" sheet (one row per leaf: name, owner, horizon, value, unit,
bounds, norm, influenced by, standards, ...) and a "Metrics" sheet (one row per metric:
name, value, formula text, unit, norm, ...). Every value cell is a workbook *defined name*
equal to its node's name, and each metric's value is a live Excel formula over those names,
so changing a KPI in Excel recalculates the tree. The Excel formula is produced from
kpitree's parsed expression nodes, never from formula text. A scenario gets a sheet of its
own whose names are of that sheet's scope, so the same formulas compute it from its cells.

Excel reads a name such as `cr1`, `a1` or `rc` as a cell reference, so such names are
written with a `_` in front (`_cr1`); a name that only differs by that is written with one
more (`_cr1` as `__cr1`). Reading undoes it: `_cr1` is the node `cr1`, while `_total`
(which is no cell reference) stays `_total`. Excel's names ignore case, so two node names
that differ only by case cannot be written to one workbook (an error names them).

`read_xlsx` reads such a workbook back into an equal tree, and a workbook laid out by hand
the same way: named cells holding numbers are leaves, named cells holding formulas over
names are metrics, and a header row (`name`, `owner`, `horizon`, `unit`, ...) gives their
other fields. Excel formula text is turned into kpitree formula text token by token with
Excel's precedence (`-a^2` is `(-a) ** 2` in Excel) and read by kpitree's own parser; it is
never evaluated. Anything else is refused with the sheet and cell: a formula over cells or
ranges without names, a function kpitree does not have, a circular reference.

Undefined values: where kpitree calls a metric undefined (see `kpitree.engine.evaluate`),
the workbook shows an Excel error value instead of a number — `#DIV/0!` for a division by
zero, `#NUM!` (Excel) or `#VALUE!` (LibreOffice) for the log or square root of a number
out of their domain and for overflow — and every formula over it shows the error too.
"""

from __future__ import annotations

import contextlib
import graphlib
import json
import re
import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from kpitree import i18n
from kpitree.errors import (
    ArgumentError,
    CycleError,
    DuplicateNameError,
    FormulaError,
    KPITreeError,
    LimitError,
    UnknownNameError,
    ValidationError,
    did_you_mean,
    require,
)
from kpitree.i18n import N_, _
from kpitree.io.documents import Document, PathKey, path_text, read_json
from kpitree.io.schema import LEAF_FIELDS, build
from kpitree.io.writers import _unit_data
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
    format_expr,
    refs,
    walk,
)
from kpitree.language.limits import DEFAULT_LIMITS
from kpitree.language.parser import parse_formula
from kpitree.model.graph import Graph
from kpitree.model.nodes import KPI, Metric, Standard
from kpitree.model.norm import AtLeast, AtMost, Between, Norm, parse_norm
from kpitree.model.numbers import format_number

__all__ = ["FUNCTIONS", "excel_formula", "excel_name", "node_name", "read_xlsx", "to_xlsx"]

FUNCTIONS = {"min": "MIN", "max": "MAX", "abs": "ABS", "log": "LN", "exp": "EXP", "sqrt": "SQRT"}
"""kpitree's formula functions and the Excel functions they are written as."""

_FROM_EXCEL = {excel: name for name, excel in FUNCTIONS.items()}
# Excel functions read as operators: SUM(a, b) is a + b, PRODUCT(a, b) is a * b.
_OPERATOR_FUNCTIONS = {"SUM": " + ", "PRODUCT": " * "}
_SUPPORTED = (*FUNCTIONS.values(), "SUM", "PRODUCT", "POWER")

# Excel's specifications and limits: a formula's characters (`=` included), levels of
# nested functions, arguments of one function, characters of a defined name.
_EXCEL_MAX_FORMULA = 8192
_EXCEL_MAX_NESTING = 64
_EXCEL_MAX_ARGUMENTS = 255
_EXCEL_MAX_NAME = 255
_UNPACKED_PER_LIMIT = 10  # a workbook's XML may unpack to 10x the file-size limit
_META = "kpitree"  # the hidden sheet with what the rows do not hold: the roots, the locale
_FORMAT = 1

# -- names -------------------------------------------------------------------------------------

_A1 = re.compile(r"[A-Za-z]{1,3}[0-9]+")
_R1C1 = re.compile(r"[Rr][0-9]*(?:[Cc][0-9]*)?|[Cc][0-9]*")


def _cell_like(name: str) -> bool:
    """Whether Excel would read `name` as a cell (A1 or R1C1 style) or a logical value."""
    return bool(_A1.fullmatch(name) or _R1C1.fullmatch(name)) or name.upper() in ("TRUE", "FALSE")


def _escaped(name: str) -> bool:
    # A name is written with a `_` in front when it reads as a cell, or when it is such a
    # name with `_` in front already: `cr1` → `_cr1`, `_cr1` → `__cr1`, `_total` stays.
    while not _cell_like(name):
        if not name.startswith("_"):
            return False
        name = name[1:]
    return True


def excel_name(name: str) -> str:
    """Return the workbook's defined name for the node `name`.

    Examples:
        >>> excel_name("leads"), excel_name("cr1"), excel_name("_cr1"), excel_name("_total")
        ('leads', '_cr1', '__cr1', '_total')
    """
    return f"_{name}" if _escaped(name) else name


def node_name(defined: str) -> str:
    """Return the node name a workbook's defined name stands for (`excel_name` undone).

    Examples:
        >>> node_name("_cr1"), node_name("__cr1"), node_name("_total"), node_name("лиды")
        ('cr1', '_cr1', '_total', 'лиды')
    """
    if defined.startswith("_") and _escaped(defined[1:]):
        return defined[1:]
    return defined


# -- writing Excel formulas from expressions ---------------------------------------------------

_ATOM, _UNARY, _POWER, _PRODUCT, _SUM = 9, 5, 3, 2, 1


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return repr(float(value)).upper()


def excel_formula(expr: Expr, names: Mapping[str, str] | None = None) -> str:
    """Return the Excel formula (without `=`) for a kpitree expression.

    Written from the expression's nodes: names as the workbook's defined names (`names`
    maps node names to them; `excel_name` by default), functions as Excel's, `**` as `^`,
    with parentheses wherever Excel's precedence differs from kpitree's (in Excel `-a^2`
    is `(-a)^2`, and `^` groups from the left).

    Examples:
        >>> from kpitree.language.parser import parse_formula
        >>> excel_formula(parse_formula("-a ** 2 + log(cr1) / (b - d) ** -1"))
        '-(a^2)+LN(_cr1)/(b-d)^(-1)'
    """

    def name_of(name: str) -> str:
        return names[name] if names is not None else excel_name(name)

    def wrap(sub: Expr, minimum: int, *, unary: bool = False) -> str:
        text, precedence = fmt(sub)
        # A negation after an operator reads better in parentheses: a*(-b), not a*-b.
        if precedence < minimum or (unary and precedence == _UNARY):
            return f"({text})"
        return text

    def fmt(e: Expr) -> tuple[str, int]:
        if isinstance(e, Const):
            if e.value < 0:
                return "-" + _number(-e.value), _UNARY
            return _number(e.value), _ATOM
        if isinstance(e, Ref):
            return name_of(e.name), _ATOM
        if isinstance(e, Call):
            return f"{FUNCTIONS[e.func]}({','.join(fmt(a)[0] for a in e.args)})", _ATOM
        if isinstance(e, Neg):
            return "-" + wrap(e.operand, _ATOM), _UNARY
        if isinstance(e, Pow):
            return f"{wrap(e.base, _ATOM)}^{wrap(e.exponent, _ATOM)}", _POWER
        if isinstance(e, Mul):
            first, *rest = e.factors
            parts = [wrap(first, _PRODUCT), *(wrap(f, _PRODUCT + 1, unary=True) for f in rest)]
            return "*".join(parts), _PRODUCT
        if isinstance(e, Div):
            return f"{wrap(e.left, _PRODUCT)}/{wrap(e.right, _PRODUCT + 1, unary=True)}", _PRODUCT
        if isinstance(e, Add):
            first, *rest = e.terms
            parts = [wrap(first, _SUM), *(wrap(t, _SUM + 1, unary=True) for t in rest)]
            return "+".join(parts), _SUM
        if isinstance(e, Sub):
            return f"{wrap(e.left, _SUM)}-{wrap(e.right, _SUM + 1, unary=True)}", _SUM
        raise TypeError(f"not a formula expression: {e!r}")

    return fmt(expr)[0]


def _condition(norm: Norm, ref: str) -> str:
    """The Excel condition that a norm holds for the value in cell `ref`."""
    if isinstance(norm, AtLeast):
        return f"{ref}>={_number(norm.threshold)}"
    if isinstance(norm, AtMost):
        return f"{ref}<={_number(norm.threshold)}"
    assert isinstance(norm, Between)
    return f"AND({ref}>={_number(norm.low)},{ref}<={_number(norm.high)})"


# -- the layout --------------------------------------------------------------------------------

_HEADERS = {
    "name": N_("name"),
    "owner": N_("owner"),
    "horizon": N_("horizon"),
    "value": N_("value"),
    "unit": N_("unit"),
    "low": N_("lower bound"),
    "high": N_("upper bound"),
    "norm": N_("norm"),
    "influenced_by": N_("influenced by"),
    "standards": N_("standards"),
    "aggregate": N_("aggregate"),
    "direction": N_("direction"),
    "uncertainty": N_("uncertainty"),
    "description": N_("description"),
    "formula": N_("formula"),
    "target": N_("target"),
}
_LEAF_COLUMNS = (
    "name",
    "owner",
    "horizon",
    "value",
    "unit",
    "low",
    "high",
    "norm",
    "influenced_by",
    "standards",
    "aggregate",
    "direction",
    *LEAF_FIELDS,
    "description",
)
_METRIC_COLUMNS = ("name", "value", "formula", "unit", "norm", "target", "direction", "description")
_SCENARIO_COLUMNS = ("name", "value", "unit", "owner")
_KPIS_TITLE = N_("KPIs")
_METRICS_TITLE = N_("Metrics")
_WIDTHS = {"name": 24, "formula": 40, "description": 48, "standards": 40, "influenced_by": 18}

# Light fills, one per owner in the order of `tree.owners()`.
_OWNER_FILLS = (
    "FFE699",
    "C6E0B4",
    "BDD7EE",
    "F8CBAD",
    "D9D2E9",
    "B4E5E0",
    "FFD1DC",
    "E2EFDA",
    "FCE4D6",
    "DDEBF7",
)
_OK_FILL, _OK_FONT = "C6EFCE", "006100"
_BREACH_FILL, _BREACH_FONT = "FFC7CE", "9C0006"
_PERCENT = "0.0##%"


def _header(field: str) -> str:
    return _(_HEADERS[field]) if field in _HEADERS else field


@contextlib.contextmanager
def _in_locale(name: str | None) -> Iterator[None]:
    if name is None:
        yield
    else:
        with i18n.locale(name):
            yield


# -- writing -----------------------------------------------------------------------------------


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _measured_line(line: str) -> tuple[str, str] | None:
    """`name norm` read as a measurable standard (`response_minutes <= 15`), or None."""
    match = re.fullmatch(r"(\w+)\s+(.+)", line.strip())
    if match is None or not match[1].isidentifier():
        return None
    try:
        parse_norm(match[2])
    except KPITreeError:
        return None
    return match[1], match[2]


def _plain_line(text: str) -> str:
    # Text one line can hold as is; anything a reader would take for more is JSON.
    if (
        not text.strip()
        or text != text.strip()
        or "\n" in text
        or text.startswith(('"', "{"))
        or _measured_line(text) is not None
    ):
        return _json(text)
    return text


def _standards_text(standards: tuple[Standard, ...]) -> str:
    lines = []
    for s in standards:
        if s.name is None:
            lines.append(_plain_line(s.text))
        elif s.text == f"{s.name} {s.norm}":
            lines.append(s.text)
        else:
            lines.append(_json({"name": s.name, "norm": str(s.norm), "text": s.text}))
    return "\n".join(lines)


def _roles_text(roles: tuple[str, ...]) -> str:
    return "\n".join(_plain_line(r) for r in roles)


def _unit_text(unit: Any) -> str | None:
    if unit is None:
        return None
    data = _unit_data(unit)
    return data if isinstance(data, str) else _json(data)


def _defined_names(tree: Graph) -> dict[str, str]:
    names = {name: excel_name(name) for name in tree.names}
    seen: dict[str, str] = {}
    problems: list[KPITreeError] = []
    for name, defined in names.items():
        if (problem := _not_an_excel_name(name, defined)) is not None:
            problems.append(problem)
        other = seen.setdefault(defined.casefold(), name)
        if other != name:
            problems.append(
                DuplicateNameError(
                    _("`{a}` and `{b}` differ only by case, and Excel's names ignore case").format(
                        a=other, b=name
                    ),
                    hint=_("rename one of them before writing the tree to Excel"),
                    names=[other, name],
                )
            )
    if problems:
        raise ValidationError(problems) if len(problems) > 1 else problems[0]
    return names


def _not_an_excel_name(name: str, defined: str) -> ArgumentError | None:
    """Why Excel would refuse `defined`, the name of the node `name`, or None if it would not.

    A node's name is an identifier, but an identifier may hold characters Excel's names do
    not: punctuation such as `·` or `‿` (Excel takes letters, digits, `_` and `.`).
    """
    odd = [
        c for c in defined if not (c.isalnum() or c in "_." or unicodedata.category(c)[0] == "M")
    ]
    if odd:
        reason = _("`{name}` has {chars}, which Excel's names cannot hold").format(
            name=name, chars=", ".join(f"`{c}`" for c in dict.fromkeys(odd))
        )
    elif len(defined) > _EXCEL_MAX_NAME:
        reason = _("`{name}` is longer than Excel's names can be ({limit} characters)").format(
            name=name, limit=format_number(_EXCEL_MAX_NAME)
        )
    else:
        return None
    return ArgumentError(
        reason,
        hint=_("rename it with letters, digits and `_` before writing the tree to Excel"),
        names=[name],
    )


def to_xlsx(
    tree: Graph,
    path: str | Path,
    values: Mapping[str, Any] | None = None,
    *,
    scenarios: Mapping[str, Mapping[str, Any]] | None = None,
    locale: str | None = None,
) -> Path:
    """Write the tree as an Excel workbook whose metrics are live formulas over named cells.

    Args:
        tree: the tree.
        path: the `.xlsx` file to write.
        values: leaf values to write instead of the leaves' own (as for `evaluate`).
        scenarios: a sheet per scenario, by its title: the leaf values that differ in it
            (values of measured standards among them are left out).
            Its other leaves refer to the KPIs sheet, and its metrics are the same live
            formulas over names of that sheet's own scope.
        locale: the language of sheet titles and headers; the active locale by default.

    Returns:
        The path written.

    Raises:
        DuplicateNameError: two node names differ only by case (Excel's names ignore it),
            or two sheets would have one title.
        ArgumentError: a scenario's title cannot be a sheet's.
        LimitError: a metric's Excel formula is longer than Excel allows.
        MissingDependencyError: openpyxl is not installed (`pip install 'kpitree[excel]'`).

    Examples:
        >>> import tempfile, pathlib
        >>> from kpitree.examples import qualified_leads
        >>> path = to_xlsx(qualified_leads(), pathlib.Path(tempfile.mkdtemp()) / "ql.xlsx")
        >>> read_xlsx(path) == qualified_leads()
        True
    """
    require("openpyxl", extra="excel", feature=_("writing Excel workbooks"))
    if values is not None:
        tree = tree.with_values(values)
    # A values file may also measure standards (`response_minutes: 22`): no cells of theirs.
    measured = {s.name for kpi in tree.kpis for s in kpi.standards if s.name is not None}
    checked = {
        title: tree.check_values({k: v for k, v in leaves.items() if k not in measured})
        for title, leaves in (scenarios or {}).items()
    }
    path = Path(path)
    with _in_locale(locale):
        book = _workbook(tree, checked)
    book.save(path)
    return path


def _workbook(tree: Graph, scenarios: Mapping[str, Mapping[str, float]]) -> Any:
    from openpyxl import Workbook
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import absolute_coordinate, get_column_letter, quote_sheetname
    from openpyxl.workbook.defined_name import DefinedName

    names = _defined_names(tree)
    book = Workbook()
    kpis = book.active
    kpis.title = _(_KPIS_TITLE)
    metrics = book.create_sheet(_(_METRICS_TITLE))
    fills = {
        owner: PatternFill("solid", start_color=color, end_color=color)
        for i, owner in enumerate(tree.owners())
        for color in [_OWNER_FILLS[i % len(_OWNER_FILLS)]]
    }
    ok = (PatternFill("solid", bgColor=_OK_FILL), Font(color=_OK_FONT))
    breach = (PatternFill("solid", bgColor=_BREACH_FILL), Font(color=_BREACH_FONT))
    wrapped = Alignment(wrap_text=True, vertical="top")

    def text(sheet: Any, row: int, column: int, value: str | None) -> Any:
        cell = sheet.cell(row, column)
        if value is not None:
            cell.value = value
            cell.data_type = "s"  # text that starts with `=` stays text, never a formula
            if "\n" in value:
                cell.alignment = wrapped
        return cell

    def number(sheet: Any, row: int, column: int, value: float | None, percent: bool) -> Any:
        cell = sheet.cell(row, column)
        cell.value = value
        if isinstance(value, float) and float(f"{value:.16g}") != value:
            # openpyxl writes 16 significant digits, and some doubles need 17: the cell
            # gets the shortest text that reads back as the same double.
            cell._value = repr(value)
        if percent:
            cell.number_format = _PERCENT
        return cell

    def name_cell(sheet: Any, row: int, column: int, node: str) -> None:
        cell = absolute_coordinate(sheet.cell(row, column).coordinate)
        ref = f"{quote_sheetname(sheet.title)}!{cell}"
        book.defined_names[names[node]] = DefinedName(names[node], attr_text=ref)

    def norm_format(sheet: Any, row: int, column: int, norm: Norm | None) -> None:
        if norm is None:
            return
        cell = sheet.cell(row, column).coordinate
        ref = absolute_coordinate(cell)
        holds = _condition(norm, ref)
        for condition, (fill, font) in ((holds, ok), (f"NOT({holds})", breach)):
            rule = FormulaRule(formula=[f"AND(ISNUMBER({ref}),{condition})"], fill=fill, font=font)
            sheet.conditional_formatting.add(cell, rule)

    def headers(sheet: Any, columns: tuple[str, ...]) -> dict[str, int]:
        for i, field in enumerate(columns, 1):
            text(sheet, 1, i, _header(field)).font = Font(bold=True)
            sheet.column_dimensions[get_column_letter(i)].width = _WIDTHS.get(field, 14)
        sheet.freeze_panes = "B2"
        return {field: i for i, field in enumerate(columns, 1)}

    col = headers(kpis, _LEAF_COLUMNS)
    for row, leaf in enumerate(tree.leaves, 2):
        percent = leaf.unit is not None and leaf.unit.percent
        text(kpis, row, col["name"], leaf.name)
        number(kpis, row, col["value"], leaf.value, percent)
        name_cell(kpis, row, col["value"], leaf.name)
        text(kpis, row, col["unit"], _unit_text(leaf.unit))
        if leaf.bounds is not None:
            number(kpis, row, col["low"], leaf.bounds[0], percent)
            number(kpis, row, col["high"], leaf.bounds[1], percent)
        if isinstance(leaf, KPI):
            text(kpis, row, col["owner"], leaf.owner).fill = fills[leaf.owner]
            kpis.cell(row, col["name"]).fill = fills[leaf.owner]
            text(kpis, row, col["horizon"], str(leaf.horizon))
            text(kpis, row, col["norm"], None if leaf.norm is None else str(leaf.norm))
            text(kpis, row, col["influenced_by"], _roles_text(leaf.influenced_by) or None)
            text(kpis, row, col["standards"], _standards_text(leaf.standards) or None)
            norm_format(kpis, row, col["value"], leaf.norm)
        text(kpis, row, col["aggregate"], leaf.aggregate)
        text(kpis, row, col["direction"], leaf.direction)
        for field, codec in LEAF_FIELDS.items():
            value = getattr(leaf, field, None)
            text(kpis, row, col[field], None if value is None else _json(codec.write(value)))
        text(kpis, row, col["description"], leaf.description or None)

    col = headers(metrics, _METRIC_COLUMNS)
    for row, metric in enumerate(tree.metrics, 2):
        percent = metric.unit is not None and metric.unit.percent
        text(metrics, row, col["name"], metric.name)
        cell = metrics.cell(row, col["value"])
        cell.value = "=" + _checked(metric, names)
        if percent:
            cell.number_format = _PERCENT
        name_cell(metrics, row, col["value"], metric.name)
        text(metrics, row, col["formula"], _formula_text(metric))
        text(metrics, row, col["unit"], _unit_text(metric.unit))
        text(metrics, row, col["norm"], None if metric.norm is None else str(metric.norm))
        number(metrics, row, col["target"], metric.target, percent)
        text(metrics, row, col["direction"], metric.direction)
        text(metrics, row, col["description"], metric.description or None)
        norm_format(metrics, row, col["value"], metric.norm)

    # A scenario's sheet: its own names in its own scope, so that the same formulas read
    # its cells; a leaf the scenario leaves alone is the KPIs sheet's cell.
    base = {leaf.name: row for row, leaf in enumerate(tree.leaves, 2)}
    value_column = get_column_letter(_LEAF_COLUMNS.index("value") + 1)
    for title, changed in scenarios.items():
        sheet = book.create_sheet(_sheet_title(title, book.sheetnames))
        col = headers(sheet, _SCENARIO_COLUMNS)
        for row, node in enumerate((*tree.leaves, *tree.metrics), 2):
            percent = node.unit is not None and node.unit.percent
            text(sheet, row, col["name"], node.name)
            cell = sheet.cell(row, col["value"])
            if isinstance(node, Metric):
                cell.value = "=" + _checked(node, names)
            elif node.name in changed:
                number(sheet, row, col["value"], changed[node.name], percent)
            else:
                where = f"{quote_sheetname(kpis.title)}!${value_column}${base[node.name]}"
                cell.value = f"={where}"
            if percent:
                cell.number_format = _PERCENT
            coordinate = absolute_coordinate(cell.coordinate)
            sheet.defined_names[names[node.name]] = DefinedName(
                names[node.name], attr_text=f"{quote_sheetname(sheet.title)}!{coordinate}"
            )
            text(sheet, row, col["unit"], _unit_text(node.unit))
            if isinstance(node, KPI):
                text(sheet, row, col["owner"], node.owner).fill = fills[node.owner]

    meta = book.create_sheet(_META)
    meta.sheet_state = "hidden"
    rows: list[tuple[str, Any]] = [
        ("kpitree", _FORMAT),
        ("tree", _json([node.name for node in tree.roots])),
        ("locale", tree.locale),
        ("description", tree.description),
    ]
    for row, (key, value) in enumerate(rows, 1):
        text(meta, row, 1, key)
        if isinstance(value, str):
            text(meta, row, 2, value)
        else:
            meta.cell(row, 2).value = value
    return book


_SHEET_CHARACTERS = re.compile(r"[\[\]:*?/\\]")


def _sheet_title(title: object, taken: list[str]) -> str:
    r"""A scenario's title checked as a sheet's: 1 to 31 characters, none of `[]:*?/\`."""
    if not isinstance(title, str) or not title.strip():
        raise ArgumentError(
            _("a scenario's title must be text, got {value}").format(value=repr(title)),
            hint=_("name each scenario, e.g. {example}").format(example='{"plan": {...}}'),
        )
    if len(title) > 31 or _SHEET_CHARACTERS.search(title) or title.startswith("'"):
        raise ArgumentError(
            _("the scenario `{title}` cannot be a sheet's title").format(title=title),
            hint=_("a sheet's title has at most 31 characters and none of [ ] : * ? / \\"),
        )
    if title.casefold() in {t.casefold() for t in (*taken, _META)}:
        raise DuplicateNameError(
            _("the scenario `{title}` has the title of another sheet").format(title=title),
            hint=_("give the scenario another title"),
        )
    return title


def _checked(metric: Metric, names: Mapping[str, str]) -> str:
    """The metric's Excel formula, refused where Excel would not open the workbook."""
    formula = excel_formula(metric.formula, names)
    calls = [e for e in walk(metric.formula) if isinstance(e, Call)]
    for what, count, limit in (
        (_FORMULA_CHARACTERS, len(formula) + 1, _EXCEL_MAX_FORMULA),
        (_NESTED_FUNCTIONS, _call_depth(metric.formula), _EXCEL_MAX_NESTING),
        (_FUNCTION_ARGUMENTS, max((len(c.args) for c in calls), default=0), _EXCEL_MAX_ARGUMENTS),
    ):
        if count > limit:
            raise LimitError(
                _(what).format(
                    metric=metric.name, count=format_number(count), limit=format_number(limit)
                ),
                hint=_("split the metric into smaller metrics, each a part of the formula"),
                names=[metric.name],
            )
    return formula


_FORMULA_CHARACTERS = N_(
    "the Excel formula of `{metric}` has {count} characters, over Excel's limit of {limit}"
)
_NESTED_FUNCTIONS = N_(
    "the Excel formula of `{metric}` nests functions {count} deep, over Excel's limit of {limit}"
)
_FUNCTION_ARGUMENTS = N_(
    "the Excel formula of `{metric}` gives a function {count} arguments, over Excel's limit "
    "of {limit}"
)


def _call_depth(expr: Expr) -> int:
    """How deep function calls nest in `expr` (Excel counts only functions, not operators)."""
    inner = max((_call_depth(sub) for sub in children(expr)), default=0)
    return inner + 1 if isinstance(expr, Call) else inner


def _formula_text(metric: Metric) -> str:
    # The formula as written when it was written (it parses to the metric's own formula);
    # else as kpitree prints the expression.
    return metric.text if metric.text is not None else format_expr(metric.formula)


# -- reading -----------------------------------------------------------------------------------


@attrs.define
class _Book(Document):
    """A workbook's data as a model document, with the cell of each path for messages."""

    cells: dict[PathKey, str] = attrs.Factory(dict)

    def where(self, path: PathKey) -> str:
        for end in range(len(path), -1, -1):
            cell = self.cells.get(path[:end])
            if cell is not None:
                return f"{self.source} {cell} @ {path_text(path)}"
        return f"{self.source} @ {path_text(path)}"


def _cell_text(sheet: Any, coordinate: str) -> str:
    from openpyxl.utils import quote_sheetname

    return f"{quote_sheetname(sheet.title)}!{coordinate}"


def _known_headers() -> dict[str, str]:
    """Header text (any shipped locale, case-folded) → field."""
    out = {}
    for name in i18n.LOCALES:
        with i18n.locale(name):
            for field, message in _HEADERS.items():
                out[_(message).casefold()] = field
    for field in LEAF_FIELDS:
        out.setdefault(field.casefold(), field)
    return out


def _header_row(sheet: Any, known: Mapping[str, str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for cell in next(sheet.iter_rows(min_row=1, max_row=1), ()):
        if isinstance(cell.value, str):
            field = known.get(cell.value.strip().casefold())
            if field is not None:
                found.setdefault(field, cell.column)
    return found


def _lines(value: Any, where: str, standards: bool) -> list[Any]:
    items: list[Any] = []
    for line in str(value).splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith(('"', "{")):
            try:
                items.append(read_json(line, source=where))
            except KPITreeError as error:
                raise error.located(where) from None
            continue
        measured = _measured_line(line) if standards else None
        items.append(line if measured is None else {"name": measured[0], "norm": measured[1]})
    return items


def read_xlsx(path: str | Path) -> Graph:
    """Read a workbook written by `to_xlsx`, or laid out the same way by hand, into a tree.

    Named cells holding numbers are leaves (KPIs when their row gives an owner or a
    horizon, else inputs); named cells holding formulas over names are metrics; the header
    row of a sheet (`name`, `owner`, `horizon`, `unit`, `norm`, ... in English or Russian)
    gives the other fields of each row.

    Raises:
        ValidationError: every problem found, each with its sheet and cell: a formula over
            cells or ranges without names, a function kpitree does not have, a circular
            reference, a field the model-file schema refuses.
        ArgumentError: the file is missing or not an Excel workbook.

    Examples:
        >>> import tempfile, pathlib
        >>> from kpitree.examples import dupont
        >>> path = to_xlsx(dupont(), pathlib.Path(tempfile.mkdtemp()) / "dupont.xlsx")
        >>> tree = read_xlsx(path)
        >>> str(tree["roe"].formula), tree["net_margin"].norm
        ('net_margin * asset_turnover * equity_multiplier', AtLeast(threshold=0.05))
    """
    require("openpyxl", extra="excel", feature=_("reading Excel workbooks"))
    # Workbooks come from other people: openpyxl parses their XML through defusedxml when
    # it is installed, which refuses entity expansion ("billion laughs").
    require("defusedxml", extra="excel", feature=_("reading Excel workbooks"))
    path = Path(path)
    book = _open(path)
    source = str(path)
    problems: list[KPITreeError] = []
    meta = _meta(book)
    # In a workbook kpitree wrote, the tree's names are the workbook's; names of a sheet's
    # own scope are its scenarios' (whatever their sheets are called now).
    skipped = book.sheetnames if "kpitree" in meta else []
    named, ranges = _names(book, source, problems, skip=skipped)
    reading = _Reading(book, source, problems)
    for defined, (title, coordinate) in named.items():
        reading.node(node_name(defined), book[title], coordinate)
    lookup = {defined.casefold(): node_name(defined) for defined in named}
    uses: dict[str, list[str]] = {}
    for name, (formula, where, text) in reading.formulas.items():
        try:
            converted = _from_excel(formula, lookup, ranges, f"{source} {where}", name)
            expr = parse_formula(converted)
        except KPITreeError as error:
            problems.append(error if error.where else error.located(f"{source} {where}"))
            continue
        if text is not None:  # the formula as written in kpitree, when it says the same
            with contextlib.suppress(KPITreeError):
                if parse_formula(text) == expr:
                    converted = text
        reading.sections["metrics"][name]["formula"] = converted
        uses[name] = [r.name for r in refs(expr)]
    if problems:
        raise ValidationError(problems)
    _check_cycles(uses, reading.cells, source)
    used = {r for names in uses.values() for r in names}
    order = sorted(reading.order, key=reading.order.__getitem__)
    written = meta.get("tree")
    roots = [n for n in written if n in reading.order] if isinstance(written, list) else []
    roots += [n for n in order if n not in used and n not in roots]
    data: dict[str, Any] = {"tree": roots}
    for key in ("locale", "description"):
        if isinstance(meta.get(key), str):
            data[key] = meta[key]
    for key, section in reading.sections.items():
        if section:
            data[key] = section
    return build(_Book(data=data, source=source, cells=reading.cells))


class _Reading:
    """The nodes of a workbook as model-file data, with the cell each field came from."""

    def __init__(self, book: Any, source: str, problems: list[KPITreeError]) -> None:
        self.book = book
        self.source = source
        self.problems = problems
        self.known = _known_headers()
        self.headers: dict[str, dict[str, int]] = {}
        self.cells: dict[PathKey, str] = {}
        self.sections: dict[str, dict[str, Any]] = {"kpis": {}, "inputs": {}, "metrics": {}}
        self.formulas: dict[str, tuple[str, str, str | None]] = {}  # Excel formula, cell, text
        self.order: dict[str, tuple[int, int, int]] = {}

    def row(self, sheet: Any, cell: Any) -> dict[str, tuple[Any, str]]:
        """The fields of the cell's row by the sheet's header row: value and cell of each."""
        if sheet.title not in self.headers:
            self.headers[sheet.title] = _header_row(sheet, self.known)
        out = {}
        for field, column in self.headers[sheet.title].items():
            if column == cell.column or field in ("name", "value"):
                continue
            other = sheet.cell(cell.row, column)
            if other.value is not None and other.value != "":
                out[field] = (other.value, _cell_text(sheet, other.coordinate))
        return out

    def node(self, name: str, sheet: Any, coordinate: str) -> None:
        cell = sheet[coordinate]
        where = _cell_text(sheet, coordinate)
        self.order[name] = (self.book.sheetnames.index(sheet.title), cell.row, cell.column)
        row = self.row(sheet, cell)
        value = cell.value
        entry: dict[str, Any] = {}
        if isinstance(value, str) and value.startswith("="):
            text = row.pop("formula", (None, ""))[0]
            self.formulas[name] = (value[1:], where, text if isinstance(text, str) else None)
            key = "metrics"
        elif value is None or isinstance(value, int | float | str):
            row.pop("formula", None)
            if value is not None:
                entry["value"] = value
            key = "kpis" if "owner" in row or "horizon" in row else "inputs"
        else:
            self.problems.append(
                FormulaError(
                    _("the cell of `{name}` holds {what}, not a number or a formula").format(
                        name=name, what=type(value).__name__
                    ),
                    where=f"{self.source} {where}",
                    hint=_("write a number, or a formula over named cells"),
                    names=[name],
                )
            )
            return
        self.cells[(key, name)] = where
        bounds: dict[str, Any] = {}
        for field, (field_value, field_cell) in row.items():
            target = "bounds" if field in ("low", "high") else field
            self.cells.setdefault((key, name, target), field_cell)
            if target == "bounds":
                bounds[field] = field_value
                continue
            try:
                entry[field] = _field(field, field_value, f"{self.source} {field_cell}")
            except KPITreeError as error:
                self.problems.append(error)
        if bounds:  # [low, high], or a mapping without the open side
            entry["bounds"] = [bounds["low"], bounds["high"]] if len(bounds) == 2 else bounds
        self.sections[key][name] = entry


def _open(path: Path) -> Any:
    import zipfile

    from openpyxl import load_workbook

    if not path.is_file():
        raise ArgumentError(
            _("there is no file `{path}`").format(path=path),
            hint=_("give the path of an .xlsx workbook"),
        )
    size = path.stat().st_size
    if size > DEFAULT_LIMITS.max_file_bytes:
        raise ArgumentError(
            _("the file is {size} bytes, over the limit of {limit}").format(
                size=format_number(size), limit=format_number(DEFAULT_LIMITS.max_file_bytes)
            ),
            where=str(path),
            hint=_("split the model, or raise Limits.max_file_bytes"),
        )
    limit = _UNPACKED_PER_LIMIT * DEFAULT_LIMITS.max_file_bytes
    if (unpacked := _unpacked_size(path)) > limit:
        raise ArgumentError(
            _("the workbook unpacks to {size} bytes, over the limit of {limit}").format(
                size=format_number(unpacked), limit=format_number(limit)
            ),
            where=str(path),
            hint=_("a kpitree workbook is far smaller; save the model's sheets alone"),
        )
    try:
        return load_workbook(path, data_only=False)
    # A broken or hostile file fails in the zip, the XML (defusedxml's refusals are
    # ValueErrors, a parse error is a SyntaxError) or openpyxl's reading of what it found.
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError, SyntaxError) as error:
        raise ArgumentError(
            _("cannot read `{path}` as an Excel workbook: {problem}").format(
                path=path, problem=(str(error) or type(error).__name__).splitlines()[0]
            ),
            hint=_("save it from Excel or LibreOffice as .xlsx"),
        ) from None


def _unpacked_size(path: Path) -> int:
    """The bytes a workbook's entries unpack to, as its zip says (0 when it is no zip).

    Reading an entry stops at that size, so a "zip bomb" (a few kilobytes unpacking to
    gigabytes of XML) is refused before anything is read; openpyxl says why a file that is
    no zip cannot be read.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return sum(item.file_size for item in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return 0


def _names(
    book: Any, source: str, problems: list[KPITreeError], *, skip: list[str]
) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """The defined names of single cells (name → sheet, cell) and of anything else.

    The names of the scope of a sheet in `skip` (the scenarios' sheets) are not the tree's.
    """
    from openpyxl.utils.cell import range_boundaries

    found: list[Any] = list(book.defined_names.values())
    for sheet in book.worksheets:
        if sheet.title not in skip:
            found.extend(sheet.defined_names.values())
    cells: dict[str, tuple[str, str]] = {}
    ranges: dict[str, str] = {}
    seen: dict[str, str] = {}
    for defined in found:
        if defined.name.startswith("_xlnm.") or defined.name.startswith("_xlfn."):
            continue  # print areas and the like, which Excel names itself
        destinations = []
        with contextlib.suppress(Exception):
            destinations = list(defined.destinations)
        target = None
        if len(destinations) == 1:
            title, ref = destinations[0]
            with contextlib.suppress(ValueError, TypeError):
                low_col, low_row, high_col, high_row = range_boundaries(ref.replace("$", ""))
                if title in book.sheetnames and (low_col, low_row) == (high_col, high_row):
                    target = (title, ref.replace("$", ""))
        if target is None:
            ranges[defined.name.casefold()] = str(defined.attr_text)
            continue
        name = node_name(defined.name)
        here = _cell_text(book[target[0]], target[1])
        first = seen.setdefault(name, here)
        if first == here and defined.name in cells:
            continue  # the same name for the same cell, in the workbook's and a sheet's scope
        if first != here:
            problems.append(
                DuplicateNameError(
                    _("the name `{name}` is defined twice: {first} and {second}").format(
                        name=name, first=first, second=here
                    ),
                    where=source,
                    hint=_("keep one cell per name"),
                    names=[name],
                )
            )
            continue
        cells[defined.name] = target
    return cells, ranges


def _meta(book: Any) -> dict[str, Any]:
    if _META not in book.sheetnames:
        return {}
    out: dict[str, Any] = {}
    for key, value, *_rest in book[_META].iter_rows(min_row=1, max_col=2, values_only=True):
        if key == "tree" and isinstance(value, str):
            with contextlib.suppress(KPITreeError):
                out[key] = read_json(value)
        elif isinstance(key, str):
            out[key] = value
    return out


def _field(field: str, value: Any, where: str) -> Any:
    """A row's cell as the model-file field it holds."""
    if field in ("influenced_by", "standards"):
        return _lines(value, where, standards=field == "standards")
    if field in LEAF_FIELDS or (field == "unit" and isinstance(value, str) and "{" in value[:1]):
        try:
            return read_json(value, source=where) if isinstance(value, str) else value
        except KPITreeError as error:
            raise error.located(where) from None
    return value


def _check_cycles(uses: Mapping[str, list[str]], cells: Mapping[PathKey, str], source: str) -> None:
    graph = {name: [r for r in names if r in uses] for name, names in uses.items()}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        loop = list(reversed(error.args[1]))
        raise CycleError(
            _("circular reference: {loop}").format(loop=" → ".join(loop)),
            where=f"{source} {cells[('metrics', loop[0])]}",
            hint=_("a metric's formula may not use the metric itself, directly or through others"),
            names=loop[:-1],
        ) from None


# -- reading Excel formulas --------------------------------------------------------------------

_BINARY = {"+": (_SUM, "+"), "-": (_SUM, "-"), "*": (_PRODUCT, "*"), "/": (_PRODUCT, "/")}
_BINARY["^"] = (_POWER, "**")
_PERCENT_POSTFIX = 4


class _Reader:
    """Excel formula tokens read with Excel's precedence into fully parenthesized kpitree text."""

    def __init__(
        self,
        formula: str,
        names: Mapping[str, str],
        ranges: Mapping[str, str],
        where: str,
        metric: str,
    ) -> None:
        from openpyxl.formula.tokenizer import Tokenizer, TokenizerError

        self.formula = formula
        self.names = names
        self.ranges = ranges
        self.where = where
        self.metric = metric
        try:
            items = Tokenizer("=" + formula).items
        except TokenizerError as error:
            raise self.error(
                _("cannot read the formula `={formula}`: {problem}").format(
                    formula=formula, problem=error
                ),
                _("write a formula of named cells, numbers, + - * / ^ and functions"),
            ) from None
        self.tokens = [t for t in items if t.type != "WHITE-SPACE"]
        self.position = 0

    def error(self, reason: str, hint: str, cls: type[KPITreeError] = FormulaError) -> KPITreeError:
        return cls(reason, where=self.where, hint=hint, names=[self.metric])

    def peek(self) -> Any:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def next(self) -> Any:
        token = self.peek()
        if token is None:
            raise self.error(
                _("the formula `={formula}` ends too early").format(formula=self.formula),
                _("check the parentheses and operators"),
            )
        self.position += 1
        return token

    def read(self) -> str:
        text = self.expression(0)
        extra = self.peek()
        if extra is not None:
            raise self.unexpected(extra)
        return text

    def unexpected(self, token: Any) -> KPITreeError:
        if token.type in ("OPERATOR-INFIX", "OPERATOR-PREFIX", "OPERATOR-POSTFIX"):
            return self.error(
                _("the operator `{token}` in `={formula}` has no kpitree meaning").format(
                    token=token.value, formula=self.formula
                ),
                _("kpitree formulas use + - * / ^ and % after a number"),
            )
        return self.error(
            _("`{token}` in `={formula}` is not part of a kpitree formula").format(
                token=token.value, formula=self.formula
            ),
            _("write a formula of named cells, numbers, + - * / ^ and functions"),
        )

    def expression(self, minimum: int) -> str:
        left = self.prefix()
        while True:
            token = self.peek()
            if token is None:
                return left
            if token.type == "OPERATOR-POSTFIX" and token.value == "%":
                if minimum > _PERCENT_POSTFIX:
                    return left
                self.position += 1
                left = f"({left} / 100)"
                continue
            if token.type != "OPERATOR-INFIX" or token.value not in _BINARY:
                if token.type == "OPERATOR-INFIX":
                    raise self.unexpected(token)
                return left
            precedence, operator = _BINARY[token.value]
            if precedence < minimum:
                return left
            self.position += 1
            right = self.expression(precedence + 1)  # Excel groups every operator from the left
            left = f"({left} {operator} {right})"

    def prefix(self) -> str:
        token = self.next()
        if token.type == "OPERATOR-PREFIX" and token.value in "+-":
            operand = self.expression(_UNARY)
            return f"(-{operand})" if token.value == "-" else operand
        if token.type == "OPERAND" and token.subtype == "NUMBER":
            return str(token.value)
        if token.type == "OPERAND" and token.subtype == "RANGE":
            return self.name(str(token.value))
        if token.type == "PAREN" and token.subtype == "OPEN":
            inner = self.expression(0)
            close = self.next()
            if close.type != "PAREN" or close.subtype != "CLOSE":
                raise self.unexpected(close)
            return f"({inner})"
        if token.type == "FUNC" and token.subtype == "OPEN":
            return self.call(str(token.value)[:-1])
        raise self.unexpected(token)

    def call(self, written: str) -> str:
        function = written.upper().removeprefix("_XLFN.")
        if function not in _SUPPORTED:
            hint = did_you_mean(function, _SUPPORTED) or _("kpitree reads {functions}").format(
                functions=", ".join(_SUPPORTED)
            )
            if function == "LOG":
                hint = _("LOG is base 10 in Excel; write LN for the natural logarithm")
            raise self.error(
                _("the function `{function}` in `={formula}` has no kpitree counterpart").format(
                    function=written, formula=self.formula
                ),
                hint,
                UnknownNameError,
            )
        args: list[str] = []
        after = self.peek()
        if after is None or after.type != "FUNC" or after.subtype != "CLOSE":
            while True:
                args.append(self.expression(0))
                token = self.next()
                if token.type == "FUNC" and token.subtype == "CLOSE":
                    break
                if token.type != "SEP" or token.subtype != "ARG":
                    raise self.unexpected(token)
        else:
            self.position += 1
        if function in _FROM_EXCEL:
            return f"{_FROM_EXCEL[function]}({', '.join(args)})"
        if function in _OPERATOR_FUNCTIONS and args:
            return "(" + _OPERATOR_FUNCTIONS[function].join(args) + ")"
        if function == "POWER" and len(args) == 2:
            return f"({args[0]} ** {args[1]})"
        if function == "POWER":
            reason = _("`POWER` in `={formula}` takes two arguments, got {count}")
        else:
            reason = _("`{function}` in `={formula}` needs at least one argument")
        raise self.error(
            reason.format(function=function, formula=self.formula, count=len(args)),
            _("write POWER(a, b), SUM(a, b, ...) or PRODUCT(a, b, ...) over named cells"),
        )

    def name(self, written: str) -> str:
        found = self.names.get(written.casefold())
        if found is not None:
            return found
        if written.casefold() in self.ranges:
            raise self.error(
                _("`{name}` in `={formula}` names `{target}`, not one cell").format(
                    name=written, formula=self.formula, target=self.ranges[written.casefold()]
                ),
                _("kpitree formulas use names of single cells"),
            )
        plain = written.replace("$", "")
        if ":" in plain or "!" in plain or _cell_like(plain):
            raise self.error(
                _(
                    "the formula `={formula}` uses the cell or range `{ref}`, which has no name"
                ).format(formula=self.formula, ref=written),
                _("give the cell a name (Formulas → Define Name) and use the name in the formula"),
            )
        raise self.error(
            _("the formula `={formula}` uses `{name}`, which is not a name in the workbook").format(
                formula=self.formula, name=written
            ),
            did_you_mean(written, list(self.names.values()))
            or _("define the name for the cell that holds its value"),
            UnknownNameError,
        )


def _from_excel(
    formula: str, names: Mapping[str, str], ranges: Mapping[str, str], where: str, metric: str
) -> str:
    """Excel formula text (without `=`) as kpitree formula text, or an error at `where`."""
    return _Reader(formula, names, ranges, where, metric).read()

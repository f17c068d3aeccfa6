"""Rich displays for Jupyter: HTML tables and trees, LaTeX formulas, Markdown.

Everything here returns text. HTML is self-contained: inline styles only, no scripts, no
fonts or images from the network, so it survives notebook viewers that strip `<style>`
blocks. Every piece of text from a tree (names, owners, units, standards) is escaped.

Colours carry meaning in one way everywhere: each owner has a colour (the same in the
tree, the diagrams and the charts); a change is green when it is *better* and red when it
is *worse* by the node's norm (`≥` or `≤`), whatever its sign; grey when no norm says.

The result classes' `_repr_html_` methods are one line each, calling the function for
their kind here: `tree_html`, `values_html`, `status_html`, `scenario_html`,
`sensitivity_html`, `attribution_html`, `simulation_html`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from kpitree.display.style import (
    VERDICT_COLOURS,
    Verdict,
    known,
    outline,
    owner_colours,
    owner_of,
    shown,
    signed,
    verdict,
)
from kpitree.language.expr import format_expr
from kpitree.model.escape import html_text, markdown_block, markdown_text
from kpitree.model.nodes import KPI, Input, Metric
from kpitree.model.numbers import format_number, to_number
from kpitree.model.render import renders
from kpitree.model.results import format_norm, norm_mark, norm_ok

if TYPE_CHECKING:
    from kpitree.model.graph import Graph

__all__ = [
    "MAX_HTML_ROWS",
    "MAX_LATEX_METRICS",
    "attribution_html",
    "latex",
    "partial_latex",
    "scenario_html",
    "sensitivity_html",
    "simulation_html",
    "status_html",
    "status_markdown",
    "tree_html",
    "tree_latex",
    "tree_markdown",
    "values_html",
]

MAX_HTML_ROWS: Final = 500
"""Rows shown in an HTML table; a longer one ends with a line saying how many are left."""

MAX_LATEX_METRICS: Final = 40
"""Metrics shown by a tree's LaTeX display; a bigger tree shows none (use `tree.latex`)."""

_BOX = (
    "font-family: -apple-system, 'Segoe UI', 'DejaVu Sans', sans-serif; font-size: 13px; "
    "color: #1f2328; line-height: 1.4"
)
_TABLE = "border-collapse: collapse; margin: 4px 0"
_CELL = "padding: 2px 10px; border-bottom: 1px solid #d0d7de; text-align: left"
_NUMBER = "padding: 2px 10px; border-bottom: 1px solid #d0d7de; text-align: right"
_HEAD = "padding: 2px 10px; border-bottom: 2px solid #57606a; text-align: left"
_MUTED = "color: #57606a"
_BADGES: Final = {
    True: ("#dafbe1", "#1a7f37"),
    False: ("#ffebe9", "#cf222e"),
    None: ("#eaeef2", "#57606a"),
}


def _e(text: object) -> str:
    return html_text(text)


def _box(*parts: str) -> str:
    return f'<div class="kpitree" style="{_BOX}">{"".join(parts)}</div>'


def _title(text: str) -> str:
    return f'<div style="font-weight: 600; margin: 2px 0">{_e(text)}</div>'


def _note(text: str) -> str:
    return f'<div style="{_MUTED}">{_e(text)}</div>'


def _table(header: list[str], rows: Iterable[list[str]], numeric: Iterable[int] = ()) -> str:
    """Render rows of ready HTML cells; columns in `numeric` are right-aligned."""
    right = set(numeric)
    head = "".join(
        f'<th style="{_NUMBER if i in right else _HEAD}">{_e(h)}</th>' for i, h in enumerate(header)
    )
    body = []
    shown_rows = 0
    left = 0
    for row in rows:
        if shown_rows == MAX_HTML_ROWS:
            left += 1
            continue
        shown_rows += 1
        cells = "".join(
            f'<td style="{_NUMBER if i in right else _CELL}">{cell}</td>'
            for i, cell in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    more = (
        f'<tr><td colspan="{len(header)}" style="{_MUTED}">… {left} more</td></tr>' if left else ""
    )
    return f'<table style="{_TABLE}"><tr>{head}</tr>{"".join(body)}{more}</table>'


def _swatch(colour: str) -> str:
    return (
        f'<span style="display: inline-block; width: 0.8em; height: 0.8em; '
        f'background: {colour}; border-radius: 2px; margin-right: 4px"></span>'
    )


def _badge(text: str, ok: bool | None) -> str:
    background, colour = _BADGES[ok]
    mark = norm_mark(ok)
    return (
        f'<span style="background: {background}; color: {colour}; border-radius: 8px; '
        f'padding: 0 6px; white-space: nowrap">{_e(text)} {mark}</span>'
    )


def _coloured(text: str, judged: Verdict) -> str:
    weight = "" if judged == "neutral" else "; font-weight: 600"
    return f'<span style="color: {VERDICT_COLOURS[judged]}{weight}">{_e(text)}</span>'


def _owner_cell(owner: str | None, colours: Mapping[str, str]) -> str:
    if owner is None:
        return ""
    return _swatch(colours.get(owner, colours["external"])) + _e(owner)


def _pct(value: float | None) -> str:
    if value is None:
        return "new"
    if not value:
        return "0%"
    return ("+" if value > 0 else "−") + format_number(abs(value), percent=True)


# -- the tree -------------------------------------------------------------------------------------


@renders("kpitree.model.graph.Graph", "html")
def tree_html(tree: Graph, values: Mapping[str, Any] | None = None) -> str:
    """Return the tree as an indented HTML table: formula, value, owner, horizon, norm.

    Leaves carry their owner's colour; a norm is a badge, green when met and red when
    not. Values that cannot be computed show as `?`; the display never fails on them.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> page = tree_html(qualified_leads(), {"lead_to_ql": 0.75})
        >>> "750 lead" in page, "75%" in page, "≥ 80% ✗" in page, "<script" in page
        (True, True, True, False)
    """
    try:
        found = known(tree, values)
    except Exception:  # a display must not fail on bad values: show what the nodes say
        found = {}
    colours = owner_colours(tree)
    rows = []
    for name, depth, again in outline(tree):
        node = tree[name]
        pad = f'<span style="padding-left: {1.5 * depth:g}em"></span>'
        glyph = "└ " if depth else ""
        if again:
            rows.append(
                [
                    f'{pad}{glyph}{_e(name)} <span style="{_MUTED}">(see above)</span>',
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
            )
            continue
        value = found.get(name, math.nan)
        formula = format_expr(node.formula) if isinstance(node, Metric) else ""
        kind = "KPI" if isinstance(node, KPI) else "input" if isinstance(node, Input) else "metric"
        norm = getattr(node, "norm", None)
        badge = ""
        if norm is not None:
            badge = _badge(format_norm(norm, tree.unit(name)), norm_ok(node, value))
        horizon = str(node.horizon) if isinstance(node, KPI) else ""
        rows.append(
            [
                f"{pad}{glyph}<b>{_e(name)}</b>",
                f'<code style="{_MUTED}">{_e(formula)}</code>' if formula else "",
                _e(shown(value, tree, name)),
                _e(kind),
                _owner_cell(owner_of(tree, name), colours),
                _e(horizon),
                badge,
            ]
        )
    header = ["node", "formula", "value", "kind", "owner", "horizon", "norm"]
    for row in rows:
        row.extend([""] * (len(header) - len(row)))
    title = f"Tree: {len(tree.metrics)} metrics, {len(tree.kpis)} KPIs, {len(tree.inputs)} inputs"
    return _box(_title(title), _table(header, rows, numeric=[2]))


@renders("kpitree.model.graph.Graph", "markdown")
def tree_markdown(tree: Graph) -> str:
    """Return the tree's text outline in a fenced block, for viewers that show Markdown.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> print(tree_markdown(qualified_leads()).splitlines()[0])
        ```text
    """
    # The fence outgrows any run of backticks in the outline: a description or owner
    # holding ``` cannot close the block and let raw HTML after it through.
    return markdown_block(str(tree))


# -- values and status ----------------------------------------------------------------------------


@renders("kpitree.model.results.Values", "html")
def values_html(values: Mapping[str, float], tree: Graph | None = None) -> str:
    """Return node values as an HTML table, each with its unit.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> page = values_html(qualified_leads().evaluate())
        >>> "1,000 lead" in page and "80%" in page
        True
    """
    tree = tree if tree is not None else getattr(values, "_tree", None)
    colours = owner_colours(tree) if tree is not None else {"external": ""}
    rows = []
    for name, value in values.items():
        owner = owner_of(tree, name) if tree is not None and name in tree else None
        rows.append(
            [
                _e(name),
                _e(shown(value, tree, name)),
                _owner_cell(owner, colours) if owner else "",
            ]
        )
    return _box(_table(["node", "value", "owner"], rows, numeric=[1]))


@renders("kpitree.analyses.status.Status", "html")
def status_html(status: Any) -> str:
    """Return a `Status` as an HTML table: a badge per norm, failing rows in red.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> page = status_html(qualified_leads().status({"lead_to_ql": 0.75}))
        >>> "≥ 80% ✗" in page, "1 below norm" in page
        (True, True)
    """
    tree = status.tree
    colours = owner_colours(tree)
    rows = []
    for r in status:
        norm = format_norm(r.norm, tree.unit(r.name))
        gap = "" if not r.gap else signed(r.gap, tree, r.name)
        rows.append(
            [
                f"<b>{_e(r.name)}</b>",
                _e(shown(r.value, tree, r.name)),
                _badge(norm, r.ok),
                _owner_cell(r.owner, colours) if r.owner else "",
                _e(gap),
            ]
        )
        for s in r.standards:
            value = "" if s.value is None else format_number(s.value)
            mark = _badge(s.norm.format(), s.ok) if s.norm is not None else ""
            label = s.name if s.name is not None else s.text
            rows.append(
                [
                    f'<span style="padding-left: 1.5em; {_MUTED}">{_e(label)}</span>',
                    _e(value),
                    mark,
                    "",
                    "",
                ]
            )
    if not rows:
        return _box(_note("no KPI or metric of this tree has a norm"))
    failing = len(status.failing)
    verdict_text = "all norms met" if failing == 0 else f"{failing} below norm"
    header = ["name", "value", "norm", "owner", "to meet norm"]
    return _box(_table(header, rows, numeric=[1]), _note(verdict_text))


@renders("kpitree.analyses.status.Status", "markdown")
def status_markdown(status: Any) -> str:
    r"""Return a `Status` as a Markdown table (GitHub shows it in a notebook).

    Every cell is `markdown_text`: markup characters are backslash-escaped, so a name's
    `_` or an owner's `<b>` shows as written.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> print(status_markdown(qualified_leads().status({"lead_to_ql": 0.75})))
        | | name | value | norm | owner |
        |---|---|---|---|---|
        | ✗ | lead\_to\_ql | 75% | ≥ 80% | sales |
    """
    lines = ["| | name | value | norm | owner |", "|---|---|---|---|---|"]
    for r in status:
        cells = [
            norm_mark(r.ok),
            r.name,
            shown(r.value, status.tree, r.name),
            format_norm(r.norm, status.tree.unit(r.name)),
            r.owner or "—",
        ]
        lines.append("| " + " | ".join(markdown_text(c) for c in cells) + " |")
    return "\n".join(lines)


# -- what-if and sensitivity ----------------------------------------------------------------------


@renders("kpitree.analyses.whatif.Scenario", "html")
def scenario_html(scenario: Any) -> str:
    """Return a `Scenario` as an HTML table of the nodes that moved, biggest change first.

    Changes are green when better and red when worse by each node's norm.

    Examples:
        >>> from kpitree.examples import saas_mrr
        >>> page = scenario_html(saas_mrr().whatif({"churn_rate": "2%"}))
        >>> "3% → 2%" in page, "#1a7f37" in page  # churn down is better: green
        (True, True)
    """
    tree = scenario.tree
    before, after, pct = scenario.before, scenario.after, scenario.pct
    rows = []
    for name in scenario.moved():
        change = after[name] - before[name]
        judged = verdict(tree, name, change)
        rows.append(
            [
                f"<b>{_e(name)}</b>",
                _e(f"{shown(before[name], tree, name)} → {shown(after[name], tree, name)}"),
                _coloured(signed(change, tree, name), judged),
                _coloured(_pct(pct[name]), judged),
            ]
        )
    title = _title(f"Scenario: {scenario.label()}")
    if not rows:
        return _box(title, _note("no node changes"))
    rest = len(tree) - len(rows)
    notes = [_note(f"{rest} other node(s) unchanged")] if rest else []
    return _box(title, _table(["node", "before → after", "change", "%"], rows, [2, 3]), *notes)


def _bar(size: float, largest: float, colour: str) -> str:
    width = 0.0 if not largest or math.isnan(size) else 80 * abs(size) / largest
    return (
        f'<span style="display: inline-block; height: 0.7em; width: {width:.1f}px; '
        f'background: {colour}; margin-left: 6px"></span>'
    )


@renders("kpitree.analyses.calculus.Sensitivity", "html")
def sensitivity_html(sensitivity: Any) -> str:
    """Return a `Sensitivity` as an HTML table with a bar per leaf in its owner's colour.

    Examples:
        >>> from kpitree.examples import sales_revenue
        >>> page = sensitivity_html(sales_revenue().sensitivity("revenue"))
        >>> "head_of_sales" in page and "by owner" in page
        True
    """
    s = sensitivity
    tree = s.tree
    colours = owner_colours(tree)
    largest = max((abs(r.impact_1pct) for r in s), default=0.0)
    rows = []
    for r in s:
        colour = colours.get(r.owner, colours["external"])
        rows.append(
            [
                f"<b>{_e(r.name)}</b>",
                _owner_cell(r.owner, colours),
                _e(r.horizon or "—"),
                _e(shown(r.value, tree, r.name)),
                _e(format_number(r.derivative)),
                _e("—" if r.elasticity is None else format_number(r.elasticity)),
                _e(signed(r.impact_1pct, tree, s.metric)) + _bar(r.impact_1pct, largest, colour),
            ]
        )
    within = getattr(s, "within", None)
    only = getattr(s, "owner", None)
    title = f"Sensitivity of {s.metric} = {shown(s.value, tree, s.metric)}"
    if within or only:
        where = [f"within {within}"] if within else []
        where += [f"owned by {only}"] if only else []
        title = f"Levers of {s.metric} ({', '.join(where)})"
    if not rows:
        return _box(_title(title), _note("no leaf to move"))
    header = ["leaf", "owner", "horizon", "value", "∂/∂x", "elasticity", "+1% →"]
    owners = ", ".join(f"{o} {signed(t, tree, s.metric)}" for o, t in s.by_owner.items())
    return _box(
        _title(title), _table(header, rows, numeric=[3, 4, 5]), _note(f"by owner: {owners}")
    )


# -- attribution and uncertainty ------------------------------------------------------------------


@renders("kpitree.analyses.attribution.results.Attribution", "html")
def attribution_html(attribution: Any, tree: Graph | None = None) -> str:
    """Return an `Attribution` as HTML: each leaf's contribution, then the sum per owner.

    Written against the public attributes `.metric`, `.total`, `.contributions`,
    `.by_owner`, `.method` (and `.tree` when `tree` is not given). A contribution is
    green when it moved the metric the way its norm wants, red when the other way.

    Examples:
        >>> from types import SimpleNamespace
        >>> from kpitree.examples import qualified_leads
        >>> a = SimpleNamespace(metric="qualified_leads", total=-30.0, method="shapley",
        ...     contributions={"leads": 70.0, "lead_to_ql": -100.0},
        ...     by_owner={"marketing": 70.0, "sales": -100.0}, tree=qualified_leads())
        >>> page = attribution_html(a)
        >>> "−100 lead" in page and "+70 lead" in page and "shapley" in page
        True
    """
    a = attribution
    tree = tree if tree is not None else a.tree
    metric = a.metric
    colours = owner_colours(tree)
    contributions = {
        n: to_number(v, what=f"contribution of `{n}`") for n, v in a.contributions.items()
    }
    total = to_number(a.total, what=f"the change of `{metric}`")
    largest = max((abs(v) for v in contributions.values()), default=0.0)
    rows = []
    for name, value in sorted(contributions.items(), key=lambda item: -abs(item[1])):
        owner = owner_of(tree, name) or "external"
        share = "" if not total else format_number(value / total, percent=True)
        rows.append(
            [
                f"<b>{_e(name)}</b>",
                _owner_cell(owner, colours),
                _coloured(signed(value, tree, metric), verdict(tree, metric, value))
                + _bar(value, largest, colours.get(owner, colours["external"])),
                _e(share),
            ]
        )
    owner_rows = [
        [
            _owner_cell(str(o), colours),
            _coloured(signed(float(v), tree, metric), verdict(tree, metric, float(v))),
        ]
        for o, v in a.by_owner.items()
    ]
    method = getattr(a, "method", None)
    title = f"Attribution of {metric}: {signed(total, tree, metric)}"
    title += f" ({method})" if method else ""
    return _box(
        _title(title),
        _table(["leaf", "owner", "contribution", "share"], rows, numeric=[2, 3]),
        _table(["owner", "total"], owner_rows, numeric=[1]),
    )


@renders("kpitree.analyses.uncertainty.simulation.Samples", "html")
@renders("kpitree.analyses.uncertainty.simulation.Simulation", "html")
def simulation_html(simulation: Any, tree: Graph | None = None) -> str:
    """Return a simulation result as HTML: mean, spread and quantiles of the metric.

    Reads `.mean`, `.sd`, `.quantile(q)`, and when present `.metric` (or `.name` for
    one node's `Samples`), `.n`, `.undefined` and `.tree`.

    Examples:
        >>> from types import SimpleNamespace
        >>> from kpitree.examples import qualified_leads
        >>> sim = SimpleNamespace(metric="qualified_leads", mean=800.0, sd=40.0, n=1000,
        ...     quantile=lambda q: 800 + 80 * (q - 0.5), tree=qualified_leads())
        >>> page = simulation_html(sim)
        >>> "800 lead" in page and "p95" in page
        True
    """
    sim = simulation
    tree = tree if tree is not None else getattr(sim, "tree", None)
    metric = getattr(sim, "metric", None) or getattr(sim, "name", None)
    rows = [
        ["mean", _e(shown(float(sim.mean), tree, metric))],
        ["standard deviation", _e(shown(float(sim.sd), tree, metric))],
    ]
    rows += [
        [f"p{round(q * 100)}", _e(shown(float(sim.quantile(q)), tree, metric))]
        for q in (0.05, 0.25, 0.5, 0.75, 0.95)
    ]
    n = getattr(sim, "n", None)
    title = f"Simulation of {metric}" if metric else "Simulation"
    title += f" ({format_number(n)} draws)" if isinstance(n, int) else ""
    undefined = getattr(sim, "undefined", 0)
    notes = [_note(f"{format_number(undefined)} draws undefined, left out")] if undefined else []
    return _box(_title(title), _table(["statistic", "value"], rows, numeric=[1]), *notes)


# -- LaTeX ----------------------------------------------------------------------------------------

_LATEX_SPECIAL: Final = {c: "\\" + c for c in "_&%$#{}"}


def _latex_name(name: str) -> str:
    r"""Return a node name as upright text: `\text{qualified\_leads}` (never a subscript)."""
    return "\\text{" + "".join(_LATEX_SPECIAL.get(c, c) for c in name) + "}"


def _latex_of(expr: Any) -> str:
    import sympy

    names = {s: _latex_name(s.name) for s in expr.free_symbols}
    return str(sympy.latex(expr, symbol_names=names, mul_symbol="dot"))


def latex(tree: Graph, name: str | None = None, *, expand: bool = False) -> str:
    r"""Return LaTeX for `name = formula`, or an `aligned` block of every metric.

    Names are upright text, so `qualified_leads` is not read as a subscript and `beta`
    stays a word. With `expand=True` a formula is written in leaves only.

    Raises:
        UnknownNameError: the tree has no node `name`.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> print(latex(qualified_leads(), "qualified_leads"))
        \text{qualified\_leads} = \text{lead\_to\_ql} \cdot \text{leads}
    """
    from kpitree.backends.symbolic import formula

    if name is not None:
        tree[name]
        return f"{_latex_name(name)} = {_latex_of(formula(tree, name, expand=expand))}"
    lines = [
        f"{_latex_name(m.name)} &= {_latex_of(formula(tree, m.name, expand=expand))}"
        for m in tree.metrics
    ]
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


def partial_latex(tree: Graph, metric: str, wrt: str) -> str:
    r"""Return LaTeX for the partial derivative ∂metric/∂wrt, in leaves.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> print(partial_latex(qualified_leads(), "qualified_leads", "leads"))
        \frac{\partial \text{qualified\_leads}}{\partial \text{leads}}
        = \text{lead\_to\_ql}
    """
    from kpitree.analyses.calculus import partial

    derivative = partial(tree, metric, wrt)
    head = f"\\frac{{\\partial {_latex_name(metric)}}}{{\\partial {_latex_name(wrt)}}}"
    return f"{head} = {_latex_of(derivative)}"


@renders("kpitree.model.graph.Graph", "latex")
def tree_latex(tree: Graph) -> str | None:
    r"""Return every metric's formula as display math, or None for a big tree.

    Jupyter shows LaTeX only where no richer display is chosen; None (above
    `MAX_LATEX_METRICS` metrics, or no metric) tells it to skip this one.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> tree_latex(qualified_leads()).startswith("$$\\begin{aligned}")
        True
    """
    if not tree.metrics or len(tree.metrics) > MAX_LATEX_METRICS:
        return None
    return f"$${latex(tree)}$$"

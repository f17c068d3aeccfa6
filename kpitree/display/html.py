"""Rich displays for Jupyter: HTML tables and trees, LaTeX formulas, Markdown.

Everything here returns text. HTML is self-contained: inline styles only, no scripts, no
fonts or images from the network, so it survives notebook viewers that strip `<style>`
blocks. Every piece of text from a tree (names, owners, units, standards) is escaped.

Colours carry meaning in one way everywhere: each owner has a colour (the same in the
tree, the diagrams and the charts); a change is green when it is *better* and red when it
is *worse* by the node's direction (`Graph.direction`: as given, else by its norm `≥` or
`≤`, else higher), whatever its sign; grey when a range norm says neither.

The result classes' `_repr_html_` methods are one line each, calling the function for
their kind here: `tree_html`, `values_html`, `status_html`, `scenario_html`,
`sensitivity_html`, `attribution_html`, `accountability_html`, `tornado_html`,
`simulation_html`; any other result shows its text (`result_html`). Every word is in the
active locale (`kpitree.i18n`); names, owners and units are the model's, as written.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from kpitree.analyses.attribution.methods import method_label, owner_label
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
from kpitree.i18n import N_, _, ngettext
from kpitree.language.expr import format_expr
from kpitree.model.escape import html_text, markdown_block, markdown_text
from kpitree.model.nodes import KPI, Input, Metric
from kpitree.model.numbers import format_number, to_number
from kpitree.model.render import renders
from kpitree.model.results import format_norm, format_value, norm_mark, norm_ok

if TYPE_CHECKING:
    from kpitree.model.graph import Graph

__all__ = [
    "MAX_HTML_ROWS",
    "MAX_LATEX_METRICS",
    "accountability_html",
    "attribution_html",
    "attribution_series_html",
    "latex",
    "partial_latex",
    "result_html",
    "scenario_html",
    "scorecard_html",
    "scorecards_html",
    "sensitivity_html",
    "simulation_html",
    "status_html",
    "status_markdown",
    "tornado_html",
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
_NUMBER = (
    "padding: 2px 10px; border-bottom: 1px solid #d0d7de; text-align: right; white-space: nowrap"
)
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
    more = ""
    if left:
        text = ngettext("… {count} more row", "… {count} more rows", left).format(
            count=format_number(left)
        )
        more = f'<tr><td colspan="{len(header)}" style="{_MUTED}">{_e(text)}</td></tr>'
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
    return _swatch(colours.get(owner, colours["external"])) + _e(owner_label(owner))


def _pct(value: float | None) -> str:
    return _("new") if value is None else format_number(value, percent=True, signed=True)


# Where a name cell starts: the indent, the connector and the name are one unbreakable run,
# so a narrow column wraps the formula or the owner, never a `└` onto a line of its own.
_NAME_CELL = "white-space: nowrap"

_KINDS: Final = {"kpi": N_("KPI"), "input": N_("input"), "metric": N_("metric")}


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
    targets = any(getattr(tree[n], "target", None) is not None for n in tree.names)
    rows: list[list[str]] = []
    for name, depth, again in outline(tree):
        node = tree[name]
        pad = f'<span style="padding-left: {1.5 * depth:g}em"></span>'
        glyph = '<span class="kpitree-connector">└</span>\u00a0' if depth else ""
        if again:
            see = f'<span style="{_MUTED}">{_e(_("(see above)"))}</span>'
            name_cell = f'<span class="kpitree-name" style="{_NAME_CELL}">{pad}{glyph}{_e(name)}'
            rows.append([f"{name_cell} {see}</span>"])
            continue
        value = found.get(name, math.nan)
        formula = format_expr(node.formula) if isinstance(node, Metric) else ""
        kind = _KINDS[node.kind if isinstance(node, KPI | Input) else "metric"]
        norm = getattr(node, "norm", None)
        badge = ""
        if norm is not None:
            badge = _badge(format_norm(norm, tree.unit(name)), norm_ok(node, value))
        horizon = str(node.horizon) if isinstance(node, KPI) else ""
        target = getattr(node, "target", None)
        row = [
            f'<span class="kpitree-name" style="{_NAME_CELL}">{pad}{glyph}<b>{_e(name)}</b></span>',
            f'<code style="{_MUTED}">{_e(formula)}</code>' if formula else "",
            _e(shown(value, tree, name)),
            _e(_(kind)),
            _owner_cell(owner_of(tree, name), colours),
            _e(horizon),
            badge,
        ]
        if targets:
            row.append("" if target is None else _e(format_value(target, tree, name)))
        rows.append(row)
    header = [_("node"), _("formula"), _("value"), _("kind"), _("owner"), _("horizon"), _("norm")]
    if targets:
        header.append(_("target"))
    for row in rows:
        row.extend([""] * (len(header) - len(row)))
    return _box(_title(_tree_title(tree)), _table(header, rows, numeric=[2, 7]))


def _tree_title(tree: Graph) -> str:
    """The tree's header: how many of each kind, each count with its own plural."""
    counts = [
        ngettext("{count} metric", "{count} metrics", len(tree.metrics)),
        ngettext("{count} KPI", "{count} KPIs", len(tree.kpis)),
        ngettext("{count} input", "{count} inputs", len(tree.inputs)),
    ]
    sizes = (len(tree.metrics), len(tree.kpis), len(tree.inputs))
    parts = ", ".join(c.format(count=n) for c, n in zip(counts, sizes, strict=True) if n)
    return _("Tree: {counts}").format(counts=parts)


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
    return _box(_table([_("node"), _("value"), _("owner")], rows, numeric=[1]))


@renders("kpitree.analyses.status.Status", "html")
def status_html(status: Any) -> str:
    """Return a `Status` as an HTML table: a badge per norm and target, failing rows in red.

    A target has a row of its own under its metric, badged `target ≥ …`, with the owners of
    the KPIs below the metric: a target is never shown as a norm.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> page = status_html(qualified_leads().status({"lead_to_ql": 0.75}))
        >>> "≥ 80% ✗" in page, "1 below norm" in page
        (True, True)
        >>> from kpitree.examples import dupont
        >>> page = status_html(dupont().status())
        >>> "target ≥ 20% ✗" in page, "1 below target" in page
        (True, True)
    """
    from kpitree.analyses.status import format_target

    tree = status.tree
    colours = owner_colours(tree)
    rows = []
    for r in status:
        unit = tree.unit(r.name)
        norm = format_norm(r.norm, unit)
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
        if r.target is not None:
            short = "" if not r.target_gap else signed(r.target_gap, tree, r.name)
            rows.append(
                [
                    f'<span style="padding-left: 1.5em; {_MUTED}">{_e(_("target"))}</span>',
                    "",
                    _badge(format_target(r.target, r.direction, unit), r.target_ok),
                    ", ".join(_owner_cell(o, colours) for o in r.owners),
                    _e(short),
                ]
            )
    if not rows:
        return _box(_note(_("no KPI or metric of this tree has a norm or a target")))
    header = [_("name"), _("value"), _("norm"), _("owner"), status.gap_header()]
    return _box(_table(header, rows, numeric=[1]), _note(status.verdict()))


@renders("kpitree.analyses.status.Status", "markdown")
def status_markdown(status: Any) -> str:
    r"""Return a `Status` as a Markdown table (GitHub shows it in a notebook).

    Every cell is `markdown_text`: markup characters are backslash-escaped, so a name's
    `_` or an owner's `<b>` shows as written. A target is a row of its own, as in the text.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> print(status_markdown(qualified_leads().status({"lead_to_ql": 0.75})))
        | | name | value | norm | owner |
        |---|---|---|---|---|
        | ✗ | lead\_to\_ql | 75% | ≥ 80% | sales |
    """
    from kpitree.analyses.status import format_target

    header = [_("name"), _("value"), _("norm"), _("owner")]
    lines = ["| | " + " | ".join(header) + " |", "|---|---|---|---|---|"]
    for r in status:
        unit = status.tree.unit(r.name)
        rows = []
        if r.norm is not None or r.target is None:
            rows.append(
                [
                    norm_mark(r.ok),
                    r.name,
                    shown(r.value, status.tree, r.name),
                    format_norm(r.norm, unit),
                    "—" if r.owner is None else owner_label(r.owner),
                ]
            )
        if r.target is not None:
            rows.append(
                [
                    norm_mark(r.target_ok),
                    r.name,
                    shown(r.value, status.tree, r.name),
                    format_target(r.target, r.direction, unit),
                    ", ".join(owner_label(o) for o in r.owners) or "—",
                ]
            )
        for cells in rows:
            lines.append("| " + " | ".join(markdown_text(c) for c in cells) + " |")
    return "\n".join(lines)


# -- what-if and sensitivity ----------------------------------------------------------------------


@renders("kpitree.analyses.whatif.Scenario", "html")
def scenario_html(scenario: Any) -> str:
    """Return a `Scenario` as an HTML table of the nodes that moved, biggest change first.

    Changes are green when better and red when worse by each node's direction.

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
    title = _title(_("Scenario: {label}").format(label=scenario.label()))
    if not rows:
        return _box(title, _note(_("no node changes")))
    rest = len(tree) - len(rows)
    notes = []
    if rest:
        text = ngettext("{count} other node unchanged", "{count} other nodes unchanged", rest)
        notes.append(_note(text.format(count=rest)))
    header = [_("node"), _("before → after"), _("change"), "%"]
    return _box(title, _table(header, rows, [2, 3]), *notes)


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
    title = _("Sensitivity of {metric} = {value}").format(
        metric=s.metric, value=shown(s.value, tree, s.metric)
    )
    if within or only:
        where = [_("within {horizon}").format(horizon=within)] if within else []
        where += [_("owned by {owner}").format(owner=owner_label(only))] if only else []
        title = _("Levers of {metric} ({where})").format(metric=s.metric, where=", ".join(where))
    if not rows:
        return _box(_title(title), _note(_("no leaf to move")))
    header = [_("leaf"), _("owner"), _("horizon"), _("value"), "∂/∂x", _("elasticity"), "+1% →"]
    owners = ", ".join(
        f"{owner_label(o)} {signed(t, tree, s.metric)}" for o, t in s.by_owner.items()
    )
    by_owner = _note(_("by owner: {owners}").format(owners=owners))
    return _box(_title(title), _table(header, rows, numeric=[3, 4, 5]), by_owner)


# -- attribution and uncertainty ------------------------------------------------------------------


@renders("kpitree.analyses.attribution.results.Attribution", "html")
def attribution_html(attribution: Any, tree: Graph | None = None) -> str:
    """Return an `Attribution` as HTML: each leaf's contribution, then the sum per owner.

    Written against the public attributes `.metric`, `.total`, `.contributions`,
    `.by_owner`, `.method` (and `.tree` when `tree` is not given). A contribution is
    green when it moved the metric the better way (its direction), red when the other way. A
    share is of the gross change (the sum of the contributions' sizes), as in `str`, so
    it stays readable when effects offset; owners whose leaves did not move are left out.

    Examples:
        >>> from types import SimpleNamespace
        >>> from kpitree.examples import qualified_leads
        >>> a = SimpleNamespace(metric="qualified_leads", total=-30.0, method="shapley",
        ...     contributions={"leads": 70.0, "lead_to_ql": -100.0},
        ...     by_owner={"marketing": 70.0, "sales": -100.0}, tree=qualified_leads())
        >>> page = attribution_html(a)
        >>> "−100 lead" in page and "+70 lead" in page and "Shapley" in page
        True
    """
    a = attribution
    tree = tree if tree is not None else a.tree
    metric = a.metric
    colours = owner_colours(tree)
    contributions = {
        n: to_number(v, what=_("contribution of `{name}`").format(name=n))
        for n, v in a.contributions.items()
    }
    total = to_number(a.total, what=_("the change of `{name}`").format(name=metric))
    largest = max((abs(v) for v in contributions.values()), default=0.0)
    gross = sum(abs(v) for v in contributions.values())
    rows = []
    for name, value in sorted(contributions.items(), key=lambda item: -abs(item[1])):
        if value == 0:
            continue
        owner = owner_of(tree, name) or "external"
        share = "" if not gross else format_number(value / gross, percent=True, signed=True)
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
        if float(v) != 0
    ]
    method = getattr(a, "method", None)
    change = signed(total, tree, metric)
    title = (
        _("Attribution of {metric}: {change} ({method})").format(
            metric=metric, change=change, method=method_label(method)
        )
        if method
        else _("Attribution of {metric}: {change}").format(metric=metric, change=change)
    )
    quiet = sum(1 for v in contributions.values() if v == 0)
    notes = []
    if quiet:
        text = ngettext(
            "({count} unchanged leaf contributes 0)",
            "({count} unchanged leaves contribute 0)",
            quiet,
        )
        notes.append(_note(text.format(count=quiet)))
    header = [_("leaf"), _("owner"), _("contribution"), _("share of gross change")]
    return _box(
        _title(title),
        _table(header, rows, numeric=[2, 3]),
        *notes,
        _table([_("owner"), _("total")], owner_rows, numeric=[1]),
    )


@renders("kpitree.analyses.attribution.results.Accountability", "html")
def accountability_html(report: Any) -> str:
    """Return an `Accountability` as HTML: per owner, their total, then each KPI's row.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> tree = qualified_leads()
        >>> page = accountability_html(tree.accountability("qualified_leads", {}, {"leads": 1100}))
        >>> "+80 lead" in page, "1,100 lead" in page, "(shared)" in page
        (True, True, True)
    """
    a = report.attribution
    tree = a.tree
    colours = owner_colours(tree)
    rows = []
    for account in report:
        rows.append(
            [
                "<b>" + _owner_cell(account.owner, colours) + "</b>",
                _coloured(
                    signed(account.total, tree, a.metric), verdict(tree, a.metric, account.total)
                ),
                "",
                "",
                "",
            ]
        )
        for row in account.rows:
            name = _("{name} (shared)").format(name=row.name) if row.shared else row.name
            norm = getattr(tree[row.name], "norm", None)
            cells = [
                _badge(format_value(v, tree, row.name), ok)
                if ok is not None
                else _e(format_value(v, tree, row.name))
                for v, ok in ((row.before, row.ok_before), (row.after, row.ok_after))
            ]
            rows.append(
                [
                    f'<span style="padding-left: 1.5em; {_NAME_CELL}">{_e(name)}</span>',
                    _coloured(
                        signed(row.contribution, tree, a.metric),
                        verdict(tree, a.metric, row.contribution),
                    ),
                    *cells,
                    _e("" if norm is None else format_norm(norm, tree.unit(row.name))),
                ]
            )
    header = [_("owner / KPI"), _("contribution"), _("before"), _("after"), _("norm")]
    notes = []
    if any(r.shared for account in report for r in account.rows):
        notes.append(_note(_("(shared): influenced here, owned elsewhere; not in the total")))
    return _box(_title(a.headline()), _table(header, rows, numeric=[1]), *notes)


@renders("kpitree.analyses.scorecard.Scorecard", "html")
def scorecard_html(card: Any) -> str:
    """Return a `Scorecard` as HTML: the headline, then each KPI's fact, plan and payout.

    Influenced KPIs come last, greyed: shown, not scored.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> cards = qualified_leads().scorecard(fact={"leads": 1100}, plan={"leads": 1000})
        >>> page = scorecard_html(cards["marketing"])
        >>> "achievement 110%, payout 125%" in page, "(influenced)" in page
        (True, True)
    """
    return _box(*_card_parts(card))


def _card_parts(card: Any) -> list[str]:
    tree = card.tree
    colours = owner_colours(tree)
    rows = []
    for r in (*card, *card.influenced):
        name = _e(r.name) + (" ↓" if r.direction == "lower" else "")
        plan = format_value(r.plan, tree, r.name)
        if r.plan_from == "norm":
            plan = _("{value} (norm)").format(value=plan)
        achieved = "—" if r.achievement is None else format_number(r.achievement, percent=True)
        if r.scored:
            judged: Verdict = (
                "better"
                if r.achievement >= card.curve.target
                else "worse"
                if r.achievement < card.curve.threshold
                else "neutral"
            )
            payout = format_number(r.payout, percent=True)
            cells = [f"<b>{name}</b>", _coloured(achieved, judged)]
            cells += [_e(format_number(r.weight, percent=True)), _e(payout)]
        else:
            label = _("{name} (influenced)").format(name=r.name)
            cells = [f'<span style="{_MUTED}">{_e(label)}</span>', _e(achieved), "", ""]
        fact = _e(format_value(r.fact, tree, r.name))
        rows.append([cells[0], fact, _e(plan), *cells[1:]])
    colour = colours.get(card.owner)
    headline = _e(card.headline())
    parts = [
        f'<div style="font-weight: 600; margin: 6px 0 2px">'
        f"{_swatch(colour) if colour else ''}{headline}</div>"
    ]
    if rows:
        header = [_("KPI"), _("fact"), _("plan"), _("achieved"), _("weight"), _("payout")]
        parts.append(_table(header, rows, numeric=[1, 2, 3, 4, 5]))
    if any(r.direction == "lower" for r in (*card, *card.influenced)):
        parts.append(_note(_("↓ lower is better: achieved = plan ÷ fact")))
    if card.influenced:
        owned = ", ".join(f"{r.name}: {r.owner}" for r in card.influenced)
        parts.append(
            _note(
                _("(influenced): owned elsewhere ({owned}); shown, not scored").format(owned=owned)
            )
        )
    return parts


@renders("kpitree.analyses.scorecard.Scorecards", "html")
def scorecards_html(cards: Any) -> str:
    """Return `Scorecards` as HTML: one card per owner, then the payout curve.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> page = scorecards_html(qualified_leads().scorecard("sales", fact={"lead_to_ql": 0.76}))
        >>> "sales: achievement 95%, payout 87.5%" in page, "payout curve" in page
        (True, True)
    """
    parts = []
    for card in cards:
        parts.extend(_card_parts(card))
    parts.append(_note(str(cards.curve)))
    return _box(*parts)


@renders("kpitree.analyses.attribution.series.AttributionSeries", "html")
def attribution_series_html(series: Any) -> str:
    """Return an `AttributionSeries` as HTML: a row per step, its change and each owner's part.

    Changes are green when they moved the metric the better way, red when the other way;
    the last row is the total over the span. Owners whose leaves never moved are left out.

    Examples:
        >>> import pandas as pd
        >>> from kpitree.examples import qualified_leads
        >>> df = pd.DataFrame({"month": ["2024-01", "2024-02", "2024-03"],
        ...                    "leads": [1000, 1100, 1100], "lead_to_ql": [0.8, 0.7, 0.75]})
        >>> series = qualified_leads().attribute_series("qualified_leads", df)
        >>> page = attribution_series_html(series)
        >>> "2024-01 → 2024-02" in page, "−105 lead" in page, "+25 lead" in page
        (True, True, True)
    """
    s = series
    tree = s.tree
    metric = s.metric
    totals = s.total_by_owner
    owners = [o for o in totals if any(step[o] for step in s.by_owner)]

    def change(value: float) -> str:
        return _coloured(signed(value, tree, metric), verdict(tree, metric, value))

    rows = [
        [
            _e(s.step_label(i)),
            _e(format_value(s.values[i + 1], tree, metric)),
            change(step),
            *(change(s.by_owner[i][o]) for o in owners),
        ]
        for i, step in enumerate(s.changes)
    ]
    rows.append(
        [f"<b>{_e(_('total'))}</b>", "", change(s.total), *(change(totals[o]) for o in owners)]
    )
    header = [_("step"), metric, _("change"), *(owner_label(o) for o in owners)]
    return _box(_title(s.headline()), _table(header, rows, numeric=range(1, len(header))))


@renders("kpitree.analyses.uncertainty.swings.Tornado", "html")
def tornado_html(tornado: Any) -> str:
    """Return a `Tornado` as HTML: each leaf's low → high, the metric's range and a bar.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> page = tornado_html(qualified_leads().tornado("qualified_leads", swing="10%"))
        >>> "720 lead → 880 lead" in page, "swing" in page
        (True, True)
    """
    t = tornado
    tree = t.tree
    colours = owner_colours(tree)
    title = _("tornado of {metric} (base {value}; each leaf {method}, others at base)").format(
        metric=t.metric, value=shown(t.base, tree, t.metric), method=t.method
    )
    largest = max((abs(r.swing) for r in t if not math.isnan(r.swing)), default=0.0)
    rows = [
        [
            f"<b>{_e(r.name)}</b>",
            _owner_cell(r.owner, colours),
            _e(f"{shown(r.low, tree, r.name)} → {shown(r.high, tree, r.name)}"),
            _e(f"{shown(r.at_low, tree, t.metric)} → {shown(r.at_high, tree, t.metric)}"),
            _e(shown(r.swing, tree, t.metric))
            + _bar(r.swing, largest, colours.get(r.owner, colours["external"])),
        ]
        for r in t
    ]
    if not rows:
        return _box(_title(title), _note(_("no leaf to move")))
    header = [_("leaf"), _("owner"), _("low → high"), t.metric, _("swing")]
    return _box(_title(title), _table(header, rows, numeric=[2, 3, 4]))


@renders("kpitree.model.results.Result", "html")
def result_html(result: Any) -> str:
    """Return any other result as HTML: its text, in a fixed-width block.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> page = result_html(qualified_leads().cascade("qualified_leads", 900))
        >>> "qualified_leads" in page and "white-space: pre" in page
        True
    """
    style = "white-space: pre; font-family: ui-monospace, 'DejaVu Sans Mono', monospace"
    return _box(f'<div style="{style}">{_e(str(result))}</div>')


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
        [_e(_("mean")), _e(shown(float(sim.mean), tree, metric))],
        [_e(_("standard deviation")), _e(shown(float(sim.sd), tree, metric))],
    ]
    rows += [
        [f"p{round(q * 100)}", _e(shown(float(sim.quantile(q)), tree, metric))]
        for q in (0.05, 0.25, 0.5, 0.75, 0.95)
    ]
    n = getattr(sim, "n", None)
    if isinstance(n, int):
        title = ngettext(
            "Simulation of {metric} ({n} draw)", "Simulation of {metric} ({n} draws)", n
        ).format(metric=metric or "", n=format_number(n))
    else:
        title = _("Simulation of {metric}").format(metric=metric or "")
    undefined = getattr(sim, "undefined", 0)
    notes = []
    if undefined:
        text = ngettext(
            "{count} draw undefined, left out", "{count} draws undefined, left out", undefined
        )
        notes.append(_note(text.format(count=format_number(undefined))))
    header = [_("statistic"), _("value")]
    return _box(_title(title), _table(header, rows, numeric=[1]), *notes)


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

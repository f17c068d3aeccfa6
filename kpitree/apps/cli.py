r"""The `kpitree` command line.

Exit codes: 0 success; 1 an analysis failed (an infeasible target, an undefined metric);
2 bad input or usage; 3 an internal error (a bug of kpitree's). Errors print one line
(`kpitree: ...`) and no traceback unless `--debug` is given; `kpitree check FILE` prints
every problem of a model file. Heavy libraries are imported by the commands that use them,
so `kpitree --help` starts fast.

Text from model files is shown as text: control characters, escape sequences and BiDi
overrides are written as `\x1b`-style placeholders (`kpitree.model.escape.terminal`). A
terminal whose encoding cannot show a character (`PYTHONIOENCODING=ascii` and Cyrillic
names) gets a `\u043b`-style escape and one warning on stderr; the data formats of
`export` and `--json` stay exact instead (JSON falls back to `\u` escapes, `export` to
stdout stops with an error and suggests `-o FILE`).

Values come from files and from the command line: `--values FILE` or `--values FILE:PERIOD`
(a YAML/JSON mapping, or a CSV with a row per period), then `name=value` pairs, which win.

The language of the run (`--lang`, else `KPITREE_LANG`, then `LANG`) is known before the
parser is built, so that help, usage errors and output all speak it; argparse's own words
(`usage:`, `options`, `the following arguments are required`) are passed through kpitree's
catalog by `_Parser` and `_Formatter`, not by changing argparse for the whole process.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from kpitree import i18n
from kpitree.apps.payloads import plain as _plain
from kpitree.errors import EvaluationError, InfeasibleGoalError, KPITreeError, ValidationError
from kpitree.i18n import N_, _, ngettext
from kpitree.model.results import text_width_of

if TYPE_CHECKING:
    from kpitree.tree import Tree

__all__ = ["main"]

Command = Callable[[argparse.Namespace], int]

_EPILOG = N_("""\
examples:
  kpitree demo                                   the qualified-leads tree, no file needed
  kpitree show examples/qualified_leads.yaml
  kpitree eval examples/qualified_leads.yaml leads=1200
  kpitree whatif examples/qualified_leads.yaml leads=+10%
  kpitree status examples/qualified_leads.yaml --values examples/values/october.yaml
  kpitree check examples/qualified_leads.yaml    every problem of a model file

Run `kpitree COMMAND --help` for a command's options and an example.
exit codes: 0 ok, 1 the analysis failed (e.g. an unreachable target), 2 bad input or usage,
  3 an internal error (a bug: please report it with the traceback --debug prints)
""")

_QL = "examples/qualified_leads.yaml"

# name: (one-line help, example lines for the command's --help)
_HELP: dict[str, tuple[str, str]] = {
    "demo": (
        N_("show a bundled example tree"),
        "kpitree demo --example sales_revenue\n  kpitree demo --example daily",
    ),
    "show": (
        N_("show a model file as an indented tree with values, owners and norms"),
        f"kpitree show {_QL}\n  kpitree show {_QL} --values examples/values/october.yaml",
    ),
    "eval": (
        N_("compute every metric from leaf values"),
        f"kpitree eval {_QL} leads=1200 lead_to_ql=75%\n"
        "  kpitree eval examples/sales_revenue.yaml "
        "--values examples/values/sales_revenue.yaml:2026-10",
    ),
    "whatif": (
        N_("compare every node before and after changes to leaves"),
        f"kpitree whatif {_QL} leads=+10% lead_to_ql=-5%",
    ),
    "sensitivity": (
        N_("rank the leaves by the impact of a 1% move on a metric"),
        f"kpitree sensitivity {_QL} qualified_leads",
    ),
    "solve": (
        N_("find the value of one leaf that makes a metric reach a target"),
        f"kpitree solve {_QL} qualified_leads 900 --vary leads",
    ),
    "cascade": (
        N_("split a metric's target into KPI targets with equal relative effort"),
        f"kpitree cascade {_QL} qualified_leads 900 --within '1 week'",
    ),
    "levers": (
        N_("list the KPIs that move a metric within a horizon, by impact"),
        f"kpitree levers {_QL} qualified_leads --within '1 day' --owner sales",
    ),
    "status": (
        N_("check KPIs and metrics against their norms, and who owns them"),
        f"kpitree status {_QL} --values examples/values/october.yaml\n"
        f"  kpitree status {_QL} --values examples/values/october.yaml --fail-on-breach",
    ),
    "track": (
        N_("check every period (and segment) of a data file against the norms: breaches, streaks"),
        f"kpitree track {_QL} examples/values/daily.csv --by region\n"
        f"  kpitree track {_QL} days.csv --period day --by region --json",
    ),
    "attribute": (
        N_("split the change of a metric between two periods over leaves and owners"),
        f"kpitree attribute {_QL} qualified_leads "
        "--before examples/values/qualified_leads.csv:2026-09 "
        "--after examples/values/qualified_leads.csv:2026-10",
    ),
    "accountability": (
        N_("per owner: the KPIs they own, each one's contribution and norm before and after"),
        f"kpitree accountability {_QL} qualified_leads "
        "--before examples/values/qualified_leads.csv:2026-09 "
        "--after examples/values/qualified_leads.csv:2026-10",
    ),
    "scorecard": (
        N_("score each owner on the KPIs they own: fact against plan, weighted, with a payout"),
        f"kpitree scorecard {_QL} --fact examples/values/qualified_leads.csv:2026-10 "
        "--plan examples/values/september.yaml --owner marketing",
    ),
    "export": (
        N_(
            "write the tree as yaml, toml, json, SQL, mermaid, dot, svg, MetricFlow metrics "
            "or an Excel workbook"
        ),
        f"kpitree export {_QL} --to toml\n  kpitree export {_QL} --to sql --dialect postgres\n"
        f"  kpitree export {_QL} --to xlsx -o qualified_leads.xlsx",
    ),
    "import": (
        N_("read dbt semantic layer (MetricFlow) metrics into a model file"),
        "kpitree import examples/metricflow",
    ),
    "check": (
        N_("validate a model file and print every problem (exit 2 if any)"),
        f"kpitree check {_QL}",
    ),
    "mcp": (
        N_("serve the analyses as Model Context Protocol (MCP) tools over stdin and stdout"),
        f"kpitree mcp {_QL}",
    ),
    "serve": (
        N_("explore the tree in a local web page: sliders, levers, goal seek, scenarios"),
        f"kpitree serve {_QL} --scenarios scenarios",
    ),
}

# More about a command's examples, shown below them.
_NOTES = {"whatif": N_("(a change is a new value 1200, or +10%, -5%, +2pp, x1.2, +200, =1200)")}

_DEMO_NAMES = "qualified_leads, qualified_leads_ru, sales_revenue, dupont, saas_mrr, daily"
# kpitree.analyses.attribution.METHODS, written out: `--help` must not import numpy.
_METHODS = ("shapley", "lmdi", "hierarchical", "sequential", "proportional", "integral")
_EXPORTS = ("yaml", "toml", "json", "sql", "mermaid", "dot", "svg", "metricflow", "xlsx")


class UsageError(Exception):
    """A command-line argument that cannot be used; reported with exit code 2."""


# -- reading files and values -----------------------------------------------------------------


def _tree(args: argparse.Namespace) -> Tree:
    from kpitree.tree import load

    if getattr(args, "tree", None) is None:
        args.tree = load(args.file)
    return args.tree  # type: ignore[no-any-return]


def _speaking(args: argparse.Namespace) -> contextlib.AbstractContextManager[object]:
    """Speak the model's `locale:` for a command on one model file, unless one was chosen."""
    if getattr(args, "file", None) is None or args.command == "check" or i18n.chosen():
        return contextlib.nullcontext()
    own = _tree(args).locale
    return i18n.locale(own) if own else contextlib.nullcontext()


def _read_values(spec: str) -> dict[str, float]:
    from kpitree.io.values import load_values, split_spec

    path, period = split_spec(spec)
    return load_values(path, period)


def _pairs(items: Sequence[str], what: str) -> dict[str, str]:
    """Parse `name=value` arguments; values stay text for the analysis to read."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise UsageError(
                _("{what} must be name=value (e.g. leads=1200), got {item}").format(
                    what=what, item=repr(item)
                )
            )
        out[name.strip()] = value.strip()
    return out


def _values(args: argparse.Namespace, pairs: Sequence[str] = ()) -> dict[str, Any] | None:
    values: dict[str, Any] = {}
    if getattr(args, "values", None):
        values.update(_read_values(args.values))
    values.update(_pairs(pairs, _("a value")))
    return values or None


def _number(text: str, what: str) -> float:
    from kpitree.model.numbers import to_number

    return to_number(text, what=what)


# -- output -----------------------------------------------------------------------------------


# JSON escapes C0 controls itself; C1 controls and BiDi overrides are legal in its strings
# but act on a terminal, so they are written as `\\uXXXX` too (the same data when parsed).
_JSON_INVISIBLE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _print_json(payload: Any) -> None:
    text = json.dumps(_plain(payload), ensure_ascii=False, indent=2, allow_nan=False)
    if not _encodable(text, sys.stdout):  # e.g. PYTHONIOENCODING=ascii: \\u escapes, exact
        text = json.dumps(_plain(payload), ensure_ascii=True, indent=2, allow_nan=False)
    text = _JSON_INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    sys.stdout.write(text + "\n")


def _emit(args: argparse.Namespace, result: Any, payload: Any = None) -> int:
    if args.json:
        _print_json(result if payload is None else payload)
    else:
        _out(result)
    return 0


def _out(result: Any) -> None:
    """Print a result's text; on a terminal, norm marks in colour (never in pipes or JSON)."""
    from kpitree.display.terminal import colour, use_colour

    text = _shown(str(result), sys.stdout)
    if use_colour(sys.stdout):
        text = text.replace("✓", colour("✓", "ok", True)).replace("✗", colour("✗", "bad", True))
    print(text)


def _err(text: str) -> None:
    """Print a message on stderr, as text (a model's names and owners end up in messages)."""
    print(_shown(text, sys.stderr), file=sys.stderr)


_WARNED: list[bool] = []  # the encoding warning is given once per run


def _shown(text: str, stream: Any) -> str:
    r"""Return `text` with model text neutralised; warn once if `stream` cannot encode it.

    The streams write what their encoding cannot with `\u043b`-style escapes (`main`
    sets `errors="backslashreplace"`), so a report is never lost; the warning says why it
    looks so, and how to get the letters.
    """
    from kpitree.model.escape import terminal

    text = terminal(text, newlines=True)
    if not _encodable(text, stream) and not _WARNED:
        _WARNED.append(True)
        encoding = getattr(stream, "encoding", None) or "unknown"
        warning = _(
            "the output's encoding ({encoding}) cannot show some characters; they are "
            "written as \\u escapes. Set PYTHONIOENCODING=utf-8 (or a UTF-8 locale) to see them"
        )
        print(
            "kpitree: " + _("warning: {text}").format(text=warning.format(encoding=encoding)),
            file=sys.stderr,
        )
    return text


def _encodable(text: str, stream: Any) -> bool:
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return True
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    except LookupError:  # an encoding Python does not know: let the stream decide
        return True
    return True


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


# -- commands ---------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from kpitree.examples import EXAMPLES

    # No example named: the one in the language of the run (a Russian user gets the
    # Russian tree, not English names under Russian headings).
    name = args.example or ("qualified_leads_ru" if i18n.current() == "ru" else "qualified_leads")
    if name == "daily":
        return _daily_story(args)
    if name not in EXAMPLES:
        from kpitree.errors import did_you_mean

        hint = did_you_mean(name, EXAMPLES) or _("the examples are: {names}").format(
            names=_DEMO_NAMES
        )
        raise UsageError(
            _("there is no example {name}; {hint}").format(name=f"`{name}`", hint=hint)
        )
    tree = EXAMPLES[name]()
    if args.json:
        payload = {
            "example": name,
            "values": tree.evaluate().to_dict(),
            "owners": tree.owners(),
            "status": tree.status().to_dict(),
        }
        _print_json(payload)
        return 0
    # The Russian example's story is told in Russian unless `--lang` asks for another.
    speaks = "ru" if name.endswith("_ru") and args.lang is None else i18n.current()
    with i18n.locale(speaks):
        _story(name, tree)
    return 0


def _story(name: str, tree: Tree) -> None:
    """Tell the demo: the tree, its owners, status, levers, a what-if, a goal, a month later."""
    from kpitree.model.numbers import format_number

    metric = tree.roots[0].name
    kpis = [k.name for k in tree.kpis]
    # A month later: the KPIs move one way and the other (+10%, -12.5%, ...), as in the
    # qualified-leads story: leads 1,000 → 1,100, conversion 80% → 70%, QLs 800 → 770.
    later = tree.whatif({k: "+10%" if i % 2 == 0 else "-12.5%" for i, k in enumerate(kpis)})
    _out(_("kpitree demo: {example}").format(example=name) + "\n")
    _out(tree)
    _out("\n" + _("Owners and their KPIs:"))
    for owner, names in tree.owners().items():
        _out(f"  {owner}: {', '.join(names)}")
    _out("\n" + _("Status against norms:"))
    _out(_indent(str(tree.status())))
    _out("\n" + _("What is each lever worth? ({metric})").format(metric=metric))
    _out(_indent(str(tree.sensitivity(metric))))
    grows = format_number(0.1, percent=True)
    _out("\n" + _("What if {kpi} grows {percent}?").format(kpi=kpis[0], percent=grows))
    _out(_indent(str(tree.whatif({kpis[0]: "+10%"}))))
    lever = tree.levers(metric).rows_[0].name  # the KPI with the biggest impact
    goal = "+" + format_number(0.125, percent=True)
    _out(
        "\n"
        + _("Goal: {metric} {change}. How much {lever}, all else equal?").format(
            metric=metric, change=goal, lever=lever
        )
    )
    try:
        needed = tree.solve(metric, tree.evaluate()[metric] * 1.125, vary=lever)
        _out(f"  {lever} = {_quantity(tree, lever, needed)}")
    except InfeasibleGoalError as exc:
        _out("  " + _("not reachable: {reason}").format(reason=exc.reason))
    _out("\n" + _("A month later, who moved it?"))
    after = {k: later.after[k] for k in kpis}
    _out(_indent(str(tree.accountability(metric, {}, after))))
    _out("\n" + _("Status a month later:"))
    _out(_indent(str(tree.status(after))))


def _daily_story(args: argparse.Namespace) -> int:
    """A year of daily data for the qualified-leads tree: streaks, the bridge, October's pay."""
    from kpitree.examples import daily_months, daily_year, qualified_leads
    from kpitree.model.numbers import format_number

    tree = qualified_leads()
    year = daily_year()
    track = tree.track(year, period="date")
    months = daily_months(year)
    bridge = tree.attribute_series("qualified_leads", months, period="month")
    october = months[months["month"] == "2026-10"].drop(columns="month")
    cards = tree.scorecard(fact=october, plan={"leads": 33000, "lead_to_ql": 0.8})
    if args.json:
        payload = {
            "example": "daily",
            "track": track.to_dict(),
            "bridge": bridge.to_dict(),
            "scorecards": cards.to_dict(),
        }
        _print_json(payload)
        return 0
    _out(_("kpitree demo: a year of daily data for {example}").format(example="qualified_leads"))
    _out("\n" + _("Every day, against the norms and standards:"))
    _out(_indent(str(track)))
    _out("\n" + _("The runs below norm:"))
    for run in track.streaks.itertuples(index=False):
        what = run.node if run.standard is None else f"{run.node}.{run.standard}"
        _out(
            "  "
            + _("{name} ({owner}): {start} — {end}, {days}").format(
                name=what,
                owner=run.owner,
                start=run.start.date(),
                end=run.end.date(),
                days=ngettext("{count} day", "{count} days", run.length).format(
                    count=format_number(run.length)
                ),
            )
        )
    _out("\n" + _("Month over month, who moved it?"))
    _out(_indent(str(bridge)))
    _out("\n" + _("October against plan: the scorecards"))
    _out(_indent(str(cards)))
    return 0


def _quantity(tree: Any, name: str, value: float) -> str:
    from kpitree.model.units import format_quantity

    return format_quantity(value, tree.unit(name))


def _show(args: argparse.Namespace) -> int:
    from kpitree.apps.payloads import show_payload
    from kpitree.display.text import render_tree

    tree = _tree(args)
    values = _values(args)
    if args.json:
        _print_json(show_payload(tree, values))
        return 0
    _out(render_tree(tree, values))
    return 0


def _eval(args: argparse.Namespace) -> int:
    tree = _tree(args)
    return _emit(args, tree.evaluate(_values(args, args.pairs)))


def _whatif(args: argparse.Namespace) -> int:
    tree = _tree(args)
    changes = _pairs(args.changes, _("a change"))
    return _emit(args, tree.whatif(changes, _values(args)))


def _sensitivity(args: argparse.Namespace) -> int:
    tree = _tree(args)
    return _emit(args, tree.sensitivity(args.metric, _values(args)))


def _solve(args: argparse.Namespace) -> int:
    from kpitree.apps.payloads import solve_payload
    from kpitree.model.results import format_value

    tree = _tree(args)
    target = None if args.target is None else _number(args.target, _("target"))
    payload = solve_payload(tree, args.metric, target, args.vary, _values(args))
    shown = _("{leaf} = {value} makes {metric} = {target}").format(
        leaf=args.vary,
        value=format_value(payload["value"], tree, args.vary),
        metric=args.metric,
        target=format_value(payload["target"], tree, args.metric),
    )
    return _emit(args, shown, payload)


def _cascade(args: argparse.Namespace) -> int:
    tree = _tree(args)
    target = None if args.target is None else _number(args.target, _("target"))
    result = tree.cascade(
        args.metric, target, _values(args), among=args.among or None, within=args.within
    )
    return _emit(args, result)


def _levers(args: argparse.Namespace) -> int:
    tree = _tree(args)
    result = tree.levers(args.metric, within=args.within, owner=args.owner, values=_values(args))
    return _emit(args, result)


def _status(args: argparse.Namespace) -> int:
    tree = _tree(args)
    result = tree.status(_values(args, args.pairs))
    _emit(args, result)
    # For a daily cron or CI job: a KPI, metric or measured standard below norm, or a
    # metric below its target, fails it.
    return 1 if args.fail_on_breach and not result.ok else 0


def _track(args: argparse.Namespace) -> int:
    from kpitree.io.tables import read_table

    tree = _tree(args)
    by = [c.strip() for c in args.by.split(",") if c.strip()] if args.by else []
    data = read_table(args.data, text=[args.period, *by])
    plan = None if args.plan is None else read_table(args.plan, text=[args.period, *by])
    return _emit(args, tree.track(data, period=args.period, by=by or None, plan=plan))


def _attribute(args: argparse.Namespace) -> int:
    """`attribute` (per leaf and owner) or `accountability` (per owner, with norms)."""
    tree = _tree(args)
    before = _read_values(args.before)
    after = _read_values(args.after)
    analysis = tree.accountability if args.command == "accountability" else tree.attribute
    order = None if args.order is None else [name.strip() for name in args.order.split(",")]
    return _emit(args, analysis(args.metric, before, after, method=args.method, order=order))


def _scorecard(args: argparse.Namespace) -> int:
    tree = _tree(args)
    fact = _read_values(args.fact)
    plan = None if args.plan is None else _read_values(args.plan)
    return _emit(args, tree.scorecard(args.owner, fact=fact, plan=plan))


def _export(args: argparse.Namespace) -> int:
    tree = _tree(args)
    if args.to == "xlsx":
        if not args.output:
            raise UsageError(
                _("an Excel workbook is not text: write it to a file with -o PATH.xlsx")
            )
        scenarios = {}
        for item in args.scenario or ():
            title, sep, spec = item.partition("=")
            if not sep or not title.strip() or not spec.strip():
                raise UsageError(
                    _("--scenario must be TITLE=FILE[:PERIOD], got {item}").format(item=repr(item))
                )
            scenarios[title.strip()] = _read_values(spec.strip())
        tree.to_xlsx(args.output, scenarios=scenarios)
        return 0
    if args.to in ("yaml", "toml", "json"):
        text = tree.dumps(args.to)
    elif args.to == "sql":
        text = tree.to_sql(table=args.table, dialect=args.dialect)
    elif args.to == "svg":
        from kpitree.display.diagrams import to_svg

        text = to_svg(tree)
    elif args.to == "metricflow":
        text = tree.to_metricflow()
    else:
        text = tree.to_mermaid() if args.to == "mermaid" else tree.to_dot()
    if args.output:
        from pathlib import Path

        Path(args.output).write_text(text if text.endswith("\n") else text + "\n", "utf-8")
    elif not _encodable(text, sys.stdout):
        # A model file or SQL with `\\u` escapes in place of letters would be another model:
        # stop rather than write it altered.
        encoding = getattr(sys.stdout, "encoding", None)
        raise UsageError(
            _(
                "the output's encoding ({encoding}) cannot write this {format} export exactly; "
                "write it to a file with -o PATH (UTF-8), or set PYTHONIOENCODING=utf-8"
            ).format(encoding=encoding, format=args.to)
        )
    else:
        print(text, end="" if text.endswith("\n") else "\n")
    return 0


def _import(args: argparse.Namespace) -> int:
    from kpitree.tree import from_metricflow

    tree = from_metricflow(args.source)
    fmt = "yaml"
    if args.output:
        from kpitree.io.documents import format_for

        fmt = format_for(args.output)
    text = tree.dumps(fmt)
    if args.output:
        from pathlib import Path

        Path(args.output).write_text(text, "utf-8")
    else:
        print(text, end="" if text.endswith("\n") else "\n")
    return 0


def _check(args: argparse.Namespace) -> int:
    from kpitree.io.model import iter_problems
    from kpitree.tree import load

    try:
        tree = load(args.file)
    except KPITreeError as exc:
        problems = list(iter_problems(exc))
        if args.json:
            _print_json({"file": args.file, "ok": False, "problems": _problem_data(problems)})
        else:
            for problem in problems:
                _err(str(problem))
            found = ngettext("{n} problem in {file}", "{n} problems in {file}", len(problems))
            _err("kpitree: " + found.format(n=len(problems), file=args.file))
        return 2
    counts = {"metrics": len(tree.metrics), "kpis": len(tree.kpis), "inputs": len(tree.inputs)}
    if args.json:
        _print_json({"file": args.file, "ok": True, "problems": [], **counts})
    else:
        # Literal ngettext calls, so that extraction finds each pair of forms.
        metrics, kpis, inputs = counts["metrics"], counts["kpis"], counts["inputs"]
        parts = (
            ngettext("{n} metric", "{n} metrics", metrics).format(n=metrics),
            ngettext("{n} KPI", "{n} KPIs", kpis).format(n=kpis),
            ngettext("{n} input", "{n} inputs", inputs).format(n=inputs),
        )
        _out(_("{file}: ok ({counts})").format(file=args.file, counts=", ".join(parts)))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from kpitree.apps.server import serve

    serve(
        _tree(args),
        host=args.host,
        port=args.port,
        values_dir=args.scenarios,
        open_browser=args.open,
    )
    return 0


def _mcp(args: argparse.Namespace) -> int:
    from kpitree.apps.mcp import serve

    serve(_tree(args), name=args.file)
    return 0


def _problem_data(problems: Sequence[KPITreeError]) -> list[dict[str, Any]]:
    return [
        {
            "error": type(p).__name__,
            "where": p.where,
            "reason": p.reason,
            "hint": p.hint,
            "message": str(p),
        }
        for p in problems
    ]


# -- the parser -------------------------------------------------------------------------------

# argparse's own words, which it looks up in gettext's default domain (English unless the
# whole process is set up otherwise): marked here so that the catalog has them, and passed
# through kpitree's catalog by `_Formatter` (help) and `_Parser.error` (usage errors).
_USAGE = N_("usage: ")
_SECTIONS = (N_("positional arguments"), N_("options"))
_HELP_ACTION = N_("show this help message and exit")
# The messages argparse reports usage errors with (Python's Lib/argparse.py). The first
# wraps the others (`argument --to: invalid choice: ...`), so it is tried first; a message
# worded otherwise (another Python version) is shown as argparse wrote it.
_ARGPARSE_ERRORS = (
    N_("argument %(argument_name)s: %(message)s"),
    N_("the following arguments are required: %s"),
    N_("one of the arguments %s is required"),
    N_("unrecognized arguments: %s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("invalid %(type)s value: %(value)r"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("not allowed with argument %s"),
    N_("ignored explicit argument %r"),
    N_("unexpected option string: %s"),
    N_("can't open '%(filename)s': %(error)s"),
)
_FIELD = re.compile(r"%(?:\((\w+)\))?[rs]")


@functools.cache
def _error_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Each argparse error message as a pattern with a group per field, and the message."""
    patterns = []
    for template in _ARGPARSE_ERRORS:
        # split: literal text, then a field's name (None for a bare `%s`), and so on.
        parts = _FIELD.split(template)
        regex = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part or '_'}>.+?)"
            for i, part in enumerate(parts)
        )
        patterns.append((re.compile(regex + r"\Z", re.DOTALL), template))
    return tuple(patterns)


def _argparse_text(message: str) -> str:
    """Argparse's English `message` in the active locale: its template's translation, filled.

    The fields are what argparse filled in (names of arguments, the value given, the
    choices) and stay as they are, except an inner `message`, translated in turn.
    """
    for pattern, template in _error_patterns():
        found = pattern.match(message)
        if found is not None:
            fields = found.groupdict()
            if "message" in fields:
                fields["message"] = _argparse_text(fields["message"])
            return _FIELD.sub(functools.partial(_field, fields), _(template))
    return message


def _field(fields: Mapping[str, str], match: re.Match[str]) -> str:
    return fields[match.group(1) or "_"]


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Help as written (examples keep their lines), with argparse's headings translated."""

    def add_usage(
        self,
        usage: str | None,
        actions: Any,
        groups: Any,
        prefix: str | None = None,
    ) -> None:
        super().add_usage(usage, actions, groups, _(_USAGE) if prefix is None else prefix)

    def start_section(self, heading: str | None) -> None:
        super().start_section(_(heading) if heading else heading)


class _Parser(argparse.ArgumentParser):
    """An `ArgumentParser` that speaks the active locale in its help and usage errors."""

    def __init__(self, *, add_help: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(add_help=False, **kwargs)
        if add_help:  # argparse's own `-h`, with its help in the active locale
            self.add_argument(
                "-h", "--help", action="help", default=argparse.SUPPRESS, help=_(_HELP_ACTION)
            )

    def error(self, message: str) -> NoReturn:
        """Print the usage and the error in the active locale; exit 2 (as argparse does)."""
        self.print_usage(sys.stderr)
        text = _("{prog}: error: {message}").format(prog=self.prog, message=_argparse_text(message))
        self.exit(2, text + "\n")


def _help(text: str) -> str:
    """`text` in the active locale, for argparse's help (which %-formats it)."""
    return _(text).replace("%", "%%")


def _parser() -> argparse.ArgumentParser:
    """The command line's parser, worded in the active locale (so built once it is known)."""
    parser = _Parser(
        prog="kpitree",
        description=_("Metric trees of KPIs with owners and influence horizons."),
        epilog=_(_EPILOG),
    )
    parser.add_argument("--debug", action="store_true", help=_help(N_("show tracebacks on errors")))
    language = _help(N_("the language of the output: en or ru (default: KPITREE_LANG, then LANG)"))
    parser.add_argument("--lang", metavar=_("LOCALE"), help=language)
    width = _help(N_("the columns text output may take (default: COLUMNS, then the terminal's)"))
    parser.add_argument("--width", metavar=_("COLUMNS"), type=int, help=width)
    common = _Parser(add_help=False)
    # SUPPRESS: a subcommand's default must not overwrite `kpitree --debug COMMAND`.
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=_help(N_("show tracebacks"))
    )
    common.add_argument("--lang", metavar=_("LOCALE"), default=argparse.SUPPRESS, help=language)
    common.add_argument(
        "--width", metavar=_("COLUMNS"), type=int, default=argparse.SUPPRESS, help=width
    )
    commands = parser.add_subparsers(dest="command", metavar=_("COMMAND"))

    def command(name: str, run: Command, *, json_flag: bool = True) -> argparse.ArgumentParser:
        summary, example = _HELP[name]
        summary = _(summary)
        note = f"\n  {_(_NOTES[name])}" if name in _NOTES else ""
        sub = commands.add_parser(
            name,
            help=summary.replace("%", "%%"),
            description=summary[0].upper() + summary[1:] + ".",
            epilog=_("example:") + f"\n  {example}{note}",
            parents=[common],
        )
        sub.set_defaults(run=run)
        if json_flag:
            sub.add_argument(
                "--json", action="store_true", help=_help(N_("machine-readable JSON output"))
            )
        return sub

    def model(sub: argparse.ArgumentParser, values: bool = True) -> None:
        sub.add_argument(
            "file", metavar=_("FILE"), help=_help(N_("model file (.yaml, .yml, .toml, .json)"))
        )
        if values:
            sub.add_argument(
                "--values",
                metavar=_("FILE[:PERIOD]"),
                help=_help(N_("leaf values: a YAML/JSON mapping or a CSV with a row per period")),
            )

    demo = command("demo", _demo)
    # Checked by the command, so that `--help` does not import the example trees.
    demo.add_argument(
        "--example",
        metavar=_("NAME"),
        help=_help(
            N_("{names} (default: qualified_leads_ru in Russian, else qualified_leads)")
        ).format(names=_DEMO_NAMES),
    )
    model(command("show", _show))
    sub = command("eval", _eval)
    model(sub)
    sub.add_argument(
        "pairs", nargs="*", metavar=_("NAME=VALUE"), help=_help(N_("leaf values, e.g. leads=1200"))
    )
    sub = command("whatif", _whatif)
    model(sub)
    sub.add_argument(
        "changes", nargs="+", metavar=_("NAME=CHANGE"), help=_help(N_("e.g. leads=+10%"))
    )
    sub = command("sensitivity", _sensitivity)
    model(sub)
    sub.add_argument("metric", metavar=_("METRIC"))
    sub = command("solve", _solve)
    model(sub)
    sub.add_argument("metric", metavar=_("METRIC"))
    sub.add_argument(
        "target",
        nargs="?",
        metavar=_("TARGET"),
        help=_help(N_('a number, e.g. 900 or "85%"; default the metric\'s `target:`')),
    )
    sub.add_argument(
        "--vary", required=True, metavar=_("LEAF"), help=_help(N_("the leaf to solve for"))
    )
    sub = command("cascade", _cascade)
    model(sub)
    sub.add_argument("metric", metavar=_("METRIC"))
    sub.add_argument(
        "target",
        nargs="?",
        metavar=_("TARGET"),
        help=_help(N_("a number; default the metric's `target:`")),
    )
    sub.add_argument(
        "--within", metavar=_("HORIZON"), help=_help(N_("only KPIs movable within it"))
    )
    sub.add_argument("--among", nargs="+", metavar=_("KPI"), help=_help(N_("only these KPIs")))
    sub = command("levers", _levers)
    model(sub)
    sub.add_argument("metric", metavar=_("METRIC"))
    sub.add_argument("--within", metavar=_("HORIZON"), help=_help(N_('e.g. "1 day", "1 week"')))
    sub.add_argument("--owner", metavar=_("OWNER"), help=_help(N_("only this owner's KPIs")))
    sub = command("status", _status)
    model(sub)
    sub.add_argument(
        "pairs", nargs="*", metavar=_("NAME=VALUE"), help=_help(N_("values and measurements"))
    )
    sub.add_argument(
        "--fail-on-breach",
        action="store_true",
        help=_help(
            N_(
                "exit 1 when a KPI, metric or measured standard is below its norm, "
                "or a metric below its target"
            )
        ),
    )
    sub = command("track", _track)
    model(sub, values=False)
    sub.add_argument(
        "data", metavar=_("DATA"), help=_help(N_("a CSV or Parquet file with a row per period"))
    )
    sub.add_argument(
        "--period",
        default="date",
        metavar=_("COLUMN"),
        help=_help(N_("the column of periods (default: date)")),
    )
    sub.add_argument(
        "--by", metavar=_("COLUMNS"), help=_help(N_("segment columns, separated by commas"))
    )
    sub.add_argument(
        "--plan",
        metavar=_("FILE"),
        help=_help(N_("per-period targets: the period column and a column per node")),
    )
    for name in ("attribute", "accountability"):
        sub = command(name, _attribute)
        model(sub, values=False)
        sub.add_argument("metric", metavar=_("METRIC"))
        sub.add_argument("--before", required=True, metavar=_("FILE[:PERIOD]"))
        sub.add_argument("--after", required=True, metavar=_("FILE[:PERIOD]"))
        sub.add_argument("--method", default="shapley", choices=_METHODS)
        sub.add_argument(
            "--order",
            metavar=_("LEAF,..."),
            help=_help(N_("with --method sequential: the leaves in the order they move")),
        )
    sub = command("scorecard", _scorecard)
    model(sub, values=False)
    sub.add_argument(
        "--fact",
        required=True,
        metavar=_("FILE[:PERIOD]"),
        help=_help(N_("the period's values: a YAML/JSON mapping or a CSV with a row per period")),
    )
    sub.add_argument(
        "--plan",
        metavar=_("FILE[:PERIOD]"),
        help=_help(N_("planned KPI values, read like --fact (default: each KPI's norm)")),
    )
    sub.add_argument("--owner", metavar=_("OWNER"), help=_help(N_("only this owner's card")))
    sub = command("export", _export, json_flag=False)
    model(sub, values=False)
    sub.add_argument("--to", required=True, choices=_EXPORTS, help=_help(N_("the output format")))
    sub.add_argument(
        "--dialect",
        default="duckdb",
        metavar=_("DIALECT"),
        help=_help(N_("SQL dialect (sqlglot's names)")),
    )
    sub.add_argument(
        "--table",
        default="kpis",
        metavar=_("TABLE"),
        help=_help(N_("SQL: the table of leaf columns")),
    )
    sub.add_argument(
        "-o", "--output", metavar=_("PATH"), help=_help(N_("write to a file, not stdout"))
    )
    sub.add_argument(
        "--scenario",
        action="append",
        metavar=_("TITLE=FILE[:PERIOD]"),
        help=_help(N_("xlsx: a sheet for a scenario of leaf values from a values file")),
    )
    sub = command("import", _import, json_flag=False)
    sub.add_argument(
        "source",
        metavar=_("SOURCE"),
        help=_help(N_("a MetricFlow .yml file or a dbt project folder")),
    )
    sub.add_argument(
        "-o",
        "--output",
        metavar=_("PATH"),
        help=_help(N_("write the model file here (.yaml, .toml or .json), not to stdout")),
    )
    sub = command("check", _check)
    model(sub, values=False)
    sub = command("mcp", _mcp, json_flag=False)
    model(sub, values=False)
    sub = command("serve", _serve, json_flag=False)
    model(sub, values=False)
    sub.add_argument(
        "--host",
        default="127.0.0.1",
        metavar=_("HOST"),
        help=_help(N_("address to listen on (default: this machine only)")),
    )
    sub.add_argument(
        "--port",
        type=int,
        default=8765,
        metavar=_("PORT"),
        help=_help(N_("port to listen on (default 8765; 0: any free)")),
    )
    sub.add_argument(
        "--scenarios", metavar=_("DIR"), help=_help(N_("directory where named scenarios are saved"))
    )
    sub.add_argument(
        "--open", action="store_true", help=_help(N_("open the page in the default browser"))
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    Examples:
        >>> main(["eval", "examples/qualified_leads.yaml", "leads=1200"])
        qualified_leads  960 lead
        leads            1,200 lead
        lead_to_ql       80%
        0
    """
    _WARNED.clear()
    restore = _escaping_streams()
    try:
        return _run(argv)
    finally:
        restore()


def _escaping_streams() -> Callable[[], None]:
    r"""Make stdout and stderr write unencodable characters as `\u` escapes; return undo.

    With `PYTHONIOENCODING=ascii` (or a C locale) a Cyrillic name would otherwise end the
    run in a UnicodeEncodeError traceback halfway through the output.
    """
    undo: list[Callable[[], None]] = []
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        errors = getattr(stream, "errors", None)
        if not callable(reconfigure) or errors is None:
            continue
        try:
            reconfigure(errors="backslashreplace")
        except (ValueError, OSError):  # a closed or detached stream: leave it
            continue
        undo.append(functools.partial(reconfigure, errors=errors))

    def restore() -> None:
        for step in undo:
            with contextlib.suppress(ValueError, OSError):
                step()

    return restore


def _run(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        lang = _lang_option(argv)
        chosen = i18n.parse(lang) if lang is not None else i18n.current()
    except KPITreeError as exc:  # `--lang de`, or a misspelt KPITREE_LANG
        return _fail(exc, 2, "--debug" in argv)
    if lang is None:  # the model's own `locale:` may speak, unless KPITREE_LANG chose
        return _run_parsed(argv)
    # Scoped, not set_locale: `main` may run inside a program that speaks another.
    with i18n.locale(chosen):
        return _run_parsed(argv)


def _lang_option(argv: Sequence[str]) -> str | None:
    """The value of the last `--lang X` or `--lang=X` in `argv` (argparse's choice), if any.

    Read before parsing, since the parser's help and errors are worded in that language.
    """
    lang = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(argv):
            lang = argv[i + 1]
        elif arg.startswith("--lang="):
            lang = arg.partition("=")[2]
    return lang


def _run_parsed(argv: list[str]) -> int:
    parser = _parser()
    try:
        args, extra = parser.parse_known_args(argv)
        # `name=value` pairs may follow options (`eval F --values V leads=1`); argparse
        # leaves those it could not place, and only they are accepted here.
        pairs = getattr(args, "pairs", getattr(args, "changes", None))
        if extra and (pairs is None or any(a.startswith("-") for a in extra)):
            parser.parse_args(argv)  # reports the unknown arguments and exits 2
        if extra and pairs is not None:
            pairs.extend(extra)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        with _speaking(args), text_width_of(args.width):
            return int(args.run(args))
    except (InfeasibleGoalError, EvaluationError) as exc:
        return _fail(exc, 1, args.debug)
    except KPITreeError as exc:
        return _fail(exc, 2, args.debug)
    except BrokenPipeError:
        # The reader stopped early (`kpitree ... | head`): not an error of kpitree's.
        _silence_stdout()
        return 0
    except (UsageError, OSError) as exc:
        if args.debug:
            raise
        reason = str(exc)
        if isinstance(exc, OSError):
            reason = exc.strerror or reason
            reason += f": {exc.filename}" if exc.filename else ""
        _err(f"kpitree: {reason}")
        return 2
    except ModuleNotFoundError as exc:
        # An analysis this installation does not have yet (its module is missing).
        if args.debug or not (exc.name or "").startswith("kpitree."):
            raise
        _err(
            "kpitree: "
            + _("{command} is not available in this version").format(command=f"`{args.command}`")
        )
        return 2
    except KeyboardInterrupt:
        return 130  # interrupted: the shell's code for SIGINT, no traceback
    except Exception as exc:  # the last guard: no traceback for any input
        # Bad input is a KPITreeError (exit 2); anything else reaching here is a bug of
        # kpitree's. Say so in one line, and how to get the traceback to report it.
        if args.debug:
            raise
        reason = str(exc).splitlines()[0] if str(exc) else ""
        error = f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__
        _err(
            "kpitree: "
            + _(
                "internal error: {error}; this is a bug in kpitree: run again with --debug "
                "and report the traceback"
            ).format(error=error)
        )
        return 3


def _silence_stdout() -> None:
    import os

    try:  # later writes (and the flush at exit) go nowhere instead of failing again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _fail(exc: KPITreeError, code: int, debug: bool) -> int:
    if debug:
        raise exc
    more = ""
    if isinstance(exc, ValidationError) and exc.problems:
        if len(exc.problems) > 1:
            others = len(exc.problems) - 1
            more = " " + ngettext(
                "(and {n} more: `kpitree check FILE` lists it)",
                "(and {n} more: `kpitree check FILE` lists them)",
                others,
            ).format(n=others)
        exc = exc.problems[0]
    line = str(exc).splitlines()[0]
    if exc.hint and "\n" not in exc.hint:
        line += f"; {exc.hint}"
    _err(f"kpitree: {line}{more}")
    return code

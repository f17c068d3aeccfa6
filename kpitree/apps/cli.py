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
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kpitree import i18n
from kpitree.errors import EvaluationError, InfeasibleGoalError, KPITreeError, ValidationError

if TYPE_CHECKING:
    from kpitree.tree import Tree

__all__ = ["main"]

Command = Callable[[argparse.Namespace], int]

_EPILOG = """\
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
"""

_QL = "examples/qualified_leads.yaml"

# name: (one-line help, example lines for the command's --help)
_HELP: dict[str, tuple[str, str]] = {
    "demo": (
        "show a bundled example tree",
        "kpitree demo --example sales_revenue",
    ),
    "show": (
        "show a model file as an indented tree with values, owners and norms",
        f"kpitree show {_QL}\n  kpitree show {_QL} --values examples/values/october.yaml",
    ),
    "eval": (
        "compute every metric from leaf values",
        f"kpitree eval {_QL} leads=1200 lead_to_ql=75%\n"
        "  kpitree eval examples/sales_revenue.yaml "
        "--values examples/values/sales_revenue.yaml:2026-10",
    ),
    "whatif": (
        "compare every node before and after changes to leaves",
        f"kpitree whatif {_QL} leads=+10% lead_to_ql=-5%\n"
        "  (a change is a new value 1200, or +10%, -5%, x1.2, +200, =1200)",
    ),
    "sensitivity": (
        "rank the leaves by the impact of a 1% move on a metric",
        f"kpitree sensitivity {_QL} qualified_leads",
    ),
    "solve": (
        "find the value of one leaf that makes a metric reach a target",
        f"kpitree solve {_QL} qualified_leads 900 --vary leads",
    ),
    "cascade": (
        "split a metric's target into KPI targets with equal relative effort",
        f"kpitree cascade {_QL} qualified_leads 900 --within '1 week'",
    ),
    "levers": (
        "list the KPIs that move a metric within a horizon, by impact",
        f"kpitree levers {_QL} qualified_leads --within '1 day' --owner sales",
    ),
    "status": (
        "check KPIs and metrics against their norms, and who owns them",
        f"kpitree status {_QL} --values examples/values/october.yaml",
    ),
    "attribute": (
        "split the change of a metric between two periods over leaves and owners",
        f"kpitree attribute {_QL} qualified_leads "
        "--before examples/values/qualified_leads.csv:2026-09 "
        "--after examples/values/qualified_leads.csv:2026-10",
    ),
    "export": (
        "write the tree as yaml, toml, json, SQL, mermaid, dot or svg",
        f"kpitree export {_QL} --to toml\n  kpitree export {_QL} --to sql --dialect postgres",
    ),
    "check": (
        "validate a model file and print every problem (exit 2 if any)",
        f"kpitree check {_QL}",
    ),
    "serve": (
        "explore the tree in a local web page: sliders, levers, goal seek, scenarios",
        f"kpitree serve {_QL} --scenarios scenarios",
    ),
}

_DEMO_NAMES = "qualified_leads, qualified_leads_ru, sales_revenue, dupont, saas_mrr"
_EXPORTS = ("yaml", "toml", "json", "sql", "mermaid", "dot", "svg")


class UsageError(Exception):
    """A command-line argument that cannot be used; reported with exit code 2."""


# -- reading files and values -----------------------------------------------------------------


def _tree(args: argparse.Namespace) -> Tree:
    from kpitree.tree import load

    return load(args.file)


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
            raise UsageError(f"{what} must be name=value (e.g. leads=1200), got {item!r}")
        out[name.strip()] = value.strip()
    return out


def _values(args: argparse.Namespace, pairs: Sequence[str] = ()) -> dict[str, Any] | None:
    values: dict[str, Any] = {}
    if getattr(args, "values", None):
        values.update(_read_values(args.values))
    values.update(_pairs(pairs, "a value"))
    return values or None


def _number(text: str, what: str) -> float:
    from kpitree.model.numbers import to_number

    return to_number(text, what=what)


# -- output -----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Turn results into JSON data: `to_dict()`, mappings, sequences; NaN and inf as null."""
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


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
        print(
            f"kpitree: warning: the output's encoding ({encoding}) cannot show some "
            "characters; they are written as \\u escapes. Set PYTHONIOENCODING=utf-8 "
            "(or a UTF-8 locale) to see them",
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

    if args.example not in EXAMPLES:
        from kpitree.errors import did_you_mean

        hint = did_you_mean(args.example, EXAMPLES) or f"the examples are: {_DEMO_NAMES}"
        raise UsageError(f"there is no example `{args.example}`; {hint}")
    tree = EXAMPLES[args.example]()
    if args.json:
        payload = {
            "example": args.example,
            "values": tree.evaluate().to_dict(),
            "owners": tree.owners(),
            "status": tree.status().to_dict(),
        }
        _print_json(payload)
        return 0
    metric = tree.roots[0].name
    kpis = [k.name for k in tree.kpis]
    # A month later: the KPIs move one way and the other (+10%, -12.5%, ...), as in the
    # qualified-leads story: leads 1,000 → 1,100, conversion 80% → 70%, QLs 800 → 770.
    later = tree.whatif({k: "+10%" if i % 2 == 0 else "-12.5%" for i, k in enumerate(kpis)})
    _out(f"kpitree demo: {args.example}\n")
    _out(tree)
    _out("\nOwners and their KPIs:")
    for owner, names in tree.owners().items():
        _out(f"  {owner}: {', '.join(names)}")
    _out("\nStatus against norms:")
    _out(_indent(str(tree.status())))
    _out(f"\nWhat is each lever worth? ({metric})")
    _out(_indent(str(tree.sensitivity(metric))))
    _out(f"\nWhat if {kpis[0]} grows 10%?")
    _out(_indent(str(tree.whatif({kpis[0]: "+10%"}))))
    lever = tree.levers(metric).rows_[0].name  # the KPI with the biggest impact
    _out(f"\nGoal: {metric} +12.5%. How much {lever}, all else equal?")
    try:
        needed = tree.solve(metric, tree.evaluate()[metric] * 1.125, vary=lever)
        _out(f"  {lever} = {_quantity(tree, lever, needed)}")
    except InfeasibleGoalError as exc:
        _out(f"  not reachable: {exc.reason}")
    _out("\nA month later, who moved it?")
    after = {k: later.after[k] for k in kpis}
    _out(_indent(str(tree.accountability(metric, {}, after))))
    _out("\nStatus a month later:")
    _out(_indent(str(tree.status(after))))
    return 0


def _quantity(tree: Any, name: str, value: float) -> str:
    from kpitree.model.units import format_quantity

    return format_quantity(value, tree.unit(name))


def _show(args: argparse.Namespace) -> int:
    from kpitree.display.text import render_tree

    tree = _tree(args)
    values = _values(args)
    if args.json:
        _print_json(
            {"tree": tree.to_dict(), "values": tree.evaluate(values, undefined="nan").to_dict()}
        )
        return 0
    _out(render_tree(tree, values))
    return 0


def _eval(args: argparse.Namespace) -> int:
    tree = _tree(args)
    return _emit(args, tree.evaluate(_values(args, args.pairs)))


def _whatif(args: argparse.Namespace) -> int:
    tree = _tree(args)
    changes = _pairs(args.changes, "a change")
    return _emit(args, tree.whatif(changes, _values(args)))


def _sensitivity(args: argparse.Namespace) -> int:
    tree = _tree(args)
    return _emit(args, tree.sensitivity(args.metric, _values(args)))


def _solve(args: argparse.Namespace) -> int:
    from kpitree.model.results import format_value

    tree = _tree(args)
    target = _number(args.target, "target")
    value = tree.solve(args.metric, target, args.vary, _values(args))
    payload = {"metric": args.metric, "target": target, "vary": args.vary, "value": value}
    shown = (
        f"{args.vary} = {format_value(value, tree, args.vary)} makes {args.metric} = "
        f"{format_value(target, tree, args.metric)}"
    )
    return _emit(args, shown, payload)


def _cascade(args: argparse.Namespace) -> int:
    tree = _tree(args)
    target = _number(args.target, "target")
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
    return _emit(args, tree.status(_values(args, args.pairs)))


def _attribute(args: argparse.Namespace) -> int:
    tree = _tree(args)
    before = _read_values(args.before)
    after = _read_values(args.after)
    return _emit(args, tree.attribute(args.metric, before, after, method=args.method))


def _export(args: argparse.Namespace) -> int:
    tree = _tree(args)
    if args.to in ("yaml", "toml", "json"):
        text = tree.dumps(args.to)
    elif args.to == "sql":
        text = tree.to_sql(table=args.table, dialect=args.dialect)
    elif args.to == "svg":
        from kpitree.display.diagrams import to_svg

        text = to_svg(tree)
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
            f"the output's encoding ({encoding}) cannot write this {args.to} export exactly; "
            "write it to a file with -o PATH (UTF-8), or set PYTHONIOENCODING=utf-8"
        )
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
            noun = "problem" if len(problems) == 1 else "problems"
            _err(f"kpitree: {len(problems)} {noun} in {args.file}")
        return 2
    counts = {"metrics": len(tree.metrics), "kpis": len(tree.kpis), "inputs": len(tree.inputs)}
    if args.json:
        _print_json({"file": args.file, "ok": True, "problems": [], **counts})
    else:
        nouns = {"metrics": "metric", "kpis": "KPI", "inputs": "input"}
        parts = [f"{n} {nouns[k]}{'' if n == 1 else 's'}" for k, n in counts.items()]
        _out(f"{args.file}: ok ({', '.join(parts)})")
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kpitree",
        description="Metric trees of KPIs with owners and influence horizons.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    language = "the language of the output: en or ru (default: KPITREE_LANG, then LANG)"
    parser.add_argument("--lang", metavar="LOCALE", help=language)
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand's default must not overwrite `kpitree --debug COMMAND`.
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )
    common.add_argument("--lang", metavar="LOCALE", default=argparse.SUPPRESS, help=language)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, run: Command, *, json_flag: bool = True) -> argparse.ArgumentParser:
        summary, example = _HELP[name]
        sub = commands.add_parser(
            name,
            help=summary.replace("%", "%%"),
            description=summary[0].upper() + summary[1:] + ".",
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[common],
        )
        sub.set_defaults(run=run)
        if json_flag:
            sub.add_argument("--json", action="store_true", help="machine-readable JSON output")
        return sub

    def model(sub: argparse.ArgumentParser, values: bool = True) -> None:
        sub.add_argument("file", metavar="FILE", help="model file (.yaml, .yml, .toml, .json)")
        if values:
            sub.add_argument(
                "--values",
                metavar="FILE[:PERIOD]",
                help="leaf values: a YAML/JSON mapping or a CSV with a row per period",
            )

    demo = command("demo", _demo)
    # Checked by the command, so that `--help` does not import the example trees.
    demo.add_argument("--example", default="qualified_leads", metavar="NAME", help=_DEMO_NAMES)
    model(command("show", _show))
    sub = command("eval", _eval)
    model(sub)
    sub.add_argument("pairs", nargs="*", metavar="NAME=VALUE", help="leaf values, e.g. leads=1200")
    sub = command("whatif", _whatif)
    model(sub)
    sub.add_argument("changes", nargs="+", metavar="NAME=CHANGE", help="e.g. leads=+10%%")
    sub = command("sensitivity", _sensitivity)
    model(sub)
    sub.add_argument("metric", metavar="METRIC")
    sub = command("solve", _solve)
    model(sub)
    sub.add_argument("metric", metavar="METRIC")
    sub.add_argument("target", metavar="TARGET", help='a number, e.g. 900 or "85%%"')
    sub.add_argument("--vary", required=True, metavar="LEAF", help="the leaf to solve for")
    sub = command("cascade", _cascade)
    model(sub)
    sub.add_argument("metric", metavar="METRIC")
    sub.add_argument("target", metavar="TARGET")
    sub.add_argument("--within", metavar="HORIZON", help="only KPIs movable within it")
    sub.add_argument("--among", nargs="+", metavar="KPI", help="only these KPIs")
    sub = command("levers", _levers)
    model(sub)
    sub.add_argument("metric", metavar="METRIC")
    sub.add_argument("--within", metavar="HORIZON", help='e.g. "1 day", "1 week"')
    sub.add_argument("--owner", metavar="OWNER", help="only this owner's KPIs")
    sub = command("status", _status)
    model(sub)
    sub.add_argument("pairs", nargs="*", metavar="NAME=VALUE", help="values and measurements")
    sub = command("attribute", _attribute)
    model(sub, values=False)
    sub.add_argument("metric", metavar="METRIC")
    sub.add_argument("--before", required=True, metavar="FILE[:PERIOD]")
    sub.add_argument("--after", required=True, metavar="FILE[:PERIOD]")
    sub.add_argument("--method", default="shapley", choices=("shapley", "lmdi", "hierarchical"))
    sub = command("export", _export, json_flag=False)
    model(sub, values=False)
    sub.add_argument("--to", required=True, choices=_EXPORTS, help="the output format")
    sub.add_argument("--dialect", default="duckdb", help="SQL dialect (sqlglot's names)")
    sub.add_argument("--table", default="kpis", help="SQL: the table of leaf columns")
    sub.add_argument("-o", "--output", metavar="PATH", help="write to a file, not stdout")
    sub = command("check", _check)
    model(sub, values=False)
    sub = command("serve", _serve, json_flag=False)
    model(sub, values=False)
    sub.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: this machine only)"
    )
    sub.add_argument(
        "--port", type=int, default=8765, help="port to listen on (default 8765; 0: any free)"
    )
    sub.add_argument("--scenarios", metavar="DIR", help="directory where named scenarios are saved")
    sub.add_argument("--open", action="store_true", help="open the page in the default browser")
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
        # Scoped, not set_locale: `main` may run inside a program that speaks another.
        with i18n.locale(args.lang) if args.lang else contextlib.nullcontext():
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
        _err(f"kpitree: `{args.command}` is not available in this version")
        return 2
    except KeyboardInterrupt:
        return 130  # interrupted: the shell's code for SIGINT, no traceback
    except Exception as exc:  # the last guard: no traceback for any input
        # Bad input is a KPITreeError (exit 2); anything else reaching here is a bug of
        # kpitree's. Say so in one line, and how to get the traceback to report it.
        if args.debug:
            raise
        reason = str(exc).splitlines()[0] if str(exc) else ""
        _err(
            f"kpitree: internal error: {type(exc).__name__}"
            + (f": {reason}" if reason else "")
            + "; this is a bug in kpitree: run again with --debug and report the traceback"
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
            more = f" (and {len(exc.problems) - 1} more: `kpitree check FILE` lists them)"
        exc = exc.problems[0]
    line = str(exc).splitlines()[0]
    if exc.hint and "\n" not in exc.hint:
        line += f"; {exc.hint}"
    _err(f"kpitree: {line}{more}")
    return code

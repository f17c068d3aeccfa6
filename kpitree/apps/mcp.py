"""A tree's analyses as Model Context Protocol tools: `kpitree mcp FILE`, over stdio.

An MCP client (an assistant, an editor) starts `kpitree mcp model.yaml` and calls the tools: `show`,
`evaluate`, `whatif`, `solve`, `cascade`, `levers`, `sensitivity`, `attribute`,
`accountability` and `status`. Each takes typed arguments (the SDK writes their JSON
schema from the signatures below) and returns the data `kpitree COMMAND --json` prints for
the same question (`kpitree.apps.payloads`), as structured content and as JSON text.

Arguments are data, checked by the tree as on the command line: values and changes go
through the tree's own readers (`"80%"`, `"+10%"`, `"+2pp"`), names must be nodes of the
tree. A problem (an unknown node, a bad value, an unknown method, an unreachable target)
comes back as a tool error (`isError`) whose text is kpitree's message with its hint, and
the server goes on serving. An unexpected exception is reported by the SDK as a tool error
too, without its text, and logged on stderr; stdout carries only the protocol.

Each call speaks its `locale` argument (`"ru"`, `"en"`), else the server's language:
`kpitree --lang`, else `KPITREE_LANG`, else the model file's `locale:`, else `LANG` — as
the command line chooses it.

Built on the official `mcp` SDK (`pip install 'kpitree[mcp]'`): its `MCPServer` (mcp 2),
or `FastMCP` under its former name (mcp 1).
"""

import importlib
import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Annotated, Any

from kpitree import __version__, i18n
from kpitree.apps.payloads import plain, show_payload, solve_payload
from kpitree.errors import KPITreeError, require
from kpitree.i18n import N_, _

if TYPE_CHECKING:
    from kpitree.tree import Tree

__all__ = ["TOOLS", "build_server", "serve"]

# The tools in the order they are listed, with what each returns.
TOOLS: dict[str, str] = {
    "show": N_("The tree as data (nodes, formulas, owners, horizons, norms) and every value."),
    "evaluate": N_("Every node's value from the leaf values given (the rest take defaults)."),
    "whatif": N_("Every node before and after changes to leaves: before, after, delta, pct."),
    "solve": N_("The value of one leaf that makes a metric reach a target, all else equal."),
    "cascade": N_("New KPI values that reach a metric's target with equal relative effort."),
    "levers": N_("The KPIs that move a metric within a horizon (and of an owner), by impact."),
    "sensitivity": N_("Each leaf's derivative, elasticity and impact of a +1% move on a metric."),
    "attribute": N_("The change of a metric between two sets of values, per leaf and owner."),
    "accountability": N_(
        "Per owner: their KPIs, each one's contribution to a metric's change, norm before/after."
    ),
    "status": N_("KPIs, metrics and measured standards against their norms, with owners."),
}

_INSTRUCTIONS = N_(
    "Analyses of the KPI tree {name}: metrics {metrics}; KPIs {kpis}. Call show first to "
    "see the nodes, owners and norms. Values are numbers or text such as 80% or 1200; "
    "changes are 1200, +10%, -5%, +2pp, x1.2, +200 or =1200."
)

# What the arguments are, shown in the tools' JSON schemas.
_VALUES = N_("leaf values by name, numbers or text such as 80%; the rest take defaults")
_METRIC = N_("the metric's name")
_LOCALE = N_("the language of the answer and its messages: en or ru")


def build_server(tree: "Tree", *, locale: str | None = None, name: str | None = None) -> Any:
    """Return an MCP server (the SDK's `MCPServer`) whose tools analyse `tree`.

    Args:
        tree: the tree every tool works on.
        locale: the language of answers when a call names none (default: the active one).
        name: what the tree is called in the server's instructions (a file name).
    """
    require("mcp", extra="mcp", feature=_("the MCP server"))
    from pydantic import Field, WithJsonSchema

    from kpitree.analyses.attribution import METHODS

    server_class, tool_error = _sdk()
    speaks = i18n.parse(locale) if locale is not None else i18n.current()

    def answer(language: str | None, compute: Callable[[], Any]) -> dict[str, Any]:
        try:
            with i18n.locale(speaks):
                chosen = i18n.parse(language) if language is not None else speaks
            with i18n.locale(chosen):
                result: dict[str, Any] = plain(compute())
                return result
        except KPITreeError as exc:
            raise tool_error(str(exc)) from exc

    def said(text: str) -> str:
        with i18n.locale(speaks):
            return _(text)

    instructions = said(_INSTRUCTIONS).format(
        name=name or (tree.roots[0].name if tree.roots else ""),
        metrics=_names(m.name for m in tree.metrics),
        kpis=_names(k.name for k in tree.kpis),
    )
    options: dict[str, Any] = {"instructions": instructions, "log_level": "WARNING"}
    if "version" in inspect.signature(server_class).parameters:  # mcp 1 has no `version`
        options["version"] = __version__
    server = server_class("kpitree", **options)

    # A value is a number or text, read by the tree (which refuses `true`, unlike pydantic).
    Value = Annotated[Any, WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}]})]
    Values = Annotated[dict[str, Value] | None, Field(description=said(_VALUES))]
    Metric = Annotated[str, Field(description=said(_METRIC))]
    Locale = Annotated[str | None, Field(description=said(_LOCALE))]
    Target = Annotated[
        Value | None,
        Field(description=said(N_('a number, e.g. 900 or "85%"; left out: the metric\'s target'))),
    ]

    # Every tool only reads the tree: a client may call it without asking (mcp 1.2 has no
    # annotations).
    hints: dict[str, Any] = {}
    if "annotations" in inspect.signature(server.add_tool).parameters:
        from mcp.types import ToolAnnotations

        read_only = {"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False}
        hints["annotations"] = ToolAnnotations.model_validate(read_only)

    def tool(fn: Callable[..., dict[str, Any]]) -> None:
        server.add_tool(fn, name=fn.__name__, description=said(TOOLS[fn.__name__]), **hints)

    def show(values: Values = None, locale: Locale = None) -> dict[str, Any]:
        return answer(locale, lambda: show_payload(tree, values))

    def evaluate(values: Values = None, locale: Locale = None) -> dict[str, Any]:
        return answer(locale, lambda: tree.evaluate(values))

    def whatif(
        changes: Annotated[
            dict[str, Value],
            Field(description=said(N_("leaf changes: 1200, +10%, -5%, +2pp, x1.2, +200 or =1200"))),
        ],
        values: Values = None,
        locale: Locale = None,
    ) -> dict[str, Any]:
        return answer(locale, lambda: tree.whatif(changes, values))

    def solve(
        metric: Metric,
        vary: Annotated[str, Field(description=said(N_("the leaf to solve for")))],
        target: Target = None,
        values: Values = None,
        locale: Locale = None,
    ) -> dict[str, Any]:
        return answer(locale, lambda: solve_payload(tree, metric, _target(target), vary, values))

    def cascade(
        metric: Metric,
        target: Target = None,
        values: Values = None,
        among: Annotated[list[str] | None, Field(description=said(N_("only these KPIs")))] = None,
        within: Annotated[
            str | None, Field(description=said(N_("only KPIs movable within it, e.g. 1 week")))
        ] = None,
        locale: Locale = None,
    ) -> dict[str, Any]:
        return answer(
            locale,
            lambda: tree.cascade(metric, _target(target), values, among=among, within=within),
        )

    def levers(
        metric: Metric,
        within: Annotated[str | None, Field(description=said(N_('e.g. "1 day", "1 week"')))] = None,
        owner: Annotated[str | None, Field(description=said(N_("only this owner's KPIs")))] = None,
        values: Values = None,
        locale: Locale = None,
    ) -> dict[str, Any]:
        return answer(
            locale, lambda: tree.levers(metric, within=within, owner=owner, values=values)
        )

    def sensitivity(metric: Metric, values: Values = None, locale: Locale = None) -> dict[str, Any]:
        return answer(locale, lambda: tree.sensitivity(metric, values))

    Before = Annotated[dict[str, Value], Field(description=said(N_("leaf values before")))]
    After = Annotated[dict[str, Value], Field(description=said(N_("leaf values after")))]
    methods = said(N_("one of {methods}; shapley is exact and the default")).format(
        methods=", ".join(METHODS)
    )
    Method = Annotated[str, Field(description=methods)]
    Order = Annotated[
        list[str] | None,
        Field(description=said(N_("with method sequential: the leaves in the order they move"))),
    ]

    def attribute(
        metric: Metric,
        before: Before,
        after: After,
        method: Method = "shapley",
        order: Order = None,
        locale: Locale = None,
    ) -> dict[str, Any]:
        return answer(
            locale, lambda: tree.attribute(metric, before, after, method=method, order=order)
        )

    def accountability(
        metric: Metric,
        before: Before,
        after: After,
        method: Method = "shapley",
        order: Order = None,
        locale: Locale = None,
    ) -> dict[str, Any]:
        return answer(
            locale,
            lambda: tree.accountability(metric, before, after, method=method, order=order),
        )

    def status(values: Values = None, locale: Locale = None) -> dict[str, Any]:
        return answer(locale, lambda: tree.status(values))

    tools: list[Callable[..., dict[str, Any]]] = [show, evaluate, whatif, solve, cascade, levers]
    tools += [sensitivity, attribute, accountability, status]
    for fn in tools:
        tool(fn)
    return server


def serve(tree: "Tree", *, locale: str | None = None, name: str | None = None) -> None:
    """Serve `tree`'s analyses as MCP tools on stdin and stdout until the client leaves."""
    build_server(tree, locale=locale, name=name).run("stdio")


def _names(names: Iterable[str], most: int = 40) -> str:
    """The first `most` names, then an ellipsis: a large tree's instructions stay short."""
    listed = list(names)
    return ", ".join(listed[:most]) + (", …" if len(listed) > most else "")


def _target(target: object) -> float | None:
    """A given target as a number; None leaves the metric's own `target:` to the analysis."""
    from kpitree.model.numbers import to_number

    return None if target is None else to_number(target, what=_("target"))


def _sdk() -> tuple[Any, type[Exception]]:
    """The SDK's server class and the exception a tool raises to report an error."""
    try:
        from mcp.server.mcpserver import MCPServer
        from mcp.server.mcpserver.exceptions import ToolError
    except ModuleNotFoundError:  # mcp 1: the same server under its former name
        fastmcp = importlib.import_module("mcp.server.fastmcp")
        exceptions = importlib.import_module("mcp.server.fastmcp.exceptions")
        return fastmcp.FastMCP, exceptions.ToolError
    return MCPServer, ToolError

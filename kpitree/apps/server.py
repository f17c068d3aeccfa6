"""The what-if explorer: a tree as a local web page, served by the standard library.

`kpitree serve model.yaml` (or `serve(tree)`) starts an HTTP server on the loopback
address. The page (`static/explorer.html`, plain JavaScript, no network) draws the tree,
gives each leaf a slider, ranks levers, seeks goals and compares scenarios, asking the
server through a small JSON API:

- `GET /api/messages`: the page's words in the request's locale (`messages`, `plurals`
  by CLDR plural category), its decimal sign and the locale itself;
- `GET /api/tree`: the nodes (formula, owner, horizon, bounds, norm, unit, value, slider
  range), owners and their colours, horizons, norm status, and the diagram's rows;
- `POST /api/evaluate` `{"values": {leaf: value}}`: every node before and after
  (`tree.whatif`), its change, better or worse by its direction, and norm status after;
- `POST /api/sensitivity` `{"metric", "owner"?, "within"?, "values"?}`: the leaves ranked
  by the impact of a +1% move; `tree.levers` when filtered by owner or horizon;
- `POST /api/solve` `{"metric", "target"?, "vary", "values"?}`: the value needed, or why
  the goal is infeasible (with the value `needed` when there is one); without a target
  (absent, null or empty text) the metric's own `target` is the goal;
- `GET /api/scenarios`: the scenarios saved in the scenarios directory;
- `POST /api/scenarios` `{"name", "values", "overwrite"?}`: saves `<name>.json`, a values
  file, in that directory;
- `POST /api/compare` `{"scenarios": [name, or {"name", "values"}, ...]}`: the scenarios
  side by side (`compare`).

Every request is answered in one locale: `?lang=ru` on the request, else the server's
(`i18n.current()` when it was made: `kpitree serve --lang`, `KPITREE_LANG`). The choice is a
context variable set for the request only (`i18n.locale`), so requests answered at once in
other threads never mix languages; values typed under `ru` take the decimal comma and
space grouping (`0,85`, `1 200`), and every number is written by kpitree's formatters.

Every request is checked before anything runs: the path against a fixed list, the
method, the `Host` and `Origin` headers (against DNS rebinding and cross-site requests),
the content type (`application/json`), the size of the body, the JSON (no `NaN`, no
duplicate keys), the fields of the body (unknown ones are refused with a did-you-mean),
and every value through the tree's own checks (`tree.check_values`, `to_number`, the
leaves' bounds). Request text is data, never code. Errors come back as JSON,
`{"error": {"status", "type", "message", "hint", ...}}`: request problems are 4xx
(kpitree errors are 422), anything unexpected is a 500 with no traceback (it goes to the
server's log).

Scenarios are written only into the directory given (`values_dir`, `--scenarios DIR`),
under names that are identifiers (`plan_may`, `план_май`), through a temporary file in
that directory put in place in one step (a new name atomically: one of several clients
saving it at once succeeds); without a directory, saving is refused.

Under load it keeps answering: requests are gathered without a thread each and answered
by a fixed pool of threads, a client slower than `REQUEST_TIMEOUT` to send its request is
cut off (408), and the listen backlog is `REQUEST_QUEUE` (see `ExplorerServer`).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http
import http.server
import io
import ipaddress
import json
import logging
import math
import os
import queue
import re
import selectors
import socket
import tempfile
import threading
import time
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from kpitree import i18n
from kpitree.analyses.goal.solving import goal_of
from kpitree.analyses.whatif import check_bounds, compare, whatif
from kpitree.display.style import (
    Changes,
    known,
    node_changes,
    outline,
    owner_colours,
    shown,
    signed,
)
from kpitree.errors import (
    ArgumentError,
    InfeasibleGoalError,
    KindError,
    KPITreeError,
    UnknownNameError,
    ValidationError,
    ValueTypeError,
    did_you_mean,
)
from kpitree.i18n import N_, _, ngettext
from kpitree.io.documents import JSONRefusal, JSONSyntaxError, read_json
from kpitree.language.expr import format_expr
from kpitree.model.bounds import Bounds
from kpitree.model.nodes import KPI, Leaf, Metric
from kpitree.model.numbers import format_number, to_number
from kpitree.model.results import format_norm, norm_ok

if TYPE_CHECKING:
    from kpitree.tree import Tree

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "MAX_BODY",
    "MAX_COMPARED",
    "MAX_HEAD",
    "MAX_SCENARIO_NAME",
    "MAX_WAITING",
    "REQUEST_QUEUE",
    "REQUEST_TIMEOUT",
    "THREADS",
    "Explorer",
    "ExplorerServer",
    "RequestError",
    "content_length",
    "error_data",
    "make_server",
    "parse_json",
    "scenario_name",
    "serve",
]

DEFAULT_HOST = "127.0.0.1"
"""The loopback address: only this machine can reach the page."""

DEFAULT_PORT = 8765
"""The port `kpitree serve` listens on unless told otherwise."""

MAX_BODY = 1_000_000
"""Largest request body read, in bytes; a bigger one is refused (413) unread."""

THREADS = 8
"""Requests answered at once; more complete requests wait in line for a thread."""

REQUEST_TIMEOUT = 10.0
"""Seconds a client has to send its whole request, and again to take the answer.

A slower client (one that trickles its headers, say) is answered 408 and cut off."""

MAX_WAITING = 512
"""Connections whose request is still arriving; past this, the one waiting longest is cut
off (503). They cost a buffer each (at most `MAX_HEAD` plus the body limit), not a thread."""

REQUEST_QUEUE = 1024
"""Connections the operating system keeps for the server before it accepts them (the
listen backlog; the system may cap it, on Linux at `net.core.somaxconn`)."""

MAX_COMPARED = 12
"""Most scenarios compared side by side in one request."""

MAX_SCENARIO_NAME = 64
"""Longest scenario name, in characters."""

_LOG = logging.getLogger("kpitree.server")

_STATIC = {
    "/": ("explorer.html", "text/html; charset=utf-8"),
    "/explorer.html": ("explorer.html", "text/html; charset=utf-8"),
    "/explorer.js": ("explorer.js", "text/javascript; charset=utf-8"),
    "/explorer.css": ("explorer.css", "text/css; charset=utf-8"),
}
"""The only files served: request paths are looked up here, never joined to a directory."""

_SECURITY_HEADERS = {
    # No inline script or style, no third-party anything: the page talks to this server only.
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_NAME = re.compile(r"[^\W\d][\w-]*")
# Device names Windows reserves in every directory (`con.json` cannot be made there).
_RESERVED = {"con", "prn", "aux", "nul"} | {f"{d}{i}" for d in ("com", "lpt") for i in range(10)}

_KINDS = {"kpi": N_("kpi"), "input": N_("input"), "metric": N_("metric")}  # a node's `kind`


class RequestError(KPITreeError, ValueError):
    """A request the explorer's server refuses, with the HTTP status it answers.

    Refusals a person can meet (a scenario name, a file, a node of the wrong kind, too
    many scenarios) speak the request's locale. The HTTP protocol group stays English:
    a body that is not a JSON object of the right fields and types, the JSON syntax,
    the headers (Host, Origin, Content-Type, Content-Length), the path and method, and
    the connection's timeouts and sizes. Only a client other than the explorer's page
    can cause those (the page always sends well-formed requests), and they are for its
    developer; each such site is marked ``# HTTP protocol (English, see RequestError)``.

    Attributes:
        status: the HTTP status code (4xx).
    """

    def __init__(self, status: int, reason: str, **kwargs: Any) -> None:
        self.status = status
        super().__init__(reason, **kwargs)


def scenario_name(name: object) -> str:
    """Check a scenario's name: an identifier that is safe as a file name on any system.

    Letters (Cyrillic too), digits, `_` and `-`, starting with a letter or `_`, at most
    `MAX_SCENARIO_NAME` characters, unchanged by Unicode normalisation (NFKC), and not a
    device name Windows reserves. So a name never holds a path separator or `..`.

    Raises:
        RequestError: (400) naming what is wrong.

    Examples:
        >>> scenario_name("план_май"), scenario_name("q3-push")
        ('план_май', 'q3-push')
        >>> scenario_name("../etc/passwd")
        Traceback (most recent call last):
        ...
        kpitree.apps.server.RequestError: scenario name '../etc/passwd' is not an identifier
        hint: use letters, digits, _ and -, starting with a letter (e.g. plan_may)
    """
    if not isinstance(name, str):
        # HTTP protocol (English, see RequestError)
        raise RequestError(400, f"a scenario name must be text, got {_kind(name)}")
    shown = name if len(name) <= 40 else name[:37] + "..."
    if len(name) > MAX_SCENARIO_NAME:
        raise RequestError(
            400,
            _("scenario name {name} is longer than {limit} characters").format(
                name=repr(shown), limit=MAX_SCENARIO_NAME
            ),
        )
    if not _NAME.fullmatch(name) or unicodedata.normalize("NFKC", name) != name:
        raise RequestError(
            400,
            _("scenario name {name} is not an identifier").format(name=repr(shown)),
            hint=_("use letters, digits, _ and -, starting with a letter (e.g. plan_may)"),
        )
    if name.lower() in _RESERVED:
        raise RequestError(
            400,
            _("scenario name {name} is a reserved device name").format(name=repr(name)),
            hint=_("add a word: con_q3"),
        )
    return name


# Every word the page shows, as English source text: the page asks `/api/messages` for them
# in the request's locale and puts them in with textContent (`{name}` fields it fills in).
_PAGE_WORDS = (
    N_("kpitree explorer"),
    N_("owners"),
    N_("Tree"),
    N_("move a KPI: every metric is recomputed"),
    N_("Reset all"),
    N_("By owner"),
    N_("owner"),
    N_("KPIs moved"),
    N_("below norm"),
    N_("Levers"),
    N_("metric"),
    N_("anyone"),
    N_("within"),
    N_("any horizon"),
    N_("lever"),
    N_("horizon"),
    N_("value"),
    N_("elasticity"),
    N_("+1% →"),
    N_("Goal seek"),
    N_("target"),
    N_("vary"),
    N_("Solve"),
    N_("Apply"),
    N_("Scenarios"),
    N_("name"),
    N_("plan_may"),
    N_("replace"),
    N_("Save current"),
    N_("current (unsaved)"),
    N_("Compare side by side"),
    N_("metric (computed)"),
    N_("input (external, nobody's lever)"),
    N_("↑ shown above"),
    N_("KPI"),
    N_("input"),
    N_("external"),
    N_("horizon {horizon}"),
    N_("influenced by {names}"),
    N_("target {value}"),
    N_("{name}: slider"),
    N_("{name}: value"),
    N_("range {low} … {high}"),
    N_("norm {norm} {mark}"),
    N_("standard"),
    N_("not measured"),
    N_("met"),
    N_("not met"),
    N_("the server cannot be reached: is `kpitree serve` still running?"),
    N_("the server answered {status} without JSON"),
    N_("the server answered {status}"),
    N_("hint: {hint}"),
    N_("within {horizon}"),
    N_("owned by {owner}"),
    N_("levers of {metric} ({filters})"),
    N_("sensitivity of {metric}"),
    N_("no lever matches these filters"),
    N_("by owner (each +1%): {list}"),
    N_("{name} ({owner})"),
    N_("{vary} = {value} gives {metric} = {reached} (now {current}: {change})"),
    N_("no change"),
    N_("Infeasible: {message}"),
    N_("needed: {vary} = {value}"),
    N_("no scenario saved yet"),
    N_("saving is off: start the server with --scenarios DIR to save scenarios as values files"),
    N_("Load"),
    N_("saved scenario {name} ({file})"),
    N_("choose scenarios to compare (tick them in the list)"),
    N_("node"),
    N_("model"),
    N_("current"),
    N_("no node changes in these scenarios"),
    N_("leaves without a value: {names}; set them to see the metrics"),
)


def _page_plurals() -> dict[str, dict[str, str]]:
    """Return the page's counted messages, each by CLDR plural category of the locale."""
    return {
        "values": _forms(lambda n: ngettext("{n} value", "{n} values", n)),
        "ranked": _forms(
            lambda n: ngettext(
                "{what} = {value}: {n} lever ranked by the impact of a +1% move",
                "{what} = {value}: {n} levers ranked by the impact of a +1% move",
                n,
            )
        ),
    }


def _forms(form: Callable[[int], str]) -> dict[str, str]:
    """Return `{category: form(n)}` for the counts 0..99, the first count of each category."""
    rule = i18n.babel_locale().plural_form
    forms: dict[str, str] = {}
    for n in range(100):
        forms.setdefault(rule(n), form(n))
    return forms


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "a bool"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


# -- the API, without HTTP ---------------------------------------------------------------------


class Explorer:
    """The explorer's API on one tree: each method takes a request body, returns JSON data.

    The HTTP handler only routes and checks requests; everything a request asks of the
    tree goes through here, so it can be used (and tested) without a socket.

    Args:
        tree: the tree to explore.
        values_dir: the directory scenarios are saved in and read from; None refuses saving.
        locale: the locale requests are answered in unless they ask for another
            (`request_locale`); None takes the one chosen when the explorer is made, else
            the model's ``locale:``, else the system's (`i18n.for_model`).

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> app = Explorer(qualified_leads())
        >>> answer = app.evaluate({"values": {"leads": 1100}})
        >>> [(n["name"], n["after_text"]) for n in answer["nodes"]]
        [('qualified_leads', '880 lead'), ('leads', '1,100 lead'), ('lead_to_ql', '80%')]
    """

    def __init__(
        self, tree: Tree, values_dir: Path | None = None, *, locale: str | None = None
    ) -> None:
        self.tree = tree
        self.values_dir = values_dir
        # Read now: the server's threads do not inherit the caller's `with i18n.locale`.
        self.locale = i18n.for_model(tree.locale) if locale is None else i18n.parse(locale)
        self._saving = threading.Lock()  # only where hard links are not to be had: `_create`
        self._unchanged_rows: dict[str, dict[str, dict[str, Any]]] = {}  # by locale

    def request_locale(self, query: Mapping[str, list[str]]) -> str:
        """Return the locale to answer a request in: its `?lang=`, else the explorer's.

        The explorer's is the one given, else the one chosen for kpitree (`--lang`,
        ``KPITREE_LANG``), else the model's own ``locale:`` (`i18n.for_model`).

        Raises:
            ArgumentError: `?lang=` names a locale kpitree does not ship.

        Examples:
            >>> from kpitree.examples import qualified_leads
            >>> app = Explorer(qualified_leads(), locale="en")
            >>> app.request_locale({"lang": ["ru-RU"]}), app.request_locale({})
            ('ru', 'en')
        """
        asked = query.get("lang")
        if asked and asked[-1]:
            return i18n.parse(asked[-1], what="?lang=")
        return self.locale

    def messages(self) -> dict[str, Any]:
        """Answer `GET /api/messages`: every word of the page in the active locale.

        `messages` maps each English source text (declared with `N_` in `_PAGE_WORDS`)
        to its translation; `plurals` gives each counted message by CLDR plural category
        (`one`, `few`, `many`, `other`), for the page's `Intl.PluralRules`.

        Examples:
            >>> from kpitree.examples import qualified_leads
            >>> with i18n.locale("ru"):
            ...     answer = Explorer(qualified_leads()).messages()
            >>> answer["locale"], answer["messages"]["Levers"], answer["decimal"]
            ('ru', 'Рычаги', ',')
            >>> answer["plurals"]["values"]["few"]
            '{n} значения'
        """
        where = i18n.babel_locale()
        return {
            "locale": i18n.current(),
            "tag": str(where).replace("_", "-"),
            "decimal": where.number_symbols["latn"]["decimal"],
            "messages": {word: _(word) for word in _PAGE_WORDS},
            "plurals": _page_plurals(),
        }

    # -- reading request bodies --------------------------------------------------------------

    def _fields(
        self, body: object, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            # HTTP protocol (English, see RequestError)
            raise RequestError(400, f"the request body must be a JSON object, got {_kind(body)}")
        known = required + optional
        unknown = [key for key in body if key not in known]
        if unknown:
            # HTTP protocol (English, see RequestError)
            raise RequestError(
                400,
                f"unknown field {unknown[0]!r} in the request",
                hint=did_you_mean(unknown[0], known) or f"the fields are {', '.join(known)}",
            )
        missing = [key for key in required if key not in body]
        if missing:
            # HTTP protocol (English, see RequestError)
            raise RequestError(400, f"the request needs the field {missing[0]!r}")
        return body

    def _text(self, body: Mapping[str, Any], key: str) -> str:
        value = body[key]
        if not isinstance(value, str):
            # HTTP protocol (English, see RequestError)
            raise RequestError(400, f"field {key!r} must be text, got {_kind(value)}")
        return value

    def _node(self, body: Mapping[str, Any], key: str, kind: type) -> str:
        name = self._text(body, key)
        node = self.tree[name]  # UnknownNameError with a did-you-mean
        if not isinstance(node, kind):
            message = (
                _("`{name}` is a {kind}, {key} must name a metric")
                if kind is Metric
                else _("`{name}` is a {kind}, {key} must name a leaf")
            )
            raise KindError(
                message.format(name=name, kind=_(_KINDS[node.kind]), key=repr(key)), names=[name]
            )
        return name

    def _values(self, body: Mapping[str, Any], key: str = "values") -> dict[str, float]:
        """Return leaf values from the body, checked as the tree checks them, within bounds."""
        raw = body.get(key, {})
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            # HTTP protocol (English, see RequestError)
            raise RequestError(400, f"field {key!r} must be an object of leaf values")
        checked = self.tree.check_values(raw)
        problems: list[KPITreeError] = []
        for name, value in checked.items():
            try:
                check_bounds(self.tree, name, value)
            except KPITreeError as exc:
                problems.append(exc)
        if len(problems) == 1:
            raise problems[0]
        if problems:
            raise ValidationError(problems)
        return checked

    # -- answers ------------------------------------------------------------------------------

    def tree_data(self) -> dict[str, Any]:
        """Return everything the page draws: nodes, owners, horizons, values, the diagram rows.

        Examples:
            >>> from kpitree.examples import qualified_leads
            >>> data = Explorer(qualified_leads()).tree_data()
            >>> [(row["name"], row["depth"]) for row in data["layout"]]
            [('qualified_leads', 0), ('leads', 1), ('lead_to_ql', 1)]
            >>> data["nodes"]["lead_to_ql"]["range"]
            {'min': 0.0, 'max': 1.0, 'step': 0.001, 'min_text': '0%', 'max_text': '100%'}
        """
        tree = self.tree
        nodes = {
            name: self._node_data(name, row["before"], row["ok"])
            for name, row in self._unchanged().items()
        }
        horizons = sorted({kpi.horizon for kpi in tree.kpis})
        return {
            "locale": i18n.current(),
            "title": ", ".join(r.name for r in tree.roots),
            "roots": [r.name for r in tree.roots],
            "nodes": nodes,
            "metrics": [m.name for m in tree.metrics],
            "leaves": [leaf.name for leaf in tree.leaves],
            "owners": {owner: list(names) for owner, names in tree.owners().items()},
            "colours": owner_colours(tree),
            "horizons": [{"text": str(h), "seconds": h.seconds} for h in horizons],
            "layout": [
                {"name": name, "depth": depth, "again": again}
                for name, depth, again in outline(tree)
            ],
            "missing": [leaf.name for leaf in tree.leaves if leaf.value is None],
            "saving": self.values_dir is not None,
            "limits": {"max_body": MAX_BODY, "max_compared": MAX_COMPARED},
        }

    def _node_data(self, name: str, value: float, ok: bool | None) -> dict[str, Any]:
        tree = self.tree
        node = tree[name]
        unit = tree.unit(name)
        norm = getattr(node, "norm", None)
        data: dict[str, Any] = {
            "name": name,
            "kind": node.kind,
            "unit": str(unit) if unit is not None else None,
            "percent": bool(unit is not None and unit.percent),
            "value": _finite(value),
            "value_text": shown(value, tree, name),
            "description": node.description,
            "children": [c.name for c in tree.children(name)],
            "norm": None if norm is None else format_norm(norm, unit),
            "ok": ok,
        }
        if isinstance(node, Metric):
            data["formula"] = format_expr(node.formula)
            data["target"] = node.target
            data["target_text"] = None if node.target is None else shown(node.target, tree, name)
        if isinstance(node, Leaf):
            data["owner"] = node.owner if isinstance(node, KPI) else "external"
            data["bounds"] = list(node.bounds) if node.bounds is not None else None
            data["range"] = slider = _slider(node.value, Bounds.of(node))
            slider["min_text"] = shown(slider["min"], tree, name)
            slider["max_text"] = shown(slider["max"], tree, name)
        if isinstance(node, KPI):
            data["horizon"] = str(node.horizon)
            data["influenced_by"] = list(node.influenced_by)
            # Measurements of standards are not leaves: the page cannot set them, so a
            # measurable standard shows its rule with `ok` unknown (None).
            data["standards"] = [
                {
                    "text": s.text,
                    "name": s.name,
                    "norm": None if s.norm is None else format_norm(s.norm, None),
                    "ok": None,
                }
                for s in node.standards
            ]
        return data

    def evaluate(self, body: object) -> dict[str, Any]:
        """Answer `POST /api/evaluate`: every node before and after the leaf values given.

        Each node's change is better, worse or neutral by its direction (`tree.direction`:
        as given, else by its norm, else higher), so a drop of revenue shows red.

        Examples:
            >>> from kpitree.examples import qualified_leads
            >>> answer = Explorer(qualified_leads()).evaluate({"values": {"lead_to_ql": "90%"}})
            >>> top, _, rate = answer["nodes"]
            >>> top["after_text"], top["change_text"], rate["verdict"], rate["ok"]
            ('900 lead', '+100 lead (+12.5%)', 'better', True)
        """
        fields = self._fields(body, (), ("values",))
        values = self._values(fields)
        tree = self.tree
        scenario = tree.whatif(values)
        moved = scenario.moved()
        # Only the moved nodes are worked out; the others keep their rows at the model's
        # values, made once (a slider move on a big tree touches a few ancestors).
        drawn = Changes({n: scenario.delta[n] for n in moved}, {n: scenario.pct[n] for n in moved})
        rows = dict(self._unchanged())
        for name in moved:
            after = scenario.after[name]
            rows[name] = {
                **rows[name],
                "after": after,
                "delta": scenario.delta[name],
                "pct": scenario.pct[name],
                "after_text": shown(after, tree, name),
                "change_text": drawn.text(tree, name),
                "verdict": drawn.verdict(tree, name),
                "ok": norm_ok(tree[name], after),
            }
        return {
            "values": values,
            "nodes": list(rows.values()),
            "moved": moved,
            "owners": _by_owner(tree, moved, rows),
        }

    def _unchanged(self) -> dict[str, dict[str, Any]]:
        """Return every node's row of `evaluate` when nothing moves, in tree order.

        Made once per locale (its texts are written in it); two threads making the same
        one at once make equal rows, so no lock is needed.
        """
        made = self._unchanged_rows.get(i18n.current())
        if made is None:
            made = self._unchanged_rows[i18n.current()] = self._unchanged_now()
        return made

    def _unchanged_now(self) -> dict[str, dict[str, Any]]:
        tree = self.tree
        found = known(tree, None)
        return {
            name: {
                "name": name,
                "kind": tree[name].kind,
                "before": found[name],
                "after": found[name],
                "delta": 0.0,
                "pct": 0.0,
                "before_text": shown(found[name], tree, name),
                "after_text": shown(found[name], tree, name),
                "change_text": None,
                "verdict": "neutral",
                "ok": norm_ok(tree[name], found[name]),
            }
            for name in tree.names
        }

    def sensitivity(self, body: object) -> dict[str, Any]:
        """Answer `POST /api/sensitivity`: leaves ranked by the impact of a +1% move.

        With `owner` or `within` the answer is `tree.levers`: the KPIs that owner can move
        within that horizon.

        Examples:
            >>> from kpitree.examples import sales_revenue
            >>> app = Explorer(sales_revenue())
            >>> [row["name"] for row in app.sensitivity({"metric": "calls"})["rows"]]
            ['managers', 'calls_per_day', 'working_days']
            >>> levers = app.sensitivity({"metric": "calls", "within": "1 week"})
            >>> [row["name"] for row in levers["rows"]]
            ['calls_per_day']
        """
        fields = self._fields(body, ("metric",), ("owner", "within", "values"))
        metric = self._node(fields, "metric", Metric)
        values = self._values(fields)
        owner = self._text(fields, "owner") if fields.get("owner") else None
        within = self._text(fields, "within") if fields.get("within") else None
        if owner is None and within is None:
            result = self.tree.sensitivity(metric, values)
        else:
            result = self.tree.levers(metric, within=within, owner=owner, values=values)
        tree = self.tree
        rows = [
            {
                "name": row.name,
                "kind": row.kind,
                "owner": row.owner,
                "horizon": row.horizon,
                "value": _finite(row.value),
                "value_text": shown(row.value, tree, row.name),
                "derivative": _finite(row.derivative),
                "elasticity": _finite(row.elasticity),
                "elasticity_text": "—" if row.elasticity is None else format_number(row.elasticity),
                "impact_1pct": _finite(row.impact_1pct),
                "impact_text": signed(row.impact_1pct, tree, metric),
            }
            for row in result
        ]
        return {
            "metric": metric,
            "value": _finite(result.value),
            "value_text": shown(result.value, tree, metric),
            "owner": result.owner,
            "within": result.within,
            "rows": rows,
            "by_owner": [
                {"owner": who, "impact": _finite(v), "text": signed(v, tree, metric)}
                for who, v in result.by_owner.items()
            ],
        }

    def solve(self, body: object) -> dict[str, Any]:
        """Answer `POST /api/solve`: the value of `vary` that gives `metric` its target.

        An infeasible goal is an answer, not a failed request: `feasible` is false, with
        the reason and the value `needed` when one exists.

        Examples:
            >>> from kpitree.examples import qualified_leads
            >>> app = Explorer(qualified_leads())
            >>> answer = app.solve({"metric": "qualified_leads", "target": 900, "vary": "leads"})
            >>> answer["value_text"], answer["change_text"]
            ('1,125 lead', '+125 lead (+12.5%)')
            >>> app.solve({"metric": "qualified_leads", "target": "1200", "vary": "lead_to_ql"})[
            ...     "needed_text"]
            '120%'

        Without a target, the metric's own is the goal (the page's box starts at it):

        >>> from kpitree.examples import dupont
        >>> app = Explorer(dupont())
        >>> answer = app.solve({"metric": "roe", "vary": "net_income"})
        >>> answer["target"], answer["value_text"]
        (0.2, '1,600,000 RUB')
        """
        fields = self._fields(body, ("metric", "vary"), ("target", "values"))
        metric = self._node(fields, "metric", Metric)
        vary = self._node(fields, "vary", Leaf)
        values = self._values(fields)
        target = fields.get("target")
        if isinstance(target, str) and not target.strip():
            target = None
        if target is not None and not isinstance(target, str):
            # text may be a change of the metric ("+10%")
            target = to_number(target, what=f"target of `{metric}`")
        tree = self.tree
        target = goal_of(tree, metric, target)
        current = tree.leaf_values(values)[vary]
        answer: dict[str, Any] = {"metric": metric, "vary": vary, "target": target}
        answer.update(current=current, current_text=shown(current, tree, vary))
        try:
            value = tree.solve(metric, target, vary, values)
        except InfeasibleGoalError as exc:
            needed = _finite(exc.needed)
            return {
                **answer,
                "feasible": False,
                "message": exc.reason,
                "hint": exc.hint,
                "needed": needed,
                "needed_text": None if needed is None else shown(needed, tree, vary),
            }
        scenario = whatif(tree, {vary: value}, values)
        changes = node_changes(tree, scenario)
        assert changes is not None
        return {
            **answer,
            "feasible": True,
            "value": value,
            "value_text": shown(value, tree, vary),
            "change_text": changes.text(tree, vary),
            "reached": scenario.after[metric],
            "reached_text": shown(scenario.after[metric], tree, metric),
        }

    # -- scenarios ------------------------------------------------------------------------------

    def _directory(self) -> Path:
        if self.values_dir is None:
            raise RequestError(
                403,
                _("saving scenarios is off: the server was started without a scenarios directory"),
                hint=_("start it with `kpitree serve FILE --scenarios DIR`"),
            )
        return self.values_dir

    def save_scenario(self, body: object) -> dict[str, Any]:
        """Answer `POST /api/scenarios`: write `<name>.json` into the scenarios directory.

        The file is a values file (`{"leaf": value}`, read by `load_values` and the
        command line's `--values`), written to a temporary file in the same directory
        and then put in place in one step, so a reader never sees half of it. A new name
        is taken by a hard link, which fails if the name exists: of clients saving one
        name at once, exactly one succeeds and the others get 409, even across servers
        sharing the directory. `overwrite: true` replaces the file instead.
        """
        fields = self._fields(body, ("name", "values"), ("overwrite",))
        directory = self._directory()
        name = scenario_name(fields["name"])
        values = self._values(fields)
        overwrite = fields.get("overwrite", False)
        if not isinstance(overwrite, bool):
            # HTTP protocol (English, see RequestError)
            raise RequestError(400, f"field 'overwrite' must be true or false, got {overwrite!r}")
        path = _inside(directory, name)
        taken = RequestError(
            409,
            _("a scenario `{name}` is saved already").format(name=name),
            hint=_("pick another name, or replace it (overwrite: true)"),
            names=[name],
        )
        if not overwrite and (path.exists() or path.is_symlink()):
            raise taken  # the common refusal, before writing anything
        text = json.dumps(values, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
        handle, temporary = tempfile.mkstemp(prefix=".kpitree-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
            if overwrite:
                os.replace(temporary, path)  # replaces a symlink itself, never what it points to
            else:
                _create(temporary, path, self._saving)
        except FileExistsError:
            raise taken from None
        finally:
            Path(temporary).unlink(missing_ok=True)
        return {"name": name, "file": path.name, "values": values}

    def scenarios(self) -> dict[str, Any]:
        """Answer `GET /api/scenarios`: the scenarios saved in the directory, by name.

        A file that cannot be read as values of this tree is listed with an `error`
        instead of values; symbolic links and files that are not named like scenarios
        are left out.
        """
        found: list[dict[str, Any]] = []
        if self.values_dir is not None:
            for path in sorted(self.values_dir.glob("*.json")):
                if path.is_symlink() or not path.is_file():
                    continue
                try:
                    name = scenario_name(path.stem)
                except RequestError:
                    continue
                try:
                    found.append({"name": name, "values": self._read(path)})
                except KPITreeError as exc:
                    found.append({"name": name, "error": str(exc)})
        return {"saving": self.values_dir is not None, "scenarios": found}

    def _read(self, path: Path) -> dict[str, float]:
        from kpitree.io.values import load_values

        try:
            values = load_values(path)
        except OSError as exc:
            raise RequestError(
                422,
                _("{file} cannot be read: {reason}").format(file=path.name, reason=exc.strerror),
            ) from None
        try:
            return self._values({"values": values})
        except KPITreeError as exc:
            raise exc.located(path.name) from None

    def compare(self, body: object) -> dict[str, Any]:
        """Answer `POST /api/compare`: scenarios side by side, by name or given inline.

        Examples:
            >>> from kpitree.examples import qualified_leads
            >>> answer = Explorer(qualified_leads()).compare(
            ...     {"scenarios": [{"name": "more", "values": {"leads": 1100}}]})
            >>> [(r["name"], r["cells"][0]["after_text"]) for r in answer["rows"]]
            [('leads', '1,100 lead'), ('qualified_leads', '880 lead')]
        """
        fields = self._fields(body, ("scenarios",))
        items = fields["scenarios"]
        if not isinstance(items, list) or not items:
            # HTTP protocol (English, see RequestError)
            raise RequestError(400, "field 'scenarios' must be a non-empty list")
        if len(items) > MAX_COMPARED:
            raise RequestError(
                400,
                _("at most {limit} scenarios are compared at once").format(limit=MAX_COMPARED),
            )
        names: list[str] = []
        made = []
        for item in items:
            if isinstance(item, str):
                name = scenario_name(item)
                values = self._read(self._saved(name))
            else:
                inline = self._fields(item, ("name", "values"))
                name = self._text(inline, "name")
                values = self._values(inline)
            names.append(name)
            made.append(whatif(self.tree, values, name=name))
        comparison = compare(*made, names=names)
        tree = self.tree
        drawn = [node_changes(tree, s) for s in made]
        rows = []
        for name in comparison.nodes():
            cells = []
            for scenario, changes in zip(made, drawn, strict=True):
                assert changes is not None
                cells.append(
                    {
                        "after": scenario.after[name],
                        "after_text": shown(scenario.after[name], tree, name),
                        "change_text": changes.text(tree, name),
                        "verdict": changes.verdict(tree, name),
                    }
                )
            before = made[0].before[name]
            rows.append(
                {
                    "name": name,
                    "kind": tree[name].kind,
                    "before": before,
                    "before_text": shown(before, tree, name),
                    "cells": cells,
                }
            )
        return {"names": names, "rows": rows}

    def _saved(self, name: str) -> Path:
        path = _inside(self._directory(), name)
        if path.is_symlink() or not path.is_file():
            listed = [s["name"] for s in self.scenarios()["scenarios"]]
            raise UnknownNameError(
                _("no scenario `{name}` is saved").format(name=name),
                hint=did_you_mean(name, listed),
                names=[name],
            )
        return path


def _create(temporary: str, path: Path, lock: threading.Lock) -> None:
    """Give the complete file `temporary` the name `path`, failing if `path` exists.

    Raises:
        FileExistsError: `path` exists (a file, a directory or a symbolic link).
    """
    try:
        os.link(temporary, path)  # atomic: the name is taken, or FileExistsError
    except FileExistsError:
        raise
    except OSError:
        # A file system without hard links: check and rename under this server's lock.
        with lock:
            if path.exists() or path.is_symlink():
                raise FileExistsError(path) from None
            os.replace(temporary, path)


def _inside(directory: Path, name: str) -> Path:
    """Return `directory/<name>.json`, after checking it really is inside `directory`."""
    path = directory / f"{name}.json"
    if path.parent != directory or os.path.dirname(os.path.abspath(path)) != str(directory):
        raise RequestError(
            400,
            _("scenario name {name} does not name a file in the directory").format(name=repr(name)),
        )
    return path


def _slider(value: float | None, bounds: Bounds) -> dict[str, Any]:
    """Return a slider's range: the value's magnitude either way (0..2× it), within bounds.

    The magnitude decides, not the bounds alone: a 5% conversion bounded 0..100% slides
    over 0..10%, where its moves are; ±1 around 0. The page widens the range when a value
    typed or solved for falls outside it.
    """
    low, high = bounds
    start = value if value is not None else (low if low is not None else 0.0)
    span = abs(start) if start else 1.0
    low = start - span if low is None else max(low, start - span)
    high = start + span if high is None else min(high, start + span)
    if high <= low:
        high = low + 1.0
    return {"min": low, "max": high, "step": _nice_step((high - low) / 1000)}


def _by_owner(
    tree: Tree, moved: Iterable[str], rows: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Return each owner's KPIs in the current scenario: how many moved, how many fail."""
    moving = set(moved)
    return [
        {
            "owner": owner,
            "kpis": len(names),
            "moved": sum(1 for n in names if n in moving),
            "below": sum(1 for n in names if rows[n]["ok"] is False),
            "names": list(names),
        }
        for owner, names in tree.owners().items()
    ]


def _nice_step(raw: float) -> float:
    """Return a power of ten near `raw`, so that slider values read as round numbers."""
    return float(f"1e{math.floor(math.log10(raw))}") if raw > 0 else 1.0


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


# -- JSON and HTTP ---------------------------------------------------------------------------------


def parse_json(raw: bytes) -> Any:
    """Read JSON sent by a client: UTF-8, no NaN or Infinity, no duplicate keys.

    Raises:
        RequestError: (400) what is wrong, with the line and column for a syntax error.

    Examples:
        >>> parse_json(b'{"values": {"leads": 1100}}')
        {'values': {'leads': 1100}}
        >>> parse_json(b'{"leads": 1, "leads": 2}')
        Traceback (most recent call last):
        ...
        kpitree.apps.server.RequestError: duplicate key 'leads' in the JSON
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # HTTP protocol (English, see RequestError)
        raise RequestError(400, "the request body is not UTF-8 text") from None
    try:
        return read_json(text)
    except ValidationError as exc:
        raise _refused(exc.problems[0]) from None


def _refused(problem: KPITreeError) -> RequestError:
    """Return the answer to a body `read_json` refused, worded for the client."""
    # HTTP protocol (English, see RequestError)
    if isinstance(problem, JSONRefusal):
        if problem.duplicate:
            return RequestError(400, f"duplicate key {problem.piece!r} in the JSON")
        if problem.piece.lstrip("-") in ("NaN", "Infinity"):
            return RequestError(
                400,
                f"{problem.piece} is not a number the explorer accepts",
                hint="values must be finite numbers",
            )
        return RequestError(400, f"the number {_short(problem.piece)} is beyond the float range")
    if isinstance(problem, JSONSyntaxError):
        if problem.line is None:  # an integer beyond Python's digit limit
            return RequestError(
                400, f"the JSON holds a number that cannot be read: {problem.detail}"
            )
        return RequestError(
            400,
            f"the body is not valid JSON: {problem.detail} "
            f"(line {problem.line}, column {problem.column})",
        )
    return RequestError(400, "the JSON is nested too deeply")


def _json_safe(value: Any) -> Any:
    """Return `value` with every non-finite float replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def error_data(exc: KPITreeError, status: int) -> dict[str, Any]:
    """Return the JSON body of an error answer: status, type, message, hint and names.

    Examples:
        >>> error_data(RequestError(404, "no such path"), 404)["error"]["message"]
        'no such path'
    """
    data: dict[str, Any] = {
        "status": status,
        "type": type(exc).__name__,
        "message": exc.message,
        "hint": exc.hint,
        "names": list(exc.names),
    }
    if isinstance(exc, ValidationError):
        data["problems"] = [str(p) for p in exc.problems]
    return {"error": data}


Route = Callable[[Explorer, object], dict[str, Any]]

_GET: dict[str, Callable[[Explorer], dict[str, Any]]] = {
    "/api/messages": Explorer.messages,
    "/api/tree": Explorer.tree_data,
    "/api/scenarios": Explorer.scenarios,
}
_POST: dict[str, Route] = {
    "/api/evaluate": Explorer.evaluate,
    "/api/sensitivity": Explorer.sensitivity,
    "/api/solve": Explorer.solve,
    "/api/scenarios": Explorer.save_scenario,
    "/api/compare": Explorer.compare,
}


class _Handler(http.server.BaseHTTPRequestHandler):
    """Routes a request to the explorer after checking it; answers JSON or a static file."""

    server: ExplorerServer
    server_version = "kpitree"
    sys_version = ""

    def __init__(
        self, request: socket.socket, address: Any, server: ExplorerServer, received: bytes
    ) -> None:
        self.received = received
        super().__init__(request, address, server)

    def setup(self) -> None:
        """Read the request from the bytes gathered for it; write the answer to the socket.

        One request per connection (HTTP/1.0), already complete: the thread never waits
        for the client to send, and sending the answer has `request_timeout` seconds.
        """
        self.connection = self.request
        self.connection.settimeout(self.server.request_timeout)
        self.rfile = io.BytesIO(self.received)
        self.wfile = self.connection.makefile("wb")

    def _answer(self) -> None:
        """Answer in the request's locale, set for this request (and thread) only."""
        app = self.server.app
        with i18n.locale(app.locale):  # a refused `?lang=` is worded in the server's
            try:
                chosen = app.request_locale(urllib.parse.parse_qs(self._query()))
            except KPITreeError as exc:
                self._send_error(exc, 400)
                return
        with i18n.locale(chosen):
            self._respond()

    def _respond(self) -> None:
        method = self.command
        try:
            self._check_host()
            path = self._route()
            if method == "GET" and path in _STATIC:
                self._send_static(path)
                return
            if method == "GET" and path in _GET:
                self._send_json(200, _GET[path](self.server.app))
                return
            if method == "POST" and path in _POST:
                body = self._read_body()
                self._send_json(200, _POST[path](self.server.app, body))
                return
            allowed = _allowed(path)
            if allowed:
                # HTTP protocol (English, see RequestError)
                raise RequestError(
                    405, f"{method} is not allowed on {path}", hint=f"use {' or '.join(allowed)}"
                )
            # HTTP protocol (English, see RequestError)
            raise RequestError(404, f"no such path: {_short(path)}")
        except RequestError as exc:
            self._send_error(exc, exc.status)
        except KPITreeError as exc:
            self._send_error(exc, 422)
        except Exception:
            _LOG.exception("kpitree explorer: %s %s failed", method, _short(self.path))
            self._send_json(
                500,
                {
                    "error": {
                        "status": 500,
                        "type": "InternalError",
                        "message": _("the server could not answer this request (see its log)"),
                        "hint": None,
                        "names": [],
                    }
                },
            )

    # Every method goes through one door; those the path does not take are answered 405.
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _answer

    def _route(self) -> str:
        """Return the request's path without its query; it is only ever looked up."""
        return self.path.split("?", 1)[0]

    def _query(self) -> str:
        return self.path.partition("?")[2]

    def _check_host(self) -> None:
        """Refuse requests addressed to another host (DNS rebinding) or from another site."""
        host = self.headers.get("Host")
        allowed = self.server.allowed_hosts
        if allowed is not None and host is not None and host.lower() not in allowed:
            # HTTP protocol (English, see RequestError)
            raise RequestError(
                403,
                f"this server answers requests to {self.server.url} only, not to {_short(host)}",
            )
        origin = self.headers.get("Origin")
        if origin is not None and host is not None and origin.lower() != f"http://{host.lower()}":
            # HTTP protocol (English, see RequestError)
            raise RequestError(403, f"requests from {_short(origin)} are not accepted")

    def _read_body(self) -> object:
        kind = (self.headers.get("Content-Type") or "").split(";")
        media = kind[0].strip().lower()
        params = [p.strip().lower().replace(" ", "") for p in kind[1:] if p.strip()]
        if media != "application/json" or any(
            p.startswith("charset=") and p not in ("charset=utf-8", 'charset="utf-8"')
            for p in params
        ):
            # HTTP protocol (English, see RequestError)
            raise RequestError(
                415,
                f"the body must be JSON (Content-Type: application/json), got {_short(media)!r}",
            )
        if self.headers.get("Transfer-Encoding"):
            # HTTP protocol (English, see RequestError)
            raise RequestError(411, "send the body with a Content-Length, not chunked")
        length = content_length(self.headers.get_all("Content-Length") or [], self.server.max_body)
        body = self.rfile.read(length)
        if len(body) < length:
            # HTTP protocol (English, see RequestError)
            raise RequestError(400, f"the body ended after {len(body)} of {length} bytes")
        return parse_json(body)

    def _send_static(self, path: str) -> None:
        file_name, content_type = _STATIC[path]
        self._send(200, self.server.static[file_name], content_type)

    def _send_error(self, exc: KPITreeError, status: int) -> None:
        self._send_json(status, error_data(exc, status))

    def _send_json(self, status: int, payload: Any) -> None:
        try:
            body = json.dumps(payload, ensure_ascii=False, allow_nan=False)
        except ValueError:  # a NaN or infinity somewhere: JSON has none, send null
            body = json.dumps(_json_safe(payload), ensure_ascii=False, allow_nan=False)
        self._send(status, body.encode("utf-8"), "application/json; charset=utf-8")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for header, value in _SECURITY_HEADERS.items():
            self.send_header(header, value)
        if status == 405:
            self.send_header("Allow", ", ".join(_allowed(self._route())))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer a request the base class could not parse with a JSON error, not HTML."""
        # HTTP protocol (English, see RequestError)
        self.close_connection = True
        reason = message or self.responses.get(code, ("error",))[0]
        with contextlib.suppress(OSError):  # the client went away
            self._send_json(code, error_data(RequestError(code, reason), code))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Log requests to the `kpitree.server` logger (quiet unless it is configured)."""
        _LOG.info("%s %s", self.address_string(), format % args)


_DIGITS = re.compile(r"[0-9]+")


def content_length(values: list[str], limit: int) -> int:
    """Check the request's `Content-Length` headers; return the length of the body.

    Only ASCII digits are a length (`+30`, `0x1e`, `3_0`, `٣٠` and `-1` are not, though
    Python's `int` takes some of them), there must be exactly one such header, and the
    length must be at most `limit`.

    Raises:
        RequestError: 411 without the header, 400 for a bad or repeated one, 413 over
            the limit.

    Examples:
        >>> content_length(["30"], 100)
        30
        >>> content_length(["+30"], 100)
        Traceback (most recent call last):
        ...
        kpitree.apps.server.RequestError: the Content-Length header '+30' is not a number of bytes
        hint: send the body's length in bytes as digits, e.g. Content-Length: 2
    """
    if not values:
        # HTTP protocol (English, see RequestError)
        raise RequestError(411, "the request needs a Content-Length header")
    if len(values) > 1:
        # HTTP protocol (English, see RequestError)
        raise RequestError(400, f"the request has {len(values)} Content-Length headers, not one")
    text = values[0].strip(" \t")
    if not _DIGITS.fullmatch(text):
        # HTTP protocol (English, see RequestError)
        raise RequestError(
            400,
            f"the Content-Length header {_short(text)!r} is not a number of bytes",
            hint="send the body's length in bytes as digits, e.g. Content-Length: 2",
        )
    length = int(text)
    if length > limit:
        # HTTP protocol (English, see RequestError)
        raise RequestError(413, f"the request body is {length} bytes; the limit is {limit}")
    return length


def _allowed(path: str) -> list[str]:
    return [m for m, routes in (("GET", {**_STATIC, **_GET}), ("POST", _POST)) if path in routes]


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


class ExplorerServer(http.server.HTTPServer):
    """The explorer's HTTP server: one tree, bound to the address asked for only.

    Under load it keeps answering: a connection's request is gathered as it arrives,
    without a thread (`_Arrivals`), and only a complete request is given one of
    `threads` threads; a client that takes longer than `request_timeout` seconds to send
    its request is answered 408 and cut off; the listen backlog is `REQUEST_QUEUE`.

    Attributes:
        app: the `Explorer` that answers the API.
        url: the page's address (`http://127.0.0.1:8765/`).
        allowed_hosts: the `Host` header values accepted, or None when serving on a
            non-loopback address (where names cannot be known in advance).
        max_body: the largest request body read, in bytes.
        request_timeout: seconds a client has to send its request, and to take the answer.
        static: the page's files, read once from the package.
    """

    request_queue_size = REQUEST_QUEUE

    def __init__(
        self,
        app: Explorer,
        host: str,
        port: int,
        *,
        max_body: int = MAX_BODY,
        threads: int = THREADS,
        request_timeout: float = REQUEST_TIMEOUT,
        max_waiting: int = MAX_WAITING,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.app = app
        self.max_body = max_body
        self.request_timeout = request_timeout
        self.static = {name: _static(name) for name, _ in set(_STATIC.values())}
        # Made before binding: a failed bind calls `server_close`, which closes them.
        self._workers = concurrent.futures.ThreadPoolExecutor(
            threads, thread_name_prefix="kpitree-explorer"
        )
        self._arrivals = _Arrivals(self, max_waiting)
        super().__init__((host, port), _Handler)  # type: ignore[arg-type]  # `received` is ours
        bound_port = self.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{bound_port}/"
        self.allowed_hosts: set[str] | None = None
        if _is_loopback(host):
            names = {shown.lower(), "localhost", "127.0.0.1", "[::1]"}
            self.allowed_hosts = {f"{name}:{bound_port}" for name in names}

    def process_request(self, request: Any, client_address: Any) -> None:
        """Gather the request of a connection just accepted (the accepting thread goes on)."""
        self._arrivals.add(request, client_address)

    def answer(self, request: socket.socket, client_address: Any, received: bytes) -> None:
        """Answer one complete request in a worker thread, then close the connection."""
        self._workers.submit(self._answer, request, client_address, received)

    def _answer(self, request: socket.socket, client_address: Any, received: bytes) -> None:
        try:
            _Handler(request, client_address, self, received)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a failure outside a request's own handling (a client gone away, mostly)."""
        _LOG.debug("kpitree explorer: connection from %s failed", client_address, exc_info=True)

    def server_close(self) -> None:
        """Stop listening, drop connections still arriving, finish the requests under way."""
        super().server_close()
        self._arrivals.close()
        self._workers.shutdown(wait=True)


_HEAD_END = re.compile(rb"\r?\n\r?\n")
MAX_HEAD = 65536
"""Largest request head (request line and headers), in bytes; a longer one gets 431."""


@attrs.define
class _Arriving:
    """A connection whose request is still arriving."""

    address: Any
    deadline: float
    data: bytearray = attrs.Factory(bytearray)
    needed: int | None = None  # the request's whole length, once its head is in


class _Arrivals:
    """Connections whose request is still arriving, read as bytes come, by one thread.

    A slow client costs a buffer here, not a thread: a request is handed to the server's
    worker threads once all of it is in (the head and, with a valid `Content-Length`,
    the body). A connection still incomplete after `request_timeout` seconds is answered
    408 and closed; past `max_waiting` connections, the oldest is answered 503.
    """

    def __init__(self, server: ExplorerServer, max_waiting: int) -> None:
        self._server = server
        self._max_waiting = max_waiting
        self._selector = selectors.DefaultSelector()
        self._wake, self._waker = socket.socketpair()
        for end in (self._wake, self._waker):
            end.setblocking(False)
        self._selector.register(self._wake, selectors.EVENT_READ)
        self._new: queue.SimpleQueue[tuple[socket.socket, Any]] = queue.SimpleQueue()
        self._waiting: dict[socket.socket, _Arriving] = {}  # oldest first
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="kpitree-arrivals", daemon=True)
        self._thread.start()

    def add(self, connection: socket.socket, address: Any) -> None:
        """Start gathering the request of a new connection."""
        if self._closing:
            connection.close()
            return
        self._new.put((connection, address))
        self._wake_up()

    def close(self) -> None:
        """Stop gathering and close every connection still arriving."""
        self._closing = True
        self._wake_up()
        self._thread.join(timeout=10)
        self._selector.close()
        self._wake.close()
        self._waker.close()

    def _wake_up(self) -> None:
        with contextlib.suppress(OSError):  # the wake-up is pending already, or closed
            self._waker.send(b"\0")

    def _run(self) -> None:
        while not self._closing:
            oldest = next(iter(self._waiting.values()), None)
            wait = 1.0 if oldest is None else max(0.0, oldest.deadline - time.monotonic())
            for key, _events in self._selector.select(wait):
                if key.fileobj is self._wake:
                    with contextlib.suppress(OSError):
                        self._wake.recv(4096)
                    continue
                connection: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    self._receive(connection)
                except Exception:  # one broken connection must not stop the gathering
                    _LOG.exception("kpitree explorer: reading a request failed")
                    if connection in self._waiting:
                        self._drop(connection)
            self._admit()
            now = time.monotonic()
            while self._waiting:
                connection, arriving = next(iter(self._waiting.items()))
                if arriving.deadline > now:
                    break
                # HTTP protocol (English, see RequestError)
                self._refuse(connection, 408, "the request did not arrive in time")
        for connection in list(self._waiting):
            self._drop(connection)
        while not self._new.empty():
            connection, _address = self._new.get()
            connection.close()

    def _admit(self) -> None:
        while not self._new.empty():
            connection, address = self._new.get()
            connection.setblocking(False)
            deadline = time.monotonic() + self._server.request_timeout
            self._waiting[connection] = _Arriving(address, deadline)
            self._selector.register(connection, selectors.EVENT_READ)
            if len(self._waiting) > self._max_waiting:
                self._refuse(next(iter(self._waiting)), 503, "the server has too many clients")

    def _receive(self, connection: socket.socket) -> None:
        arriving = self._waiting[connection]
        try:
            chunk = connection.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:  # the client has stopped sending: answer what came, if anything did
            if arriving.data:
                self._hand_over(connection)
            else:
                self._drop(connection)
            return
        arriving.data += chunk
        if arriving.needed is None:
            # Search only the new bytes (and the 3 before them): a head sent a byte at a
            # time costs linear work, not quadratic.
            end = _HEAD_END.search(arriving.data, max(0, len(arriving.data) - len(chunk) - 3))
            if end is None:
                if len(arriving.data) > MAX_HEAD:
                    # HTTP protocol (English, see RequestError)
                    self._refuse(connection, 431, f"the request head is over {MAX_HEAD} bytes")
                return
            arriving.needed = end.end() + self._body_length(bytes(arriving.data[: end.start()]))
        if len(arriving.data) >= arriving.needed:
            self._hand_over(connection)

    def _body_length(self, head: bytes) -> int:
        """Return the length of the body to wait for: 0 when it will be refused unread."""
        lines = head.decode("latin-1").splitlines()[1:]
        values = [
            v for n, _, v in (x.partition(":") for x in lines) if n.lower() == "content-length"
        ]
        try:
            return content_length(values, self._server.max_body)
        except RequestError:
            return 0

    def _hand_over(self, connection: socket.socket) -> None:
        arriving = self._forget(connection)
        self._server.answer(connection, arriving.address, bytes(arriving.data))

    def _refuse(self, connection: socket.socket, status: int, reason: str) -> None:
        """Answer `status` as far as the socket takes it at once, and close."""
        self._forget(connection)
        with contextlib.suppress(OSError):
            connection.send(_error_answer(status, reason))
        connection.close()

    def _drop(self, connection: socket.socket) -> None:
        self._forget(connection)
        connection.close()

    def _forget(self, connection: socket.socket) -> _Arriving:
        self._selector.unregister(connection)
        return self._waiting.pop(connection)


def _error_answer(status: int, reason: str) -> bytes:
    """Return a whole HTTP answer with the JSON error body, for a connection being dropped."""
    body = json.dumps(error_data(RequestError(status, reason), status)).encode()
    phrase = http.HTTPStatus(status).phrase
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Content-Length": str(len(body)),
        "Connection": "close",
        **_SECURITY_HEADERS,
    }
    head = f"HTTP/1.0 {status} {phrase}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (head + "\r\n").encode("latin-1") + body


def _static(name: str) -> bytes:
    return resources.files("kpitree.apps").joinpath("static", name).read_bytes()


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tree(tree_or_path: Any) -> Tree:
    from kpitree.tree import Tree

    if isinstance(tree_or_path, Tree):
        return tree_or_path
    if isinstance(tree_or_path, str | os.PathLike):
        from kpitree.tree import load

        loaded: Tree = load(Path(tree_or_path))
        return loaded
    raise ValueTypeError(
        _("serve takes a Tree or the path of a model file, got {type}").format(
            type=type(tree_or_path).__name__
        )
    )


def _values_dir(values_dir: str | os.PathLike[str] | None) -> Path | None:
    if values_dir is None:
        return None
    path = Path(os.path.abspath(values_dir))  # absolute, `..` resolved: see `_inside`
    if path.exists() and not path.is_dir():
        raise KPITreeError(
            _("the scenarios directory {path} is a file").format(path=repr(str(path))),
            hint=_("give a directory"),
        )
    if not path.parent.is_dir():
        raise KPITreeError(
            _("the scenarios directory {path} cannot be made: its parent does not exist").format(
                path=repr(str(path))
            )
        )
    path.mkdir(exist_ok=True)
    return path


def _check_limit(name: str, value: object, default: float, *, whole: bool) -> None:
    """Refuse a server limit that cannot work: not a number (or not whole), or not above 0."""
    if isinstance(value, bool) or not isinstance(value, int if whole else int | float):
        message = (
            _("`{name}` must be a whole number, got {type}")
            if whole
            else _("`{name}` must be a number, got {type}")
        )
        raise ValueTypeError(
            message.format(name=name, type=type(value).__name__), hint=f"{name}={default!r}"
        )
    if not 0 < value < math.inf:
        message = (
            _("`{name}` must be a whole number above 0, got {value}")
            if whole
            else _("`{name}` must be a number above 0, got {value}")
        )
        raise ArgumentError(
            message.format(name=name, value=repr(value)), hint=f"{name}={default!r}"
        )


def make_server(
    tree_or_path: Any,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    values_dir: str | os.PathLike[str] | None = None,
    max_body: int = MAX_BODY,
    threads: int = THREADS,
    request_timeout: float = REQUEST_TIMEOUT,
    max_waiting: int = MAX_WAITING,
    locale: str | None = None,
) -> ExplorerServer:
    """Return the explorer's server, bound and ready, without serving yet.

    Call `serve_forever()` on it (in a thread, say) and `shutdown()` then
    `server_close()` to stop; `port=0` picks a free port (see `.url`).

    Args:
        tree_or_path: a `Tree`, or the path of a model file.
        host: the address to listen on: the loopback address unless told otherwise.
        port: the port; 0 for any free one.
        values_dir: the directory scenarios are saved in (made if its parent exists);
            None refuses saving.
        max_body: the largest request body read, in bytes.
        threads: how many requests are answered at once (`THREADS`).
        request_timeout: seconds a client has to send its request, and again to take
            the answer (`REQUEST_TIMEOUT`).
        max_waiting: most connections whose request is still arriving (`MAX_WAITING`).
        locale: the locale the page speaks unless a request asks `?lang=`; None takes
            the active one (`kpitree serve --lang`, `KPITREE_LANG`).

    Raises:
        KPITreeError: a bad model file or scenarios directory, or an address that cannot
            be listened on.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> server = make_server(qualified_leads(), port=0)
        >>> server.url.startswith("http://127.0.0.1:")
        True
        >>> server.server_close()
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueTypeError(
            _("a port is a whole number from 0 to 65535, got {port}").format(port=repr(port))
        )
    _check_limit("threads", threads, THREADS, whole=True)
    _check_limit("max_waiting", max_waiting, MAX_WAITING, whole=True)
    _check_limit("request_timeout", request_timeout, REQUEST_TIMEOUT, whole=False)
    tree = _tree(tree_or_path)
    app = Explorer(tree, _values_dir(values_dir), locale=locale)
    try:
        return ExplorerServer(
            app,
            host,
            port,
            max_body=max_body,
            threads=threads,
            request_timeout=request_timeout,
            max_waiting=max_waiting,
        )
    except OSError as exc:
        raise KPITreeError(
            _("cannot listen on {host} port {port}: {reason}").format(
                host=host, port=port, reason=exc.strerror or exc
            ),
            hint=_("choose another port with --port") if port else None,
        ) from None


def serve(
    tree_or_path: Any,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    values_dir: str | os.PathLike[str] | None = None,
    open_browser: bool = False,
    locale: str | None = None,
) -> None:
    """Serve the what-if explorer of a tree until interrupted (Ctrl+C).

    Prints the page's address; with `open_browser`, opens it in the default browser.
    Arguments are those of `make_server`: `serve("model.yaml", values_dir="scenarios")`
    serves the tree of `model.yaml` on http://127.0.0.1:8765/ and saves scenarios in
    `scenarios/`. Problems are found before anything listens.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> serve(qualified_leads(), values_dir="no/such/place")
        Traceback (most recent call last):
        ...
        kpitree.errors.KPITreeError: the scenarios directory '...' cannot be made: ...
    """
    server = make_server(tree_or_path, host=host, port=port, values_dir=values_dir, locale=locale)
    with i18n.locale(server.app.locale):
        print(_("kpitree explorer: {url} (Ctrl+C stops it)").format(url=server.url), flush=True)
        if server.allowed_hosts is None:
            warning = (
                _("warning: listening on {host}: anyone who can reach it can read the tree")
                if values_dir is None
                else _(
                    "warning: listening on {host}: anyone who can reach it can read the tree "
                    "and save scenarios"
                )
            )
            print(warning.format(host=host), flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

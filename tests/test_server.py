"""The explorer's HTTP API, against a real server on an ephemeral loopback port."""

from __future__ import annotations

import contextlib
import errno
import http.client
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kpitree.apps.server as server_module
from kpitree.apps.server import (
    MAX_COMPARED,
    Explorer,
    ExplorerServer,
    make_server,
    scenario_name,
)
from kpitree.display.style import owner_colours, shown
from kpitree.errors import InfeasibleGoalError, KPITreeError
from kpitree.examples import qualified_leads, qualified_leads_ru, sales_revenue
from kpitree.io.values import load_values
from kpitree.testing import trees
from kpitree.tree import Tree

ROOT = Path(__file__).resolve().parents[1]


class Client:
    """Talks to one running server; answers are (status, JSON body, headers)."""

    def __init__(self, server: ExplorerServer) -> None:
        self.server = server
        self.host, self.port = server.server_address[:2]

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        """Send a request (a JSON body, or raw bytes); return status, JSON answer, headers."""
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        sent = {"Content-Type": "application/json"} if data is not None else {}
        sent.update(headers or {})
        request = urllib.request.Request(
            f"http://{self.host}:{self.port}{path}", data=data, method=method, headers=sent
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback
                return answer.status, _json(answer.read()), dict(answer.headers)
        except urllib.error.HTTPError as error:
            with error:
                return error.code, _json(error.read()), dict(error.headers)

    def raw(self, request: bytes) -> tuple[int, bytes]:
        """Send bytes as they are (no client library fixing them up); return status, body."""
        with socket.create_connection((self.host, self.port), timeout=30) as sock:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)  # all is sent: the server need not wait for more
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
        return int(head.split()[1]), body

    def get_path(self, path: str) -> tuple[int, bytes]:
        """GET a path sent verbatim (http.client does not normalise `..` or `%2e`)."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.putrequest("GET", path, skip_accept_encoding=True)
            connection.endheaders()
            answer = connection.getresponse()
            return answer.status, answer.read()
        finally:
            connection.close()


def _json(raw: bytes) -> Any:
    return json.loads(raw) if raw.strip()[:1] in (b"{", b"[") else raw


@pytest.fixture
def start() -> Iterator[Any]:
    """Start servers on ephemeral loopback ports; stop them all afterwards."""
    running: list[ExplorerServer] = []

    def _start(tree: Tree | str, values_dir: Path | None = None, **kwargs: Any) -> Client:
        server = make_server(tree, port=0, values_dir=values_dir, **kwargs)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        running.append(server)
        return Client(server)

    yield _start
    for server in running:
        server.shutdown()
        server.server_close()


@pytest.fixture
def client(start: Any, tmp_path: Path) -> Client:
    """A server for the sales-revenue tree, saving scenarios in `tmp_path/scenarios`."""
    return start(sales_revenue(), tmp_path / "scenarios")


@pytest.fixture
def leads_client(start: Any) -> Client:
    """A server for the qualified-leads tree, without a scenarios directory."""
    return start(qualified_leads())


# -- what the page reads --------------------------------------------------------------------------


def test_tree_describes_every_node(client: Client) -> None:
    """GET /api/tree gives every node with its value, owner colours and the diagram rows."""
    tree = sales_revenue()
    status, data, headers = client.call("GET", "/api/tree")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    values = tree.evaluate()
    assert list(data["nodes"]) == list(tree.names)
    assert {n: d["value"] for n, d in data["nodes"].items()} == dict(values)
    assert data["owners"] == {o: list(k) for o, k in tree.owners().items()}
    assert data["colours"] == owner_colours(tree)
    assert sorted(row["name"] for row in data["layout"]) == sorted(tree.names)
    assert data["nodes"]["calls_per_day"]["horizon"] == "1 day"
    assert data["nodes"]["working_days"]["owner"] == "external"
    assert data["saving"] is True


@pytest.mark.parametrize(
    ("value", "bounds", "low", "high"),
    [
        (0.8, (0, 1), 0.0, 1.0),  # bounded: the bounds
        (1000, (0, None), 0.0, 2000.0),  # open above: up to twice the value
        (1000, None, 0.0, 2000.0),
        (-50, None, -100.0, 0.0),  # a negative value: down to twice it
        (0, None, -1.0, 1.0),  # zero and unbounded: one unit either way
        (0, (0, None), 0.0, 1.0),
        (5, (3, None), 3.0, 10.0),
        (0.05, (0, 1), 0.0, 0.1),  # a 5% conversion: where its moves are, not 0..100%
        (0.8, (0.5, 1), 0.5, 1.0),
    ],
)
def test_slider_ranges(
    value: float, bounds: tuple[float, float] | None, low: float, high: float
) -> None:
    """A slider spans 0..2× the value (±1 around 0), cut to the leaf's bounds."""
    from kpitree import KPI, Metric

    leaf = KPI("x", owner="o", horizon="1 day", value=value, bounds=bounds)
    data = Explorer(Tree(Metric("m", leaf * 2))).tree_data()
    assert (data["nodes"]["x"]["range"]["min"], data["nodes"]["x"]["range"]["max"]) == (low, high)


def test_static_files_are_served_with_a_strict_policy(client: Client) -> None:
    """The page, its script and its stylesheet come from the package, with a CSP header."""
    for path, kind in [
        ("/", "text/html"),
        ("/explorer.html", "text/html"),
        ("/explorer.js", "text/javascript"),
        ("/explorer.css", "text/css"),
    ]:
        status, _, headers = client.call("GET", path)
        assert status == 200 and headers["Content-Type"].startswith(kind)
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_page_never_puts_data_into_html() -> None:
    """The page's script sets text with textContent only: no innerHTML, eval or inline code."""
    static = ROOT / "kpitree" / "apps" / "static"
    script = (static / "explorer.js").read_text(encoding="utf-8")
    for risky in ("innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function"):
        assert risky not in script
    page = (static / "explorer.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "http://" not in page and "https://" not in page


# -- what-if ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"managers": 6},
        {"managers": 7, "call_to_purchase": "6%"},
        {"working_days": 20, "avg_order_value": "13 000"},
    ],
)
def test_evaluate_equals_whatif(client: Client, values: dict[str, Any]) -> None:
    """POST /api/evaluate gives every node exactly as `tree.whatif` computes it."""
    tree = sales_revenue()
    status, data, _ = client.call("POST", "/api/evaluate", {"values": values})
    assert status == 200
    scenario = tree.whatif(tree.check_values(values))
    assert [row["name"] for row in data["nodes"]] == list(tree.names)
    for row in data["nodes"]:
        name = row["name"]
        assert (row["before"], row["after"]) == (scenario.before[name], scenario.after[name])
        assert row["after_text"] == shown(scenario.after[name], tree, name)


def test_evaluate_reports_norm_status_after_the_change(leads_client: Client) -> None:
    """A conversion moved below its 80% norm is reported failing, and the change as worse."""
    status, data, _ = leads_client.call("POST", "/api/evaluate", {"values": {"lead_to_ql": 0.7}})
    assert status == 200
    rate = next(row for row in data["nodes"] if row["name"] == "lead_to_ql")
    assert rate["ok"] is False and rate["verdict"] == "worse"


@given(tree=trees(), factors=st.lists(st.floats(0.5, 2.0), min_size=1, max_size=6))
def test_evaluate_matches_whatif_on_random_trees(tree: Tree, factors: list[float]) -> None:
    """On random trees the explorer's answer, through JSON, equals `tree.whatif` exactly."""
    leaves = tree.leaves
    values = {
        leaf.name: leaf.value * f for leaf, f in zip(leaves, factors, strict=False) if leaf.value
    }
    try:
        scenario = tree.whatif(values)
    except KPITreeError as exc:  # a metric undefined before or after: the same refusal
        with pytest.raises(type(exc)):
            Explorer(tree).evaluate({"values": values})
        return
    answer = json.loads(json.dumps(Explorer(tree).evaluate({"values": values})))
    for row in answer["nodes"]:
        name = row["name"]
        assert (row["before"], row["after"]) == (scenario.before[name], scenario.after[name])
        assert (row["delta"], row["pct"]) == (scenario.delta[name], scenario.pct[name])


# -- levers and goal seek ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, "sensitivity"),
        ({"owner": "sales"}, "levers"),
        ({"within": "1 day"}, "levers"),
        ({"within": "1 week", "owner": "sales"}, "levers"),
        ({"within": "1 день"}, "levers"),
    ],
)
def test_sensitivity_and_levers_rank_as_the_tree_does(
    client: Client, filters: dict[str, str], expected: str
) -> None:
    """Unfiltered rows are `tree.sensitivity`; filtered by owner or horizon, `tree.levers`."""
    tree = sales_revenue()
    status, data, _ = client.call("POST", "/api/sensitivity", {"metric": "revenue", **filters})
    assert status == 200
    if expected == "sensitivity":
        result = tree.sensitivity("revenue")
    else:
        result = tree.levers("revenue", within=filters.get("within"), owner=filters.get("owner"))
    assert [(r["name"], r["impact_1pct"]) for r in data["rows"]] == [
        (r.name, r.impact_1pct) for r in result
    ]


def test_solve_gives_the_value_tree_solve_gives(client: Client) -> None:
    """A feasible goal returns `tree.solve`'s value, and the metric reaches the target."""
    tree = sales_revenue()
    body = {"metric": "revenue", "target": 3_000_000, "vary": "managers"}
    status, data, _ = client.call("POST", "/api/solve", body)
    assert status == 200 and data["feasible"] is True
    assert data["value"] == tree.solve("revenue", 3_000_000, "managers")
    assert math.isclose(data["reached"], 3_000_000, rel_tol=1e-9)


def test_infeasible_goal_is_an_answer_with_the_value_needed(leads_client: Client) -> None:
    """A conversion above 100% is infeasible: the reason and `needed` come back, status 200."""
    body = {"metric": "qualified_leads", "target": 1200, "vary": "lead_to_ql"}
    status, data, _ = leads_client.call("POST", "/api/solve", body)
    with pytest.raises(InfeasibleGoalError) as caught:
        qualified_leads().solve("qualified_leads", 1200, "lead_to_ql")
    assert status == 200 and data["feasible"] is False
    assert data["needed"] == caught.value.needed
    assert math.isclose(data["needed"], 1200 / 1000)  # 1,200 QLs from 1,000 leads
    assert "bound" in data["message"] or "above" in data["message"]


# -- bad requests ----------------------------------------------------------------------------------

_DEEP = b'{"values": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

BAD_REQUESTS = [
    # (method, path, raw body, extra headers, status, words in the message)
    ("GET", "/nope", None, {}, 404, ["no such path"]),
    ("GET", "/api/evaluate", None, {}, 405, ["GET is not allowed"]),
    ("PUT", "/api/tree", b"{}", {}, 405, ["PUT is not allowed"]),
    ("DELETE", "/api/scenarios", None, {}, 405, ["DELETE is not allowed"]),
    ("POST", "/api/evaluate", b"{}", {"Content-Type": "text/plain"}, 415, ["application/json"]),
    (
        "POST",
        "/api/evaluate",
        b"{}",
        {"Content-Type": "application/x-www-form-urlencoded"},
        415,
        ["application/json"],
    ),
    (
        "POST",
        "/api/evaluate",
        b"{}",
        {"Content-Type": "application/json; charset=latin-1"},
        415,
        ["application/json"],
    ),
    ("POST", "/api/evaluate", b"{", {}, 400, ["not valid JSON", "line 1"]),
    ("POST", "/api/evaluate", b"[]", {}, 400, ["JSON object", "a list"]),
    ("POST", "/api/evaluate", b'{"values": {"managers": NaN}}', {}, 400, ["NaN"]),
    ("POST", "/api/evaluate", b'{"values": {"managers": 1e999}}', {}, 400, ["float range"]),
    ("POST", "/api/evaluate", b'{"values": {}, "values": {}}', {}, 400, ["duplicate key"]),
    ("POST", "/api/evaluate", _DEEP, {}, 400, ["nested too deeply"]),
    (
        "POST",
        "/api/evaluate",
        b'{"values": {"managers": ' + b"9" * 5000 + b"}}",
        {},
        400,
        ["cannot be read"],
    ),
    ("POST", "/api/evaluate", b'{"values": {"\xff": 1}}', {}, 400, ["UTF-8"]),
    ("POST", "/api/evaluate", b'{"valuse": {}}', {}, 400, ["unknown field", "values"]),
    ("POST", "/api/evaluate", b'{"values": [1, 2]}', {}, 400, ["must be an object"]),
    (
        "POST",
        "/api/evaluate",
        b'{"values": {"manegers": 6}}',
        {},
        422,
        ["no leaf `manegers`", "did you mean `managers`"],
    ),
    ("POST", "/api/evaluate", b'{"values": {"revenue": 1}}', {}, 422, ["is a metric"]),
    (
        "POST",
        "/api/evaluate",
        b'{"values": {"managers": "six"}}',
        {},
        422,
        ["expected a finite number", "'six'"],
    ),
    ("POST", "/api/evaluate", b'{"values": {"managers": true}}', {}, 422, ["a bool"]),
    ("POST", "/api/evaluate", b'{"values": {"managers": null}}', {}, 422, ["finite number"]),
    ("POST", "/api/evaluate", b'{"values": {"managers": [6]}}', {}, 422, ["finite number"]),
    (
        "POST",
        "/api/evaluate",
        b'{"values": {"call_to_purchase": "0,05"}}',
        {},
        422,
        ["decimal comma", "0.05"],
    ),
    (
        "POST",
        "/api/evaluate",
        b'{"values": {"call_to_purchase": 1.5}}',
        {},
        422,
        ["`call_to_purchase`", "outside its bounds"],
    ),
    ("POST", "/api/evaluate", b'{"values": {"managers": -1}}', {}, 422, ["outside its bounds"]),
    (
        "POST",
        "/api/evaluate",
        b'{"values": {"managers": "__import__(\'os\')"}}',
        {},
        422,
        ["expected a finite number"],
    ),
    ("POST", "/api/sensitivity", b"{}", {}, 400, ["needs the field 'metric'"]),
    (
        "POST",
        "/api/sensitivity",
        b'{"metric": "revenu"}',
        {},
        422,
        ["no node `revenu`", "did you mean `revenue`"],
    ),
    ("POST", "/api/sensitivity", b'{"metric": "managers"}', {}, 422, ["must name a metric"]),
    ("POST", "/api/sensitivity", b'{"metric": 3}', {}, 400, ["must be text"]),
    (
        "POST",
        "/api/sensitivity",
        b'{"metric": "revenue", "within": "soon"}',
        {},
        422,
        ["soon"],
    ),
    (
        "POST",
        "/api/sensitivity",
        b'{"metric": "revenue", "owner": "salez"}',
        {},
        422,
        ["salez", "did you mean `sales`"],
    ),
    (
        "POST",
        "/api/solve",
        b'{"metric": "revenue", "vary": "managers"}',
        {},
        422,
        ["`revenue` has no target, and none was given"],
    ),
    (
        "POST",
        "/api/solve",
        b'{"metric": "revenue", "target": "lots", "vary": "managers"}',
        {},
        422,
        ["lots"],
    ),
    (
        "POST",
        "/api/solve",
        b'{"metric": "revenue", "target": false, "vary": "managers"}',
        {},
        422,
        ["a bool"],
    ),
    (
        "POST",
        "/api/solve",
        b'{"metric": "calls", "target": 1, "vary": "avg_order_value"}',
        {},
        422,
        ["does not depend on `avg_order_value`"],
    ),
    (
        "POST",
        "/api/solve",
        b'{"metric": "revenue", "target": 1, "vary": "calls"}',
        {},
        422,
        ["must name a leaf"],
    ),
    ("POST", "/api/compare", b'{"scenarios": []}', {}, 400, ["non-empty list"]),
    (
        "POST",
        "/api/compare",
        json.dumps({"scenarios": ["a"] * (MAX_COMPARED + 1)}).encode(),
        {},
        400,
        [f"at most {MAX_COMPARED}"],
    ),
    (
        "POST",
        "/api/compare",
        b'{"scenarios": ["nothing_saved"]}',
        {},
        422,
        ["no scenario `nothing_saved`"],
    ),
    (
        "POST",
        "/api/compare",
        b'{"scenarios": [{"name": "x"}]}',
        {},
        400,
        ["needs the field 'values'"],
    ),
    (
        "POST",
        "/api/scenarios",
        b'{"name": "ok", "values": {}, "overwrite": "yes"}',
        {},
        400,
        ["'overwrite' must be true or false"],
    ),
    ("GET", "/api/tree", None, {"Host": "attacker.example:80"}, 403, ["answers requests to"]),
    (
        "POST",
        "/api/evaluate",
        b"{}",
        {"Origin": "http://attacker.example"},
        403,
        ["attacker.example", "not accepted"],
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "raw", "headers", "status", "words"),
    BAD_REQUESTS,
    ids=[f"{r[0]} {r[1]} {r[4]} {r[5][0]}" for r in BAD_REQUESTS],
)
def test_bad_requests_get_a_clear_json_error(
    client: Client,
    method: str,
    path: str,
    raw: bytes | None,
    headers: dict[str, str],
    status: int,
    words: list[str],
) -> None:
    """Each bad request is refused with its 4xx status and a JSON message naming the problem."""
    got, data, answer_headers = client.call(method, path, raw=raw, headers=headers)
    assert got == status
    assert answer_headers["Content-Type"].startswith("application/json")
    error = data["error"]
    assert error["status"] == status
    text = f"{error['message']} {error['hint']}"
    for word in words:
        assert word in text
    assert "Traceback" not in json.dumps(data)


def test_method_not_allowed_says_which_are(client: Client) -> None:
    """A 405 answer carries an Allow header with the methods the path takes."""
    _, _, headers = client.call("PUT", "/api/scenarios", raw=b"{}")
    assert headers["Allow"] == "GET, POST"


def test_body_over_the_limit_is_refused_unread(start: Any) -> None:
    """A body longer than `max_body` gets 413 before it is read."""
    small = start(sales_revenue(), max_body=100)
    body = json.dumps({"values": {"managers": 6}, "pad": "x" * 200}).encode()
    status, data, _ = small.call("POST", "/api/evaluate", raw=body)
    assert status == 413 and "the limit is 100" in data["error"]["message"]


@pytest.mark.parametrize(
    ("request_bytes", "status", "words"),
    [
        (
            b"POST /api/evaluate HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\n\r\n{}",
            411,
            b"Content-Length",
        ),
        (
            b"POST /api/evaluate HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            411,
            b"chunked",
        ),
        (
            b"POST /api/evaluate HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            b"Content-Length: lots\r\nConnection: close\r\n\r\n{}",
            400,
            b"not a number",
        ),
        (b"GET /a b c HTTP/1.1\r\n\r\n", 400, b"Bad request"),
        (b"BREW /api/tree HTTP/1.1\r\nHost: {host}\r\n\r\n", 501, b"error"),
        *(
            (
                b"POST /api/evaluate HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json"
                b"\r\nContent-Length: " + length + b"\r\nConnection: close\r\n\r\n{}",
                400,
                b"not a number of bytes",
            )
            # Python's int() takes all of these; none is a length in HTTP.
            for length in (b"+2", b"-0", b"0_2", b"+0002", "\u0662".encode())
        ),
        (
            b"POST /api/evaluate HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\nContent-Length: 20\r\nConnection: close\r\n\r\n{}",
            400,
            b"2 Content-Length headers",
        ),
        (
            b"POST /api/evaluate HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            b"Content-Length: 20\r\nConnection: close\r\n\r\n{}",
            400,
            b"ended after 2 of 20 bytes",
        ),
    ],
)
def test_malformed_http_gets_a_json_error(
    client: Client, request_bytes: bytes, status: int, words: bytes
) -> None:
    """Requests a client library would not send still get a JSON error, not HTML."""
    host = f"127.0.0.1:{client.port}".encode()
    got, body = client.raw(request_bytes.replace(b"{host}", host))
    assert got == status
    data = json.loads(body)
    assert data["error"]["status"] == status and words.decode() in json.dumps(data)


def test_unexpected_failure_is_a_500_without_details(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug inside the server answers 500 with a generic message: no traceback, no detail."""

    def broken(self: Explorer) -> dict[str, Any]:
        raise RuntimeError("secret internals")

    monkeypatch.setitem(server_module._GET, "/api/tree", broken)
    status, data, _ = client.call("GET", "/api/tree")
    assert status == 500
    text = json.dumps(data)
    assert "secret" not in text and "Traceback" not in text and "RuntimeError" not in text


# -- static files: no way out of the whitelist -----------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/../server.py",
        "/../../kpitree/apps/server.py",
        "/server.py",
        "/static/explorer.js",
        "/explorer.js/../server.py",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2fserver.py",
        "/%2e%2e%5cserver.py",
        "/....//....//etc/passwd",
        "//etc/passwd",
        "/explorer.html%00.py",
        "/explorer.html/",
        "/EXPLORER.HTML",
        "/etc/passwd",
        "/api/../explorer.js",
        "/static/../server.py",
    ],
)
def test_path_traversal_finds_nothing(client: Client, path: str) -> None:
    """Any path outside the fixed list of files is a 404 with a JSON body, never a file."""
    status, body = client.get_path(path)
    assert status == 404
    assert json.loads(body)["error"]["status"] == 404
    assert b"import" not in body and b"root:" not in body


# -- scenarios: written inside the directory given, and nowhere else --------------------------


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_saving_is_refused_without_a_directory(leads_client: Client, tmp_path: Path) -> None:
    """Without `--scenarios DIR` a save is refused (403) with a message saying how to enable it."""
    body = {"name": "plan", "values": {"leads": 1100}}
    status, data, _ = leads_client.call("POST", "/api/scenarios", body)
    assert status == 403
    assert "saving scenarios is off" in data["error"]["message"]
    assert "--scenarios DIR" in data["error"]["hint"]
    assert leads_client.call("GET", "/api/scenarios")[1] == {"saving": False, "scenarios": []}


@pytest.mark.parametrize("name", ["plan_may", "план_май", "q3-push", "_draft", "A1"])
def test_saved_scenario_is_a_values_file_in_the_directory(
    client: Client, tmp_path: Path, name: str
) -> None:
    """A saved scenario is `<name>.json` in the directory, readable by `load_values`."""
    values = {"managers": 7, "call_to_purchase": "6%"}
    status, _, _ = client.call("POST", "/api/scenarios", {"name": name, "values": values})
    assert status == 200
    assert _files(tmp_path) == {"scenarios", f"scenarios/{name}.json"}
    assert load_values(tmp_path / "scenarios" / f"{name}.json") == {
        "managers": 7.0,
        "call_to_purchase": 0.06,
    }
    listed = client.call("GET", "/api/scenarios")[1]["scenarios"]
    assert listed == [{"name": name, "values": {"managers": 7.0, "call_to_purchase": 0.06}}]


@pytest.mark.parametrize(
    "name",
    [
        "../evil",
        "..",
        ".",
        "a/b",
        "a\\b",
        "/abs/evil",
        "",
        "x" * 65,
        "con",
        "NUL",
        "lpt1",
        "name.json",
        "with space",
        "ｆｕｌｌ",  # full width: NFKC would make it another name
        "1abc",
        ".hidden",
        "evil\x00",
        "tab\t",
        "-dash",
        17,
        None,
        ["list"],
    ],
)
def test_unsafe_scenario_names_write_nothing(client: Client, tmp_path: Path, name: Any) -> None:
    """A name that is not a safe identifier is refused (400) and no file appears anywhere."""
    before = _files(tmp_path.parent)
    status, data, _ = client.call(
        "POST", "/api/scenarios", {"name": name, "values": {"managers": 6}}
    )
    assert status == 400
    assert "scenario name" in data["error"]["message"]
    assert _files(tmp_path.parent) == before
    assert not any((tmp_path / "scenarios").iterdir())


def test_bad_values_save_nothing(client: Client, tmp_path: Path) -> None:
    """Values the tree refuses (unknown leaf, out of bounds) leave the directory untouched."""
    for values in ({"managerz": 6}, {"call_to_purchase": 3}, {"managers": "x"}):
        status, _, _ = client.call("POST", "/api/scenarios", {"name": "p", "values": values})
        assert status == 422
    assert not any((tmp_path / "scenarios").iterdir())


def test_existing_scenario_needs_overwrite(client: Client, tmp_path: Path) -> None:
    """Saving over a scenario is refused (409) unless `overwrite` is true."""
    first = {"name": "plan", "values": {"managers": 6}}
    assert client.call("POST", "/api/scenarios", first)[0] == 200
    status, data, _ = client.call("POST", "/api/scenarios", {**first, "values": {"managers": 8}})
    assert status == 409 and "saved already" in data["error"]["message"]
    assert load_values(tmp_path / "scenarios" / "plan.json") == {"managers": 6.0}
    again = {**first, "values": {"managers": 8}, "overwrite": True}
    assert client.call("POST", "/api/scenarios", again)[0] == 200
    assert load_values(tmp_path / "scenarios" / "plan.json") == {"managers": 8.0}


@pytest.mark.parametrize("hard_links", [True, False])
def test_concurrent_saves_of_one_new_name_give_one_success(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hard_links: bool
) -> None:
    """Eight clients saving one new name at once: one 200, seven 409 naming it, one file."""
    if not hard_links:

        def no_links(*args: Any, **kwargs: Any) -> None:
            raise PermissionError(errno.EPERM, "hard links are not supported here")

        monkeypatch.setattr(server_module.os, "link", no_links)
    make_temporary = tempfile.mkstemp

    def slow_disk(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.05)  # a slow disk: every save is under way while the others start
        return make_temporary(*args, **kwargs)

    monkeypatch.setattr(server_module.tempfile, "mkstemp", slow_disk)
    barrier = threading.Barrier(8)
    answers: list[tuple[int, Any, int]] = []

    def save(managers: int) -> None:
        body = {"name": "race", "values": {"managers": managers}}
        barrier.wait(timeout=30)
        status, data, _ = client.call("POST", "/api/scenarios", body)
        answers.append((status, data, managers))

    threads = [threading.Thread(target=save, args=(m,), daemon=True) for m in range(1, 9)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so that a race shows
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        sys.setswitchinterval(interval)
    assert sorted(status for status, _, _ in answers) == [200] + [409] * 7
    for status, data, _ in answers:
        if status == 409:
            assert data["error"]["message"] == "a scenario `race` is saved already"
            assert data["error"]["names"] == ["race"]
    (winner,) = [managers for status, _, managers in answers if status == 200]
    assert load_values(tmp_path / "scenarios" / "race.json") == {"managers": float(winner)}
    assert _files(tmp_path) == {"scenarios", "scenarios/race.json"}  # no temporary files left


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links on this system")
def test_symlink_in_the_directory_is_replaced_not_followed(client: Client, tmp_path: Path) -> None:
    """Overwriting a scenario that is a symlink replaces the link; its target is untouched."""
    outside = tmp_path / "outside.json"
    outside.write_text('{"managers": 1}\n', encoding="utf-8")
    link = tmp_path / "scenarios" / "linked.json"
    link.symlink_to(outside)
    assert client.call("GET", "/api/scenarios")[1]["scenarios"] == []  # links are not listed
    body = {"name": "linked", "values": {"managers": 9}}
    assert client.call("POST", "/api/scenarios", body)[0] == 409
    assert client.call("POST", "/api/scenarios", {**body, "overwrite": True})[0] == 200
    assert outside.read_text(encoding="utf-8") == '{"managers": 1}\n'
    assert not link.is_symlink() and load_values(link) == {"managers": 9.0}


def test_unreadable_files_are_listed_with_their_problem(client: Client, tmp_path: Path) -> None:
    """A file in the directory that is not values of this tree is listed with an error."""
    directory = tmp_path / "scenarios"
    (directory / "broken.json").write_text("{nope", encoding="utf-8")
    (directory / "other_tree.json").write_text('{"leads": 5}', encoding="utf-8")
    (directory / "not a name.json").write_text("{}", encoding="utf-8")
    listed = {s["name"]: s for s in client.call("GET", "/api/scenarios")[1]["scenarios"]}
    assert set(listed) == {"broken", "other_tree"}
    assert "broken.json" in listed["broken"]["error"]
    assert "`leads`" in listed["other_tree"]["error"]
    status, data, _ = client.call("POST", "/api/compare", {"scenarios": ["other_tree"]})
    assert status == 422 and "`leads`" in data["error"]["message"]


def test_compare_puts_saved_and_inline_scenarios_side_by_side(client: Client) -> None:
    """Compare gives, per node, each scenario's value as `tree.whatif` computes it."""
    tree = sales_revenue()
    client.call("POST", "/api/scenarios", {"name": "hire", "values": {"managers": 6}})
    inline = {"name": "current", "values": {"call_to_purchase": 0.06}}
    status, data, _ = client.call("POST", "/api/compare", {"scenarios": ["hire", inline]})
    assert status == 200 and data["names"] == ["hire", "current"]
    hire, current = tree.whatif({"managers": 6}), tree.whatif({"call_to_purchase": 0.06})
    rows = {row["name"]: row for row in data["rows"]}
    assert set(rows) == {"managers", "call_to_purchase", "calls", "purchases", "revenue"}
    for name, row in rows.items():
        assert [cell["after"] for cell in row["cells"]] == [hire.after[name], current.after[name]]


# -- starting the server ---------------------------------------------------------------------


def test_server_listens_on_loopback_by_default(start: Any) -> None:
    """By default the server binds 127.0.0.1 only, and says so in its URL."""
    client = start(qualified_leads())
    assert client.server.server_address[0] == "127.0.0.1"
    assert client.server.url == f"http://127.0.0.1:{client.port}/"


def test_localhost_name_is_accepted(start: Any) -> None:
    """Requests addressed to `localhost:PORT` are answered (the Host check allows it)."""
    client = start(qualified_leads())
    headers = {"Host": f"localhost:{client.port}"}
    assert client.call("GET", "/api/tree", headers=headers)[0] == 200


def test_model_file_path_is_loaded(start: Any) -> None:
    """A model file's path serves the tree it holds, Cyrillic names included."""
    client = start(str(ROOT / "examples" / "qualified_leads_ru.yaml"))
    data = client.call("GET", "/api/tree")[1]
    assert set(data["nodes"]) == set(qualified_leads_ru().names)


def test_scenarios_directory_is_made_only_under_an_existing_parent(tmp_path: Path) -> None:
    """The scenarios directory is created if missing, but never a chain of directories."""
    server = make_server(qualified_leads(), port=0, values_dir=tmp_path / "new")
    server.server_close()
    assert (tmp_path / "new").is_dir()
    with pytest.raises(KPITreeError, match="its parent does not exist"):
        make_server(qualified_leads(), port=0, values_dir=tmp_path / "a" / "b")
    (tmp_path / "file").write_text("", encoding="utf-8")
    with pytest.raises(KPITreeError, match="is a file"):
        make_server(qualified_leads(), port=0, values_dir=tmp_path / "file")
    assert not (tmp_path / "a").exists()


def test_busy_port_is_a_kpitree_error(start: Any) -> None:
    """A port already in use gives a kpitree error that suggests --port."""
    client = start(qualified_leads())
    with pytest.raises(KPITreeError, match="cannot listen") as caught:
        make_server(qualified_leads(), port=client.port)
    assert caught.value.hint is not None and "--port" in caught.value.hint


@pytest.mark.parametrize("port", [-1, 65536, 1.5, "8765", True])
def test_bad_port_is_refused(port: Any) -> None:
    """A port outside 0..65535, or not a whole number, is a kpitree error."""
    with pytest.raises(KPITreeError, match="a port is a whole number"):
        make_server(qualified_leads(), port=port)


def test_serve_prints_its_address_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """`serve` prints the page's address, answers there, and Ctrl+C stops it cleanly."""
    code = (
        "from kpitree.apps.server import serve\n"
        "from kpitree.examples import qualified_leads\n"
        "serve(qualified_leads(), port=0)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url is not None, line
        with urllib.request.urlopen(url.group(0) + "api/tree", timeout=30) as answer:  # noqa: S310
            assert json.loads(answer.read())["title"] == "qualified_leads"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_undefined_values_are_sent_as_null(start: Any) -> None:
    """A metric undefined at the model's values (0 leads) is null in JSON and shown as `?`."""
    from kpitree import KPI, Metric

    leads = KPI("leads", owner="marketing", horizon="1 day", value=0)
    ql = KPI("ql", owner="sales", horizon="1 day", value=0)
    client = start(Tree(Metric("conversion", ql / leads)))
    status, data, _ = client.call("GET", "/api/tree")
    assert status == 200
    assert data["nodes"]["conversion"]["value"] is None
    assert data["nodes"]["conversion"]["value_text"] == "?"
    status, data, _ = client.call("POST", "/api/evaluate", {"values": {"ql": 1}})
    assert status == 422 and "`conversion`" in data["error"]["message"]


def test_serve_takes_a_tree_or_a_path_only() -> None:
    """Anything but a Tree or a path is refused with a kpitree error."""
    with pytest.raises(KPITreeError, match="a Tree or the path"):
        make_server(42, port=0)


@pytest.mark.parametrize(
    ("name", "ok"),
    [("plan", True), ("план", True), ("a-b_c9", True), ("aux", False), ("x.y", False)],
)
def test_scenario_name_rule(name: str, ok: bool) -> None:
    """`scenario_name` accepts identifiers (with `-`) and refuses the rest."""
    if ok:
        assert scenario_name(name) == name
    else:
        with pytest.raises(KPITreeError):
            scenario_name(name)


# -- under load: bounded threads, slow clients cut off, bursts answered ----------------------------


def _read_all(sock: socket.socket) -> bytes:
    """Read until the server closes the connection (or resets it)."""
    chunks = []
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_slow_clients_hold_no_thread_and_are_cut_off(start: Any) -> None:
    """Clients that never finish their headers cost no thread and get 408; others are answered."""
    client = start(qualified_leads(), request_timeout=1.0, threads=2)
    threads_before = threading.active_count()
    head = f"GET /api/tree HTTP/1.1\r\nHost: 127.0.0.1:{client.port}\r\n".encode()
    slow = [socket.create_connection((client.host, client.port), timeout=10) for _ in range(200)]
    try:
        for sock in slow:
            sock.sendall(head)  # and never the blank line that ends the headers
        status, data, _ = client.call("GET", "/api/tree")  # answered while they wait
        assert status == 200 and data["nodes"]
        assert threading.active_count() <= threads_before + 2  # the two workers at most
        for sock in slow:
            answer = _read_all(sock)  # the socket's timeout bounds this: 10 s
            assert answer.startswith(b"HTTP/1.0 408 ")
            body = json.loads(answer.partition(b"\r\n\r\n")[2])
            assert body["error"]["status"] == 408
    finally:
        for sock in slow:
            sock.close()


def test_trickling_client_is_cut_off_after_the_timeout(start: Any) -> None:
    """A client sending its headers a byte at a time is disconnected after `request_timeout`."""
    client = start(qualified_leads(), request_timeout=0.5)
    with socket.create_connection((client.host, client.port), timeout=10) as sock:
        sock.sendall(b"GET /api/tree HTTP/1.1\r\nX-Slow: ")
        cut_off = False
        for _ in range(100):  # 10 s at most; the server stops it after about 0.5 s
            try:
                sock.sendall(b"a")
            except OSError:
                cut_off = True
                break
            time.sleep(0.1)
        assert cut_off


def test_burst_of_connections_waits_in_the_backlog_and_is_all_answered() -> None:
    """300 connections made before the server accepts any are all held, then all answered."""
    server = make_server(qualified_leads(), port=0)
    host, port = server.server_address[:2]
    request = f"GET /api/tree HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    socks: list[socket.socket] = []
    serving = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    try:
        for _ in range(300):  # the system completes each connection into the listen backlog
            socks.append(socket.create_connection((host, port), timeout=5))
            socks[-1].sendall(request)
        serving.start()
        deadline = time.monotonic() + 30  # all of them answered within this, or a timeout
        statuses = []
        for sock in socks:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            statuses.append(int(_read_all(sock).split(b" ", 2)[1]))
        assert statuses == [200] * 300
    finally:
        for sock in socks:
            sock.close()
        if serving.is_alive():
            server.shutdown()
        server.server_close()


def test_too_many_arriving_connections_drop_the_oldest(start: Any) -> None:
    """Past `max_waiting` incomplete requests, the one waiting longest is answered 503."""
    client = start(qualified_leads(), max_waiting=3)
    socks = [socket.create_connection((client.host, client.port), timeout=10) for _ in range(4)]
    try:
        for sock in socks:
            sock.sendall(b"GET /api/tree HTTP/1.1\r\n")
            time.sleep(0.05)  # in order: the first one is the oldest
        assert _read_all(socks[0]).startswith(b"HTTP/1.0 503 ")
        status, _, _ = client.call("GET", "/api/tree")
        assert status == 200
    finally:
        for sock in socks:
            sock.close()


def test_request_head_over_the_limit_is_refused(start: Any) -> None:
    """Headers that go on past `MAX_HEAD` bytes are answered 431 without waiting for more."""
    client = start(qualified_leads())
    with socket.create_connection((client.host, client.port), timeout=10) as sock:
        sock.sendall(b"GET /api/tree HTTP/1.1\r\nX-Big: " + b"a" * server_module.MAX_HEAD)
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.0 431 ")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["status"] == 431


@pytest.mark.parametrize(
    ("limits", "words"),
    [
        ({"threads": 0}, "`threads` must be a whole number above 0, got 0"),
        ({"max_waiting": 1.5}, "`max_waiting` must be a whole number, got float"),
        ({"request_timeout": 0}, "`request_timeout` must be a number above 0, got 0"),
        ({"request_timeout": math.inf}, "`request_timeout` must be a number above 0, got inf"),
        ({"request_timeout": "10"}, "`request_timeout` must be a number, got str"),
    ],
)
def test_bad_server_limits_are_refused(limits: dict[str, Any], words: str) -> None:
    """Limits that cannot work are refused before anything listens."""
    with pytest.raises(KPITreeError, match=re.escape(words)):
        make_server(qualified_leads(), port=0, **limits)


def test_concurrent_requests_give_the_answers_of_one_at_a_time(start: Any) -> None:
    """What-ifs of one and several leaves and goal seeks from several clients at once agree."""
    client = start(sales_revenue(), threads=4)
    requests = []
    for i in range(1, 7):
        requests.append(("/api/evaluate", {"values": {"managers": 5 + i}}))
        requests.append(("/api/evaluate", {"values": {"managers": 5 + i, "calls_per_day": 20 + i}}))
        requests.append(
            ("/api/solve", {"metric": "revenue", "target": 1_000_000 * i, "vary": "managers"})
        )
    expected = [client.call("POST", path, body)[:2] for path, body in requests]
    wrong: list[str] = []

    def ask(offset: int) -> None:
        for r in range(25):
            for k in range(len(requests)):
                i = (k * (offset + 1) + r) % len(requests)
                if client.call("POST", *requests[i])[:2] != expected[i]:
                    wrong.append(f"{requests[i]}")

    threads = [threading.Thread(target=ask, args=(t,), daemon=True) for t in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so that a race shows
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        sys.setswitchinterval(interval)
    assert not wrong, f"{len(wrong)} wrong answers, first for {wrong[0]}"


# -- the page's language ---------------------------------------------------------------------------

STATIC = ROOT / "kpitree" / "apps" / "static"


def test_every_word_the_page_shows_is_in_the_catalog() -> None:
    """The page's words (`t("...")` in the script, `data-i18n` in the page) are all declared."""
    script = (STATIC / "explorer.js").read_text(encoding="utf-8")
    page = (STATIC / "explorer.html").read_text(encoding="utf-8")
    used = set(re.findall(r'\bt\("((?:[^"\\]|\\.)*)"', script))
    used |= set(re.findall(r'data-i18n(?:-placeholder|-label)?="([^"]*)"', page))
    used |= set(re.findall(r"KIND = \{([^}]*)\}", script)[0].split('"')[3::4])
    assert used and used <= set(server_module._PAGE_WORDS)
    assert set(re.findall(r'\btn\("(\w+)"', script)) <= set(server_module._page_plurals())


def test_messages_speak_the_request_locale(client: Client) -> None:
    """`/api/messages` is English by default and Russian for `?lang=ru`, every word of it."""
    status, english, _ = client.call("GET", "/api/messages")
    assert status == 200 and english["locale"] == "en" and english["decimal"] == "."
    assert english["messages"] == {w: w for w in server_module._PAGE_WORDS}
    assert english["plurals"]["values"] == {"one": "{n} value", "other": "{n} values"}
    status, russian, _ = client.call("GET", "/api/messages?lang=ru-RU")
    assert status == 200 and (russian["locale"], russian["tag"], russian["decimal"]) == (
        "ru",
        "ru",
        ",",
    )
    same = {w for w, text in russian["messages"].items() if text == w}
    assert same == {"{name} ({owner})"}  # nothing left in English but punctuation
    assert russian["messages"]["Goal seek"] == "Подбор цели"
    assert russian["plurals"]["values"] == {
        "one": "{n} значение",
        "few": "{n} значения",
        "many": "{n} значений",
    }


def test_an_unknown_lang_is_refused_in_the_server_locale(client: Client) -> None:
    """`?lang=de` is a 400 that names the locales there are, worded in the server's locale."""
    status, data, _ = client.call("GET", "/api/tree?lang=de")
    assert status == 400
    assert data["error"]["message"] == '?lang=: unknown locale "de"'
    assert data["error"]["hint"] == "kpitree speaks en, ru"


def test_numbers_and_changes_are_written_in_the_request_locale(start: Any) -> None:
    """Under ru: `1 200 лид`, `+2 п.п.` for a rate, true minus; English stays as it was."""
    client = start(qualified_leads_ru())
    body = {"values": {"лиды": 1200, "конверсия_в_квал": 0.78}}
    _, english, _ = client.call("POST", "/api/evaluate", body)
    _, russian, _ = client.call("POST", "/api/evaluate?lang=ru", body)
    en = {n["name"]: n for n in english["nodes"]}
    ru = {n["name"]: n for n in russian["nodes"]}
    assert en["лиды"]["after_text"] == "1,200 лидов"
    assert ru["лиды"]["after_text"] == "1\u00a0200 лидов"
    assert ru["конверсия_в_квал"]["change_text"].startswith("\u22122 п.п.")
    assert en["конверсия_в_квал"]["change_text"].startswith("\u22122 pp")
    _, tree, _ = client.call("GET", "/api/tree?lang=ru")
    assert tree["locale"] == "ru"
    assert tree["nodes"]["конверсия_в_квал"]["range"]["max_text"] == "100\u00a0%"


def test_the_server_speaks_the_locale_active_when_it_was_made(start: Any) -> None:
    """`kpitree serve --lang ru` sets the locale around making the server: its threads keep it."""
    from kpitree import i18n

    with i18n.locale("ru"):
        client = start(qualified_leads_ru())
    _, data, _ = client.call("GET", "/api/messages")
    assert data["locale"] == "ru" and data["messages"]["Levers"] == "Рычаги"
    _, data, _ = client.call("GET", "/api/messages?lang=en")
    assert data["messages"]["Levers"] == "Levers"
    explicit = start(qualified_leads_ru(), locale="ru")
    assert explicit.call("GET", "/api/messages")[1]["locale"] == "ru"


def test_requests_in_two_locales_at_once_never_mix(start: Any) -> None:
    """Two clients, one Russian and one English, asking at once: each gets its own language."""
    client = start(qualified_leads_ru(), threads=4)
    body = {"values": {"лиды": "1200"}}
    expected = {
        lang: client.call("POST", f"/api/evaluate{suffix}", body)[1]["nodes"][1]["after_text"]
        for lang, suffix in (("en", "?lang=en"), ("ru", "?lang=ru"))
    }
    assert expected == {"en": "1,200 лидов", "ru": "1\u00a0200 лидов"}
    wrong: list[str] = []
    start_together = threading.Barrier(2, timeout=30)

    def ask(lang: str) -> None:
        start_together.wait()
        for _ in range(40):
            answer = client.call("POST", f"/api/evaluate?lang={lang}", body)[1]
            words = client.call("GET", f"/api/messages?lang={lang}")[1]
            if answer["nodes"][1]["after_text"] != expected[lang] or words["locale"] != lang:
                wrong.append(lang)

    threads = [threading.Thread(target=ask, args=(lang,), daemon=True) for lang in expected]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert wrong == []


def test_values_typed_under_ru_take_the_decimal_comma_and_space_grouping(start: Any) -> None:
    """`0,85` and `1 200` are numbers under ru; under en the comma is refused, saying why."""
    client = start(qualified_leads_ru())
    typed = {"values": {"конверсия_в_квал": "0,85", "лиды": "1 200"}}
    status, data, _ = client.call("POST", "/api/evaluate?lang=ru", typed)
    assert status == 200 and data["values"] == {"конверсия_в_квал": 0.85, "лиды": 1200.0}
    assert data["nodes"][0]["after_text"] == "1\u00a0020 лидов"
    status, data, _ = client.call("POST", "/api/evaluate", typed)
    assert status == 422 and "decimal comma" in json.dumps(data["error"])
    goal = {"metric": "квал_лиды", "target": "1 200", "vary": "лиды"}
    status, data, _ = client.call("POST", "/api/solve?lang=ru", goal)
    assert status == 200 and data["value"] == pytest.approx(1500)


# -- what the page shows beside the values ---------------------------------------------------------


def test_tree_gives_targets_standards_and_slider_ends_as_text() -> None:
    """A metric's target, a KPI's standards with their rule, the slider's ends written out."""
    from kpitree.examples import dupont

    data = Explorer(dupont()).tree_data()
    assert (data["nodes"]["roe"]["target"], data["nodes"]["roe"]["target_text"]) == (0.2, "20%")
    data = Explorer(qualified_leads()).tree_data()
    standards = data["nodes"]["lead_to_ql"]["standards"]
    assert standards[1] == {
        "text": "response_minutes <= 15",
        "name": "response_minutes",
        "norm": "≤ 15",
        "ok": None,
    }
    assert data["nodes"]["leads"]["range"]["max_text"] == "2,000 lead"


def test_a_metric_without_a_norm_is_better_up_and_worse_down(client: Client) -> None:
    """Revenue has no norm: a drop is worse (red), a rise better; a `<=` norm flips it."""
    _, down, _ = client.call("POST", "/api/evaluate", {"values": {"managers": 4}})
    _, up, _ = client.call("POST", "/api/evaluate", {"values": {"managers": 6}})
    verdicts = [
        {n["name"]: n["verdict"] for n in answer["nodes"]}["revenue"] for answer in (down, up)
    ]
    assert verdicts == ["worse", "better"]
    from kpitree.examples import saas_mrr

    app = Explorer(saas_mrr())
    churn = {n["name"]: n for n in app.evaluate({"values": {"churn_rate": 0.05}})["nodes"]}
    assert churn["churn_rate"]["verdict"] == "worse"  # `<=` norm: lower is better


def test_evaluate_sums_up_each_owner(client: Client) -> None:
    """The by-owner summary counts each owner's KPIs, those moved and those below norm."""
    _, data, _ = client.call(
        "POST", "/api/evaluate", {"values": {"calls_per_day": 30, "managers": 6}}
    )
    owners = {o["owner"]: (o["kpis"], o["moved"], o["below"]) for o in data["owners"]}
    assert owners == {"head_of_sales": (1, 1, 0), "sales": (2, 1, 1), "marketing": (1, 0, 0)}


def test_refusals_the_page_shows_are_worded_in_the_request_locale(client: Client) -> None:
    """A bad scenario name or a taken one is refused in Russian for `?lang=ru`."""
    status, data, _ = client.call("POST", "/api/scenarios?lang=ru", {"name": "../x", "values": {}})
    assert status == 400
    assert data["error"]["message"] == "название сценария '../x' — не идентификатор"
    assert data["error"]["hint"].startswith("используйте буквы, цифры")
    body = {"name": "план", "values": {"managers": 6}}
    assert client.call("POST", "/api/scenarios", body)[0] == 200
    status, data, _ = client.call("POST", "/api/scenarios?lang=ru", body)
    assert status == 409 and data["error"]["message"] == "сценарий `план` уже сохранён"
    status, data, _ = client.call("POST", "/api/scenarios", body)
    assert data["error"]["message"] == "a scenario `план` is saved already"

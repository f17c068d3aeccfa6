"""Explorer latency: what a slider move costs, through HTTP, against the what-if it runs.

Run by hand: `.venv/bin/python benchmarks/bench_explorer.py` (under a minute).

A slider move on the page is one `POST /api/evaluate` with the changed leaf: the server
checks the request, runs `tree.whatif`, evaluates the norm status after, and answers
every node as JSON. Measured per tree size, in the same run:

- baseline: `tree.whatif({leaf: value}).rows()`, the numbers alone, in process;
- `Explorer.evaluate`: the same answer built in process (checks, texts, status), no HTTP;
- HTTP: the whole request over a fresh loopback connection, as the page makes it.

Also `GET /api/tree` (the page's first load) and a levers request. The goal is for the
page to feel immediate: a slider move well under 50 ms on a 1,000-leaf tree (a tree
that large is already more than a page can show).
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import fmt_seconds, median_time, report

from kpitree.apps.server import Explorer, make_server
from kpitree.examples import qualified_leads
from kpitree.testing import random_tree

SIZES = (6, 100, 1000)


def request(port: int, method: str, path: str, body: object = None) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        connection.request(method, path, body=data, headers=headers)
        answer = connection.getresponse()
        payload = answer.read()
        assert answer.status == 200, payload[:200]
        return payload
    finally:
        connection.close()


def measure(size: int) -> tuple[str, float, float, float, float, float]:
    """Return (label, whatif, in process, HTTP, levers, page load) seconds for one size."""
    tree = qualified_leads() if size == 6 else random_tree(size, seed=size)
    leaf = tree.kpis[0].name
    changes = {leaf: tree[leaf].value * 1.1}  # type: ignore[attr-defined]
    app = Explorer(tree)
    server = make_server(tree, port=0)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        answer = json.loads(request(port, "POST", "/api/evaluate", {"values": changes}))
        expected = tree.whatif(changes)
        assert all(r["after"] == expected.after[r["name"]] for r in answer["nodes"])
        body = {"values": changes}
        metric = {"metric": tree.roots[0].name}
        return (
            f"{len(tree.leaves)} leaves",
            median_time(lambda: tree.whatif(changes).rows()),
            median_time(lambda: app.evaluate(body)),
            median_time(lambda: request(port, "POST", "/api/evaluate", body), repeat=5),
            median_time(lambda: request(port, "POST", "/api/sensitivity", metric), repeat=5),
            median_time(lambda: request(port, "GET", "/api/tree"), repeat=5),
        )
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    results = [measure(size) for size in SIZES]
    rows = []
    for label, base, local, remote, _, _ in results:
        rows.append((f"evaluate in process, {label}", local, base, 0))
        rows.append((f"evaluate over HTTP, {label}", remote, base, 0))
    report("POST /api/evaluate (one leaf moved) against tree.whatif(...).rows()", rows)
    print(f"\n{'tree':<14} {'slider move':>12} {'levers':>10} {'page load':>10}  (goal: < 50 ms)")
    for label, _, _, remote, levers, first in results:
        times = " ".join(f"{fmt_seconds(t):>10}" for t in (levers, first))
        print(f"{label:<14} {fmt_seconds(remote):>12} {times}")


if __name__ == "__main__":
    main()

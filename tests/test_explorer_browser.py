"""The explorer page driven in a real headless Chromium (Debian's), through Playwright.

Each step saves a screenshot under the test's `tmp_path` and under `test-artifacts/` at
the repository root.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kpitree.apps.server import ExplorerServer, make_server
from kpitree.display.style import shown
from kpitree.errors import InfeasibleGoalError
from kpitree.examples import qualified_leads_ru, sales_revenue
from kpitree.tree import Tree

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT = 15_000  # ms: generous, the machine is shared

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not at /usr/bin/chromium (apt-get install -y chromium)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module (Playwright never downloads a browser here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser: Any, tmp_path: Path) -> Iterator[Callable[[Tree], Any]]:
    """Serve a tree on an ephemeral loopback port and open the explorer page on it."""
    servers: list[ExplorerServer] = []
    pages: list[Any] = []
    problems: list[str] = []

    def _open(tree: Tree) -> Any:
        server = make_server(tree, port=0, values_dir=tmp_path / "scenarios")
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        page = browser.new_page(viewport={"width": 1400, "height": 950})
        pages.append(page)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
        )
        page.goto(server.url)
        page.wait_for_selector("body[data-ready=true]", timeout=WAIT)
        return page

    yield _open
    for page in pages:
        page.close()
    for server in servers:
        server.shutdown()
        server.server_close()
    # Refused values answer 4xx, which Chromium logs as a failed resource: not a script error.
    assert [p for p in problems if "status of 4" not in p] == []


@pytest.fixture
def shot(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """Save a full-page screenshot of a step, in tmp_path and in test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    test = re.sub(r"[^\w-]+", "_", request.node.name)

    def _shot(page: Any, step: str) -> Path:
        path = tmp_path / "screenshots" / f"{test}-{step}.png"
        path.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        shutil.copy(path, ARTIFACTS / path.name)
        return path

    return _shot


def _after(page: Any, name: str) -> Any:
    return page.locator(f'#tree .node[data-name="{name}"]:not(.again) .after')


def _expect_whatif(page: Any, tree: Tree, changes: dict[str, float]) -> None:
    """Wait for every node to show the value `tree.whatif(changes)` gives, then compare exactly."""
    from playwright.sync_api import expect

    scenario = tree.whatif(changes)
    for name in tree.names:
        text = shown(scenario.after[name], tree, name)
        expect(_after(page, name)).to_have_text(text, timeout=WAIT)
        assert float(_after(page, name).get_attribute("data-value")) == scenario.after[name]


def test_moving_a_slider_recomputes_every_metric(open_page: Any, shot: Any) -> None:
    """Moving the managers slider shows every metric at the value `tree.whatif` gives."""
    from playwright.sync_api import expect

    tree = sales_revenue()
    page = open_page(tree)
    shot(page, "1-start")
    _expect_whatif(page, tree, {})
    page.locator('input[type=range][data-leaf="managers"]').fill("7")
    _expect_whatif(page, tree, {"managers": 7})
    revenue = page.locator('#tree .node[data-name="revenue"]')
    expect(revenue.locator(".before")).to_have_text("2,640,000 RUB")
    expect(revenue.locator(".change")).to_have_text("+1,056,000 RUB (+40%)")  # 7/5 managers
    expect(page.locator('input[type=text][data-leaf="managers"]')).to_have_value("7")
    shot(page, "2-slider-moved")
    page.locator('input[type=range][data-leaf="call_to_purchase"]').fill("0.06")
    _expect_whatif(page, tree, {"managers": 7, "call_to_purchase": 0.06})
    shot(page, "3-two-sliders")
    page.locator("#reset").click()
    _expect_whatif(page, tree, {})


def test_typed_values_are_checked_by_the_server(open_page: Any, shot: Any) -> None:
    """A typed value the tree refuses shows the server's message and changes nothing."""
    from playwright.sync_api import expect

    tree = sales_revenue()
    page = open_page(tree)
    box = page.locator('input[type=text][data-leaf="call_to_purchase"]')
    error = page.locator('#tree .node[data-name="call_to_purchase"] .field-error')
    for typed, words in [("0,06", "decimal comma"), ("2", "outside its bounds"), ("many", "many")]:
        box.fill(typed)
        box.press("Enter")
        expect(error).to_contain_text(words, timeout=WAIT)
        expect(page.locator("#message")).to_contain_text(words)
        _expect_whatif(page, tree, {})
        shot(page, f"refused-{typed.replace(',', '_')}")
    box.fill("6%")
    box.press("Enter")
    _expect_whatif(page, tree, {"call_to_purchase": 0.06})
    expect(error).to_be_hidden()
    shot(page, "accepted")


def _seek(page: Any, metric: str, target: str, vary: str) -> None:
    page.select_option("#goal-metric", metric)
    page.fill("#goal-target", target)
    page.select_option("#goal-vary", vary)
    page.click("#goal-solve")


def test_goal_seek_finds_the_value_and_applies_it(open_page: Any, shot: Any) -> None:
    """Goal seek shows `tree.solve`'s value; Apply moves the tree to reach the target."""
    from playwright.sync_api import expect

    tree = sales_revenue()
    page = open_page(tree)
    _seek(page, "revenue", "3000000", "managers")
    needed = tree.solve("revenue", 3_000_000, "managers")
    expect(page.locator("#goal-text")).to_contain_text(
        f"managers = {shown(needed, tree, 'managers')}", timeout=WAIT
    )
    expect(page.locator("#goal-text")).to_contain_text("revenue = 3,000,000 RUB")
    shot(page, "1-solved")
    page.click("#goal-apply")
    _expect_whatif(page, tree, {"managers": needed})
    expect(_after(page, "revenue")).to_have_text("3,000,000 RUB")
    shot(page, "2-applied")


def test_goal_seek_explains_an_infeasible_target(open_page: Any, shot: Any) -> None:
    """A target out of a KPI's bounds shows the reason and the value it would need."""
    from playwright.sync_api import expect

    tree = sales_revenue()
    page = open_page(tree)
    _seek(page, "revenue", "100000000", "call_to_purchase")
    with pytest.raises(InfeasibleGoalError) as caught:
        tree.solve("revenue", 100_000_000, "call_to_purchase")
    assert caught.value.needed is not None
    text = page.locator("#goal-text")
    expect(text).to_contain_text("Infeasible", timeout=WAIT)
    expect(text).to_contain_text(shown(caught.value.needed, tree, "call_to_purchase"))
    expect(page.locator("#goal-apply")).to_be_hidden()
    shot(page, "infeasible")


def test_levers_are_filtered_by_owner_and_horizon(open_page: Any, shot: Any) -> None:
    """The levers panel lists what `tree.levers` gives for the owner and horizon chosen."""
    from playwright.sync_api import expect

    tree = sales_revenue()
    page = open_page(tree)
    rows = page.locator("#levers-table tbody tr[data-name]")

    def names() -> list[str]:
        return [rows.nth(i).get_attribute("data-name") for i in range(rows.count())]

    page.select_option("#levers-metric", "revenue")
    expect(rows).to_have_count(len(tree.sensitivity("revenue")), timeout=WAIT)
    assert names() == [r.name for r in tree.sensitivity("revenue")]
    shot(page, "1-all")
    page.select_option("#levers-owner", "sales")
    expected = [r.name for r in tree.levers("revenue", owner="sales")]
    expect(rows).to_have_count(len(expected), timeout=WAIT)
    assert names() == expected
    shot(page, "2-sales")
    page.select_option("#levers-within", "1 day")
    expected = [r.name for r in tree.levers("revenue", within="1 day", owner="sales")]
    expect(rows).to_have_count(len(expected), timeout=WAIT)
    assert names() == expected == ["calls_per_day"]
    expect(page.locator("#levers-summary")).to_contain_text("within 1 day, owned by sales")
    shot(page, "3-sales-within-1-day")


def test_scenarios_are_saved_and_compared(open_page: Any, shot: Any, tmp_path: Path) -> None:
    """Named scenarios are saved as values files and compared side by side with `whatif`."""
    from playwright.sync_api import expect

    from kpitree.io.values import load_values

    tree = sales_revenue()
    page = open_page(tree)
    for name, leaf, value in [
        ("hire_one", "managers", "6"),
        ("pricier", "avg_order_value", "13000"),
    ]:
        page.locator("#reset").click()
        _expect_whatif(page, tree, {})
        page.locator(f'input[type=range][data-leaf="{leaf}"]').fill(value)
        _expect_whatif(page, tree, {leaf: float(value)})
        page.fill("#scenario-name", name)
        page.click("#scenario-save")
        expect(page.locator(f'#scenario-list li[data-name="{name}"]')).to_be_visible(timeout=WAIT)
        assert load_values(tmp_path / "scenarios" / f"{name}.json") == {leaf: float(value)}
    shot(page, "1-saved")
    page.locator("#compare-current").uncheck()
    page.locator('#scenario-list input[value="hire_one"]').check()
    page.locator('#scenario-list input[value="pricier"]').check()
    page.click("#compare")
    table = page.locator("#compare-table")
    expect(table).to_be_visible(timeout=WAIT)
    expect(table.locator("thead th")).to_have_text(["node", "model", "hire_one", "pricier"])
    revenue = table.locator('tbody tr[data-name="revenue"] td')
    hire, pricier = tree.whatif({"managers": 6}), tree.whatif({"avg_order_value": 13000})
    expect(revenue.nth(2)).to_contain_text(shown(hire.after["revenue"], tree, "revenue"))
    expect(revenue.nth(3)).to_contain_text(shown(pricier.after["revenue"], tree, "revenue"))
    shot(page, "2-compared")


def test_cyrillic_tree_displays_and_shows_norm_status(open_page: Any, shot: Any) -> None:
    """Russian names display; a conversion moved below its 80% norm is marked failing."""
    from playwright.sync_api import expect

    tree = qualified_leads_ru()
    page = open_page(tree)
    expect(page.locator("#title")).to_have_text("квал_лиды")
    for name in tree.names:
        expect(page.locator(f'#tree .node[data-name="{name}"] .node-name')).to_have_text(name)
    norm = page.locator('#tree .node[data-name="конверсия_в_квал"] .norm')
    expect(norm).to_contain_text("✓")
    page.locator('input[type=range][data-leaf="конверсия_в_квал"]').fill("0.7")
    _expect_whatif(page, tree, {"конверсия_в_квал": 0.7})
    expect(norm).to_contain_text("✗", timeout=WAIT)
    expect(page.locator("#legend")).to_contain_text("маркетинг")
    shot(page, "cyrillic")

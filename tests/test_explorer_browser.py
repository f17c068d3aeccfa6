"""The explorer page driven in a real headless Chromium (Debian's), through Playwright.

Each step saves a screenshot under the test's `tmp_path` and under `tests/artifacts/`
(ignored by git).
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ARTIFACTS, needs_chromium

from kpitree.apps.server import ExplorerServer, make_server
from kpitree.display.style import shown
from kpitree.errors import InfeasibleGoalError
from kpitree.examples import qualified_leads_ru, sales_revenue
from kpitree.tree import Tree

ROOT = Path(__file__).resolve().parents[1]
WAIT = 15_000  # ms: generous, the machine is shared

pytestmark = needs_chromium


@pytest.fixture
def open_page(browser: Any, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Serve a tree on an ephemeral loopback port and open the explorer page on it.

    `lang` is put on the page's address (`?lang=ru`); `width` is the window's, in pixels.
    """
    servers: list[ExplorerServer] = []
    pages: list[Any] = []
    problems: list[str] = []

    def _open(tree: Tree, *, lang: str | None = None, width: int = 1400) -> Any:
        server = make_server(tree, port=0, values_dir=tmp_path / "scenarios")
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        page = browser.new_page(viewport={"width": width, "height": 950})
        pages.append(page)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
        )
        page.goto(server.url + (f"?lang={lang}" if lang else ""))
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
    """Save a full-page screenshot of a step, in tmp_path and in tests/artifacts/."""
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


def _english_left(page: Any, english: dict[str, str], russian: dict[str, str]) -> list[str]:
    """Return English words left in the page's visible text.

    Those of the page's messages, and any other Latin word (the Russian tree has none).
    """
    text = page.evaluate("document.body.innerText")
    left = []
    for source, translated in russian.items():
        if translated == english[source]:
            continue
        for piece in re.split(r"\{\w+\}", source):
            if re.search(r"[A-Za-z]{3}", piece) and piece.strip() in text:
                left.append(piece.strip())
    left += [w for w in re.findall(r"[A-Za-z]{2,}", text) if w != "kpitree"]
    return left


def _no_sideways_scroll(page: Any) -> None:
    """Neither the page nor any panel or table scrolls sideways."""
    wide = page.evaluate(
        """[document.documentElement, ...document.querySelectorAll('.panel, table')]
        .filter((e) => e.scrollWidth > e.clientWidth)
        .map((e) => `${e.id || e.tagName}: ${e.scrollWidth} > ${e.clientWidth}`)"""
    )
    assert wide == []


def test_the_page_speaks_russian_and_fits_1280_px(open_page: Any, shot: Any) -> None:
    """In Russian at 1,280 px the page has no English left and no sideways scroll.

    Decimal-comma inputs move the metric, the goal box starts at the target, standards
    and owners are shown.
    """
    import json
    import urllib.request

    from playwright.sync_api import expect

    from kpitree import KPI, Metric

    base = qualified_leads_ru()
    leads, rate = base["лиды"], base["конверсия_в_квал"]
    assert isinstance(leads, KPI) and isinstance(rate, KPI)
    tree = Tree(Metric("квал_лиды", leads * rate, unit="лид", target=900))
    page = open_page(tree, lang="ru", width=1280)
    words = {}
    for lang in ("en", "ru"):
        address = page.url.split("?")[0] + f"api/messages?lang={lang}"
        with urllib.request.urlopen(address, timeout=30) as answer:  # noqa: S310 - loopback
            words[lang] = json.loads(answer.read())["messages"]
    assert page.evaluate("document.documentElement.lang") == "ru"
    expect(page.locator("#levers-panel h2")).to_have_text("Рычаги")
    expect(page.locator("#reset")).to_have_text("Сбросить всё")
    expect(page.locator("#levers-table thead th").last).to_have_text("+1 % →")
    expect(page.locator("#goal-target")).to_have_value("900")
    standard = page.locator('#tree .node[data-name="конверсия_в_квал"] .standards li')
    expect(standard).to_contain_text("отвечать на каждую входящую заявку в течение 15 минут")
    expect(standard).to_contain_text("не измерен")
    expect(page.locator('#owners-table tr[data-owner="продажи"]')).to_contain_text("0 / 1")
    shot(page, "1-start")
    assert _english_left(page, words["en"], words["ru"]) == []
    _no_sideways_scroll(page)

    box = page.locator('input[type=text][data-leaf="конверсия_в_квал"]')
    box.fill("0,85")
    box.press("Enter")
    expect(_after(page, "квал_лиды")).to_have_text("850 лид", timeout=WAIT)
    box = page.locator('input[type=text][data-leaf="лиды"]')
    box.fill("1 200")
    box.press("Enter")
    expect(_after(page, "квал_лиды")).to_have_text("1\u00a0020 лид", timeout=WAIT)
    top = page.locator('#tree .node[data-name="квал_лиды"]:not(.again) .change')
    expect(top).to_have_class(re.compile(r"\bbetter\b"))
    rate_change = page.locator('#tree .node[data-name="конверсия_в_квал"]:not(.again) .change')
    expect(rate_change).to_contain_text("+5 п.п.")
    expect(box).to_have_value("1200")
    expect(page.locator('#owners-table tr[data-owner="маркетинг"]')).to_contain_text("1 / 1")
    shot(page, "2-decimal-comma")

    page.click("#goal-solve")
    goal = page.locator("#goal-text")
    expect(goal).to_contain_text("получится квал_лиды = 900 лид", timeout=WAIT)
    page.select_option("#levers-within", "1 день")
    expect(page.locator("#levers-summary")).to_contain_text(
        "горизонт влияния ≤ 1 день", timeout=WAIT
    )
    page.fill("#scenario-name", "план_май")
    page.click("#scenario-save")
    expect(page.locator('#scenario-list li[data-name="план_май"]')).to_contain_text("2 значения")
    page.click("#compare")
    expect(page.locator("#compare-table")).to_be_visible(timeout=WAIT)
    expect(page.locator("#compare-table thead th").first).to_have_text("узел")
    shot(page, "3-everything-open")
    assert _english_left(page, words["en"], words["ru"]) == []
    _no_sideways_scroll(page)

    box.fill("900")
    box.press("Enter")
    expect(_after(page, "квал_лиды")).to_have_text("765 лид", timeout=WAIT)
    expect(top).to_have_class(re.compile(r"\bworse\b"))  # a metric's drop is red
    shot(page, "4-drop-is-red")


def test_the_levers_table_fits_1280_px_with_its_impact_column(open_page: Any, shot: Any) -> None:
    """The seven-column levers table of a bigger tree shows `+1% →` without sideways scroll."""
    from playwright.sync_api import expect

    page = open_page(sales_revenue(), width=1280)
    page.select_option("#levers-metric", "revenue")
    impact = page.locator("#levers-table tbody tr[data-name] td.impact")
    expect(impact).to_have_count(5, timeout=WAIT)
    # The table may be drawn again as the page settles: read the cell's box through the
    # locator in one step (a box taken apart from the visibility check can be of a cell
    # already replaced, and then None).
    expect(impact.first).to_be_visible(timeout=WAIT)
    assert impact.first.evaluate("cell => cell.getBoundingClientRect().x") + 20 < 1280
    _no_sideways_scroll(page)
    shot(page, "levers-1280")

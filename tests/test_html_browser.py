"""The notebook HTML of a tree and of an attribution, laid out by a real headless Chromium.

Each page is written to a file, opened at a narrow width that makes cells wrap, and
screenshotted under `tests/artifacts/` (gitignored), like the
explorer's screenshots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import ARTIFACTS, needs_chromium

import kpitree as kt
from kpitree.examples import qualified_leads_ru, sales_revenue

ROOT = Path(__file__).resolve().parents[1]

pytestmark = needs_chromium

# For each `└` in the page: the top of the connector's own box and the top of the name
# beside it (the next <b>), measured by the browser. A connector that wrapped away from
# its name sits a line above it.
_CONNECTORS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf("└");
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + 1);
    const cell = node.parentElement.closest("td");
    const name = cell.querySelector("b");
    out.push({
      name: name.textContent,
      connector: range.getBoundingClientRect().top,
      label: name.getBoundingClientRect().top,
    });
  }
  return out;
}"""


def _open(browser: Any, body: str, path: Path, width: int) -> Any:
    path.write_text(
        f'<!doctype html><html lang="ru"><meta charset="utf-8"><body>{body}</body></html>',
        encoding="utf-8",
    )
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(path.as_uri())
    return page


def _screenshot(page: Any, tmp_path: Path, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for folder in (tmp_path, ARTIFACTS):
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("width", [360, 1000])
def test_no_connector_sits_alone_on_a_line(browser: Any, tmp_path: Path, width: int) -> None:
    """In the tree's HTML each `└` is on the line of its name, however narrow the page."""
    long_names = kt.Tree(
        kt.Metric(
            "выручка_по_всем_каналам_продаж_за_месяц",
            "количество_квалифицированных_лидов_из_рекламы * средний_чек_по_оплаченным_заказам",
            unit="руб",
        ),
        kt.KPI(
            "количество_квалифицированных_лидов_из_рекламы",
            owner="маркетинг",
            horizon="1 день",
            value=800,
            unit="лид",
        ),
        kt.KPI(
            "средний_чек_по_оплаченным_заказам",
            owner="продажи",
            horizon="1 месяц",
            value=1200,
            unit="руб/лид",
        ),
    )
    with kt.locale("ru"):
        tree_html_pages = [
            qualified_leads_ru()._repr_html_(),
            sales_revenue()._repr_html_(),
            long_names._repr_html_(),
        ]
        body = "".join(tree_html_pages)
    page = _open(browser, body, tmp_path / "tree.html", width)
    try:
        _screenshot(page, tmp_path, f"html-tree-ru-{width}")
        found = page.evaluate(_CONNECTORS)
        assert len(found) == 2 + 7 + 2
        for row in found:
            assert abs(row["connector"] - row["label"]) < 4, row
        assert "Дерево: 1 метрика, 2 КПЭ" in page.inner_text("body")
    finally:
        page.close()


def test_attribution_html_in_russian(browser: Any, tmp_path: Path) -> None:
    """An attribution and its accountability render in Russian; nothing sticks out of the page."""
    tree = qualified_leads_ru()
    after = {"лиды": 2000, "конверсия_в_квал": 0.6}
    with kt.locale("ru"):
        body = (
            tree.attribute("квал_лиды", {}, after)._repr_html_()
            + tree.accountability("квал_лиды", {}, after)._repr_html_()
            + tree.tornado("квал_лиды", swing="10%")._repr_html_()
        )
    page = _open(browser, body, tmp_path / "attribution.html", 1000)
    try:
        _screenshot(page, tmp_path, "html-attribution-ru")
        text = page.inner_text("body").replace("\xa0", " ")
        for words in (
            "Факторный анализ квал_лиды: +400 лидов (Шепли)",
            "доля в сумме вкладов по модулю",
            "ответственный / КПЭ",
            "торнадо квал_лиды",
        ):
            assert words in text
        overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not overflow
    finally:
        page.close()

"""Jupyter displays: self-contained HTML, LaTeX formulas, Markdown; terminal colour."""

import html
import io
import re

import pytest
from hypothesis import given, settings

import kpitree as kt
from kpitree.display.html import (
    MAX_LATEX_METRICS,
    attribution_html,
    latex,
    partial_latex,
    scenario_html,
    sensitivity_html,
    simulation_html,
    status_html,
    status_markdown,
    tree_html,
    tree_latex,
    values_html,
)
from kpitree.display.style import VERDICT_COLOURS, owner_colours
from kpitree.display.terminal import colour, use_colour, visible_width
from kpitree.display.text import render_tree
from kpitree.examples import qualified_leads, qualified_leads_ru, saas_mrr, sales_revenue
from kpitree.testing import random_tree, trees

GREEN, RED, GREY = VERDICT_COLOURS["better"], VERDICT_COLOURS["worse"], VERDICT_COLOURS["neutral"]


def hostile_tree() -> kt.Tree:
    """A tree whose owner, unit and standard texts are markup."""
    a = kt.KPI(
        "a",
        owner="<script>alert(1)</script>",
        horizon="1 day",
        value=2,
        standards=['<img src="x">'],
        norm=">= 1",
    )
    return kt.Tree(kt.Metric("m", a * 3))


ALLOWED_TAGS = {"div", "span", "table", "tr", "th", "td", "b", "code"}
ALLOWED_ATTRIBUTES = {"class", "style", "colspan"}


def assert_self_contained(page: str) -> None:
    """Only plain layout tags with inline styles: no scripts, links, images or style blocks."""
    for tag in re.findall(r"<([a-zA-Z][^>]*)>", page):
        name, *rest = tag.split(None, 1)
        assert name in ALLOWED_TAGS, tag
        attributes = re.findall(r'([a-z-]+)="[^"]*"', rest[0]) if rest else []
        assert set(attributes) <= ALLOWED_ATTRIBUTES, tag
    assert "url(" not in page and "@import" not in page


def cells_of(page: str, color: str) -> list[str]:
    """Return the texts of the spans drawn in `color`."""
    return [
        html.unescape(t) for t in re.findall(rf'<span style="color: {color}[^"]*">([^<]*)', page)
    ]


def test_tree_html_shows_values_units_owners_and_norms() -> None:
    """The tree's HTML has each node's value with unit, its owner's colour and a norm badge."""
    tree = qualified_leads()
    page = tree_html(tree, {"lead_to_ql": 0.75})
    assert "750 lead" in page and "1,000 lead" in page and "75%" in page
    assert "≥ 80% ✗" in page and "#cf222e" in page  # the failing badge is red
    for owner, colour_code in owner_colours(tree).items():
        if owner != "external":
            assert f"background: {colour_code}" in page
    assert_self_contained(page)


def test_html_escapes_every_text() -> None:
    """Owners and standards that are markup are shown as text, never run."""
    tree = hostile_tree()
    pages = [tree_html(tree), status_html(tree.status()), values_html(tree.evaluate())]
    for page in pages:
        assert_self_contained(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0]


@given(trees())
@settings(max_examples=30)
def test_random_trees_render_every_node(tree: kt.Tree) -> None:
    """Any valid tree gives HTML with one row per node occurrence, each name escaped in bold."""
    page = tree_html(tree)
    for name in tree.names:
        assert f"<b>{name}</b>" in page or f"{name} <span" in page
    assert page.count("<tr>") == 1 + len(render_tree(tree, width=10**6).splitlines())


def test_big_tree_html_is_cut_with_a_note() -> None:
    """A table longer than the row limit ends with how many rows were left out."""
    tree = random_tree(400, seed=1)
    page = tree_html(tree)
    rows = len(render_tree(tree, width=10**6).splitlines())  # one line per node drawn
    assert rows > 500
    assert f"… {rows - 500} more" in page


def test_values_and_status_html() -> None:
    """Values show units; status shows a badge per norm and the verdict line."""
    tree = qualified_leads()
    assert "1,000 lead" in values_html(tree.evaluate())
    page = status_html(tree.status({"lead_to_ql": 0.7, "response_minutes": 20}))
    assert "≥ 80% ✗" in page and "≤ 15 ✗" in page and "1 below norm" in page
    assert "+10 pp" in page  # the conversion must rise 10 points to meet its norm
    assert "all norms met" in status_html(tree.status())


@pytest.mark.parametrize(
    ("change", "colour_code"),
    [("2%", GREEN), ("4%", RED)],
)
def test_scenario_colours_follow_the_norm_not_the_sign(change: str, colour_code: str) -> None:
    """Churn (norm ≤ 3%) going down is green and going up is red; ARPA (no norm) rising green.

    A node without direction or norm is higher-is-better (`Graph.direction`), no longer grey.
    """
    tree = saas_mrr()
    page = scenario_html(tree.whatif({"churn_rate": change, "arpa": "+5%"}))
    assert cells_of(page, colour_code)[:1] == [("−" if change == "2%" else "+") + "1 pp"]
    assert "+125 RUB/customer" in cells_of(page, GREEN)
    assert_self_contained(page)


def test_scenario_without_change() -> None:
    """A scenario that changes nothing says so."""
    assert "no node changes" in scenario_html(qualified_leads().whatif({"leads": 1000}))


def test_sensitivity_html_bars_in_owner_colours() -> None:
    """Each leaf's bar has its owner's colour and a width proportional to its impact."""
    tree = sales_revenue()
    s = tree.sensitivity("revenue", {"managers": 10})
    page = sensitivity_html(s)
    widths = [float(w) for w in re.findall(r"width: ([0-9.]+)px; background", page)]
    largest = max(abs(r.impact_1pct) for r in s)
    assert widths == pytest.approx([80 * abs(r.impact_1pct) / largest for r in s], abs=0.06)
    assert f"background: {owner_colours(tree)['head_of_sales']}; margin-left" in page
    assert "by owner:" in page


def test_attribution_html_judges_by_the_metric_norm() -> None:
    """Contributions that raise a metric with a `>=` norm are green, lowering ones red."""
    leads = kt.KPI("leads", owner="marketing", horizon="1 day", value=1000, unit="lead")
    rate = kt.KPI("rate", owner="sales", horizon="1 day", value=0.8, unit="%")
    tree = kt.Tree(kt.Metric("ql", leads * rate, unit="lead", norm=">= 700"))
    a = tree.attribute("ql", {}, {"leads": 1100, "rate": 0.7})
    page = attribution_html(a)
    # Shapley for a product: Δleads·(r0 + r1)/2 = 100·0.75 = 75; Δrate·(l0 + l1)/2 = −105.
    assert "+75 lead" in cells_of(page, GREEN) and "−105 lead" in cells_of(page, RED)
    assert "Attribution of ql: −30 lead (Shapley)" in page
    assert_self_contained(page)


def test_simulation_html_from_public_attributes() -> None:
    """A simulation shows mean, spread and quantiles in the metric's unit."""

    class Simulation:
        metric = "qualified_leads"
        mean, sd, n = 800.0, 40.0, 1000
        tree = qualified_leads()

        def quantile(self, q: float) -> float:
            return 700 + 200 * q

    page = simulation_html(Simulation())
    assert "800 lead" in page and "40 lead" in page and "890 lead" in page  # p95 = 700 + 190
    assert "1,000 draws" in page


@pytest.mark.parametrize(
    ("tree", "name", "expected"),
    [
        (
            qualified_leads(),
            "qualified_leads",
            r"\text{qualified\_leads} = \text{lead\_to\_ql} \cdot \text{leads}",
        ),
        (
            qualified_leads_ru(),
            "квал_лиды",
            r"\text{квал\_лиды} = \text{конверсия\_в\_квал} \cdot \text{лиды}",
        ),
        (
            kt.Tree(
                kt.Metric("E", "beta / gamma", unit=None),
                kt.Input("beta", value=1),
                kt.Input("gamma", value=2),
            ),
            "E",
            r"\text{E} = \frac{\text{beta}}{\text{gamma}}",
        ),
        (qualified_leads(), "leads", r"\text{leads} = \text{leads}"),
    ],
)
def test_latex_names_are_upright_text(tree: kt.Tree, name: str, expected: str) -> None:
    """Names are upright text with escaped underscores: no subscripts, no Greek letters."""
    assert latex(tree, name) == expected
    assert tree.latex(name) == expected


def test_latex_of_the_whole_tree_and_partials() -> None:
    """Every metric in an aligned block; a partial derivative as a fraction of ∂."""
    tree = sales_revenue()
    block = latex(tree)
    assert block.startswith("\\begin{aligned}") and block.count("&=") == len(tree.metrics)
    assert r"\text{calls\_per\_day}" in latex(tree, "revenue", expand=True)
    assert partial_latex(tree, "calls", "managers") == (
        r"\frac{\partial \text{calls}}{\partial \text{managers}} = "
        r"\text{calls\_per\_day} \cdot \text{working\_days}"
    )
    assert tree._repr_latex_() == f"$${block}$$"


def test_latex_display_skips_big_trees() -> None:
    """A tree with more metrics than the limit gives no LaTeX display (None)."""
    tree = random_tree(200, seed=2)
    assert len(tree.metrics) > MAX_LATEX_METRICS
    assert tree_latex(tree) is None


def test_latex_unknown_name() -> None:
    """Asking for the LaTeX of a node the tree does not have names it with a hint."""
    with pytest.raises(kt.UnknownNameError, match="did you mean"):
        latex(qualified_leads(), "lead")


def test_markdown_displays() -> None:
    """The tree's Markdown is its outline in a code block; status is a table with | escaped."""
    tree = qualified_leads()
    assert tree._repr_markdown_() == f"```text\n{tree}\n```"
    a = kt.KPI("a", owner="x | y", horizon="1 day", value=0, norm=">= 1")
    table = status_markdown(kt.Tree(kt.Metric("m", a * 2)).status())
    assert table.splitlines()[2] == "| ✗ | a | 0 | ≥ 1 | x \\| y |"


def test_tree_repr_html_delegates() -> None:
    """Jupyter's `_repr_html_` of a tree is `tree_html` at its default values."""
    tree = qualified_leads()
    assert tree._repr_html_() == tree_html(tree)


class FakeStream(io.StringIO):
    """A stream that says whether it is a terminal."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        """Return what the test says."""
        return self.tty


@pytest.mark.parametrize(
    ("tty", "environ", "expected"),
    [
        (True, {}, True),
        (False, {}, False),
        (True, {"NO_COLOR": "1"}, False),
        (True, {"TERM": "dumb"}, False),
        (False, {"FORCE_COLOR": "1"}, True),
        (True, {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),
        (True, {"NO_COLOR": ""}, True),
    ],
)
def test_use_colour(tty: bool, environ: dict[str, str], expected: bool) -> None:
    """Colour on a terminal only, off with NO_COLOR or TERM=dumb, on with FORCE_COLOR."""
    assert use_colour(FakeStream(tty), environ) is expected


def test_colour_codes_and_width() -> None:
    """Coloured text keeps its visible width; disabled colour returns the text unchanged."""
    text = colour("✗ below norm", "worse", True)
    assert text.startswith("\x1b[31m") and text.endswith("\x1b[0m")
    assert visible_width(text) == len("✗ below norm")
    assert colour("x", "worse", False) == "x"
    with pytest.raises(kt.ArgumentError, match="unknown colour kind"):
        colour("x", "purple", True)


def test_real_simulation_html() -> None:
    """A `Simulation` from the tree shows its metric's statistics in its unit."""
    pytest.importorskip("numpy")
    from kpitree.model.distributions import Uniform

    sim = qualified_leads().simulate(n=1_000, seed=3, distributions={"leads": Uniform(900, 1100)})
    page = simulation_html(sim)
    assert "Simulation of qualified_leads (1,000 draws)" in page
    assert shown_mean(sim) in page


def shown_mean(sim: object) -> str:
    """Return the simulation's mean as the display writes it."""
    from kpitree.display.style import shown

    return shown(sim.mean, sim.tree, "qualified_leads")  # type: ignore[attr-defined]


def test_markdown_fence_in_an_owner_cannot_end_the_code_block() -> None:
    """An owner holding a newline, a fence and `<script>` stays inside the Markdown block."""
    owner = "sales\n```\n<script>alert(1)</script>\n````"
    tree = kt.Tree(kt.Metric("m", kt.KPI("a", owner=owner, horizon="1 day", value=1) * 2))
    block = tree._repr_markdown_()
    lines = block.split("\n")
    assert lines[0] == "`````text" and lines[-1] == "`````"
    assert not any(line.lstrip().startswith("```") for line in lines[1:-1])
    assert "sales\\x0a```\\x0a<script>" in block  # shown, as text, on the owner's line


def test_markdown_status_cells_escape_markup() -> None:
    """A status row keeps its five cells; an owner's `|`, `<b>` and backticks are text."""
    a = kt.KPI("a", owner="x | <b>`y`</b>", horizon="1 day", value=1, norm=">= 2")
    tree = kt.Tree(kt.Metric("m", a * 2))
    row = tree.status()._repr_markdown_().split("\n")[2]
    assert row == "| ✗ | a | 1 | ≥ 2 | x \\| \\<b\\>\\`y\\`\\</b\\> |"


# -- Russian, headers, every result (issues 14 and 18) ---------------------------------------------


def _result_classes() -> list[type]:
    import importlib
    import pkgutil

    import kpitree.analyses
    from kpitree.model.results import Result

    for module in pkgutil.walk_packages(kpitree.analyses.__path__, "kpitree.analyses."):
        importlib.import_module(module.name)
    found, todo = [], [Result]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("kpitree."):
                found.append(sub)
                todo.append(sub)
    return found


def test_every_result_class_has_an_html_display() -> None:
    """Each result class draws as HTML: its own table, or its text through `result_html`."""
    from kpitree.model.render import renderers

    registry = renderers()
    classes = _result_classes()
    assert len(classes) >= 12
    for cls in classes:
        paths = [f"{c.__module__}.{c.__qualname__}" for c in cls.__mro__]
        assert any((path, "html") in registry for path in paths), cls
    for own in ("attribution.results.Accountability", "uncertainty.swings.Tornado"):
        assert (f"kpitree.analyses.{own}", "html") in registry


def test_accountability_tornado_and_other_results_show_as_html() -> None:
    """`accountability`, a tornado, Sobol indices and a cascade all have an HTML display."""
    tree = qualified_leads()
    after = {"leads": 2000, "lead_to_ql": 0.6}
    pages = {
        "accountability": tree.accountability("qualified_leads", {}, after)._repr_html_(),
        "tornado": tree.tornado("qualified_leads", swing="10%")._repr_html_(),
        "sobol": tree.sobol(
            "qualified_leads",
            n=64,
            seed=1,
            distributions={"leads": kt.Uniform(900, 1100), "lead_to_ql": kt.Uniform(0.7, 0.9)},
        )._repr_html_(),
        "cascade": tree.cascade("qualified_leads", 900)._repr_html_(),
    }
    for kind, page in pages.items():
        assert page and page.startswith('<div class="kpitree"'), kind
        assert_self_contained(page)
    # qualified_leads has no norm, so higher is better: a rise is green, a drop red.
    assert "+700 lead" in cells_of(pages["accountability"], GREEN)
    assert "−300 lead" in cells_of(pages["accountability"], RED)
    assert "60% ✗" in html.unescape(pages["accountability"])
    assert "720 lead → 880 lead" in pages["tornado"]


@pytest.mark.parametrize(
    ("make", "english", "russian"),
    [
        (qualified_leads, "Tree: 1 metric, 2 KPIs", "Дерево: 1 метрика, 2 КПЭ"),
        (sales_revenue, "Tree: 3 metrics, 4 KPIs, 1 input", "Дерево: 3 метрики, 4 КПЭ, 1 вход"),
    ],
)
def test_tree_html_header_counts_in_the_right_plural(
    make: type[kt.Tree], english: str, russian: str
) -> None:
    """The header counts each kind with its own plural (never `1 inputs`), in each locale."""
    tree = make()
    assert f">{english}<" in tree_html(tree)
    with kt.locale("ru"):
        assert f">{russian}<" in tree_html(tree)


def test_tree_html_keeps_the_connector_with_the_name() -> None:
    """Every `└` sits in one unbreakable run with its name, so it cannot wrap onto its own line."""
    page = tree_html(sales_revenue())
    runs = re.findall(r'<span class="kpitree-name" style="white-space: nowrap">(.*?)</span>', page)
    connectors = page.count("└")
    assert connectors == len(sales_revenue().names) - 1
    # The connector and the name are inside the nowrap run: the run holds the connector and
    # the name after a no-break space.
    inside = re.findall(
        r'white-space: nowrap">(?:<span style="padding-left: [\d.]+em"></span>)'
        r'<span class="kpitree-connector">└</span>\u00a0<b>[^<]+</b></span>',
        page,
    )
    assert len(inside) == connectors and runs


def test_tree_html_shows_targets() -> None:
    """A metric's target has its own column, in the metric's unit."""
    leads = kt.KPI("leads", owner="marketing", horizon="1 day", value=1000, unit="lead")
    tree = kt.Tree(kt.Metric("ql", leads * 0.8, unit="lead", target=900))
    page = tree_html(tree)
    assert ">target<" in page and ">900 lead<" in page
    with kt.locale("ru"):
        assert ">цель<" in tree_html(tree)
    assert ">target<" not in tree_html(qualified_leads())  # no target, no column


def test_html_in_russian() -> None:
    """Under `ru` the tree, attribution, accountability, tornado and status speak Russian."""
    tree = qualified_leads_ru()
    after = {"лиды": 2000, "конверсия_в_квал": 0.6}
    with kt.locale("ru"):
        pages = {
            "tree": tree._repr_html_(),
            "attribution": tree.attribute("квал_лиды", {}, after)._repr_html_(),
            "accountability": tree.accountability("квал_лиды", {}, after)._repr_html_(),
            "tornado": tree.tornado("квал_лиды", swing="10%")._repr_html_(),
            "status": tree.status({"конверсия_в_квал": 0.6})._repr_html_(),
            "scenario": tree.whatif({"лиды": 1200})._repr_html_(),
        }
    words = {
        "tree": ["узел", "формула", "значение", "ответственный", "горизонт влияния", "КПЭ"],
        "attribution": ["Факторный анализ квал_лиды: +400 лидов (Шепли)", "вклад", "+70 %"],
        "accountability": ["ответственный / КПЭ", "до", "после", "конверсия_в_квал (совместно)"],
        "tornado": ["торнадо квал_лиды", "размах", "мин → макс"],
        "status": ["до нормы", "1 ниже нормы"],
        "scenario": ["Сценарий", "до → после", "изменение"],
    }
    for kind, expected in words.items():
        text = html.unescape(pages[kind]).replace("\xa0", " ")
        for word in expected:
            assert word in text, (kind, word)
        for english in ("owner", "contribution", "share", "before", "after", "below norm"):
            assert f">{english}<" not in text, (kind, english)


@pytest.mark.parametrize(
    ("values", "english", "russian"),
    [
        ({"churn_rate": "2%"}, "4 other nodes unchanged", "ещё 4 узла без изменений"),
    ],
)
def test_scenario_html_counts_unchanged_nodes_in_the_right_plural(
    values: dict[str, str], english: str, russian: str
) -> None:
    """`9 other node(s) unchanged` is gone: the count takes its plural in each locale."""
    scenario = saas_mrr().whatif(values)
    assert "node(s)" not in scenario_html(scenario)
    assert english in scenario_html(scenario)
    with kt.locale("ru"):
        assert russian in scenario_html(scenario)

"""Text rendering of trees: readable at a glance, never failing."""

import pytest
from hypothesis import given

import kpitree as kt
from kpitree.display.text import render_tree
from kpitree.examples import EXAMPLES, dupont, qualified_leads_ru
from kpitree.testing import trees


def test_russian_tree_reads_well() -> None:
    """Cyrillic names, owners and units line up in the outline."""
    lines = qualified_leads_ru().render(width=120).splitlines()  # each node on one line
    assert lines[0].startswith("квал_лиды = лиды * конверсия_в_квал")
    assert "800 лидов" in lines[0]  # the unit's plural form
    assert "KPI · маркетинг · 1 день" in lines[1]  # the horizon as written
    assert "80%" in lines[2] and "≥ 80% ✓" in lines[2]


def test_shared_node_drawn_once() -> None:
    """A leaf used by two metrics appears under both; a shared metric is drawn in full once."""
    a = kt.KPI("a", owner="x", horizon="1 day", value=2)
    shared = kt.Metric("shared", a * 3)
    tree = kt.Tree(kt.Metric("top", shared + kt.Metric("other", shared * 2)))
    text = str(tree)
    assert text.count("shared = a * 3") == 1
    assert "shared (see above)" in text
    assert "revenue" in str(dupont())


def test_values_that_cannot_be_computed_show_question_marks() -> None:
    """Missing leaf values and undefined metrics render as ? instead of failing."""
    a = kt.KPI("a", owner="x", horizon="1 day")
    b = kt.Input("b", value=0)
    text = render_tree(kt.Tree(kt.Metric("m", a / b), kt.Metric("n", 1 / b)))
    assert "?" in text


def test_norm_failure_is_marked() -> None:
    """A KPI below its norm is marked with a cross."""
    assert "✗" in render_tree(qualified_leads_ru(), {"конверсия_в_квал": 0.5})


@given(trees(functions=("log", "sqrt", "min")))
def test_rendering_never_raises(tree: kt.Tree) -> None:
    """Any valid tree renders, one line per node occurrence, roots first."""
    text = str(tree)
    assert text.splitlines()[0].startswith(tree.roots[0].name)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_outline_fits_80_columns(name: str) -> None:
    """Every example's outline fits 80 columns: wide ones put the details on a line below."""
    lines = str(EXAMPLES[name]()).splitlines()
    assert max(len(line) for line in lines) <= 80


def test_narrow_outline_keeps_every_detail() -> None:
    """The two-line layout still shows each node's owner, horizon and norm status."""
    text = render_tree(EXAMPLES["sales_revenue"](), width=60)
    assert "│   │   ├── managers" in text
    assert "KPI · sales · 1 day · ≥ 40 call/manager/day ✓" in text
    assert "input · external" in text


def test_results_read_as_their_text_at_the_prompt() -> None:
    """`>>> tree.status()` shows the table, not `<... object at 0x...>`; mappings keep theirs."""
    from kpitree.examples import qualified_leads

    tree = qualified_leads()
    for result in (
        tree.status(),
        tree.whatif({"leads": "+10%"}),
        tree.sensitivity("qualified_leads"),
        tree.cascade("qualified_leads", 900),
    ):
        assert repr(result) == str(result) and " object at 0x" not in repr(result)
    assert repr(tree.evaluate()).startswith("Values({")

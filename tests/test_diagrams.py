"""Tree diagrams: Mermaid and DOT text that is well-formed whatever the names, owners, units."""

import html
import re
import shutil
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings

import kpitree as kt
from kpitree.display.diagrams import to_dot, to_mermaid, to_svg
from kpitree.display.style import light, owner_colours
from kpitree.examples import qualified_leads, qualified_leads_ru, saas_mrr, sales_revenue
from kpitree.testing import trees

# A Mermaid node line: generated id, an opening shape, a label without quotes, the closing.
MERMAID_NODE = re.compile(r'^  (n\d+)(\(\["|\[/"|\[")([^"]*)("\]\)|"/\]|"\])$')
DOT_NODE = re.compile(r"^  (n\d+) \[(.*), label=<(.*)>\];$")


def awkward_tree() -> kt.Tree:
    """A tree whose owner and unit texts contain every character that breaks a syntax."""
    a = kt.KPI("a", owner='sales "A" <b>&#x; `x` | {y} \\N', horizon="1 day", value=2, unit="$")
    b = kt.Input("выручка_2", value=3)
    return kt.Tree(kt.Metric("m", a * b, norm=">= 100"))


def mermaid_nodes(text: str) -> list[re.Match[str]]:
    """Return the node lines of a Mermaid chart, failing on any malformed one."""
    lines = [line for line in text.splitlines()[1:] if "-->" not in line and "style" not in line]
    matches = [MERMAID_NODE.match(line) for line in lines]
    assert all(matches), [line for line, m in zip(lines, matches, strict=True) if not m]
    return [m for m in matches if m]


def dot_labels(text: str) -> dict[str, str]:
    """Return `{id: label}` of a DOT graph, failing on any malformed node line."""
    out = {}
    for line in text.splitlines()[2:-1]:
        if "->" in line:
            continue
        m = DOT_NODE.match(line)
        assert m, line
        out[m.group(1)] = m.group(3)
    return out


@pytest.mark.parametrize(
    ("name", "opening"),
    [("qualified_leads", '["'), ("leads", '(["'), ("lead_to_ql", '(["')],
)
def test_mermaid_shapes_by_kind(name: str, opening: str) -> None:
    """Metrics are boxes and KPIs are rounded in Mermaid."""
    (node,) = [
        m
        for m in mermaid_nodes(to_mermaid(qualified_leads()))
        if m.group(3).startswith(name + "<br>")
    ]
    assert node.group(2) == opening


def test_inputs_are_parallelograms() -> None:
    """An input is drawn as a parallelogram in both syntaxes."""
    tree = sales_revenue()
    index = tree.names.index("working_days")
    assert f'  n{index}[/"working_days<br>' in to_mermaid(tree)
    assert f"  n{index} [shape=parallelogram" in to_dot(tree)


def test_ids_are_generated_never_names() -> None:
    """Node ids are n0, n1, ... in tree order; Cyrillic names appear only inside labels."""
    tree = qualified_leads_ru()
    nodes = mermaid_nodes(to_mermaid(tree))
    assert [m.group(1) for m in nodes] == [f"n{i}" for i in range(len(tree))]
    assert [m.group(3).split("<br>")[0] for m in nodes] == list(tree.names)
    assert set(dot_labels(to_dot(tree))) == {f"n{i}" for i in range(len(tree))}


def test_mermaid_labels_escape_every_breaking_character() -> None:
    """Quotes, #, <, >, &, backticks, | and backslashes in a label are written as #codes;."""
    text = to_mermaid(awkward_tree())
    (label,) = [m.group(3) for m in mermaid_nodes(text) if m.group(3).startswith("a<br>")]
    meta = label.split("<br>")[2]
    assert meta == ("KPI · sales #34;A#34; #60;b#62;#38;#35;x; #96;x#96; #124; {y} #92;N · 1 day")


def test_dot_labels_escape_markup() -> None:
    """In DOT's HTML-like labels the only tags are line breaks and fonts; text is entities."""
    for label in dot_labels(to_dot(awkward_tree(), scenario={"a": 1})).values():
        bare = re.sub(r'<br/>|<font color="#[0-9a-f]{6}">|</font>', "", label)
        assert "<" not in bare and ">" not in bare
        assert not re.search(r"&(?!amp;|lt;|gt;|quot;|#x27;)", bare)
    # Every character comes back as it was once the entities are read and the doubled
    # backslash (Graphviz would read `\N` as the node's id) is shown as one.
    (label,) = [v for v in dot_labels(to_dot(awkward_tree())).values() if v.startswith("a<br/>")]
    assert (
        html.unescape(label.split("<br/>")[2]).replace("\\\\", "\\")
        == 'KPI · sales "A" <b>&#x; `x` | {y} \\N · 1 day'
    )


@given(trees())
@settings(max_examples=30)
def test_random_trees_give_well_formed_diagrams(tree: kt.Tree) -> None:
    """Any valid tree gives one node line per node and one edge per formula reference."""
    mermaid = to_mermaid(tree)
    assert len(mermaid_nodes(mermaid)) == len(tree)
    edges = sum(len(tree.children(n)) for n in tree.names)
    assert mermaid.count(" --> ") == edges
    dot = to_dot(tree)
    assert len(dot_labels(dot)) == len(tree)
    assert dot.count(" -> ") == edges


def test_values_with_units_and_percent() -> None:
    """Values are shown with their unit, fractions in % as percentages."""
    text = to_mermaid(qualified_leads(), {"leads": 1200})
    assert "960 lead" in text and "1,200 lead" in text and "80%  ≥ 80% ✓" in text


def test_norm_failure_gets_a_red_border() -> None:
    """A node below its norm, and only it, has a thick red border in both syntaxes."""
    tree = qualified_leads()
    index = tree.names.index("lead_to_ql")
    mermaid = to_mermaid(tree, {"lead_to_ql": 0.5})
    assert [line for line in mermaid.splitlines() if "stroke-width:3px" in line] == [
        f"  style n{index} fill:{light(owner_colours(tree)['sales'])},stroke:#cf222e,"
        "stroke-width:3px,color:#1f2328"
    ]
    dot = to_dot(tree, {"lead_to_ql": 0.5})
    assert [line.split()[0] for line in dot.splitlines() if "penwidth=3" in line] == [f"n{index}"]


def test_owner_colours_are_distinct_and_stable() -> None:
    """Each owner's KPIs share one fill, owners differ, and a new tree gives the same fills."""
    tree = saas_mrr()
    fills = {}
    for line in to_mermaid(tree).splitlines():
        if line.startswith("  style"):
            fills[line.split()[1]] = line.split("fill:")[1].split(",")[0]
    by_owner: dict[str, set[str]] = {}
    for kpi in tree.kpis:
        by_owner.setdefault(kpi.owner, set()).add(fills[f"n{tree.names.index(kpi.name)}"])
    assert all(len(f) == 1 for f in by_owner.values())
    assert len({next(iter(f)) for f in by_owner.values()}) == len(by_owner)
    assert to_mermaid(saas_mrr()) == to_mermaid(tree)


def test_scenario_drawn_with_verdicts() -> None:
    """A scenario shows before → after and each change, judged by the node's norm."""
    tree = saas_mrr()
    text = to_mermaid(tree, scenario=tree.whatif({"churn_rate": "2%"}))
    assert "3% → 2%  ≤ 3% ✓" in text
    assert "Δ −1 pp (−33.3%) · better" in text
    worse = to_mermaid(tree, scenario=tree.whatif({"churn_rate": "4%"}))
    assert "· worse" in worse and "≤ 3% ✗" in worse


def test_attribution_drawn_with_contributions() -> None:
    """An attribution shows each node's change and each leaf's part of the metric's change."""
    tree = qualified_leads()
    a = tree.attribute("qualified_leads", {}, {"leads": 1100, "lead_to_ql": 0.7})
    text = to_mermaid(tree, scenario=a)
    # 800 → 770: leads +100 (+10%) and the conversion −10 points; Shapley splits the change
    # of a product x·y as Δx·(y0 + y1)/2 and Δy·(x0 + x1)/2: +75 and −105.
    assert "800 lead → 770 lead" in text
    assert "Δ +100 lead (+10%) ⇒ +75 lead" in text
    assert "⇒ −105 lead" in text


def test_mapping_of_changes() -> None:
    """A plain mapping of changes is drawn on the nodes it names, in their units."""
    text = to_dot(qualified_leads(), scenario={"leads": -50, "qualified_leads": "-40"})
    assert "Δ −50 lead" in text and "Δ −40 lead" in text


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda t: to_mermaid(t, direction="XY"), kt.ArgumentError, "unknown diagram direction"),
        (lambda t: to_mermaid(t, scenario={"lead": 1}), kt.UnknownNameError, "did you mean"),
        (lambda t: to_dot(t, scenario={"leads": "many"}), kt.ValueTypeError, "`leads`"),
        (lambda t: to_dot(t, scenario=42), kt.ValueTypeError, "cannot draw a int"),
        (
            lambda t: to_mermaid(t, {"leads": 1}, scenario=t.whatif({"leads": 2})),
            kt.ArgumentError,
            "either `values`",
        ),
        (lambda t: to_dot(t, {"leads": "x"}), kt.ValueTypeError, "`leads`"),
    ],
)
def test_bad_inputs(call: object, error: type[Exception], words: str) -> None:
    """Bad directions, names, changes and values raise kpitree errors that say what is wrong."""
    with pytest.raises(error) as caught:
        call(qualified_leads())  # type: ignore[operator]
    assert words in str(caught.value)


def test_tree_methods_delegate() -> None:
    """`tree.to_mermaid` and `tree.to_dot` give the module functions' text."""
    tree = qualified_leads()
    assert tree.to_mermaid(direction="LR") == to_mermaid(tree, direction="LR")
    assert tree.to_dot({"leads": 5}) == to_dot(tree, {"leads": 5})


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_svg_through_graphviz() -> None:
    """With Graphviz installed, the DOT text renders to SVG that names every node."""
    svg = to_svg(awkward_tree())
    root = ET.fromstring(svg)  # noqa: S314  # made by our own `dot` call from our own text
    text = "".join(root.itertext())
    assert "выручка_2" in text and 'sales "A"' in text
    # The owner's `\N` is shown as written, not replaced by the node's id (`n1`).
    assert "{y} \\N · 1 day" in text


def test_svg_without_graphviz_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Graphviz, asking for SVG is a kpitree error that says to install it."""
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(kt.KPITreeError, match="Graphviz"):
        to_svg(qualified_leads())


def test_diagram_labels_in_russian() -> None:
    """Under `ru` the kind words, the external owner, the verdicts and the numbers are Russian."""
    tree = qualified_leads_ru()
    change = tree.attribute("квал_лиды", {}, {"лиды": 2000, "конверсия_в_квал": 0.6})
    with kt.locale("ru"):
        mermaid = to_mermaid(tree, scenario=change)
        dot = to_dot(sales_revenue())
    assert "квал_лиды<br>800 лидов → 1\xa0200 лидов<br>метрика" in mermaid
    assert "КПЭ · маркетинг · 1 день" in mermaid
    assert "−20 п.п." in mermaid and "· хуже" in mermaid
    assert "вход · внешние факторы" in dot and "2\xa0640\xa0000 RUB" in dot
    for english in ("metric", "KPI ·", "input ·", "external", "worse", "better"):
        assert english not in mermaid + dot, english

"""Text from a model is shown as text in every renderer: never markup, code or control."""

import contextlib
import io
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import kpitree as kt
from kpitree.apps.cli import main
from kpitree.display.diagrams import to_dot, to_mermaid
from kpitree.display.html import (
    scenario_html,
    sensitivity_html,
    status_html,
    status_markdown,
    tree_html,
    tree_markdown,
    values_html,
)
from kpitree.display.text import render_tree
from kpitree.model.escape import (
    dot_quoted,
    html_text,
    markdown_block,
    markdown_text,
    mermaid_text,
    mpl_text,
    terminal,
    visible,
)

# Random owners may look alike (`A` and `a`): the spelling warning is right, and beside the point.
pytestmark = pytest.mark.filterwarnings("ignore::kpitree.errors.SpellingWarning")

HOSTILE = (
    "```",
    "````",
    "`",
    "~~~",
    "<script>alert(1)</script>",
    "</code></pre>",
    "<img src=x onerror=alert(1)>",
    "]]>",
    "<![CDATA[",
    "-->",
    "<!--",
    "\x1b[31m",
    "\x1b]0;title\x07",
    "\x1b[2J",
    "\x9b31m",
    "\x07",
    "\x00",
    "\r",
    "\t",
    "\x7f",
    "\u202e",
    "\u2066",
    "\u200f",
    "\u2028",
    "\ud800",
    '"',
    "'",
    "\n",
    "\n\n",
    "%%",
    "%%{init: {'theme':'dark'}}%%",
    "click n0 call alert()",
    ":::cls",
    "$x$",
    "$",
    "\\",
    "\\N",
    "&amp;",
    "&#x3c;",
    "#34;",
    "|",
    "*x*",
    "_x_",
    "[a](javascript:alert(1))",
    "лиды",
    "é",
)

# C0 and C1 controls but newline, DEL, BiDi controls, line separators, surrogates.
INVISIBLE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff]"
)

hostile_text = (
    st.lists(st.sampled_from(HOSTILE) | st.text(max_size=4), min_size=1, max_size=8)
    .map("".join)
    .filter(lambda t: t.strip() != "")
)


def hostile_tree(owner: str, other: str, standard: str, description: str) -> kt.Tree:
    """A tree whose owners, standard and description are the given texts."""
    a = kt.KPI(
        "a",
        owner=owner,
        horizon="1 day",
        value=2,
        unit="$",
        norm=">= 3",
        standards=[standard],
        description=description,
    )
    b = kt.KPI("выручка", owner=other, horizon="1 week", value="80%", unit="%")
    c = kt.Input("c", value=5, description=description)
    return kt.Tree(kt.Metric("m", a * b + c, norm=">= 100", description=description))


trees = st.builds(hostile_tree, hostile_text, hostile_text, hostile_text, hostile_text)
TEXTS: settings = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def field_texts(tree: kt.Tree) -> list[str]:
    """Every free text of the tree: owners, standards, descriptions."""
    a = tree["a"]
    return [a.owner, tree["выручка"].owner, a.standards[0].text, a.description]


# -- the escape functions, one per language -------------------------------------------------------


@pytest.mark.parametrize(
    ("escape", "text", "expected"),
    [
        (terminal, "a\x1b[31mb", "a\\x1b[31mb"),
        (terminal, "\x9b2J\x07", "\\x9b2J\\x07"),
        (terminal, "x\u202ey", "x\\u202ey"),
        (terminal, "лиды é", "лиды é"),
        (terminal, "a\nb", "a\\x0ab"),
        (html_text, "<a href='x'>\"&", "&lt;a href=&#x27;x&#x27;&gt;&quot;&amp;"),
        (markdown_text, "a|b <i>", "a\\|b \\<i\\>"),
        (mermaid_text, 'x"]\n', "x#34;]#92;x0a"),
        (mermaid_text, "%%{init}%%", "%#37;{init}%#37;"),
        (dot_quoted, 'a"b\\', '"a\\"b\\\\"'),
        (mpl_text, "$x$", "\\$x\\$"),
    ],
)
def test_escape_table(escape: object, text: str, expected: str) -> None:
    """Each language's escape turns the dangerous characters into their inert form."""
    assert escape(text) == expected  # type: ignore[operator]


@given(st.text())
def test_visible_leaves_no_control_character(text: str) -> None:
    """After `visible`, no control, BiDi or surrogate character is left; others stay."""
    shown = visible(text)
    assert not INVISIBLE.search(shown) and "\n" not in shown
    assert visible(text, newlines=True).count("\n") == text.count("\n")
    kept = INVISIBLE.sub("", text).replace("\n", "")
    assert all(c in shown for c in kept)


@given(st.lists(st.sampled_from(HOSTILE) | st.text(max_size=6), max_size=10).map("".join))
def test_markdown_block_cannot_be_closed(text: str) -> None:
    """No line inside the block is a closing fence for it: the block ends where it says."""
    block = markdown_block(text)
    lines = block.split("\n")
    fence = lines[0][: len(lines[0]) - len("text")]
    assert set(fence) == {"`"} and lines[-1] == fence
    closing = re.compile(rf"^ {{0,3}}`{{{len(fence)},}}[ \t]*$")
    assert not any(closing.match(line) for line in lines[1:-1])


# -- HTML -----------------------------------------------------------------------------------------

_TAGS = {"div", "table", "tr", "th", "td", "span", "b", "code"}
_ATTRIBUTES = {"style", "class", "colspan"}


class _Audit(HTMLParser):
    """Collect what an HTML page is made of: tags, attributes, text, anything else."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.other: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.other.append(f"comment {data!r}")

    def handle_decl(self, decl: str) -> None:
        self.other.append(f"declaration {decl!r}")

    def handle_pi(self, data: str) -> None:
        self.other.append(f"processing instruction {data!r}")

    def unknown_decl(self, data: str) -> None:
        self.other.append(f"unknown declaration {data!r}")


def audit_html(page: str) -> _Audit:
    """Parse a page and check every element and attribute is one kpitree writes."""
    parser = _Audit()
    parser.feed(page)
    parser.close()
    assert not parser.other, parser.other
    for tag, attrs in parser.tags:
        assert tag in _TAGS, tag
        for name, value in attrs:
            assert name in _ATTRIBUTES, (tag, name)
            assert value is not None and "<" not in value and '"' not in value
    text = "".join(parser.text)
    assert not INVISIBLE.search(text)
    return parser


@given(trees)
@TEXTS
def test_html_holds_model_text_only_as_text(tree: kt.Tree) -> None:
    """Every HTML display parses into kpitree's own tags; the model's text is their text."""
    scenario = tree.whatif({"a": "+10%"})
    pages = [
        tree_html(tree),
        values_html(tree.evaluate()),
        status_html(tree.status()),
        sensitivity_html(tree.sensitivity("m")),
        scenario_html(scenario),
        tree._repr_html_(),
    ]
    for page in pages:
        assert page is not None
        audit_html(page)
    text = "".join(audit_html(pages[0]).text) + "".join(audit_html(pages[2]).text)
    for owner in field_texts(tree)[:2]:
        assert visible(owner) in text  # the owner shows, as the characters it is made of


# -- Markdown -------------------------------------------------------------------------------------


def _cells(row: str) -> list[str]:
    """Split a Markdown table row on its unescaped `|`."""
    cells, cell, escaped = [], "", False
    for char in row:
        if escaped:
            cell += char
            escaped = False
        elif char == "\\":
            cell += char
            escaped = True
        elif char == "|":
            cells.append(cell)
            cell = ""
        else:
            cell += char
    return [*cells, cell]


@given(trees)
@TEXTS
def test_markdown_keeps_model_text_inside(tree: kt.Tree) -> None:
    """The tree's block has one fence at each end; each status row has exactly its cells."""
    block = tree._repr_markdown_()
    assert block == tree_markdown(tree)
    lines = block.split("\n")
    fence = lines[0].removesuffix("text")
    closing = re.compile(rf"^ {{0,3}}`{{{len(fence)},}}[ \t]*$")
    assert lines[-1] == fence
    assert not any(closing.match(line) for line in lines[1:-1])
    assert not INVISIBLE.search(block)
    rows = status_markdown(tree.status()).split("\n")
    assert all(len(_cells(row)) == 7 for row in rows)  # 5 cells between 6 bars
    for row in rows[2:]:
        assert not re.search(r"(?<!\\)[<>`*_\[\]$&]", row.replace("\\\\", ""))
        assert not INVISIBLE.search(row)


# -- Mermaid and DOT ------------------------------------------------------------------------------

MERMAID_LINE = re.compile(
    r'^  (?:n\d+(?:\(\["|\[/"|\[")[^"\n]*(?:"\]\)|"/\]|"\])'
    r"|n\d+ --> n\d+"
    r"|style n\d+ fill:#[0-9a-f]{6},stroke:#[0-9a-f]{6}(?:,stroke-width:3px)?,color:#1f2328)$"
)


@given(trees)
@TEXTS
def test_mermaid_lines_are_kpitree_lines(tree: kt.Tree) -> None:
    """Every Mermaid line is a node, an edge or a style; no `%%`, quote or control in labels."""
    text = to_mermaid(tree, scenario={"a": 1})
    lines = text.split("\n")
    assert lines[0] == "flowchart TD"
    assert len(lines) == 1 + 2 * len(tree) + sum(len(tree.children(n)) for n in tree.names)
    for line in lines[1:]:
        assert MERMAID_LINE.match(line), line
    assert "%%" not in text and not INVISIBLE.search(text)


DOT_NODE = re.compile(r"^  n\d+ \[shape=\w+, style=\"[a-z,]+\", fillcolor=\"#[0-9a-f]{6}\"")
DOT_LABEL_TAGS = re.compile(r'<br/>|<font color="#[0-9a-f]{6}">|</font>')


@given(trees)
@TEXTS
def test_dot_labels_are_entities(tree: kt.Tree) -> None:
    """In DOT, the only tags in a label are kpitree's; model text is entity-escaped."""
    text = to_dot(tree, scenario={"a": 1})
    assert not INVISIBLE.search(text)
    for line in text.split("\n")[2:-1]:
        if " -> " in line:
            continue
        assert DOT_NODE.match(line), line
        label = line[line.index("label=<") + len("label=<") : line.rindex(">];")]
        bare = DOT_LABEL_TAGS.sub("", label)
        assert "<" not in bare and ">" not in bare and '"' not in bare


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
@given(trees)
@settings(max_examples=10, deadline=None)
def test_dot_parses_and_svg_holds_text(tree: kt.Tree) -> None:
    """Graphviz reads the DOT, and its SVG has no element or attribute from model text."""
    done = subprocess.run(
        ["dot", "-Tsvg"],  # the test runs Graphviz from PATH
        input=to_dot(tree, scenario={"a": 1}).encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    root = ET.fromstring(done.stdout)  # noqa: S314  # the SVG of our own `dot` call
    allowed = {"svg", "g", "title", "polygon", "path", "text", "ellipse", "polyline"}
    for element in root.iter():
        assert element.tag.rsplit("}", 1)[-1] in allowed, element.tag
        assert not any(key.lower().startswith("on") for key in element.attrib)
    texts = " ".join(e.text or "" for e in root.iter() if e.tag.endswith("}text"))
    assert visible(tree["a"].owner).strip().split(" ")[0] in texts


# -- the terminal ---------------------------------------------------------------------------------


@given(trees)
@TEXTS
def test_text_renderings_have_no_control_characters(tree: kt.Tree) -> None:
    """The outline and the result tables have no control character but newlines."""
    from kpitree.model.results import table

    # The rows of every result table are drawn by `model.results.table`.
    owners = [[tree[n].owner, tree[n].description] for n in ("a", "выручка")]
    outputs = [render_tree(tree), str(tree), str(tree.status()), table(owners, ["a", "b"])]
    for text in outputs:
        assert not INVISIBLE.search(text), text


@given(trees)
@TEXTS
def test_every_result_prints_without_control_characters(tree: kt.Tree) -> None:
    """`print(result)` in a REPL: every analysis's `str` quotes owners only as text."""
    changed = {"a": 3, "выручка": 0.9}
    results = [
        tree.sensitivity("m"),
        tree.levers("m"),
        tree.whatif({"a": "+10%"}),
        tree.solve("m", 200, vary="a"),
        tree.cascade("m", 200),
        tree.attribute("m", {}, changed),
        tree.accountability("m", {}, changed),
        tree.status(),
    ]
    for result in results:
        text = str(result)
        assert not INVISIBLE.search(text), (type(result).__name__, text)


@pytest.fixture
def tmp_model(tmp_path: Path) -> Path:
    """A path for a model file."""
    return tmp_path / "model.json"


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@given(owner=hostile_text, description=hostile_text)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_cli_prints_model_text_as_text(tmp_model: Path, owner: str, description: str) -> None:
    """`kpitree show` and `status` print no control character, whatever the model says."""
    model = {
        "tree": "m",
        "kpis": {
            "a": {"owner": owner, "horizon": "1 day", "value": 2, "description": description},
            "b": {"owner": "sales", "horizon": "1 day", "value": 3, "standards": [owner]},
        },
        "metrics": {"m": {"formula": "a * b", "norm": ">= 100"}},
    }
    # json.dumps writes lone surrogates as \ud800, which the loader reads back as they are.
    tmp_model.write_text(json.dumps(model), "utf-8")
    for command in (["show"], ["status"], ["levers"], ["check"]):
        argv = [*command, str(tmp_model)] + (["m"] if command == ["levers"] else [])
        code, out, err = _run(argv)
        assert code in (0, 2), (argv, err)
        assert not INVISIBLE.search(out + err), repr(out + err)
        assert "Traceback" not in err


# -- matplotlib -----------------------------------------------------------------------------------


@given(trees)
@settings(max_examples=10, deadline=None, phases=[Phase.generate])
@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")  # random letters, any script
@pytest.mark.filterwarnings("ignore:constrained_layout not applied")  # very long owner names
def test_chart_labels_are_never_mathtext(tree: kt.Tree) -> None:
    """Every label of a chart has its `$` escaped: an owner `$x$` is not typeset as math."""
    matplotlib = pytest.importorskip("matplotlib", reason="charts need the `plot` extra")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    from kpitree.display.plots import plot_scenario, plot_sensitivity

    try:
        for ax in (
            plot_sensitivity(tree.sensitivity("m")),
            plot_scenario(tree.whatif({"a": "+10%"})),
        ):
            ax.figure.canvas.draw()
            for artist in ax.figure.findobj(Text):
                text = artist.get_text()
                assert not re.search(r"(?<!\\)\$", text), text
                assert not INVISIBLE.search(text.replace("\n", ""))
    finally:
        plt.close("all")


def test_unit_dollar_in_two_labels_is_not_math() -> None:
    """A `$` unit on two numbers in one label shows two dollars, not mathtext between them."""
    matplotlib = pytest.importorskip("matplotlib", reason="charts need the `plot` extra")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kpitree.display.plots import plot_sensitivity

    a = kt.KPI("a", owner="$x$", horizon="1 day", value=2, unit="$")
    tree = kt.Tree(kt.Metric("m", a * 3, target=7))
    ax = plot_sensitivity(tree.sensitivity("m"))
    try:
        assert ax.get_title() == "Sensitivity of m = 6 \\$"
        legend = ax.get_legend()
        assert [t.get_text() for t in legend.get_texts()] == ["\\$x\\$"]
    finally:
        plt.close("all")


# -- the explorer page ----------------------------------------------------------------------------


def test_explorer_page_sets_text_never_markup() -> None:
    """The explorer's script puts server text in with textContent, never as HTML or code."""
    static = Path(kt.__file__).parent / "apps" / "static"
    script = (static / "explorer.js").read_text("utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink
    assert "new Function" not in script and 'setTimeout("' not in script
    page = (static / "explorer.html").read_text("utf-8")
    assert "<script>" not in page.replace(" ", "")  # scripts come from files only (CSP)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_explorer_shows_server_text_as_python_does() -> None:
    """The page reads every string of the server's JSON through the same `visible` rule."""
    static = Path(kt.__file__).parent / "apps" / "static"
    script = (static / "explorer.js").read_text("utf-8")
    start, end = script.index("  const INVISIBLE"), script.index("  async function api")
    samples = [*HOSTILE, "".join(HOSTILE), "😀\u2067x"]
    program = (
        script[start:end]
        + "\nconst samples = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        + "\nprocess.stdout.write(JSON.stringify(samples.map((s) =>"
        + " readJSON(JSON.stringify({ s })).s)));"
    )
    done = subprocess.run(
        ["node", "-e", program],  # the test runs Node.js from PATH
        input=json.dumps(samples),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout) == [visible(s, newlines=True) for s in samples]

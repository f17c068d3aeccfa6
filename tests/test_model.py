"""Model files: reading, writing, round trips, and every problem located and explained."""

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kpitree as kt
from kpitree import examples
from kpitree.io.model import (
    Document,
    dump,
    dumps,
    path_text,
    read_document,
    to_dict,
)
from kpitree.testing import random_tree, trees
from kpitree.tree import Tree, load, loads

from_dict = Tree.from_dict
ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("yaml", "toml", "json")
FILES = {
    "qualified_leads.yaml": examples.qualified_leads,
    "qualified_leads_ru.yaml": examples.qualified_leads_ru,
    "sales_revenue.yaml": examples.sales_revenue,
    "dupont.toml": examples.dupont,
    "saas_mrr.json": examples.saas_mrr,
}


def problems_of(text: str, fmt: str = "yaml") -> list[kt.KPITreeError]:
    """Load text that must fail; return its problems."""
    with pytest.raises(kt.ValidationError) as info:
        loads(text, fmt, source="m." + fmt)
    return list(info.value.problems)


# -- the example files ---------------------------------------------------------------------


@pytest.mark.parametrize(("file", "build"), FILES.items())
def test_example_files_equal_the_python_examples(file: str, build: object) -> None:
    """Each model file in examples/ reads to the same tree as kpitree.examples builds."""
    assert load(ROOT / "examples" / file) == build()  # type: ignore[operator]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("build", FILES.values())
def test_examples_round_trip_in_every_format(fmt: str, build: object, tmp_path: Path) -> None:
    """Dumping an example and loading the file gives an equal tree, in every format."""
    tree = build()  # type: ignore[operator]
    assert load(dump(tree, tmp_path / f"tree.{fmt}")) == tree
    assert loads(dumps(tree, fmt), fmt) == tree


def test_tree_delegations_use_this_module(tmp_path: Path) -> None:
    """Tree.from_dict, to_dict, dumps and dump are the model-file functions."""
    tree = examples.saas_mrr()
    assert Tree.from_dict(tree.to_dict()) == tree
    assert tree.dumps("json") == dumps(tree, "json")
    assert kt.Tree.from_dict(json.loads(tree.dumps("json"))) == tree
    assert load(tree.dump(tmp_path / "t.yml")) == tree


# -- round trips over random trees -----------------------------------------------------------

_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\t'\"#:"),
    max_size=30,
)
_TRICKY = st.sampled_from(["no", "yes", "on", "1e3", "null", "~", "2026-10-01", "- x", "a: b"])


@st.composite
def decorated_trees(draw: st.DrawFn) -> Tree:
    """Random trees whose KPIs carry every optional field, with tricky text in them."""
    tree = draw(trees(operators=("+", "-", "*", "/", "**"), functions=("min", "max", "abs")))
    nodes = dict(tree._nodes)
    for kpi in tree.kpis:
        value = kpi.value
        assert value is not None
        low = draw(st.sampled_from([None, 0.0, value / 2]))
        high = draw(st.sampled_from([None, value * 3, 1e300]))
        standards: object = draw(
            st.sampled_from(
                [
                    (),
                    ("answer within 15 minutes", "no missed calls"),
                    {"response_minutes": "<= 15", "missed": "<= 0"},
                    (kt.Standard("custom text", "x", kt.AtMost(2)), "plain"),
                ]
            )
        )
        nodes[kpi.name] = kt.KPI(
            kpi.name,
            owner=draw(st.sampled_from(["marketing", "продажи", "yes"])),
            horizon=draw(st.sampled_from(["online", "15 min", "1 день", "1.5 hours"])),
            value=value,
            bounds=None if low is None and high is None else (low, high),
            norm=draw(st.sampled_from([None, ">= 0.8", "<= 15", "0.1..0.9"])),
            influenced_by=draw(st.lists(st.sampled_from(["sales", "no"]), max_size=2)),
            standards=standards,  # type: ignore[arg-type]
            description=draw(_TEXT | _TRICKY),
            aggregate=draw(st.sampled_from([None, "sum", "mean", "weighted:k0"])),
        )
    for metric in tree.metrics:
        nodes[metric.name] = kt.Metric(
            metric.name,
            metric.formula,
            target=draw(st.sampled_from([None, 0.1, 1e-7, 123456789.125])),
            norm=draw(st.sampled_from([None, ">= 0"])),
            description=draw(_TEXT | _TRICKY),
        )
    return Tree._build(nodes, like=tree)


@pytest.mark.parametrize("fmt", FORMATS)
@given(tree=decorated_trees())
def test_dumps_then_loads_is_identity(fmt: str, tree: Tree) -> None:
    """For every tree and format, loads(dumps(tree)) == tree."""
    assert loads(dumps(tree, fmt), fmt) == tree


@given(tree=decorated_trees())
def test_to_dict_is_plain_json_data_and_reads_back(tree: Tree) -> None:
    """to_dict gives JSON data without nulls, and from_dict reads it back."""
    data = to_dict(tree)
    stack: list[object] = [data]
    while stack:  # TOML has no null: no None anywhere
        item = stack.pop()
        assert item is not None
        stack.extend(
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else []
        )
    assert from_dict(json.loads(json.dumps(data))) == tree


def test_random_tree_round_trip_keeps_roots_order() -> None:
    """A tree with many roots keeps them, in order, through a file."""
    tree = random_tree(60, seed=3)
    extra = kt.Metric("second_root", tree.leaves[0] * 2)
    both = kt.Tree(extra, *tree.roots)
    again = loads(dumps(both, "toml"), "toml")
    assert again == both
    assert [r.name for r in again.roots] == ["second_root", *[r.name for r in tree.roots]]


# -- reading what people write ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "leaf", "expected"),
    [
        ("value: 80%", "x", 0.8),
        ("value: 1e3", "x", 1000.0),  # YAML 1.1 reads 1e3 as text
        ('value: "1 000"', "x", 1000.0),
        ("value: 0x10", "x", 16.0),
        ("value: 12.5 %", "x", 0.125),
    ],
)
def test_values_are_read_as_numbers(text: str, leaf: str, expected: float) -> None:
    """Values written as percentages, exponents or text become floats."""
    tree = loads(f"inputs:\n  x: {{{text}}}\nmetrics:\n  m: x * 2\n")
    assert tree[leaf].value == expected  # type: ignore[attr-defined]


def test_design_example_reads() -> None:
    """The model file of the design document loads, short and long metric forms alike."""
    text = """
tree: qualified_leads
kpis:
  leads: {owner: marketing, horizon: 1 day, value: 1000, unit: lead}
  lead_to_ql:
    owner: sales
    horizon: 1 day
    value: 80%
    bounds: [0, 1]
    norm: ">= 80%"
    influenced_by: [marketing]
    standards: [answer every inbound request within 15 minutes]
inputs:
  market_size: {value: 2000000}
metrics:
  qualified_leads: leads * lead_to_ql            # short form: just the formula
  share_of_market: {formula: qualified_leads / market_size, unit: "%"}
"""
    tree = loads(text)
    assert tree.evaluate()["share_of_market"] == pytest.approx(800 / 2e6)
    assert [r.name for r in tree.roots] == ["share_of_market"]
    assert tree["lead_to_ql"].norm == kt.AtLeast(0.8)  # type: ignore[attr-defined]


def test_keys_are_read_as_written() -> None:
    """A KPI named `on` or `no` stays text: YAML keys are not turned into bools."""
    tree = loads("kpis:\n  on: {owner: sales, horizon: 1 day, value: 1}\nmetrics:\n  m: on * 2\n")
    assert tree.evaluate()["m"] == 2.0


def test_russian_names_and_horizons() -> None:
    """Russian names, owners and horizons load from every format."""
    tree = examples.qualified_leads_ru()
    for fmt in FORMATS:
        text = dumps(tree, fmt)
        assert "лиды" in text
        assert loads(text, fmt).evaluate()["квал_лиды"] == 800.0


def test_uncertainty_round_trips_through_files() -> None:
    """A leaf's distribution is read from a file and written back to an equal one."""
    text = (
        "kpis:\n"
        "  leads: {owner: marketing, horizon: 1 day, value: 1000,\n"
        "          uncertainty: {normal: {mean: 1000, sd: 100}}}\n"
        "inputs:\n"
        "  x: {value: 0.8, uncertainty: {uniform: {lo: 0.75, hi: 0.85}}}\n"
        "metrics:\n"
        "  m: leads * x\n"
    )
    tree = loads(text)
    assert tree["leads"].uncertainty == kt.Normal(1000, 100)  # type: ignore[attr-defined]
    assert tree["x"].uncertainty == kt.Uniform(0.75, 0.85)  # type: ignore[attr-defined]
    for fmt in ("yaml", "json", "toml"):
        assert loads(dumps(tree, fmt), fmt) == tree


def test_bad_uncertainty_is_located() -> None:
    """A distribution with bad parameters is reported at its line and path."""
    problems = problems_of("inputs:\n  x: {value: 1, uncertainty: {normal: {mean: 1, sd: -2}}}\n")
    assert "m.yaml:2 @ $.inputs.x.uncertainty" in str(problems[0])
    assert "`sd` must be above 0, got -2" in str(problems[0])


def test_document_locates_nested_paths() -> None:
    """A path without its own line takes the line of its nearest located parent."""
    doc = read_document('{"kpis": {\n "leads": {"owner": 1,\n "bounds": [0,\n 1]}}}', "json")
    assert doc.where(("kpis", "leads", "bounds", 1)) == "<text>:4 @ $.kpis.leads.bounds[1]"
    assert Document(source="f").where(("a",)) == "f @ $.a"
    assert path_text(("metrics", "2x")) == '$.metrics["2x"]'


def test_toml_lines_follow_tables_and_keys() -> None:
    """TOML problems name the line of the key in its table."""
    text = '[kpis.leads]\nowner = "sales"\nhorizon = "1 dya"\n\n[metrics]\nm = "leads"\n'
    (problem,) = problems_of(text, "toml")
    assert problem.where == "m.toml:3 @ $.kpis.leads.horizon"


def test_every_problem_is_reported_at_once() -> None:
    """Problems in several nodes and fields come out together, sorted by line."""
    text = """kpis:
  leads: {owner: marketing, horizon: 1 dya, value: abc}
  rate:
    owner: sales
    horizon: 1 day
    colour: red
metrics:
  ql: leads * rat
"""
    found = problems_of(text)
    wheres = [p.where for p in found]
    assert wheres == [
        "m.yaml:2 @ $.kpis.leads.value",
        "m.yaml:2 @ $.kpis.leads.horizon",
        "m.yaml:6 @ $.kpis.rate.colour",
        "m.yaml:8 @ $.metrics.ql",
    ]
    assert "did you mean `rate`?" in str(found[-1])
    assert "did you mean `day`?" in str(found[1])


# -- the bad-input table --------------------------------------------------------------------------

_FORMULA_FILE = """kpis:
  a: {owner: sales, horizon: 1 day, value: 1}
  b: {owner: sales, horizon: 1 day, value: 2}
metrics:
  m: %s
"""


@pytest.mark.parametrize(
    ("formula", "error", "words"),
    [
        ("__import__('os').system('echo hacked')", kt.FormulaError, "unexpected character"),
        ("().__class__.__base__.__subclasses__()", kt.FormulaError, "no attributes or methods"),
        ("a.__class__", kt.FormulaError, "no attributes"),
        ("lambda: 1", kt.FormulaError, "unexpected character ':'"),
        ("[x for x in a]", kt.FormulaError, "no indexing"),
        ("'text'", kt.FormulaError, "no text in formulas"),
        ("open('/etc/passwd')", kt.FormulaError, "no text in formulas"),
        ("open(a)", kt.FormulaError, "`open` is not a function"),
        ("eval(a)", kt.FormulaError, "`eval` is not a function"),
        ("sqr(a)", kt.FormulaError, "did you mean `sqrt`?"),
        ("10**10**10", kt.LimitError, "larger than 1024"),
        ("a ** (2 ** 64)", kt.LimitError, "larger than 1024"),
        ("9**9**9", kt.LimitError, "larger than 1024"),
        ("2**2**2**2**2**2", kt.LimitError, "larger than 1024"),
        ("(" * 10_000 + "a" + ")" * 10_000, kt.LimitError, "nests deeper than 100"),
        ("a + " * 200_000 + "a", kt.LimitError, "over the limit of 100,000"),
        ("", kt.FormulaError, "the formula is empty"),
        ("a +", kt.FormulaError, "got the end of the formula"),
        ("a b", kt.FormulaError, "after a complete formula"),
        ("a = b", kt.FormulaError, "right-hand side only"),
        ("a > b", kt.FormulaError, "comparisons are not formulas"),
        ("a % b", kt.FormulaError, "no remainder operator"),
        ("min(a)", kt.FormulaError, "at least 2 argument"),
        ("1e999 * a", kt.FormulaError, "out of the float range"),
        ("1 / 0 * a", kt.FormulaError, "no finite value"),
        ("ｌｅａｄｓ * a", kt.FormulaError, "compatibility characters"),
        ("c * a", kt.UnknownNameError, "`c`, which no node defines"),
    ],
)
def test_bad_formulas_in_files(formula: str, error: type, words: str) -> None:
    """Each bad formula is one problem at the metric's line, of the right class and words."""
    (problem,) = problems_of(_FORMULA_FILE % json.dumps(formula, ensure_ascii=False))
    assert isinstance(problem, error)
    assert words in str(problem)
    assert problem.where is not None
    assert problem.where.startswith("m.yaml:5 @ $.metrics.m")


def test_formula_error_has_a_caret_under_the_token() -> None:
    """A formula error shows the formula with a caret under the offending token."""
    (problem,) = problems_of(_FORMULA_FILE % '"a * (b + c"')
    assert str(problem).splitlines()[1:3] == ["  a * (b + c", " " * 12 + "^"]


_BOMB = """a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""
_KPI = "{owner: sales, horizon: 1 day, value: 1}"


@pytest.mark.parametrize(
    ("fmt", "text", "error", "words", "where"),
    [
        ("yaml", "- leads\n- rate\n", kt.ValueTypeError, "got a list", "m.yaml:1 @ $"),
        ("yaml", "", kt.ValueTypeError, "got an empty file", "m.yaml @ $"),
        ("yaml", "just text\n", kt.ValueTypeError, "got text 'just text'", "m.yaml:1 @ $"),
        ("yaml", _BOMB, kt.LimitError, "aliases expand the document", "m.yaml:1 @ $"),
        (
            "yaml",
            "kpis: !!python/object/apply:os.system ['echo hacked']\n",
            kt.ValueTypeError,
            "tag `tag:yaml.org,2002:python/object/apply:os.system` is not allowed",
            "m.yaml:1 @ $.kpis",
        ),
        ("yaml", "kpis: !custom {}\n", kt.ValueTypeError, "tag `!custom`", "m.yaml:1 @ $.kpis"),
        ("yaml", "kpis: {a: [1\n", kt.KPITreeError, "invalid YAML", "m.yaml:2"),
        ("yaml", "kpis: {}\n---\nkpis: {}\n", kt.KPITreeError, "another document", "m.yaml:2"),
        (
            "yaml",
            f"kpis:\n  a: {_KPI}\n  a: {_KPI}\n",
            kt.DuplicateNameError,
            "duplicate key `a` (first at line 2)",
            "m.yaml:3 @ $.kpis.a",
        ),
        (
            "yaml",
            "kpis:\n  a: {owner: sales, owner: x, horizon: 1 day}\n",
            kt.DuplicateNameError,
            "duplicate key `owner`",
            "m.yaml:2 @ $.kpis.a.owner",
        ),
        (
            "yaml",
            "kpis:\n  a: {owner: no, horizon: 1 day}\n",
            kt.ValueTypeError,
            'YAML reads `no` as false; write "no" in quotes',
            "m.yaml:2 @ $.kpis.a.owner",
        ),
        (
            "yaml",
            "inputs:\n  a: {value: yes}\n",
            kt.ValueTypeError,
            "got True (a bool)",
            "m.yaml:2 @ $.inputs.a.value",
        ),
        (
            "yaml",
            "inputs:\n  a: {value: .nan}\n",
            kt.ValueTypeError,
            "not finite",
            "m.yaml:2 @ $.inputs.a.value",
        ),
        (
            "yaml",
            "inputs:\n  a: {value: -.inf}\n",
            kt.ValueTypeError,
            "not finite",
            "m.yaml:2 @ $.inputs.a.value",
        ),
        (
            "yaml",
            "inputs:\n  a: {value: lots}\n",
            kt.ValueTypeError,
            "got 'lots'",
            "m.yaml:2 @ $.inputs.a.value",
        ),
        (
            "yaml",
            "inputs:\n  a: {value: '0,8'}\n",
            kt.ValueTypeError,
            "a decimal comma",
            "m.yaml:2 @ $.inputs.a.value",
        ),
        (
            "yaml",
            "kpis:\n  a: {owner: sales, horizon: 1 day, bounds: [1, 0]}\n",
            kt.ArgumentError,
            "low above high",
            "m.yaml:2 @ $.kpis.a.bounds",
        ),
        (
            "yaml",
            "kpis:\n  a: {owner: sales, horizon: 1 day, bounds: {low: 0, top: 1}}\n",
            kt.UnknownNameError,
            "unknown key `top` in bounds",
            "m.yaml:2 @ $.kpis.a.bounds",
        ),
        (
            "yaml",
            "kpis:\n  a: {owner: sales, horizon: 1 day, value: 5, bounds: [0, 1]}\n",
            kt.BoundsError,
            "outside the bounds",
            "m.yaml:2 @ $.kpis.a",
        ),
        (
            "yaml",
            'kpis:\n  a: {owner: sales, horizon: 1 day, norm: ">= abc"}\n',
            kt.NormError,
            'cannot read norm ">= abc"',
            "m.yaml:2 @ $.kpis.a.norm",
        ),
        (
            "yaml",
            'kpis:\n  a: {owner: sales, horizon: 1 day, norm: "> 0.8"}\n',
            kt.NormError,
            "write >= instead of >",
            "m.yaml:2 @ $.kpis.a.norm",
        ),
        (
            "yaml",
            "kpis:\n  a: {owner: sales, horizon: soon}\n",
            kt.HorizonError,
            'cannot read horizon "soon"',
            "m.yaml:2 @ $.kpis.a.horizon",
        ),
        (
            "yaml",
            "kpis:\n  a: {owner: sales, horizon: 1 day, unit: lead//day}\n",
            kt.UnitError,
            "cannot read unit",
            "m.yaml:2 @ $.kpis.a.unit",
        ),
        (
            "yaml",
            "kpis:\n  a: {horizon: 1 day}\n",
            kt.ArgumentError,
            "KPI `a` has no owner",
            "m.yaml:2 @ $.kpis.a",
        ),
        (
            "yaml",
            "kpis:\n  a:\n    owner: sales\n    horizn: 1 day\n",
            kt.UnknownNameError,
            "did you mean `horizon`?",
            "m.yaml:4 @ $.kpis.a.horizn",
        ),
        (
            "yaml",
            "kpi:\n  a: {}\n",
            kt.UnknownNameError,
            "did you mean `kpis`?",
            "m.yaml:1 @ $.kpi",
        ),
        (
            "yaml",
            "inputs:\n  a: {value: 1, owner: sales}\n",
            kt.UnknownNameError,
            "goes under `kpis`",
            "m.yaml:2 @ $.inputs.a.owner",
        ),
        (
            "yaml",
            "kpis: [a, b]\n",
            kt.ValueTypeError,
            "`kpis` must be a mapping",
            "m.yaml:1 @ $.kpis",
        ),
        ("yaml", "kpis:\n  a: sales\n", kt.ValueTypeError, "mapping of its fields", "m.yaml:2"),
        (
            "yaml",
            "kpis:\n  2x: {owner: sales, horizon: 1 day}\n",
            kt.FormulaError,
            "`2x` cannot be a node name",
            'm.yaml:2 @ $.kpis["2x"]',
        ),
        (
            "yaml",
            "kpis:\n  min: {owner: sales, horizon: 1 day}\n",
            kt.FormulaError,
            "it is a function of the formula language",
            "m.yaml:2 @ $.kpis.min",
        ),
        (
            "yaml",
            f"kpis:\n  a: {_KPI}\nmetrics:\n  a: a * 2\n",
            kt.DuplicateNameError,
            "`a` is defined twice",
            "m.yaml:4 @ $.metrics.a",
        ),
        (
            "yaml",
            f"kpis:\n  a: {_KPI}\nmetrics:\n  x: y + a\n  y: x * 2\n",
            kt.CycleError,
            "in a loop",
            "m.yaml:4 @ $.metrics.x",
        ),
        (
            "yaml",
            f"kpis:\n  a: {_KPI}\nmetrics:\n  m: {{unit: lead}}\n",
            kt.ArgumentError,
            "metric `m` has no `formula`",
            "m.yaml:4 @ $.metrics.m",
        ),
        (
            "yaml",
            f"kpis:\n  a: {_KPI}\nmetrics:\n  m: {{formula: a, target: x}}\n",
            kt.ValueTypeError,
            "target of `m`",
            "m.yaml:4 @ $.metrics.m.target",
        ),
        (
            "yaml",
            f"kpis:\n  a: {_KPI}\nmetrics:\n  m: [a]\n",
            kt.ValueTypeError,
            "a formula or a mapping",
            "m.yaml:4 @ $.metrics.m",
        ),
        (
            "yaml",
            "kpis:\n  a: {owner: sales, horizon: 1 day, unit: lead}\nmetrics:\n"
            "  m: {formula: a + 1, unit: RUB}\n",
            kt.UnitError,
            "declared in `RUB`",
            "m.yaml:4 @ $.metrics.m.formula",
        ),
        (
            "yaml",
            f"tree: mm\nkpis:\n  a: {_KPI}\nmetrics:\n  m: a\n",
            kt.UnknownNameError,
            "did you mean `m`?",
            "m.yaml:1 @ $.tree",
        ),
        ("yaml", "tree: {a: 1}\n", kt.ValueTypeError, "text or a list", "m.yaml:1 @ $.tree"),
        ("yaml", "description: 5\nkpis: {}\n", kt.ValueTypeError, "must be text", "m.yaml:1"),
        ("yaml", "kpis: {}\n", kt.ArgumentError, "defines no nodes", "m.yaml:1 @ $"),
        ("toml", "[kpis.a\nowner = 1\n", kt.KPITreeError, "invalid TOML", "m.toml:1"),
        (
            "toml",
            '[kpis.a]\nowner = "x"\nowner = "y"\n',
            kt.KPITreeError,
            "invalid TOML",
            "m.toml:3",
        ),
        (
            "toml",
            '[inputs.a]\nvalue = nan\n[metrics]\nm = "a"\n',
            kt.ValueTypeError,
            "not finite",
            "m.toml:2 @ $.inputs.a.value",
        ),
        (
            "toml",
            '[kpis.a]\nowner = "x"\nhorizon = 1979-05-27\n',
            kt.HorizonError,
            "a horizon must be text",
            "m.toml:3 @ $.kpis.a.horizon",
        ),
        ("json", '{"kpis": {"a": 1,}}', kt.KPITreeError, "invalid JSON", "m.json:1"),
        (
            "json",
            '{"inputs": {\n"a": {"value": 1},\n"a": {"value": 2}}}',
            kt.DuplicateNameError,
            "duplicate key `a` (first at line 2)",
            "m.json:3 @ $.inputs.a",
        ),
        (
            "json",
            '{"inputs": {"a": {\n"value": NaN}}}',
            kt.ValueTypeError,
            "`NaN` is not a finite number",
            "m.json:2 @ $.inputs.a.value",
        ),
        (
            "json",
            '{"inputs": {"a": {"value": [1,\n-Infinity]}}}',
            kt.ValueTypeError,
            "`-Infinity` is not a finite number",
            "m.json:2 @ $.inputs.a.value[1]",
        ),
        (
            "json",
            '{"inputs": {"a": {"value": 1e999}}}',
            kt.ValueTypeError,
            "`1e999` is not a finite number",
            "m.json:1 @ $.inputs.a.value",
        ),
        ("json", "[" * 100_000 + "]" * 100_000, kt.LimitError, "nests too deeply", "m.json"),
        ("json", '"just text"', kt.ValueTypeError, "got text", "m.json:1 @ $"),
    ],
)
def test_bad_model_files(fmt: str, text: str, error: type, words: str, where: str) -> None:
    """Each bad file gives a located problem of the right class with a useful message."""
    found = problems_of(text, fmt)
    matching = [p for p in found if words in str(p)]
    assert matching, [str(p) for p in found]
    assert isinstance(matching[0], error)
    assert matching[0].where is not None
    assert matching[0].where.startswith(where)


def test_file_size_limit() -> None:
    """A file over Limits.max_file_bytes is refused before it is parsed."""
    text = "kpis: {}\n" + "#" * 2000
    with pytest.raises(kt.ValidationError) as info:
        loads(text, limits=kt.Limits(max_file_bytes=1000))
    (problem,) = info.value.problems
    assert isinstance(problem, kt.LimitError)
    assert "over the limit of 1,000" in str(problem)


def test_file_size_limit_on_disk(tmp_path: Path) -> None:
    """load refuses a file over the limit without reading it all."""
    path = tmp_path / "big.yaml"
    path.write_text("#" * 5000)
    with pytest.raises(kt.ValidationError, match="5,000 bytes, over the limit"):
        load(path, limits=kt.Limits(max_file_bytes=100))


def test_unknown_extension_and_format() -> None:
    """Unknown extensions and format names are errors with a hint."""
    with pytest.raises(kt.UnknownNameError, match=r"extension `\.txt`"):
        load("model.txt")
    with pytest.raises(kt.UnknownNameError, match="did you mean `toml`"):
        loads("", "tom")


def test_not_utf8(tmp_path: Path) -> None:
    """A file that is not UTF-8 is a located problem, not a UnicodeDecodeError."""
    path = tmp_path / "latin.yaml"
    path.write_bytes("kpis: {é: 1}".encode("latin-1"))
    with pytest.raises(kt.ValidationError, match="not UTF-8"):
        load(path)


def test_plural_units_in_a_model_file() -> None:
    """`unit: {one: лид, few: лида, many: лидов}` reads, prints by number and dumps as given."""
    tree = kt.loads(
        "kpis:\n"
        "  лиды: {owner: маркетинг, horizon: 1 день, value: 800,"
        " unit: {many: лидов, one: лид, few: лида}}\n"
        "metrics:\n"
        "  в_день: лиды / 2\n"
    )
    assert tree.unit("лиды") == kt.Unit.parse("лид")
    with kt.locale("ru"):
        assert "800 лидов" in str(tree) and "400 лидов" in str(tree)
    assert tree.to_dict()["kpis"]["лиды"]["unit"] == {"many": "лидов", "one": "лид", "few": "лида"}


def test_a_bad_plural_form_is_located_at_the_unit() -> None:
    """An unknown plural category is a problem at `$.kpis.<name>.unit` with a did-you-mean."""
    with pytest.raises(kt.ValidationError) as info:
        kt.loads("kpis:\n  лиды: {owner: m, horizon: 1 day, unit: {one: лид, mnay: лидов}}\n")
    text = str(info.value)
    assert "<text>:2 @ $.kpis.лиды.unit" in text and "did you mean `many`?" in text


def test_a_tree_keeps_a_description_and_locale_given_in_python() -> None:
    """`kt.Tree(..., description=, locale=)` keeps both; `with_values` keeps them too."""
    tree = kt.Tree(
        kt.Metric("m", "2 * a"),
        kt.KPI("a", owner="x", horizon="1 day", value=1),
        description="Удвоение",
        locale="ru_RU.UTF-8",
    )
    assert (tree.description, tree.locale) == ("Удвоение", "ru")
    again = tree.with_values({"a": 2})
    assert (again.description, again.locale) == ("Удвоение", "ru")
    with pytest.raises(kt.ArgumentError, match='unknown locale "de"'):
        kt.Tree(kt.Metric("m", 1), locale="de")
    with pytest.raises(kt.ValueTypeError, match="description must be text"):
        kt.Tree(kt.Metric("m", 1), description=5)  # type: ignore[arg-type]

"""Excel workbooks: trees written with live formulas over named cells, recalculated, read back."""

from __future__ import annotations

import math
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kpitree as kt
from kpitree.errors import (
    CycleError,
    DuplicateNameError,
    FormulaError,
    KPITreeError,
    UnknownNameError,
    ValidationError,
)
from kpitree.examples import EXAMPLES
from kpitree.io.xlsx import excel_formula, excel_name, node_name
from kpitree.testing import trees

openpyxl = pytest.importorskip("openpyxl")

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
skip_without_soffice = pytest.mark.skipif(
    SOFFICE is None,
    reason="LibreOffice is not installed (no `soffice` on PATH); `make system-deps` "
    "installs Debian's libreoffice-calc-nogui, and `make test` runs these tests",
)


def needs_soffice(test: Any) -> Any:
    """Mark a test that recalculates workbooks in LibreOffice headless."""
    return pytest.mark.libreoffice(skip_without_soffice(test))


def recalculated(paths: list[Path], tmp_path: Path) -> dict[str, Any]:
    """Convert workbooks in LibreOffice headless (which recalculates them); open the results."""
    assert SOFFICE is not None
    out = tmp_path / "recalculated"
    profile = (tmp_path / "libreoffice-profile").as_uri()
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--calc",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(out),
            *map(str, paths),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return {p.stem: out / p.name for p in paths}


def cell_values(path: Path) -> dict[str, Any]:
    """Each defined name's cell value as a spreadsheet last calculated it."""
    book = openpyxl.load_workbook(path, data_only=True)
    out = {}
    for defined in book.defined_names.values():
        ((sheet, ref),) = defined.destinations
        out[node_name(defined.name)] = book[sheet][ref.replace("$", "")].value
    return out


def close(a: float, b: float) -> bool:
    """Equal to 1e-9 relative."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-300)


PRECEDENCE = """
inputs:
  a: {value: 3}
  b: {value: 2}
  c: {value: 0.5}
  cr1: {value: 4}
  a1: {value: 1.5}
  rc: {value: 7}
  _cr1: {value: 10}
  zero: {value: 0}
metrics:
  neg_power: -a ** 2
  power_of_neg: (-a) ** 2
  tower: b ** 3 ** 2
  left_tower: (b ** 3) ** 2
  chain: a - (b - c) - -c / (a / b) * c
  functions: min(a, b, c) + max(cr1, a1) * abs(-rc) - log(a) + exp(c) / sqrt(b)
  named_like_cells: cr1 * a1 + rc - _cr1
  negative_exponent: a ** -1 + b ** -c
  nested: -(a * b) + -(-a) - 1e-05 * a
  of_metrics: neg_power / tower + named_like_cells
  undefined: a / zero
  after_undefined: undefined + 1
"""


@needs_soffice
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_examples_recalculate_to_kpitree_values(lang: str, tmp_path: Path) -> None:
    """LibreOffice recalculates each bundled example to `evaluate()`, in both locales."""
    written = []
    with kt.locale(lang):
        for name, example in EXAMPLES.items():
            written.append(example().to_xlsx(tmp_path / f"{name}.xlsx"))
    converted = recalculated(written, tmp_path)
    for name, example in EXAMPLES.items():
        tree = example()
        expected = tree.evaluate()
        got = cell_values(converted[name])
        assert set(got) == set(tree.names)
        for metric in tree.metrics:
            assert close(got[metric.name], expected[metric.name]), (name, metric.name)
        # The recalculated workbook is still a kpitree workbook: it reads back equal.
        assert kt.read_xlsx(converted[name]) == tree


@needs_soffice
def test_precedence_names_and_undefined_agree_with_a_spreadsheet(tmp_path: Path) -> None:
    """Operators, functions and cell-like names compute as kpitree does; undefined is #DIV/0!."""
    tree = kt.loads(PRECEDENCE)
    path = tree.to_xlsx(tmp_path / "precedence.xlsx")
    converted = recalculated([path], tmp_path)["precedence"]
    assert kt.read_xlsx(converted) == tree  # LibreOffice's rewriting of the formulas reads back
    got = cell_values(converted)
    expected = tree.evaluate(undefined="nan")
    for metric in tree.metrics:
        if math.isnan(expected[metric.name]):
            assert got[metric.name] == "#DIV/0!", metric.name
        else:
            assert close(got[metric.name], expected[metric.name]), metric.name
    assert got["neg_power"] == -9 and got["power_of_neg"] == 9 and got["tower"] == 512


def _random_formula(rng: random.Random, names: list[str], depth: int) -> str:
    """Formula text of random operators, functions and constants, fully parenthesized."""
    if depth == 0 or rng.random() < 0.25:
        return rng.choice(names)  # never a constant alone: kpitree folds constants at once
    op = rng.choice(["+", "-", "*", "/", "**", "neg", "min", "max", "abs", "log", "exp", "sqrt"])
    left = _random_formula(rng, names, depth - 1)
    if op == "**":
        exponent = rng.choice(["2", "3", "0.5", "-1", _random_formula(rng, names, 1)])
        return f"({left}) ** ({exponent})"
    if op == "neg":
        return f"-({left})"
    if op in ("abs", "log", "exp", "sqrt"):
        return f"{op}({left})"
    right = _random_formula(rng, names, depth - 1)
    if rng.random() < 0.2:
        right = rng.choice(["0.5", "2", "3", "-1.5", "1e-05"])
    if op in ("min", "max"):
        return f"{op}({left}, {right})"
    return f"({left}) {op} ({right})"


@needs_soffice
def test_random_formulas_agree_with_a_spreadsheet(tmp_path: Path) -> None:
    """Random formulas of every operator and function compute in LibreOffice as in kpitree."""
    rng = random.Random(17)  # noqa: S311 - reproducible test formulas, not security
    values = {"a": 3.0, "rate": 0.8, "a1": -2.5, "cr2": 1.25, "_b1": 0.1, "k": 7.0}
    leaves = [kt.Input(name, value=value) for name, value in values.items()]
    metrics = [
        kt.Metric(f"m{i}", _random_formula(rng, list(values), rng.randint(1, 4)))
        for i in range(150)
    ]
    tree = kt.Tree(*metrics, *leaves)
    path = tree.to_xlsx(tmp_path / "random.xlsx")
    got = cell_values(recalculated([path], tmp_path)["random"])
    expected = tree.evaluate(undefined="nan")
    checked = 0
    for metric in tree.metrics:
        value, want = got[metric.name], expected[metric.name]
        if math.isnan(want):
            assert isinstance(value, str) and value.startswith("#"), (metric.formula, value)
        else:
            assert math.isclose(value, want, rel_tol=1e-9, abs_tol=1e-9), (metric.formula, value)
            checked += 1
    assert checked > 75  # most formulas are defined: the comparison is of numbers


SCENARIOS = {"plan": {"managers": 7}, "План Б": {"call_to_purchase": "6%", "working_days": 20}}


@needs_soffice
def test_scenario_sheets_recalculate_to_their_values(tmp_path: Path) -> None:
    """Each scenario's sheet computes the tree at its values; untouched leaves follow KPIs."""
    tree = EXAMPLES["sales_revenue"]()
    path = tree.to_xlsx(tmp_path / "scenarios.xlsx", scenarios=SCENARIOS)
    converted = recalculated([path], tmp_path)["scenarios"]
    book = openpyxl.load_workbook(converted, data_only=True)
    for title, values in SCENARIOS.items():
        expected = tree.evaluate(values)
        sheet = {row[0]: row[1] for row in book[title].iter_rows(min_row=2, values_only=True)}
        assert set(sheet) == set(tree.names)
        for name in tree.names:
            assert close(sheet[name], expected[name]), (title, name)
    assert kt.read_xlsx(converted) == tree  # scenario sheets are not part of the tree


@needs_soffice
def test_changing_a_kpi_in_the_workbook_recalculates_the_tree(tmp_path: Path) -> None:
    """Metrics are live formulas: a new KPI value in the cell gives the tree's new values."""
    tree = EXAMPLES["sales_revenue"]()
    path = tree.to_xlsx(tmp_path / "edited.xlsx")
    book = openpyxl.load_workbook(path)
    ((sheet, ref),) = book.defined_names["managers"].destinations
    book[sheet][ref.replace("$", "")].value = 7
    book.save(path)
    got = cell_values(recalculated([path], tmp_path)["edited"])
    assert close(got["revenue"], tree.evaluate({"managers": 7})["revenue"])


def test_workbook_layout_names_and_live_formulas(tmp_path: Path) -> None:
    """KPI value cells are defined names; metric cells are formulas over names; roles coloured."""
    tree = EXAMPLES["qualified_leads"]()
    book = openpyxl.load_workbook(tree.to_xlsx(tmp_path / "ql.xlsx"))
    assert book.sheetnames[:2] == ["KPIs", "Metrics"]
    assert book["kpitree"].sheet_state == "hidden"
    kpis, metrics = book["KPIs"], book["Metrics"]
    header = [c.value for c in kpis[1]]
    assert header[:11] == [
        "name",
        "owner",
        "horizon",
        "value",
        "unit",
        "lower bound",
        "upper bound",
        "norm",
        "influenced by",
        "standards",
        "aggregate",
    ]
    assert [c.value for c in metrics[1]][:5] == ["name", "value", "formula", "unit", "norm"]
    assert book.defined_names["leads"].attr_text == "'KPIs'!$D$2"
    assert book.defined_names["qualified_leads"].attr_text == "'Metrics'!$B$2"
    assert metrics["B2"].value == "=leads*lead_to_ql"
    assert metrics["C2"].value == "leads * lead_to_ql"
    assert kpis["D3"].value == 0.8 and kpis["D3"].number_format.endswith("%")
    assert kpis["J3"].value.splitlines()[0] == "missed_calls <= 0"
    # Owners get a fill each; the KPI with a norm gets its status by conditional formatting.
    assert kpis["B2"].fill.start_color.rgb != kpis["B3"].fill.start_color.rgb
    rules = [r for rng in kpis.conditional_formatting for r in rng.rules]
    assert sorted(r.formula[0] for r in rules) == [
        "AND(ISNUMBER($D$3),$D$3>=0.8)",
        "AND(ISNUMBER($D$3),NOT($D$3>=0.8))",
    ]


def test_russian_locale_gives_russian_titles_and_headers(tmp_path: Path) -> None:
    """Under `ru` the sheet titles and headers are Russian; the workbook reads back equal."""
    tree = EXAMPLES["qualified_leads_ru"]()
    with kt.locale("ru"):
        path = tree.to_xlsx(tmp_path / "ru.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[:2] == ["КПЭ", "Метрики"]
    assert [c.value for c in book["КПЭ"][1]][:4] == [
        "название",
        "ответственный",
        "горизонт влияния",
        "значение",
    ]
    assert book.defined_names["лиды"].attr_text == "'КПЭ'!$D$2"
    assert kt.read_xlsx(path) == tree
    assert tree.to_xlsx(tmp_path / "en.xlsx", locale="en") and kt.read_xlsx(
        tmp_path / "en.xlsx"
    ) == (tree)


@pytest.mark.parametrize(
    ("name", "defined"),
    [
        ("leads", "leads"),
        ("cr1", "_cr1"),
        ("a1", "_a1"),
        ("XFD1048576", "_XFD1048576"),
        ("rc", "_rc"),
        ("R2C3", "_R2C3"),
        ("c", "_c"),
        ("true", "_true"),
        ("_cr1", "__cr1"),
        ("_total", "_total"),
        ("k0", "_k0"),  # no cell (rows start at 1), but refused all the same
        ("abcd1", "abcd1"),
        ("лиды", "лиды"),
    ],
)
def test_names_that_excel_reads_as_cells_are_prefixed(name: str, defined: str) -> None:
    """A name Excel would take for a cell or R1C1 reference gets `_`; reading undoes it."""
    assert excel_name(name) == defined
    assert node_name(defined) == name


@pytest.mark.parametrize(
    ("formula", "excel"),
    [
        ("a * b", "a*b"),
        ("-a ** 2", "-(a^2)"),
        ("(-a) ** 2", "(-a)^2"),
        ("a ** b ** z", "a^(b^z)"),
        ("(a ** b) ** z", "(a^b)^z"),
        ("a - (b - z)", "a-(b-z)"),
        ("a - b - z", "a-b-z"),
        ("a / (b * z)", "a/(b*z)"),
        ("a / b * z", "a/b*z"),
        ("a * -b", "a*(-b)"),
        ("a + -1", "a+(-1)"),
        ("a ** -1", "a^(-1)"),
        ("min(a, b, 2) + max(a, b)", "MIN(a,b,2)+MAX(a,b)"),
        ("abs(a) * log(b) / exp(z) - sqrt(a)", "ABS(a)*LN(b)/EXP(z)-SQRT(a)"),
        ("1e-05 * a + 0.5", "1E-05*a+0.5"),
        ("cr1 + a1", "_cr1+_a1"),
    ],
)
def test_excel_formula_table(formula: str, excel: str) -> None:
    """Expressions are written with Excel's functions, `^`, and Excel's precedence."""
    assert excel_formula(kt.parse_formula(formula)) == excel


@settings(max_examples=40, deadline=None)
@given(
    trees(
        operators=("+", "-", "*", "/", "**"),
        functions=("min", "max", "abs", "log", "exp", "sqrt"),
    ),
    st.sampled_from(["en", "ru"]),
)
def test_round_trip_random_trees(tree: kt.Tree, lang: str) -> None:
    """tree → xlsx → tree gives an equal tree, formulas included, for random trees."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = tree.to_xlsx(Path(folder) / "tree.xlsx", locale=lang)
        assert kt.read_xlsx(path) == tree


ROUND_TRIP = """
tree: [total, spare]
description: every field a leaf can have
kpis:
  leads:
    owner: marketing
    horizon: 2 days
    value: 1200
    unit: {one: lead, other: leads}
    bounds: {low: 0}
    norm: ">= 1000"
    influenced_by: [sales, "ops; and more", "\\"quoted\\""]
    standards:
      - reply within 15 minutes
      - calls >= 40
      - {name: response_minutes, norm: "<= 15"}
      - {name: chats, norm: "<= 0", text: no missed chats}
    aggregate: sum
    description: "=HYPERLINK(\\"http://example.com\\") stays text"
  rate:
    owner: sales
    horizon: неделя
    value: 12.5%
    unit: "%"
    bounds: [0, 1]
    norm: 0.1..0.9
    direction: higher
    uncertainty: {normal: {mean: 0.125, sd: 0.01}}
inputs:
  cr1: {value: 3, bounds: {high: 10}, aggregate: mean}
  spare: {value: 1}
metrics:
  total: {formula: leads*rate + cr1, unit: lead, target: 200, norm: "<= 300", direction: lower}
"""


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    """Owners, horizons, norms, units, bounds, standards, roles, text and roots survive."""
    tree = kt.loads(ROUND_TRIP)
    back = kt.read_xlsx(tree.to_xlsx(tmp_path / "all.xlsx"))
    assert back == tree
    assert back.dumps() == tree.dumps()  # the formula as written, the description too
    assert [n.name for n in back.roots] == ["total", "spare"]


def test_values_are_written_instead_of_the_leaves_own(tmp_path: Path) -> None:
    """`values=` writes the given leaf values in the KPI cells."""
    tree = EXAMPLES["qualified_leads"]()
    back = kt.read_xlsx(tree.to_xlsx(tmp_path / "v.xlsx", values={"leads": 1500}))
    assert back == tree.with_values({"leads": 1500})


def test_names_differing_only_by_case_are_refused(tmp_path: Path) -> None:
    """Excel's names ignore case: `Leads` and `leads` in one tree cannot be written."""
    with pytest.warns(kt.SpellingWarning):
        tree = kt.loads(
            "inputs: {Leads: {value: 1}, leads: {value: 2}}\nmetrics: {m: Leads + leads}"
        )
    with pytest.raises(DuplicateNameError, match="differ only by case"):
        tree.to_xlsx(tmp_path / "case.xlsx")
    assert not (tmp_path / "case.xlsx").exists()


def _driver_book(path: Path, formulas: dict[str, str], extra: Any = None) -> Path:
    """A workbook laid out by hand: a header row, named number cells, formulas over names."""
    from openpyxl.workbook.defined_name import DefinedName

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Drivers"
    sheet.append(["Name", "Value", "Owner", "Horizon", "Unit"])
    rows = [
        ("leads", 1000, "marketing", "1 day", "lead"),
        ("rate", 0.25, "sales", "1 week", "%"),
        ("price", 12000, None, None, "RUB"),
    ]
    for name, value, owner, horizon, unit in rows:
        sheet.append([name, value, owner, horizon, unit])
    for name, formula in formulas.items():
        sheet.append([name, formula])
    for row in range(2, sheet.max_row + 1):
        name = sheet.cell(row, 1).value
        book.defined_names[name] = DefinedName(name, attr_text=f"Drivers!$B${row}")
    book.defined_names["block"] = DefinedName("block", attr_text="Drivers!$B$2:$B$4")
    if extra is not None:
        extra(book)
    book.save(path)
    return path


def test_hand_laid_driver_workbook_reads_into_a_tree(tmp_path: Path) -> None:
    """Named cells with numbers are leaves, formulas over names metrics, headers their fields."""
    path = _driver_book(
        tmp_path / "drivers.xlsx",
        {
            "deals": "=leads * RATE",
            "revenue": "=SUM(deals*price, 0)",
            "squared": "=-rate^2 + POWER(rate, 2) + 5%",
        },
    )
    tree = kt.read_xlsx(path)
    assert tree["leads"].owner == "marketing" and str(tree["rate"].horizon) == "1 week"
    assert isinstance(tree["price"], kt.Input) and str(tree["price"].unit) == "RUB"
    assert str(tree["deals"].formula) == "leads * rate"  # Excel's names ignore case
    assert str(tree["squared"].formula) == "(-rate) ** 2 + rate ** 2 + 5 / 100"
    values = tree.evaluate()
    assert values["revenue"] == pytest.approx(1000 * 0.25 * 12000)
    assert values["squared"] == pytest.approx(0.0625 * 2 + 0.05)


@pytest.mark.parametrize(
    ("formula", "error", "words"),
    [
        ("=B2*2", FormulaError, "uses the cell or range `B2`, which has no name"),
        ("=SUM(B2:B4)", FormulaError, "uses the cell or range `B2:B4`"),
        ("=Drivers!$B$2+1", FormulaError, "uses the cell or range `Drivers!$B$2`"),
        ("=SUM(block)", FormulaError, "`block` in `=SUM(block)` names `Drivers!$B$2:$B$4`"),
        ("=VLOOKUP(leads, block, 2)", UnknownNameError, "the function `VLOOKUP`"),
        ("=LOG(leads)", UnknownNameError, "the function `LOG`"),
        ("=leads & rate", FormulaError, "the operator `&`"),
        ('=leads * "x"', FormulaError, '`"x"` in'),
        ("=leads > 3", FormulaError, "the operator `>`"),
        ("=leeds * 2", UnknownNameError, "`leeds`, which is not a name in the workbook"),
        ("=(leads * 2", FormulaError, "ends too early"),
        ("=ABS(leads, rate)", FormulaError, "abs"),
    ],
)
def test_bad_formulas_name_sheet_and_cell(formula: str, error: type, words: str) -> None:
    """Each formula kpitree cannot read is refused with its sheet and cell."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = _driver_book(Path(folder) / "bad.xlsx", {"bad": formula})
        with pytest.raises(ValidationError) as caught:
            kt.read_xlsx(path)
    (problem,) = caught.value.problems
    assert isinstance(problem, error)
    assert "'Drivers'!B5" in str(problem)
    assert words in str(problem)


def test_circular_reference_is_refused_with_its_cell(tmp_path: Path) -> None:
    """Metrics whose formulas use each other in a loop are a CycleError naming the loop."""
    path = _driver_book(tmp_path / "loop.xlsx", {"a": "=b + leads", "b": "=a * 2"})
    with pytest.raises(CycleError, match=r"circular reference: (a → b → a|b → a → b)") as caught:
        kt.read_xlsx(path)
    assert "'Drivers'!B" in str(caught.value)


def test_schema_problems_name_the_cell(tmp_path: Path) -> None:
    """A bad field in a row (a horizon kpitree cannot read) is located at its cell."""

    def bad_horizon(book: Any) -> None:
        book["Drivers"]["D2"] = "sometime"

    path = _driver_book(tmp_path / "field.xlsx", {}, bad_horizon)
    with pytest.raises(KPITreeError) as caught:
        kt.read_xlsx(path)
    assert "'Drivers'!D2" in str(caught.value)


def test_not_a_workbook_is_a_clear_error(tmp_path: Path) -> None:
    """A file that is not .xlsx, or no file, is an ArgumentError saying so."""
    (tmp_path / "x.xlsx").write_text("not a workbook")
    with pytest.raises(kt.ArgumentError, match=r"cannot read .* as an Excel workbook"):
        kt.read_xlsx(tmp_path / "x.xlsx")
    with pytest.raises(kt.ArgumentError, match="there is no file"):
        kt.read_xlsx(tmp_path / "missing.xlsx")


def test_cli_exports_a_workbook(tmp_path: Path) -> None:
    """`kpitree export FILE --to xlsx -o OUT` writes a workbook that reads back equal."""
    model = Path(__file__).parents[1] / "examples" / "qualified_leads.yaml"
    out = tmp_path / "ql.xlsx"
    run = subprocess.run(
        [sys.executable, "-m", "kpitree", "export", str(model), "--to", "xlsx", "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert kt.read_xlsx(out) == kt.load(model)
    refused = subprocess.run(
        [sys.executable, "-m", "kpitree", "export", str(model), "--to", "xlsx"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2 and "-o PATH.xlsx" in refused.stderr


def test_xml_entity_expansion_is_refused(tmp_path: Path) -> None:
    """A workbook whose XML declares entities ("billion laughs") is refused, not expanded."""
    import zipfile

    good = EXAMPLES["qualified_leads"]().to_xlsx(tmp_path / "good.xlsx")
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bomb, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/workbook.xml":
                entities = '<!DOCTYPE workbook [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
                data = entities.encode() + data.replace(b"<workbookPr", b"<!-- &b; --><workbookPr")
            target.writestr(item, data)
    with pytest.raises(kt.ArgumentError, match=r"cannot read .* as an Excel workbook"):
        kt.read_xlsx(bomb)


def test_an_edited_excel_formula_wins_over_the_formula_text(tmp_path: Path) -> None:
    """The live Excel formula is the metric; the formula-text column only keeps the spelling."""
    tree = EXAMPLES["qualified_leads"]()
    path = tree.to_xlsx(tmp_path / "edited.xlsx")
    book = openpyxl.load_workbook(path)
    book["Metrics"]["B2"].value = "=leads*lead_to_ql*2"
    book.save(path)
    assert str(kt.read_xlsx(path)["qualified_leads"].formula) == "leads * lead_to_ql * 2"


def test_a_formula_beyond_excels_length_limit_is_refused(tmp_path: Path) -> None:
    """Excel holds formulas of up to 8,192 characters: a longer one is a LimitError."""
    leaves = [kt.Input(f"segment_{i}", value=1) for i in range(900)]
    total = leaves[0]
    for leaf in leaves[1:]:
        total = total + leaf
    tree = kt.Tree(kt.Metric("total", total))
    with pytest.raises(kt.LimitError, match="over Excel's limit of 8,192"):
        tree.to_xlsx(tmp_path / "long.xlsx")


def test_cli_export_speaks_the_models_locale(tmp_path: Path) -> None:
    """A model with `locale: ru` exports Russian sheets; errors reading a workbook are Russian."""
    model = Path(__file__).parents[1] / "examples" / "qualified_leads_ru.yaml"
    out = tmp_path / "ru.xlsx"
    # No language chosen (the suite chooses English through KPITREE_LANG): the model's own.
    env = {k: v for k, v in os.environ.items() if k not in ("KPITREE_LANG", "LANG", "LC_ALL")}
    run = subprocess.run(
        [sys.executable, "-m", "kpitree", "export", str(model), "--to", "xlsx", "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert openpyxl.load_workbook(out).sheetnames[:2] == ["КПЭ", "Метрики"]
    book = openpyxl.load_workbook(out)
    book["Метрики"]["B2"].value = "=VLOOKUP(лиды, 2)"
    book.save(out)
    with kt.locale("ru"), pytest.raises(ValidationError) as caught:
        kt.read_xlsx(out)
    assert "'Метрики'!B2: у функции `VLOOKUP`" in str(caught.value)


def test_scenario_sheets_read_back_and_refer_to_the_kpis(tmp_path: Path) -> None:
    """A scenario's names are of its sheet's scope; its untouched leaves are the KPIs' cells."""
    tree = EXAMPLES["sales_revenue"]()
    path = tree.to_xlsx(tmp_path / "s.xlsx", scenarios=SCENARIOS)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["KPIs", "Metrics", "plan", "План Б", "kpitree"]
    plan = book["plan"]
    assert plan["B2"].value == 7 and plan["B3"].value == "='KPIs'!$D$3"
    assert plan.defined_names["revenue"].attr_text == "'plan'!$B$7"
    assert plan["B7"].value == "=purchases*avg_order_value"
    assert kt.read_xlsx(path) == tree
    plan.title = "renamed in Excel"
    book.save(path)
    assert kt.read_xlsx(path) == tree


@pytest.mark.parametrize(
    ("scenarios", "error", "words"),
    [
        ({"a/b": {}}, kt.ArgumentError, "cannot be a sheet's title"),
        ({"x" * 32: {}}, kt.ArgumentError, "cannot be a sheet's title"),
        ({"kpis": {}}, DuplicateNameError, "the title of another sheet"),
        ({"KPITREE": {}}, DuplicateNameError, "the title of another sheet"),
        ({"plan": {"managerz": 3}}, UnknownNameError, "managerz"),
        ({"plan": {"revenue": 3}}, KPITreeError, "revenue"),
    ],
)
def test_bad_scenarios_are_refused(scenarios: Any, error: type, words: str) -> None:
    """A title a sheet cannot have, or values for no leaf, are refused before writing."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder, pytest.raises(error, match=words):
        EXAMPLES["sales_revenue"]().to_xlsx(Path(folder) / "x.xlsx", scenarios=scenarios)


def test_cli_writes_scenarios_from_values_files(tmp_path: Path) -> None:
    """`--scenario TITLE=FILE[:PERIOD]` adds a sheet; measured standards in the file are skipped."""
    root = Path(__file__).parents[1] / "examples"
    out = tmp_path / "ql.xlsx"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "kpitree",
            "export",
            str(root / "qualified_leads.yaml"),
            "--to",
            "xlsx",
            "-o",
            str(out),
            "--scenario",
            f"October={root / 'values' / 'october.yaml'}",
            "--scenario",
            f"September={root / 'values' / 'qualified_leads.csv'}:2026-09",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    book = openpyxl.load_workbook(out)
    assert book.sheetnames[2:4] == ["October", "September"]
    assert book["October"]["B3"].value == 0.75


def test_a_zip_bomb_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A workbook whose entries unpack to far more than a model holds is refused unread."""
    import zipfile

    good = EXAMPLES["qualified_leads"]().to_xlsx(tmp_path / "good.xlsx")
    bomb = tmp_path / "bomb.xlsx"
    packed = zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(good) as source, packed as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        zeros = b"\0" * 2**20
        with target.open("xl/media/padding.bin", "w", force_zip64=True) as padding:
            for _ in range(201):
                padding.write(zeros)
    assert bomb.stat().st_size < 2**20  # small on disk: it is the unpacked size that counts
    with pytest.raises(kt.ArgumentError, match=r"unpacks to 210,\d{3},\d{3} bytes, over the limit"):
        kt.read_xlsx(bomb)


def test_names_excel_cannot_hold_are_refused_by_name(tmp_path: Path) -> None:
    """An identifier may hold `·`; Excel's names may not: the error names the node."""
    tree = kt.Tree(kt.Metric("leads·won", kt.Input("leads", value=1) * 2))
    with pytest.raises(kt.ArgumentError, match=r"`leads·won` has `·`, which Excel's names"):
        tree.to_xlsx(tmp_path / "names.xlsx")
    assert not (tmp_path / "names.xlsx").exists()
    combining = kt.Tree(kt.Metric("लीड", kt.Input("x", value=1) * 2))  # letters with marks
    combining.to_xlsx(tmp_path / "marks.xlsx")


def test_functions_nested_beyond_excels_limit_are_refused(tmp_path: Path) -> None:
    """Excel nests functions 64 deep and gives a function 255 arguments, no more."""
    x = kt.Input("x", value=2)
    deep = x
    for _ in range(65):
        deep = abs(deep)
    with pytest.raises(kt.LimitError, match="nests functions 65 deep, over Excel's limit of 64"):
        kt.Tree(kt.Metric("deep", deep)).to_xlsx(tmp_path / "deep.xlsx")
    wide = kt.max(*(kt.Input(f"s{i}", value=i) for i in range(256)))
    with pytest.raises(kt.LimitError, match="gives a function 256 arguments, over Excel's"):
        kt.Tree(kt.Metric("wide", wide)).to_xlsx(tmp_path / "wide.xlsx")
    at_limit = kt.max(*(kt.Input(f"s{i}", value=i) for i in range(255)))
    kt.Tree(kt.Metric("wide", at_limit)).to_xlsx(tmp_path / "ok.xlsx")

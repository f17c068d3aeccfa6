"""Values files: one set of values, or one per period, from YAML, JSON or CSV."""

from pathlib import Path

import pytest

import kpitree as kt
from kpitree.io.values import load_values, loads_values, periods, split_spec
from kpitree.tree import load

VALUES = Path(__file__).resolve().parent.parent / "examples" / "values"


@pytest.mark.parametrize(
    ("text", "fmt", "period", "expected"),
    [
        ("leads: 1200\nlead_to_ql: 80%\n", "yaml", None, {"leads": 1200.0, "lead_to_ql": 0.8}),
        ("leads: 1e3\n", "yaml", None, {"leads": 1000.0}),
        ('{"leads": "1 000", "rate": 0.5}', "json", None, {"leads": 1000.0, "rate": 0.5}),
        ("2026-09: {leads: 900}\n2026-10: {leads: 1000}\n", "yaml", "2026-10", {"leads": 1000.0}),
        ("period,leads,rate\n2026-09,900,80%\n", "csv", None, {"leads": 900.0, "rate": 0.8}),
        ("period,leads,rate\n2026-09,900,\n2026-10,1000,75%\n", "csv", "2026-09", {"leads": 900.0}),
        ("period;leads;rate\n2026-09;900;80%\n", "csv", None, {"leads": 900.0, "rate": 0.8}),
        ("period,leads\n\n2026-09,900\n\n", "csv", None, {"leads": 900.0}),
    ],
)
def test_values_are_read(text: str, fmt: str, period: str | None, expected: dict) -> None:
    """Each shape of values file gives floats, with `80%` read as 0.8 and empty cells skipped."""
    assert loads_values(text, fmt, period) == expected


@pytest.mark.parametrize(
    ("text", "fmt", "period", "error", "words"),
    [
        ("leads: lots\n", "yaml", None, kt.ValueTypeError, "<text>:1 @ $.leads"),
        ("leads: .nan\n", "yaml", None, kt.ValueTypeError, "not finite"),
        ("leads: no\n", "yaml", None, kt.ValueTypeError, 'write "no" in quotes'),
        ("- 1\n- 2\n", "yaml", None, kt.ValueTypeError, "mapping of names to values"),
        ("leads: 1\nleads: 2\n", "yaml", None, kt.DuplicateNameError, "duplicate key `leads`"),
        ('{"leads": NaN}', "json", None, kt.ValueTypeError, "`NaN` is not a finite number"),
        ("a: {x: 1}\nb: {x: 2}\n", "yaml", None, kt.UnknownNameError, "has 2 periods; choose"),
        ("a: {x: 1}\nb: {x: 2}\n", "yaml", "c", kt.UnknownNameError, "has no period `c`"),
        ("period,x\n2026-09,1\n", "csv", "2026-9", kt.UnknownNameError, "did you mean `2026-09`"),
        ("period,x\n2026-09,abc\n", "csv", None, kt.ValueTypeError, '<text>:2 @ $["2026-09"].x'),
        ('period,x\n2026-09,"0,8"\n', "csv", None, kt.ValueTypeError, "a decimal comma"),
        ("period\n", "csv", None, kt.ValueTypeError, "a header row and a row per period"),
    ],
)
def test_bad_values(text: str, fmt: str, period: str | None, error: type, words: str) -> None:
    """Bad values files give a kpitree error naming the place and the problem."""
    with pytest.raises(kt.KPITreeError) as info:
        loads_values(text, fmt, period)
    found = [info.value, *getattr(info.value, "problems", ())]
    matching = [p for p in found if words in str(p)]
    assert matching, str(info.value)
    assert isinstance(matching[-1], error)


def test_example_values_files() -> None:
    """The example values files read as documented."""
    assert load_values(VALUES / "qualified_leads.csv", "2026-09") == {
        "leads": 1100.0,
        "lead_to_ql": 0.82,
    }
    assert periods(VALUES / "qualified_leads.csv") == ["2026-09", "2026-10"]
    assert periods(VALUES / "sales_revenue.yaml") == ["2026-09", "2026-10"]
    assert periods(VALUES / "october.yaml") == []
    assert load_values(VALUES / "sales_revenue.yaml", "2026-10")["managers"] == 6.0


def test_values_apply_to_the_example_tree() -> None:
    """Values read from a file evaluate the example tree they were written for."""
    tree = load(Path(__file__).resolve().parent.parent / "examples" / "qualified_leads.yaml")
    values = load_values(VALUES / "qualified_leads.csv", "2026-09")
    assert tree.evaluate(values)["qualified_leads"] == pytest.approx(1100 * 0.82)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("values.csv:2026-10", (Path("values.csv"), "2026-10")),
        ("values.csv", (Path("values.csv"), None)),
        ("dir/v.yaml:q3", (Path("dir/v.yaml"), "q3")),
    ],
)
def test_split_spec(spec: str, expected: tuple[Path, str | None]) -> None:
    """FILE:PERIOD splits at the last colon; a bare file has no period."""
    assert split_spec(spec) == expected


def test_split_spec_prefers_an_existing_file(tmp_path: Path) -> None:
    """A file whose name has a colon is taken whole when it exists."""
    path = tmp_path / "a:b.yaml"
    path.write_text("x: 1\n")
    assert split_spec(str(path)) == (path, None)


def test_values_file_size_limit(tmp_path: Path) -> None:
    """Values files obey Limits.max_file_bytes, CSV included."""
    for name in ("big.csv", "big.yaml"):
        path = tmp_path / name
        path.write_text("period,x\n" + "2026-09,1\n" * 100)
        with pytest.raises(kt.ValidationError, match="over the limit"):
            load_values(path, limits=kt.Limits(max_file_bytes=50))


RUSSIAN_EXCEL = "период;лиды;конверсия\r\n2026-09;1\u00a0000;0,8\r\n2026-10;1 200,5;82,5 %\r\n"


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("2026-09", {"лиды": 1000.0, "конверсия": 0.8}),
        ("2026-10", {"лиды": 1200.5, "конверсия": 0.825}),
    ],
)
def test_a_russian_excel_csv_reads_under_ru(period: str, expected: dict[str, float]) -> None:
    """`;` between fields, `0,8` and `1 000` (as Russian Excel exports) read under `ru`."""
    with kt.locale("ru"):
        assert loads_values(RUSSIAN_EXCEL, "csv", period) == expected


def test_a_russian_excel_csv_under_en_hints_the_russian_locale() -> None:
    """Under `en` the decimal comma of a `;` CSV is refused, pointing to `--lang ru`."""
    with pytest.raises(kt.ValidationError) as info:
        loads_values(RUSSIAN_EXCEL, "csv", "2026-09")
    (problem,) = info.value.problems
    assert "'0,8' (a decimal comma)" in problem.reason
    assert problem.hint is not None
    assert "`--lang ru`" in problem.hint and "`locale: ru`" in problem.hint


def test_a_comma_csv_keeps_the_plain_decimal_comma_hint() -> None:
    """In a `,` CSV a quoted `"0,8"` under `en` keeps the hint to write `0.8`."""
    with pytest.raises(kt.ValidationError) as info:
        loads_values('period,rate\n2026-09,"0,8"\n', "csv")
    assert info.value.problems[0].hint == "write 0.8"
    with kt.locale("ru"):
        assert loads_values('period,rate\n2026-09,"0,8"\n', "csv") == {"rate": 0.8}

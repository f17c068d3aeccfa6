"""Round trips lose nothing, and loaders raise only kpitree errors.

Every text field reads back as written, in every format; what a file cannot hold is refused
at dump time.
"""

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kpitree as kt
from kpitree.apps.cli import main as cli_main
from kpitree.io.documents import JSONSyntaxError, read_json
from kpitree.io.model import dump, dumps, from_dict, load, loads, to_dict
from kpitree.io.values import loads_values
from kpitree.model.norm import parse_norm
from kpitree.testing import trees

FORMATS = ("yaml", "json", "toml")
# Characters that broke a format once: DEL (TOML), NEL and line/paragraph separators (YAML),
# control characters, a byte-order mark, quotes and backslashes, YAML indicators.
TRICKY = "\x00\x07\t\n\r\x1b\x7f\x85\xa0\u2028\u2029\ufeff\ufffe\U0001f600\"'\\#:-&*!|>%@`"
TEXT = st.text(
    st.one_of(st.characters(), st.sampled_from(TRICKY)),
    max_size=30,
)
ROLE = TEXT.filter(lambda t: t.strip() != "")


def _name(text: str) -> bool:
    try:
        kt.Metric(text, 1)
    except kt.KPITreeError:
        return False
    return True


NAME = st.from_regex(r"[^\W\d]\w{0,6}", fullmatch=True).filter(_name)
# Units as written: an order that is not canonical, plural forms in any order given.
PLURAL = st.permutations(
    [("one", "лид"), ("few", "лида"), ("many", "лидов"), ("other", "лида")]
).flatmap(lambda pairs: st.integers(1, 4).map(lambda n: dict(pairs[:n])))
UNIT = st.one_of(
    st.sampled_from([None, "lead", "RUB/day", "%", "звонок/менеджер/день", "RUB per lead"]),
    PLURAL,
    st.just({"one": "lead/day", "other": "leads/day"}),
)
THRESHOLD = st.sampled_from(["80%", "0.8", "15", "12.5 %", "0", "1e3", "1 000"])
NORM = st.one_of(
    st.builds(
        "{}{}{}".format,
        st.sampled_from([">=", "≥", "<=", "≤", "не менее", "не более", "at least", "At most"]),
        st.sampled_from(["", " ", "  "]),
        THRESHOLD,
    ),
    st.sampled_from(["70%..90%", "0.7 .. 0.9", "5..15"]),
)

DIRECTION = st.sampled_from([None, "higher", "lower"])


@st.composite
def described_trees(draw: Any) -> kt.Tree:
    """A tree with random text in every text field: descriptions, owners, roles, standards."""
    names = draw(st.lists(NAME, min_size=4, max_size=4, unique=True))
    standard_name = draw(NAME)
    standards = [
        draw(TEXT),
        kt.Standard(draw(TEXT), standard_name, draw(st.sampled_from(["<= 15", ">= 0.5"]))),
    ]
    norm = draw(st.none() | NORM)
    sense = 0 if norm is None else parse_norm(norm).sense
    # A direction the norm contradicts is refused, so only agreeing ones (or none) are drawn.
    agreeing = [d for d in ("higher", "lower") if not sense or (sense > 0) == (d == "higher")]
    kpi = kt.KPI(
        names[0],
        owner=draw(ROLE),
        horizon="1 day",
        value=1,
        influenced_by=draw(st.lists(ROLE, max_size=2)),
        standards=draw(st.sampled_from([standards, standards[:1], []])),
        description=draw(TEXT),
        unit=draw(UNIT),
        norm=norm,
        direction=draw(st.sampled_from([None, *agreeing])),
    )
    leaf = kt.Input(names[1], value=2, description=draw(TEXT), direction=draw(DIRECTION))
    metric = kt.Metric(names[2], kpi * leaf, description=draw(TEXT), direction=draw(DIRECTION))
    top = kt.Metric(names[3], f"{names[2]} + 1", description=draw(TEXT))
    return kt.Tree(
        top,
        metric,
        kpi,
        leaf,
        description=draw(st.none() | TEXT),
        locale=draw(st.sampled_from([None, "en", "ru", "ru_RU.UTF-8"])),
    )


def _has_surrogate(tree: kt.Tree) -> bool:
    text = json.dumps(to_dict(tree), ensure_ascii=False)
    return any("\ud800" <= ch <= "\udfff" for ch in text)


# Random owners and roles may look alike (`Ŵ`, `ŵ`): the warning is right, and beside the point.
LOOK_ALIKE = pytest.mark.filterwarnings("ignore::kpitree.errors.KPITreeWarning")


@LOOK_ALIKE
@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=60)
@given(tree=described_trees())
def test_every_text_field_round_trips(fmt: str, tree: kt.Tree) -> None:
    """`loads(dumps(tree, f), f) == tree`, every text field included, for random text.

    Text with a lone surrogate, which no UTF-8 file can hold, is refused at dump instead.
    """
    if _has_surrogate(tree):
        with pytest.raises(kt.KPITreeError, match="lone surrogate"):
            dumps(tree, fmt)
        return
    back = loads(dumps(tree, fmt), fmt)
    assert back == tree
    assert (back.description, back.locale) == (tree.description, tree.locale)
    for node in tree:
        again = back[node.name]
        assert again.description == node.description
        assert getattr(again, "owner", None) == getattr(node, "owner", None)
        assert getattr(again, "standards", ()) == getattr(node, "standards", ())
        assert getattr(again, "influenced_by", ()) == getattr(node, "influenced_by", ())
        assert str(getattr(again, "norm", None)) == str(getattr(node, "norm", None))
        assert again.direction == node.direction  # kept only when given: None stays None
        unit, unit_back = getattr(node, "unit", None), getattr(again, "unit", None)
        assert str(unit_back) == str(unit)
        assert getattr(unit_back, "forms", ()) == getattr(unit, "forms", ())


@LOOK_ALIKE
@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=30)
@given(tree=described_trees())
def test_every_text_field_round_trips_through_a_file(
    fmt: str, tree: kt.Tree, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Written to a UTF-8 file and read back, the tree is equal."""
    path = tmp_path_factory.mktemp("trip") / f"model.{fmt}"
    if _has_surrogate(tree):
        with pytest.raises(kt.KPITreeError, match="lone surrogate"):
            dump(tree, path)
        return
    back = load(dump(tree, path))
    assert back == tree
    assert (back.description, back.locale) == (tree.description, tree.locale)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_model_file_is_written_back_as_its_author_wrote_it(fmt: str) -> None:
    """Description, locale, horizons, norms and percentages dump as written, not normalised."""
    tree = loads(
        "locale: ru\n"
        "description: Квалифицированные лиды по ответственным\n"
        "kpis:\n"
        "  лиды: {owner: маркетинг, horizon: 1 день, value: 1000}\n"
        "  конверсия: {owner: продажи, horizon: 2 нед., value: 80%, unit: '%', norm: '>= 80%'}\n"
        "metrics:\n"
        "  квал: {formula: лиды * конверсия, norm: не менее 700}\n"
    )
    data = to_dict(loads(dumps(tree, fmt), fmt))
    assert data["locale"] == "ru"
    assert data["description"] == "Квалифицированные лиды по ответственным"
    assert data["kpis"]["конверсия"] == {
        "owner": "продажи",
        "horizon": "2 нед.",
        "value": "80%",
        "unit": "%",
        "norm": ">= 80%",
    }
    assert data["kpis"]["лиды"]["horizon"] == "1 день"
    assert data["metrics"]["квал"]["norm"] == "не менее 700"


def test_an_unknown_locale_names_its_line_and_the_locales() -> None:
    """`locale: de` is a located problem whose hint lists the locales kpitree speaks."""
    with pytest.raises(kt.ValidationError) as info:
        loads("kpis:\n  a: {owner: x, horizon: 1 day}\nlocale: de\n")
    text = str(info.value)
    assert '<text>:3 @ $.locale: unknown locale "de"' in text
    assert "kpitree speaks en, ru" in text


def test_a_tree_without_locale_or_description_has_none() -> None:
    """`tree.locale` and `tree.description` are None when the file does not give them."""
    tree = loads("kpis:\n  a: {owner: x, horizon: 1 day}\n")
    assert (tree.locale, tree.description) == (None, None)
    assert "locale" not in to_dict(tree) and "description" not in to_dict(tree)


def _described(text: str) -> kt.Tree:
    return kt.Tree(
        kt.Metric("m", "a * 2", description=text),
        kt.KPI("a", owner="sales", horizon="1 day", value=1, description=text),
    )


@pytest.mark.parametrize(
    ("fmt", "text"),
    [("toml", "x\x7fy"), ("yaml", "a\x85b"), ("yaml", "a\u2028b"), ("yaml", "a\rb")],
)
def test_characters_that_broke_a_format_round_trip(fmt: str, text: str) -> None:
    """DEL in TOML and NEL in YAML (once unreadable or turned into a space) read back exactly."""
    back = loads(dumps(_described(text), fmt), fmt)
    assert back["a"].description == text
    assert back["m"].description == text


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_lone_surrogate_is_refused_at_dump_naming_the_field(fmt: str, tmp_path: Path) -> None:
    """A lone surrogate, which UTF-8 cannot hold, is a kpitree error naming the field."""
    tree = _described("bad \ud800 text")
    with pytest.raises(kt.ValidationError) as info:
        dumps(tree, fmt)
    places = [str(p) for p in info.value.problems]
    assert any("$.kpis.a.description" in p for p in places)
    assert any("$.metrics.m.description" in p for p in places)
    with pytest.raises(kt.ArgumentError, match=r"\$\.kpis\.a\.owner"):
        dump(
            kt.Tree(kt.Metric("m", "a * 2"), kt.KPI("a", owner="s\udfff", horizon="1 day")),
            tmp_path / f"m.{fmt}",
        )
    assert not (tmp_path / f"m.{fmt}").exists()


# -- long numbers -----------------------------------------------------------------------------

DIGITS = "1" * 5000
LONG = {
    "toml": f'tree = "m"\n[kpis.a]\nowner = "o"\nhorizon = "1 day"\nvalue = {DIGITS}\n',
    "json": f'{{"kpis": {{"a": {{"owner": "o", "horizon": "1 day",\n "value": {DIGITS}}}}}}}',
    "yaml": f"kpis:\n  a:\n    owner: o\n    horizon: 1 day\n    value: {DIGITS}\n",
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_number_of_thousands_of_digits_is_a_located_kpitree_error(fmt: str) -> None:
    """An integer beyond Python's digit limit is a LimitError at its line, not a ValueError."""
    with pytest.raises(kt.ValidationError) as info:
        loads(LONG[fmt], fmt, source=f"m.{fmt}")
    (problem,) = info.value.problems
    # JSON keeps its JSONSyntaxError, which the explorer's server words for its clients.
    assert isinstance(problem, kt.LimitError if fmt != "json" else JSONSyntaxError)
    assert "5,000 digits" in str(problem)
    line = {"toml": 5, "json": 2, "yaml": 5}[fmt]
    assert problem.where is not None and problem.where.startswith(f"m.{fmt}:{line}")


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_a_long_number_in_a_values_file_is_located(fmt: str) -> None:
    """The same holds for values files."""
    text = f"leads: {DIGITS}\n" if fmt == "yaml" else f'{{"leads": {DIGITS}}}'
    with pytest.raises(kt.ValidationError, match=r"<text>:1.*5,000 digits"):
        loads_values(text, fmt)


def test_the_cli_reports_a_long_toml_number_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`kpitree check` on such a TOML file exits 2 with the located message."""
    path = tmp_path / "m.toml"
    path.write_text(LONG["toml"], encoding="utf-8")
    code = cli_main(["check", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "m.toml:5" in err and "Traceback" not in err


def test_read_json_locates_a_long_number() -> None:
    """`read_json` (the explorer's reader) says on which line the long number is."""
    with pytest.raises(kt.ValidationError, match=r"body.json:2: a number of 5,000 digits"):
        read_json('{"a": 1,\n "b": ' + DIGITS + "}", source="body.json")


# -- CSV values files -------------------------------------------------------------------------


def test_a_csv_column_given_twice_is_refused() -> None:
    """A duplicate CSV column is a DuplicateNameError on line 1, not the last one winning."""
    with pytest.raises(kt.ValidationError) as info:
        loads_values("period,leads,leads\n2026-10,1,2\n", "csv", source="v.csv")
    (problem,) = info.value.problems
    assert isinstance(problem, kt.DuplicateNameError)
    assert problem.where == "v.csv:1" and "`leads`" in problem.reason


def test_a_csv_period_given_twice_is_refused() -> None:
    """A duplicate CSV period is a DuplicateNameError at its second line, naming the first."""
    text = "period,leads\n2026-09,1\n2026-10,2\n2026-09,3\n"
    with pytest.raises(kt.ValidationError) as info:
        loads_values(text, "csv", "2026-09", source="v.csv")
    (problem,) = info.value.problems
    assert isinstance(problem, kt.DuplicateNameError)
    assert problem.where == "v.csv:4" and "first at line 2" in problem.reason


@pytest.mark.parametrize("text", ["\r0", 'period,leads\n2026-10,"1\n'])
def test_a_csv_the_csv_module_cannot_read_is_a_kpitree_error(text: str) -> None:
    """A bare carriage return or an unclosed quote is a located error, not a raw csv.Error."""
    with pytest.raises(kt.ValidationError):
        loads_values(text, "csv", source="v.csv")


def test_csv_with_windows_line_endings_reads() -> None:
    """CSV with CRLF line endings reads as with LF."""
    assert loads_values("period,leads\r\n2026-10,1\r\n", "csv") == {"leads": 1.0}


# -- every error is a kpitree error: loaders with junk --------------------------------------

JSON_LIKE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    [
        "owner",
        "horizon",
        "value",
        "unit",
        "bounds",
        "norm",
        "influenced_by",
        "standards",
        "aggregate",
        "description",
        "uncertainty",
        "formula",
        "target",
        "bogus",
    ]
)
SPEC = st.dictionaries(FIELDS, JSON_LIKE, max_size=4)
MODEL = st.fixed_dictionaries(
    {},
    optional={
        "tree": JSON_LIKE,
        "description": JSON_LIKE,
        "kpis": st.dictionaries(st.text(max_size=5), SPEC | JSON_LIKE, max_size=2),
        "inputs": st.dictionaries(st.text(max_size=5), SPEC | JSON_LIKE, max_size=2),
        "metrics": st.dictionaries(st.text(max_size=5), SPEC | JSON_LIKE, max_size=2),
    },
)


@LOOK_ALIKE
@given(data=MODEL | JSON_LIKE)
def test_from_dict_raises_only_kpitree_errors(data: Any) -> None:
    """Model data of any shape builds a tree or raises a KPITreeError."""
    with contextlib.suppress(kt.KPITreeError):
        from_dict(data)


@LOOK_ALIKE
@pytest.mark.parametrize("fmt", FORMATS)
@given(data=MODEL)
def test_loads_raises_only_kpitree_errors(fmt: str, data: Any) -> None:
    """Model files of any content load or raise a KPITreeError, in every format."""
    text = json.dumps(data) if fmt != "toml" else _rough_toml(data)
    with contextlib.suppress(kt.KPITreeError):
        loads(text, fmt)


def _rough_toml(data: Any) -> str:
    """TOML-ish text for junk: good enough to reach the reader, often not valid."""
    return "\n".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in data.items())


@LOOK_ALIKE
@given(text=st.text(max_size=60), fmt=st.sampled_from(["yaml", "json", "csv"]))
def test_loads_values_raises_only_kpitree_errors(text: str, fmt: str) -> None:
    """Values text of any content reads or raises a KPITreeError."""
    with contextlib.suppress(kt.KPITreeError):
        loads_values(text, fmt)


@LOOK_ALIKE
@given(text=st.text(max_size=60), fmt=st.sampled_from(FORMATS))
def test_loads_of_random_text_raises_only_kpitree_errors(text: str, fmt: str) -> None:
    """Model text of any characters loads or raises a KPITreeError."""
    with contextlib.suppress(kt.KPITreeError):
        loads(text, fmt)


@settings(max_examples=40, deadline=None)
@given(trees(max_leaves=6, functions=("min", "max", "log")))
def test_the_compiled_toml_reader_reads_what_tomllib_reads(tree: kt.Tree) -> None:
    """rtoml (the fast path) and tomllib (the careful one) give the same document."""
    import tomllib

    rtoml = pytest.importorskip("rtoml")
    text = dumps(tree, "toml")
    assert rtoml.loads(text) == tomllib.loads(text)


def test_toml_that_rtoml_refuses_gets_tomllibs_message_and_line() -> None:
    """A duplicate key: the fast reader refuses it, tomllib says where."""
    with pytest.raises(kt.KPITreeError, match=r"<text>:3: invalid TOML: Cannot overwrite a value"):
        loads('[kpis]\nleads = { owner = "m", horizon = "1 day" }\nleads = 1\n', "toml")

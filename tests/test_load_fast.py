"""Fast reading of model files: compiled parsers where they read exactly as the careful path.

YAML is read by yaml-rs (the `fast` extra) only when the text holds nothing that YAML 1.1
(PyYAML, the careful reader) and YAML 1.2 (yaml-rs) read differently; everything else, and
every error, goes through the careful reader, which also finds the lines of keys when a
problem has to be located. These tests hold the compiled reader to the careful one.
"""

import gc
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kpitree as kt
from kpitree.io import documents
from kpitree.io.model import dumps, read_document
from kpitree.testing import random_tree
from kpitree.tree import loads

pytest.importorskip("yaml")

# Text in both readers' reach: plain and quoted scalars, flow and block collections,
# comments, folded lines, Unicode, numbers in the forms both read alike.
SAME = [
    "a: {low: 0, high: 1.5}",
    "a: [1, -2, +3, 0.5, -0.0, 12345678901234567890123]",
    "a: x ** 2 + y * 3",
    "a: b\n  c",
    'a: "it is\n  folded"',
    'a: "multi\n\n  para"',
    "- a\n- b: c\n  d: e",
    "a: \"x\"\nb: 'y'\nc: ''\nd: 'it''s'",
    "a: True\nb: FALSE\nc: null\nd: ~\ne:",
    "a:    spaced    \nb: x   # comment\n# full comment\nc: [a, b]   # c",
    "- - 1\n  - 2\n- - 3",
    "a: {b: [1, 2], c: {d: e}}",
    "a: x:y\nb: [x:y]\nc: {x:y}\nd: http://example.com/a?b=c",
    "a: b #c\nb: b#c",
    " a: 1",
    "a:\n- 1\n- 2",
    '"a b": 1\n\'c d\': 2\ne: "quoted: colon"',
    "лиды: 1\nописание: текст",
    "a: [1,2,]\nb: b -\nc: :b\nd: -b",
    "[1, 2]",
    "a: {b: }\nc: {d}\ne: [f: g, h]",
    "tree: root\nkpis:\n  k0: {owner: marketing, horizon: 1 day, value: 0.5, bounds: {low: 0}}\n",
]

# Text the compiled reader must leave to the careful one: YAML 1.1's own readings, tags,
# anchors and aliases, duplicate keys, syntax errors, several documents.
CAREFUL = [
    "a: no",
    "a: yes",
    "a: On",
    "a: 010",
    "a: 0o10",
    "a: 1:30",
    "a: 190:20:30.15",
    "a: 1e3",
    "a: 1_000",
    "a: 0x1F",
    "a: .5",
    "a: -.5",
    "a: .inf",
    "a: .iNf",
    "a: 2024-01-01",
    "a: =",
    "a: *x",
    "a: &x 1\nb: *x",
    "a: !!python/object:os.system x",
    "a: !!str 1",
    "a: 1\na: 2",
    "a: {b: 1, b: 2}",
    "1: x",
    "true: x",
    "? a\n: b",
    "a: b: c",
    "a: [1, 2",
    "a:\n  b: 1\n c: 2",
    "a:\n\tb: 1",
    "a: 1\r\nb: 2",
    "a: 1\n---\nb: 2",
    "%YAML 1.1\n---\na: 1",
    "a: |\n  text",
    "a: >\n  text",
    'a: "\\u0041"',
    "<<: {a: 1}",
    '{"a":1}',
    "a: 'x' y",
    "\ufeffa: 1",
    "a: 1\u2028b: 2",
    "a: " + "9" * 5000,
    "",
    "   \n",
    "a: " + "[" * 300 + "]" * 300,
    "".join(" " * i + "k:\n" for i in range(60)),
]


def careful(text: str) -> documents.Document:
    """The text read by the careful reader alone."""
    doc = documents.Document()
    documents._compose_yaml(text, doc)
    return doc


@pytest.fixture
def compiled() -> None:
    """Skip where the compiled YAML reader is not installed."""
    pytest.importorskip("yaml_rs", reason="the compiled YAML reader is in the `fast` extra")


@pytest.mark.usefixtures("compiled")
@pytest.mark.parametrize("text", SAME)
def test_compiled_yaml_reads_exactly_what_the_careful_reader_reads(text: str) -> None:
    """Where the compiled reader answers, its data is the careful reader's, types and all."""
    fast = documents._compiled_yaml(text)
    assert fast is not documents._UNREAD
    slow = careful(text)
    assert not slow.problems
    assert fast == slow.data
    assert repr(fast) == repr(slow.data)  # 1 and 1.0, False and 0 told apart


@pytest.mark.usefixtures("compiled")
@pytest.mark.parametrize("text", CAREFUL)
def test_text_the_readers_may_differ_on_goes_to_the_careful_reader(text: str) -> None:
    """YAML 1.1 surprises, tags, aliases, duplicates and errors are never read fast."""
    assert documents._compiled_yaml(text) is documents._UNREAD


@pytest.mark.usefixtures("compiled")
def test_files_kpitree_writes_are_read_by_the_compiled_reader() -> None:
    """`dumps` writes YAML inside the compiled reader's reach, long formulas folded and all."""
    tree = random_tree(3_000, seed=3)
    text = dumps(tree, "yaml")
    fast = documents._compiled_yaml(text)
    assert fast is not documents._UNREAD
    assert fast == careful(text).data
    assert loads(text) == tree


@pytest.mark.usefixtures("compiled")
def test_a_problem_in_a_file_read_fast_is_located_at_its_line() -> None:
    """Lines are found only when a problem must be reported, and they are the right ones."""
    text = (
        "kpis:\n"
        "  leads: {owner: marketing, horizon: 1 day, value: 10}\n"
        "  rate:\n"
        "    owner: sales\n"
        "    horizon: 1 day\n"
        "    colour: red\n"
        "metrics:\n"
        "  ql: leads * rate * missing\n"
    )
    doc = read_document(text, source="m.yaml")
    assert doc.scan_lines is not None  # read fast: no lines yet
    assert not doc.found_lines
    with pytest.raises(kt.ValidationError) as info:
        loads(text, source="m.yaml")
    wheres = [p.where for p in info.value.problems]
    assert wheres == ["m.yaml:6 @ $.kpis.rate.colour", "m.yaml:8 @ $.metrics.ql"]


def test_yaml_quirks_read_the_same_with_or_without_the_compiled_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without yaml-rs installed every file is read the careful way, to the same tree."""
    tree = random_tree(500, seed=5)
    text = dumps(tree, "yaml")
    quirk = "kpis:\n  k: {owner: o, horizon: 1 day, value: 010}\nmetrics:\n  m: 2 * k\n"
    with_it = loads(quirk)
    monkeypatch.setitem(sys.modules, "yaml_rs", None)  # `import yaml_rs` now fails
    assert documents._compiled_yaml(text) is documents._UNREAD
    assert loads(text) == tree
    assert loads(quirk) == with_it
    assert loads(quirk)["k"].value == 8.0  # YAML 1.1 octal, as always


def test_duplicate_keys_name_both_lines_in_every_reader() -> None:
    """A duplicate key read by any path is refused with the line of each."""
    text = "kpis:\n  a: {owner: o, horizon: 1 day}\n  a: {owner: p, horizon: 1 day}\n"
    (problem,) = read_document(text, source="m.yaml").problems
    assert problem.where == "m.yaml:3 @ $.kpis.a"
    assert "first at line 2" in problem.reason


def test_reading_pauses_the_collector_and_restores_it() -> None:
    """The collector is on again after a read, failed or not; one the program paused stays so."""
    text = dumps(random_tree(50, seed=1), "json")
    assert gc.isenabled()
    loads(text, "json")
    assert gc.isenabled()
    with pytest.raises(kt.ValidationError):
        loads('{"kpis": {"a": {"owner": 1}}}', "json")
    assert gc.isenabled()
    gc.disable()
    try:
        loads(text, "json")
        assert not gc.isenabled()
    finally:
        gc.enable()


# Scalars where YAML 1.1 and 1.2 (or PyYAML and yaml-rs) may part: bools of either
# version, numbers in every base and form, dates, times, special floats, indicators.
_TRICKY = [
    "yes",
    "No",
    "ON",
    "off",
    "y",
    "n",
    "true",
    "False",
    "TRUE",
    "null",
    "Null",
    "~",
    "=",
    "010",
    "0o10",
    "0x1F",
    "0b11",
    "1_000",
    "1e3",
    "1E+3",
    "1.5e-3",
    ".5",
    "5.",
    "+1",
    "-0",
    "-0.0",
    "1:30",
    "1:30:00",
    "2026-01-01",
    "2026-01-01 10:00",
    ".inf",
    "-.Inf",
    ".nan",
    "NaN",
    "inf",
    "12345678901234567890",
    "0.1",
    "1,000",
    "x ** 2",
    "a b",
    "a#b",
    "a #b",
    "'q'",
    '"d"',
    '"a\\tb"',
    "'it''s'",
    "&a x",
    "*a",
    "!!str 1",
    "!x y",
    "|",
    ">",
    "[1, 2]",
    "{a: 1}",
    "[]",
    "{}",
    "-",
    "- x",
    "? x",
    "@x",
    "`x`",
    "%x",
    "a: b",
    "лиды",
    "80%",
    "1 day",
    "<<",
    "",
    "'' ",
]
_SCALARS = st.one_of(
    st.sampled_from(_TRICKY),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8),
    # and, as often, what model files hold: names, formulas, words, plain numbers
    st.from_regex(r"[a-z_][a-z0-9_]{0,8}( [*/+-] [a-z_][a-z0-9_]{0,4}){0,2}", fullmatch=True),
    st.from_regex(r"[0-9]{1,4}(\.[0-9]{1,3})?( (lead|day|%))?", fullmatch=True),
    st.from_regex(r"[a-zA-Zа-я]{1,8}", fullmatch=True),
)
_NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True)
_KEYS = st.one_of(st.sampled_from(_TRICKY), _NAMES, _NAMES, _NAMES)


@st.composite
def _yaml_texts(draw: st.DrawFn, depth: int = 0) -> str:
    """Block mappings and lists of tricky plain scalars, as a person might type them."""
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        key = draw(_KEYS)
        if depth < 2 and draw(st.booleans()):
            nested = draw(_yaml_texts(depth + 1))
            if draw(st.booleans()):
                items = "\n".join(f"  - {draw(_SCALARS)}" for _ in range(draw(st.integers(1, 3))))
                lines.append(f"{key}:\n{items}")
            else:
                lines.append(f"{key}:\n" + "\n".join("  " + line for line in nested.splitlines()))
        else:
            lines.append(f"{key}: {draw(_SCALARS)}")
    return "\n".join(lines)


@pytest.mark.usefixtures("compiled")
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_yaml_texts())
def test_the_compiled_reader_never_reads_what_the_careful_one_would_not(text: str) -> None:
    """Over random texts of tricky scalars: the fast reader declines, or reads the same."""
    fast = documents._compiled_yaml(text)
    if fast is documents._UNREAD:
        return
    slow = careful(text)
    assert not slow.problems, text
    assert fast == slow.data, text
    assert repr(fast) == repr(slow.data), text

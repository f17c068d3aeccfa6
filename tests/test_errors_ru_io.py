"""Errors of model files, values files, writers and displays in Russian under `ru`.

Each case raises the same error in both locales: under `en` the message is unchanged
(word for word), under `ru` it is Russian, with every placeholder filled.
"""

import re
from collections.abc import Callable

import pytest
from conftest import assert_russian
from hypothesis import given
from hypothesis import strategies as st

import kpitree as kt
from kpitree.display.diagrams import to_mermaid
from kpitree.display.plots import plot_attribution, plot_sensitivity
from kpitree.display.style import node_changes
from kpitree.display.terminal import colour
from kpitree.examples import qualified_leads
from kpitree.io.documents import format_name
from kpitree.io.values import loads_values
from kpitree.io.writers import dumps

_CYRILLIC = re.compile(r"[А-Яа-яЁё]")


def _surrogate() -> None:
    tree = kt.loads(
        '{"description": "\\ud800", "inputs": {"a": {"value": 2}}, "metrics": {"b": "3 * a"}}',
        "json",
    )
    dumps(tree)


# (file of the raise site, the call, its English message in full)
CASES: list[tuple[str, Callable[[], object], str]] = [
    (
        "documents",
        lambda: format_name("xml"),
        "`xml` is not a model-file format\nhint: use yaml, toml or json",
    ),
    (
        "documents",
        lambda: kt.loads("metrics:\n  q: 2\n  q: 3\n"),
        "1 problem found:\n"
        "  - <text>:3 @ $.metrics.q: duplicate key `q` (first at line 2)\n"
        "    hint: each key may appear once; remove or rename one of them",
    ),
    (
        "schema",
        lambda: kt.loads("foo: 1\nmetrics:\n  q: 2\n"),
        "1 problem found:\n"
        "  - <text>:1 @ $.foo: unknown top-level key `foo`\n"
        "    hint: the keys are: tree, locale, description, kpis, inputs, metrics",
    ),
    (
        "schema",
        lambda: kt.loads("kpis: [1]\n"),
        "1 problem found:\n"
        "  - <text>:1 @ $.kpis: `kpis` must be a mapping of names to kpis, got a list\n"
        "    hint: a KPI needs an owner and a horizon: "
        "`leads: {owner: marketing, horizon: 1 day}`",
    ),
    (
        "schema",
        lambda: kt.loads("metrics:\n  q: {unit: pcs}\n"),
        "1 problem found:\n"
        "  - <text>:2 @ $.metrics.q: metric `q` has no `formula`\n"
        "    hint: write `q: {formula: ...}`, or just `q: <formula>`",
    ),
    (
        "values",
        lambda: loads_values("period,leads,leads\n2026-10,1,2\n", "csv"),
        "1 problem found:\n"
        "  - <text>:1: the column `leads` is given twice (columns 2 and 3)\n"
        "    hint: each leaf has one column; remove or rename one of them",
    ),
    (
        "values",
        lambda: loads_values("period,leads\n2026-09,900\n2026-10,1000\n", "csv"),
        "`<text>` has 2 periods; choose one\n"
        "hint: write FILE:PERIOD, e.g. `<text>:2026-10` (periods: 2026-09, 2026-10)",
    ),
    (
        "writers",
        _surrogate,
        "$.description holds the character '\\ud800', a lone surrogate, which a UTF-8 "
        "file cannot hold\n"
        "hint: a surrogate comes in a pair; remove it, or decode the text with "
        "errors='replace' where it came from",
    ),
    (
        "diagrams",
        lambda: to_mermaid(qualified_leads(), direction="XY"),
        "unknown diagram direction 'XY'\nhint: use one of TD, TB, BT, LR, RL",
    ),
    (
        "plots",
        lambda: plot_sensitivity(None, kind="pie"),
        'unknown sensitivity chart \'pie\'\nhint: use "bars" or "tornado"',
    ),
    (
        "plots",
        lambda: plot_attribution(None, by="team"),
        'unknown grouping \'team\' of an attribution chart\nhint: use by="leaf" or by="owner"',
    ),
    (
        "style",
        lambda: node_changes(qualified_leads(), 42),
        "cannot draw a int onto a tree\nhint: give a mapping {node: change}, a Scenario "
        "(tree.whatif) or an Attribution (tree.attribute)",
    ),
    (
        "terminal",
        lambda: colour("x", "sparkly", True),
        None,  # the kinds listed in the hint are the module's; checked by prefix below
    ),
]
_IDS = [f"{file}-{i}" for i, (file, _, _) in enumerate(CASES)]


def _message(call: Callable[[], object], language: str) -> tuple[str, kt.KPITreeError]:
    # The text is taken inside the block: the error is worded where it is raised.
    with kt.locale(language):
        try:
            call()
        except kt.KPITreeError as error:
            return str(error), error
    raise AssertionError("no error raised")


def _reasons(error: kt.KPITreeError) -> list[str]:
    problems = getattr(error, "problems", None) or [error]
    return [p.reason for p in problems]


@pytest.mark.parametrize(("file", "call", "english"), CASES, ids=_IDS)
def test_english_messages_are_unchanged(
    file: str, call: Callable[[], object], english: str | None
) -> None:
    """Under `en` the message is word for word what it was."""
    text, _ = _message(call, "en")
    if english is None:
        assert text.startswith("unknown colour kind 'sparkly'\nhint: use one of ")
    else:
        assert text == english
    assert not _CYRILLIC.search(text)


@pytest.mark.parametrize(("file", "call", "english"), CASES, ids=_IDS)
def test_russian_messages_are_russian(
    file: str, call: Callable[[], object], english: str | None
) -> None:
    """Under `ru` the reason and hint are Russian, the English gone, no placeholder left."""
    _, in_english = _message(call, "en")
    text, error = _message(call, "ru")
    for reason, russian in zip(_reasons(in_english), _reasons(error), strict=True):
        assert_russian(russian)
        assert reason not in text
    if in_english.hint:
        assert_russian(error.hint)
        assert in_english.hint not in text
    assert_russian(text)
    assert "hint:" not in text and "problem found" not in text


def test_russian_messages_fill_their_placeholders() -> None:
    """The names and numbers of a message come through into the Russian text."""
    text, _ = _message(lambda: loads_values("period,leads,leads\n2026-10,1,2\n", "csv"), "ru")
    assert "столбец `leads` указан дважды (столбцы 2 и 3)" in text
    text, _ = _message(lambda: kt.loads("metrics:\n  q: {unit: pcs}\n"), "ru")
    assert "у метрики `q` нет `formula`" in text
    assert "напишите `q: {formula: ...}` или просто `q: <формула>`" in text


@pytest.mark.parametrize(("count", "word"), [(2, "периода"), (5, "периодов"), (21, "период;")])
def test_russian_period_counts_take_their_plural_form(count: int, word: str) -> None:
    """A count of periods takes the Russian form for that count: 2 периода, 5 периодов."""
    rows = "".join(f"2026-{i:02d},{i}\n" for i in range(1, count + 1))
    text, _ = _message(lambda: loads_values("period,leads\n" + rows, "csv"), "ru")
    assert f"в `<text>` {count} {word}" in text


def test_russian_file_sizes_are_written_the_russian_way() -> None:
    """A size in a message is a number in the locale: `1 000`, not `1,000`."""
    limits = kt.Limits(max_file_bytes=1000)
    with kt.locale("ru"):
        doc = kt.io.documents.read_document("x" * 1200, "json", limits=limits)
    assert "размер файла 1\u00a0200 байт, больше предела в 1\u00a0000" in str(doc.problems[0])


@given(st.from_regex(r"[a-z][a-z_]{0,15}", fullmatch=True))
def test_any_unknown_top_level_key_is_named_in_russian(key: str) -> None:
    """Whatever the key, the Russian message names it as written and says what it is."""
    if key in ("tree", "locale", "description", "kpis", "inputs", "metrics"):
        return
    text, _ = _message(lambda: kt.loads(f"{key}: 1\nmetrics:\n  q: 2\n"), "ru")
    assert f"неизвестный ключ верхнего уровня `{key}`" in text


def test_a_node_problem_in_a_file_is_located_once_in_russian() -> None:
    """Under `ru` a node's problem is at its path, without the node named again before it."""
    text = "kpis:\n  leads: {owner: marketing, horizon: 1 day, value: -5, bounds: [0, 10]}\n"
    with kt.locale("ru"), pytest.raises(kt.KPITreeError) as caught:
        kt.loads(text)
    message = str(caught.value)
    assert "$.kpis.leads: значение" in message and "КПЭ `leads`" not in message

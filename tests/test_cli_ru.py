"""The command line in Russian: help, argparse's words, errors, check, the demo, input."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kpitree as kt
from kpitree import i18n
from kpitree.apps.cli import _ARGPARSE_ERRORS, _argparse_text, main

ROOT = Path(__file__).resolve().parent.parent
RU = str(ROOT / "examples" / "qualified_leads_ru.yaml")
QL = str(ROOT / "examples" / "qualified_leads.yaml")

# argparse's English words: none may be left in Russian help or usage errors.
ARGPARSE_ENGLISH = (
    "usage:",
    "positional arguments",
    "options:",
    "show this help message",
    "error:",
    "the following arguments are required",
    "invalid choice",
    "unrecognized arguments",
    "expected one argument",
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the command line; return its exit code, stdout and stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """argparse wraps help to the terminal's width: 80 columns, whatever runs the tests."""
    monkeypatch.setenv("COLUMNS", "80")


@pytest.fixture
def environment_ru(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`KPITREE_LANG=ru` for the test (the environment is read again before and after)."""
    monkeypatch.setenv("KPITREE_LANG", "ru")
    i18n.set_locale(None)
    yield
    monkeypatch.setenv("KPITREE_LANG", "en")
    i18n.set_locale(None)


# -- help -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["--help"], ["whatif", "--help"], ["serve", "--help"]])
def test_help_is_in_the_language_of_the_run(
    capsys: pytest.CaptureFixture[str], golden: object, argv: list[str]
) -> None:
    """`--lang ru ... --help` is all Russian, argparse's words too; English stays English."""
    name = "-".join(a.strip("-") for a in argv)
    for lang in ("en", "ru"):
        code, out, err = run(capsys, "--lang", lang, *argv)
        assert (code, err) == (0, "")
        golden(f"cli.{name}.{lang}.80", out.rstrip("\n"))  # type: ignore[operator]
        english = [word for word in ARGPARSE_ENGLISH if word in out]
        if lang == "ru":
            assert english == [] and "использование: kpitree" in out
        else:
            assert "usage: kpitree" in out and "options:" in out


def test_kpitree_lang_makes_help_russian(
    capsys: pytest.CaptureFixture[str], environment_ru: None
) -> None:
    """`KPITREE_LANG=ru kpitree whatif --help` is Russian: the parser is built after the locale."""
    code, out, _ = run(capsys, "whatif", "--help")
    assert code == 0
    assert "использование: kpitree whatif" in out and "позиционные аргументы:" in out
    assert "показать эту справку и выйти" in out and "ИМЯ=ИЗМЕНЕНИЕ" in out


@pytest.mark.parametrize("flag", [["--lang", "ru"], ["--lang=ru"]])
def test_lang_after_the_command_and_with_equals_chooses_the_help(
    capsys: pytest.CaptureFixture[str], flag: list[str]
) -> None:
    """`kpitree status --lang ru --help` and `--lang=ru` word the help in Russian as well."""
    code, out, _ = run(capsys, "status", *flag, "--help")
    assert code == 0 and "Сверить КПЭ и метрики с нормами" in out


@pytest.mark.parametrize(("lang", "expected"), [("en", "usage: kpitree"), ("ru", "использование:")])
def test_help_in_a_real_process(lang: str, expected: str) -> None:
    """`python -m kpitree --lang LANG --help` in a process of its own, in both locales."""
    done = subprocess.run(
        [sys.executable, "-m", "kpitree", "--lang", lang, "--help"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONIOENCODING": "utf-8", "KPITREE_LANG": "en"},
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith(expected)
    assert ("Деревья метрик из КПЭ" in done.stdout) == (lang == "ru")


# -- usage errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "english", "russian"),
    [
        (
            ["eval"],
            "kpitree eval: error: the following arguments are required: FILE",
            "kpitree eval: ошибка: не хватает обязательных аргументов: ФАЙЛ",
        ),
        (
            ["export", QL, "--to", "pdf"],
            "error: argument --to: invalid choice: 'pdf' (choose from 'yaml',",
            "ошибка: аргумент --to: недопустимый вариант: 'pdf' (можно: 'yaml',",
        ),
        (
            ["frobnicate"],
            "kpitree: error: argument COMMAND: invalid choice: 'frobnicate'",
            "kpitree: ошибка: аргумент КОМАНДА: недопустимый вариант: 'frobnicate'",
        ),
        (
            ["serve", QL, "--port", "many"],
            "error: argument --port: invalid int value: 'many'",
            "ошибка: аргумент --port: недопустимое значение int: 'many'",
        ),
        (
            ["show", QL, "--values"],
            "error: argument --values: expected one argument",
            "ошибка: аргумент --values: ожидается один аргумент",
        ),
        (
            ["show", QL, "--bogus"],
            "kpitree: error: unrecognized arguments: --bogus",
            "kpitree: ошибка: нераспознанные аргументы: --bogus",
        ),
    ],
)
def test_usage_errors_are_in_the_language_of_the_run(
    capsys: pytest.CaptureFixture[str], argv: list[str], english: str, russian: str
) -> None:
    """argparse's usage errors go through kpitree's catalog: exit 2, usage and one error line."""
    for lang, expected in (("en", english), ("ru", russian)):
        code, out, err = run(capsys, "--lang", lang, *argv)
        assert (code, out) == (2, "")
        assert expected in err, err
        if lang == "ru":
            assert [word for word in ARGPARSE_ENGLISH if word in err] == []


@pytest.mark.parametrize("template", _ARGPARSE_ERRORS)
def test_every_argparse_message_has_its_russian(template: str) -> None:
    """Each argparse message, filled as argparse fills it, reads as its Russian, fields kept."""
    fields = {"argument_name": "--to", "message": "expected one argument", "type": "int"}
    fields |= {"value": "'x'", "choices": "'a', 'b'", "option": "--va", "matches": "--values"}
    fields |= {"filename": "f.yaml", "error": "No such file", "parser_name": "'p'"}
    message = template.replace("%r", "'x'").replace("%s", "FILE") % fields
    assert _argparse_text(message) == message
    with kt.locale("ru"):
        russian = _argparse_text(message)
    assert russian != message
    for value in ("'x'", "--to", "int", "'a', 'b'", "--va", "f.yaml", "FILE"):
        assert (value in russian) == (value in message)


@given(st.sampled_from(_ARGPARSE_ERRORS), st.lists(st.text(min_size=1), min_size=3, max_size=3))
def test_argparse_messages_are_unchanged_in_english(template: str, values: list[str]) -> None:
    """In English every argparse message, whatever its fields hold, is shown exactly."""
    fields = iter(values * 2)
    import re

    message = re.sub(r"%(\(\w+\))?[rs]", lambda _: next(fields), template)
    assert _argparse_text(message) == message
    assert _argparse_text(values[0]) == values[0]  # a message argparse did not make


def test_a_misspelt_kpitree_lang_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`KPITREE_LANG=de kpitree --help`: the variable named, the locales listed, no traceback."""
    monkeypatch.setenv("KPITREE_LANG", "de")
    i18n.set_locale(None)
    try:
        code, out, err = run(capsys, "--help")
    finally:
        monkeypatch.setenv("KPITREE_LANG", "en")
        i18n.set_locale(None)
    assert (code, out) == (2, "")
    assert err.startswith('kpitree: KPITREE_LANG: unknown locale "de"') and "en, ru" in err


# -- kpitree's own words --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "qualified_leads_ru.yaml: ok (1 metric, 2 KPIs, 0 inputs)"),
        ("ru", "qualified_leads_ru.yaml: ошибок нет (1 метрика, 2 КПЭ, 0 входов)"),
    ],
)
def test_check_counts_with_the_plurals_of_the_language(
    capsys: pytest.CaptureFixture[str], lang: str, expected: str
) -> None:
    """`check` says ok with each count in its plural form."""
    code, out, _ = run(capsys, "--lang", lang, "check", RU)
    assert code == 0 and out.strip().endswith(expected)


@pytest.mark.parametrize(
    ("n", "english", "russian"),
    [
        (1, "1 problem in", "1 проблема в"),
        (2, "2 problems in", "2 проблемы в"),
        (5, "5 problems in", "5 проблем в"),
        (21, "21 problems in", "21 проблема в"),
    ],
)
def test_check_counts_problems_with_russian_plurals(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, n: int, english: str, russian: str
) -> None:
    """`check` of a file with n problems: `1 проблема`, `2 проблемы`, `5 проблем`, `21 проблема`."""
    kpis = "".join(f"  k{i}: {{owner: x, horizon: soon, value: 1}}\n" for i in range(n))
    formula = " + ".join(f"k{i}" for i in range(n))
    path = tmp_path / "model.yaml"
    path.write_text(f"tree: m\nkpis:\n{kpis}metrics:\n  m: {{formula: {formula}}}\n", "utf-8")
    for lang, expected in (("en", english), ("ru", russian)):
        code, _, err = run(capsys, "--lang", lang, "check", str(path))
        assert code == 2
        assert err.splitlines()[-1] == f"kpitree: {expected} {path}"


def test_bad_pairs_and_unknown_examples_are_worded_in_russian(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """kpitree's own usage errors (a pair without `=`, an unknown example) speak Russian."""
    code, _, err = run(capsys, "--lang", "ru", "whatif", RU, "лиды")
    assert code == 2
    assert err.strip() == (
        "kpitree: изменение задаётся как имя=значение (например, лиды=1200), получено 'лиды'"
    )
    code, _, err = run(capsys, "--lang", "ru", "demo", "--example", "dupnt")
    expected = "kpitree: примера `dupnt` нет; возможно, имелось в виду `dupont`?"
    assert code == 2 and err.strip() == expected


def test_solve_says_its_result_in_russian(capsys: pytest.CaptureFixture[str]) -> None:
    """`solve` under ru: the sentence in Russian, the numbers with Russian grouping."""
    code, out, _ = run(capsys, "--lang", "ru", "solve", RU, "квал_лиды", "1 200", "--vary", "лиды")
    assert code == 0
    assert out.strip() == "при лиды = 1\u00a0500 лидов получится квал_лиды = 1\u00a0200 лидов"


# -- the demo -------------------------------------------------------------------------------------

RU_HEADINGS = (
    "kpitree demo: qualified_leads_ru",
    "Ответственные и их КПЭ:",
    "Статус относительно норм:",
    "Чего стоит каждый рычаг? (квал_лиды)",
    "Что, если КПЭ лиды вырастет на 10\u00a0%?",
    "Цель: квал_лиды +12,5\u00a0%. Какое значение лиды для этого нужно при прочих равных?",
    "  лиды = 1\u00a0125 лидов",
    "Через месяц: кто сдвинул результат?",
    "Статус через месяц:",
)
EN_HEADINGS = (
    "Owners and their KPIs:",
    "Status against norms:",
    "What if лиды grows 10%?",
    "Goal: квал_лиды +12.5%. How much лиды, all else equal?",
    "A month later, who moved it?",
    "Status a month later:",
)


@pytest.mark.parametrize(
    ("argv", "russian"),
    [
        (["demo", "--example", "qualified_leads_ru"], True),  # in an English run: Russian
        (["--lang", "ru", "demo", "--example", "qualified_leads_ru"], True),
        (["--lang", "en", "demo", "--example", "qualified_leads_ru"], False),  # asked for
        (["demo", "--example", "qualified_leads_ru", "--lang", "en"], False),
        (["--lang", "ru", "demo"], True),  # the Russian example, by default
    ],
)
def test_the_russian_example_tells_its_demo_in_russian(
    capsys: pytest.CaptureFixture[str], argv: list[str], russian: bool
) -> None:
    """The Russian example's demo is Russian unless `--lang` asks for another language."""
    code, out, err = run(capsys, *argv)
    assert (code, err) == (0, "")
    assert out.startswith("kpitree demo: qualified_leads_ru\n")
    for heading in RU_HEADINGS[1:] if russian else EN_HEADINGS:
        assert heading in out.splitlines() or heading + "\n" in out, heading
    assert ("Owners and their KPIs:" in out) != russian


def test_the_english_demo_stays_english_and_ru_by_environment(
    capsys: pytest.CaptureFixture[str], environment_ru: None
) -> None:
    """With `KPITREE_LANG=ru`, `kpitree demo` is the Russian example; `--lang en` the English."""
    code, out, _ = run(capsys, "demo")
    assert code == 0 and out.startswith("kpitree demo: qualified_leads_ru\n")
    code, out, _ = run(capsys, "--lang", "en", "demo")
    assert code == 0 and out.startswith("kpitree demo: qualified_leads\n")
    assert "Owners and their KPIs:" in out and "What if leads grows 10%?" in out


def test_the_russian_example_is_written_in_russian() -> None:
    """Names, owners, horizons, units and descriptions of the Russian example are Russian."""
    from kpitree.examples import qualified_leads_ru

    tree = qualified_leads_ru()
    cyrillic = set("абвгдеёжзийклмнопрстуфхцчшщъыьэюя")
    for node in [*tree.metrics, *tree.kpis]:
        texts = [node.name, node.description or ""]
        texts += [getattr(node, "owner", "") or "", str(tree.unit(node.name) or "")]
        for text in filter(None, texts):
            if text != "%":
                assert set(text.lower()) & cyrillic, text
    assert all(kpi.description for kpi in tree.kpis)


# -- Russian input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (["конверсия_в_квал=0,85"], ("85\u00a0%", "+5 п.п.", "850 лид")),
        (["лиды=1 200"], ("1\u00a0200 лидов", "+200 лидов", "960 лидов")),
        (["лиды=1\u00a0200"], ("1\u00a0200 лидов", "960 лидов")),  # as kpitree prints it
        (["конверсия_в_квал=+2 п.п."], ("82\u00a0%", "+2 п.п.", "820 лид")),
        (["конверсия_в_квал=+10 пп", "лиды=x1,2"], ("90\u00a0%", "+10 п.п.", "1\u00a0080 лид")),
    ],
)
def test_russian_changes_are_read_on_the_command_line(
    capsys: pytest.CaptureFixture[str], changes: list[str], expected: tuple[str, ...]
) -> None:
    """Under ru, `whatif` reads the decimal comma, space grouping and `п.п.` end to end."""
    code, out, err = run(capsys, "--lang", "ru", "whatif", RU, *changes)
    assert (code, err) == (0, "")
    for text in expected:
        assert text in out, (text, out)


def test_a_decimal_comma_in_english_is_refused_with_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Under en, a change of `0,85` is refused (a comma could be a thousands separator)."""
    code, out, err = run(capsys, "whatif", QL, "lead_to_ql=0,85")
    assert (code, out) == (2, "")
    assert err.startswith("kpitree: `lead_to_ql`: ") and "'0,85'" in err


@pytest.fixture
def system_language(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No choice made for kpitree: only LANG (English) speaks, as on a fresh machine."""
    for variable in ("KPITREE_LANG", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    kt.set_locale(None)
    yield
    monkeypatch.undo()
    kt.set_locale(None)


RU_MODEL = str(Path(__file__).resolve().parent.parent / "examples" / "qualified_leads_ru.yaml")


def test_a_model_file_speaks_its_own_locale(capsys: Any, system_language: None) -> None:
    """`locale: ru` in the file makes the CLI speak Russian for it, unless a choice was made."""
    code, out, _ = run(capsys, "status", RU_MODEL, "конверсия_в_квал=0,7")
    assert code == 0 and "ниже нормы" in out and "below norm" not in out
    code, out, _ = run(capsys, "--lang", "en", "status", RU_MODEL, "конверсия_в_квал=0.7")
    assert code == 0 and "below norm" in out


def test_kpitree_lang_wins_over_the_model_locale(
    capsys: Any, system_language: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KPITREE_LANG is a choice for kpitree: it speaks over the file's `locale:`."""
    monkeypatch.setenv("KPITREE_LANG", "en")
    kt.set_locale(None)
    code, out, _ = run(capsys, "status", RU_MODEL, "конверсия_в_квал=0.7")
    assert code == 0 and "below norm" in out and "ниже нормы" not in out


def test_the_explorer_speaks_the_model_locale(system_language: None) -> None:
    """The explorer of a `locale: ru` model answers in Russian unless asked otherwise."""
    from kpitree.apps.server import Explorer

    app = Explorer(kt.load(RU_MODEL))
    assert app.request_locale({}) == "ru"
    assert app.request_locale({"lang": ["en"]}) == "en"
    with kt.locale("en"):
        assert Explorer(kt.load(RU_MODEL)).request_locale({}) == "en"


@pytest.mark.parametrize("where", ["before", "after"])
def test_width_sets_the_columns_of_text_output(capsys: Any, where: str) -> None:
    """`--width N` (before or after the command) draws tables and outlines N columns wide."""
    flags = ["--width", "60"]
    argv = [*flags, "status", RU_MODEL] if where == "before" else ["status", RU_MODEL, *flags]
    code, out, _ = run(capsys, *argv)
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 60
    code, wide, _ = run(capsys, "--width", "140", "status", RU_MODEL)
    assert max(len(line) for line in wide.splitlines()) > 60


def test_a_width_too_small_is_refused(capsys: Any) -> None:
    """A width below what any table needs is an error naming it, not a broken table."""
    code, _, err = run(capsys, "--width", "5", "show", RU_MODEL)
    assert code == 2 and "width 5" in err

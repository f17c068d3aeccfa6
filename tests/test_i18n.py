"""The locale: how it is chosen, that it stays in its thread, and that every message has Russian."""

import gettext
import string
import threading
from pathlib import Path

import pytest
from babel.messages import pofile
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import CommandLineInterface

import kpitree as kt
from kpitree import i18n
from kpitree.errors import ArgumentError

PACKAGE = Path(kt.__file__).parent
CATALOGS = PACKAGE / "i18n" / "locales"


@pytest.fixture(autouse=True)
def _fresh_choice(monkeypatch):
    """Each test starts from the environment's choice and leaves no process-wide one behind."""
    yield
    kt.set_locale(None)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ru", "ru"),
        ("RU", "ru"),
        ("ru_RU", "ru"),
        ("ru-RU", "ru"),
        ("ru_RU.UTF-8", "ru"),
        ("ru_RU.utf8@euro", "ru"),
        (" en ", "en"),
        ("en_GB", "en"),
    ],
)
def test_locale_names_are_read_as_posix_and_bcp47_write_them(name, expected):
    """`ru`, `ru_RU.UTF-8` and `ru-RU` all name Russian: only the language matters."""
    assert i18n.parse(name) == expected


@pytest.mark.parametrize("name", ["de", "", "r", "ру", 7, None])
def test_an_unknown_locale_names_the_ones_kpitree_speaks(name):
    """A locale kpitree does not ship is refused, and the hint lists those it does."""
    with pytest.raises(ArgumentError, match="unknown locale") as caught:
        i18n.parse(name)
    assert caught.value.hint == "kpitree speaks en, ru"


def test_english_is_the_default():
    """With nothing chosen (the suite pins KPITREE_LANG=en), kpitree speaks English."""
    assert i18n.current() == "en"


def test_set_locale_is_process_wide_and_a_block_wins_inside_it():
    """`set_locale` holds until undone; a `with kt.locale(...)` block overrides it inside."""
    kt.set_locale("ru")
    assert i18n.current() == "ru"
    with kt.locale("en") as active:
        assert active == "en"
        assert i18n.current() == "en"
    assert i18n.current() == "ru"
    kt.set_locale(None)
    assert i18n.current() == "en"


def test_a_block_is_undone_when_it_raises():
    """Leaving a block by an exception restores the locale before it."""
    seen = []

    def fail_inside():
        with kt.locale("ru"):
            seen.append(i18n.current())
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        fail_inside()
    assert seen == ["ru"]
    assert i18n.current() == "en"


def test_a_bad_name_changes_nothing():
    """A refused name leaves the current choice as it was."""
    kt.set_locale("ru")
    with pytest.raises(ArgumentError):
        kt.set_locale("xx")
    with pytest.raises(ArgumentError), kt.locale("xx"):
        pass
    assert i18n.current() == "ru"


def test_a_block_in_one_thread_is_not_seen_by_another():
    """A block is local to its thread: a Russian request leaves other threads English."""
    inside, seen = threading.Barrier(2), {}

    def russian():
        with kt.locale("ru"):
            inside.wait(timeout=10)
            seen["ru thread"] = i18n.current()
            inside.wait(timeout=10)

    def other():
        inside.wait(timeout=10)  # while the other thread is inside its block
        seen["other thread"] = i18n.current()
        inside.wait(timeout=10)

    threads = [threading.Thread(target=russian), threading.Thread(target=other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert seen == {"ru thread": "ru", "other thread": "en"}


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"KPITREE_LANG": "ru"}, "ru"),
        ({"LANG": "ru_RU.UTF-8"}, "ru"),
        ({"LC_ALL": "ru_RU.UTF-8", "LANG": "en_US.UTF-8"}, "ru"),
        ({"LC_MESSAGES": "en_US.UTF-8", "LANG": "ru_RU.UTF-8"}, "en"),
        ({"KPITREE_LANG": "en", "LANG": "ru_RU.UTF-8"}, "en"),
        ({"LANG": "de_DE.UTF-8"}, "en"),  # the system's language is not a request
        ({"LANG": "C"}, "en"),
        ({}, "en"),
    ],
)
def test_the_environment_chooses_when_nothing_else_does(monkeypatch, environment, expected):
    """KPITREE_LANG, then LC_ALL, LC_MESSAGES, LANG; a language not shipped means English."""
    for variable in ("KPITREE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    kt.set_locale(None)  # read the environment again
    assert i18n.current() == expected


def test_a_misspelt_kpitree_lang_is_an_error_naming_the_variable(monkeypatch):
    """KPITREE_LANG is a request to kpitree: a misspelling is an error, not silent English."""
    monkeypatch.setenv("KPITREE_LANG", "russian")
    kt.set_locale(None)
    with pytest.raises(ArgumentError, match=r'KPITREE_LANG: unknown locale "russian"'):
        i18n.current()


def test_messages_are_translated_in_the_active_locale():
    """Messages, errors included, are worded in the active locale."""
    with kt.locale("ru"):
        assert i18n._("unknown locale {name}") == "неизвестная локаль {name}"
        with pytest.raises(ArgumentError, match="неизвестная локаль"):
            i18n.parse("de")
    assert i18n._("unknown locale {name}") == "unknown locale {name}"


def test_numbers_and_plurals_come_from_cldr():
    """Babel's CLDR data gives each locale's decimal sign and plural categories."""
    with kt.locale("ru"):
        russian = i18n.babel_locale()
        assert russian.number_symbols["latn"]["decimal"] == ","
        assert [russian.plural_form(n) for n in (1, 2, 5, 11, 21)] == [
            "one",
            "few",
            "many",
            "many",
            "one",
        ]
    assert i18n.babel_locale().language == "en"


# --- the catalogs ---------------------------------------------------------------------


def _source_messages():
    """Every message marked in the package's source, as Babel's extractor finds them."""
    keywords = {"_": None, "N_": None, "ngettext": (1, 2)}
    found = {}
    for filename, line, message, _comments, _context in extract_from_dir(
        str(PACKAGE), method_map=[("**.py", "python")], keywords=keywords
    ):
        found.setdefault(message, f"{filename}:{line}")
    return found


def _catalog(locale):
    with (CATALOGS / locale / "LC_MESSAGES" / "kpitree.po").open("rb") as file:
        return pofile.read_po(file, locale=locale)


def _fields(text):
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def test_every_message_has_a_russian_translation():
    """Every message marked in the source has a Russian translation that is not fuzzy."""
    catalog = _catalog("ru")
    untranslated = []
    for message, where in _source_messages().items():
        entry = catalog.get(message[0] if isinstance(message, tuple) else message)
        forms = () if entry is None else entry.string
        forms = forms if isinstance(forms, tuple) else (forms,)
        if entry is None or entry.fuzzy or not all(forms):
            untranslated.append(f"{where}: {message!r}")
    assert untranslated == [], "run `make catalog` and translate:\n" + "\n".join(untranslated)


def test_the_catalog_holds_no_message_the_source_lost():
    """The catalog keeps no translation of a message the source no longer has."""
    source = {m[0] if isinstance(m, tuple) else m for m in _source_messages()}
    stale = [
        entry.id
        for entry in _catalog("ru")
        if entry.id and (entry.id[0] if isinstance(entry.id, tuple) else entry.id) not in source
    ]
    assert stale == []


def test_translations_keep_every_placeholder():
    """A translation has the same `{placeholders}` as its English, in every plural form."""
    broken = []
    for entry in _catalog("ru"):
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = set().union(*map(_fields, ids))
        broken += [(ids[0], form) for form in forms if _fields(form) != wanted]
    assert broken == []


def test_the_build_compiles_the_catalog_that_kpitree_reads(tmp_path):
    """The `.mo` the build compiles says what kpitree reads from the `.po` in a checkout."""
    folder = tmp_path / "ru" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "kpitree.po").write_bytes(
        (CATALOGS / "ru" / "LC_MESSAGES" / "kpitree.po").read_bytes()
    )
    # What setup.py's build step runs.
    CommandLineInterface().run(
        ["pybabel", "--quiet", "compile", "--domain", "kpitree", "--directory", str(tmp_path)]
    )
    with (folder / "kpitree.mo").open("rb") as compiled:
        built = gettext.GNUTranslations(compiled)
    read = i18n._catalog("ru")
    for entry in _catalog("ru"):
        if entry.id and not isinstance(entry.id, tuple):
            assert built.gettext(entry.id) == read.gettext(entry.id) == entry.string


def test_the_words_of_errors_follow_the_locale() -> None:
    """The errors layer, below i18n, still writes `hint:` and its suggestions in the locale."""
    from kpitree.errors import ArgumentError, did_you_mean

    with kt.locale("ru"):
        error = ArgumentError("x", hint="y")
        suggestion = did_you_mean("lead", ["leads"])
        problems = str(kt.ValidationError([ArgumentError("a"), ArgumentError("b")]))
    assert str(error) == "x\nподсказка: y"
    assert suggestion == "возможно, имелось в виду `leads`?"
    assert problems.startswith("найдено 2 проблемы:")
    assert str(ArgumentError("x", hint="y")) == "x\nhint: y"


def test_an_error_keeps_the_words_of_the_locale_it_was_raised_in() -> None:
    """A KeyError-like error printed after its `with kt.locale` block still reads as raised."""
    tree = kt.Tree(kt.Metric("m", kt.Input("a") * kt.Input("b")))
    with kt.locale("ru"), pytest.raises(kt.MissingValueError) as caught:
        tree.evaluate()
    with kt.locale("ru"), pytest.raises(kt.UnknownNameError) as unknown:
        tree["c"]
    assert "подсказка:" in str(caught.value) and "hint:" not in str(caught.value)
    assert "hint:" not in str(unknown.value)

"""The language kpitree speaks: which locale is active, and kpitree's words in it.

Two locales ship, ``"en"`` (the default) and ``"ru"``. The active one is, first to last:

1. the innermost ``with kt.locale(...)`` block of the current thread or task — a context
   variable, so a choice made while serving one request never leaks into another thread;
2. the process-wide choice of `set_locale`;
3. the environment: ``KPITREE_LANG``, else ``LC_ALL``, ``LC_MESSAGES`` or ``LANG`` in POSIX
   order (``ru_RU.UTF-8`` is ``"ru"``; a language kpitree does not speak falls back to
   ``"en"``, since the system's language is not a request to kpitree);
4. ``"en"``.

Words are gettext messages: the source text is English, marked with `_` where it is shown
(`N_` where it is only declared, `ngettext` where it comes with a count). Russian lives in
``kpitree/i18n/locales/ru/LC_MESSAGES/kpitree.po``; the build compiles it to ``.mo`` with
Babel, and a source checkout without a current ``.mo`` reads the ``.po`` itself.

Examples:
    >>> import kpitree as kt
    >>> kt.i18n.current()
    'en'
    >>> with kt.locale("ru_RU.UTF-8"):
    ...     kt.i18n.current(), _("unknown locale {name}")
    ('ru', 'неизвестная локаль {name}')
    >>> kt.i18n.current()
    'en'
"""

from __future__ import annotations

import functools
import gettext
import io
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from importlib import resources
from typing import TYPE_CHECKING

from kpitree import errors
from kpitree.errors import ArgumentError, quoted

if TYPE_CHECKING:
    from babel import Locale

__all__ = [
    "LOCALES",
    "N_",
    "babel_locale",
    "chosen",
    "current",
    "for_model",
    "locale",
    "ngettext",
    "parse",
    "set_locale",
]

LOCALES = ("en", "ru")
"""The locales kpitree ships, the default first."""

DOMAIN = "kpitree"
"""The gettext domain: catalogs are ``locales/<locale>/LC_MESSAGES/kpitree.po``."""

_ENVIRONMENT = ("LC_ALL", "LC_MESSAGES", "LANG")  # POSIX order; KPITREE_LANG comes first

_scoped: ContextVar[str | None] = ContextVar("kpitree_locale", default=None)
_chosen: str | None = None  # set_locale's process-wide choice
_from_environment: str | None = None  # read once, on first use


def N_(message: str) -> str:
    """Mark `message` for translation where it is declared; `_` translates it where shown."""
    return message


def parse(name: object, *, what: str = "locale") -> str:
    """The shipped locale `name` names: ``"ru"``, ``"ru_RU"``, ``"ru-RU"``, ``"ru_RU.UTF-8"``.

    Raises:
        ArgumentError: `name` is not text, or names a locale kpitree does not ship.

    Examples:
        >>> parse("RU_ru.utf8"), parse("en-GB")
        ('ru', 'en')
        >>> parse("de")
        Traceback (most recent call last):
        ...
        kpitree.errors.ArgumentError: unknown locale "de"
        hint: kpitree speaks en, ru
    """
    language = _language(name)
    if language not in LOCALES:
        raise ArgumentError(
            _("unknown locale {name}").format(name=quoted(name))
            if what == "locale"
            else _("{what}: unknown locale {name}").format(what=what, name=quoted(name)),
            hint=_("kpitree speaks {locales}").format(locales=", ".join(LOCALES)),
        )
    return language


def _language(name: object) -> str | None:
    if not isinstance(name, str):
        return None
    # ll_CC.encoding@modifier: only the language matters, since only languages ship.
    head = name.strip().split(".")[0].split("@")[0]
    return head.replace("-", "_").split("_")[0].lower()


def set_locale(name: str | None) -> None:
    """Choose the locale for the whole process; None goes back to the environment's.

    A ``with kt.locale(...)`` block still wins inside it. Servers and libraries that
    serve several users choose per request with `locale` instead.

    Raises:
        ArgumentError: `name` is not a locale kpitree ships.
    """
    global _chosen, _from_environment
    _chosen = None if name is None else parse(name)
    _from_environment = None  # read again: the environment may have changed


@contextmanager
def locale(name: str) -> Iterator[str]:
    """Speak `name` inside the block, in this thread or task only; yields the locale.

    Raises:
        ArgumentError: `name` is not a locale kpitree ships.
    """
    chosen = parse(name)
    token = _scoped.set(chosen)
    try:
        yield chosen
    finally:
        _scoped.reset(token)


def current() -> str:
    """The active locale, as the module docstring orders the choices."""
    return _scoped.get() or _chosen or _environment()


def chosen() -> str | None:
    """The locale chosen for kpitree itself, or None when only the system's language speaks.

    A choice is a `locale` block, `set_locale` or ``KPITREE_LANG``; ``LANG`` and the default
    are not, so a model's own ``locale:`` may still speak (`for_model`).
    """
    if _scoped.get() or _chosen:
        return _scoped.get() or _chosen
    _environment()  # reads KPITREE_LANG, refusing a misspelt one
    return _from_environment if os.environ.get("KPITREE_LANG") else None


def for_model(model_locale: str | None) -> str:
    """The locale to show a model in: kpitree's `chosen` one, else the model's ``locale:``.

    Without either, the active locale (the system's language, or ``"en"``). The command line
    and the explorer show each model file this way, so a Russian model speaks Russian
    unless the user asked otherwise.

    Examples:
        >>> for_model("ru") if chosen() is None else "ru"
        'ru'
        >>> with locale("en"):
        ...     for_model("ru")
        'en'
    """
    return chosen() or model_locale or current()


def _environment() -> str:
    global _from_environment
    if _from_environment is None:
        explicit = os.environ.get("KPITREE_LANG")
        if explicit:
            # An explicit choice for kpitree: a misspelling is an error, not English. The
            # error itself is worded in the default locale, the only one known to work.
            _from_environment = LOCALES[0]
            try:
                _from_environment = parse(explicit, what="KPITREE_LANG")
            except ArgumentError:
                _from_environment = None
                raise
        else:
            system = next((os.environ[v] for v in _ENVIRONMENT if os.environ.get(v)), "")
            language = _language(system)
            _from_environment = language if language in LOCALES else LOCALES[0]
    return _from_environment


def _(message: str) -> str:
    """`message` in the active locale (English when it has no translation)."""
    active = current()
    if active == "en":
        return message
    return _catalog(active).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message for a count `n`, by the active locale's plural rules."""
    return _catalog(current()).ngettext(singular, plural, n)


_loading = threading.Lock()


@functools.cache
def _catalog(name: str) -> gettext.NullTranslations:
    if name == "en":
        return gettext.NullTranslations()
    folder = resources.files(__package__).joinpath("locales", name, "LC_MESSAGES")
    po, mo = folder.joinpath(f"{DOMAIN}.po"), folder.joinpath(f"{DOMAIN}.mo")
    with _loading:
        if mo.is_file() and _mtime(mo) >= _mtime(po):
            with mo.open("rb") as compiled:
                return gettext.GNUTranslations(compiled)
        # A source checkout: compile the catalog in memory, as the build would.
        from babel.messages import mofile, pofile

        with po.open("rb") as source:
            catalog = pofile.read_po(source, locale=name, domain=DOMAIN)
        buffer = io.BytesIO()
        mofile.write_mo(buffer, catalog)
        buffer.seek(0)
        return gettext.GNUTranslations(buffer)


def _mtime(resource: object) -> float:
    try:
        return os.stat(str(resource)).st_mtime
    except OSError:
        return 0.0


def babel_locale(name: str | None = None) -> Locale:
    """Babel's `Locale` (CLDR data: number symbols, plural rules) for `name` or the active one."""
    return _babel_locale(name or current())


@functools.cache
def _babel_locale(name: str) -> Locale:
    from babel import Locale

    return Locale.parse(name)


# The errors module sits below this one and writes a few words of its own (`hint:`).
errors.use_translations(_, ngettext)

"""Warnings about spellings that look alike but are different names.

`а` (Cyrillic) and `a` (Latin) look the same and are two names, so a tree that holds both
computes something other than what its author reads. Each name and role is reduced to a
skeleton, its case folded and each Cyrillic letter that looks like a Latin one replaced by
that letter; two spellings with one skeleton are reported once, when the tree is made.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from kpitree.errors import SpellingWarning, warn
from kpitree.i18n import N_, _

__all__ = ["skeleton", "warn_spellings"]

# Cyrillic letters drawn like a Latin letter (after case folding), from the Latin/Cyrillic
# rows of Unicode's confusables.txt. Only these two scripts meet in kpitree's trees (names
# typed on Russian and English keyboards); the full table would pull in a dependency and
# flag pairs nobody types by mistake.
_LOOK_ALIKE = str.maketrans(
    {
        "а": "a",
        "в": "b",
        "с": "c",
        "ԁ": "d",
        "е": "e",
        "һ": "h",
        "н": "h",
        "і": "i",
        "ј": "j",
        "к": "k",
        "м": "m",
        "о": "o",
        "р": "p",
        "ԛ": "q",
        "ѕ": "s",
        "т": "t",
        "ԝ": "w",
        "х": "x",
        "у": "y",
    }
)


def skeleton(text: str) -> str:
    """Return the form two spellings share when they are easy to mistake for each other.

    Examples:
        >>> skeleton("а") == skeleton("a"), skeleton("Продажи") == skeleton("продажи")
        (True, True)
        >>> skeleton("leads") == skeleton("lead")
        False
    """
    return text.casefold().translate(_LOOK_ALIKE)


def _skeletons(texts: list[str]) -> list[str]:
    """`skeleton` of each text; texts without a line break (names) in one pass for speed."""
    joined = "\n".join(texts)
    if not texts or joined.count("\n") != len(texts) - 1:
        return [skeleton(text) for text in texts]
    # Case folding and the look-alike table never make or remove a line break.
    return skeleton(joined).split("\n")


def warn_spellings(names: Iterable[str], roles: Iterable[str]) -> None:
    """Give one `SpellingWarning` per group of node names, or of roles, that look alike."""
    for what, spellings in ((N_("node names"), names), (N_("owners"), roles)):
        unique = list(dict.fromkeys(spellings))
        groups: dict[str, list[str]] = {}
        for spelling, shape in zip(unique, _skeletons(unique), strict=True):
            groups.setdefault(shape, []).append(spelling)
        for group in groups.values():
            if len(group) > 1:
                # stacklevel 3: the code that called Graph(...) or Tree(...)
                warn(SpellingWarning(_message(what, group)))


def _message(what: str, group: list[str]) -> str:
    listed = f"`{group[0]}`"
    for spelling in group[1:]:
        listed = _("{first} and {second}").format(first=listed, second=f"`{spelling}`")
    # Skeletons match, so the spellings differ letter by letter; only case folding can change
    # a length (`ß`/`ss`), and then the letters compared are case pairs anyway.
    pairs = dict.fromkeys(
        (x, y) for s in group[1:] for x, y in zip(group[0], s, strict=False) if x != y
    )
    shown = [
        _("{first} vs {second}").format(first=_letter(x), second=_letter(y))
        for x, y in pairs
        if x.casefold() != y.casefold()
    ]
    how = "; ".join(shown) if shown else _("they differ only in case")
    return _(
        "{what} {listed} look alike but are different spellings ({how}); "
        "if they are meant to be one, write them the same way"
    ).format(what=_(what), listed=listed, how=how)


def _letter(ch: str) -> str:
    return f"`{ch}` (U+{ord(ch):04X} {unicodedata.name(ch, '?')})"

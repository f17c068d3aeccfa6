"""Colour in the terminal: on a TTY only, never in pipes, files or `--json` output.

`use_colour(stream)` decides once per stream: colour when the stream is a terminal,
unless `NO_COLOR` is set (https://no-color.org) or `TERM=dumb`; `FORCE_COLOR` turns it on
even in a pipe (for tools that capture and replay colour). `colour(text, kind, enabled)`
wraps text in the ANSI codes of its kind, or returns it unchanged when not enabled, so a
caller writes one code path for both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

from kpitree.errors import ArgumentError
from kpitree.i18n import _

__all__ = ["KINDS", "colour", "use_colour", "visible_width"]

KINDS: Final[Mapping[str, str]] = {
    "better": "32",  # green: a change the norm wants, a norm met
    "ok": "32",
    "worse": "31",  # red: a change against the norm, a norm not met
    "bad": "31",
    "warn": "33",  # yellow: unknown, not yet checked
    "dim": "2",  # secondary text: units, owners, hints
    "bold": "1",  # names, headings
    "heading": "1;4",
}
"""Kinds of text and their ANSI SGR codes."""

_RESET: Final = "\x1b[0m"


def use_colour(stream: Any, environ: Mapping[str, str] | None = None) -> bool:
    """Return whether to colour text written to `stream`.

    Args:
        stream: where the text goes (`sys.stdout`); anything without `isatty` is no TTY.
        environ: the environment to read (`os.environ` when None).

    Examples:
        >>> import io
        >>> use_colour(io.StringIO())
        False
        >>> use_colour(io.StringIO(), {"FORCE_COLOR": "1"})
        True
    """
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    if env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (OSError, ValueError):  # a closed or detached stream is no terminal
        return False


def colour(text: str, kind: str, enabled: bool) -> str:
    r"""Return `text` in the colour of `kind` when `enabled`, else unchanged.

    Raises:
        ValueTypeError: an unknown kind.

    Examples:
        >>> colour("✗ lead_to_ql", "bad", True)
        '\x1b[31m✗ lead_to_ql\x1b[0m'
        >>> colour("✗ lead_to_ql", "bad", False)
        '✗ lead_to_ql'
    """
    code = KINDS.get(kind)
    if code is None:
        raise ArgumentError(
            _("unknown colour kind {kind}").format(kind=repr(kind)),
            hint=_("use one of {choices}").format(choices=", ".join(KINDS)),
        )
    if not enabled or not text:
        return text
    return f"\x1b[{code}m{text}{_RESET}"


def visible_width(text: str) -> int:
    """Return the width of `text` on screen, not counting colour codes.

    Use it to align coloured columns and to fit lines into 80 columns.

    Examples:
        >>> visible_width(colour("80%", "ok", True))
        3
    """
    width = 0
    inside = False
    for i, char in enumerate(text):
        if inside:
            inside = char != "m"
        elif char == "\x1b" and text[i + 1 : i + 2] == "[":
            inside = True
        else:
            width += 1
    return width

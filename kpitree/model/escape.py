r"""Text from a model, made inert for each language kpitree writes it into.

Names, owners, descriptions, units, standards, horizons and scenario names come from other
people's files. Written as they are into HTML, Markdown, Mermaid, DOT, a terminal or a
matplotlib label, they can become markup (`<script>`, a closing code fence, a Mermaid
`click` line), move the cursor or recolour the screen (`ESC [ …`), reverse what follows
(BiDi overrides) or turn into mathematics (`$x$`). Each function here takes such text and
returns it for one target so that it shows as the same characters and nothing else; every
renderer calls the function of its language on every piece of text from a model, and no
renderer escapes in a way of its own.

Characters that are never text — C0 and C1 controls (ESC, BEL, CSI `\x9b`, …), DEL, BiDi
embeddings, overrides and isolates, lone surrogates — are shown as a visible placeholder
in Python's escape notation (`\x1b`, `\u202e`), in every target, so a reader sees that they
are there. Letters of any script (`лиды`) pass unchanged.

It lives in the model layer because the text tables of results (`model.results.table`)
are drawn here too; `kpitree.display` and the CLI use it from above.

Examples:
    >>> terminal("sales\x1b[2J")
    'sales\\x1b[2J'
    >>> html_text('<script>"x"</script>')
    '&lt;script&gt;&quot;x&quot;&lt;/script&gt;'
    >>> markdown_block("```\nx")
    '````text\n```\nx\n````'
"""

from __future__ import annotations

import html
import re
from typing import Final

__all__ = [
    "dot_quoted",
    "dot_text",
    "html_text",
    "markdown_block",
    "markdown_text",
    "mermaid_text",
    "mpl_text",
    "terminal",
    "visible",
]

# C0 controls but newline, DEL, C1 controls; BiDi marks, embeddings, overrides and isolates
# (the "Trojan Source" set); line and paragraph separators; lone surrogates, which no
# encoder accepts.
_INVISIBLE: Final = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff]"
)
_INVISIBLE_OR_NEWLINE: Final = re.compile(_INVISIBLE.pattern[:-1] + "\n]")


def _placeholder(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object, *, newlines: bool = False) -> str:
    r"""Return `text` with every control, BiDi and surrogate character as a placeholder.

    Args:
        text: the text (anything else is turned into text with `str`).
        newlines: keep `\n` as it is; by default it is shown as `\x0a` too, so one field
            stays on one line.

    Examples:
        >>> visible("a\u202eb\tc"), visible("лиды")
        ('a\\u202eb\\x09c', 'лиды')
        >>> visible("a\nb"), visible("a\nb", newlines=True)
        ('a\\x0ab', 'a\nb')
    """
    pattern = _INVISIBLE if newlines else _INVISIBLE_OR_NEWLINE
    return pattern.sub(_placeholder, str(text))


def terminal(text: object, *, newlines: bool = False) -> str:
    r"""Return text for a terminal: no escape sequence, bell or BiDi override gets through.

    The same as `visible`: nothing but printable characters (and `\n` when `newlines`).

    Examples:
        >>> terminal("\x1b]0;owned\x07 sales\x9b31m")
        '\\x1b]0;owned\\x07 sales\\x9b31m'
    """
    return visible(text, newlines=newlines)


def html_text(text: object) -> str:
    """Return text for HTML, as element content or inside a quoted attribute.

    Examples:
        >>> html_text("R&D's <b>'team'</b>")
        'R&amp;D&#x27;s &lt;b&gt;&#x27;team&#x27;&lt;/b&gt;'
    """
    return html.escape(visible(text), quote=True)


# Markdown: backslash escapes for every ASCII punctuation character that can start markup
# (emphasis, code, links, images, headings, tables, raw HTML, entities, math in Jupyter).
_MARKDOWN_SPECIAL: Final = re.compile(r"([\\`*_{}\[\]()<>#+!|~&$:-])")
_BACKTICKS: Final = re.compile("`+")


def markdown_text(text: object) -> str:
    r"""Return text for Markdown prose or a table cell: no markup, HTML or line break.

    Examples:
        >>> markdown_text("<script> | *x* `y`")
        '\\<script\\> \\| \\*x\\* \\`y\\`'
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", visible(text))


def markdown_block(text: object, info: str = "text") -> str:
    r"""Return text as a fenced Markdown code block that nothing inside can close.

    The fence is one backtick longer than the longest run of backticks in the text (three
    at least), which is how CommonMark lets a block hold fences of its own; inside a code
    block, HTML is text.

    Examples:
        >>> print(markdown_block("a ```` b"))
        `````text
        a ```` b
        `````
    """
    body = visible(text, newlines=True)
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"


# Mermaid reads `#code;` as an entity inside a quoted label, so each character that could
# end the label, start markup or an entity is written as its decimal code. A `%%` starts a
# comment or a `%%{init: …}%%` directive, which Mermaid finds anywhere in the text: its
# second `%` is written as a code too (a single `%`, as in `80%`, stays readable).
_MERMAID_ESCAPES: Final = {c: f"#{ord(c)};" for c in '"#&<>`|\\'}


def mermaid_text(text: object) -> str:
    r"""Return text for a quoted Mermaid label: one line, no quote, markup or comment.

    Examples:
        >>> mermaid_text('a"]\nclick n0 "x" %%{init: {}}%%')
        'a#34;]#92;x0aclick n0 #34;x#34; %#37;{init: {}}%#37;'
    """
    escaped = "".join(_MERMAID_ESCAPES.get(c, c) for c in visible(text))
    return escaped.replace("%%", "%#37;")


def dot_text(text: object) -> str:
    r"""Return text for a Graphviz HTML-like label: entities, no tag, no control character.

    Graphviz expands `\N` (the node's id), `\G`, `\l` and the like even inside HTML-like
    labels, and an entity `&#92;` does not stop it: a backslash is doubled, which shows one.

    Examples:
        >>> print(dot_text(r"<b>R&D</b> \N"))
        &lt;b&gt;R&amp;D&lt;/b&gt; \\N
    """
    return html_text(text).replace("\\", "\\\\")


def dot_quoted(text: object) -> str:
    r"""Return text as a quoted Graphviz string: `"`, `\` escaped, no escString like `\N`.

    Examples:
        >>> print(dot_quoted('say "hi" \\N'))
        "say \"hi\" \\N"
    """
    body = visible(text).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{body}"'


def mpl_text(text: object) -> str:
    r"""Return text for a matplotlib label: `$` is a dollar, never the start of mathtext.

    Examples:
        >>> mpl_text("$x$ revenue")
        '\\$x\\$ revenue'
    """
    return visible(text).replace("$", r"\$")

"""Every error kpitree raises, and how an error points at the text that caused it.

One base class, `KPITreeError`; each subclass also subclasses the builtin a caller would
catch anyway (`ValueError`, `LookupError`, `ArithmeticError`). A message says what is
wrong (names in backticks), where (a caret under the token, or `file.yaml:4 @ $.kpis.x`),
and a hint when one can be given.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "ArgumentError",
    "BoundsError",
    "CycleError",
    "DefaultsWarning",
    "DuplicateNameError",
    "EvaluationError",
    "FormulaError",
    "HorizonError",
    "InfeasibleGoalError",
    "KPITreeError",
    "KPITreeWarning",
    "KindError",
    "LimitError",
    "MissingDependencyError",
    "MissingValueError",
    "NormError",
    "SpellingWarning",
    "UnitError",
    "UnknownNameError",
    "ValidationError",
    "ValueTypeError",
    "did_you_mean",
    "quoted",
    "quoted_name",
    "raise_all",
    "require",
    "warn",
]


def _(message: str) -> str:
    """`message` in the active locale: the few words of this module (`hint:`).

    This module is the bottom layer, so it cannot ask `kpitree.i18n`; instead that layer
    hands its translation functions down with `use_translations` when it is imported.
    """
    return _translations[0](message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message for a count `n`, in the active locale (see `_`)."""
    return _translations[1](singular, plural, n)


_translations: tuple[Callable[[str], str], Callable[[str, str, int], str]] = (
    lambda message: message,
    lambda singular, plural, n: singular if n == 1 else plural,
)


def use_translations(
    gettext: Callable[[str], str], ngettext: Callable[[str, str, int], str]
) -> None:
    """Translate this module's words with `gettext` and `ngettext` (called by kpitree.i18n)."""
    global _translations
    _translations = (gettext, ngettext)


class KPITreeError(Exception):
    """Base of every error kpitree raises on purpose.

    Attributes:
        reason: what is wrong, without location or hint.
        where: where it is (`metric `ql``, `model.yaml:4 @ $.kpis.leads.owner`), or None.
        hint: what would be right, or None.
        names: the node names involved.
        source: the text the error points into (a formula), or None.
        span: `(start, end)` character offsets into `source` for the caret, or None.
    """

    def __init__(
        self,
        reason: str,
        *,
        where: str | None = None,
        hint: str | None = None,
        names: Iterable[str] = (),
        source: str | None = None,
        span: tuple[int, int] | None = None,
    ) -> None:
        self.reason = reason
        self.where = where
        self.hint = hint
        self.names = tuple(names)
        self.source = source
        self.span = span
        super().__init__(self._render())

    @property
    def message(self) -> str:
        """The message without its hint: where, what, and the caret under the text."""
        head = f"{self.where}: {self.reason}" if self.where else self.reason
        if self.source is not None and self.span is not None:
            return f"{head}\n{caret(self.source, *self.span)}"
        return head

    def _render(self) -> str:
        if self.hint:
            return self.message + "\n" + _("hint: {hint}").format(hint=self.hint)
        return self.message

    def located(self, where: str) -> KPITreeError:
        """Return a copy of this error placed at `where` (an outer location goes first)."""
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.where = f"{where} {self.where}" if self.where else where
        Exception.__init__(new, new._render())
        return new

    def __reduce__(self) -> tuple[object, ...]:
        # Exceptions are pickled by multiprocessing; keep every field.
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[KPITreeError], state: dict[str, object]) -> KPITreeError:
    new = cls.__new__(cls)
    new.__dict__.update(state)
    Exception.__init__(new, new._render())
    return new


class KPITreeWarning(UserWarning):
    """Base of every warning kpitree gives.

    A warning goes with a result kpitree can stand behind but the user should know about:
    two spellings that look alike, values filled from defaults.

    Filter them together with `warnings.simplefilter("error", kt.KPITreeWarning)`.
    """


class SpellingWarning(KPITreeWarning):
    """Two spellings in one tree that look alike but differ: `a`/`а`, `Sales`/`sales`.

    Node names or owners that a reader takes for one are two for kpitree; the warning
    names both spellings and the letters that differ (with their code points).
    """


class DefaultsWarning(KPITreeWarning):
    """Leaves without a column in a table, filled with their model values (`defaults=True`).

    The numbers computed from them look real but come from the model file, not the data;
    the message names every filled leaf and the value it took.
    """


def warn(warning: KPITreeWarning) -> None:
    """Give `warning`, attributed to the first caller outside kpitree.

    A fixed `stacklevel` would point into kpitree whenever the public call goes through
    a method or a helper; the warning is about the caller's data, so it names their line.
    """
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    level, frame = 2, sys._getframe(1)  # stacklevel 2 is warn's caller
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    warnings.warn(warning, stacklevel=level)


class FormulaError(KPITreeError, ValueError):
    """Formula text that is not a valid kpitree formula, with a caret under the token."""


class LimitError(FormulaError):
    """A formula or file beyond a safety limit (length, depth, size, exponent)."""


class HorizonError(KPITreeError, ValueError):
    """Influence-horizon text that is not one of the accepted forms."""


class NormError(KPITreeError, ValueError):
    """Norm text or bounds that do not describe a threshold."""


class UnitError(KPITreeError, ValueError):
    """A unit that cannot be read, or quantities combined across incompatible units."""


class ValueTypeError(KPITreeError, TypeError):
    """A value of the wrong type: text where a number is needed, a list for a mapping."""


class ArgumentError(KPITreeError, ValueError):
    """An argument or field of the right type whose value is not allowed."""


class KindError(ArgumentError):
    """A node of the wrong kind: a metric where a leaf is needed, or a leaf for a metric."""


class BoundsError(ArgumentError):
    """A leaf value outside the bounds the leaf declares."""


class DuplicateNameError(ArgumentError):
    """Two different things under one name: two nodes, or a key given twice in a file."""


class CycleError(KPITreeError, ValueError):
    """Metrics that depend on each other in a loop."""


class UnknownNameError(KPITreeError, KeyError):
    """A name that no node of the tree has.

    A `KeyError` (and so a `LookupError`), so that results that are mappings follow the
    mapping protocol: `name in values` and `values.get(name)` need `[]` to raise KeyError.
    """

    def __str__(self) -> str:
        # KeyError's str() would repr() the message; keep it readable, and as rendered
        # when raised (in that moment's locale).
        return str(self.args[0])


class MissingValueError(KPITreeError, LookupError):
    """Leaves without a value where one is needed."""

    def __str__(self) -> str:
        return str(self.args[0])  # as rendered when raised, in that moment's locale


class MissingDependencyError(KPITreeError, ImportError):
    """An optional library that a feature needs is not installed."""

    def __str__(self) -> str:
        return str(self.args[0])  # as rendered when raised, in that moment's locale


def require(module: str, *, extra: str, feature: str) -> None:
    """Raise `MissingDependencyError` naming the extra to install when `module` is missing.

    Examples:
        >>> require("json", extra="yaml", feature="reading YAML")
        >>> require("no_such_module_here", extra="sql", feature="SQL")
        Traceback (most recent call last):
        ...
        kpitree.errors.MissingDependencyError: SQL needs the `no_such_module_here` package, ...
        hint: pip install 'kpitree[sql]'
    """
    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(
            _("{feature} needs the `{module}` package, which is not installed").format(
                feature=feature, module=module
            ),
            hint=f"pip install 'kpitree[{extra}]'",
        )


class EvaluationError(KPITreeError, ArithmeticError):
    """A metric whose value is undefined: division by zero, log/sqrt domain, overflow."""


class InfeasibleGoalError(KPITreeError, ArithmeticError):
    """A target that cannot be reached within the leaves' bounds, or at all.

    Attributes:
        needed: the value the varied leaf would need, when one exists (else None).
    """

    def __init__(self, reason: str, *, needed: float | None = None, **kwargs: object) -> None:
        self.needed = needed
        super().__init__(reason, **kwargs)  # type: ignore[arg-type]


class ValidationError(KPITreeError, ValueError):
    """Several problems found at once; each is also in `problems`."""

    def __init__(self, problems: Sequence[KPITreeError], *, where: str | None = None) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = [ngettext("{count} problem found:", "{count} problems found:", count)]
        lines[0] = lines[0].format(count=count)
        for problem in self.problems:
            text = str(problem).replace("\n", "\n    ")
            lines.append(f"  - {text}")
        names = [n for p in self.problems for n in p.names]
        super().__init__("\n".join(lines), where=where, names=dict.fromkeys(names))

    def located(self, where: str) -> KPITreeError:
        """Return a copy with `where` put in front of every problem's location."""
        return ValidationError([p.located(where) for p in self.problems])


def raise_all(problems: Sequence[KPITreeError]) -> None:
    """Raise the one problem found, or a `ValidationError` holding all of them.

    Examples:
        >>> raise_all([])
        >>> raise_all([ArgumentError("bad"), ArgumentError("worse")])
        Traceback (most recent call last):
        ...
        kpitree.errors.ValidationError: 2 problems found:
          - bad
          - worse
    """
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ValidationError(problems)


def caret(source: str, start: int, end: int) -> str:
    """Show the line of `source` holding `start`, with carets under `start:end`.

    Examples:
        >>> print(caret("leads * lead_to_q", 8, 17))
          leads * lead_to_q
                  ^^^^^^^^^
    """
    line_start = source.rfind("\n", 0, start) + 1
    line_end = source.find("\n", start)
    if line_end == -1:
        line_end = len(source)
    # A long line is cut to a window around the span, so a caret message stays short
    # whatever the size of the source (a formula may be 100,000 characters on one line).
    first = max(line_start, min(start - _CARET_WIDTH // 4, line_end - _CARET_WIDTH))
    last = min(line_end, first + _CARET_WIDTH)
    head = "..." if first > line_start else ""
    tail = "..." if last < line_end else ""
    col = start - first + len(head)
    width = max(1, min(end, last) - start)
    return f"  {head}{source[first:last]}{tail}\n  {' ' * col}{'^' * width}"


_CARET_WIDTH = 100


def quoted(value: object, *, text_as_repr: bool = False) -> str:
    """Show a value a user gave as a message quotes it: text in double quotes, else its repr.

    At most 60 characters are shown, so a huge input cannot flood the message. With
    `text_as_repr`, text is shown by its repr too (`'0,8'`), as number errors do.

    Examples:
        >>> quoted("1 dya"), quoted(3.5), quoted("x" * 100)[-5:]
        ('"1 dya"', '3.5', 'xx...')
        >>> quoted("many", text_as_repr=True)
        "'many'"
    """
    if isinstance(value, str) and not text_as_repr:
        text = f'"{value}"'
    else:
        try:
            text = repr(value)
        except ValueError:  # an int too long to print (sys.set_int_max_str_digits)
            text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def quoted_name(name: object) -> str:
    """Show a name as messages do, in backticks, cut to 60 characters like `quoted`.

    Examples:
        >>> quoted_name("leads"), quoted_name("x" * 100)
        ('`leads`', '`xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...` (100 characters)')
    """
    text = str(name)
    if len(text) <= 60:
        return f"`{text}`"
    count = len(text)
    shown = ngettext("`{start}...` ({count} character)", "`{start}...` ({count} characters)", count)
    return shown.format(start=text[:54], count=count)  # no grouping: its sign is the locale's


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """Suggest the closest of `candidates` to a misspelt `name`, or None.

    Examples:
        >>> did_you_mean("lead_to_q1", ["leads", "lead_to_ql"])
        'did you mean `lead_to_ql`?'
    """
    if len(name) > 1000:  # no name is this long, and difflib is quadratic in the length
        return None
    pool = list(candidates)
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in pool}
        close = [lowered[name.lower()]] if name.lower() in lowered else []
    return _("did you mean `{name}`?").format(name=close[0]) if close else None

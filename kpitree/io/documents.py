"""Documents: model and values files read safely, with the line of every key.

A `Document` is what reading a file gives: its data (plain mappings, lists, text and
numbers), the line of each key by its `$.path`, and every problem found, each located
(`model.yaml:4 @ $.kpis.leads.owner`). The schema of model files (`kpitree.io.schema`) and
values files (`kpitree.io.values`) read documents; neither parses text itself.

Reading is careful because these files come from other people. YAML is composed by a safe
loader into a node graph that this module walks itself: only plain scalars, mappings and
sequences are accepted (no `!!python/...` or other tags), every key's line is known,
duplicate keys are errors, and aliases may not expand the document (a "billion laughs"
file is refused). With the `fast` extra, YAML that YAML 1.1 and 1.2 cannot read
differently is read by yaml-rs instead, to the same data (`_compiled_yaml`), and composed
the careful way only when a problem must be located. JSON is read by `read_json`, which
refuses duplicate keys, `NaN`, `Infinity` and numbers beyond the float range; the
explorer's server reads request bodies with it too. TOML is read by rtoml where installed,
else by the standard library, which also explains every error. Files beyond
`Limits.max_file_bytes` are refused before parsing.
"""

from __future__ import annotations

import bisect
import copy
import functools
import json
import math
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from kpitree.errors import (
    DuplicateNameError,
    KPITreeError,
    LimitError,
    UnknownNameError,
    ValidationError,
    ValueTypeError,
    did_you_mean,
    quoted,
    require,
)
from kpitree.i18n import _
from kpitree.language.limits import DEFAULT_LIMITS, Limits
from kpitree.model.numbers import format_number

__all__ = [
    "FORMATS",
    "Document",
    "JSONDuplicateKey",
    "JSONNotFinite",
    "JSONRefusal",
    "JSONSyntaxError",
    "PathKey",
    "format_for",
    "format_name",
    "iter_problems",
    "path_text",
    "read_document",
    "read_json",
    "read_text",
    "rebuilt",
]

FORMATS = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json"}
"""File extensions and the format each is read as."""

_FORMAT_NAMES = ("yaml", "toml", "json")
_MAX_NESTING = 50  # the schema nests 5 levels; anything far deeper is not a model file
_UNREAD = object()  # what a compiled reader gives for text it leaves to the careful one

PathKey = tuple[str | int, ...]
"""Where a value is in a document: its keys and list indices from the top."""


# -- documents: parsed data plus where each key was ------------------------------------------


@attrs.define
class Document:
    """Data read from a file, with the line of every key, and the problems found so far.

    Attributes:
        data: the parsed data (mappings, lists, text, numbers), or None when unreadable.
        source: the file name for messages, or None for text given directly.
        found_lines: line number of each key or item found so far, by path
            (`("kpis", "leads", "owner")`); read `lines`, which finds the rest first.
        hints: extra hints for values at a path (a YAML `no` read as false).
        problems: the problems found, each located.
    """

    data: Any = None
    source: str | None = None
    found_lines: dict[PathKey, int] = attrs.Factory(dict)
    hints: dict[PathKey, str] = attrs.Factory(dict)
    problems: list[KPITreeError] = attrs.Factory(list)
    # Finds the lines on first use: JSON and TOML keep no positions, and scanning a large
    # file for them costs more than reading it, so it is done only to locate a problem.
    scan_lines: Callable[[], None] | None = None

    @property
    def lines(self) -> dict[PathKey, int]:
        """Line number of each key or item, by path, found on first use."""
        if self.scan_lines is not None:
            scan, self.scan_lines = self.scan_lines, None
            scan()
        return self.found_lines

    def where(self, path: PathKey) -> str:
        """Return `file:line @ $.path` for a path, with the line of its nearest located key.

        Examples:
            >>> Document(source="m.yaml", found_lines={("kpis", "leads"): 3}).where(
            ...     ("kpis", "leads", "owner"))
            'm.yaml:3 @ $.kpis.leads.owner'
        """
        line = None
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                break
        file = self.source or "<text>"
        place = f"{file}:{line}" if line is not None else file
        return f"{place} @ {path_text(path)}"

    def add(self, problem: KPITreeError, path: PathKey) -> None:
        """Note a problem at `path`; a hint noted for the path replaces the problem's own."""
        where = self.where(path)  # finds the lines first, and with them the hints
        hint = self.hints.get(path)
        if hint:  # the file's own reading explains the problem better than a generic hint
            problem = rebuilt(problem, hint=hint)
        self.problems.append(problem.located(where))


def path_text(path: PathKey) -> str:
    """Return a path as `$.kpis.leads.bounds[0]`; keys that are not names are quoted.

    Examples:
        >>> path_text(("kpis", "лиды", "bounds", 0)), path_text(("metrics", "a b"))
        ('$.kpis.лиды.bounds[0]', '$.metrics["a b"]')
    """
    parts = ["$"]
    for key in path:
        if isinstance(key, int):
            parts.append(f"[{key}]")
        elif len(key) > 60:  # a huge key must not make a huge message: shown cut short
            parts.append(f"[{quoted(key)}]")
        elif key.isidentifier():
            parts.append(f".{key}")
        else:
            parts.append(f"[{json.dumps(key, ensure_ascii=False)}]")
    return "".join(parts)


def rebuilt(problem: KPITreeError, **changes: Any) -> KPITreeError:
    r"""Return a copy of `problem` with some of its fields changed, its message re-rendered.

    Examples:
        >>> str(rebuilt(ValueTypeError("bad", hint="old"), hint="new"))
        'bad\nhint: new'
    """
    new = copy.copy(problem)
    for key, value in changes.items():
        setattr(new, key, value)
    Exception.__init__(new, new._render())
    return new


def iter_problems(error: KPITreeError) -> Iterator[KPITreeError]:
    """Yield each problem of an error: its `problems` if it is a `ValidationError`, else itself.

    Examples:
        >>> [str(p) for p in iter_problems(ValueTypeError("bad"))]
        ['bad']
    """
    if isinstance(error, ValidationError):
        yield from error.problems
    else:
        yield error


# -- reading text into a Document ------------------------------------------------------------


def format_for(path: str | Path) -> str:
    """Return the model-file format of a path from its extension.

    Raises:
        UnknownNameError: the extension is not one of `.yaml`, `.yml`, `.toml`, `.json`.

    Examples:
        >>> format_for("examples/dupont.toml")
        'toml'
    """
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise UnknownNameError(
            _("cannot tell the format of `{path}` from its extension `{suffix}`").format(
                path=path, suffix=suffix
            ),
            hint=_("model and values files end in .yaml, .yml, .toml or .json"),
        )
    return FORMATS[suffix]


def format_name(format: str) -> str:  # noqa: A002 - the model-file format name
    """Return the format a name stands for: `yaml` (also `yml`), `toml` or `json`.

    Raises:
        UnknownNameError: the name is not one of them.

    Examples:
        >>> format_name(".YML")
        'yaml'
    """
    name = format.lower().lstrip(".") if isinstance(format, str) else format
    name = "yaml" if name == "yml" else name
    if name not in _FORMAT_NAMES:
        raise UnknownNameError(
            _("`{format}` is not a model-file format").format(format=format),
            hint=did_you_mean(str(format), _FORMAT_NAMES) or _("use yaml, toml or json"),
        )
    return str(name)


def read_document(
    text: str,
    format: str = "yaml",  # noqa: A002 - the model-file format name
    *,
    source: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Document:
    r"""Parse model-file or values-file text into a `Document`, collecting syntax problems.

    Safety limits apply here: the size of the text, YAML tags and aliases, nesting,
    duplicate keys, numbers outside the float range.

    Examples:
        >>> doc = read_document("kpis:\n  leads: {owner: marketing}\n")
        >>> doc.data, doc.lines[("kpis", "leads", "owner")]
        ({'kpis': {'leads': {'owner': 'marketing'}}}, 2)
    """
    doc = Document(source=source)
    name = format_name(format)
    if name == "yaml":
        require("yaml", extra="yaml", feature="reading YAML")
    if not isinstance(text, str):
        raise ValueTypeError(
            _("model-file text must be str, got {type}").format(type=type(text).__name__)
        )
    size = len(text)
    if size * 4 > limits.max_file_bytes:  # only then can the UTF-8 size exceed the limit
        size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_file_bytes:
        doc.add(_too_big(size, limits), ())
        return doc
    reader = {"yaml": _read_yaml, "json": _read_json, "toml": _read_toml}[name]
    reader(text, doc)
    return doc


def read_text(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> tuple[str, str]:
    """Return a model or values file's text and format, refusing files over the size limit.

    Raises:
        ValidationError: the file is too big or not UTF-8 text.
        UnknownNameError: the extension is not one of `FORMATS`.
        OSError: the file cannot be read.
    """
    name = format_for(path)
    with open(path, "rb") as file:
        raw = file.read(limits.max_file_bytes + 1)
    if len(raw) > limits.max_file_bytes:
        size = Path(path).stat().st_size
        raise ValidationError([_too_big(size, limits).located(str(path))])
    try:
        return raw.decode("utf-8-sig"), name
    except UnicodeDecodeError as exc:
        problem = KPITreeError(
            _("the file is not UTF-8 text (byte {byte})").format(byte=exc.start),
            hint=_("save it as UTF-8"),
        )
        raise ValidationError([problem.located(str(path))]) from None


def _too_big(size: int, limits: Limits) -> LimitError:
    return LimitError(
        _("the file is {size} bytes, over the limit of {limit}").format(
            size=format_number(size), limit=format_number(limits.max_file_bytes)
        ),
        hint=_("split the model, or raise Limits.max_file_bytes"),
    )


def _long_number(text: str, doc: Document) -> tuple[LimitError, str]:
    """Return the problem of a number with more digits than Python reads, and where it is.

    The parsers raise a bare ValueError for it (`sys.get_int_max_str_digits`) and do not
    say where; the place is the line of the first such run of digits in `text`.
    """
    limit = sys.get_int_max_str_digits() or 4300
    found = re.search(rf"[0-9][0-9_]{{{limit},}}", text)
    digits = len(found.group().replace("_", "")) if found else None
    problem = LimitError(
        _("a number of {digits} digits is too long to read").format(digits=format_number(digits))
        if digits
        else _("a number of more than {limit} digits is too long to read").format(
            limit=format_number(limit)
        ),
        hint=_("a model file holds finite numbers, written in at most {limit} digits").format(
            limit=format_number(limit)
        ),
    )
    file = doc.source or "<text>"
    line = text.count("\n", 0, found.start()) + 1 if found else None
    return problem, f"{file}:{line}" if line else file


def _syntax(what: str, line: int | None, doc: Document, hint: str | None = None) -> None:
    file = doc.source or "<text>"
    where = f"{file}:{line}" if line else file
    doc.problems.append(KPITreeError(what, where=where, hint=hint))


# YAML ----------------------------------------------------------------------------------------

_YAML_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


@functools.cache
def _yaml_loader() -> Any:
    import yaml

    # libyaml composes fast and limits nesting itself; pure Python is the fallback.
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class ModelLoader(base):  # type: ignore[misc, valid-type]
        """A safe loader used only to compose the node graph; this module walks it."""

    return ModelLoader


def _read_yaml(text: str, doc: Document) -> None:
    fast = _compiled_yaml(text)
    if fast is not _UNREAD:
        doc.data = fast
        doc.scan_lines = lambda: _scan_yaml(text, doc)
        return
    _compose_yaml(text, doc)


def _scan_yaml(text: str, doc: Document) -> None:
    """Find the line of every key, and the hints, by composing the text the careful way."""
    careful = Document(source=doc.source)
    _compose_yaml(text, careful)
    for path, line in careful.found_lines.items():
        doc.found_lines.setdefault(path, line)
    for path, hint in careful.hints.items():
        doc.hints.setdefault(path, hint)


# What the compiled reader may not be trusted with, anywhere in the text: a character
# outside YAML's printable set, a tab, a carriage return or another line break of YAML
# 1.1 (NEL, U+2028/9), a byte-order mark; a backslash escape, a merge key; a document
# marker or directive, a JSON-style `"key":value`; and indicators where a node may start
# (anchors, tags, block scalars, complex keys, reserved characters). Any of them, and the
# careful reader reads the file instead. Aliases need no rule: without an anchor there is
# nothing for one to name, and yaml-rs refuses it.
_YAML_UNSURE_CHAR = re.compile(
    r"[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
_YAML_UNSURE_TEXT = ("\\", "<<")
_YAML_UNSURE_FORM = re.compile(r"^(?:---|\.\.\.|%)|[\"'\]}]:[^\s]", re.MULTILINE)
_YAML_INDICATORS = "&!|>%@`?"
_YAML_UNSURE_START = re.compile(r"(?:^|[\s\[{,])[&!|>%@`?]", re.MULTILINE)


def _unsure_yaml(text: str) -> bool:
    """Whether the text has anything `_compiled_yaml` leaves to the careful reader."""
    return bool(
        any(piece in text for piece in _YAML_UNSURE_TEXT)
        or _YAML_UNSURE_CHAR.search(text)
        or _YAML_UNSURE_FORM.search(text)
        or (
            any(indicator in text for indicator in _YAML_INDICATORS)
            and _YAML_UNSURE_START.search(text)
        )
        or _YAML_ODD_NUMBER.search(text)
    )


# A token that may be a number must be one that YAML 1.1 and 1.2 read alike: an integer
# without leading zeros, or a decimal with digits on both sides of the point (no `010`,
# `0x1F`, `1_000`, `1e3`, `.5`, `1:30`, dates or versions).
_YAML_ODD_NUMBER = re.compile(
    r"(?<![\w.+\-:])"
    r"(?![-+]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?![\w.+\-:]))"
    r"[-+]?\.?[0-9]"
)
# Plain words YAML 1.1 reads as bools (and `=`, its value tag), which YAML 1.2 keeps as text.
_YAML_11_WORDS = frozenset(
    ("yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "=")
)
_YAML_PLAIN = (str, int, float, bool, type(None))


def _compiled_yaml(text: str) -> Any:
    """The document read by yaml-rs (compiled, about 20× faster than composing), or `_UNREAD`.

    yaml-rs reads YAML 1.2, where `no` is text and `010` is ten; a model file is read as
    YAML 1.1, as PyYAML reads it. So its result is taken only for text in which the two
    cannot differ: nothing `_unsure_yaml` finds, every number in a form both read alike, no
    value one of YAML 1.1's bool words, keys all text, no value that is not finite, no
    digits beyond Python's limit, nesting within bounds. Anything else — and anything
    yaml-rs refuses (a duplicate key, bad syntax) — gives `_UNREAD`, and the careful
    reader (`_compose_yaml`) reads the text and says what is wrong and where.
    """
    try:
        import yaml_rs
    except ImportError:
        return _UNREAD
    if not text.strip() or _unsure_yaml(text):
        return _UNREAD
    limit = sys.get_int_max_str_digits() or 4300
    if re.search(rf"[0-9]{{{min(limit, 1000)},}}", text):
        return _UNREAD
    try:
        data = yaml_rs.loads(text, parse_datetime=False)
    except Exception:  # any refusal is the careful reader's to explain
        return _UNREAD
    return data if _plain_yaml(data) else _UNREAD


def _plain_yaml(data: Any) -> bool:
    """Whether data read by yaml-rs is what the careful reader gives for the same text."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if type(value) is dict:
            if depth >= _MAX_NESTING:
                return False
            for key, item in value.items():
                # Keys longer than libyaml's 1024-character simple keys are its to refuse.
                if type(key) is not str or len(key) > 512:
                    return False
                stack.append((item, depth + 1))
        elif type(value) is list:
            if depth >= _MAX_NESTING:
                return False
            stack.extend((item, depth + 1) for item in value)
        elif type(value) is str:
            if value in _YAML_11_WORDS:
                return False
        elif type(value) is float:
            if value - value != 0.0:  # `.iNf` is infinity to yaml-rs, text to YAML 1.1
                return False
        elif type(value) not in _YAML_PLAIN:
            return False
    return True


def _compose_yaml(text: str, doc: Document) -> None:
    import yaml

    loader = _yaml_loader()(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        _syntax(_("invalid YAML: {problem}").format(problem=problem), line, doc)
        return
    except yaml.YAMLError as exc:
        _syntax(_("invalid YAML: {problem}").format(problem=" ".join(str(exc).split())), None, doc)
        return
    except RecursionError:
        doc.add(_too_deep(), ())
        return
    finally:
        loader.dispose()
    if root is None:  # an empty file
        doc.data = None
        return
    walker = _YamlWalker(doc, loader, budget=2 * len(text) + 1000)
    doc.found_lines[()] = root.start_mark.line + 1
    try:
        doc.data = walker.value(root, ())
    except _Stop:
        doc.data = None


def _too_deep() -> LimitError:
    return LimitError(
        _("the YAML nests deeper than {levels} levels").format(levels=format_number(_MAX_NESTING))
    )


class _Stop(Exception):
    """Stop walking a document that cannot be read further (a problem is noted)."""


class _YamlWalker:
    """Turns a composed YAML node graph into plain data, noting lines and problems."""

    def __init__(self, doc: Document, loader: Any, budget: int) -> None:
        self.doc = doc
        self.loader = loader
        self.budget = budget

    def value(self, node: Any, path: PathKey) -> Any:
        import yaml

        self.budget -= 1
        if self.budget < 0:
            self.doc.add(
                LimitError(
                    _("YAML aliases expand the document beyond twice its size"),
                    hint=_("a model file does not need aliases; write the values out"),
                ),
                (),
            )
            raise _Stop
        if len(path) > _MAX_NESTING:
            self.doc.add(_too_deep(), path)
            raise _Stop
        if node.tag not in _YAML_TAGS:
            self.doc.add(
                ValueTypeError(
                    _("the YAML tag `{tag}` is not allowed in a model file").format(tag=node.tag),
                    hint=_("model files hold plain text, numbers, lists and mappings"),
                ),
                path,
            )
            return None
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                self.doc.found_lines.setdefault((*path, i), item.start_mark.line + 1)
                items.append(self.value(item, (*path, i)))
            return items
        return self.scalar(node, path)

    def mapping(self, node: Any, path: PathKey) -> dict[str, Any]:
        import yaml

        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.doc.add(
                    ValueTypeError(_("a key must be plain text, not a list or mapping")), path
                )
                self.doc.found_lines.setdefault(path, line)
                continue
            # The key as written: a KPI named `no` or `on` stays text, not a bool.
            key = str(key_node.value)
            here = (*path, key)
            if key in out:
                first = self.doc.lines.get(here)
                self.doc.problems.append(
                    DuplicateNameError(
                        _duplicate_key(key, first),
                        hint=_("each key may appear once; remove or rename one of them"),
                    ).located(f"{self.doc.source or '<text>'}:{line} @ {path_text(here)}")
                )
                continue
            self.doc.found_lines[here] = line
            out[key] = self.value(value_node, here)
        return out

    def scalar(self, node: Any, path: PathKey) -> Any:
        import yaml

        tag = node.tag
        if tag in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp"):
            return str(node.value)  # a date stays the text it was written as
        try:
            value = self.loader.construct_object(node)
        except ValueError as exc:
            if "integer string conversion" not in str(exc):
                self.doc.add(ValueTypeError(_cannot_read(node.value, exc)), path)
                return None
            self.doc.add(_long_number(node.value, self.doc)[0], path)
            return None
        except (yaml.YAMLError, OverflowError) as exc:
            self.doc.add(ValueTypeError(_cannot_read(node.value, exc)), path)
            return None
        if isinstance(value, bool) and node.value.lower() not in ("true", "false"):
            self.doc.hints[path] = _(
                'YAML reads `{text}` as {value}; write "{text}" in quotes for text'
            ).format(text=node.value, value=str(value).lower())
        return value


def _duplicate_key(key: str, first: int | None) -> str:
    return _("duplicate key `{key}` (first at line {line})").format(key=key, line=first)


def _cannot_read(text: str, exc: Exception) -> str:
    return _("cannot read `{text}`: {reason}").format(text=text[:40], reason=exc)


# JSON ----------------------------------------------------------------------------------------


class JSONSyntaxError(KPITreeError, ValueError):
    """JSON text that the json module cannot read.

    Attributes:
        detail: what the json module says is wrong.
        line: the line where the text stops being JSON, and `column` its column; both None
            for an integer too long to read (the json module does not say where it is).
    """

    def __init__(
        self,
        reason: str,
        *,
        detail: str,
        line: int | None = None,
        column: int | None = None,
        **kwargs: Any,
    ) -> None:
        self.detail = detail
        self.line = line
        self.column = column
        super().__init__(reason, **kwargs)


class JSONRefusal(KPITreeError):
    """A duplicate key, or a number that is not finite, in text that is otherwise JSON.

    Attributes:
        piece: the key given twice, or the number as written (`NaN`, `-Infinity`, `1e999`).
        duplicate: whether `piece` is a key given twice.
    """

    duplicate = False

    def __init__(self, reason: str, *, piece: str, **kwargs: Any) -> None:
        self.piece = piece
        super().__init__(reason, **kwargs)


class JSONDuplicateKey(JSONRefusal, DuplicateNameError):
    """A key given twice in one JSON object."""

    duplicate = True


class JSONNotFinite(JSONRefusal, ValueTypeError):
    """`NaN`, `Infinity` or a number beyond the float range in JSON."""


def read_json(text: str, *, source: str | None = None) -> Any:
    r"""Parse JSON text strictly: no duplicate keys, no `NaN` or `Infinity`, finite numbers.

    The json module takes all three (the last of two keys wins, `1e999` is infinity);
    data from a file or a request must not. Everything refused is reported, each at its
    line and `$.path`.

    Raises:
        ValidationError: a `JSONSyntaxError`, a `LimitError` for JSON nested too deeply, or
            a `JSONRefusal` for each duplicate key and number that is not finite.

    Examples:
        >>> read_json('{"leads": 1200, "lead_to_ql": 0.8}')
        {'leads': 1200, 'lead_to_ql': 0.8}
        >>> read_json('{"leads": 1200,\n "lead_to_ql": NaN}', source="october.json")
        Traceback (most recent call last):
        ...
        kpitree.errors.ValidationError: 1 problem found:
          - october.json:2 @ $.lead_to_ql: `NaN` is not a finite number
            hint: model files hold finite numbers; leave the value out if unknown
    """
    doc = Document(source=source)
    _read_json(text, doc)
    if doc.problems:
        raise ValidationError(doc.problems)
    return doc.data


class _Strict:
    """The json module's hooks for strict reading: each notes what it would refuse.

    Nothing is raised from a hook, so the json module reads to the end and a syntax error
    anywhere is found first; `_scan_json` then locates what was refused in valid JSON.
    """

    def __init__(self) -> None:
        self.refused = False

    def pairs(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) < len(pairs):
            self.refused = True
        return out

    def constant(self, word: str) -> float:
        self.refused = True
        return math.nan

    def number(self, text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            self.refused = True
        return value


def _read_json(text: str, doc: Document) -> None:
    strict = _Strict()
    file = doc.source or "<text>"
    try:
        data = json.loads(
            text,
            object_pairs_hook=strict.pairs,
            parse_constant=strict.constant,
            parse_float=strict.number,
        )
    except json.JSONDecodeError as exc:
        doc.problems.append(
            JSONSyntaxError(
                _("invalid JSON: {reason} (column {column})").format(
                    reason=exc.msg, column=exc.colno
                ),
                detail=exc.msg,
                line=exc.lineno,
                column=exc.colno,
                where=f"{file}:{exc.lineno}",
            )
        )
        return
    except RecursionError:
        doc.add(LimitError(_("the JSON nests too deeply")), ())
        return
    except ValueError as exc:  # an integer with thousands of digits
        problem, where = _long_number(text, doc)
        # `line` stays None: the json module gave no position (the server words it so).
        doc.problems.append(
            JSONSyntaxError(problem.reason, detail=str(exc), where=where, hint=problem.hint)
        )
        return
    if strict.refused:
        _scan_json(text, doc, report=True)
        return
    doc.data = data
    doc.scan_lines = lambda: _scan_json(text, doc, report=False)


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]|[^\s{}\[\],:"]+', re.DOTALL)


def _line_finder(text: str) -> Callable[[int], int]:
    starts = [i for i, ch in enumerate(text) if ch == "\n"]
    return lambda pos: bisect.bisect_left(starts, pos) + 1


def _scan_json(text: str, doc: Document, *, report: bool) -> None:
    """Find the line of every key and item of valid JSON; with `report`, note what it refused.

    Runs only on text the json module has read to the end, so the piece structure is sound.
    """
    line_of = _line_finder(text)
    # One frame per open container: [path, is_object, next index, keys seen, pending key].
    stack: list[list[Any]] = []
    expect_key = False
    for match in _JSON_TOKEN.finditer(text):
        piece, pos = match.group(), match.start()
        if piece in ",:":
            expect_key = piece == "," and bool(stack) and stack[-1][1]
            continue
        if piece in "}]":
            stack.pop()
            continue
        if stack and stack[-1][1] and expect_key and piece.startswith('"'):
            frame = stack[-1]
            key = json.loads(piece)
            here = (*frame[0], key)
            if key in frame[3] and report:
                doc.problems.append(
                    JSONDuplicateKey(
                        _duplicate_key(key, doc.lines.get(here)),
                        hint=_("each key may appear once; remove or rename one of them"),
                        piece=key,
                    ).located(f"{doc.source or '<text>'}:{line_of(pos)} @ {path_text(here)}")
                )
            else:
                doc.found_lines.setdefault(here, line_of(pos))
            frame[3].add(key)
            frame[4] = key
            expect_key = False
            continue
        # A value: its path is the pending key of an object or the next index of an array.
        if stack:
            frame = stack[-1]
            if frame[1]:
                path = (*frame[0], frame[4])
            else:
                path = (*frame[0], frame[2])
                frame[2] += 1
                doc.found_lines.setdefault(path, line_of(pos))
        else:
            path = ()
            doc.found_lines.setdefault(path, line_of(pos))
        if piece in "{[":
            stack.append([path, piece == "{", 0, set(), None])
            expect_key = piece == "{"
        elif report and not piece.startswith('"') and piece not in ("true", "false", "null"):
            try:
                finite = math.isfinite(float(piece))
            except ValueError:
                finite = False
            if not finite:
                doc.add(
                    JSONNotFinite(
                        _("`{piece}` is not a finite number").format(piece=piece),
                        hint=_("model files hold finite numbers; leave the value out if unknown"),
                        piece=piece,
                    ),
                    path,
                )


# TOML ----------------------------------------------------------------------------------------

_TOML_KEY_PART = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_TOML_DOTTED = rf"{_TOML_KEY_PART}(?:\s*\.\s*{_TOML_KEY_PART})*"
_TOML_HEADER = re.compile(rf"\s*\[\s*({_TOML_DOTTED})\s*\]\s*(?:#.*)?")
_TOML_ASSIGN = re.compile(rf"\s*({_TOML_DOTTED})\s*=")
_TOML_PART = re.compile(_TOML_KEY_PART)
_TOML_LINE = re.compile(r"at line (\d+)")


def _toml_key(dotted: str) -> PathKey:
    parts: list[str | int] = []
    for part in _TOML_PART.findall(dotted):
        if part.startswith('"'):
            try:
                parts.append(json.loads(part))
            except ValueError:
                parts.append(part[1:-1])
        elif part.startswith("'"):
            parts.append(part[1:-1])
        else:
            parts.append(part)
    return tuple(parts)


def _compiled_toml(text: str) -> Any:
    """The document read by rtoml (compiled, about 6× faster), or `_UNREAD`.

    `_UNREAD` when rtoml is not installed or finds anything wrong: `tomllib`, the standard
    library's reader, then reads the text again and says what is wrong and where, with
    the messages kpitree has always given.
    """
    try:
        import rtoml
    except ImportError:
        return _UNREAD
    try:
        return rtoml.loads(text)
    except Exception:  # any refusal is tomllib's to explain
        return _UNREAD


def _read_toml(text: str, doc: Document) -> None:
    import tomllib

    fast = _compiled_toml(text)
    if fast is not _UNREAD:
        doc.data = fast
        doc.scan_lines = lambda: _scan_toml(text, doc)
        return
    try:
        doc.data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_LINE.search(message)
        reason = _TOML_LINE.sub("", message).replace("(, column", "(column").strip()
        line = int(found.group(1)) if found else None
        _syntax(_("invalid TOML: {reason}").format(reason=reason), line, doc)
        return
    except RecursionError:
        doc.add(LimitError(_("the TOML nests too deeply")), ())
        return
    except ValueError:  # an integer with thousands of digits
        problem, where = _long_number(text, doc)
        doc.problems.append(problem.located(where))
        return
    doc.scan_lines = lambda: _scan_toml(text, doc)


def _scan_toml(text: str, doc: Document) -> None:
    """Find table headers and `key =` lines: tomllib keeps no positions.

    A best effort that is exact for the files `dumps` writes; inline tables take their
    key's line.
    """
    table: PathKey = ()
    for number, line in enumerate(text.splitlines(), start=1):
        if header := _TOML_HEADER.fullmatch(line):
            table = _toml_key(header.group(1))
            doc.found_lines.setdefault(table, number)
        elif assign := _TOML_ASSIGN.match(line):
            doc.found_lines.setdefault((*table, *_toml_key(assign.group(1))), number)

"""Model files: a tree as YAML, TOML or JSON, read safely and written back exactly.

One schema for the three formats (docs/model-files.md is the reference)::

    tree: qualified_leads                 # the top metric(s), optional; text or a list
    description: free text                # optional, for the reader of the file
    kpis:
      leads: {owner: marketing, horizon: 1 day, value: 1000, unit: lead}
    inputs:
      market_size: {value: 2000000}
    metrics:
      qualified_leads: leads * lead_to_ql                     # short form: the formula
      share: {formula: qualified_leads / market_size, unit: "%"}   # long form

Reading is careful because model files come from other people. YAML is composed by a safe
loader into a node graph that this module walks itself: only plain scalars, mappings and
sequences are accepted (no `!!python/...` or other tags), every key's line is known,
duplicate keys are errors, and aliases may not expand the document (a "billion laughs"
file is refused). JSON refuses duplicate keys, `NaN` and `Infinity`; TOML is read by the
standard library. Files beyond `Limits.max_file_bytes` are refused before parsing.
Formulas are read by kpitree's own parser (`kpitree.language.parser`), never evaluated.

Every problem of a file is collected and raised at once as one `ValidationError`; each
problem says where it is (`model.yaml:4 @ $.kpis.leads.owner`), what is wrong, and a hint
(a did-you-mean for unknown keys and names, a caret under the bad token of a formula).
"""

from __future__ import annotations

import bisect
import copy
import functools
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from kpitree.errors import (
    KPITreeError,
    LimitError,
    UnknownNameError,
    ValidationError,
    ValueTypeError,
    did_you_mean,
    require,
)
from kpitree.language.expr import check_name, format_expr
from kpitree.language.limits import DEFAULT_LIMITS, Limits
from kpitree.model.distributions import as_distribution
from kpitree.model.graph import Graph
from kpitree.model.nodes import KPI, Input, Leaf, Metric, Node, Standard

__all__ = [
    "FORMATS",
    "LEAF_FIELDS",
    "Document",
    "LeafField",
    "dump",
    "dumps",
    "format_for",
    "from_dict",
    "iter_problems",
    "load",
    "loads",
    "path_text",
    "read_document",
    "read_text",
    "to_dict",
]

FORMATS = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json"}
"""File extensions and the format each is read as."""

_FORMAT_NAMES = ("yaml", "toml", "json")
_MAX_NESTING = 50  # the schema nests 5 levels; anything far deeper is not a model file

PathKey = tuple[str | int, ...]


# -- extension point: leaf fields defined outside the core node fields -----------------------


@attrs.frozen
class LeafField:
    """How a leaf field beyond the built-in ones is read from and written to model files.

    Attributes:
        read: file data (numbers, text, lists, mappings) → the value the KPI/Input
            constructor takes for this keyword. Raise a `KPITreeError` when the data is bad.
        write: the node's attribute value (never None) → plain file data that `read`
            reads back to an equal value.
    """

    read: Callable[[Any], Any]
    write: Callable[[Any], Any]


LEAF_FIELDS: dict[str, LeafField] = {
    "uncertainty": LeafField(read=as_distribution, write=lambda d: d.to_dict()),
}
"""Fields of KPIs and inputs with a file form of their own, by constructor keyword.

A feature that adds a leaf field registers it here; the field is then accepted under
`kpis` and `inputs` and written by `to_dict`.
"""

_KPI_FIELDS = (
    "owner",
    "horizon",
    "value",
    "unit",
    "bounds",
    "norm",
    "influenced_by",
    "standards",
    "aggregate",
    "description",
)
_INPUT_FIELDS = ("value", "unit", "bounds", "aggregate", "description")
_METRIC_FIELDS = ("formula", "unit", "target", "norm", "description")
_TOP_KEYS = ("tree", "description", "kpis", "inputs", "metrics")
_INPUT_HINTS = dict.fromkeys(
    ("owner", "horizon", "norm", "influenced_by", "standards"),
    "an input is nobody's lever; a leaf that someone owns goes under `kpis`",
)
_SECTION_HINTS = {
    "kpis": "a KPI needs an owner and a horizon: `leads: {owner: marketing, horizon: 1 day}`",
    "inputs": "an input is a leaf nobody controls: `market_size: {value: 2000000}`",
    "metrics": "a metric is its formula (`ql: leads * rate`) or a mapping with `formula`",
}


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
        hint = self.hints.get(path)
        if hint:  # the file's own reading explains the problem better than a generic hint
            problem = _rebuilt(problem, hint=hint)
        self.problems.append(problem.located(self.where(path)))


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
        elif key.isidentifier():
            parts.append(f".{key}")
        else:
            parts.append(f"[{json.dumps(key, ensure_ascii=False)}]")
    return "".join(parts)


def _rebuilt(problem: KPITreeError, **changes: Any) -> KPITreeError:
    """Return a copy of `problem` with some of its fields changed, its message re-rendered."""
    new = copy.copy(problem)
    for key, value in changes.items():
        setattr(new, key, value)
    Exception.__init__(new, new._render())
    return new


def _flat(problem: KPITreeError) -> list[KPITreeError]:
    return list(problem.problems) if isinstance(problem, ValidationError) else [problem]


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
            f"cannot tell the format of `{path}` from its extension `{suffix}`",
            hint="model and values files end in .yaml, .yml, .toml or .json",
        )
    return FORMATS[suffix]


def _format_name(format: str) -> str:  # noqa: A002 - the model-file format name
    name = format.lower().lstrip(".") if isinstance(format, str) else format
    name = "yaml" if name == "yml" else name
    if name not in _FORMAT_NAMES:
        raise UnknownNameError(
            f"`{format}` is not a model-file format",
            hint=did_you_mean(str(format), _FORMAT_NAMES) or "use yaml, toml or json",
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
    name = _format_name(format)
    if name == "yaml":
        require("yaml", extra="yaml", feature="reading YAML")
    if not isinstance(text, str):
        raise ValueTypeError(f"model-file text must be str, got {type(text).__name__}")
    size = len(text)
    if size * 4 > limits.max_file_bytes:  # only then can the UTF-8 size exceed the limit
        size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_file_bytes:
        doc.add(_too_big(size, limits), ())
        return doc
    reader = {"yaml": _read_yaml, "json": _read_json, "toml": _read_toml}[name]
    reader(text, doc)
    return doc


def _too_big(size: int, limits: Limits) -> LimitError:
    return LimitError(
        f"the file is {size:,} bytes, over the limit of {limits.max_file_bytes:,}",
        hint="split the model, or raise Limits.max_file_bytes",
    )


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
    import yaml

    loader = _yaml_loader()(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        _syntax(f"invalid YAML: {problem}", line, doc)
        return
    except yaml.YAMLError as exc:
        _syntax(f"invalid YAML: {' '.join(str(exc).split())}", None, doc)
        return
    except RecursionError:
        doc.add(LimitError(f"the YAML nests deeper than {_MAX_NESTING} levels"), ())
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
                    "YAML aliases expand the document beyond twice its size",
                    hint="a model file does not need aliases; write the values out",
                ),
                (),
            )
            raise _Stop
        if len(path) > _MAX_NESTING:
            self.doc.add(LimitError(f"the YAML nests deeper than {_MAX_NESTING} levels"), path)
            raise _Stop
        if node.tag not in _YAML_TAGS:
            self.doc.add(
                ValueTypeError(
                    f"the YAML tag `{node.tag}` is not allowed in a model file",
                    hint="model files hold plain text, numbers, lists and mappings",
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
                    ValueTypeError("a key must be plain text, not a list or mapping"), path
                )
                self.doc.found_lines.setdefault(path, line)
                continue
            # The key as written: a KPI named `no` or `on` stays text, not a bool.
            key = str(key_node.value)
            here = (*path, key)
            if key in out:
                first = self.doc.lines.get(here)
                self.doc.problems.append(
                    ValueTypeError(
                        f"duplicate key `{key}` (first at line {first})",
                        hint="each key may appear once; remove or rename one of them",
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
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            self.doc.add(ValueTypeError(f"cannot read `{node.value[:40]}`: {exc}"), path)
            return None
        if isinstance(value, bool) and node.value.lower() not in ("true", "false"):
            self.doc.hints[path] = (
                f'YAML reads `{node.value}` as {str(value).lower()}; write "{node.value}" in '
                "quotes for text"
            )
        return value


# JSON ----------------------------------------------------------------------------------------


class _JSONRefused(Exception):
    """A duplicate key, NaN/Infinity or an out-of-range number: located by `_scan_json`."""


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _JSONRefused
        out[key] = value
    return out


def _refuse_constant(text: str) -> Any:
    raise _JSONRefused


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _JSONRefused
    return value


def _read_json(text: str, doc: Document) -> None:
    try:
        doc.data = json.loads(
            text,
            object_pairs_hook=_refuse_duplicates,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
        )
    except _JSONRefused:
        _scan_json(text, doc, report=True)
        return
    except json.JSONDecodeError as exc:
        _syntax(f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno, doc)
        return
    except RecursionError:
        doc.add(LimitError("the JSON nests too deeply"), ())
        return
    except ValueError as exc:  # an integer with thousands of digits
        _syntax(f"invalid JSON: {' '.join(str(exc).split())[:120]}", None, doc)
        return
    doc.scan_lines = lambda: _scan_json(text, doc, report=False)


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]|[^\s{}\[\],:"]+', re.DOTALL)


def _line_finder(text: str) -> Callable[[int], int]:
    starts = [i for i, ch in enumerate(text) if ch == "\n"]
    return lambda pos: bisect.bisect_left(starts, pos) + 1


def _scan_json(text: str, doc: Document, *, report: bool) -> None:
    """Find the line of every key and item of valid JSON; with `report`, note what it refused.

    Runs on text the json module has read (or refused only for a duplicate key, a NaN or
    an out-of-range number), so the piece structure is sound.
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
                    ValueTypeError(
                        f"duplicate key `{key}` (first at line {doc.lines.get(here)})",
                        hint="each key may appear once; remove or rename one of them",
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
                    ValueTypeError(
                        f"`{piece}` is not a finite number",
                        hint="model files hold finite numbers; leave the value out if unknown",
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


def _read_toml(text: str, doc: Document) -> None:
    import tomllib

    try:
        doc.data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_LINE.search(message)
        reason = _TOML_LINE.sub("", message).replace("(, column", "(column").strip()
        _syntax(f"invalid TOML: {reason}", int(found.group(1)) if found else None, doc)
        return
    except RecursionError:
        doc.add(LimitError("the TOML nests too deeply"), ())
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


# -- from data to a Tree ---------------------------------------------------------------------


def loads(
    text: str,
    format: str = "yaml",  # noqa: A002 - the model-file format name
    *,
    source: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Graph:
    r"""Read a tree from model-file text in `yaml`, `toml` or `json`.

    Args:
        text: the file's text.
        format: `"yaml"` (also `"yml"`), `"toml"` or `"json"`.
        source: the file name used in messages; `<text>` when None.
        limits: safety limits; `max_file_bytes` applies to the text.

    Raises:
        ValidationError: every problem of the file, each located (`file:line @ $.path`).
        UnknownNameError: an unknown format.

    Examples:
        >>> import kpitree as kt
        >>> tree = kt.loads('''
        ... kpis:
        ...   leads: {owner: marketing, horizon: 1 day, value: 1000}
        ...   rate: {owner: sales, horizon: 1 day, value: 80%}
        ... metrics:
        ...   qualified_leads: leads * rate
        ... ''')
        >>> tree.evaluate()["qualified_leads"]
        800.0
        >>> kt.loads("kpis:\n  leads: {owner: marketing, horizon: 1 dya}\n")
        Traceback (most recent call last):
        ...
        kpitree.errors.ValidationError: 1 problem found:
          - <text>:2 @ $.kpis.leads.horizon: cannot read horizon "1 dya": ...
            hint: did you mean `day`?
    """
    return _build(read_document(text, format, source=source, limits=limits))


def load(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> Graph:
    """Read a tree from a model file; the format follows the extension.

    Raises:
        ValidationError: every problem of the file, each located (`file:line @ $.path`).
        UnknownNameError: the extension is not `.yaml`, `.yml`, `.toml` or `.json`.
        OSError: the file cannot be read.

    Examples:
        >>> import kpitree as kt
        >>> tree = kt.load("examples/qualified_leads.yaml")
        >>> tree.evaluate()["qualified_leads"]
        800.0
    """
    return loads(*read_text(path, limits), source=str(path), limits=limits)


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
            f"the file is not UTF-8 text (byte {exc.start})", hint="save it as UTF-8"
        )
        raise ValidationError([problem.located(str(path))]) from None


def from_dict(data: Mapping[str, Any]) -> Graph:
    """Build a tree from model-file data (`kpis`, `inputs`, `metrics`, optional `tree`).

    Raises:
        ValidationError: every problem, each with its `$.path`.

    Examples:
        >>> import kpitree as kt
        >>> tree = kt.Tree.from_dict({
        ...     "kpis": {"leads": {"owner": "marketing", "horizon": "1 day", "value": 10}},
        ...     "metrics": {"double": "2 * leads"},
        ... })
        >>> tree.evaluate()["double"]
        20.0
    """
    return _build(Document(data=data))


def _build(doc: Document) -> Graph:
    if doc.problems:
        raise ValidationError(doc.problems)
    data = doc.data
    if not isinstance(data, Mapping):
        got = "an empty file" if data is None else f"{_kind(data)}"
        doc.add(
            ValueTypeError(
                f"a model file is a mapping with `kpis`, `inputs` and `metrics`, got {got}",
                hint="start the file with `kpis:` and `metrics:` sections",
            ),
            (),
        )
        raise ValidationError(doc.problems)
    _unknown_keys(doc, data, _TOP_KEYS, (), "top-level key")
    if "description" in data and not isinstance(data["description"], str):
        doc.add(ValueTypeError(f"description must be text, got {data['description']!r}"), ())
    builder = _Builder(doc)
    for section, make in (("kpis", KPI), ("inputs", Input), ("metrics", Metric)):
        specs = data.get(section)
        if specs is None:
            continue
        if not isinstance(specs, Mapping):
            doc.add(
                ValueTypeError(
                    f"`{section}` must be a mapping of names to {section}, got {_kind(specs)}",
                    hint=_SECTION_HINTS[section],
                ),
                (section,),
            )
            continue
        for name, spec in specs.items():
            builder.node(make, section, name, spec)
    roots = _roots(doc, data.get("tree"), builder)
    if not builder.nodes and not doc.problems:
        doc.add(
            ValueTypeError(
                "the model defines no nodes",
                hint="add `kpis`, `inputs` and `metrics` sections",
            ),
            (),
        )
    # Roots first, then metrics before leaves, so that without `tree` the metrics are roots.
    ordered = sorted(builder.nodes.values(), key=lambda n: not isinstance(n, Metric))
    nodes = [builder.nodes[n] for n in roots]
    nodes += [n for n in ordered if n.name not in roots]
    # A node that failed stands in as a bare input, so the rest is still checked as a tree.
    nodes += [Input(name) for name in builder.failed]
    try:
        tree = Graph(*nodes) if nodes else None
    except KPITreeError as exc:
        for problem in _flat(exc):
            builder.locate_tree_problem(problem)
        tree = None
    if doc.problems or tree is None:
        raise ValidationError(sorted(doc.problems, key=_line))
    return tree


def _line(problem: KPITreeError) -> int:
    found = re.search(r":(\d+) @", problem.where or "")
    return int(found.group(1)) if found else 0


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        return f"text {value[:40]!r}"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"


def _unknown_keys(
    doc: Document,
    spec: Mapping[Any, Any],
    allowed: Sequence[str],
    path: PathKey,
    what: str,
    hints: Mapping[str, str] | None = None,
) -> list[str]:
    unknown = [k for k in spec if k not in allowed]
    for key in unknown:
        hint = (
            (hints or {}).get(key)
            or did_you_mean(str(key), allowed)
            or f"the keys are: {', '.join(allowed)}"
        )
        problem = UnknownNameError(f"unknown {what} `{key}`", hint=hint, names=[str(key)])
        doc.add(problem, (*path, key))
    return unknown


def _roots(doc: Document, given: Any, builder: _Builder) -> list[str]:
    if given is None:
        return []
    names = [given] if isinstance(given, str) else given
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        doc.add(
            ValueTypeError(
                f"`tree` names the top metric(s): text or a list of text, got {_kind(given)}"
            ),
            ("tree",),
        )
        return []
    roots = []
    for name in dict.fromkeys(names):
        if name in builder.nodes:
            roots.append(name)
        elif name not in builder.failed:
            doc.add(
                UnknownNameError(
                    f"`tree` names `{name}`, which no node defines",
                    hint=did_you_mean(name, builder.nodes) or "name a metric of the file",
                    names=[name],
                ),
                ("tree",),
            )
    return roots


class _Builder:
    """Builds nodes from their specs, noting each problem at the path of its field."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.nodes: dict[str, Node] = {}
        self.paths: dict[str, PathKey] = {}
        self.failed: set[str] = set()
        self.short: set[str] = set()  # metrics written as just their formula

    def node(self, make: type[Node], section: str, name: Any, spec: Any) -> None:
        doc = self.doc
        path: PathKey = (section, name)
        try:
            check_name(name)
        except KPITreeError as exc:
            doc.add(exc, path)
            return
        if name in self.paths:
            first = self.paths[name]
            doc.add(
                ValueTypeError(
                    f"`{name}` is defined twice: under `{first[0]}` and under `{section}`",
                    hint="every node has one name; rename one of them",
                    names=[name],
                ),
                path,
            )
            return
        self.paths[name] = path
        kwargs, complete = self.fields(make, section, name, spec, path)
        if kwargs is None:
            self.failed.add(name)
            return
        try:
            node = make(name, **kwargs)  # type: ignore[call-arg]
        except KPITreeError as exc:
            self.failed.add(name)
            self.locate_node_problems(make, name, kwargs, exc, path)
            return
        if complete:
            self.nodes[name] = node
        else:
            self.failed.add(name)

    def fields(
        self, make: type[Node], section: str, name: str, spec: Any, path: PathKey
    ) -> tuple[dict[str, Any] | None, bool]:
        """Return a node spec's constructor keywords (None if unusable), and whether all are.

        Keywords with problems (an unknown key, a bad form) are left out, so that the
        constructor still reports the problems of the others.
        """
        doc = self.doc
        if make is Metric:
            if isinstance(spec, str | int | float) and not isinstance(spec, bool):
                self.short.add(name)
                return {"formula": spec}, True
            if not isinstance(spec, Mapping):
                doc.add(
                    ValueTypeError(
                        f"metric `{name}` must be a formula or a mapping with `formula`, "
                        f"got {_kind(spec)}",
                        hint=_SECTION_HINTS[section],
                    ),
                    path,
                )
                return None, False
            bad = _unknown_keys(doc, spec, _METRIC_FIELDS, path, "metric field")
            if "formula" not in spec:
                hint = f"write `{name}: {{formula: ...}}`, or just `{name}: <formula>`"
                doc.add(ValueTypeError(f"metric `{name}` has no `formula`", hint=hint), path)
                return None, False
            return {k: v for k, v in spec.items() if k not in bad}, not bad
        if spec is None:
            spec = {}
        if not isinstance(spec, Mapping):
            kind = "KPI" if make is KPI else "input"
            doc.add(
                ValueTypeError(
                    f"{kind} `{name}` must be a mapping of its fields, got {_kind(spec)}",
                    hint=_SECTION_HINTS[section],
                ),
                path,
            )
            return None, False
        allowed = (*(_KPI_FIELDS if make is KPI else _INPUT_FIELDS), *LEAF_FIELDS)
        what = "KPI field" if make is KPI else "input field"
        bad = _unknown_keys(doc, spec, allowed, path, what, _INPUT_HINTS if make is Input else None)
        kwargs: dict[str, Any] = {}
        for key, value in spec.items():
            if key in bad:
                continue
            try:
                kwargs[key] = _read_field(key, value)
            except KPITreeError as exc:
                for problem in _flat(exc):
                    doc.add(problem, (*path, key))
                bad.append(key)
        return kwargs, not bad

    def locate_node_problems(
        self,
        make: type[Node],
        name: str,
        kwargs: dict[str, Any],
        exc: KPITreeError,
        path: PathKey,
    ) -> None:
        """Note a constructor's problems at the field that caused each.

        The constructor reports all problems of a node without naming the field; building
        the node again with one field at a time (the others left valid) tells which field
        each problem comes from. Problems of no single field (a value outside its bounds,
        a missing owner) are noted at the node.
        """
        base: dict[str, Any] = {"formula": 0} if make is Metric else {}
        if make is KPI:
            base = {"owner": "owner", "horizon": "1 day"}
        origin: dict[str, str] = {}
        for field, value in kwargs.items():
            try:
                make(name, **{**base, field: value})  # type: ignore[call-arg]
            except KPITreeError as probe:
                for problem in _flat(probe):
                    origin.setdefault(problem.reason, field)
        label = f"{'KPI' if make is KPI else make.kind} `{name}`"
        for problem in _flat(exc):
            bare = _rebuilt(problem, where=None) if problem.where == label else problem
            culprit = origin.get(problem.reason)
            if culprit is None or name in self.short:
                self.doc.add(bare, path)
            else:
                self.doc.add(bare, (*path, culprit))

    def locate_tree_problem(self, problem: KPITreeError) -> None:
        """Note a problem of the whole tree (undefined name, cycle, units) at its metric."""
        names = [n for n in problem.names if n in self.paths]
        if not names and problem.where:
            found = re.search(r"`([^`]+)`", problem.where)
            names = [found.group(1)] if found and found.group(1) in self.paths else []
        if not names:
            self.doc.problems.append(problem.located(self.doc.source or "<text>"))
            return
        path = self.paths[names[0]]
        node = self.nodes.get(names[0])
        if isinstance(node, Metric) and (*path, "formula") in self.doc.lines:
            path = (*path, "formula")
        self.doc.add(problem, path)


def _read_field(key: str, value: Any) -> Any:
    """Turn a field's file form into the constructor's argument (forms files add)."""
    if key in LEAF_FIELDS:
        return LEAF_FIELDS[key].read(value)
    if key == "bounds" and isinstance(value, Mapping):
        unknown = [k for k in value if k not in ("low", "high")]
        if unknown:
            raise UnknownNameError(
                f"unknown key `{unknown[0]}` in bounds",
                hint="bounds are [low, high] or {low: ..., high: ...}",
            )
        return (value.get("low"), value.get("high"))
    if key == "standards" and isinstance(value, list):
        return [_standard(item) for item in value]
    return value


def _standard(item: Any) -> Any:
    if not isinstance(item, Mapping):
        return item
    from kpitree.model.norm import parse_norm

    unknown = [k for k in item if k not in ("name", "norm", "text")]
    if unknown or "name" not in item or "norm" not in item:
        raise ValueTypeError(
            f"a standard is text, or a mapping with `name`, `norm` and optional `text`, "
            f"got keys {', '.join(map(str, item))}",
            hint='e.g. standards: {response_minutes: "<= 15"}',
        )
    name = check_name(item["name"], what="a standard's name")
    norm = parse_norm(item["norm"])
    text = item.get("text", f"{name} {norm}")
    if not isinstance(text, str):
        raise ValueTypeError(f"a standard's text must be text, got {text!r}")
    return Standard(text, name, norm)


# -- from a Tree to data and text ------------------------------------------------------------


def to_dict(tree: Graph) -> dict[str, Any]:
    """Return the tree as model-file data: plain dicts, lists, text and numbers (no None).

    `from_dict(to_dict(tree)) == tree`.

    Raises:
        ValueTypeError: a leaf has a field set that model files cannot hold yet.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> data = to_dict(qualified_leads())
        >>> data["tree"], data["kpis"]["leads"]["owner"], data["metrics"]["qualified_leads"]
        ('qualified_leads', 'marketing', {'formula': 'leads * lead_to_ql', 'unit': 'lead'})
    """
    roots = [node.name for node in tree.roots]
    out: dict[str, Any] = {"tree": roots[0] if len(roots) == 1 else roots}
    kpis = {kpi.name: _leaf_data(kpi) for kpi in tree.kpis}
    inputs = {leaf.name: _leaf_data(leaf) for leaf in tree.inputs}
    metrics = {metric.name: _metric_data(metric) for metric in tree.metrics}
    for key, section in (("kpis", kpis), ("inputs", inputs), ("metrics", metrics)):
        if section:
            out[key] = section
    return out


def _number(x: float) -> int | float:
    # Whole numbers read better without ".0"; both read back to the same float.
    return int(x) if x.is_integer() and abs(x) < 2**53 else x


def _leaf_data(leaf: Leaf) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(leaf, KPI):
        out["owner"] = leaf.owner
        out["horizon"] = str(leaf.horizon)
    if leaf.value is not None:
        out["value"] = _number(leaf.value)
    if leaf.unit is not None:
        out["unit"] = str(leaf.unit)
    if leaf.bounds is not None:
        low, high = leaf.bounds
        if low is not None and high is not None:
            out["bounds"] = [_number(low), _number(high)]
        else:  # TOML has no null: an open side is left out of the mapping form
            out["bounds"] = {
                k: _number(v) for k, v in (("low", low), ("high", high)) if v is not None
            }
    if isinstance(leaf, KPI):
        if leaf.norm is not None:
            out["norm"] = str(leaf.norm)
        if leaf.influenced_by:
            out["influenced_by"] = list(leaf.influenced_by)
        if leaf.standards:
            out["standards"] = _standards_data(leaf.standards)
    if leaf.aggregate is not None:
        out["aggregate"] = leaf.aggregate
    if leaf.description:
        out["description"] = leaf.description
    for field, codec in LEAF_FIELDS.items():
        value = getattr(leaf, field, None)
        if value is not None:
            out[field] = codec.write(value)
    return out


def _standards_data(standards: Sequence[Standard]) -> Any:
    if all(s.name is None for s in standards):
        return [s.text for s in standards]
    if all(s.name is not None and s.text == f"{s.name} {s.norm}" for s in standards):
        return {s.name: str(s.norm) for s in standards}
    items: list[Any] = []
    for s in standards:
        if s.name is None:
            items.append(s.text)
        else:
            items.append({"name": s.name, "norm": str(s.norm), "text": s.text})
    return items


def _metric_data(metric: Metric) -> Any:
    formula = metric.text if metric.text is not None else format_expr(metric.formula)
    extra: dict[str, Any] = {}
    if metric.unit is not None:
        extra["unit"] = str(metric.unit)
    if metric.target is not None:
        extra["target"] = _number(metric.target)
    if metric.norm is not None:
        extra["norm"] = str(metric.norm)
    if metric.description:
        extra["description"] = metric.description
    return {"formula": formula, **extra} if extra else formula


def dumps(tree: Graph, format: str = "yaml") -> str:  # noqa: A002 - the model-file format name
    """Return the tree as model-file text in `yaml`, `toml` or `json`.

    `loads(dumps(tree, f), f) == tree` for every tree and format.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> print(dumps(qualified_leads(), "toml").splitlines()[0])
        tree = "qualified_leads"
    """
    data = to_dict(tree)
    name = _format_name(format)
    if name == "json":
        return json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    if name == "toml":
        return _toml(data)
    require("yaml", extra="yaml", feature="writing YAML")
    return _yaml(data)


def dump(tree: Graph, path: str | Path) -> Path:
    """Write the tree to a model file in the format of its extension; return the path.

    Examples:
        >>> import tempfile
        >>> from kpitree.examples import dupont
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     written = dump(dupont(), Path(folder) / "dupont.json")
        ...     load(written) == dupont()
        True
    """
    target = Path(path)
    target.write_text(dumps(tree, format_for(target)), encoding="utf-8")
    return target


@functools.cache
def _yaml_dumper() -> Any:
    import yaml

    class ModelDumper(yaml.SafeDumper):
        """Writes small collections of plain values inline (`bounds: [0, 1]`), others as blocks."""

    def plain(items: Any) -> bool:
        return all(not isinstance(i, Mapping | list) for i in items)

    def represent_list(dumper: Any, items: list[Any]) -> Any:
        return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=plain(items))

    def represent_dict(dumper: Any, data: dict[str, Any]) -> Any:
        inline = len(data) <= 2 and plain(data.values())
        return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=inline)

    ModelDumper.add_representer(list, represent_list)
    ModelDumper.add_representer(dict, represent_dict)
    return ModelDumper


def _yaml(data: dict[str, Any]) -> str:
    import yaml

    text: str = yaml.dump(
        data,
        Dumper=_yaml_dumper(),
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=100,
    )
    return text


_TOML_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _toml_key_text(key: str) -> str:
    return key if _TOML_BARE.fullmatch(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes; keep non-ASCII as it is.
    return json.dumps(text, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):  # never written by to_dict; kept exact if it ever is
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_toml_key_text(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    raise ValueTypeError(f"cannot write {type(value).__name__} to TOML")  # pragma: no cover


def _toml(data: dict[str, Any]) -> str:
    """Write model-file data as TOML: leaves as tables, metrics as one table of formulas."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, Mapping)]
    for section in ("kpis", "inputs"):
        for name, fields in data.get(section, {}).items():
            lines += ["", f"[{section}.{_toml_key_text(name)}]"]
            lines += [f"{_toml_key_text(k)} = {_toml_value(v)}" for k, v in fields.items()]
    if "metrics" in data:
        lines += ["", "[metrics]"]
        lines += [f"{_toml_key_text(k)} = {_toml_value(v)}" for k, v in data["metrics"].items()]
    return "\n".join(lines) + "\n"


def iter_problems(error: KPITreeError) -> Iterator[KPITreeError]:
    """Yield each problem of an error: its `problems` if it is a `ValidationError`, else itself.

    Examples:
        >>> [str(p) for p in iter_problems(ValueTypeError("bad"))]
        ['bad']
    """
    yield from _flat(error)

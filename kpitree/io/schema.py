"""The schema of model files: the fields of each kind of node, and building a tree from them.

`build` reads a `Document` (`kpitree.io.documents`) into nodes and a `Graph`. Every
problem is collected and raised at once as one `ValidationError`; each says where it is
(`model.yaml:4 @ $.kpis.leads.owner`), what is wrong, and a hint (a did-you-mean for
unknown keys and names, a caret under the bad token of a formula). Formulas are read by
kpitree's own parser (`kpitree.language.parser`), never evaluated.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from kpitree import i18n
from kpitree.errors import (
    ArgumentError,
    DuplicateNameError,
    KPITreeError,
    UnknownNameError,
    ValidationError,
    ValueTypeError,
    did_you_mean,
)
from kpitree.i18n import N_, _
from kpitree.io.documents import Document, PathKey, iter_problems, rebuilt
from kpitree.language.expr import check_name
from kpitree.model.distributions import as_distribution
from kpitree.model.graph import Graph
from kpitree.model.nodes import KPI, Input, Metric, Node, Standard, node_location

__all__ = ["LEAF_FIELDS", "LeafField", "build"]

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
    "direction",
    "description",
)
_INPUT_FIELDS = ("value", "unit", "bounds", "aggregate", "direction", "description")
_METRIC_FIELDS = ("formula", "unit", "target", "norm", "direction", "description")
_TOP_KEYS = ("tree", "locale", "description", "kpis", "inputs", "metrics")
_INPUT_HINTS = dict.fromkeys(
    ("owner", "horizon", "norm", "influenced_by", "standards"),
    N_("an input is nobody's lever; a leaf that someone owns goes under `kpis`"),
)
_SECTION_HINTS = {
    "kpis": N_("a KPI needs an owner and a horizon: `leads: {owner: marketing, horizon: 1 day}`"),
    "inputs": N_("an input is a leaf nobody controls: `market_size: {value: 2000000}`"),
    "metrics": N_("a metric is its formula (`ql: leads * rate`) or a mapping with `formula`"),
}


def build(doc: Document) -> Graph:
    """Build a tree from a document of model-file data, or raise every problem at once.

    Raises:
        ValidationError: the document's own problems, or every problem of its data, each
            with its `$.path`.

    Examples:
        >>> tree = build(Document(data={"inputs": {"a": {"value": 2}}, "metrics": {"b": "3 * a"}}))
        >>> [node.name for node in tree.roots]
        ['b']
    """
    if doc.problems:
        raise ValidationError(doc.problems)
    data = doc.data
    if not isinstance(data, Mapping):
        got = _("an empty file") if data is None else f"{_kind(data)}"
        doc.add(
            ValueTypeError(
                _(
                    "a model file is a mapping with `kpis`, `inputs` and `metrics`, got {got}"
                ).format(got=got),
                hint=_("start the file with `kpis:` and `metrics:` sections"),
            ),
            (),
        )
        raise ValidationError(doc.problems)
    _unknown_keys(doc, data, _TOP_KEYS, (), N_("unknown top-level key `{key}`"))
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        reason = _("description must be text, got {value}").format(value=repr(description))
        doc.add(ValueTypeError(reason), ("description",))
        description = None
    locale = data.get("locale")
    if locale is not None:
        try:
            locale = i18n.parse(locale)
        except KPITreeError as exc:
            doc.add(exc, ("locale",))
            locale = None
    builder = _Builder(doc)
    for section, make in (("kpis", KPI), ("inputs", Input), ("metrics", Metric)):
        specs = data.get(section)
        if specs is None:
            continue
        if not isinstance(specs, Mapping):
            doc.add(
                ValueTypeError(
                    _("`{section}` must be a mapping of names to {section}, got {got}").format(
                        section=section, got=_kind(specs)
                    ),
                    hint=_(_SECTION_HINTS[section]),
                ),
                (section,),
            )
            continue
        for name, spec in specs.items():
            builder.node(make, section, name, spec)
    roots = _roots(doc, data.get("tree"), builder)
    if not builder.nodes and not doc.problems:
        doc.add(
            ArgumentError(
                _("the model defines no nodes"),
                hint=_("add `kpis`, `inputs` and `metrics` sections"),
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
        tree = Graph(*nodes, description=description, locale=locale) if nodes else None
    except KPITreeError as exc:
        for problem in iter_problems(exc):
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
        return _("a mapping")
    if isinstance(value, list | tuple):
        return _("a list")
    if isinstance(value, str):
        return _("text {text}").format(text=repr(value[:40]))
    if value is None:
        return _("nothing")
    return f"{type(value).__name__} {value!r}"


def _unknown_keys(
    doc: Document,
    spec: Mapping[Any, Any],
    allowed: Sequence[str],
    path: PathKey,
    message: str,
    hints: Mapping[str, str] | None = None,
) -> list[str]:
    """Note each key of `spec` not in `allowed`; `message` (an `N_` text) says `{key}`."""
    if len(spec) <= len(allowed) and _known_keys(allowed).issuperset(spec):
        return []  # the common case, in one step
    unknown = [k for k in spec if k not in allowed]
    for key in unknown:
        own = (hints or {}).get(key)
        hint = (
            (_(own) if own else None)
            or did_you_mean(str(key), allowed)
            or _("the keys are: {keys}").format(keys=", ".join(allowed))
        )
        problem = UnknownNameError(_(message).format(key=key), hint=hint, names=[str(key)])
        doc.add(problem, (*path, key))
    return unknown


@functools.lru_cache(maxsize=16)
def _known_keys(allowed: Sequence[str]) -> frozenset[str]:
    return frozenset(allowed)


def _roots(doc: Document, given: Any, builder: _Builder) -> list[str]:
    if given is None:
        return []
    names = [given] if isinstance(given, str) else given
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        doc.add(
            ValueTypeError(
                _("`tree` names the top metric(s): text or a list of text, got {got}").format(
                    got=_kind(given)
                )
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
                    _("`tree` names `{name}`, which no node defines").format(name=name),
                    hint=did_you_mean(name, builder.nodes) or _("name a metric of the file"),
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
                DuplicateNameError(
                    _("`{name}` is defined twice: under `{first}` and under `{section}`").format(
                        name=name, first=first[0], section=section
                    ),
                    hint=_("every node has one name; rename one of them"),
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
                        _(
                            "metric `{name}` must be a formula or a mapping with `formula`, "
                            "got {got}"
                        ).format(name=name, got=_kind(spec)),
                        hint=_(_SECTION_HINTS[section]),
                    ),
                    path,
                )
                return None, False
            bad = _unknown_keys(doc, spec, _METRIC_FIELDS, path, N_("unknown metric field `{key}`"))
            if "formula" not in spec:
                hint = _("write `{name}: {{formula: ...}}`, or just `{name}: <formula>`").format(
                    name=name
                )
                reason = _("metric `{name}` has no `formula`").format(name=name)
                doc.add(ArgumentError(reason, hint=hint), path)
                return None, False
            return {k: v for k, v in spec.items() if k not in bad}, not bad
        if spec is None:
            spec = {}
        if not isinstance(spec, Mapping):
            message = (
                _("KPI `{name}` must be a mapping of its fields, got {got}")
                if make is KPI
                else _("input `{name}` must be a mapping of its fields, got {got}")
            )
            doc.add(
                ValueTypeError(
                    message.format(name=name, got=_kind(spec)),
                    hint=_(_SECTION_HINTS[section]),
                ),
                path,
            )
            return None, False
        allowed = (*(_KPI_FIELDS if make is KPI else _INPUT_FIELDS), *LEAF_FIELDS)
        what = N_("unknown KPI field `{key}`") if make is KPI else N_("unknown input field `{key}`")
        bad = _unknown_keys(doc, spec, allowed, path, what, _INPUT_HINTS if make is Input else None)
        # Only a few fields have a file form of their own; the rest go as they are.
        kwargs: dict[str, Any] = (
            {k: v for k, v in spec.items() if k not in bad} if bad else dict(spec)
        )
        for key in [k for k in kwargs if k in _FILE_FORMS or k in LEAF_FIELDS]:
            try:
                kwargs[key] = _read_field(key, kwargs[key])
            except KPITreeError as exc:
                for problem in iter_problems(exc):
                    doc.add(problem, (*path, key))
                del kwargs[key]
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
                for problem in iter_problems(probe):
                    origin.setdefault(problem.reason, field)
        label = node_location("KPI" if make is KPI else make.kind, name)
        for problem in iter_problems(exc):
            bare = rebuilt(problem, where=None) if problem.where == label else problem
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


_FILE_FORMS = ("bounds", "standards")  # fields whose file form `_read_field` turns into another


def _read_field(key: str, value: Any) -> Any:
    """Turn a field's file form into the constructor's argument (forms files add)."""
    if key in LEAF_FIELDS:
        return LEAF_FIELDS[key].read(value)
    if key == "bounds" and isinstance(value, Mapping):
        unknown = [k for k in value if k not in ("low", "high")]
        if unknown:
            raise UnknownNameError(
                _("unknown key `{key}` in bounds").format(key=unknown[0]),
                hint=_("bounds are [low, high] or {low: ..., high: ...}"),
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
            _(
                "a standard is text, or a mapping with `name`, `norm` and optional `text`, "
                "got keys {keys}"
            ).format(keys=", ".join(map(str, item))),
            hint=_('e.g. standards: {response_minutes: "<= 15"}'),
        )
    name = check_name(item["name"], what=_("a standard's name"))
    norm = parse_norm(item["norm"])
    text = item.get("text", f"{name} {norm}")
    if not isinstance(text, str):
        raise ValueTypeError(
            _("a standard's text must be text, got {value}").format(value=repr(text))
        )
    return Standard(text, name, norm)

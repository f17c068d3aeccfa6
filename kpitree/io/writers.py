"""Writing trees back: model-file data, and YAML, TOML or JSON text that reads back equal.

`loads(dumps(tree, f), f) == tree` for every tree and format `f`: values are written
exactly (whole numbers without `.0`), formulas as their text, and TOML, which has no
null, gets an open side of `bounds` as a mapping without it.
"""

from __future__ import annotations

import decimal
import functools
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kpitree.errors import ArgumentError, KPITreeError, ValueTypeError, raise_all, require
from kpitree.i18n import _
from kpitree.io.documents import PathKey, format_for, format_name, path_text
from kpitree.io.schema import LEAF_FIELDS
from kpitree.language.expr import format_expr
from kpitree.model.graph import Graph
from kpitree.model.nodes import KPI, Leaf, Metric, Standard
from kpitree.model.numbers import to_number
from kpitree.model.units import Unit

__all__ = ["dump", "dumps", "to_dict"]


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
    if tree.locale is not None:
        out["locale"] = tree.locale
    if tree.description is not None:
        out["description"] = tree.description
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


def _quantity(x: float, unit: Unit | None) -> int | float | str:
    """A value as the file writes it: a value in `%` as a percentage (``80%``), if exact."""
    if unit is None or not unit.percent:
        return _number(x)
    points = format(decimal.Decimal(repr(x)).scaleb(2).normalize(), "f")
    text = f"{points}%"
    return text if to_number(text, what=_("a percentage")) == x else _number(x)


def _unit_data(unit: Unit) -> str | dict[str, str]:
    """A unit as written: its text, or its plural forms in the order given."""
    return dict(unit.forms) if unit.forms else str(unit)


def _leaf_data(leaf: Leaf) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(leaf, KPI):
        out["owner"] = leaf.owner
        out["horizon"] = str(leaf.horizon)
    if leaf.value is not None:
        out["value"] = _quantity(leaf.value, leaf.unit)
    if leaf.unit is not None:
        out["unit"] = _unit_data(leaf.unit)
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
    if leaf.direction is not None:  # written only when given; else the norm implies it
        out["direction"] = leaf.direction
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
        extra["unit"] = _unit_data(metric.unit)
    if metric.target is not None:
        extra["target"] = _quantity(metric.target, metric.unit)
    if metric.norm is not None:
        extra["norm"] = str(metric.norm)
    if metric.direction is not None:
        extra["direction"] = metric.direction
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
    name = format_name(format)
    problems: list[KPITreeError] = []
    _check_text(data, (), problems)
    raise_all(problems)
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
        >>> from kpitree.io.model import load
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     written = dump(dupont(), Path(folder) / "dupont.json")
        ...     load(written) == dupont()
        True
    """
    target = Path(path)
    target.write_text(dumps(tree, format_for(target)), encoding="utf-8")
    return target


def _check_text(data: Any, path: PathKey, problems: list[KPITreeError]) -> None:
    """Note each text of `data` that a UTF-8 file cannot hold (a lone surrogate), by path.

    Every other character is written so that it reads back as it was.
    """
    if isinstance(data, Mapping):
        for key, value in data.items():
            _check_text(value, (*path, key), problems)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            _check_text(value, (*path, i), problems)
    elif isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError as exc:
            problems.append(
                ArgumentError(
                    _(
                        "{path} holds the character {character}, a lone surrogate, which a "
                        "UTF-8 file cannot hold"
                    ).format(path=path_text(path), character=repr(data[exc.start])),
                    hint=_(
                        "a surrogate comes in a pair; remove it, or decode the text with "
                        "errors='replace' where it came from"
                    ),
                )
            )


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

    def represent_str(dumper: Any, text: str) -> Any:
        # Plain and single-quoted YAML fold line breaks (`\x85`, `\u2028`) and cannot
        # escape; double quotes escape every character that is not printable.
        style = None if text.isprintable() else '"'
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)

    ModelDumper.add_representer(list, represent_list)
    ModelDumper.add_representer(dict, represent_dict)
    ModelDumper.add_representer(str, represent_str)
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
    # JSON escapes the control characters below U+0020; TOML also forbids DEL raw.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


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
    raise ValueTypeError(  # pragma: no cover
        _("cannot write {type} to TOML").format(type=type(value).__name__)
    )


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

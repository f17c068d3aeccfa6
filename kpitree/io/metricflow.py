"""dbt semantic layer (MetricFlow) metrics read into a tree, and a tree written as them.

Parsing and validation are those of dbt-semantic-interfaces, the package dbt and MetricFlow
share; `expr` text of derived metrics goes through kpitree's own formula parser.

Simple metrics (a measure) become leaves, ratio metrics `numerator / denominator`, derived
metrics their `expr`. `meta` (or dbt's `config: {meta: ...}`) carries owner, horizon, unit,
norm, target and description. Features kpitree cannot represent (`filter`, `offset_window`,
cumulative and conversion metrics) are refused, never dropped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kpitree.errors import ArgumentError, KPITreeError, ValidationError, did_you_mean
from kpitree.i18n import _
from kpitree.io.documents import Document
from kpitree.io.schema import _KPI_FIELDS, _METRIC_FIELDS, LEAF_FIELDS, build
from kpitree.language.expr import Add, Call, Const, Div, Expr, Mul, Neg, Ref, Sub, refs, walk
from kpitree.language.parser import parse_formula
from kpitree.model.graph import Graph

__all__ = ["from_metricflow", "to_metricflow"]

# A measure's agg → the leaf `aggregate`; counts are summed when rolled up.
_AGG = {
    "sum": "sum",
    "average": "mean",
    "min": "min",
    "max": "max",
    "count": "sum",
    "count_distinct": None,
    "sum_boolean": "sum",
    "median": None,
    "percentile": None,
}
# `meta` keys that are kpitree fields; other keys of a dbt project's meta are not ours.
_LEAF_META = tuple(f for f in (*_KPI_FIELDS, *LEAF_FIELDS) if f != "aggregate")
_METRIC_META = tuple(f for f in _METRIC_FIELDS if f != "formula")
_PROJECT = "project_configuration:\n  time_spine_table_configurations: []\n"


def _files(source: str | Path) -> list[tuple[str, str]]:
    # Text with a line break or a `key:` is YAML; anything else names a file or a folder.
    if isinstance(source, str) and ("\n" in source or ":" in source.partition(" ")[0]):
        return [("<text>", source)]
    path = Path(source)
    if path.is_dir():
        found = [(str(p), p.read_text(encoding="utf-8")) for p in sorted(path.rglob("*.yml"))]
        if found:
            return found
        raise ArgumentError(
            _("the folder `{path}` has no .yml files").format(path=path),
            hint=_("give a dbt project folder, a .yml file or YAML text"),
        )
    if not path.is_file():
        raise ArgumentError(
            _("there is no file `{path}`").format(path=path),
            hint=_("give a dbt project folder, a .yml file or YAML text"),
        )
    return [(str(path), path.read_text(encoding="utf-8"))]


# dbt project files list objects under plural keys; dbt-semantic-interfaces reads one object
# per YAML document under a singular key.
_PLURAL = {"semantic_models": "semantic_model", "metrics": "metric", "saved_queries": "saved_query"}


def _documents(name: str, text: str) -> str:
    import yaml

    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        raise ArgumentError(
            _("cannot read `{file}` as YAML: {problem}").format(
                file=name, problem=str(error).splitlines()[0]
            ),
            where=name,
            hint=_("fix the YAML syntax near the line shown"),
        ) from None
    out = []
    for doc in docs:
        if not isinstance(doc, dict):
            out.append(doc)
            continue
        for key, value in doc.items():
            single = _PLURAL.get(key)
            if single is None:
                if key in ("version", "models", "sources", "seeds", "exposures"):
                    continue  # other dbt resources: not part of the semantic layer
                out.append({key: value})
            else:
                out.extend({single: _as_dsi(single, item)} for item in value or ())
    return yaml.safe_dump_all(out, sort_keys=False, allow_unicode=True)


def _as_dsi(kind: str, item: Any) -> Any:
    # dbt accepts shorthands that dbt-semantic-interfaces' schema does not: a metric's `meta`
    # at the top (dbt moves it under `config`) and metric references as bare names.
    if kind != "metric" or not isinstance(item, dict):
        return item
    item = dict(item)
    if "meta" in item:
        config = dict(item.get("config") or {})
        config["meta"] = {**(config.get("meta") or {}), **(item.pop("meta") or {})}
        item["config"] = config
    params = item.get("type_params")
    if isinstance(params, dict):
        params = dict(params)
        for key in ("numerator", "denominator"):
            if isinstance(params.get(key), str):
                params[key] = {"name": params[key]}
        if isinstance(params.get("metrics"), list):
            params["metrics"] = [
                {"name": m} if isinstance(m, str) else m for m in params["metrics"]
            ]
        item["type_params"] = params
    return item


def _manifest(files: list[tuple[str, str]]) -> Any:
    from dbt_semantic_interfaces.parsing.dir_to_model import parse_yaml_files_to_semantic_manifest
    from dbt_semantic_interfaces.parsing.objects import YamlConfigFile

    configs = [YamlConfigFile(filepath=n, contents=_documents(n, t), url=None) for n, t in files]
    configs.append(YamlConfigFile(filepath="<project>", contents=_PROJECT, url=None))
    result = parse_yaml_files_to_semantic_manifest(configs)
    if result.issues.has_blocking_issues:
        where = ", ".join(n for n, _t in files)
        problems = [
            ArgumentError(
                _("not a valid dbt semantic layer file: {issue}").format(
                    issue=_issue_text(issue.message)
                ),
                where=_issue_file(issue) or where,
                hint=_("write `semantic_models:` and `metrics:` as dbt documents them"),
            )
            for issue in result.issues.all_issues
        ]
        raise ValidationError(problems, where=where)
    return result.semantic_manifest


def _issue_text(message: str) -> str:
    # The schema's messages run to a page (the whole schema); the reason is in the first
    # lines: "YAML document did not conform to metric spec." and "Error: ...".
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return " ".join(lines[:2])


def _issue_file(issue: Any) -> str | None:
    context = getattr(issue, "context", None)
    file_context = getattr(context, "file_context", context)
    return getattr(file_context, "file_name", None)


def _meta(metric: Any) -> dict[str, Any]:
    config = getattr(metric, "config", None)
    meta: dict[str, Any] = _plain(dict(getattr(config, "meta", None) or {}))
    return meta


def _plain(data: Any) -> Any:
    # dbt-semantic-interfaces' YAML loader leaves its own line bookkeeping in nested meta.
    if isinstance(data, dict):
        return {k: _plain(v) for k, v in data.items() if k != "__parsing_context__"}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    return data


def _refuse(metric: str, field: str, where: str) -> KPITreeError:
    return ArgumentError(
        _("metric `{metric}` uses `{field}`, which a kpitree tree cannot represent").format(
            metric=metric, field=field
        ),
        where=where,
        hint=_("remove `{field}` or compute it in dbt before reading the tree").format(field=field),
        names=[metric],
    )


def _formula(metric: Any, names: list[str], where: str) -> str:
    kind = str(metric.type.value).lower()
    params = metric.type_params
    if kind == "ratio":
        for part in (params.numerator, params.denominator):
            if part.filter is not None:
                raise _refuse(metric.name, "filter", where)
        return f"{params.numerator.name} / {params.denominator.name}"
    if kind != "derived":
        raise _refuse(metric.name, f"type: {kind}", where)
    alias = {}
    for input_metric in params.metrics or ():
        if input_metric.offset_window is not None or input_metric.offset_to_grain is not None:
            raise _refuse(metric.name, "offset_window", where)
        if input_metric.filter is not None:
            raise _refuse(metric.name, "filter", where)
        alias[input_metric.alias or input_metric.name] = input_metric.name
    text = str(params.expr)
    expr = parse_formula(text, where=f"{where} @ {metric.name}.expr")
    for ref in sorted(refs(expr), key=lambda r: -(r.span or (0, 0))[0]):
        target = alias.get(ref.name)
        if target is None:
            hint = did_you_mean(ref.name, list(alias) + names) or _(
                "list it under `metrics:` of `{metric}`"
            ).format(metric=metric.name)
            raise ArgumentError(
                _(
                    "derived metric `{metric}` refers to `{name}`, which is not one of its metrics"
                ).format(metric=metric.name, name=ref.name),
                where=where,
                hint=hint,
                names=[metric.name, ref.name],
            )
        start, end = ref.span or (0, 0)
        text = text[:start] + target + text[end:]
    return text


def from_metricflow(source: str | Path) -> Graph:
    """Read MetricFlow metrics (a `.yml` file, a dbt project folder or YAML text) into a tree.

    Raises:
        ValidationError: the YAML is not a valid dbt semantic layer document.
        ArgumentError: a metric uses something a tree cannot represent, or a derived metric
            refers to an unknown metric.
    """
    files = _files(source)
    where = ", ".join(n for n, _t in files)
    manifest = _manifest(files)
    measures = {m.name: m for model in manifest.semantic_models for m in model.measures}
    names = [m.name for m in manifest.metrics]
    kpis: dict[str, Any] = {}
    inputs: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    for metric in manifest.metrics:
        if metric.filter is not None:
            raise _refuse(metric.name, "filter", where)
        kind = str(metric.type.value).lower()
        fields = _LEAF_META if kind == "simple" else _METRIC_META
        meta = {k: v for k, v in _meta(metric).items() if k in fields and v is not None}
        if metric.description and "description" not in meta:
            meta["description"] = metric.description
        if kind == "simple":
            measure = (
                measures.get(metric.type_params.measure.name)
                if metric.type_params.measure
                else None
            )
            leaf = dict(meta)
            agg = str(measure.agg.value).lower() if measure is not None else "sum"
            if _AGG.get(agg) is None:
                raise _refuse(metric.name, f"agg: {agg}", where)
            if _AGG[agg] != "sum":
                leaf["aggregate"] = _AGG[agg]
            (kpis if "owner" in leaf and "horizon" in leaf else inputs)[metric.name] = leaf
        else:
            formula = _formula(metric, names, where)
            metrics[metric.name] = {"formula": formula, **meta} if meta else formula
    # The roots (metrics nothing else uses) in the order of the file, which `to_metricflow`
    # writes roots first in: a tree's root order survives the round trip.
    used = {
        ref.name
        for spec in metrics.values()
        for ref in refs(parse_formula(spec["formula"] if isinstance(spec, dict) else spec))
    }
    roots = [m.name for m in manifest.metrics if m.name not in used]
    data: dict[str, Any] = {"tree": roots} if roots else {}
    for key, section in (("kpis", kpis), ("inputs", inputs), ("metrics", metrics)):
        if section:
            data[key] = section
    return build(Document(data=data, source=where))


# A dbt `expr` is SQL: `**` and kpitree's functions have no portable spelling there.
_SUPPORTED = (Add, Mul, Sub, Div, Neg, Const, Ref)


def to_metricflow(tree: Graph, *, model: str = "kpitree") -> str:
    """Write the tree as dbt semantic layer YAML: a semantic model; simple, ratio, derived metrics.

    Raises:
        ArgumentError: a formula uses a function dbt `expr` cannot express.
    """
    import yaml

    from kpitree.io.writers import to_dict

    data = to_dict(tree)
    leaves = {**data.get("inputs", {}), **data.get("kpis", {})}
    measures = []
    out_metrics = []
    for name, leaf in leaves.items():
        agg = {"mean": "average", "min": "min", "max": "max"}.get(
            leaf.get("aggregate", "sum"), "sum"
        )
        measures.append({"name": f"{name}_measure", "agg": agg, "expr": name})
        meta = {k: v for k, v in leaf.items() if k != "aggregate"}
        entry: dict[str, Any] = {
            "name": name,
            "label": name,
            "type": "simple",
            "type_params": {"measure": f"{name}_measure"},
        }
        if meta:
            entry["meta"] = meta
        out_metrics.append(entry)
    for metric in tree.metrics:
        expr: Expr = metric.formula
        for node in walk(expr):
            if isinstance(node, Call) or not isinstance(node, _SUPPORTED):
                raise ArgumentError(
                    _("metric `{metric}` uses `{func}`, which a dbt `expr` cannot express").format(
                        metric=metric.name, func=getattr(node, "func", "**")
                    ),
                    hint=_("rewrite the formula with + - * / or leave the metric out"),
                    names=[metric.name],
                )
        entry = {"name": metric.name, "label": metric.name}
        if isinstance(expr, Div) and isinstance(expr.left, Ref) and isinstance(expr.right, Ref):
            entry.update(
                type="ratio",
                type_params={"numerator": expr.left.name, "denominator": expr.right.name},
            )
        else:
            entry.update(
                type="derived",
                type_params={
                    "expr": str(expr),
                    "metrics": [{"name": r} for r in dict.fromkeys(x.name for x in refs(expr))],
                },
            )
        spec = data["metrics"][metric.name]
        if isinstance(spec, dict):
            meta = {k: v for k, v in spec.items() if k != "formula"}
            if meta:
                entry["meta"] = meta
        out_metrics.append(entry)
    doc = {
        "semantic_models": [
            {
                "name": model,
                "node_relation": {"alias": model, "schema_name": "main"},
                "entities": [{"name": "id", "type": "primary"}],
                "dimensions": [
                    {"name": "ds", "type": "time", "type_params": {"time_granularity": "day"}}
                ],
                "defaults": {"agg_time_dimension": "ds"},
                "measures": measures,
            }
        ],
        "metrics": out_metrics,
    }
    roots = [node.name for node in tree.roots]
    out_metrics.sort(key=lambda m: roots.index(m["name"]) if m["name"] in roots else len(roots))
    text: str = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    _check_written(tree, text)
    return text


_NOT_MATCHING = re.compile(r"'([^']+)' does not match")


def _check_written(tree: Graph, text: str) -> None:
    """Refuse a tree dbt would refuse: what we write is validated by dbt-semantic-interfaces.

    dbt's names are stricter than kpitree's (lowercase ASCII letters, digits and single
    underscores, from a letter to a letter or digit): a `Leads`, an `x` or a Cyrillic name
    is named in the error, not written for dbt to reject later.
    """
    try:
        _manifest([("to_metricflow", text)])
    except ValidationError as exc:
        found = [m.group(1) for p in exc.problems for m in _NOT_MATCHING.finditer(str(p))]
        names = list(dict.fromkeys(n.removesuffix("_measure") for n in found if n in text))
        names = [n for n in names if n in tree] or names
        raise ArgumentError(
            _("dbt does not take the names {names} for metrics").format(
                names=", ".join(f"`{n}`" for n in names) or "?"
            )
            if names
            else _("dbt does not take this tree as semantic layer metrics: {reason}").format(
                reason=exc.problems[0]
            ),
            hint=_(
                "dbt names are lowercase letters, digits and single underscores, from a "
                "letter to a letter or digit (at least two characters): rename the nodes"
            ),
            names=names,
        ) from None

"""dbt semantic layer (MetricFlow) metrics read into trees and trees written as them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

import kpitree as kt
from kpitree.errors import ArgumentError, ValidationError
from kpitree.testing import trees

PROJECT = Path(__file__).parent / "data" / "dbt_project"

HEAD = """
semantic_models:
  - name: leads
    node_relation: {alias: leads, schema_name: main}
    defaults: {agg_time_dimension: day}
    entities: [{name: lead_id, type: primary}]
    dimensions: [{name: day, type: time, type_params: {time_granularity: day}}]
    measures:
      - {name: lead_count, agg: count, expr: lead_id}
      - {name: won, agg: sum, expr: is_won}
metrics:
  - {name: leads, label: Leads, type: simple, type_params: {measure: lead_count}}
  - {name: wins, label: Wins, type: simple, type_params: {measure: won}}
"""


def _validate(text: str) -> None:
    # The written YAML must pass dbt-semantic-interfaces' own validation.
    from dbt_semantic_interfaces.parsing.dir_to_model import (
        parse_yaml_files_to_validation_ready_semantic_manifest,
    )
    from dbt_semantic_interfaces.parsing.objects import YamlConfigFile
    from dbt_semantic_interfaces.validations.semantic_manifest_validator import (
        SemanticManifestValidator,
    )

    from kpitree.io.metricflow import _PROJECT, _documents

    files = [
        YamlConfigFile(filepath="out.yml", contents=_documents("out.yml", text), url=None),
        YamlConfigFile(filepath="<project>", contents=_PROJECT, url=None),
    ]
    manifest = parse_yaml_files_to_validation_ready_semantic_manifest(files).semantic_manifest
    results = SemanticManifestValidator().validate_semantic_manifest(manifest)
    assert not results.has_blocking_issues, results.errors


def test_project_folder_read_in_one_call() -> None:
    tree = kt.from_metricflow(PROJECT)
    assert tree["leads"].owner == "marketing"
    assert tree["qualified"].owner == "sales"  # from dbt's `config: {meta: ...}`
    assert str(tree["lead_to_ql"].formula) == "qualified / leads"
    assert str(tree["doubled"].formula) == "2 * qualified"  # the alias `q` resolved
    values = tree.evaluate({"leads": 1000, "qualified": 800})
    assert values["lead_to_ql"] == 0.8


def test_written_yaml_is_valid_and_reads_back() -> None:
    tree = kt.from_metricflow(PROJECT)
    text = tree.to_metricflow()
    _validate(text)
    assert kt.from_metricflow(text) == tree


@settings(max_examples=10, deadline=None)
@given(trees(operators=("+", "-", "*", "/")))
def test_round_trip(tree: kt.Tree) -> None:
    text = tree.to_metricflow()
    _validate(text)
    assert kt.from_metricflow(text) == tree


def test_function_refused_on_write() -> None:
    tree = kt.Tree(kt.Metric("m", kt.log(kt.Input("x", value=2))))
    with pytest.raises(
        ArgumentError, match=r"metric `m` uses `log`, which a dbt `expr` cannot express"
    ):
        tree.to_metricflow()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "  - {name: dd, label: D, type: derived, type_params: {expr: 2 * wns, metrics: [wins]}}\n",
            r"(?s)derived metric `dd` refers to `wns`, which is not one of its metrics.*did you mean `wins`\?",
        ),
        (
            "  - {name: dd, label: D, type: simple, type_params: {measure: won}, filter: \"{{ Dimension('lead_id__day') }} > 1\"}\n",
            r"metric `dd` uses `filter`, which a kpitree tree cannot represent",
        ),
        (
            "  - {name: dd, label: D, type: derived, type_params: {expr: w, metrics: [{name: wins, alias: w, offset_window: 1 week}]}}\n",
            r"metric `dd` uses `offset_window`, which a kpitree tree cannot represent",
        ),
        (
            "  - {name: dd, label: D, type: cumulative, type_params: {measure: won}}\n",
            r"metric `dd` uses `type: cumulative`, which a kpitree tree cannot represent",
        ),
    ],
)
def test_refused_inputs(extra: str, message: str) -> None:
    with pytest.raises(ArgumentError, match=message):
        kt.from_metricflow(HEAD + extra)


def test_invalid_yaml() -> None:
    with pytest.raises(ArgumentError, match=r"cannot read `<text>` as YAML"):
        kt.from_metricflow("metrics: [\n")


def test_schema_problem_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m.yml"
    path.write_text("metrics:\n  - {name: x, type: simple}\n")
    with pytest.raises(ValidationError, match=r"not a valid dbt semantic layer file"):
        kt.from_metricflow(path)


def test_messages_in_russian() -> None:
    with kt.locale("ru"), pytest.raises(ArgumentError) as info:
        kt.from_metricflow(
            HEAD + "  - {name: dd, label: D, type: cumulative, type_params: {measure: won}}\n"
        )
    assert "метрика `dd`" in str(info.value)

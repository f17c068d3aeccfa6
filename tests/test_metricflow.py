"""dbt semantic layer (MetricFlow) metrics read into trees and trees written as them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

import kpitree as kt
from kpitree.errors import ArgumentError, ValidationError
from kpitree.i18n import locale
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
    """A dbt project folder reads in one call: owners from meta and config.meta, ratio, alias."""
    tree = kt.from_metricflow(PROJECT)
    assert tree["leads"].owner == "marketing"
    assert tree["qualified"].owner == "sales"  # from dbt's `config: {meta: ...}`
    assert str(tree["lead_to_ql"].formula) == "qualified / leads"
    assert str(tree["doubled"].formula) == "2 * qualified"  # the alias `q` resolved
    values = tree.evaluate({"leads": 1000, "qualified": 800})
    assert values["lead_to_ql"] == 0.8


def test_written_yaml_is_valid_and_reads_back() -> None:
    """What `to_metricflow` writes passes dbt-semantic-interfaces and reads back equal."""
    tree = kt.from_metricflow(PROJECT)
    text = tree.to_metricflow()
    _validate(text)
    assert kt.from_metricflow(text) == tree


@settings(max_examples=10, deadline=None)
@given(trees(operators=("+", "-", "*", "/")))
def test_round_trip(tree: kt.Tree) -> None:
    """Random trees of + - * / survive tree → MetricFlow → tree."""
    text = tree.to_metricflow()
    _validate(text)
    assert kt.from_metricflow(text) == tree


def test_function_refused_on_write() -> None:
    """A function a dbt `expr` lacks is refused, naming the metric."""
    tree = kt.Tree(kt.Metric("m", kt.log(kt.Input("x", value=2))))
    with pytest.raises(
        ArgumentError, match=r"metric `m` uses `log`, which a dbt `expr` cannot express"
    ):
        tree.to_metricflow()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "  - {name: dd, label: D, type: derived,"
            " type_params: {expr: 2 * wns, metrics: [wins]}}\n",
            r"(?s)derived metric `dd` refers to `wns`, which is not one of its metrics"
            r".*did you mean `wins`\?",
        ),
        (
            "  - {name: dd, label: D, type: simple, type_params: {measure: won},"
            " filter: \"{{ Dimension('lead_id__day') }} > 1\"}\n",
            r"metric `dd` uses `filter`, which a kpitree tree cannot represent",
        ),
        (
            "  - {name: dd, label: D, type: derived, type_params: {expr: w,"
            " metrics: [{name: wins, alias: w, offset_window: 1 week}]}}\n",
            r"metric `dd` uses `offset_window`, which a kpitree tree cannot represent",
        ),
        (
            "  - {name: dd, label: D, type: cumulative, type_params: {measure: won}}\n",
            r"metric `dd` uses `type: cumulative`, which a kpitree tree cannot represent",
        ),
    ],
)
def test_refused_inputs(extra: str, message: str) -> None:
    """What a tree cannot represent is refused, naming the metric and the field."""
    with pytest.raises(ArgumentError, match=message):
        kt.from_metricflow(HEAD + extra)


def test_invalid_yaml() -> None:
    """Invalid YAML is an error naming the source."""
    with pytest.raises(ArgumentError, match=r"cannot read `<text>` as YAML"):
        kt.from_metricflow("metrics: [\n")


def test_schema_problem_names_the_file(tmp_path: Path) -> None:
    """A file dbt-semantic-interfaces refuses is named in the error."""
    path = tmp_path / "m.yml"
    path.write_text("metrics:\n  - {name: x, type: simple}\n")
    with pytest.raises(ValidationError, match=r"not a valid dbt semantic layer file"):
        kt.from_metricflow(path)


def test_messages_in_russian() -> None:
    """The refusals speak Russian under `ru`."""
    with kt.locale("ru"), pytest.raises(ArgumentError) as info:
        kt.from_metricflow(
            HEAD + "  - {name: dd, label: D, type: cumulative, type_params: {measure: won}}\n"
        )
    assert "метрика `dd`" in str(info.value)


def test_power_refused_on_write() -> None:
    """`**` has no portable SQL spelling in a dbt `expr`: refused, naming the metric."""
    tree = kt.Tree(kt.Metric("m", kt.Input("x", value=2) ** 2))
    with pytest.raises(ArgumentError, match=r"metric `m` uses `\*\*`"):
        tree.to_metricflow()


def test_missing_file_is_named(tmp_path: Path) -> None:
    """A path that names no file is an error naming it, not YAML text."""
    with pytest.raises(ArgumentError, match=r"there is no file `.*nowhere\.yml`"):
        kt.from_metricflow(str(tmp_path / "nowhere.yml"))


def test_cli_import_and_export_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`kpitree import` writes a model file; `export --to metricflow` writes it back equal."""
    from kpitree.apps.cli import main

    model = tmp_path / "model.toml"
    assert main(["import", str(PROJECT), "-o", str(model)]) == 0
    assert kt.load(model) == kt.from_metricflow(PROJECT)
    assert main(["export", str(model), "--to", "metricflow"]) == 0
    assert kt.from_metricflow(capsys.readouterr().out) == kt.load(model)


def test_cli_import_names_a_missing_source(capsys: pytest.CaptureFixture[str]) -> None:
    """A source that is not there exits 2 with the error naming it."""
    from kpitree.apps.cli import main

    assert main(["import", "nowhere/metrics.yml"]) == 2
    assert "there is no file `nowhere/metrics.yml`" in capsys.readouterr().err


def test_names_dbt_would_refuse_are_named_on_write() -> None:
    """dbt's names are lowercase ASCII, two characters at least: `Leads` and `x` are refused."""
    leads = kt.KPI("Leads", owner="marketing", horizon="1 day", value=1000)
    rate = kt.KPI("x", owner="sales", horizon="1 day", value=0.8)
    tree = kt.Tree(kt.Metric("qualified_leads", leads * rate))
    with pytest.raises(kt.ArgumentError, match="dbt does not take the names `Leads`, `x`") as info:
        tree.to_metricflow()
    assert list(info.value.names) == ["Leads", "x"]
    with locale("ru"), pytest.raises(kt.ArgumentError, match="dbt не принимает"):
        tree.to_metricflow()

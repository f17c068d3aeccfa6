"""A metric's `target`: the default goal of solve, cascade, status and the explorer."""

import json
from pathlib import Path
from typing import Any

import pytest

import kpitree as kt
from kpitree.apps.cli import main
from kpitree.apps.server import Explorer
from kpitree.display.html import status_html, status_markdown
from kpitree.examples import dupont, qualified_leads, sales_revenue

QL = str(Path(__file__).resolve().parent.parent / "examples" / "qualified_leads.yaml")


def with_target(tree: kt.Tree, metric: str, target: Any, **fields: Any) -> kt.Tree:
    """Return `tree` with `target` (and other fields, e.g. `direction`) set on `metric`."""
    data = tree.to_dict()
    entry = data["metrics"][metric]
    if not isinstance(entry, dict):
        entry = {"formula": entry}
    data["metrics"][metric] = {**entry, "target": target, **fields}
    return kt.Tree.from_dict(data)


def spend_tree(**metric: Any) -> kt.Tree:
    """A cost: spend = leads × cost per lead, where less is better."""
    leads = kt.KPI("leads", owner="marketing", horizon="1 week", value=1000)
    cpl = kt.KPI("cost_per_lead", owner="media", horizon="1 week", value=60, unit="RUB")
    return kt.Tree(kt.Metric("spend", leads * cpl, unit="RUB", **metric))


# -- solve and cascade -----------------------------------------------------------------------


def test_solve_takes_the_metrics_target_when_none_is_given() -> None:
    """`roe` has `target=0.2`: without a target, solve reaches it, as if it were given."""
    tree = dupont()
    assert tree.solve("roe", vary="net_income") == pytest.approx(1.6e6)
    assert tree.solve("roe", vary="net_income") == tree.solve("roe", 0.2, "net_income")


def test_solve_given_a_target_ignores_the_metrics_own() -> None:
    """An explicit target wins over the metric's `target:`; positional calls still work."""
    tree = with_target(qualified_leads(), "qualified_leads", 900)
    assert tree.solve("qualified_leads", vary="leads") == pytest.approx(1125.0)
    assert tree.solve("qualified_leads", 880, "leads") == pytest.approx(1100.0)
    assert tree.solve("qualified_leads", target="+10%", vary="leads") == pytest.approx(1100.0)


def test_cascade_takes_the_metrics_target_when_none_is_given() -> None:
    """cascade without a target splits the metric's own target: 968 QL from 800."""
    tree = with_target(qualified_leads(), "qualified_leads", 968)
    c = tree.cascade("qualified_leads")
    assert c.target == pytest.approx(968.0)
    assert (c["leads"], c["lead_to_ql"], c.effort) == pytest.approx((1100.0, 0.88, 0.1))
    assert dict(c) == pytest.approx(dict(tree.cascade("qualified_leads", 968)))


def test_no_target_anywhere_is_a_clear_error() -> None:
    """Without a target given or set, solve and cascade name the metric and both ways."""
    tree = sales_revenue()
    for call in (
        lambda: tree.solve("revenue", vary="managers"),
        lambda: tree.cascade("revenue"),
    ):
        with pytest.raises(kt.ArgumentError) as caught:
            call()
        assert caught.value.reason == "`revenue` has no target, and none was given"
        assert "`target=`" in caught.value.hint and "`target:`" in caught.value.hint
        assert list(caught.value.names) == ["revenue"]


def test_solve_without_vary_names_the_leaves() -> None:
    """solve needs `vary` even though it is a keyword with a default."""
    with pytest.raises(kt.ArgumentError, match="solve needs the leaf to vary") as caught:
        dupont().solve("roe")
    assert "`net_income`" in caught.value.hint


# -- status ----------------------------------------------------------------------------------


def test_status_reports_a_metric_below_target_with_its_owner_chain() -> None:
    """ROE at 15% against a 20% target: below target, 5 pp short, with every KPI's owner."""
    status = dupont().status()
    row = status["roe"]
    assert (row.target, row.direction, row.target_ok) == (0.2, "higher", False)
    assert row.target_gap == pytest.approx(0.05)
    assert row.owners == ("operations", "sales", "finance")
    assert row.norm is None and row.ok is None  # a target is not a norm
    assert not status.ok
    assert [r.name for r in status.below_target] == ["roe"]
    assert [r.name for r in status.failing] == ["roe"]


def test_a_target_reached_by_solve_counts_as_reached() -> None:
    """The value solve finds reaches the target in status (to goal seek's tolerance)."""
    tree = dupont()
    needed = tree.solve("roe", vary="net_income")
    status = tree.status({"net_income": needed})
    assert status["roe"].target_ok is True and status["roe"].target_gap == 0.0
    assert status.ok and not status.below_target
    assert status.verdict() == "all norms met, targets reached"


def test_target_above_is_reached_in_the_higher_direction() -> None:
    """A higher-is-better metric above its target reaches it."""
    tree = with_target(sales_revenue(), "revenue", 2_000_000)
    row = tree.status()["revenue"]
    assert (row.direction, row.target_ok, row.target_gap) == ("higher", True, 0.0)
    assert row.owners == ("head_of_sales", "sales", "marketing")


def test_lower_is_better_target_from_the_nodes_direction() -> None:
    """`direction="lower"`: spend above its target is short of it, by a negative gap."""
    tree = spend_tree(target=50_000, direction="lower")
    over = tree.status()["spend"]
    assert (over.direction, over.target_ok) == ("lower", False)
    assert over.target_gap == pytest.approx(-10_000)
    under = tree.status({"cost_per_lead": 45})["spend"]
    assert (under.target_ok, under.target_gap) == (True, 0.0)


def test_lower_is_better_target_from_the_norm() -> None:
    """A metric with an at-most norm and no direction reaches its target from below."""
    tree = with_target(dupont(), "equity_multiplier", 2)
    row = tree.status()["equity_multiplier"]
    assert (row.ok, row.direction, row.target_ok) == (True, "lower", False)  # 2.5: norm met
    assert row.target_gap == pytest.approx(-0.5)
    assert tree.status({"assets": 1.6e7})["equity_multiplier"].target_ok is True


def test_unknown_value_is_not_a_missed_target() -> None:
    """A metric whose leaves have no value is unknown against its target, not failing."""
    tree = kt.Tree(
        kt.Metric(
            "spend",
            kt.KPI("leads", owner="marketing", horizon="1 week") * 60,
            target=50_000,
        )
    )
    row = tree.status()["spend"]
    assert (row.value, row.target_ok, row.target_gap) == (None, None, None)
    assert tree.status().ok


def test_status_text_keeps_target_and_norm_apart() -> None:
    """The text shows the target as a row of its own and counts it as below target."""
    text = dupont().status({"net_income": 5e5}).to_text(locale="en", width=100)
    lines = text.splitlines()
    target_line = next(line for line in lines if "target ≥ 20%" in line)
    assert target_line.startswith("✗") and "operations, sales, finance" in target_line
    assert "+" in target_line  # what it takes to reach it
    assert lines[-1] == "1 below norm, 1 below target"


def test_status_text_in_russian() -> None:
    """The Russian text says «ниже цели» and «цель ≥ 20 %», never «ниже нормы» for a target."""
    text = dupont().status().to_text(locale="ru", width=100)
    assert "цель ≥ 20\N{NO-BREAK SPACE}%" in text
    assert text.splitlines()[-1] == "1 ниже цели"
    assert "ниже нормы" not in text
    reached = dupont().status({"net_income": 1.6e6}).to_text(locale="ru")
    assert reached.splitlines()[-1] == "все нормы выполнены, цели достигнуты"


def test_status_golden(golden: Any) -> None:
    """The status of a tree with a missed target reads as reviewed, in both locales."""
    status = dupont().status({"net_income": 5e5})
    for locale in ("en", "ru"):
        golden(f"status.target.{locale}.100", status.to_text(locale=locale, width=100))


def test_status_row_lookup_names_norms_and_targets() -> None:
    """Looking up a row that is not there says rows are nodes with a norm or a target."""
    with pytest.raises(kt.UnknownNameError, match="no node with a norm or a target `roee`"):
        dupont().status()["roee"]


def test_status_html_and_markdown_show_the_target() -> None:
    """HTML badges the target apart from the norm; Markdown has a target row."""
    page = status_html(dupont().status())
    assert "target ≥ 20% ✗" in page and "1 below target" in page and "below norm" not in page
    assert "operations" in page and "finance" in page
    md = status_markdown(dupont().status())
    assert "| ✗ | roe | 15% | target ≥ 20% | operations, sales, finance |" in md


def test_status_to_dict_has_the_target_fields() -> None:
    """to_dict() is JSON-ready and says which rows are below target, and whose KPIs."""
    data = json.loads(json.dumps(dupont().status().to_dict()))
    assert data["ok"] is False and data["below_target"] == ["roe"]
    roe = next(r for r in data["rows"] if r["name"] == "roe")
    assert (roe["target"], roe["direction"], roe["target_ok"]) == (0.2, "higher", False)
    assert roe["target_gap"] == pytest.approx(0.05)
    assert roe["owners"] == ["operations", "sales", "finance"]
    margin = next(r for r in data["rows"] if r["name"] == "net_margin")
    assert (margin["target"], margin["target_ok"], margin["owners"]) == (None, None, [])


def test_model_file_target_round_trips_into_status(tmp_path: Any) -> None:
    """`target:` and `direction:` written in a model file drive status and solve."""
    path = tmp_path / "spend.yaml"
    spend_tree(target=50_000, direction="lower").dump(path)
    tree = kt.load(path)
    assert tree["spend"].target == 50_000
    assert tree.status()["spend"].target_ok is False
    assert tree.solve("spend", vary="cost_per_lead") == pytest.approx(50.0)


# -- command line and explorer ---------------------------------------------------------------


@pytest.fixture
def dupont_file(tmp_path: Any) -> str:
    """The DuPont tree (ROE target 20%) as a model file."""
    path = tmp_path / "dupont.yaml"
    dupont().dump(path)
    return str(path)


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_fail_on_breach_exits_1_below_target(
    capsys: pytest.CaptureFixture[str], dupont_file: str, json_flag: list[str]
) -> None:
    """`status --fail-on-breach` exits 1 when a metric is below target, 0 once reached."""
    assert main(["status", dupont_file, "--fail-on-breach", *json_flag]) == 1
    out = capsys.readouterr().out
    assert ("1 below target" in out) if not json_flag else json.loads(out)["below_target"]
    assert main(["status", dupont_file, *json_flag]) == 0  # a report only
    capsys.readouterr()
    reached = ["net_income=1600000", "--fail-on-breach", *json_flag]
    assert main(["status", dupont_file, *reached]) == 0


def test_cli_solve_without_target_uses_the_models(
    capsys: pytest.CaptureFixture[str], dupont_file: str
) -> None:
    """`kpitree solve FILE METRIC --vary LEAF` solves for the metric's `target:`."""
    assert main(["solve", dupont_file, "roe", "--vary", "net_income"]) == 0
    assert capsys.readouterr().out.strip() == "net_income = 1,600,000 RUB makes roe = 20%"
    assert main(["solve", dupont_file, "roe", "--vary", "net_income", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {"metric": "roe", "target": 0.2, "vary": "net_income", "value": 1600000.0}


def test_cli_cascade_without_target_uses_the_models(
    capsys: pytest.CaptureFixture[str], dupont_file: str
) -> None:
    """`kpitree cascade FILE METRIC` splits the metric's `target:` over its KPIs."""
    assert main(["cascade", dupont_file, "roe", "--within", "1 month", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["target"] == pytest.approx(0.2) and data["after"] == pytest.approx(0.2)
    assert data["values"]["net_income"] == pytest.approx(1.6e6)


def test_cli_without_any_target_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A metric with no `target:` and no TARGET: exit 2, saying how to give one."""
    assert main(["solve", QL, "qualified_leads", "--vary", "leads"]) == 2
    err = capsys.readouterr().err
    assert "`qualified_leads` has no target, and none was given" in err
    assert "TARGET on the command line" in err


def test_explorer_solve_without_target_uses_the_metrics() -> None:
    """`POST /api/solve` without a target (or with an empty box) reaches the metric's own."""
    app = Explorer(dupont())
    for body in ({}, {"target": ""}, {"target": None}):
        answer = app.solve({"metric": "roe", "vary": "net_income", **body})
        assert answer["feasible"] and answer["target"] == 0.2
        assert answer["value"] == pytest.approx(1.6e6)

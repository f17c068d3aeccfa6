"""Status against norms: which KPIs are below their norm, and whose they are."""

import json

import pytest

import kpitree as kt
from kpitree.examples import dupont, qualified_leads, saas_mrr


def test_status_reports_failing_kpi_and_owner() -> None:
    """A conversion below its 80% norm fails, with the gap and the owner."""
    status = qualified_leads().status({"lead_to_ql": 0.75})
    row = status["lead_to_ql"]
    assert row.ok is False
    assert row.owner == "sales"
    assert row.gap == pytest.approx(0.05)
    assert not status.ok
    assert status.by_owner == {"sales": ("lead_to_ql",)}


def test_measurable_standards_are_checked() -> None:
    """Measured standards are checked under their KPI; unmeasured ones are unknown."""
    status = qualified_leads().status({"response_minutes": 22, "lead_to_ql.missed_chats": 0})
    checks = {s.name: s for s in status["lead_to_ql"].standards}
    assert checks["response_minutes"].ok is False
    assert checks["missed_chats"].ok is True
    assert checks["missed_calls"].ok is None
    assert [r.name for r in status.failing] == ["lead_to_ql"]
    assert not status.ok


def test_metrics_with_norms_and_lower_is_better() -> None:
    """Metric norms are checked too; an at-most norm fails above its threshold."""
    status = dupont().status({"assets": 3e7})
    assert status["equity_multiplier"].ok is False
    assert status["equity_multiplier"].gap == pytest.approx(-0.75)
    assert saas_mrr().status({"churn_rate": "5%"})["churn_rate"].ok is False


def test_unknown_values_are_not_failures() -> None:
    """A leaf without a value gives ok=None, not a failure, and status still renders."""
    rate = kt.KPI("rate", owner="sales", horizon="1 day", unit="%", norm=">= 0.8")
    leads = kt.KPI("leads", owner="m", horizon="1 day", value=10)
    status = kt.Tree(kt.Metric("ql", leads * rate)).status()
    assert status["rate"].ok is None
    assert status.ok
    assert "?" in str(status)


def test_unknown_measurement_name_has_hint() -> None:
    """A value that is neither a leaf nor a standard is refused with a did-you-mean."""
    with pytest.raises(kt.UnknownNameError, match="did you mean `response_minutes`"):
        qualified_leads().status({"response_minute": 3})


def test_status_text_and_dict() -> None:
    """str shows marks and the verdict; to_dict is JSON-ready."""
    status = qualified_leads().status({"lead_to_ql": 0.7})
    text = str(status)
    assert "✗" in text and "1 below norm" in text and "≥ 80%" in text
    data = json.loads(json.dumps(status.to_dict()))
    assert data["ok"] is False
    assert data["rows"][0]["norm"] == ">= 80%"  # the norm as the model writes it
    assert status.to_frame()["name"].tolist()[0] == "lead_to_ql"


def test_norm_text_verdict_and_mark_are_shared() -> None:
    """A norm reads in the node's unit, a NaN value is unknown, and each verdict has its mark."""
    from kpitree.model.results import format_norm, norm_mark, norm_ok

    tree = qualified_leads()
    rate = tree["lead_to_ql"]
    assert format_norm(kt.AtLeast(0.8), tree.unit("lead_to_ql")) == "≥ 80%"
    assert format_norm(kt.AtMost(15), kt.Unit.parse("min")) == "≤ 15 min"
    assert [norm_ok(rate, v) for v in (0.8, 0.75, float("nan"))] == [True, False, None]
    assert norm_ok(tree["leads"], 1.0) is None
    assert [norm_mark(ok) for ok in (True, False, None)] == ["✓", "✗", "?"]

"""Scorecards: owned KPIs scored against plan or norm, influenced ones apart, payout curves."""

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kpitree as kt
from kpitree.analyses.scorecard import Scorecard, Scorecards, achievement
from kpitree.apps.cli import main
from kpitree.examples import qualified_leads, saas_mrr, sales_revenue

ROOT = Path(__file__).resolve().parent.parent
QL = str(ROOT / "examples" / "qualified_leads.yaml")
VALUES = ROOT / "examples" / "values"


def seed_cards(**facts: object) -> Scorecards:
    """The seed tree's cards: leads planned at 1000, conversion against its 80% norm."""
    fact = {"leads": 1050, "lead_to_ql": 0.72, **facts}
    return qualified_leads().scorecard(fact=fact, plan={"leads": 1000})


# -- hand-computed cards ----------------------------------------------------------------------


def test_seed_cards_by_hand() -> None:
    """Marketing: 1050/1000 = 105%, paying 112.5%; sales: 72%/80% = 90%, paying 75%."""
    cards = seed_cards()
    assert [c.owner for c in cards] == ["marketing", "sales"]
    marketing, sales = cards["marketing"], cards["sales"]
    assert isinstance(marketing, Scorecard)
    assert [r.name for r in marketing] == ["leads"]
    leads = marketing["leads"]
    assert (leads.fact, leads.plan, leads.plan_from) == (1050, 1000, "plan")
    assert leads.achievement == pytest.approx(1.05)
    assert leads.weight == 1.0
    assert leads.payout == pytest.approx(1.125)  # 1 + 0.05 / 0.2 × (1.5 − 1)
    assert marketing.achievement == pytest.approx(1.05)
    assert marketing.payout == pytest.approx(1.125)
    rate = sales["lead_to_ql"]
    assert (rate.plan, rate.plan_from, rate.direction) == (0.8, "norm", "higher")
    assert rate.achievement == pytest.approx(0.9)
    assert sales.payout == pytest.approx(0.75)  # 0.5 + 0.1 / 0.2 × (1 − 0.5)
    assert cards.payouts == {
        "marketing": pytest.approx(1.125),
        "sales": pytest.approx(0.75),
    }


def test_influenced_kpi_is_listed_apart_and_never_scored() -> None:
    """Marketing influences lead_to_ql: it is on their card apart, and moves nothing there."""
    low, high = seed_cards(lead_to_ql=0.5), seed_cards(lead_to_ql=0.95)
    for cards in (low, high):
        card = cards["marketing"]
        assert [r.name for r in card] == ["leads"]
        assert [(r.name, r.owner, r.scored) for r in card.influenced] == [
            ("lead_to_ql", "sales", False)
        ]
        assert card.influenced[0].weight is None and card.influenced[0].payout is None
        assert card.payout == pytest.approx(1.125)
    assert low["marketing"].influenced[0].achievement == pytest.approx(0.625)
    assert low["sales"].payout == 0.0 and high["sales"].payout > 1


def test_weights_are_normalised_per_owner() -> None:
    """Weights 3:1 are 75% and 25%; the card is the weighted mean of achievement and payout."""
    tree = sales_revenue()
    fact = {"calls_per_day": 44, "call_to_purchase": 0.04}
    plan = {"call_to_purchase": 0.05}
    weighted = tree.scorecard(
        "sales", fact=fact, plan=plan, weights={"calls_per_day": 3, "call_to_purchase": 1}
    )["sales"]
    assert [r.weight for r in weighted] == [0.75, 0.25]
    assert [r.achievement for r in weighted] == [pytest.approx(1.1), pytest.approx(0.8)]
    assert [r.payout for r in weighted] == [pytest.approx(1.25), pytest.approx(0.5)]
    assert weighted.achievement == pytest.approx(0.75 * 1.1 + 0.25 * 0.8)
    assert weighted.payout == pytest.approx(0.75 * 1.25 + 0.25 * 0.5)
    equal = tree.scorecard("sales", fact=fact, plan=plan)["sales"]
    assert [r.weight for r in equal] == [0.5, 0.5]
    assert equal.achievement == pytest.approx(0.95)
    assert equal.payout == pytest.approx(0.875)


def test_a_plan_wins_over_the_norm() -> None:
    """A KPI with a norm and a plan is measured against the plan."""
    row = qualified_leads().scorecard("sales", fact={"lead_to_ql": 0.81}, plan={"lead_to_ql": 0.9})
    assert (row["sales"]["lead_to_ql"].plan, row["sales"]["lead_to_ql"].plan_from) == (0.9, "plan")
    assert row["sales"].achievement == pytest.approx(0.9)


def test_fact_falls_back_to_defaults_and_accepts_measurements() -> None:
    """KPIs missing from `fact` keep their value; measured standards are accepted, not scored."""
    cards = qualified_leads().scorecard(
        fact={"lead_to_ql": 0.8, "response_minutes": 22}, plan={"leads": 800}
    )
    assert cards["marketing"]["leads"].fact == 1000
    assert cards["marketing"].achievement == pytest.approx(1.25)
    assert [r.name for r in cards["sales"]] == ["lead_to_ql"]


def test_owner_who_only_influences_has_nothing_scored() -> None:
    """An owner who owns nothing gets a card of influenced KPIs, with no score."""
    leads = kt.KPI("leads", owner="marketing", horizon="1 day", value=10, norm=">= 5")
    rate = kt.KPI(
        "rate", owner="sales", horizon="1 day", value=0.5, norm=">= 0.4", influenced_by=["finance"]
    )
    tree = kt.Tree(kt.Metric("ql", leads * rate))
    assert [c.owner for c in tree.scorecard(fact={})] == ["marketing", "sales"]
    card = tree.scorecard("finance", fact={})["finance"]
    assert (len(card), card.achievement, card.payout) == (0, None, None)
    assert [r.name for r in card.influenced] == ["rate"]
    assert str(card).splitlines()[0] == "finance: no KPI of their own to score"


# -- direction ---------------------------------------------------------------------------------


def test_lower_is_better_from_the_norm() -> None:
    """churn_rate <= 3%: at 2.4% achievement is 3/2.4 = 125%, the payout capped at 150%."""
    card = saas_mrr().scorecard(
        "customer_success", fact={"churn_rate": 0.024}, plan={"expansion_rate": 0.02}
    )["customer_success"]
    churn = card["churn_rate"]
    assert churn.direction == "lower"
    assert (churn.plan, churn.plan_from) == (0.03, "norm")
    assert churn.achievement == pytest.approx(1.25)
    assert churn.payout == 1.5
    assert "churn_rate ↓" in str(card)
    assert "lower is better" in str(card)


@pytest.mark.parametrize(
    ("fact", "achieved", "paid"),
    [
        (15, 1.0, 1.0),
        (20, 0.75, 0.0),
        (12, 1.25, 1.5),
        (13.5, 15 / 13.5, 1.0 + (15 / 13.5 - 1) * 2.5),
    ],
)
def test_response_time_kpi_lower_is_better(fact: float, achieved: float, paid: float) -> None:
    """A response-time KPI (<= 15 minutes): slower than the norm earns less, faster more."""
    minutes = kt.KPI("response_minutes", owner="sales", horizon="1 day", value=15, norm="<= 15")
    calls = kt.KPI("calls", owner="sales", horizon="1 day", value=100, norm=">= 100")
    tree = kt.Tree(kt.Metric("score", calls / minutes))
    card = tree.scorecard(
        fact={"response_minutes": fact}, weights={"response_minutes": 1, "calls": 1}
    )["sales"]
    assert card["response_minutes"].achievement == pytest.approx(achieved)
    assert card["response_minutes"].payout == pytest.approx(paid)
    assert card.payout == pytest.approx((paid + 1.0) / 2)


def test_cost_kpi_with_a_direction_and_a_plan() -> None:
    """A cost KPI marked `direction="lower"`: 90 spent against a plan of 100 is 111%."""
    cost = kt.KPI("cost_per_lead", owner="marketing", horizon="1 week", value=90, direction="lower")
    leads = kt.KPI("leads", owner="marketing", horizon="1 day", value=1000)
    tree = kt.Tree(kt.Metric("spend", cost * leads))
    card = tree.scorecard(fact={}, plan={"cost_per_lead": 100, "leads": 1000})["marketing"]
    assert card["cost_per_lead"].achievement == pytest.approx(100 / 90)
    assert card["cost_per_lead"].payout == pytest.approx(1 + (100 / 90 - 1) / 0.2 * 0.5)
    assert card.achievement == pytest.approx((100 / 90 + 1) / 2)


def test_range_norm_needs_a_direction_and_then_uses_its_end() -> None:
    """A range norm says neither way: refused without a direction, else its near end is the plan."""

    def tree(direction: str | None) -> kt.Tree:
        rate = kt.KPI(
            "rate", owner="ops", horizon="1 day", value=0.8, norm="0.7..0.9", direction=direction
        )
        return kt.Tree(kt.Metric("m", rate * 2))

    with pytest.raises(kt.ArgumentError, match="is a range") as caught:
        tree(None).scorecard(fact={})
    assert 'direction="higher"' in str(caught.value)
    assert tree("higher").scorecard(fact={})["ops"]["rate"].plan == 0.7
    assert tree("lower").scorecard(fact={})["ops"]["rate"].plan == 0.9
    assert tree("lower").scorecard(fact={})["ops"].achievement == pytest.approx(0.9 / 0.8)


@pytest.mark.parametrize(
    ("fact", "plan", "direction", "expected"),
    [
        (1100, 1000, "higher", 1.1),
        (-50, 100, "higher", -0.5),
        (0, 100, "higher", 0.0),
        (12, 15, "lower", 1.25),
        (30, 15, "lower", 0.5),
    ],
)
def test_achievement_formula(fact: float, plan: float, direction: str, expected: float) -> None:
    """fact ÷ plan when higher is better, plan ÷ fact when lower is better."""
    assert achievement(fact, plan, direction) == pytest.approx(expected)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fact", "plan", "direction", "words"),
    [
        (10, 0, "higher", "the plan of `x` is 0"),
        (10, -5, "higher", "the plan of `x` is −5"),
        (10, 0, "lower", "the plan of `x` is 0"),
        (0, 15, "lower", "the fact of `x` is 0: lower is better"),
        (-1, 15, "lower", "the fact of `x` is −1"),
    ],
)
def test_achievement_refuses_zero_and_negative(
    fact: float, plan: float, direction: str, words: str
) -> None:
    """A plan of zero or below, or a lower-is-better fact of zero or below, is an error."""
    with pytest.raises(kt.ArgumentError, match=words):
        achievement(fact, plan, direction, name="x")  # type: ignore[arg-type]


def test_a_norm_of_zero_is_no_plan_to_divide_by() -> None:
    """A KPI whose norm threshold is 0 names the norm as the source of the zero plan."""
    missed = kt.KPI("missed_calls", owner="sales", horizon="1 day", value=2, norm="<= 0")
    tree = kt.Tree(kt.Metric("m", missed + 1))
    with pytest.raises(kt.ArgumentError, match="the norm of `missed_calls`: the plan of"):
        tree.scorecard(fact={})


# -- the payout curve ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("achieved", "paid"),
    [
        (-1.0, 0.0),
        (0.0, 0.0),
        (0.7999, 0.0),
        (0.8, 0.5),
        (0.85, 0.625),
        (0.9, 0.75),
        (1.0, 1.0),
        (1.05, 1.125),
        (1.1, 1.25),
        (1.2, 1.5),
        (1.5, 1.5),
        (1e9, 1.5),
    ],
)
def test_default_payout_curve_points_and_between(achieved: float, paid: float) -> None:
    """0 below 80%, 50% at 80%, linear to 100% at 100%, to 150% at 120%, flat above."""
    assert kt.Payout()(achieved) == pytest.approx(paid)


def test_custom_payout_curve() -> None:
    """A curve given as text percentages: 90% pays 30%, 100% pays 100%, 130% and up pays 200%."""
    curve = kt.Payout(threshold="90%", target="100%", cap="130%", at_threshold="30%", at_cap=2)
    assert curve.points == ((0.9, 0.3), (1.0, 1.0), (1.3, 2.0))
    assert [curve(a) for a in (0.89, 0.9, 0.95, 1.0, 1.15, 2)] == pytest.approx(
        [0.0, 0.3, 0.65, 1.0, 1.5, 2.0]
    )
    card = qualified_leads().scorecard("sales", fact={"lead_to_ql": 0.76}, payout=curve)
    assert card["sales"].payout == pytest.approx(0.65)
    assert card.curve is curve
    assert "30% at 90%" in str(card)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"threshold": 1.0}, "`threshold` 100% is not below `target` 100%"),
        ({"threshold": 1.1}, "`threshold` 110% is not below `target` 100%"),
        ({"cap": 0.9}, "`target` 100% is not below `cap` 90%"),
        ({"at_threshold": -0.1}, "the payout at the threshold is −10%, below 0"),
        ({"at_threshold": 1.2}, "the payout at the threshold is 120%, above the 100%"),
        ({"at_cap": 0.9}, "the payout at the cap is 90%, below the 100%"),
        ({"cap": "a lot"}, "payout cap"),
        ({"target": float("nan")}, "payout target"),
        ({"at_cap": True}, "payout at the cap"),
    ],
)
def test_payout_curve_that_does_not_rise_is_refused(fields: dict, words: str) -> None:
    """Points that do not rise, payouts that fall, or non-numbers: a clear error each."""
    with pytest.raises(kt.KPITreeError, match=words):
        kt.Payout(**fields)


def test_payout_curve_problems_are_collected() -> None:
    """Every problem of a curve is reported at once."""
    with pytest.raises(kt.ValidationError) as caught:
        kt.Payout(threshold=1.5, at_cap=0.5)
    text = str(caught.value)
    assert "`threshold` 150% is not below `target`" in text
    assert "the payout at the cap is 50%" in text


curves = st.tuples(
    st.floats(0, 2, allow_nan=False),
    st.floats(1e-6, 2, allow_nan=False),
    st.floats(1e-6, 2, allow_nan=False),
    st.floats(0, 1, allow_nan=False),
    st.floats(0, 5, allow_nan=False),
).map(lambda t: kt.Payout(t[0], t[0] + t[1], t[0] + t[1] + t[2], t[3], 1 + t[4]))
achievements = st.floats(-10, 10, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(curves, achievements, achievements)
def test_payout_is_monotone_and_bounded(curve: kt.Payout, a: float, b: float) -> None:
    """For every valid curve: a ≤ b pays no more at a than at b, and 0 ≤ payout ≤ at_cap."""
    low, high = sorted((a, b))
    assert curve(low) <= curve(high)
    for x in (low, high, curve.threshold, curve.target, curve.cap):
        assert 0.0 <= curve(x) <= curve.at_cap


@settings(max_examples=200, deadline=None)
@given(curves, st.floats(0, 1))
def test_payout_is_monotone_at_the_joints(curve: kt.Payout, t: float) -> None:
    """Just below and above each joint (threshold, target, cap) the curve never dips."""
    for joint in (curve.threshold, curve.target, curve.cap):
        below, above = math.nextafter(joint, -math.inf), math.nextafter(joint, math.inf)
        assert curve(below) <= curve(joint) <= curve(above)
    x = curve.threshold + t * (curve.cap - curve.threshold)
    assert curve.at_threshold <= curve(x) <= curve.at_cap


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"owner": "marketin"}, kt.UnknownNameError, "did you mean `marketing`"),
        ({"owner": 3}, kt.ValueTypeError, "an owner must be text"),
        ({"plan": {"lead": 900}}, kt.UnknownNameError, "the plan names `lead`"),
        ({"plan": {"leads": "many"}}, kt.KPITreeError, "plan of `leads`"),
        ({"plan": {"leads": 0}}, kt.ArgumentError, "the plan of `leads` is 0"),
        ({"plan": {"leads": -100}}, kt.ArgumentError, "the plan of `leads` is −100"),
        ({"weights": {"leads": 0}}, kt.ArgumentError, "weights must be positive"),
        ({"weights": {"leads": -1}}, kt.ArgumentError, "the weight of `leads` is −1"),
        ({"weights": {"lead": 1}}, kt.UnknownNameError, "did you mean `leads`"),
        ({"weights": {"qualified_leads": 1}}, kt.KindError, "a metric; cards score KPIs"),
        ({"weights": [1]}, kt.ValueTypeError, "weights must be a mapping"),
        ({"payout": 1.2}, kt.ValueTypeError, "payout must be a kt.Payout curve"),
        ({"fact": {"qualified_leads": 800}}, kt.KindError, "the `fact` values"),
        ({"fact": {"lead": 800}}, kt.UnknownNameError, "did you mean `leads`"),
        ({"fact": [800]}, kt.ValueTypeError, "`fact` must be a mapping of values"),
    ],
)
def test_bad_input_is_named(kwargs: dict, error: type, words: str) -> None:
    """Every bad argument is an error of its kind that names what was wrong."""
    arguments = {"fact": {"lead_to_ql": 0.76}, "plan": {"leads": 1000}, **kwargs}
    with pytest.raises(error, match=words):
        qualified_leads().scorecard(**arguments)


def test_missing_plan_and_norm_is_an_error() -> None:
    """A scored KPI with neither a plan nor a norm is refused, naming it and its owner."""
    with pytest.raises(kt.MissingValueError, match="`leads` of `marketing` has neither a plan"):
        qualified_leads().scorecard(fact={})
    # Sales alone needs no plan for marketing's leads.
    assert qualified_leads().scorecard("sales", fact={})["sales"].achievement == 1.0


def test_missing_fact_is_an_error() -> None:
    """A scored KPI without a value anywhere is refused."""
    rate = kt.KPI("rate", owner="sales", horizon="1 day", norm=">= 0.8")
    with pytest.raises(kt.MissingValueError, match="`rate` of `sales` has no fact"):
        kt.Tree(kt.Metric("m", rate * 2)).scorecard(fact={})


def test_weights_for_part_of_a_card_are_refused() -> None:
    """Weights must cover every KPI of a card, or none."""
    with pytest.raises(kt.ArgumentError, match="not for `call_to_purchase`"):
        sales_revenue().scorecard(
            "sales", fact={}, plan={"call_to_purchase": 0.05}, weights={"calls_per_day": 2}
        )


def test_unknown_card_lookup_has_a_hint() -> None:
    """`cards[name]` with no such card suggests the nearest owner."""
    with pytest.raises(kt.UnknownNameError, match="did you mean `sales`"):
        seed_cards()["sale"]


# -- frames -------------------------------------------------------------------------------------


def test_one_row_frames_for_fact_and_plan() -> None:
    """A one-row pandas frame (with a period column) reads like a mapping."""
    fact = pd.DataFrame({"period": ["2026-10"], "leads": [1050], "lead_to_ql": [0.72]})
    plan = pd.DataFrame({"period": ["2026-10"], "leads": [1000]})
    cards = qualified_leads().scorecard(fact=fact, plan=plan)
    assert cards.to_dict() == seed_cards().to_dict()
    with pytest.raises(kt.ValueTypeError, match="one row of values, got a frame of 2 rows"):
        qualified_leads().scorecard(fact=pd.concat([fact, fact]))


def test_one_row_polars_frame() -> None:
    """A one-row polars frame reads the same."""
    pl = pytest.importorskip("polars")
    fact = pl.DataFrame({"leads": [1050], "lead_to_ql": [0.72]})
    assert qualified_leads().scorecard(fact=fact, plan={"leads": 1000}).to_dict() == (
        seed_cards().to_dict()
    )


# -- output -------------------------------------------------------------------------------------


def test_text_reads_at_a_glance() -> None:
    """Each card opens with its score; rows show fact, plan (or norm), achieved, weight, payout."""
    text = seed_cards().to_text(width=80)
    lines = text.splitlines()
    assert lines[0] == "marketing: achievement 105%, payout 112.5%"
    assert "leads" in lines[2] and "1,050 lead" in lines[2] and "112.5%" in lines[2]
    assert "lead_to_ql (influenced)" in text
    assert "80% (norm)" in text
    assert "(influenced): owned elsewhere (lead_to_ql: sales); shown, not scored" in text
    assert "sales: achievement 90%, payout 75%" in text
    assert lines[-2].startswith("payout curve: 0 below 80% achieved")
    assert max(len(line) for line in lines) <= 80


def test_text_in_russian() -> None:
    """Under `ru` every word is Russian and numbers are written the Russian way."""
    with kt.locale("ru"):
        text = str(seed_cards())
    assert "marketing: выполнение 105\N{NO-BREAK SPACE}%, выплата 112,5\N{NO-BREAK SPACE}%" in text
    assert "1\N{NO-BREAK SPACE}050 lead" in text
    assert "(влияет)" in text and "(норма)" in text
    for english in ("achievement", "payout", "influenced", "norm", "plan", "fact", "weight"):
        assert english not in text
    assert seed_cards()["sales"].to_text(locale="ru").startswith("sales: выполнение 90")


def test_html_shows_cards_and_escapes_model_text() -> None:
    """The notebook display has every card, the notes and the curve; owner text is escaped."""
    page = seed_cards()._repr_html_()
    assert page is not None
    assert "marketing: achievement 105%, payout 112.5%" in page
    assert "lead_to_ql (influenced)" in page and "80% (norm)" in page
    assert "payout curve" in page
    rate = kt.KPI("rate", owner="<b>ops</b>", horizon="1 day", value=0.9, norm=">= 0.8")
    page = kt.Tree(kt.Metric("m", rate * 2)).scorecard(fact={})._repr_html_()
    assert "<b>ops</b>" not in page and "&lt;b&gt;ops&lt;/b&gt;" in page
    card_page = seed_cards()["sales"]._repr_html_()
    assert card_page is not None and "sales: achievement 90%" in card_page


def test_frame_and_dict() -> None:
    """to_frame has a row per (card, KPI); to_dict is JSON-ready and holds the curve."""
    cards = seed_cards()
    frame = cards.to_frame()
    assert list(frame["card"]) == ["marketing", "marketing", "sales"]
    assert list(frame["name"]) == ["leads", "lead_to_ql", "lead_to_ql"]
    assert list(frame["scored"]) == [True, False, True]
    assert frame["payout"].iloc[0] == pytest.approx(1.125)
    data = json.loads(json.dumps(cards.to_dict()))
    assert data["curve"] == kt.Payout().to_dict()
    assert data["cards"][0]["owner"] == "marketing"
    assert data["cards"][0]["influenced"][0]["name"] == "lead_to_ql"
    assert cards["sales"].to_frame()["name"].tolist() == ["lead_to_ql"]


# -- command line -------------------------------------------------------------------------------


def test_cli_scorecard_json(capsys: pytest.CaptureFixture[str]) -> None:
    """`kpitree scorecard --json` prints the Python result's to_dict()."""
    fact, plan = f"{VALUES / 'qualified_leads.csv'}:2026-10", str(VALUES / "september.yaml")
    code = main(["scorecard", QL, "--fact", fact, "--plan", plan, "--json"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    expected = kt.load(QL).scorecard(
        fact={"leads": 1000, "lead_to_ql": 0.8}, plan={"leads": 1100, "lead_to_ql": 0.82}
    )
    assert json.loads(out) == json.loads(json.dumps(expected.to_dict()))
    code = main(["scorecard", QL, "--fact", fact, "--plan", plan, "--owner", "sales", "--json"])
    data = json.loads(capsys.readouterr()[0])
    assert [c["owner"] for c in data["cards"]] == ["sales"]


def test_cli_scorecard_text_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    """Text by default, Russian under --lang ru; bad input exits 2 with a one-line reason."""
    fact = str(VALUES / "october.yaml")  # holds measured standards too
    assert main(["scorecard", QL, "--fact", fact, "--owner", "sales"]) == 0
    assert capsys.readouterr()[0].startswith("sales: achievement 93.75%, payout 84.375%")
    assert main(["--lang", "ru", "scorecard", QL, "--fact", fact, "--owner", "sales"]) == 0
    assert "выполнение 93,75" in capsys.readouterr()[0]
    assert main(["scorecard", QL, "--fact", fact]) == 2
    err = capsys.readouterr()[1]
    assert err.startswith("kpitree: `leads` of `marketing` has neither a plan nor a norm")
    assert len(err.strip().splitlines()) == 1
    assert main(["scorecard", QL, "--fact", fact, "--owner", "nobody"]) == 2
    assert "`nobody` neither owns nor influences" in capsys.readouterr()[1]


def test_cli_scorecard_of_a_russian_model(capsys: pytest.CaptureFixture[str]) -> None:
    """A Russian model with Cyrillic names is scored from a `;` CSV, in Russian, 80 wide."""
    model = str(ROOT / "examples" / "qualified_leads_ru.yaml")
    csv = VALUES / "qualified_leads_ru.csv"
    argv = ["scorecard", model, "--fact", f"{csv}:2026-10", "--plan", f"{csv}:2026-09"]
    assert main(["--lang", "ru", *argv, "--owner", "маркетинг", "--width", "80"]) == 0
    out = capsys.readouterr()[0]
    assert out.startswith(
        "маркетинг: выполнение 120\N{NO-BREAK SPACE}%, выплата 150\N{NO-BREAK SPACE}%"
    )
    assert "конверсия_в_квал (влияет)" in out
    assert max(len(line) for line in out.splitlines()) <= 80

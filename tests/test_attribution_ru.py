"""Attribution, accountability and uncertainty text in both locales: golden files, wording."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

import kpitree as kt
from kpitree.examples import qualified_leads, qualified_leads_ru, sales_revenue

# Values chosen so that every number printed is exact (shares 70% and 30%, +50%, −20 pp):
# the goldens then hold whatever number of digits the formatter keeps.
SEED = (qualified_leads, "qualified_leads", {"leads": 2000, "lead_to_ql": 0.6})
SEED_RU = (qualified_leads_ru, "квал_лиды", {"лиды": 2000, "конверсия_в_квал": 0.6})
TREES = {"seed": SEED, "seed_ru": SEED_RU}


@pytest.mark.parametrize("lang", ["en", "ru"])
@pytest.mark.parametrize("which", sorted(TREES))
def test_attribution_accountability_and_tornado_text(
    golden: Callable[[str, str], None], which: str, lang: str
) -> None:
    """The seed trees' attribution, accountability and tornado read as reviewed, per locale."""
    make, metric, after = TREES[which]
    tree = make()
    with kt.locale(lang):
        golden(f"attribution.{which}.{lang}", str(tree.attribute(metric, {}, after)))
        golden(f"accountability.{which}.{lang}", str(tree.accountability(metric, {}, after)))
        golden(f"tornado.{which}.{lang}", str(tree.tornado(metric, swing="10%")))


def test_shares_are_of_the_gross_change_when_effects_offset() -> None:
    """Offsetting effects give shares of the sum of sizes (+70%, −30%), not of the net +400."""
    make, metric, after = SEED
    result = make().attribute(metric, {}, after)
    assert dict(result.contributions) == pytest.approx({"leads": 700, "lead_to_ql": -300})
    assert result.gross == pytest.approx(1000)
    assert result.share("leads") == pytest.approx(0.7)
    assert result.share("lead_to_ql") == pytest.approx(-0.3)
    text = str(result)
    assert "share of gross change" in text and "+70%" in text and "−30%" in text
    assert "+175%" not in text  # the old share of the net change: 700 / 400
    assert "effects offset: gross change 1,000 lead" in text


def test_shares_without_offset_have_no_offset_note() -> None:
    """When every contribution has one sign, the gross change is the change: no note."""
    result = qualified_leads().attribute("qualified_leads", {}, {"leads": 1100})
    assert result.share("leads") == pytest.approx(1.0)
    assert "effects offset" not in str(result)


def _sum_tree(leaves: int) -> kt.Tree:
    kpis = [kt.KPI(f"k{i}", owner="sales", horizon="1 day", value=1) for i in range(leaves)]
    return kt.Tree(kt.Metric("m", " + ".join(k.name for k in kpis)), *kpis)


@pytest.mark.parametrize(
    ("unchanged", "english", "russian"),
    [
        (1, "(1 unchanged leaf contributes 0)", "(1 вход без изменений, вклад 0)"),
        (2, "(2 unchanged leaves contribute 0)", "(2 входа без изменений, вклад 0)"),
        (5, "(5 unchanged leaves contribute 0)", "(5 входов без изменений, вклад 0)"),
        (21, "(21 unchanged leaves contribute 0)", "(21 вход без изменений, вклад 0)"),
    ],
)
def test_unchanged_leaves_are_counted_in_the_right_plural(
    unchanged: int, english: str, russian: str
) -> None:
    """The note on unchanged leaves takes the count's plural form in each locale."""
    result = _sum_tree(unchanged + 1).attribute("m", {}, {"k0": 2})
    assert english in str(result)
    with kt.locale("ru"):
        assert russian in str(result)


def test_an_owner_that_did_not_move_is_not_listed() -> None:
    """`external` (an input that kept its value) is left out of `by owner`, in both locales."""
    result = sales_revenue().attribute("revenue", {}, {"managers": 6})
    assert result.by_owner["external"] == 0  # still in the data, with every owner
    assert str(result).splitlines()[-1] == "by owner: head_of_sales +528,000 RUB"
    with kt.locale("ru"):
        assert str(result).splitlines()[-1] == "по ответственным: head_of_sales +528\xa0000 RUB"


def test_an_input_that_moved_is_listed_under_the_external_label() -> None:
    """A moved input is reported as `external`, in Russian «внешние факторы»."""
    result = sales_revenue().attribute("revenue", {}, {"working_days": 20})
    assert "working_days  external" in str(result)
    with kt.locale("ru"):
        text = str(result)
    assert "working_days  внешние факторы" in text
    assert text.splitlines()[-1] == "по ответственным: внешние факторы −240\xa0000 RUB"


def test_a_percentage_moves_in_points() -> None:
    """The attribution of a `%` metric's move prints in percentage points, both locales."""
    won = kt.KPI("won", owner="sales", horizon="1 week", value=20, unit="deal")
    deals = kt.KPI("deals", owner="marketing", horizon="1 week", value=100, unit="deal")
    tree = kt.Tree(kt.Metric("win_rate", won / deals, unit="%"))
    result = tree.attribute("win_rate", {}, {"won": 25, "deals": 125})
    text = str(result)
    assert "change +0 pp" not in text and "20% → 20%" in text
    result = tree.attribute("win_rate", {}, {"won": 22})
    assert "change +2 pp (+10%)" in str(result)
    assert re.search(r"^won +sales +\+2 pp", str(result), re.MULTILINE)
    with kt.locale("ru"):
        assert "изменение +2 п.п. (+10\xa0%)" in str(result)


def test_one_minus_sign_everywhere() -> None:
    """Contributions, shares and the relative change all use the true minus, never `-`."""
    result = sales_revenue().attribute("revenue", {}, {"managers": 6, "call_to_purchase": 0.04})
    for lang in ("en", "ru"):
        with kt.locale(lang):
            text = str(result) + str(result.tree.accountability("revenue", {}, result.values_after))
        assert "−" in text
        assert "-" not in text.replace("_", "")


def test_uncertainty_text_in_russian() -> None:
    """Simulation, tornado and Sobol text speak Russian under `ru`, plurals by count."""
    tree = qualified_leads_ru()
    distributions = {"лиды": kt.Uniform(900, 1100), "конверсия_в_квал": kt.Uniform(0.7, 0.9)}
    with kt.locale("ru"):
        simulation = str(tree.simulate("квал_лиды", n=1001, seed=1, distributions=distributions))
        one = str(tree.simulate("квал_лиды", n=1, seed=1, distributions=distributions))
        sobol = str(tree.sobol("квал_лиды", n=256, seed=1, distributions=distributions))
    assert simulation.startswith("симуляция квал_лиды: 1\xa0001 прогон, seed 1")
    assert one.startswith("симуляция квал_лиды: 1 прогон, seed 1")
    assert "узел" in simulation and "среднее" in simulation and "ст. откл." in simulation
    assert sobol.startswith("индексы Соболя квал_лиды")
    assert "по ответственным" in sobol and "маркетинг" in sobol
    assert "первого порядка" in sobol and "1 − сумма индексов первого порядка" in sobol

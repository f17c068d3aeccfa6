"""Text outlines, tables and every result's `str` in both locales, at the width asked for."""

import re

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import kpitree as kt
from kpitree.errors import ArgumentError
from kpitree.examples import qualified_leads, qualified_leads_ru, sales_revenue
from kpitree.model.results import table, text_width

WIDTHS = (80, 120)
LOCALES = ("en", "ru")

# Values chosen exact (900, 0.8, 1,125, 10%), so that the golden text holds whatever the
# digits policy of the number formatter.
SEED = {
    "tree": qualified_leads,
    "metric": "qualified_leads",
    "leads": "leads",
    "rate": "lead_to_ql",
    "within": "1 week",
    "status": {"lead_to_ql": 0.68, "response_minutes": 20, "missed_calls": 0},
}
RU = {
    "tree": qualified_leads_ru,
    "metric": "квал_лиды",
    "leads": "лиды",
    "rate": "конверсия_в_квал",
    "within": "1 неделя",
    "status": {"конверсия_в_квал": 0.68},
}
TREES = {"seed": SEED, "ru": RU}


def _surfaces(case: dict) -> dict[str, kt.model.results.Result]:
    tree = case["tree"]()
    needed = tree.solve(case["metric"], 900, vary=case["leads"])
    return {
        "whatif": tree.whatif({case["rate"]: "+10%"}),
        "sensitivity": tree.sensitivity(case["metric"]),
        "levers": tree.levers(case["metric"], within=case["within"]),
        "solve": tree.whatif({case["leads"]: needed}, name=f"solve {case['metric']} = 900"),
        "cascade": _rounded(tree, tree.cascade(case["metric"], 968)),
        "status": tree.status(case["status"]),
    }


def _rounded(tree: kt.Tree, cascade):
    """The cascade with its root finder's last digits rounded off (0.1 ± 1e-12 is 0.1).

    The text is what is under test; rounding keeps it independent of the number
    formatter's digits policy for values a hair away from exact.
    """
    new = {k: round(v, 9) for k, v in cascade.new.items()}
    return attrs.evolve(cascade, effort=round(cascade.effort, 9), new=new, after=tree.evaluate(new))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("which", ["seed", "ru"])
def test_results_read_as_reviewed(golden, which, locale, width):
    """What-if, sensitivity, levers, solve, cascade and status read as reviewed."""
    for surface, result in _surfaces(TREES[which]).items():
        golden(f"{surface}.{which}.{locale}.{width}", result.to_text(locale=locale, width=width))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("which", ["seed", "ru", "sales"])
def test_outlines_read_as_reviewed(golden, which, locale, width):
    """The outline of each tree reads as reviewed, in each locale and width."""
    tree = sales_revenue() if which == "sales" else TREES[which]["tree"]()
    golden(f"outline.{which}.{locale}.{width}", tree.render(locale=locale, width=width))


def test_str_is_to_text_in_the_active_locale():
    """`str(result)` is `result.to_text()`: the active locale, the default width."""
    status = qualified_leads().status({"lead_to_ql": 0.68})
    assert str(status) == status.to_text()
    with kt.locale("ru"):
        assert str(status) == status.to_text() == status.to_text(locale="ru")
        assert "ниже нормы" in str(status)
    assert "below norm" in str(status)


def test_locale_of_a_rendering_does_not_stay_behind():
    """`locale=` speaks for one rendering only; the active locale is unchanged after it."""
    tree = qualified_leads_ru()
    assert "КПЭ" in tree.render(locale="ru") and "метрика" in tree.render(locale="ru", width=200)
    assert kt.i18n.current() == "en" and "КПЭ" not in str(tree)


@pytest.mark.parametrize(
    "render",
    [
        lambda: qualified_leads().render(locale="de"),
        lambda: qualified_leads().evaluate().to_text(locale="de"),
        lambda: qualified_leads().status().to_text(locale="xx"),
    ],
)
def test_an_unknown_locale_of_a_rendering_is_refused(render):
    """`locale=` on a rendering is checked like `kt.locale`: the error lists the locales."""
    with pytest.raises(ArgumentError, match="unknown locale") as caught:
        render()
    assert caught.value.hint == "kpitree speaks en, ru"


@pytest.mark.parametrize("width", [0, 5, -80, 80.5, "80", True])
def test_a_width_that_is_no_width_is_refused(width):
    """A width must be a whole number of columns, at least 20."""
    with pytest.raises(ArgumentError, match="not a number of columns"):
        qualified_leads().status().to_text(width=width)


def test_width_defaults_to_columns(monkeypatch):
    """Without `width=`, text takes `COLUMNS`: a narrow terminal gets the narrow outline."""
    monkeypatch.setenv("COLUMNS", "60")
    assert text_width() == 60
    assert str(qualified_leads()) == qualified_leads().render(width=60)
    monkeypatch.setenv("COLUMNS", "200")
    assert str(qualified_leads()).splitlines()[0].endswith("metric")


def _expected_unchanged(n: int) -> str:
    # Russian plural categories, written out independently of gettext's formula.
    if n % 10 == 1 and n % 100 != 11:
        word = "узел"
    elif 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        word = "узла"
    else:
        word = "узлов"
    return f"ещё {n} {word} без изменений"


@given(st.integers(min_value=1, max_value=40))
def test_unchanged_nodes_are_counted_with_the_right_plural(rest):
    """`1 other node unchanged`, `9 other nodes`; `ещё 1 узел`, `2 узла`, `5 узлов`, `21 узел`."""
    leaves = [kt.KPI(f"k{i}", owner="o", horizon="1 day", value=1) for i in range(rest + 1)]
    total = leaves[0]
    for leaf in leaves[1:]:
        total = total + leaf
    scenario = kt.Tree(kt.Metric("m", total)).whatif({"k0": 2})
    # k0 and m move; every other leaf stays.
    english = f"{rest} other node unchanged" if rest == 1 else f"{rest} other nodes unchanged"
    assert scenario.to_text(width=200).splitlines()[-1] == english
    assert scenario.to_text(locale="ru", width=200).splitlines()[-1] == _expected_unchanged(rest)


def test_status_counts_failing_standards_in_its_footer():
    """The footer counts nodes below norm and standards not met, each with its plural."""
    tree = qualified_leads()
    values = {"lead_to_ql": 0.68, "response_minutes": 20, "missed_calls": 3}
    status = tree.status(values)
    assert status.to_text().splitlines()[-1] == "1 below norm, 2 standards not met"
    assert status.to_text(locale="ru").splitlines()[-1] == "1 ниже нормы, 2 стандарта не выполнены"
    only = tree.status({"response_minutes": 20})
    assert only.to_text().splitlines()[-1] == "1 standard not met"
    assert only.to_text(locale="ru").splitlines()[-1] == "1 стандарт не выполнен"
    assert tree.status().to_text(locale="ru").splitlines()[-1] == "все нормы выполнены"


def test_status_writes_standards_as_rows_of_their_kpi():
    """A standard's row has its name, its rule with `≤`, its value, the KPI's owner, the gap."""
    text = qualified_leads().status({"response_minutes": 20}).to_text(width=120)
    row = next(line for line in text.splitlines() if "response_minutes" in line)
    assert row.split() == ["✗", "response_minutes", "20", "≤", "15", "sales", "−5"]
    assert "<=" not in text


def test_to_meet_a_percent_norm_is_in_percentage_points():
    """68% against `>= 80%` needs +12 percentage points, not a relative +12%."""
    status = qualified_leads().status({"lead_to_ql": 0.68})
    assert re.search(r"\+12 pp$", status.to_text().splitlines()[1])
    assert status.to_text(locale="ru").splitlines()[1].endswith("+12 п.п.")


@pytest.mark.parametrize("width", [40, 60, 80])
def test_a_long_standard_is_cut_at_a_word_boundary(width):
    """A text standard too long for the table ends in `…` after a whole word; to_dict has it."""
    status = qualified_leads_ru().status()
    full = qualified_leads_ru()["конверсия_в_квал"].standards[0].text
    cell = next(line for line in status.to_text(width=width).splitlines() if "…" in line)
    shown = cell.split("  ", 2)[-1].strip().split("…")[0]
    assert full.startswith(shown) and full[len(shown)] == " "
    assert status.to_dict()["rows"][0]["standards"][0]["standard"] == full


@given(st.integers(min_value=40, max_value=140))
def test_no_outline_row_pokes_past_the_value_column(width):
    """At any width, every node's line fits, and the values' digits end in one column."""
    lines = sales_revenue().render(width=width).splitlines()
    nodes = [line for line in lines if re.search(r" {2,}[0-9]", line)]
    assert len(nodes) == len(sales_revenue())  # meta lines hold no value
    assert all(len(line) <= width for line in nodes)
    # A label's words are one space apart; its value comes after two or more.
    ends = {re.search(r" {2,}([0-9][0-9,.]*)", line).end(1) for line in nodes}
    assert len(ends) == 1


@given(st.integers(min_value=30, max_value=120))
def test_a_table_fits_its_width_when_its_words_do(width):
    """A table wraps its widest text column at word boundaries to fit, keeping every word."""
    words = "answer every inbound request within fifteen minutes of its arrival"
    text = table([["leads", words, "1,000"]], ["name", "standard", "value"], width=width)
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines)
    assert lines[0].split() == ["name", "standard", "value"]
    assert lines[1].split()[0] == "leads" and lines[1].split()[-1] == "1,000"
    drawn = [w for line in lines[1:] for w in line.split() if w not in ("leads", "1,000")]
    assert drawn == words.split()


@pytest.mark.parametrize("locale", LOCALES)
def test_a_small_rise_keeps_its_plus_sign(locale):
    """A relative rise under 1% (`0.03%`) is signed `+` like any rise, in both locales."""
    from kpitree.examples import saas_mrr

    scenario = saas_mrr().whatif({"arpa": "x1.1", "churn_rate": "-1%"})
    row = next(
        line for line in scenario.to_text(locale=locale).splitlines() if "customers_next" in line
    )
    assert row.split()[-1].startswith("+") or row.split()[-2].startswith("+")


def test_the_by_owner_line_writes_a_fall_with_the_minus_sign():
    """A negative total per owner reads `−120 RUB` (a true minus), like every other change."""
    from kpitree.examples import saas_mrr

    text = saas_mrr().sensitivity("mrr").to_text(width=200)
    assert "customer_success −120 RUB" in text and "-120" not in text

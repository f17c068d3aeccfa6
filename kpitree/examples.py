"""The example trees: the two of the domain (qualified leads, sales revenue), DuPont, SaaS MRR.

Each function returns a fresh `Tree`; `kpitree demo` shows the first.
"""

from __future__ import annotations

from typing import Any

from kpitree.errors import require
from kpitree.model.nodes import KPI, Input, Metric
from kpitree.tree import Tree

__all__ = [
    "BAD_WEEKS",
    "EXAMPLES",
    "daily_months",
    "daily_year",
    "dupont",
    "qualified_leads",
    "qualified_leads_ru",
    "saas_mrr",
    "sales_revenue",
]


def qualified_leads() -> Tree:
    """Qualified leads = leads × lead-to-QL conversion: marketing's KPI and sales' KPI.

    Examples:
        >>> qualified_leads().evaluate()["qualified_leads"]
        800.0
    """
    leads = KPI(
        "leads",
        owner="marketing",
        horizon="1 day",
        value=1000,
        unit="lead",
        bounds=(0, None),
        description="turn on or tune ads and creatives, send an offer to the base",
    )
    rate = KPI(
        "lead_to_ql",
        owner="sales",
        horizon="1 day",
        value=0.8,
        unit="%",
        bounds=(0, 1),
        norm=">= 80%",
        influenced_by=["marketing"],
        standards={
            "missed_calls": "<= 0",
            "response_minutes": "<= 15",
            "missed_chats": "<= 0",
            "first_reply_seconds": "<= 15",
        },
        description="sales qualifies every lead (BANT); marketing shares it while "
        "still searching for channels with targeted traffic",
    )
    return Tree(Metric("qualified_leads", leads * rate, unit="lead"))


def qualified_leads_ru() -> Tree:
    """The qualified-leads tree in Russian: names, owners, horizons, units and descriptions.

    Examples:
        >>> qualified_leads_ru().evaluate()["квал_лиды"]
        800.0
    """
    leads = KPI(
        "лиды",
        owner="маркетинг",
        horizon="1 день",
        value=1000,
        unit={"one": "лид", "few": "лида", "many": "лидов"},
        bounds=(0, None),
        description="запустить или настроить рекламу и креативы, сделать рассылку по базе",
    )
    rate = KPI(
        "конверсия_в_квал",
        owner="продажи",
        horizon="1 день",
        value="80%",
        unit="%",
        bounds=(0, 1),
        norm=">= 80%",
        influenced_by=["маркетинг"],
        standards=["отвечать на каждую входящую заявку в течение 15 минут"],
        description="продажи квалифицируют каждый лид (BANT); маркетинг влияет на конверсию, "
        "пока ищет каналы с целевым трафиком",
    )
    return Tree(
        Metric("квал_лиды", leads * rate, unit={"one": "лид", "few": "лида", "many": "лидов"}),
        description="распределение ответственности между маркетингом и продажами",
        locale="ru",
    )


def sales_revenue() -> Tree:
    """Revenue = managers × calls per day × working days × conversion × average order value.

    Examples:
        >>> sales_revenue().evaluate()["revenue"]
        2640000.0
    """
    managers = KPI(
        "managers",
        owner="head_of_sales",
        horizon="1 month",
        value=5,
        unit="manager",
        bounds=(0, None),
    )
    calls_per_day = KPI(
        "calls_per_day",
        owner="sales",
        horizon="1 day",
        value=40,
        unit="call/manager/day",
        bounds=(0, None),
        norm=">= 40",
    )
    conversion = KPI(
        "call_to_purchase",
        owner="sales",
        horizon="1 week",
        value=0.05,
        unit="purchase/call",
        bounds=(0, 1),
    )
    order_value = KPI(
        "avg_order_value",
        owner="marketing",
        horizon="1 month",
        value=12_000,
        unit="RUB/purchase",
        bounds=(0, None),
    )
    working_days = Input("working_days", value=22, unit="day")
    calls = Metric("calls", managers * calls_per_day * working_days, unit="call")
    purchases = Metric("purchases", calls * conversion, unit="purchase")
    return Tree(Metric("revenue", purchases * order_value, unit="RUB"))


def dupont() -> Tree:
    """DuPont ROE = net margin × asset turnover × equity multiplier.

    Examples:
        >>> round(dupont().evaluate()["roe"], 6)
        0.15
    """
    net_income = KPI("net_income", owner="operations", horizon="1 month", value=1.2e6, unit="RUB")
    revenue = KPI("revenue", owner="sales", horizon="1 month", value=1.5e7, unit="RUB")
    assets = KPI("assets", owner="finance", horizon="1 quarter", value=2e7, unit="RUB")
    equity = KPI("equity", owner="finance", horizon="1 quarter", value=8e6, unit="RUB")
    margin = Metric("net_margin", net_income / revenue, unit="%", norm=">= 5%")
    turnover = Metric("asset_turnover", revenue / assets)
    multiplier = Metric("equity_multiplier", assets / equity, norm="<= 3")
    return Tree(Metric("roe", margin * turnover * multiplier, unit="%", target=0.2))


def saas_mrr() -> Tree:
    """Next month's MRR from the customer base, churn, new customers, ARPA and expansion.

    Examples:
        >>> round(saas_mrr().evaluate()["mrr"])
        1338750
    """
    customers = Input("customers", value=500, unit="customer")
    new = KPI(
        "new_customers",
        owner="sales",
        horizon="1 month",
        value=40,
        unit="customer",
        bounds=(0, None),
    )
    churn = KPI(
        "churn_rate",
        owner="customer_success",
        horizon="1 month",
        value=0.03,
        unit="%",
        bounds=(0, 1),
        norm="<= 3%",
    )
    expansion = KPI(
        "expansion_rate",
        owner="customer_success",
        horizon="1 quarter",
        value=0.02,
        unit="%",
        bounds=(0, 1),
    )
    arpa = KPI(
        "arpa",
        owner="product",
        horizon="1 quarter",
        value=2500,
        unit="RUB/customer",
        bounds=(0, None),
    )
    retained = Metric("retained_customers", customers * (1 - churn), unit="customer")
    base = Metric("customers_next", retained + new, unit="customer")
    return Tree(Metric("mrr", base * arpa * (1 + expansion), unit="RUB"))


EXAMPLES = {
    "qualified_leads": qualified_leads,
    "qualified_leads_ru": qualified_leads_ru,
    "sales_revenue": sales_revenue,
    "dupont": dupont,
    "saas_mrr": saas_mrr,
}


#: The weeks of `daily_year` when a standard slips and conversion falls below its norm:
#: (first day, days, the standard that slips).
BAD_WEEKS = (
    ("2026-03-09", 7, "response_minutes"),  # a new hire on the inbound line
    ("2026-06-15", 5, "missed_chats"),  # the website chat widget broken
    ("2026-10-05", 10, "first_reply_seconds"),  # chat replies slow during a campaign
)


def daily_year(seed: int = 2026) -> Any:
    """A year of daily data for `qualified_leads`: the leaves and the four standards.

    One row per day of 2026 (a pandas DataFrame, columns `date`, `leads`, `lead_to_ql`,
    `missed_calls`, `response_minutes`, `missed_chats`, `first_reply_seconds`), drawn from
    `numpy.random.default_rng(seed)`, so the same seed gives the same year everywhere.
    Leads follow the week (fewer at weekends) and grow through the year; conversion holds
    82–86% with its standards met, except in the `BAD_WEEKS`, when one standard slips and
    conversion falls to about 74%. This is the data of the docs page "a month in the life of
    a KPI tree" and of `kpitree demo --example daily`.

    Examples:
        >>> year = daily_year()
        >>> len(year), round(float(year["lead_to_ql"].mean()), 2)
        (365, 0.84)
        >>> year.loc[year["lead_to_ql"] < 0.8, "date"].dt.month.unique().tolist()
        [3, 6, 10]
    """
    require("pandas", extra="data", feature="the daily year example")
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    dates = pd.date_range("2026-01-01", "2026-12-31", freq="D")
    days = len(dates)
    weekday = dates.day_of_week.to_numpy()
    trend = np.linspace(900, 1200, days)
    weekly = np.where(weekday >= 5, 0.6, 1.0)
    leads = np.round(trend * weekly * rng.normal(1.0, 0.05, days)).astype(int)
    conversion = rng.uniform(0.82, 0.86, days)
    standards = {
        "missed_calls": np.zeros(days, dtype=int),
        "response_minutes": np.round(rng.uniform(6, 13, days), 1),
        "missed_chats": np.zeros(days, dtype=int),
        "first_reply_seconds": np.round(rng.uniform(6, 13, days), 1),
    }
    # How far each standard slips in its bad week: (low, high) of a uniform draw.
    slipped = {
        "response_minutes": (22, 35),
        "missed_chats": (2, 6),
        "first_reply_seconds": (25, 45),
    }
    for first, length, standard in BAD_WEEKS:
        start = (pd.Timestamp(first) - pd.Timestamp(dates[0])).days
        week = slice(start, start + length)
        low, high = slipped[standard]
        drawn = rng.uniform(low, high, length)
        standards[standard][week] = (
            np.floor(drawn) if standard == "missed_chats" else np.round(drawn, 1)
        )
        conversion[week] = rng.uniform(0.72, 0.77, length)
    return pd.DataFrame(
        {"date": dates, "leads": leads, "lead_to_ql": np.round(conversion, 4), **standards}
    )


def daily_months(days: Any) -> Any:
    """`daily_year`'s days as months: leads summed, conversion re-derived from the sums.

    A month's conversion is its qualified leads over its leads, never a mean of daily
    rates (a weekend day of 500 leads weighs less than a Tuesday of 1,100). Columns
    `month` (`2026-01`, text that sorts), `leads` and `lead_to_ql`.

    Examples:
        >>> months = daily_months(daily_year())
        >>> len(months), months["month"].iloc[0], int(months["leads"].sum())
        (12, '2026-01', 340437)
    """
    qualified = days["leads"] * days["lead_to_ql"]
    grouped = days.assign(month=days["date"].dt.strftime("%Y-%m"), qualified=qualified).groupby(
        "month", as_index=False
    )[["leads", "qualified"]]
    months = grouped.sum()
    months["lead_to_ql"] = months["qualified"] / months["leads"]
    return months.drop(columns="qualified")

"""Error messages of the analyses and the explorer's server in Russian under ``ru``.

Each case triggers one refusal of one module. Under ``ru`` the message is Russian with its
placeholders filled; under ``en`` the same call gives the English message unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_russian

import kpitree as kt
from kpitree.analyses.attribution import accountability, attribute, attribute_frame
from kpitree.analyses.calculus import elasticities, partial
from kpitree.analyses.goal import cascade, levers, solve
from kpitree.analyses.status import status
from kpitree.analyses.uncertainty import simulate, sobol, tornado
from kpitree.analyses.whatif import compare, whatif
from kpitree.apps import server
from kpitree.examples import qualified_leads, saas_mrr, sales_revenue

pytest.importorskip("numpy")
pytest.importorskip("sympy")

MRR_DISTS = {"customers": kt.Uniform(900, 1100)}


def _undefined_mix() -> kt.Tree:
    """m = a / (b - c): undefined when b takes its before value and c its after value."""
    a = kt.KPI("a", owner="x", horizon="1 day", value=6.0)
    b = kt.KPI("b", owner="x", horizon="1 day", value=3.0)
    c = kt.KPI("c", owner="y", horizon="1 day", value=1.0)
    return kt.Tree(kt.Metric("m", a / kt.Metric("gap", b - c)))


def _port(tmp: Path) -> Any:
    return server.make_server(qualified_leads(), port=-1)


def _scenarios_file(tmp: Path) -> Any:
    path = tmp / "taken"
    path.write_text("")
    return server.make_server(qualified_leads(), port=0, values_dir=path)


# (module, call, the English message: the text without its hint)
CASES: list[tuple[str, Callable[[Path], Any], str]] = [
    (
        "whatif",
        lambda _: whatif(qualified_leads(), {"qualified_leads": "+1"}),
        "`qualified_leads` is a metric, computed from its formula; a what-if changes leaves",
    ),
    (
        "whatif-points",
        lambda _: whatif(qualified_leads(), {"leads": "+2pp"}),
        "`leads`: percentage points '+2pp' apply to a `%` quantity only",
    ),
    (
        "whatif-compare",
        lambda _: compare(1),
        "compare takes scenarios from tree.whatif, got int",
    ),
    (
        "status",
        lambda _: status(qualified_leads(), {"nope": 1}),
        "`nope` is neither a leaf of the tree nor a measurable standard",
    ),
    (
        "calculus",
        lambda _: elasticities(qualified_leads(), "qualified_leads", {"leads": 0}),
        "elasticities of `qualified_leads` are undefined: `qualified_leads` is 0 at these values",
    ),
    (
        "calculus-partial",
        lambda _: partial(sales_revenue(), "revenue", "calls"),
        "`calls` is a metric: partial derivatives are taken with respect to leaves",
    ),
    (
        "goal-ranking",
        lambda _: levers(sales_revenue(), "revenue", owner="nobody"),
        "nobody called `nobody` owns a KPI of this tree",
    ),
    (
        "goal-cascading",
        lambda _: cascade(sales_revenue(), "revenue", "+10%", among=["calls"]),
        "`calls` is a metric: a cascade moves KPIs",
    ),
    (
        "goal-solving",
        lambda _: solve(sales_revenue(), "revenue", "+10%", vary="calls"),
        "`calls` is a metric: solve varies a leaf (a KPI or an input)",
    ),
    (
        "goal-bounds",
        lambda _: solve(qualified_leads(), "qualified_leads", 1200, vary="lead_to_ql"),
        "`lead_to_ql` would need to be 120%, above its upper bound 100%",
    ),
    (
        "attribution-methods",
        lambda _: attribute(qualified_leads(), "qualified_leads", {}, {}, method="nope"),
        "attribution method 'nope' is not one of shapley, lmdi, hierarchical",
    ),
    (
        "attribution-comparison",
        lambda _: attribute(qualified_leads(), "qualified_leads", 5, {}),
        "`before` must be a mapping of leaf values or one row of a DataFrame, got int",
    ),
    (
        "attribution-frames",
        lambda _: attribute_frame(
            qualified_leads(), [1], "qualified_leads", period="month", before=1, after=2
        ),
        "data must be a pandas or polars DataFrame, got list",
    ),
    (
        "attribution-lmdi",
        lambda _: attribute(_undefined_mix(), "m", {}, {"b": 4.0}, method="lmdi"),
        "attributing `m`: LMDI takes products, quotients and sums of products; "
        "`m` divides by a sum",
    ),
    (
        "attribution-shapley",
        lambda _: attribute(_undefined_mix(), "m", {}, {"b": 4.0, "c": 3.0}),
        "`m` is undefined when `c` take(s) the after value and the other changing leaves "
        "the before value",
    ),
    (
        "attribution-results",
        lambda _: accountability(qualified_leads(), "qualified_leads", {}, {"leads": 900})[
            "nobody"
        ],
        "no KPI under `qualified_leads` is owned or influenced by `nobody`",
    ),
    (
        "uncertainty-sampling",
        lambda _: simulate(saas_mrr(), n=0),
        "n (the number of samples) must be at least 1, got 0",
    ),
    (
        "uncertainty-simulation",
        lambda _: simulate(saas_mrr(), n=8, distributions=MRR_DISTS, seed=1)["mrr"].quantile(2),
        "a quantile's probability must be between 0 and 1, got 2",
    ),
    (
        "uncertainty-swings",
        lambda _: tornado(saas_mrr(), "mrr", swing=0),
        "swing must be above 0, got 0",
    ),
    (
        "uncertainty-variance",
        lambda _: sobol(saas_mrr(), "mrr"),
        "no leaf that `mrr` is computed from has a distribution",
    ),
    (
        "server-kind",
        lambda _: server.Explorer(sales_revenue()).sensitivity({"metric": "managers"}),
        "`managers` is a kpi, 'metric' must name a metric",
    ),
    ("server-port", _port, "a port is a whole number from 0 to 65535, got -1"),
    ("server-directory", _scenarios_file, "is a file"),
]


def _raised(call: Callable[[Path], Any], tmp: Path) -> kt.KPITreeError:
    with pytest.raises(kt.KPITreeError) as info:
        call(tmp)
    return info.value


@pytest.mark.parametrize(("module", "call", "english"), CASES, ids=[c[0] for c in CASES])
def test_english_is_unchanged(
    module: str, call: Callable[[Path], Any], english: str, tmp_path: Path
) -> None:
    """Under en the message reads exactly as before."""
    assert english in _raised(call, tmp_path).message


@pytest.mark.parametrize(("module", "call", "english"), CASES, ids=[c[0] for c in CASES])
def test_russian_message(
    module: str, call: Callable[[Path], Any], english: str, tmp_path: Path
) -> None:
    """Under ru the message and its hint are Russian, every placeholder filled."""
    with kt.locale("ru"):
        error = _raised(call, tmp_path)
    text = str(error)
    assert english not in text
    assert_russian(error.message)
    assert_russian(text)
    if error.hint:
        assert_russian(error.hint)


def test_russian_names_and_numbers_are_kept() -> None:
    """Names stay as written; numbers take the locale's digits (a comma, ГиБ/КиБ)."""
    with kt.locale("ru"), pytest.raises(kt.LimitError) as info:
        simulate(saas_mrr(), n=10**6, limits=kt.Limits(max_sample_bytes=100_000))
    text = str(info.value)
    assert "97,7 КиБ" in text, text
    assert "n=1\N{NO-BREAK SPACE}000\N{NO-BREAK SPACE}000" in text or "n=1 000 000" in text
    with kt.locale("ru"), pytest.raises(kt.UnknownNameError) as names:
        levers(sales_revenue(), "revenue", owner="salse")
    assert "`salse`" in str(names.value) and "ответственным" in str(names.value)


def test_protocol_refusals_stay_english() -> None:
    """HTTP protocol refusals are the marked English group, whatever the locale."""
    with kt.locale("ru"), pytest.raises(server.RequestError) as info:
        server.Explorer(qualified_leads()).evaluate([])
    assert info.value.message == "the request body must be a JSON object, got a list"

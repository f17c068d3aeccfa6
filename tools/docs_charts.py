"""An mkdocs hook that draws the charts of the docs while the site is built.

The pictures in docs/display.md are made here from the example trees, on every build, so
they always show what the code draws today; none is kept in the repository. Each chart
is added to the site as a generated file under `img/`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

CHARTS: dict[str, Callable[[], Any]] = {}


def chart(name: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Register a function that draws one chart and returns its Axes."""

    def register(draw: Callable[[], Any]) -> Callable[[], Any]:
        CHARTS[name] = draw
        return draw

    return register


@chart("img/sensitivity.png")
def _sensitivity() -> Any:
    from kpitree.display.plots import plot_sensitivity
    from kpitree.examples import saas_mrr

    return plot_sensitivity(saas_mrr().sensitivity("mrr"))


@chart("img/tornado.png")
def _tornado() -> Any:
    from kpitree.display.plots import plot_sensitivity
    from kpitree.examples import saas_mrr

    return plot_sensitivity(saas_mrr().sensitivity("mrr"), kind="tornado")


@chart("img/scenario.png")
def _scenario() -> Any:
    from kpitree.display.plots import plot_scenario
    from kpitree.examples import saas_mrr

    return plot_scenario(saas_mrr().whatif({"churn_rate": "4%", "arpa": "+5%"}))


@chart("img/attribution.png")
def _attribution() -> Any:
    from kpitree.display.plots import plot_attribution
    from kpitree.examples import qualified_leads_ru

    tree = qualified_leads_ru()
    after = {"лиды": 1100, "конверсия_в_квал": 0.7}
    return plot_attribution(tree.attribute("квал_лиды", {}, after))


@chart("img/series.png")
def _series() -> Any:
    import pandas as pd

    from kpitree.display.plots import plot_attribution_series
    from kpitree.examples import qualified_leads

    df = pd.DataFrame(
        {
            "month": ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"],
            "leads": [1000, 1100, 1100, 1200, 1150, 1250],
            "lead_to_ql": [0.80, 0.70, 0.75, 0.78, 0.82, 0.80],
        }
    )
    return plot_attribution_series(qualified_leads().attribute_series("qualified_leads", df))


@chart("img/simulation.png")
def _simulation() -> Any:
    from kpitree.display.plots import plot_simulation
    from kpitree.examples import qualified_leads
    from kpitree.model.distributions import Uniform

    tree = qualified_leads()
    sim = tree.simulate(n=20_000, seed=1, distributions={"leads": Uniform(900, 1200)})
    return plot_simulation(sim, target=900)


@chart("img/track.png")
def _track() -> Any:
    from kpitree.examples import qualified_leads
    from kpitree.io.tables import read_table

    days = read_table("examples/values/daily.csv", text=["date", "region"])
    return qualified_leads().track(days, by="region").plot("lead_to_ql")


def render() -> dict[str, bytes]:
    """Draw every chart with the Agg backend and return `{path: PNG bytes}`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    for path, draw in CHARTS.items():
        ax = draw()
        buffer = io.BytesIO()
        ax.figure.savefig(buffer, format="png", dpi=96)
        plt.close(ax.figure)
        out[path] = buffer.getvalue()
    return out


def on_files(files: Any, config: Any) -> Any:
    """Add the charts to the site's files (mkdocs calls this before reading the pages)."""
    from mkdocs.structure.files import File

    for path, data in render().items():
        files.append(File.generated(config, path, content=data))
    return files

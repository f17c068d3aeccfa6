"""Attribution over many periods: `attribute_series` against one `attribute` call per step.

Run: .venv/bin/python benchmarks/bench_series.py

Goal (issue 15, "at scale"): `attribute_series` over 36 monthly steps within 2× of the
compute of 36 separate `tree.attribute` calls, measured in the same run, for the seed tree
(qualified leads) and a 10-leaf random tree, under Shapley (the default) and LMDI.

The baseline gets its rows already read: 37 dicts of leaf values, one per month, so it
times only the 36 attributions. `attribute_series` is timed from the DataFrame, reading,
sorting and checking the periods included.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from _timing import median_time, report

import kpitree as kt
from kpitree.analyses.attribution import attribute_frame
from kpitree.examples import qualified_leads
from kpitree.testing import random_tree

STEPS = 36


def monthly(tree: kt.Tree, seed: int) -> pd.DataFrame:
    """37 months of leaf values, each leaf drifting a few percent a month around its value."""
    rng = np.random.default_rng(seed)
    months = pd.period_range("2024-01", periods=STEPS + 1, freq="M")
    columns: dict[str, object] = {"month": months}
    for leaf in tree.leaves:
        base = float(leaf.value)  # type: ignore[arg-type]
        columns[leaf.name] = base * np.exp(np.cumsum(rng.normal(0, 0.03, STEPS + 1)))
    return pd.DataFrame(columns)


Row = tuple[str, float, float, float]


def case(name: str, tree: kt.Tree, metric: str, method: str, seed: int) -> Row:
    """Time one series against its 36 single attributions, after checking they agree."""
    df = monthly(tree, seed)
    leaves = [leaf.name for leaf in tree.subtree(metric).leaves]
    rows = df[leaves].to_dict("records")

    def ours() -> Any:
        return tree.attribute_series(metric, df, method=method)

    def by_steps() -> list[Any]:
        return [tree.attribute(metric, rows[i], rows[i + 1], method=method) for i in range(STEPS)]

    series = tree.attribute_series(metric, df, method=method)
    singles = by_steps()
    for i, one in enumerate(singles):
        for leaf, value in one.contributions.items():
            assert np.isclose(series.contributions[i][leaf], value, rtol=1e-9, atol=1e-9)
    scale = max(abs(v) for v in series.values)
    parts = sum(sum(step.values()) for step in series.contributions)
    assert abs(parts - series.total) <= 1e-9 * scale
    t_ours = median_time(ours, repeat=7)
    t_base = median_time(by_steps, repeat=7)
    return (f"{name}, {method}, {STEPS} steps", t_ours, t_base, 2.0)


def segments_case(segments: int) -> Row:
    """36 steps × segments in one call against 36 `attribute_frame` calls, one per step."""
    tree = qualified_leads()
    rng = np.random.default_rng(3)
    months = [str(p) for p in pd.period_range("2024-01", periods=STEPS + 1, freq="M")]
    rows = (STEPS + 1) * segments
    df = pd.DataFrame(
        {
            "month": np.repeat(months, segments),
            "channel": np.tile([f"c{i}" for i in range(segments)], STEPS + 1),
            "leads": rng.uniform(100, 1000, rows),
            "lead_to_ql": rng.uniform(0.5, 0.95, rows),
        }
    )

    def ours() -> Any:
        return tree.attribute_series("qualified_leads", df, by="channel")

    def by_steps() -> list[Any]:
        return [
            attribute_frame(
                tree,
                df,
                "qualified_leads",
                period="month",
                before=months[i],
                after=months[i + 1],
                by=["channel"],
            )
            for i in range(STEPS)
        ]

    series = ours()
    frames = by_steps()
    for i, frame in enumerate(frames):
        assert np.isclose(series.contributions[i]["leads"], frame["leads"].sum(), rtol=1e-9)
    t_ours = median_time(ours, repeat=5)
    t_base = median_time(by_steps, repeat=5)
    return (f"qualified leads × {segments:,} segments, {STEPS} steps", t_ours, t_base, 2.0)


def main() -> None:
    seed_tree = qualified_leads()
    ten = random_tree(10, seed=10, input_share=0.0)
    rows = [
        case("qualified leads", seed_tree, "qualified_leads", "shapley", 1),
        case("qualified leads", seed_tree, "qualified_leads", "lmdi", 1),
        case("10-leaf tree", ten, "root", "shapley", 2),
        case("10-leaf tree", ten, "root", "hierarchical", 2),
    ]
    segment_rows = [segments_case(100), segments_case(10_000)]
    met = report("attribute_series vs 36 tree.attribute calls (compute only)", rows)
    met &= report("attribute_series by segment vs 36 attribute_frame calls", segment_rows)
    for name, ours, base, _goal in [*rows, *segment_rows]:
        print(f"ratio {name}: {ours / base:.3f} (goal ≤ 2)")
    print("all goals met" if met else "some goals MISSED")


if __name__ == "__main__":
    main()

"""Daily tracking: 365 days × 100 segments of the seed tree, against the same work by hand.

The seed tree (`kpitree.examples.qualified_leads`): leads × lead-to-QL conversion, the
conversion's norm of at least 80% and its four measurable standards, each measured daily.
The data is 36,500 rows (a row per day and segment) in random order.

- kpitree: `tree.track(data, by="segment")`, then `.breaches` and `.streaks` — checking the
  periods (types, duplicates, gaps), sorting, evaluating, checking every norm on every row,
  and the frames of breaches and runs of breaches;
- baseline: `tree.evaluate_frame(data)` on the same rows, plus a hand-written pandas filter
  per norm (`df[df.lead_to_ql < 0.8]` and the four standards), concatenated into one frame
  of breaches with period, segment, node, value and gap.

Goal: track ≤ 2× the baseline: the median ratio of rounds that alternate the two, in one
run. Run:
`.venv/bin/python benchmarks/bench_track.py [--days 365] [--segments 100]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _timing lives next to this script
from _timing import fmt_seconds, median_time, report

from kpitree.examples import qualified_leads

STANDARDS = {
    "missed_calls": 0.0,
    "response_minutes": 15.0,
    "missed_chats": 0.0,
    "first_reply_seconds": 15.0,
}


def data(days: int, segments: int) -> pd.DataFrame:
    """A row per day and segment: leads, conversion near 80%, the standards near their norms."""
    rng = np.random.default_rng(0)
    rows = days * segments
    dates = pd.date_range("2026-01-01", periods=days, freq="D")
    frame = pd.DataFrame(
        {
            "date": np.tile(dates.to_numpy(), segments),
            "segment": np.repeat([f"s{i:03d}" for i in range(segments)], days),
            "leads": rng.integers(50, 500, rows).astype(np.float64),
            "lead_to_ql": np.clip(rng.normal(0.83, 0.03, rows), 0, 1),
            "missed_calls": rng.poisson(0.1, rows).astype(np.float64),
            "response_minutes": rng.gamma(6.0, 2.0, rows),
            "missed_chats": rng.poisson(0.05, rows).astype(np.float64),
            "first_reply_seconds": rng.gamma(5.0, 2.0, rows),
        }
    )
    return frame.sample(frac=1.0, random_state=1).reset_index(drop=True)


def by_hand(tree, frame: pd.DataFrame) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """evaluate_frame, then one pandas filter per norm, into a frame of breaches."""
    values = tree.evaluate_frame(frame)
    parts = []
    rate = values[values["lead_to_ql"] < 0.8]
    parts.append(
        pd.DataFrame(
            {
                "date": rate["date"],
                "segment": rate["segment"],
                "node": "lead_to_ql",
                "value": rate["lead_to_ql"],
                "gap": 0.8 - rate["lead_to_ql"],
            }
        )
    )
    for name, limit in STANDARDS.items():
        over = values[values[name] > limit]
        parts.append(
            pd.DataFrame(
                {
                    "date": over["date"],
                    "segment": over["segment"],
                    "node": name,
                    "value": over[name],
                    "gap": limit - over[name],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--segments", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    tree = qualified_leads()
    frame = data(args.days, args.segments)

    def kpitree_track() -> object:
        t = tree.track(frame, by="segment")
        return t.breaches, t.streaks

    breaches, _streaks = kpitree_track()  # type: ignore[misc]
    hand = by_hand(tree, frame)
    assert len(breaches) == len(hand), (len(breaches), len(hand))
    # The machine is shared: rounds alternate the two, so both see the same load, and the
    # ratio is the median of the rounds' ratios.
    rounds = [
        (median_time(kpitree_track, repeat=3), median_time(lambda: by_hand(tree, frame), repeat=3))
        for _round in range(args.rounds)
    ]
    ours = statistics.median(o for o, _t in rounds)
    theirs = statistics.median(t for _o, t in rounds)
    ratio = statistics.median(o / t for o, t in rounds)
    rows = len(frame)
    print(f"{rows:,} rows ({args.days} days × {args.segments} segments), {len(hand):,} breaches")
    print(f"track + breaches + streaks: {fmt_seconds(ours)}; by hand: {fmt_seconds(theirs)}")
    print(f"ratio, median of {args.rounds} alternating rounds: {ratio:.2f}× (goal ≤ 2×)")
    met = report(
        "tracking (issue 15)",
        [(f"track, {rows:,} rows vs evaluate_frame + filters", ratio * theirs, theirs, 2.0)],
    )
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()

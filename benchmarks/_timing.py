"""Timing helpers shared by the benchmark scripts: medians of repeated runs, ratio tables.

This machine is shared and noisy: every figure is a median over several repeats, and
every goal is a ratio against a baseline measured in the same run.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def median_time(func: Callable[[], Any], *, repeat: int = 7, min_time: float = 0.05) -> float:
    """Return the median seconds per call of `func`, calling it in batches of >= min_time."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            func()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time or number >= 1_000_000:
            break
        number *= 10
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            func()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


def once(func: Callable[[], Any], *, repeat: int = 5) -> float:
    """Return the median seconds of single calls (for costs paid once, like compiling)."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def alternately(
    *funcs: Callable[[], Any], repeat: int = 7, clock: Callable[[], float] = time.perf_counter
) -> list[float]:
    """Return the median seconds of each of `funcs`, run in turn `repeat` times.

    Running them in turn makes drift on a shared machine hit each alike, and the order
    rotates from round to round: whichever runs first in a round can pay for what the
    one before it left behind (DuckDB freeing a dropped table, BLAS threads still
    spinning), so no function is always first.
    """
    for func in funcs:
        func()  # warm up
    samples: list[list[float]] = [[] for _ in funcs]
    order = list(range(len(funcs)))
    for i in range(repeat):
        shift = i % len(funcs)
        for j in order[shift:] + order[:shift]:
            start = clock()
            funcs[j]()
            samples[j].append(clock() - start)
    return [statistics.median(times) for times in samples]


def fmt_seconds(seconds: float) -> str:
    """Format a duration with a sensible unit."""
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def report(title: str, rows: list[tuple[str, float, float, float]]) -> bool:
    """Print rows of (case, kpitree seconds, baseline seconds, goal ratio); return all met.

    A goal ratio of 0 means "report only".
    """
    lines = [f"{'case':<44} {'kpitree':>11} {'baseline':>11} {'ratio':>7} {'goal':>6}"]
    ok = True
    for case, ours, base, goal in rows:
        ratio = ours / base if base else float("nan")
        met = goal == 0 or ratio <= goal
        ok &= met
        goal_text = f"≤{goal:g}" if goal else "—"
        flag = "" if met else "  MISSED"
        lines.append(
            f"{case:<44} {fmt_seconds(ours):>11} {fmt_seconds(base):>11} "
            f"{ratio:>7.2f} {goal_text:>6}{flag}"
        )
    print(f"\n{title}")
    print("\n".join(lines))
    _keep(title, lines)
    return ok


_RESULTS = Path(__file__).parent / "results"
_started: set[Path] = set()


def _keep(title: str, lines: list[str]) -> None:
    """Write the table to `benchmarks/results/<script>.md` too (`make bench` keeps them).

    The first table of a run starts the file afresh, under a line saying when and where
    it was measured; the others of the same run follow it.
    """
    path = _RESULTS / (Path(sys.argv[0]).stem + ".md")
    first = path not in _started
    _started.add(path)
    _RESULTS.mkdir(exist_ok=True)
    with path.open("w" if first else "a", encoding="utf-8") as out:
        if first:
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            machine = f"{platform.python_implementation()} {platform.python_version()}, "
            machine += f"{os.cpu_count()} cores, {platform.machine()}"
            out.write(f"# {path.stem}\n\nMeasured {when} on {machine}; medians.\n")
        out.write(f"\n## {title}\n\n```text\n" + "\n".join(lines) + "\n```\n")

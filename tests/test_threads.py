"""One tree used from several threads gives the results of single-threaded use."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kpitree.testing import random_tree, trees
from kpitree.tree import Tree

Task = Callable[[Tree], Any]

_THREADS = 4
_SECONDS = 2.0  # each concurrent run stops after this long, finished or not


@contextlib.contextmanager
def _switching_often() -> Iterator[None]:
    """Make the interpreter switch threads as often as it can, so that races show."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _outcome(task: Task, tree: Tree) -> Any:
    """Return what `task` gives on `tree`, or the text of the error it raises."""
    try:
        return task(tree)
    except Exception as exc:  # the error, as text, is the outcome compared
        return f"{type(exc).__name__}: {exc}"


def _difference(expected: Any, got: Any) -> str:
    """Say briefly how `got` differs from `expected` (for dicts, the first key that does)."""
    if isinstance(expected, dict) and isinstance(got, dict):
        for key, value in expected.items():
            if got.get(key) != value:
                return f"`{key}` expected {value!r}, got {got.get(key)!r}"
    return f"expected {expected!r}, got {got!r}"


def _run_concurrently(tree: Tree, tasks: list[Task], expected: list[Any], rounds: int) -> list[str]:
    """Run `tasks` on `tree` from several threads; return every result that differed."""
    wrong: list[str] = []
    stop = time.monotonic() + _SECONDS
    start = threading.Barrier(_THREADS)

    def worker(offset: int) -> None:
        start.wait()
        for r in range(rounds):
            for k in range(len(tasks)):
                i = (k * (offset + 1) + r + offset) % len(tasks)  # each thread its own order
                got = _outcome(tasks[i], tree)
                if got != expected[i]:
                    wrong.append(f"task {i}: {_difference(expected[i], got)}")
            if time.monotonic() > stop:
                return

    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(_THREADS)]
    with _switching_often():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=_SECONDS + 30)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    return wrong


def _mixed_tasks(tree: Tree) -> list[Task]:
    """Return one-leaf and several-leaf what-ifs, goal seeks and the other analyses."""
    root = tree.roots[0].name
    leaves = [leaf.name for leaf in tree.leaves]
    tasks: list[Task] = []
    for i, leaf in enumerate(leaves[:8]):
        tasks.append(lambda t, leaf=leaf, i=i: dict(t.whatif({leaf: f"+{i + 1}%"}).after))
        group = {name: f"x{1 + j / 10}" for j, name in enumerate(leaves[i : i + 5])}
        tasks.append(lambda t, group=group: dict(t.whatif(group).after))
        tasks.append(lambda t, leaf=leaf, i=i: t.solve(root, f"+{i + 1}%", vary=leaf))
    tasks.append(lambda t: str(t.cascade(root, "+2%")))
    tasks.append(lambda t: str(t.sensitivity(root)))
    tasks.append(lambda t: dict(t.evaluate()))
    tasks.append(lambda t: t.gradient(root))
    return tasks


def test_mixed_analyses_from_several_threads_match_single_threaded() -> None:
    """What-ifs of one and of several leaves, solve and cascade agree across threads."""
    tasks = _mixed_tasks(random_tree(60, seed=3))
    expected = [_outcome(task, random_tree(60, seed=3)) for task in tasks]
    # A tree of its own, with nothing cached yet: the caches are built concurrently too.
    wrong = _run_concurrently(random_tree(60, seed=3), tasks, expected, rounds=40)
    assert not wrong, f"{len(wrong)} wrong results, first: {wrong[0]}"


@settings(max_examples=10)
@given(
    tree=trees(max_leaves=6, max_metrics=8),
    factors=st.lists(st.floats(0.25, 4.0), min_size=2, max_size=6),
)
def test_random_whatifs_from_several_threads_match_single_threaded(
    tree: Tree, factors: list[float]
) -> None:
    """Random trees and what-ifs give the single-threaded results when run concurrently."""
    leaves = [leaf.name for leaf in tree.leaves]
    tasks: list[Task] = []
    for i, factor in enumerate(factors):
        leaf = leaves[i % len(leaves)]
        tasks.append(lambda t, leaf=leaf, f=factor: dict(t.whatif({leaf: f"x{f}"}).after))
        several = {name: f"x{factor + j}" for j, name in enumerate(leaves[i % len(leaves) :])}
        tasks.append(lambda t, changes=several: dict(t.whatif(changes).after))
        root = tree.roots[0].name
        tasks.append(lambda t, leaf=leaf, f=factor, r=root: t.solve(r, f"x{f}", vary=leaf))
    expected = [_outcome(task, tree.with_values({})) for task in tasks]
    fresh = tree.with_values({})  # same nodes, empty caches
    wrong = _run_concurrently(fresh, tasks, expected, rounds=100)
    assert not wrong, f"{len(wrong)} wrong results, first: {wrong[0]}"

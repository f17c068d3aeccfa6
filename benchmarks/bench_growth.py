"""How cost grows: tree size from 1 to 10,000 leaves, rows from 10^3 to 10^7.

Each row puts kpitree beside what a user would otherwise reach for, measured in the same run:

- by tree size (random trees of `kpitree.testing.random_tree`): `tree.evaluate()` against
  the tree as plain Python, compiling against sympy's `lambdify`, one value by sympy's
  `subs` against `tree.evaluate()`, a one-leaf `whatif` and `tree.gradient` against
  `tree.evaluate()`;
- by rows (a 10-leaf random tree): `tree.evaluate_frame` over a mapping of numpy columns
  against the same formulas written by hand in numpy.

sympy is slow to compile and substitute on big trees, so its rows stop at 1,000 leaves.
Run: `.venv/bin/python benchmarks/bench_growth.py [--rows 1e3,...] [--leaves 1,...]`
(about two minutes).
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

import numpy as np
import sympy

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _timing lives next to this script
from _timing import median_time, once, report
from bench_foundations import plain_python

from kpitree.engine.evaluate import compile_tree
from kpitree.testing import random_tree

SYMPY_UP_TO = 1_000
"""Leaves beyond which sympy's rows are left out (lambdify of 10,000 leaves takes minutes)."""


def size_rows(sizes: list[int]) -> list[tuple[str, float, float, float]]:
    rows = []
    for n in sizes:
        tree = random_tree(n, seed=n)
        root = tree.roots[0].name
        vector = [float(leaf.value) for leaf in tree.leaves]  # type: ignore[arg-type]
        by_hand = plain_python(tree)
        values = tree.evaluate()
        assert by_hand(*vector)[-1] == values[root]  # the same float operations, in order
        evaluate = median_time(lambda t=tree: t.evaluate())
        rows.append(
            (
                f"evaluate(), {n:,} leaves (vs plain Python)",
                evaluate,
                median_time(lambda f=by_hand, v=vector: f(*v)),
                0,
            )
        )

        leaf = tree.leaves[0].name
        rows.append(
            (
                f"whatif one leaf, {n:,} (vs evaluate)",
                median_time(lambda t=tree, k=leaf, r=root: t.whatif({k: "+10%"}).after[r]),
                evaluate,
                0,
            )
        )
        rows.append(
            (
                f"gradient, {n:,} (vs evaluate)",
                median_time(lambda t=tree, r=root: t.gradient(r)),
                evaluate,
                0,
            )
        )

        fresh = iter([random_tree(n, seed=n) for _ in range(5)])
        compiling = once(lambda fresh=fresh: compile_tree(next(fresh)))
        if n > SYMPY_UP_TO:
            continue
        formula = tree.formula(root, expand=True)  # in the leaves, as sympy users write it
        symbols = sorted(formula.free_symbols, key=lambda s: s.name)
        leaf_values = {leaf.name: float(leaf.value) for leaf in tree.leaves}  # type: ignore[arg-type]
        substituted = {s: leaf_values[s.name] for s in symbols}
        assert abs(float(formula.subs(substituted)) - values[root]) <= 1e-9 * abs(values[root])

        def lambdify(formula: sympy.Expr = formula, symbols: list[sympy.Symbol] = symbols) -> None:
            sympy.core.cache.clear_cache()
            sympy.lambdify(symbols, formula)  # noqa: TID251 - the baseline, on generated names

        rows.append((f"compile, {n:,} (vs sympy lambdify)", compiling, once(lambdify, repeat=3), 0))
        subs = once(lambda f=formula, s=substituted: f.subs(s).evalf(), repeat=3)
        rows.append((f"evaluate(), {n:,} (vs sympy subs, root only)", evaluate, subs, 0))
    return rows


def frame_rows(counts: list[int]) -> list[tuple[str, float, float, float]]:
    tree = random_tree(10, seed=10)
    by_hand = plain_python(tree)  # + - * / on arrays, as written
    names = [leaf.name for leaf in tree.leaves]
    root = tree.roots[0].name
    rows = []
    for count in counts:
        rng = np.random.default_rng(count)
        columns = {name: rng.uniform(0.5, 2.0, count) for name in names}
        ours = tree.evaluate_frame(columns)[root]
        assert np.allclose(ours, by_hand(*columns.values())[-1], rtol=1e-12, atol=0)
        repeat = 7 if count < 10**7 else 3
        kpitree_time = median_time(lambda c=columns: tree.evaluate_frame(c), repeat=repeat)
        hand = median_time(lambda c=columns: by_hand(*c.values()), repeat=repeat)
        rows.append((f"evaluate_frame, {count:,} rows (vs hand numpy)", kpitree_time, hand, 0))
        del columns, ours
        gc.collect()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", default="1,10,100,1000,10000")
    parser.add_argument("--rows", default="1e3,1e4,1e5,1e6,1e7")
    args = parser.parse_args()
    sizes = [int(float(n)) for n in args.leaves.split(",")]
    counts = [int(float(n)) for n in args.rows.split(",")]
    report("By tree size (median per call; report only)", size_rows(sizes))
    report("By rows, a 10-leaf tree (median per call; report only)", frame_rows(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What-if, gradient and goal-seek speed (goals G2, G5, G8 of benchmarks.md).

Run by hand: `.venv/bin/python benchmarks/bench_whatif.py` (about a minute).

- G2: a one-leaf what-if read at the root, against PY (the tree written out as plain
  Python, one line per metric, recomputing everything). Two figures: the numbers alone
  (recompute the leaf's ancestors) and the full `tree.whatif(...).after[root]` call
  (parsing the change, checks, the Scenario object).
- G5: the full gradient (`tree.gradient`) against one evaluation (`tree.evaluate`), and the
  generated reverse pass against the compiled forward pass.
- G8: goal seek along a unique path (`tree.solve`) against one forward pass; the numeric
  fallback's number of recomputations; `sympy.solve` per call on the 6-leaf tree.
- Issue 19: the whole `tree.whatif({leaf: "+10%"}).after[root]` call on 100 leaves and
  `tree.solve` on the 6-leaf tree, each against 3 µs.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import median_time, report

import kpitree as kt
from kpitree.analyses.goal import solve
from kpitree.engine.codegen import RUNTIME, python_code
from kpitree.engine.derivatives import _gradient_function
from kpitree.engine.evaluate import compile_tree
from kpitree.engine.incremental import Baseline, baseline
from kpitree.model.nodes import Metric
from kpitree.testing import random_tree

SIZES = (6, 100, 1000, 10_000)


def plain_python(tree: kt.Tree) -> object:
    """Return the tree written out as a plain Python function: one line per metric."""
    compiled = compile_tree(tree)
    slots = {name: f"v{i}" for i, name in enumerate(compiled.leaves + compiled.metrics)}
    lines = [f"def f({', '.join(slots[n] for n in compiled.leaves)}):"]
    for name in compiled.metrics:
        node = tree[name]
        assert isinstance(node, Metric)
        lines.append(f"    {slots[name]} = {python_code(node.formula, slots)}")
    lines.append(f"    return {slots[compiled.metrics[-1]]}")
    namespace = dict(RUNTIME)
    exec("\n".join(lines), namespace)  # noqa: S102  # safe: generated from a generated tree
    return namespace["f"]


def a_leaf_on_one_path(tree: kt.Tree) -> str:
    root = tree.roots[0].name
    for leaf in tree.leaves:
        try:
            solve(tree, root, "+1%", vary=leaf.name)
        except kt.KPITreeError:
            continue
        return leaf.name
    raise RuntimeError("no solvable leaf")


def main() -> None:
    g2, g2_full, g5, g5_raw, g8, fixed = [], [], [], [], [], []
    for n in SIZES:
        tree = random_tree(n, seed=1)
        root = tree.roots[0].name
        compiled = compile_tree(tree)
        base = tree.evaluate()
        vector = [base[name] for name in compiled.leaves]
        f = plain_python(tree)
        leaf = a_leaf_on_one_path(tree)
        value = base[leaf]
        assert abs(f(*vector) - base[root]) <= 1e-12 * abs(base[root])

        start = baseline(tree)
        changed = start.recompute({leaf: value * 1.1})[root]
        assert changed == tree.evaluate({leaf: value * 1.1})[root]
        py = median_time(lambda f=f, v=vector: f(*v))
        numbers = median_time(lambda s=start, k=leaf, x=value, r=root: s.recompute({k: x * 1.1})[r])
        full = median_time(lambda t=tree, k=leaf, r=root: t.whatif({k: "+10%"}).after[r])
        g2.append((f"{n} leaves: ancestors only (numbers)", numbers, py, 0))
        g2_full.append((f"{n} leaves: tree.whatif(...).after[root]", full, py, 0))
        if n == 100:
            fixed.append((f"{n} leaves: tree.whatif(...).after[root] (vs 3 µs)", full, 3e-6, 1.0))
        print(f"  {n} leaves: numbers {numbers * 1e6:.2f} µs, full call {full * 1e6:.2f} µs")

        one_eval = median_time(lambda t=tree: t.evaluate())
        grad = median_time(lambda t=tree, r=root: t.gradient(r))
        g5.append((f"{n} leaves: tree.gradient vs tree.evaluate", grad, one_eval, 5))
        forward = median_time(lambda c=compiled, v=vector: c.function(v))
        reverse_fn = _gradient_function(tree, root)
        metrics = compiled(vector)
        reverse = median_time(lambda v=vector, m=metrics, g=reverse_fn: g(v, m))
        g5_raw.append(
            (f"{n} leaves: forward + reverse pass vs forward", forward + reverse, forward, 5)
        )

        target = base[root] * 1.01
        x = solve(tree, root, target, vary=leaf)
        assert abs(tree.evaluate({leaf: x})[root] - target) <= 1e-9 * abs(target)
        seek = median_time(lambda t=tree, k=leaf, y=target, r=root: solve(t, r, y, vary=k))
        g8.append((f"{n} leaves: solve on one path vs forward pass", seek, forward, 1.5))
        if n == 6:
            fixed.append((f"{n} leaves: tree.solve on one path (vs 3 µs)", seek, 3e-6, 1.0))

    report("G2 one-leaf what-if, read the root (baseline PY, full recompute)", g2)
    report("G2 with the Scenario object (baseline PY)", g2_full)
    report("G5 gradient, whole API (baseline tree.evaluate)", g5)
    report("G5 gradient, generated code (baseline compiled forward pass)", g5_raw)
    report("G8 goal seek along a path (baseline compiled forward pass)", g8)
    report("Issue 19: what-if and goal seek on small trees (vs a fixed time)", fixed)
    numeric_fallback()
    sympy_reference()


def numeric_fallback() -> None:
    """Count recomputations of the numeric root finder where no closed form applies."""
    a = kt.KPI("a", owner="x", horizon="1 day", value=2.0)
    b = kt.KPI("b", owner="x", horizon="1 day", value=3.0)
    tree = kt.Tree(kt.Metric("m", kt.max(a, 1) + kt.max(a, b) + kt.log(a)))
    counts = []
    original = Baseline.recompute

    def counting(self: Baseline, changes: dict[str, float]) -> dict[str, float]:
        counts[-1] += 1
        return original(self, changes)

    Baseline.recompute = counting  # type: ignore[method-assign]
    try:
        for target in (5.0, 8.0, 20.0, 200.0):
            counts.append(0)
            solve(tree, "m", target, vary="a")
    finally:
        Baseline.recompute = original  # type: ignore[method-assign]
    print(f"\nG8 numeric fallback (max, max, log of one leaf): recomputations {counts} (goal ≤ 15)")


def sympy_reference() -> None:
    import sympy

    from kpitree.backends.symbolic import formula

    tree = random_tree(6, seed=1)
    root = tree.roots[0].name
    leaf = a_leaf_on_one_path(tree)
    expr = formula(tree, root, expand=True)
    values = tree.evaluate()
    others = {sympy.Symbol(n.name): values[n.name] for n in tree.leaves if n.name != leaf}
    x = sympy.Symbol(leaf)
    counter = [1.0]

    def sympy_solve() -> object:
        counter[0] += 1e-6  # vary the target: sympy's cache would flatter repeated calls
        return sympy.solve(expr.xreplace(others) - values[root] * counter[0], x)

    ours = median_time(lambda: solve(tree, root, values[root] * 1.01, vary=leaf))
    theirs = median_time(sympy_solve, repeat=3)
    report("reference: sympy.solve per call, 6 leaves", [("6 leaves: tree.solve", ours, theirs, 0)])


if __name__ == "__main__":
    main()

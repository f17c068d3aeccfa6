"""Foundations: tree validation, compiled evaluation, compile time and start-up.

Run: .venv/bin/python benchmarks/bench_foundations.py

Goals (benchmarks.md): G1 compiled evaluation ≤ 1.5× the tree written as plain Python
(PY) at ≥ 100 leaves; the whole `tree.evaluate()` (every node, checked) ≤ 2× PY and
`evaluate(new values)` ≤ 2× the same by hand with dicts, at 100 and 1,000 leaves
(issue 19); G3 compiling ≤ 0.1× sympy's lambdify; G9 `import kpitree` ≤ 1.15× `import
sympy` and `kpitree --help` ≤ 0.1 s; and the foundations issue's own: validating a
10,000-leaf tree and evaluating it once in under a second.

The PY baseline is generated from the random tree's formulas by this script (names are
the generator's own `k0`, `m3`, never user text) and compiled once, so both sides run
compiled Python over the same arithmetic.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import time

import sympy
from _timing import fmt_seconds, median_time, once, report

import kpitree as kt
from kpitree.engine.evaluate import compile_tree
from kpitree.language.expr import format_expr
from kpitree.testing import random_tree


def plain_python(tree: kt.Tree):  # type: ignore[no-untyped-def]
    """Compile the tree as a person would write it: one line per metric."""
    leaves = [leaf.name for leaf in tree.leaves]
    lines = [f"def f({', '.join(leaves)}):"]
    metrics = [n for n in tree._topo if isinstance(tree[n], kt.Metric)]
    for name in metrics:
        lines.append(f"    {name} = {format_expr(tree[name].formula)}")  # type: ignore[attr-defined]
    lines.append(f"    return ({', '.join(metrics)},)")
    namespace: dict[str, object] = {"log": math.log, "exp": math.exp, "sqrt": math.sqrt}
    exec("\n".join(lines), namespace)  # noqa: S102 - generated from the generator's own names
    return namespace["f"]


def plain_python_dict(tree: kt.Tree):  # type: ignore[no-untyped-def]
    """The tree by hand, taking a dict of leaf values and returning a dict of every node."""
    leaves = [leaf.name for leaf in tree.leaves]
    metrics = [n for n in tree._topo if isinstance(tree[n], kt.Metric)]
    lines = ["def f(values):"]
    lines += [f"    {name} = values[{name!r}]" for name in leaves]
    lines += [f"    {n} = {format_expr(tree[n].formula)}" for n in metrics]  # type: ignore[attr-defined]
    lines.append("    return {" + ", ".join(f"{n!r}: {n}" for n in leaves + metrics) + "}")
    namespace: dict[str, object] = {}
    exec("\n".join(lines), namespace)  # noqa: S102 - generated from the generator's own names
    return namespace["f"]


def evaluation_rows() -> list[tuple[str, float, float, float]]:
    rows = []
    for n in (6, 100, 1000, 10_000):
        tree = random_tree(n, seed=n)
        compiled = compile_tree(tree)
        vector = [float(leaf.value) for leaf in tree.leaves]  # type: ignore[arg-type]
        func = plain_python(tree)
        # The same float operations in the same order: the results are identical.
        assert compiled(vector) == func(*vector)
        ours = median_time(lambda c=compiled, v=vector: c(v))
        base = median_time(lambda f=func, v=vector: f(*v))
        rows.append((f"G1 compiled evaluation, {n} leaves", ours, base, 1.5 if n >= 100 else 0))
        assert dict(tree.evaluate()) == {
            **dict(zip(compiled.leaves, vector, strict=True)),
            **dict(zip(compiled.metrics, compiled(vector), strict=True)),
        }
        full = median_time(lambda t=tree: t.evaluate())
        goal = 2.0 if n in (100, 1000) else 0
        rows.append((f"   tree.evaluate() (all nodes, checked), {n}", full, base, goal))
        # New values for every leaf, every node back in a mapping: against the same by hand.
        values = {leaf.name: float(leaf.value) * 1.01 for leaf in tree.leaves}  # type: ignore[arg-type]
        by_hand = plain_python_dict(tree)
        assert dict(tree.evaluate(values)) == by_hand(values)
        ours = median_time(lambda t=tree, v=values: t.evaluate(v))
        base_dict = median_time(lambda f=by_hand, v=values: f(v))
        goal = 2.0 if n in (100, 1000) else 0
        rows.append((f"   evaluate(new values) vs dict by hand, {n}", ours, base_dict, goal))
    return rows


def compile_rows() -> list[tuple[str, float, float, float]]:
    rows = []
    for n in (100, 1000):
        tree = random_tree(n, seed=n)
        root = tree.roots[0].name

        # Fresh trees, built beforehand: nothing cached, and only compiling is timed.
        fresh = iter([random_tree(n, seed=n) for _ in range(5)])
        ours_time = once(lambda fresh=fresh: compile_tree(next(fresh)))

        def lambdify(tree: kt.Tree = tree, root: str = root) -> None:
            sympy.core.cache.clear_cache()
            expr = tree.formula(root, expand=True)
            symbols = [sympy.Symbol(leaf.name) for leaf in tree.leaves]
            sympy.lambdify(symbols, expr)  # noqa: TID251 - the baseline, on generated names

        rows.append((f"G3 compile a tree, {n} leaves", ours_time, once(lambdify, repeat=3), 0.1))
    return rows


def startup_rows() -> list[tuple[str, float, float, float]]:
    def run(*args: str) -> float:
        samples = []
        for _ in range(7):
            start = time.perf_counter()
            subprocess.run([sys.executable, *args], check=True, capture_output=True)  # noqa: S603
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    empty = run("-c", "pass")
    sympy_time = run("-c", "import sympy") - empty
    # `import kpitree` alone loads nothing (names load on first use): time a first use.
    kpitree_time = run("-c", "import kpitree; kpitree.Tree; kpitree.KPI") - empty
    help_time = run("-m", "kpitree", "--help") - empty
    return [
        ("G9 import kpitree + first use (vs import sympy)", kpitree_time, sympy_time, 1.15),
        ("G9 kpitree --help (vs 0.1 s)", help_time, 0.1, 1.0),
    ]


def validation_rows() -> list[tuple[str, float, float, float]]:
    rows = []
    tree = random_tree(10_000, seed=1)
    nodes = list(tree)
    validate = once(lambda: kt.Tree(*nodes))
    first_eval = once(lambda: kt.Tree(*nodes).evaluate()) - validate
    build = once(lambda: random_tree(10_000, seed=1)) - validate
    print(f"\n10,000 leaves, {len(tree.metrics):,} metrics:")
    print(f"  building the nodes in Python   {fmt_seconds(build)}")
    print(f"  Tree(...) validation           {fmt_seconds(validate)}")
    print(f"  first evaluate (compile + run) {fmt_seconds(first_eval)}")
    total = validate + first_eval
    rows.append(("validate + first evaluation, 10k leaves (vs 1 s)", total, 1.0, 1.0))
    return rows


def main() -> int:
    ok = report("Evaluation (median per call)", evaluation_rows())
    ok &= report("Compilation (one-time cost)", compile_rows())
    ok &= report("10,000-leaf tree", validation_rows())
    ok &= report("Start-up (median of 7 processes, minus an empty interpreter)", startup_rows())
    print("\nall goals met" if ok else "\nsome goals MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Displays: diagrams and HTML of big trees, against the plain-text outline.

Run: .venv/bin/python benchmarks/bench_display.py

A display is worth having only if it is cheap next to reading the tree: the baseline is
`str(tree)` (the text outline, which also evaluates the tree) on the same tree in the same
run. Report only: no goal is set for displays; the ratios say what a picture costs.
"""

from __future__ import annotations

from _timing import once, report

from kpitree.display.diagrams import to_dot, to_mermaid
from kpitree.display.html import tree_html
from kpitree.testing import random_tree


def main() -> None:
    for leaves in (100, 1_000, 10_000):
        tree = random_tree(leaves, seed=7)
        str(tree)  # compile once, as a REPL user would have
        base = once(lambda tree=tree: str(tree))
        rows = [
            (f"to_mermaid, {leaves:,} leaves", once(lambda tree=tree: to_mermaid(tree)), base, 0),
            (f"to_dot, {leaves:,} leaves", once(lambda tree=tree: to_dot(tree)), base, 0),
            (f"tree_html, {leaves:,} leaves", once(lambda tree=tree: tree_html(tree)), base, 0),
        ]
        report(f"{leaves:,} leaves (baseline: str(tree))", rows)


if __name__ == "__main__":
    main()

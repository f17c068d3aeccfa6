"""Model files and the command line: reading, validating, writing, and start-up.

Run: .venv/bin/python benchmarks/bench_model.py

Goals (issue 19, item 1): loading and validating the model file of 8,046 metrics and
30,000 leaves in at most 1.5 s from YAML, 1.2 s from TOML and 1.0 s from JSON;
`kpitree --help` and `kpitree eval` on a small file start in under 1 s (benchmarks.md G9
asks `--help` ≤ 0.1 s). Baselines measured in the same run: the bare parsers on the same
text (libyaml's safe loader, `json.loads`, `tomllib.loads`, and yaml-rs, the compiled
reader of the `fast` extra, when installed), building the same nodes and `Tree` straight
from Python objects, and `python -c pass` for start-up.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from _timing import fmt_seconds, once, report

from kpitree.io.model import dumps, read_document
from kpitree.model.nodes import KPI, Input, Metric
from kpitree.testing import random_tree
from kpitree.tree import Tree, loads

try:
    import yaml_rs
except ImportError:  # the `fast` extra is not installed: kpitree reads YAML the careful way
    yaml_rs = None

ROOT = Path(__file__).resolve().parent.parent


def rebuild(tree: Tree) -> Tree:
    """The same tree built from Python objects, formulas as text: the core's own cost."""
    nodes = []
    for node in tree:
        if isinstance(node, KPI):
            nodes.append(
                KPI(
                    node.name,
                    owner=node.owner,
                    horizon=node.horizon,
                    value=node.value,
                    bounds=node.bounds,
                )
            )
        elif isinstance(node, Input):
            nodes.append(Input(node.name, value=node.value))
        else:
            assert isinstance(node, Metric)
            nodes.append(Metric(node.name, str(node.formula)))
    return Tree(*nodes)


def run(*argv: str) -> None:
    """Run `python ARGV...`: a fixed command of this script, never user input."""
    subprocess.run([sys.executable, *argv], check=True, capture_output=True)  # noqa: S603


def main() -> None:
    tree = random_tree(30_000, seed=1)
    print(f"tree: {len(tree.metrics):,} metrics, {len(tree.leaves):,} leaves")
    rows = []
    parsers = {
        "yaml": lambda t: yaml.load(t, Loader=yaml.CSafeLoader),
        "json": json.loads,
        "toml": tomllib.loads,
    }
    goals = {"yaml": 1.5, "json": 1.0, "toml": 1.2}
    core = once(lambda: rebuild(tree), repeat=3)
    for fmt, parse in parsers.items():
        text = dumps(tree, fmt)
        assert loads(text, fmt) == tree
        ours = once(lambda t=text, f=fmt: read_document(t, f), repeat=5)
        bare = once(lambda t=text, p=parse: p(t), repeat=3)
        rows.append(
            (f"{fmt}: read + locate ({len(text) / 1e6:.1f} MB) vs bare parser", ours, bare, 0)
        )
        if fmt == "yaml" and yaml_rs is not None:
            compiled = once(lambda t=text: yaml_rs.loads(t, parse_datetime=False), repeat=5)
            rows.append(("yaml: read + locate vs bare yaml-rs", ours, compiled, 0))
        full = once(lambda t=text, f=fmt: loads(t, f), repeat=5)
        rows.append((f"{fmt}: load and validate vs Python-built tree", full, core, 0))
        rows.append((f"{fmt}: load and validate vs the {goals[fmt]} s goal", full, goals[fmt], 1.0))
    report("model files, 8,046 metrics and 30,000 leaves", rows)

    small = str(ROOT / "examples" / "qualified_leads.yaml")
    bare_start = once(lambda: run("-c", "pass"), repeat=5)
    help_time = once(lambda: run("-m", "kpitree", "--help"), repeat=5)
    eval_time = once(lambda: run("-m", "kpitree", "eval", small, "leads=1200"), repeat=5)
    report(
        "start-up (subprocess, median of 5)",
        [
            ("kpitree --help vs 0.1 s (G9)", help_time, 0.1, 1.0),
            ("kpitree --help vs python -c pass", help_time, bare_start, 0),
            ("kpitree eval small.yaml vs 1 s", eval_time, 1.0, 1.0),
        ],
    )
    print(f"\n(python -c pass: {fmt_seconds(bare_start)})")


if __name__ == "__main__":
    main()

"""A tour of the bundled example trees: structure, values, owners, norm and target status.

Run: python examples/tour.py

The trees are defined in Python in `kpitree/examples.py` (so `kpitree demo` can show them
without any file); the model files beside this script describe the same trees as YAML,
TOML and JSON.
"""

from kpitree.examples import EXAMPLES


def main() -> None:
    for name, build in EXAMPLES.items():
        tree = build()
        print(f"== {name} ==")
        print(tree)
        owners = ", ".join(f"{owner}: {', '.join(kpis)}" for owner, kpis in tree.owners().items())
        print(f"owners: {owners}")
        status = tree.status()
        if len(status):
            print(f"status: {status.verdict()}")
            for row in status.below_target:
                print(f"  {row.name} is below its target: ask {', '.join(row.owners)}")
        print()


if __name__ == "__main__":
    main()

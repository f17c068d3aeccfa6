"""The `kpitree` command line.

Exit codes: 0 success; 1 an analysis failed (an infeasible target, an undefined metric);
2 bad input or usage. Errors print one line (`kpitree: ...`) and no traceback unless
`--debug` is given. Heavy libraries are imported by the commands that use them, so
`kpitree --help` starts fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from kpitree.errors import EvaluationError, InfeasibleGoalError, KPITreeError

__all__ = ["main"]

Command = Callable[[argparse.Namespace], int]

_EPILOG = """\
examples:
  kpitree demo                 the qualified-leads tree: owners, horizons, norms, values
  kpitree demo --example dupont
  kpitree demo --json          the same as machine-readable JSON
"""


def _demo(args: argparse.Namespace) -> int:
    from kpitree.examples import EXAMPLES

    tree = EXAMPLES[args.example]()
    if args.json:
        payload = {
            "example": args.example,
            "values": tree.evaluate().to_dict(),
            "owners": tree.owners(),
            "status": tree.status().to_dict(),
        }
        _print_json(payload)
        return 0
    print(f"kpitree demo: {args.example}\n")
    print(tree)
    print("\nOwners and their KPIs:")
    for owner, names in tree.owners().items():
        print(f"  {owner}: {', '.join(names)}")
    print("\nStatus against norms:")
    print(_indent(str(tree.status())))
    return 0


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


def _print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, ensure_ascii=False, indent=2, allow_nan=False)
    sys.stdout.write("\n")


def _parser() -> argparse.ArgumentParser:
    from kpitree.examples import EXAMPLES

    parser = argparse.ArgumentParser(
        prog="kpitree",
        description="Metric trees of KPIs with owners and influence horizons.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="show a bundled example tree",
        description="Show a bundled example tree with values, owners, horizons and norm status.",
        epilog="example:\n  kpitree demo --example sales_revenue",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--example", choices=sorted(EXAMPLES), default="qualified_leads")
    demo.add_argument("--json", action="store_true", help="machine-readable output")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except (InfeasibleGoalError, EvaluationError) as exc:
        return _fail(exc, 1, args.debug)
    except KPITreeError as exc:
        return _fail(exc, 2, args.debug)


def _fail(exc: KPITreeError, code: int, debug: bool) -> int:
    if debug:
        raise exc
    reason = str(exc).splitlines()[0]
    print(f"kpitree: {reason}", file=sys.stderr)
    return code

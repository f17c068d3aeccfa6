"""kpitree: metric trees of KPIs, each with an owner and an influence horizon.

A metric is a formula of KPIs; every KPI has an owner who can move it directly, fast.
kpitree evaluates such trees, differentiates them, answers what-if and goal-seek
questions, attributes changes to owners, and checks KPIs against their norms.

Examples:
    >>> import kpitree as kt
    >>> leads = kt.KPI("leads", owner="marketing", horizon="1 day", value=1000, unit="lead")
    >>> rate = kt.KPI("lead_to_ql", owner="sales", horizon="1 day", value=0.8, unit="%")
    >>> tree = kt.Tree(kt.Metric("qualified_leads", leads * rate, unit="lead"))
    >>> tree.evaluate()["qualified_leads"]
    800.0
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kpitree import errors
    from kpitree.analyses.calculus import Sensitivity
    from kpitree.analyses.goal import Cascade
    from kpitree.analyses.whatif import Comparison, Scenario, compare
    from kpitree.errors import (
        ArgumentError,
        BoundsError,
        CycleError,
        DuplicateNameError,
        EvaluationError,
        FormulaError,
        HorizonError,
        InfeasibleGoalError,
        KindError,
        KPITreeError,
        LimitError,
        MissingDependencyError,
        MissingValueError,
        NormError,
        UnitError,
        UnknownNameError,
        ValidationError,
        ValueTypeError,
    )
    from kpitree.language.functions import abs, exp, log, max, min, sqrt  # noqa: A004
    from kpitree.language.limits import Limits
    from kpitree.language.parser import parse_formula
    from kpitree.model.distributions import (
        PERT,
        Beta,
        Fixed,
        LogNormal,
        Normal,
        Triangular,
        Uniform,
    )
    from kpitree.model.horizon import Horizon
    from kpitree.model.nodes import KPI, Input, Metric, Node, Standard
    from kpitree.model.norm import AtLeast, AtMost, Between, Norm, parse_norm
    from kpitree.model.units import Unit
    from kpitree.tree import Tree, load, loads

# Public names and the module each lives in. They are imported on first use, so that
# `import kpitree` (and `kpitree --help`) costs almost nothing.
_WHERE = {
    "errors": "kpitree",
    **dict.fromkeys(("abs", "exp", "log", "max", "min", "sqrt"), "kpitree.language.functions"),
    "Horizon": "kpitree.model.horizon",
    **dict.fromkeys(
        ("Normal", "LogNormal", "Uniform", "Triangular", "PERT", "Beta", "Fixed"),
        "kpitree.model.distributions",
    ),
    "Limits": "kpitree.language.limits",
    **dict.fromkeys(("KPI", "Input", "Metric", "Node", "Standard"), "kpitree.model.nodes"),
    **dict.fromkeys(("AtLeast", "AtMost", "Between", "Norm", "parse_norm"), "kpitree.model.norm"),
    "parse_formula": "kpitree.language.parser",
    "Tree": "kpitree.tree",
    "Unit": "kpitree.model.units",
    **dict.fromkeys(("Scenario", "Comparison", "compare"), "kpitree.analyses.whatif"),
    "Sensitivity": "kpitree.analyses.calculus",
    "Cascade": "kpitree.analyses.goal",
    **dict.fromkeys(("load", "loads"), "kpitree.tree"),
    **dict.fromkeys(
        (
            "CycleError",
            "ArgumentError",
            "BoundsError",
            "DuplicateNameError",
            "KindError",
            "EvaluationError",
            "FormulaError",
            "HorizonError",
            "InfeasibleGoalError",
            "KPITreeError",
            "LimitError",
            "MissingDependencyError",
            "MissingValueError",
            "NormError",
            "UnitError",
            "UnknownNameError",
            "ValidationError",
            "ValueTypeError",
        ),
        "kpitree.errors",
    ),
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'kpitree' has no attribute {name!r}")
    module = importlib.import_module(f"kpitree.{name}" if where == "kpitree" else where)
    value = module if where == "kpitree" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


__version__ = "0.1.0.dev0"

__all__ = [
    "KPI",
    "PERT",
    "ArgumentError",
    "AtLeast",
    "AtMost",
    "Beta",
    "Between",
    "BoundsError",
    "Cascade",
    "Comparison",
    "CycleError",
    "DuplicateNameError",
    "EvaluationError",
    "Fixed",
    "FormulaError",
    "Horizon",
    "HorizonError",
    "InfeasibleGoalError",
    "Input",
    "KPITreeError",
    "KindError",
    "LimitError",
    "Limits",
    "LogNormal",
    "Metric",
    "MissingDependencyError",
    "MissingValueError",
    "Node",
    "Norm",
    "NormError",
    "Normal",
    "Scenario",
    "Sensitivity",
    "Standard",
    "Tree",
    "Triangular",
    "Uniform",
    "Unit",
    "UnitError",
    "UnknownNameError",
    "ValidationError",
    "ValueTypeError",
    "abs",
    "compare",
    "errors",
    "exp",
    "load",
    "loads",
    "log",
    "max",
    "min",
    "parse_formula",
    "parse_norm",
    "sqrt",
]

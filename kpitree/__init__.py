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

from kpitree import errors
from kpitree.core.functions import abs, exp, log, max, min, sqrt  # noqa: A004 - kt.min is the formula language's
from kpitree.core.horizon import Horizon
from kpitree.core.limits import Limits
from kpitree.core.nodes import KPI, Input, Metric, Node, Standard
from kpitree.core.norm import AtLeast, AtMost, Between, Norm, parse_norm
from kpitree.core.parser import parse_formula
from kpitree.core.tree import Tree
from kpitree.core.units import Unit
from kpitree.errors import (
    CycleError,
    EvaluationError,
    FormulaError,
    HorizonError,
    InfeasibleGoalError,
    KPITreeError,
    LimitError,
    MissingValueError,
    NormError,
    UnitError,
    UnknownNameError,
    ValidationError,
    ValueTypeError,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "KPI",
    "AtLeast",
    "AtMost",
    "Between",
    "CycleError",
    "EvaluationError",
    "FormulaError",
    "Horizon",
    "HorizonError",
    "InfeasibleGoalError",
    "Input",
    "KPITreeError",
    "LimitError",
    "Limits",
    "Metric",
    "MissingValueError",
    "Node",
    "Norm",
    "NormError",
    "Standard",
    "Tree",
    "Unit",
    "UnitError",
    "UnknownNameError",
    "ValidationError",
    "ValueTypeError",
    "abs",
    "errors",
    "exp",
    "log",
    "max",
    "min",
    "parse_formula",
    "parse_norm",
    "sqrt",
]

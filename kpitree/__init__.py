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

if TYPE_CHECKING:  # for type checkers; tests/test_architecture.py keeps it equal to _PUBLIC
    from kpitree import errors as errors
    from kpitree import i18n as i18n
    from kpitree.analyses.calculus import Sensitivity as Sensitivity
    from kpitree.analyses.goal import Cascade as Cascade
    from kpitree.analyses.scorecard import Payout as Payout
    from kpitree.analyses.whatif import Comparison as Comparison
    from kpitree.analyses.whatif import Scenario as Scenario
    from kpitree.analyses.whatif import compare as compare
    from kpitree.errors import ArgumentError as ArgumentError
    from kpitree.errors import BoundsError as BoundsError
    from kpitree.errors import CycleError as CycleError
    from kpitree.errors import DefaultsWarning as DefaultsWarning
    from kpitree.errors import DuplicateNameError as DuplicateNameError
    from kpitree.errors import EvaluationError as EvaluationError
    from kpitree.errors import FormulaError as FormulaError
    from kpitree.errors import HorizonError as HorizonError
    from kpitree.errors import InfeasibleGoalError as InfeasibleGoalError
    from kpitree.errors import KindError as KindError
    from kpitree.errors import KPITreeError as KPITreeError
    from kpitree.errors import KPITreeWarning as KPITreeWarning
    from kpitree.errors import LimitError as LimitError
    from kpitree.errors import MissingDependencyError as MissingDependencyError
    from kpitree.errors import MissingValueError as MissingValueError
    from kpitree.errors import NormError as NormError
    from kpitree.errors import SpellingWarning as SpellingWarning
    from kpitree.errors import UnitError as UnitError
    from kpitree.errors import UnknownNameError as UnknownNameError
    from kpitree.errors import ValidationError as ValidationError
    from kpitree.errors import ValueTypeError as ValueTypeError
    from kpitree.i18n import locale as locale
    from kpitree.i18n import set_locale as set_locale
    from kpitree.language.functions import abs as abs  # noqa: A004
    from kpitree.language.functions import exp as exp
    from kpitree.language.functions import log as log
    from kpitree.language.functions import max as max  # noqa: A004
    from kpitree.language.functions import min as min  # noqa: A004
    from kpitree.language.functions import sqrt as sqrt
    from kpitree.language.limits import Limits as Limits
    from kpitree.language.parser import parse_formula as parse_formula
    from kpitree.model.distributions import PERT as PERT
    from kpitree.model.distributions import Beta as Beta
    from kpitree.model.distributions import Fixed as Fixed
    from kpitree.model.distributions import LogNormal as LogNormal
    from kpitree.model.distributions import Normal as Normal
    from kpitree.model.distributions import Triangular as Triangular
    from kpitree.model.distributions import Uniform as Uniform
    from kpitree.model.horizon import Horizon as Horizon
    from kpitree.model.nodes import KPI as KPI
    from kpitree.model.nodes import Input as Input
    from kpitree.model.nodes import Metric as Metric
    from kpitree.model.nodes import Node as Node
    from kpitree.model.nodes import Standard as Standard
    from kpitree.model.norm import AtLeast as AtLeast
    from kpitree.model.norm import AtMost as AtMost
    from kpitree.model.norm import Between as Between
    from kpitree.model.norm import Norm as Norm
    from kpitree.model.norm import parse_norm as parse_norm
    from kpitree.model.units import Unit as Unit
    from kpitree.tree import Tree as Tree
    from kpitree.tree import from_metricflow as from_metricflow
    from kpitree.tree import load as load
    from kpitree.tree import loads as loads
    from kpitree.tree import read_xlsx as read_xlsx

#: The public names, by the module each lives in: the one list. Each is imported on first
#: use, so that `import kpitree` (and `kpitree --help`) costs almost nothing.
_PUBLIC: dict[str, tuple[str, ...]] = {
    "kpitree.tree": (
        "Tree",
        "from_metricflow",
        "load",
        "loads",
        "read_xlsx",
    ),
    "kpitree.model.nodes": (
        "KPI",
        "Input",
        "Metric",
        "Node",
        "Standard",
    ),
    "kpitree.language.functions": (
        "abs",
        "exp",
        "log",
        "max",
        "min",
        "sqrt",
    ),
    "kpitree.language.parser": ("parse_formula",),
    "kpitree.language.limits": ("Limits",),
    "kpitree.model.horizon": ("Horizon",),
    "kpitree.model.norm": (
        "AtLeast",
        "AtMost",
        "Between",
        "Norm",
        "parse_norm",
    ),
    "kpitree.model.units": ("Unit",),
    "kpitree.model.distributions": (
        "Normal",
        "LogNormal",
        "Uniform",
        "Triangular",
        "PERT",
        "Beta",
        "Fixed",
    ),
    "kpitree.analyses.whatif": (
        "Scenario",
        "Comparison",
        "compare",
    ),
    "kpitree.analyses.calculus": ("Sensitivity",),
    "kpitree.analyses.goal": ("Cascade",),
    "kpitree.analyses.scorecard": ("Payout",),
    "kpitree.i18n": (
        "locale",
        "set_locale",
    ),
    "kpitree.errors": (
        "KPITreeError",
        "KPITreeWarning",
        "SpellingWarning",
        "DefaultsWarning",
        "ValidationError",
        "FormulaError",
        "LimitError",
        "HorizonError",
        "NormError",
        "UnitError",
        "ValueTypeError",
        "ArgumentError",
        "KindError",
        "BoundsError",
        "DuplicateNameError",
        "CycleError",
        "UnknownNameError",
        "MissingValueError",
        "MissingDependencyError",
        "EvaluationError",
        "InfeasibleGoalError",
    ),
}
_WHERE = {name: module for module, names in _PUBLIC.items() for name in names}
_WHERE["errors"] = "kpitree"
_WHERE["i18n"] = "kpitree"


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

__all__ = sorted(_WHERE)

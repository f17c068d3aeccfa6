"""The `Tree`: the validated graph with every analysis as a method, the library's front door.

Each method *is* the function of the layer below that does the work (`Tree.whatif` is
`kpitree.analyses.whatif.whatif`), bound to the tree: one definition, so the signature,
defaults and docstring a REPL user sees are the function's own. The modules are imported
on first use, so `import kpitree` and `kpitree --help` stay fast.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from types import MethodType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from kpitree.model.graph import Graph

if TYPE_CHECKING:
    from kpitree.analyses import attribution as _attribution
    from kpitree.analyses import calculus as _calculus
    from kpitree.analyses import goal as _goal
    from kpitree.analyses import scorecard as _scorecard
    from kpitree.analyses import status as _status
    from kpitree.analyses import tracking as _tracking
    from kpitree.analyses import uncertainty as _uncertainty
    from kpitree.analyses import whatif as _whatif
    from kpitree.backends import frames as _frames
    from kpitree.backends import sql as _sql
    from kpitree.backends import symbolic as _symbolic
    from kpitree.display import diagrams as _diagrams
    from kpitree.display import html as _html
    from kpitree.display import text as _text
    from kpitree.engine import evaluate as _evaluate
    from kpitree.io import metricflow as _metricflow
    from kpitree.io import model as _model
    from kpitree.io import xlsx as _xlsx
else:

    class _Lazy:
        """A module imported when one of its names is first looked up."""

        def __init__(self, name: str) -> None:
            self._name = name

        def __getattr__(self, name: str) -> Any:
            return getattr(importlib.import_module(self._name), name)

    _attribution = _Lazy("kpitree.analyses.attribution")
    _calculus = _Lazy("kpitree.analyses.calculus")
    _goal = _Lazy("kpitree.analyses.goal")
    _scorecard = _Lazy("kpitree.analyses.scorecard")
    _status = _Lazy("kpitree.analyses.status")
    _tracking = _Lazy("kpitree.analyses.tracking")
    _uncertainty = _Lazy("kpitree.analyses.uncertainty")
    _whatif = _Lazy("kpitree.analyses.whatif")
    _frames = _Lazy("kpitree.backends.frames")
    _sql = _Lazy("kpitree.backends.sql")
    _symbolic = _Lazy("kpitree.backends.symbolic")
    _diagrams = _Lazy("kpitree.display.diagrams")
    _html = _Lazy("kpitree.display.html")
    _text = _Lazy("kpitree.display.text")
    _evaluate = _Lazy("kpitree.engine.evaluate")
    _model = _Lazy("kpitree.io.model")
    _metricflow = _Lazy("kpitree.io.metricflow")
    _xlsx = _Lazy("kpitree.io.xlsx")

__all__ = ["Tree", "from_metricflow", "load", "loads", "read_xlsx"]

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")


class Delegate:
    """A method of `Tree` that is a function of a layer below, looked up on first use."""

    __slots__ = ("find", "func")

    def __init__(self, find: Callable[[], Callable[..., Any]]) -> None:
        self.find = find
        self.func: Callable[..., Any] | None = None

    def __get__(self, tree: Tree | None, owner: type | None = None) -> Any:
        func = self.func
        if func is None:
            func = self.func = self.find()
        return func if tree is None else MethodType(func, tree)


def _delegate(find: Callable[[], F]) -> F:
    # For type checkers the method is the function `find` returns, so every method has
    # the function's real signature and return type.
    return cast(F, Delegate(find))


class Tree(Graph):
    """A metric tree: metrics over KPIs and inputs, validated as a whole.

    Args:
        *nodes: the roots (usually the top metrics); every node they reach is collected.
            Give leaves or other metrics too when formulas are text that names them, or
            to fix the order. A `Tree` may be given to merge its nodes.

    Raises:
        ValidationError: several problems, each listed; or the single problem found
            (`CycleError`, `UnknownNameError`, `UnitError`, ...).

    Examples:
        >>> import kpitree as kt
        >>> leads = kt.KPI("leads", owner="marketing", horizon="1 day", value=1000)
        >>> rate = kt.KPI("lead_to_ql", owner="sales", horizon="1 day", value=0.8)
        >>> tree = kt.Tree(kt.Metric("qualified_leads", leads * rate))
        >>> tree.evaluate()["qualified_leads"]
        800.0
        >>> [k.name for k in tree.kpis], tree.owners()
        (['leads', 'lead_to_ql'], {'marketing': ('leads',), 'sales': ('lead_to_ql',)})
    """

    __slots__ = ()

    # -- values and views
    formula = _delegate(lambda: _symbolic.formula)
    evaluate = _delegate(lambda: _evaluate.evaluate)
    status = _delegate(lambda: _status.status)
    track = _delegate(lambda: _tracking.track)

    # -- calculus, what-if and goal seek
    partial = _delegate(lambda: _calculus.partial)
    gradient = _delegate(lambda: _calculus.gradient)
    elasticities = _delegate(lambda: _calculus.elasticities)
    sensitivity = _delegate(lambda: _calculus.sensitivity)
    whatif = _delegate(lambda: _whatif.whatif)
    solve = _delegate(lambda: _goal.solve)
    cascade = _delegate(lambda: _goal.cascade)
    levers = _delegate(lambda: _goal.levers)

    # -- attribution
    attribute = _delegate(lambda: _attribution.attribute)
    accountability = _delegate(lambda: _attribution.accountability)
    attribute_frame = _delegate(lambda: _attribution.attribute_frame)
    attribute_series = _delegate(lambda: _attribution.attribute_series)

    # -- motivation
    scorecard = _delegate(lambda: _scorecard.scorecard)

    # -- uncertainty
    simulate = _delegate(lambda: _uncertainty.simulate)
    sobol = _delegate(lambda: _uncertainty.sobol)
    tornado = _delegate(lambda: _uncertainty.tornado)

    # -- data and SQL
    evaluate_frame = _delegate(lambda: _frames.evaluate_frame)
    rollup = _delegate(lambda: _frames.rollup)
    to_sql = _delegate(lambda: _sql.to_sql)
    evaluate_sql = _delegate(lambda: _sql.evaluate_sql)

    # -- model files
    to_dict = _delegate(lambda: _model.to_dict)
    dumps = _delegate(lambda: _model.dumps)
    dump = _delegate(lambda: _model.dump)
    to_metricflow = _delegate(lambda: _metricflow.to_metricflow)
    to_xlsx = _delegate(lambda: _xlsx.to_xlsx)

    # -- pictures
    render = _delegate(lambda: _text.render)
    to_mermaid = _delegate(lambda: _diagrams.to_mermaid)
    to_dot = _delegate(lambda: _diagrams.to_dot)
    latex = _delegate(lambda: _html.latex)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tree:
        """Build a tree from the model-file schema (kpis, inputs, metrics)."""
        return cls._adopt(_model.from_dict(data))


def _returning_tree(read: Callable[P, Graph]) -> Callable[P, Tree]:
    """Wrap a model-file reader of `kpitree.io` so that it gives a `Tree`."""

    @functools.wraps(read)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Tree:
        return Tree._adopt(read(*args, **kwargs))

    return wrapper


if TYPE_CHECKING:
    load = _returning_tree(_model.load)
    loads = _returning_tree(_model.loads)
    from_metricflow = _returning_tree(_metricflow.from_metricflow)
    read_xlsx = _returning_tree(_xlsx.read_xlsx)
else:

    def __getattr__(name: str) -> Any:
        # `load` and `loads` are made on first use, so that `kt.Tree` does not import the
        # model-file readers.
        readers = {
            "load": _model,
            "loads": _model,
            "from_metricflow": _metricflow,
            "read_xlsx": _xlsx,
        }
        if name not in readers:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        made = globals()[name] = _returning_tree(getattr(readers[name], name))
        return made

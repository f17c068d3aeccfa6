"""Scorecards for the motivation system: per owner, the KPIs they own against plan, and a payout.

A card scores only what its owner owns: each KPI's fact against its plan (the `plan=`
value, else its norm's threshold) gives an achievement, the payout curve turns each
achievement into a payout, and the weights average both over the card. KPIs the owner
only influences (`influenced_by`) are listed on the card apart, never scored, so a
marketer is neither paid nor blamed for sales' conversion.

The rules, in one place:

- **Direction**: the KPI's own `direction`, else its norm's (`>=` higher is better, `<=`
  lower is better), else higher. A range norm (`0.7..0.9`) says neither way, so a KPI
  with one needs a `direction` of its own to be scored.
- **Plan**: the value in `plan=`; without one, the norm's threshold (for a range, its low
  end when higher is better, its high end when lower is better). A scored KPI with
  neither is an error.
- **Achievement**: ``fact / plan`` when higher is better, ``plan / fact`` when lower is
  better, so 1.0 (100%) means on plan and more is better either way; rounded to 12
  significant digits, so that a fact of exactly 80% of plan meets an 80% threshold. The plan must be
  positive (a ratio to zero or to a negative plan means nothing); when lower is better
  the fact must be positive too. These are errors, not guesses. When higher is better a
  fact of zero or below gives an achievement of zero or below, and a payout of 0.
- **Weights**: a positive weight per KPI (all of an owner's KPIs or none of them; none
  means equal weights), normalised per owner so that a card's weights sum to 1.
- **Score**: the card's achievement is the weighted mean of its KPIs' achievements (not
  capped); its payout the weighted mean of their payouts, each from the curve.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

import attrs

from kpitree.analyses.status import split_measurements
from kpitree.backends.frames import one_row, table_kind
from kpitree.errors import (
    ArgumentError,
    EvaluationError,
    KindError,
    KPITreeError,
    MissingValueError,
    UnknownNameError,
    ValueTypeError,
    did_you_mean,
    quoted,
    raise_all,
)
from kpitree.i18n import N_, _
from kpitree.model.nodes import KPI, Direction
from kpitree.model.norm import AtLeast, AtMost, Between
from kpitree.model.numbers import format_number, to_number
from kpitree.model.results import RowTable, format_value, table, text_width

if TYPE_CHECKING:
    from kpitree.model.graph import Graph

__all__ = ["Payout", "ScoreRow", "Scorecard", "Scorecards", "achievement", "scorecard"]

PlanSource = Literal["plan", "norm"]

_PAYOUT_FIELDS = (
    ("threshold", N_("payout threshold")),
    ("target", N_("payout target")),
    ("cap", N_("payout cap")),
    ("at_threshold", N_("payout at the threshold")),
    ("at_cap", N_("payout at the cap")),
)


@attrs.frozen(init=False)
class Payout:
    """A payout curve: what share of the target pay an achievement earns.

    Piecewise linear through three points: ``(threshold, at_threshold)``,
    ``(target, 1.0)`` and ``(cap, at_cap)``. Below the threshold the payout is 0; above
    the cap it stays at `at_cap`. Achievements and payouts are fractions (1.0 is 100%);
    text such as ``"80%"`` is read as 0.8.

    Args:
        threshold: the least achievement that pays anything.
        target: the achievement that pays the target pay (1.0).
        cap: the achievement above which the payout grows no more.
        at_threshold: the payout at the threshold.
        at_cap: the payout at the cap and above.

    Raises:
        ArgumentError: the achievements do not rise (``threshold < target < cap``), or
            the payouts fall (``0 <= at_threshold <= 1 <= at_cap``); every problem at once.
        ValueTypeError: a field that is not a finite number.

    Examples:
        >>> curve = Payout()
        >>> [round(curve(a), 9) for a in (0.79, 0.8, 0.9, 1.0, 1.1, 1.2, 2.0)]
        [0.0, 0.5, 0.75, 1.0, 1.25, 1.5, 1.5]
        >>> round(Payout(threshold="90%", target="100%", cap="110%")(0.95), 9)
        0.75
    """

    threshold: float
    target: float
    cap: float
    at_threshold: float
    at_cap: float

    def __init__(
        self,
        threshold: Any = 0.8,
        target: Any = 1.0,
        cap: Any = 1.2,
        at_threshold: Any = 0.5,
        at_cap: Any = 1.5,
    ) -> None:
        given = {
            "threshold": threshold,
            "target": target,
            "cap": cap,
            "at_threshold": at_threshold,
            "at_cap": at_cap,
        }
        problems: list[KPITreeError] = []
        fields: dict[str, float] = {}
        for name, what in _PAYOUT_FIELDS:
            try:
                fields[name] = to_number(given[name], what=_(what))
            except KPITreeError as exc:
                problems.append(exc)
        raise_all(problems)
        raise_all(_curve_problems(**fields))
        self.__attrs_init__(**fields)

    def __call__(self, achievement: float) -> float:
        """Return the payout for `achievement` (NaN for NaN)."""
        a = achievement
        if math.isnan(a):
            return math.nan
        if a < self.threshold:
            return 0.0
        if a >= self.cap:
            return self.at_cap
        # Each piece is rounded to 12 significant digits, as achievements are (1.1 pays
        # 125%, not 125.00000000000002%), then clamped to its own range: rounding at a
        # joint never makes the curve dip, so it is non-decreasing everywhere.
        if a <= self.target:
            x0, x1, y0, y1 = self.threshold, self.target, self.at_threshold, 1.0
        else:
            x0, x1, y0, y1 = self.target, self.cap, 1.0, self.at_cap
        value = y0 + (a - x0) / (x1 - x0) * (y1 - y0)
        return min(y1, max(y0, _significant(value)))

    @property
    def points(self) -> tuple[tuple[float, float], ...]:
        """The three points the curve runs through, as ``(achievement, payout)``."""
        return ((self.threshold, self.at_threshold), (self.target, 1.0), (self.cap, self.at_cap))

    def to_dict(self) -> dict[str, float]:
        """Return the five numbers of the curve."""
        return attrs.asdict(self)

    def __str__(self) -> str:
        return _(
            "payout curve: 0 below {threshold} achieved; {at_threshold} at {threshold}, "
            "{full} at {target}, {at_cap} at {cap} and above; linear between"
        ).format(
            threshold=_pct(self.threshold),
            at_threshold=_pct(self.at_threshold),
            full=_pct(1.0),
            target=_pct(self.target),
            cap=_pct(self.cap),
            at_cap=_pct(self.at_cap),
        )


def _curve_problems(
    threshold: float, target: float, cap: float, at_threshold: float, at_cap: float
) -> list[KPITreeError]:
    """Every way the curve's points fail to rise, each an error naming the fields."""
    problems: list[KPITreeError] = []
    rising = _("achievements must rise: threshold < target < cap (e.g. 80%, 100%, 120%)")
    for low, high, low_name, high_name in (
        (threshold, target, "threshold", "target"),
        (target, cap, "target", "cap"),
    ):
        if not low < high:
            problems.append(
                ArgumentError(
                    _(
                        "the payout curve does not rise: `{low_name}` {low} is not below "
                        "`{high_name}` {high}"
                    ).format(
                        low_name=low_name, low=_pct(low), high_name=high_name, high=_pct(high)
                    ),
                    hint=rising,
                )
            )
    falling = _("payouts must not fall: 0 <= at_threshold <= 100% (the payout at target) <= at_cap")
    if at_threshold < 0:
        problems.append(
            ArgumentError(
                _("the payout at the threshold is {value}, below 0").format(
                    value=_pct(at_threshold)
                ),
                hint=falling,
            )
        )
    if at_threshold > 1.0:
        problems.append(
            ArgumentError(
                _("the payout at the threshold is {value}, above the 100% paid at target").format(
                    value=_pct(at_threshold)
                ),
                hint=falling,
            )
        )
    if at_cap < 1.0:
        problems.append(
            ArgumentError(
                _("the payout at the cap is {value}, below the 100% paid at target").format(
                    value=_pct(at_cap)
                ),
                hint=falling,
            )
        )
    return problems


def _significant(x: float) -> float:
    """`x` to 12 significant digits: what a division rounded off is put back."""
    return float(f"{x:.12g}")


def _pct(x: float | None) -> str:
    return "—" if x is None else format_number(x, percent=True)


def achievement(fact: float, plan: float, direction: Direction, *, name: str = "") -> float:
    """Return how far `fact` reached `plan`: 1.0 is on plan, more is better either way.

    ``fact / plan`` when higher is better, ``plan / fact`` when lower is better.

    Raises:
        ArgumentError: the plan is zero or negative; or lower is better and the fact is
            zero or negative (the ratio means nothing there).
        EvaluationError: the ratio overflows.

    Examples:
        >>> achievement(1100, 1000, "higher"), achievement(12, 15, "lower")
        (1.1, 1.25)
        >>> achievement(5, 0, "higher", name="leads")
        Traceback (most recent call last):
        ...
        kpitree.errors.ArgumentError: the plan of `leads` is 0: achievement is a ratio ...
        hint: ...
    """
    label = f"`{name}`"
    if not plan > 0:
        raise ArgumentError(
            _(
                "the plan of {name} is {plan}: achievement is a ratio to the plan, "
                "which must be positive"
            ).format(name=label, plan=format_number(plan)),
            hint=_(
                "achievement is fact ÷ plan (plan ÷ fact when lower is better); "
                "give {name} a positive plan"
            ).format(name=label),
            names=[name] if name else (),
        )
    if direction == "lower" and not fact > 0:
        raise ArgumentError(
            _(
                "the fact of {name} is {fact}: lower is better, so achievement is plan ÷ fact, "
                "which needs a positive fact"
            ).format(name=label, fact=format_number(fact)),
            hint=_(
                "a KPI that can reach 0 at its best (defects, missed calls) has no ratio "
                "to a plan: score its complement (the share done right) instead"
            ),
            names=[name] if name else (),
        )
    value = fact / plan if direction == "higher" else plan / fact
    if math.isfinite(value):
        # A division rounds: 0.04 / 0.05 is 0.7999999999999999. Twelve significant digits
        # keep every real difference and put a fact that is exactly 80% of its plan on the
        # curve's 80% point, not one rounding below it (where it would pay nothing).
        return _significant(value)
    raise EvaluationError(
        _("the achievement of {name} ({fact} against a plan of {plan}) overflows").format(
            name=label, fact=format_number(fact), plan=format_number(plan)
        ),
        names=[name] if name else (),
    )


@attrs.frozen
class ScoreRow:
    """One KPI on a card: fact, plan, achievement and, when it counts, weight and payout.

    Attributes:
        owner: the KPI's owner (for an influenced KPI, not the card's owner).
        scored: True when the card's owner owns the KPI and it counts toward the card.
        plan_from: `"plan"` (given in `plan=`) or `"norm"` (the norm's threshold); None
            for an influenced KPI with neither.
        achievement: fact ÷ plan (plan ÷ fact when lower is better); None when unknown
            (an influenced KPI without fact or plan).
        weight: the normalised weight (a card's weights sum to 1); None when not scored.
        payout: the curve's payout for the achievement; None when not scored.
    """

    name: str
    owner: str
    scored: bool
    direction: Direction | None
    fact: float | None
    plan: float | None
    plan_from: PlanSource | None
    achievement: float | None
    weight: float | None = None
    payout: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the row as plain data."""
        return attrs.asdict(self)


@attrs.frozen(repr=False)
class Scorecard(RowTable):
    """One owner's card: the KPIs they own, scored; the KPIs they influence, apart.

    Iterating gives the scored rows; `card[name]` looks one up.

    Attributes:
        owner: whose card it is.
        rows_: the KPIs the owner owns, in tree order: these count.
        influenced: the KPIs the owner only influences: shown, never scored.
        achievement: the weighted mean achievement; None with nothing to score.
        payout: the weighted mean payout; None with nothing to score.
        curve: the payout curve used.
    """

    owner: str
    rows_: tuple[ScoreRow, ...]
    influenced: tuple[ScoreRow, ...]
    achievement: float | None
    payout: float | None
    curve: Payout
    tree: Graph = attrs.field(eq=False)

    def _row_role(self) -> str:
        return _("KPI on the card of `{owner}` named").format(owner=self.owner)

    def headline(self) -> str:
        """The card in one line: owner, achievement and payout."""
        if self.achievement is None:
            return _("{owner}: no KPI of their own to score").format(owner=self.owner)
        return _("{owner}: achievement {achievement}, payout {payout}").format(
            owner=self.owner, achievement=_pct(self.achievement), payout=_pct(self.payout)
        )

    def __str__(self) -> str:
        lines = [self.headline()]
        body = [self._cells(r) for r in (*self.rows_, *self.influenced)]
        if body:
            header = [_("KPI"), _("fact"), _("plan"), _("achieved"), _("weight"), _("payout")]
            lines.append(_indent(table(body, header, align="lrrrrr")))
        width = text_width() - 2
        lines.extend(
            _indent(textwrap.fill(note, width, break_long_words=False)) for note in self._notes()
        )
        return "\n".join(lines)

    def _cells(self, r: ScoreRow) -> list[str]:
        name = r.name + (" ↓" if r.direction == "lower" else "")
        if not r.scored:
            name = _("{name} (influenced)").format(name=name)
        plan = format_value(r.plan, self.tree, r.name)
        if r.plan_from == "norm":
            plan = _("{value} (norm)").format(value=plan)
        return [
            name,
            format_value(r.fact, self.tree, r.name),
            plan,
            _pct(r.achievement),
            "" if r.weight is None else _pct(r.weight),
            "" if r.payout is None else _pct(r.payout),
        ]

    def _notes(self) -> list[str]:
        notes = []
        if any(r.direction == "lower" for r in (*self.rows_, *self.influenced)):
            notes.append(_("↓ lower is better: achieved = plan ÷ fact"))
        if self.influenced:
            owned = ", ".join(f"{r.name}: {r.owner}" for r in self.influenced)
            notes.append(
                _("(influenced): owned elsewhere ({owned}); shown, not scored").format(owned=owned)
            )
        return notes

    def to_dict(self) -> dict[str, Any]:
        """Return the card as plain data: owner, score, scored and influenced KPIs."""
        return {
            "owner": self.owner,
            "achievement": self.achievement,
            "payout": self.payout,
            "kpis": [r.to_dict() for r in self.rows_],
            "influenced": [r.to_dict() for r in self.influenced],
        }

    def rows(self) -> list[dict[str, Any]]:
        """Return one record per KPI on the card, scored ones first."""
        return [{"card": self.owner, **r.to_dict()} for r in (*self.rows_, *self.influenced)]


@attrs.frozen(repr=False)
class Scorecards(RowTable):
    """The cards of the owners asked for; `cards[owner]` is one `Scorecard`.

    Attributes:
        rows_: one card per owner, in the order of the tree's owners.
        curve: the payout curve every card used.
    """

    _row_key = "owner"
    rows_: tuple[Scorecard, ...]
    curve: Payout
    tree: Graph = attrs.field(eq=False)

    def __iter__(self) -> Iterator[Scorecard]:
        return iter(self.rows_)

    def _row_role(self) -> str:
        return _("scorecard for the owner")

    @property
    def payouts(self) -> dict[str, float | None]:
        """`{owner: payout}` of every card (None for a card with nothing scored)."""
        return {card.owner: card.payout for card in self.rows_}

    def __str__(self) -> str:
        parts = [str(card) for card in self.rows_]
        parts.append(textwrap.fill(str(self.curve), text_width(), break_long_words=False))
        return "\n\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Return `{"curve": {...}, "cards": [...]}`."""
        return {"curve": self.curve.to_dict(), "cards": [c.to_dict() for c in self.rows_]}

    def rows(self) -> list[dict[str, Any]]:
        """Return one record per (card, KPI): scored and influenced KPIs of every card."""
        return [record for card in self.rows_ for record in card.rows()]


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" if line else line for line in text.splitlines())


# -- computing the cards ----------------------------------------------------------------------


def scorecard(
    tree: Graph,
    owner: str | Iterable[str] | None = None,
    *,
    fact: Any,
    plan: Any = None,
    weights: Mapping[str, Any] | None = None,
    payout: Payout | None = None,
) -> Scorecards:
    """Score each owner on the KPIs they own: fact against plan, weighted, through a payout curve.

    See the module's documentation for the rules (direction, plan, achievement, weights).

    Args:
        tree: the tree.
        owner: an owner, several, or None for every owner of a KPI, in tree order. An
            owner who only influences KPIs gets a card with nothing scored.
        fact: the period's values: a mapping of leaf values (`"80%"` is 0.8), or one row
            of a pandas or polars DataFrame. KPIs not in it keep their
            default value; measurements of standards are accepted and not scored.
        plan: planned values of KPIs, the same kinds as `fact`; a KPI without a plan is
            measured against its norm's threshold. Targets of metrics may be there too
            (a plan table has them); cards score KPIs only.
        weights: `{kpi: weight}`, each positive; per owner all their KPIs or none
            (none: equal weights). Normalised per owner.
        payout: the payout curve; None is `Payout()` (80% / 100% / 120% paying
            50% / 100% / 150%).

    Raises:
        UnknownNameError: an owner, or a name in `fact`, `plan` or `weights`, that the
            tree does not have.
        KindError: a weight for a node that is not a KPI.
        MissingValueError: a scored KPI without a fact, or without a plan and a norm.
        ArgumentError: a weight that is not positive, weights for some of an owner's KPIs
            only, a plan of zero or below, a lower-is-better fact of zero or below, a
            range norm without a direction.

    Examples:
        >>> from kpitree.examples import qualified_leads
        >>> cards = qualified_leads().scorecard(
        ...     fact={"leads": 1100, "lead_to_ql": "76%"}, plan={"leads": 1000})
        >>> card = cards["marketing"]
        >>> card.achievement, round(card.payout, 3)
        (1.1, 1.25)
        >>> [r.name for r in cards["marketing"].influenced], round(cards["sales"].payout, 3)
        (['lead_to_ql'], 0.875)
    """
    owners = _owners(tree, owner)
    facts = _facts(tree, fact)
    plans = _plans(tree, plan)
    weighting = _weights(tree, weights)
    if payout is None:
        payout = Payout()
    elif not isinstance(payout, Payout):
        raise ValueTypeError(
            _("payout must be a kt.Payout curve, got {value}").format(value=quoted(payout)),
            hint=_(
                "e.g. kt.Payout(threshold=0.8, target=1.0, cap=1.2, at_threshold=0.5, at_cap=1.5)"
            ),
        )
    problems: list[KPITreeError] = []
    cards = []
    for role in owners:
        owned = [k for k in tree.kpis if k.owner == role]
        shared = [k for k in tree.kpis if role in k.influenced_by and k.owner != role]
        shares = _shares(role, owned, weighting, problems)
        rows: list[ScoreRow | None] = []
        for kpi in owned:
            row = _row(tree, kpi, facts, plans, problems, scored=True)
            if row is not None and shares is not None:
                share = shares[kpi.name]
                row = attrs.evolve(row, weight=share, payout=payout(row.achievement))  # type: ignore[arg-type]
            rows.append(row)
        influenced = [_row(tree, kpi, facts, plans, problems, scored=False) for kpi in shared]
        if problems:
            continue
        done = [r for r in rows if r is not None]
        total = _weighted(done, "achievement")
        cards.append(
            Scorecard(
                owner=role,
                rows_=tuple(done),
                influenced=tuple(r for r in influenced if r is not None),
                achievement=total,
                payout=_weighted(done, "payout"),
                curve=payout,
                tree=tree,
            )
        )
    raise_all(_unique(problems))
    return Scorecards(tuple(cards), payout, tree)


def _unique(problems: list[KPITreeError]) -> list[KPITreeError]:
    """The problems without repeats (a KPI on two cards is one problem)."""
    seen: set[str] = set()
    out = []
    for p in problems:
        if str(p) not in seen:
            seen.add(str(p))
            out.append(p)
    return out


def _weighted(rows: list[ScoreRow], field: str) -> float | None:
    if not rows:
        return None
    return math.fsum(r.weight * getattr(r, field) for r in rows)


def _owners(tree: Graph, owner: str | Iterable[str] | None) -> list[str]:
    owning = list(tree.owners())
    if owner is None:
        return owning
    single = isinstance(owner, str) or not isinstance(owner, Iterable)
    asked: list[Any] = [owner] if single else list(owner)
    known = {*owning, *(role for k in tree.kpis for role in k.influenced_by)}
    problems: list[KPITreeError] = []
    for role in asked:
        if not isinstance(role, str):
            problems.append(
                ValueTypeError(_("an owner must be text, got {value}").format(value=quoted(role)))
            )
        elif role not in known:
            problems.append(
                UnknownNameError(
                    _("`{owner}` neither owns nor influences a KPI of the tree").format(owner=role),
                    hint=did_you_mean(role, known)
                    or _("the owners are: {owners}").format(owners=", ".join(owning)),
                    names=[role],
                )
            )
    raise_all(problems)
    return list(dict.fromkeys(asked))


def _one_row(tree: Graph, given: Any, label: str, *, measured: bool = False) -> dict[str, Any]:
    """A mapping of values from a mapping, or from one row of a pandas or polars frame.

    A frame's columns that name nothing in the tree (a period, a segment) are left out;
    with `measured`, columns of measured standards are kept.
    """
    if given is None:
        return {}
    if table_kind(given) == "mapping":
        return dict(given)
    row = one_row(
        given,
        label,
        hint=_("pick the row of one period"),
        refusal=_("`{label}` must be a mapping of values or one row of a DataFrame, got {type}"),
    )
    standards = {s.name for k in tree.kpis for s in k.standards if s.name is not None}
    return {str(k): v for k, v in row.items() if k in tree or (measured and k in standards)}


def _facts(tree: Graph, fact: Any) -> dict[str, float | None]:
    values = _one_row(tree, fact, "fact", measured=True)
    try:
        leaves, _measured = split_measurements(tree, values)
        checked = tree.check_values(leaves)
    except KPITreeError as exc:
        raise exc.located(_("the `fact` values")) from None
    return {leaf.name: checked.get(leaf.name, leaf.value) for leaf in tree.leaves}


def _plans(tree: Graph, plan: Any) -> dict[str, float]:
    values = _one_row(tree, plan, "plan")
    problems: list[KPITreeError] = []
    out: dict[str, float] = {}
    for name, value in values.items():
        if name not in tree:
            problems.append(
                UnknownNameError(
                    _("the plan names `{name}`, which the tree does not have").format(name=name),
                    hint=did_you_mean(str(name), tree.names),
                    names=[str(name)],
                )
            )
            continue
        try:
            out[name] = to_number(value, what=_("plan of {name}").format(name=f"`{name}`"))
        except KPITreeError as exc:
            problems.append(exc)
    raise_all(problems)
    return out


def _weights(tree: Graph, weights: Mapping[str, Any] | None) -> dict[str, float]:
    if weights is None:
        return {}
    if not isinstance(weights, Mapping):
        raise ValueTypeError(
            _("weights must be a mapping of KPI names to numbers, got {type}").format(
                type=type(weights).__name__
            )
        )
    problems: list[KPITreeError] = []
    out: dict[str, float] = {}
    kpis = [k.name for k in tree.kpis]
    for name, value in weights.items():
        if name not in tree:
            problems.append(
                UnknownNameError(
                    _("a weight is given for `{name}`, which the tree does not have").format(
                        name=name
                    ),
                    hint=did_you_mean(str(name), kpis),
                    names=[str(name)],
                )
            )
            continue
        if not isinstance(tree[name], KPI):
            problems.append(
                KindError(
                    _("a weight is given for `{name}`, a {kind}; cards score KPIs").format(
                        name=name, kind=_(tree[name].kind)
                    ),
                    hint=_("weigh the KPIs of a card: {kpis}").format(kpis=", ".join(kpis)),
                    names=[name],
                )
            )
            continue
        try:
            number = to_number(value, what=_("weight of {name}").format(name=f"`{name}`"))
        except KPITreeError as exc:
            problems.append(exc)
            continue
        if not number > 0:
            problems.append(
                ArgumentError(
                    _("the weight of `{name}` is {value}; weights must be positive").format(
                        name=name, value=format_number(number)
                    ),
                    hint=_(
                        "a card scores every KPI its owner owns: give one that should count "
                        "little a small positive weight"
                    ),
                    names=[name],
                )
            )
            continue
        out[name] = number
    raise_all(problems)
    return out


def _shares(
    role: str, owned: list[KPI], weights: Mapping[str, float], problems: list[KPITreeError]
) -> dict[str, float] | None:
    """Each owned KPI's share of the card: its weight over the sum of the card's weights."""
    given = [k.name for k in owned if k.name in weights]
    if not given:
        return {k.name: 1.0 / len(owned) for k in owned}
    missing = [k.name for k in owned if k.name not in weights]
    if missing:
        problems.append(
            ArgumentError(
                _("weights are given for some KPIs of `{owner}` but not for {missing}").format(
                    owner=role, missing=", ".join(f"`{m}`" for m in missing)
                ),
                hint=_("weigh every KPI of the card, or none of them for equal weights"),
                names=missing,
            )
        )
        return None
    total = math.fsum(weights[name] for name in given)
    return {name: weights[name] / total for name in given}


def _row(
    tree: Graph,
    kpi: KPI,
    facts: Mapping[str, float | None],
    plans: Mapping[str, float],
    problems: list[KPITreeError],
    *,
    scored: bool,
) -> ScoreRow | None:
    """The KPI's row, or None after adding its problems (only scored KPIs must be complete)."""
    name = kpi.name
    direction = tree.direction(name)
    fact = facts[name]
    planned, source = _plan_of(kpi, direction, plans)
    found: list[KPITreeError] = []
    if direction is None and scored:
        found.append(
            ArgumentError(
                _(
                    "the norm `{norm}` of `{name}` is a range: it says neither whether higher "
                    "nor lower is better"
                ).format(norm=kpi.norm, name=name),
                hint=_('give `{name}` direction="higher" or direction="lower"').format(name=name),
                names=[name],
            )
        )
    if scored and fact is None:
        found.append(
            MissingValueError(
                _("`{name}` of `{owner}` has no fact to score").format(name=name, owner=kpi.owner),
                hint=_("give its value in `fact`"),
                names=[name],
            )
        )
    if scored and planned is None and direction is not None:
        found.append(
            MissingValueError(
                _("`{name}` of `{owner}` has neither a plan nor a norm to score against").format(
                    name=name, owner=kpi.owner
                ),
                hint=_("give its plan in `plan`, or give the KPI a norm"),
                names=[name],
            )
        )
    if found:
        problems.extend(found)
        return None
    achieved = None
    if fact is not None and planned is not None and direction is not None:
        try:
            achieved = achievement(fact, planned, direction, name=name)
        except KPITreeError as exc:
            if source == "norm":
                exc = exc.located(_("the norm of `{name}`").format(name=name))
            problems.append(exc)
            return None
    return ScoreRow(
        name=name,
        owner=kpi.owner,
        scored=scored,
        direction=direction,
        fact=fact,
        plan=planned,
        plan_from=source,
        achievement=achieved,
    )


def _plan_of(
    kpi: KPI, direction: Direction | None, plans: Mapping[str, float]
) -> tuple[float | None, PlanSource | None]:
    """The KPI's plan and where it came from: `plan=`, else its norm's threshold."""
    if kpi.name in plans:
        return plans[kpi.name], "plan"
    norm = kpi.norm
    if isinstance(norm, AtLeast | AtMost):
        return norm.threshold, "norm"
    if isinstance(norm, Between) and direction is not None:
        return (norm.low if direction == "higher" else norm.high), "norm"
    return None, None

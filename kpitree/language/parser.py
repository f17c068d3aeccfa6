"""The formula language: text to expressions, by kpitree's own tokenizer and parser.

Formula text comes from model files and other people. It is never handed to `eval`,
`sympify` or Python's parser: a small tokenizer accepts numbers, names, the operators of
the grammar table and the language's functions, and anything else stops with a caret
under the offending character.

| level | operators           | associativity |
|-------|---------------------|---------------|
| 1     | `+` `-`             | left          |
| 2     | `*` `/`             | left          |
| 3     | unary `-` `+`       | prefix        |
| 4     | `**` (also `^`)     | right         |

Numbers: `12`, `0.8`, `.5`, `1e6`, `1_000`, `80%` (= 0.8). Names: Unicode identifiers.
Functions: `min`, `max` (two or more arguments), `abs`, `log`, `exp`, `sqrt`.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple, NoReturn

from kpitree.errors import FormulaError, KPITreeError, LimitError, did_you_mean
from kpitree.i18n import N_, _, ngettext
from kpitree.language.expr import (
    Call,
    Const,
    Div,
    Expr,
    Pow,
    Ref,
    Sub,
    add,
    arity_reason,
    check_formula,
    check_name,
    depth_error,
    mul,
    negate,
)
from kpitree.language.limits import DEFAULT_LIMITS, Limits, check_name_length, shown
from kpitree.language.table import FORMULA_FUNCTIONS as FUNCTIONS

__all__ = ["parse_formula"]

_NUMBER = re.compile(r"(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_SPACE = re.compile(r"\s+")
# Operators, longest first; typographic forms pasted from documents are accepted too.
_OPERATORS = {
    "**": "**",
    "^": "**",
    "+": "+",
    "-": "-",
    "−": "-",
    "*": "*",
    "×": "*",
    "·": "*",
    "/": "/",
    "(": "(",
    ")": ")",
    ",": ",",
}
_MISTAKES = {  # hints, translated where shown
    "=": N_("a formula is a right-hand side only: write `leads * rate`, not `ql = leads * rate`"),
    "<": N_('comparisons are not formulas; a threshold is a norm (`norm: ">= 0.8"`)'),
    ">": N_('comparisons are not formulas; a threshold is a norm (`norm: ">= 0.8"`)'),
    "%": N_("`%` only follows a number (`80%` is 0.8); there is no remainder operator"),
    ".": N_("there are no attributes or methods in formulas; names are plain identifiers"),
    "[": N_("there is no indexing in formulas"),
    "'": N_("there is no text in formulas; names are written without quotes"),
    '"': N_("there is no text in formulas; names are written without quotes"),
}


class _Token(NamedTuple):
    kind: str  # "number", "name", an operator, or "end"
    text: str
    start: int
    end: int
    value: float | int = 0


# The operators by their first character; a two-character operator is looked up first.
_LONG_OPERATORS = {op: kind for op, kind in _OPERATORS.items() if len(op) == 2}
_NAME_RUN = re.compile(r"\w+")


def _tokenize(text: str, limits: Limits) -> list[_Token]:
    tokens: list[_Token] = []
    append = tokens.append
    pos, size = 0, len(text)
    while pos < size:
        ch = text[pos]
        if ch == " " or ch.isspace():
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
            continue
        if number := _NUMBER.match(text, pos):
            end = number.end()
            value = _number(text, pos, end)
            rest = _SPACE.match(text, end)
            after = rest.end() if rest else end
            if after < size and text[after] == "%":
                value, end = value / 100, after + 1
            append(_Token("number", text[pos:end], pos, end, value))
            pos = end
        elif ch.isidentifier() or ch == "_":
            # `\w` runs over the usual letters and digits at once; the identifier rule then
            # decides the end exactly (it also continues over combining marks).
            run = _NAME_RUN.match(text, pos)
            end = run.end() if run and text[pos : run.end()].isidentifier() else pos + 1
            while end < size and ("a" + text[end]).isidentifier():
                end += 1
            name = text[pos:end]
            try:  # here, before any message below quotes the name
                check_name_length(name, limits)
            except LimitError as exc:
                raise LimitError(exc.reason, source=text, span=(pos, end), hint=exc.hint) from None
            append(_Token("name", name, pos, end))
            pos = end
        elif (op := text[pos : pos + 2]) in _LONG_OPERATORS:
            append(_Token(_LONG_OPERATORS[op], op, pos, pos + 2))
            pos += 2
        elif ch in _OPERATORS:
            append(_Token(_OPERATORS[ch], ch, pos, pos + 1))
            pos += 1
        else:
            reason = _("unexpected character {character}").format(character=repr(ch))
            hint = _(_MISTAKES[ch]) if ch in _MISTAKES else _grammar()
            raise FormulaError(reason, source=text, span=(pos, pos + 1), hint=hint)
    append(_Token("end", "", size, size))
    return tokens


def _grammar() -> str:
    """The hint that sums up the grammar, in the active locale."""
    return _("a formula combines names and numbers with + - * / ** and {functions}").format(
        functions=", ".join(FUNCTIONS)
    )


def _number(text: str, start: int, end: int) -> float | int:
    literal = text[start:end].replace("_", "")
    if end - start > 100:
        raise LimitError(
            _("a number is written with more than 100 characters"), source=text, span=(start, end)
        )
    is_int = literal.isdigit()
    number = float(literal)
    if not math.isfinite(number):
        raise FormulaError(
            _("the number is out of the float range (about ±1.8e308)"),
            source=text,
            span=(start, end),
        )
    # Integers stay exact where a float would be exact too; larger ones become floats.
    return int(literal) if is_int and abs(number) < 2**53 else number


class _Parser:
    def __init__(self, text: str, limits: Limits) -> None:
        self.text = text
        self.limits = limits
        self.tokens = _tokenize(text, limits)
        self.pos = 0
        self.depth = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.pos]

    def fail(self, reason: str, token: _Token | None = None, hint: str | None = None) -> NoReturn:
        tok = token or self.token
        if tok.kind == ",":
            # Parsing stopped at a comma between digits: `leads * 0,8` is a decimal comma,
            # which says more than "unexpected `,`".
            self.decimal_comma(self.tokens.index(tok))
        span = (tok.start, max(tok.end, tok.start + 1))
        raise FormulaError(reason, source=self.text, span=span, hint=hint)

    def decimal_comma(self, index: int) -> None:
        """Raise the decimal-comma error if the `,` at `index` sits between digits, unspaced."""
        if not 0 < index < len(self.tokens) - 1:
            return
        before, comma, after = self.tokens[index - 1 : index + 2]
        if (
            before.kind == after.kind == "number"
            and before.end == comma.start
            and comma.end == after.start
            and before.text.isdigit()
        ):
            written = self.text[before.start : after.end]
            raise FormulaError(
                _("`{written}` has a decimal comma: numbers in formulas use a dot").format(
                    written=written
                ),
                source=self.text,
                span=(before.start, after.end),
                hint=_("write {number}").format(number=f"{before.text}.{after.text}"),
            )

    def take(self, kind: str) -> _Token:
        tok = self.token
        if tok.kind != kind:
            self.fail(
                _("expected `{kind}` here, got {token}").format(kind=kind, token=_describe(tok))
            )
        self.pos += 1
        return tok

    def enter(self) -> None:
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise depth_error(
                self.limits.max_depth,
                source=self.text,
                span=(self.token.start, self.token.end + 1),
            )

    def formula(self) -> Expr:
        if self.token.kind == "end":
            self.fail(_("the formula is empty"), hint=_grammar())
        expr = self.sum()
        if self.token.kind != "end":
            hint = (
                _("a `(` closes with `)`")
                if self.token.kind == ")"
                else _("join parts with an operator")
            )
            self.fail(
                _("unexpected {token} after a complete formula").format(
                    token=_describe(self.token)
                ),
                hint=hint,
            )
        return expr

    def sum(self) -> Expr:
        left = self.product()
        while self.token.kind in ("+", "-"):
            op = self.take(self.token.kind).kind
            right = self.product()
            left = add(left, right) if op == "+" else Sub(left, right)
        return left

    def product(self) -> Expr:
        left = self.unary()
        while self.token.kind in ("*", "/"):
            op = self.take(self.token.kind).kind
            right = self.unary()
            left = mul(left, right) if op == "*" else Div(left, right)
        return left

    def unary(self) -> Expr:
        if self.token.kind in ("-", "+"):
            op = self.take(self.token.kind).kind
            self.enter()
            operand = self.unary()
            self.depth -= 1
            return negate(operand) if op == "-" else operand
        return self.power()

    def power(self) -> Expr:
        base = self.atom()
        if self.token.kind == "**":
            self.take("**")
            self.enter()
            exponent = self.unary()
            self.depth -= 1
            return Pow(base, exponent)
        return base

    def atom(self) -> Expr:
        tok = self.token
        if tok.kind == "number":
            self.pos += 1
            return Const(tok.value)
        if tok.kind == "name":
            self.pos += 1
            if self.token.kind == "(":
                return self.call(tok)
            if tok.text in FUNCTIONS:
                self.fail(
                    _("`{name}` is a function: write `{name}(...)`").format(name=tok.text), tok
                )
            try:
                check_name(tok.text, limits=self.limits)
            except KPITreeError as exc:
                self.fail(exc.reason, tok, exc.hint)
            return Ref(tok.text, span=(tok.start, tok.end))
        if tok.kind == "(":
            self.take("(")
            self.enter()
            inner = self.sum()
            self.depth -= 1
            if self.token.kind != ")":
                self.fail(
                    _("expected `)` to close the `(` at column {column}, got {token}").format(
                        column=tok.start + 1, token=_describe(self.token)
                    )
                )
            self.take(")")
            return inner
        self.fail(
            _("expected a number, a name or `(`, got {token}").format(token=_describe(tok)),
            hint=_grammar(),
        )

    def call(self, name: _Token) -> Expr:
        if name.text not in FUNCTIONS:
            hint = did_you_mean(name.text, FUNCTIONS) or _("the functions are {functions}").format(
                functions=", ".join(FUNCTIONS)
            )
            self.fail(
                _("`{name}` is not a function of the formula language").format(name=name.text),
                name,
                hint,
            )
        self.take("(")
        self.enter()
        args = [self.sum()]
        commas = []  # token indexes, to explain a wrong count by a decimal comma
        while self.token.kind == ",":
            commas.append(self.pos)
            self.take(",")
            args.append(self.sum())
        self.depth -= 1
        if self.token.kind != ")":
            self.fail(
                _("expected `,` or `)` in the call of `{name}`, got {token}").format(
                    name=name.text, token=_describe(self.token)
                )
            )
        self.take(")")
        low, high = FUNCTIONS[name.text]
        if len(args) < low or (high is not None and len(args) > high):
            for index in commas:  # `sqrt(0,25)` is one number written with a decimal comma
                self.decimal_comma(index)
            self.fail(arity_reason(name.text, low, high, len(args)), name)
        return Call(name.text, tuple(args))


def _describe(tok: _Token) -> str:
    if tok.kind == "end":
        return _("the end of the formula")
    return f"`{tok.text}`"


def parse_formula(text: str, *, limits: Limits = DEFAULT_LIMITS, where: str | None = None) -> Expr:
    """Parse formula text into an expression, refusing anything outside the grammar.

    Args:
        text: the formula, e.g. `"leads * lead_to_ql"`.
        limits: safety limits on length, depth, size and exponents.
        where: location put in front of error messages (`metric `ql``, `model.yaml:7`).

    Raises:
        FormulaError: with a caret under the offending token.
        LimitError: the text is beyond a safety limit.

    Examples:
        >>> parse_formula("лиды * 80%")
        Mul(Ref('лиды'), Const(0.8))
        >>> parse_formula("leads *")
        Traceback (most recent call last):
        ...
        kpitree.errors.FormulaError: expected a number, a name or `(`, got the end of the formula
          leads *
                 ^
        hint: ...
    """
    if not isinstance(text, str):
        raise FormulaError(
            _("a formula must be text, got {type}").format(type=type(text).__name__), where=where
        )
    if len(text) > limits.max_formula_chars:
        raise LimitError(
            ngettext(
                "the formula is {length} characters long, over the limit of {limit}",
                "the formula is {length} characters long, over the limit of {limit}",
                len(text),
            ).format(length=shown(len(text)), limit=shown(limits.max_formula_chars)),
            where=where,
            hint=_("split it into intermediate metrics, or raise {limit}").format(
                limit="Limits.max_formula_chars"
            ),
        )
    try:
        expr = _Parser(text, limits).formula()
        check_formula(expr, limits)
    except KPITreeError as exc:
        if exc.source is None and not isinstance(exc, LimitError | FormulaError):
            raise
        if exc.source is None:
            exc = type(exc)(exc.reason, hint=exc.hint, source=text, span=(0, len(text)))
        raise (exc.located(where) if where else exc) from None
    return expr

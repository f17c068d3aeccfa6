"""Hostile formulas and files: refused quickly with a kpitree error, and no code ever runs.

An audit hook, installed once per process and active only inside `no_code_runs()`, fails
on any event that would mean code ran or a file or process was touched while kpitree
parsed or loaded text.
"""

import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kpitree as kt
from kpitree.examples import EXAMPLES
from kpitree.io.model import dumps
from kpitree.io.values import loads_values
from kpitree.language.parser import parse_formula
from kpitree.tree import loads

CANARY = Path(tempfile.gettempdir()) / "kpitree_canary"
_FORBIDDEN = (
    "os.system",
    "subprocess.Popen",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "open",
    "exec",
    "compile",
    "ctypes",
    "import",
    "socket",
    "shutil",
    "os.remove",
    "pickle",
)
_STATE = {"active": False, "seen": []}


def _hook(event: str, args: tuple) -> None:
    if _STATE["active"] and event.startswith(_FORBIDDEN):
        _STATE["seen"].append((event, repr(args)[:200]))
        raise RuntimeError(f"audit: {event} during parsing")


if not getattr(sys, "_kpitree_audit_hook", False):  # hooks cannot be removed: install once
    sys.addaudithook(_hook)
    sys._kpitree_audit_hook = True  # type: ignore[attr-defined]


@contextlib.contextmanager
def no_code_runs() -> Iterator[None]:
    """Fail the test if code is compiled or run, a file opened or a process started inside."""
    _STATE["seen"] = []
    _STATE["active"] = True
    try:
        yield
    finally:
        _STATE["active"] = False
    assert _STATE["seen"] == []


# Import and warm up every module the guarded calls use, so that no import happens inside.
for _fmt in ("yaml", "toml", "json"):
    loads(dumps(EXAMPLES["qualified_leads"](), _fmt), _fmt)
loads_values("a: 1\n")


def test_the_audit_hook_is_live() -> None:
    """The canary: compiling code inside the guard is caught, so silence means no code ran."""
    with pytest.raises(AssertionError), no_code_runs(), contextlib.suppress(RuntimeError):
        compile("1 + 1", "<canary>", "eval")


HOSTILE_FORMULAS = [
    (f"__import__('os').system('touch {CANARY}')", kt.FormulaError, "unexpected"),
    ("().__class__.__base__.__subclasses__()", kt.FormulaError, "no attributes"),
    ("open('/etc/passwd').read()", kt.FormulaError, "no text in formulas"),
    ("exec('import os')", kt.FormulaError, "no text in formulas"),
    ("lambda: 0", kt.FormulaError, "unexpected character ':'"),
    ("[c for c in ()]", kt.FormulaError, "no indexing"),
    ("10**10**10", kt.LimitError, "larger than 1024"),
    ("9**9**9", kt.LimitError, "larger than 1024"),
    ("2**2**2**2**2**2", kt.LimitError, "larger than 1024"),
    ("x ** 3999999", kt.LimitError, "larger than 1024"),
    ("exp(exp(exp(1000)))", kt.FormulaError, "no finite value"),
    ("(" * 40_000 + "x" + ")" * 40_000, kt.LimitError, "nests deeper"),
    ("-" * 90_000 + "x", kt.LimitError, "nests deeper"),
    ("x" + "**x" * 30_000, kt.LimitError, "nests deeper"),
    ("x + " * 500_000 + "x", kt.LimitError, "over the limit"),
    ("1" * 5000, kt.LimitError, "more than 100 characters"),
    ("ｌｅａｄｓ * 2", kt.FormulaError, "compatibility characters"),
    ("leads\u200b * 2", kt.FormulaError, "unexpected character"),
]


@pytest.mark.parametrize(("text", "error", "words"), HOSTILE_FORMULAS)
def test_hostile_formulas_are_refused(text: str, error: type, words: str) -> None:
    """Each hostile formula raises the named kpitree error, and nothing runs."""
    with no_code_runs(), pytest.raises(error) as info:
        parse_formula(text)
    assert words in str(info.value)
    assert not CANARY.exists()


_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 10)}]\n"
    for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)
HOSTILE_FILES = [
    ("yaml", _BOMB, kt.LimitError, "aliases expand"),
    (
        "yaml",
        f"!!python/object/apply:os.system ['touch {CANARY}']\n",
        kt.ValueTypeError,
        "is not allowed",
    ),
    ("yaml", "kpis: !!python/object:os.system {}\n", kt.ValueTypeError, "is not allowed"),
    ("yaml", "kpis: !!python/name:os.system\n", kt.ValueTypeError, "is not allowed"),
    ("yaml", "inputs: {a: {value: !!binary aGk=}}\n", kt.ValueTypeError, "is not allowed"),
    ("yaml", "kpis: {a: 1, a: 2}\n", kt.DuplicateNameError, "duplicate key"),
    ("yaml", "inputs: {a: {value: no}}\n", kt.ValueTypeError, "a bool"),
    ("yaml", "[" * 100_000 + "]" * 100_000, kt.KPITreeError, "nesting"),
    ("yaml", "a:\n" + "".join(" " * i + "b:\n" for i in range(1, 300)), kt.LimitError, "deeper"),
    ("json", '{"inputs": {"a": {"value": NaN}}}', kt.ValueTypeError, "not a finite"),
    ("json", '{"inputs": {"a": {"value": Infinity}}}', kt.ValueTypeError, "not a finite"),
    ("json", '{"a": 1, "a": 2}', kt.DuplicateNameError, "duplicate key"),
    ("json", "[" * 200_000, kt.KPITreeError, "JSON"),
    ("toml", "a = " + "[" * 100_000, kt.KPITreeError, "TOML"),
    ("toml", "[inputs.a]\nvalue = inf\n", kt.ValueTypeError, "not finite"),
    ("yaml", "kpis:\n  ｌｅａｄｓ: {owner: x, horizon: 1 day}\n", kt.FormulaError, "compatibility"),
]


@pytest.mark.parametrize(("fmt", "text", "error", "words"), HOSTILE_FILES)
def test_hostile_files_are_refused(fmt: str, text: str, error: type, words: str) -> None:
    """Each hostile file raises a ValidationError holding the named problem; nothing runs."""
    with no_code_runs(), pytest.raises(kt.ValidationError) as info:
        loads(text, fmt)
    matching = [p for p in info.value.problems if words in str(p)]
    assert matching, str(info.value)
    assert isinstance(matching[0], error)
    assert not CANARY.exists()


@given(st.text(max_size=200))
def test_fuzz_parse_formula(text: str) -> None:
    """Random text parses or raises a kpitree error; never another exception, never code."""
    with no_code_runs(), contextlib.suppress(kt.KPITreeError):
        parse_formula(text)


_GRAMMAR = st.text(alphabet="ab1.e%()+-*/^,_ minlogexpsqrt", max_size=80)


@given(_GRAMMAR)
def test_fuzz_formula_like_text(text: str) -> None:
    """Text made of the grammar's own pieces parses or raises a kpitree error."""
    with no_code_runs(), contextlib.suppress(kt.KPITreeError):
        parse_formula(text)


_SEEDS = {fmt: dumps(EXAMPLES["sales_revenue"](), fmt) for fmt in ("yaml", "toml", "json")}
_NOISE = st.sampled_from(
    [*":{}[]\"',-#&*!%|>\n\t ~0e.", "!!python/object:x", "&a", "*a", "NaN", "1e999", "yes", "<<"]
)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    """A valid model file with a few random deletions, insertions and replacements."""
    fmt = draw(st.sampled_from(sorted(_SEEDS)))
    text = _SEEDS[fmt]
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 5))
        text = text[:at] + draw(_NOISE | st.text(max_size=3)) + text[at + cut :]
    return fmt, text


@given(mutated())
def test_fuzz_mutated_files(case: tuple[str, str]) -> None:
    """A mutated file loads or raises a kpitree error; never another exception, never code."""
    fmt, text = case
    with no_code_runs(), contextlib.suppress(kt.KPITreeError):
        loads(text, fmt)

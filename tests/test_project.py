"""The project as a newcomer meets it: import cost, the demo, README and CI agree."""

import importlib.util
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import kpitree as kt
from kpitree.apps.cli import main
from kpitree.examples import qualified_leads

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("sympy", "pandas", "polars", "yaml", "sqlglot", "matplotlib", "numpy", "duckdb")


def test_import_is_light() -> None:
    """`import kpitree` imports none of the heavy optional libraries, nor sympy."""
    code = f"import sys, kpitree; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run runs exactly the test command the README gives a new user."""
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1].strip()
    assert ci == "make test"
    assert f"\n    {ci}\n" in readme


def test_demo_prints_tree_and_status(capsys: pytest.CaptureFixture[str]) -> None:
    """`kpitree demo` shows the qualified-leads tree with owners, horizons and norm status."""
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "qualified_leads = leads * lead_to_ql" in out
    assert "KPI · marketing · 1 day" in out
    assert "sales: lead_to_ql" in out
    assert "all norms met" in out
    assert "leads = 1,125 lead" in out  # 900 QLs at 80% need 1,125 leads
    assert "800 lead → 770 lead" in out  # a month later: leads +10%, conversion 80% → 70%
    assert "\x1b[" not in out  # no colour codes in a pipe


def test_demo_colours_marks_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a colour terminal the norm marks are coloured; JSON never is."""
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert main(["demo"]) == 0
    assert "\x1b[32m✓" in capsys.readouterr().out
    assert main(["demo", "--json"]) == 0
    assert "\x1b[" not in capsys.readouterr().out


def test_python_m_kpitree_demo() -> None:
    """`python -m kpitree demo` works as a console entry point."""
    out = subprocess.run(
        [sys.executable, "-m", "kpitree", "demo", "--example", "dupont"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "roe = net_margin * asset_turnover * equity_multiplier" in out.stdout


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown command is a usage error with exit code 2."""
    assert main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_examples_tour_runs() -> None:
    """examples/tour.py runs and shows every bundled tree."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "tour.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    for name in ("qualified_leads", "qualified_leads_ru", "sales_revenue", "dupont", "saas_mrr"):
        assert f"== {name} ==" in out.stdout
    assert "below norm" not in out.stdout  # the defaults of every example meet their norms


@pytest.mark.parametrize(
    ("module", "call", "extra"),
    [
        ("yaml", lambda: kt.loads("metrics: {m: '1'}"), "yaml"),
        ("sqlglot", lambda: qualified_leads().to_sql(), "sql"),
        ("matplotlib", lambda: qualified_leads().sensitivity("qualified_leads").plot(), "plot"),
    ],
)
def test_missing_optional_library_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, module: str, call: Callable[[], object], extra: str
) -> None:
    """A feature whose optional library is missing says which extra to install."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a)
    )
    with pytest.raises(kt.MissingDependencyError) as info:
        call()
    assert f"pip install 'kpitree[{extra}]'" in str(info.value)
    assert isinstance(info.value, ImportError)

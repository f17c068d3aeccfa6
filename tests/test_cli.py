"""The command line: every command, --json, exit codes, one-line errors, --help examples."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpitree import i18n
from kpitree.apps.cli import _HELP, main
from kpitree.examples import EXAMPLES
from kpitree.tree import load

ROOT = Path(__file__).resolve().parent.parent
QL = str(ROOT / "examples" / "qualified_leads.yaml")
SALES = str(ROOT / "examples" / "sales_revenue.yaml")
VALUES = ROOT / "examples" / "values"
CSV = str(VALUES / "qualified_leads.csv")
ATTRIBUTE = [
    "attribute",
    QL,
    "qualified_leads",
    "--before",
    f"{CSV}:2026-09",
    "--after",
    f"{CSV}:2026-10",
]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the command line in-process; return (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    """Run a command with --json; its stdout must be exactly one JSON document."""
    code, out, err = run(capsys, *argv, "--json")
    assert (code, err) == (0, "")
    return json.loads(out)


def test_eval_with_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    """`eval FILE name=value` overrides leaf values and prints every node."""
    code, out, _ = run(capsys, "eval", QL, "leads=1200", "lead_to_ql=75%")
    assert code == 0
    assert "qualified_leads  900 lead" in out


def test_eval_json_with_values_file_and_period(capsys: pytest.CaptureFixture[str]) -> None:
    """--values FILE:PERIOD reads one CSV row; pairs on the command line win over it."""
    data = run_json(capsys, "eval", QL, "--values", f"{CSV}:2026-09", "leads=1000")
    assert data == {"qualified_leads": pytest.approx(820.0), "leads": 1000.0, "lead_to_ql": 0.82}


def test_show_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    """`show` draws the tree; with --json it gives the model data and the values."""
    code, out, _ = run(capsys, "show", SALES)
    assert code == 0
    assert out.startswith("revenue = purchases * avg_order_value")
    data = run_json(capsys, "show", QL)
    assert load(QL).to_dict() == data["tree"]  # type: ignore[index]
    assert data["values"]["qualified_leads"] == 800.0  # type: ignore[index]


def test_status_with_measured_standards(capsys: pytest.CaptureFixture[str]) -> None:
    """`status` reads KPI values and standard measurements from a values file."""
    code, out, _ = run(capsys, "status", QL, "--values", str(VALUES / "october.yaml"))
    assert code == 0
    assert "1 below norm" in out
    data = run_json(capsys, "status", QL, "lead_to_ql=85%")
    assert data["ok"] is True  # type: ignore[index]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["whatif", QL, "leads=+10%"], "qualified_leads"),
        (["sensitivity", QL, "qualified_leads"], "lead_to_ql"),
        (["solve", QL, "qualified_leads", "900", "--vary", "leads"], "leads = 1,125 lead"),
        (["cascade", QL, "qualified_leads", "900", "--within", "1 week"], "lead_to_ql"),
        (["cascade", QL, "qualified_leads", "900", "--among", "leads"], "leads"),
        (["levers", QL, "qualified_leads", "--within", "1 day", "--owner", "sales"], "sales"),
        (
            ATTRIBUTE,
            "marketing",
        ),
        (["export", QL, "--to", "sql"], "SELECT"),
        (["export", QL, "--to", "mermaid"], "flowchart"),
        (["export", QL, "--to", "dot"], "digraph"),
        (["export", QL, "--to", "svg"], "<svg"),
        (["export", QL, "--to", "toml"], 'tree = "qualified_leads"'),
        (["check", QL], "ok (1 metric, 2 KPIs, 0 inputs)"),
        (["demo", "--example", "dupont"], "roe"),
    ],
)
def test_analysis_commands(capsys: pytest.CaptureFixture[str], argv: list[str], words: str) -> None:
    """Each command runs on the example file and prints its result."""
    code, out, err = run(capsys, *argv)
    assert (code, err) == (0, "")
    assert words in out


@pytest.mark.parametrize(
    "argv",
    [
        ["whatif", QL, "leads=+10%"],
        ["sensitivity", QL, "qualified_leads"],
        ["cascade", QL, "qualified_leads", "900"],
        ["levers", QL, "qualified_leads"],
        ATTRIBUTE,
        ["check", QL],
        ["demo"],
    ],
)
def test_json_is_clean(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    """--json prints one JSON document on stdout and nothing else."""
    assert isinstance(run_json(capsys, *argv), dict)


def test_solve_json(capsys: pytest.CaptureFixture[str]) -> None:
    """`solve --json` gives the varied leaf's value, which reaches the target."""
    data = run_json(capsys, "solve", QL, "qualified_leads", "900", "--vary", "leads")
    assert data == {
        "metric": "qualified_leads",
        "target": 900.0,
        "vary": "leads",
        "value": pytest.approx(1125.0),
    }


def test_export_round_trips_through_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`export --to json -o FILE` writes a model file that loads to the same tree."""
    target = tmp_path / "ql.json"
    code, _, _ = run(capsys, "export", QL, "--to", "json", "-o", str(target))
    assert code == 0
    assert load(target) == EXAMPLES["qualified_leads"]()


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["solve", QL, "qualified_leads", "2000", "--vary", "lead_to_ql"], 1, "kpitree: "),
        (["eval", str(ROOT / "examples" / "dupont.toml"), "revenue=0"], 1, "division by zero"),
        (["eval", QL, "leads=lots"], 2, "value of `leads`"),
        (["eval", QL, "lead=5"], 2, "did you mean"),
        (["eval", QL, "leads"], 2, "must be name=value"),
        (["eval", "missing.yaml"], 2, "No such file or directory: missing.yaml"),
        (["eval", "model.txt"], 2, "cannot tell the format"),
        (["eval", QL, "--values", str(VALUES / "sales_revenue.yaml")], 2, "choose one"),
        (["eval", QL, "--values", f"{CSV}:2026-13"], 2, "no period `2026-13`"),
        (["solve", QL, "qualified_leads", "lots", "--vary", "leads"], 2, "target"),
        (["sensitivity", QL, "qualified_lead"], 2, "did you mean"),
        (["demo", "--example", "dupnt"], 2, "did you mean `dupont`"),
        (["frobnicate"], 2, "invalid choice"),
        (["export", QL], 2, "--to"),
        ([], 2, ""),
    ],
)
def test_failures_exit_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], code: int, words: str
) -> None:
    """Failures exit 1 (analysis) or 2 (input, usage) with a short reason and no traceback."""
    got, out, err = run(capsys, *argv)
    assert got == code
    assert words in err or words in out
    assert "Traceback" not in err
    if argv and argv[0] != "frobnicate" and argv != ["export", QL]:
        assert err.startswith("kpitree: ") and err.count("\n") == 1


def test_bad_model_file_one_line_and_check_lists_all(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A bad file gives one line pointing to `check`, which prints every problem and exits 2."""
    path = tmp_path / "bad.yaml"
    path.write_text("kpis:\n  a: {owner: sales, horizon: 1 dya}\nmetrics:\n  m: a * b\n")
    code, _, err = run(capsys, "eval", str(path))
    assert code == 2
    assert err.count("\n") == 1
    assert f"{path}:2 @ $.kpis.a.horizon" in err and "and 1 more" in err
    code, _, err = run(capsys, "check", str(path))
    assert code == 2
    assert "did you mean `day`?" in err and f"{path}:4 @ $.metrics.m" in err
    assert err.endswith(f"kpitree: 2 problems in {path}\n")
    data = run_json_code(capsys, 2, "check", str(path))
    assert [p["where"] for p in data["problems"]] == [
        f"{path}:2 @ $.kpis.a.horizon",
        f"{path}:4 @ $.metrics.m",
    ]


def run_json_code(capsys: pytest.CaptureFixture[str], code: int, *argv: str) -> dict:
    """Run with --json expecting an exit code; stdout must be JSON."""
    got, out, _ = run(capsys, *argv, "--json")
    assert got == code
    data: dict = json.loads(out)
    return data


def test_debug_shows_the_exception(capsys: pytest.CaptureFixture[str]) -> None:
    """--debug lets the exception through (with its traceback), before or after the command."""
    import kpitree as kt

    with pytest.raises(kt.ValueTypeError):
        main(["--debug", "eval", QL, "leads=lots"])
    with pytest.raises(kt.ValueTypeError):
        main(["eval", QL, "leads=lots", "--debug"])


@pytest.mark.parametrize("command", sorted(_HELP))
def test_every_command_help_shows_a_runnable_example(
    capsys: pytest.CaptureFixture[str], command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kpitree COMMAND --help` shows an example, and the example runs (exit 0)."""
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "example:\n  kpitree " + command in out
    example = _HELP[command][1].splitlines()[0]
    monkeypatch.chdir(ROOT)
    import shlex

    # `serve` would block until Ctrl+C, `mcp` until its client leaves: record that it was
    # started, with what.
    served: list[dict[str, object]] = []
    monkeypatch.setattr("kpitree.apps.server.serve", lambda *a, **k: served.append(k))
    monkeypatch.setattr("kpitree.apps.mcp.serve", lambda *a, **k: served.append(k))
    assert main(shlex.split(example)[1:]) == 0
    assert bool(served) == (command in ("serve", "mcp"))
    capsys.readouterr()


def test_demo_help_lists_every_example(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo's help names every bundled example."""
    main(["demo", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert all(name in out for name in EXAMPLES)


def test_demo_of_a_daily_year_tells_streaks_bridge_and_pay(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`kpitree demo --example daily`: the three bad weeks, the monthly bridge, October's cards."""
    code, out, err = run(capsys, "demo", "--example", "daily")
    assert (code, err) == (0, "")
    assert "lead_to_ql.response_minutes (sales): 2026-03-09 — 2026-03-15, 7 days" in out
    assert "by owner over the span: marketing +6,745 lead, sales +178 lead" in out
    assert "marketing: achievement 96.0%, payout 90.1%" in out
    data = run_json(capsys, "demo", "--example", "daily")
    assert isinstance(data, dict)
    assert [s["length"] for s in data["track"]["streaks"]] == [7, 5, 10, 7, 5, 10]
    code, out, _ = run(capsys, "--lang", "ru", "demo", "--example", "daily")
    assert code == 0 and "7 дней" in out and "по ответственным" in out


def test_help_runs_in_a_subprocess_without_heavy_imports() -> None:
    """`python -m kpitree --help` works and imports neither sympy nor yaml nor numpy."""
    code = (
        "import sys, runpy; sys.argv = ['kpitree', '--help']\n"
        "try: runpy.run_module('kpitree', run_name='__main__')\n"
        "except SystemExit: pass\n"
        "print([m for m in ('sympy', 'yaml', 'numpy') if m in sys.modules], file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "kpitree whatif" in out.stdout
    assert out.stderr.strip() == "[]"


# -- text, encodings and inputs that are not models -----------------------------------------------

RU = str(ROOT / "examples" / "qualified_leads_ru.yaml")


def run_ascii(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m kpitree` in a subprocess whose stdout and stderr are ASCII."""
    import os

    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    return subprocess.run(
        [sys.executable, "-m", "kpitree", *argv],
        capture_output=True,
        text=True,
        encoding="ascii",
        errors="strict",
        env=env,
        timeout=120,
        check=False,
    )


def test_ascii_terminal_shows_russian_model_as_escapes() -> None:
    r"""With PYTHONIOENCODING=ascii, `show` writes \u escapes and one warning, no traceback."""
    done = run_ascii("show", RU)
    assert done.returncode == 0, done.stderr
    assert "\\u043b\\u0438\\u0434\\u044b" in done.stdout  # лиды
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("kpitree: warning: the output's encoding (ascii)")
    assert done.stderr.count("\n") == 1


def test_ascii_json_is_exact_json() -> None:
    r"""With an ASCII stdout, --json falls back to JSON's own \u escapes: the same data."""
    done = run_ascii("eval", RU, "--json")
    assert (done.returncode, done.stderr) == (0, "")
    assert set(json.loads(done.stdout)) == {"квал_лиды", "лиды", "конверсия_в_квал"}


def test_ascii_export_to_stdout_stops_instead_of_altering_the_model() -> None:
    """An export that the output's encoding cannot hold exits 2 and suggests -o PATH."""
    done = run_ascii("export", RU, "--to", "yaml")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("kpitree: the output's encoding (ascii) cannot write")
    assert "-o PATH" in done.stderr and "Traceback" not in done.stderr


def test_model_text_in_messages_is_neutralised(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An error message quoting model text shows its escape sequences as placeholders."""
    path = tmp_path / "m.json"
    model = {
        "tree": "m",
        "kpis": {"a": {"owner": "x", "horizon": "\x1b[2J\u202eday", "value": 1}},
        "metrics": {"m": {"formula": "a * 2"}},
    }
    path.write_text(json.dumps(model), "utf-8")
    for command in ("eval", "check"):
        code, out, err = run(capsys, command, str(path))
        assert code == 2
        assert "\x1b" not in err + out and "\u202e" not in err + out
        assert "\\x1b[2J\\u202eday" in err


def test_owner_escape_sequence_is_not_sent_to_the_terminal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    r"""`show`, `status` and `levers` print an owner's ESC and BEL as `\x1b`, `\x07`."""
    path = tmp_path / "m.json"
    owner = "sales\x1b]0;pwned\x07\x9b2J"
    model = {
        "tree": "m",
        "kpis": {"a": {"owner": owner, "horizon": "1 day", "value": 1, "norm": ">= 2"}},
        "metrics": {"m": {"formula": "a * 2"}},
    }
    path.write_text(json.dumps(model), "utf-8")
    for argv in (["show"], ["status"], ["levers", "--", "m"]):
        code, out, _ = run(capsys, argv[0], str(path), *argv[2:])
        assert code == 0
        assert "sales\\x1b]0;pwned\\x07\\x9b2J" in out
        assert not any(c in out for c in "\x1b\x07\x9b")


def test_json_output_escapes_c1_and_bidi(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    r"""--json writes C1 controls and BiDi overrides as \u escapes; the data is unchanged."""
    path = tmp_path / "m.json"
    owner = "sales\x9b2J\u202e"
    model = {
        "tree": "m",
        "kpis": {"a": {"owner": owner, "horizon": "1 day", "value": 1}},
        "metrics": {"m": {"formula": "a * 2"}},
    }
    path.write_text(json.dumps(model), "utf-8")
    code, out, _ = run(capsys, "show", str(path), "--json")
    assert code == 0 and "\x9b" not in out and "\u202e" not in out
    assert json.loads(out)["tree"]["kpis"]["a"]["owner"] == owner


def test_huge_toml_integer_gives_one_line_and_no_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A 5,000-digit integer in a TOML model ends in one `kpitree:` line, not a traceback."""
    path = tmp_path / "big.toml"
    path.write_text(
        'tree = "m"\n[kpis.a]\nowner = "x"\nhorizon = "1 day"\nvalue = '
        + "1" * 5000
        + '\n[metrics.m]\nformula = "a * 2"\n'
    )
    code, out, err = run(capsys, "show", str(path))
    assert code == 2  # bad input, located by the loader
    assert out == "" and err.startswith("kpitree: ") and err.count("\n") == 1
    assert "big.toml:5" in err and "5,000 digits" in err


def test_kpitree_error_exits_2_and_other_errors_exit_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KPITreeError prints its message (exit 2); anything else is an internal error (3)."""
    import kpitree as kt

    def bad_input(path: str) -> None:
        raise kt.ValueTypeError("`value` of KPI `a` must be a number", hint="write 1200")

    monkeypatch.setattr("kpitree.tree.load", bad_input)
    code, _, err = run(capsys, "show", QL)
    assert (code, err) == (2, "kpitree: `value` of KPI `a` must be a number; write 1200\n")

    def bug(path: str) -> None:
        raise TypeError("unsupported operand")

    monkeypatch.setattr("kpitree.tree.load", bug)
    code, _, err = run(capsys, "show", QL)
    assert code == 3 and err.count("\n") == 1
    assert err.startswith("kpitree: internal error: TypeError: unsupported operand;")
    assert "--debug" in err
    with pytest.raises(TypeError):
        main(["show", QL, "--debug"])


_JUNK = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.lists(
        st.sampled_from(
            [
                b"tree: m\n",
                b"kpis:\n",
                b"  a:\n",
                b"    owner: ",
                b"x\n",
                b"    value: ",
                b"1e999\n",
                b"nan\n",
                b"metrics:\n",
                b"  m: a * b\n",
                b"{",
                b"}",
                b"[",
                b"]",
                b"&x ",
                b"*x\n",
                b"<<: *x\n",
                b'"',
                b"=",
                b"[kpis.a]\n",
                b"value = 1\n",
                b"\xff\xfe",
                b"\x00",
                b"    horizon: 1 day\n",
                b"!!python/object:os.system\n",
            ]
        ),
        max_size=20,
    ).map(b"".join),
)


@given(data=_JUNK, suffix=st.sampled_from([".yaml", ".yml", ".toml", ".json", ".txt"]))
@settings(max_examples=150, deadline=None)
def test_junk_model_files_never_give_a_traceback(data: bytes, suffix: str) -> None:
    """Any bytes as a model file: `show` and `check` exit 0 or 2 with `kpitree:` lines only."""
    import contextlib
    import io
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"model{suffix}"
        path.write_bytes(data)
        for command in ("show", "check"):
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main([command, str(path)])
            assert code in (0, 2), err.getvalue()
            assert "Traceback" not in err.getvalue()
            if code == 2:
                assert err.getvalue().splitlines()[-1].startswith("kpitree: ")


@pytest.mark.parametrize("where", ["before", "after"])
def test_lang_ru_writes_and_reads_russian_numbers(
    capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """`--lang ru` (before or after the command): `1 200,5` read and written, points in п.п."""
    argv = ["whatif", QL, "leads=1200,5", "lead_to_ql=+2pp"]
    argv = ["--lang", "ru", *argv] if where == "before" else [*argv[:2], "--lang", "ru", *argv[2:]]
    code, out, err = run(capsys, *argv)
    assert (code, err) == (0, "")
    assert "1\u00a0200,5 lead" in out and "+2 п.п." in out and "82\u00a0%" in out
    assert i18n.current() == "en"  # the flag holds for that run only


def test_an_unknown_lang_is_an_error_naming_the_locales(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--lang de` exits 2 with a message listing the locales kpitree speaks."""
    code, out, err = run(capsys, "--lang", "de", "eval", QL)
    assert code == 2 and out == ""
    assert 'unknown locale "de"' in err and "en, ru" in err


OCTOBER = str(ROOT / "examples" / "values" / "october.yaml")
MONTHS = str(ROOT / "examples" / "values" / "qualified_leads.csv")


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
@pytest.mark.parametrize(
    ("values", "code"),
    [
        (["--values", OCTOBER], 1),  # lead_to_ql at 75% and response_minutes at 22
        (["lead_to_ql=0.85", "response_minutes=10"], 0),
    ],
)
def test_status_fail_on_breach_exits_1_below_norm(
    capsys: pytest.CaptureFixture[str], values: list[str], code: int, json_flag: list[str]
) -> None:
    """`status --fail-on-breach` exits 1 when a KPI or measured standard misses its norm."""
    assert main(["status", QL, *values, "--fail-on-breach", *json_flag]) == code
    out = capsys.readouterr().out
    assert out  # the report is printed either way
    assert main(["status", QL, *values, *json_flag]) == 0  # without the flag: a report only


def test_accountability_json_is_the_python_result(capsys: pytest.CaptureFixture[str]) -> None:
    """`kpitree accountability --json` prints `tree.accountability(...).to_dict()`."""
    from kpitree.io.values import load_values

    before, after = (load_values(MONTHS, month) for month in ("2026-09", "2026-10"))
    expected = load(QL).accountability("qualified_leads", before, after).to_dict()
    args = ["accountability", QL, "qualified_leads", "--json"]
    assert main([*args, "--before", f"{MONTHS}:2026-09", "--after", f"{MONTHS}:2026-10"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(expected))


def test_accountability_speaks_russian(capsys: pytest.CaptureFixture[str]) -> None:
    """Under `--lang ru` the owner report is in Russian."""
    args = ["--lang", "ru", "accountability", QL, "qualified_leads"]
    assert main([*args, "--before", f"{MONTHS}:2026-09", "--after", f"{MONTHS}:2026-10"]) == 0
    out = capsys.readouterr().out
    assert "ответственный / КПЭ" in out and "вклад" in out

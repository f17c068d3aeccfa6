"""`kpitree mcp FILE`: the analyses as MCP tools, driven by the SDK's own client over stdio."""

import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, get_default_environment, stdio_client

import kpitree as kt
from kpitree import i18n
from kpitree.apps.cli import main
from kpitree.apps.mcp import TOOLS
from kpitree.apps.payloads import plain
from kpitree.errors import KPITreeError
from kpitree.io.values import load_values
from kpitree.model.numbers import to_number

ROOT = Path(__file__).resolve().parent.parent
QL = str(ROOT / "examples" / "qualified_leads.yaml")
RU = str(ROOT / "examples" / "qualified_leads_ru.yaml")
CSV = ROOT / "examples" / "values" / "qualified_leads.csv"
BEFORE = {"leads": 1100, "lead_to_ql": "82%"}  # the CSV's 2026-09 and 2026-10 rows
AFTER = {"leads": 1000, "lead_to_ql": "80%"}


@attrs.frozen
class Answer:
    """What a tool call gave: an error or not, its text, and its data (None for errors)."""

    error: bool
    text: str
    data: Any


def _field(result: Any, name: str, older: str) -> Any:
    # The SDK's names (mcp 2); mcp 1 spelt them in camelCase.
    return getattr(result, name) if hasattr(result, name) else getattr(result, older)


def _answer(result: Any) -> Answer:
    text = "\n".join(block.text for block in result.content)
    error = bool(_field(result, "is_error", "isError"))
    data = None if error else _field(result, "structured_content", "structuredContent")
    return Answer(error, text, data)


def _serve(
    model: str,
    talk: Callable[[ClientSession], Awaitable[Any]],
    errlog: Path,
    options: Sequence[str] = (),
    **environment: str,
) -> Any:
    """Start `python -m kpitree [OPTIONS] mcp MODEL` as a subprocess; return what `talk` gives."""
    env = get_default_environment()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env["KPITREE_LANG"] = "en"
    env.update(environment)
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "kpitree", *options, "mcp", model],
        env=env,
        cwd=str(ROOT),
    )

    async def run() -> Any:
        with errlog.open("a", encoding="utf-8") as log:
            async with (
                stdio_client(server, errlog=log) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                return await talk(session)

    return anyio.run(run)


def _calls(
    calls: Sequence[tuple[str, dict[str, Any]]],
    errlog: Path,
    model: str = QL,
    **environment: str,
) -> list[Answer]:
    """Make the calls one after another on one server; return their answers."""

    async def talk(session: ClientSession) -> list[Answer]:
        return [_answer(await session.call_tool(name, args)) for name, args in calls]

    return _serve(model, talk, errlog, **environment)  # type: ignore[no-any-return]


def _raised(compute: Callable[[], object]) -> str:
    """The message of the kpitree error that `compute` raises."""
    with pytest.raises(KPITreeError) as raised:
        compute()
    return str(raised.value)


def test_tools_are_listed_with_descriptions_and_argument_schemas(tmp_path: Path) -> None:
    """Every analysis is a read-only tool, described, with a JSON schema of its arguments."""

    async def talk(session: ClientSession) -> Any:
        return (await session.list_tools()).tools

    tools = {tool.name: tool for tool in _serve(QL, talk, tmp_path / "log")}
    assert list(tools) == list(TOOLS)
    assert all(tools[name].description == TOOLS[name] for name in TOOLS)
    schema = {name: _field(tool, "input_schema", "inputSchema") for name, tool in tools.items()}
    assert schema["whatif"]["required"] == ["changes"]
    assert sorted(schema["solve"]["required"]) == ["metric", "vary"]  # target: the metric's
    assert sorted(schema["attribute"]["required"]) == ["after", "before", "metric"]
    assert schema["attribute"]["properties"]["method"]["default"] == "shapley"
    assert "sequential" in schema["accountability"]["properties"]["method"]["description"]
    value = schema["evaluate"]["properties"]["values"]["anyOf"][0]["additionalProperties"]
    assert value == {"anyOf": [{"type": "number"}, {"type": "string"}]}
    assert all("locale" in schema[name]["properties"] for name in TOOLS)
    hints = [tools[name].annotations for name in TOOLS]
    assert all(_field(hint, "read_only_hint", "readOnlyHint") for hint in hints)
    assert not any(_field(hint, "open_world_hint", "openWorldHint") for hint in hints)


def test_answers_are_the_python_apis_results(tmp_path: Path) -> None:
    """evaluate, whatif, attribute, accountability and status give the results' `to_dict()`."""
    tree = kt.load(QL)
    values = {"leads": 1200, "lead_to_ql": "75%"}
    table = [
        ("evaluate", {"values": values}, tree.evaluate(values)),
        ("whatif", {"changes": {"leads": "+10%"}}, tree.whatif({"leads": "+10%"})),
        (
            "attribute",
            {"metric": "qualified_leads", "before": BEFORE, "after": AFTER},
            tree.attribute("qualified_leads", BEFORE, AFTER),
        ),
        (
            "attribute",
            {
                "metric": "qualified_leads",
                "before": BEFORE,
                "after": AFTER,
                "method": "sequential",
                "order": ["lead_to_ql", "leads"],
            },
            tree.attribute(
                "qualified_leads", BEFORE, AFTER, method="sequential", order=["lead_to_ql", "leads"]
            ),
        ),
        (
            "accountability",
            {"metric": "qualified_leads", "before": BEFORE, "after": AFTER, "method": "lmdi"},
            tree.accountability("qualified_leads", BEFORE, AFTER, method="lmdi"),
        ),
        ("status", {"values": {"lead_to_ql": 0.7}}, tree.status({"lead_to_ql": 0.7})),
    ]
    answers = _calls([(name, args) for name, args, _ in table], tmp_path / "log")
    for answer, (name, _, expected) in zip(answers, table, strict=True):
        assert not answer.error, (name, answer.text)
        assert answer.data == plain(expected), name
        assert json.loads(answer.text) == answer.data, name  # the text is the same JSON
    assert answers[0].data["qualified_leads"] == 900.0
    assert answers[-1].data["ok"] is False  # the conversion is below its 80% norm


def test_answers_are_what_the_cli_prints_with_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each tool's data equals `kpitree COMMAND --json` for the same question."""
    csv = f"{CSV}:2026-09", f"{CSV}:2026-10"
    metric = {"metric": "qualified_leads"}
    sides = {"before": BEFORE, "after": AFTER}
    table: list[tuple[str, dict[str, Any], list[str]]] = [
        ("show", {}, ["show", QL]),
        ("evaluate", {"values": {"leads": 1200}}, ["eval", QL, "leads=1200"]),
        ("whatif", {"changes": {"leads": "+10%", "lead_to_ql": "-2pp"}},
         ["whatif", QL, "leads=+10%", "lead_to_ql=-2pp"]),
        ("solve", {**metric, "target": 900, "vary": "leads"},
         ["solve", QL, "qualified_leads", "900", "--vary", "leads"]),
        ("cascade", {**metric, "target": "880", "within": "1 week"},
         ["cascade", QL, "qualified_leads", "880", "--within", "1 week"]),
        ("levers", {**metric, "owner": "sales"},
         ["levers", QL, "qualified_leads", "--owner", "sales"]),
        ("sensitivity", metric, ["sensitivity", QL, "qualified_leads"]),
        ("attribute", {**metric, **sides, "method": "hierarchical"},
         ["attribute", QL, "qualified_leads", "--before", csv[0], "--after", csv[1],
          "--method", "hierarchical"]),
        ("accountability", {**metric, **sides},
         ["accountability", QL, "qualified_leads", "--before", csv[0], "--after", csv[1]]),
        ("status", {"values": {"missed_calls": 2}}, ["status", QL, "missed_calls=2"]),
    ]  # fmt: skip
    assert load_values(CSV, "2026-09") == kt.load(QL).check_values(BEFORE)
    assert {name for name, _, _ in table} == set(TOOLS)
    answers = _calls([(name, args) for name, args, _ in table], tmp_path / "log")
    for answer, (name, _, argv) in zip(answers, table, strict=True):
        assert main([*argv, "--json"]) == 0
        assert answer.data == json.loads(capsys.readouterr().out), name


def test_solve_and_cascade_without_a_target_take_the_metrics_own(tmp_path: Path) -> None:
    """DuPont's ROE has `target = 0.2` in its file: the tools reach it when none is given."""
    model = str(ROOT / "examples" / "dupont.toml")
    tree = kt.load(model)
    solved, cascaded = _calls(
        [("solve", {"metric": "roe", "vary": "net_income"}), ("cascade", {"metric": "roe"})],
        tmp_path / "server.log",
        model=model,
    )
    assert not solved.error and solved.data["target"] == 0.2
    assert solved.data["value"] == pytest.approx(tree.solve("roe", vary="net_income"))
    assert not cascaded.error
    assert cascaded.data == json.loads(json.dumps(tree.cascade("roe").to_dict()))


def test_an_unknown_node_is_a_tool_error_and_the_server_goes_on(tmp_path: Path) -> None:
    """A call naming an unknown node gets kpitree's message and hint; the next call works."""
    tree = kt.load(QL)
    answers = _calls(
        [
            ("evaluate", {"values": {"leds": 1200}}),
            ("evaluate", {"values": {"leads": 1200}}),
            ("sensitivity", {"metric": "qualified_lead"}),
            ("status", {}),
        ],
        tmp_path / "log",
    )
    unknown, evaluated, metric, status = answers
    assert unknown.error
    assert "`leds`" in unknown.text and "did you mean `leads`?" in unknown.text
    assert _raised(lambda: tree.evaluate({"leds": 1200})) in unknown.text
    assert evaluated.data == plain(tree.evaluate({"leads": 1200}))
    assert metric.error and _raised(lambda: tree.sensitivity("qualified_lead")) in metric.text
    assert status.data == plain(tree.status())
    assert "Traceback" not in (tmp_path / "log").read_text("utf-8")


def test_bad_arguments_are_kpitree_errors(tmp_path: Path) -> None:
    """A bad value, method, order, horizon, target or locale: kpitree's own message."""
    tree = kt.load(QL)
    ql = "qualified_leads"
    table: list[tuple[str, dict[str, Any], Callable[[], object]]] = [
        ("evaluate", {"values": {"leads": True}}, lambda: tree.evaluate({"leads": True})),
        ("evaluate", {"values": {"leads": "lots"}}, lambda: tree.evaluate({"leads": "lots"})),
        ("whatif", {"changes": {"leads": "+10 apples"}},
         lambda: tree.whatif({"leads": "+10 apples"})),
        ("attribute", {"metric": ql, "before": BEFORE, "after": AFTER, "method": "shap"},
         lambda: tree.attribute(ql, BEFORE, AFTER, method="shap")),
        ("accountability",
         {"metric": ql, "before": BEFORE, "after": AFTER, "method": "sequential",
          "order": ["leads"]},
         lambda: tree.accountability(ql, BEFORE, AFTER, method="sequential", order=["leads"])),
        ("levers", {"metric": ql, "within": "a fortnight"},
         lambda: tree.levers(ql, within="a fortnight")),
        ("solve", {"metric": ql, "target": 2000, "vary": "lead_to_ql"},
         lambda: tree.solve(ql, 2000, "lead_to_ql")),
        ("cascade", {"metric": ql, "target": "0,9e3"},
         lambda: to_number("0,9e3", what="target")),
        ("status", {"locale": "de"}, lambda: i18n.parse("de")),
    ]  # fmt: skip
    answers = _calls([*[(name, args) for name, args, _ in table], ("status", {})], tmp_path / "log")
    for answer, (name, _, compute) in zip(answers, table, strict=False):
        assert answer.error, name
        assert _raised(compute) in answer.text, name
    assert "hint: did you mean `shapley`?" in answers[3].text
    assert not answers[-1].error  # and the server still answers
    assert "Traceback" not in (tmp_path / "log").read_text("utf-8")


def test_arguments_that_break_the_schema_are_errors_too(tmp_path: Path) -> None:
    """A missing argument or one of the wrong type is a tool error, not a lost server."""
    answers = _calls(
        [
            ("whatif", {}),
            ("levers", {"metric": ["qualified_leads"]}),
            ("no_such_tool", {}),
            ("evaluate", {}),
        ],
        tmp_path / "log",
    )
    assert [a.error for a in answers] == [True, True, True, False]
    assert "changes" in answers[0].text
    assert answers[-1].data == plain(kt.load(QL).evaluate())


def test_a_locale_argument_answers_in_russian(tmp_path: Path) -> None:
    """`locale: "ru"` gives Russian messages and reads Russian numbers (the decimal comma)."""
    tree = kt.load(QL)
    answers = _calls(
        [
            ("evaluate", {"values": {"leds": 1}, "locale": "ru"}),
            ("evaluate", {"values": {"lead_to_ql": "0,75"}, "locale": "ru"}),
            ("evaluate", {"values": {"leds": 1}}),
        ],
        tmp_path / "log",
    )
    with kt.locale("ru"):
        russian = _raised(lambda: tree.evaluate({"leds": 1}))
    assert "`leds`" in russian and "подсказка" in russian
    assert answers[0].error and russian in answers[0].text
    assert answers[1].data["qualified_leads"] == 750.0
    assert answers[2].error and _raised(lambda: tree.evaluate({"leds": 1})) in answers[2].text


@pytest.mark.parametrize(
    ("model", "options", "environment"),
    [
        (QL, ["--lang", "ru"], {}),
        (QL, [], {"KPITREE_LANG": "ru"}),
        (RU, [], {"KPITREE_LANG": "", "LANG": "C.UTF-8"}),
    ],
    ids=["--lang", "KPITREE_LANG", "model locale"],
)
def test_the_server_speaks_the_language_the_cli_would(
    tmp_path: Path, model: str, options: list[str], environment: dict[str, str]
) -> None:
    """`--lang`, else KPITREE_LANG, else the model's `locale:` words the tools and errors."""
    tree = kt.load(model)

    async def talk(session: ClientSession) -> Any:
        tools = (await session.list_tools()).tools
        return tools, _answer(await session.call_tool("sensitivity", {"metric": "nothing"}))

    tools, error = _serve(model, talk, tmp_path / "log", options, **environment)
    with kt.locale("ru"):
        described = {name: i18n._(text) for name, text in TOOLS.items()}
        expected = _raised(lambda: tree.sensitivity("nothing"))
    assert {tool.name: tool.description for tool in tools} == described
    assert described["evaluate"] != TOOLS["evaluate"]
    assert error.error and expected in error.text


def test_a_model_file_that_cannot_be_read_stops_before_serving(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`kpitree mcp` on a missing or broken file exits 2 with kpitree's one-line reason."""
    assert main(["mcp", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text("tree: x\nmetrics:\n  x: y +\n", "utf-8")
    assert main(["mcp", str(broken)]) == 2
    assert "broken.yaml" in capsys.readouterr().err

"""Generated code: one place runs `exec`, and no node name ever reaches the source."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest
from hypothesis import given, settings

import kpitree as kt
from kpitree.engine import codegen
from kpitree.engine.evaluate import compile_tree
from kpitree.testing import trees

FUNCTIONS = ("min", "max", "abs", "log", "exp", "sqrt")


@pytest.fixture
def sources(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every source that reaches `codegen.define` while the test runs."""
    seen: list[str] = []
    define = codegen.define

    def recording(source: str, runtime: Any, what: str) -> dict[str, Any]:
        seen.append(source)
        return define(source, runtime, what)

    monkeypatch.setattr(codegen, "define", recording)
    return seen


def _every_generator(tree: kt.Tree) -> None:
    root = tree.roots[0].name
    leaves = [leaf.name for leaf in tree.leaves]
    compile_tree(tree)
    compile_tree(tree, "numpy")
    tree.evaluate_frame({name: [1.0, 2.0] for name in leaves})
    try:
        tree.whatif({leaves[0]: "+10%"})
        tree.whatif(dict.fromkeys(leaves, "+10%"))
        tree.gradient(root)
    except kt.EvaluationError:
        pass  # undefined at these values: the code was generated all the same
    after = {name: 2 * (leaf.value or 1.0) for name, leaf in zip(leaves, tree.leaves, strict=True)}
    with contextlib.suppress(kt.KPITreeError):
        dict(tree.attribute(root, {}, after).by_node)  # split when read


def _renamed(tree: kt.Tree) -> kt.Tree:
    """The same tree with names no slot can look like (`k0` → `узел_k0`)."""
    rename = {name: f"узел_{name}" for name in tree.names}
    word = re.compile(r"[^\W\d]\w*")

    def text(value: Any) -> Any:
        if isinstance(value, str):
            return word.sub(lambda m: rename.get(m.group(), m.group()), value)
        if isinstance(value, dict):
            return {text(k): text(v) for k, v in value.items()}
        if isinstance(value, list):
            return [text(v) for v in value]
        return value

    return kt.Tree.from_dict(text(tree.to_dict()))


@settings(max_examples=40, deadline=None)
@given(trees(functions=FUNCTIONS))
def test_no_node_name_reaches_generated_source(tree: kt.Tree) -> None:
    """Whatever the tree, every generated source names slots only, never a node."""
    tree = _renamed(tree)
    seen: list[str] = []
    define = codegen.define

    def recording(source: str, runtime: Any, what: str) -> dict[str, Any]:
        seen.append(source)
        return define(source, runtime, what)

    codegen.define = recording  # type: ignore[assignment]
    try:
        _every_generator(tree)
    finally:
        codegen.define = define  # type: ignore[assignment]
    assert seen
    names = set(tree.names)
    for source in seen:
        assert not names & set(re.findall(r"[^\W\d]\w*", source)), source


def test_every_generator_goes_through_define(sources: list[str]) -> None:
    """Evaluation, arrays, what-if, gradients and attribution all compile through define."""
    from kpitree.examples import sales_revenue

    tree = sales_revenue()
    _every_generator(tree)
    heads = {source.split("(", 1)[0] for source in sources}
    assert {"def _tree", "_F = ", "def _f", "def _gradient", "def _t0"} <= heads


@pytest.mark.parametrize(
    "source",
    [
        "def _f(x0):\n    return leads\n",
        "def _f(x0):\n    return __import__\n",
        "import os\n",
        "def _f(x0):\n    return x0.__class__\n",
    ],
)
def test_define_refuses_source_with_other_identifiers(source: str) -> None:
    """A name pasted into generated code by mistake is refused before it is compiled."""
    with pytest.raises(ValueError, match="generated code may not contain"):
        codegen.define(source, codegen.RUNTIME, "test")

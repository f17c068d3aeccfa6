"""The house rules, checked: one public-name table, the Tree facade, the layers, the hook."""

from __future__ import annotations

import ast
import importlib
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import kpitree
from kpitree.model.graph import Graph
from kpitree.model.render import renderers
from kpitree.tree import Delegate, Tree

ROOT = Path(__file__).resolve().parent.parent


def _type_checking_imports() -> dict[str, str]:
    tree = ast.parse((ROOT / "kpitree" / "__init__.py").read_text())
    block = next(
        n for n in tree.body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
    )
    found = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom)
        for alias in node.names:
            assert alias.asname == alias.name, "re-exported names are imported `as` themselves"
            found[alias.name] = node.module if node.module != "kpitree" else "kpitree"
    return found


def test_type_checking_imports_are_the_public_table() -> None:
    """The imports for type checkers name exactly the public table, from the same modules."""
    assert _type_checking_imports() == kpitree._WHERE
    assert kpitree.__all__ == sorted(kpitree._WHERE)


@pytest.mark.parametrize("name", sorted(kpitree._WHERE))
def test_every_public_name_resolves_to_its_module(name: str) -> None:
    """`kpitree.<name>` is the object of that name in the module the table says."""
    where = kpitree._WHERE[name]
    expected = importlib.import_module(f"kpitree.{name}" if where == "kpitree" else where)
    if where != "kpitree":
        expected = getattr(expected, name)
    assert getattr(kpitree, name) is expected


DELEGATES = sorted(n for n, v in vars(Tree).items() if isinstance(v, Delegate))

# Results whose type depends on the data given (a pandas, polars or Spark frame, or a
# mapping of arrays): `Any` is their honest annotation.
FRAME_RESULTS = {"evaluate_frame", "rollup", "evaluate_sql", "attribute_frame"}


@pytest.mark.parametrize("name", DELEGATES)
def test_tree_methods_are_the_functions_they_name(name: str) -> None:
    """A Tree method is its module's function: same signature (less the tree), same doc."""
    func = getattr(Tree, name)
    assert func.__name__ == name and func.__module__.startswith("kpitree.")
    from kpitree.examples import qualified_leads

    bound = getattr(qualified_leads(), name)
    params = list(inspect.signature(func).parameters.values())[1:]
    assert list(inspect.signature(bound).parameters.values()) == params
    assert bound.__doc__ == func.__doc__ and func.__doc__
    if name not in FRAME_RESULTS:
        assert func.__annotations__.get("return") not in (None, "Any"), name


def test_every_public_tree_attribute_is_the_graph_a_delegate_or_documented() -> None:
    """Tree adds nothing but delegated analyses and `from_dict` to the validated Graph."""
    own = {n for n in vars(Tree) if not n.startswith("_")}
    assert own - set(DELEGATES) == {"from_dict"}
    assert not {n for n in DELEGATES if n in vars(Graph)}


def _lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None
    env = {"PYTHONPATH": str(package_parent), "PATH": str(Path(sys.executable).parent)}
    return subprocess.run(
        [lint, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=package_parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_layer_contract_holds_and_fails_on_an_upward_import(tmp_path: Path) -> None:
    """import-linter keeps the layers; one upward import in a copy breaks the contract."""
    kept = _lint_imports(ROOT)
    assert kept.returncode == 0, kept.stdout
    shutil.copytree(ROOT / "kpitree", tmp_path / "kpitree")
    parser = tmp_path / "kpitree" / "language" / "parser.py"
    parser.write_text(parser.read_text() + "\nfrom kpitree.display import html  # noqa\n")
    broken = _lint_imports(tmp_path)
    assert broken.returncode != 0
    assert "kpitree.language.parser -> kpitree.display" in broken.stdout


def test_every_renderer_names_a_real_class() -> None:
    """Each registered drawing names an existing class; each `plot` method has a drawing."""
    registered = renderers()
    classes = []
    for path, form in registered:
        module, _, qualname = path.rpartition(".")
        cls = getattr(importlib.import_module(module), qualname)
        assert isinstance(cls, type)
        classes.append(cls)
        assert form in {"text", "html", "markdown", "latex", "plot"}
    for cls in classes:
        if "plot" in vars(cls):
            assert (f"{cls.__module__}.{cls.__qualname__}", "plot") in registered

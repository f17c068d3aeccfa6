"""The tutorial notebook runs from top to bottom and shows rich displays."""

from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "tutorial.ipynb"

nbformat = pytest.importorskip("nbformat", reason="running notebooks needs nbformat (dev extra)")
nbclient = pytest.importorskip("nbclient", reason="running notebooks needs nbclient (dev extra)")
pytest.importorskip("ipykernel", reason="running notebooks needs ipykernel (dev extra)")
pytest.importorskip("matplotlib", reason="the notebook draws charts (the `plot` extra)")


@pytest.fixture(scope="module")
def executed() -> Any:
    """Run every cell of the notebook in a fresh kernel; an error in any cell fails."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT / "examples")}},
    )
    client.execute()
    return notebook


def outputs(notebook: Any, source_start: str) -> list[Any]:
    """Return the outputs of the one code cell whose source starts with `source_start`."""
    (cell,) = [
        c for c in notebook.cells if c.cell_type == "code" and c.source.startswith(source_start)
    ]
    return list(cell.outputs)


def test_notebook_runs_without_errors(executed: Any) -> None:
    """No cell of the executed tutorial has an error output."""
    for cell in executed.cells:
        if cell.cell_type == "code":
            assert all(o.output_type != "error" for o in cell.outputs), cell.source


def test_tree_shows_as_html(executed: Any) -> None:
    """The tree cell displays HTML with values and owners, plus Markdown and LaTeX."""
    (result,) = outputs(executed, "import kpitree")
    assert "1,000 lead" in result.data["text/html"] and "marketing" in result.data["text/html"]
    assert result.data["text/markdown"].startswith("```text")
    assert "\\text{qualified\\_leads}" in result.data["text/latex"]


def test_charts_are_images(executed: Any) -> None:
    """The chart cells display PNG images."""
    for start in (
        "from kpitree.display.plots import plot_attribution",
        "from kpitree.display.plots import plot_sensitivity",
    ):
        assert any("image/png" in o.get("data", {}) for o in outputs(executed, start))


def test_goal_seek_answers(executed: Any) -> None:
    """900 QLs need 900 / 0.7 ≈ 1,286 leads at 70% and 900 / 0.8 = 1,125 at the 80% norm."""
    (result,) = outputs(executed, "at_70 =")
    assert result.data["text/plain"] == "(1286, 1125)"


def test_the_russian_section_speaks_russian(executed: Any) -> None:
    """The Russian cells show the tree, status, attribution and what-if in Russian."""
    (tree,) = outputs(executed, 'kt.set_locale("ru")')
    assert "КПЭ" in tree.data["text/html"] and "маркетинг" in tree.data["text/html"]
    (status,) = outputs(executed, "факт = ")
    assert "ниже нормы" in status.data["text/html"] and "70\u00a0%" in status.data["text/html"]
    (attribution,) = outputs(executed, "прошлый_месяц = ")
    assert "вклад" in attribution.data["text/html"] and "below" not in attribution.data["text/html"]
    assert any(
        "image/png" in o.get("data", {}) for o in outputs(executed, "plot_attribution(вклад)")
    )
    (whatif,) = outputs(executed, "print(ru.whatif(")
    assert "сценарий" in whatif.text and "+5 п.п." in whatif.text

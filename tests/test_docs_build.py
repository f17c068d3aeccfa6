"""The documentation site builds with `mkdocs build --strict`, charts drawn by the build."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("mkdocs", reason="building the docs needs mkdocs (the `dev` extra)")
pytest.importorskip("matplotlib", reason="the docs' charts need matplotlib (the `plot` extra)")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the site once into a temporary folder; any warning fails the build."""
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        # A chart with a missing glyph (a Cyrillic name in a font without it) warns: fail.
        env={**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "error::UserWarning"},
    )
    assert done.returncode == 0, done.stderr
    return out


def test_every_page_in_the_nav_is_built(site: Path) -> None:
    """Each page listed in mkdocs.yml's nav exists in docs/ and is rendered to HTML."""
    nav = [
        line.split(":", 1)[1].strip()
        for line in (ROOT / "mkdocs.yml").read_text().splitlines()
        if line.strip().startswith("- ") and line.rstrip().endswith(".md")
    ]
    assert "how-it-works.md" in nav and "display.md" in nav
    for page in nav:
        built = site / ("index.html" if page == "index.md" else f"{page[:-3]}/index.html")
        assert built.is_file(), page


def test_charts_are_drawn_by_the_build(site: Path) -> None:
    """The display page's pictures are PNGs made by the build, and none is kept in docs/."""
    page = (site / "display" / "index.html").read_text()
    for name in ("sensitivity", "tornado", "scenario", "attribution", "simulation"):
        assert f'src="../img/{name}.png"' in page
        assert (site / "img" / f"{name}.png").read_bytes().startswith(b"\x89PNG")
        assert not (ROOT / "docs" / "img" / f"{name}.png").exists()

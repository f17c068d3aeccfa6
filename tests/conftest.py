"""Shared test configuration: hypothesis profiles for a small, shared, noisy machine."""

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# The suite's expected text is English whatever the machine's LANG; tests of other locales
# choose theirs (and tests of the environment set it themselves).
os.environ["KPITREE_LANG"] = "en"

# No deadlines: timing belongs to benchmarks/, and this machine is shared.
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.register_profile(
    "deep", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=2000
)
settings.load_profile("default")


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One small local Spark session for every Spark test (starting one takes seconds)."""
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("kpitree-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


GOLDEN_TEXT = Path(__file__).parent / "golden" / "text"


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    """Compare text with the reviewed file ``tests/golden/text/<name>.txt``.

    Names carry the locale and width, e.g. ``"status.seed.ru.80"``. Write the files anew
    with ``KPITREE_UPDATE_GOLDEN=1``, then review the diff: the files are the expectation.
    """

    def check(name: str, text: str) -> None:
        path = GOLDEN_TEXT / f"{name}.txt"
        if os.environ.get("KPITREE_UPDATE_GOLDEN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text + "\n", encoding="utf-8")
        assert path.is_file(), f"no golden file {path}: run with KPITREE_UPDATE_GOLDEN=1"
        assert text + "\n" == path.read_text(encoding="utf-8")

    return check


# -- headless Chromium (the `browser` tests) ----------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright never downloads a browser here
ARTIFACTS = Path(__file__).parent / "artifacts"  # screenshots kept for people to look at
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
needs_chromium = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not at /usr/bin/chromium (apt-get install -y chromium)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# -- Russian text -------------------------------------------------------------------------

# What stays as the user or the code wrote it: names and code in backticks, quoted text,
# document paths ($.kpis.leads) and the name of text given without a file.
UNTRANSLATED = re.compile(r"`[^`]*`|'[^']*'|\"[^\"]*\"|\$\.\S+|<text>")


def assert_russian(text: str | None) -> None:
    """`text` is Russian: Cyrillic outside names, code and quotes; no `{placeholder}` left."""
    assert text, text
    assert re.search(r"[а-яё]", UNTRANSLATED.sub("", text), re.IGNORECASE), text
    assert not re.search(r"\{[a-z_]*\}", text), text

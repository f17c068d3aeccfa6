# `make test` is the one command that checks everything: a fresh virtual environment,
# the package with its development extras, lint, types, the layer contract, and the whole
# test suite. `make check` is the quick loop while working: the same checks, without the
# slow property runs, Spark and the browser (no Chromium or Java needed).
VENV ?= .venv
BIN = $(VENV)/bin

# Programs the tests drive for real: Chromium (the explorer page), Graphviz (SVG
# diagrams), Java (Spark in local mode), LibreOffice Calc (recalculating Excel workbooks).
# Installed from Debian's packages when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: test check lint demo bench catalog clean system-deps

test: system-deps lint
	$(BIN)/pytest

check: lint
	$(BIN)/pytest -m "not slow and not spark and not browser"

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

demo: $(VENV)/.installed
	$(BIN)/kpitree demo

bench: $(VENV)/.installed
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

# Messages marked for translation, merged into each locale's catalog (then translate the
# new entries: tests/test_i18n.py fails on any message without a translation).
catalog: $(VENV)/.installed
	mkdir -p build
	$(BIN)/pybabel --quiet extract -F pyproject.toml --no-location --sort-output \
	  --project kpitree -k N_ -o build/kpitree.pot kpitree
	$(BIN)/pybabel --quiet update --no-fuzzy-matching --ignore-obsolete \
	  -i build/kpitree.pot -d kpitree/i18n/locales -D kpitree

system-deps:
	@command -v chromium >/dev/null && command -v dot >/dev/null && command -v java >/dev/null && \
	  command -v soffice >/dev/null || \
	  ($(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	    chromium graphviz openjdk-17-jre-headless libreoffice-calc-nogui >/dev/null)

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

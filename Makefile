# The README's quick start is `make run`, `make test`, `make demo`; each sets up the virtualenv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test test-fast demo lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

## pywb in a virtualenv of its own, for the WACZ replay test (tests/e2e/test_web.py)
.venv-pywb/.installed:
	test -x .venv-pywb/bin/python || $(PYTHON) -m venv .venv-pywb
	.venv-pywb/bin/python -m pip install -q 'pywb>=2.8,<3'
	touch $@

.venv-pywb: .venv-pywb/.installed

## Run the daemon on the embedded default database (SQLite under data/).
run: $(STAMP)
	$(BIN)/jinshan run

## See the archive on this machine without the site: a replica of it on 127.0.0.1, backfilled into a
## throwaway archive, then the web view (tests/e2e/replica/demo.py). Ctrl-C stops it all.
demo: $(STAMP)
	$(BIN)/python -m tests.e2e.replica.demo

## Set up and run the whole test suite (unit, integration on SQLite and PostgreSQL, end to end).
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/ruff check service tests benchmarks
	$(BIN)/ruff format --check service

typecheck: $(STAMP)
	$(BIN)/mypy

## Benchmarks print the tables quoted in docs/benchmarks.md (they need the bench extra: trafilatura, gne, Scrapy).
bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	$(BIN)/python benchmarks/extract.py
	$(BIN)/python benchmarks/fetch.py
	$(BIN)/python benchmarks/store.py
	$(BIN)/python benchmarks/crawl.py
	$(BIN)/python benchmarks/reparse.py
	$(BIN)/python benchmarks/web.py --postgres

clean:
	rm -rf $(VENV) .venv-pywb .pytest_cache .ruff_cache .mypy_cache

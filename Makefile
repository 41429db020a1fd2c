# Parley's developer entry points. `make demo` and `make test` work on a fresh clone: both
# install into .venv/ first (system packages too, when run as root on Debian/Ubuntu).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench soak lint fmt clean

install: $(STAMP)

$(STAMP): pyproject.toml scripts/install-system-deps
	./scripts/install-system-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

demo: install
	$(BIN)/parley demo

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/parley bench $(BENCH_ARGS)

# Two 30-minute runs, fake stack (200 callers) then embedded (20); fails if anything grows.
soak: install
	$(BIN)/parley soak $(SOAK_ARGS)

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

# Parley's developer entry points. `make demo` and `make test` work on a fresh clone: both
# install into .venv/ first (system packages too, when run as root on Debian/Ubuntu).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# smart-turn's end-of-turn model ships inside pipecat-ai: its files, not its dependency tree
# (--no-deps), so it is not in pyproject.toml. Its stamp names the version: a new one installs.
TURN_MODEL := pipecat-ai==1.14.0
TURN_STAMP := $(VENV)/.installed-$(TURN_MODEL)

.PHONY: install demo test bench soak fuzz lint fmt clean

install: $(STAMP) $(TURN_STAMP)

$(STAMP): pyproject.toml scripts/install-system-deps
	./scripts/install-system-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

$(TURN_STAMP): $(STAMP)
	$(BIN)/pip install --quiet --no-deps '$(TURN_MODEL)'
	touch '$(TURN_STAMP)'

demo: install
	$(BIN)/parley demo

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/parley bench $(BENCH_ARGS)

# Two 30-minute runs, fake stack (200 callers) then embedded (20); fails if anything grows.
soak: install
	$(BIN)/parley soak $(SOAK_ARGS)

# The fuzzers at length (fuzz/README.md): over 10,000 frames per dialect and thousands
# of REST calls against a real server, then atheris on the frame parsers for FUZZ_SECONDS.
# Both run even if the first fails; crashing inputs go to FUZZ_ARTIFACTS.
FUZZ_SCALE ?= 50
FUZZ_SECONDS ?= 300
FUZZ_ARTIFACTS ?= /tmp/parley-fuzz
fuzz: install
	$(BIN)/pip install --quiet -e '.[all,dev,fuzz]'
	mkdir -p $(FUZZ_ARTIFACTS)/corpus && cp -n fuzz/corpus/* $(FUZZ_ARTIFACTS)/corpus/
	status=0; \
	PARLEY_FUZZ_SCALE=$(FUZZ_SCALE) $(BIN)/pytest tests/fuzz -p no:cacheprovider $(PYTEST_ARGS) || status=1; \
	$(BIN)/python fuzz/parsers.py $(FUZZ_ARTIFACTS)/corpus -dict=fuzz/json.dict -max_len=16384 \
		-max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$(FUZZ_ARTIFACTS)/ || status=1; \
	exit $$status

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

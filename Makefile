# ToolScale: every target creates .venv and installs what it needs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-12)
DOMAIN ?= bank

export RAY_AUTH_MODE ?= disabled

.PHONY: run test bench lint typecheck schema clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP) ## the main job (until the pipeline lands: validate every domain, replay the example tasks)
	$(BIN)/toolscale spec validate domains/*/domain.yaml
	$(BIN)/toolscale examples $(DOMAIN)

test: $(STAMP) ## the whole test suite
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check toolscale tests benchmarks
	$(BIN)/ruff format --check toolscale tests benchmarks
	$(BIN)/mypy

schema: $(STAMP) ## regenerate schemas/*.json after changing the spec models
	$(BIN)/toolscale spec schema

bench: $(STAMP) ## speed figures (not tests)
	$(BIN)/python -m benchmarks.engine

clean:
	rm -rf output

# ToolScale: every target creates .venv and installs what it needs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-12)
DOMAIN ?= bank
SIZE ?=
SEED ?= 0
# ToolScale's ten domains, populated by `make populate-all`.
DOMAINS ?= bank basketball ecommerce medicine movie railway restaurant school travel weather

export RAY_AUTH_MODE ?= disabled

.PHONY: run test bench lint typecheck schema clean populate populate-all synth synth-all

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev,train]"
	rm -f $(VENV)/.installed-* && touch $@

# τ²-bench's retail tasks (MIT), beside the repository as shared/ in this project's checkouts.
TAU2_TASKS ?= ../shared/reference/tau2-retail/tasks.json

run: $(STAMP) ## the main job; until the pipeline lands: every stage that exists, into output/
	$(BIN)/toolscale spec validate domains/*/domain.yaml
	$(MAKE) --no-print-directory populate-all synth-all
	$(BIN)/toolscale examples bank
	@if [ -f $(TAU2_TASKS) ]; then \
		$(BIN)/toolscale tau2 import $(TAU2_TASKS) --out output/tau2/retail-tasks.jsonl && \
		$(BIN)/toolscale tau2 replay --calls output/tau2/retail-tasks.jsonl --out output/tau2/retail-replay.jsonl; \
	else echo "skipping the tau2 retail replay: $(TAU2_TASKS) not found"; fi

test: $(STAMP) ## the whole test suite
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check toolscale tests benchmarks
	$(BIN)/ruff format --check toolscale tests benchmarks
	$(BIN)/mypy

schema: $(STAMP) ## regenerate schemas/*.json after changing the spec models
	$(BIN)/toolscale spec schema

bench: $(STAMP) ## speed figures (not tests)
	$(BIN)/python -m benchmarks.engine && $(BIN)/python -m benchmarks.populate && $(BIN)/python -m benchmarks.retail && $(BIN)/python -m benchmarks.synthesis

populate: $(STAMP) ## one domain's database: make populate DOMAIN=bank [SIZE=rows of the caller table] [SEED=0]
	$(BIN)/toolscale populate --domain $(DOMAIN) $(if $(SIZE),--size $(SIZE)) --seed $(SEED) --out output/databases/$(DOMAIN).sqlite

populate-all: $(STAMP) ## every domain's database at its default size, under output/databases/
	for domain in $(DOMAINS); do \
		$(BIN)/toolscale populate --domain $$domain --seed $(SEED) --no-progress --out output/databases/$$domain.sqlite || exit 1; \
	done

COUNT ?= 1000

synth: $(STAMP) ## verified tasks of one domain: make synth DOMAIN=bank [COUNT=1000] [SEED=0]
	$(BIN)/toolscale synth --domain $(DOMAIN) --db output/databases/$(DOMAIN).sqlite --count $(COUNT) --seed $(SEED) \
		--out output/tasks/$(DOMAIN)

synth-all: $(STAMP) ## verified tasks of every domain, from the databases populate-all wrote
	for domain in $(DOMAINS); do \
		test -f output/databases/$$domain.sqlite || $(BIN)/toolscale populate --domain $$domain --no-progress || exit 1; \
		$(BIN)/toolscale synth --domain $$domain --db output/databases/$$domain.sqlite --count $(COUNT) --seed $(SEED) \
			--no-progress --out output/tasks/$$domain || exit 1; \
	done

clean:
	rm -rf output

# ToolScale: every target creates .venv and installs what it needs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-12)
DOMAIN ?= bank
SIZE ?=
SEED ?= 0
PIPELINE ?= pipelines/default.yaml

export RAY_AUTH_MODE ?= disabled

.PHONY: run domain push tau2 train train-smoke test bench lint schema clean populate synth

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev,train]"
	rm -f $(VENV)/.installed-* && touch $@

# τ²-bench's retail tasks (MIT), shipped with the retail domain (domains/retail/NOTICE.md).
TAU2_TASKS ?= domains/retail/tau2_tasks.json

run: $(STAMP) ## the main job: the default pipeline, all ten domains -> output/ (shards, card, stats)
	$(BIN)/toolscale run $(PIPELINE)

domain: $(STAMP) ## one domain of the default pipeline into output/: make domain DOMAIN=bank
	$(BIN)/toolscale run $(PIPELINE) --domain $(DOMAIN)

push: $(STAMP) ## upload output/ to the Hub: make push REPO=org/name (token from HF_TOKEN)
	@test -n "$(REPO)" || { echo "usage: make push REPO=org/name"; exit 2; }
	$(BIN)/toolscale push output --repo $(REPO)

tau2: $(STAMP) ## τ²-bench's retail tasks imported and replayed on our port of the domain, into output/tau2/
	$(BIN)/toolscale tau2 import $(TAU2_TASKS) --out output/tau2/retail-tasks.jsonl
	$(BIN)/toolscale tau2 replay --calls output/tau2/retail-tasks.jsonl --out output/tau2/retail-replay.jsonl

TRAIN_CONFIG ?= configs/train/gpu.yaml

train: $(STAMP) ## GRPO-train an orchestrator: make train [TRAIN_CONFIG=configs/train/gpu.yaml] (multi-GPU: docs/training.md)
	$(BIN)/toolscale train $(TRAIN_CONFIG)

train-smoke: $(STAMP) ## CPU smoke run: shards of 4 bank tasks, a tiny model, 40 GRPO steps -> output/train-smoke/run/
	$(BIN)/toolscale run pipelines/smoke.yaml --no-progress
	$(BIN)/toolscale train configs/train/smoke.yaml

test: $(STAMP) ## the whole test suite
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check toolscale tests benchmarks
	$(BIN)/ruff format --check toolscale tests benchmarks
	$(BIN)/mypy

schema: $(STAMP) ## regenerate schemas/*.json after changing the spec models
	$(BIN)/toolscale spec schema

bench: $(STAMP) ## speed figures (not tests)
	$(BIN)/python -m benchmarks.engine && $(BIN)/python -m benchmarks.populate && $(BIN)/python -m benchmarks.retail && $(BIN)/python -m benchmarks.synthesis && $(BIN)/python -m benchmarks.pipeline && $(BIN)/python -m benchmarks.train

populate: $(STAMP) ## one domain's database: make populate DOMAIN=bank [SIZE=rows of the caller table] [SEED=0]
	$(BIN)/toolscale populate --domain $(DOMAIN) $(if $(SIZE),--size $(SIZE)) --seed $(SEED) --out output/databases/$(DOMAIN).sqlite

COUNT ?= 1000

synth: $(STAMP) ## verified tasks of one domain: make synth DOMAIN=bank [COUNT=1000] [SEED=0]
	$(BIN)/toolscale synth --domain $(DOMAIN) --db output/databases/$(DOMAIN).sqlite --count $(COUNT) --seed $(SEED) \
		--out output/tasks/$(DOMAIN)

clean:
	rm -rf output

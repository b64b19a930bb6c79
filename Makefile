# xstilts: two commands on a fresh machine.
#   make run   - sets up the app environment (no torch) and opens the dashboard on the bundled store
#   make test  - sets up the full environment (torch CPU first) and runs every test
#   make bench - runs the benchmarks in bench/

PYTHON ?= python3
VENV   := .venv
APP    := .venv-app
# The default store (where `runner run` writes without --store), outside the checkout: `make clean`
# never deletes runs, and the dashboard's commands write where it reads. `make run STORE=DIR` for another.
STORE  ?= $(or $(XSTILTS_STORE),$(or $(XDG_DATA_HOME),$(HOME)/.local/share)/xstilts/store)
PORT   ?= 8501

.PHONY: run demo test bench store chromium clean

# torch first, in its own step: 2.13.0 is a CPU build on this machine's disk. Asking for torch
# through another package first would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q torch==2.13.0
	$(VENV)/bin/python -m pip install -q -e '.[runner,dashboard,dev]'
	touch $@

# The app needs the store and the dashboard only: no torch.
$(APP)/.installed: pyproject.toml
	$(PYTHON) -m venv $(APP)
	$(APP)/bin/python -m pip install -q --upgrade pip
	$(APP)/bin/python -m pip install -q -e '.[dashboard]'
	touch $@

# Debian's Chromium for the real-browser test (never `playwright install`).
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

store: $(APP)/.installed
	$(APP)/bin/store build --store $(STORE)

run: store
	$(APP)/bin/dashboard --store $(STORE) --port $(PORT)

# A store of made-up runs (source demo, marked on every page and export) that fills every view.
DEMO ?= var/demo-store
demo: $(APP)/.installed
	$(APP)/bin/store demo --store $(DEMO)
	$(APP)/bin/dashboard --store $(DEMO) --port $(PORT)

# pytest exits non-zero when it collects no test, so an empty run fails too.
test: $(VENV)/.installed chromium
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(VENV)/bin/python -m pytest

bench: $(VENV)/.installed
	$(VENV)/bin/python bench/runner_throughput.py
	$(VENV)/bin/python bench/gpu_throughput.py
	$(VENV)/bin/python bench/dashboard_latency.py
	$(VENV)/bin/python bench/store_readers.py
	$(VENV)/bin/python bench/examples_latency.py --store var/bench-examples

clean:
	rm -rf $(VENV) $(APP) var test-output

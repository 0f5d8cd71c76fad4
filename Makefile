# gapse: the two commands of the README.
#   make demo  - install everything into .venv and start the demo (http://127.0.0.1:7860)
#   make test  - install everything (dev extras too) and run the whole test suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0

.PHONY: install install-dev demo test bench results

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch first and pinned: with torch already there, pip keeps this CPU build instead of
# pulling a multi-GB CUDA one. Set TORCH_SPEC (e.g. TORCH_SPEC=torch) on a GPU machine.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[demo]"
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[dev,demo,notebooks,peers,eval]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

HOST ?= 127.0.0.1
PORT ?= 7860

demo: install
	GRADIO_ANALYTICS_ENABLED=False $(BIN)/gapse demo --host $(HOST) --port $(PORT)

test: install-dev
	$(BIN)/hadolint Dockerfile
	GRADIO_ANALYTICS_ENABLED=False $(BIN)/python -m pytest -q

bench: install-dev
	$(BIN)/python benchmarks/speed.py

# docs/RESULTS.md from scratch: simulate the sets, run every system, branch and peer, write tables and plots
DATA ?= ../shared/data
results: install-dev
	$(BIN)/python benchmarks/make_results.py --data $(DATA)

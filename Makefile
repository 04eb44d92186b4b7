# bluefire: `make demo` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
NATIVE_SRC := $(shell find native -type f \( -name '*.cpp' -o -name '*.h' -o -name 'CMakeLists.txt' \) 2>/dev/null)

.PHONY: all venv build lint test test-python test-native demo models bench clean help

help:
	@echo "make demo    shipped pruned model on recorded frames through the RTMaps replay diagram (host emulator)"
	@echo "make test    lint, then every test: Python, native C++ (host, sanitizers, aarch64 under qemu)"
	@echo "make lint    ruff check + ruff format --check (scripts/lint.sh --fix applies them)"
	@echo "make models  reproduce models/ (baseline, pruning, ablation, transfer), resumable"
	@echo "make bench   latency benchmark (native vs ONNX Runtime vs torch), JSON in out/bench.json"

all: build

# The venv, torch's CPU wheel (pinned: an unpinned torch pulls a CUDA build), build tools.
$(VENV)/.deps: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q "scikit-build-core>=0.10" "pybind11>=2.12" cmake ninja
	touch $@

venv: $(VENV)/.deps

# Editable install of both packages; rebuilt when the native sources change.
$(VENV)/.built: $(VENV)/.deps pyproject.toml CMakeLists.txt $(NATIVE_SRC)
	$(PIP) install -q --no-build-isolation -e ".[train,test]"
	touch $@

build: $(VENV)/.built

# The linter/formatter, pinned so a new ruff release cannot fail a clean tree.
$(VENV)/.ruff: $(VENV)/.deps
	$(PIP) install -q "ruff==0.17.6"
	touch $@

lint: $(VENV)/.ruff
	RUFF=$(VENV)/bin/ruff scripts/lint.sh

test-python: build
	$(PY) -m pytest -q tests

test-native: build
	$(PY) -m tests.native_runner

test: lint test-native test-python

demo: build
	$(PY) -m training.cli run diagrams/classify_replay.rtd --report out/demo_latency.json

models: build
	bash models/reproduce.sh

bench: build
	$(PY) -m training.cli bench --json out/bench.json

clean:
	rm -rf build out $(VENV)

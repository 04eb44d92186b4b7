# bluefire: `make demo` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
NATIVE_SRC := $(shell find native -type f \( -name '*.cpp' -o -name '*.h' -o -name 'CMakeLists.txt' \) 2>/dev/null)

.PHONY: all venv build lint format test test-python test-native demo models bench clean help

help:
	@echo "make demo    shipped pruned model on recorded frames through the RTMaps replay diagram (host emulator)"
	@echo "make test    lint, then every test: Python, native C++ (host, sanitizers, aarch64 under qemu)"
	@echo "make lint    ruff check + ruff format --check, clang-format on native/ (make format applies them)"
	@echo "make models  reproduce models/ (baseline, pruning, ablation, transfer), resumable"
	@echo "make bench   latency benchmark (native vs ONNX Runtime vs torch), JSON in out/bench.json"
	@echo "make wheel-aarch64  the vehicle's wheel (cross-built for Cortex-A53), in dist/; make wheel: x86_64"
	@echo "make test-aarch64   the runtime's wheel, deps and tests on arm64 Python under qemu -cpu cortex-a53"

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

# Python: ruff check + ruff format --check (rules in pyproject.toml); native/: clang-format (.clang-format).
lint: $(VENV)/.ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	native/tools/lint_native.sh

# Apply what lint checks.
format: $(VENV)/.ruff
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
	native/tools/lint_native.sh --fix

test-python: build
	$(PY) -m pytest -q tests

test-native: build
	$(PY) -m tests.native_runner

test: lint test-native test-python test-aarch64

demo: build
	$(PY) -m training.cli run diagrams/classify_replay.rtd --report out/demo_latency.json

models: build
	bash models/reproduce.sh

bench: build
	$(PY) -m training.cli bench --json out/bench.json

clean:
	rm -rf build out $(VENV)

# ---- aarch64 runtime and wheels (tests/aarch64/stage.py; caches in build/aarch64, wheels in dist/) ----
# test-aarch64: Debian's arm64 python3.11 + manylinux aarch64 wheels + bluefire's cross-built wheel under
# qemu-aarch64 -cpu cortex-a53; skipped with the reason when the cross tools or apt's arm64 are missing.
.PHONY: wheel wheel-aarch64 test-aarch64 startup-aarch64
wheel: build
	$(PY) -m tests.aarch64.stage wheel --arch x86_64

wheel-aarch64: build
	$(PY) -m tests.aarch64.stage wheel --arch aarch64 --require

test-aarch64: build
	$(PY) -m tests.aarch64.stage test

startup-aarch64: test-aarch64
	$(PY) -m tests.aarch64.startup_memory --json out/aarch64_startup.json

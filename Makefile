# consentgate: `make demo` runs the gate on the embedded local stack; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help venv lint typecheck test unit demo bench bench-quick stack-up stack-down stack-status tools dashboards docs clean

help:
	@echo "make demo   - start the local stack and the gate, publish demo traffic, show a live summary"
	@echo "make test   - lint, type-check and run every test (starts the local stack if needed)"
	@echo "make bench  - benchmark the gate against a plain Kafka loop (BENCH_ARGS=--quick for a short run)"

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(INSTALLED)

lint: $(INSTALLED)
	$(BIN)/ruff check streams connectors tests benchmarks grafana

typecheck: $(INSTALLED)
	$(BIN)/mypy streams connectors

tools: $(INSTALLED)
	bash scripts/fetch-prometheus.sh

test: lint typecheck tools
	$(BIN)/pytest $(PYTEST_ARGS)

unit: $(INSTALLED)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

demo: $(INSTALLED)
	$(BIN)/consentgate demo

bench: $(INSTALLED)
	$(BIN)/consentgate bench $(BENCH_ARGS)

bench-quick: $(INSTALLED)
	$(BIN)/consentgate bench --quick

stack-up: $(INSTALLED)
	$(BIN)/consentgate stack up

stack-down: $(INSTALLED)
	$(BIN)/consentgate stack down

stack-status: $(INSTALLED)
	$(BIN)/consentgate stack status

dashboards: $(INSTALLED)
	$(BIN)/python grafana/build_dashboards.py

docs: $(INSTALLED)
	$(BIN)/consentgate config --markdown > docs/configuration.md

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis

# consentgate: `make demo` runs the gate on the embedded local stack; `make test` runs every check.
# Every target carries a `## description` on its line; `make help` prints them (and
# tests/unit/test_makefile.py fails when a target lacks one or is missing from .PHONY).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help venv lint typecheck check format test unit demo bench bench-quick bench-micro \
	stack-up stack-down stack-status tools dashboards docs clean

help: ## list every target with what it does
	@echo "usage: make TARGET   (the everyday ones: check, test, demo, format)"
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z][a-zA-Z0-9_-]*:.*## / { printf "  %-13s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(INSTALLED) ## create .venv and install consentgate with its dev extras (again when pyproject.toml changes)

lint: $(INSTALLED) ## ruff check over streams, connectors, tests, benchmarks and grafana
	$(BIN)/ruff check streams connectors tests benchmarks grafana

typecheck: $(INSTALLED) ## mypy over streams and connectors
	$(BIN)/mypy streams connectors

check: lint typecheck tools ## the fast loop: lint, type-check, unit and agent tests, no broker; stops at the first failure
	$(BIN)/pytest tests/unit tests/agents -q -x $(PYTEST_ARGS)

format: $(INSTALLED) ## ruff format, then ruff check --fix (rewrites files in place)
	$(BIN)/ruff format streams connectors tests benchmarks grafana
	$(BIN)/ruff check --fix streams connectors tests benchmarks grafana

tools: $(INSTALLED) ## install promtool and prometheus into .tools/ (for the alert-rule tests; idempotent)
	bash scripts/fetch-prometheus.sh

test: lint typecheck tools ## lint, type-check and run every test, integration included (starts the local stack if needed); what CI runs
	$(BIN)/pytest $(PYTEST_ARGS)

unit: $(INSTALLED) ## tests/unit only, without lint or type-check
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

demo: $(INSTALLED) ## start the local stack and the gate, publish demo traffic, show a live summary
	$(BIN)/consentgate demo

bench: $(INSTALLED) ## benchmark the gate against a plain Kafka loop (BENCH_ARGS=--quick for a short run)
	$(BIN)/consentgate bench $(BENCH_ARGS)

bench-quick: $(INSTALLED) ## the same benchmark on small sizes (~30 s; proves it works, numbers mean nothing)
	$(BIN)/consentgate bench --quick

bench-micro: $(INSTALLED) ## pytest-benchmark micro-benchmarks of the pure parts (decide, codec), no broker
	$(BIN)/pytest benchmarks -o python_files='bench_*.py' --benchmark-enable -q $(PYTEST_ARGS)

stack-up: $(INSTALLED) ## start the embedded Kafka broker and schema registry on 127.0.0.1
	$(BIN)/consentgate stack up

stack-down: $(INSTALLED) ## stop what stack-up started
	$(BIN)/consentgate stack down

stack-status: $(INSTALLED) ## what of the embedded stack runs where
	$(BIN)/consentgate stack status

dashboards: $(INSTALLED) ## regenerate grafana/dashboards/*.json from grafana/build_dashboards.py
	$(BIN)/python grafana/build_dashboards.py

docs: $(INSTALLED) ## regenerate docs/configuration.md from the settings
	$(BIN)/consentgate config --markdown > docs/configuration.md

clean: ## remove the test, type-check and lint caches
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis

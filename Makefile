# feedback-pipeline — `make help` lists the targets.
SHELL := /bin/bash
UV_HOME := $(HOME)/.cache/feedback-pipeline/uv
UV := $(UV_HOME)/bin/uv
UV_VERSION := 0.13.8
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never

.DEFAULT_GOAL := help
.PHONY: help install up test test-unit test-integration test-sdk sdk-build lint typecheck bench bench-growth kafka-start kafka-stop tools clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(UV):
	python3 -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install --quiet uv==$(UV_VERSION)

install: $(UV) ## Create .venv and install the locked dependencies
	$(UV) sync --frozen --quiet

up: install sdk-build ## Fresh machine → running pipeline (local Kafka, migrations, collector + worker)
	$(BIN)/feedback up

tools: ## Install the system tools the tests use, where missing (docker-compose to validate the compose file, chromium for the SDK)
	@bash scripts/ensure-tools.sh

lint: install ## ruff (lint + format check)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install ## mypy strict
	$(BIN)/mypy

test-unit: install ## Fast tests, no services
	$(BIN)/pytest tests/unit -q

test-integration: install ## Tests through the real Kafka broker and ClickHouse (started by the fixtures)
	$(BIN)/pytest tests/integration -q

sdk-build: ## Build the browser SDK (served at /sdk and /demo), when Node.js is installed
	@if command -v npm >/dev/null; then cd sdk && npm ci --no-audit --no-fund --silent && npm run --silent build; \
	else echo "npm not found: the demo page and /sdk are not served"; fi

test-sdk: sdk-build ## The browser SDK's unit tests
	cd sdk && npm test --silent

test: install tools lint typecheck sdk-build ## The whole suite, starting every real service it needs
	$(BIN)/pytest tests -q
	$(MAKE) --no-print-directory test-sdk

bench: install ## The benchmarks; writes bench/results.json
	$(BIN)/python -m bench

bench-growth: install ## Cost as history grows: worker and queries at 0, 10M, 50M events (FEEDBACK_BENCH_GROWTH_SIZES); writes bench/growth.json
	$(BIN)/python -m bench.growth_bench

kafka-start: install ## Start the local Kafka broker (detached)
	$(BIN)/feedback kafka start

kafka-stop: install ## Stop the local Kafka broker
	$(BIN)/feedback kafka stop

clean: ## Remove the venv and local data (stops the local broker first)
	-$(BIN)/feedback kafka stop
	rm -rf $(VENV) .data

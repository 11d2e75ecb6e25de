# One entry point for people and CI. `make run` and `make test` do all the set-up themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export UV_LINK_MODE ?= copy
# Behind a TLS-inspecting proxy, uv and npm trust only what SSL_CERT_FILE and
# NODE_EXTRA_CA_CERTS name: default both to the system's CA bundle (which holds the
# proxy's CA) when nothing else is set.
ifeq ($(SSL_CERT_FILE),)
export SSL_CERT_FILE := $(wildcard /etc/ssl/certs/ca-certificates.crt)
endif
ifeq ($(NODE_EXTRA_CA_CERTS),)
export NODE_EXTRA_CA_CERTS := $(wildcard /etc/ssl/certs/ca-certificates.crt)
endif

.PHONY: help uv install run up down status test faults test-fast test-handlers bench bench-smoke lint typecheck format schemas kafka-jars clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

uv: ## install uv from PyPI when it is missing
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --user --quiet 'uv>=0.9,<1' \
	  || python3 -m pip install --user --quiet --break-system-packages 'uv>=0.9,<1'

install: uv tools/asyncapi/node_modules/.installed tools/k8s/node_modules/.installed ## .venv from uv.lock, the AsyncAPI parser and the manifest schemas from npm
	@$(UV) sync --frozen --all-packages

# The official AsyncAPI parser validates docs/asyncapi.yaml in the tests (needs Node.js).
tools/asyncapi/node_modules/.installed: tools/asyncapi/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "Node.js and npm are needed: apt-get install nodejs npm"; exit 1; }
	@npm ci --prefix tools/asyncapi --no-audit --no-fund --loglevel=error
	@touch $@

# kubernetes-models' schemas validate deploy/kubernetes/ in the tests (needs Node.js).
tools/k8s/node_modules/.installed: tools/k8s/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "Node.js and npm are needed: apt-get install nodejs npm"; exit 1; }
	@npm ci --prefix tools/k8s --no-audit --no-fund --loglevel=error
	@touch $@

schemas: install ## regenerate shared/schemas/*.json and docs/asyncapi.yaml from the models
	@$(UV) run --frozen python -m durchstarten.events.export

kafka-jars: install ## fetch the Apache Kafka jars from Maven Central into the cache
	@$(UV) run --frozen python -c "from durchstarten_deploy.kafka import ensure_jars; from durchstarten_deploy.stack import default_cache_dir; print(ensure_jars(default_cache_dir()))"

run: install ## run Kafka, PostgreSQL and the four services with a demo, until Ctrl-C
	@$(UV) run --frozen python -m durchstarten_deploy run

up: install ## start the stack in the background
	@$(UV) run --frozen python -m durchstarten_deploy up

down: ## stop the background stack
	@$(UV) run --frozen python -m durchstarten_deploy down

status: ## show the background stack
	@$(UV) run --frozen python -m durchstarten_deploy status

lint: install ## ruff lint and format check
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .

typecheck: install ## mypy strict
	@$(UV) run --frozen mypy

format: install ## format the code
	@$(UV) run --frozen ruff format .
	@$(UV) run --frozen ruff check --fix .

test: install lint typecheck ## lint, type-check, every test against real Kafka and PostgreSQL, the short fault suite
	@$(UV) run --frozen pytest -m "not faults"
	@$(UV) run --frozen pytest -m faults tests/faults

faults: install ## the long fault suite: every fault three times, a random seed (DURCHSTARTEN_FAULTS_SEED to repeat one)
	@DURCHSTARTEN_FAULTS=long $(UV) run --frozen pytest -m faults tests/faults

test-fast: install ## only the tests that need no broker or database
	@$(UV) run --frozen pytest -m "not integration"

test-handlers: install ## the pure tests and the command-side tests on PostgreSQL (no Kafka): seconds
	@$(UV) run --frozen pytest -m "not integration or database"

bench: install ## measure the pipeline against Kafka's and PostgreSQL's limits: docs/BENCHMARKS.md
	@$(UV) run --frozen python -m durchstarten_bench

bench-smoke: install ## a few seconds of every benchmark stage (files under .stack-bench/)
	@$(UV) run --frozen python -m durchstarten_bench --smoke --out .stack-bench/BENCHMARKS.md --json .stack-bench/benchmarks.json --state-dir .stack-bench/state

clean: ## remove local state (not the Kafka jar cache)
	rm -rf .stack .stack-bench .mypy_cache .ruff_cache .pytest_cache

# ChatGalaxy. `make run` starts everything; `make test` runs the whole suite. Both work on a
# fresh clone: they create the virtualenv and install what is missing first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# `make test` runs pytest on this many processes (pytest-xdist), each with its own cluster and stack.
TEST_PROCESSES ?= 2

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create the virtualenv and install the project with its dev tools

postgres: $(STAMP) ## start the project's PostgreSQL 15 on 127.0.0.1:54322 (reused if running)
	$(PY) -m localbase db start

run: $(STAMP) web-build ## start Postgres, the local Supabase stack, the model, the worker, the API and the web app
	$(PY) -m devstack

db-reset: $(STAMP) ## drop and recreate the local database, then apply every migration
	$(PY) -m localbase db reset

lint: $(STAMP) ## ruff (lint + format check) and mypy --strict on our packages
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: $(STAMP) ## the full suite: lint, then pytest against real Postgres and the local stack
	$(MAKE) lint
	$(MAKE) web-test web-build chromium
	$(PY) -m pytest -n $(TEST_PROCESSES)

fuzz: $(STAMP) ## randomized search (fresh draws, >= FUZZ_REQUESTS=2000 per suite): API operations, REST, Auth, Storage and Realtime doors, the chat WebSocket, the OpenAI door, the worker; bench/out/fuzz.json
	CG_FUZZ=1 $(PY) -m pytest tests/fuzz -q --timeout=3600 -W ignore::hypothesis.errors.HypothesisWarning; \
		status=$$?; $(PY) -m tests.fuzz.summary; exit $$status

bench: $(STAMP) ## benchmarks; figures printed and written to bench/report.json
	$(PY) -m bench

.PHONY: help install postgres run db-reset lint test fuzz bench doctor drills

drills: $(STAMP) ## fault drills (worker kills, Postgres/gateway restarts, model faults, abuse); bench/out/drills.json
	$(PY) -m drills

doctor: $(STAMP) ## check the configuration (keys and JWT secret against the project, model, free ports) before or after starting
	$(PY) -m devstack.doctor

# --- web ---
# The SPA (web/) is built with the machine's Node.js and npm from the lock file; the browser tests
# use Debian's Chromium (a downloaded browser cannot work here), installed when missing and root.
WEB_DIR := web
WEB_DEPS := $(WEB_DIR)/node_modules/.package-lock.json
WEB_INPUTS := $(shell find $(WEB_DIR)/src $(WEB_DIR)/public -type f 2>/dev/null) \
	$(addprefix $(WEB_DIR)/,index.html vite.config.ts tailwind.config.js postcss.config.js tsconfig.json package-lock.json)

$(WEB_DEPS): $(WEB_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 20 with npm" >&2; exit 1; }
	cd $(WEB_DIR) && npm ci --no-audit --no-fund
	@touch $(WEB_DEPS)

$(WEB_DIR)/dist/index.html: $(WEB_DEPS) $(WEB_INPUTS)
	cd $(WEB_DIR) && npm run build

web-build: $(WEB_DIR)/dist/index.html ## build the SPA into web/dist (type-checked, code-split)

web-test: $(WEB_DEPS) ## the SPA's Vitest unit tests
	cd $(WEB_DIR) && npm test

web-serve: $(STAMP) web-build ## serve the built SPA on 127.0.0.1:3000 (python -m webserve)
	$(PY) -m webserve

chromium: ## Debian's Chromium for the browser tests (apt-get install when missing and root)
	@if ! command -v chromium >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
		else \
			echo "chromium is missing and this is not root: run 'sudo apt-get install chromium fonts-noto-cjk'" >&2; exit 1; \
		fi; \
	fi
	@chromium --version 2>/dev/null | head -1

.PHONY: web-build web-test web-serve chromium

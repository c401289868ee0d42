# ChatGalaxy. `make run` starts everything; `make test` runs the whole suite. Both work on a
# fresh clone: they create the virtualenv and install what is missing first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

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

run: $(STAMP) ## start Postgres, the local Supabase stack, the worker and the API
	$(PY) -m devstack

db-reset: $(STAMP) ## drop and recreate the local database, then apply every migration
	$(PY) -m localbase db reset

lint: $(STAMP) ## ruff (lint + format check) and mypy --strict on our packages
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: $(STAMP) ## the full suite: lint, then pytest against real Postgres and the local stack
	$(MAKE) lint
	$(PY) -m pytest

bench: $(STAMP) ## benchmarks; figures printed and written to bench/report.json
	$(PY) -m bench

.PHONY: help install postgres run db-reset lint test bench doctor

doctor: $(STAMP) ## check the configuration (keys, Supabase reachability, model) before starting
	$(PY) -m devstack.doctor

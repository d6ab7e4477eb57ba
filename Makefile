# headwater: two commands on a fresh machine.
#   make demo   set up everything, then run the marketplace pipeline end to end
#   make test   set up everything, then lint and run the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HW := $(BIN)/headwater
PY_DIRS := $(wildcard src tests dags benchmarks)

# No tool may phone home: the network here only reaches package registries.
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DBT_VERSION_CHECK := false
export DO_NOT_TRACK := 1
export SCARF_ANALYTICS := false
export SCARF_NO_ANALYTICS := true
export AIRFLOW__USAGE_DATA_COLLECTION__ENABLED := False
export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False
export SODA_CORE_TELEMETRY_ENABLED := false
export OTEL_SDK_DISABLED := true

.PHONY: help install demo test lint fmt bench airflow db-start db-stop clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

# --compile-bytecode: every Airflow task, dbt command and test subprocess imports Airflow or
# dbt afresh; without .pyc files (PYTHONDONTWRITEBYTECODE, read-only trees) each import
# compiles them again, several seconds per process on 2 cores.
$(STAMP): pyproject.toml requirements/constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -c requirements/constraints.txt -e ".[stack,dev]"
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install headwater with pinned dependencies

demo: $(STAMP) ## start the embedded PostgreSQL, seed, sync, mutate, sync again
	$(HW) demo

test: $(STAMP) ## ruff, then pytest (unit and integration on the embedded server)
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff lint only
	$(BIN)/ruff check $(PY_DIRS)

fmt: $(STAMP) ## format the Python code
	$(BIN)/ruff format $(PY_DIRS)
	$(BIN)/ruff check --fix $(PY_DIRS)

airflow: $(STAMP) ## start Airflow locally (UI, scheduler, dag-processor, triggerer)
	$(HW) airflow

db-start: $(STAMP) ## start the embedded PostgreSQL
	$(HW) db start

db-stop: $(STAMP) ## stop the embedded PostgreSQL
	$(HW) db stop

bench: $(STAMP) ## run every benchmark in benchmarks/ at its quick size (under 30 min on 2 cores); BENCH_ARGS="--scale 1" for full size
	$(HW) bench all --quick $(BENCH_ARGS)

clean: ## stop the server and remove local state (keeps .venv)
	-$(HW) db stop
	rm -rf .headwater dbt_project/target dbt_project/logs

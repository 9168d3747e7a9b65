# drift-repair — every target creates the virtual environment it needs; running one twice is fast and harmless.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1
# The package lives in plugins/ (on Airflow's sys.path); the sandbox at the top level. No install step:
# the same virtual environment serves any checkout of the repository.
export PYTHONPATH := $(CURDIR)/plugins:$(CURDIR)
# Tests and the demo never reach real AWS: fake credentials, endpoint pinned to the sandbox.
export AWS_ACCESS_KEY_ID ?= testing
export AWS_SECRET_ACCESS_KEY ?= testing
export AWS_DEFAULT_REGION ?= ap-northeast-1

.PHONY: help venv test lint typecheck unit demo demo-offline up down bench bench-e2e clean sandbox checkov checkov-venv

help:
	@echo "make demo   - run the closed loop offline against the sandbox (sets everything up)"
	@echo "make test   - lint, type-check and run every test"
	@echo "make up     - sandbox + Airflow for the browser (make down stops them)"
	@echo "make bench  - benchmarks; results in bench/results/"
	@echo "make sandbox - the local AWS on http://127.0.0.1:4566 (seed it: python -m sandbox seed --env dev)"
	@echo "make checkov - checkov over include/terraform (own virtual environment .venv-checkov)"

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -r requirements.txt -r requirements-dev.txt
	@touch $@

venv: $(STAMP)

# checkov pins libraries Airflow pins differently, so it gets a virtual environment of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

$(CHECKOV_STAMP): requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $@

checkov-venv: $(CHECKOV_STAMP)

# Zero failed checks; every skip is in include/terraform/.checkov.yaml with its reason.
checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov --config-file include/terraform/.checkov.yaml

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check plugins sandbox tests dags

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest -q

test: lint typecheck unit

# The closed loop, offline: sandbox + seeded drift + Airflow (SQLite, LocalExecutor), one run of
# drift_repair__dev approved by a demo approver through the REST API, the summary, everything stopped.
demo: $(STAMP)
	$(PY) scripts/stack.py demo

# Detection alone on the bundled example (a plan and an AWS Config snapshot), no services.
demo-offline: $(STAMP)
	$(PY) -m drift_repair detect --plan include/environments/dev/plan.json \
		--snapshot include/environments/dev/config-snapshot.json \
		--compliance include/environments/dev/config-compliance.json --format table; \
	rc=$$?; if [ $$rc -eq 2 ]; then echo "(exit 2: drift found, as expected in the example environment)"; exit 0; fi; exit $$rc

up: $(STAMP)
	$(PY) scripts/stack.py up

down: $(STAMP)
	$(PY) scripts/stack.py down

sandbox: $(STAMP)
	$(PY) -m sandbox serve --port 4566

bench: $(STAMP)
	$(PY) bench/detect.py --resources 50000 --out bench/results/detect.json

bench-e2e: $(STAMP)
	$(PY) bench/e2e.py --drifted 20 --out bench/results/e2e.json

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache

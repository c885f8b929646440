# referral-triage: `make help` lists the targets. `make run` and `make test` do their own set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed
export DO_NOT_TRACK := true
export MLFLOW_DISABLE_TELEMETRY := true
export BENTOML_DO_NOT_TRACK := true
export PYTHONDONTWRITEBYTECODE := 1

.DEFAULT_GOAL := help
.PHONY: help venv run test browser nginx lint format typecheck lock bench mutation mutation-score clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install -q uv
	$(UV) pip install -q --python $(PY) -r requirements.lock
	$(UV) pip install -q --python $(PY) --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP) ## create or update the virtual environment (.venv) from the lock file

run: $(STAMP) ## the main job on the embedded synthetic data
	$(VENV)/bin/triage demo

test: $(STAMP) browser nginx ## the test suite
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

browser: ## Debian's Chromium for the browser tests (installed when missing, if run as root)
	@if ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "note: chromium is missing, so tests/e2e will skip (fail under CI=true):" \
	      "sudo apt-get install chromium"; \
	  fi; \
	fi

nginx: ## Debian's nginx for the failover test (installed when missing, if run as root)
	@if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light; \
	  else \
	    echo "note: nginx is missing, so tests/service/test_failover.py will skip" \
	      "(fail under CI=true): sudo apt-get install nginx-light"; \
	  fi; \
	fi

lint: $(STAMP) ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP) ## ruff format and fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: $(STAMP) ## mypy
	$(VENV)/bin/mypy features models training serving reports triage

lock: ## re-resolve requirements.lock from pyproject.toml
	@test -x $(UV) || ($(PYTHON) -m venv $(VENV) && $(PY) -m pip install -q uv)
	$(UV) pip compile -q pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

bench: $(STAMP) ## benchmarks (ratios side by side)
	$(PY) -m bench

# mutmut imports the mutated copy in mutants/; the editable install's import hook would
# hand the tests the original source instead, so it is taken out for this run only.
MUTMUT := $(PY) -c "import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]; from mutmut.__main__ import cli; sys.argv[0] = 'mutmut'; cli()"

# One worker by default (the machine is shared); MUTANTS='models.policy*' runs one module.
MUTATION_CHILDREN ?= 1
MUTANTS ?=
mutation: $(STAMP) ## mutation testing (mutmut 3) of the safety-critical modules; scores in docs/testing.md
	rm -rf mutants && mkdir -p var
	OMP_WAIT_POLICY=PASSIVE nice -n 15 $(MUTMUT) run --max-children $(MUTATION_CHILDREN) $(MUTANTS) || true
	$(MUTMUT) results --all true > var/mutation-results.txt || true
	$(MAKE) --no-print-directory mutation-score

mutation-score: ## caught (killed or timed out) mutants per module, from the last `make mutation`
	@$(PY) tests/mutation_score.py var/mutation-results.txt

clean: ## remove generated state (var/) and the virtual environment
	rm -rf var $(VENV)

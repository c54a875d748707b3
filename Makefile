# Two entry points for a fresh machine: `make demo` (the main job on embedded defaults) and
# `make test` (the test suite). Both bootstrap .venv from pyproject.toml first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/clobflow demo

# The PostgreSQL and Redis tests use these servers when reachable (skipped with the reason otherwise).
export CLOBFLOW_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test
export CLOBFLOW_TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/market_data.py

clean:
	rm -rf $(VENV) .pytest_cache

# The two commands of the README: `make run` (the writer under a short load test) and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test lint schema

$(BIN)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: $(BIN)/.installed
	$(BIN)/porch-loadtest --duration 20

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

schema: $(BIN)/.installed
	$(BIN)/python -m messages.schema

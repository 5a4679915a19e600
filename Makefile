# The two commands of the README: `make run` (the writer under a short load test) and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test lint schema faults

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

# The full fault suite of docs/RELIABILITY.md: every fault at least 25 times, the model test with
# 500 examples; its table is printed at the end and written to build/fault-report.json.
FAULT_ROUNDS ?= 25
faults: $(BIN)/.installed
	PORCH_FAULT_ROUNDS=$(FAULT_ROUNDS) PORCH_FAULT_REPORT=build/fault-report.json \
		$(BIN)/pytest tests/faults -m "slow or not slow"

schema: $(BIN)/.installed
	$(BIN)/python -m messages.schema

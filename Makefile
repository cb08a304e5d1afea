# The two set-up commands of the README. Both create .venv and install the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install install-dev run test lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"

## run: install, then the main job: the direct-shift case against not moving and its other
## variants (10 replications each, common random numbers), with a verdict and report.html
run: install
	$(BIN)/channel-sim compare scenarios/direct_shift.yaml --workers 2

## test: install with development tools (and the browser the dashboard test drives), then test
test: install-dev
	bash scripts/setup-browser.sh $(BIN)/python
	$(BIN)/python -m pytest -q

lint: install-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

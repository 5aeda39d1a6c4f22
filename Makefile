# The README's two commands: `make serve` and `make test`. Each creates or reuses .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/gru-forecast: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first and exact: pip takes the local CPU wheel where one lies on disk (see README)
	$(BIN)/pip install --quiet --disable-pip-version-check "torch==2.13.0"
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

# The bench extra (statsforecast, ~20 s to install, no torch of its own) for the tests only: they run the
# backtest's AutoETS/AutoARIMA path, the code behind the accuracy tables. `make serve` does not need it.
$(VENV)/.bench: $(BIN)/gru-forecast
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev,bench]"
	touch $@

.PHONY: install serve test lint
install: $(BIN)/gru-forecast

serve: install
	$(BIN)/gru-forecast serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

test: install $(VENV)/.bench lint
	$(BIN)/python -m pytest -q

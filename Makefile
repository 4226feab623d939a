# okxmm: two commands on a fresh machine — `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: demo test lint bench soak chaos venv clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/okxmm up --config config/okxmm.yaml $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

# Hours of churn, sampled; fails on any upward trend (CI runs tests/soak, compressed).
soak: $(STAMP)
	$(BIN)/python -m bench.soak --minutes 120 --report $(ARGS)

# Every actor killed and stalled, venue faults, bad input; one table (CI runs tests/chaos).
chaos: $(STAMP)
	$(BIN)/python -m bench.chaos --report $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache

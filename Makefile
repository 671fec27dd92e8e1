# Every target sets itself up from nothing: a fresh machine needs only python3 (>= 3.10).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed-bench

.PHONY: test lint typecheck pytest fuzz redis-server demo bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check kraken_prime_async tests benchmarks
	$(BIN)/ruff format --check kraken_prime_async tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# The fleet tests start their own redis-server (Debian's package) on a free loopback port and
# stop it afterwards; this only makes sure the binary is there.
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing Debian's redis-server for the fleet tests"; \
	  SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    redis-server >/dev/null; }

pytest: $(STAMP) redis-server
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

# A long answer-fuzzing session (the suite runs a bounded one); FUZZ_EXAMPLES sets its size.
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-5000} $(BIN)/python -m pytest -q -m fuzz tests/test_fuzz_answers.py

demo: $(STAMP)
	$(BIN)/kraken-prime demo

# Benchmarks get their own venv: ccxt pins exact versions of shared dependencies.
$(BENCH_VENV)/bin/python:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip

$(BENCH_STAMP): $(BENCH_VENV)/bin/python pyproject.toml
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m benchmarks.run $(BENCH_ARGS)
	$(BENCH_VENV)/bin/python -m benchmarks.nonce_scenario --output benchmarks/results/nonce_scenario.md

bench-quick: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m benchmarks.run --quick

clean:
	rm -rf $(VENV) $(BENCH_VENV) .mypy_cache .pytest_cache .ruff_cache build dist *.egg-info

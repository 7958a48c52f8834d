# kam — two commands on a fresh machine with nothing but Python: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
TOOLS := .tools
# uv from PATH when present, else bootstrapped into .tools/ with pip (PyPI only).
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
SCALE ?= 1
ENGINE ?= duckdb

.PHONY: install install-spark demo test test-spark lint format dictionary bench clean

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv

# Byte-compiled once here: every kam process then starts without compiling dbt, Airflow and
# Great Expectations from source (halves their import time; more where PYTHONDONTWRITEBYTECODE
# is set, as on CI machines, where nothing compiled at import time is kept).
# --inexact: what install-spark added stays.
.venv/.installed: uv.lock pyproject.toml | $(UV)
	$(UV) sync --locked --inexact --quiet --compile-bytecode
	touch $@

install: .venv/.installed

# engine: spark (kam.yml): dbt-spark and pyspark (~560 MB), not needed by the embedded engine.
.venv/.installed-spark: .venv/.installed
	$(UV) sync --locked --inexact --quiet --compile-bytecode --group spark
	touch $@

install-spark: .venv/.installed-spark

demo: install
	$(UV) run --no-sync kam demo

lint: install
	$(UV) run --no-sync ruff check src tests dags benchmarks
	$(UV) run --no-sync ruff format --check src tests dags benchmarks
	@# sqlfluff's dbt templater compiles the project: point the profile at a scratch file.
	KAM_WAREHOUSE=$$(mktemp -d)/lint.duckdb $(UV) run --no-sync sqlfluff lint models

format: install
	$(UV) run --no-sync ruff format src tests dags benchmarks
	$(UV) run --no-sync ruff check --fix src tests dags benchmarks

# docs/data-dictionary.md from the marts' yml (tests/test_docs.py fails while it is stale).
dictionary: install
	$(UV) run --no-sync python -m kam.catalog

# Lint runs beside the test suite rather than before it (sqlfluff takes 20 s of one core, on a
# clean clone a twentieth of make test); its output follows the tests'. make test fails when
# either fails.
test: install
	@lint_log=$$(mktemp); \
	$(MAKE) --no-print-directory lint > $$lint_log 2>&1 & lint=$$!; \
	$(UV) run --no-sync pytest -q; tests=$$?; \
	wait $$lint; linted=$$?; cat $$lint_log; rm -f $$lint_log; \
	[ $$linted -eq 0 ] && [ $$tests -eq 0 ]

# The same generated home built on both engines, every mart compared (slow: see README).
test-spark: install-spark
	$(UV) run --no-sync pytest -q -n 0 -m slow tests/test_spark.py

bench: install $(if $(filter spark,$(ENGINE)),install-spark)
	$(UV) run --no-sync python benchmarks/run.py --scale $(SCALE) --engine $(ENGINE)

clean:
	rm -rf .venv $(TOOLS) kam_home .pytest_cache benchmarks/results/*.tmp

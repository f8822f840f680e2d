# Herald: `make run` starts the whole system; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)

.PHONY: run test lint format deps wheel bench screenshots clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	# Herald itself, editable: the herald-pusher command, and the same package the wheel ships.
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The browser packages the wheel ships (hosts need no Node): copied from npm into the package and committed,
# so that installs from a path or a VCS URL have them too (tests/herald_live/test_assets.py keeps them equal).
ASSETS := herald_live/static/herald/vendor/socket.io.min.js
$(ASSETS): node_modules/.installed
	mkdir -p $(dir $@)
	cp node_modules/socket.io-client/dist/socket.io.min.js $@
	cp node_modules/socket.io-client/LICENSE $(dir $@)socket.io.LICENSE

deps: $(VENV)/.installed node_modules/.installed $(ASSETS)

# The distribution (dist/django_herald_live-*.whl) that sites install. No Node: the browser assets it ships are
# committed (ASSETS above), so a machine with Python alone builds it.
wheel: $(VENV)/.installed
	rm -rf build dist
	$(PY) -m pip wheel --quiet --no-deps --no-build-isolation -w dist .

run: deps
	$(PY) scripts/run.py

# ruff (lint, format), then the import contracts of pyproject.toml (the layers of herald_live).
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The whole suite on SQLite (the embedded default); again on PostgreSQL when
# HERALD_TEST_POSTGRES_URL names a server (.ci/run sets it).
test: deps lint
	# The widget's model (herald_live/static/herald/model.js) in Node, without a browser.
	node --test tests/herald_live/static/
	$(PY) -m pytest $(PYTEST_ARGS)
	@if [ -n "$$HERALD_TEST_POSTGRES_URL" ]; then \
		echo "== the same suite on PostgreSQL"; \
		DATABASE_URL="$$HERALD_TEST_POSTGRES_URL" $(PY) -m pytest $(PYTEST_ARGS); \
	fi

# The benchmark of docs/benchmark.md: the real system on SQLite and PostgreSQL, ~16 minutes; then retention on
# 1,000,000 PostgreSQL rows, ~2 minutes.
bench: deps
	$(PY) -m bench.run --db both --retention 1000000 $(BENCH_ARGS)

# Refreshes the committed screenshots (docs/screenshots) from a real browser run.
screenshots: deps
	HERALD_SCREENSHOT_DIR=docs/screenshots $(PY) -m pytest -q tests/system/test_browser.py -k screenshots

clean:
	rm -rf var/test-*.sqlite3 .pytest_cache .ruff_cache

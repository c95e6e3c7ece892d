# Two commands: `make run` (the site with demo data) and `make test`. Both run on PostgreSQL:
# the local server of config/localdb.py when DATABASE_URL is unset, else DATABASE_URL's.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The Stripe sandbox's port, for `make sandbox` and for `make run` without Stripe keys.
SANDBOX_PORT ?= 12111
# The browser tests' Chromium (Debian's package; `make chromium` installs it when missing).
CHROMIUM ?= /usr/bin/chromium
PYTEST_ARGS ?=
# What `make test` runs a second time through PgBouncer in transaction pooling mode (docs/deploy.md,
# "PgBouncer"): the credits and billing paths, when PYTEST_ARGS picks nothing else; empty skips it.
PGBOUNCER_TESTS ?= $(if $(PYTEST_ARGS),,tests/credits tests/billing tests/core/test_pgbouncer.py)
# Runs a command with DATABASE_URL set: the local server, started for it and stopped after.
WITH_DB := $(BIN)/python -m config.localdb --
# The same through a PgBouncer of its own in transaction pooling mode (config/localdb.py).
WITH_DB_POOLED := $(BIN)/python -m config.localdb --pgbouncer --

.PHONY: run test screenshots chromium pgbouncer install install-dev lint sandbox bench bench-webhooks bench-dashboard bench-load clean _run

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(WITH_DB) $(MAKE) --no-print-directory _run

# migrate, seed_demo, runserver; with no STRIPE_SECRET_KEY, beside the Stripe sandbox with the
# example catalogue, stopped with the site (config/devserver.py, docs/billing.md).
_run:
	DEBUG=True $(BIN)/python -m config.devserver --host $(HOST) --port $(PORT) --sandbox-port $(SANDBOX_PORT)

test: install-dev chromium pgbouncer
	$(WITH_DB) $(BIN)/python -m pytest $(PYTEST_ARGS)
	$(if $(PGBOUNCER_TESTS),$(WITH_DB_POOLED) $(BIN)/python -m pytest $(PGBOUNCER_TESTS))

# The browser tests alone (Chromium, tests/browser), keeping every page's screenshot at desktop
# and phone width, light and dark, in docs/screenshots/.
screenshots: install-dev chromium
	KEEL_SCREENSHOTS=1 $(WITH_DB) $(BIN)/python -m pytest -m browser tests/browser $(PYTEST_ARGS)

# The browser tests drive Debian's Chromium (tests/browser): installed when missing, as `.ci/run` does.
chromium:
	@[ -x $(CHROMIUM) ] || { echo "Installing Debian's chromium for the browser tests ..."; \
	  S=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); export DEBIAN_FRONTEND=noninteractive; \
	  $$S apt-get install -y -q chromium || { $$S apt-get update -q && $$S apt-get install -y -q chromium; }; }

# `make test` runs the credits and billing tests through Debian's PgBouncer too: installed when missing.
pgbouncer:
	@command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || { echo "Installing Debian's pgbouncer for the pooled tests ..."; \
	  S=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); export DEBIAN_FRONTEND=noninteractive; \
	  $$S apt-get install -y -q pgbouncer || { $$S apt-get update -q && $$S apt-get install -y -q pgbouncer; }; }

# The local Stripe stand-in alone (docs/stripe-sandbox.md); `make run` starts its own when no
# STRIPE_SECRET_KEY is set.
sandbox: install
	$(BIN)/python -m stripe_sandbox --port $(SANDBOX_PORT)

# The credits benchmark on PostgreSQL (docs/performance.md).
bench: install-dev
	$(BIN)/python bench/credits_consume.py --write-docs

# The webhooks benchmark: Keel's receivers against dj-stripe alone (docs/performance.md).
bench-webhooks: install-dev
	$(BIN)/python bench/webhooks.py --write-docs

# The organization dashboard with 100,000 transactions against the sign-in page (docs/performance.md).
bench-dashboard: install-dev
	$(BIN)/python bench/dashboard.py --write-docs

# Two app servers behind nginx, with PgBouncer, Redis and the Stripe sandbox, and 60 s of mixed
# traffic through them (bench/cluster.py, bench/load.py; docs/performance.md, "Many servers").
# Installs Debian's nginx and pgbouncer when missing, as `make chromium` does.
BENCH_LOAD_ARGS ?=
bench-load: install-dev
	$(BIN)/python bench/cluster.py --write-docs $(BENCH_LOAD_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	-[ -x $(BIN)/python ] && $(BIN)/python -m config.localdb stop
	rm -rf $(VENV) .pgdata .pgbouncer staticfiles .pytest_cache .ruff_cache

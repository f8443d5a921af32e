# Nexus: `make run` serves the API on the embedded default; `make test` runs every test twice.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := wsgi:app

.PHONY: run test test-embedded test-services lint audit format install migrate seed serve clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/flask db upgrade

run: migrate
	$(BIN)/flask seed-demo --if-empty --products 60
	$(BIN)/flask run --host 127.0.0.1 --port 5000

# `make serve`: gunicorn (gunicorn.conf.py) on the real services, migrations first. Override any URL below;
# the default database is created when missing (PostgreSQL's createdb, trust auth as on the development machine).
SERVE_DATABASE_URL ?= postgresql+psycopg2://postgres@127.0.0.1:5432/nexus
serve: export DATABASE_URL ?= $(SERVE_DATABASE_URL)
serve: export REDIS_URL ?= redis://127.0.0.1:6379/0
serve: export CELERY_BROKER_URL ?= amqp://guest:guest@127.0.0.1:5672//
serve: export GUNICORN_BIND ?= 127.0.0.1:8000
serve: install
	@if [ "$$DATABASE_URL" = "$(SERVE_DATABASE_URL)" ] && command -v createdb >/dev/null; then \
		createdb -h 127.0.0.1 -U postgres nexus 2>/dev/null && echo "created the database nexus" || true; fi
	$(BIN)/flask db upgrade
	$(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint audit
	$(MAKE) test-embedded
	$(MAKE) test-services

# Known vulnerabilities in the pinned runtime dependencies (pip-audit): fails when one has a fixed release.
# Says so loudly, without failing, when no vulnerability source answers; REQUIRE_AUDIT=1 makes that a failure too.
AUDIT_REQUIREMENTS ?= requirements.txt
AUDIT_IGNORE ?=
audit: install
	@echo "== dependency audit of $(AUDIT_REQUIREMENTS) =="
	$(BIN)/python .ci/audit.py $(AUDIT_REQUIREMENTS) $(addprefix --ignore ,$(AUDIT_IGNORE))

test-embedded: install
	@echo "== tests on the embedded default (SQLite, in-process cache, eager tasks) =="
	$(BIN)/pytest

test-services: install
	@echo "== tests on PostgreSQL, Redis, RabbitMQ and a real Celery worker =="
	@if $(BIN)/python -m tests.services; then \
		NEXUS_TEST_SERVICES=1 $(BIN)/pytest; \
	elif [ "$(REQUIRE_SERVICES)" = "1" ]; then \
		echo "!! REQUIRE_SERVICES=1 and the services above are not reachable: failing." >&2; exit 1; \
	else \
		echo ""; \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
		echo "!! SKIPPED the real-services run: PostgreSQL, Redis or RabbitMQ is not reachable.      !!"; \
		echo "!! Start them (see README) or run with REQUIRE_SERVICES=1 to make this a failure.       !!"; \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	fi

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache

# `make bench`: the load and scale benchmark (bench/README.md); not part of `make test`.
# Quick try: make bench BENCH_SIZES=1000 BENCH_SECONDS=3; more options: BENCH_ARGS="--reuse-db --scenarios list".
BENCH_SIZES ?= 1000,10000,100000
BENCH_SECONDS ?= 10
BENCH_ARGS ?=
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: bench

$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(BIN)/pip install --quiet -r requirements-bench.txt
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@command -v wrk >/dev/null 2>&1 || { \
		echo "== installing wrk (Debian package) =="; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq wrk; }
	$(BIN)/python bench/run.py --sizes $(BENCH_SIZES) --seconds $(BENCH_SECONDS) $(BENCH_ARGS)

# `make fuzz`: the long schemathesis run (tests/security/test_fuzz.py) with FUZZ_EXAMPLES generated requests per
# operation, on the embedded default and then, when they answer, on the real services. `make test` runs 15 each.
FUZZ_EXAMPLES ?= 200

.PHONY: fuzz

fuzz: install
	@echo "== fuzzing every operation, $(FUZZ_EXAMPLES) requests each, on the embedded default =="
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/security/test_fuzz.py
	@if $(BIN)/python -m tests.services; then \
		echo "== fuzzing on PostgreSQL, Redis, RabbitMQ and a real Celery worker =="; \
		FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) NEXUS_TEST_SERVICES=1 $(BIN)/pytest tests/security/test_fuzz.py; \
	else \
		echo "!! SKIPPED the real-services fuzz run: PostgreSQL, Redis or RabbitMQ is not reachable."; \
	fi

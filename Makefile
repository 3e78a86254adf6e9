# Parla — the two commands: `make run` (whole platform, embedded default) and `make test` (every test).
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen --all-packages

.PHONY: install run test lint format loadtest clean backup restore

# uv is bootstrapped with pip when missing; everything else comes from uv.lock.
install:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet uv
	@$(UV) sync --frozen --all-packages --quiet

run: install
	@$(RUN) parla-dev run

test: install
	@$(RUN) parla-dev test $(SUITES)

# Embedded PostgreSQL only (docs/operations.md): a base backup now; restore to a point in time.
backup: install
	@$(RUN) parla-dev backup

restore: install
	@test -n "$(TIME)" || { echo "usage: make restore TIME=2026-11-25T09:13:00Z [YES=1]"; exit 2; }
	@$(RUN) parla-dev restore --time "$(TIME)" $(if $(YES),--yes)

# Each test suite imports helpers from its own conftest.py as `conftest`: one mypy run per suite, with the suite on
# MYPYPATH so that name means that suite's conftest (docs/decisions.md, "Testing").
TYPED_TESTS := shared/tests tools/devstack/tests services/identity/tests services/curriculum/tests \
	services/progress/tests services/analytics/tests deploy/tests tests/e2e tests/faults tests/browser

lint: install
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .
	@$(RUN) mypy shared/src services/*/src tools/*/src migrations loadtests
	@failed=0; for tests in $(TYPED_TESTS); do MYPYPATH=$$tests $(RUN) mypy $$tests || failed=1; done; exit $$failed

format: install
	@$(RUN) ruff format .
	@$(RUN) ruff check --fix .

# The learner journey against a running platform (make run): seeds the accounts, runs locust headless, reports
# under $PARLA_DATA_DIR/loadtest/ (.parla/loadtest/) and prints p50/p95/p99 per endpoint. docs/performance.md
loadtest: install
	@$(RUN) parla-dev loadtest --users $${USERS:-1000} --admins $${ADMINS:-3} --spawn-rate $${SPAWN_RATE:-20} \
		--duration $${DURATION:-5m} --host $${HOST:-http://localhost:8080}

clean:
	rm -rf .parla .venv

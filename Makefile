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

lint: install
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .
	@$(RUN) mypy shared/src services/*/src migrations loadtests

format: install
	@$(RUN) ruff format .
	@$(RUN) ruff check --fix .

# Against a running platform (make run): make loadtest LOCUSTFILE=loadtests/progress.py USERS=50 DURATION=60s
LOCUSTFILE ?= loadtests
loadtest: install
	@$(RUN) locust -f $(LOCUSTFILE) --headless -u $${USERS:-50} -r $${SPAWN_RATE:-10} -t $${DURATION:-60s} \
		--host $${HOST:-http://localhost:8080} --only-summary

clean:
	rm -rf .parla .venv

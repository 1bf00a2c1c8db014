# `make run` and `make test` set up everything they need on a fresh machine.
PYTHON ?= python3
PORT ?= 5000
# The web server and the worker both see it: links in emails point at the port served.
export PORT
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .make
ASSETS := static/govuk

export FLASK_APP := wsgi
export ESCALATE_ENV ?= development
# The demo partnership's own addresses are secure; the auditor's (scrutiny.example) is not.
export SECURE_EMAIL_DOMAINS ?= northshire.example
# The sign-in limits' shared store in the tests: the machine's Redis (database 15).
export TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test lint clean chromium bench wrk screenshots

# The worker runs beside the web server and stops with it: it delivers the notifications' email
# (to files in instance/mail unless MAIL_SERVER is set).
run: $(STAMPS)/runtime $(ASSETS)/.copied
	$(BIN)/flask db upgrade
	$(BIN)/flask escalate seed-demo
	$(BIN)/flask escalate worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

# One test process a CPU (PYTEST_WORKERS=0 runs them all in this one); each has its own
# databases. The slowest tests are stolen by whichever process is free.
PYTEST_WORKERS ?= auto
test: $(STAMPS)/dev $(ASSETS)/.copied chromium
	$(BIN)/python -m pytest -W error -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# Every page at scale through HTTP (gunicorn and wrk), each bracketed by the framework's ceiling;
# the sweep with nothing due and the CSV export's memory. Seeds the benchmark database once and
# reuses it (instance/bench-*.sqlite, or the PostgreSQL database DATABASE_URL names).
bench: $(STAMPS)/runtime $(ASSETS)/.copied wrk
	$(BIN)/python bench/run.py
	$(BIN)/python bench/verify_cost.py

# The main pages of the demo partnership at desktop (1280 px) and phone (375 px) width, in
# docs/screenshots/ (the README shows them). Uses its own temporary database.
screenshots: $(STAMPS)/dev $(ASSETS)/.copied chromium
	$(BIN)/python -m tests.browser.screenshots docs/screenshots

lint: $(STAMPS)/dev
	$(BIN)/ruff check escalate tests bench wsgi.py migrations

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "escalate needs Python 3.11 or newer (set PYTHON=…)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMPS)/runtime: requirements.txt | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@mkdir -p $(STAMPS) && touch $@ $(STAMPS)/runtime

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# GOV.UK Frontend and MOJ Frontend: compiled CSS and JS, fonts and images, from the pinned npm packages.
$(ASSETS)/.copied: node_modules/.package-lock.json
	rm -rf $(ASSETS) && mkdir -p $(ASSETS)/assets
	cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.css \
	   node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js $(ASSETS)/
	cp node_modules/@ministryofjustice/frontend/moj/moj-frontend.min.css \
	   node_modules/@ministryofjustice/frontend/moj/moj-frontend.min.js $(ASSETS)/
	cp -R node_modules/govuk-frontend/dist/govuk/assets/. $(ASSETS)/assets/
	cp -R node_modules/@ministryofjustice/frontend/moj/assets/. $(ASSETS)/assets/
	cp node_modules/chart.js/dist/chart.umd.min.js $(ASSETS)/
	@touch $@

# The browser tests drive Debian's Chromium through chromedriver; install them when missing.
chromium:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	  else \
	    echo "The browser tests need Chromium and chromedriver (Debian: sudo apt-get install chromium chromium-driver)." >&2; \
	    exit 1; \
	  fi; \
	fi

# The HTTP load generator of `make bench`, from Debian; installed when missing.
wrk:
	@if ! command -v wrk >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
	  else \
	    echo "make bench needs wrk (Debian: sudo apt-get install wrk)." >&2; \
	    exit 1; \
	  fi; \
	fi

clean:
	rm -rf $(VENV) $(STAMPS) node_modules $(ASSETS)

# GridCase: `make run` serves the demo, `make test` runs the whole suite.
# Both install what is missing first: Debian packages (as root or with sudo),
# a .venv from requirements.lock, node_modules from package-lock.json, and
# nothing else.

PYTHON ?= /usr/bin/python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# GDAL/GEOS/PROJ, SpatiaLite, and Debian's Python with venv (its sqlite3 can load extensions).
SYSTEM_PACKAGES := gettext gdal-bin libsqlite3-mod-spatialite binutils python3-venv python3-dev
TEST_PACKAGES := chromium fonts-wqy-microhei
# npm, for the browser libraries in package-lock.json (Debian's, when none is installed).
NODE_PACKAGES := nodejs npm

.PHONY: run test lint format system-deps test-system-deps postgis-deps node-deps npm venv lock migrate demo static messages clean

# gunicorn with uvicorn workers, configured in project/gunicorn.conf.py (WEB_WORKERS,
# default 1), and beside it `manage.py db_worker` for background jobs (exports);
# scripts/serve stops both together. With the default TIMERS=inprocess the web
# worker runs the deadline sweeper.
run: venv npm postgis-deps migrate demo static
	HOST=$(HOST) PORT=$(PORT) VENV=$(VENV) bash scripts/serve

test: venv npm test-system-deps postgis-deps static
	$(PY) manage.py compilemessages --ignore=.venv -v 0
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run -v 0

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

system-deps:
	@bash scripts/apt-ensure $(SYSTEM_PACKAGES)

test-system-deps: system-deps
	@bash scripts/apt-ensure $(TEST_PACKAGES)

# PostGIS for a local PostgreSQL server, when DATABASE_URL asks for it.
postgis-deps:
	@case "$$DATABASE_URL" in postgis://*) bash scripts/apt-ensure-postgis ;; esac

venv: system-deps $(VENV)/.installed

# npm ci again only when the lock changes (project/finders.py serves the files).
npm: node-deps node_modules/.installed

node-deps:
	@command -v npm >/dev/null || bash scripts/apt-ensure $(NODE_PACKAGES)

node_modules/.installed: package-lock.json package.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The development environment: what runs in production (requirements.lock) and
# the tools to test and measure it (requirements-dev.lock holds both).
$(VENV)/.installed: requirements-dev.lock requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.lock
	touch $@

# Both lock files from pyproject.toml, keeping every pin they share the same.
lock: venv
	$(VENV)/bin/pip-compile -q --extra=bench --extra=dev --no-emit-find-links --no-emit-index-url --strip-extras --output-file=requirements-dev.lock pyproject.toml
	$(VENV)/bin/pip-compile -q --no-emit-find-links --no-emit-index-url --strip-extras --output-file=requirements.lock pyproject.toml

migrate:
	mkdir -p var
	$(PY) manage.py compilemessages --ignore=.venv -v 0
	$(PY) manage.py migrate --no-input -v 0

demo:
	$(PY) manage.py seed_demo --if-empty

# The hashed, compressed static files that DEBUG off serves, made again when ours
# or the installed packages change. -i node_modules: see the Dockerfile.
STATIC_SOURCES := $(shell find frontend/static -type f 2>/dev/null)
static: venv npm staticfiles/staticfiles.json

staticfiles/staticfiles.json: $(VENV)/.installed node_modules/.installed $(STATIC_SOURCES)
	DEBUG=false $(PY) manage.py collectstatic --no-input --clear -i node_modules -v 0

messages: venv
	$(PY) manage.py makemessages -l zh_Hans -l en --ignore=.venv --ignore=node_modules --ignore=staticfiles
	$(PY) manage.py makemessages -d djangojs -l zh_Hans -l en --ignore=.venv --ignore=node_modules --ignore=staticfiles

clean:
	rm -rf $(VENV) staticfiles

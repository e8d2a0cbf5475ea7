# ShopSphere: `make run` serves the shop, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install install-dev lock lock-upgrade browser nginx recipe openapi-lint-tools run serve worker migrate seed test test-pg lint bench clean

# Installs come from the lock files in requirements/ (exact versions, hashes checked), never
# from whatever pyproject.toml's ranges allow today; `make lock` refreshes them.
install: $(VENV)/.installed          ## create .venv and install the app from requirements/app.txt
$(VENV)/.installed: pyproject.toml requirements/app.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements/app.txt
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

install-dev: $(VENV)/.installed-dev  ## the app plus test tools, from requirements/dev.txt
$(VENV)/.installed-dev: pyproject.toml requirements/dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

UV_COMPILE := $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 \
	--generate-hashes --quiet
lock: install-dev                    ## re-resolve requirements/*.txt after editing pyproject.toml
	$(UV_COMPILE) $(UPGRADE) --extra dev --extra s3 -o requirements/dev.txt
	$(UV_COMPILE) -c requirements/dev.txt -o requirements/app.txt
	$(UV_COMPILE) -c requirements/dev.txt --extra s3 -o requirements/app-s3.txt

lock-upgrade:                        ## the same, taking the newest releases the ranges allow
	$(MAKE) lock UPGRADE=--upgrade

browser:                             ## make sure a Chromium exists for Playwright
	@scripts/ensure-browser.sh $(BIN)

migrate: install
	$(FLASK) db upgrade

seed: migrate
	$(FLASK) shop seed --if-empty

run: seed                            ## migrate, seed demo data, serve with a Huey consumer
	@scripts/run-dev.sh "$(BIN)" "$(HOST)" "$(PORT)"

worker: install                      ## a Huey consumer, as production runs it
	$(BIN)/huey_consumer tasks.huey --workers 4 --worker-type thread

OPENAPI_LINT := tools/openapi-lint
openapi-lint-tools: $(OPENAPI_LINT)/node_modules/.installed
$(OPENAPI_LINT)/node_modules/.installed: $(OPENAPI_LINT)/package-lock.json
	npm ci --prefix $(OPENAPI_LINT) --no-audit --no-fund --loglevel=error
	@touch $@

nginx:                               ## Debian's nginx, for the production recipe's test
	@scripts/ensure-nginx.sh

recipe: install nginx                ## nginx + 2 gunicorn + Huey on PostgreSQL/Redis, and a checkout through it
	@scripts/production-recipe.sh

TEST_WORKERS ?= 2
test: install-dev browser openapi-lint-tools nginx  ## the whole suite (SQLite; DATABASE_URL/REDIS_URL for PostgreSQL+Redis)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

lint: install-dev                    ## ruff (style, complexity <= 15) and mypy on app/ and tasks/
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install-dev
	$(BIN)/python -m bench.catalog
	$(BIN)/python -m bench.cart
	$(BIN)/python -m bench.checkout
	$(BIN)/python -m bench.api

clean:
	rm -rf $(VENV) instance .pytest_cache $(OPENAPI_LINT)/node_modules
